r"""
Cache a task and watch the second run skip it
=============================================

One training workflow run twice, with flytekit's own cache events showing which tasks
the cache served; then the ways a cached result goes stale, and the cache settings a
cluster receives. Runs in a few seconds locally, about half of it importing libraries.
The question behind it: :ref:`guide-caching`. (Flyte 2 twin:
:ref:`sphx_glr_auto_examples_flyte2_cache_by_function_body.py`.)

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 scikit-learn==1.9.1 matplotlib==3.11.2

   .. code-block:: sh
      :caption: Run the whole script, as this page did

      python examples/rerun_with_caching.py

   .. code-block:: sh
      :caption: Run the workflow with your own inputs

      pyflyte run examples/rerun_with_caching.py digits_pipeline --n_trees 100

   .. code-block:: sh
      :caption: Run it on a Flyte cluster (builds the image with your Docker)

      pyflyte run --remote examples/rerun_with_caching.py digits_pipeline \
          --n_trees 100
"""

# %%
# .. _caching-tasks:
#
# Define the workflow
# -------------------
# Three cached steps on scikit-learn's digits: project each 8x8 image onto its first 30
# principal components, fit a random forest on them (the expensive step), score the
# forest on the held-out images.
#
# ``Cache(version=...)`` is part of the cache key: change it when you change what a task
# computes. ``fit_model`` leaves ``n_jobs`` out of its key (``ignored_inputs``: the
# number of cores cannot change a forest grown with a fixed ``random_state``) and sets
# ``serialize=True`` (on a cluster, identical executions that start together wait for
# the first one's result; locally it does nothing).
#
# ``extract_features`` takes a fraction of a second but is cached too: its array reaches
# ``fit_model`` as a reference to a stored file, and a re-run would store a new file,
# which ``fit_model``'s key would see as a new input (:ref:`caching-hash-method`).
import hashlib
import os
from typing import Annotated

import click
import numpy as np
from flytekit import Cache, HashMethod, ImageSpec, task, workflow
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1", "matplotlib==3.11.2"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)

N_TRAIN = 1500  # the first 1500 of the 1797 images train the model; the rest: held out


def check(name: str, value: int, low: int, high: int) -> None:
    # click's exception makes `pyflyte run` print a short usage hint and one error line
    # naming the input, and exit with code 2 (any other exception prints a long
    # traceback); on a cluster the task fails with it.
    if not low <= value <= high:
        raise click.BadParameter(
            f"must be between {low} and {high}, got {value}", param_hint=f"'--{name}'"
        )


@task(container_image=image, cache=Cache(version="1"))
def extract_features(n_components: int) -> np.ndarray:
    check("n_components", n_components, 1, 64)  # an image has 64 pixels
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
    check("n_trees", n_trees, 1, 2000)  # each 1000 trees store about 50 MB
    check("n_jobs", n_jobs, 1, 256)  # runs only on a miss, like all of the body
    labels = load_digits().target
    forest = RandomForestClassifier(
        n_estimators=n_trees, random_state=0, n_jobs=n_jobs
    )
    return forest.fit(features[:N_TRAIN], labels[:N_TRAIN])


@task(container_image=image, cache=Cache(version="1"))
def evaluate(model: RandomForestClassifier, features: np.ndarray) -> float:
    labels = load_digits().target
    return float(model.score(features[N_TRAIN:], labels[N_TRAIN:]))


@workflow
def digits_pipeline(
    n_components: int = 30, n_trees: int = 200, n_jobs: int = 1
) -> float:
    features = extract_features(n_components=n_components)
    model = fit_model(features=features, n_trees=n_trees, n_jobs=n_jobs)
    return evaluate(model=model, features=features)


# %%
# Two ways to pass the same pixels
# --------------------------------
# Arrays, files and data frames travel between tasks as a reference to a stored blob.
# The cache key of the task that receives one hashes that reference, not the bytes
# behind it, so a fresh upload of identical pixels is a new key. ``Annotated[...,
# HashMethod(fn)]`` on the producer's output makes flytekit store ``fn(value)`` with the
# reference, and the key uses it instead.
def array_digest(array: np.ndarray) -> str:
    """Same values, dtype and shape give the same digest."""
    shape = repr((array.dtype, array.shape)).encode()
    return hashlib.sha256(array.tobytes() + shape).hexdigest()


@task(container_image=image)  # not cached: it runs, and writes a new blob, every time
def digit_images() -> np.ndarray:
    return load_digits().data


@task(container_image=image)
def digit_images_hashed() -> Annotated[np.ndarray, HashMethod(array_digest)]:
    return load_digits().data


