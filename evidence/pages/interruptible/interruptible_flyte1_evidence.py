"""
Spot tasks in flytekit: the evidence
====================================

How the site knows what :ref:`guide-interruptible` says of flytekit, from the lessons
:ref:`sphx_glr_auto_examples_interruptible_spot_preemption_with_caching.py` and
:ref:`sphx_glr_auto_examples_interruptible_checkpoint_resume.py`. Their tasks run under
a probe of which task bodies ran and which calls the local cache served; the stages run
again as one coarse task; the flags a cluster receives are compiled; tasks' attempts run
as a cluster's pods run them, one killed with SIGKILL; the spot cost model is drawn.
"""

# %%
# .. _interruptible-probed-runs:
#
# Preempt, then re-run: which stages ran again
# --------------------------------------------
# The lesson's two runs, each inside ``probes.flytekit_runs()``: run 1 loses stage 3,
# ``evaluate``, to the simulated preemption; run 2 has none. Then the same pair for each
# stage the preemption can hit, each pair from an empty local cache. Which stages run
# again follows from the cache, not from timing: a stage that finished stored its
# output, and the re-run is served it.
import contextlib
import io
import math
import pickle
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from evidence import attempts, figures, isolation, lessons, probes, shapes
from evidence.models import interruptible as model

spot = lessons.load("interruptible/spot_preemption_with_caching")
STAGES = list(spot.STAGES)
scratch = Path(tempfile.mkdtemp(prefix="interruptible-evidence-"))
# Text large enough to read when a phone shows a figure at half its drawn width.
READABLE = {"font.size": 14, "axes.titlesize": 15, "axes.labelsize": 14,
            "xtick.labelsize": 13, "ytick.labelsize": 13, "legend.fontsize": 13}


def probed(entity, preempt_stage: int) -> probes.TaskRuns:
    return shapes.probed(entity, preempt_stage, STAGES)


def preempt_then_rerun(entity, preempt_stage: int, name: str):
    with isolation.fresh_local_caches(scratch / f"cache-{name}-{preempt_stage}"):
        return probed(entity, preempt_stage), probed(entity, 0)


fine = {stage: preempt_then_rerun(spot.pipeline, stage, "fine")
        for stage in range(1, len(STAGES) + 1)}
PREEMPTED = 3  # the lesson's run 1 loses stage 3, evaluate
first, rerun = fine[PREEMPTED]
print(f"run 1, preempted at {STAGES[PREEMPTED - 1]}, task bodies run: "
      f"{', '.join(first.bodies)}")
print(f"run 2, task bodies run: {', '.join(rerun.bodies)}")
print(f"run 2, served from the cache: {', '.join(rerun.hits)}")
for stage, (_, again) in fine.items():
    print(f"preempted at {STAGES[stage - 1]} (stage {stage}), re-run runs: "
          f"{', '.join(again.bodies)}")

# %%
# .. _interruptible-coarse:
#
# The coarse shape: one task for all four stages
# ----------------------------------------------
# For comparison, the same stages inside one interruptible task, ``publish`` included (a
# task is interruptible as a whole): ``shapes.coarse_spot_task`` defines ``all_stages``
# in the lesson's module, calling the lesson's stage functions directly, so both shapes
# do exactly the same work. It is not cached: its entry would be written only when all
# four stages succeed, and a hit would skip the side effect.
all_stages = shapes.coarse_spot_task(spot)
coarse_first, coarse_rerun = preempt_then_rerun(all_stages, PREEMPTED, "coarse")
print(f"coarse, run 1, stages worked on: {', '.join(coarse_first.stages)}")
print(f"coarse, run 2, stages worked on: {', '.join(coarse_rerun.stages)}")
print(f"coarse, run 2, served from the cache: "
      f"{', '.join(coarse_rerun.hits) or 'nothing'}")
print(f"both shapes publish the same: {rerun.value == coarse_rerun.value}")

# %%
# The four runs at a glance: fine-grained, each stage is a task the cache can serve;
# coarse, the stages run inside one task, and a re-run does them all again.
rows = [("fine-grained, run 1", first), ("fine-grained, re-run", rerun),
        ("coarse, run 1", coarse_first), ("coarse, re-run", coarse_rerun)]
