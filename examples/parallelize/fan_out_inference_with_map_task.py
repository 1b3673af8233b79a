r"""
Fan out batch inference with map_task and survive one bad batch
===============================================================

Train a digits classifier once, then score the held-out images in batches with
``map_task``: ``functools.partial`` binds the model, ``concurrency`` caps how many
batches run at once, and ``min_success_ratio`` lets the run finish although one batch
fails. Then a model of the same job at cluster scale picks the batch size. Runs locally
in a few seconds.
The question behind it: :ref:`guide-parallelism`. (Flyte 2 twin:
:ref:`sphx_glr_auto_examples_parallelize_fan_out_inference_with_flyte_map.py`.)

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 scikit-learn==1.9.1 matplotlib==3.11.2 \
          numpy==2.4.6 click==8.5.1

   .. code-block:: sh
      :caption: Run it in the folder you saved it to (in a clone: cd examples/parallelize)

      python fan_out_inference_with_map_task.py
      pyflyte run fan_out_inference_with_map_task.py batch_inference \
          --n_batches 10 --failing_batch 7

   .. code-block:: sh
      :caption: Run it on a Flyte cluster (ImageSpec builds the image with your Docker)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where the image goes: the demo's
      pyflyte run --remote fan_out_inference_with_map_task.py \
          batch_inference --n_batches 10 --failing_batch 7
"""

# %%
# .. _parallelism-tasks:
#
# Define the tasks
# ----------------
# ``train`` fits a support-vector classifier on the first 1,500 digits. ``make_batches``
# cuts the other 297 images into ``n_batches`` batches and, to stand for a corrupt input
# file, writes one NaN pixel into batch ``failing_batch`` (``-1`` for none):
# scikit-learn refuses NaN, so that batch's task fails for real. ``score_batch`` is the
# task that ``map_task`` runs once per batch; it also records when and in which process
# it ran. ``summarize`` receives one entry per batch, ``None`` where a batch failed.
import functools
import math
import os
import socket
import time
from dataclasses import dataclass
from typing import NamedTuple, Optional

import click
import numpy as np
from flytekit import ImageSpec, Resources, map_task, task, workflow
from sklearn.datasets import load_digits
from sklearn.svm import SVC

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1", "matplotlib==3.11.2"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)

N_TRAIN = 1500  # the first 1,500 digits train the model; the other 297 are scored
CONCURRENCY = 4  # at most 4 batches run at once on a cluster
MIN_SUCCESS_RATIO = 0.8  # the run succeeds if at least 80 % of the batches do


@dataclass
class BatchResult:
    n_images: int
    n_correct: int
    started: float  # wall-clock seconds (time.time()) when scoring began
    finished: float
    worker: str  # host name and process id of whatever ran this batch


@dataclass
class Report:
    batches: int
    failed_batches: list[int]
    images_scored: int
    accuracy: float


class Batches(NamedTuple):
    images: list[np.ndarray]
    labels: list[list[int]]


@task(container_image=image)
def train() -> SVC:
    digits = load_digits()
    return SVC(gamma=0.001).fit(digits.data[:N_TRAIN], digits.target[:N_TRAIN])


@task(container_image=image)
def make_batches(n_batches: int, failing_batch: int) -> Batches:
    # click's exception makes `pyflyte run` print a short usage hint and one error line
    # naming the input, and exit with 2 (an ordinary exception prints a long traceback);
    # on a cluster the task fails with it.
    n_held_out = len(load_digits().target) - N_TRAIN
    if not 1 <= n_batches <= n_held_out:
        raise click.BadParameter(f"must be between 1 and {n_held_out}, got {n_batches}",
                                 param_hint="'--n_batches'")
    if not -1 <= failing_batch < n_batches:
        raise click.BadParameter(
            f"must be -1 (none) or 0 to {n_batches - 1}, got {failing_batch}",
            param_hint="'--failing_batch'")
    digits = load_digits()
    images = [b.copy() for b in np.array_split(digits.data[N_TRAIN:], n_batches)]
    labels = [b.tolist() for b in np.array_split(digits.target[N_TRAIN:], n_batches)]
    if failing_batch >= 0:
        images[failing_batch][0, 0] = np.nan  # a corrupt pixel: predicting it raises
    return Batches(images=images, labels=labels)


