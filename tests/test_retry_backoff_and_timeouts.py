"""The backoff-and-timeouts lesson does what its guide says: a local run waits what the
task's Backoff says before each retry, enforces none of the three timeouts, and the SDK
sends all of them with the task; what a local checkpoint does across runs."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import timedelta

import flyte
import flyte.errors
import pytest

from conftest import WIDE_TERMINAL, fresh_dir, machine, run_in_folder
from evidence import lessons, probes, sdk

NAME = "interruptible/retry_backoff_and_timeouts"


@pytest.fixture(scope="module")
def lesson():
    flyte.init()
    return lessons.load(NAME)


def test_the_local_controller_waits_what_the_backoff_says(lesson):
    paced = probes.flyte_attempts(lesson.fetch, failures=3)
    assert paced.value == "answered on attempt 4" and paced.ran("fetch") == 4
    assert paced.waits == [lesson.BACKOFF.compute_delay(n).total_seconds()
                           for n in range(3)] == [0.2, 0.6, 1.8]


def test_without_the_backoff_the_controller_waits_its_default(lesson):
    first, factor = sdk.flyte_local_retry_fallback()
    plain = probes.flyte_attempts(
        lesson.fetch.override(retries=flyte.RetryStrategy(count=4)), failures=2)
    assert plain.waits == [first, first * factor] == [0.5, 1.0]


def test_the_backoff_is_capped_and_needs_a_cap_to_grow(lesson):
    assert lesson.BACKOFF.compute_delay(10) == timedelta(minutes=1)
    with pytest.raises(ValueError, match="cap is required"):
        flyte.Backoff(base=timedelta(seconds=1), factor=2.0)


def test_retries_and_timeouts_are_not_environment_settings():
    for setting in ({"retries": 2}, {"timeout": 60}):
        with pytest.raises(TypeError, match="unexpected keyword"):
            flyte.TaskEnvironment(name="no_retries_here", **setting)


def test_a_bad_input_is_not_retried(lesson):
    failed = probes.flyte_attempts(lesson.fetch, failures=9)
    assert failed.error.code == "NonRecoverableError" and failed.ran("fetch") == 1
    assert failed.waits == []


def test_no_timeout_is_enforced_locally():
    """A task whose body returns only once its own clock is past twice its bounds
    finishes: nothing locally reads max_runtime, max_queued_time or deadline."""
    bound = timedelta(milliseconds=50)
    env = flyte.TaskEnvironment(name="bounded", image=flyte.Image.from_debian_base())

    @env.task(timeout=flyte.Timeout(max_runtime=bound, max_queued_time=bound,
                                    deadline=bound))
    def outlive() -> str:
        started, past = time.monotonic(), threading.Event()
        while not past.wait(0.01):
            if time.monotonic() - started > 2 * bound.total_seconds():
                past.set()
        return "finished"

    assert probes.flyte_attempts(outlive).value == "finished"


def test_the_attempt_number_stays_0_locally():
    """Why the lesson counts its attempts in its checkpoint."""
    env = flyte.TaskEnvironment(name="numbered", image=flyte.Image.from_debian_base())
    seen = []

    @env.task(retries=1)
    def numbered() -> int:
        seen.append(flyte.ctx().attempt_number)
        if len(seen) == 1:
            raise RuntimeError("fail the first attempt")
        return seen[-1]

    assert probes.flyte_attempts(numbered).value == 0 and seen == [0, 0]


def test_a_local_checkpoint_across_runs_on_one_raw_data_path(lesson):
    """The SDK loads only <raw data path>/prev_checkpoint, which it fills just before a
    retry: a second clean run on the same path starts from nothing; after a retried
    run, every later run on the path loads the failed attempt's checkpoint."""
    shared = fresh_dir("raw-data")
    on_shared = flyte.with_runcontext(raw_data_path=str(shared))
    answers = [probes.flyte_attempts(lesson.fetch, context=on_shared, failures=failures).value
               for failures in (0, 0, 1, 0, 0)]
    assert answers == ["answered on attempt 1", "answered on attempt 1",
                       "answered on attempt 2", "answered on attempt 2",
                       "answered on attempt 2"]
    assert sorted(p.name for p in shared.iterdir()) == ["checkpoint", "prev_checkpoint"]
    assert (shared / "prev_checkpoint").read_text() == "1", "the failed attempt's state"
    fresh = [probes.flyte_attempts(lesson.fetch, failures=0).value for _ in range(2)]
    assert fresh == ["answered on attempt 1"] * 2, "by default each run has its own path"


def test_spec_carries_the_backoff_and_the_three_timeouts(lesson):
    meta = probes.flyte_spec(lesson.fetch).task_template.metadata
    assert meta.retries.retries == 4
    backoff = meta.retries.backoff
    assert backoff.base.ToTimedelta() == timedelta(seconds=0.2)
    assert backoff.factor == 3.0 and backoff.cap.ToTimedelta() == timedelta(minutes=1)
    assert meta.timeout.ToTimedelta() == timedelta(minutes=5)
    assert meta.timeouts.queued_timeout.ToTimedelta() == timedelta(minutes=30)
    assert meta.timeouts.deadline.ToTimedelta() == timedelta(hours=1)


def test_a_bare_timeout_is_a_max_runtime(lesson):
    meta = probes.flyte_spec(lesson.fetch.override(timeout=90)).task_template.metadata
    assert meta.timeout.ToTimedelta() == timedelta(seconds=90)
    assert not meta.HasField("timeouts")


def test_a_bad_input_fails_the_run_with_one_line_naming_the_input():
    lesson = lessons.path(NAME)
    folder = fresh_dir("backoff-bad-input")
    shutil.copy(lesson, folder / lesson.name)
    env = {**machine("backoff-bad-input"), "COLUMNS": WIDE_TERMINAL}
    done = run_in_folder(folder, ["flyte", "run", "--local", lesson.name, "fetch",
                                  "--failures", "9"], env)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-2000:]
    assert [line for line in output.splitlines()
            if "failures must be 0 to 4, got 9" in line], output[-2000:]
