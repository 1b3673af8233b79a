"""
Spot preemptions: small cached stages lose less work
====================================================

A four-stage training pipeline runs on interruptible (spot) nodes with retries and caching, one
stage is pinned on demand, and a simulated preemption stops it part-way. Re-running it shows how
much work fine-grained stages redo compared with one coarse task, and a cost model shows when
spot nodes pay off. Runs in under ten seconds locally. The question behind it:
:ref:`guide-interruptible`.
"""

# %%
# .. _interruptible-tasks:
#
# The pipeline, as interruptible tasks
# ------------------------------------
# Four stages on scikit-learn's digits: ``featurize`` (augment the training images with a
# circular one-pixel shift, then scale and project them with PCA), ``train`` (a support vector
# classifier), ``evaluate`` (held-out accuracy with a bootstrap interval) and ``publish`` (hand
# the model over; here it only describes what it would publish).
#
# Every task is ``interruptible=True``: on a cluster whose platform team has set up spot or
# preemptible nodes for it, Flyte may schedule the task there. ``retries=3`` lets a task that
# fails with a *recoverable* error run again. The cache stores each stage's output, so a re-run
# can skip finished stages.
#
# A preemption is simulated, not real. The workflow input ``preempt_stage`` (1 to 4, 0 for
# none) names the stage whose node is "reclaimed": that stage does its work, then raises
# ``FlyteRecoverableException`` before its output is saved, which is the worst moment. It does
# so only on a first attempt (``FLYTE_ATTEMPT_NUMBER`` is 0, or unset as in a local run), so on a
# cluster Flyte's retry succeeds. One difference from the real thing: this error is a
# recoverable *user* error, retried from the task's ``retries``; a real preemption is a
# *system* error, retried from a separate budget the platform sets (the guide explains both).
# ``preempt_stage`` describes the spot market, not the computation, so the cache key ignores it
# (``Cache(ignored_inputs=...)``): a re-run with a different value looks up the very same cache
# entries.
import os
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import NamedTuple

import click
import diskcache
import matplotlib.pyplot as plt
import numpy as np
from flytekit import Cache, ImageSpec, task, workflow
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.core import local_cache
from flytekit.exceptions.user import FlyteRecoverableException
from flytekit.models.task import TaskSpec
from flytekit.tools.translator import get_serializable
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1", "matplotlib==3.11.2"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)

STAGES = ("featurize", "train", "evaluate", "publish")
SPOT_CACHE = Cache(version="1", ignored_inputs=("preempt_stage",))

# Which stage bodies ran, and for how long. Locally every task runs inside this process, so the
# runs below can read this list; on a cluster each task runs in its own container and nothing
# reads it.
WORK_DONE: list[tuple[str, float]] = []


class Features(NamedTuple):
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


def check_preempt_stage(preempt_stage: int) -> None:
    # click's exception: `pyflyte run` shows a short usage hint and one error line naming the
    # input, and exits with 2; on a cluster the task fails with the same message. A task served
    # from the cache does not run, so neither does this check.
    if not 0 <= preempt_stage <= len(STAGES):
        raise click.BadParameter(
            f"must be 0 (no preemption) to {len(STAGES)}, got {preempt_stage}",
            param_hint="'--preempt_stage'",
        )


@contextmanager
def stage(name: str, preempt_stage: int):
    """Time a stage's work and note that it ran. If the spot market "reclaims" this stage, fail as
    a preempted node would: after the work is done, before the output is saved."""
    started = time.perf_counter()
    yield
    WORK_DONE.append((name, time.perf_counter() - started))
    first_attempt = os.environ.get("FLYTE_ATTEMPT_NUMBER", "0") == "0"
    if STAGES.index(name) + 1 == preempt_stage and first_attempt:
        raise FlyteRecoverableException(f"simulated spot preemption: {name} lost its node")