@task(container_image=image)
def score_batch(model: SVC, images: np.ndarray, labels: list[int]) -> BatchResult:
    started = time.time()
    predictions = model.predict(images)
    finished = time.time()
    return BatchResult(
        n_images=len(labels),
        n_correct=int((predictions == np.array(labels)).sum()),
        started=started,
        finished=finished,
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )


@task(container_image=image)
def summarize(results: list[Optional[BatchResult]]) -> Report:
    scored = [r for r in results if r is not None]
    images = sum(r.n_images for r in scored)
    return Report(
        batches=len(results),
        failed_batches=[i for i, r in enumerate(results) if r is None],
        images_scored=images,
        accuracy=sum(r.n_correct for r in scored) / images if images else 0.0,
    )


# %%
# .. _parallelism-map-task:
#
# Fan out with map_task
# ---------------------
# ``functools.partial`` binds the model: every batch gets the same model, and only
# ``images`` and ``labels`` are mapped. Mapped lists must have the same length (one
# element per batch). ``with_overrides`` sets what EACH batch's pod asks for. Because
# ``min_success_ratio`` is below 1, the map task's output is
# ``list[Optional[BatchResult]]``, and ``summarize`` must accept exactly that type.
@workflow
def batch_inference(
    n_batches: int = 8, failing_batch: int = 2
) -> tuple[list[Optional[BatchResult]], Report]:
    model = train()
    batches = make_batches(n_batches=n_batches, failing_batch=failing_batch)
    score_all = map_task(
        functools.partial(score_batch, model=model),
        concurrency=CONCURRENCY,
        min_success_ratio=MIN_SUCCESS_RATIO,
    )
    results = score_all(images=batches.images, labels=batches.labels).with_overrides(
        requests=Resources(cpu="1", mem="1Gi"), limits=Resources(cpu="1", mem="1Gi"))
    return results, summarize(results=results)


# %%
# .. _parallelism-local-run:
#
# Run it locally
# --------------
# Eight batches, batch 2 corrupt. Locally flytekit runs the mapped items one after
# another in this one Python process; ``concurrency`` is ignored. The timings below show
# it.
if __name__ == "__main__":
    t0 = time.perf_counter()
    results, report = batch_inference(n_batches=8, failing_batch=2)
    wall = time.perf_counter() - t0
    print(f"map task result: {['None' if r is None else 'ok' for r in results]}")
    print(f"summarize saw failed batches: {report.failed_batches}")
    print(f"images scored: {report.images_scored} of 297")
    print(f"accuracy on the scored images: {report.accuracy:.3f}")

    done = [r for r in results if r is not None]
    spans = sorted((r.started, r.finished) for r in done)
    overlaps = sum(1 for (_, end), (start, _) in zip(spans, spans[1:]) if start < end)
    print(f"processes that ran a batch locally: {len({r.worker for r in done})}")
    print(f"batches that overlapped in time locally: {overlaps}")
    per_batch_ms = [1000 * (r.finished - r.started) for r in done]
    per_image_s = sum(r.finished - r.started for r in done) / report.images_scored
    print(f"scoring one batch, measured: median {np.median(per_batch_ms):.1f} ms")
    print(f"scoring one image, measured: {per_image_s * 1e6:.0f} us")
    print(f"whole workflow run, measured: {wall:.2f} s")

# %%
# .. _parallelism-threshold:
#
# When too many batches fail
# --------------------------
# The map task needs ``ceil(ratio * batches)`` successes. Locally flytekit computes it
# with the Python float 0.8: with 8 batches that is 7, so one failure is tolerated; with
# 4 batches it is 4, so one corrupt batch fails the whole map task and the run, and the
# downstream task never runs. flytekit re-raises the failed item's own error.
if __name__ == "__main__":
    import logging

    from flytekit.loggers import logger as flytekit_logger

    level = flytekit_logger.level
    flytekit_logger.setLevel(logging.CRITICAL)  # we print one line, not flytekit's log
    try:
        batch_inference(n_batches=4, failing_batch=0)
        print("4 batches, batch 0 corrupt: the run succeeded")
    except Exception as exc:
        print(f"4 batches, batch 0 corrupt: the run failed with {type(exc).__name__}")
    finally:
        flytekit_logger.setLevel(level)

