"""
Spot preemptions: small cached stages lose less work
====================================================

A four-stage training pipeline runs as interruptible (spot) tasks with retries; its
side-effecting last stage is pinned on demand. A simulated preemption stops it
part-way, and a re-run shows how much work fine-grained cached stages redo compared with
one coarse task. A cost model then says when spot pays off, for the workflow as written.
Runs in about 5 s locally. The question behind it: :ref:`guide-interruptible`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 scikit-learn==1.9.1 matplotlib==3.11.2

   .. code-block:: sh
      :caption: Run it in the folder you saved it to (in a clone: cd examples/interruptible)

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
# The pipeline, as interruptible tasks
# ------------------------------------
# Four stages on scikit-learn's digits: ``featurize``, ``train`` (the long one),
# ``evaluate``, and ``publish``, which hands the model to the outside world. Each stage
# is ``interruptible=True`` with ``retries=3``. The first three are cached, so a re-run
# skips the ones that finished.
#
# ``publish`` has a side effect, so it is not cached (a cache hit would skip the side
# effect; see :ref:`guide-caching`), it must be safe to run twice, and the workflow pins
# it on demand with ``with_overrides(interruptible=False)``: it is short, so spot would
# save little. The task itself stays interruptible wherever else it is used.
#
# The preemption is simulated. ``preempt_stage`` (1 to 4, 0 for none) names the stage
# whose node is "reclaimed": that stage does its work, then raises
# ``FlyteRecoverableException`` before its output is saved, on a first attempt only
# (``FLYTE_ATTEMPT_NUMBER`` is 0, or unset as in a local run), so on a cluster the retry
# succeeds. ``preempt_stage`` describes the spot market, not the computation, so the
# cache key ignores it.
#
# Unlike a real preemption (a *system* error), the simulated one is a recoverable *user*
# error, retried from ``retries``; the guide explains both budgets.
import os
import time
from contextlib import contextmanager
from typing import NamedTuple

import click
import numpy as np
from flytekit import Cache, ImageSpec, task, workflow
from flytekit.exceptions.user import FlyteRecoverableException
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


class Features(NamedTuple):
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


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
def evaluate(
    model: SVC, test_x: np.ndarray, test_y: np.ndarray, preempt_stage: int
) -> list[float]:
    with stage("evaluate", preempt_stage):
        return score(model, test_x, test_y)


@task(container_image=image, interruptible=True, retries=3)
def publish(model: SVC, accuracy: list[float], preempt_stage: int) -> str:
    with stage("publish", preempt_stage):
        return describe(model, accuracy)


@workflow
def pipeline(preempt_stage: int = 0) -> str:
    features = featurize(preempt_stage=preempt_stage)
    model = train(
        train_x=features.train_x, train_y=features.train_y, preempt_stage=preempt_stage
    )
    accuracy = evaluate(
        model=model, test_x=features.test_x, test_y=features.test_y,
        preempt_stage=preempt_stage,
    )
    published = publish(model=model, accuracy=accuracy, preempt_stage=preempt_stage)
    return published.with_overrides(interruptible=False)


# %%
# Coarse: the same four stages inside one interruptible task, ``publish`` included (a
# task is interruptible as a whole). It is not cached: its cache entry would be written
# only when all four stages succeed, and a hit would skip the side effect.
@task(container_image=image, interruptible=True, retries=3)
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
# The work of each stage is a plain function, so both shapes run exactly the same code.
# ``stage`` measures each stage's work in CPU seconds of this process (other programs'
# load on the machine does not count), notes that it ran (``WORK_DONE``: locally every
# task runs in this process, so the run cells below can read it) and simulates the
# preemption.
WORK_DONE: list[tuple[str, float]] = []


@contextmanager
def stage(name: str, preempt_stage: int):
    started = time.process_time()
    yield
    WORK_DONE.append((name, time.process_time() - started))
    first_attempt = os.environ.get("FLYTE_ATTEMPT_NUMBER", "0") == "0"
    if STAGES.index(name) + 1 == preempt_stage and first_attempt:
        raise FlyteRecoverableException(
            f"simulated spot preemption: {name} lost its node")


def check_preempt_stage(preempt_stage: int) -> None:
    # click's exception: `pyflyte run` shows one error line naming the input and exits
    # 2. A task served from the cache does not run, so neither does this check.
    if not 0 <= preempt_stage <= len(STAGES):
        raise click.BadParameter(
            f"must be 0 (no preemption) to {len(STAGES)}, got {preempt_stage}",
            param_hint="'--preempt_stage'",
        )


def make_features() -> Features:
    """Add each training image shifted by one pixel, then scale and project them."""
    digits = load_digits()
    images, labels = digits.images[:1500], digits.target[:1500]
    shifted = np.roll(images, 1, axis=2)  # one pixel right, the last column wrapped
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
    rng = np.random.default_rng(0)
    resamples = rng.integers(0, len(correct), size=(20_000, len(correct)))
    low, high = np.percentile(correct[resamples].mean(axis=1), [2.5, 97.5])
    return [float(correct.mean()), float(low), float(high)]


def describe(model: SVC, accuracy: list[float]) -> str:
    # A real pipeline would push the model to a registry here, under a name derived from
    # its inputs, so that running it twice does no harm.
    return (f"SVC with {model.n_support_.sum()} support vectors, "
            f"held-out accuracy {accuracy[0]:.3f}")


# %%
# .. _interruptible-preemption:
#
# Preempt, then re-run
# --------------------
# Stage 3, ``evaluate``, loses its node. Locally nothing retries: the error ends the
# run. So we run the workflow again with no preemption (``preempt_stage=0``, which the
# cache key ignores). The fine-grained pipeline finds ``featurize`` and ``train`` in the
# cache; the coarse task finished nothing it could store and starts over.
#
# On a cluster the retry happens inside the same execution and re-runs only the failed
# node, cache or no cache: the finished nodes' outputs are already stored. The cache
# gives the same saving across executions: when you re-launch after a failure, or run
# locally as here.
#
# The local cache outlasts this process (``~/.flyte/local-cache``), so each pair of runs
# first deletes this script's own entries (keys start with the task name), and nothing
# else; ``pyflyte local-cache clear`` would empty the whole store. The caching example
# defines the same function: each example is a script you can copy on its own.
import diskcache
from flytekit.core import local_cache

PREEMPTED = 3


def forget_cached_results(*tasks) -> None:
    prefixes = tuple(f"{t.name}-" for t in tasks)
    with diskcache.Cache(os.path.expanduser(local_cache.CACHE_LOCATION)) as store:
        for key in list(store.iterkeys()):
            if isinstance(key, str) and key.startswith(prefixes):
                del store[key]


def run_twice(wf) -> tuple[list, list, str]:
    """Run ``wf`` with a preemption, then without; return the work each run did."""
    forget_cached_results(featurize, train, evaluate)
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
    """CPU seconds the re-run spent on stages the first run had already worked on, and
    the CPU seconds of one whole pass (each stage once, at its latest measurement)."""
    latest = dict(first) | dict(second)
    again = sum(seconds for name, seconds in second if name in dict(first))
    return again, sum(latest.values())


if __name__ == "__main__":
    runs = {"fine-grained": run_twice(pipeline), "coarse": run_twice(coarse_pipeline)}
    print(f"preempted: stage {PREEMPTED} ({STAGES[PREEMPTED - 1]}) "
          "on its first attempt; local runs do not retry")
    for name, (first, second, result) in runs.items():
        ran_again = [stage_name for stage_name, _ in second]
        print(f"{name}, first run worked on: {', '.join(s for s, _ in first)}")
        print(f"{name}, re-run executed: {', '.join(ran_again)}")
        skipped = [s for s in STAGES if s not in ran_again]
        cached = ", ".join(skipped) or "nothing"
        print(f"{name}, re-run served from the cache: {cached}")
    for name, (first, second, result) in runs.items():
        again, whole = recomputed(first, second)
        print(f"work recomputed after the preemption, {name}, measured: "
              f"{again / whole:.0%} ({again:.2f} of {whole:.2f} s)")
    print(f"result, fine-grained: {runs['fine-grained'][2]}")
    print(f"result, coarse: {runs['coarse'][2]}")

# %%
# Where the time went in the four runs. Hatched: work the preemption threw away, which
# the re-run had to do again.
if __name__ == "__main__":
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    colors = dict(zip(STAGES, ("#4c72b0", "#dd8452", "#55a868", "#8172b3")))
    fig, ax = plt.subplots(figsize=(7.4, 4.2))
    rows = [(f"{name}\n{label}", work, dict(second) if label == "first run" else {})
            for name, (first, second, _) in runs.items()
            for label, work in (("first run", first), ("re-run", second))]
    drawn = []
    for y, (row_label, work, redone) in enumerate(reversed(rows)):
        left = 0.0
        for stage_name, seconds in work:
            lost = stage_name in redone
            ax.barh(y, seconds, left=left, color=colors[stage_name],
                    hatch="//" if lost else None, edgecolor="white" if lost else None)
            drawn.append(stage_name)
            left += seconds
        cached = [s for s in STAGES[:3] if s not in dict(work)]
        if "re-run" in row_label and cached:
            ax.text(left + 0.01, y, f"{' and '.join(cached)}\nfrom the cache",
                    va="center", fontsize=10)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in reversed(rows)])
    ax.tick_params(labelsize=10)
    ax.set_xlabel("stage work, measured on the machine that built this page (CPU s)",
                  fontsize=10)
    ax.set_xlim(0, ax.get_xlim()[1] * 1.25)
    ax.set_title(f"Stage {PREEMPTED} ({STAGES[PREEMPTED - 1]}) preempted, then re-run; "
                 "hatched: work lost", fontsize=11)
    # Publish's bar is too short to see at this scale; the legend lists what is visible.
    visible = [s for s in STAGES if s in drawn and s != "publish"]
    ax.legend(handles=[Patch(color=colors[s], label=s) for s in visible],
              ncol=len(visible), loc="upper center", bbox_to_anchor=(0.5, -0.2),
              frameon=False, fontsize=10)
    fig.subplots_adjust(left=0.2, right=0.97, bottom=0.27, top=0.9)
    plt.show()

# %%
# .. _interruptible-compiled:
#
# What a cluster receives
# -----------------------
# ``interruptible`` and ``retries`` do nothing in a local run; they travel in the
# compiled spec. flytekit copies them from each task into its workflow node's metadata,
# and ``with_overrides`` changes the node's copy only: ``publish``'s task template still
# says ``interruptible=True``, its node says ``False``, and the node's value is the one
# flytepropeller reads.
from collections import OrderedDict

from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.models.task import TaskSpec
from flytekit.tools.translator import get_serializable


def compile_offline(entity):
    """Serialize ``entity`` as `pyflyte register` would, without a cluster. Naming our
    ImageSpec's image up front stops flytekit from asking Docker whether it exists."""
    ours = Image(name=image.id, fqn=f"{image.registry}/{image.name}", tag=image.tag)
    default = ImageConfig.auto_default_image().default_image
    settings = SerializationSettings(ImageConfig(default_image=default, images=[ours]))
    entities = OrderedDict()
    spec = get_serializable(entities, settings, entity)
    tasks = {e.template.id.name.rsplit(".", 1)[-1]: e.template
             for e in entities.values() if isinstance(e, TaskSpec)}
    return spec, tasks


