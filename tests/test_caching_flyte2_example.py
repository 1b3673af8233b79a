"""What the Flyte 2 caching example and the guide's Flyte 2 section claim, checked by running
the flyte SDK (2.12.1) locally and serializing its task templates offline.

In-process tests run tasks with ``flyte.run`` against the session's HOME (its own local
cache); each uses a text no other test uses, so the shared cache cannot decide an outcome.
Subprocess tests run the script and the ``flyte run --local`` command as a reader would.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import re
import secrets
import sys
import textwrap
from pathlib import Path

import flyte
import pytest
from flyte._internal.runtime.task_serde import translate_task_to_wire
from flyte.io import File
from flyte.models import SerializationContext
from flyteidl2.core import types_pb2 as literal_types_pb2

from compiled import load_example
from conftest import ROOT, fresh_dir, run_example

NAME = "flyte2/cache_by_function_body"
SCRIPT = ROOT / "examples" / f"{NAME}.py"
FLYTE = str(Path(sys.executable).parent / "flyte")
WIDE = {"COLUMNS": "10000"}  # the CLI's error boxes wrap at the terminal width


@pytest.fixture(scope="module")
def example():
    flyte.init()
    return load_example(NAME)


def unique_text() -> str:
    """Ten words for str.split, the last one new to the cache."""
    word = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10))
    return f"the cat - the one on the mat sat {word}"


def run(example, task, *args, **kwargs):
    """(value, hit) of one local run of ``task``."""
    with example.cache_hits() as hits:
        value = flyte.run(task, *args, **kwargs).outputs()[0]
    return value, bool(hits)


def spec(task):
    """The task template `flyte deploy` would send, from the SDK's own serializer."""
    root = Path(inspect.getmodule(task.func).__file__).parent  # where its module lives
    context = SerializationContext(version="v1", project="p", domain="d", root_dir=root)
    return translate_task_to_wire(task, context).task_template


# --- behaviour of cache="auto" ------------------------------------------------------------

def test_second_call_with_the_same_input_hits(example):
    text = unique_text()
    assert run(example, example.count_words, text) == (10, False)
    assert run(example, example.count_words, text) == (10, True)


def test_an_ignored_input_keeps_the_key(example, capfd):
    text = unique_text()
    run(example, example.count_words, text)
    assert run(example, example.count_words, text, verbose=True) == (10, True)
    assert "count_words body" not in capfd.readouterr().out, "the body did not run"


def test_editing_the_body_misses_while_a_comment_or_formatting_hits():
    """The version hashes the function's syntax tree: comments and layout are not in it; the
    body, the docstring and the decorator are."""
    env = flyte.TaskEnvironment(name="edits_under_test", cache="auto")
    versions = {}

    @env.task
    def shout(text: str) -> str:
        return text.upper()

    versions["original"] = spec(shout).metadata.discovery_version

    @env.task
    def shout(text: str) -> str:
        # a comment, and a different layout
        return (
            text.upper()
        )

    versions["comment"] = spec(shout).metadata.discovery_version

    @env.task
    def shout(text: str) -> str:
        """Now with a docstring."""
        return text.upper()

    versions["docstring"] = spec(shout).metadata.discovery_version

    @env.task(retries=1)
    def shout(text: str) -> str:
        return text.upper()

    versions["decorator"] = spec(shout).metadata.discovery_version

    @env.task
    def shout(text: str) -> str:
        return text.upper() + "!"

    versions["body"] = spec(shout).metadata.discovery_version
    assert versions["comment"] == versions["original"]
    for edit in ("docstring", "decorator", "body"):
        assert versions[edit] != versions["original"], edit


def test_an_edited_body_runs_again_and_a_comment_only_edit_hits(example):
    """The same, through the local cache: same task name, new source."""
    env = flyte.TaskEnvironment(name="local_edits_under_test", cache="auto")
    text = unique_text()

    @env.task
    def count(text: str) -> int:
        return len(text.split())

    assert run(example, count, text) == (10, False)

    @env.task
    def count(text: str) -> int:
        # only a comment changed
        return len(text.split())

    assert run(example, count, text) == (10, True)

    @env.task
    def count(text: str) -> int:
        return len([word for word in text.split() if word != "-"])

    assert run(example, count, text) == (9, False)


