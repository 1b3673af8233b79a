r"""
Train once, predict cheaply: two tasks, two resource profiles
=============================================================

Training and batch inference on scikit-learn's digits as two tasks of one workflow:
each asks a cluster for its own CPU and memory, and training is cached, so a second run
with a new inference threshold does not retrain. Each task body prints a line when it
runs. The question behind it: :ref:`guide-decomposition`; how the site checks it:
:ref:`sphx_glr_auto_evidence_decompose_decompose_flyte1_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 scikit-learn==1.9.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/decompose)

      python decompose_training_and_inference.py
      pyflyte run decompose_training_and_inference.py train_then_predict \
          --n_trees 100 --min_confidence 0.5

   .. code-block:: sh
      :caption: Run it on a Flyte cluster (ImageSpec builds the image with your Docker)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where the image goes: the demo's
      pyflyte run --remote decompose_training_and_inference.py train_then_predict \
          --n_trees 100 --min_confidence 0.5
"""

# %%
# .. _decomposition-tasks:
#
# Two tasks, two resource profiles
# --------------------------------
# ``train`` fits a random forest on the first 1,200 digit images on two CPUs;
# ``predict`` classifies the 597 others on one CPU and accepts a prediction only when
# its probability reaches ``min_confidence`` (the rest would go to a person). Each task
# carries its own ``requests`` and ``limits``, within the platform limits of a stock
# Flyte deployment (2 CPUs, 1 GiB). ``train`` is cached (``Cache(version="1")``);
# ``predict`` always runs. A bad input gets one line naming it (``click.BadParameter``).
import os
from dataclasses import dataclass

import click
from flytekit import Cache, ImageSpec, Resources, task, workflow
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)
N_TRAIN = 1200  # the first 1,200 images train the model; the other 597 are held out
MAX_TREES = 1000  # a few seconds of training here; a million trees would take hours


@dataclass
class BatchReport:
    images: int  # held-out images classified
    accepted: int  # predictions whose probability reached min_confidence
    correct: int  # accepted predictions that match the true label


@task(
    container_image=image,
    requests=Resources(cpu="2", mem="1Gi"),
    limits=Resources(cpu="2", mem="1Gi"),
    cache=Cache(version="1"),
)
def train(n_trees: int) -> RandomForestClassifier:
    if not 1 <= n_trees <= MAX_TREES:
        message = f"must be between 1 and {MAX_TREES}, got {n_trees}"
        raise click.BadParameter(message, param_hint="'--n_trees'")
    print(f"train ran: {n_trees} trees")
    digits = load_digits()
    forest = RandomForestClassifier(n_estimators=n_trees, n_jobs=2, random_state=0)
    return forest.fit(digits.data[:N_TRAIN], digits.target[:N_TRAIN])


@task(
    container_image=image,
    requests=Resources(cpu="1", mem="512Mi"),
    limits=Resources(cpu="1", mem="512Mi"),
)
def predict(model: RandomForestClassifier, min_confidence: float) -> BatchReport:
    if not 0 <= min_confidence <= 1:
        message = f"must be between 0 and 1, got {min_confidence}"
        raise click.BadParameter(message, param_hint="'--min_confidence'")
    print(f"predict ran: min_confidence={min_confidence}")
    digits = load_digits()
    images, labels = digits.data[N_TRAIN:], digits.target[N_TRAIN:]
    model.set_params(n_jobs=1)  # the one CPU this task asks for
    probabilities = model.predict_proba(images)
    accepted = probabilities.max(axis=1) >= min_confidence
    predicted = model.classes_[probabilities.argmax(axis=1)]
    correct = predicted[accepted] == labels[accepted]
    return BatchReport(len(images), int(accepted.sum()), int(correct.sum()))


@workflow
def train_then_predict(n_trees: int = 100, min_confidence: float = 0.5) -> BatchReport:
    model = train(n_trees=n_trees)
    return predict(model=model, min_confidence=min_confidence)


# %%
# .. _decomposition-override:
#
# One call with more memory
# -------------------------
# To give one call of a task more memory, override its requests *and* its limits: on a
# cluster an overridden request is clamped to the limit the task already has, so a
# request alone would leave ``predict`` at 512 MiB.
@workflow
def predict_with_more_memory(
    n_trees: int = 100, min_confidence: float = 0.5
) -> BatchReport:
    model = train(n_trees=n_trees)
    more = Resources(mem="1Gi")
    return predict(model=model, min_confidence=min_confidence).with_overrides(
        requests=more, limits=more
    )


# %%
# .. _decomposition-second-run:
#
# Run it twice, with a new threshold
# ----------------------------------
# Run 1 trains and predicts. Run 2 changes only ``min_confidence``, an input of
# ``predict``: ``train``'s inputs are the same, so its cache key is the same, flytekit
# finds the model in its local cache, and only ``predict`` prints a line.
#
# The local cache outlives this script (``~/.flyte/local-cache``): run it again and
# run 1 is served from it too. ``pyflyte local-cache clear`` empties it.
if __name__ == "__main__":
    for run, threshold in ((1, 0.3), (2, 0.5)):
        report = train_then_predict(n_trees=100, min_confidence=threshold)
        print(f"run {run}, min_confidence={threshold}, accepted: "
              f"{report.accepted} of {report.images}")
