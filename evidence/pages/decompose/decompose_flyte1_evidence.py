"""
Decomposing in flytekit: the evidence
=====================================

How the site knows what :ref:`guide-decomposition` says of flytekit, from the lessons
:ref:`sphx_glr_auto_examples_decompose_decompose_training_and_inference.py` and
:ref:`Reuse a group of tasks: subworkflow or launch plan
<sphx_glr_auto_examples_decompose_decompose_workflow_as_subworkflow_or_launch_plan.py>`.
Their workflows run here under a probe that records which task bodies ran and which
calls flytekit's local cache served, starting from an empty cache; then what
registration would send a cluster, what travels between the tasks, and the cost model
that says when two tasks beat one on a cluster.
"""

# %%
# .. _decomposition-probed-runs:
#
# What each run did
# -----------------
# The lesson's two runs again, each inside ``probes.flytekit_runs()``. Run 2 changes
# only ``min_confidence``, an input of ``predict``.
import contextlib
import io
import shutil

from evidence import figures, lessons, probes
from evidence.models import decomposition as model

lesson = lessons.load("decompose/decompose_training_and_inference")
# flytekit keeps launch plans by name for the whole process; the build ran the lesson
# in this process already, so forget its launch plan before the lesson defines it again.
from flytekit import LaunchPlan

LaunchPlan.CACHE.pop("train_then_predict_lp", None)
units = lessons.load("decompose/decompose_workflow_as_subworkflow_or_launch_plan")


def run(label: str, entity, **inputs):
    """Run ``entity`` quietly under the probe; print what it did; return the probe."""
    with probes.flytekit_runs() as runs, contextlib.redirect_stdout(io.StringIO()):
        runs.value = entity(**inputs)
    print(f"{label}, bodies run: {', '.join(runs.bodies) or 'none'}")
    print(f"{label}, served from the cache: {', '.join(runs.hits) or 'none'}")
    return runs


first = run("run 1", lesson.train_then_predict, n_trees=100, min_confidence=0.3)
second = run("run 2", lesson.train_then_predict, n_trees=100, min_confidence=0.5)
for label, runs in (("run 1", first), ("run 2", second)):
    report = runs.value
    print(f"{label}, accepted: {report.accepted} of {report.images}, "
          f"correct: {report.correct}")

# %%
# .. _decomposition-compiled:
#
# What a cluster receives
# -----------------------
# Registration compiles each task into a template that carries its resources and its
# cache settings; ``probes.flytekit_compiled`` does it offline, as ``pyflyte register``
# would.
_, templates = probes.flytekit_compiled(lesson.train_then_predict)


def listed(entries) -> str:
    """Resource entries as ``cpu=2, memory=1Gi`` (``none`` when there are none)."""
    found = probes.flytekit_resources(entries)
    return ", ".join(f"{name}={value}" for name, value in found.items()) or "none"


requested = {}  # task: its compiled requests, for the gallery's card
for name in ("train", "predict"):
    resources, meta = templates[name].container.resources, templates[name].metadata
    requested[name] = probes.flytekit_resources(resources.requests)
    cache = f"on, version {meta.discovery_version}" if meta.discoverable else "off"
    print(f"{name}, compiled requests: {listed(resources.requests)}")
    print(f"{name}, compiled limits: {listed(resources.limits)}")
    print(f"{name}, compiled cache: {cache}")

# %%
# .. _decomposition-override-compiled:
#
# One call with more memory
# -------------------------
# ``predict_with_more_memory`` overrides ``predict``'s requests and limits on one call:
# the override travels on the node, not in the task template. Overriding the request
# alone (``requests_only`` below) sends no limit, and on a cluster the request is then
# clamped to the task's own 512 MiB limit; flytekit only logs a warning.
from flytekit import Resources, workflow


@workflow
def requests_only(n_trees: int = 100, min_confidence: float = 0.5):
    model_ = lesson.train(n_trees=n_trees)
    lesson.predict(model=model_, min_confidence=min_confidence).with_overrides(
        requests=Resources(mem="1Gi"))


for entity in (lesson.predict_with_more_memory, requests_only):
    spec, _ = probes.flytekit_compiled(entity)
    (node,) = [n for n in spec.template.nodes if n.id == "n1"]
    overrides = node.task_node.overrides.resources
    label = entity.name.rsplit(".", 1)[-1]
    print(f"{label}, node n1 requests: {listed(overrides.requests)}")
    print(f"{label}, node n1 limits: {listed(overrides.limits)}")

# %%
# .. _decomposition-single-value:
#
# One value, a request only
# -------------------------
# ``Resources(cpu="2", mem="1Gi")`` given as ``resources=`` compiles to a request with
# no limit; a pair, ``cpu=("2", "2")``, sets both. The backend fills a missing limit
# with the request (see the guide).
from flytekit import task


@task(resources=Resources(cpu="2", mem="1Gi"))
def one_value(x: int) -> int:
    return x


