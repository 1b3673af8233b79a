"""The site's sources and its strict build command, shared by the tests and `make bench`.

Importing this has no side effects (unlike conftest.py, which isolates the test session).
Run as a script, ``python tests/site_build.py WORK``, it builds the site as a contributor
has it (a clean build, then the same build again) in ``WORK``, on a machine of its own, and
writes each build's exit code and log to ``WORK/builds.json`` (the tests' ``site``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Generated or machine-local: never part of a copy of the site's sources.
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "_build", "auto_examples", "auto_evidence", "sg_execution_times.rst", "tests",
    "__pycache__", ".pytest_cache", "node_modules",
)


def copy_sources(dest: Path) -> Path:
    """Copy the site's sources (not its build output) to ``dest``; mtimes are kept."""
    shutil.copytree(ROOT, dest, ignore=_NOT_SOURCES)
    return dest


def sphinx_command(srcdir: Path, outdir: Path, *options: str) -> list[str]:
    """The strict build the Makefile runs, with the doctrees next to ``outdir``."""
    return [sys.executable, "-m", "sphinx", "-b", "html", "-nW", "--keep-going",
            "-d", str(outdir.parent / (outdir.name + "-doctrees")), *options, str(srcdir), str(outdir)]


def sphinx_build(srcdir: Path, outdir: Path, *options: str,
                 env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the strict build the Makefile runs; returns the finished process, its output
    merged into ``stdout`` without colour codes (Sphinx colours its log when the
    environment asks for it: FORCE_COLOR, a terminal)."""
    done = subprocess.run(sphinx_command(srcdir, outdir, *options), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env, check=False)
    done.stdout = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout)
    return done


def build_twice(work: Path) -> None:
    import json

    sys.path.insert(0, str(ROOT))
    from evidence import isolation

    src = copy_sources(work / "src")
    env = isolation.environment(work / "machine")
    builds = []
    for _ in ("clean", "again"):
        done = sphinx_build(src, work / "html", env=env)
        builds.append([done.returncode, done.stdout])
        if done.returncode != 0:
            break
    (work / "builds.json").write_text(json.dumps(builds))


if __name__ == "__main__":
    build_twice(Path(sys.argv[1]))
