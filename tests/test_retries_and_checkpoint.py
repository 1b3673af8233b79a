"""The Flyte 2 retries lesson does what its guide says: the SDK retries locally, the retry
resumes from the checkpoint, NonRecoverableError is not retried, and the task's flags
and checkpoint placeholders travel in its serialized spec."""

from __future__ import annotations

import contextlib
import io
import shutil

import flyte
import flyte.errors
import pytest

from conftest import WIDE_TERMINAL, fresh_dir, machine, run_in_folder
from evidence import lessons, probes

NAME = "interruptible/retries_and_checkpoint"


@pytest.fixture(scope="module")
def lesson():
    flyte.init()
    return lessons.load(NAME)


def test_the_sdk_retries_locally_and_the_retry_resumes_from_the_checkpoint(lesson):
    retried = probes.flyte_attempts(lesson.train, n_epochs=5, fail_after=2)
    assert retried.ran("train") == 2 and retried.starts == [0, 2]
    assert len(retried.value) == 5
    uninterrupted = probes.flyte_attempts(lesson.train, n_epochs=5)
    assert uninterrupted.ran("train") == 1 and uninterrupted.starts == [0]
    assert retried.value == uninterrupted.value, "the checkpoint held everything"


def test_the_run_level_interruptible_flag_changes_nothing_locally(lesson):
    printed = io.StringIO()
    with probes.flyte_runs() as runs, contextlib.redirect_stdout(printed):
        losses = flyte.with_runcontext(interruptible=True).run(
            lesson.train, n_epochs=4, fail_after=1).outputs()[0]
    assert runs.ran("train") == 2 and len(losses) == 4


def test_without_a_backoff_the_controller_waits_its_default(lesson):
    from evidence import sdk

    first, factor = sdk.flyte_local_retry_fallback()
    retried = probes.flyte_attempts(lesson.train, n_epochs=3, fail_after=1)
    assert retried.waits == [first] == [0.5] and factor == 2.0


def test_a_non_recoverable_error_is_not_retried(lesson):
    failed = probes.flyte_attempts(lesson.train, n_epochs=3, fail_after=3)
    assert failed.error.code == "NonRecoverableError"
    assert "fail_after" in str(failed.error)
    assert failed.ran("train") == 1, "one attempt, with two retries to spare"


def test_override_retries_zero_keeps_the_tasks_retries(lesson):
    """``override(retries=0)`` falls back to the task's own retries (``retries or
    self.retries`` in TaskTemplate.override); ``RetryStrategy(count=0)`` removes them."""
    kept = probes.flyte_attempts(lesson.train.override(retries=0), n_epochs=3, fail_after=1)
    assert kept.error is None and kept.starts == [0, 1]
    removed = probes.flyte_attempts(
        lesson.train.override(retries=flyte.RetryStrategy(count=0)), n_epochs=3, fail_after=1)
    assert "simulated preemption" in str(removed.error) and removed.starts == [0]


def test_spec_carries_interruptible_retries_and_checkpoint_placeholders(lesson):
    spec = probes.flyte_spec(lesson.train)
    meta = spec.task_template.metadata
    assert meta.interruptible is True and meta.retries.retries == 2
    assert spec.task_template.id.name == "spot_training.train"
    args = list(spec.task_template.container.args)
    assert args[args.index("--checkpoint-path") + 1] == "{{.checkpointOutputPrefix}}"
    assert args[args.index("--prev-checkpoint") + 1] == "{{.prevCheckpointPrefix}}"


def test_override_changes_interruptible_and_retries_for_one_call(lesson):
    overridden = probes.flyte_spec(lesson.train.override(interruptible=False, retries=5))
    assert overridden.task_template.metadata.interruptible is False
    assert overridden.task_template.metadata.retries.retries == 5
    assert probes.flyte_spec(lesson.train).task_template.metadata.interruptible is True


def test_interruptible_lives_on_the_environment_the_task_and_the_call():
    """The most specific level wins; a task without its own value takes the
    environment's."""
    env = flyte.TaskEnvironment(name="levels", image=flyte.Image.from_debian_base(),
                                interruptible=True)

    @env.task
    def inherits() -> None: ...

    @env.task(interruptible=False)
    def pinned() -> None: ...

    def flag(task) -> bool:
        return probes.flyte_spec(task).task_template.metadata.interruptible

    assert flag(inherits) is True and flag(pinned) is False
    assert flag(inherits.override(interruptible=False)) is False
    assert flag(pinned.override(interruptible=True)) is True


def test_a_bad_input_fails_the_run_with_one_line_naming_the_input():
    lesson = lessons.path(NAME)
    folder = fresh_dir("retries-bad-input")
    shutil.copy(lesson, folder / lesson.name)
    env = {**machine("retries-bad-input"), "COLUMNS": WIDE_TERMINAL}
    run_ = run_in_folder(folder, ["flyte", "run", "--local", lesson.name, "train",
                                  "--n_epochs", "4", "--fail_after", "9"], env)
    output = run_.stdout + run_.stderr
    assert run_.returncode != 0, output[-2000:]
    assert [line for line in output.splitlines()
            if "got n_epochs=4, fail_after=9" in line], output[-2000:]