# %%
# The work of each stage is a plain function, so the fine-grained tasks and the coarse task
# below run exactly the same code.
def make_features() -> Features:
    digits = load_digits()
    images, labels = digits.images[:1500], digits.target[:1500]
    shifted = np.roll(images, 1, axis=2)  # every image again, one pixel right, last column wrapped
    train_images = np.concatenate([images, shifted]).reshape(-1, 64)
    featurizer = make_pipeline(StandardScaler(), PCA(n_components=40, random_state=0))
    train_x = featurizer.fit_transform(train_images)
    test_x = featurizer.transform(digits.data[1500:])
    return Features(train_x, np.tile(labels, 2), test_x, digits.target[1500:])


def fit_model(train_x: np.ndarray, train_y: np.ndarray) -> SVC:
    return SVC(C=10, gamma="scale").fit(train_x, train_y)


def score(model: SVC, test_x: np.ndarray, test_y: np.ndarray) -> list[float]:
    """Held-out accuracy and a 95% bootstrap interval around it."""
    correct = model.predict(test_x) == test_y
    resamples = np.random.default_rng(0).integers(0, len(correct), size=(20_000, len(correct)))
    low, high = np.percentile(correct[resamples].mean(axis=1), [2.5, 97.5])
    return [float(correct.mean()), float(low), float(high)]


def describe(model: SVC, accuracy: list[float]) -> str:
    # In a real pipeline this is where the model would go to a registry.
    return (f"SVC with {model.n_support_.sum()} support vectors, held-out accuracy {accuracy[0]:.3f} "
            f"(95% CI {accuracy[1]:.3f} to {accuracy[2]:.3f})")


# %%
# Fine-grained: one task per stage. ``publish`` hands the model to the outside world: it is
# short, so spot would save little, and it has a side effect, so it should not be cut off
# half-way. The workflow pins it on demand with ``with_overrides(interruptible=False)``; the task
# itself stays interruptible wherever else it is used.
@task(container_image=image, interruptible=True, retries=3, cache=SPOT_CACHE)
def featurize(preempt_stage: int) -> Features:
    check_preempt_stage(preempt_stage)
    with stage("featurize", preempt_stage):
        return make_features()


@task(container_image=image, interruptible=True, retries=3, cache=SPOT_CACHE)
def train(train_x: np.ndarray, train_y: np.ndarray, preempt_stage: int) -> SVC:
    with stage("train", preempt_stage):
        return fit_model(train_x, train_y)


@task(container_image=image, interruptible=True, retries=3, cache=SPOT_CACHE)
def evaluate(model: SVC, test_x: np.ndarray, test_y: np.ndarray, preempt_stage: int) -> list[float]:
    with stage("evaluate", preempt_stage):
        return score(model, test_x, test_y)


@task(container_image=image, interruptible=True, retries=3, cache=SPOT_CACHE)
def publish(model: SVC, accuracy: list[float], preempt_stage: int) -> str:
    with stage("publish", preempt_stage):
        return describe(model, accuracy)


@workflow
def pipeline(preempt_stage: int = 0) -> str:
    features = featurize(preempt_stage=preempt_stage)
    model = train(train_x=features.train_x, train_y=features.train_y, preempt_stage=preempt_stage)
    accuracy = evaluate(model=model, test_x=features.test_x, test_y=features.test_y,
                        preempt_stage=preempt_stage)
    return publish(model=model, accuracy=accuracy, preempt_stage=preempt_stage).with_overrides(
        interruptible=False
    )


# %%
# Coarse: the same four stages inside one task, with the same settings and the same cache. A
# single task can only be interruptible as a whole, ``publish`` included.
@task(container_image=image, interruptible=True, retries=3, cache=SPOT_CACHE)
def all_stages(preempt_stage: int) -> str:
    check_preempt_stage(preempt_stage)
    with stage("featurize", preempt_stage):
        features = make_features()
    with stage("train", preempt_stage):
        model = fit_model(features.train_x, features.train_y)
    with stage("evaluate", preempt_stage):
        accuracy = score(model, features.test_x, features.test_y)
    with stage("publish", preempt_stage):
        return describe(model, accuracy)


@workflow
def coarse_pipeline(preempt_stage: int = 0) -> str:
    return all_stages(preempt_stage=preempt_stage)


