"""
Spot tasks in Flyte 2: the evidence
===================================

How the site knows what :ref:`guide-interruptible` says of the ``flyte`` SDK, from the
lessons :ref:`sphx_glr_auto_examples_interruptible_retries_and_checkpoint.py` and
:ref:`sphx_glr_auto_examples_interruptible_retry_backoff_and_timeouts.py`. Their tasks
run locally under probes of each attempt that starts and each wait before a retry; then
a local checkpoint across runs, the settings a local run ignores, and what the SDK
serializes for a cluster.
"""

# %%
# .. _flyte2-retries-probed:
#
# A local retry resumes from the checkpoint
# -----------------------------------------
# The lesson's run, inside ``probes.flyte_runs()`` (each attempt of a task body that
# starts) and ``probes.flyte_retry_waits()`` (each wait before a retry). The first
# attempt fails after epoch 3; the second loads the checkpoint and starts there. The
# task sets no ``flyte.Backoff``, so the controller waits its own default.
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import flyte
import flyte.errors
import matplotlib.pyplot as plt
import numpy as np

from evidence import figures, lessons, probes, sdk

flyte.init()
retries = lessons.load("interruptible/retries_and_checkpoint")
backoff = lessons.load("interruptible/retry_backoff_and_timeouts")


retried = probes.flyte_attempts(
    retries.train, context=flyte.with_runcontext(interruptible=True), n_epochs=8,
    fail_after=3)
print(f"attempts of train that started: {retried.ran('train')}")
print(f"epoch each attempt started after: {retried.starts}")
print(f"waits before each retry, in seconds: {retried.waits}")
first_wait, factor = sdk.flyte_local_retry_fallback()
print(f"the controller's default without a Backoff: {first_wait} s, times {factor:g} "
      "per retry")
uninterrupted = probes.flyte_attempts(retries.train, n_epochs=8)
print(f"uninterrupted run, attempts: {uninterrupted.ran('train')}")
print(f"retried-and-resumed losses equal the uninterrupted run's: "
      f"{retried.value == uninterrupted.value}")

# %%
# .. _flyte2-retries-nonrecoverable:
#
# What is not retried
# -------------------
# ``NonRecoverableError`` is the opt-out: a bad input fails on its first attempt, with
# two retries to spare. And ``override(retries=0)`` does not remove the retries: the SDK
# keeps the task's own when the override is falsy (``retries or self.retries``), so the
# call is retried; ``flyte.RetryStrategy(count=0)`` removes them.
bad = probes.flyte_attempts(retries.train, n_epochs=8, fail_after=8)
print(f"fail_after=8: failed ({bad.error.code}), attempts started: {bad.ran('train')}")
zero = probes.flyte_attempts(retries.train.override(retries=0), n_epochs=4,
                             fail_after=1)
print(f"override(retries=0): attempts started: {zero.ran('train')}, "
      f"{'succeeded' if zero.error is None else 'failed'}")
none = probes.flyte_attempts(
    retries.train.override(retries=flyte.RetryStrategy(count=0)), n_epochs=4,
    fail_after=1)
print(f"override(retries=RetryStrategy(count=0)): attempts started: "
      f"{none.ran('train')}, {'succeeded' if none.error is None else 'failed'}")

# %%
# .. _flyte2-attempt-number:
#
# The attempt number stays 0 locally
# ----------------------------------
# ``flyte.ctx().attempt_number`` reads ``FLYTE_ATTEMPT_NUMBER``, which a local run does
# not set: both attempts of this task, defined here, see 0. That is why the backoff
# lesson counts its attempts in its checkpoint.
env = flyte.TaskEnvironment(name="interruptible_evidence",
                            image=flyte.Image.from_debian_base())
SEEN: list[int] = []


@env.task(retries=1)
def attempt_number() -> int:
    SEEN.append(flyte.ctx().attempt_number)
    if len(SEEN) == 1:
        raise RuntimeError("fail the first attempt")
    return SEEN[-1]


numbered = probes.flyte_attempts(attempt_number)
print(f"attempt_number in each attempt: {SEEN}")

