"""
Parallelism in flytekit: the evidence
=====================================

How the site knows what :ref:`guide-parallelism` says of flytekit, from the lessons
:ref:`sphx_glr_auto_examples_parallelize_fan_out_inference_with_map_task.py` and
:ref:`sphx_glr_auto_examples_parallelize_data_dependent_fan_out_dynamic_vs_eager.py`.
Their workflows run here under probes that record which task bodies ran and how many
ran at once (a count, not a clock), starting from empty caches; then what registration
would send a cluster, and the batch-size model behind the guide's rule and calculator.
"""

# %%
# .. _parallelism-local-probed:
#
# The local map task: one batch at a time, in this process
# --------------------------------------------------------
# The lesson's run again (8 batches, batch 2 corrupt), inside ``probes.flytekit_runs()``
# and ``probes.in_flight()``. The second counts, at each start of a task body, how many
# bodies of that task were running in this process. A count of 1 at every start means
# each batch began after the one before had returned: flytekit's local map task is a
# loop over the items, and ``concurrency=4`` changes nothing locally.
import contextlib
import io
import logging
import math
import struct

import matplotlib.pyplot as plt

from evidence import figures, lessons, probes

lesson = lessons.load("parallelize/fan_out_inference_with_map_task")
# Figures here carry few words, drawn large: a 390 px phone shows them at half size.
PHONE = {"font.size": 19, "axes.titlesize": 19, "legend.fontsize": 17,
         "xtick.labelsize": 18, "ytick.labelsize": 18}


def quietly(entity, **inputs):
    """Run ``entity`` without the lines its task bodies print."""
    with contextlib.redirect_stdout(io.StringIO()):
        return entity(**inputs)


with probes.flytekit_runs() as runs, probes.in_flight() as flight:
    results, report = quietly(lesson.batch_inference, n_batches=8, failing_batch=2)
print(f"score_batch bodies run in this process: {runs.ran('score_batch')}")
print(f"score_batch bodies running at each start: {flight.at_start['score_batch']}")
print(f"map task result: {['ok' if r else 'None' for r in results]}")
print(f"summarize ran: {runs.ran('summarize')} time, saw failed batches "
      f"{report.failed_batches}")

# %%
# .. _parallelism-threshold:
#
# When too many batches fail
# --------------------------
# The map task needs ``ceil(ratio * batches)`` successes. Locally flytekit computes it
# with the Python float 0.8: with 8 batches that is 7, so one failure is tolerated; with
# 4 batches it is 4, so one corrupt batch fails the map task and the run, and
# ``summarize`` never runs. flytekit re-raises the failed item's own error.
flytekit_log = logging.getLogger("flytekit")
with probes.flytekit_runs() as runs:
    level = flytekit_log.level
    # flytekit's ERROR line says what the next printed line says
    flytekit_log.setLevel(logging.CRITICAL)
    try:
        quietly(lesson.batch_inference, n_batches=4, failing_batch=0)
        print("4 batches, batch 0 corrupt: the run succeeded")
    except ValueError as error:
        nan = "Input X contains NaN" in str(error)  # scikit-learn's own message
        print(f"4 batches, batch 0 corrupt: the run failed, ValueError, NaN: {nan}")
    finally:
        flytekit_log.setLevel(level)
print(f"4 batches, batch 0 corrupt: score_batch bodies run: "
      f"{runs.ran('score_batch')}, summarize: {runs.ran('summarize')}")

