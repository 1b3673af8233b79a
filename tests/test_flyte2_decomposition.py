"""The Flyte 2 decomposition example: what it runs locally and what a cluster would receive.

Subprocesses keep flyte's local run data under their TMPDIR through the shared start-up hook
that tests/conftest.py puts on PYTHONPATH (_ext/flyte_local_runs.py).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest

from conftest import ROOT, fresh_dir, run_example

STEM = "decompose_with_task_environments"
SCRIPT = ROOT / "examples" / "flyte2" / f"{STEM}.py"
FLYTE = str(Path(sys.executable).parent / "flyte")


def run_script(home: Path | None = None, tmp: Path | None = None):
    return run_example(SCRIPT, home=home, tmp=tmp or fresh_dir("tmp"))


def flyte_run_local(*args: str):
    command = (FLYTE, "run", "--local", str(SCRIPT), "train_then_predict")
    return run_example(SCRIPT, *args, command=command)


def plain(output: str) -> str:
    """Terminal output as one line: colour codes, rich's boxes and line wrapping removed."""
    output = re.sub(r"\x1b\[[0-9;]*m", "", output)
    return " ".join(output.replace("│", " ").split())


def lines_of(out: str, prefix: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(prefix)]


def value_of(out: str, label: str) -> str:
    (line,) = lines_of(out, f"{label}: ")
    return line.split(": ", 1)[1]


