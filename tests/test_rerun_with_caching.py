"""The lesson cache/rerun_with_caching, and what the caching guide says of flytekit's cache.

In-process runs under ``probes.flytekit_runs()`` on empty local caches count which task
bodies ran and which calls the cache served; ``probes.flytekit_compiled`` gives what
registration would send. One subprocess: a bad input on the Run-it box's command line.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_refused_in_one_line, run_downloaded
from evidence import lessons, probes, shapes

NAME = "cache/rerun_with_caching"
SMALL = {"n_components": 8, "n_trees": 5}  # the lesson's code paths in a fraction of the time


@pytest.fixture(scope="module")
def lesson():
    return lessons.load(NAME)


def probed(entity, **inputs) -> probes.TaskRuns:
    """Run ``entity`` once under the probe, its prints kept out of the test output."""
    with probes.flytekit_runs() as runs, contextlib.redirect_stdout(io.StringIO()):
        runs.value = entity(**inputs)
    return runs


def test_second_run_serves_every_task_and_runs_no_body(lesson, empty_caches):
    first = probed(lesson.digits_pipeline, **SMALL)
    assert first.bodies == ["extract_features", "fit_model", "evaluate"]
    assert first.misses == ["extract_features", "fit_model", "evaluate"]
    second = probed(lesson.digits_pipeline, **SMALL)
    assert second.bodies == []
    assert second.hits == ["extract_features", "fit_model", "evaluate"]
    assert second.value == first.value


def test_an_ignored_input_keeps_the_key_and_a_used_one_changes_it(lesson, empty_caches):
    probed(lesson.digits_pipeline, **SMALL, n_jobs=1)
    ignored = probed(lesson.digits_pipeline, **SMALL, n_jobs=2)
    assert ignored.bodies == [] and ignored.served("fit_model") == 1
    used = probed(lesson.digits_pipeline, n_components=8, n_trees=6)
    assert used.bodies == ["fit_model", "evaluate"]
    assert used.hits == ["extract_features"]


def test_a_hit_skips_the_checks_in_the_body(lesson, empty_caches):
    """The guide: n_jobs=0 fails when the forest is fitted, but a hit never fits it."""
    probed(lesson.digits_pipeline, **SMALL)
    served = probed(lesson.digits_pipeline, **SMALL, n_jobs=0)
    assert served.bodies == [] and served.served("fit_model") == 1
    features = lesson.extract_features.task_function(n_components=8)
    with pytest.raises(ValueError, match="n_jobs == 0"), \
            contextlib.redirect_stdout(io.StringIO()):
        lesson.fit_model.task_function(features=features, n_trees=5, n_jobs=0)


def test_the_ignored_input_cannot_change_the_result(lesson):
    """What justifies ignoring n_jobs: the forest is the same on one core or two."""
    features = lesson.extract_features.task_function(n_components=8)
    one = lesson.fit_model.task_function(features=features, n_trees=8, n_jobs=1)
    two = lesson.fit_model.task_function(features=features, n_trees=8, n_jobs=2)
    assert np.array_equal(one.predict_proba(features), two.predict_proba(features))


def test_a_bad_n_trees_is_refused_by_the_body(lesson, empty_caches):
    with pytest.raises(Exception, match="must be 1 to 2000, got 0"):
        probed(lesson.digits_pipeline, n_components=8, n_trees=0)


EDITED_BODY = '''
def extract_features(n_components: int) -> np.ndarray:
    pixels = load_digits().data / 16.0
    pca = PCA(n_components=n_components, whiten=True, random_state=0)
    return np.hstack([pca.fit(pixels[:N_TRAIN]).transform(pixels), pixels])
'''


def edited(lesson, version: str):
    source = EDITED_BODY + ("edited = task(container_image=image, "
                            f"cache=Cache(version={version!r}))(extract_features)\n")
    return lessons.redefine(lesson, source)["edited"]


def test_an_edited_body_under_the_same_version_returns_the_stale_result(lesson,
                                                                       empty_caches):
    old = probed(lesson.extract_features, n_components=8).value
    task = edited(lesson, "1")
    assert task.name == lesson.extract_features.name, "the edit keeps the task name"
    served = probed(task, n_components=8)
    assert served.hits == ["extract_features"] and served.bodies == []
    assert served.value.shape == old.shape == (1797, 8)
    assert task.task_function(n_components=8).shape == (1797, 72), "the new body differs"


def test_a_version_bump_runs_the_new_body(lesson, empty_caches):
    probed(lesson.extract_features, n_components=8)
    bumped = probed(edited(lesson, "2"), n_components=8)
    assert bumped.bodies == ["extract_features"] and bumped.value.shape == (1797, 72)
    assert probed(lesson.extract_features, n_components=8).hits == ["extract_features"]


def test_overwrite_runs_the_body_and_replaces_the_entry(lesson, empty_caches, monkeypatch):
    probed(lesson.extract_features, n_components=8)
    monkeypatch.setenv("FLYTE_LOCAL_CACHE_OVERWRITE", "true")  # pyflyte's --overwrite-cache
    overwrite = probed(edited(lesson, "1"), n_components=8)
    assert overwrite.bodies == ["extract_features"] and overwrite.hits == []
    monkeypatch.delenv("FLYTE_LOCAL_CACHE_OVERWRITE")
    after = probed(lesson.extract_features, n_components=8)
    assert after.hits == ["extract_features"]
    assert after.value.shape == (1797, 72), "the entry now holds the edited body's output"


def test_with_overrides_cache_false_is_ignored_by_a_local_run(lesson, empty_caches):
    from flytekit import workflow

    @workflow
    def without_cache(n_components: int = 8):
        lesson.extract_features(n_components=n_components).with_overrides(cache=False)

    probed(lesson.extract_features, n_components=8)
    assert probed(without_cache).hits == ["extract_features"]


def test_with_overrides_compiles_into_the_node_and_leaves_the_task_cached(lesson):
    """What registration sends: the node says cacheable False, the task template still says
    discoverable; propeller v1.16.8 reads only the template (cited in the guide)."""
    from flytekit import workflow

    @workflow
    def without_cache(n_components: int = 8):
        lesson.extract_features(n_components=n_components).with_overrides(cache=False)

    spec, templates = probes.flytekit_compiled(without_cache)
    (node,) = spec.template.nodes
    assert node.metadata.cacheable is False
    meta = templates["extract_features"].metadata
    assert meta.discoverable is True and meta.discovery_version == "1"


def test_compiled_tasks_carry_the_cache_settings(lesson):
    _, templates = probes.flytekit_compiled(lesson.digits_pipeline)
    for name in ("extract_features", "fit_model", "evaluate"):
        meta = templates[name].metadata
        assert (meta.discoverable, meta.discovery_version) == (True, "1"), name
    fit = templates["fit_model"].metadata
    assert fit.cache_serializable is True and list(fit.cache_ignore_input_vars) == ["n_jobs"]
    extract = templates["extract_features"].metadata
    assert extract.cache_serializable is False and list(extract.cache_ignore_input_vars) == []


def test_the_local_key_holds_the_input_names(lesson, empty_caches):
    """Same task name and version, the input renamed: a miss."""
    renamed = lessons.redefine(lesson, (
        "@task(container_image=image, cache=Cache(version='1'))\n"
        "def extract_features(k: int) -> np.ndarray:\n"
        "    return np.zeros((2, k))\n"))["extract_features"]
    probed(lesson.extract_features, n_components=8)
    assert probed(renamed, k=8).bodies == ["extract_features"]


def test_changing_only_the_output_type_returns_the_stored_value(lesson, empty_caches):
    """The guide: same name and version, new output type: an int comes back as 7.0, and
    an int where a str is declared fails to convert (a cluster would miss instead)."""
    declared = {}
    for kind, value in (("int", "7"), ("float", "0.5"), ("str", "'new'")):
        declared[kind] = lessons.redefine(lesson, (
            "@task(container_image=image, cache=Cache(version='1'))\n"
            f"def answer() -> {kind}:\n"
            f"    return {value}\n"))["answer"]
    assert declared["int"]() == 7
    assert declared["float"]() == 7.0, "the stored int, converted; the new body never ran"
    with pytest.raises(Exception, match="integer: 7, expected type <class .str.>"):
        declared["str"]()


def test_a_parameter_description_is_in_the_compiled_interface_not_the_local_key(
        lesson, empty_caches):
    """The guide: a cluster hashes the whole interface (descriptions too) into the key;
    locally the same edit is served."""
    documented = shapes.documented_features(lesson)
    probed(lesson.extract_features, n_components=8)
    assert probed(documented, n_components=8).hits == ["extract_features"]
    described = {}
    for label, entity in (("before", lesson.extract_features), ("after", documented)):
        _, templates = probes.flytekit_compiled(entity)
        described[label] = templates["extract_features"].interface.inputs[
            "n_components"].description
    assert described == {"before": "n_components", "after": "how many components to keep"}


def test_after_the_temp_dir_is_emptied_a_task_that_misses_reads_a_missing_file(
        lesson, empty_caches):
    """The guide's reboot: the cache keeps the stored array's path, not the array. A run
    whose every task hits reads nothing and succeeds; one whose fit_model misses cannot
    read the features extract_features was served, and fails."""
    from flytekit.core.context_manager import FlyteContextManager

    probed(lesson.digits_pipeline, **SMALL)
    stored = Path(FlyteContextManager.current_context().file_access.raw_output_prefix)
    shutil.rmtree(stored)
    assert probed(lesson.digits_pipeline, **SMALL).bodies == []
    with probes.flytekit_runs() as runs, pytest.raises(
            Exception, match="(?s)inputs of 'rerun_with_caching.fit_model'.*File not found"):
        with contextlib.redirect_stdout(io.StringIO()):
            lesson.digits_pipeline(n_components=8, n_trees=6)
    assert runs.hits == ["extract_features"] and runs.bodies == []


def test_a_second_process_is_served_by_the_first_ones_cache(reader_runs):
    """The lesson: the local cache outlives the script. The Run-it box's pyflyte command,
    run after the script on the same machine, asks for run 4's inputs: no body runs."""
    script, pyflyte = reader_runs(NAME)[:2]
    assert "fit_model ran: 100 trees" in script.stdout
    assert pyflyte.returncode == 0, pyflyte.stderr[-2000:]
    assert " ran" not in pyflyte.stdout, pyflyte.stdout


def test_a_bad_n_trees_on_the_command_line_gives_one_line_and_exit_2():
    run = run_downloaded(NAME, "digits_pipeline", "--n_trees", "0")
    assert_refused_in_one_line(run, "--n_trees", "must be 1 to 2000, got 0")
