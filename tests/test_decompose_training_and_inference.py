"""The flytekit decomposition lesson, and the guide that relies on it: two tasks with their
own resources, a cached ``train`` that a second run with a new threshold does not run
again, what a cluster would receive, and what travels between the tasks."""

from __future__ import annotations

import ast
import contextlib
import io
import logging
import re
import shutil

import click
import pytest

from conftest import ROOT, assert_refused_in_one_line, run_downloaded
from evidence import lessons, probes

NAME = "decompose/decompose_training_and_inference"
GUIDE = ROOT / "guides" / "decomposition.md"
SNIPPET = ROOT / "guides" / "snippets" / "union_actor.py"


@pytest.fixture(scope="module")
def lesson():
    return lessons.load(NAME)


def quietly(entity, **inputs):
    with contextlib.redirect_stdout(io.StringIO()):
        return entity(**inputs)


# --------------------------------------------------------------------------------------------
# What a cluster would receive

# What the lesson says each task asks for: train big, infer small, limits equal to requests.
CLAIMED = {"train": {"cpu": "2", "memory": "1Gi"}, "predict": {"cpu": "1", "memory": "512Mi"}}


@pytest.fixture(scope="module")
def templates(lesson):
    return probes.flytekit_compiled(lesson.train_then_predict)[1]


@pytest.mark.parametrize("name", sorted(CLAIMED))
def test_each_task_compiles_to_its_own_requests_and_limits(templates, name):
    resources = templates[name].container.resources
    assert probes.flytekit_resources(resources.requests) == CLAIMED[name]
    assert probes.flytekit_resources(resources.limits) == CLAIMED[name]


def amount(value: str) -> float:
    """A Kubernetes quantity in CPUs or MiB."""
    for suffix, scale in (("Gi", 1024), ("Mi", 1), ("m", 1 / 1000)):
        if value.endswith(suffix):
            return float(value.removesuffix(suffix)) * scale
    return float(value)


def test_requests_fit_the_platform_limits_of_a_stock_deployment(templates):
    """flyteadmin rejects a task whose request or limit exceeds the platform limits
    (validateTaskResources, v1.16.8). Its built-in limits, used by the flyte-binary chart,
    and the flyte-core chart's are both 2 CPUs and 1Gi; the demo cluster sets none."""
    stock = {"cpu": 2.0, "memory": 1024.0}  # CPUs, MiB
    for name, template in templates.items():
        resources = template.container.resources
        for entries in (resources.requests, resources.limits):
            for resource, value in probes.flytekit_resources(entries).items():
                assert amount(value) <= stock[resource], f"{name}: {resource}"


def test_only_training_is_cached_with_its_version(templates):
    train, predict = templates["train"].metadata, templates["predict"].metadata
    assert train.discoverable is True and train.discovery_version == "1"
    assert predict.discoverable is False


def test_the_override_sets_requests_and_limits_on_the_node(lesson):
    spec, _ = probes.flytekit_compiled(lesson.predict_with_more_memory)
    (node,) = [n for n in spec.template.nodes if n.id == "n1"]
    overrides = node.task_node.overrides.resources
    assert probes.flytekit_resources(overrides.requests) == {"memory": "1Gi"}
    assert probes.flytekit_resources(overrides.limits) == {"memory": "1Gi"}


def test_overriding_requests_alone_sends_no_limit_and_flytekit_warns(lesson):
    """The trap the guide describes: the node carries a request and no limit, so on a
    cluster the request is clamped to the task's own limit (flytekit PR #2151)."""
    from flytekit import Resources, workflow

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
            model = lesson.train(n_trees=n_trees)
            lesson.predict(model=model, min_confidence=min_confidence).with_overrides(
                requests=Resources(mem="1Gi"))

        spec, _ = probes.flytekit_compiled(requests_only)  # compiling runs the body
    finally:
        log.removeHandler(warnings)
        log.setLevel(level)
    (node,) = [n for n in spec.template.nodes if n.id == "n1"]
    assert probes.flytekit_resources(node.task_node.overrides.resources.requests) == {
        "memory": "1Gi"}
    assert probes.flytekit_resources(node.task_node.overrides.resources.limits) == {}
    assert any("without specifying limits" in m for m in warnings.messages)