# %%
# .. _flyte2-backoff-probed:
#
# The backoff paces local retries
# -------------------------------
# The backoff lesson's ``fetch`` fails its first two attempts. Its ``Backoff`` (base
# 0.2 s, factor 3) gives other waits than the controller's default (0.5 s, factor 2),
# so the probe tells which one the controller used: the task's.
paced = probes.flyte_attempts(backoff.fetch, failures=2)
print(f"fetch: attempts started: {paced.ran('fetch')}, returned {paced.value!r}")
print(f"waits before each retry, in seconds: {paced.waits}")
expected = [backoff.BACKOFF.compute_delay(n).total_seconds() for n in range(2)]
print(f"Backoff.compute_delay for retries 1 and 2: {expected}")
default = probes.flyte_attempts(
    backoff.fetch.override(retries=flyte.RetryStrategy(count=4)), failures=2)
print(f"the same task without its Backoff: waits {default.waits}")

# %%
# .. _flyte2-timeouts-local:
#
# No timeout is enforced locally
# ------------------------------
# This task, defined here, allows 0.1 s per attempt and 0.1 s for all attempts
# together, and its body returns only once its own clock shows twice that: the local run
# does not stop it, whatever the bounds say. Nothing in the SDK's local controller reads
# a task's timeout.
BOUND = timedelta(milliseconds=100)


@env.task(timeout=flyte.Timeout(max_runtime=BOUND, max_queued_time=BOUND,
                                 deadline=BOUND))
def outlive_bounds() -> str:
    started = time.monotonic()
    past = threading.Event()
    while not past.wait(0.01):  # wait for the condition, checked every 10 ms
        if time.monotonic() - started > 2 * BOUND.total_seconds():
            past.set()
    return "finished"


outlived = probes.flyte_attempts(outlive_bounds)
print(f"a task past its max_runtime and deadline (0.1 s each): {outlived.value}")

# %%
# .. _flyte2-local-checkpoint-path:
#
# A local checkpoint across runs
# ------------------------------
# Each local run writes its checkpoint to ``<raw data path>/checkpoint`` and loads only
# ``<raw data path>/prev_checkpoint``, which the local controller fills just before a
# retry with the failed attempt's checkpoint. By default every run gets a raw data path
# of its own.
#
# Given the same path (``with_runcontext(raw_data_path=...)``), a second clean run still
# starts from nothing; but once a run on that path was retried, its ``prev_checkpoint``
# stays, and every later run on the path loads it: the state of the attempt that failed.
# ``fetch`` counts its attempts in its checkpoint, so its answer shows what it loaded.
shared = Path(tempfile.mkdtemp(prefix="raw-data-"))
on_shared = flyte.with_runcontext(raw_data_path=str(shared))
for label, failures in (("clean run", 0), ("clean run again", 0),
                        ("run with one failure", 1), ("clean run after it", 0),
                        ("clean run once more", 0)):
    done = probes.flyte_attempts(backoff.fetch, context=on_shared, failures=failures)
    files = ", ".join(sorted(p.name for p in shared.iterdir()))
    print(f"same raw data path, {label}: {done.value!r}")
    print(f"  the path then holds: {files}")

# %%
# .. _flyte2-retries-spec:
#
# What a cluster receives
# -----------------------
# The SDK serializes each task for deployment (``flyte.extras.serialize``, through
# ``probes.flyte_spec``), offline. ``interruptible`` and ``retries`` travel in the task
# template's metadata. ``interruptible`` is set on the ``TaskEnvironment``, on a task
# (``@env.task``) or on one call (``override``), the most specific winning; the run's
# flag (``with_runcontext(interruptible=True)``) travels with the run instead, not in
# any task. The container command carries the checkpoint placeholders the backend fills
# in for each attempt.
spot_env = flyte.TaskEnvironment(name="spot_env", image=flyte.Image.from_debian_base(),
                                 interruptible=True)


@spot_env.task
def inherits() -> None: ...


@spot_env.task(interruptible=False)
def pinned() -> None: ...