# %%
# .. _parallelism-array-node:
#
# What a cluster would receive
# ----------------------------
# Compile the workflow offline, as registration would, and print its ArrayNode. The
# ImageConfig names the ImageSpec's image up front so flytekit neither builds nor looks
# for it. In the compiled map task only the mapped inputs are lists; the bound model is
# listed in the ArrayNode's ``bound_inputs``.
#
# The ratio travels as a 32-bit float, a hair above 0.8. Propeller applies the same
# ``ceil(ratio * batches)`` to that value, so wherever ``0.8 * batches`` is a whole
# number, such as 10 batches, a cluster needs one more success than a local run.
if __name__ == "__main__":
    from collections import OrderedDict

    from flytekit.configuration import Image, ImageConfig, SerializationSettings
    from flytekit.tools.translator import get_serializable

    ours = Image(name=image.id, fqn=f"{image.registry}/{image.name}", tag=image.tag)
    default = ImageConfig.auto_default_image().default_image
    settings = SerializationSettings(
        image_config=ImageConfig(default_image=default, images=[ours]))
    entities = OrderedDict()
    spec = get_serializable(entities, settings, batch_inference)

    array_node = next(n.array_node for n in spec.template.nodes if n.array_node)
    idl = array_node.to_flyte_idl()
    print(f"array node parallelism (concurrency): {idl.parallelism}")
    print(f"array node bound inputs: {sorted(idl.bound_inputs)}")
    item = idl.node.task_node.overrides.resources  # applied to every item's pod
    asks = ", ".join(r.value for r in item.requests)
    print(f"each item requests (cpu, memory): {asks}")
    # Decoded from the bytes registration sends: the ratio travels as a 32-bit float.
    ratio_sent = type(idl).FromString(idl.SerializeToString()).min_success_ratio
    print(f"array node min_success_ratio, as sent to the cluster: {ratio_sent!r}")
    map_template = next(
        e.template for e in entities.values()
        if hasattr(e, "template") and e.template.id.name.endswith("-arraynode"))
    for name, variable in sorted(map_template.interface.inputs.items()):
        mapped = variable.type.collection_type is not None
        shape = "one element per batch" if mapped else "one value for every batch"
        print(f"map task input {name}: {shape}")
    for n in (8, 4, 10):
        local, cluster = math.ceil(MIN_SUCCESS_RATIO * n), math.ceil(ratio_sent * n)
        print(f"{n} batches need successes: {local} locally, "
              f"{cluster} by propeller's formula")

# %%
# .. _parallelism-model:
#
# Model: batch size, wall time and pod-minutes on a cluster
# ---------------------------------------------------------
# A local run says nothing about a cluster, where every task pays a start-up: scheduling
# a pod, pulling the image, starting Python, moving inputs and outputs. This MODEL, not
# a measurement, scores ``items`` images in tasks of ``batch_size`` images each. Its
# inputs:
#
# - ``items``: images to score (2,000,000: an assumed nightly job);
# - ``seconds_per_item``: compute per image (0.02 s, a small convolutional network on
#   one CPU: an assumption; this page's SVC is far faster, as measured above);
# - ``start_up_s``: seconds each task spends not computing (30 s, an assumption for a
#   cold node: Kubernetes' own target covers only the pod start without the image pull,
#   at most 5 s for 99 % of pods; pulling an ML image and starting Python add the rest);
# - ``concurrency``: the map task's ``concurrency``, tasks running at once (100);
# - ``launch_rate_per_s``: pods the cluster starts per second (50, the default
#   kube-scheduler's request limit: an upper bound; a busy or autoscaling cluster is
#   slower).
#
# Assumptions: every task takes ``start_up_s + batch_size * seconds_per_item`` (a
# smaller last batch takes as long as a full one); task ``k`` starts when a slot is free
# and the launch rate allows, at ``k / launch_rate_per_s`` at the earliest; nothing
# fails or retries; start-up and compute both hold a pod, so both count as pod-minutes.
#
# The batch size to use: the fastest batch size, unless its tasks would compute for less
# than ``MIN_WORK_PER_START_UP`` (10) times their start-up; then the smallest batch that
# does, which means fewer tasks than ``concurrency`` allows (and one task if the whole
# job computes for less than that). Below that floor start-up takes more than a tenth
# of every pod's time, and each minute of wall time saved costs more pod-minutes.
MODEL_INPUTS = {
    "items": 2_000_000,
    "seconds_per_item": 0.02,
    "start_up_s": 30.0,
    "concurrency": 100,
    "launch_rate_per_s": 50.0,
}
MIN_WORK_PER_START_UP = 10  # a task should compute at least 10x its start-up


