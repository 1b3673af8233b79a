"""
Fan out batch inference with map_task and survive one bad batch
===============================================================

Train a digits classifier once, then score the held-out images in batches with ``map_task``:
the model is bound with ``functools.partial``, ``concurrency`` caps how many batches run at
once, and ``min_success_ratio`` lets the run finish although one batch fails. It runs locally
in a few seconds. The question behind it: :ref:`guide-parallelism`.
"""

# %%
# Define the tasks
# ----------------
# ``train`` fits a support-vector classifier on the first 1,500 digits. ``make_batches`` cuts
# the other 297 images into ``n_batches`` batches and, to stand for a corrupt input file,
# writes one NaN pixel into batch ``failing_batch`` (``-1`` for none): scikit-learn refuses
# NaN, so that batch's task fails for real. ``score_batch`` is the task that ``map_task``
# runs once per batch; it also records when and where it ran. ``summarize`` receives one
# entry per batch, ``None`` where a batch failed.
import functools
import logging
import math
import os
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple, Optional

import click
import matplotlib.pyplot as plt
import numpy as np
from flytekit import ImageSpec, map_task, task, workflow
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.loggers import logger as flytekit_logger
from flytekit.tools.translator import get_serializable
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
    # click's exception makes `pyflyte run` print a short usage hint and one error line naming
    # the input, and exit with 2 (an ordinary exception prints a long traceback); on a cluster
    # the task fails with it.
    n_held_out = len(load_digits().target) - N_TRAIN
    if not 1 <= n_batches <= n_held_out:
        raise click.BadParameter(f"must be between 1 and {n_held_out}, got {n_batches}",
                                 param_hint="'--n_batches'")
    if not -1 <= failing_batch < n_batches:
        raise click.BadParameter(f"must be -1 (none) or 0 to {n_batches - 1}, got {failing_batch}",
                                 param_hint="'--failing_batch'")
    digits = load_digits()
    images = [batch.copy() for batch in np.array_split(digits.data[N_TRAIN:], n_batches)]
    labels = [batch.tolist() for batch in np.array_split(digits.target[N_TRAIN:], n_batches)]
    if failing_batch >= 0:
        images[failing_batch][0, 0] = np.nan  # a corrupt pixel: predicting this batch raises
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
# ``images`` and ``labels`` are mapped (one element per batch). Because
# ``min_success_ratio`` is below 1, the map task's output is ``list[Optional[BatchResult]]``,
# and ``summarize`` must accept exactly that type.
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
    results = score_all(images=batches.images, labels=batches.labels)
    return results, summarize(results=results)


# %%
# .. _parallelism-array-node:
#
# What a cluster would receive
# ----------------------------
# Compile the workflow offline, as registration would, and print its ArrayNode. The
# ImageConfig names the ImageSpec's image up front so flytekit neither builds nor looks
# for it. In the compiled map task only the mapped inputs are lists.
def compile_for_cluster(entity):
    ours = Image(name=image.id, fqn=f"{image.registry}/{image.name}", tag=image.tag)
    default = ImageConfig.auto_default_image().default_image
    settings = SerializationSettings(image_config=ImageConfig(default_image=default, images=[ours]))
    entities = OrderedDict()
    return get_serializable(entities, settings, entity), entities


if __name__ == "__main__":
    spec, entities = compile_for_cluster(batch_inference)
    array_node = next(node.array_node for node in spec.template.nodes if node.array_node)
    idl = array_node.to_flyte_idl()
    print(f"array node parallelism (concurrency): {idl.parallelism}")
    # Decoded from the bytes registration sends: the ratio travels as a 32-bit float.
    ratio_sent = type(idl).FromString(idl.SerializeToString()).min_success_ratio
    print(f"array node min_success_ratio, as sent to the cluster: {ratio_sent!r}")
    map_template = next(e.template for e in entities.values()
                        if hasattr(e, "template") and e.template.id.name.endswith("-arraynode"))
    for name, variable in sorted(map_template.interface.inputs.items()):
        mapped = variable.type.collection_type is not None
        shape = "a list, one element per batch" if mapped else "one value shared by every batch"
        print(f"map task input {name}: {shape}")

# %%
# .. _parallelism-local-run:
#
# Run it locally
# --------------
# Eight batches, batch 2 corrupt. Locally flytekit runs the mapped items one after another
# in this one Python process; ``concurrency`` is ignored. The timings below show it.
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
    print(f"scoring one batch, measured on this machine: median {np.median(per_batch_ms):.1f} ms")
    print(f"scoring one image, measured on this machine: {per_image_s * 1e6:.0f} us")
    print(f"whole workflow run, measured on this machine: {wall:.2f} s")

# %%
# .. _parallelism-threshold:
#
# When too many batches fail
# --------------------------
# The threshold is ``ceil(ratio * batches)`` successes. Locally flytekit computes it with the
# Python float 0.8: with 8 batches that is 7, so one failure is tolerated; with 4 batches it
# is 4, so one corrupt batch fails the whole map task and the run. On a cluster propeller
# applies the same formula to the ratio as sent (printed above), which is a hair above 0.8:
# wherever ``0.8 * batches`` is a whole number, such as 10 batches, it needs one more success.
if __name__ == "__main__":
    for n in (8, 4, 10):
        print(f"{n} batches need successes: {math.ceil(MIN_SUCCESS_RATIO * n)} locally, "
              f"{math.ceil(ratio_sent * n)} by propeller's formula on the ratio as sent")
    level = flytekit_logger.level
    flytekit_logger.setLevel(logging.CRITICAL)  # flytekit logs this failure; we print one line
    try:
        batch_inference(n_batches=4, failing_batch=0)
        print("4 batches, batch 0 corrupt: the run succeeded")
    except Exception as exc:  # flytekit re-raises the failed item's own error
        print(f"4 batches, batch 0 corrupt: the run failed with {type(exc).__name__}")
    finally:
        flytekit_logger.setLevel(level)