for label, call, task in (
        ("train", None, retries.train),
        ("train overridden", "train.override(interruptible=False, retries=5)",
         retries.train.override(interruptible=False, retries=5)),
        ("a task of an interruptible environment", None, inherits),
        ("the same with @env.task(interruptible=False)", None, pinned),
        ("the first with override(interruptible=False)", None,
         inherits.override(interruptible=False))):
    meta = probes.flyte_spec(task).task_template.metadata
    print(f"spec, {label}: interruptible={meta.interruptible}, "
          f"retries={meta.retries.retries}")
    if call:
        print(f"  that is, {call}")
args = list(probes.flyte_spec(retries.train).task_template.container.args)
for flag in ("--checkpoint-path", "--prev-checkpoint"):
    print(f"spec, container command: {flag} {args[args.index(flag) + 1]}")

# %%
# .. _flyte2-backoff-spec:
#
# The backoff and the timeouts in the spec
# ----------------------------------------
# The backoff and the three timeouts travel with the task: the retry strategy's
# ``backoff``, the task's ``timeout`` (``max_runtime``) and its ``timeouts``
# (``queued_timeout`` for ``max_queued_time``, and ``deadline``).
meta = probes.flyte_spec(backoff.fetch).task_template.metadata
strategy = meta.retries
print(f"spec, fetch: retries={strategy.retries}, backoff base="
      f"{strategy.backoff.base.ToTimedelta().total_seconds()} s, factor="
      f"{strategy.backoff.factor:g}, cap={strategy.backoff.cap.ToTimedelta()}")
print(f"spec, fetch: timeout (max_runtime)={meta.timeout.ToTimedelta()}")
print(f"spec, fetch: timeouts queued_timeout="
      f"{meta.timeouts.queued_timeout.ToTimedelta()}, "
      f"deadline={meta.timeouts.deadline.ToTimedelta()}")

# %%
# The loss per epoch of the retried run, by the attempt that computed it.
epochs = np.arange(1, len(retried.value) + 1)
resumed_at = retried.starts[1]
# Text large enough to read when a phone shows the figure at half its drawn width.
READABLE = {"font.size": 14, "axes.titlesize": 15, "axes.labelsize": 14,
            "xtick.labelsize": 13, "ytick.labelsize": 13, "legend.fontsize": 13}
with plt.rc_context(READABLE):
    fig, ax = figures.figure(4.4)
    ax.plot(epochs, uninterrupted.value, color="#999999", lw=7, alpha=0.45,
            label="run without a failure")
    ax.plot(epochs[:resumed_at], retried.value[:resumed_at], "o-", color="#dd8452",
            ms=7, label="attempt 1 (failed)")
    ax.plot(epochs[resumed_at:], retried.value[resumed_at:], "s-", color="#4c72b0",
            ms=7, label="attempt 2 (resumed)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error")
    ax.set_title("Flyte 2, local run: the retry resumes")
    fig.legend(loc="outside lower center", ncols=3, frameon=False)
    figures.show(fig)

# The gallery's cards: each page's result in a few words, from the runs above (the
# last call's value, the card's path, is assigned: the page would print it).
figures.lesson_card("interruptible/retries_and_checkpoint", [
    "Retry from a checkpoint", f"attempts: {retried.ran('train')}",
    f"attempt 2 after epoch {retried.starts[1]}",
    f"same losses: {'yes' if retried.value == uninterrupted.value else 'no'}"])
figures.lesson_card("interruptible/retry_backoff_and_timeouts", [
    "Backoff and timeouts",
    "waits: " + ", ".join(f"{wait:g} s" for wait in paced.waits),
    f"local timeouts: {'ignored' if outlived.value == 'finished' else 'enforced'}",
    f"spec: max_runtime {meta.timeout.ToTimedelta()}"])
figures.page_card("interruptible_flyte2_evidence", [
    "Spot tasks in Flyte 2", "retries, backoff, timeouts", "local runs and specs"])
# sphinx_gallery_thumbnail_path="auto_evidence/cards/interruptible_flyte2_evidence.png"