stage_runs = [(label, probes.TaskRuns(bodies=runs.stages, hits=runs.hits))
              for label, runs in rows]
with plt.rc_context(READABLE):
    title = f"What ran, with {STAGES[PREEMPTED - 1]} preempted in run 1"
    fig = figures.task_grid(stage_runs, STAGES, title)
    figures.show(fig)

# %%
# .. _interruptible-compiled:
#
# What a cluster receives
# -----------------------
# ``interruptible`` and ``retries`` do nothing in a local run; they travel in the
# compiled spec. flytekit copies them from each task into its workflow node's metadata,
# and ``with_overrides`` changes the node's copy only: ``publish``'s task template still
# says ``interruptible=True``, its node says ``False``, and the node's value is the one
# flytepropeller reads.
spec, templates = probes.flytekit_compiled(spot.pipeline)
for node in spec.template.nodes:
    own = templates[node.metadata.name].metadata
    print(f"compiled node {node.metadata.name}: interruptible="
          f"{node.metadata.interruptible}, retries={node.metadata.retries.retries}")
    print(f"  its task template: interruptible={own.interruptible}, "
          f"cached={own.discoverable}")
_, coarse_templates = probes.flytekit_compiled(all_stages)
meta = coarse_templates["all_stages"].metadata
print(f"compiled coarse task all_stages: interruptible={meta.interruptible}, "
      f"retries={meta.retries.retries}, cached={meta.discoverable}")

# %%
# .. _interruptible-crash:
#
# A raised exception and a crash, as a pod ends them
# --------------------------------------------------
# Whether a cluster counts a failure as a user or a system error starts with how the
# task's process ends. Two tasks, each run with its serialized container command
# (``evidence.attempts``, below): one raises ``ValueError``; the other calls
# ``sys.exit(3)``, whose ``SystemExit`` flytekit does not catch. The first writes the
# error document Flyte reads and exits 0. The second exits 3 and leaves nothing to read:
# its pod fails with no reason recorded, a system error, like a reclaimed node.
failing = attempts.failing_tasks(scratch / "failing")
for task in (failing.raises, failing.exits):
    ended = attempts.run_attempt(task, {"code": 3}, scratch / probes.short(task.name),
                                 0)
    print(f"{probes.short(task.name)}: exit code {ended.returncode}, error document: "
          f"{'written' if ended.error_document else 'none'}")

# %%
# .. _checkpoint-attempts:
#
# A checkpointed task, killed and resumed
# ---------------------------------------
# The checkpoint lesson's ``train``, run as a cluster's pods run it
# (``evidence.attempts``): its serialized container command, ``pyflyte-execute ...``,
# with the placeholders flytepropeller fills in; each attempt a process of its own;
# local directories for the blob store. ``{{.checkpointOutputPrefix}}`` is the attempt's
# checkpoint location, ``{{.prevCheckpointPrefix}}`` the previous attempt's (``""`` on a
# first attempt).
#
# Attempt 1 is killed with SIGKILL, as a reclaimed node's pod is, right after it wrote
# the checkpoint that holds epoch 3: the process stops itself after that write and is
# killed while stopped, so where it dies does not depend on timing. Nothing of it
# survives but its checkpoint. Attempt 2 gets that checkpoint as its previous one.
checkpointed = lessons.load("interruptible/checkpoint_resume")
N_EPOCHS, KILLED_AT = 8, 3
args = attempts.container_args(checkpointed.train)
print(f"container command: {args[0]} ... (as serialized for a cluster)")
for flag in ("--checkpoint-path", "--prev-checkpoint"):
    print(f"  {flag} {args[args.index(flag) + 1]}")

work = scratch / "attempts"
inputs = {"n_epochs": N_EPOCHS}
# A first attempt writes its starting state, then one checkpoint per epoch.
killed = attempts.run_attempt(checkpointed.train, inputs, work, 0,
                              kill_after_writes=KILLED_AT + 1)
saved_epoch = pickle.loads(attempts.saved(killed.checkpoint))["epoch"]
resumed = attempts.run_attempt(checkpointed.train, inputs, work, 1,
                               previous=killed.checkpoint)