if __name__ == "__main__":
    workflow_spec, tasks = compile_offline(pipeline)
    for node in workflow_spec.template.nodes:
        own = tasks[node.metadata.name].metadata
        print(f"compiled node {node.metadata.name}: "
              f"interruptible={node.metadata.interruptible}, "
              f"retries={node.metadata.retries.retries}, cached={own.discoverable}")
        print(f"  its task template: interruptible={own.interruptible}")
    coarse = compile_offline(all_stages)[0].template.metadata
    print(f"compiled coarse task all_stages: interruptible={coarse.interruptible}, "
          f"retries={coarse.retries.retries}, cached={coarse.discoverable}")

# %%
# .. _interruptible-model:
#
# Model: expected cost and time on spot
# -------------------------------------
# A MODEL, not a measurement, for the workflow as written: ``featurize``, ``train`` and
# ``evaluate`` may run on spot, ``publish`` runs on demand; the coarse alternative is
# ``all_stages``, one task on spot as a whole. The functions below are the model; the
# interruptible guide's calculator computes the same, with this example's inputs as its
# defaults.
#
# Assumptions:
#
# - Preemptions are *memoryless*: a spot node is reclaimed at a constant rate per hour
#   it runs, whatever its age (a Poisson process). An attempt that is hit loses all its
#   work.
# - A task (a *unit*) gets ``spot_attempts`` attempts on spot, then one on demand that
#   always finishes. With flytepropeller's defaults (``max-node-retries-system-failures:
#   3``, ``interruptible-failure-threshold: -1``) a node that keeps being preempted
#   makes 3 attempts on spot and its 4th on demand (see the guide).
# - Flyte retries each node on its own, so a fine-grained pipeline's unit is one stage,
#   cache or no cache; the coarse task's unit is the whole pipeline.
# - Every attempt pays ``overhead_minutes`` (pod start, moving inputs and outputs) at
#   the price of its node, and can be preempted during it. Waiting for capacity is not
#   counted.
# - Cost is in on-demand node-hours: an hour on demand costs 1, on spot
#   ``spot_price_ratio``.
#
# Inputs, and where they come from:
#
# - Stage run times: featurize 15, train 90, evaluate 15, publish 5 minutes. Assumed: a
#   cluster-scale version of this pipeline, with training the long stage as it is here.
# - Spot price: 0.30 of on demand. Assumed, inside the providers' ranges: AWS says Spot
#   is "up to 90%" cheaper than On-Demand (https://aws.amazon.com/ec2/spot/).
# - Preemption rate: AWS's Spot Instance Advisor publishes, per instance type and
#   region, a "Frequency of interruption", which "represents the rate at which Spot has
#   reclaimed capacity during the trailing month", in ranges of "< 5%, 5-10%, 10-15%,
#   15-20% and >20%" (https://aws.amazon.com/ec2/spot/instance-advisor/). The model
#   reads a band's edge as the chance that a node running for a whole 30-day month is
#   reclaimed in it. The presets are the upper edges; the default is 20%, the highest
#   rate a band bounds.
# - Overhead: 1 minute per task attempt. Assumed; use your cluster's figure.
# - Spot attempts: 3, flytepropeller's default for system errors.
import math
from dataclasses import dataclass

