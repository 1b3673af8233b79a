"""
Decomposing with the flyte SDK: the evidence
============================================

How the site knows what :ref:`guide-decomposition` says of Flyte 2, from the lesson
:ref:`sphx_glr_auto_examples_decompose_decompose_with_task_environments.py`. Its driver
runs here under a probe that records which task bodies ran, in which threads, and which
calls the local cache served, starting from an empty cache; then what ``flyte deploy``
would send a cluster, what a reusable environment serializes to, and what travels
between the tasks.
"""

# %%
# .. _decomposition2-probed-runs:
#
# What each run did
# -----------------
# The lesson's two runs again, each inside ``probes.flyte_runs()``. Run 2 changes only
# ``min_confidence``, an input of ``predict``. Every action runs in this process (the
# probe sees each body start here).
import contextlib
import io
import os
import shutil
import sys
import textwrap
from pathlib import Path

import flyte

from evidence import figures, lessons, probes

lesson = lessons.load("decompose/decompose_with_task_environments")
flyte.init()


def run(label: str, entity, **inputs):
    """Run ``entity`` locally and quietly under the probe; print what it did."""
    with probes.flyte_runs() as runs, contextlib.redirect_stdout(io.StringIO()):
        runs.value = flyte.run(entity, **inputs).outputs()[0]
    print(f"{label}, bodies run: {', '.join(runs.bodies) or 'none'}")
    print(f"{label}, served from the cache: {', '.join(runs.hits) or 'none'}")
    return runs


first = run("run 1", lesson.train_then_predict, min_confidence=0.3)
second = run("run 2", lesson.train_then_predict, min_confidence=0.5)
for label, runs in (("run 1", first), ("run 2", second)):
    print(f"{label}, accepted: {runs.value.accepted} of {runs.value.images}")

# %%
# .. _decomposition2-serialized:
#
# What a cluster receives
# -----------------------
# ``probes.flyte_spec`` serializes a task offline, as ``flyte deploy`` would. Each spec
# carries its environment's resources as requests only; the cache is on for ``train``
# alone, its version a hash of the function's source.
specs = {task.name: probes.flyte_spec(task).task_template
         for task in (lesson.train, lesson.predict, lesson.train_then_predict)}


def listed(entries) -> str:
    found = probes.flyte_resources(entries)
    return ", ".join(f"{name}={value}" for name, value in found.items()) or "none"


for name, template in specs.items():
    resources, meta = template.container.resources, template.metadata
    version = meta.discovery_version[:12]
    cache = f"on, version {version}..." if meta.discoverable else "off"
    print(f"{name}, type: {template.type}")
    print(f"{name}, requests: {listed(resources.requests)}")
    print(f"{name}, limits: {listed(resources.limits)}")
    print(f"{name}, cache: {cache}")
depends_on = ", ".join(env.name for env in lesson.driver.depends_on)
print(f"digits_driver, depends on: {depends_on}")

# %%
# .. _decomposition2-reusable:
#
# A reusable environment
# ----------------------
# ``flyte.ReusePolicy`` asks for warm containers: ``replicas`` (a count, or a minimum
# and a maximum), ``idle_ttl`` (the whole pool goes after this long without a task),
# ``scaledown_ttl`` (one idle replica above the minimum goes after this long) and
# ``concurrency`` (tasks at once per replica). Its defaults, as the SDK fills them in:
defaults = flyte.ReusePolicy()
print(f"ReusePolicy(), replicas: {defaults.min_replicas} to {defaults.max_replicas}")
print(f"ReusePolicy(), idle_ttl: {defaults.idle_ttl.total_seconds():g} s")
print(f"ReusePolicy(), scaledown_ttl: {defaults.scaledown_ttl.total_seconds():g} s")
print(f"ReusePolicy(), concurrency: {defaults.concurrency}")
print(f"ReusePolicy(), scope: {defaults.scope}")

# %%
# The SDK refuses a few settings before anything runs: a TTL under 30 s (or ``None``),
# a concurrency above 1 for a synchronous task, and new resources for a reusable task
# (they are the environment's: every replica holds them).
attempts = {
    "idle_ttl=10": lambda: flyte.ReusePolicy(idle_ttl=10),
    "idle_ttl=None": lambda: flyte.ReusePolicy(idle_ttl=None),
    "concurrency=2, def task": lambda: flyte.TaskEnvironment(
        name="sync_pool", reusable=flyte.ReusePolicy(concurrency=2)).task(
        lambda x: x),
    "reusable task, resources": lambda: lesson.predict.override(
        reusable=flyte.ReusePolicy()).override(resources=flyte.Resources(cpu=2)),
}
for label, attempt in attempts.items():
    try:
        attempt()
        print(f"refused, {label}: no")
    except ValueError as error:
        reason = str(error).split(". ")[0].rstrip(".")
        print(textwrap.fill(f"refused, {label}: {reason}", 82,
                            subsequent_indent="  "))

# %%
# ``predict_warm`` is the lesson's ``predict`` with two warm replicas kept for five
# minutes after the last call. It serializes to a task of type ``actor`` that carries
# the policy; locally it runs like any other task, in this process.
predict_warm = lesson.predict.override(
    reusable=flyte.ReusePolicy(replicas=2, idle_ttl=300))
