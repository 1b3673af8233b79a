r"""
Fan out batch inference with flyte.map and asyncio.gather
=========================================================

The Flyte 2 twin of the :ref:`map_task lesson <parallelism-map-task>`: score digits in
batches, a task per batch, with ``flyte.map`` (``concurrency`` caps the batches in
flight) or ``asyncio.gather``. A corrupt batch's failure comes back in its place, and
the parent decides how many it tolerates. The question behind it:
:ref:`guide-parallelism`; how the site checks it:
:ref:`sphx_glr_auto_evidence_parallelize_parallelize_flyte2_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flyte==2.12.1 scikit-learn==1.9.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/parallelize)

      python fan_out_inference_with_flyte_map.py
      flyte run --local fan_out_inference_with_flyte_map.py batch_inference \
          --failing_batch 7

   .. code-block:: sh
      :caption: Run it on a Flyte 2 cluster (after ``flyte create config``)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where flyte run pushes the image
      flyte run fan_out_inference_with_flyte_map.py batch_inference --failing_batch 7
"""

# %%
# .. _parallelism-flyte2-tasks:
#
# Define the tasks
# ----------------
# One ``TaskEnvironment`` holds every task's image and resources. ``make_batches`` cuts
# the 297 held-out images into ``Batch`` records, one with a NaN pixel (``-1``: none).
# ``score_batch`` takes the model and ONE batch: ``functools.partial`` must leave
# ``flyte.map`` one parameter. Flyte 2 pickles the model: it has no Flyte type.
import asyncio
import functools
import math
from dataclasses import dataclass

import flyte
import numpy as np
from sklearn.datasets import load_digits
from sklearn.svm import SVC

env = flyte.TaskEnvironment(
    name="fan_out_inference",
    image=flyte.Image.from_debian_base().with_pip_packages("scikit-learn==1.9.1"),
    resources=flyte.Resources(cpu=1, memory="1Gi"),
)
N_TRAIN = 1500  # the first 1,500 digits train the model; the other 297 are scored


@dataclass
class Batch:
    images: list[list[float]]
    labels: list[int]


@dataclass
class Report:
    failed_batches: list[int]
    images_scored: int


@env.task
def train() -> SVC:
    digits = load_digits()
    return SVC(gamma=0.001).fit(digits.data[:N_TRAIN], digits.target[:N_TRAIN])


@env.task
def make_batches(n_batches: int, failing_batch: int) -> list[Batch]:
    if not 1 <= n_batches <= 297 or not -1 <= failing_batch < n_batches:
        raise ValueError(f"need 1 <= n_batches <= 297 and -1 <= failing_batch < "
                         f"n_batches, got {n_batches} and {failing_batch}")
    print(f"make_batches ran: {n_batches} batches, batch {failing_batch} corrupt")
    digits = load_digits()
    images = np.array_split(digits.data[N_TRAIN:], n_batches)
    labels = np.array_split(digits.target[N_TRAIN:], n_batches)
    if failing_batch >= 0:
        images[failing_batch][0, 0] = np.nan  # a corrupt pixel: predicting it raises
    return [Batch(x.tolist(), y.tolist()) for x, y in zip(images, labels)]


@env.task
def score_batch(model: SVC, batch: Batch) -> int:
    return len(model.predict(np.array(batch.images)))


def summarize(results: list, min_success_ratio: float = 0.8) -> Report:
    failed = [i for i, r in enumerate(results) if isinstance(r, Exception)]
    if len(results) - len(failed) < math.ceil(min_success_ratio * len(results)):
        raise RuntimeError(f"{len(failed)} of {len(results)} batches failed")
    return Report(failed, sum(r for r in results if not isinstance(r, Exception)))


# %%
# .. _parallelism-flyte2-map:
#
# Fan out with flyte.map, or with asyncio.gather
# ----------------------------------------------
# The parent is an ordinary ``async`` task that fans out and counts failures in plain
# Python. ``flyte.map`` returns results in input order, each failure's exception in its
# place (``return_exceptions=True`` is its default). ``asyncio.gather`` needs
# ``return_exceptions=True`` for the same, and an ``asyncio.Semaphore`` for a cap.
# ``summarize`` is Flyte 2's ``min_success_ratio``: it counts the exceptions.
@env.task
async def batch_inference(n_batches: int = 8, failing_batch: int = 2) -> Report:
    model = await train.aio()
    batches = await make_batches.aio(n_batches=n_batches, failing_batch=failing_batch)
    score = functools.partial(score_batch, model)
    return summarize([r async for r in flyte.map.aio(score, batches, concurrency=4)])


@env.task
async def batch_inference_gather(n_batches: int = 8, failing_batch: int = 2) -> Report:
    model = await train.aio()
    batches = await make_batches.aio(n_batches=n_batches, failing_batch=failing_batch)
    limit = asyncio.Semaphore(4)

    async def score(batch: Batch) -> int:
        async with limit:
            return await score_batch.aio(model, batch)

    results = await asyncio.gather(*map(score, batches), return_exceptions=True)
    return summarize(list(results))


# %%
# .. _parallelism-flyte2-local-run:
#
# Run it locally
# --------------
# Eight batches, batch 2 corrupt: both parents report batch 2 failed. Locally the map
# runs them one after another; on a cluster each is an action, ``concurrency`` at once.
if __name__ == "__main__":
    flyte.init(log_level=50)  # logging.CRITICAL: batch 2's traceback is expected
    for parent in (batch_inference, batch_inference_gather):
        report = flyte.run(parent, n_batches=8, failing_batch=2).outputs()[0]
        print(f"{parent.short_name}, failed batches: {report.failed_batches}")
        print(f"{parent.short_name}, images scored: {report.images_scored} of 297")
