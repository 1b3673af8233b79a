r"""
When the graph depends on data: @dynamic or @eager
==================================================

Two ways to let data decide which tasks run. A ``@dynamic`` workflow builds its graph
from its *inputs*: a list of model names decides which training task runs for each. An
``@eager`` workflow runs plain async Python and sees each task's *result*: it doubles a
forest until held-out accuracy reaches a target, so the number of tasks depends on what
the tasks return. The question behind it: :ref:`guide-parallelism`; how the site checks
it: :ref:`sphx_glr_auto_evidence_parallelize_parallelize_flyte1_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 scikit-learn==1.9.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/parallelize)

      python data_dependent_fan_out_dynamic_vs_eager.py
      pyflyte run data_dependent_fan_out_dynamic_vs_eager.py grow_until --target 0.9

   .. code-block:: sh
      :caption: Run it on a Flyte cluster (ImageSpec builds the image with your Docker)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where the image goes: the demo's
      pyflyte run --remote data_dependent_fan_out_dynamic_vs_eager.py grow_until \
          --target 0.9
"""

# %%
# .. _parallelism-dynamic-eager-tasks:
#
# Two training tasks, two ways to fan out
# ---------------------------------------
# ``train_forest`` and ``train_svc`` fit a model on the first 1,500 digit images and
# return its accuracy on the other 297; each prints a line when its body runs.
#
# ``compare`` is ``@dynamic``: when it runs, its body sees the real list of model names
# and calls the matching task for each (``forest-16`` is a 16-tree forest, ``svc`` a
# support-vector classifier). On a cluster that body runs in a pod of its own and hands
# the graph it built to Flyte. ``grow_until`` is ``@eager``: an ``async`` function in
# which each task call returns the task's real output, so a ``while`` loop can stop on
# it. On a cluster each call becomes an execution of its own.
import os

import click
from flytekit import ImageSpec, dynamic, eager, task, workflow
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.svm import SVC

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)
N_TRAIN = 1500
MAX_TREES = 512  # an upper bound: a forest this size already takes seconds to fit


def held_out_accuracy(model) -> float:
    digits = load_digits()
    model.fit(digits.data[:N_TRAIN], digits.target[:N_TRAIN])
    return float(model.score(digits.data[N_TRAIN:], digits.target[N_TRAIN:]))


@task(container_image=image)
def train_forest(n_trees: int) -> float:
    print(f"train_forest ran: {n_trees} trees")
    forest = RandomForestClassifier(n_estimators=n_trees, random_state=0)
    return held_out_accuracy(forest)


@task(container_image=image)
def train_svc() -> float:
    print("train_svc ran: a support-vector classifier")
    return held_out_accuracy(SVC(gamma=0.001))


@dynamic(container_image=image)
def compare(models: list[str]) -> list[float]:
    scores = []  # the list is a real value here: the input decides what runs
    for name in models:
        if name == "svc":
            scores.append(train_svc())
        elif name.startswith("forest-") and name[7:].isdigit():
            scores.append(train_forest(n_trees=int(name[7:])))
        else:
            raise click.BadParameter(f"expected 'svc' or 'forest-<n>', got {name!r}",
                                     param_hint="'--models'")
    return scores


@workflow
def compare_models(models: list[str] = ["forest-4", "forest-64", "svc"]) -> list[float]:
    return compare(models=models)


# deck_fields=(): no dependency report, which runs `pip list` on every call (a second)
@eager(container_image=image, deck_fields=())
async def grow_until(target: float, start_trees: int = 4) -> list[int]:
    """Double the forest until it reaches ``target``; return the sizes tried."""
    if not 0.0 < target <= 1.0:
        raise click.BadParameter(f"must be in (0, 1], got {target}",
                                 param_hint="'--target'")
    tried, n_trees = [], start_trees
    while n_trees <= MAX_TREES:
        tried.append(n_trees)
        if train_forest(n_trees=n_trees) >= target:  # a float: the task has run
            break
        n_trees *= 2
    return tried


# %%
# .. _parallelism-dynamic-eager-run:
#
# Run them
# --------
# Locally everything runs in this process, one task after another. ``compare`` trains
# exactly the models its input names; ``grow_until`` trains as many forests as it needs
# to reach the target, a number nobody knew when the run started.
#
# An ``@eager`` workflow is a coroutine: a script runs it with ``asyncio.run``, and
# ``pyflyte run`` does the same. A Jupyter kernel already runs an event loop, where
# ``asyncio.run`` refuses to start a second one, so here it runs on a thread of its own;
# in a notebook of your own, ``await grow_until(target=0.92)`` is enough.
if __name__ == "__main__":
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    scores = compare_models(models=["forest-4", "forest-64", "svc"])
    print(f"dynamic compare, accuracies: {[round(a, 3) for a in scores]}")
    with ThreadPoolExecutor(max_workers=1) as thread:
        tried = thread.submit(asyncio.run, grow_until(target=0.92)).result()
    print(f"eager grow_until 0.92, forests trained: {tried}")