@pytest.fixture(scope="module")
def example():
    """The example imported as a module (its __main__ block does not run)."""
    spec = importlib.util.spec_from_file_location(STEM, SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[STEM] = module  # flyte finds a task's module through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def standalone():
    home, tmp = fresh_dir("home"), fresh_dir("tmp")
    first = run_script(home, tmp)
    return first, home, tmp


def templates(example) -> dict:
    """Each task's template as ``flyte.extras.serialize`` builds it offline, by short name."""
    from flyte.extras import serialize

    tasks = {"train": example.train, "predict": example.predict,
             "train_then_predict": example.train_then_predict,
             "predict_warm": example.predict_warm}
    return {name: serialize(task).task_template for name, task in tasks.items()}


def resources(entries) -> dict[str, str]:
    from flyteidl2.core.tasks_pb2 import Resources

    return {Resources.ResourceName.Name(e.name).lower(): e.value for e in entries}


# --- What a cluster would receive -------------------------------------------------------


EXPECTED = {  # requests per environment, as the page says; no limits are sent
    "train": {"cpu": "2", "memory": "1Gi"},
    "predict": {"cpu": "1", "memory": "512Mi"},
    "train_then_predict": {"cpu": "250m", "memory": "256Mi"},
    "predict_warm": {"cpu": "1", "memory": "512Mi"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_environment_sends_its_own_requests_and_no_limits(example, name):
    template = templates(example)[name]
    assert resources(template.container.resources.requests) == EXPECTED[name]
    assert resources(template.container.resources.limits) == {}


def test_only_training_is_cached_and_its_version_hashes_the_function(example):
    specs = templates(example)
    assert specs["train"].metadata.discoverable is True
    assert len(specs["train"].metadata.discovery_version) == 64  # a sha256 of the source
    for name in ("predict", "train_then_predict", "predict_warm"):
        assert specs[name].metadata.discoverable is False


def test_a_reusable_task_serializes_as_an_actor_with_its_reuse_policy(example):
    specs = templates(example)
    warm = specs["predict_warm"]
    assert warm.type == "actor" and specs["predict"].type == "python"
    policy = warm.reuse_policy
    assert (policy.min_replicas, policy.max_replicas, policy.concurrency) == (2, 2, 1)
    assert policy.idle_ttl.seconds == 300
    assert warm.custom["type"] == "actor"  # the older form, kept for readers of `custom`
    assert not specs["predict"].HasField("reuse_policy")


def test_the_driver_declares_the_environments_it_calls(example):
    assert {env.name for env in example.driver.depends_on} == {
        "digits_training", "digits_inference"}


# --- What the local runs do ---------------------------------------------------------------


def test_local_runs_show_one_process_threads_and_a_cache_hit(standalone):
    run = standalone[0]
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    first, second = lines_of(out, "run 1, "), lines_of(out, "run 2, ")
    for task in ("train_then_predict", "train", "predict"):
        assert f"run 1, {task}: action created" in first
        assert f"run 1, {task}: body ran" in first
    assert "run 2, train: cache hit" in second
    assert "run 2, train: body ran" not in second
    assert "run 2, predict: body ran" in second
    assert value_of(out, "run 1, every action ran in this script's process") == "True"
    assert value_of(out, "run 1, threads that ran task bodies") == "3"
    assert value_of(out, "run 2, threads that ran task bodies") == "2"
    assert value_of(out, "run 1, accepted") == "579 of 597 held-out images"
    assert value_of(out, "run 2, accepted") == "489 of 597 held-out images"
    assert value_of(out, "predict_warm, local run, accepted") == "489"


def test_printed_lines_fit_the_output_box(standalone):
    """About 73 characters of monospace fit the captured-output box at 1280 px."""
    assert [line for line in standalone[0].stdout.splitlines() if len(line) > 72] == []


def test_printed_specs_match_the_serialized_ones(standalone):
    out = standalone[0].stdout
    assert value_of(out, "digits_training.train, requests") == "cpu=2, memory=1Gi"
    assert value_of(out, "digits_training.train, limits") == "none"
    assert value_of(out, "predict_warm, serialized type") == "actor"
    assert value_of(out, "predict_warm, reuse policy") == "2 to 2 replicas, idle TTL 300 s"


def test_the_forest_travels_inline_and_the_cap_keeps_it_under_the_limit(example, standalone):
    """Flyte 2 pickles the forest into the literal itself; a cluster refuses more than
    max_inline_io_bytes per call. A forest of MAX_TREES trees must still fit."""
    import cloudpickle
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier

    out = standalone[0].stdout
    assert value_of(out, "train -> predict, passed as") == "binary (inline)"
    assert value_of(out, "predict, max_inline_io_bytes") == "10 MiB"
    digits = load_digits()
    forest = RandomForestClassifier(n_estimators=example.MAX_TREES, random_state=0)
    forest.fit(digits.data[: example.N_TRAIN], digits.target[: example.N_TRAIN])
    assert len(cloudpickle.dumps(forest)) < example.predict.max_inline_io_bytes
    fits = int(value_of(out, "trees that fit inline, measured").removeprefix("about "))
    assert example.MAX_TREES < fits


def test_running_again_after_the_temp_dir_was_cleaned_works(standalone):
    """A second run on the same HOME after TMPDIR was emptied (a reboot): the cached model
    is stored inline in the local cache, so the cache hit still works."""
    _, home, tmp = standalone
    for entry in tmp.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    again = run_script(home, tmp)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "run 1, train: cache hit" in again.stdout


def test_flyte_run_local_runs_the_driver_with_given_inputs():
    result = flyte_run_local("--n_trees", "50", "--min_confidence", "0.5")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "accepted=" in output.replace(" ", "")


@pytest.mark.parametrize("flag,value,message", [
    ("--n_trees", "0", "n_trees must be between 1 and 200, got 0"),
    ("--n_trees", "1000000", "n_trees must be between 1 and 200, got 1000000"),
    ("--min_confidence", "1.5", "min_confidence must be between 0 and 1, got 1.5"),
])
def test_bad_input_fails_the_run_with_a_message_naming_it(flag, value, message):
    """flyte 2.12.1's CLI prints a failed task's traceback in its log, then one line with
    the task's message, and exits non-zero; the message names the input."""
    result = flyte_run_local(flag, value)
    output = plain(result.stdout + result.stderr)
    assert result.returncode != 0, output[-3000:]
    assert f"Execution failed: {message}" in output


def test_a_non_number_is_rejected_before_anything_runs():
    result = flyte_run_local("--n_trees", "many")
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "'many' is not a valid integer" in plain(output)
    assert "Launching local execution" not in output
