"""The Flyte 2 fan-out lesson (flyte.map and asyncio.gather) does what its page, its
evidence page and the parallelism guide say: failures come back in place and the parent
decides, several lists are zipped, a local flyte.map runs one item at a time while
asyncio.gather runs its calls at once (shown by construction: children that wait for each
other), async bodies run on the event loop and def bodies in a thread each, and deploying
would send the task specs asserted here, none of which describes the fan-out."""

from __future__ import annotations

import functools
import re
import shutil

import flyte
import pytest

from conftest import WIDE_TERMINAL, fresh_dir, machine, run_in_folder
from evidence import fan_out, lessons, probes

NAME = "parallelize/fan_out_inference_with_flyte_map"
HELD_OUT = 297


@pytest.fixture(scope="module")
def lesson():
    flyte.init(log_level=50)  # the failing batches are expected
    return lessons.load(NAME)


def outputs(task, **inputs):
    return flyte.run(task, **inputs).outputs()[0]


def plain(output: str) -> str:
    """CLI output without colours, box borders and line wrapping."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m|[│╭╮╰╯─]", " ", output).split())


# --- failures come back in place; the parent decides -------------------------------------------

@pytest.mark.parametrize("n_batches, failing_batch", [(8, 2), (5, 0), (6, 5), (3, -1)])
@pytest.mark.parametrize("parent", ["batch_inference", "batch_inference_gather"])
def test_the_failed_batch_is_reported_at_its_index_and_the_rest_are_scored(
        lesson, parent, n_batches, failing_batch):
    report = outputs(getattr(lesson, parent), n_batches=n_batches, failing_batch=failing_batch)
    assert report.failed_batches == ([failing_batch] if failing_batch >= 0 else [])
    assert (report.images_scored == HELD_OUT) == (failing_batch < 0)
    assert report.images_scored <= HELD_OUT


def test_below_the_ratio_the_parent_task_fails(lesson):
    with pytest.raises(Exception, match="1 of 4 batches failed"):
        flyte.run(lesson.batch_inference, n_batches=4, failing_batch=0)


def test_flyte_map_yields_each_failure_in_its_place_by_default(lesson):
    """In place, as the SDK's RuntimeUserError whose code names the task's own error."""
    assert outputs(fan_out.map_failures, xs=[1, -2, 3], return_exceptions=True) == [
        "1", "RuntimeUserError(ValueError)", "9"]


def test_flyte_map_with_return_exceptions_false_raises_the_first_failure(lesson):
    with pytest.raises(Exception, match="negative input -2"):
        flyte.run(fan_out.map_failures, xs=[1, -2, 3], return_exceptions=False)


def test_flyte_map_zips_several_lists_and_stops_at_the_shortest(lesson):
    assert outputs(fan_out.map_pairs, xs=[1, 2, 3], ys=[10, 20, 30]) == [11, 22, 33]
    assert outputs(fan_out.map_pairs, xs=[1, 2, 3], ys=[10, 20]) == [11, 22]
    assert outputs(fan_out.map_pairs, xs=[1, 2], ys=[10, 20, 30]) == [11, 22]


def test_a_partial_for_flyte_map_must_leave_exactly_one_input_open(lesson):
    """Why the lesson packs images and labels into one Batch."""
    with pytest.raises(TypeError, match="exactly one parameter unspecified"):
        list(flyte.map(functools.partial(fan_out.add), [1], [2]))


# --- what overlaps in a local run, by construction -----------------------------------------------

def test_locally_flyte_map_starts_each_item_after_the_last_returned(lesson):
    with probes.in_flight() as flight:
        outputs(lesson.batch_inference, n_batches=8, failing_batch=2)
    assert flight.at_start["score_batch"] == [1] * 8
    for kind in ("async", "sync"):
        with probes.in_flight() as flight:
            outputs(fan_out.map_children, kind=kind, n=4, concurrency=4)
        assert flight.at_start[f"{kind}_child"] == [1, 1, 1, 1], kind


@pytest.mark.parametrize("kind", ["async_together", "sync_together"])
def test_locally_asyncio_gather_runs_its_calls_at_once(lesson, kind):
    """The children wait at a barrier for all four: the run finishes only if they
    overlapped, and the probe counts four running at the fourth start."""
    with probes.in_flight() as flight:
        result = outputs(fan_out.gather, kind=kind, n=4)
    child = kind.replace("_together", "_child_together")
    assert sorted(flight.at_start[child]) == [1, 2, 3, 4]
    assert len(result.children) == 4


def test_async_bodies_run_on_the_event_loop_and_def_bodies_in_a_thread_each(lesson):
    async_run = outputs(fan_out.gather, kind="async_together", n=4)
    assert {c.thread for c in async_run.children} == {async_run.parent.thread}
    assert all(c.event_loop for c in async_run.children)
    sync_run = outputs(fan_out.gather, kind="sync_together", n=4)
    threads = {c.thread for c in sync_run.children}
    assert len(threads) == 4 and sync_run.parent.thread not in threads
    assert not any(c.event_loop for c in sync_run.children)


def test_a_local_run_has_no_ceiling_of_1000_children_per_parent(lesson):
    with probes.in_flight() as flight:
        outputs(fan_out.gather, kind="async_together", n=1001)
    assert flight.peak("async_child_together") == 1001


# --- what a cluster would receive ---------------------------------------------------------------

@pytest.fixture(scope="module")
def specs(lesson):
    return {name: probes.flyte_spec(getattr(lesson, name))
            for name in ("train", "make_batches", "score_batch", "batch_inference",
                         "batch_inference_gather")}


def test_every_task_spec_carries_the_environments_name_and_resources(specs):
    for name, spec in specs.items():
        template = spec.task_template
        assert spec.environment.name == "fan_out_inference", name
        assert probes.flyte_resources(template.container.resources.requests) == {
            "cpu": "1", "memory": "1Gi"}, name
        assert list(template.container.args[-4:]) == [
            "mod", "fan_out_inference_with_flyte_map", "instance", name]


def test_the_fan_out_is_in_no_spec(specs):
    """Unlike flytekit's ArrayNode, nothing a cluster receives describes the map: the
    parent task's process submits the child actions when it runs."""
    parent = specs["batch_inference"].task_template
    assert [v.key for v in parent.interface.inputs.variables] == ["failing_batch",
                                                                  "n_batches"]
    assert parent.type == "python" and not parent.HasField("custom")
    inputs = [v.key for v in specs["score_batch"].task_template.interface.inputs.variables]
    assert inputs == ["batch", "model"]


# --- the Run-it command and a bad input ------------------------------------------------------------

def test_the_run_it_command_moves_the_failing_batch(reader_runs):
    """The box's `flyte run --local ... batch_inference --failing_batch 7`."""
    run = reader_runs(NAME)[1]
    assert run.command[:3] == ["flyte", "run", "--local"] and run.returncode == 0, \
        run.stderr[-2000:]
    assert "failed_batches=[7]" in plain(run.stdout)


def test_flyte_run_with_a_bad_input_fails_with_one_message_naming_it():
    """flyte's CLI ends a failed run with exit code 1 and one "Execution failed" line."""
    folder = fresh_dir("bad-input")
    lesson = lessons.path(NAME)
    shutil.copy(lesson, folder / lesson.name)
    run = run_in_folder(folder, ["flyte", "run", "--local", lesson.name, "batch_inference",
                                 "--n_batches", "0"],
                        {**machine("bad-input"), "COLUMNS": WIDE_TERMINAL})
    assert run.returncode == 1
    assert ("Execution failed: need 1 <= n_batches <= 297 and -1 <= failing_batch < "
            "n_batches, got 0 and 2") in plain(run.stdout + run.stderr)
