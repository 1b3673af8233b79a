"""The lesson cache/cache_by_function_body, and what the caching guide says of the flyte
SDK's cache: which edits re-run a task under ``cache="auto"``, what pins, skips or
overwrites the cache locally, what a cluster receives, and what the keys hash.

In-process runs under ``probes.flyte_runs()`` on empty local caches; templates from
``probes.flyte_spec`` (``flyte.extras.serialize``). One subprocess: a bad input on the
Run-it box's command line.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import inspect
import io
import shutil
import textwrap
import types
from datetime import timedelta

import flyte
import pytest
from flyte.io import File
from flyte.models import CodeBundle, SerializationContext
from flyteidl2.core import types_pb2

from conftest import fresh_dir, machine, run_in_folder
from evidence import lessons, probes, sdk

NAME = "cache/cache_by_function_body"
TEXT = "The cat sat on the mat"


@pytest.fixture(scope="module")
def lesson():
    flyte.init()
    return lessons.load(NAME)


def probed(task, *args, runner=flyte, **kwargs) -> probes.TaskRuns:
    """One local run of ``task`` under the probe, its prints kept out of the test output."""
    with probes.flyte_runs() as runs, contextlib.redirect_stdout(io.StringIO()):
        runs.value = runner.run(task, *args, **kwargs).outputs()[0]
    return runs


def outcome(task, *args, **kwargs) -> tuple[str, object]:
    runs = probed(task, *args, **kwargs)
    return ("ran" if runs.bodies else "served" if runs.hits else "?"), runs.value


def version(task) -> str:
    return probes.flyte_spec(task).task_template.metadata.discovery_version


def by_hand(function, salt: str = "") -> str:
    """FunctionBodyPolicy and Cache.get_version recomputed: SHA-256 of the syntax tree and
    the salt, hashed again."""
    tree = ast.dump(ast.parse(textwrap.dedent(inspect.getsource(function))))
    body = hashlib.sha256(tree.encode() + salt.encode()).hexdigest()
    return hashlib.sha256(body.encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# The lesson's calls


def test_the_second_call_and_an_ignored_input_are_served(lesson, empty_caches):
    assert outcome(lesson.count_words, TEXT) == ("ran", 6)
    assert outcome(lesson.count_words, TEXT) == ("served", 6)
    served = probed(lesson.count_words, TEXT, verbose=True)
    assert served.bodies == [] and served.hits == ["count_words"]


def test_an_environment_without_a_cache_setting_caches_nothing(lesson, empty_caches):
    """The guide: Flyte 2 tasks are uncached until you set `cache`."""
    env = flyte.TaskEnvironment(name="no_cache_setting")

    @env.task
    def count(text: str) -> int:
        return len(text.split())

    assert [outcome(count, TEXT)[0] for _ in range(2)] == ["ran", "ran"]
    assert probes.flyte_spec(count).task_template.metadata.discoverable is False


def test_a_file_by_path_is_served_stale_and_by_digest_runs_again(lesson, empty_caches):
    notes = fresh_dir("notes") / "notes.txt"

    def by_digest() -> File:
        digest = hashlib.sha256(notes.read_bytes()).hexdigest()
        return File.from_existing_remote(str(notes), file_cache_key=digest)

    notes.write_text("one\ntwo\n")
    assert outcome(lesson.count_lines, File.from_existing_remote(str(notes))) == ("ran", 2)
    assert outcome(lesson.count_lines, by_digest()) == ("ran", 2)
    assert outcome(lesson.count_lines, by_digest()) == ("served", 2)
    notes.write_text("one\ntwo\nthree\n")
    assert outcome(lesson.count_lines, File.from_existing_remote(str(notes))) == (
        "served", 2), "by path: the old count"
    assert outcome(lesson.count_lines, by_digest()) == ("ran", 3)


# --------------------------------------------------------------------------------------------
# Edits: the version is a hash of the task's syntax tree

DECORATOR = '@env.task(cache=flyte.Cache("auto", ignored_inputs=("verbose",)))\n'
BODY = '''def count_words(text: str, verbose: bool = False) -> int:
    {doc}words = {words}
    return len(words)
'''
FINDALL = 're.findall(r"[a-z\']+", normalize(text))'


def redefined(lesson, decorator=DECORATOR, doc="", words=FINDALL):
    return lessons.redefine(lesson, decorator + BODY.format(doc=doc, words=words))[
        "count_words"]


def test_the_version_is_the_hash_of_the_source_recomputed_by_hand(lesson):
    assert version(lesson.count_words) == by_hand(lesson.count_words.func)
    assert len(version(lesson.count_words)) == 64


def test_comments_and_layout_keep_the_version_docstring_decorator_and_body_do_not(lesson):
    original = version(redefined(lesson))
    assert version(redefined(lesson, doc="# a comment\n    ",
                             words=f"(\n        {FINDALL}\n    )")) == original
    changed = {
        "docstring": redefined(lesson, doc='"""Count words."""\n    '),
        "decorator": redefined(lesson, DECORATOR.replace(")))", ")), retries=2)")),
        "body": redefined(lesson, words=f"set({FINDALL})"),
    }
    for edit, task in changed.items():
        assert task.name == lesson.count_words.name, "an edit keeps the task name"
        assert version(task) != original, edit


def test_an_edited_body_runs_again_and_a_comment_only_edit_is_served(lesson, empty_caches):
    assert outcome(redefined(lesson), TEXT) == ("ran", 6)
    assert outcome(redefined(lesson, doc="# only a comment\n    "), TEXT) == ("served", 6)
    assert outcome(redefined(lesson, words=f"set({FINDALL})"), TEXT) == ("ran", 5)


@contextlib.contextmanager
def replaced(module, name: str, value):
    saved = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, saved)


def test_edits_outside_the_task_are_served_stale_and_a_new_salt_runs_again(lesson,
                                                                            empty_caches):
    import re

    assert outcome(lesson.count_words, TEXT) == ("ran", 6)
    drop_the = lambda text: " ".join(w for w in text.lower().split() if w != "the")  # noqa
    with replaced(lesson, "normalize", drop_the):
        assert lesson.count_words.func(TEXT) == 4
        assert outcome(lesson.count_words, TEXT) == ("served", 6), "stale after the helper"
    upgraded = types.ModuleType("re")
    upgraded.findall = lambda pattern, text: [w for w in re.findall(pattern, text)
                                              if len(w) > 2]
    with replaced(lesson, "re", upgraded):
        assert lesson.count_words.func(TEXT) == 5
        assert outcome(lesson.count_words, TEXT) == ("served", 6), "stale after upgrade"
        salted = lesson.count_words.override(
            cache=flyte.Cache("auto", ignored_inputs=("verbose",), salt="re 2.0"))
        assert outcome(salted, TEXT) == ("ran", 5)
        assert version(salted) == by_hand(lesson.count_words.func, "re 2.0")


# --------------------------------------------------------------------------------------------
# Pinning, skipping and overwriting, locally


def test_a_version_pinned_with_override_is_never_read_by_a_local_run(lesson, empty_caches):
    """flyte 2.12.1 reads the local cache only for behavior "auto" (LocalController.submit)."""
    pinned = lesson.count_words.override(cache=flyte.Cache("override", version_override="1"))
    assert [outcome(pinned, TEXT)[0] for _ in range(2)] == ["ran", "ran"]
    assert version(pinned) == "1"


def test_version_override_pins_under_auto_too_and_is_read(lesson, empty_caches):
    """get_version returns the override whatever the behaviour; under "auto" a local run
    reads it, and an edited body under the same pin is served stale."""
    pin = flyte.Cache("auto", version_override="1", ignored_inputs=("verbose",))
    pinned = lesson.count_words.override(cache=pin)
    assert version(pinned) == "1"
    assert outcome(pinned, TEXT) == ("ran", 6)
    assert outcome(pinned, TEXT) == ("served", 6)
    edited = redefined(lesson, words=f"set({FINDALL})").override(cache=pin)
    assert edited.func(TEXT) == 5
    assert outcome(edited, TEXT) == ("served", 6)


def test_disable_runs_every_time(lesson, empty_caches):
    off = lesson.count_words.override(cache="disable")
    assert [outcome(off, TEXT)[0] for _ in range(2)] == ["ran", "ran"]


def test_disable_run_cache_neither_reads_nor_writes_for_one_local_run(lesson, empty_caches):
    skip = flyte.with_runcontext(disable_run_cache=True)
    assert [outcome(lesson.count_words, TEXT, runner=skip)[0] for _ in range(2)] == [
        "ran", "ran"]
    assert outcome(lesson.count_words, TEXT) == ("ran", 6), "nothing was stored"
    assert outcome(lesson.count_words, TEXT, runner=skip) == ("ran", 6), "nor read"


def test_overwrite_cache_changes_nothing_in_a_local_run(lesson, empty_caches):
    overwrite = flyte.with_runcontext(overwrite_cache=True)
    assert outcome(lesson.count_words, TEXT) == ("ran", 6)
    assert outcome(lesson.count_words, TEXT, runner=overwrite) == ("served", 6)


# --------------------------------------------------------------------------------------------
# What a cluster receives


def test_task_templates_carry_the_cache_settings(lesson):
    words = probes.flyte_spec(lesson.count_words).task_template
    assert words.id.name == "cache_edits.count_words"
    meta = words.metadata
    assert (meta.discoverable, meta.cache_serializable) == (True, False)
    assert list(meta.cache_ignore_input_vars) == ["verbose"]
    lines = probes.flyte_spec(lesson.count_lines).task_template.metadata
    assert lines.discoverable and list(lines.cache_ignore_input_vars) == []
    assert lines.discovery_version == by_hand(lesson.count_lines.func)
    serialized = probes.flyte_spec(lesson.count_words.override(cache=flyte.Cache(
        "override", version_override="1", serialize=True, max_age=timedelta(days=7))))
    meta = serialized.task_template.metadata
    assert (meta.discoverable, meta.discovery_version, meta.cache_serializable) == (
        True, "1", True)
    assert meta.cache_max_age.seconds == 7 * 24 * 3600


def test_a_disabled_task_carries_no_cache_but_still_its_source_version(lesson):
    off = probes.flyte_spec(lesson.count_words.override(cache="disable")).task_template
    assert off.metadata.discoverable is False
    assert off.metadata.discovery_version == version(lesson.count_words)


def test_the_interface_a_cluster_keys_on_has_types_and_no_descriptions(lesson):
    """flyte 2.12.1 writes parameter descriptions only when `flyte deploy` registers."""
    interface = probes.flyte_spec(lesson.count_words).task_template.interface
    variables = [*interface.inputs.variables, *interface.outputs.variables]
    types = {v.key: types_pb2.SimpleType.Name(v.value.type.simple) for v in variables}
    assert types == {"text": "STRING", "verbose": "BOOLEAN", "o0": "INTEGER"}
    assert {v.value.description for v in variables} == {""}


def test_a_run_from_a_notebook_takes_the_pickles_digest_as_the_version(lesson):
    """With a pickled code bundle (remote runs from IPython) the serializer uses the
    bundle's digest before it looks at the Cache: "auto" and a pin alike."""
    bundle = CodeBundle(pkl="code_bundle.pkl.gz", computed_version="digest-of-the-pickle")
    context = SerializationContext(version="v", code_bundle=bundle,
                                   root_dir=lessons.path(NAME).parent)
    pinned = lesson.count_words.override(cache=flyte.Cache("override", version_override="1"))
    for task in (lesson.count_words, pinned):
        meta = flyte.extras.serialize(task, context).task_template.metadata
        assert meta.discovery_version == "digest-of-the-pickle"


