"""The decomposition example and guide: what they claim is what the code compiles to and does."""

from __future__ import annotations

import ast
import json
import re

import pytest
from flyteidl.core.tasks_pb2 import Resources

from compiled import compile_workflow, load_example
from conftest import ROOT, fresh_dir, run_example, run_pyflyte

STEM = "decompose_training_and_inference"
GUIDE = ROOT / "guides" / "decomposition.md"
SNIPPET = ROOT / "guides" / "snippets" / "union_actor.py"
SCRIPT = ROOT / "examples" / f"{STEM}.py"


def resources(entries) -> dict[str, str]:
    return {Resources.ResourceName.Name(entry.name).lower(): entry.value for entry in entries}


@pytest.fixture(scope="module")
def compiled():
    module = load_example(STEM)
    _, tasks = compile_workflow(module, module.train_then_predict)
    return tasks


# What the page says each task asks for: train big, infer small, with limits equal to requests.
CLAIMED = {
    "train": {"cpu": "2", "memory": "2Gi"},
    "predict": {"cpu": "1", "memory": "512Mi"},
}


@pytest.mark.parametrize("name", sorted(CLAIMED))
def test_compiled_resources_are_what_the_page_claims(compiled, name):
    container = compiled[name].template.container
    assert resources(container.resources.requests) == CLAIMED[name]
    assert resources(container.resources.limits) == CLAIMED[name]


def test_training_asks_for_more_than_inference(compiled):
    train = resources(compiled["train"].template.container.resources.requests)
    predict = resources(compiled["predict"].template.container.resources.requests)
    assert int(train["cpu"]) > int(predict["cpu"])
    assert train["memory"].endswith("Gi") and predict["memory"].endswith("Mi")


def test_only_training_is_cached_with_its_version(compiled):
    train, predict = compiled["train"].template.metadata, compiled["predict"].template.metadata
    assert train.discoverable is True
    assert train.discovery_version == "1"
    assert predict.discoverable is False


def test_printed_specs_are_read_from_the_compiled_templates(compiled, standalone_runs):
    """The lines on the page come from the same compilation the tests inspect."""
    out = standalone_runs(STEM).stdout
    for name, claimed in CLAIMED.items():
        quantities = f"cpu={claimed['cpu']}, memory={claimed['memory']}"
        assert f"{name}, compiled requests: {quantities}\n" in out
        assert f"{name}, compiled limits: {quantities}\n" in out
    assert "train, compiled cache: on, version 1\n" in out
    assert "predict, compiled cache: off\n" in out


def test_flytekit_resources_with_single_values_sets_requests_only():
    """The guide's trap: in flytekit 1.16 `resources=Resources(cpu="2")` leaves the limit unset."""
    from collections import OrderedDict

    from flytekit import Resources as FlytekitResources
    from flytekit import task
    from flytekit.configuration import ImageConfig, SerializationSettings
    from flytekit.tools.translator import get_serializable

    @task(resources=FlytekitResources(cpu="2", mem="2Gi"))
    def single(x: int) -> int:
        return x

    @task(resources=FlytekitResources(cpu=("2", "2"), mem=("2Gi", "2Gi")))
    def pairs(x: int) -> int:
        return x

    settings = SerializationSettings(image_config=ImageConfig.auto_default_image())
    for fn, limits in ((single, {}), (pairs, {"cpu": "2", "memory": "2Gi"})):
        container = get_serializable(OrderedDict(), settings, fn).template.container
        assert resources(container.resources.requests) == {"cpu": "2", "memory": "2Gi"}
        assert resources(container.resources.limits) == limits


def lines_of(out: str, prefix: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(prefix)]


def test_running_the_script_again_finds_train_cached_even_in_run_1(standalone_runs):
    """What the page tells a reader who runs the script twice: the cache outlasts the process."""
    again = standalone_runs(STEM, again=True)
    assert again.returncode == 0, again.stderr[-3000:]
    first = lines_of(again.stdout, "run 1, ")
    assert "run 1, train: cache hit" in first
    assert "run 1, train: body ran" not in first
    assert "run 1, predict: body ran" in first


def test_standalone_second_run_does_not_execute_training(standalone_runs):
    run = standalone_runs(STEM)
    assert run.returncode == 0, run.stderr[-3000:]
    first, second = lines_of(run.stdout, "run 1, "), lines_of(run.stdout, "run 2, ")
    # Run 1 trained (the detector sees a body run when there is one) ...
    assert "run 1, train: cache miss" in first
    assert "run 1, train: body ran" in first
    assert "run 1, predict: body ran" in first
    # ... run 2 found train in the cache, did not run its body, and ran predict with the new input.
    assert "run 2, train: cache hit" in second
    assert "run 2, train: body ran" not in second
    assert "run 2, predict: body ran" in second
    assert "run 2, times train's body ran: 0" in second
    assert "run 2, times predict's body ran: 1" in second
    assert not any(line.startswith("run 2, train body") for line in second), "timed a body that did not run"
    accepted = [line.split(": ", 1)[1] for line in run.stdout.splitlines() if ", accepted: " in line]
    assert len(accepted) == 2 and accepted[0] != accepted[1], "the second run used the new threshold"


