"""The @dynamic vs @eager example does what its page and the parallelism guide say."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor

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


def run_eager(eager_task, **inputs):
    """Run an @eager workflow as the example does (asyncio.run), in a thread of its own:
    other tests (Playwright's sync API) may leave an event loop running in this one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, eager_task(**inputs)).result()


def accuracy(example, n_trees: int) -> float:
    return example.train_forest(n_trees=n_trees)


# --- @dynamic: the shape comes from the input -------------------------------------------------

@pytest.mark.parametrize("models", [["svc"], ["forest-2", "forest-8", "svc"], ["forest-16"]])
def test_dynamic_compare_runs_the_task_each_input_names(example, models):
    expected = [example.train_svc() if m == "svc" else accuracy(example, int(m[7:]))
                for m in models]
    assert example.compare_models(models=models) == expected


def test_dynamic_compare_rejects_an_unknown_model_name():
    run = run_pyflyte(STEM, "compare_models", "--models", '["forest-4", "knn"]')
    assert run.returncode == 2
    output = run.stdout + run.stderr
    assert "Invalid value for '--models': expected 'svc' or 'forest-<trees>', got 'knn'" in output
    assert "Traceback" not in output


def test_a_map_task_inside_dynamic_runs_and_mapping_a_dynamic_or_eager_raises(
        example, standalone_runs):
    assert example.forests_up_to(max_trees=16) == [accuracy(example, n) for n in (2, 4, 8, 16)]
    for entity in (example.compare, example.grow_until):
        with pytest.raises(ValueError, match="not @dynamic or @eager"):
            example.map_task(entity)
    lines = page_lines(standalone_runs)
    assert lines["map_task over compare"] == "ValueError"
    assert lines["map_task over grow_until"] == "ValueError"
    assert lines["map_task inside dynamic, forests up to 16 trees"] == "4 accuracies"


def test_dynamic_cannot_branch_on_a_task_result(example):
    """Inside @dynamic a task call is a promise: comparing it in an `if` raises."""
    with pytest.raises(ValueError, match="Cannot perform truth value testing"):
        example.grow_until_in_dynamic(target=0.9)


# --- @eager: the shape comes from the results ---------------------------------------------------

@pytest.mark.parametrize("target", [0.5, 0.85, 0.92])
def test_eager_trains_until_the_target_and_no_further(example, target):
    tried = run_eager(example.grow_until, target=target)
    accuracies = [accuracy(example, n) for n in tried]
    assert tried == [4 * 2**i for i in range(len(tried))], "doubles from 4"
    assert accuracies[-1] >= target
    assert all(a < target for a in accuracies[:-1]), "stopped at the first forest that reached it"


def test_eager_stops_at_the_tree_limit_when_the_target_is_out_of_reach(example):
    tried = run_eager(example.grow_until, target=1.0)
    assert tried[-1] == example.MAX_TREES


def test_page_shows_the_result_driven_shape(example, standalone_runs):
    lines = page_lines(standalone_runs)
    tried = run_eager(example.grow_until, target=0.92)
    assert lines["eager grow_until 0.92, forests trained"] == str(tried)
    assert lines["eager grow_until 0.92, tasks run"] == str(len(tried))
    assert lines["dynamic compare, tasks from the input"] == "['forest-4', 'forest-64', 'svc']"
    assert lines["dynamic with an if on a task result"] == (
        "ValueError, Cannot perform truth value testing")


# --- what a cluster would receive ---------------------------------------------------------------

def test_dynamic_and_eager_register_as_tasks_and_only_eager_is_flagged(example, standalone_runs):
    """Registration compiles neither body: both are python-task templates; is_eager marks
    the one a cluster runs as an eager workflow."""
    sweep = compile_task(example, example.compare)
    eager = compile_task(example, example.grow_until)
    assert sweep.template.type == eager.template.type == "python-task"
    assert (sweep.template.metadata.is_eager, eager.template.metadata.is_eager) == (False, True)
    lines = page_lines(standalone_runs)
    assert lines["registered grow_until"] == "task type 'python-task', eager True"
    assert lines["registered compare"] == "task type 'python-task', eager False"


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