def test_edits_outside_the_task_return_stale_results(example, monkeypatch):
    """A helper edit and a library upgrade change what the task computes, not its key."""
    text = unique_text()
    assert run(example, example.count_words, text) == (10, False)
    monkeypatch.setattr(example, "tidy", lambda t: " ".join(w for w in t.split() if w != "-"))
    assert example.count_words.func(text) == 9
    assert run(example, example.count_words, text) == (10, True), "stale after a helper edit"
    monkeypatch.setattr(example.wordlib, "__version__", "2.0")
    monkeypatch.setattr(example.wordlib, "split", lambda t: [w for w in t.split() if len(w) > 2])
    assert example.count_words.func(text) == 8
    assert run(example, example.count_words, text) == (10, True), "stale after an upgrade"


def test_a_file_by_name_is_stale_and_by_content_digest_is_fresh(example):
    path = fresh_dir("notes") / "notes.txt"

    def by_content() -> File:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return File.from_existing_remote(str(path), file_cache_key=digest)

    path.write_text("one\ntwo\n")
    assert run(example, example.count_lines, File(path=str(path))) == (2, False)
    assert run(example, example.count_lines, by_content()) == (2, False)
    path.write_text("one\ntwo\nthree\n")
    assert run(example, example.count_lines, File(path=str(path))) == (2, True), "by name"
    assert run(example, example.count_lines, by_content()) == (3, False), "by content"


def test_a_pinned_version_is_never_read_by_a_local_run(example):
    """flyte 2.12.1 reads the local cache only for behavior="auto" (LocalController.submit)."""
    pinned = example.count_words.override(
        cache=flyte.Cache("override", version_override="1"))
    text = unique_text()
    assert run(example, pinned, text) == (10, False)
    assert run(example, pinned, text) == (10, False)


def test_disable_run_cache_skips_reading_and_writing_for_one_local_run(example):
    text = unique_text()
    skip = flyte.with_runcontext(disable_run_cache=True)
    with example.cache_hits() as hits:
        assert skip.run(example.count_words, text).outputs()[0] == 10
        assert skip.run(example.count_words, text).outputs()[0] == 10
    assert hits == []
    assert run(example, example.count_words, text) == (10, False), "nothing was stored"


def test_disable_runs_every_time(example):
    off = example.count_words.override(cache="disable")
    text = unique_text()
    assert run(example, off, text) == (10, False)
    assert run(example, off, text) == (10, False)


def test_an_environment_without_a_cache_setting_caches_nothing(example):
    """The guide: Flyte 2 tasks are uncached until you set `cache`."""
    env = flyte.TaskEnvironment(name="no_cache_setting")

    @env.task
    def count(text: str) -> int:
        return len(text.split())

    text = unique_text()
    assert run(example, count, text) == (10, False)
    assert run(example, count, text) == (10, False)
    assert spec(count).metadata.discoverable is False


# --- what a cluster would receive -----------------------------------------------------------

