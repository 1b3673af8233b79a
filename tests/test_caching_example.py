"""What the caching example and guide claim, checked by running flytekit, not by reading prints.

In-process tests run the example's tasks and workflows against a fresh, empty local cache and
count how often each task body really executes. The standalone-run and `pyflyte run` tests run
the script as a reader would, in a subprocess with its own HOME.
"""

from __future__ import annotations

import io
import logging
import os
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import diskcache
import numpy as np
import pytest
from flytekit.core import local_cache
from flytekit.core.context_manager import FlyteContextManager
from flytekit.core.type_engine import TypeEngine
from flyteidl.core.literals_pb2 import LiteralMap as LiteralMapIdl
from flytekit.models.literals import LiteralMap

from compiled import compile_task, compile_workflow, load_example
from conftest import ROOT, fresh_dir, run_example, run_pyflyte

STEM = "rerun_with_caching"
SMALL = {"n_components": 8, "n_trees": 5}  # the page's code paths in a fraction of the time
# pyflyte's rich output wraps at the terminal width (80 without one): a wide one keeps every
# message on one line, whatever the temp paths around it.
WIDE = {"COLUMNS": "10000"}


@pytest.fixture
def example():
    return load_example(STEM)


def count_body_runs(runs: Counter, name: str, entity, monkeypatch) -> None:
    """Make ``entity`` count every real execution of its body in ``runs[name]``."""
    body = entity._task_function

    def counting(**kwargs):
        runs[name] += 1
        return body(**kwargs)

    monkeypatch.setattr(entity, "_task_function", counting)


@pytest.fixture
def body_runs(example, monkeypatch) -> Counter:
    runs: Counter[str] = Counter()
    for name in ("extract_features", "fit_model", "evaluate", "ink_per_image"):
        count_body_runs(runs, name, getattr(example, name), monkeypatch)
    return runs


def declare_in_example(example, source: str) -> dict:
    """Run ``source`` at the top level of the example's module, as an edit to the file would.

    flytekit names a task after the module whose top level creates it plus the function name;
    a task created inside a test function would get pytest's module in its name instead.
    """
    path = fresh_dir("edited") / "edited_example.py"  # flytekit reads a task's source lines
    path.write_text(source)
    namespace = dict(vars(example))
    exec(compile(source, str(path), "exec"), namespace)
    return namespace


def test_second_run_hits_the_cache_and_runs_no_body(example, empty_flytekit_cache, body_runs):
    with example.cache_events() as first:
        accuracy = example.digits_pipeline(**SMALL)
    assert body_runs == {"extract_features": 1, "fit_model": 1, "evaluate": 1}
    assert first == [("extract_features", "miss"), ("fit_model", "miss"), ("evaluate", "miss")]

    with example.cache_events() as second:
        accuracy_again = example.digits_pipeline(**SMALL)
    assert body_runs == {"extract_features": 1, "fit_model": 1, "evaluate": 1}, "a body ran again"
    assert second == [("extract_features", "hit"), ("fit_model", "hit"), ("evaluate", "hit")]
    assert accuracy_again == accuracy


def test_changing_an_ignored_input_keeps_the_key(example, empty_flytekit_cache, body_runs):
    example.digits_pipeline(**SMALL, n_jobs=1)
    with example.cache_events() as events:
        example.digits_pipeline(**SMALL, n_jobs=2)
    assert dict(events)["fit_model"] == "hit"
    assert body_runs["fit_model"] == 1

    # The key itself: n_jobs is dropped before hashing; n_trees is not.
    ctx = FlyteContextManager.current_context()

    def key(**inputs: int) -> str:
        literals = {name: TypeEngine.to_literal(ctx, value, int, TypeEngine.to_literal_type(int))
                    for name, value in inputs.items()}
        return local_cache._calculate_cache_key(
            example.fit_model.name, "1", LiteralMap(literals=literals),
            example.fit_model.metadata.cache_ignore_input_vars,
        )

    assert key(n_trees=5, n_jobs=1) == key(n_trees=5, n_jobs=2)
    assert key(n_trees=5, n_jobs=1) != key(n_trees=6, n_jobs=1)


def test_a_check_in_a_cached_body_runs_only_on_a_miss(example, empty_flytekit_cache):
    """The guide: fit_model validates n_jobs, but a hit (n_jobs is ignored) skips the check."""
    example.digits_pipeline(**SMALL, n_jobs=1)
    with example.cache_events() as events:
        example.digits_pipeline(**SMALL, n_jobs=0)  # would raise click.BadParameter on a miss
    assert dict(events)["fit_model"] == "hit"


