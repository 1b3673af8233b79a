r"""
Key a cached task on an array's content, not its address
========================================================

Arrays, files and data frames travel between flytekit tasks as a reference to a stored
blob, and a cached task that receives one keys on the reference. A producer that runs
again writes the same values to a new blob, so the consumer misses. Annotating the
producer's output with ``HashMethod`` puts a digest of the values in the key instead.
The question behind it: :ref:`guide-caching`; how the site checks it:
:ref:`sphx_glr_auto_evidence_cache_cache_flyte1_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 scikit-learn==1.9.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/cache)

      python cache_arrays_by_content.py
      pyflyte run cache_arrays_by_content.py ink_by_content

   .. code-block:: sh
      :caption: Run it on a Flyte cluster (ImageSpec builds the image with your Docker)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where the image goes: the demo's
      pyflyte run --remote cache_arrays_by_content.py ink_by_content
"""

# %%
# .. _caching-hash-method:
#
# Two producers of the same pixels
# --------------------------------
# Neither producer is cached, so each runs on every run and stores a new blob.
# ``digit_images_hashed`` annotates its output with ``HashMethod(array_digest)``:
# flytekit stores the digest with the reference, and the cache key of the task that
# receives the array uses the digest. ``ink_per_image`` is cached and prints a line when
# its body runs.
import hashlib
import os
from typing import Annotated

import numpy as np
from flytekit import Cache, HashMethod, ImageSpec, task, workflow
from sklearn.datasets import load_digits

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)


def array_digest(array: np.ndarray) -> str:
    """Same values, dtype and shape: same digest."""
    shape = repr((array.dtype, array.shape)).encode()
    return hashlib.sha256(array.tobytes() + shape).hexdigest()


@task(container_image=image)
def digit_images() -> np.ndarray:
    return load_digits().data


@task(container_image=image)
def digit_images_hashed() -> Annotated[np.ndarray, HashMethod(array_digest)]:
    return load_digits().data


@task(container_image=image, cache=Cache(version="1"))
def ink_per_image(images: np.ndarray) -> float:
    print(f"ink_per_image ran: {len(images)} images")
    return float(images.sum(axis=1).mean())


@workflow
def ink_by_reference() -> float:
    return ink_per_image(images=digit_images())


@workflow
def ink_by_content() -> float:
    return ink_per_image(images=digit_images_hashed())


# %%
# Run each workflow twice
# -----------------------
# By reference, ``ink_per_image`` runs both times: the second run's pixels are a new
# blob. By content, the second run is served from the cache. (Run the script again and
# the first run by content is served too: the local cache outlives the script.)
if __name__ == "__main__":
    for run in (1, 2):
        print(f"by reference, run {run}, mean ink: {ink_by_reference():.1f}")
    for run in (1, 2):
        print(f"by content, run {run}, mean ink: {ink_by_content():.1f}")
