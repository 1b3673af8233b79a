"""
When the graph depends on data: @dynamic or @eager
==================================================

Two ways to let data decide which tasks run. A ``@dynamic`` workflow builds its graph
from its *inputs*: here, one training task per tree count in a list. An ``@eager``
workflow runs plain async Python and sees each task's *result*: here, it doubles the
forest until held-out accuracy reaches a target, so the number of tasks depends on what
the tasks return. The same loop in ``@dynamic`` raises. Runs locally in a few seconds.
The question behind it: :ref:`guide-parallelism`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 scikit-learn==1.9.1 matplotlib==3.11.2 \\
          click==8.5.1

   .. code-block:: sh
      :caption: Run the whole script, as this page did

      python examples/data_dependent_fan_out_dynamic_vs_eager.py

   .. code-block:: sh
      :caption: Run the workflow with your own inputs

      pyflyte run examples/data_dependent_fan_out_dynamic_vs_eager.py grow_until \\
          --target 0.9

   .. code-block:: sh
      :caption: Run it on a Flyte cluster (builds the image with your Docker)

      pyflyte run --remote examples/data_dependent_fan_out_dynamic_vs_eager.py \\
          grow_until --target 0.9
"""

# %%
# .. _parallelism-dynamic-eager-tasks:
#
# One task, two ways to fan out
# -----------------------------
# ``train_forest`` fits a random forest with ``n_trees`` trees on the first 1,500 digit
# images and returns its accuracy on the other 297. ``sweep`` is a ``@dynamic``
# workflow: when it runs, its body sees real input values (the list), calls
# ``train_forest`` once per entry and returns the promises; on a cluster that body runs
# in a pod of its own and hands the graph it built to Flyte. ``grow_until`` is
# ``@eager``: an ``async`` function in which each task call returns the task's real
# output, so a ``while`` loop can stop on it. On a cluster, each call becomes an
# execution of its own.
import os

import click
from flytekit import ImageSpec, dynamic, eager, task, workflow
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1", "matplotlib==3.11.2"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)

N_TRAIN = 1500
MAX_TREES = 512  # an upper bound: a forest this size already takes seconds to fit


@task(container_image=image)
def train_forest(n_trees: int) -> float:
    if not 1 <= n_trees <= MAX_TREES:
        raise click.BadParameter(f"must be between 1 and {MAX_TREES}, got {n_trees}",
                                 param_hint="'--n_trees'")
    digits = load_digits()
    forest = RandomForestClassifier(n_estimators=n_trees, random_state=0)
    forest.fit(digits.data[:N_TRAIN], digits.target[:N_TRAIN])
    return float(forest.score(digits.data[N_TRAIN:], digits.target[N_TRAIN:]))


@dynamic(container_image=image)
def sweep(tree_counts: list[int]) -> list[float]:
    # The list is a real value here: the graph's shape comes from the input.
    return [train_forest(n_trees=n) for n in tree_counts]


@workflow
def sweep_forests(tree_counts: list[int] = [4, 16, 64]) -> list[float]:
    return sweep(tree_counts=tree_counts)


# deck_fields=(): no dependency report, which runs `pip list` on every call (a second)
@eager(container_image=image, deck_fields=())
async def grow_until(target: float, start_trees: int = 4) -> list[int]:
    """Double the forest until it reaches ``target``; return the sizes tried."""
    if not 0.0 < target <= 1.0:
        raise click.BadParameter(f"must be in (0, 1], got {target}",
                                 param_hint="'--target'")
    if not 1 <= start_trees <= MAX_TREES:
        raise click.BadParameter(
            f"must be between 1 and {MAX_TREES}, got {start_trees}",
            param_hint="'--start_trees'")
    tried = []
    n_trees = start_trees
    while n_trees <= MAX_TREES:
        tried.append(n_trees)
        accuracy = train_forest(n_trees=n_trees)  # a float: the task has run
        if accuracy >= target:
            break
        n_trees *= 2
    return tried


