"""The Flyte 2 retries example does what its page says, measured with the ``flyte`` SDK.

Local runs execute in this process, so the tests read which epoch each attempt started
from (the example's ``ATTEMPT_STARTS``). conftest keeps the SDK's local runs under the
session's TMPDIR, here and in subprocesses.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from compiled import load_example
from conftest import ROOT, run_example

NAME = "flyte2/retries_and_checkpoint"
SCRIPT = ROOT / "examples" / f"{NAME}.py"


@pytest.fixture(scope="module")
def example():
    """The example as a module (its __main__ block does not run), and an initialized SDK."""
    import flyte

    module = load_example(NAME)
    flyte.init()
    return module


@pytest.fixture
def run(example):
    """Run a task locally, recording from an empty ATTEMPT_STARTS."""
    import flyte

    def _run(task, **inputs):
        example.ATTEMPT_STARTS.clear()
        return flyte.run(task, **inputs)

    return _run


def test_the_sdk_retries_locally_and_the_retry_resumes_from_the_checkpoint(example, run):
    losses = run(example.train, n_epochs=5, fail_after=2).outputs()[0]
    assert example.ATTEMPT_STARTS == [0, 2], "attempt 2 started from attempt 1's epoch 2"
    assert len(losses) == 5
    uninterrupted = run(example.train, n_epochs=5).outputs()[0]
    assert example.ATTEMPT_STARTS == [0]
    assert losses == uninterrupted, "the checkpoint held everything an epoch depends on"


def test_a_non_recoverable_error_is_not_retried(example, run):
    import flyte.errors

    with pytest.raises(flyte.errors.RuntimeUserError, match="fail_after must be between"):
        run(example.train, n_epochs=3, fail_after=3)
    assert len(example.ATTEMPT_STARTS) == 1, "one attempt, with two retries to spare"


def test_override_retries_zero_keeps_the_tasks_retries(example, run):
    """``override(retries=0)`` falls back to the task's own retries (``retries or
    self.retries`` in TaskTemplate.override); ``RetryStrategy(count=0)`` removes them."""
    import flyte
    import flyte.errors

    run(example.train.override(retries=0), n_epochs=3, fail_after=1)
    assert example.ATTEMPT_STARTS == [0, 1]
    with pytest.raises(flyte.errors.RuntimeUserError, match="simulated preemption"):
        run(example.train.override(retries=flyte.RetryStrategy(count=0)),
            n_epochs=3, fail_after=1)
    assert example.ATTEMPT_STARTS == [0]


# --- what a cluster receives ------------------------------------------------------------

def test_task_spec_carries_interruptible_retries_and_checkpoint_placeholders(example):
    spec = example.task_spec("train")
    meta = spec.task_template.metadata
    assert meta.interruptible is True and meta.retries.retries == 2
    assert spec.environment.name == "spot_training"
    args = list(spec.task_template.container.args)
    assert args[args.index("--checkpoint-path") + 1] == "{{.checkpointOutputPrefix}}"
    assert args[args.index("--prev-checkpoint") + 1] == "{{.prevCheckpointPrefix}}"
    assert spec.task_template.id.name == "spot_training.train"


def test_override_changes_interruptible_and_retries_for_one_call(example):
    overridden = example.task_spec("train", interruptible=False, retries=5)
    assert overridden.task_template.metadata.interruptible is False
    assert overridden.task_template.metadata.retries.retries == 5
    assert example.task_spec("train").task_template.metadata.interruptible is True


def test_environment_image_pins_the_installed_numpy(example):
    from importlib import metadata

    assert f"numpy=={metadata.version('numpy')}" in repr(example.env.image)


# --- bad inputs, through the CLI a reader uses -------------------------------------------

@pytest.mark.parametrize("flags,message", [
    (["--n_epochs", "0"], "n_epochs must be between 1 and 200, got 0"),
    (["--n_epochs", "4", "--fail_after", "9"], "fail_after must be between 0"),
])
def test_bad_input_fails_the_run_with_one_line_naming_the_input(flags, message):
    flyte_cli = str(Path(sys.executable).parent / "flyte")
    result = run_example(SCRIPT, command=(flyte_cli, "run", "--local", str(SCRIPT), "train",
                                          *flags), env={"COLUMNS": "200"})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert [line for line in output.splitlines() if message in line], output[-2000:]
