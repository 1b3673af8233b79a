"""The Makefile's targets on bad input and broken state: one clear line and the right exit code,
or a recovery that says what it did (issue #10). Each runs in seconds, without installing."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_sources, fresh_dir

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
    for tool in ("rm", "touch", "mkdir", "cp", "cmp", "mktemp", "mv", "cat", "dirname"):
        (tools / tool).symlink_to(shutil.which(tool))

    class Machine:
        venv = root / "venv"
        stamp = root / "venv" / ".installed-from-lock"

        def make(self, *args: str, python: Path = python):
            env = {**os.environ, "PATH": str(tools), "MAKEFLAGS": ""}
            return subprocess.run([shutil.which("make"), "-C", str(root / "src"), f"VENV={self.venv}", f"PYTHON={python}", *args],
                                  capture_output=True, text=True, env=env, check=False)

        def ran(self) -> list[str]:
            return log.read_text().splitlines()

    copy_sources(root / "src")
    return Machine()


def broken_venv_lines(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if "is broken" in line]


def test_venv_whose_python_is_gone_is_recreated_and_says_so(machine):
    """`rm -rf .venv` during an install: the stamp came back, the interpreter did not."""
    (machine.venv / "lib").mkdir(parents=True)
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


def test_healthy_installed_venv_is_left_alone(machine):
    assert machine.make("install").returncode == 0
    assert machine.ran() == [f"venv {machine.venv}", "pip install"]

    again = machine.make("install")

    assert again.returncode == 0
    assert machine.ran() == [f"venv {machine.venv}", "pip install"], "the venv was touched again"
    assert broken_venv_lines(again) == []


def test_missing_python_is_named_in_one_line(machine):
    result = machine.make("install", python=machine.venv.parent / "no-such-python3")

    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if not line.startswith("make")]
    assert errors == [f"error: Python 3.11 or newer is needed; '{machine.venv.parent}/no-such-python3' "
                      "was not found. Run: make PYTHON=python3.12 ..."]
    assert not machine.venv.exists()


def test_too_old_python_is_named_with_its_version(machine):
    old = executable(machine.venv.parent / "python3.9", "#!/bin/sh\necho 3.9.18\nexit 1\n")

    result = machine.make("install", python=old)

    assert result.returncode != 0
    assert f"'{old}' is 3.9.18." in result.stderr
    assert not machine.venv.exists()