def test_the_ignored_input_cannot_change_the_result(example):
    """The page says n_jobs cannot change the forest: the claim that justifies ignoring it."""
    features = example.extract_features.task_function(n_components=8)
    one_core = example.fit_model.task_function(features=features, n_trees=8, n_jobs=1)
    two_cores = example.fit_model.task_function(features=features, n_trees=8, n_jobs=2)
    assert np.array_equal(one_core.predict_proba(features), two_cores.predict_proba(features))


def test_a_version_bump_recomputes(example, empty_flytekit_cache, monkeypatch):
    example.extract_features(n_components=4)
    bumped = declare_in_example(example, (
        "bumped = task(container_image=image, cache=Cache(version='2'))"
        "(extract_features.task_function)\n"
    ))["bumped"]
    assert bumped.name == example.extract_features.name, "same function, same task name"
    runs: Counter[str] = Counter()
    count_body_runs(runs, "bumped", bumped, monkeypatch)
    with example.cache_events() as events:
        example.extract_features(n_components=4)
        bumped(n_components=4)
    assert events == [("extract_features", "hit"), ("extract_features", "miss")]
    assert runs["bumped"] == 1, "version 2's body ran"


def test_an_edited_body_with_the_same_version_returns_the_stale_result(example, empty_flytekit_cache):
    old = example.extract_features(n_components=4)
    edited = declare_in_example(example, (
        "def extract_features(n_components: int) -> np.ndarray:\n"
        "    return np.zeros((3, 3))  # a different body under the same name\n"
        "edited = task(container_image=image, cache=Cache(version='1'))(extract_features)\n"
    ))["edited"]
    assert edited.name == example.extract_features.name, "the edit keeps the task name"
    with example.cache_events() as events:
        result = edited(n_components=4)
    assert events == [("extract_features", "hit")]
    assert np.array_equal(result, old), "the cached result of the old body comes back"
    assert not np.array_equal(edited.task_function(n_components=4), old), "the new body differs"


def test_overwrite_runs_the_body_and_replaces_the_entry(example, empty_flytekit_cache, body_runs,
                                                         monkeypatch):
    example.extract_features(n_components=4)
    monkeypatch.setenv("FLYTE_LOCAL_CACHE_OVERWRITE", "true")
    with example.cache_events() as events:
        example.extract_features(n_components=4)
    assert events == [("extract_features", "overwrite")]
    assert body_runs["extract_features"] == 2


def test_offloaded_inputs_hit_only_with_a_hash_method(example, empty_flytekit_cache, body_runs):
    example.ink_by_reference()
    example.ink_by_reference()
    assert body_runs["ink_per_image"] == 2, "by reference: the same pixels in a new blob miss"
    body_runs.clear()
    example.ink_by_content()
    with example.cache_events() as events:
        example.ink_by_content()
    assert events == [("ink_per_image", "hit")]
    assert body_runs["ink_per_image"] == 1, "by content: the second run hits"


def test_forget_removes_only_the_examples_own_entries(example, empty_flytekit_cache):
    example.extract_features(n_components=4)
    location = os.path.expanduser(local_cache.CACHE_LOCATION)
    with diskcache.Cache(location) as store:
        store["someone_else.task-1-abc"] = b"keep me"
        assert len(store) == 2
    example.forget_cached_results(example.extract_features, example.fit_model)
    with diskcache.Cache(location) as store:
        assert list(store.iterkeys()) == ["someone_else.task-1-abc"]


def test_listening_to_cache_events_prints_nothing_and_restores_logging(example, empty_flytekit_cache):
    """Raw log lines must not reach the reader's console, whatever the level was."""
    log = logging.getLogger("flytekit")
    console = io.StringIO()
    handler = logging.StreamHandler(console)  # like flytekit's console handler: no own level
    saved = log.level
    log.addHandler(handler)
    log.setLevel(logging.WARNING)  # the default when FLYTE_SDK_LOGGING_LEVEL is unset
    try:
        with example.cache_events() as events:
            example.extract_features(n_components=4)
        assert events == [("extract_features", "miss")]
        assert console.getvalue() == ""
        assert log.level == logging.WARNING and handler.level == logging.NOTSET
        assert not any(type(h).__name__ == "_CacheEvents" for h in log.handlers)
    finally:
        log.removeHandler(handler)
        log.setLevel(saved)