warm = probes.flyte_spec(predict_warm).task_template
policy = warm.reuse_policy
print(f"predict_warm, type: {warm.type} (predict: {specs[lesson.predict.name].type})")
print(f"predict_warm, replicas: {policy.min_replicas} to {policy.max_replicas}, "
      f"concurrency {policy.concurrency}")
print(f"predict_warm, idle_ttl: {policy.idle_ttl.seconds} s, "
      f"scaledown_ttl: {policy.scaledown_ttl.seconds} s")
print(f"predict_warm, requests: {listed(warm.container.resources.requests)}")
with contextlib.redirect_stdout(io.StringIO()):
    forest = flyte.run(lesson.train, n_trees=lesson.MAX_TREES).outputs()[0]
warm_run = run("predict_warm, local run", predict_warm, model=forest,
               min_confidence=0.5)

# %%
# .. _decomposition2-handoff:
#
# What travels between the tasks
# ------------------------------
# Flyte 2 has no scikit-learn type, so it pickles the forest. Its pickle transformer
# writes a file only when ``sys.getsizeof`` of the object exceeds 10 KB, and
# ``sys.getsizeof`` of an estimator counts only the outer object: the whole forest
# travels *inline*, inside the outputs of ``train`` and the inputs of ``predict``.
from sklearn.ensemble import RandomForestClassifier

literal, inline = probes.flyte_literal(forest, RandomForestClassifier)
per_tree = inline / lesson.MAX_TREES
limit = lesson.predict.max_inline_io_bytes
print(f"train -> predict, sys.getsizeof(forest): {sys.getsizeof(forest)} bytes")
print(f"train -> predict, passed as: {literal.scalar.WhichOneof('value')} (inline)")
print(f"train -> predict, {lesson.MAX_TREES} trees inline: {inline / 2**20:.2f} MiB")
print(f"train -> predict, inline bytes per tree: {per_tree / 1000:.1f} KB")
print(f"predict, max_inline_io_bytes: {limit / 2**20:g} MiB")
print(f"trees that fit in 10 MiB (the SDK's limit): {int(limit / per_tree)}")
print(f"trees that fit in 2 MiB (open-source maxDownloadMBs): {int(2**21 / per_tree)}")

# %%
# .. _decomposition2-inline-local:
#
# A local run does not check ``max_inline_io_bytes``: ``predict`` allowed 1 MiB still
# takes the 40-tree forest here. On a cluster the calling task's SDK refuses to upload
# such inputs.
small = lesson.predict.override(max_inline_io_bytes=2**20)
tight = run("predict with a 1 MiB limit, local run", small, model=forest,
            min_confidence=0.5)

# %%
# .. _decomposition2-after-reboot:
#
# After the temp dir is emptied
# -----------------------------
# The local cache keeps the inline forest itself, not a path: emptying the folder of
# local runs (as a reboot empties the temp dir) leaves the cache hit working.
runs_dir = Path(os.environ.get("TMPDIR", "/tmp"), "flyte")
shutil.rmtree(runs_dir, ignore_errors=True)
after = run("after the temp dir was emptied", lesson.train_then_predict,
            min_confidence=0.5)

# %%
# .. _decomposition2-trace:
#
# A step too short to be a task
# -----------------------------
# ``@flyte.trace`` marks a function a task calls; locally it runs inside the calling
# task's body, and no other task body starts.
env = flyte.TaskEnvironment(name="trace_demo", image=lesson.image)


@flyte.trace
async def threshold_for(strict: bool) -> float:
    return 0.5 if strict else 0.3


@env.task
async def pick_threshold(strict: bool) -> float:
    return await threshold_for(strict)


traced = run("trace", pick_threshold, strict=True)
print(f"trace, returned: {traced.value}")

# %%
# Every probed run at a glance
# ----------------------------
fig = figures.task_grid(
    [("run 1", first), ("run 2", second), ("temp dir emptied", after)],
    ["train_then_predict", "train", "predict"],
    "What the local cache served, run by run")
figures.show(figures.for_phones(fig))

# %%
# The gallery's cards
# -------------------
# Each card states a page's result in a few words, taken from the runs and the
# serialized specs above.


def profile(task) -> str:
    """A task's serialized requests in a few characters: ``2 CPU, 1Gi``."""
    found = probes.flyte_resources(specs[task.name].container.resources.requests)
    return f"{found['cpu']} CPU, {found['memory']}"


figures.page_card("decompose_flyte2_evidence", [
    "Decomposing in Flyte 2",
    f"forest inline: {inline / 2**20:.2f} MiB",
    f"10 MiB limit: {int(limit / per_tree)} trees",
    f"reusable task: type {warm.type}"])
cards = {
    "decompose/decompose_with_task_environments": [
        "Task environments",
        f"train: {profile(lesson.train)}",
        f"predict: {profile(lesson.predict)}",
        f"run 2, from the cache: {', '.join(second.hits) or 'none'}"],
}
for stem, lines in cards.items():
    figures.lesson_card(stem, lines)
# sphinx_gallery_thumbnail_path = "auto_evidence/cards/decompose_flyte2_evidence.png"
