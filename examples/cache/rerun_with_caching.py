r"""
Cache a task and watch the second run skip it
=============================================

Three cached tasks on scikit-learn's digits, run four times. The second run finds every
result in flytekit's local cache and runs no task body; a changed input runs only the
tasks whose key it changes. Each task body prints a line when it runs, so the output
shows which ones did. The question behind it: :ref:`guide-caching`; how the site checks
it: :ref:`sphx_glr_auto_evidence_cache_cache_flyte1_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 scikit-learn==1.9.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/cache)

      python rerun_with_caching.py
      pyflyte run rerun_with_caching.py digits_pipeline --n_trees 100

   .. code-block:: sh
      :caption: Run it on a Flyte cluster (ImageSpec builds the image with your Docker)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where the image goes: the demo's
      pyflyte run --remote rerun_with_caching.py digits_pipeline --n_trees 100
"""

# %%
# .. _caching-tasks:
#
# Three cached tasks
# ------------------
# ``Cache(version="1")`` puts a version you choose in each task's cache key; the
# task's code is not in the key, so change the version whenever you change what the
# task computes. ``fit_model`` leaves ``n_jobs`` out of its key (``ignored_inputs``):
# the number of cores cannot change a forest grown with a fixed ``random_state``.
# ``serialize=True`` makes identical executions that start together on a cluster wait
# for the first one's result; locally it does nothing.
import os

import click
import numpy as np
from flytekit import Cache, ImageSpec, task, workflow
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)
N_TRAIN = 1500  # the first 1,500 of the 1,797 images train; the rest are held out


@task(container_image=image, cache=Cache(version="1"))
def extract_features(n_components: int) -> np.ndarray:
    print(f"extract_features ran: {n_components} principal components")
    pixels = load_digits().data / 16.0
    pca = PCA(n_components=n_components, whiten=True, random_state=0)
    return pca.fit(pixels[:N_TRAIN]).transform(pixels)


@task(
    container_image=image,
    cache=Cache(version="1", serialize=True, ignored_inputs=("n_jobs",)),
)
def fit_model(
    features: np.ndarray, n_trees: int, n_jobs: int
) -> RandomForestClassifier:
    if not 1 <= n_trees <= 2000:  # a one-line error from pyflyte run, exit code 2
        message = f"must be 1 to 2000, got {n_trees}"
        raise click.BadParameter(message, param_hint="'--n_trees'")
    print(f"fit_model ran: {n_trees} trees, n_jobs={n_jobs}")
    labels = load_digits().target
    forest = RandomForestClassifier(n_trees, random_state=0, n_jobs=n_jobs)
    return forest.fit(features[:N_TRAIN], labels[:N_TRAIN])


@task(container_image=image, cache=Cache(version="1"))
def evaluate(model: RandomForestClassifier, features: np.ndarray) -> float:
    labels = load_digits().target
    print(f"evaluate ran: {len(labels) - N_TRAIN} held-out images")
    return float(model.score(features[N_TRAIN:], labels[N_TRAIN:]))


@workflow
def digits_pipeline(
    n_components: int = 30, n_trees: int = 200, n_jobs: int = 1
) -> float:
    features = extract_features(n_components=n_components)
    model = fit_model(features=features, n_trees=n_trees, n_jobs=n_jobs)
    return evaluate(model=model, features=features)


# %%
# .. _caching-second-run:
#
# Run it four times
# -----------------
# Run 1 computes and stores each task's outputs in flytekit's local cache. Run 2 finds
# all three keys: no body runs. Run 3 changes only ``n_jobs``, which ``fit_model``'s key
# ignores: still no body runs. Run 4 changes ``n_trees``: ``extract_features`` is still
# served from the cache, and the two tasks downstream of the new input run.
#
# The local cache outlives this script (``~/.flyte/local-cache``): run the script again
# and run 1 is served from it too. ``pyflyte local-cache clear`` empties it.
if __name__ == "__main__":
    print(f"run 1, accuracy: {digits_pipeline():.3f}")
    print(f"run 2, same inputs, accuracy: {digits_pipeline():.3f}")
    print(f"run 3, n_jobs=2, accuracy: {digits_pipeline(n_jobs=2):.3f}")
    print(f"run 4, n_trees=100, accuracy: {digits_pipeline(n_trees=100):.3f}")