# %%
# .. _parallelism-array-node:
#
# What a cluster would receive: one ArrayNode
# -------------------------------------------
# The workflow compiled offline, as registration would (``probes.flytekit_compiled``).
# The map task is one node, an ArrayNode: ``parallelism`` is the lesson's
# ``concurrency``, the bound model is listed in ``bound_inputs``, and the resources set
# with ``with_overrides`` sit on the node every item runs as. In the map task's own
# interface only the mapped inputs are lists, and its output is a list of optionals.
#
# The ratio travels as a 32-bit float, a hair above 0.8. Propeller applies the same
# ``ceil(ratio * batches)`` to that value, so wherever ``0.8 * batches`` is a whole
# number, such as 10 batches, a cluster needs one more success than a local run.
spec, templates = probes.flytekit_compiled(lesson.batch_inference)
array_node = next(n.array_node for n in spec.template.nodes if n.array_node)
idl = array_node.to_flyte_idl()
sent = type(idl).FromString(idl.SerializeToString())  # as flyteadmin decodes it
item = sent.node.task_node.overrides.resources
print(f"array node parallelism (concurrency): {sent.parallelism}")
print(f"array node bound inputs: {list(sent.bound_inputs)}")
print(f"each item requests: {probes.flytekit_resources(item.requests)}")
print(f"each item limits: {probes.flytekit_resources(item.limits)}")
print(f"array node min_success_ratio, as sent to the cluster: "
      f"{sent.min_success_ratio!r}")
print(f"0.8 as a 32-bit float: {struct.unpack('<f', struct.pack('<f', 0.8))[0]!r}")
map_template = next(t for name, t in templates.items() if name.endswith("-arraynode"))
for name, variable in sorted(map_template.interface.inputs.items()):
    shape = "a list, one element per batch" if variable.type.collection_type else \
        "one value for every batch"
    print(f"map task input {name}: {shape}")
variants = map_template.interface.outputs["o0"].type.collection_type.union_type.variants
print(f"map task output elements may be None: "
      f"{any(v.simple == 0 for v in variants)}")
for n in (8, 4, 10):
    local, cluster = math.ceil(0.8 * n), math.ceil(sent.min_success_ratio * n)
    print(f"{n} batches need successes: {local} locally, "
          f"{cluster} by propeller's formula")

# %%
# .. _parallelism-unequal-lists:
#
# Mapped lists of different lengths
# ---------------------------------
# A map task pairs its mapped lists by position. Locally flytekit takes the number of
# items from the first mapped input of the task's signature: when that list is the
# shortest, the longer ones are cut to it without a word; when it is the longest, the
# run fails with an ``IndexError``. A cluster fails the node in both cases ("input
# arrays have different lengths"). ``evidence.fan_out.map_task_pairs`` maps
# ``add_items(x, y)``.
from evidence import fan_out  # noqa: E402

print(f"x=[1, 2], y=[10, 20, 30]: "
      f"{fan_out.map_task_pairs(xs=[1, 2], ys=[10, 20, 30])}")
try:
    fan_out.map_task_pairs(xs=[1, 2, 3], ys=[10, 20])
    print("x=[1, 2, 3], y=[10, 20]: ran")
except IndexError:
    print("x=[1, 2, 3], y=[10, 20]: IndexError")

# %%
# .. _parallelism-dynamic-eager-probed:
#
# @dynamic and @eager: which tasks ran
# ------------------------------------
# The second lesson's runs under the probe. ``compare`` runs the tasks its input names;
# ``grow_until`` runs ``train_forest`` until the accuracy it returns reaches the target.
import asyncio  # noqa: E402

choice = lessons.load("parallelize/data_dependent_fan_out_dynamic_vs_eager")
models = ["forest-4", "forest-64", "svc"]
with probes.flytekit_runs() as runs:
    scores = quietly(choice.compare_models, models=models)
print(f"dynamic compare, bodies run: {', '.join(runs.bodies)}")
with probes.flytekit_runs() as runs, contextlib.redirect_stdout(io.StringIO()):
    tried = asyncio.run(choice.grow_until(target=0.92))
print(f"eager grow_until 0.92, train_forest bodies run: {runs.ran('train_forest')}, "
      f"sizes {tried}")