# %%
# .. _interruptible-compiled:
#
# What a cluster receives
# -----------------------
# ``interruptible`` and ``retries`` have no effect in a local run; they travel in the compiled
# spec. flytekit copies them from each task into the workflow node's metadata, and
# ``with_overrides`` changes the node's copy only (the node metadata, not its
# ``TaskNodeOverrides``, which carry resources and images): ``publish``'s task template still
# says ``interruptible=True``, its node says ``False``, and the node's value is the one
# flytepropeller reads.
def compile_offline(entity):
    """Serialize ``entity`` as `pyflyte register` would, without a cluster. Naming our ImageSpec's
    image up front stops flytekit from asking Docker whether that image exists."""
    ours = Image(name=image.id, fqn=f"{image.registry}/{image.name}", tag=image.tag)
    config = ImageConfig(default_image=ImageConfig.auto_default_image().default_image, images=[ours])
    entities = OrderedDict()
    spec = get_serializable(entities, SerializationSettings(image_config=config), entity)
    tasks = {e.template.id.name.rsplit(".", 1)[-1]: e.template for e in entities.values() if isinstance(e, TaskSpec)}
    return spec, tasks


if __name__ == "__main__":
    workflow_spec, tasks = compile_offline(pipeline)
    for node in workflow_spec.template.nodes:
        own = tasks[node.metadata.name].metadata
        print(f"compiled node {node.metadata.name}: interruptible={node.metadata.interruptible}, "
              f"retries={node.metadata.retries.retries} "
              f"(its task: interruptible={own.interruptible}, retries={own.retries.retries})")
    coarse = compile_offline(all_stages)[0].template.metadata
    print(f"compiled coarse task all_stages: interruptible={coarse.interruptible}, retries={coarse.retries.retries}")
    print(f"compiled cache settings, every task: version {coarse.discovery_version}, "
          f"key ignores {', '.join(coarse.cache_ignore_input_vars)}")

# %%
# .. _interruptible-preemption:
#
# Preempt, then re-run as the platform would retry
# ------------------------------------------------
# Stage 3, ``evaluate``, loses its node. Locally nothing retries: the error ends the run. So we
# do what the platform would do and run the workflow again, this time with no preemption
# (``preempt_stage=0``, which the cache key ignores). The fine-grained pipeline finds
# ``featurize`` and ``train`` in the cache; the coarse task finished nothing it could store and
# starts over.
#
# On a cluster the retry happens inside the same execution: Flyte re-runs only the failed node,
# because the finished nodes' outputs are already stored. The cache gives a fine-grained
# workflow the same saving across executions: when you re-launch after a failure, or run it
# locally as here.
#
# The local cache outlasts this process (``~/.flyte/local-cache``), so each pair of runs starts
# by deleting the entries of this script's own tasks, and nothing else: otherwise a second run
# of the script would find every stage cached and never reach the preemption. The keys are
# ``<task name>-<cache version>-<hash of the inputs>``; ``pyflyte local-cache clear`` would
# empty the whole store. (The caching example defines the same function: each example is a
# script you can copy on its own.)
PREEMPTED = 3


def forget_cached_results(*tasks) -> None:
    prefixes = tuple(f"{t.name}-" for t in tasks)
    with diskcache.Cache(os.path.expanduser(local_cache.CACHE_LOCATION)) as store:
        for key in list(store.iterkeys()):
            if isinstance(key, str) and key.startswith(prefixes):
                del store[key]


def run_twice(wf) -> tuple[list, list, str]:
    """Run ``wf`` with a preemption, then again without; return the work each run did."""
    forget_cached_results(featurize, train, evaluate, publish, all_stages)
    WORK_DONE.clear()
    try:
        wf(preempt_stage=PREEMPTED)
        raise AssertionError("the simulated preemption did not happen")
    except FlyteRecoverableException:
        pass
    first = list(WORK_DONE)
    WORK_DONE.clear()
    result = wf(preempt_stage=0)
    return first, list(WORK_DONE), result