@task(container_image=image, cache=Cache(version="1"))
def ink_per_image(images: np.ndarray) -> float:
    return float(images.sum(axis=1).mean())


@workflow
def ink_by_reference() -> float:
    return ink_per_image(images=digit_images())


@workflow
def ink_by_content() -> float:
    return ink_per_image(images=digit_images_hashed())


# %%
# A per-call override that does nothing
# -------------------------------------
# ``with_overrides(cache=...)`` on a call in a workflow is accepted and compiled into
# the node, but neither a local run nor Flyte's propeller (v1.16.8) reads it: the task's
# own setting decides (:ref:`caching-with-overrides`).
@workflow
def features_without_cache(n_components: int = 30) -> np.ndarray:
    return extract_features(n_components=n_components).with_overrides(cache=False)


# %%
# .. _caching-after-reboot:
#
# After a reboot
# --------------
# A local run stores an array or a model under a ``flyte-*`` folder in the system temp
# dir; the local cache keeps only its path. Once that folder is gone (a reboot, a temp
# cleaner), a hit returns a path to a missing file, and a task that then reads it fails.
#
# So when this file is loaded, by ``python`` or ``pyflyte run``, it drops its own tasks'
# entries whose files are gone and says so in one line; the tasks then run again. This
# reads only the local cache on your machine: in a cluster's container there is none.
import diskcache
from flyteidl.core.literals_pb2 import LiteralMap
from flytekit.core import local_cache


def forget_results_whose_files_are_gone(*tasks) -> int:
    location = os.path.expanduser(local_cache.CACHE_LOCATION)
    if not os.path.isdir(location):
        return 0
    prefixes = tuple(f"{t.name}-" for t in tasks)  # "<task>-<version>-<inputs>"
    dropped = 0
    with diskcache.Cache(location) as store:
        for key in list(store.iterkeys()):
            if not (isinstance(key, str) and key.startswith(prefixes)):
                continue
            stored = store.get(key)  # the outputs, as a serialized LiteralMap
            if not isinstance(stored, bytes):
                continue
            outputs = LiteralMap.FromString(stored).literals.values()
            paths = [o.scalar.blob.uri.removeprefix("file://") for o in outputs]
            if any(p and os.path.isabs(p) and not os.path.exists(p) for p in paths):
                dropped += store.delete(key)
    return dropped


if dropped := forget_results_whose_files_are_gone(extract_features, fit_model):
    print(f"local cache: dropped {dropped} stored results whose files were deleted")

# %%
# Listen to flytekit's own cache events
# -------------------------------------
# Locally, flytekit logs ``Checking cache for task named ...``, then ``Cache hit`` or
# ``Cache miss``, then ``Cache set for task named ...`` once a body that ran has stored
# its result; in overwrite mode it skips the check and logs ``Cache overwrite`` instead.
# They go to the ``flytekit`` logger at INFO, below the level it prints.
# ``cache_events`` lowers that logger to INFO while it is open, holds flytekit's own
# console handler at its previous level so no log line reaches the screen, and collects
# ``(task, outcome)`` pairs.
import logging
import time
from contextlib import contextmanager