def tasks_for(items: int, batch_size: int) -> int:
    """Tasks the map task runs: one per batch."""
    return math.ceil(items / batch_size)


def wall_time_s(items: int, batch_size: int, seconds_per_item: float, start_up_s: float,
                concurrency: int, launch_rate_per_s: float) -> float:
    """Seconds from the first launch until the last task finishes.

    Task k (from 0) starts at ``q * max(task_s, concurrency / rate) + r / rate`` with
    ``q, r = divmod(k, concurrency)``: the earliest a slot and a launch are both free.
    """
    tasks = tasks_for(items, batch_size)
    task_s = start_up_s + batch_size * seconds_per_item
    gap = 1.0 / launch_rate_per_s
    rounds, rest = divmod(tasks - 1, concurrency)
    return rounds * max(task_s, concurrency * gap) + rest * gap + task_s


def pod_minutes(items: int, batch_size: int, seconds_per_item: float,
                start_up_s: float) -> float:
    """Pod time for the whole job: every task's start-up plus all the compute."""
    tasks = tasks_for(items, batch_size)
    return (tasks * start_up_s + items * seconds_per_item) / 60.0


def fastest_batch_size(items: int, seconds_per_item: float, start_up_s: float,
                       concurrency: int, launch_rate_per_s: float) -> int:
    """The batch size with the shortest wall time, the larger one on a tie.

    Only batch sizes that run in one round (at most ``concurrency`` tasks) are tried:
    more rounds repeat the start-up. Each task count gets its smallest batch.
    """
    best_batch, best_wall = items, math.inf
    for tasks in range(1, min(items, concurrency) + 1):
        batch = math.ceil(items / tasks)
        wall = wall_time_s(items, batch, seconds_per_item, start_up_s, concurrency,
                           launch_rate_per_s)
        if wall < best_wall:
            best_batch, best_wall = batch, wall
    return best_batch


def batch_size_to_use(items: int, seconds_per_item: float, start_up_s: float,
                      concurrency: int, launch_rate_per_s: float) -> int:
    """The fastest batch, unless its tasks compute for under 10x their start-up."""
    floor = math.ceil(MIN_WORK_PER_START_UP * start_up_s / seconds_per_item)
    fastest = fastest_batch_size(items, seconds_per_item, start_up_s, concurrency,
                                 launch_rate_per_s)
    return min(items, max(fastest, floor))


# %%
# .. _parallelism-model-answer:
#
# The model's answer
# ------------------
# For the inputs above and three values of ``concurrency``: the batch size the rule
# picks, and what the fastest batch size would cost instead. At ``concurrency`` 1,000
# the job is too small to give 1,000 tasks ten times their start-up each, so the rule
# runs fewer tasks: slower, and cheaper in pod-minutes.
def describe(batch_size: int, inputs: dict) -> str:
    wall_min = wall_time_s(batch_size=batch_size, **inputs) / 60
    cost = pod_minutes(inputs["items"], batch_size, inputs["seconds_per_item"],
                       inputs["start_up_s"])
    tasks = tasks_for(inputs["items"], batch_size)
    return (f"{batch_size:,} per task, {tasks:,} tasks, {wall_min:.1f} min, "
            f"{cost:,.0f} pod-min")


