"""The decomposition example and guide: what they claim is what the code compiles to and does."""

from __future__ import annotations

import ast
import json
import logging
import re
import shutil
from collections import OrderedDict

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


def lines_of(out: str, prefix: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(prefix)]


def value_of(out: str, label: str) -> str:
    (line,) = lines_of(out, f"{label}: ")
    return line.split(": ", 1)[1]


def number(text: str) -> float:
    return float(re.search(r"-?[\d.]+", text.replace(",", ""))[0])


def one_line(output: str) -> str:
    """Terminal output as one line: rich's boxes and line wrapping removed."""
    return " ".join(output.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


@pytest.fixture(scope="module")
def example():
    return load_example(STEM)


@pytest.fixture(scope="module")
def compiled(example):
    return compile_workflow(example, example.train_then_predict)


# --- What a cluster would receive -------------------------------------------------------

# What the page says each task asks for: train big, infer small, with limits equal to requests.
CLAIMED = {
    "train": {"cpu": "2", "memory": "1Gi"},
    "predict": {"cpu": "1", "memory": "512Mi"},
}


@pytest.mark.parametrize("name", sorted(CLAIMED))
def test_compiled_resources_are_what_the_page_claims(compiled, name):
    container = compiled[1][name].template.container
    assert resources(container.resources.requests) == CLAIMED[name]
    assert resources(container.resources.limits) == CLAIMED[name]


def test_requests_fit_the_platform_limits_of_a_stock_deployment(compiled):
    """flyteadmin rejects a task whose request or limit exceeds the platform limits
    (validateTaskResources, v1.16.8). Its built-in limits, used by the flyte-binary chart,
    and the flyte-core chart's are both 2 CPUs and 1Gi; the demo cluster sets none."""
    stock = {"cpu": 2.0, "memory": 1024.0}  # CPUs, MiB
    for task in compiled[1].values():
        entries = task.template.container.resources
        for quantity in (*entries.requests, *entries.limits):
            name = Resources.ResourceName.Name(quantity.name).lower()
            assert amount(quantity.value) <= stock[name], f"{task.template.id.name}: {name}"


def amount(value: str) -> float:
    """A Kubernetes quantity in CPUs or MiB."""
    for suffix, scale in (("Gi", 1024), ("Mi", 1), ("m", 1 / 1000)):
        if value.endswith(suffix):
            return float(value.removesuffix(suffix)) * scale
    return float(value)


def test_only_training_is_cached_with_its_version(compiled):
    train, predict = compiled[1]["train"].template.metadata, compiled[1]["predict"].template.metadata
    assert train.discoverable is True
    assert train.discovery_version == "1"
    assert predict.discoverable is False


def test_the_failure_handler_is_the_workflows_failure_node(compiled):
    spec, tasks = compiled
    failure = spec.template.failure_node
    assert failure is not None
    assert failure.task_node.reference_id.name.endswith(".explain_failure")
    assert "explain_failure" in tasks


def test_override_sets_requests_and_limits_on_the_node(example):
    spec, _ = compile_workflow(example, example.predict_with_more_memory)
    (node,) = [n for n in spec.template.nodes if n.id == "n1"]
    overrides = node.task_node.overrides.resources
    assert resources(overrides.requests) == {"memory": "1Gi"}
    assert resources(overrides.limits) == {"memory": "1Gi"}


def test_overriding_requests_alone_sends_no_limit_and_flytekit_warns(example):
    """The trap the guide describes: the node carries a request and no limit, so on a
    cluster the request is clamped to the task's own limit (flytekit PR #2151)."""
    from flytekit import Resources as FlytekitResources
    from flytekit import workflow

    class Warnings(logging.Handler):
        def __init__(self):
            super().__init__(logging.WARNING)
            self.messages: list[str] = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    log, warnings = logging.getLogger("flytekit"), Warnings()
    level = log.level
    log.addHandler(warnings)
    log.setLevel(logging.WARNING)  # the tests run flytekit at ERROR
    try:
        @workflow
        def requests_only(n_trees: int = 100, min_confidence: float = 0.5):
            model = example.train(n_trees=n_trees)
            example.predict(model=model, min_confidence=min_confidence).with_overrides(
                requests=FlytekitResources(mem="1Gi"))

        spec, _ = compile_workflow(example, requests_only)  # compiling runs the body
    finally:
        log.removeHandler(warnings)
        log.setLevel(level)
    (node,) = [n for n in spec.template.nodes if n.id == "n1"]
    assert resources(node.task_node.overrides.resources.requests) == {"memory": "1Gi"}
    assert resources(node.task_node.overrides.resources.limits) == {}
    assert any("without specifying limits" in m for m in warnings.messages)


def test_single_value_resources_serialize_as_requests_only():
    """flytekit 1.16 sends `resources=Resources(cpu="2")` as a request with no limit; the
    backend fills the limit from the request (the guide cites where)."""
    from flytekit import Resources as FlytekitResources
    from flytekit import task
    from flytekit.configuration import ImageConfig, SerializationSettings
    from flytekit.tools.translator import get_serializable

    @task(resources=FlytekitResources(cpu="2", mem="1Gi"))
    def single(x: int) -> int:
        return x

    @task(resources=FlytekitResources(cpu=("2", "2"), mem=("1Gi", "1Gi")))
    def pairs(x: int) -> int:
        return x

    settings = SerializationSettings(image_config=ImageConfig.auto_default_image())
    for fn, limits in ((single, {}), (pairs, {"cpu": "2", "memory": "1Gi"})):
        container = get_serializable(OrderedDict(), settings, fn).template.container
        assert resources(container.resources.requests) == {"cpu": "2", "memory": "1Gi"}
        assert resources(container.resources.limits) == limits


def test_subworkflow_and_launch_plan_compile_to_different_node_kinds(example):
    spec, _ = compile_workflow(example, example.two_thresholds)
    kinds = {n.id: n.workflow_node for n in spec.template.nodes}
    assert kinds["n0"].sub_workflow_ref is not None and kinds["n0"].launchplan_ref is None
    assert kinds["n1"].launchplan_ref.name == "train_then_predict_lp"


def test_printed_specs_are_read_from_the_compiled_templates(standalone_runs):
    """The lines on the page come from the same compilation the tests inspect."""
    out = standalone_runs(STEM).stdout
    for name, claimed in CLAIMED.items():
        quantities = f"cpu={claimed['cpu']}, memory={claimed['memory']}"
        assert f"{name}, compiled requests: {quantities}\n" in out
        assert f"{name}, compiled limits: {quantities}\n" in out
    assert "train, compiled cache: on, version 1\n" in out
    assert "predict, compiled cache: off\n" in out
    assert "train_then_predict, failure node runs: explain_failure\n" in out
    assert "two_thresholds, node n0: subworkflow: inside this execution\n" in out
    assert "two_thresholds, node n1: launch plan: a separate execution\n" in out


# --- What the runs do ---------------------------------------------------------------------


def test_standalone_second_run_does_not_execute_training(standalone_runs):
    run = standalone_runs(STEM)
    assert run.returncode == 0, run.stderr[-3000:]
    first, second = lines_of(run.stdout, "run 1, "), lines_of(run.stdout, "run 2, ")
    # Run 1 trained (the detector sees a body run when there is one) ...
    assert "run 1, train: cache miss" in first
    assert "run 1, train: body ran" in first
    assert "run 1, predict: body ran" in first
    # ... run 2 found train in the cache, did not run its body, ran predict with the new input.
    assert "run 2, train: cache hit" in second
    assert "run 2, train: body ran" not in second
    assert "run 2, predict: body ran" in second
    assert "run 2, times train's body ran: 0" in second
    assert "run 2, times predict's body ran: 1" in second
    assert not any(line.startswith("run 2, train body") for line in second), "timed a body that did not run"
    accepted = [line.split(": ", 1)[1] for line in run.stdout.splitlines() if ", accepted: " in line]
    assert accepted[:2] == ["579 of 597 held-out images", "489 of 597 held-out images"]
    assert value_of(run.stdout, "two_thresholds, times train's body ran locally") == "0"


def test_running_the_script_again_starts_cold_again(standalone_runs):
    """The script forgets train's cache entries first, so run 1 trains every time."""
    again = standalone_runs(STEM, again=True)
    assert again.returncode == 0, again.stderr[-3000:]
    first = lines_of(again.stdout, "run 1, ")
    assert "run 1, train: cache miss" in first
    assert "run 1, train: body ran" in first


def test_script_runs_after_its_temp_dir_was_cleaned():
    """Issue 10, item 7, replayed: run once, delete TMPDIR's contents (a reboot), run again
    with the same HOME, so the local cache points at a deleted model file."""
    home, tmp = fresh_dir("decomposition-home"), fresh_dir("decomposition-tmp")
    first = run_example(SCRIPT, home=home, tmp=tmp)
    assert first.returncode == 0, first.stderr[-3000:]
    for entry in tmp.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    second = run_example(SCRIPT, home=home, tmp=tmp)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "run 1, train: cache miss" in second.stdout


def test_pyflyte_after_a_cleaned_temp_dir_says_so_in_one_line_then_recovers():
    """The same replay for a reader's `pyflyte run`: the failure handler forgets the stale
    entry and says what to do in one line; the next run trains again and succeeds."""
    home, tmp = fresh_dir("decomposition-home"), fresh_dir("decomposition-tmp")
    args = ("--n_trees", "100", "--min_confidence", "0.3")
    first = run_pyflyte(STEM, "train_then_predict", *args, home=home, tmp=tmp)
    assert first.returncode == 0, first.stderr[-3000:]
    for entry in tmp.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    stale = run_pyflyte(STEM, "train_then_predict", *args, home=home, tmp=tmp)
    output = stale.stdout + stale.stderr
    assert stale.returncode == 1, output[-3000:]
    assert "forgot it: run the same command again" in one_line(output)
    assert "Traceback" not in output
    assert len(output.splitlines()) < 10, output
    third = run_pyflyte(STEM, "train_then_predict", *args, home=home, tmp=tmp,
                        env={"FLYTE_SDK_LOGGING_LEVEL": "20"})
    assert third.returncode == 0, third.stderr[-3000:]
    assert invoked(flytekit_messages(third), "train") == 1, "train ran again"
    assert "accepted=579" in third.stdout


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
    """Two pyflyte runs sharing one local cache (and TMPDIR, where the model file lives),
    each observed through flytekit's own log at INFO."""
    shared = {"home": fresh_dir("decomposition-home"), "tmp": fresh_dir("decomposition-tmp"),
              "env": {"FLYTE_SDK_LOGGING_LEVEL": "20"}}
    first = run_pyflyte(STEM, "train_then_predict", "--n_trees", "100", "--min_confidence", "0.3",
                        **shared)
    assert first.returncode == 0, first.stderr[-3000:]
    messages = flytekit_messages(first)
    assert invoked(messages, "train") == 1 and invoked(messages, "predict") == 1
    assert "accepted=579" in first.stdout

    second = run_pyflyte(STEM, "train_then_predict", "--n_trees", "100", "--min_confidence", "0.5",
                         **shared)
    assert second.returncode == 0, second.stderr[-3000:]
    messages = flytekit_messages(second)
    assert invoked(messages, "train") == 0, "train's body ran again"
    assert invoked(messages, "predict") == 1
    assert "Cache hit" in messages
    assert "accepted=489" in second.stdout, "predict ran with the new threshold"


BAD_INPUTS = {
    "n_trees=0": ("n_trees", "0", "Invalid value for '--n_trees': must be between 1 and 1000, got 0"),
    "n_trees=1000000": ("n_trees", "1000000",
                        "Invalid value for '--n_trees': must be between 1 and 1000, got 1000000"),
    "min_confidence=1.5": ("min_confidence", "1.5",
                           "Invalid value for '--min_confidence': must be between 0 and 1, got 1.5"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_line_naming_it(case):
    name, value, message = BAD_INPUTS[case]
    result = run_pyflyte(STEM, "train_then_predict", f"--{name}", value)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert message in one_line(output)
    assert "Traceback" not in output


# --- What travels, and the model --------------------------------------------------------


def test_printed_lines_fit_the_output_box(standalone_runs):
    """The captured-output box is narrower than the code column (690 px at 1280): about 73
    characters of monospace; keep a margin."""
    long = [line for line in standalone_runs(STEM).stdout.splitlines() if len(line) > 72]
    assert long == []


def test_standalone_run_measures_the_model_that_would_travel(standalone_runs):
    out = standalone_runs(STEM).stdout
    assert value_of(out, "train -> predict, stored as") == "SklearnEstimator blob (joblib)"
    assert 1 < number(value_of(out, "train -> predict, measured size of the model file")) < 50
    # The literal that travels through Flyte's metadata holds a reference, not the model.
    assert number(value_of(out, "train -> predict, measured size of the reference")) < 1000
    per_item = number(value_of(out, "inline list[float], measured bytes per item"))
    fits = number(value_of(out, "inline list[float], items that fit in 2 MiB"))
    assert 5 < per_item < 50  # the printed per-item size is rounded to 0.1 byte
    assert fits * per_item == pytest.approx(2 * 2**20, rel=0.01)


def test_model_defaults_are_the_sourced_inputs_the_page_states(example):
    overhead = example.Overhead()
    assert overhead.pod_start_s == 5.0
    assert overhead.transfer_mb_per_s == 85.0
    assert overhead.usd_per_cpu_hour == pytest.approx(0.000011244 * 3600)
    assert overhead.usd_per_gib_hour == pytest.approx(0.000001235 * 3600 * 2**30 / 1e9)
    text = SCRIPT.read_text()
    for stated in ("**pod start, 5 s**", "**85 MB/s**", "0.000011244 per vCPU-second",
                   "0.000001235 per GB-second", "99th percentile per cluster-day"):
        assert stated in " ".join(line.lstrip("# ") for line in text.splitlines())


def test_split_adds_two_pod_starts_minus_one_and_two_transfers(example):
    m = example
    overhead = m.Overhead()
    first, second = m.Step(30.0, 2, 1.0), m.Step(12.0, 1, 0.5)
    handoff = 85e6  # one second at 85 MB/s
    together, split = m.keep_together(first, second, overhead), m.split(first, second, handoff, overhead)
    assert together.seconds == pytest.approx(5 + 30 + 12)
    assert split.seconds == pytest.approx(together.seconds + 5 + 2 * 1.0)
    rate = m.usd_per_second
    assert together.usd == pytest.approx(47 * rate(2, 1.0, overhead))
    assert split.usd == pytest.approx(36 * rate(2, 1.0, overhead) + 18 * rate(1, 0.5, overhead))


@pytest.mark.parametrize("seconds", [0.01, 1.0, 30.0, 3600.0])
def test_break_even_is_where_the_costs_cross(example, seconds):
    m = example
    overhead = m.Overhead()
    first, handoff = m.Step(seconds, 2, 1.0), 4.3e6
    even = m.break_even_second_seconds(first, m.Step(0.05, 1, 0.5), handoff, overhead)

    def costs(t):
        step = m.Step(t, 1, 0.5)
        return m.split(first, step, handoff, overhead).usd, m.keep_together(first, step, overhead).usd

    at, below, above = costs(even), costs(even * 0.9), costs(even * 1.1)
    assert at[0] == pytest.approx(at[1], rel=1e-9)
    assert below[0] > below[1] and above[0] < above[1]


def test_no_break_even_when_the_second_step_needs_as_much(example):
    m = example
    big = m.Step(10.0, 2, 1.0)
    assert m.break_even_second_seconds(big, big, 1e6, m.Overhead()) is None


def test_reruns_to_repay_is_the_first_count_that_repays(example):
    m = example
    overhead = m.Overhead()
    first, second, handoff = m.Step(2.0, 2, 1.0), m.Step(0.1, 1, 0.5), 4.3e6
    n = m.reruns_to_repay(first, second, handoff, overhead)
    lost = m.split(first, second, handoff, overhead).seconds - m.keep_together(first, second, overhead).seconds
    saved = m.keep_together(first, second, overhead).seconds - m.rerun_split(second, handoff, overhead).seconds
    assert n * saved >= lost > (n - 1) * saved
    # A first step faster than the download never repays.
    assert m.reruns_to_repay(m.Step(0.0, 2, 1.0), second, handoff, overhead) is None


def test_printed_verdict_follows_from_the_printed_measurements(standalone_runs):
    """The page's conclusion agrees with its own numbers: the measured predict time is below
    the break-even, so one run is cheaper as one task; the split's re-run is faster."""
    out = standalone_runs(STEM).stdout
    even = number(value_of(out, "break-even, model").rsplit("runs", 1)[1])
    measured = number(value_of(out, "break-even, measured predict run time"))
    verdict = value_of(out, "one run, cheaper choice (model)")
    assert verdict == ("split" if measured > even else "keep together")
    one = number(value_of(out, "re-run, new threshold, one task, model on measured inputs"))
    two = number(value_of(out, "re-run, new threshold, two tasks, model on measured inputs"))
    repay = value_of(out, "re-runs of predict alone to repay the extra pod start, measured")
    assert (repay == "None") == (two >= one)


# --- The guide and its snippet ------------------------------------------------------------


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
    block = re.search(r"^:::\{admonition\} (.*?)\n:class: warning\n(.*?)\n:::$", text, re.S | re.M)
    assert block, "the snippet sits in a warning admonition"
    assert block[1] == "Not runnable with open-source flytekit"
    assert "```{literalinclude} snippets/union_actor.py" in block[2]
    assert text.count("snippets/union_actor.py") == 1, "the snippet is shown once, inside the warning"


def test_guide_links_every_labelled_section_of_the_examples():
    text = GUIDE.read_text()
    for path in (SCRIPT, ROOT / "examples" / "flyte2" / "decompose_with_task_environments.py"):
        labels = re.findall(r"^# \.\. _(decomposition2?-[\w-]+):$", path.read_text(), re.M)
        assert len(labels) >= 4
        for label in labels:
            assert f"<{label}>`" in text, f"the guide does not link {label}"


def test_guide_states_the_releases_it_was_checked_against():
    text = GUIDE.read_text()
    assert "flytekit 1.16.31" in text and "Flyte v1.16.8" in text
    assert "flyte 2.12.1" in text and "v2.0.43" in text
