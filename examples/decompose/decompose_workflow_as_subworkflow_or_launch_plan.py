r"""
Reuse a group of tasks: subworkflow or launch plan
==================================================

A workflow can call another workflow in two ways: as a *subworkflow*, whose nodes run
inside the caller's execution, or through a *launch plan*, which starts an execution of
its own. ``two_thresholds`` calls the same train-then-predict workflow both ways. Each
task body prints a line when it runs. The question behind it:
:ref:`guide-decomposition`; how the site checks it:
:ref:`sphx_glr_auto_evidence_decompose_decompose_flyte1_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 scikit-learn==1.9.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/decompose)

      python decompose_workflow_as_subworkflow_or_launch_plan.py
      pyflyte run decompose_workflow_as_subworkflow_or_launch_plan.py two_thresholds \
          --n_trees 50

   .. code-block:: sh
      :caption: Run it on a Flyte cluster (ImageSpec builds the image with your Docker)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where the image goes: the demo's
      pyflyte run --remote decompose_workflow_as_subworkflow_or_launch_plan.py \
          two_thresholds --n_trees 50
"""

# %%
# .. _decomposition-units:
#
# The group of tasks, and a launch plan for it
# --------------------------------------------
# ``train_then_predict`` is the unit to reuse: a cached ``train`` and a ``predict``
# that counts the held-out digits whose predicted probability reaches
# ``min_confidence``. ``LaunchPlan.get_or_create`` gives it a launch plan, which a
# cluster can also run on its own (on a schedule, or from the UI).
import os

import click
from flytekit import Cache, ImageSpec, LaunchPlan, task, workflow
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)
N_TRAIN = 1200  # the first 1,200 images train the model; the other 597 are held out


@task(container_image=image, cache=Cache(version="1"))
def train(n_trees: int) -> RandomForestClassifier:
    if not 1 <= n_trees <= 1000:
        hint = "'--n_trees'"
        raise click.BadParameter(f"must be 1 to 1000, got {n_trees}", param_hint=hint)
    print(f"train ran: {n_trees} trees")
    digits = load_digits()
    forest = RandomForestClassifier(n_estimators=n_trees, random_state=0)
    return forest.fit(digits.data[:N_TRAIN], digits.target[:N_TRAIN])


@task(container_image=image)
def predict(model: RandomForestClassifier, min_confidence: float) -> int:
    print(f"predict ran: min_confidence={min_confidence}")
    probabilities = model.predict_proba(load_digits().data[N_TRAIN:])
    return int((probabilities.max(axis=1) >= min_confidence).sum())


@workflow
def train_then_predict(n_trees: int = 100, min_confidence: float = 0.5) -> int:
    model = train(n_trees=n_trees)
    return predict(model=model, min_confidence=min_confidence)


train_then_predict_lp = LaunchPlan.get_or_create(
    train_then_predict, name="train_then_predict_lp"
)


# %%
# Call it both ways
# -----------------
# Calling the workflow makes a subworkflow node: on a cluster its tasks run inside
# ``two_thresholds``' execution and count against its ``max_parallelism``. Calling the
# launch plan makes a launch plan node: the cluster starts a separate execution, with
# its own page, inputs and outputs. Locally both run in this process, one after the
# other, and the second ``train`` is served from flytekit's local cache.
@workflow
def two_thresholds(n_trees: int = 100) -> tuple[int, int]:
    lenient = train_then_predict(n_trees=n_trees, min_confidence=0.3)  # subworkflow
    strict = train_then_predict_lp(n_trees=n_trees, min_confidence=0.5)  # launch plan
    return lenient, strict


if __name__ == "__main__":
    lenient, strict = two_thresholds(n_trees=100)
    print(f"subworkflow, min_confidence=0.3, accepted: {lenient} of 597")
    print(f"launch plan, min_confidence=0.5, accepted: {strict} of 597")
