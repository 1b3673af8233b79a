r"""
One TaskEnvironment per resource profile
========================================

The Flyte 2 twin of
:ref:`sphx_glr_auto_examples_decompose_decompose_training_and_inference.py`: training
and batch inference on scikit-learn's digits as tasks of two ``TaskEnvironment``
objects, each with its own CPU and memory, called from a small driver task. Training is
cached, so a second run with a new threshold does not retrain; each task body prints a
line when it runs. The question behind it: :ref:`guide-decomposition`; how the site
checks it: :ref:`sphx_glr_auto_evidence_decompose_decompose_flyte2_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flyte==2.12.1 scikit-learn==1.9.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/decompose)

      python decompose_with_task_environments.py
      flyte run --local decompose_with_task_environments.py train_then_predict \
          --n_trees 40 --min_confidence 0.5

   .. code-block:: sh
      :caption: Run it on a Flyte 2 cluster (after ``flyte create config``)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where flyte run pushes the image
      flyte run decompose_with_task_environments.py train_then_predict \
          --n_trees 40 --min_confidence 0.5
"""

# %%
# .. _decomposition2-environments:
#
# Two environments, one driver
# ----------------------------
# A Flyte 2 task belongs to a ``TaskEnvironment``, which carries the image, the
# resources and the cache policy of all its tasks: one environment per resource
# profile. ``training`` asks for 2 CPUs and 1 GiB, ``inference`` for 1 CPU and 512 MiB.
# There is no workflow DSL: ``train_then_predict`` is a task too, in a small ``driver``
# environment, and calls the other two as Python functions.
#
# ``training`` caches with ``cache="auto"``: the cache version is a hash of the task
# function's source, so an edited ``train`` misses and an unchanged one hits. Flyte 2
# passes this forest *inline*, inside the task's outputs, about 43 KB per tree: the cap
# of 40 trees keeps it under the 2 MiB an open-source Flyte 2 backend reads by default
# (the evidence page measures it; pass a ``flyte.io.File`` for a larger model).
from dataclasses import dataclass

import flyte
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

image = flyte.Image.from_debian_base().with_pip_packages("scikit-learn==1.9.1")

training = flyte.TaskEnvironment(
    name="digits_training",
    image=image,
    resources=flyte.Resources(cpu=2, memory="1Gi"),
    cache="auto",
)
inference = flyte.TaskEnvironment(
    name="digits_inference",
    image=image,
    resources=flyte.Resources(cpu=1, memory="512Mi"),
)
driver = flyte.TaskEnvironment(
    name="digits_driver",
    image=image,
    resources=flyte.Resources(cpu="250m", memory="256Mi"),
    depends_on=[training, inference],
)

N_TRAIN = 1200  # the first 1,200 images train the model; the other 597 are held out
MAX_TREES = 40  # the forest travels inline: 40 trees stay under 2 MiB


@dataclass
class BatchReport:
    images: int  # held-out images classified
    accepted: int  # predictions whose probability reached min_confidence
    correct: int  # accepted predictions that match the true label


@training.task
def train(n_trees: int) -> RandomForestClassifier:
    if not 1 <= n_trees <= MAX_TREES:
        raise ValueError(f"n_trees must be between 1 and {MAX_TREES}, got {n_trees}")
    print(f"train ran: {n_trees} trees")
    digits = load_digits()
    forest = RandomForestClassifier(n_estimators=n_trees, n_jobs=2, random_state=0)
    return forest.fit(digits.data[:N_TRAIN], digits.target[:N_TRAIN])


@inference.task
def predict(model: RandomForestClassifier, min_confidence: float) -> BatchReport:
    if not 0 <= min_confidence <= 1:
        message = f"min_confidence must be between 0 and 1, got {min_confidence}"
        raise ValueError(message)
    print(f"predict ran: min_confidence={min_confidence}")
    digits = load_digits()
    images, labels = digits.data[N_TRAIN:], digits.target[N_TRAIN:]
    model.set_params(n_jobs=1)  # the one CPU this task asks for
    probabilities = model.predict_proba(images)
    accepted = probabilities.max(axis=1) >= min_confidence
    predicted = model.classes_[probabilities.argmax(axis=1)]
    correct = predicted[accepted] == labels[accepted]
    return BatchReport(len(images), int(accepted.sum()), int(correct.sum()))


@driver.task
def train_then_predict(n_trees: int = 40, min_confidence: float = 0.5) -> BatchReport:
    model = train(n_trees)
    return predict(model, min_confidence)


# %%
# .. _decomposition2-local-runs:
#
# Run it twice, with a new threshold
# ----------------------------------
# ``flyte.run`` runs the driver locally: no cluster, no network, every task in this
# process. Run 1 trains and predicts. Run 2 changes only ``min_confidence``: ``train``'s
# inputs and source are unchanged, so the local cache serves the forest and only
# ``predict`` prints a line.
#
# The local cache outlives this script (``~/.flyte/local-cache``): run it again and
# run 1 is served from it too. ``flyte delete local-cache`` empties it.
if __name__ == "__main__":
    flyte.init()
    for run, threshold in ((1, 0.3), (2, 0.5)):
        report = flyte.run(train_then_predict, min_confidence=threshold).outputs()[0]
        print(f"run {run}, min_confidence={threshold}, accepted: "
              f"{report.accepted} of {report.images}")
