"""The isolation recipe's start-up folder (evidence/startup) in the processes it reaches."""

from __future__ import annotations

import shutil
import subprocess
import sys

from conftest import ROOT, fresh_dir


def test_startup_runs_once_with_two_copies_on_the_path_and_still_runs_the_installations():
    """A build of a copy of the project puts the copy's start-up folder on PYTHONPATH beside
    the original's: one of them runs, once (each used to run the other, a second's worth of
    imports in every process), and a sitecustomize of the Python installation still runs."""
    work = fresh_dir("startup")
    shutil.copytree(ROOT / "evidence", work / "copy" / "evidence",
                    ignore=shutil.ignore_patterns("__pycache__", "pages"))
    installation = work / "installation"
    installation.mkdir()
    (installation / "sitecustomize.py").write_text("print('the installation ran')\n")
    path = [work / "copy" / "evidence" / "startup", ROOT / "evidence" / "startup", installation]
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(map(str, path))}, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["the installation ran"]
    imports = [line for line in done.stderr.splitlines() if line.endswith("| evidence.isolation")
               or line.endswith(" evidence.isolation")]
    assert len(imports) == 1, imports