print(f"attempt 1: exit code {killed.returncode} (SIGKILL), outputs: "
      f"{'none' if killed.outputs is None else 'written'}")
print(f"attempt 1: its checkpoint holds the state after epoch {saved_epoch}")
started = resumed.outputs["first_epoch_here"]
print(f"attempt 2: exit code {resumed.returncode}, resumed after epoch {started}, "
      f"trained epochs {started + 1} to {N_EPOCHS}")

# %%
# Killed right after it restored the state, before its first epoch ended, an attempt
# still hands the state on: it wrote what it restored at once.
chain = scratch / "chain"
restored_only = attempts.run_attempt(checkpointed.train, inputs, chain, 1,
                                     previous=killed.checkpoint, kill_after_writes=1)
after = attempts.run_attempt(checkpointed.train, inputs, chain, 2,
                             previous=restored_only.checkpoint)
print(f"attempt killed right after restoring: exit code {restored_only.returncode}")
print(f"the attempt after it resumed after epoch: {after.outputs['first_epoch_here']}")

# %%
# .. _checkpoint-relaunch:
#
# A new execution starts over
# ---------------------------
# The checkpoint belongs to one execution: Flyte gives a first attempt no previous
# checkpoint (only recovering a failed execution does, see the guide). A local run
# behaves the same way, which lets us check the resumed result: the two attempts
# together computed exactly the losses of an uninterrupted run, because the state held
# everything an epoch depends on.
with contextlib.redirect_stdout(io.StringIO()):
    fresh = checkpointed.training(n_epochs=N_EPOCHS)
print(f"new execution (local run): started from epoch {fresh.first_epoch_here}")
same = fresh.loss_per_epoch == resumed.outputs["loss_per_epoch"]
print(f"killed-and-resumed losses equal the uninterrupted run's: {same}")

# %%
# .. _checkpoint-nothing-saved:
#
# When the previous attempt saved nothing
# ---------------------------------------
# If an attempt dies before its first write, the next attempt's previous-checkpoint
# location holds nothing. flytekit's ``read()`` then raises rather than returning
# ``None``: here a ``SyncCheckpoint`` (the class the container entrypoint builds) reads
# an empty previous location. The lesson's task catches that and starts from epoch 0, as
# an attempt run with such a location shows.
from flytekit.core.checkpointer import SyncCheckpoint  # noqa: E402
from flytekit.exceptions.user import FlyteDataNotFoundException  # noqa: E402

empty = SyncCheckpoint(checkpoint_dest=str(scratch / "cp"),
                       checkpoint_src=str(scratch / "nothing-saved"))
try:
    empty.read()
    raised = "nothing"
except FlyteDataNotFoundException as error:
    raised = type(error).__name__
print(f"read() with nothing saved before: raised {raised}")
nothing = attempts.run_attempt(checkpointed.train, {"n_epochs": 2}, scratch / "empty",
                               1, previous=scratch / "nothing-saved")
print(f"an attempt whose predecessor saved nothing: exit code {nothing.returncode}, "
      f"started from epoch {nothing.outputs['first_epoch_here']}")

# %%
# The loss per epoch, by the process that computed it. The killed attempt's epochs come
# from its checkpoint, the only thing it left behind.
losses = resumed.outputs["loss_per_epoch"]
epochs = np.arange(1, N_EPOCHS + 1)
with plt.rc_context(READABLE):
    fig, ax = figures.figure(4.4)
    ax.plot(epochs, fresh.loss_per_epoch, color="#999999", lw=7, alpha=0.45,
            label="uninterrupted run")
    ax.plot(epochs[:started], losses[:started], "o-", color="#dd8452", ms=7,
            label="attempt 1 (killed)")
    ax.plot(epochs[started:], losses[started:], "s-", color="#4c72b0", ms=7,
            label="attempt 2 (resumed)")
    ax.axvline(started + 0.5, color="#c44e52", ls="--", lw=1.2)
    ax.annotate("attempt 1 killed\n(SIGKILL)", (started + 0.5, 0.95),
                xycoords=("data", "axes fraction"), xytext=(8, 0),
                textcoords="offset points", va="top", color="#c44e52")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error")
    ax.set_title("Attempt 2 resumes from attempt 1's checkpoint")
    fig.legend(loc="outside lower center", ncols=3, frameon=False)
    figures.show(fig)

