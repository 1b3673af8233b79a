"""
Parallelism in the flyte SDK (Flyte 2): the evidence
====================================================

How the site knows what :ref:`guide-parallelism` says of Flyte 2, from the lessons
:ref:`sphx_glr_auto_examples_parallelize_fan_out_inference_with_flyte_map.py` and
:ref:`sphx_glr_auto_examples_parallelize_limit_flyte2_concurrency.py`. Their tasks run
here, locally, under probes that count how many task bodies ran at once; probe tasks
(``evidence.fan_out``) show by construction what can overlap in a local run and what
cannot; then what a cluster would receive: the task specs and the run spec.
"""

# %%
# .. _parallelism-flyte2-probed:
#
# The lesson's fan-outs, probed
# -----------------------------
# Both parents of the batch-inference lesson, 8 batches with batch 2 corrupt, inside
# ``probes.in_flight()``: at each start of a task body it counts how many bodies of that
# task were running. Under ``flyte.map`` the count is 1 at every start: in a local run
# ``flyte.map`` awaits each item before it starts the next, whatever ``concurrency``
# says. The ``asyncio.gather`` parent gives the same report; how many of its real,
# CPU-bound scoring calls overlap depends on thread timing, so it is not counted here:
# the next section shows what overlaps by construction.
import contextlib
import io

import flyte

from evidence import fan_out, figures, lessons, probes, sdk


def run(runner, task, **inputs):
    """``runner.run(task, **inputs)``'s first output, without the lines task bodies
    print."""
    with contextlib.redirect_stdout(io.StringIO()):
        return runner.run(task, **inputs).outputs()[0]


flyte.init(log_level=50)  # the corrupt batch's traceback is expected: CRITICAL only
lesson = lessons.load("parallelize/fan_out_inference_with_flyte_map")

for parent in (lesson.batch_inference, lesson.batch_inference_gather):
    with probes.in_flight() as flight:
        report = run(flyte, parent, n_batches=8, failing_batch=2)
    print(f"{parent.short_name}, failed batches: {report.failed_batches}")
    print(f"{parent.short_name}, score_batch bodies: "
          f"{len(flight.at_start['score_batch'])}")
    if parent is lesson.batch_inference:
        mapped, mapped_starts = report, flight.at_start["score_batch"]
        print(f"{parent.short_name}, running at each start: {mapped_starts}")

# %%
# .. _parallelism-flyte2-threshold:
#
# When too many batches fail
# --------------------------
# Flyte 2 has no ``min_success_ratio``: the lesson's ``summarize`` is the threshold, in
# plain Python. With 4 batches and one corrupt, 3 of the 4 needed succeed, so the parent
# raises and the run fails with its error.
try:
    run(flyte, lesson.batch_inference, n_batches=4, failing_batch=0)
    print("4 batches, batch 0 corrupt: the run succeeded")
except Exception as error:  # noqa: BLE001: the failure is the point
    print(f"4 batches, batch 0 corrupt: the run failed, {str(error).splitlines()[-1]}")

# %%
# .. _parallelism-flyte2-overlap:
#
# What overlaps in a local run, by construction
# ---------------------------------------------
# Four children per fan-out. A ``*_together`` child waits at a barrier until all four
# have arrived, so its fan-out can finish only if the four ran at the same time; an
# ``async def`` child waits on an ``asyncio.Barrier``, a ``def`` child on a
# ``threading.Barrier``. ``asyncio.gather`` finishes both: four bodies running at the
# fourth start. ``flyte.map`` is shown with children that wait for nothing, and every
# start finds only itself running: given the barrier children, its first child would
# wait forever.
RUNS = [("asyncio.gather, async def", fan_out.gather, {"kind": "async_together"}),
        ("asyncio.gather, def", fan_out.gather, {"kind": "sync_together"}),
        ("flyte.map(concurrency=4), async def", fan_out.map_children,
         {"kind": "async", "concurrency": 4}),
        ("flyte.map(concurrency=4), def", fan_out.map_children,
         {"kind": "sync", "concurrency": 4})]