@task(resources=Resources(cpu=("2", "2"), mem=("1Gi", "1Gi")))
def pairs(x: int) -> int:
    return x


for entity in (one_value, pairs):
    spec, _ = probes.flytekit_compiled(entity)
    resources = spec.template.container.resources
    label = entity.name.rsplit(".", 1)[-1]
    print(f"{label}, compiled requests: {listed(resources.requests)}")
    print(f"{label}, compiled limits: {listed(resources.limits)}")

# %%
# .. _decomposition-units-compiled:
#
# Subworkflow or launch plan: two kinds of node
# ---------------------------------------------
# ``two_thresholds`` calls the same workflow as a subworkflow and through its launch
# plan. The compiled nodes differ: a subworkflow node refers to the workflow, whose
# nodes a cluster runs inside the parent's execution; a launch plan node refers to the
# launch plan, which a cluster starts as an execution of its own. Locally both run in
# this process, and the second ``train`` is served from the cache.
parent, _ = probes.flytekit_compiled(units.two_thresholds)
node_kinds = []  # each node of two_thresholds in a few words, for the gallery's card
for node in parent.template.nodes:
    ref = node.workflow_node
    if ref.launchplan_ref is not None:
        node_kinds.append("launch plan: own execution")
        kind = f"launch plan {ref.launchplan_ref.name}: a separate execution"
    else:
        node_kinds.append("subworkflow: inside")
        kind = f"subworkflow {ref.sub_workflow_ref.name.rsplit('.', 1)[-1]}: inside"
    print(f"two_thresholds, node {node.id}: {kind}")
both = run("two_thresholds", units.two_thresholds, n_trees=100)
print(f"two_thresholds, accepted: {both.value[0]} and {both.value[1]} of 597")

# %%
# .. _decomposition-handoff:
#
# What travels between the tasks
# ------------------------------
# On a cluster ``train`` uploads its output to the blob store when it ends and
# ``predict`` downloads it when it starts. flytekit stores a scikit-learn model as a
# joblib file and passes a *reference* to it: the literal that travels through Flyte's
# own metadata holds the file's URI. The forest both runs handed to ``predict`` (a cache
# hit now) goes through flytekit's type engine below, as ``train`` hands it on.
from flytekit.core.context_manager import FlyteContextManager
from sklearn.ensemble import RandomForestClassifier

with contextlib.redirect_stdout(io.StringIO()):
    forest = lesson.train(n_trees=100)
literal, reference_bytes = probes.flytekit_literal(forest, RandomForestClassifier)
blob = literal.scalar.blob
file_access = FlyteContextManager.current_context().file_access
model_bytes = file_access.get_filesystem_for_path(blob.uri).size(blob.uri)
print(f"train -> predict, stored as: {blob.metadata.type.format} blob")
print(f"train -> predict, size of the model file: {model_bytes / 2**20:.1f} MiB")
print(f"train -> predict, size of the reference literal: {reference_bytes} bytes")

# %%
# .. _decomposition-inline-size:
#
# Values without a file type travel *inline*, inside the outputs file itself. A Flyte 1
# backend refuses to read an outputs file over ``maxDownloadMBs`` (2 MiB unless the
# deployment raises it): the lines below measure how many floats a ``list[float]`` of
# scores can hold under that.
_, inline_bytes = probes.flytekit_literal([0.5] * 10_000, list[float])
per_item = inline_bytes / 10_000
print(f"inline list[float], bytes per item: {per_item:.1f}")
print(f"inline list[float], items that fit in 2 MiB: {int(2 * 2**20 / per_item):,}")

# %%
# .. _decomposition-after-reboot:
#
# After a reboot
# --------------
# flytekit's local cache keeps the *path* of the stored model, under a ``flyte-*``
# folder of the system temp dir. Deleting that folder below stands for a reboot: the
# next run is served the path of a missing file, and ``predict``, which reads it, fails.
# The way out is ``pyflyte local-cache clear``.
stored = FlyteContextManager.current_context().file_access.raw_output_prefix
shutil.rmtree(stored)
try:
    run("after the temp dir was emptied", lesson.train_then_predict, n_trees=100)
    print("after the temp dir was emptied, the run: succeeded")
except Exception as error:  # noqa: BLE001: the failure is the point
    print(f"after the temp dir was emptied, the run: failed ({type(error).__name__})")

# %%
# Every probed run at a glance
# ----------------------------
fig = figures.task_grid(
    [("run 1", first), ("run 2", second), ("two_thresholds", both)],
    ["train", "predict"], "What the local cache served, run by run")
figures.show(figures.for_phones(fig))

