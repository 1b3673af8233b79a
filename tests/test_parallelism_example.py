"""The map_task example does what its page and the parallelism guide say it does."""

from __future__ import annotations

import math
import re
import struct
import sys
import typing

import numpy as np
import pytest
from flytekit import map_task, task, workflow
from flytekit.models.types import SimpleType

from compiled import compile_workflow, load_example
from conftest import run_pyflyte

STEM = "fan_out_inference_with_map_task"


@pytest.fixture(scope="module")
def example():
    return load_example(STEM)


@pytest.fixture(scope="module")
def compiled(example):
    spec, tasks = compile_workflow(example, example.batch_inference)
    array_nodes = [node for node in spec.template.nodes if node.array_node]
    assert len(array_nodes) == 1, "the workflow fans out through exactly one ArrayNode"
    (map_task_spec,) = [t for name, t in tasks.items() if name.endswith("-arraynode")]
    return array_nodes[0], map_task_spec


def page_lines(standalone_runs) -> dict[str, str]:
    run = standalone_runs(STEM)
    assert run.returncode == 0, run.stderr[-3000:]
    return dict(line.split(": ", 1) for line in run.stdout.splitlines() if ": " in line)


# --- min_success_ratio: None exactly where the failing batch was ------------------------------

@pytest.mark.parametrize("n_batches, failing_batch", [(8, 2), (5, 0), (6, 5), (3, -1)])
def test_failed_batch_is_none_at_its_index_and_nowhere_else(example, n_batches, failing_batch):
    results, report = example.batch_inference(n_batches=n_batches, failing_batch=failing_batch)
    assert len(results) == n_batches
    nones = [i for i, r in enumerate(results) if r is None]
    assert nones == ([failing_batch] if failing_batch >= 0 else [])
    # The downstream task saw the same list: it reports the same gap and scored the rest.
    assert report.failed_batches == nones
    assert report.images_scored == sum(r.n_images for r in results if r is not None)
    assert report.images_scored + (len(np.array_split(range(297), n_batches)[failing_batch])
                                   if failing_batch >= 0 else 0) == 297
    assert 0.9 < report.accuracy <= 1.0


def test_pyflyte_run_moves_the_failing_batch():
    """A reader moves the bad batch from the command line; the None moves with it."""
    run = run_pyflyte(STEM, "batch_inference", "--n_batches", "5", "--failing_batch", "3")
    assert run.returncode == 0, run.stderr[-3000:]
    results = re.search(r"o0=\[(.*)\], o1=", run.stdout).group(1)
    entries = re.findall(r"None|BatchResult\(", results)
    assert entries == ["BatchResult("] * 3 + ["None"] + ["BatchResult("]
    assert "failed_batches=[3]" in run.stdout


def test_below_the_ratio_the_whole_run_fails(example):
    """ceil(0.8 * 4) = 4 successes needed: one failure out of four fails the map task."""
    assert math.ceil(example.MIN_SUCCESS_RATIO * 4) == 4
    with pytest.raises(Exception, match="NaN"):
        example.batch_inference(n_batches=4, failing_batch=0)


def test_page_shows_the_none_where_batch_2_failed(standalone_runs):
    lines = page_lines(standalone_runs)
    assert lines["map task result"] == str(["ok", "ok", "None", "ok", "ok", "ok", "ok", "ok"])
    assert lines["summarize saw failed batches"] == "[2]"
    assert lines["4 batches, batch 0 corrupt"] == "the run failed with ValueError"


# --- the compiled ArrayNode carries what the page prints ---------------------------------------

def ratio_as_sent(array_node) -> float:
    """The ratio decoded from the serialized ArrayNode, as flyteadmin receives it."""
    idl = array_node.array_node.to_flyte_idl()
    return type(idl).FromString(idl.SerializeToString()).min_success_ratio


def test_array_node_has_the_concurrency_and_ratio_the_page_shows(compiled, example, standalone_runs):
    array_node, _ = compiled
    idl = array_node.array_node.to_flyte_idl()
    assert idl.parallelism == example.CONCURRENCY == 4
    assert ratio_as_sent(array_node) == pytest.approx(example.MIN_SUCCESS_RATIO) == pytest.approx(0.8)
    lines = page_lines(standalone_runs)
    assert lines["array node parallelism (concurrency)"] == str(idl.parallelism)
    assert lines["array node min_success_ratio, as sent to the cluster"] == repr(ratio_as_sent(array_node))