# %%
# .. _parallelism-dynamic-raises:
#
# The same loop in @dynamic raises
# --------------------------------
# Inside ``@dynamic`` a task call returns a promise, not a value: the task has not run
# when the body builds the graph. Branching on it is the error flytekit reports ("Cannot
# perform truth value testing"). A ``@dynamic`` workflow can act on a result only by
# passing it to another ``@dynamic`` workflow, whose body then sees it as an input: one
# more pod and one more compiled graph per decision on a cluster.
from flytekit import dynamic, map_task  # noqa: E402


@dynamic(container_image=choice.image)
def grow_until_in_dynamic(target: float, start_trees: int = 4) -> int:
    n_trees = start_trees
    while n_trees <= choice.MAX_TREES:
        if choice.train_forest(n_trees=n_trees) >= target:  # a promise: raises
            return n_trees
        n_trees *= 2
    return n_trees


try:
    quietly(grow_until_in_dynamic, target=0.92)
    print("dynamic with an if on a task result: ran")
except ValueError as error:
    reason = str(error).split("\n")[1].strip().split(",")[0]
    print("dynamic with an if on a task result: ValueError")
    print(f"  its message: {reason}")

# %%
# .. _parallelism-nesting:
#
# Nesting: a map task inside @dynamic, not the other way round
# ------------------------------------------------------------
# A ``@dynamic`` body may contain a ``map_task``: here the forest sizes come from the
# input. ``map_task`` maps plain tasks (and launch plans), not a ``@dynamic`` or
# ``@eager``: mapping one raises when the map task is defined.


@dynamic(container_image=choice.image)
def forests_up_to(max_trees: int) -> list[float]:
    sizes = [2**k for k in range(1, max_trees.bit_length())]
    return map_task(choice.train_forest)(n_trees=sizes)


with probes.flytekit_runs() as runs:
    nested = quietly(forests_up_to, max_trees=16)
print(f"map_task inside dynamic, up to 16 trees: {runs.ran('train_forest')} forests")
for entity in (choice.compare, choice.grow_until):
    try:
        map_task(entity)
        print(f"map_task over {probes.short(entity.name)}: accepted")
    except ValueError:
        print(f"map_task over {probes.short(entity.name)}: ValueError")

# %%
# flytekit also maps a launch plan, each item a child execution of its own on a cluster;
# ``evidence.fan_out.map_over_plan`` maps one. A local run of it fails in flytekit
# 1.16.31: the map task receives its lists as unresolved promises.
try:
    fan_out.map_over_plan(xs=[1, 2], ys=[10, 20])
    print("map_task over a launch plan, local run: ran")
except ValueError as error:
    print("map_task over a launch plan, local run: ValueError")
    print(f"  its message begins: {str(error)[:40]}...")

# %%
# .. _parallelism-dynamic-eager-compiled:
#
# What a cluster would receive: neither body
# ------------------------------------------
# Registration compiles neither body: the ``@dynamic`` task is registered as a task
# whose graph is built when it runs, and the ``@eager`` one as a task flagged
# ``is_eager``, which launches executions from inside its pod (outside the demo cluster
# it needs credentials for that: ``client_secret_group`` and ``client_secret_key``).
for entity in (choice.compare, choice.grow_until):
    compiled, _ = probes.flytekit_compiled(entity)
    print(f"registered {probes.short(entity.name)}: task type "
          f"{compiled.template.type!r}, eager {compiled.template.metadata.is_eager}")

# %%
# .. _parallelism-dynamic-eager-figure:
#
# What each one trained
# ---------------------
# Accuracy against forest size: the ``@dynamic`` run's models were fixed by its input
# (two forests and an SVC); the ``@eager`` loop's forests stop where the accuracy first
# reached the target. The same task on the same input gives the same accuracy in both.
with contextlib.redirect_stdout(io.StringIO()):
    eager_accuracy = [choice.train_forest(n_trees=n) for n in tried]