def test_compiled_tasks_carry_the_cache_settings(example):
    _, tasks = compile_workflow(example, example.digits_pipeline)
    for name in ("extract_features", "fit_model", "evaluate"):
        meta = tasks[name].template.metadata
        assert meta.discoverable is True, f"{name}: cache on"
        assert meta.discovery_version == "1"
    fit = tasks["fit_model"].template.metadata
    assert fit.cache_serializable is True
    assert list(fit.cache_ignore_input_vars) == ["n_jobs"]
    extract = compile_task(example, example.extract_features).template.metadata
    assert extract.cache_serializable is False
    assert compile_task(example, example.digit_images).template.metadata.discoverable is False


def test_standalone_run_shows_what_the_page_claims(standalone_runs):
    run = standalone_runs(STEM)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    blocks = {
        "run 1, empty cache": ["extract_features: miss", "fit_model: miss", "evaluate: miss"],
        "run 2, same inputs": ["extract_features: hit", "fit_model: hit", "evaluate: hit"],
        "run 3, n_jobs=2": ["extract_features: hit", "fit_model: hit", "evaluate: hit"],
        "extract_features with cache=False": ["extract_features: hit"],
        "edited body, version 1": ["extract_features: hit"],
        "edited body, version 2": ["extract_features: miss"],
        "edited body, version 1, overwrite": ["extract_features: overwrite"],
        "edited body, version 1, again": ["extract_features: hit"],
    }
    lines = out.splitlines()
    for label, expected in blocks.items():
        start = next(i for i, line in enumerate(lines) if line.startswith(f"{label}, measured"))
        shown = [line.strip() for line in lines[start + 1:start + 1 + len(expected)]]
        assert shown == expected, label
    widths = re.findall(r"^features per image returned: (\d+)$", out, re.M)
    assert widths == ["30", "94", "94"], "stale, bumped, overwritten"
    assert re.search(r"^ink_by_reference, run 2: ink_per_image miss$", out, re.M)
    assert re.search(r"^ink_by_content, run 2: ink_per_image hit$", out, re.M)
    assert re.search(r"^compiled features_without_cache, node cacheable: False$", out, re.M)
    assert "waiting:" not in out and "local cache: dropped" not in out
    speedup = int(re.search(r"^speed-up of run 2, measured: (\d+)x$", out, re.M).group(1))
    assert speedup >= 20, f"issue #3 asks for a measured speed-up of at least 20x, got {speedup}x"


def test_first_run_misses_again_when_the_script_runs_again():
    """A reader's second run of the script starts cold too, without clearing their cache."""
    home = fresh_dir("home")
    first = run_example(ROOT / "examples" / f"{STEM}.py", home=home)
    second = run_example(ROOT / "examples" / f"{STEM}.py", home=home)
    for run in (first, second):
        assert run.returncode == 0, run.stderr[-3000:]
        lines = run.stdout.splitlines()
        start = lines.index(next(line for line in lines if line.startswith("run 1, empty cache")))
        assert [line.strip() for line in lines[start + 1:start + 4]] == [
            "extract_features: miss", "fit_model: miss", "evaluate: miss"]


@pytest.mark.parametrize("option, value, message", [
    ("--n_components", "0", "must be between 1 and 64, got 0"),
    ("--n_components", "65", "must be between 1 and 64, got 65"),
    ("--n_trees", "0", "must be between 1 and 2000, got 0"),
    ("--n_trees", "1000000", "must be between 1 and 2000, got 1000000"),
    ("--n_jobs", "0", "must be between 1 and 256, got 0"),
], ids=["n_components", "n_components-high", "n_trees", "n_trees-high", "n_jobs"])
def test_bad_input_gives_one_line_naming_it_and_a_nonzero_exit(option, value, message):
    args = {"--n_components": "4", "--n_trees": "3", "--n_jobs": "1"} | {option: value}
    result = run_pyflyte(STEM, "digits_pipeline", *[x for pair in args.items() for x in pair],
                         env=WIDE)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-2000:]
    line = f"Invalid value for '{option}': {message}"
    assert any(line in row for row in output.splitlines()), output[-2000:]
    assert "Traceback" not in output


# --- issue 11: with_overrides(cache=...) ---------------------------------------------------

def test_with_overrides_cache_false_is_ignored_by_a_local_run(example, empty_flytekit_cache,
                                                             body_runs):
    example.extract_features(n_components=4)
    with example.cache_events() as events:
        example.features_without_cache(n_components=4)
    assert events == [("extract_features", "hit")], "cache=False on the call changed nothing"
    assert body_runs["extract_features"] == 1