starts, fan_outs = {}, {}
for label, parent, inputs in RUNS:
    with probes.in_flight() as flight:
        fan_outs[label] = run(flyte, parent, n=4, **inputs)
    starts[label] = next(counts for task, counts in flight.at_start.items()
                         if task.endswith(("_child", "_together")))
    print(f"{label}, children running at each start: {starts[label]}")

# %%
# No ceiling of 1,000 children in a local run: on a cluster the SDK keeps at most 1,000
# children of one parent in flight, but a local run uses another controller. A gather of
# 1,001 barrier children finishes only if all 1,001 run at once.
with probes.in_flight() as flight:
    run(flyte, fan_out.gather, kind="async_together", n=1001)
print(f"asyncio.gather of 1,001 async def barrier children, most running at once: "
      f"{flight.peak('async_child_together'):,}")

# %%
# .. _parallelism-flyte2-threads:
#
# Where the bodies run: the event loop, or a thread each
# ------------------------------------------------------
# Each child of the barrier fan-outs above reports its thread and whether an event loop
# runs in it. An ``async def`` body runs on the event loop, in the parent's own thread,
# so ``async def`` children overlap only where they await; the SDK runs a ``def`` body
# in a thread of its own, one per call, where no event loop runs, so ``def`` children
# run side by side in threads (sharing Python's GIL).
for label in ("asyncio.gather, async def", "asyncio.gather, def"):
    result = fan_outs[label]
    threads = {child.thread for child in result.children}
    on_parent = sum(child.thread == result.parent.thread for child in result.children)
    loops = sum(child.event_loop for child in result.children)
    kind = label.split(", ")[1]
    print(f"{kind} children: {len(threads)} thread(s) for 4, "
          f"{on_parent} on the parent's thread")
    print(f"{kind} children, with an event loop running: {loops} of 4")

# %%
# .. _parallelism-flyte2-zip:
#
# Several mapped lists
# --------------------
# ``flyte.map(task, xs, ys)`` pairs its iterables as ``zip`` does: the shortest decides,
# and the rest of the longer one is dropped without a word, whichever comes first.
# (``functools.partial`` is the other way to give every call more than one input: it
# must leave exactly one parameter open.)
for xs, ys in (([1, 2, 3], [10, 20]), ([1, 2], [10, 20, 30])):
    pairs = run(flyte, fan_out.map_pairs, xs=xs, ys=ys)
    print(f"flyte.map(add, {xs}, {ys}): {pairs}")

# %%
# .. _parallelism-flyte2-run-cap-probed:
#
# The run cap in a local run
# --------------------------
# The second lesson's run again, ``fan_out`` with ``max_action_concurrency=4``: the
# squares start one after another, as any local ``flyte.map``. The cap itself does
# nothing locally: a run capped at 2 actions still finishes a gather of four barrier
# children, which needs all four (and their parent) running at once. A cap of 1 is
# refused when the run context is made, before anything runs.
limits = lessons.load("parallelize/limit_flyte2_concurrency")
with probes.in_flight() as flight:
    run(flyte.with_runcontext(max_action_concurrency=4), limits.fan_out, n=6,
        concurrency=3)
print(f"max_action_concurrency=4, squares running at each start: "
      f"{flight.at_start['square']}")
with probes.in_flight() as flight:
    run(flyte.with_runcontext(max_action_concurrency=2), fan_out.gather,
        kind="async_together", n=4)
capped = flight.at_start["async_child_together"]
print(f"max_action_concurrency=2, barrier children running at each start: {capped}")
refused = None
try:
    flyte.with_runcontext(max_action_concurrency=1)
except ValueError as error:
    refused = str(error).split(". ")[0].split(", got")[0].removeprefix(
        "max_action_concurrency ")
    print(f"max_action_concurrency=1: ValueError, {refused}")

