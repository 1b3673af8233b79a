"""The lesson cache/cache_each_map_element: ``flyte.map`` looks each element up in the cache
on its own key, and a ``functools.partial``-bound argument is in every element's key."""

from __future__ import annotations

import contextlib
import functools
import io
import shutil

import flyte
import pytest

from conftest import fresh_dir, machine, run_in_folder
from evidence import lessons, probes

NAME = "cache/cache_each_map_element"
TITLES = ["Dune", "Emma", "Middlemarch"]


@pytest.fixture(scope="module")
def lesson():
    flyte.init()
    return lessons.load(NAME)


def probed(task, *args, **kwargs) -> probes.TaskRuns:
    with probes.flyte_runs() as runs, contextlib.redirect_stdout(io.StringIO()):
        runs.value = flyte.run(task, *args, **kwargs).outputs()[0]
    return runs


def elements_run(runs: probes.TaskRuns) -> list[tuple[str, int]]:
    return [(inputs["title"], inputs["min_length"]) for task, inputs in runs.calls
            if task == "count_letters"]


def test_each_element_has_its_own_key(lesson, empty_caches):
    first = probed(lesson.count_all, TITLES)
    assert elements_run(first) == [(t, 1) for t in TITLES] and first.value == [4, 4, 11]
    more = probed(lesson.count_all, TITLES + ["Ulysses"])
    assert elements_run(more) == [("Ulysses", 1)]
    assert more.served("count_letters") == 3 and more.value == [4, 4, 11, 7]
    fewer = probed(lesson.count_all, TITLES[1:])
    assert elements_run(fewer) == [] and fewer.served("count_letters") == 2


def test_a_partial_bound_argument_is_in_every_elements_key(lesson, empty_caches):
    probed(lesson.count_all, TITLES, min_length=1)
    rebound = probed(lesson.count_all, TITLES, min_length=5)
    assert elements_run(rebound) == [(t, 5) for t in TITLES]
    assert rebound.hits == [] and rebound.value == [0, 0, 11]


def test_the_mapping_task_itself_is_not_cached(lesson, empty_caches):
    runs = [probed(lesson.count_all, TITLES) for _ in range(2)]
    assert [r.ran("count_all") for r in runs] == [1, 1]
    assert probes.flyte_spec(lesson.count_all).task_template.metadata.discoverable is False
    assert probes.flyte_spec(lesson.count_letters).task_template.metadata.discoverable


def test_a_partial_must_leave_exactly_one_parameter_open(lesson):
    with pytest.raises(TypeError, match="exactly one parameter unspecified"):
        list(flyte.map(functools.partial(lesson.count_letters), TITLES))


def test_a_title_list_that_is_not_json_gives_one_line_and_a_nonzero_exit():
    folder = fresh_dir("download")
    shutil.copy(lessons.path(NAME), folder)
    env = {**machine("bad-input"), "COLUMNS": "10000"}
    run = run_in_folder(folder, ["flyte", "run", "--local", "cache_each_map_element.py",
                                 "count_all", "--titles", "Dune, Emma"], env)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-2000:]
    assert "Traceback" not in output
    message = "parameter <Option titles> should be a valid json object"
    assert sum(message in line for line in output.splitlines()) == 1, output[-2000:]


def test_a_second_process_is_served_by_the_first_ones_cache(reader_runs):
    """The Run-it box's `flyte run --local` maps two titles the script already counted
    with the same bound value: both elements are served."""
    script, cli = reader_runs(NAME)[:2]
    assert "count_letters ran: 'Dune', min_length=1" in script.stdout
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert " ran:" not in cli.stdout and "o0=[4, 4]" in cli.stdout