def test_the_ratio_travels_as_a_32_bit_float_a_hair_above_0_8(compiled):
    """What the guide's 'a cluster needs one more success' rests on: the wire value is not 0.8."""
    sent = ratio_as_sent(compiled[0])
    assert sent > 0.8
    assert sent == struct.unpack("<f", struct.pack("<f", 0.8))[0]


def test_page_gives_the_local_and_the_cluster_threshold(compiled, example, standalone_runs):
    """Local counts come from flytekit's formula on 0.8, cluster counts from propeller's
    ``ceil(ratio * n)`` on the ratio as sent; they differ exactly where 0.8 * n is whole."""
    sent = ratio_as_sent(compiled[0])
    lines = page_lines(standalone_runs)
    expected = {8: (7, 7), 4: (4, 4), 10: (8, 9)}
    for n, (local, cluster) in expected.items():
        assert math.ceil(example.MIN_SUCCESS_RATIO * n) == local
        assert math.ceil(sent * n) == cluster
        assert lines[f"{n} batches need successes"] == (
            f"{local} locally, {cluster} by propeller's formula")


def test_a_plain_list_downstream_of_a_ratio_below_1_fails_before_any_task_runs():
    """The guide: with min_success_ratio < 1 a downstream ``list[T]`` input is rejected when
    the workflow is compiled, on a local run's first call too, not when data arrives."""
    ran = []

    @task
    def identity(x: int) -> int:
        ran.append(x)
        return x

    @task
    def total(xs: list[int]) -> int:
        return sum(xs)

    @workflow
    def strict_downstream(xs: list[int]) -> int:
        return total(xs=map_task(identity, min_success_ratio=0.5)(x=xs))

    with pytest.raises(AssertionError, match="Failed to Bind variable 'xs'"):
        strict_downstream(xs=[1, 2])
    assert ran == [], "no item should run before the workflow compiles"


def test_min_successes_is_lost_when_compiled_and_leaves_the_output_strict():
    """Why the guide says to use min_success_ratio, not min_successes, in flytekit 1.16: the
    ArrayNode holds one success criterion and the ratio (1.0) is the one that survives, and
    the output type stays list[int], so a failed item cannot become None."""

    @task
    def square(x: int) -> int:
        if x < 0:
            raise ValueError("negative input")
        return x * x

    at_least_two = map_task(square, min_successes=2)

    @workflow
    def squares(xs: list[int]) -> list[int]:
        return at_least_two(x=xs)

    spec, _ = compile_workflow(sys.modules[__name__], squares)
    (node,) = [n for n in spec.template.nodes if n.array_node]
    idl = node.array_node.to_flyte_idl()
    assert idl.WhichOneof("success_criteria") == "min_success_ratio"
    assert (idl.min_successes, idl.min_success_ratio) == (0, 1.0)
    assert at_least_two.python_interface.outputs["o0"] == typing.List[int]
    # Locally the threshold is honoured, but the None for the failed item cannot be a list[int].
    with pytest.raises(Exception, match="Failed to convert"):
        squares(xs=[1, -2, 3])


def test_map_task_output_is_a_list_of_optionals(compiled):
    _, map_task_spec = compiled
    output = map_task_spec.template.interface.outputs["o0"].type
    variants = output.collection_type.union_type.variants
    assert any(v.simple == SimpleType.NONE for v in variants), "failed items must be allowed to be None"


def test_inputs_bound_with_partial_are_not_mapped(compiled, standalone_runs):
    array_node, map_task_spec = compiled
    inputs = map_task_spec.template.interface.inputs
    assert inputs["model"].type.collection_type is None, "the model is one value for every batch"
    assert inputs["images"].type.collection_type is not None
    assert inputs["labels"].type.collection_type is not None
    # The ArrayNode gets the model straight from `train` and the lists from `make_batches`.
    sources = {b.var: b.binding.promise.var for b in array_node.inputs}
    assert sources == {"model": "o0", "images": "images", "labels": "labels"}
    lines = page_lines(standalone_runs)
    assert lines["map task input model"] == "one value for every batch"
    assert lines["map task input images"] == "one element per batch"
    # flytekit names the bound input, so propeller (v1.15.1 and later) does not map it.
    assert list(array_node.array_node.to_flyte_idl().bound_inputs) == ["model"]
    assert lines["array node bound inputs"] == "['model']"


