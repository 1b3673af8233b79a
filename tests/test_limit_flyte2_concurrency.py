"""The Flyte 2 caps lesson does what its page, its evidence page and the parallelism guide
say: the SDK refuses a run cap of 1 (and below 0), in the API and on the command line; a
local run applies neither cap (children that must all run at once finish under a cap of
2; flyte.map starts one item at a time whatever its concurrency); a remote run would send
the run cap in its RunSpec."""

from __future__ import annotations

import re
import shutil

import flyte
import pytest

from conftest import WIDE_TERMINAL, fresh_dir, machine, run_in_folder
from evidence import fan_out, lessons, probes, sdk

NAME = "parallelize/limit_flyte2_concurrency"


@pytest.fixture(scope="module")
def lesson():
    flyte.init(log_level=50)
    return lessons.load(NAME)


def plain(output: str) -> str:
    return " ".join(re.sub(r"\x1b\[[0-9;]*m|[│╭╮╰╯─]", " ", output).split())


@pytest.mark.parametrize("cap", [1, -1])
def test_the_sdk_refuses_a_run_cap_of_1_or_below_0(lesson, cap):
    with pytest.raises(ValueError, match=f"at least 2, got {cap}"):
        flyte.with_runcontext(max_action_concurrency=cap)


def test_a_cap_of_1_is_refused_because_the_parent_holds_a_slot(lesson):
    with pytest.raises(ValueError, match="parent action holds a concurrency slot"):
        flyte.with_runcontext(max_action_concurrency=1)


def test_a_local_run_applies_neither_cap(lesson):
    """flyte.map(concurrency=3) starts one square at a time (not three), and a run capped
    at 2 actions finishes four children that wait at a barrier for all four."""
    with probes.in_flight() as flight:
        run = flyte.with_runcontext(max_action_concurrency=4).run(lesson.fan_out, n=6,
                                                                  concurrency=3)
    assert run.outputs()[0] == [x * x for x in range(6)]
    assert flight.at_start["square"] == [1] * 6
    with probes.in_flight() as flight:
        flyte.with_runcontext(max_action_concurrency=2).run(fan_out.gather,
                                                            kind="async_together", n=4)
    assert flight.peak("async_child_together") == 4


@pytest.mark.parametrize("cap, sent", [(None, 0), (0, 0), (4, 4)])
def test_a_remote_run_sends_the_cap_in_its_run_spec(lesson, cap, sent):
    runner = flyte.with_runcontext(mode="remote", max_action_concurrency=cap)
    assert sdk.flyte_run_spec(runner, lesson.fan_out).max_action_concurrency == sent


def test_fan_out_rejects_inputs_out_of_range(lesson):
    with pytest.raises(Exception, match="need 1 <= n <= 1000"):
        flyte.run(lesson.fan_out, n=0, concurrency=3)


def test_flyte_run_refuses_max_action_concurrency_1_before_running():
    folder = fresh_dir("run-cap")
    lesson = lessons.path(NAME)
    shutil.copy(lesson, folder / lesson.name)
    run = run_in_folder(folder, ["flyte", "run", "--local", "--max-action-concurrency", "1",
                                 lesson.name, "fan_out"],
                        {**machine("run-cap"), "COLUMNS": WIDE_TERMINAL})
    output = plain(run.stdout + run.stderr)
    assert run.returncode == 1, output[-2000:]
    assert ("Execution failed: max_action_concurrency must be 0 (platform default) or at "
            "least 2, got 1") in output
    assert "square ran" not in output