# --------------------------------------------------------------------------------------------
# A run's first task and the same task called from a task


def test_locally_a_run_and_a_call_from_a_parent_share_entries(lesson, empty_caches):
    parent_env = flyte.TaskEnvironment(name="parent_under_test")

    @parent_env.task
    def parent(text: str) -> int:
        return lesson.count_words(text)

    assert outcome(lesson.count_words, TEXT) == ("ran", 6)
    from_parent = probed(parent, TEXT)
    assert from_parent.bodies == ["parent"] and from_parent.hits == ["count_words"]
    assert probed(parent, "a b c").bodies == ["parent", "count_words"]
    assert outcome(lesson.count_words, "a b c") == ("served", 3)


def fnv64a(data: bytes) -> bytes:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) % 2**64
    return value.to_bytes(8, "big")


def test_a_runs_first_task_and_a_child_call_hash_their_inputs_apart(lesson):
    """By source: the SDK's inputs hash is SHA-256 in base64 (44 characters); v2.0.43's
    dataproxy hashes a run's uploaded inputs with FNV-64a (11 characters); 2.12.1 sends its
    own only when an input carries a content hash."""
    import base64

    inputs = sdk.flyte_inputs(lesson.count_words, TEXT)
    assert [x.name for x in inputs.literals] == ["text", "verbose"]
    child = sdk.flyte_inputs_hash(inputs)
    kept = type(inputs)(literals=[x for x in inputs.literals if x.name != "verbose"])
    root = base64.urlsafe_b64encode(fnv64a(kept.SerializeToString(deterministic=True)))
    assert (len(child), len(root.rstrip(b"="))) == (44, 11)
    assert sdk.flyte_run_inputs_hash(inputs, ["verbose"]) is None
    notes = fresh_dir("notes") / "notes.txt"
    notes.write_text("one\n")
    keyed = sdk.flyte_inputs(lesson.count_lines,
                             File.from_existing_remote(str(notes), file_cache_key="k"))
    assert sdk.flyte_run_inputs_hash(keyed, []) == sdk.flyte_inputs_hash(keyed)