sizes = [int(m[7:]) for m in models if m.startswith("forest-")]
with plt.rc_context(PHONE):
    fig, ax = figures.figure(5.0)
    ax.plot(tried, eager_accuracy, "o-", color="tab:orange", label="@eager loop")
    ax.plot(sizes, scores[:len(sizes)], "s", color="tab:blue", markersize=18,
            markerfacecolor="none", markeredgewidth=2, label="@dynamic forests")
    ax.axhline(scores[-1], color="tab:blue", linestyle="--", label="@dynamic svc")
    ax.axhline(0.92, color="grey", linestyle=":")
    ax.text(4, 0.925, "target 0.92", color="grey", va="bottom")
    ax.set(xscale="log", xlabel="trees in the forest", ylabel="accuracy")
    ticks = sorted(set(sizes) | set(tried))
    ax.set_xticks(ticks, [str(n) for n in ticks])
    ax.minorticks_off()
    ax.legend(loc="lower right")
    ax.set_title("Which forests each workflow trained")
figures.show(fig)

# %%
# .. _parallelism-model:
#
# Model: batch size, wall time and pod-minutes on a cluster
# ---------------------------------------------------------
# A local run says nothing about a cluster, where every task pays a start-up: scheduling
# a pod, pulling the image, starting Python, moving inputs and outputs. This MODEL
# (``evidence.models.parallelism``), not a measurement, scores ``items`` images in tasks
# of ``batch_size`` images each. Its inputs, each an assumption:
#
# - ``items``: images to score (2,000,000: an assumed nightly job);
# - ``seconds_per_item``: compute per image (0.02 s, a small convolutional network on
#   one CPU);
# - ``start_up_s``: seconds each task spends not computing (30 s for a cold node:
#   Kubernetes' own target covers only the pod start without the image pull, at most
#   5 s for 99 % of pods; pulling an ML image and starting Python add the rest);
# - ``concurrency``: the map task's ``concurrency``, tasks running at once (100);
# - ``launch_rate_per_s``: pods the cluster starts per second (50, the default
#   kube-scheduler's request limit: an upper bound).
#
# Every task takes ``start_up_s + batch_size * seconds_per_item``; task ``k`` starts
# when a slot is free and the launch rate allows; nothing fails or retries; start-up and
# compute both hold a pod. The batch size to use is the fastest, unless its tasks would
# compute for less than ``MIN_WORK_PER_START_UP`` (10) times their start-up; then the
# smallest batch that does.
from evidence.models import parallelism as model  # noqa: E402

describe = model.describe  # one batch size as printed here and shown by the calculator


for name, value in model.DEFAULTS.items():
    print(f"model input {name}: {value:,}")

# %%
# .. _parallelism-model-answer:
#
# The model's answer
# ------------------
# For the inputs above and three values of ``concurrency`` (tasks at once): the batch
# size the rule picks, and what the fastest batch size would cost instead. At
# ``concurrency`` 1,000 the job is too small to give 1,000 tasks ten times their
# start-up each, so the rule runs fewer tasks: slower, and cheaper in pod-minutes. Last,
# the smallest batch, one image per task, at ``concurrency`` 1,000.
for c in (10, 100, 1000):
    inputs = {**model.DEFAULTS, "concurrency": c}
    use = model.batch_size_to_use(**inputs)
    print(f"model, {c:,} at once, use: {describe(use, inputs)}")
    print(f"model, {c:,} at once, fastest: "
          f"{describe(model.fastest_batch_size(**inputs), inputs)}")
print(f"model, smallest batch: {describe(1, {**model.DEFAULTS, 'concurrency': 1000})}")