# %%
# .. _decomposition-model:
#
# When two tasks beat one on a cluster: a model
# ---------------------------------------------
# A local run starts no pods, so what the split costs on a cluster comes from
# ``evidence.models.decomposition``: one task sized for the larger step, against two
# tasks each sized for its own step that hand a file over through the blob store. It is
# a model, not a measurement. Its inputs: the lesson's pipeline at cluster scale (a
# forest trained on a million rows, then scoring a batch), a 5 s pod start, 85 MB/s and
# AWS Fargate's prices; the model's docstring gives the source of each number.
FIRST, SECOND = model.FIRST, model.SECOND
HANDOFF, OVERHEAD = model.HANDOFF_BYTES, model.OVERHEAD


def step(label: str, s: model.Step) -> str:
    return f"{label}: {s.seconds:,.0f} s on {s.cpu:g} CPU and {s.memory_gib:g} GiB"


print(f"model input, {step('first step (training)', FIRST)}")
print(f"model input, {step('second step (scoring)', SECOND)}")
print(f"model input, hand-off: {HANDOFF / 1e9:.1f} GB, "
      f"{model.transfer_seconds(HANDOFF, OVERHEAD):.0f} s each way")
print(f"model input, pod start: {OVERHEAD.pod_start_s:g} s per task")

# %%
# .. _decomposition-verdict:
#
# One run, and a re-run of the second step alone. "Cost" is USD per 1,000 runs.
together = model.keep_together(FIRST, SECOND, OVERHEAD)
split = model.split(FIRST, SECOND, HANDOFF, OVERHEAD)
rerun = model.rerun_split(SECOND, HANDOFF, OVERHEAD)
for label, choice in (("one task", together), ("two tasks", split)):
    print(f"one run, {label} (model): {choice.seconds:,.0f} s, "
          f"USD {1000 * choice.usd:,.1f} / 1,000 runs")
cheaper = "two tasks" if split.usd < together.usd else "one task"
print(f"one run, cheaper (model): {cheaper}")
even = model.break_even_second_seconds(FIRST, SECOND, HANDOFF, OVERHEAD)
print(f"break-even (model): two tasks cost less once scoring runs {even:,.0f} s")
for label, choice in (("one task", together), ("two tasks", rerun)):
    print(f"re-run of scoring alone, {label} (model): {choice.seconds:,.0f} s, "
          f"USD {1000 * choice.usd:,.1f} / 1,000 runs")
repay = model.reruns_to_repay(FIRST, SECOND, HANDOFF, OVERHEAD)
print(f"re-runs of scoring alone that repay the split's extra time (model): {repay}")

# %%
# .. _decomposition-figure:
#
# The break-even, drawn
# ---------------------
# What two tasks cost more than one, per run, as the scoring step's run time grows, the
# other inputs as above. Below the zero line two tasks are cheaper.
import numpy as np

seconds = np.logspace(0, 4, 200)  # 1 s to about 3 hours
extra = []
for t in seconds:
    s = model.Step(float(t), SECOND.cpu, SECOND.memory_gib)
    one = model.keep_together(FIRST, s, OVERHEAD).usd
    extra.append(100 * (model.split(FIRST, s, HANDOFF, OVERHEAD).usd - one) / one)
fig, ax = figures.figure(4.2)
ax.plot(seconds, extra, linewidth=2.5, color="#4c72b0", label="two tasks, against one")
ax.axhline(0, color="black", linewidth=1)
ax.axvline(even, color="#c44e52", linestyle="--", label=f"break-even, {even:,.0f} s")
ax.axvline(SECOND.seconds, color="#555555", linestyle=":",
           label=f"scoring in the scenario, {SECOND.seconds:g} s")
ax.set_xscale("log")
ax.set_xlabel("run time of the second step (s)")
ax.set_ylabel("extra cost per run (%)")
ax.set_title("Model: the extra cost of two tasks over one")
ax.legend(loc="upper right")
figures.show(figures.for_phones(fig))

# %%
# The gallery's cards
# -------------------
# Each card states a page's result in a few words, taken from the runs, the compiled
# specs and the model above.


def profile(name: str) -> str:
    """A task's compiled requests in a few characters: ``2 CPU, 1Gi``."""
    return f"{requested[name]['cpu']} CPU, {requested[name]['memory']}"


figures.page_card("decompose_flyte1_evidence", [
    "Decomposing in flytekit",
    f"forest: {model_bytes / 2**20:.1f} MiB, as a file",
    f"model: split if scoring > {even:,.0f} s"])
cards = {
    "decompose/decompose_training_and_inference": [
        "Train, then predict",
        f"train: {profile('train')}",
        f"predict: {profile('predict')}",
        f"run 2, from the cache: {', '.join(second.hits) or 'none'}"],
    "decompose/decompose_workflow_as_subworkflow_or_launch_plan": [
        "Reuse a group of tasks",
        *node_kinds,
        f"train: {both.ran('train')} ran, {both.served('train')} served"],
}
for stem, lines in cards.items():
    figures.lesson_card(stem, lines)
# sphinx_gallery_thumbnail_path = "auto_evidence/cards/decompose_flyte1_evidence.png"