def source_version(function, salt: str = "") -> str:
    """FunctionBodyPolicy recomputed by hand: SHA-256 of the syntax tree plus the salt, then
    Cache.get_version hashes the policies' results once more."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    body = hashlib.sha256(ast.dump(tree, include_attributes=False).encode() + salt.encode())
    return hashlib.sha256(body.hexdigest().encode()).hexdigest()


def test_task_templates_carry_the_cache_settings(example):
    words = spec(example.count_words)
    assert words.id.name == "cache_edits.count_words"
    assert words.metadata.discoverable is True
    assert words.metadata.discovery_version == source_version(example.count_words.func)
    assert list(words.metadata.cache_ignore_input_vars) == ["verbose"]
    assert words.metadata.cache_serializable is False

    lines = spec(example.count_lines).metadata
    assert lines.discoverable is True and list(lines.cache_ignore_input_vars) == []
    assert lines.discovery_version == source_version(example.count_lines.func)

    pinned = spec(example.count_words.override(
        cache=flyte.Cache("override", version_override="1", serialize=True))).metadata
    assert (pinned.discoverable, pinned.discovery_version, pinned.cache_serializable) == (
        True, "1", True)

    salted = spec(example.count_words.override(
        cache=flyte.Cache("auto", salt="wordlib 2.0"))).metadata
    assert salted.discovery_version == source_version(example.count_words.func, "wordlib 2.0")
    assert salted.discovery_version != words.metadata.discovery_version

    assert spec(example.count_words.override(cache="disable")).metadata.discoverable is False


def test_the_interface_a_cluster_keys_on_has_input_and_output_types(example):
    interface = spec(example.count_words).interface
    types = {v.key: literal_types_pb2.SimpleType.Name(v.value.type.simple)
             for v in [*interface.inputs.variables, *interface.outputs.variables]}
    assert types == {"text": "STRING", "verbose": "BOOLEAN", "o0": "INTEGER"}


# --- the script and the CLI, as a reader runs them ----------------------------------------

def run_script(home: Path):
    return run_example(SCRIPT, home=home, env={"MPLBACKEND": "Agg"})


def flyte_cli(*args: str, home: Path | None = None):
    return run_example(SCRIPT, *args, command=(FLYTE,), home=home, env=WIDE)


@pytest.fixture(scope="module")
def standalone():
    home = fresh_dir("flyte2-home")
    return run_script(home), run_script(home)


def test_standalone_run_shows_what_the_page_claims(standalone):
    run, _ = standalone
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    expected = {
        "first call": "body ran, returned 11",
        "same input again": "cache hit, returned 11",
        "verbose=True, an ignored input": "cache hit, returned 11",
        "comment added": "cache hit, returned 11",
        "body edited": "body ran, returned 9",
        "helper edited": "cache hit, returned 11",
        "library upgraded": "cache hit, returned 11",
        "file, by name": "body ran, returned 2",
        "file, by content": "body ran, returned 2",
        "file rewritten, by name": "cache hit, returned 2",
        "file rewritten, by content": "body ran, returned 3",
        "version pinned to 1": "body ran, returned 8",
        "version pinned to 1, again": "body ran, returned 8",
        "cache disabled for this call": "body ran, returned 8",
    }
    for label, outcome in expected.items():
        assert re.search(rf"^{re.escape(label)}: {re.escape(outcome)}$", out, re.M), label
    stale = re.findall(r"^  current code gives (\d+): STALE result$", out, re.M)
    assert stale == ["9", "8", "3"], "helper, library, file by name"
    assert "count_words body" not in out, "verbose=True hit: its body never printed"
    for line in ("spec count_words: discoverable True, ignored inputs ['verbose']",
                 "spec count_words: version is a 64-digit hash",
                 "spec after the comment, same version: True",
                 "spec after the body edit, same version: False",
                 "spec with the version pinned: version '1'",
                 "spec with the cache disabled: discoverable False"):
        assert line in out.splitlines(), line
    assert all(len(line) <= 88 for line in out.splitlines())


def test_running_the_script_again_starts_cold(standalone):
    """Each run's text ends with a new random word: a second run on the same machine (same
    local cache) tells the same story."""
    first, second = standalone
    assert second.returncode == 0, second.stderr[-3000:]
    for run in (first, second):
        assert "first call: body ran, returned 11" in run.stdout.splitlines()


def test_the_run_it_command_counts_words_and_hits_the_second_time():
    home = fresh_dir("flyte2-cli-home")
    args = ("run", "--local", str(SCRIPT), "count_words", "--text", "the cat sat on the mat")
    for _ in range(2):
        result = flyte_cli(*args, home=home)
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        assert "ActionOutputs(o0=6)" in result.stdout


@pytest.mark.parametrize("args, message", [
    (("--text", "a b", "--verbose", "maybe"), "Got unexpected extra argument (maybe)"),
    ((), "Missing required parameter(s): --text"),
], ids=["verbose-takes-no-value", "text-missing"])
def test_bad_input_gives_one_line_and_a_nonzero_exit(args, message):
    result = flyte_cli("run", "--local", str(SCRIPT), "count_words", *args)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert sum(message in line for line in output.splitlines()) == 1, output[-2000:]
    assert "Traceback" not in output
