"""The map_task lesson does what its page, its evidence page and the parallelism guide say:
a failed batch is None at its index, the threshold is ceil(ratio * n) on a Python float
locally and on a 32-bit float on a cluster, the bound model is not mapped, each item gets
the overridden resources, local items run one at a time, unequal lists truncate or fail."""

from __future__ import annotations

import math
import re
import struct
import typing

import numpy as np
import pytest
from flytekit import map_task, task, workflow
from flytekit.models.types import SimpleType

from conftest import assert_refused_in_one_line, run_downloaded
from evidence import fan_out, lessons, probes

NAME = "parallelize/fan_out_inference_with_map_task"
HELD_OUT = 297


@pytest.fixture(scope="module")
def lesson():
    return lessons.load(NAME)


@pytest.fixture(scope="module")
def compiled(lesson):
    """The ArrayNode as flyteadmin decodes it, and the map task's template."""
    spec, templates = probes.flytekit_compiled(lesson.batch_inference)
    array_nodes = [node for node in spec.template.nodes if node.array_node]
    assert len(array_nodes) == 1, "the workflow fans out through exactly one ArrayNode"
    (map_template,) = [t for name, t in templates.items() if name.endswith("-arraynode")]
    idl = array_nodes[0].array_node.to_flyte_idl()
    return array_nodes[0], type(idl).FromString(idl.SerializeToString()), map_template


# --- min_success_ratio: None exactly where the failing batch was ------------------------------

@pytest.mark.parametrize("n_batches, failing_batch", [(8, 2), (5, 0), (6, 5), (3, -1)])
def test_failed_batch_is_none_at_its_index_and_nowhere_else(lesson, n_batches, failing_batch):
    results, report = lesson.batch_inference(n_batches=n_batches, failing_batch=failing_batch)
    assert len(results) == n_batches
    nones = [i for i, r in enumerate(results) if r is None]
    assert nones == ([failing_batch] if failing_batch >= 0 else [])
    # The downstream task saw the same list: it reports the same gap and scored the rest.
    assert report.failed_batches == nones
    assert report.images_scored == sum(r.n_images for r in results if r is not None)
    lost = len(np.array_split(range(HELD_OUT), n_batches)[failing_batch]) \
        if failing_batch >= 0 else 0
    assert report.images_scored + lost == HELD_OUT
    assert 0.9 < report.accuracy <= 1.0


def test_the_run_it_command_moves_the_failing_batch(reader_runs):
    """The box's `pyflyte run ... --n_batches 10 --failing_batch 7`: the None moves to 7."""
    run = reader_runs(NAME)[1]
    assert run.command[:2] == ["pyflyte", "run"] and run.returncode == 0, run.stderr[-2000:]
    assert "failed_batches=[7]" in run.stdout
    entries = re.findall(r"None|BatchResult\(", re.search(r"o0=\[(.*)\], o1=", run.stdout)[1])
    assert entries == ["BatchResult("] * 7 + ["None"] + ["BatchResult("] * 2


def test_below_the_ratio_the_run_fails_with_the_items_own_error_and_summarize_never_runs(
        lesson):
    """ceil(0.8 * 4) = 4 successes needed: one corrupt batch of four fails the map task."""
    with probes.flytekit_runs() as runs, pytest.raises(ValueError, match="contains NaN"):
        lesson.batch_inference(n_batches=4, failing_batch=0)
    assert runs.ran("score_batch") == 1, "the first item failed and the threshold was lost"
    assert runs.ran("summarize") == 0


def test_every_batch_is_scored_with_the_same_bound_model(lesson):
    results, _ = lesson.batch_inference(n_batches=3, failing_batch=-1)
    digits = lesson.load_digits()
    model = lesson.SVC(gamma=0.001).fit(digits.data[:1500], digits.target[:1500])
    expected = [int((model.predict(x) == y).sum()) for x, y in zip(
        np.array_split(digits.data[1500:], 3), np.array_split(digits.target[1500:], 3))]
    assert [r.n_correct for r in results] == expected


# --- local runs: one item at a time, in this process -------------------------------------------

def test_local_items_run_one_after_another_in_this_process(lesson):
    """Counted, not timed: every item's body started when no other was running, and all
    eight ran in this process (the probe sees only this process's bodies)."""
    with probes.flytekit_runs() as runs, probes.in_flight() as flight:
        lesson.batch_inference(n_batches=8, failing_batch=2)
    assert runs.ran("score_batch") == 8
    assert flight.at_start["score_batch"] == [1] * 8


def test_mapped_lists_of_unequal_length_truncate_or_fail_by_which_comes_first():
    """Locally flytekit counts items from the first mapped parameter: shorter, the others
    are cut to it silently; longer, an IndexError. (Propeller fails both.)"""
    assert fan_out.map_task_pairs(xs=[1, 2, 3], ys=[10, 20, 30]) == [11, 22, 33]
    assert fan_out.map_task_pairs(xs=[1, 2], ys=[10, 20, 30]) == [11, 22]
    with pytest.raises(IndexError):
        fan_out.map_task_pairs(xs=[1, 2, 3], ys=[10, 20])