def test_single_value_resources_compile_as_requests_only():
    """flytekit 1.16 sends ``resources=Resources(cpu="2")`` as a request with no limit; the
    backend fills the limit from the request (the guide cites where)."""
    from flytekit import Resources, task

    @task(resources=Resources(cpu="2", mem="1Gi"))
    def single(x: int) -> int:
        return x

    @task(resources=Resources(cpu=("2", "2"), mem=("1Gi", "1Gi")))
    def pairs(x: int) -> int:
        return x

    for entity, limits in ((single, {}), (pairs, {"cpu": "2", "memory": "1Gi"})):
        resources = probes.flytekit_compiled(entity)[0].template.container.resources
        assert probes.flytekit_resources(resources.requests) == {"cpu": "2", "memory": "1Gi"}
        assert probes.flytekit_resources(resources.limits) == limits


# --------------------------------------------------------------------------------------------
# What the runs do


def test_second_run_with_a_new_threshold_does_not_run_train(lesson, empty_caches):
    with probes.flytekit_runs() as first:
        lenient = quietly(lesson.train_then_predict, n_trees=100, min_confidence=0.3)
    with probes.flytekit_runs() as second:
        strict = quietly(lesson.train_then_predict, n_trees=100, min_confidence=0.5)
    assert first.bodies == ["train", "predict"] and first.misses == ["train"]
    assert second.bodies == ["predict"] and second.hits == ["train"]
    assert (lenient.accepted, lenient.images) == (579, 597)
    assert (strict.accepted, strict.images) == (489, 597)


def test_task_bodies_say_when_they_ran(lesson, empty_caches):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        lesson.train_then_predict(n_trees=100, min_confidence=0.3)
        lesson.train_then_predict(n_trees=100, min_confidence=0.5)
    assert out.getvalue().splitlines() == [
        "train ran: 100 trees", "predict ran: min_confidence=0.3",
        "predict ran: min_confidence=0.5"]


def test_a_reader_run_prints_the_lines_the_guide_describes(reader_runs):
    """The downloaded script: run 2 prints a predict line and no train line; the box's
    pyflyte run afterwards, in the same folder and HOME, finds train in the local cache
    the script left (it outlives the process). Printed lines fit the output box."""
    script, pyflyte = reader_runs(NAME)
    assert script.stdout.splitlines() == [
        "train ran: 100 trees",
        "predict ran: min_confidence=0.3",
        "run 1, min_confidence=0.3, accepted: 579 of 597",
        "predict ran: min_confidence=0.5",
        "run 2, min_confidence=0.5, accepted: 489 of 597",
    ]
    assert pyflyte.returncode == 0, pyflyte.stderr[-3000:]
    assert "predict ran: min_confidence=0.5" in pyflyte.stdout
    assert "train ran" not in pyflyte.stdout
    assert "accepted=489" in pyflyte.stdout
    # The captured-output box is narrower than the code column: about 73 characters.
    assert [line for line in script.stdout.splitlines() if len(line) > 72] == []


@pytest.mark.parametrize("inputs,hint,message", [
    ({"n_trees": 0}, "'--n_trees'", "must be between 1 and 1000, got 0"),
    ({"n_trees": 1_000_000}, "'--n_trees'", "must be between 1 and 1000, got 1000000"),
    ({"n_trees": 100, "min_confidence": 1.5}, "'--min_confidence'",
     "must be between 0 and 1, got 1.5"),
])
def test_a_bad_input_is_refused_naming_it(lesson, empty_caches, inputs, hint, message):
    with pytest.raises(click.BadParameter) as raised:
        quietly(lesson.train_then_predict, **inputs)
    assert (raised.value.param_hint, raised.value.message) == (hint, message)


def test_pyflyte_gives_one_line_for_a_bad_input():
    run = run_downloaded(NAME, "train_then_predict", "--n_trees", "0")
    assert_refused_in_one_line(run, "--n_trees", "must be between 1 and 1000, got 0")


