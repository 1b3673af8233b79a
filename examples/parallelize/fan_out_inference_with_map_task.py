r"""
Fan out batch inference with map_task and survive one bad batch
===============================================================

Score held-out digits in batches with ``map_task``: ``functools.partial`` binds the
trained model, ``concurrency`` caps the batches running at once on a cluster, and
``min_success_ratio`` lets the run survive one failed batch. The question behind it:
:ref:`guide-parallelism`; how the site checks it:
:ref:`sphx_glr_auto_evidence_parallelize_parallelize_flyte1_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 scikit-learn==1.9.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/parallelize)

      python fan_out_inference_with_map_task.py
      pyflyte run fan_out_inference_with_map_task.py batch_inference \
          --n_batches 10 --failing_batch 7

   .. code-block:: sh
      :caption: Run it on a Flyte cluster (ImageSpec builds the image with your Docker)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where the image goes: the demo's
      pyflyte run --remote fan_out_inference_with_map_task.py batch_inference \
          --n_batches 10 --failing_batch 7
"""

# %%
# .. _parallelism-tasks:
#
# Define the tasks
# ----------------
# ``train`` fits a classifier on the first 1,500 digits. ``make_batches`` cuts the
# other 297 into batches and writes a NaN pixel into batch ``failing_batch`` (``-1``
# for none), a corrupt file that scikit-learn refuses for real. ``map_task`` runs
# ``score_batch`` once per batch; ``summarize`` gets ``None`` where a batch failed.
import functools
import os
from dataclasses import dataclass
from typing import Optional

import click
import numpy as np
from flytekit import ImageSpec, Resources, map_task, task, workflow
from sklearn.datasets import load_digits
from sklearn.svm import SVC

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)
N_TRAIN = 1500  # the first 1,500 digits train the model; the other 297 are scored


@dataclass
class BatchResult:
    n_images: int
    n_correct: int


@dataclass
class Report:
    failed_batches: list[int]
    images_scored: int
    accuracy: float


@task(container_image=image)
def train() -> SVC:
    digits = load_digits()
    return SVC(gamma=0.001).fit(digits.data[:N_TRAIN], digits.target[:N_TRAIN])


@task(container_image=image)
def make_batches(
    n_batches: int, failing_batch: int
) -> tuple[list[np.ndarray], list[list[int]]]:
    n_held_out = len(load_digits().target) - N_TRAIN
    if not 1 <= n_batches <= n_held_out:  # one line from pyflyte run, exit code 2
        raise click.BadParameter(f"must be 1 to {n_held_out}, got {n_batches}",
                                 param_hint="'--n_batches'")
    if not -1 <= failing_batch < n_batches:
        raise click.BadParameter(f"must be -1 (none) or 0 to {n_batches - 1}, "
                                 f"got {failing_batch}", param_hint="'--failing_batch'")
    digits = load_digits()
    images = [b.copy() for b in np.array_split(digits.data[N_TRAIN:], n_batches)]
    labels = [b.tolist() for b in np.array_split(digits.target[N_TRAIN:], n_batches)]
    if failing_batch >= 0:
        images[failing_batch][0, 0] = np.nan  # a corrupt pixel: predicting it raises
    return images, labels


@task(container_image=image)
def score_batch(model: SVC, images: np.ndarray, labels: list[int]) -> BatchResult:
    print(f"score_batch ran: {len(labels)} images")
    predictions = model.predict(images)
    return BatchResult(len(labels), int((predictions == np.array(labels)).sum()))


@task(container_image=image)
def summarize(results: list[Optional[BatchResult]]) -> Report:
    scored = [r for r in results if r is not None]
    images = sum(r.n_images for r in scored)
    failed = [i for i, r in enumerate(results) if r is None]
    return Report(failed, images, sum(r.n_correct for r in scored) / max(images, 1))


# %%
# .. _parallelism-map-task:
#
# Fan out with map_task
# ---------------------
# ``functools.partial`` binds the model; ``images`` and ``labels`` are mapped, one
# element per batch. ``concurrency=4``: at most four batches at once on a cluster.
# ``with_overrides`` sets what each batch's pod asks for. With ``min_success_ratio``
# below 1 the map task returns ``list[Optional[BatchResult]]``: ``summarize`` takes it.
@workflow
def batch_inference(
    n_batches: int = 8, failing_batch: int = 2
) -> tuple[list[Optional[BatchResult]], Report]:
    model = train()
    images, labels = make_batches(n_batches=n_batches, failing_batch=failing_batch)
    score_all = map_task(functools.partial(score_batch, model=model),
                         concurrency=4, min_success_ratio=0.8)
    results = score_all(images=images, labels=labels).with_overrides(
        requests=Resources(cpu="1", mem="1Gi"), limits=Resources(cpu="1", mem="1Gi"))
    return results, summarize(results=results)


# %%
# .. _parallelism-local-run:
#
# Run it locally
# --------------
# Eight batches, batch 2 corrupt. Locally flytekit runs them one after another in this
# process (``concurrency`` applies on a cluster); batch 2 fails and comes back ``None``.
if __name__ == "__main__":
    results, report = batch_inference(n_batches=8, failing_batch=2)
    print(f"map task result: {['ok' if r else 'None' for r in results]}")
    print(f"summarize saw failed batches: {report.failed_batches}")
    print(f"images scored: {report.images_scored} of 297")
    print(f"accuracy on the scored images: {report.accuracy:.3f}")
