"""The Makefile's targets on bad input and broken state: one clear line and the right exit code,
or a recovery that says what it did (issue #10). Each runs in seconds, without installing."""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_sources, example_source, fresh_dir, gallery_only_copy, run_make

# --------------------------------------------------------------------------------------------
# The bootstrap: a stand-in Python whose venvs hold a stand-in python, so a test sees what the
# Makefile decides (recreate, reinstall, leave alone) in well under a second, with no install.

FAKE_BASE_PYTHON = """#!/bin/sh
# python3 stand-in: -c runs the real interpreter (the version check); -m venv makes a fake venv.
case "$1" in
  -c) exec {real} "$@" ;;
  -m) [ "$2" = venv ] || exit 1; shift 2
      if [ "$1" = --clear ]; then shift; rm -rf "$1"; fi
      mkdir -p "$1/bin" && echo "home = /fake" > "$1/pyvenv.cfg" && cp {venv_python} "$1/bin/python" \\
        && touch "$1/bin/pip-works" && echo "venv $1" >> {log} ;;
  *) exit 1 ;;
esac
"""

FAKE_VENV_PYTHON = """#!/bin/sh
# A venv's python stand-in: starts and imports anything; its pip works if bin/pip-works exists.
bin=$(dirname "$0")
if [ "$1" = -m ] && [ "$2" = pip ]; then
  [ -e "$bin/pip-works" ] || exit 1
  case "$*" in *uv==*) exit 1 ;; esac  # no uv to be had: the bootstrap falls back to pip
  case "$*" in *requirements.lock*) echo "pip install" >> {log} ;; esac
fi
exit 0
"""


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def machine():
    """A scratch dir with the stand-in Python, a VENV path, a log of what the bootstrap ran, and
    a PATH holding only the tools the Makefile's recipes use (so no real uv is found)."""
    root = fresh_dir("bootstrap")
    log = root / "log"
    log.touch()
    venv_python = executable(root / "venv-python", FAKE_VENV_PYTHON.format(log=log))
    python = executable(root / "python3", FAKE_BASE_PYTHON.format(
        real=sys.executable, venv_python=venv_python, log=log))
    tools = root / "bin"
    tools.mkdir()
    for tool in ("rm", "touch", "mkdir", "cp", "cmp", "mktemp", "mv", "cat", "dirname", "ls", "grep"):
        (tools / tool).symlink_to(shutil.which(tool))

    class Machine:
        venv = root / "venv"
        stamp = root / "venv" / ".installed-from-lock"

        def make(self, *args: str, python: Path = python):
            command = [shutil.which("make"), "-C", str(root / "src"), f"VENV={self.venv}",
                       f"PYTHON={python}", *args]
            env = {**os.environ, "PATH": str(tools), "MAKEFLAGS": ""}
            return subprocess.run(command, capture_output=True, text=True, env=env, check=False)

        def ran(self) -> list[str]:
            return log.read_text().splitlines()

    copy_sources(root / "src")
    return Machine()


def broken_venv_lines(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if "is broken" in line]


@pytest.mark.parametrize("stamped", [True, False], ids=["stamp-left", "no-stamp"])
def test_venv_whose_python_is_gone_is_recreated_and_says_so(machine, stamped):
    """`rm -rf .venv` during an install: the installer recreated lib/ (and, finishing, the
    stamp), not the interpreter."""
    for folder in ("bin", "include", "lib/python3.11/site-packages", "share"):
        (machine.venv / folder).mkdir(parents=True)
    (machine.venv / ".lock").touch()  # uv's
    if stamped:
        machine.stamp.touch()

    result = machine.make("install")

    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = broken_venv_lines(result)
    assert "its python does not start" in line
    assert machine.ran() == [f"venv {machine.venv}", "pip install"]
    assert machine.stamp.is_file() and (machine.venv / "bin" / "python").is_file()


def test_venv_left_without_pip_by_an_interrupted_install_is_recreated(machine):
    """Ctrl-C during `python -m venv`: an interpreter, no pip, no stamp."""
    (machine.venv / "bin").mkdir(parents=True)
    (machine.venv / "pyvenv.cfg").write_text("home = /fake\n")
    executable(machine.venv / "bin" / "python", "#!/bin/sh\n[ \"$1\" != -m ]\n")

    result = machine.make("install")

    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = broken_venv_lines(result)
    assert "it has no pip" in line
    assert machine.ran() == [f"venv {machine.venv}", "pip install"]
    assert machine.stamp.is_file()


def test_broken_venv_path_holding_other_files_is_not_removed(machine):
    """VENV may name a directory of the user's by mistake: nothing in it is deleted."""
    machine.venv.mkdir()
    (machine.venv / "notes.txt").write_text("mine")

    result = machine.make("install")

    assert result.returncode != 0
    assert f"error: {machine.venv}/ holds more than a virtual environment" in result.stderr
    assert (machine.venv / "notes.txt").read_text() == "mine"
    assert machine.ran() == []


def test_healthy_installed_venv_is_left_alone(machine):
    assert machine.make("install").returncode == 0
    assert machine.ran() == [f"venv {machine.venv}", "pip install"]

    again = machine.make("install")

    assert again.returncode == 0
    assert machine.ran() == [f"venv {machine.venv}", "pip install"], "the venv was touched again"
    assert broken_venv_lines(again) == []