def test_standalone_run_measures_the_model_that_would_travel(standalone_runs):
    out = standalone_runs(STEM).stdout
    (size_line,) = lines_of(out, "train -> predict, measured size of the serialized model: ")
    mib = float(re.search(r"([\d.]+) MiB", size_line)[1])
    assert 1 < mib < 50
    assert "train -> predict, stored as: SklearnEstimator blob (a joblib file)" in out
    assert "pod start-up per task: not measured (a local run starts no pods)" in out
    # The guide quotes the size; keep the two in step.
    assert f"{size_line.rsplit(': ', 1)[1]}" in GUIDE.read_text()


def flytekit_messages(result) -> list[str]:
    """flytekit's INFO log lines (JSON, on stderr when rich logging is off, as the tests set it)."""
    messages = []
    for line in result.stderr.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            if record.get("name") == "flytekit":
                messages.append(record["message"])
    return messages


def invoked(messages: list[str], task: str) -> int:
    return sum(bool(re.match(rf"Invoking [\w.]*\b{task} with inputs", m)) for m in messages)


def test_pyflyte_second_run_with_new_inference_input_does_not_retrain():
    """Three runs sharing one local cache, each observed through flytekit's own log.

    They share TMPDIR as well as HOME: the cache points at the model file flytekit keeps there
    (see the next test). Log level 20 (INFO) makes flytekit report cache hits and task calls.
    """
    shared = {"home": fresh_dir("decomposition-home"), "tmp": fresh_dir("decomposition-tmp"),
              "env": {"FLYTE_SDK_LOGGING_LEVEL": "20"}}
    script = run_example(SCRIPT, **shared)
    assert script.returncode == 0, script.stderr[-3000:]

    first = run_pyflyte(STEM, "train_then_predict", "--n_trees", "100", "--min_confidence", "0.3",
                        **shared)
    assert first.returncode == 0, first.stderr[-3000:]
    messages = flytekit_messages(first)
    # The script run above cached `train` under another task name, so pyflyte trains here.
    assert invoked(messages, "train") == 1 and invoked(messages, "predict") == 1
    assert any(m.startswith("Cache miss") for m in messages)
    assert "accepted=579" in first.stdout

    second = run_pyflyte(STEM, "train_then_predict", "--n_trees", "100", "--min_confidence", "0.5",
                         **shared)
    assert second.returncode == 0, second.stderr[-3000:]
    messages = flytekit_messages(second)
    assert invoked(messages, "train") == 0, "train's body ran again"
    assert invoked(messages, "predict") == 1
    assert "Cache hit" in messages
    assert "accepted=489" in second.stdout, "predict ran with the new threshold"


def test_local_cache_hit_fails_once_flytekits_temp_dir_is_gone(monkeypatch):
    """The guide's warning: the local cache keeps the model's path, not the model."""
    monkeypatch.setenv("FLYTE_SDK_LOGGING_LEVEL", "40")
    home = fresh_dir("decomposition-home")
    first = run_pyflyte(STEM, "train_then_predict", "--min_confidence", "0.3", home=home)
    assert first.returncode == 0, first.stderr[-3000:]
    # run_pyflyte deleted the first run's TMPDIR, and with it the joblib file the cache points to.
    second = run_pyflyte(STEM, "train_then_predict", "--min_confidence", "0.5", home=home)
    assert second.returncode != 0
    assert "File not found" in second.stdout + second.stderr


BAD_INPUTS = {
    "n_trees": ("0", "Invalid value for '--n_trees': must be at least 1, got 0"),
    "min_confidence": ("1.5", "Invalid value for '--min_confidence': must be between 0 and 1, got 1.5"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_naming_it(name):
    value, message = BAD_INPUTS[name]
    result = run_pyflyte(STEM, "train_then_predict", f"--{name}", value)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert message in output
    assert "Traceback" not in output


def test_union_actor_snippet_parses_and_uses_the_documented_api():
    """Parse only: `union` is not installed. Names as in Union's API reference (union 0.1.201)."""
    source = SNIPPET.read_text()
    tree = ast.parse(source)
    assert "from union.actor import ActorEnvironment" in source
    assert source.startswith("# NOT RUNNABLE WITH OPEN-SOURCE FLYTEKIT")
    (actor,) = [node for node in tree.body if isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "ActorEnvironment"]
    arguments = {keyword.arg for keyword in actor.value.keywords}
    assert {"name", "container_image", "replica_count", "ttl_seconds"} <= arguments
    (function,) = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert [ast.unparse(d) for d in function.decorator_list] == [f"{actor.targets[0].id}.task"]


def test_guide_labels_the_actor_snippet_as_not_runnable():
    text = GUIDE.read_text()
    block = re.search(r":::\{warning\} (.*?)\n(.*?)\n:::", text, re.S)
    assert block, "the snippet sits in a warning admonition"
    assert block[1] == "Not runnable with open-source flytekit"
    assert "```{literalinclude} snippets/union_actor.py" in block[2]
    assert text.count("snippets/union_actor.py") == 1, "the snippet is shown once, inside the warning"


def test_guide_links_every_labelled_section_of_the_example():
    example = (ROOT / "examples" / f"{STEM}.py").read_text()
    labels = re.findall(r"^# \.\. _(decomposition-[\w-]+):$", example, re.M)
    assert len(labels) >= 5
    text = GUIDE.read_text()
    for label in labels:
        assert f"<{label}>`" in text, f"the guide does not link {label}"