def recomputed(first: list, second: list) -> tuple[float, float]:
    """Seconds the re-run spent on stages the first run had already worked on, and the seconds of
    one whole pass (each stage counted once, at its latest measurement)."""
    latest = dict(first) | dict(second)
    again = sum(seconds for name, seconds in second if name in dict(first))
    return again, sum(latest.values())


if __name__ == "__main__":
    runs = {"fine-grained": run_twice(pipeline), "coarse": run_twice(coarse_pipeline)}
    print(f"preempted: stage {PREEMPTED} of {len(STAGES)} ({STAGES[PREEMPTED - 1]}), on its first attempt; "
          "local runs do not retry")
    for name, (first, second, result) in runs.items():
        ran_again = [stage_name for stage_name, _ in second]
        print(f"{name}, first run worked on: {', '.join(s for s, _ in first)}")
        print(f"{name}, re-run executed: {', '.join(ran_again)}")
        skipped = [s for s in STAGES if s not in ran_again]
        print(f"{name}, re-run served from the cache: {', '.join(skipped) or 'nothing'}")
    for name, (first, second, result) in runs.items():
        again, whole = recomputed(first, second)
        print(f"work recomputed after the preemption, {name}, measured: {again / whole:.0%} "
              f"({again:.2f} s of {whole:.2f} s)")
    print(f"result, fine-grained: {runs['fine-grained'][2]}")
    print(f"result, coarse: {runs['coarse'][2]}")

# %%
# Where the time went in the four runs. Hatched: work the preemption threw away, which the
# re-run had to do again.
if __name__ == "__main__":
    colors = dict(zip(STAGES, ("#4c72b0", "#dd8452", "#55a868", "#8172b3")))
    fig, ax = plt.subplots(figsize=(8, 4))
    rows = [(f"{name}\n{label}", work, dict(second) if label == "first run" else {})
            for name, (first, second, _) in runs.items()
            for label, work in (("first run", first), ("re-run", second))]
    for y, (row_label, work, redone) in enumerate(reversed(rows)):
        left = 0.0
        for stage_name, seconds in work:
            lost = stage_name in redone
            ax.barh(y, seconds, left=left, color=colors[stage_name], hatch="//" if lost else None,
                    edgecolor="white" if lost else None)
            left += seconds
        cached = [s for s in STAGES if s not in dict(work)]
        if "re-run" in row_label and cached:
            ax.text(left + 0.01, y, f"{' and '.join(cached)} served from the cache", va="center", fontsize=9)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in reversed(rows)])
    ax.set_xlabel("stage work, measured on the machine that built this page (s)")
    ax.set_title(f"Stage {PREEMPTED} ({STAGES[PREEMPTED - 1]}) preempted, then the workflow re-run\n"
                 "hatched: work lost to the preemption and done again", fontsize=11)
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=colors[s]) for s in STAGES], labels=STAGES,
              ncol=len(STAGES), loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    fig.subplots_adjust(left=0.16, right=0.97, bottom=0.27, top=0.88)
    plt.show()