def test_every_batch_scored_with_the_same_model(example):
    """Behaviour, not only the interface: with the model bound, all batches agree with one model."""
    results, _ = example.batch_inference(n_batches=3, failing_batch=-1)
    digits = example.load_digits()
    model = example.SVC(gamma=0.001).fit(digits.data[:1500], digits.target[:1500])
    expected = [int((model.predict(x) == y).sum()) for x, y in zip(
        np.array_split(digits.data[1500:], 3), np.array_split(digits.target[1500:], 3))]
    assert [r.n_correct for r in results] == expected


# --- per-item settings, several mapped inputs, run_all_sub_nodes -------------------------------

def test_with_overrides_on_a_map_task_sets_every_items_resources(compiled, standalone_runs):
    """The guide: resources set with ``with_overrides`` on a map task apply to each item's
    pod (the ArrayNode's sub-node), not to one pod for the whole map task."""
    array_node, _ = compiled
    sub_node = array_node.array_node.to_flyte_idl().node
    resources = sub_node.task_node.overrides.resources
    assert [(r.value) for r in resources.requests] == ["1", "1Gi"]
    assert [(r.value) for r in resources.limits] == ["1", "1Gi"]
    assert page_lines(standalone_runs)["each item requests (cpu, memory)"] == "1, 1Gi"


def test_mapped_lists_of_different_lengths_fail_locally():
    """Mapped inputs pair up by position; flytekit 1.16 fails a local run on unequal lists
    (with an IndexError, where propeller reports 'input arrays have different lengths')."""

    @task
    def add(x: int, y: int) -> int:
        return x + y

    @workflow
    def pairs(xs: list[int], ys: list[int]) -> list[int]:
        return map_task(add)(x=xs, y=ys)

    assert pairs(xs=[1, 2, 3], ys=[10, 20, 30]) == [11, 22, 33]
    with pytest.raises(IndexError):
        pairs(xs=[1, 2, 3], ys=[10, 20])


def test_run_all_sub_nodes_is_sent_by_flytekit():
    """flytekit 1.16 serializes ``run_all_sub_nodes``; the guide's point is that open-source
    propeller (v1.16.8) never reads it, which only its source can show."""

    @task
    def square(x: int) -> int:
        return x * x

    @workflow
    def squares(xs: list[int]) -> list[int]:
        return map_task(square, run_all_sub_nodes=True)(x=xs)

    spec, _ = compile_workflow(sys.modules[__name__], squares)
    (node,) = [n for n in spec.template.nodes if n.array_node]
    assert node.array_node.to_flyte_idl().run_all_sub_nodes is True


# --- local runs are sequential ----------------------------------------------------------------

def test_local_items_run_one_after_another_in_one_process(example):
    results, _ = example.batch_inference(n_batches=6, failing_batch=-1)
    assert len({r.worker for r in results}) == 1
    for earlier, later in zip(results, results[1:]):
        assert later.started >= earlier.finished, "a local map task item started before the previous one ended"


def test_page_reports_the_sequential_local_run(standalone_runs):
    lines = page_lines(standalone_runs)
    assert lines["processes that ran a batch locally"] == "1"
    assert lines["batches that overlapped in time locally"] == "0"


# --- the model behind the figure: tested in test_parallelism_model.py ------------------------


# --- bad inputs: one line naming the input, exit code 2 -----------------------------------------

@pytest.mark.parametrize("args, input_name, message", [
    (("--n_batches", "0"), "--n_batches", "must be between 1 and 297, got 0"),
    (("--n_batches", "298"), "--n_batches", "must be between 1 and 297, got 298"),
    (("--failing_batch", "8"), "--failing_batch", "must be -1 (none) or 0 to 7, got 8"),
])
def test_bad_input_gives_one_line_naming_it(args, input_name, message):
    run = run_pyflyte(STEM, "batch_inference", *args)
    assert run.returncode == 2
    output = run.stdout + run.stderr
    assert re.search(rf"Invalid value for '{input_name}': {re.escape(message)}", output), output
    assert "Traceback" not in output
