"""
Caching in flytekit: the evidence
=================================

How the site knows what :ref:`guide-caching` says of flytekit, from the two lessons
:ref:`sphx_glr_auto_examples_cache_rerun_with_caching.py` and
:ref:`sphx_glr_auto_examples_cache_cache_arrays_by_content.py`. Their tasks run here
under a probe that records which task bodies ran and which calls flytekit's local cache
served, starting from an empty cache; then the ways a cached result goes stale, and the
cache settings a cluster receives.
"""

# %%
# .. _caching-probed-runs:
# .. _caching-ignored-input:
#
# What each run did
# -----------------
# The lesson's four runs again, each inside ``probes.flytekit_runs()``. Run 3 changes
# only ``n_jobs``, which ``fit_model``'s key ignores; run 4 changes ``n_trees``.
import contextlib
import io
import os
import shutil
import textwrap

from evidence import figures, lessons, probes, shapes

lesson = lessons.load("cache/rerun_with_caching")
TASKS = ["extract_features", "fit_model", "evaluate"]
stale: set[tuple[str, str]] = set()  # (row, task) pairs the cache served a stale value


def say(line: str) -> None:
    """Print a labelled line; one too wide for the output box goes on indented lines."""
    print(textwrap.fill(line, 82, subsequent_indent="  ", break_long_words=False))


def run(label: str, entity, **inputs):
    """Run ``entity`` quietly under the probe; print what it did; return the probe."""
    with probes.flytekit_runs() as runs, contextlib.redirect_stdout(io.StringIO()):
        runs.value = entity(**inputs)
    say(f"{label}, bodies run: {', '.join(runs.bodies) or 'none'}")
    say(f"{label}, served from the cache: {', '.join(runs.hits) or 'none'}")
    return runs


probed = [
    ("run 1", run("run 1", lesson.digits_pipeline)),
    ("run 2, same inputs", run("run 2", lesson.digits_pipeline)),
    ("run 3, n_jobs=2", run("run 3", lesson.digits_pipeline, n_jobs=2)),
    ("run 4, n_trees=100", run("run 4", lesson.digits_pipeline, n_trees=100)),
]

# %%
# .. _caching-check-on-miss:
#
# A hit skips the checks in the body
# ----------------------------------
# ``n_jobs=0`` is not a valid number of cores: scikit-learn refuses it when the forest
# is fitted. ``fit_model``'s key ignores ``n_jobs``, so the call is served the forest of
# run 1 and nothing checks the value; on a miss the same call fails.
probed.append(("n_jobs=0, a hit",
               run("n_jobs=0, a hit", lesson.digits_pipeline, n_jobs=0)))
try:
    with contextlib.redirect_stdout(io.StringIO()):
        lesson.fit_model.task_function(features=lesson.extract_features.task_function(
            n_components=30), n_trees=200, n_jobs=0)
    print("n_jobs=0, the body run directly: succeeded")
except ValueError as error:
    print(f"n_jobs=0, the body run directly: failed ({type(error).__name__})")

# %%
# .. _caching-with-overrides:
#
# A per-call override that does nothing
# -------------------------------------
# ``with_overrides(cache=False)`` on a call is accepted and compiled into the node, but
# a local run ignores it: the call below is served from the entry run 1 stored.
from flytekit import workflow


@workflow
def features_without_cache(n_components: int = 30):
    lesson.extract_features(n_components=n_components).with_overrides(cache=False)


probed.append(("cache=False override", run("cache=False override",
                                           features_without_cache)))