# %%
# .. _interruptible-model:
#
# A cost model: when do spot nodes plus fine-grained stages pay off?
# ------------------------------------------------------------------
# A MODEL, not a measurement. Preemptions arrive at random, at a steady rate per hour of spot
# node time, so a longer attempt is more likely to be hit. The x axis is the chance that a spot
# node is reclaimed within an hour. An attempt that is hit loses everything it did. Each unit
# of work gets up to three attempts on spot, then one on demand that always finishes: that is
# what flytepropeller's defaults do for preemptions (``max-node-retries-system-failures: 3``,
# ``interruptible-failure-threshold: -1``; see the guide). Strategies:
#
# - *coarse task*: the unit is the whole pipeline. Caching cannot help it: the task stores
#   nothing until all stages are done.
# - *fine-grained, not cached, re-run from the start*: every preemption restarts the pipeline
#   from ``featurize``, and each stage pays the per-task overhead. This is what the local
#   re-run above would do without the cache.
# - *fine-grained, cached*: the unit is one stage. The same holds on a cluster without caching,
#   because Flyte retries only the preempted node.
#
# Inputs, and where they come from:
#
# - stage durations: featurize 15, train 90, evaluate 15, publish 5 minutes. An assumption: a
#   cluster-scale version of this pipeline, with training the long stage as it is here.
# - spot discount: 70%. An assumption inside the providers' published ranges: AWS says Spot is
#   up to 90% cheaper than On-Demand (https://aws.amazon.com/ec2/spot/), Google Cloud up to 91%
#   for Spot VMs (https://docs.cloud.google.com/compute/docs/instances/create-use-spot).
# - overhead: 1 minute per task attempt, paid at the node's price: about 30 s to start a pod
#   (Union's figure for Flyte 1, https://www.union.ai/flyte1-flyte2-union) plus 30 s assumed for
#   moving inputs and outputs. Waiting for a new spot node is left out.
# - preemption rate: swept on the x axis. The dotted line is a median spot lifetime of about
#   two hours, the figure Flyte's spot-instances page quotes
#   (https://docs.flyte.org/en/latest/user_guide/productionizing/spot_instances.html).
STAGE_MINUTES = {"featurize": 15.0, "train": 90.0, "evaluate": 15.0, "publish": 5.0}
SPOT_DISCOUNT = 0.70
OVERHEAD_MINUTES = 1.0
SPOT_ATTEMPTS = 3
TWO_HOUR_MEDIAN = 1 - 0.5 ** 0.5  # P(reclaimed within 1 h) if half of all nodes last 2 h, at a steady rate


def expected_unit(minutes: float, rate_per_hour: float) -> tuple[float, float]:
    """Expected (cost, hours) of one unit of work: up to SPOT_ATTEMPTS spot attempts, then one on
    demand. Cost is in on-demand node-hours."""
    hours = minutes / 60
    if rate_per_hour == 0:
        return (1 - SPOT_DISCOUNT) * hours, hours
    survive = float(np.exp(-rate_per_hour * hours))  # P(an attempt is not preempted)
    spot_hours_per_attempt = (1 - survive) / rate_per_hour  # mean of min(time to preemption, hours)
    attempts = SPOT_ATTEMPTS if survive == 0 else (1 - (1 - survive) ** SPOT_ATTEMPTS) / survive
    spot_hours = spot_hours_per_attempt * attempts
    on_demand_hours = (1 - survive) ** SPOT_ATTEMPTS * hours
    return (1 - SPOT_DISCOUNT) * spot_hours + on_demand_hours, spot_hours + on_demand_hours


def expected_cost_and_time(hourly_preemption_probability: float, strategy: str) -> tuple[float, float]:
    """Expected cost (relative to running the coarse task on demand) and completion time (hours)."""
    if not 0 <= hourly_preemption_probability <= 1:
        raise ValueError(f"hourly_preemption_probability must be between 0 and 1, got {hourly_preemption_probability}")
    rate = np.inf if hourly_preemption_probability == 1 else -np.log1p(-hourly_preemption_probability)
    stages = list(STAGE_MINUTES.values())
    units = {
        "coarse task": [sum(stages) + OVERHEAD_MINUTES],
        "fine-grained, not cached, re-run from the start": [sum(stages) + OVERHEAD_MINUTES * len(stages)],
        "fine-grained, cached": [minutes + OVERHEAD_MINUTES for minutes in stages],
    }
    if strategy not in units:
        raise ValueError(f"strategy must be one of {', '.join(units)}; got {strategy!r}")
    results = [expected_unit(minutes, rate) for minutes in units[strategy]]
    on_demand_cost = (sum(stages) + OVERHEAD_MINUTES) / 60
    return sum(c for c, _ in results) / on_demand_cost, sum(t for _, t in results)


STRATEGIES = ("coarse task", "fine-grained, not cached, re-run from the start", "fine-grained, cached")


CHANCES = np.linspace(0, 0.95, 96)  # the x axis: 0% to 95% in steps of 1%


def break_even(strategy: str) -> str:
    """The smallest hourly preemption chance on the x axis at which spot costs more than on demand."""
    above = [q for q in CHANCES if expected_cost_and_time(q, strategy)[0] > 1]
    return f"above a {above[0]:.0%} hourly chance" if above else f"nowhere up to a {CHANCES[-1]:.0%} hourly chance"


