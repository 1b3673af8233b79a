"""The @dynamic vs @eager lesson does what its page, its evidence page and the parallelism
guide say: @dynamic runs the tasks its input names and cannot branch on a result, @eager
stops on a result, map_task nests inside @dynamic but maps neither, registration compiles
neither body, and the @eager run works where an event loop is already running."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import click
import pytest
from flytekit import dynamic, map_task

from conftest import assert_refused_in_one_line, run_downloaded
from evidence import lessons, probes

NAME = "parallelize/data_dependent_fan_out_dynamic_vs_eager"


@pytest.fixture(scope="module")
def lesson():
    return lessons.load(NAME)


def run_eager(eager_task, **inputs):
    """As the lesson runs it: asyncio.run on a thread of its own (another test may leave
    an event loop running in this one, as Jupyter's kernel does)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, eager_task(**inputs)).result()


def accuracy(lesson, n_trees: int) -> float:
    return lesson.train_forest(n_trees=n_trees)


# --- @dynamic: the shape comes from the input --------------------------------------------------

@pytest.mark.parametrize("models", [["svc"], ["forest-2", "forest-8", "svc"], ["forest-16"]])
def test_dynamic_compare_runs_the_task_each_input_names(lesson, models):
    expected = [lesson.train_svc() if m == "svc" else accuracy(lesson, int(m[7:]))
                for m in models]
    with probes.flytekit_runs() as runs:
        assert lesson.compare_models(models=models) == expected
    assert runs.bodies == ["compare"] + ["train_svc" if m == "svc" else "train_forest"
                                         for m in models]


def test_dynamic_compare_rejects_an_unknown_model_name(lesson):
    with pytest.raises(click.BadParameter, match="expected 'svc' or 'forest-<n>', got 'knn'"):
        lesson.compare_models(models=["forest-4", "knn"])


def test_dynamic_cannot_branch_on_a_task_result(lesson):
    """Inside @dynamic a task call is a promise: comparing it in an `if` raises."""

    @dynamic(container_image=lesson.image)
    def grow_until_in_dynamic(target: float) -> int:
        n_trees = 4
        while n_trees <= lesson.MAX_TREES:
            if lesson.train_forest(n_trees=n_trees) >= target:
                return n_trees
            n_trees *= 2
        return n_trees

    with pytest.raises(ValueError, match="Cannot perform truth value testing"):
        grow_until_in_dynamic(target=0.9)


def test_a_map_task_inside_dynamic_runs_and_mapping_a_dynamic_or_eager_raises(lesson):
    @dynamic(container_image=lesson.image)
    def forests_up_to(max_trees: int) -> list[float]:
        return map_task(lesson.train_forest)(n_trees=[2**k for k in range(1, 5)])

    assert forests_up_to(max_trees=16) == [accuracy(lesson, n) for n in (2, 4, 8, 16)]
    for entity in (lesson.compare, lesson.grow_until):
        with pytest.raises(ValueError, match="not @dynamic or @eager"):
            map_task(entity)


# --- @eager: the shape comes from the results ------------------------------------------------------

@pytest.mark.parametrize("target", [0.5, 0.85, 0.92])
def test_eager_trains_until_the_target_and_no_further(lesson, target):
    with probes.flytekit_runs() as runs:
        tried = run_eager(lesson.grow_until, target=target)
    accuracies = [accuracy(lesson, n) for n in tried]
    assert tried == [4 * 2**i for i in range(len(tried))], "doubles from 4"
    assert accuracies[-1] >= target
    assert all(a < target for a in accuracies[:-1]), "stopped at the first that reached it"
    assert runs.ran("train_forest") == len(tried)


def test_eager_stops_at_the_tree_limit_when_the_target_is_out_of_reach(lesson):
    assert run_eager(lesson.grow_until, target=1.0)[-1] == lesson.MAX_TREES


def test_the_eager_run_needs_its_own_loop_where_one_is_running(lesson):
    """Why the lesson runs it on a thread: asyncio.run refuses inside a running loop, as
    in a Jupyter kernel, and works on a thread of its own."""

    async def inside_a_running_loop():
        coroutine = lesson.grow_until(target=0.5)
        try:
            asyncio.run(coroutine)
        except RuntimeError as error:
            coroutine.close()
            return str(error)

    assert "cannot be called from a running event loop" in asyncio.run(inside_a_running_loop())
    assert run_eager(lesson.grow_until, target=0.5) == [4]


def test_the_run_it_command_runs_the_eager_task_with_the_readers_target(reader_runs):
    run = reader_runs(NAME)[1]
    assert run.command[3:] == ["grow_until", "--target", "0.9"], run.command
    assert run.returncode == 0, run.stderr[-2000:]
    assert "[4, 8, 16]" in run.stdout


# --- what a cluster would receive --------------------------------------------------------------

def test_dynamic_and_eager_register_as_tasks_and_only_eager_is_flagged(lesson):
    """Registration compiles neither body: both are python-task templates; is_eager marks
    the one a cluster runs as an eager workflow."""
    sweep, _ = probes.flytekit_compiled(lesson.compare)
    eager, _ = probes.flytekit_compiled(lesson.grow_until)
    assert sweep.template.type == eager.template.type == "python-task"
    assert (sweep.template.metadata.is_eager, eager.template.metadata.is_eager) == (False,
                                                                                    True)


def test_compiling_the_dynamic_task_asks_docker_about_no_image(lesson, capfd):
    """Serializing a @dynamic task resolves the image of every task defined in the
    process, as a full site build defines other lessons' tasks; the probe names them all
    up front, so flytekit neither probes Docker nor prints that it did."""
    other = lessons.load("interruptible/checkpoint_resume")
    assert other.image.id != lesson.image.id, "another ImageSpec in the process"
    capfd.readouterr()
    probes.flytekit_compiled(lesson.compare)
    captured = capfd.readouterr()
    assert "image" not in (captured.out + captured.err).lower(), captured


# --- bad inputs ----------------------------------------------------------------------------------

def test_bad_targets_raise_click_errors_naming_them(lesson):
    for target in (0.0, 1.5):
        with pytest.raises(click.BadParameter, match=rf"must be in \(0, 1\], got {target}"):
            run_eager(lesson.grow_until, target=target)


def test_pyflyte_run_with_a_bad_target_prints_one_line_and_exits_2():
    run = run_downloaded(NAME, "grow_until", "--target", "1.5")
    assert_refused_in_one_line(run, "--target", "must be in (0, 1], got 1.5")
