"""The Flyte 2 decomposition lesson: one TaskEnvironment per resource profile, a driver
task, a cached train that a new threshold does not run again, what a cluster would
receive (reusable environments included), and the forest that travels inline."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import fresh_dir, machine, run_in_folder
from evidence import lessons, probes

NAME = "decompose/decompose_with_task_environments"


@pytest.fixture(scope="module")
def lesson():
    import flyte

    flyte.init()
    return lessons.load(NAME)


def run(entity, **inputs):
    """Run a task locally and quietly; return its output and what the probe saw."""
    import flyte

    with probes.flyte_runs() as runs, contextlib.redirect_stdout(io.StringIO()) as out:
        runs.value = flyte.run(entity, **inputs).outputs()[0]
    runs.printed = out.getvalue()
    return runs


def warm(lesson):
    import flyte

    return lesson.predict.override(reusable=flyte.ReusePolicy(replicas=2, idle_ttl=300))


def template(task):
    return probes.flyte_spec(task).task_template


# --------------------------------------------------------------------------------------------
# What a cluster would receive

EXPECTED = {  # requests per environment, as the lesson says; no limits are sent
    "train": {"cpu": "2", "memory": "1Gi"},
    "predict": {"cpu": "1", "memory": "512Mi"},
    "train_then_predict": {"cpu": "250m", "memory": "256Mi"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_environment_sends_its_own_requests_and_no_limits(lesson, name):
    resources = template(getattr(lesson, name)).container.resources
    assert probes.flyte_resources(resources.requests) == EXPECTED[name]
    assert probes.flyte_resources(resources.limits) == {}


def test_only_training_is_cached_and_its_version_hashes_the_function(lesson):
    train = template(lesson.train).metadata
    assert train.discoverable is True
    assert len(train.discovery_version) == 64  # a sha256 of the source
    for task in (lesson.predict, lesson.train_then_predict, warm(lesson)):
        assert template(task).metadata.discoverable is False


def test_the_driver_declares_the_environments_it_calls(lesson):
    assert {env.name for env in lesson.driver.depends_on} == {
        "digits_training", "digits_inference"}


def test_a_reusable_task_serializes_as_an_actor_with_its_reuse_policy(lesson):
    warm_spec, plain = template(warm(lesson)), template(lesson.predict)
    assert warm_spec.type == "actor" and plain.type == "python"
    policy = warm_spec.reuse_policy
    assert (policy.min_replicas, policy.max_replicas, policy.concurrency) == (2, 2, 1)
    assert policy.idle_ttl.seconds == 300 and policy.scaledown_ttl.seconds == 30
    assert warm_spec.custom["type"] == "actor"  # the older form, kept for older readers
    assert not plain.HasField("reuse_policy")
    # A reusable task keeps its environment's resources: every replica holds them.
    assert probes.flyte_resources(warm_spec.container.resources.requests) == EXPECTED[
        "predict"]


def test_reuse_policy_defaults_are_what_the_guide_says():
    import flyte

    policy = flyte.ReusePolicy()
    assert (policy.min_replicas, policy.max_replicas, policy.concurrency) == (2, 2, 1)
    assert policy.idle_ttl.total_seconds() == 30
    assert policy.scaledown_ttl.total_seconds() == 30
    assert policy.scope == "global"


@pytest.mark.parametrize("attempt", ["idle_ttl=10", "idle_ttl=None", "scaledown_ttl=10",
                                     "concurrency=2 on a def task", "new resources"])
def test_the_sdk_refuses_what_the_guide_says_it_refuses(lesson, attempt):
    import flyte

    make = {
        "idle_ttl=10": lambda: flyte.ReusePolicy(idle_ttl=10),
        "idle_ttl=None": lambda: flyte.ReusePolicy(idle_ttl=None),
        "scaledown_ttl=10": lambda: flyte.ReusePolicy(scaledown_ttl=10),
        "concurrency=2 on a def task": lambda: flyte.TaskEnvironment(
            name="sync_pool", reusable=flyte.ReusePolicy(concurrency=2)).task(lambda x: x),
        "new resources": lambda: warm(lesson).override(resources=flyte.Resources(cpu=2)),
    }[attempt]
    with pytest.raises(ValueError):
        make()


# --------------------------------------------------------------------------------------------
# What the local runs do


def test_second_run_with_a_new_threshold_does_not_run_train(lesson, empty_caches):
    first = run(lesson.train_then_predict, min_confidence=0.3)
    second = run(lesson.train_then_predict, min_confidence=0.5)
    assert first.bodies == ["train_then_predict", "train", "predict"] and first.hits == []
    assert second.bodies == ["train_then_predict", "predict"]
    assert second.hits == ["train"]
    assert (first.value.accepted, first.value.images) == (575, 597)
    assert (second.value.accepted, second.value.images) == (489, 597)
    assert first.printed.splitlines() == ["train ran: 40 trees",
                                          "predict ran: min_confidence=0.3"]
    assert second.printed.splitlines() == ["predict ran: min_confidence=0.5"]


def test_a_reusable_task_runs_locally_like_any_task(lesson, empty_caches):
    forest = run(lesson.train, n_trees=lesson.MAX_TREES).value
    warm_run = run(warm(lesson), model=forest, min_confidence=0.5)
    assert warm_run.bodies == ["predict"] and warm_run.value.accepted == 489


def test_after_the_temp_dir_is_emptied_the_cached_forest_is_still_served(lesson,
                                                                        empty_caches):
    """The local cache holds the inline literal, not a path into the runs' folder."""
    run(lesson.train_then_predict, min_confidence=0.3)
    shutil.rmtree(Path(os.environ["TMPDIR"], "flyte"), ignore_errors=True)
    again = run(lesson.train_then_predict, min_confidence=0.5)
    assert again.hits == ["train"] and again.value.accepted == 489