def test_with_overrides_compiles_into_the_node_and_leaves_the_task_cached(example):
    """What registration sends: the node says cacheable False, the task template still
    says discoverable; propeller v1.16.8 reads only the template (cited in the guide)."""
    spec, tasks = compile_workflow(example, example.features_without_cache)
    (node,) = spec.template.nodes
    assert node.metadata.cacheable is False
    meta = tasks["extract_features"].template.metadata
    assert meta.discoverable is True and meta.discovery_version == "1"


# --- the local key: input names in, declared output types out ------------------------------

def test_local_key_includes_input_names(example):
    ctx = FlyteContextManager.current_context()
    five = TypeEngine.to_literal(ctx, 5, int, TypeEngine.to_literal_type(int))
    key = local_cache._calculate_cache_key
    assert (key("t", "1", LiteralMap(literals={"n_trees": five}))
            != key("t", "1", LiteralMap(literals={"trees": five}))), "a renamed input misses"


def test_changing_only_the_output_type_returns_the_stored_value(example, empty_flytekit_cache):
    """The guide: same name and version, new output type: an int comes back as 3.0, and an
    int where a str is declared fails to convert (a cluster would miss instead)."""
    declared = {}
    for kind, value in (("int", "7"), ("float", "0.5"), ("str", "'new'")):
        declared[kind] = declare_in_example(example, (
            "@task(container_image=image, cache=Cache(version='1'))\n"
            f"def answer() -> {kind}:\n"
            f"    return {value}\n"
        ))["answer"]
    assert declared["int"]() == 7
    assert declared["float"]() == 7.0, "the stored int, converted; the new body (0.5) never ran"
    with pytest.raises(Exception, match="integer: 7, expected type <class .str.>"):
        declared["str"]()


# --- issue 10: reboots and concurrent copies -----------------------------------------------

def test_pyflyte_run_recovers_after_the_temp_dir_is_cleaned():
    """A reboot empties the temp dir the local cache points into. Loading the example drops
    its own entries whose files are gone, says so in one line, and the run succeeds."""
    home = fresh_dir("reboot-home")
    first = run_pyflyte(STEM, "digits_pipeline", "--n_trees", "5", home=home)
    assert first.returncode == 0, first.stderr[-3000:]
    # run_pyflyte deleted the first run's TMPDIR: the stored array and forest are gone.
    second = run_pyflyte(STEM, "digits_pipeline", "--n_trees", "6", home=home, env=WIDE)
    assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
    assert "local cache: dropped 2 stored results whose files were deleted" in second.stdout
    assert "Traceback" not in second.stdout + second.stderr


def test_dropping_broken_entries_keeps_entries_whose_files_exist(example,
                                                                empty_flytekit_cache):
    example.extract_features(n_components=4)
    example.evaluate(model=example.fit_model(features=example.extract_features(n_components=4),
                                             n_trees=3, n_jobs=1),
                     features=example.extract_features(n_components=4))
    assert example.forget_results_whose_files_are_gone(example.extract_features) == 0
    location = os.path.expanduser(local_cache.CACHE_LOCATION)
    with diskcache.Cache(location) as store:
        entries = len(store)
        (key,) = [k for k in store.iterkeys() if k.startswith(f"{example.extract_features.name}-")]
        stored = LiteralMapIdl.FromString(store[key])
    for literal in stored.literals.values():
        os.remove(literal.scalar.blob.uri)  # as a temp cleaner would
    assert example.forget_results_whose_files_are_gone(example.extract_features,
                                                       example.evaluate) == 1
    with diskcache.Cache(location) as store:
        assert len(store) == entries - 1, "only the broken entry went"


def test_two_copies_run_at_once_each_tell_the_whole_story():
    """One copy deleting the other's entries mid-run printed a wrong story (issue 10): the
    second copy now waits for the first one's lock."""
    home = fresh_dir("concurrent-home")
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: run_example(ROOT / "examples" / f"{STEM}.py", home=home),
                             range(2)))
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
        lines = [line.strip() for line in run.stdout.splitlines()]
        first = lines.index(next(x for x in lines if x.startswith("run 1, empty cache")))
        assert lines[first + 1:first + 4] == [
            "extract_features: miss", "fit_model: miss", "evaluate: miss"]
        assert lines[first + 5:first + 8] == [
            "extract_features: hit", "fit_model: hit", "evaluate: hit"]
    assert sum("waiting: another copy of this demo is running" in r.stdout for r in runs) <= 1