# %%
# .. _interruptible-model:
#
# Model: expected cost and time on spot
# -------------------------------------
# A MODEL, not a measurement (``evidence.models.interruptible``), for the spot lesson's
# workflow as written: ``featurize``, ``train`` and ``evaluate`` may run on spot,
# ``publish`` runs on demand; the coarse alternative is ``all_stages``, one task on spot
# as a whole. The interruptible guide's calculator computes the same, from these inputs.
#
# Assumptions: preemptions are memoryless (a spot node is reclaimed at a constant rate
# per hour it runs; an attempt that is hit loses all its work); a task gets
# ``spot_attempts`` attempts on spot, then one on demand that always finishes
# (flytepropeller's defaults: 3 on spot, the 4th on demand); each node is retried on its
# own, so the fine-grained unit is one stage, the coarse one the whole pipeline; every
# attempt pays the overhead at its node's price; cost is in on-demand node-hours.
#
# Inputs and their sources: stage run times featurize 15, train 90, evaluate 15, publish
# 5 minutes (assumed: a cluster-scale version of the lesson); spot price 0.30 of on
# demand (assumed, inside AWS's "up to 90%" off, https://aws.amazon.com/ec2/spot/); the
# preemption rate read from AWS's Spot Instance Advisor bands of "Frequency of
# interruption" (https://aws.amazon.com/ec2/spot/instance-advisor/), a band's edge taken
# as the chance that a node running a whole 30-day month is reclaimed in it, 20% by
# default; 1 minute of overhead per attempt (assumed).
SHAPES = {"coarse": False, "fine-grained": True}
print("model input, minutes per stage: "
      + ", ".join(f"{s.name} {s.minutes:g}" for s in model.PIPELINE))
print("model input, runs on demand: "
      + ", ".join(s.name for s in model.PIPELINE if not s.interruptible))
print(f"model input, spot price: {model.SPOT_PRICE_RATIO:.2f} of on demand")
print(f"model input, overhead per attempt: {model.OVERHEAD_MINUTES:g} min")
print(f"model input, attempts on spot: {model.SPOT_ATTEMPTS}, then one on demand")
for band, fraction in model.AWS_ADVISOR_BANDS.items():
    print(f"model, AWS band {band} a month: "
          f"{model.rate_from_monthly_fraction(fraction):.1e} preemptions per node-hour")
monthly = -math.expm1(-model.PREEMPTIONS_PER_HOUR * model.HOURS_PER_MONTH)
break_even = {}
for shape, fine_grained in SHAPES.items():
    on_spot = model.on_spot(model.PIPELINE, fine_grained=fine_grained,
                            preemptions_per_hour=model.PREEMPTIONS_PER_HOUR,
                            **model.MODEL_INPUTS)
    on_demand = model.on_demand(model.PIPELINE, fine_grained=fine_grained,
                                overhead_minutes=model.OVERHEAD_MINUTES)
    at = f"model, {shape}, at {monthly:.0%} a month"
    print(f"{at}, cost: {on_spot.cost:.2f} node-hours on spot, "
          f"{on_demand.cost:.2f} on demand")
    print(f"{at}, time: {on_spot.hours:.2f} h on spot, "
          f"{on_demand.hours:.2f} h on demand")
for shape, fine_grained in SHAPES.items():
    rate = break_even[shape] = model.break_even_rate(
        model.PIPELINE, fine_grained=fine_grained, **model.MODEL_INPUTS)
    print(f"model, break-even, {shape}: {rate:.2f} preemptions per node-hour "
          f"(one every {60 / rate:.0f} min)")