def test_the_key_formula_is_one_for_both_and_differs_with_the_inputs_hash(lesson):
    inputs = sdk.flyte_inputs(lesson.count_words, TEXT)
    template = probes.flyte_spec(lesson.count_words).task_template
    key = lambda inputs_hash: sdk.flyte_cache_key(  # noqa: E731
        template.id.name, inputs_hash, template.interface,
        template.metadata.discovery_version, [], inputs)
    assert key("a") != key("b")
    assert len(key("a")) == 44


# --------------------------------------------------------------------------------------------
# As a reader runs it


def test_a_second_process_is_served_by_the_first_ones_cache(reader_runs):
    """The Run-it box's `flyte run --local`, after the script on the same machine, asks
    for the text the script counted: its body does not run."""
    script, cli = reader_runs(NAME)[:2]
    assert "count_words ran: 6 words" in script.stdout
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert "count_words ran" not in cli.stdout and "o0=6" in cli.stdout


def test_a_missing_input_on_the_command_line_gives_one_line_and_a_nonzero_exit():
    folder = fresh_dir("download")
    shutil.copy(lessons.path(NAME), folder)
    env = {**machine("bad-input"), "COLUMNS": "10000"}
    run = run_in_folder(folder, ["flyte", "run", "--local", "cache_by_function_body.py",
                                 "count_words"], env)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-2000:]
    message = "Missing required parameter(s): --text"
    assert sum(message in line for line in output.splitlines()) == 1, output[-2000:]
    assert "Traceback" not in output