# %%
# .. _parallelism-dynamic-raises:
#
# The same loop in @dynamic raises
# --------------------------------
# Inside ``@dynamic`` a task call returns a promise, not a value: the task has not run
# when the body builds the graph. Branching on it is the error flytekit reports ("Cannot
# perform truth value testing"). A ``@dynamic`` workflow can only act on a result by
# passing it to another ``@dynamic`` workflow, whose body then sees it as an input: one
# more pod and one more compiled graph per decision on a cluster.
@dynamic(container_image=image)
def grow_until_in_dynamic(target: float, start_trees: int = 4) -> int:
    n_trees = start_trees
    while n_trees <= MAX_TREES:
        if train_forest(n_trees=n_trees) >= target:  # raises: a promise, not a value
            return n_trees
        n_trees *= 2
    return n_trees


# %%
# .. _parallelism-dynamic-eager-run:
#
# Run both
# --------
# Locally both run in this process, one task after another. ``sweep`` trains exactly the
# forests its input lists. ``grow_until`` trains as many as it needs to reach the
# target, a number nobody knew when the run started.
if __name__ == "__main__":
    counts = [4, 16, 64]
    accuracies = sweep_forests(tree_counts=counts)
    print(f"dynamic sweep, tree counts from the input: {counts}")
    print(f"dynamic sweep, accuracies: {[round(a, 3) for a in accuracies]}")

    import asyncio

    target = 0.92
    tried = asyncio.run(grow_until(target=target))
    print(f"eager grow_until {target}, forests trained: {tried}")
    print(f"eager grow_until {target}, tasks run: {len(tried)}")

    try:
        grow_until_in_dynamic(target=target)
        print("dynamic with a branch on a task result: ran")
    except ValueError as exc:
        reason = str(exc).split("\n")[1].strip().split(",")[0]
        print(f"dynamic with a branch on a task result: ValueError, {reason}")

# %%
# .. _parallelism-dynamic-eager-compiled:
#
# What a cluster would receive
# ----------------------------
# Registration compiles neither body: the ``@dynamic`` task is registered as a task
# whose graph is built when it runs, and the ``@eager`` one as a task of its own type
# flagged ``is_eager``, which launches executions from inside its pod (on a cluster
# other than the demo one it needs credentials for that: ``client_secret_group`` and
# ``client_secret_key``).
if __name__ == "__main__":
    from collections import OrderedDict

    from flytekit.configuration import Image, ImageConfig, SerializationSettings
    from flytekit.tools.translator import get_serializable

    ours = Image(name=image.id, fqn=f"{image.registry}/{image.name}", tag=image.tag)
    default = ImageConfig.auto_default_image().default_image
    settings = SerializationSettings(
        image_config=ImageConfig(default_image=default, images=[ours]))
    for entity in (sweep, grow_until):
        spec = get_serializable(OrderedDict(), settings, entity)
        name = entity.name.rsplit(".", 1)[-1]
        eager_flag = spec.template.metadata.is_eager
        print(f"registered {name}: task type {spec.template.type!r}, "
              f"eager {eager_flag}")

# %%
# .. _parallelism-dynamic-eager-figure:
#
# What each one trained
# ---------------------
# Accuracy against forest size: the sweep's three points were fixed by its input; the
# eager loop's points stop where the accuracy first reached the target.
if __name__ == "__main__":
    import matplotlib.pyplot as plt

    eager_acc = [train_forest(n_trees=n) for n in tried]
    fig, ax = plt.subplots(figsize=(7.4, 3.6))
    ax.plot(counts, accuracies, "s", color="tab:blue", markersize=9,
            label="@dynamic sweep: counts from the input")
    ax.plot(tried, eager_acc, "o-", color="tab:orange",
            label="@eager loop: stops on a result")
    ax.axhline(target, color="grey", linestyle=":", label=f"target {target}")
    ax.set(xscale="log", xlabel="trees in the forest", ylabel="held-out accuracy")
    ax.set_xticks(sorted(set(counts) | set(tried)),
                  [str(n) for n in sorted(set(counts) | set(tried))])
    ax.set_title("Which forests each workflow trained")
    ax.legend(loc="lower right")
    fig.tight_layout()
    plt.show()
