"""The spot lesson does what its guide says: a preempted stage and the ones after it run
again, the cached ones do not; the coarse shape runs everything again; the flags a
cluster receives. Checked in-process with the probes, from an empty local cache."""

from __future__ import annotations

import contextlib
import io
import shutil

import pytest
from flytekit.exceptions.user import FlyteRecoverableException

from conftest import assert_refused_in_one_line, fresh_dir, machine, run_downloaded, run_in_folder
from evidence import attempts, lessons, probes, shapes

NAME = "interruptible/spot_preemption_with_caching"
STAGES = ["featurize", "train", "evaluate", "publish"]


@pytest.fixture(scope="module")
def lesson():
    return lessons.load(NAME)


@pytest.fixture(scope="module")
def all_stages(lesson):
    return shapes.coarse_spot_task(lesson)


def probed(entity, preempt_stage: int) -> probes.TaskRuns:
    return shapes.probed(entity, preempt_stage, STAGES)


@pytest.mark.parametrize("preempted", [1, 2, 3, 4])
def test_rerun_runs_only_the_preempted_stage_and_later_ones(lesson, empty_caches, preempted):
    first = probed(lesson.pipeline, preempted)
    assert first.value is None, "the simulated preemption ends a local run"
    assert first.bodies == STAGES[:preempted], "the first run stops at the preempted stage"
    rerun = probed(lesson.pipeline, 0)
    assert rerun.bodies == STAGES[preempted - 1:]
    assert rerun.hits == STAGES[:min(preempted - 1, 3)], "finished stages come from the cache"
    assert rerun.value.startswith("SVC, held-out accuracy ")


def test_a_local_run_does_not_retry(lesson, empty_caches):
    """retries=3 is in the spec, yet locally the recoverable error ends the run after one
    try of each stage."""
    with probes.flytekit_runs() as runs, contextlib.redirect_stdout(io.StringIO()):
        with pytest.raises(FlyteRecoverableException, match="evaluate lost its node"):
            lesson.pipeline(preempt_stage=3)
    assert runs.bodies == ["featurize", "train", "evaluate"]


def test_publish_runs_on_every_run_because_it_is_not_cached(lesson, empty_caches):
    """A side effect must not be skipped by a cache hit."""
    first, second = probed(lesson.pipeline, 0), probed(lesson.pipeline, 0)
    assert first.bodies == STAGES
    assert second.bodies == ["publish"] and second.hits == STAGES[:3]


def test_the_coarse_task_runs_every_stage_again(lesson, all_stages, empty_caches):
    first = probed(all_stages, 3)
    assert first.value is None and first.stages == STAGES[:3]
    rerun = probed(all_stages, 0)
    assert rerun.bodies == ["all_stages"] and rerun.hits == []
    assert rerun.stages == STAGES, "a coarse task stores nothing until it finishes"


def test_both_shapes_publish_the_same(lesson, all_stages, empty_caches):
    assert probed(lesson.pipeline, 0).value == probed(all_stages, 0).value


def test_the_simulated_preemption_spares_retries(lesson, empty_caches, monkeypatch):
    """On a cluster a retry has FLYTE_ATTEMPT_NUMBER >= 1: the same input runs through."""
    monkeypatch.setenv("FLYTE_ATTEMPT_NUMBER", "1")
    runs = probed(lesson.pipeline, 3)
    assert runs.value.startswith("SVC") and runs.bodies == STAGES


def test_compiled_spec_carries_interruptible_retries_cache_and_the_override(lesson,
                                                                           all_stages):
    spec, templates = probes.flytekit_compiled(lesson.pipeline)
    nodes = {node.metadata.name: node.metadata for node in spec.template.nodes}
    assert list(nodes) == STAGES
    for name in STAGES:
        template = templates[name].metadata
        assert template.interruptible is True and template.retries.retries == 3, name
        assert nodes[name].retries.retries == 3, name
        assert nodes[name].interruptible is (name != "publish"), name
        assert template.discoverable is (name != "publish"), "publish has a side effect"
        if name != "publish":
            assert template.discovery_version == "1", name
            assert tuple(template.cache_ignore_input_vars) == ("preempt_stage",), name
    _, coarse = probes.flytekit_compiled(all_stages)
    meta = coarse["all_stages"].metadata
    assert meta.interruptible is True and meta.retries.retries == 3
    assert not meta.discoverable, "the coarse task holds the side effect"


def test_the_script_run_twice_on_one_machine_says_why_nothing_was_preempted():
    """The local cache outlives the script: the second run finds every stage there, so
    the simulated preemption never happens, and the script says so instead of failing."""
    lesson = lessons.path(NAME)
    folder = fresh_dir("spot-twice")
    shutil.copy(lesson, folder / lesson.name)
    env = machine("spot-twice")
    runs = [run_in_folder(folder, ["python", lesson.name], env) for _ in range(2)]
    assert [run.returncode for run in runs] == [0, 0], runs[-1].stderr[-3000:]
    first, second = (run.stdout.splitlines() for run in runs)
    assert "run 1, preempted: evaluate lost its node; a local run does not retry" in first
    assert "run 1, preempted: no, every stage came from the local cache" in second
    assert shapes.stages_that_ran("\n".join(second), STAGES) == ["publish", "publish"]
    assert first[-1] == second[-1], "the same model is published"


def test_an_out_of_range_stage_is_a_one_line_error_naming_the_input():
    run = run_downloaded(NAME, "pipeline", "--preempt_stage", "7")
    assert_refused_in_one_line(run, "--preempt_stage", "must be 0 to 4, got 7")


def test_a_raised_exception_exits_0_with_an_error_document_and_a_crash_without():
    """How a pod's process ends decides how a cluster counts it: flytekit catches an
    exception, writes error.pb and exits 0; ``sys.exit(3)`` in a task body escapes it,
    and the process exits 3 with nothing for Flyte to read (a pod failed with no reason
    recorded: a system error, as the guide's table says)."""
    work = fresh_dir("failing")
    failing = attempts.failing_tasks(work / "module")
    raised = attempts.run_attempt(failing.raises, {"code": 3}, work / "raised", 0)
    assert (raised.returncode, raised.error_document, raised.outputs) == (0, True, None)
    crashed = attempts.run_attempt(failing.exits, {"code": 3}, work / "crashed", 0)
    assert (crashed.returncode, crashed.error_document, crashed.outputs) == (3, False, None)
