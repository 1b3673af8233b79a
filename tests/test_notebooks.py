"""Every lesson's downloadable notebook runs in Jupyter, as a reader runs it.

The notebook is the one the lesson's page offers (and the one in its zip). It runs top to
bottom with nbclient and a real kernel, in an empty folder, on a new machine (empty HOME),
offline: its ``%pip install`` cell runs against the installed packages (PIP_NO_INDEX), so it
must name the site's pins and succeed without downloading anything.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import (built_page, each_lesson, fresh_dir, lesson_id, machine,
                      once_per_test_run)
from evidence import run_it

# What sphinx-gallery leaves of reST when it writes Markdown cells (a directive, a role, a
# label of a :ref:), which a notebook reader would see raw.
RST_LEFTOVER = re.compile(
    r"^\s*\.\. [\w-]+::|^\s*:(?:caption|class|ref|doc):|:(?:ref|doc|class|func|download):`"
    r"|(?<!`)`[a-z0-9]+(?:-[a-z0-9]+)+`(?!`)", re.M)


def notebook_of(site, lesson: Path) -> Path:
    page = site.html / "auto_examples" / f"{lesson_id(lesson)}.html"
    link = built_page(site, f"auto_examples/{lesson_id(lesson)}.html").select_one(
        "a[href$='.ipynb']")
    assert link is not None, "the page offers no notebook"
    return page.parent / link["href"]


# Runs in a process of its own: nbclient drives the kernel from an event loop that would
# outlive it in a test worker and trip the tests after it that start one of their own. One
# runner per worker runs its notebooks one after another, each in a new kernel, whose
# environment is the request's (a new machine each); it answers on the pipe it is given,
# as a kernel may write to the runner's stdout.
RUNNER = """
import json, os, sys
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

answers = os.fdopen(int(sys.argv[1]), "w")
for request in sys.stdin:
    path, folder, env, out = json.loads(request)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": folder}})
    error = None
    try:
        client.execute(cwd=folder, env=env)
    except CellExecutionError as raised:
        error = str(raised)[-3000:]
    with open(out, "w") as written:
        json.dump({"error": error, "cells": notebook["cells"]}, written)
    answers.write("done\\n")
    answers.flush()
"""


class NotebookRunner:
    """The runner process of this worker, started on first use."""

    def __init__(self):
        self.process = None

    def run(self, path: Path) -> dict:
        """Execute a copy of the notebook in an empty folder on a new machine (the kernel's
        HOME and TMPDIR are new, pip may not download); return the cells it ran, and the
        error that stopped it, if any."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        folder, out = fresh_dir("jupyter"), fresh_dir("jupyter-result") / "run.json"
        env = machine("jupyter-reader")
        env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        env.pop("MPLBACKEND", None)  # Jupyter's own
        self.process.stdin.write(json.dumps([str(path), str(folder), env, str(out)]) + "\n")
        self.process.stdin.flush()
        if not select.select([self.answers], [], [], 600)[0] or not self.answers.readline():
            self.close()
            return {"error": f"the runner failed:\n{self.errors.read_text()[-3000:]}",
                    "cells": []}
        return json.loads(out.read_text())

    def _start(self) -> None:
        self.errors = fresh_dir("jupyter-runner") / "stderr.txt"
        read, write = os.pipe()
        with self.errors.open("w") as errors:
            self.process = subprocess.Popen(
                [sys.executable, "-c", RUNNER, str(write)], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=errors, pass_fds=[write], text=True)
        os.close(write)
        self.answers = os.fdopen(read)

    def close(self) -> None:
        if self.process is not None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.answers.close()
            self.process = None


@pytest.fixture(scope="session")
def notebook_runs(site):
    """Each lesson's notebook, run once per test run."""
    seen: dict[str, dict] = {}
    runner = NotebookRunner()

    def runs(lesson: Path) -> dict:
        name = lesson_id(lesson)
        if name not in seen:
            with once_per_test_run(f"notebook/{name.replace('/', '--')}") as (work, to_make):
                if to_make:
                    work.write_text(json.dumps(runner.run(notebook_of(site, lesson))))
            seen[name] = json.loads(work.read_text())
        return seen[name]

    yield runs
    runner.close()


def stream_text(cell: dict) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream")


@each_lesson
def test_downloaded_notebook_runs_top_to_bottom_in_jupyter(lesson, notebook_runs):
    run = notebook_runs(lesson)
    assert run["error"] is None, run["error"]


@each_lesson
def test_notebook_installs_the_pins_of_the_page_in_one_line(site, lesson, notebook_runs):
    """The first cell is the Run-it box's install line, one line (Jupyter's %pip takes no
    continuation), and it succeeded: every pinned package is already satisfied."""
    first = notebook_runs(lesson)["cells"][0]
    install = run_it.parse(lesson).install
    assert "".join(first["source"]) == "%" + " ".join(install)
    printed = stream_text(first)
    assert "ERROR" not in printed and "Invalid requirement" not in printed, printed
    for pin in install[2:]:
        assert f"Requirement already satisfied: {pin}" in printed, printed


@each_lesson
def test_notebook_prints_what_the_script_prints(lesson, notebook_runs, reader_runs):
    """On a new machine the notebook tells the same story as the downloaded script."""
    cells = notebook_runs(lesson)["cells"][1:]
    printed = "".join(stream_text(c) for c in cells if c["cell_type"] == "code")
    assert printed.strip() == reader_runs(lesson_id(lesson))[0].stdout.strip()


@each_lesson
def test_notebook_reads_as_markdown(site, lesson):
    notebook = json.loads(notebook_of(site, lesson).read_text(encoding="utf-8"))
    leftovers = [f"{m[0]!r} in: {''.join(c['source'])[max(0, m.start() - 40):m.end() + 20]!r}"
                 for c in notebook["cells"] if c["cell_type"] == "markdown"
                 for m in RST_LEFTOVER.finditer("".join(c["source"]))]
    assert not leftovers, "\n".join(leftovers)


@each_lesson
def test_zip_download_holds_the_same_notebook_and_script(site, lesson):
    relpath = f"auto_examples/{lesson_id(lesson)}.html"
    link = built_page(site, relpath).select_one("a[href$='.zip']")
    zipped = (site.html / relpath).parent / link["href"]
    with zipfile.ZipFile(zipped) as archive:
        assert archive.read(f"{lesson.stem}.ipynb") == notebook_of(site, lesson).read_bytes()
        assert archive.read(lesson.name) == lesson.read_bytes()
