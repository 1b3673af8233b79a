"""The Flyte 2 fan-out example (flyte.map and asyncio.gather) does what its page and the
parallelism guide say: failures come back in place, local map runs are sequential, bad
inputs name themselves, and deploying would send the task specs asserted here."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import re
import sys
import time
from importlib import metadata
from pathlib import Path

import flyte
import pytest
from flyte._internal.runtime.task_serde import translate_task_to_wire
from flyte.models import SerializationContext
from google.protobuf.json_format import MessageToDict

from conftest import ROOT, run_example

NAME = "flyte2/fan_out_inference_with_flyte_map"
SCRIPT = ROOT / "examples" / f"{NAME}.py"
FLYTE = str(Path(sys.executable).parent / "flyte")


@pytest.fixture(scope="module")
def example():
    flyte.init(log_level=logging.CRITICAL)  # the failing batches are expected
    return load_flyte2_example(SCRIPT)


@pytest.fixture(scope="module")
def page(standalone_runs):
    run = standalone_runs(NAME)
    assert run.returncode == 0, run.stderr[-3000:]
    return dict(line.split(": ", 1) for line in run.stdout.splitlines() if ": " in line)


def load_flyte2_example(path: Path):
    """Import a Flyte 2 example under its file's stem without running its __main__ block.
    (compiled.load_example names it ``flyte2.<stem>``, which flyte.run then fails to import:
    "No module named 'flyte2'".)"""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # flyte resolves tasks through their module
    spec.loader.exec_module(module)
    return module


def plain(output: str) -> str:
    """CLI output without colours, box borders and line wrapping."""
    return " ".join(re.sub(r"\x1b\[[0-9;]*m|[│╭╮╰╯─]", " ", output).split())


def outputs(task, **inputs):
    return flyte.run(task, **inputs).outputs()[0]


# --- failures come back in place; the parent decides --------------------------------------------

@pytest.mark.parametrize("n_batches, failing_batch", [(8, 2), (5, 0), (6, 5), (3, -1)])
@pytest.mark.parametrize("how", ["batch_inference", "batch_inference_gather"])
def test_the_failed_batch_is_reported_at_its_index_and_the_rest_are_scored(
        example, how, n_batches, failing_batch):
    report = outputs(getattr(example, how), n_batches=n_batches, failing_batch=failing_batch)
    assert report.batches == n_batches
    assert report.failed_batches == ([failing_batch] if failing_batch >= 0 else [])
    assert 0.9 < report.accuracy <= 1.0
    held_out = 297
    assert report.images_scored <= held_out
    assert (report.images_scored == held_out) == (failing_batch < 0)


def test_below_the_ratio_the_parent_task_fails(example):
    with pytest.raises(Exception, match="1 of 4 batches failed; 4 had to succeed"):
        flyte.run(example.batch_inference, n_batches=4, failing_batch=0)


def test_flyte_map_yields_each_failure_in_its_place_by_default(example):
    """return_exceptions=True is flyte.map's default: results keep input order."""

    @example.env.task
    async def run_map(xs: list[int]) -> list[str]:
        out = [r async for r in flyte.map.aio(fails_on_negative, xs)]
        return [type(r).__name__ if isinstance(r, Exception) else str(r) for r in out]

    sys.modules[__name__].run_map = run_map
    got = outputs(run_map, xs=[1, -2, 3])
    assert got[0] == "1" and got[2] == "9"
    assert got[1] != "-2" and "Error" in got[1]


def test_flyte_map_with_return_exceptions_false_raises_the_first_failure(example):
    @example.env.task
    async def run_map_strict(xs: list[int]) -> list[int]:
        return [r async for r in flyte.map.aio(fails_on_negative, xs,
                                                 return_exceptions=False)]

    sys.modules[__name__].run_map_strict = run_map_strict
    with pytest.raises(Exception, match="negative input"):
        flyte.run(run_map_strict, xs=[1, -2, 3])


def test_flyte_map_pairs_several_inputs_and_stops_at_the_shortest(example):
    """flyte.map zips its iterables: unequal lengths are cut to the shortest, silently
    (flytekit's map_task fails instead)."""

    @example.env.task
    async def run_pairs(xs: list[int], ys: list[int]) -> list[int]:
        return [r async for r in flyte.map.aio(add, xs, ys)]

    sys.modules[__name__].run_pairs = run_pairs
    assert outputs(run_pairs, xs=[1, 2, 3], ys=[10, 20, 30]) == [11, 22, 33]
    assert outputs(run_pairs, xs=[1, 2, 3], ys=[10, 20]) == [11, 22]


def test_a_partial_for_flyte_map_must_leave_exactly_one_input_open(example):
    """Why the example packs images and labels into one Batch."""
    with pytest.raises(TypeError, match="exactly one parameter unspecified"):
        list(flyte.map(functools.partial(add), [1], [2]))


env = flyte.TaskEnvironment(name="flyte2_map_tests")


@env.task
def fails_on_negative(x: int) -> int:
    if x < 0:
        raise ValueError("negative input")
    return x * x


@env.task
def add(x: int, y: int) -> int:
    return x + y


