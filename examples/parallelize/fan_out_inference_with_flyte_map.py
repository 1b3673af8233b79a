r"""
Fan out batch inference with flyte.map and asyncio.gather
=========================================================

The Flyte 2 twin of :ref:`sphx_glr_auto_examples_parallelize_fan_out_inference_with_map_task.py`:
train a digits classifier once, then score the held-out images in batches, one task per
batch, with ``flyte.map`` (``concurrency`` caps the batches in flight) and with
``asyncio.gather``. One batch is corrupt; its failure comes back as an exception in its
place, and the parent task decides how many failures it tolerates. Runs locally in a few
seconds. The question behind it: :ref:`guide-parallelism`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flyte==2.12.1 scikit-learn==1.9.1 matplotlib==3.11.2 numpy==2.4.6

   .. code-block:: sh
      :caption: Run it in the folder you saved it to (in a clone: cd examples/parallelize)

      python fan_out_inference_with_flyte_map.py
      flyte run --local fan_out_inference_with_flyte_map.py \
          batch_inference --n_batches 10 --failing_batch 7

   .. code-block:: sh
      :caption: Run it on a Flyte 2 cluster (after ``flyte create config``)

      flyte run fan_out_inference_with_flyte_map.py \
          batch_inference --n_batches 10 --failing_batch 7
"""

# %%
# .. _parallelism-flyte2-tasks:
#
# Define the tasks
# ----------------
# One ``TaskEnvironment`` holds the image and resources every task here runs with.
# ``make_batches`` cuts the 297 held-out images into ``Batch`` records and corrupts one
# with a NaN pixel (``failing_batch``, ``-1`` for none). ``score_batch`` takes the model
# and ONE batch: ``flyte.map`` maps over a single argument, and ``functools.partial``
# must leave exactly one parameter open. ``train``'s model has no Flyte type of its own,
# so Flyte 2 pickles it (and logs a warning saying so).
import asyncio
import functools
import math
import os
import socket
import time
from dataclasses import dataclass

import flyte
import numpy as np
from sklearn.datasets import load_digits
from sklearn.svm import SVC

env = flyte.TaskEnvironment(
    name="fan_out_inference",
    image=flyte.Image.from_debian_base().with_pip_packages(
        "scikit-learn==1.9.1", "numpy==2.4.6"),
    resources=flyte.Resources(cpu=1, memory="1Gi"),
)

N_TRAIN = 1500  # the first 1,500 digits train the model; the other 297 are scored
CONCURRENCY = 4  # at most 4 batches in flight at once
MIN_SUCCESS_RATIO = 0.8  # the parent task fails if fewer than 80 % of batches succeed


@dataclass
class Batch:
    images: list[list[float]]
    labels: list[int]


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


@env.task
def train() -> SVC:
    digits = load_digits()
    return SVC(gamma=0.001).fit(digits.data[:N_TRAIN], digits.target[:N_TRAIN])


@env.task
def make_batches(n_batches: int, failing_batch: int) -> list[Batch]:
    n_held_out = len(load_digits().target) - N_TRAIN
    if not 1 <= n_batches <= n_held_out:
        raise ValueError(f"--n_batches must be between 1 and {n_held_out}, "
                         f"got {n_batches}")
    if not -1 <= failing_batch < n_batches:
        raise ValueError(f"--failing_batch must be -1 (none) or 0 to {n_batches - 1}, "
                         f"got {failing_batch}")
    digits = load_digits()
    images = [b.copy() for b in np.array_split(digits.data[N_TRAIN:], n_batches)]
    labels = [b.tolist() for b in np.array_split(digits.target[N_TRAIN:], n_batches)]
    if failing_batch >= 0:
        images[failing_batch][0, 0] = np.nan  # a corrupt pixel: predicting it raises
    return [Batch(images=x.tolist(), labels=y) for x, y in zip(images, labels)]


@env.task
def score_batch(model: SVC, batch: Batch) -> BatchResult:
    started = time.time()
    predictions = model.predict(np.array(batch.images))
    finished = time.time()
    return BatchResult(
        n_images=len(batch.labels),
        n_correct=int((predictions == np.array(batch.labels)).sum()),
        started=started,
        finished=finished,
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )


def summarize(results: list) -> Report:
    """One entry per batch, an exception where a batch failed; enough must succeed."""
    failed = [i for i, r in enumerate(results) if isinstance(r, Exception)]
    needed = math.ceil(MIN_SUCCESS_RATIO * len(results))
    if len(results) - len(failed) < needed:
        raise RuntimeError(f"{len(failed)} of {len(results)} batches failed; "
                           f"{needed} had to succeed")
    scored = [r for r in results if not isinstance(r, Exception)]
    images = sum(r.n_images for r in scored)
    return Report(
        batches=len(results),
        failed_batches=failed,
        images_scored=images,
        accuracy=sum(r.n_correct for r in scored) / images if images else 0.0,
    )


# %%
# .. _parallelism-flyte2-map:
#
# Fan out with flyte.map, or with asyncio.gather
# ----------------------------------------------
# The parent is an ordinary ``async`` task: it calls tasks, fans out and counts failures
# in plain Python. ``flyte.map`` returns results in input order, with each failure's
# exception in its place (``return_exceptions=True`` is its default; with ``False`` the
# first failure is raised and the rest are cancelled). ``asyncio.gather`` needs
# ``return_exceptions=True`` for the same; without it the first failure is raised and
# the other calls keep running. Neither has ``min_success_ratio``: ``summarize`` is it.
@env.task
async def batch_inference(n_batches: int = 8, failing_batch: int = 2) -> Report:
    model = await train.aio()
    batches = await make_batches.aio(n_batches=n_batches, failing_batch=failing_batch)
    score = functools.partial(score_batch, model)
    results = [r async for r in flyte.map.aio(score, batches, concurrency=CONCURRENCY)]
    return summarize(results)