@pytest.mark.parametrize("inputs,message", [
    ({"n_trees": 0}, "n_trees must be between 1 and 40, got 0"),
    ({"n_trees": 1_000_000}, "n_trees must be between 1 and 40, got 1000000"),
    ({"min_confidence": 1.5}, "min_confidence must be between 0 and 1, got 1.5"),
])
def test_a_bad_input_fails_the_run_naming_it(lesson, empty_caches, inputs, message):
    with pytest.raises(Exception) as raised:
        run(lesson.train_then_predict, **inputs)
    assert message in str(raised.value)


def test_a_reader_run_prints_the_lines_the_guide_describes(reader_runs):
    script, local = reader_runs(NAME)
    assert script.stdout.splitlines() == [
        "train ran: 40 trees",
        "predict ran: min_confidence=0.3",
        "run 1, min_confidence=0.3, accepted: 575 of 597",
        "predict ran: min_confidence=0.5",
        "run 2, min_confidence=0.5, accepted: 489 of 597",
    ]
    assert [line for line in script.stdout.splitlines() if len(line) > 72] == []
    assert local.returncode == 0, local.stderr[-3000:]
    assert "accepted=489" in local.stdout.replace(" ", "")


@pytest.mark.parametrize("args,message", [
    (["--n_trees", "0"], "Execution failed: n_trees must be between 1 and 40, got 0"),
    (["--n_trees", "many"], "'many' is not a valid integer"),
])
def test_flyte_run_local_gives_one_line_for_a_bad_input(args, message):
    lesson = lessons.path(NAME)
    folder = fresh_dir("download")
    shutil.copy(lesson, folder / lesson.name)
    env = {**machine("bad-input"), "COLUMNS": "10000"}
    done = run_in_folder(folder, ["flyte", "run", "--local", lesson.name,
                                  "train_then_predict", *args], env)
    # Without rich's colours, boxes and line wrapping.
    output = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
                      .replace("│", " ").split())
    assert done.returncode != 0, output[-3000:]
    assert message in output
    assert "Traceback" not in output


# --------------------------------------------------------------------------------------------
# What travels between the tasks


def test_the_forest_travels_inline_under_every_limit_the_guide_names(lesson, empty_caches):
    """Flyte 2 pickles the forest into the literal itself. A forest of MAX_TREES trees
    stays under the open-source backend's default maxDownloadMBs (2 MiB) and so under
    the SDK's max_inline_io_bytes (10 MiB)."""
    import sys

    from sklearn.ensemble import RandomForestClassifier

    forest = run(lesson.train, n_trees=lesson.MAX_TREES).value
    literal, size = probes.flyte_literal(forest, RandomForestClassifier)
    assert literal.scalar.WhichOneof("value") == "binary"
    assert sys.getsizeof(forest) < 10 * 1024  # why the pickle transformer keeps it inline
    assert size < 2 * 2**20 < lesson.predict.max_inline_io_bytes == 10 * 2**20
    per_tree = size / lesson.MAX_TREES
    assert 40_000 < per_tree < 45_000  # the guide says about 43 KB per tree


def test_a_local_run_does_not_check_max_inline_io_bytes(lesson, empty_caches):
    forest = run(lesson.train, n_trees=lesson.MAX_TREES).value
    small = lesson.predict.override(max_inline_io_bytes=2**20)
    assert run(small, model=forest, min_confidence=0.5).value.accepted == 489
