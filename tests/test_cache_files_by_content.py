"""The lesson cache/cache_files_by_content: a ``File`` or ``Dir`` keyed by its path, or by
the digest given when it is made; and where such a key is lost or weakened (a launcher's
lazy upload, ``HashFunction`` fed piece by piece)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import pathlib
import shutil
import tempfile

import flyte
import pytest
from flyte.io import Dir, File, HashFunction

from conftest import fresh_dir, machine, run_in_folder
from evidence import lessons, probes

NAME = "cache/cache_files_by_content"


@pytest.fixture(scope="module")
def lesson():
    flyte.init()
    return lessons.load(NAME)


def probed(task, *args) -> probes.TaskRuns:
    with probes.flyte_runs() as runs, contextlib.redirect_stdout(io.StringIO()):
        runs.value = flyte.run(task, *args).outputs()[0]
    return runs


def test_by_reference_a_file_at_a_new_path_misses(lesson, empty_caches):
    runs = [probed(lesson.lines_by_reference) for _ in range(2)]
    assert [r.bodies for r in runs] == [["lines_by_reference", "write_words",
                                         "count_lines"]] * 2
    assert [r.value for r in runs] == [3, 3]


@pytest.mark.parametrize("workflow, consumer", [("lines_by_content", "count_lines"),
                                                ("files_by_content", "count_files")])
def test_by_content_the_second_run_is_served(lesson, empty_caches, workflow, consumer):
    first, second = (probed(getattr(lesson, workflow)) for _ in range(2))
    assert first.ran(consumer) == 1 and first.hits == []
    assert second.ran(consumer) == 0 and second.hits == [consumer]
    assert second.value == first.value


def test_the_producers_key_is_the_digest_of_the_bytes(lesson, empty_caches):
    made = flyte.run(lesson.write_words_hashed, 3).outputs()[0]
    assert made.hash == hashlib.sha256(lesson.LINE.encode() * 3).hexdigest()
    assert flyte.run(lesson.write_words, 3).outputs()[0].hash is None


def new_folder() -> pathlib.Path:
    """A new folder holding the same bytes as every other one."""
    folder = pathlib.Path(tempfile.mkdtemp(dir=fresh_dir("shards")))
    (folder / "part-0.txt").write_text("one\n")
    return folder


def test_a_key_given_by_the_launcher_is_dropped_in_a_local_run(lesson, empty_caches):
    """Made outside a task, a File or Dir is uploaded lazily; in a local run the lazy
    path returns no hash, so the same bytes at a new path run again. A key given to
    ``from_existing_remote`` is kept."""
    for _ in range(2):
        lazy_dir = Dir.from_local_sync(str(new_folder()), dir_cache_key="key")
        assert probed(lesson.count_files, lazy_dir).bodies == ["count_files"]
        lazy_file = File.from_local_sync(str(new_folder() / "part-0.txt"),
                                         hash_method="key")
        assert probed(lesson.count_lines, lazy_file).bodies == ["count_lines"]
    kept = [probed(lesson.count_files,
                   Dir.from_existing_remote(str(new_folder()), dir_cache_key="kept"))
            for _ in range(2)]
    assert [runs.bodies for runs in kept] == [["count_files"], []]
    assert kept[1].hits == ["count_files"]


def test_a_hash_function_keeps_the_result_of_the_last_piece_it_was_fed():
    fed = HashFunction.from_fn(lambda data: bytes(data).decode())
    fed.update(b"first piece")
    fed.update(b"last piece")
    assert fed.result() == "last piece"


def sha(data) -> str:
    return hashlib.sha256(bytes(data)).hexdigest()


hash_env = flyte.TaskEnvironment(name="hash_function_under_test")


@hash_env.task
async def file_key(text: str, destination: str) -> str:
    path = pathlib.Path(tempfile.mkdtemp(), "notes.txt")
    path.write_text(text)
    made = await File.from_local(str(path), remote_destination=destination or None,
                                 hash_method=HashFunction.from_fn(sha))
    return made.hash or "none"


def test_a_hash_function_on_a_file_sees_nothing_in_place_and_the_last_line_uploaded(
        lesson):
    """Left in place (a local run's default) the file gets no key; uploaded through the
    SDK's streaming path (fsspec's memory store standing for a bucket) the HashFunction
    is fed line by line and keeps the last line's hash."""
    def key(text: str, destination: str = "") -> str:
        return flyte.run(file_key, text, destination).outputs()[0]

    assert key("one\ntwo\n") == "none"
    first = key("one\ntwo\n", "memory://bucket/notes.txt")
    assert first == key("ONE\ntwo\n", "memory://bucket/notes.txt") == sha(b"two\n")
    copied = str(fresh_dir("copy") / "notes.txt")
    assert key("one\ntwo\n", copied) == sha(b"one\ntwo\n"), "one write: the whole file"


def test_a_bad_n_lines_on_the_command_line_gives_one_line_and_a_nonzero_exit():
    folder = fresh_dir("download")
    shutil.copy(lessons.path(NAME), folder)
    env = {**machine("bad-input"), "COLUMNS": "10000"}
    run = run_in_folder(folder, ["flyte", "run", "--local", "cache_files_by_content.py",
                                 "lines_by_content", "--n_lines", "three"], env)
    output = run.stdout + run.stderr
    assert run.returncode != 0, output[-2000:]
    assert sum("'three' is not a valid integer" in line
               for line in output.splitlines()) == 1, output[-2000:]
    assert "Traceback" not in output


def test_a_second_process_is_served_by_the_first_ones_cache(reader_runs):
    """The Run-it box's `flyte run --local`, after the script on the same machine: the
    three lines the script counted by content are served."""
    script, cli = reader_runs(NAME)[:2]
    assert "count_lines ran: 3 lines" in script.stdout
    assert cli.returncode == 0, cli.stderr[-2000:]
    assert " ran:" not in cli.stdout and "o0=3" in cli.stdout