if __name__ == "__main__":
    print(f"model inputs: stages {', '.join(f'{s} {m:.0f} min' for s, m in STAGE_MINUTES.items())}; "
          f"spot discount {SPOT_DISCOUNT:.0%}; {OVERHEAD_MINUTES:.0f} min overhead per task attempt; "
          f"{SPOT_ATTEMPTS} spot attempts, then on demand")
    for strategy in STRATEGIES:
        cost, hours = expected_cost_and_time(TWO_HOUR_MEDIAN, strategy)
        print(f"model, {strategy}: at a {TWO_HOUR_MEDIAN:.0%} hourly preemption chance (median spot "
              f"lifetime 2 h) costs {cost:.2f} of on demand and takes {hours:.2f} h; "
              f"costs more than on demand {break_even(strategy)}")

# %%
# The figure: expected cost (left) and completion time (right) for each strategy, against the
# hourly chance of a preemption.
if __name__ == "__main__":
    fig, (cost_ax, time_ax) = plt.subplots(1, 2, figsize=(10, 4.6), sharex=True)
    legend = {"fine-grained, cached": "fine-grained, cached (on a cluster: retried node by node)"}
    for strategy, style in zip(STRATEGIES, ("-", ":", "--")):
        cost, hours = np.array([expected_cost_and_time(q, strategy) for q in CHANCES]).T
        cost_ax.plot(CHANCES, cost, style, lw=2, label=legend.get(strategy, strategy))
        time_ax.plot(CHANCES, hours, style, lw=2)
    on_demand_hours = (sum(STAGE_MINUTES.values()) + OVERHEAD_MINUTES) / 60
    cost_ax.axhline(1, color="black", lw=1, label="on demand, no preemptions")
    time_ax.axhline(on_demand_hours, color="black", lw=1, label="on demand, no preemptions")
    for ax in (cost_ax, time_ax):
        ax.axvline(TWO_HOUR_MEDIAN, color="grey", ls=":", lw=1)
        ax.set_xlabel("chance a spot node is reclaimed within an hour (per hour)")
        ax.grid(alpha=0.3)
    cost_ax.text(TWO_HOUR_MEDIAN + 0.01, 0.05, "median spot\nlifetime 2 h", fontsize=8, color="grey")
    cost_ax.set_ylim(0, 1.3)
    cost_ax.set_title("Expected cost", fontsize=10)
    time_ax.set_title("Expected completion time", fontsize=10)
    cost_ax.set_ylabel("expected cost (on-demand coarse run = 1)")
    time_ax.set_ylabel("expected completion time (hours)")
    cost_ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"MODEL, not a measurement: {sum(STAGE_MINUTES.values()):.0f} min of stages, "
                 f"{SPOT_DISCOUNT:.0%} spot discount, {OVERHEAD_MINUTES:.0f} min per task attempt, "
                 f"{SPOT_ATTEMPTS} spot attempts then on demand", fontsize=10)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.13, top=0.88, wspace=0.25)
    plt.show()

# %%
# Reading the model. When preemptions are rare, every shape costs about 30% of on demand: the
# discount. As they get more frequent, the shapes that lose all their work to a preemption give
# the discount back: the coarse task, and, a little sooner, the fine-grained stages re-run from
# the start without their cache, which also pay three more task overheads per attempt (the worst
# of both). The lines above print where each crosses on demand. Cached fine-grained stages lose
# one stage per preemption and stay cheaper for much longer; when nothing is preempted they cost
# a little more (those three overheads). At very high rates the two uncached lines bend back
# toward on demand: spot attempts die within minutes, so the on-demand attempt does the work.
# The cached line approaches on demand from below. There the cached pipeline can even finish
# later than the others, because each of its stages spends its own three spot attempts first.
#
# Splitting cannot shrink the longest stage: ``train`` is most of the work here, and a
# preemption late in it still loses up to 90 minutes. Split it further, or checkpoint inside it
# (see the guide).