# %%
# .. _caching-compiled-spec:
#
# What a cluster receives
# -----------------------
# Registration compiles each task into a template whose metadata carries the cache
# settings. The override lands in the node's metadata (``cacheable``), while the task
# template still says ``discoverable``: propeller v1.16.8 decides from the template.
_, templates = probes.flytekit_compiled(lesson.digits_pipeline)
for name in ("extract_features", "fit_model"):
    meta = templates[name].metadata
    print(f"compiled {name}, discoverable (cache on): {meta.discoverable}")
    print(f"compiled {name}, discovery_version: {meta.discovery_version}")
    print(f"compiled {name}, cache_serializable: {meta.cache_serializable}")
    print(f"compiled {name}, cache_ignore_input_vars: "
          f"{list(meta.cache_ignore_input_vars)}")
override_spec, override_templates = probes.flytekit_compiled(features_without_cache)
node = override_spec.template.nodes[0]
print(f"compiled override node, cacheable: {node.metadata.cacheable}")
print(f"compiled override node, its task discoverable: "
      f"{override_templates['extract_features'].metadata.discoverable}")

# %%
# .. _caching-docstring-interface:
#
# Edit a parameter's description
# ------------------------------
# A docstring's ``:param:`` text becomes the description of that input in the compiled
# interface. The local key has no interface in it: the lesson's task given a docstring
# that describes ``n_components`` (``evidence.shapes``), same name and version, is
# served. A cluster hashes the whole interface, descriptions included, into the dataset
# version it looks the entry up under, so there the edit misses.
documented = shapes.documented_features(lesson)
probed.append(("a parameter's description edited",
               run("a parameter's description edited", documented, n_components=30)))
for label, entity in (("before", lesson.extract_features), ("after", documented)):
    _, compiled = probes.flytekit_compiled(entity)
    variable = compiled["extract_features"].interface.inputs["n_components"]
    print(f"compiled interface, n_components described {label}: "
          f"{variable.description!r}")


# %%
# .. _caching-stale-result:
#
# Edit the body, keep the version: a stale result
# -----------------------------------------------
# Say you improve ``extract_features`` by appending the raw pixels to the principal
# components, and leave its decorator alone. The edit below is made in the lesson's own
# module, as saving the file would: same task name, same ``Cache(version="1")``. The key
# holds the name, the version and the inputs, not the body, so the call is served the
# 30 features the old body stored, not the 94 the new one computes.
EDITED_BODY = '''
def extract_features(n_components: int) -> np.ndarray:
    pixels = load_digits().data / 16.0
    pca = PCA(n_components=n_components, whiten=True, random_state=0)
    components = pca.fit(pixels[:N_TRAIN]).transform(pixels)
    return np.hstack([components, pixels])
'''


def edited(version: str):
    """The edited task, as the lesson's file would define it with ``version``."""
    source = EDITED_BODY + (f"\nedited = task(container_image=image, "
                            f"cache=Cache(version={version!r}))(extract_features)\n")
    return lessons.redefine(lesson, source)["edited"]


served_stale = run("edited body, version 1", edited("1"), n_components=30)
print(f"edited body, version 1, features per image returned: "
      f"{served_stale.value.shape[1]}")
probed.append(("edited body, version 1", served_stale))
stale.add(("edited body, version 1", "extract_features"))

# %%
# .. _caching-version-bump:
#
# Bump the version
# ----------------
# The fix: change the version with the body. Version 2 is a new key, so the new body
# runs.
bumped = run("edited body, version 2", edited("2"), n_components=30)
print(f"edited body, version 2, features per image returned: {bumped.value.shape[1]}")
probed.append(("edited body, version 2", bumped))

# %%
# .. _caching-overwrite:
#
# Or overwrite the entry
# ----------------------
# ``pyflyte run --overwrite-cache`` sets ``FLYTE_LOCAL_CACHE_OVERWRITE=true`` for a
# local run: every cached task skips the lookup, runs, and replaces its entry under the
# same key. Here it repairs version 1's stale entry; the next plain call is served the
# new one.
os.environ["FLYTE_LOCAL_CACHE_OVERWRITE"] = "true"  # what --overwrite-cache sets
try:
    probed.append(("version 1, overwrite",
                   run("version 1, overwrite", edited("1"), n_components=30)))