# %%
# .. _parallelism-figure:
#
# Local timeline, and a model of the cluster
# ------------------------------------------
# Left: when each batch was scored in the local run (measured). Middle and right: a MODEL,
# not a measurement, of a large scoring job on a cluster, as a function of how many images
# each task scores (the batch size ``B``). Its inputs:
#
# - per-task start-up overhead ``S`` = 30 s, Union's figure for a cold start on Flyte 1
#   (https://www.union.ai/flyte1-flyte2-union); warm nodes with a cached image start faster;
# - per-image scoring time ``t``, measured above on the machine that ran this page;
# - ``N`` = 10,000,000 images to score (an assumption: a large nightly job);
# - concurrency ``C`` = 10, 100 and 1,000 tasks at once; all batches take equally long.
#
# A batch's task takes ``S + B * t``. The map task starts a new task whenever one of its
# ``C`` slots frees up, so ``ceil(N / B)`` tasks take ``ceil(ceil(N / B) / C)`` rounds. Of
# the pod time you pay for, the share ``S / (S + B * t)`` is start-up. The model sets no limit
# on how many tasks one map task may have; the same Union page puts Flyte 1's practical fan-out
# at about 5,000 tasks, so its one-image-per-task times (millions of tasks) only show why not
# to try.
START_UP_S = 30.0
N_IMAGES = 10_000_000


def modelled_wall_time(batch_size: np.ndarray, concurrency: int, per_image_s: float) -> np.ndarray:
    tasks = np.ceil(N_IMAGES / batch_size)
    return np.ceil(tasks / concurrency) * (START_UP_S + batch_size * per_image_s)


def start_up_share(batch_size: np.ndarray, per_image_s: float) -> np.ndarray:
    return START_UP_S / (START_UP_S + batch_size * per_image_s)


if __name__ == "__main__":
    fig, (ax_local, ax_wall, ax_share) = plt.subplots(1, 3, figsize=(15, 4.8))
    origin = min(r.started for r in done)
    for i, r in enumerate(results):
        if r is None:
            ax_local.text(0, i, "  failed: no result (None)", va="center", color="tab:red")
        else:
            ax_local.barh(i, 1000 * (r.finished - r.started), left=1000 * (r.started - origin),
                          color="tab:blue")
    ax_local.set_yticks(range(len(results)), [f"batch {i}" for i in range(len(results))])
    ax_local.invert_yaxis()
    ax_local.set_xlabel("time since the first batch started (ms)")
    ax_local.set_title("Measured locally: one batch at a time\n"
                       f"(concurrency={CONCURRENCY} is ignored locally)", fontsize=10)

    sizes = np.unique(np.logspace(0, 7, 300).round())
    for c in (10, 100, 1000):
        ax_wall.plot(sizes, modelled_wall_time(sizes, c, per_image_s) / 60, label=f"concurrency {c}")
    single = (START_UP_S + N_IMAGES * per_image_s) / 60
    ax_wall.axhline(single, color="grey", linestyle="--", label="one task, no fan-out")
    ax_wall.set(xscale="log", yscale="log", xlabel="images per task (batch size)",
                ylabel="expected wall time (min)")
    ax_wall.set_title(f"MODEL: {N_IMAGES:,} images, {START_UP_S:.0f} s start-up per task,\n"
                      f"{per_image_s * 1e6:.0f} us per image (measured)", fontsize=10)
    ax_wall.legend(fontsize=9)

    ten_x = 10 * START_UP_S / per_image_s  # batch size whose compute is 10x the start-up
    ax_share.plot(sizes, 100 * start_up_share(sizes, per_image_s), color="tab:purple")
    ax_share.axvline(ten_x, color="grey", linestyle=":", label="compute = 10 x start-up")
    ax_share.set(xscale="log", ylim=(0, 105), xlabel="images per task (batch size)",
                 ylabel="start-up share of pod time (%)")
    ax_share.set_title("MODEL: pod time spent starting, not scoring\n(same inputs; any concurrency)",
                       fontsize=10)
    ax_share.legend(fontsize=9)
    fig.tight_layout()

    round_sizes = np.array([m * 10.0**k for k in range(8) for m in (1, 2, 5) if m * 10**k <= N_IMAGES])
    print(f"model, one task for all {N_IMAGES:,} images: {single:.1f} min (from the measured per-image time)")
    for c in (10, 100, 1000):
        best = round_sizes[np.argmin(modelled_wall_time(round_sizes, c, per_image_s))]
        wall_min = modelled_wall_time(np.array([best]), c, per_image_s)[0] / 60
        tiny_h = modelled_wall_time(np.array([1.0]), c, per_image_s)[0] / 3600
        print(f"model, concurrency {c}: best {best:,.0f} images per task, {wall_min:.1f} min,"
              f" {100 * start_up_share(best, per_image_s):.0f} % start-up;"
              f" one image per task {tiny_h:,.0f} h (from the measured per-image time)")
    print(f"model, compute is 10x start-up from: {ten_x:,.0f} images per task"
          " (from the measured per-image time)")
    plt.show()