class _CacheEvents(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.events: list[tuple[str, str]] = []
        self.task, self.outcome = "", ""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "for task named " in message:
            name = message.split("for task named ")[1].split(",")[0].rsplit(".", 1)[-1]
            if message.startswith("Checking cache"):
                self.task = name
            elif message.startswith("Cache set"):  # after a miss or an overwrite
                self.events.append((name, self.outcome))
        elif message.startswith(("Cache hit", "Cache miss", "Cache overwrite")):
            self.outcome = message.split(",")[0].removeprefix("Cache ")
            if self.outcome == "hit":
                self.events.append((self.task, "hit"))


@contextmanager
def cache_events():
    log = logging.getLogger("flytekit")
    saved_level, saved_handlers = log.level, [(h, h.level) for h in log.handlers]
    for handler, level in saved_handlers:
        handler.setLevel(max(level, log.getEffectiveLevel()))
    collector = _CacheEvents()
    log.addHandler(collector)
    log.setLevel(logging.INFO)
    try:
        yield collector.events
    finally:
        log.removeHandler(collector)
        log.setLevel(saved_level)
        for handler, level in saved_handlers:
            handler.setLevel(level)


timings: dict[str, float] = {}  # what the figure at the end shows
body_ran: dict[str, bool] = {}


def run(label: str, entity, **inputs):
    """Call a workflow or task; print its measured time and each task's outcome."""
    with cache_events() as events:
        start = time.perf_counter()
        result = entity(**inputs)
        timings[label] = time.perf_counter() - start
    body_ran[label] = any(outcome != "hit" for _, outcome in events)
    print(f"{label}, measured on this machine: {timings[label]:.3f} s")
    for name, outcome in events:
        print(f"  {name}: {outcome}")
    return result


# %%
# Start cold
# ----------
# flytekit keeps its local cache in ``~/.flyte/local-cache`` across runs. So that the
# first run below is a real miss each time you run this script, it first deletes the
# entries of its own tasks and nothing else (``pyflyte local-cache clear`` would empty
# the whole store). It holds a lock in that store until it ends: a second copy started
# meanwhile waits, rather than deleting this one's entries half-way through its story.
import atexit

LOCK = "rerun_with_caching: demo running"


def forget_cached_results(*tasks) -> None:
    prefixes = tuple(f"{t.name}-" for t in tasks)
    with diskcache.Cache(os.path.expanduser(local_cache.CACHE_LOCATION)) as store:
        for key in list(store.iterkeys()):
            if isinstance(key, str) and key.startswith(prefixes):
                store.delete(key)


def take_demo_lock(store: diskcache.Cache) -> None:
    """Wait while another copy of this demo runs (a killed one's lock lapses)."""
    if not store.add(LOCK, os.getpid(), expire=120):
        print("waiting: another copy of this demo is running")
        while not store.add(LOCK, os.getpid(), expire=120):
            time.sleep(0.1)
    atexit.register(store.delete, LOCK)  # on Ctrl-C or an error too


if __name__ == "__main__":
    lock_store = diskcache.Cache(os.path.expanduser(local_cache.CACHE_LOCATION))
    take_demo_lock(lock_store)
    forget_cached_results(extract_features, fit_model, evaluate, ink_per_image)

# %%
# .. _caching-second-run:
#
# Run the same workflow twice
# ---------------------------
# The first run computes and stores every task's outputs; the second finds all three
# keys and runs no task body at all.
if __name__ == "__main__":
    accuracy = run("run 1, empty cache", digits_pipeline)
    accuracy_again = run("run 2, same inputs", digits_pipeline)
    print(f"held-out accuracy, runs 1 and 2: {accuracy:.3f} and {accuracy_again:.3f}")
    speedup = timings["run 1, empty cache"] / timings["run 2, same inputs"]
    print(f"speed-up of run 2, measured: {speedup:.0f}x")

# %%
# .. _caching-ignored-input:
#
# Change an input the key ignores
# -------------------------------
# ``n_jobs`` is in ``fit_model``'s ``ignored_inputs``, so ``n_jobs=2`` computes the same
# key as ``n_jobs=1``: a hit. Any other input change, say ``n_trees``, would be a miss.
if __name__ == "__main__":
    run("run 3, n_jobs=2", digits_pipeline, n_jobs=2)

# %%
# .. _caching-with-overrides:
#
# Turn the cache off for one call: ``with_overrides(cache=False)``
# -----------------------------------------------------------------
# ``features_without_cache`` calls ``extract_features`` with ``cache=False``. A local
# run ignores the override: the call is served from the entry run 1 stored.
if __name__ == "__main__":
    run("extract_features with cache=False", features_without_cache)

# %%
# .. _caching-compiled-spec:
#
# What a cluster receives
# -----------------------
# Registration compiles each task into a template; its metadata carries the cache
# settings. ``compiled`` serializes an entity offline, as ``pyflyte register`` would;
# naming the ImageSpec's image up front keeps flytekit from asking Docker whether that
# image exists. The override in ``features_without_cache`` lands in the node's metadata,
# while the task template still says ``discoverable``: propeller decides from the
# template.
from collections import OrderedDict

from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.tools.translator import get_serializable


def compiled(entity):
    named = Image(name=image.id, fqn=f"{image.registry}/{image.name}", tag=image.tag)
    config = ImageConfig(default_image=named, images=[named])
    settings = SerializationSettings(image_config=config)
    return get_serializable(OrderedDict(), settings, entity)


if __name__ == "__main__":
    for cached_task in (extract_features, fit_model):
        name = cached_task.name.rsplit(".", 1)[-1]
        meta = compiled(cached_task).template.metadata
        print(f"compiled {name}, discoverable (cache on): {meta.discoverable}")
        print(f"compiled {name}, discovery_version: {meta.discovery_version}")
        print(f"compiled {name}, cache_serializable: {meta.cache_serializable}")
        print(f"compiled {name}, cache_ignore_input_vars: "
              f"{list(meta.cache_ignore_input_vars)}")
    node = compiled(features_without_cache).template.nodes[0]
    print(f"compiled features_without_cache, node cacheable: {node.metadata.cacheable}")

# %%
# .. _caching-stale-result:
#
# Edit the body, keep the version: a stale result
# -----------------------------------------------
# Say you improve ``extract_features`` by appending the raw pixels to the principal
# components, and leave its decorator alone. The redefinition below is that edit: same
# function name in the same module, so the same task name, and the same
# ``Cache(version="1")``. (It rebinds ``extract_features`` for the rest of the script,
# as saving the edited file would.)
#
# The local key is task name + version + inputs; the body is not in it. So the call hits
# the entry stored by the runs above and returns the old 30 features, not the 94 the new
# body computes.
if __name__ == "__main__":
    original_body = extract_features.task_function

    def extract_features(n_components: int) -> np.ndarray:
        components = original_body(n_components)
        return np.hstack([components, load_digits().data / 16.0])

    edited = task(container_image=image, cache=Cache(version="1"))(extract_features)
    stale = run("edited body, version 1", edited, n_components=30)
    print(f"features per image returned: {stale.shape[1]}")

# %%
# .. _caching-version-bump:
#
# Bump the version
# ----------------
# The fix: change the version with the body. Version 2 is a new key, so the new body
# runs.
if __name__ == "__main__":
    bumped = task(container_image=image, cache=Cache(version="2"))(extract_features)
    fresh = run("edited body, version 2", bumped, n_components=30)
    print(f"features per image returned: {fresh.shape[1]}")

# %%
# .. _caching-overwrite:
#
# Or overwrite the entry
# ----------------------
# ``pyflyte run --overwrite-cache`` sets ``FLYTE_LOCAL_CACHE_OVERWRITE=true`` for a
# local run: every cached task then skips the lookup, runs, and replaces its entry under
# the same key. Here it repairs version 1's stale entry; the next plain call hits the
# new one.
if __name__ == "__main__":
    os.environ["FLYTE_LOCAL_CACHE_OVERWRITE"] = "true"  # what --overwrite-cache sets
    try:
        run("edited body, version 1, overwrite", edited, n_components=30)
    finally:
        del os.environ["FLYTE_LOCAL_CACHE_OVERWRITE"]
    repaired = run("edited body, version 1, again", edited, n_components=30)
    print(f"features per image returned: {repaired.shape[1]}")

# %%
# .. _caching-hash-method:
#
# Same pixels, new blob: by reference and by content
# --------------------------------------------------
# Each workflow runs twice. ``digit_images`` is not cached, so it runs both times and
# writes the same pixels to a new blob: by reference, ``ink_per_image`` misses again.
# With the content digest from ``HashMethod``, its second run is a hit.
if __name__ == "__main__":
    for wf in (ink_by_reference, ink_by_content):
        for attempt in (1, 2):
            with cache_events() as events:
                wf()
            outcomes = ", ".join(f"{name} {outcome}" for name, outcome in events)
            print(f"{wf.name.rsplit('.', 1)[-1]}, run {attempt}: {outcomes}")

# %%
# The cache demo is over: let another copy of it start.
if __name__ == "__main__":
    lock_store.delete(LOCK)
    atexit.unregister(lock_store.delete)
    lock_store.close()

# %%
# Where the time went
# -------------------
if __name__ == "__main__":
    import matplotlib.pyplot as plt

    labels = list(timings)
    colors = ["tab:orange" if body_ran[label] else "tab:blue" for label in labels]
    fig, ax = plt.subplots(figsize=(7.4, 4.8))
    ax.barh(labels, [timings[label] for label in labels], color=colors)
    ax.set_xscale("log")
    ax.set_xlim(right=max(timings.values()) * 8)
    ax.invert_yaxis()
    ax.set_xlabel("wall time, measured on the machine that ran it (s, log scale)")
    ax.set_title("A cache hit skips the task body: measured time per call")
    for y, label in enumerate(labels):
        ax.annotate(f"{timings[label]:.3f} s", (timings[label], y), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=10)
    ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color="tab:orange"),
                       plt.Rectangle((0, 0), 1, 1, color="tab:blue")],
              labels=["a task body ran (miss or overwrite)", "all cache hits"],
              loc="upper center", bbox_to_anchor=(0.4, -0.16), ncol=2, frameon=False,
              fontsize=10)
    fig.tight_layout()
    plt.show()

# sphinx_gallery_thumbnail_number = 1