# %%
# .. _interruptible-model-figure:
#
# Expected cost and time by preemption rate
# -----------------------------------------
# Top, expected cost; bottom, expected time; dotted, each shape on demand. The shaded
# band is where AWS's published rates lie; the dash-dotted lines mark the break-evens.
#
# Why the curves rise and then fall. At the published rates a two-hour run is rarely
# hit, and both shapes cost about the spot price. As the rate grows, spot attempts are
# hit after running a long while, and that work is done again: cost passes on demand's
# at the break-even, and time peaks where a unit is hit about once per run (printed
# below).
#
# At still higher rates each spot attempt is hit almost as soon as it starts, so it
# wastes little, and the attempt on demand after the spot attempts does the work: cost
# and time fall back to on demand's. That fall is the fall-back's doing. On a backend
# without one (open-source Flyte 2, see the guide) a task keeps being retried on spot,
# and a unit of ``H`` hours takes ``(e^(rate·H) - 1) / rate`` hours on average: time
# grows with the rate, without bound.
rates = np.logspace(-5, 3, 321)
curves = {shape: [model.on_spot(model.PIPELINE, fine_grained=fine_grained,
                                preemptions_per_hour=rate, **model.MODEL_INPUTS)
                  for rate in rates]
          for shape, fine_grained in SHAPES.items()}
for shape, estimates in curves.items():
    peak = int(np.argmax([e.hours for e in estimates]))
    print(f"model, {shape}, time peaks at {rates[peak]:.1f} preemptions per node-hour: "
          f"{estimates[peak].hours:.2f} h")
    print(f"model, {shape}, time at {rates[-1]:g} preemptions per node-hour: "
          f"{estimates[-1].hours:.2f} h")

with plt.rc_context(READABLE):
    styles = {"coarse": ("#dd8452", "--"), "fine-grained": ("#4c72b0", "-")}
    fig, (cost_ax, time_ax) = figures.figure(7.4, nrows=2, sharex=True)
    for shape, fine_grained in SHAPES.items():
        color, line = styles[shape]
        demand = model.on_demand(model.PIPELINE, fine_grained=fine_grained,
                                 overhead_minutes=model.OVERHEAD_MINUTES)
        cost_ax.plot(rates, [e.cost for e in curves[shape]], line, color=color, lw=2.2,
                     label=f"{shape} on spot")
        cost_ax.axhline(demand.cost, color=color, lw=1.2, ls=":",
                        label=f"{shape} on demand")
        time_ax.plot(rates, [e.hours for e in curves[shape]], line, color=color, lw=2.2)
        time_ax.axhline(demand.hours, color=color, lw=1.2, ls=":")
        cost_ax.axvline(break_even[shape], color=color, lw=1.2, ls="-.")
    for ax in (cost_ax, time_ax):
        ax.set_xscale("log")
        ax.axvspan(rates[0], model.rate_from_monthly_fraction(0.20), color="#55a868",
                   alpha=0.15)
        ax.grid(alpha=0.3)
    cost_ax.text(2e-5, 0.25, "AWS's\nbands", color="#2d6a3e")
    cost_ax.text(40, 0.25, "falls back\nto on demand", ha="center", color="#444444")
    cost_ax.set_ylim(0, None)
    cost_ax.set_ylabel("cost (on-demand\nnode-hours)")
    time_ax.set_ylabel("time (h)")
    time_ax.set_xlabel("preemptions per node-hour (log scale)")
    fig.legend(loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle("MODEL: the pipeline on spot, by preemption rate")
    figures.show(fig)

# The gallery's cards: each page's result in a few words, from the runs above (the
# last call's value, the card's path, is assigned: the page would print it).
figures.lesson_card("interruptible/spot_preemption_with_caching", [
    "Spot stages, each cached", f"preempted at {STAGES[PREEMPTED - 1]}:",
    f"re-run: {len(rerun.bodies)} of {len(STAGES)} stages ran",
    f"as one task: {len(coarse_rerun.stages)} of {len(STAGES)}"])
figures.lesson_card("interruptible/checkpoint_resume", [
    "Checkpoint and resume", f"SIGKILL after epoch {saved_epoch}",
    f"resumed: epochs {started + 1} to {N_EPOCHS}",
    f"same losses: {'yes' if same else 'no'}"])
figures.page_card("interruptible_flyte1_evidence", [
    "Spot tasks in flytekit", "re-runs, SIGKILL, specs", "MODEL break-even at",
    f"{break_even['fine-grained']:.1f} preemptions/node-h"])
# sphinx_gallery_thumbnail_path="auto_evidence/cards/interruptible_flyte1_evidence.png"
