"""The lesson that calls one workflow as a subworkflow and through a launch plan: two kinds
of node for a cluster, one process and one shared local cache locally."""

from __future__ import annotations

import contextlib
import io

import pytest

from conftest import assert_refused_in_one_line, run_downloaded
from evidence import lessons, probes

NAME = "decompose/decompose_workflow_as_subworkflow_or_launch_plan"


@pytest.fixture(scope="module")
def lesson():
    return lessons.load(NAME)


def test_subworkflow_and_launch_plan_compile_to_different_node_kinds(lesson):
    spec, _ = probes.flytekit_compiled(lesson.two_thresholds)
    kinds = {n.id: n.workflow_node for n in spec.template.nodes}
    assert set(kinds) == {"n0", "n1"}
    assert kinds["n0"].sub_workflow_ref is not None and kinds["n0"].launchplan_ref is None
    assert kinds["n0"].sub_workflow_ref.name.endswith(".train_then_predict")
    assert kinds["n1"].launchplan_ref.name == "train_then_predict_lp"
    # The subworkflow travels with the parent; the launch plan is registered on its own.
    assert [s.id.name for s in spec.sub_workflows] == [
        kinds["n0"].sub_workflow_ref.name]


def test_locally_both_run_here_and_the_second_train_is_a_cache_hit(lesson, empty_caches):
    with probes.flytekit_runs() as runs, contextlib.redirect_stdout(io.StringIO()) as out:
        lenient, strict = lesson.two_thresholds(n_trees=100)
    assert runs.bodies == ["train", "predict", "predict"]
    assert runs.hits == ["train"]
    assert (lenient, strict) == (579, 489)
    assert out.getvalue().splitlines() == [
        "train ran: 100 trees", "predict ran: min_confidence=0.3",
        "predict ran: min_confidence=0.5"]


def test_a_reader_run_prints_what_the_page_shows(reader_runs):
    script, pyflyte = reader_runs(NAME)
    assert script.stdout.splitlines()[-2:] == [
        "subworkflow, min_confidence=0.3, accepted: 579 of 597",
        "launch plan, min_confidence=0.5, accepted: 489 of 597",
    ]
    assert pyflyte.returncode == 0, pyflyte.stderr[-3000:]
    assert "train ran: 50 trees" in pyflyte.stdout  # a new input: a new cache key
    assert [line for line in script.stdout.splitlines() if len(line) > 72] == []


def test_pyflyte_gives_one_line_for_a_bad_input():
    run = run_downloaded(NAME, "two_thresholds", "--n_trees", "0")
    assert_refused_in_one_line(run, "--n_trees", "must be 1 to 1000, got 0")