# %%
# .. _parallelism-model-figure:
#
# The model, drawn
# ----------------
# Wall time against the batch size, for three values of ``concurrency``; the dashed
# curve is ``concurrency`` 1,000 on a cluster that launches only 2.5 pods a second.
# Circles mark the batch size the rule picks.
batch_sizes = sorted({round(10 ** (k / 40)) for k in range(0, 40 * 6 + 26)})
batch_sizes = [b for b in batch_sizes if b <= model.DEFAULTS["items"]]
curves = [(10, 50.0, "tab:green", "-"), (100, 50.0, "tab:blue", "-"),
          (1000, 50.0, "tab:purple", "-"), (1000, 2.5, "tab:purple", "--")]
with plt.rc_context(PHONE):
    fig, ax = figures.figure(6.4)
    for c, rate, colour, style in curves:
        inputs = {**model.DEFAULTS, "concurrency": c, "launch_rate_per_s": rate}
        walls = [model.wall_time_s(batch_size=b, **inputs) / 60 for b in batch_sizes]
        ax.plot(batch_sizes, walls, color=colour, linestyle=style,
                label=f"{c:,} at once, {rate:g}/s")
        use = model.batch_size_to_use(**inputs)
        ax.plot([use], [model.wall_time_s(batch_size=use, **inputs) / 60], "o",
                color=colour, markerfacecolor="white", markersize=9)
    ax.set(xscale="log", yscale="log", xlabel="images per task (batch size)",
           ylabel="wall time (min)")
    ax.set_xticks([1, 100, 10**4, 10**6])
    ax.set_yticks([1, 10, 100, 10**3, 10**4, 10**5])
    ax.set_ylim(0.7, 2 * 10**5)
    ax.minorticks_off()
    ax.set_title("MODEL: wall time, 2,000,000 images")
    fig.legend(loc="outside lower center", ncols=2, frameon=False,
               title="tasks at once, pods launched per second")
figures.show(fig)

# %%
# Pod-minutes against the batch size, whatever the ``concurrency``: every task pays the
# start-up. Left of the dotted line a task computes for less than ten times its
# start-up.
m = model.DEFAULTS
pods = [model.pod_minutes(m["items"], b, m["seconds_per_item"], m["start_up_s"])
        for b in batch_sizes]
floor = model.MIN_WORK_PER_START_UP * m["start_up_s"] / m["seconds_per_item"]
with plt.rc_context(PHONE):
    fig, ax = figures.figure(4.8)
    ax.plot(batch_sizes, pods, color="tab:orange")
    ax.axvline(floor, color="grey", linestyle=":")
    ax.text(floor * 1.2, max(pods) / 2, "compute =\n10 × start-up", va="top")
    ax.set(xscale="log", yscale="log", xlabel="images per task (batch size)",
           ylabel="pod-minutes")
    ax.set_xticks([1, 100, 10**4, 10**6])
    ax.minorticks_off()
    ax.set_title("MODEL: pod-minutes, 2,000,000 images")
figures.show(fig)

# The gallery's cards: each page's result in a few words, from the runs above (the
# last call's value, the card's path, is assigned: the page would print it).
scored = sum(result is not None for result in results)
figures.lesson_card("parallelize/fan_out_inference_with_map_task", [
    "map_task over batches", f"{scored} of {len(results)} batches scored",
    f"failed batches: {', '.join(map(str, report.failed_batches))}",
    f"locally at once: {flight.peak('score_batch')}"])
figures.lesson_card("parallelize/data_dependent_fan_out_dynamic_vs_eager", [
    "@dynamic vs @eager", f"@dynamic: {len(scores)} named models",
    f"@eager: stops at {tried[-1]} trees",
    f"accuracy {eager_accuracy[-1]:.3f}, target 0.92"])
rule = model.batch_size_to_use(**model.DEFAULTS)
figures.page_card("parallelize_flyte1_evidence", [
    "Parallelism in flytekit", "map, @dynamic, @eager",
    f"MODEL, {model.DEFAULTS['concurrency']:,} at once:", f"{rule:,} images per task"])
# sphinx_gallery_thumbnail_path = "auto_evidence/cards/parallelize_flyte1_evidence.png"