HOURS_PER_MONTH = 30 * 24
AWS_ADVISOR_BANDS = {"<5%": 0.05, "5-10%": 0.10, "10-15%": 0.15, "15-20%": 0.20}
MAX_RATE, MAX_SPOT_ATTEMPTS = 1000.0, 20  # input bounds: per node-hour, attempts


@dataclass(frozen=True)
class Stage:
    name: str
    minutes: float  # run time of the stage's work, without per-task overhead
    interruptible: bool  # may this stage's task run on spot?


@dataclass(frozen=True)
class Estimate:
    cost: float  # expected cost, on-demand node-hours
    hours: float  # expected time to finish, hours


def rate_from_monthly_fraction(fraction: float) -> float:
    """Preemptions per node-hour at which a node running a 30-day month is reclaimed in
    it with probability ``fraction`` (memoryless)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be at least 0 and below 1, got {fraction}")
    return -math.log1p(-fraction) / HOURS_PER_MONTH


def validate(stages, spot_price_ratio: float, preemptions_per_hour: float,
             spot_attempts: int, overhead_minutes: float) -> None:
    if not stages:
        raise ValueError("stages must not be empty")
    for s in stages:
        if not 0 <= s.minutes <= 10_000:
            raise ValueError(f"{s.name}: minutes must be between 0 and 10000, "
                             f"got {s.minutes}")
    checks = (("spot_price_ratio", spot_price_ratio, 0, 1),
              ("preemptions_per_hour", preemptions_per_hour, 0, MAX_RATE),
              ("spot_attempts", spot_attempts, 0, MAX_SPOT_ATTEMPTS),
              ("overhead_minutes", overhead_minutes, 0, 600))
    for name, value, low, high in checks:
        if not low <= value <= high:  # also rejects NaN
            raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    if spot_attempts != int(spot_attempts):
        raise ValueError(f"spot_attempts must be a whole number, got {spot_attempts}")


def expected_unit(minutes: float, interruptible: bool, preemptions_per_hour: float,
                  spot_price_ratio: float, spot_attempts: int) -> Estimate:
    """One task (unit) of ``minutes``, overhead included: up to ``spot_attempts``
    attempts on spot, then one on demand."""
    hours = minutes / 60
    if not interruptible or spot_attempts == 0:
        return Estimate(hours, hours)
    if preemptions_per_hour == 0:
        return Estimate(spot_price_ratio * hours, hours)
    hit = -math.expm1(-preemptions_per_hour * hours)  # P(an attempt is preempted)
    hours_per_spot_attempt = hit / preemptions_per_hour  # E[min(time to hit, hours)]
    spot_attempts_made = sum(hit**i for i in range(spot_attempts))
    spot_hours = hours_per_spot_attempt * spot_attempts_made
    on_demand_hours = hit**spot_attempts * hours
    return Estimate(spot_price_ratio * spot_hours + on_demand_hours,
                    spot_hours + on_demand_hours)


def units(stages, fine_grained: bool,
          overhead_minutes: float) -> list[tuple[float, bool]]:
    """(minutes with overhead, interruptible) for each task the pipeline shape runs."""
    if fine_grained:
        return [(s.minutes + overhead_minutes, s.interruptible) for s in stages]
    total = sum(s.minutes for s in stages) + overhead_minutes
    return [(total, any(s.interruptible for s in stages))]


def on_spot(stages, *, fine_grained: bool, spot_price_ratio: float,
            preemptions_per_hour: float, spot_attempts: int,
            overhead_minutes: float) -> Estimate:
    """Expected cost and time of the pipeline with its interruptible tasks on spot."""
    validate(stages, spot_price_ratio, preemptions_per_hour, spot_attempts,
             overhead_minutes)
    parts = [expected_unit(minutes, interruptible, preemptions_per_hour,
                           spot_price_ratio, spot_attempts)
             for minutes, interruptible
             in units(stages, fine_grained, overhead_minutes)]
    return Estimate(sum(p.cost for p in parts), sum(p.hours for p in parts))


def on_demand(stages, *, fine_grained: bool, overhead_minutes: float) -> Estimate:
    """Cost and time of the same pipeline shape with every task on demand."""
    validate(stages, 1, 0, 0, overhead_minutes)
    hours = sum(m for m, _ in units(stages, fine_grained, overhead_minutes)) / 60
    return Estimate(hours, hours)


def break_even_rate(stages, *, fine_grained: bool, spot_price_ratio: float,
                    spot_attempts: int, overhead_minutes: float) -> float:
    """The lowest preemption rate (per node-hour) at which spot costs as much as on
    demand for this shape: 0 if spot never saves, ``math.inf`` if not reached by
    ``MAX_RATE``. Scans 100 rates per decade from 1e-6, then bisects."""
    target = on_demand(stages, fine_grained=fine_grained,
                       overhead_minutes=overhead_minutes).cost

    def excess(rate: float) -> float:
        return on_spot(stages, fine_grained=fine_grained,
                       spot_price_ratio=spot_price_ratio, preemptions_per_hour=rate,
                       spot_attempts=spot_attempts,
                       overhead_minutes=overhead_minutes).cost - target

    if excess(0.0) >= 0:
        return 0.0
    below = 0.0
    for i in range(901):  # 1e-6 to 1e3 per node-hour
        rate = 10 ** (-6 + i / 100)
        if excess(rate) >= 0:
            above = rate
            for _ in range(60):
                middle = (below + above) / 2
                if excess(middle) < 0:
                    below = middle
                else:
                    above = middle
            return above
        below = rate
    return math.inf


# The example's inputs: the calculator's defaults.
PIPELINE = (Stage("featurize", 15, True), Stage("train", 90, True),
            Stage("evaluate", 15, True), Stage("publish", 5, False))
SPOT_PRICE_RATIO = 0.30
PREEMPTIONS_PER_HOUR = rate_from_monthly_fraction(0.20)
SPOT_ATTEMPTS = 3
OVERHEAD_MINUTES = 1.0
MODEL_INPUTS = dict(spot_price_ratio=SPOT_PRICE_RATIO, spot_attempts=SPOT_ATTEMPTS,
                    overhead_minutes=OVERHEAD_MINUTES)

# %%
# The model at the published bands, and where spot stops paying. Each shape is compared
# with itself on demand (the fine-grained pipeline pays three more task overheads).
SHAPES = {"coarse": False, "fine-grained": True}

if __name__ == "__main__":
    print("model inputs: featurize 15, train 90, evaluate 15 min on spot; "
          "publish 5 on demand")
    print(f"model inputs: spot price {SPOT_PRICE_RATIO:.2f} of on demand, "
          f"{OVERHEAD_MINUTES:.0f} min overhead per attempt, {SPOT_ATTEMPTS} on spot")
    bands = [f"{band} {rate_from_monthly_fraction(f):.1e}"
             for band, f in AWS_ADVISOR_BANDS.items()]
    print(f"model, AWS bands in preemptions per node-hour: {', '.join(bands[:2])}")
    print(f"model, AWS bands in preemptions per node-hour: {', '.join(bands[2:])}")
    print(f"model, rate used: {PREEMPTIONS_PER_HOUR:.1e} preemptions per node-hour "
          "(20% a month)")
    for shape, fine in SHAPES.items():
        spot = on_spot(PIPELINE, fine_grained=fine,
                       preemptions_per_hour=PREEMPTIONS_PER_HOUR, **MODEL_INPUTS)
        demand = on_demand(PIPELINE, fine_grained=fine,
                           overhead_minutes=OVERHEAD_MINUTES)
        print(f"model, {shape}: cost {spot.cost:.2f} node-hours on spot, "
              f"{demand.cost:.2f} on demand; "
              f"{spot.hours:.2f} h vs {demand.hours:.2f} h")
    for shape, fine in SHAPES.items():
        rate = break_even_rate(PIPELINE, fine_grained=fine, **MODEL_INPUTS)
        print(f"model, break-even, {shape}: {rate:.2f} preemptions per node-hour "
              f"(one every {60 / rate:.0f} min)")

# %%
# The figure: expected cost (top) and time (bottom) against the preemption rate. The
# shaded region is where AWS's published bands lie; the dash-dotted vertical lines are
# the break-evens, where each shape on spot costs as much as on demand.
if __name__ == "__main__":
    rates = np.logspace(-5, 1, 241)
    styles = {"coarse": ("#dd8452", "--"), "fine-grained": ("#4c72b0", "-")}
    fig, (cost_ax, time_ax) = plt.subplots(2, 1, figsize=(7.4, 6.4), sharex=True)
    for shape, fine in SHAPES.items():
        color, line = styles[shape]
        spot = [on_spot(PIPELINE, fine_grained=fine, preemptions_per_hour=r,
                        **MODEL_INPUTS) for r in rates]
        demand = on_demand(PIPELINE, fine_grained=fine,
                           overhead_minutes=OVERHEAD_MINUTES)
        cost_ax.plot(rates, [e.cost for e in spot], line, color=color, lw=2,
                     label=f"{shape}, on spot")
        cost_ax.axhline(demand.cost, color=color, lw=1, ls=":",
                        label=f"{shape}, on demand")
        time_ax.plot(rates, [e.hours for e in spot], line, color=color, lw=2)
        time_ax.axhline(demand.hours, color=color, lw=1, ls=":")
        cost_ax.axvline(break_even_rate(PIPELINE, fine_grained=fine, **MODEL_INPUTS),
                        color=color, lw=1, ls="-.")
    for ax in (cost_ax, time_ax):
        ax.set_xscale("log")
        ax.axvspan(rates[0], rate_from_monthly_fraction(0.20), color="#55a868",
                   alpha=0.15)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=10)
    cost_ax.text(1.3e-5, 0.15, "AWS advisor\nbands, <5% to\n20% a month", fontsize=10,
                 color="#2d6a3e")
    cost_ax.set_ylim(0, None)
    cost_ax.set_ylabel("expected cost\n(on-demand node-hours)", fontsize=10)
    time_ax.set_ylabel("expected time (h)", fontsize=10)
    time_ax.set_xlabel("preemptions per node-hour (log scale)", fontsize=10)
    cost_ax.legend(fontsize=10, loc="center left", ncol=2)
    fig.suptitle("MODEL: the pipeline on spot vs on demand, by preemption rate",
                 fontsize=11)
    fig.subplots_adjust(left=0.15, right=0.97, bottom=0.09, top=0.93, hspace=0.08)
    plt.show()

# sphinx_gallery_thumbnail_number = 2

# %%
# Reading the model. At every rate AWS publishes, both shapes cost about the spot price:
# a node reclaimed a few times a year rarely hits a two-hour run. Spot stops paying only
# at the far higher rates of the break-even lines, and the fine-grained pipeline holds
# out longer there, because a preemption costs it one stage, not the whole run.
#
# When nothing is preempted, the fine-grained pipeline costs a little more: three extra
# task overheads, and ``publish`` on demand. Time grows with the rate in both shapes;
# splitting cannot shrink ``train``, the longest stage, so checkpoint inside it if it is
# long (see :ref:`sphx_glr_auto_examples_interruptible_checkpoint_resume.py`).