# %%
# .. _parallelism-flyte2-spec:
#
# What a cluster would receive
# ----------------------------
# Deploying sends one task spec per task (``probes.flyte_spec``, what ``flyte deploy``
# builds); nothing in them fans out. The map happens when ``batch_inference`` runs: its
# process submits one child action per batch, at most ``concurrency`` at a time. The run
# cap travels in the run spec that starting a remote run sends (built here offline):
# ``0`` means "not set".
for task in (lesson.batch_inference, lesson.score_batch):
    template = probes.flyte_spec(task).task_template
    inputs = [v.key for v in template.interface.inputs.variables]
    print(f"task spec {task.short_name}, inputs: {inputs}")
    print(f"task spec {task.short_name}, type: {template.type!r}, custom config: "
          f"{template.HasField('custom')}")
    print(f"task spec {task.short_name}, requests: "
          f"{probes.flyte_resources(template.container.resources.requests)}")
sent = {}
for cap in (None, 4):
    runner = flyte.with_runcontext(mode="remote", max_action_concurrency=cap)
    run_spec = sdk.flyte_run_spec(runner, limits.fan_out)
    sent[cap] = run_spec.max_action_concurrency
    print(f"run spec, with_runcontext(max_action_concurrency={cap}): "
          f"max_action_concurrency {sent[cap]}")

# %%
# .. _parallelism-flyte2-figure:
#
# Figure: how many ran at once
# ----------------------------
# One row per fan-out above, one cell per child in the order it started: how many
# children of its fan-out were running when it started, itself included.
import matplotlib.pyplot as plt  # noqa: E402

ROWS = {"asyncio.gather, async def": "gather\nasync def",
        "asyncio.gather, def": "gather\ndef",
        "flyte.map(concurrency=4), async def": "flyte.map\nasync def",
        "flyte.map(concurrency=4), def": "flyte.map\ndef"}
with plt.rc_context({"font.size": 17, "xtick.labelsize": 17, "ytick.labelsize": 17,
                     "axes.titlesize": 17}):
    fig, ax = figures.figure(5.2)
    for y, label in enumerate(ROWS):
        for x, count in enumerate(starts[label]):
            ax.add_patch(plt.Rectangle((x + 0.04, y + 0.06), 0.92, 0.88,
                                       color=plt.cm.Blues(0.25 + 0.18 * count)))
            ax.text(x + 0.5, y + 0.5, str(count), ha="center", va="center", fontsize=24,
                    color="white" if count > 2 else "black")
    ax.set_xlim(0, 4)
    ax.set_ylim(len(ROWS), 0)
    ax.set_xticks([x + 0.5 for x in range(4)], ["1st", "2nd", "3rd", "4th"])
    ax.set_yticks([y + 0.5 for y in range(len(ROWS))], list(ROWS.values()))
    ax.tick_params(length=0)
    ax.set_xlabel("child, in the order it started")
    ax.set_title("Children running when each child started", loc="left")
    for spine in ax.spines.values():
        spine.set_visible(False)
figures.show(fig)

# The gallery's cards: each page's result in a few words, from the runs above (the
# last call's value, the card's path, is assigned: the page would print it).
figures.lesson_card("parallelize/fan_out_inference_with_flyte_map", [
    "flyte.map over batches",
    f"{len(mapped_starts) - len(mapped.failed_batches)} of {len(mapped_starts)} "
    "batches scored",
    f"failed batches: {', '.join(map(str, mapped.failed_batches))}",
    f"locally at once: {max(mapped_starts)}"])
figures.lesson_card("parallelize/limit_flyte2_concurrency", [
    "Cap a run's actions", f"locally, cap 2: {max(capped)} at once",
    f"cap 1: {'refused' if refused else 'accepted'}",
    f"run spec sends: cap {sent[4]}"])
figures.page_card("parallelize_flyte2_evidence", [
    "Parallelism in Flyte 2", "what overlaps locally",
    f"gather: {max(starts['asyncio.gather, def'])} at once",
    f"flyte.map: {max(starts['flyte.map(concurrency=4), def'])} at once"])
# sphinx_gallery_thumbnail_path = "auto_evidence/cards/parallelize_flyte2_evidence.png"
