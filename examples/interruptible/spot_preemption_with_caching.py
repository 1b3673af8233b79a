"""
Spot preemptions: cached stages keep what finished
==================================================

Four stages run as interruptible (spot) tasks with retries; the last, which hands the
model to the outside world, is pinned on demand. A simulated preemption stops the
pipeline at its third stage, and a re-run computes only that stage and the one after
it: the first two come from the cache. Each task body prints a line when it runs. The
question: :ref:`guide-interruptible`; the coarse one-task shape, the cost model and how
the site checks it:
:ref:`sphx_glr_auto_evidence_interruptible_interruptible_flyte1_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 scikit-learn==1.9.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/interruptible)

      python spot_preemption_with_caching.py
      pyflyte run spot_preemption_with_caching.py pipeline

   .. code-block:: sh
      :caption: Run it on a Flyte cluster (ImageSpec builds the image with your Docker)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where the image goes: the demo's
      pyflyte run --remote spot_preemption_with_caching.py pipeline
"""

# %%
# .. _interruptible-tasks:
#
# Four stages as interruptible tasks
# ----------------------------------
# ``featurize``, ``train`` and ``evaluate`` are ``interruptible=True`` with
# ``retries=3``, and cached: a stage that finished is not computed again by a later run.
# ``publish`` has a side effect, so it is not cached (a cache hit would skip the side
# effect; see :ref:`guide-caching`) and must be safe to run twice; the workflow pins it
# on demand with ``with_overrides(interruptible=False)``. The task itself stays
# interruptible wherever else it is used.
#
# The preemption is simulated: ``preempt_stage`` (1 to 4, 0 for none) names the stage
# whose node is reclaimed. That stage does its work, then raises
# ``FlyteRecoverableException`` before its output is saved, on a first attempt only
# (``FLYTE_ATTEMPT_NUMBER`` is 0, or unset as in a local run), so on a cluster its retry
# succeeds. It describes the spot market, not the computation: the cache key ignores it.
import os

import click
import numpy as np
from flytekit import Cache, ImageSpec, task, workflow
from flytekit.exceptions.user import FlyteRecoverableException
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.svm import SVC

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)
STAGES = ("featurize", "train", "evaluate", "publish")
N_TRAIN = 1500  # the first 1,500 of the 1,797 digits train; the rest are held out
CACHED = Cache(version="1", ignored_inputs=("preempt_stage",))


def reclaim_if(stage: str, preempt_stage: int) -> None:
    """The simulated preemption: on a first attempt, ``stage`` loses its node."""
    if not 0 <= preempt_stage <= len(STAGES):  # one error line from pyflyte run, exit 2
        raise click.BadParameter(f"must be 0 to 4, got {preempt_stage}",
                                 param_hint="'--preempt_stage'")
    first_attempt = os.environ.get("FLYTE_ATTEMPT_NUMBER", "0") == "0"
    if preempt_stage and STAGES[preempt_stage - 1] == stage and first_attempt:
        raise FlyteRecoverableException(f"{stage} lost its node (simulated)")


@task(container_image=image, interruptible=True, retries=3, cache=CACHED)
def featurize(preempt_stage: int) -> np.ndarray:
    print("featurize ran: 40 principal components")
    pixels = load_digits().data
    features = PCA(40, random_state=0).fit(pixels[:N_TRAIN]).transform(pixels)
    reclaim_if("featurize", preempt_stage)
    return features


@task(container_image=image, interruptible=True, retries=3, cache=CACHED)
def train(features: np.ndarray, preempt_stage: int) -> SVC:
    print(f"train ran: a support vector classifier on {N_TRAIN} digits")
    labels = load_digits().target
    model = SVC(C=10).fit(features[:N_TRAIN], labels[:N_TRAIN])
    reclaim_if("train", preempt_stage)
    return model


@task(container_image=image, interruptible=True, retries=3, cache=CACHED)
def evaluate(model: SVC, features: np.ndarray, preempt_stage: int) -> float:
    print(f"evaluate ran: {len(features) - N_TRAIN} held-out digits")
    labels = load_digits().target
    accuracy = float(model.score(features[N_TRAIN:], labels[N_TRAIN:]))
    reclaim_if("evaluate", preempt_stage)
    return accuracy


@task(container_image=image, interruptible=True, retries=3)  # not cached
def publish(model: SVC, accuracy: float, preempt_stage: int) -> str:
    print(f"publish ran: held-out accuracy {accuracy:.3f}")
    # A real pipeline would push the model to a registry here, under a name derived
    # from its inputs, so that running it twice does no harm.
    reclaim_if("publish", preempt_stage)
    return f"SVC, held-out accuracy {accuracy:.3f}"


@workflow
def pipeline(preempt_stage: int = 0) -> str:
    features = featurize(preempt_stage=preempt_stage)
    model = train(features=features, preempt_stage=preempt_stage)
    accuracy = evaluate(model=model, features=features, preempt_stage=preempt_stage)
    published = publish(model=model, accuracy=accuracy, preempt_stage=preempt_stage)
    return published.with_overrides(interruptible=False)


# %%
# .. _interruptible-preemption:
#
# Preempt, then re-run
# --------------------
# Run 1 loses ``evaluate`` to the simulated preemption. Locally nothing retries: the
# error ends the run. Run 2 has no preemption (``preempt_stage=0``, which the cache key
# ignores): ``featurize`` and ``train`` come from the cache, and only ``evaluate`` and
# ``publish`` run. On a cluster the retry happens inside the same execution and re-runs
# only the failed node, cache or no cache; the cache gives the same saving across
# executions, when you launch again after a failure.
#
# The local cache outlives this script (``~/.flyte/local-cache``): run the script again
# and run 1 finds all three stages there, so nothing is preempted.
# ``pyflyte local-cache clear`` empties it.
if __name__ == "__main__":
    try:
        pipeline(preempt_stage=3)
        print("run 1, preempted: no, every stage came from the local cache")
    except FlyteRecoverableException:
        print("run 1, preempted: evaluate lost its node; a local run does not retry")
    print(f"run 2, published: {pipeline(preempt_stage=0)}")