def test_a_local_run_of_a_map_task_over_a_launch_plan_fails():
    """flytekit 1.13.2+ maps launch plans on a cluster; locally, 1.16.31 fails."""
    with pytest.raises(ValueError, match="Expected a list of"):
        fan_out.map_over_plan(xs=[1, 2], ys=[10, 20])


def test_mapping_a_workflow_raises_when_the_map_task_is_defined():
    with pytest.raises(ValueError):
        map_task(fan_out.add_pair)


# --- the compiled ArrayNode ----------------------------------------------------------------------

def test_array_node_carries_the_concurrency_the_bound_model_and_each_items_resources(
        compiled):
    node, sent, _ = compiled
    assert sent.parallelism == 4
    assert list(sent.bound_inputs) == ["model"]
    resources = sent.node.task_node.overrides.resources
    assert probes.flytekit_resources(resources.requests) == {"cpu": "1", "memory": "1Gi"}
    assert probes.flytekit_resources(resources.limits) == {"cpu": "1", "memory": "1Gi"}
    # The ArrayNode gets the model straight from `train` and the lists from `make_batches`.
    assert {b.var: b.binding.promise.var for b in node.inputs} == {
        "model": "o0", "images": "o0", "labels": "o1"}


def test_the_ratio_travels_as_a_32_bit_float_a_hair_above_0_8(compiled):
    _, sent, _ = compiled
    assert sent.min_success_ratio > 0.8
    assert sent.min_success_ratio == struct.unpack("<f", struct.pack("<f", 0.8))[0]


def test_local_and_cluster_thresholds_differ_where_0_8_n_is_whole(compiled):
    """Local counts use flytekit's formula on 0.8; a cluster's, propeller's ``ceil(ratio *
    n)`` on the ratio as sent."""
    _, sent, _ = compiled
    for n, (local, cluster) in {8: (7, 7), 4: (4, 4), 10: (8, 9)}.items():
        assert (math.ceil(0.8 * n), math.ceil(sent.min_success_ratio * n)) == (local, cluster)


def test_only_the_mapped_inputs_are_lists_and_the_output_allows_none(compiled):
    _, _, template = compiled
    inputs = template.interface.inputs
    assert inputs["model"].type.collection_type is None
    assert inputs["images"].type.collection_type is not None
    assert inputs["labels"].type.collection_type is not None
    variants = template.interface.outputs["o0"].type.collection_type.union_type.variants
    assert any(v.simple == SimpleType.NONE for v in variants)


def test_a_plain_list_downstream_of_a_ratio_below_1_fails_before_any_task_runs():
    """With min_success_ratio < 1, a downstream ``list[T]`` input is rejected when the
    workflow compiles, on a local run's first call too."""
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
    assert ran == []


def test_min_successes_is_lost_when_compiled_and_leaves_the_output_strict():
    """Why the guide says min_success_ratio, not min_successes, in flytekit 1.16."""

    @task
    def square(x: int) -> int:
        if x < 0:
            raise ValueError("negative input")
        return x * x

    at_least_two = map_task(square, min_successes=2)

    @workflow
    def squares(xs: list[int]) -> list[int]:
        return at_least_two(x=xs)

    spec, _ = probes.flytekit_compiled(squares)
    (node,) = [n for n in spec.template.nodes if n.array_node]
    idl = node.array_node.to_flyte_idl()
    assert idl.WhichOneof("success_criteria") == "min_success_ratio"
    assert (idl.min_successes, idl.min_success_ratio) == (0, 1.0)
    assert at_least_two.python_interface.outputs["o0"] == typing.List[int]
    with pytest.raises(Exception, match="Failed to convert"):
        squares(xs=[1, -2, 3])


def test_run_all_sub_nodes_is_sent_by_flytekit():
    """flytekit 1.16 serializes it; that propeller v1.16.8 never reads it only its source
    can show."""

    @task
    def square(x: int) -> int:
        return x * x

    @workflow
    def squares(xs: list[int]) -> list[int]:
        return map_task(square, run_all_sub_nodes=True)(x=xs)

    spec, _ = probes.flytekit_compiled(squares)
    (node,) = [n for n in spec.template.nodes if n.array_node]
    assert node.array_node.to_flyte_idl().run_all_sub_nodes is True


# --- bad inputs -------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_batches, failing_batch, message", [
    (0, 2, "must be 1 to 297, got 0"), (298, 2, "must be 1 to 297, got 298"),
    (8, 8, "must be -1 (none) or 0 to 7, got 8")])
def test_bad_inputs_raise_click_errors_naming_them(lesson, n_batches, failing_batch, message):
    import click

    with pytest.raises(click.BadParameter, match=re.escape(message)):
        lesson.make_batches(n_batches=n_batches, failing_batch=failing_batch)


def test_pyflyte_run_with_a_bad_input_prints_one_line_and_exits_2():
    run = run_downloaded(NAME, "batch_inference", "--n_batches", "0")
    assert_refused_in_one_line(run, "--n_batches", "must be 1 to 297, got 0")
