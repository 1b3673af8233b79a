"""The site's sources and its strict build command, shared by the tests and `make bench`.

Importing this has no side effects (unlike conftest.py, which isolates the test session).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Generated or machine-local: never part of a copy of the site's sources.
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "_build", "auto_examples", "auto_evidence", "sg_execution_times.rst", "tests",
    "__pycache__", ".pytest_cache",
)


def copy_sources(dest: Path) -> Path:
    """Copy the site's sources (not its build output) to ``dest``; mtimes are kept."""
    shutil.copytree(ROOT, dest, ignore=_NOT_SOURCES)
    return dest


def sphinx_command(srcdir: Path, outdir: Path, *options: str) -> list[str]:
    """The strict build the Makefile runs, with the doctrees next to ``outdir``."""
    return [sys.executable, "-m", "sphinx", "-b", "html", "-nW", "--keep-going",
            "-d", str(outdir.parent / (outdir.name + "-doctrees")), *options, str(srcdir), str(outdir)]