finally:
    del os.environ["FLYTE_LOCAL_CACHE_OVERWRITE"]
repaired = run("version 1, after the overwrite", edited("1"), n_components=30)
print(f"version 1, after the overwrite, features per image: {repaired.value.shape[1]}")
probed.append(("version 1, after the overwrite", repaired))

# %%
# .. _caching-after-reboot:
#
# After a reboot
# --------------
# A local run stores arrays and models under a ``flyte-*`` folder of the system temp
# dir, and the local cache keeps only their paths. A fresh run (``n_components=20``)
# stores its outputs; deleting that folder stands for a reboot. The same run again:
# every task is served, nothing reads the missing files, the run succeeds. Then
# ``n_trees=50``: ``extract_features`` is served a missing array's path, ``fit_model``
# misses and cannot read it, the run fails. ``pyflyte local-cache clear`` (or a new
# version) is the way out.
from flytekit.core.context_manager import FlyteContextManager  # noqa: E402

run("before the reboot, n_components=20", lesson.digits_pipeline, n_components=20)
stored = FlyteContextManager.current_context().file_access.raw_output_prefix
shutil.rmtree(stored)
run("after the reboot, the same run", lesson.digits_pipeline, n_components=20)
try:
    run("after the reboot, n_trees=50", lesson.digits_pipeline, n_components=20,
        n_trees=50)
    rebooted, why = "succeeded", ""
except Exception as error:  # noqa: BLE001: the failure is the point
    rebooted, why = "failed", f" ({type(error).__name__})"
print(f"after the reboot, n_trees=50, the run: {rebooted}{why}")

# %%
# .. _caching-hash-method-probed:
#
# Same pixels, new blob: by reference and by content
# --------------------------------------------------
# The second lesson's workflows, each run twice. By reference, ``ink_per_image`` runs
# both times; with the digest from ``HashMethod``, the second run is served.
by_content = lessons.load("cache/cache_arrays_by_content")
for workflow_name in ("ink_by_reference", "ink_by_content"):
    for attempt in (1, 2):
        label = f"{workflow_name}, run {attempt}"
        probed.append((label, run(label, getattr(by_content, workflow_name))))

# %%
# Every probed run at a glance
# ----------------------------
fig = figures.task_grid(probed, TASKS + ["ink_per_image"],
                        "What flytekit's local cache served, run by run", stale=stale,
                        row_height=0.36)
figures.show(fig)

# %%
# The gallery's cards
# -------------------
# Each card states a page's result in a few words, taken from the runs above by their
# labels.
runs = dict(probed)
override = runs["cache=False override"]
first, again, more_trees = (runs[label] for label in
                            ("run 1", "run 2, same inputs", "run 4, n_trees=100"))
by_address, by_digest = (runs[f"{name}, run 2"] for name in
                         ("ink_by_reference", "ink_by_content"))
figures.page_card("cache_flyte1_evidence", [
    "Caching in flytekit",
    f"stale: {served_stale.value.shape[1]} features, not {bumped.value.shape[1]}",
    f"cache=False override: {'served' if override.hits else 'ran'}",
    f"reboot, new input: {rebooted}"])
cards = {
    "cache/rerun_with_caching": [
        "Rerun with caching",
        f"run 1: {len(first.bodies)} task bodies ran",
        f"run 2: {len(again.hits)} from the cache",
        f"n_trees=100: {len(more_trees.bodies)} ran again"],
    "cache/cache_arrays_by_content": [
        "Arrays keyed by content",
        f"by reference, run 2: {by_address.ran('ink_per_image')} ran",
        f"by content, run 2: {by_digest.served('ink_per_image')} cache hit"],
}
for stem, lines in cards.items():
    figures.lesson_card(stem, lines)
# sphinx_gallery_thumbnail_path = "auto_evidence/cards/cache_flyte1_evidence.png"