def test_missing_python_is_named_in_one_line(machine):
    missing = machine.venv.parent / "no-such-python3"

    result = machine.make("install", python=missing)

    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert len(errors) == 1 and f"'{missing}' was not found" in errors[0], result.stderr
    assert "sh:" not in result.stderr  # the shell's own "not found" no longer stands in for it
    assert not machine.venv.exists()


def test_too_old_python_is_named_with_its_version(machine):
    old = executable(machine.venv.parent / "python3.9", "#!/bin/sh\necho 3.9.18\nexit 1\n")

    result = machine.make("install", python=old)

    assert result.returncode != 0
    assert f"'{old}' is 3.9.18." in result.stderr
    assert not machine.venv.exists()


# --------------------------------------------------------------------------------------------
# make example / make lock / make livehtml, with this test run's environment as the venv.

@pytest.mark.parametrize("pattern, message", [
    ("typo", "error: no example file name matches EXAMPLE='typo'; the scripts are: "),
    ("caching(", "error: EXAMPLE='caching(' is not a regular expression"),
])
def test_make_example_without_a_matching_example_fails_in_one_line(pattern, message):
    src = copy_sources(fresh_dir("example-pattern") / "src")

    result = run_make(src, "example", f"EXAMPLE={pattern}")

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert len(errors) == 1 and errors[0].startswith(message), result.stderr
    assert not (src / "_build").exists(), "a build started"


@pytest.mark.parametrize("folder", ["examples/cache", "evidence/pages/cache"])
def test_make_example_accepts_a_pattern_matching_only_a_lesson_or_an_evidence_page(folder):
    """SPHINX=echo: the pattern check runs for real, the build is only printed."""
    src = copy_sources(fresh_dir("example-pattern") / "src")
    (src / folder / "only_in_a_subfolder.py").write_text("")

    result = run_make(src, "example", "EXAMPLE=only_in_a_sub|no_such_name", "SPHINX=echo")

    assert result.returncode == 0, result.stderr
    assert "sphinx_gallery_conf.filename_pattern=only_in_a_sub|no_such_name" in result.stdout


FAKE_UV = """#!/bin/sh
# uv stand-in: `uv pip compile ... -o FILE` leaves FILE as it is, or appends a pin if asked.
while [ "$1" != -o ]; do shift; done
[ -z "$CHANGE_LOCK" ] || echo "new-package==1.0" >> "$2"
"""


@pytest.mark.parametrize("changed", [False, True], ids=["no-op", "changed"])
def test_make_lock_replaces_the_lock_only_when_its_content_changes(changed):
    src = copy_sources(fresh_dir("lock") / "src")
    tools = fresh_dir("lock-bin")
    executable(tools / "uv", FAKE_UV)
    lock = src / "requirements.lock"
    before = lock.read_text()
    os.utime(lock, ns=(1_000_000_000, 1_000_000_000))  # so that any rewrite shows in the mtime

    result = run_make(src, "lock", env={"PATH": f"{tools}:{os.environ['PATH']}",
                                        "CHANGE_LOCK": "1" if changed else ""})

    assert result.returncode == 0, result.stdout + result.stderr
    if changed:
        assert lock.read_text() == before + "new-package==1.0\n"
    else:
        assert lock.read_text() == before
        assert lock.stat().st_mtime_ns == 1_000_000_000, "an unchanged lock was rewritten"
    assert sorted(p.name for p in src.glob("requirements.lock*")) == ["requirements.lock"]


def test_livehtml_watcher_ignores_every_file_its_build_writes(monkeypatch):
    """Else each build's own output starts the next build, forever.

    The Makefile's livehtml command line goes through sphinx-autobuild's own start-up, up to the
    point where it would serve: that gives its ignore filter and its builder. One build by that
    builder; every file it wrote must be ignored, and the sources must not be.
    """
    import sphinx_autobuild.__main__ as autobuild

    src = gallery_only_copy("livehtml", {"tiny_example.py": example_source("A tiny example", "tiny")})
    printed = run_make(src, "--dry-run", "livehtml")
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.replace("\\\n", " ").splitlines()  # make prints continuation lines as written
    (command,) = [line for line in lines if "sphinx-autobuild" in line]
    monkeypatch.chdir(src)  # sphinx-autobuild resolves its paths from the current directory
    started = {}

    class Started(Exception):
        pass

    def create_app(watch_dirs, ignore, builder, *rest):
        started.update(watch_dirs=watch_dirs, ignore=ignore, builder=builder)
        raise Started

    monkeypatch.setattr(autobuild, "_create_app", create_app)
    with pytest.raises(Started):
        autobuild.main(shlex.split(command)[1:])

    def files():
        return {p: p.stat().st_mtime_ns for p in src.rglob("*") if p.is_file()}

    before = files()
    started["builder"](changed_paths=())
    after = files()
    written = sorted({p for p in after if before.get(p) != after[p]} | (before.keys() - after.keys()))

    assert (src / "_build" / "html" / "index.html").is_file(), "the build failed"
    assert any("auto_examples" in p.parts for p in written), "the build wrote no gallery"
    assert [p.relative_to(src) for p in written if not started["ignore"](str(p))] == []
    sources = [src / "conf.py", src / "index.md", *src.glob("examples/**/*.py"),
               *src.glob("evidence/**/*.py"), *src.glob("_ext/*.py"),
               *src.glob("_static/*"), *src.glob("_templates/**/*.html")]
    assert [p.relative_to(src) for p in sources if started["ignore"](str(p))] == []
