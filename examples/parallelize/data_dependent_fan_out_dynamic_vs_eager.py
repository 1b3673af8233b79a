r"""
When the graph depends on data: @dynamic or @eager
==================================================

Two ways to let data decide which tasks run. A ``@dynamic`` workflow builds its graph
from its *inputs*: here, a list of model names decides which training task runs for
each. An ``@eager`` workflow runs plain async Python and sees each task's *result*:
here, it doubles a forest until held-out accuracy reaches a target, so the number of
tasks depends on what the tasks return. The same loop in ``@dynamic`` raises. Runs
locally in a few seconds. The question behind it: :ref:`guide-parallelism`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 scikit-learn==1.9.1 matplotlib==3.11.2 \
          click==8.5.1

   .. code-block:: sh
      :caption: Run it in the folder you saved it to (in a clone: cd examples/parallelize)

      python data_dependent_fan_out_dynamic_vs_eager.py
      pyflyte run data_dependent_fan_out_dynamic_vs_eager.py \
          compare_models --models '["forest-8", "svc"]'

   .. code-block:: sh
      :caption: Run it on a Flyte cluster (ImageSpec builds the image with your Docker)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where the image goes: the demo's
      pyflyte run --remote data_dependent_fan_out_dynamic_vs_eager.py \
          compare_models --models '["forest-8", "svc"]'
"""

# %%
# .. _parallelism-dynamic-eager-tasks:
#
# Two training tasks, two ways to fan out
# ---------------------------------------
# ``train_forest`` and ``train_svc`` fit a model on the first 1,500 digit images and
# return its accuracy on the other 297.
#
# ``compare`` is a ``@dynamic`` workflow: when it
# runs, its body sees the real list of model names and calls the matching task for each
# (``forest-16`` is a 16-tree forest, ``svc`` a support-vector classifier); on a cluster
# that body runs in a pod of its own and hands the graph it built to Flyte.
# ``grow_until`` is ``@eager``: an ``async`` function in which each task call returns
# the task's real output, so a ``while`` loop can stop on it. On a cluster, each call
# becomes an execution of its own.
import os

import click
from flytekit import ImageSpec, dynamic, eager, map_task, task, workflow
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.svm import SVC

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1", "matplotlib==3.11.2"],
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
    if not 1 <= n_trees <= MAX_TREES:
        raise click.BadParameter(f"must be between 1 and {MAX_TREES}, got {n_trees}",
                                 param_hint="'--n_trees'")
    forest = RandomForestClassifier(n_estimators=n_trees, random_state=0)
    return held_out_accuracy(forest)


@task(container_image=image)
def train_svc() -> float:
    return held_out_accuracy(SVC(gamma=0.001))


@dynamic(container_image=image)
def compare(models: list[str]) -> list[float]:
    # The list is a real value here: the input decides which task runs for each entry.
    scores = []
    for name in models:
        if name == "svc":
            scores.append(train_svc())
        elif name.startswith("forest-") and name[7:].isdigit():
            scores.append(train_forest(n_trees=int(name[7:])))
        else:
            raise click.BadParameter(
                f"expected 'svc' or 'forest-<trees>', got {name!r}",
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
# .. _parallelism-nesting:
#
# Nesting: a map task inside @dynamic
# -----------------------------------
# A ``@dynamic`` body may contain a ``map_task``: here the sizes come from the input.
# The other way round is refused: ``map_task`` maps plain tasks only, so mapping a
# ``@dynamic``, ``@eager`` or ``@workflow`` raises when the map task is defined.
@dynamic(container_image=image)
def forests_up_to(max_trees: int) -> list[float]:
    sizes = [2**k for k in range(1, max_trees.bit_length())]
    return map_task(train_forest)(n_trees=sizes)


# %%
# .. _parallelism-dynamic-eager-run:
#
# Run them
# --------
# Locally everything runs in this process, one task after another. ``compare`` trains
# exactly the models its input names. ``grow_until`` trains as many forests as it needs
# to reach the target, a number nobody knew when the run started.
#
# The eager task runs on its own too, with your target:
#
# .. code-block:: sh
#
#    pyflyte run examples/data_dependent_fan_out_dynamic_vs_eager.py grow_until \
#        --target 0.9
if __name__ == "__main__":
    import asyncio

    models = ["forest-4", "forest-64", "svc"]
    scores = compare_models(models=models)
    print(f"dynamic compare, tasks from the input: {models}")
    print(f"dynamic compare, accuracies: {[round(a, 3) for a in scores]}")

    target = 0.92
    tried = asyncio.run(grow_until(target=target))
    print(f"eager grow_until {target}, forests trained: {tried}")
    print(f"eager grow_until {target}, tasks run: {len(tried)}")

    try:
        grow_until_in_dynamic(target=target)
        print("dynamic with an if on a task result: ran")
    except ValueError as exc:
        reason = str(exc).split("\n")[1].strip().split(",")[0]
        print(f"dynamic with an if on a task result: ValueError, {reason}")

    nested = forests_up_to(max_trees=16)
    print(f"map_task inside dynamic, forests up to 16 trees: {len(nested)} accuracies")
    for target_entity in (compare, grow_until):
        try:
            map_task(target_entity)
            print(f"map_task over {target_entity.name.rsplit('.', 1)[-1]}: accepted")
        except ValueError:
            print(f"map_task over {target_entity.name.rsplit('.', 1)[-1]}: ValueError")

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
    for entity in (compare, grow_until):
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
# Accuracy against forest size: the ``@dynamic`` run's models were fixed by its input;
# the ``@eager`` loop's forests stop where the accuracy first reached the target.
if __name__ == "__main__":
    import matplotlib.pyplot as plt

    eager_acc = [train_forest(n_trees=n) for n in tried]
    forest_sizes = [int(m[7:]) for m in models if m.startswith("forest-")]
    forest_acc = [a for m, a in zip(models, scores) if m.startswith("forest-")]
    fig, ax = plt.subplots(figsize=(7.4, 3.8))
    ax.plot(forest_sizes, forest_acc, "s", color="tab:blue", markersize=9,
            label="@dynamic compare: forests named in the input")
    ax.axhline(scores[models.index("svc")], color="tab:blue", linestyle="--",
               label="@dynamic compare: svc")
    ax.plot(tried, eager_acc, "o-", color="tab:orange",
            label="@eager loop: stops on a result")
    ax.axhline(target, color="grey", linestyle=":", label=f"target {target}")
    ticks = sorted(set(forest_sizes) | set(tried))
    ax.set(xscale="log", xlabel="trees in the forest", ylabel="held-out accuracy")
    ax.set_xticks(ticks, [str(n) for n in ticks])
    ax.minorticks_off()
    ax.set_title("Which models each workflow trained")
    ax.legend(loc="lower right")
    fig.tight_layout()
    plt.show()