@env.task
def sleep_then_stamp(seconds: float) -> list[float]:
    started = time.time()
    time.sleep(seconds)  # sleeping releases the GIL, so threads can overlap
    return [started, time.time()]


@env.task
async def fan_out_timings(n: int, seconds: float) -> dict[str, list[list[float]]]:
    mapped = [r async for r in flyte.map.aio(sleep_then_stamp, [seconds] * n,
                                              concurrency=n)]
    gathered = await asyncio.gather(*(sleep_then_stamp.aio(seconds) for _ in range(n)))
    return {"map": mapped, "gather": list(gathered)}


def overlapping_pairs(spans) -> int:
    spans = sorted(spans)
    return sum(1 for (_, end), (start, _) in zip(spans, spans[1:]) if start < end)


def test_locally_flyte_map_runs_items_one_after_another_and_gather_overlaps(example):
    """The guide's local-run claim, on work that could overlap (sleeps release the GIL)."""
    timings = outputs(fan_out_timings, n=4, seconds=0.2)
    assert overlapping_pairs(timings["map"]) == 0
    assert overlapping_pairs(timings["gather"]) == 3
    assert max(e for _, e in timings["gather"]) - min(s for s, _ in timings["gather"]) < 0.6


def test_page_reports_the_sequential_map_and_the_overlapping_gather(page):
    assert page["flyte.map, batches that overlapped locally, measured"] == "0"
    # Threads started together overlap even on real work that holds the GIL at times.
    assert int(page["asyncio.gather, batches that overlapped locally, measured"]) >= 1
    assert page["flyte.map, processes that ran a batch"] == "1"
    assert page["asyncio.gather, processes that ran a batch"] == "1"
    assert page["batch_inference, failed batches"] == "[2]"
    assert page["batch_inference_gather, failed batches"] == "[2]"
    assert page["4 batches, batch 0 corrupt"] == (
        "the run failed, 1 of 4 batches failed; 4 had to succeed")


# --- bad inputs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (("--n_batches", "0"), "--n_batches must be between 1 and 297, got 0"),
    (("--n_batches", "298"), "--n_batches must be between 1 and 297, got 298"),
    (("--failing_batch", "8"), "--failing_batch must be -1 (none) or 0 to 7, got 8"),
])
def test_bad_input_fails_the_local_run_with_a_message_naming_it(args, message):
    """flyte's CLI ends a failed run with exit code 1 and one "Execution failed" line."""
    run = run_example(SCRIPT, *args, command=(FLYTE, "run", "--local", str(SCRIPT),
                                              "batch_inference"),
                      env={"LOG_LEVEL": "50"})
    assert run.returncode == 1
    output = run.stdout + run.stderr
    assert f"Execution failed: {message}" in plain(output)


def test_flyte_run_local_runs_the_shown_command():
    run = run_example(SCRIPT, "--n_batches", "10", "--failing_batch", "7",
                      command=(FLYTE, "run", "--local", str(SCRIPT), "batch_inference"),
                      env={"LOG_LEVEL": "50"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "failed_batches=[7]" in plain(run.stdout)


# --- what a cluster would receive ----------------------------------------------------------------

@pytest.fixture(scope="module")
def specs(example):
    context = SerializationContext(version="offline", project="p", domain="d",
                                   root_dir=SCRIPT.parent)
    return {name: translate_task_to_wire(getattr(example, name), context)
            for name in ("train", "make_batches", "score_batch", "batch_inference",
                         "batch_inference_gather")}


def test_every_task_spec_carries_the_environments_image_and_resources(specs):
    for name, spec in specs.items():
        template = spec.task_template
        assert spec.environment.name == "fan_out_inference", name
        requests = {r["name"]: r["value"]
                    for r in MessageToDict(template.container.resources)["requests"]}
        assert requests == {"CPU": "1", "MEMORY": "1Gi"}, name
        assert template.container.args[-4:] == [
            "mod", "fan_out_inference_with_flyte_map", "instance", name]


def test_the_fan_out_is_not_in_any_spec(specs):
    """Unlike flytekit's ArrayNode, nothing a cluster receives describes the map: the
    parent task's process submits the child actions when it runs."""
    parent = specs["batch_inference"].task_template
    assert [v.key for v in parent.interface.inputs.variables] == ["failing_batch",
                                                                  "n_batches"]
    assert parent.type == "python"
    assert not parent.HasField("custom")
    inputs = [v.key for v in specs["score_batch"].task_template.interface.inputs.variables]
    assert inputs == ["batch", "model"]


def test_the_image_pins_the_versions_that_produced_the_page(example):
    for package in example.env.image._layers[-1].packages:
        name, _, pinned = package.partition("==")
        assert pinned == metadata.version(name), package


def test_page_prints_the_specs(specs, page):
    for name in ("batch_inference", "score_batch"):
        template = specs[name].task_template
        inputs = [v.key for v in template.interface.inputs.variables]
        assert page[f"task spec {name}, environment"] == "fan_out_inference"
        assert page[f"task spec {name}, inputs"] == str(inputs)
        assert page[f"task spec {name}, requests"] == "{'CPU': '1', 'MEMORY': '1Gi'}"