if __name__ == "__main__":
    for name, value in MODEL_INPUTS.items():
        print(f"model input {name}: {value:,}")
    for c in (10, 100, 1000):
        inputs = {**MODEL_INPUTS, "concurrency": c}
        use = batch_size_to_use(**inputs)
        fast = fastest_batch_size(**inputs)
        print(f"model, concurrency {c}, use: {describe(use, inputs)}")
        print(f"model, concurrency {c}, fastest: {describe(fast, inputs)}")
    one_each = {**MODEL_INPUTS, "concurrency": 1000}
    print(f"model, one image per task: {describe(1, one_each)}")
    # The same rule with this page's own SVC: the whole job is too small to fan out.
    svc = {**MODEL_INPUTS, "seconds_per_item": per_image_s}
    svc_use = batch_size_to_use(**svc)
    print(f"model with the SVC's measured per-image time, use: {svc_use:,} per task")

# %%
# .. _parallelism-figure:
#
# Figures: the local run, and the model
# -------------------------------------
# First figure: when each batch was scored in the local run above (measured), one after
# another although ``concurrency`` is 4.
if __name__ == "__main__":
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.4, 3.4))
    origin = min(r.started for r in done)
    for i, r in enumerate(results):
        if r is None:
            ax.text(0, i, " failed: None", va="center", color="tab:red")
        else:
            ax.barh(i, 1000 * (r.finished - r.started),
                    left=1000 * (r.started - origin), color="tab:blue")
    ax.set_yticks(range(len(results)), [f"batch {i}" for i in range(len(results))])
    ax.invert_yaxis()
    ax.set_xlabel("time since the first batch started (ms)")
    ax.set_title(f"Measured locally: one batch at a time (concurrency={CONCURRENCY})")
    fig.tight_layout()
    plt.show()

# %%
# .. _parallelism-model-figure:
#
# Second figure: the model's wall time (top) and pod-minutes (bottom) against the batch
# size. The dashed curve is the same ``concurrency`` 1,000 on a cluster that launches
# only 2.5 pods a second; circles mark the batch size the rule picks.
if __name__ == "__main__":
    sizes = sorted({round(10 ** (k / 40)) for k in range(0, 40 * 6 + 26)})
    sizes = [b for b in sizes if b <= MODEL_INPUTS["items"]]
    fig, (ax_wall, ax_pods) = plt.subplots(2, 1, figsize=(7.4, 7.2), sharex=True)
    curves = [(10, 50.0, "tab:green", "-"), (100, 50.0, "tab:blue", "-"),
              (1000, 50.0, "tab:purple", "-"), (1000, 2.5, "tab:purple", "--")]
    for c, rate, colour, style in curves:
        inputs = {**MODEL_INPUTS, "concurrency": c, "launch_rate_per_s": rate}
        walls = [wall_time_s(batch_size=b, **inputs) / 60 for b in sizes]
        label = f"concurrency {c:,}, {rate:g} pods/s"
        ax_wall.plot(sizes, walls, color=colour, linestyle=style, label=label)
        use = batch_size_to_use(**inputs)
        ax_wall.plot([use], [wall_time_s(batch_size=use, **inputs) / 60], "o",
                     color=colour, markerfacecolor="white")
    ax_wall.set(xscale="log", yscale="log", ylabel="wall time (min)")
    ax_wall.set_title("Wall time: larger batches, fewer tasks")
    ax_wall.legend(loc="upper right")

    m = MODEL_INPUTS
    pods = [pod_minutes(m["items"], b, m["seconds_per_item"], m["start_up_s"])
            for b in sizes]
    ax_pods.plot(sizes, pods, color="tab:orange")
    floor = MIN_WORK_PER_START_UP * m["start_up_s"] / m["seconds_per_item"]
    ax_pods.axvline(floor, color="grey", linestyle=":")
    ax_pods.text(floor, max(pods) / 3, " compute = 10 x start-up", va="top")
    ax_pods.set(xscale="log", yscale="log", ylabel="pod-minutes",
                xlabel="images per task (batch size)")
    ax_pods.set_title("Pod-minutes: every task pays the start-up (any concurrency)")
    fig.suptitle(f"MODEL: {m['items']:,} images, {m['seconds_per_item'] * 1000:g} ms "
                 f"each, {m['start_up_s']:g} s start-up per task")
    fig.tight_layout()
    plt.show()

# sphinx_gallery_thumbnail_number = 2