def test_after_a_reboot_a_cache_hit_fails_until_the_cache_is_cleared(lesson, empty_caches):
    """What the guide says of a reboot: the local cache keeps the model's path in the temp
    dir; once that is gone, the next run fails; `pyflyte local-cache clear` (which calls
    LocalTaskCache.clear) is the way out."""
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.local_cache import LocalTaskCache

    quietly(lesson.train_then_predict, n_trees=100, min_confidence=0.3)
    shutil.rmtree(FlyteContextManager.current_context().file_access.raw_output_prefix)
    with pytest.raises(Exception):
        quietly(lesson.train_then_predict, n_trees=100, min_confidence=0.5)
    LocalTaskCache.clear()
    with probes.flytekit_runs() as recovered:
        report = quietly(lesson.train_then_predict, n_trees=100, min_confidence=0.5)
    assert recovered.bodies == ["train", "predict"] and report.accepted == 489


# --------------------------------------------------------------------------------------------
# What travels between the tasks


def test_the_model_travels_as_a_file_and_the_literal_holds_a_reference(lesson, empty_caches):
    from flytekit.core.context_manager import FlyteContextManager
    from sklearn.ensemble import RandomForestClassifier

    forest = quietly(lesson.train, n_trees=100)
    literal, reference_bytes = probes.flytekit_literal(forest, RandomForestClassifier)
    blob = literal.scalar.blob
    assert blob.metadata.type.format == "SklearnEstimator"
    file_access = FlyteContextManager.current_context().file_access
    size = file_access.get_filesystem_for_path(blob.uri).size(blob.uri)
    assert 1 * 2**20 < size < 50 * 2**20
    assert reference_bytes < 1000


def test_an_inline_list_of_floats_costs_bytes_per_item():
    _, size = probes.flytekit_literal([0.5] * 10_000, list[float])
    per_item = size / 10_000
    assert 5 < per_item < 50
    fits = int(2 * 2**20 / per_item)
    assert 2 * 2**20 - per_item < fits * per_item <= 2 * 2**20


# --------------------------------------------------------------------------------------------
# The guide and its snippet


def test_union_actor_snippet_parses_and_uses_the_documented_api():
    """Parse only: `union` is not installed. Names as in Union's API reference (union
    0.1.201)."""
    source = SNIPPET.read_text()
    tree = ast.parse(source)
    assert "from union.actor import ActorEnvironment" in source
    assert source.startswith("# NOT RUNNABLE WITH OPEN-SOURCE FLYTEKIT")
    (actor,) = [node for node in tree.body if isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and ast.unparse(node.value.func) == "ActorEnvironment"]
    arguments = {keyword.arg for keyword in actor.value.keywords}
    assert {"name", "container_image", "replica_count", "ttl_seconds"} <= arguments
    (function,) = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    assert [ast.unparse(d) for d in function.decorator_list] == [f"{actor.targets[0].id}.task"]


def test_guide_labels_the_actor_snippet_as_not_runnable():
    text = GUIDE.read_text()
    block = re.search(r"^:::\{admonition\} (.*?)\n:class: warning\n(.*?)\n:::$", text,
                      re.S | re.M)
    assert block, "the snippet sits in a warning admonition"
    assert block[1] == "Not runnable with open-source flytekit"
    assert "```{literalinclude} snippets/union_actor.py" in block[2]
    assert text.count("snippets/union_actor.py") == 1, "shown once, inside the warning"


def test_guide_links_every_labelled_section_of_the_lessons_and_evidence_pages():
    text = GUIDE.read_text()
    files = [*(ROOT / "examples" / "decompose").glob("*.py"),
             *(ROOT / "evidence" / "pages" / "decompose").glob("*.py")]
    labels = [label for path in files
              for label in re.findall(r"^# \.\. _(decomposition2?-[\w-]+):$",
                                      path.read_text(), re.M)]
    assert len(labels) >= 20
    for label in labels:
        assert f"<{label}>`" in text, f"the guide does not link {label}"


def test_guide_states_the_releases_it_was_checked_against():
    text = GUIDE.read_text()
    assert "flytekit 1.16.31" in text and "Flyte v1.16.8" in text
    assert "flyte 2.12.1" in text and "v2.0.43" in text
