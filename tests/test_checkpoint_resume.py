"""The checkpoint lesson resumes as its guide says, with attempts run as a cluster's pods
run them (``evidence.attempts``): the task's serialized container command in its own
process, local directories for the blob store, a preemption a real SIGKILL sent right
after a given checkpoint write. The tests read the checkpoints and outputs the
processes left."""

from __future__ import annotations

import contextlib
import io
import pickle
import signal

import click
import pytest
from flytekit.core.checkpointer import SyncCheckpoint
from flytekit.exceptions.user import FlyteDataNotFoundException

from conftest import assert_refused_in_one_line, fresh_dir, run_downloaded
from evidence import attempts, lessons, probes

NAME = "interruptible/checkpoint_resume"
N_EPOCHS = 6


@pytest.fixture(scope="module")
def lesson():
    return lessons.load(NAME)


def state(checkpoint) -> dict:
    return pickle.loads(attempts.saved(checkpoint))


@pytest.fixture(scope="module")
def killed_then_resumed(lesson):
    """Attempt 0 killed right after the checkpoint that holds epoch 2 (a first attempt
    writes its starting state, then one checkpoint per epoch); attempt 1 from it."""
    work = fresh_dir("attempts")
    inputs = {"n_epochs": N_EPOCHS}
    first = attempts.run_attempt(lesson.train, inputs, work, 0, kill_after_writes=3)
    second = attempts.run_attempt(lesson.train, inputs, work, 1, previous=first.checkpoint)
    return first, second


def test_a_killed_attempt_leaves_only_its_checkpoint(killed_then_resumed):
    first, _ = killed_then_resumed
    assert first.returncode == -signal.SIGKILL
    assert first.outputs is None, "a killed process writes no outputs and no error file"
    saved = state(first.checkpoint)
    assert saved["epoch"] == 2 and len(saved["losses"]) == 2


def test_the_next_attempt_resumes_where_the_killed_one_stopped(killed_then_resumed):
    _, second = killed_then_resumed
    assert second.returncode == 0
    assert second.outputs["first_epoch_here"] == 2
    assert len(second.outputs["loss_per_epoch"]) == N_EPOCHS


def test_resumed_losses_equal_an_uninterrupted_run(lesson, killed_then_resumed):
    """The checkpoint holds everything an epoch depends on, so the result is unchanged;
    a new execution (here a local run) has no previous checkpoint."""
    _, second = killed_then_resumed
    with contextlib.redirect_stdout(io.StringIO()):
        fresh = lesson.training(n_epochs=N_EPOCHS)
    assert fresh.first_epoch_here == 0
    assert fresh.loss_per_epoch == second.outputs["loss_per_epoch"]


def test_restored_state_is_passed_on_before_the_first_epoch_ends(lesson,
                                                                  killed_then_resumed):
    """Killed right after it wrote what it restored, an attempt still hands the state
    on: the attempt after it resumes at the same epoch, not from scratch."""
    first, _ = killed_then_resumed
    work = fresh_dir("chain")
    inputs = {"n_epochs": N_EPOCHS}
    middle = attempts.run_attempt(lesson.train, inputs, work, 1, previous=first.checkpoint,
                                  kill_after_writes=1)
    assert middle.returncode == -signal.SIGKILL and middle.outputs is None
    assert state(middle.checkpoint)["epoch"] == 2
    last = attempts.run_attempt(lesson.train, inputs, work, 2, previous=middle.checkpoint)
    assert last.outputs["first_epoch_here"] == 2


def test_an_attempt_whose_predecessor_saved_nothing_starts_over(lesson):
    """read() raises when the previous checkpoint location is empty; the task treats
    that as a fresh start instead of failing."""
    work = fresh_dir("nothing-saved")
    empty = SyncCheckpoint(checkpoint_dest=str(work / "cp"),
                           checkpoint_src=str(work / "nothing"))
    with pytest.raises(FlyteDataNotFoundException):
        empty.read()
    attempt = attempts.run_attempt(lesson.train, {"n_epochs": 2}, work, 1,
                                   previous=work / "nothing")
    assert attempt.returncode == 0 and attempt.outputs["first_epoch_here"] == 0


def test_a_local_run_has_no_previous_checkpoint(lesson):
    with contextlib.redirect_stdout(io.StringIO()):
        assert lesson.training(n_epochs=2).first_epoch_here == 0


def test_compiled_spec_carries_interruptible_retries_and_checkpoint_placeholders(lesson):
    spec, templates = probes.flytekit_compiled(lesson.training)
    node = spec.template.nodes[0].metadata
    assert node.interruptible is True and node.retries.retries == 2
    meta = templates["train"].metadata
    assert meta.interruptible is True and meta.retries.retries == 2
    args = attempts.container_args(lesson.train)
    assert args[0] == "pyflyte-execute"
    assert args[args.index("--checkpoint-path") + 1] == "{{.checkpointOutputPrefix}}"
    assert args[args.index("--prev-checkpoint") + 1] == "{{.prevCheckpointPrefix}}"
    assert args[args.index("task-module") + 1] == "checkpoint_resume"


def test_an_out_of_range_epoch_count_is_refused(lesson):
    with pytest.raises(click.BadParameter, match="must be 1 to 200, got 201"):
        lesson.train(n_epochs=201)


def test_a_bad_epoch_count_is_a_one_line_error_naming_the_input():
    run = run_downloaded(NAME, "training", "--n_epochs", "0")
    assert_refused_in_one_line(run, "--n_epochs", "must be 1 to 200, got 0")