@env.task
async def batch_inference_gather(n_batches: int = 8, failing_batch: int = 2) -> Report:
    model = await train.aio()
    batches = await make_batches.aio(n_batches=n_batches, failing_batch=failing_batch)
    limit = asyncio.Semaphore(CONCURRENCY)  # gather has no concurrency of its own

    async def score(batch: Batch) -> BatchResult:
        async with limit:
            return await score_batch.aio(model, batch)

    results = await asyncio.gather(*(score(b) for b in batches), return_exceptions=True)
    return summarize(list(results))


# %%
# .. _parallelism-flyte2-local-run:
#
# Run it locally
# --------------
# Eight batches, batch 2 corrupt. Both versions finish with batch 2 missing. To see
# whether the batches overlapped, a third task runs each fan-out and returns every
# batch's own start and finish times: ``flyte.map`` logs that it runs "every task
# sequentially" in local mode, while ``asyncio.gather`` runs these ``def`` tasks in
# worker threads of one process.
@env.task
async def timelines(n_batches: int) -> dict[str, list[BatchResult]]:
    model = await train.aio()
    batches = await make_batches.aio(n_batches=n_batches, failing_batch=-1)
    score = functools.partial(score_batch, model)
    mapped = [r async for r in flyte.map.aio(score, batches, concurrency=CONCURRENCY)]
    gathered = await asyncio.gather(*(score_batch.aio(model, b) for b in batches))
    return {"flyte.map": mapped, "asyncio.gather": list(gathered)}


def overlaps(results: list[BatchResult]) -> int:
    spans = sorted((r.started, r.finished) for r in results)
    return sum(1 for (_, end), (start, _) in zip(spans, spans[1:]) if start < end)


if __name__ == "__main__":
    import logging

    # The failed batches are the demo: print one line each, not flyte's tracebacks.
    flyte.init(log_level=logging.CRITICAL)
    for task in (batch_inference, batch_inference_gather):
        report = flyte.run(task, n_batches=8, failing_batch=2).outputs()[0]
        print(f"{task.short_name}, failed batches: {report.failed_batches}")
        print(f"{task.short_name}, images scored: {report.images_scored} of 297")
    try:
        flyte.run(batch_inference, n_batches=4, failing_batch=0)
        print("4 batches, batch 0 corrupt: the run succeeded")
    except Exception as exc:
        reason = str(exc).splitlines()[-1]
        print(f"4 batches, batch 0 corrupt: the run failed, {reason}")

    runs = flyte.run(timelines, n_batches=8).outputs()[0]
    for how in ("flyte.map", "asyncio.gather"):
        results = runs[how]
        print(f"{how}, batches that overlapped locally, measured: {overlaps(results)}")
        print(f"{how}, processes that ran a batch: {len({r.worker for r in results})}")
        wall = max(r.finished for r in results) - min(r.started for r in results)
        print(f"{how}, first start to last finish, measured: {wall * 1000:.0f} ms")

# %%
# .. _parallelism-flyte2-spec:
#
# What a cluster would receive
# ----------------------------
# Deploying sends one task spec per task; nothing in them fans out. The map happens when
# ``batch_inference`` runs: its process submits one child action per batch, at most
# ``concurrency`` at a time. ``flyte deploy --dry-run`` builds these specs with the
# SDK's ``translate_task_to_wire``, called here directly with the image named up front,
# so nothing is built, uploaded or contacted.
if __name__ == "__main__":
    from flyte._internal.runtime.task_serde import translate_task_to_wire
    from google.protobuf.json_format import MessageToDict
    from flyte.models import SerializationContext

    import inspect
    import sys
    from pathlib import Path

    # A spec names each task's module by its file. The docs build and notebooks run this
    # code in a module without a file, so point that module at this script first.
    script = Path(inspect.getsourcefile(score_batch.func)).resolve()
    vars(sys.modules[score_batch.func.__module__]).setdefault("__file__", str(script))
    context = SerializationContext(version="offline", project="p", domain="d",
                                   root_dir=script.parent)
    for task in (batch_inference, score_batch):
        spec = translate_task_to_wire(task, context)
        template = spec.task_template
        requests = MessageToDict(template.container.resources)["requests"]
        resources = {r["name"]: r["value"] for r in requests}
        print(f"task spec {spec.short_name}, environment: {spec.environment.name}")
        inputs = [v.key for v in template.interface.inputs.variables]
        print(f"task spec {spec.short_name}, inputs: {inputs}")
        print(f"task spec {spec.short_name}, requests: {resources}")

# %%
# .. _parallelism-flyte2-figure:
#
# Figure: the local timelines
# ---------------------------
# Each bar is one batch, from its task's start to its finish, measured in the run above;
# each panel starts at its own first batch. The gaps between mapped batches are time
# outside the task bodies: Flyte converting each call's inputs and outputs.
if __name__ == "__main__":
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 1, figsize=(7.4, 5.2), sharex=True)
    for ax, how in zip(axes, ("flyte.map", "asyncio.gather")):
        results = runs[how]
        origin = min(r.started for r in results)
        for i, r in enumerate(results):
            ax.barh(i, 1000 * (r.finished - r.started),
                    left=1000 * (r.started - origin), color="tab:blue")
        ax.set_yticks(range(len(results)), [f"batch {i}" for i in range(len(results))])
        ax.invert_yaxis()
        ax.set_title(f"{how}: {overlaps(results)} overlaps (local run)")
    axes[-1].set_xlabel("time since the fan-out's first batch started (ms)")
    fig.suptitle("Measured locally: flyte.map runs batches one at a time")
    fig.tight_layout()
    plt.show()
