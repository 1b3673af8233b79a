"""The @dynamic vs @eager example does what its page and the parallelism guide say."""

from __future__ import annotations

import asyncio
import re

import pytest

from compiled import compile_task, load_example
from conftest import run_pyflyte

STEM = "data_dependent_fan_out_dynamic_vs_eager"


@pytest.fixture(scope="module")
def example():
    return load_example(STEM)


def page_lines(standalone_runs) -> dict[str, str]:
    run = standalone_runs(STEM)
    assert run.returncode == 0, run.stderr[-3000:]
    return dict(line.split(": ", 1) for line in run.stdout.splitlines() if ": " in line)


def accuracy(example, n_trees: int) -> float:
    return example.train_forest(n_trees=n_trees)


# --- @dynamic: the shape comes from the input -------------------------------------------------

@pytest.mark.parametrize("counts", [[4], [2, 8, 32], [16, 4]])
def test_dynamic_sweep_trains_one_forest_per_listed_count(example, counts):
    assert example.sweep_forests(tree_counts=counts) == [accuracy(example, n) for n in counts]


def test_dynamic_cannot_branch_on_a_task_result(example):
    """Inside @dynamic a task call is a promise: comparing it in an `if` raises."""
    with pytest.raises(ValueError, match="Cannot perform truth value testing"):
        example.grow_until_in_dynamic(target=0.9)


# --- @eager: the shape comes from the results ---------------------------------------------------

@pytest.mark.parametrize("target", [0.5, 0.85, 0.92])
def test_eager_trains_until_the_target_and_no_further(example, target):
    tried = asyncio.run(example.grow_until(target=target))
    accuracies = [accuracy(example, n) for n in tried]
    assert tried == [4 * 2**i for i in range(len(tried))], "doubles from 4"
    assert accuracies[-1] >= target
    assert all(a < target for a in accuracies[:-1]), "stopped at the first forest that reached it"


def test_eager_stops_at_the_tree_limit_when_the_target_is_out_of_reach(example):
    tried = asyncio.run(example.grow_until(target=1.0))
    assert tried[-1] == example.MAX_TREES


def test_page_shows_the_result_driven_shape(example, standalone_runs):
    lines = page_lines(standalone_runs)
    tried = asyncio.run(example.grow_until(target=0.92))
    assert lines["eager grow_until 0.92, forests trained"] == str(tried)
    assert lines["eager grow_until 0.92, tasks run"] == str(len(tried))
    assert lines["dynamic sweep, tree counts from the input"] == "[4, 16, 64]"
    assert lines["dynamic with a branch on a task result"] == (
        "ValueError, Cannot perform truth value testing")


# --- what a cluster would receive ---------------------------------------------------------------

def test_dynamic_and_eager_register_as_tasks_and_only_eager_is_flagged(example, standalone_runs):
    """Registration compiles neither body: both are python-task templates; is_eager marks
    the one a cluster runs as an eager workflow."""
    sweep, eager = compile_task(example, example.sweep), compile_task(example, example.grow_until)
    assert sweep.template.type == eager.template.type == "python-task"
    assert (sweep.template.metadata.is_eager, eager.template.metadata.is_eager) == (False, True)
    lines = page_lines(standalone_runs)
    assert lines["registered grow_until"] == "task type 'python-task', eager True"
    assert lines["registered sweep"] == "task type 'python-task', eager False"


# --- the shown command and bad inputs -----------------------------------------------------------

def test_pyflyte_run_of_the_eager_task_prints_the_forests_tried():
    run = run_pyflyte(STEM, "grow_until", "--target", "0.9")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "[4, 8, 16]" in run.stdout


@pytest.mark.parametrize("args, input_name, message", [
    (("--target", "1.5"), "--target", "must be in (0, 1], got 1.5"),
    (("--target", "0.9", "--start_trees", "0"), "--start_trees",
     "must be between 1 and 512, got 0"),
])
def test_bad_input_gives_one_line_naming_it(args, input_name, message):
    run = run_pyflyte(STEM, "grow_until", *args)
    assert run.returncode == 2
    output = run.stdout + run.stderr
    assert re.search(rf"Invalid value for '{input_name}': {re.escape(message)}", output), output
    assert "Traceback" not in output
