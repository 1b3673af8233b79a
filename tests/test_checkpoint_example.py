"""The checkpoint example resumes as its page says: attempts run as a cluster's pods run them.

Each attempt is the task's real container command (``pyflyte-execute``, as serialized for a
cluster) in its own process, with local directories standing in for the blob store; a
preemption is a real SIGKILL. The tests read the checkpoints and outputs the processes left.
"""

from __future__ import annotations

import signal

import pytest

from compiled import compile_task, compile_workflow, load_example
from conftest import ROOT, fresh_dir, run_pyflyte

STEM = "checkpoint_resume"


@pytest.fixture(scope="module")
def example():
    return load_example(STEM)


@pytest.fixture(scope="module")
def killed_then_resumed(example):
    """Attempt 0 killed once its checkpoint reaches epoch 2; attempt 1 from its checkpoint."""
    work = fresh_dir("attempts")
    first = example.run_attempt(work, 0, None, 6, kill_after=2)
    second = example.run_attempt(work, 1, first.checkpoint, 6)
    return first, second


def test_a_killed_attempt_leaves_only_its_checkpoint(example, killed_then_resumed):
    first, _ = killed_then_resumed
    assert first.returncode == -signal.SIGKILL
    assert first.outputs is None, "a killed process writes no outputs and no error file"
    state = example.saved_state(first.checkpoint)
    assert state is not None and 2 <= state["epoch"] < 6
    assert len(state["losses"]) == state["epoch"]


def test_the_next_attempt_resumes_where_the_killed_one_stopped(example, killed_then_resumed):
    first, second = killed_then_resumed
    assert second.returncode == 0
    saved_epoch = example.saved_state(first.checkpoint)["epoch"]
    assert second.outputs["first_epoch_here"] == saved_epoch
    assert len(second.outputs["loss_per_epoch"]) == 6


def test_resumed_losses_equal_an_uninterrupted_run(example, killed_then_resumed, empty_flytekit_cache):
    """The checkpoint holds everything an epoch depends on, so the result is unchanged."""
    _, second = killed_then_resumed
    fresh = example.training(n_epochs=6)
    assert fresh.first_epoch_here == 0, "a new execution has no previous checkpoint"
    assert fresh.loss_per_epoch == second.outputs["loss_per_epoch"]


def test_restored_state_is_passed_on_before_the_first_epoch_ends(example, killed_then_resumed):
    """Killed right after it restored (before finishing an epoch), an attempt still hands the
    state on: the attempt after it does not start over."""
    first, _ = killed_then_resumed
    work = fresh_dir("chain")
    restored = example.saved_state(first.checkpoint)["epoch"]
    middle = example.run_attempt(work, 1, first.checkpoint, 6, kill_after=restored)
    assert middle.outputs is None
    last = example.run_attempt(work, 2, middle.checkpoint, 6)
    assert last.outputs["first_epoch_here"] >= restored


def test_an_attempt_whose_predecessor_saved_nothing_starts_over(example):
    """read() raises when the previous checkpoint location is empty; load_state turns that
    into a fresh start instead of a failed task."""
    work = fresh_dir("nothing-saved")
    empty = work / "previous-attempt-checkpoint"
    attempt = example.run_attempt(work, 1, empty, 2)
    assert attempt.returncode == 0
    assert attempt.outputs["first_epoch_here"] == 0


def test_read_raises_and_load_state_returns_none_when_nothing_was_saved(example):
    from flytekit.core.checkpointer import SyncCheckpoint
    from flytekit.exceptions.user import FlyteDataNotFoundException

    work = fresh_dir("read")
    checkpoint = SyncCheckpoint(checkpoint_dest=str(work / "cp"),
                                checkpoint_src=str(work / "nothing"))
    with pytest.raises(FlyteDataNotFoundException):
        checkpoint.read()
    assert example.load_state(checkpoint) is None


def test_local_run_has_no_previous_checkpoint(example, empty_flytekit_cache):
    assert example.training(n_epochs=2).first_epoch_here == 0


def test_compiled_spec_carries_interruptible_retries_and_checkpoint_placeholders(example):
    spec, tasks = compile_workflow(example, example.training)
    node = spec.template.nodes[0].metadata
    assert node.interruptible is True and node.retries.retries == 2
    template = tasks["train"].template
    assert template.metadata.interruptible is True and template.metadata.retries.retries == 2
    args = list(compile_task(example, example.train).template.container.args)
    assert args[args.index("--checkpoint-path") + 1] == "{{.checkpointOutputPrefix}}"
    assert args[args.index("--prev-checkpoint") + 1] == "{{.prevCheckpointPrefix}}"
    assert args[0] == "pyflyte-execute"
    assert args[args.index("task-module") + 1] == STEM


def test_page_output(standalone_runs):
    run = standalone_runs(STEM)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "attempt 1: exit code -9 (killed by SIGKILL), outputs: none" in run.stdout
    assert "killed-and-resumed losses equal the uninterrupted run's: True" in run.stdout
    assert "new execution (local run): started from epoch 0" in run.stdout
    assert "read() with nothing saved before: raised FlyteDataNotFoundException" in run.stdout
    assert max(map(len, run.stdout.splitlines())) <= 88
    assert max(map(len, (ROOT / "examples" / f"{STEM}.py").read_text().splitlines())) <= 88


@pytest.mark.parametrize("value", ["0", "201"])
def test_out_of_range_epochs_is_a_one_line_error_naming_the_input(value):
    result = run_pyflyte(STEM, "training", "--n_epochs", value)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines()
             if "Invalid value for '--n_epochs'" in line]
    assert lines and f"must be between 1 and 200, got {value}" in lines[0]
    assert "Traceback" not in result.stderr
