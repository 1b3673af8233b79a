"""Shared set-up: an isolated HOME and TMPDIR for the whole run, one strict build of the site,
and each lesson run once as a reader runs it (the downloaded script, the notebook).

Nothing here may touch the user's ~/.flyte or leave files in /tmp: everything lives in one
session directory that is removed when pytest exits.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the evidence package
from evidence import isolation, lessons, run_it  # noqa: E402

from browser import chromium, find_chromium, serve  # noqa: E402
from site_build import copy_sources, sphinx_build  # noqa: E402

LESSONS = lessons.paths()
GUIDES = sorted((ROOT / "guides").glob("*.md"))
lesson_id = lessons.name  # "cache/rerun_with_caching": test ids and page paths
each_lesson = pytest.mark.parametrize("lesson", LESSONS, ids=lesson_id)

# Before any test module imports an SDK: both read ~/.flyte and make temp dirs on import.
SESSION_DIR = Path(tempfile.mkdtemp(prefix="workflow-docs-tests-"))
# Under pytest-xdist the workers start from the controller's environment, so their session
# dirs sit inside the controller's, which it removes at the end; what is made once per test
# run (the site, each lesson's runs) is made in the controller's dir (``once_per_test_run``).
SHARED_DIR = Path(os.environ.setdefault("WORKFLOW_DOCS_TESTS_SHARED", str(SESSION_DIR)))
os.environ.update(isolation.environment(SESSION_DIR))
for _pointer in isolation.CONFIG_POINTERS:
    os.environ.pop(_pointer, None)
tempfile.tempdir = os.environ["TMPDIR"]
isolation.patch_flyte_when_imported()
# Lessons name their image registry from this; a loopback default keeps image probes offline.
os.environ["FLYTE_IMAGE_REGISTRY"] = "localhost:30000"


def pytest_sessionfinish(session, exitstatus):
    stop_site_build()  # a run stopped early (Ctrl-C, -x) stops the background build too
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


def fresh_dir(name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=name + "-", dir=SESSION_DIR))


# Characters of code a page shows without scrolling sideways.
MAX_LINE = 88


def lines_too_long(path: Path, limit: int = MAX_LINE) -> list[str]:
    """The lines of ``path`` longer than ``limit`` characters, as ``line <n>: <length>``."""
    return [f"line {n}: {len(line)} characters" for n, line in
            enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if len(line) > limit]


def machine(name: str) -> dict[str, str]:
    """The environment of a new reader's machine: an empty HOME and TMPDIR of its own."""
    return isolation.environment(fresh_dir(name))


def run_make(src: Path, *args: str, env: dict | None = None,
             own_process_group: bool = False) -> subprocess.CompletedProcess:
    """`make -C src <args>` with this test run's environment as the Makefile's venv (no install).

    ``own_process_group``: a signal sent to make's process group spares pytest; SIGINT acts as
    in a terminal even if this run inherited it ignored (as background jobs do).
    """
    venv = Path(sys.prefix)
    command = ["make", "-C", str(src), f"VENV={venv}", "-o", f"{venv}/.installed-from-lock", *args]
    # MAKEFLAGS: under `make test` the outer make's flags would leak into this one.
    full_env = {**os.environ, "MAKEFLAGS": "", **(env or {})}

    def default_sigint():
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    return subprocess.run(command, capture_output=True, text=True, env=full_env, check=False,
                          start_new_session=own_process_group,
                          preexec_fn=default_sigint if own_process_group else None)


def gallery_only_copy(name: str, examples: dict[str, str]) -> Path:
    """A copy of the sources whose only pages are an index and a gallery of ``examples``.

    The conf, extensions, templates and Makefile are the site's; without the guides, the
    lessons and the evidence pages a build takes seconds. ``examples``: path under
    examples/ -> text.
    """
    src = copy_sources(fresh_dir(name) / "src")
    shutil.rmtree(src / "guides")
    (src / "404.md").unlink()  # it links the guides
    for path in [*(src / "examples").rglob("*.py"), *(src / "evidence" / "pages").rglob("*.py")]:
        path.unlink()
    for header in [*(src / "examples").rglob("GALLERY_HEADER.rst"),
                   *(src / "evidence" / "pages").rglob("GALLERY_HEADER.rst")]:
        title = header.parent.name.title()  # the real headers link the guides, gone here
        underline = "=" if header.parent.name in ("examples", "pages") else "-"
        header.write_text(f"{title}\n{underline * len(title)}\n")
    (src / "index.md").write_text("# Gallery only\n\n```{toctree}\nauto_examples/index\n"
                                  "auto_evidence/index\n```\n")
    for relpath, text in examples.items():
        (src / "examples" / relpath).parent.mkdir(parents=True, exist_ok=True)
        (src / "examples" / relpath).write_text(text)
    return src


# The "Run it" box of a minimal lesson, for the tests' own small galleries.
RUN_IT_BOX = ("\n.. admonition:: Run it\n   :class: run-it\n\n"
              + "".join(f"   .. code-block:: sh\n      :caption: {caption}\n\n      {code}\n\n"
                        for caption, code in zip(run_it.CAPTIONS, (
                            "pip install flytekit==1.16.31", "python tiny.py",
                            "pyflyte run --remote tiny.py wf"))))


def example_source(title: str, line: str) -> str:
    """The text of a minimal lesson: a titled docstring with its Run-it box, one print."""
    return f'"""\n{title}\n{"=" * len(title)}\n{RUN_IT_BOX}"""\n\nprint("{line}")\n'


@contextlib.contextmanager
def once_per_test_run(name: str):
    """Yields the directory ``SHARED_DIR/name`` and whether this process must make what it
    holds. The first process to ask makes it while holding a lock; the other xdist
    workers wait, then read what it left."""
    work = SHARED_DIR / name
    work.parent.mkdir(parents=True, exist_ok=True)
    with open(work.with_name(work.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        done = work.with_name(work.name + ".done")
        yield work, not done.exists()
        done.touch()


# --------------------------------------------------------------------------------------------
# The site, built once


@dataclass
class SiteBuild:
    html: Path
    logs: list[str]  # the clean build's, then the second build's
    home: Path  # the HOME the builds ran with: must stay empty
    tmp: Path  # the TMPDIR the builds ran with: must be empty afterwards


SITE_WORK = SHARED_DIR / "site"


def uses_site(item) -> bool:
    return "site" in getattr(item, "fixturenames", ())


# Fixtures that load every page once: the tests that use one share a worker (an xdist group,
# `make test` runs --dist loadgroup), so each is made once per test run.
PAGE_SWEEPS = {"crawl": "crawl", "model_page": "calculators", "searched": "search"}


def sweep_of(item) -> str | None:
    return next((group for fixture, group in PAGE_SWEEPS.items()
                 if fixture in getattr(item, "fixturenames", ())), None)


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups (its own modifyitems)
def pytest_collection_modifyitems(session, config, items):
    """The site builds in a process of its own from the start, while the tests that do not
    need it run; the tests that do come last, the page sweeps first among them. Every xdist
    worker sorts the same way, and the Makefile keeps this order (--no-loadscope-reorder)."""
    for item in items:
        if group := sweep_of(item):
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: (uses_site(item), sweep_of(item) is None))
    if any(map(uses_site, items)) and not config.option.collectonly:
        start_site_build()


def start_site_build() -> None:
    """Start building the site once per test run, in the background. The builder holds an
    exclusive lock on ``site.lock`` until it has written ``site/builds.json``."""
    SITE_WORK.mkdir(parents=True, exist_ok=True)
    with open(SHARED_DIR / "site.start-lock", "w") as start_lock:
        fcntl.flock(start_lock, fcntl.LOCK_EX)
        started = SHARED_DIR / "site.started"
        if started.exists():
            return
        lock = os.open(SHARED_DIR / "site.lock", os.O_WRONLY | os.O_CREAT)
        fcntl.flock(lock, fcntl.LOCK_EX)  # held by the builder: its copy of the descriptor
        builder = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "site_build.py"), str(SITE_WORK)],
            pass_fds=[lock], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        os.close(lock)
        started.write_text(str(builder.pid))


def stop_site_build() -> None:
    """In the process that owns the shared dir (xdist's controller, or the only one)."""
    started = SHARED_DIR / "site.started"
    if SHARED_DIR == SESSION_DIR and started.exists():
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.killpg(int(started.read_text()), signal.SIGTERM)


@pytest.fixture(scope="session")
def site() -> SiteBuild:
    """The whole site as a contributor has it: a clean, strict build, every script executed,
    then the same build again with nothing changed (an incremental build, which must leave
    the site as good as the clean one), outside the repository. Built once per test run, in
    the background from the start (``start_site_build``); a failed build fails every test
    that needs it, with its log."""
    start_site_build()  # a no-op unless this test was not sorted (collected alone)
    with open(SHARED_DIR / "site.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)  # waits for the builder to finish
    builds_file = SITE_WORK / "builds.json"
    if not builds_file.exists():
        pytest.fail("the site build stopped before it finished (see tests/site_build.py)")
    builds = json.loads(builds_file.read_text())
    for (returncode, log), which in zip(builds, ("clean build", "second build")):
        if returncode != 0:
            pytest.fail(f"the {which} failed (exit {returncode}):\n{log[-6000:]}")
    machine_dir = SITE_WORK / "machine"
    return SiteBuild(html=SITE_WORK / "html", logs=[log for _, log in builds],
                     home=machine_dir / "home", tmp=machine_dir / "tmp")


@functools.lru_cache(maxsize=None)
def _parsed(path: Path, mtime_ns: int) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def built_page(site: SiteBuild, relpath: str) -> BeautifulSoup:
    """The built page ``relpath``, parsed once per worker: dozens of tests read each page,
    and parsing is most of their time. Shared, so read it, never modify it."""
    path = site.html / relpath
    return _parsed(path, path.stat().st_mtime_ns)


# --------------------------------------------------------------------------------------------
# Each lesson as a reader runs it: the downloaded script, the Run-it box's local commands


@dataclass
class ReaderRun:
    command: list[str]  # as the Run-it box gives it
    returncode: int
    stdout: str
    stderr: str


def run_in_folder(folder: Path, command: list[str], env: dict) -> ReaderRun:
    """Run one command of a Run-it box in ``folder``, with the project's environment's
    programs (python, pyflyte, flyte) standing for the reader's."""
    program = shutil.which(command[0], path=str(Path(sys.executable).parent)) or command[0]
    done = subprocess.run([program, *command[1:]], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    return ReaderRun(command, done.returncode, done.stdout, done.stderr)


# pyflyte prints errors through rich, which wraps lines at the terminal's width (80 without a
# terminal): a message after a long temp path would break across lines. Wider than any path.
WIDE_TERMINAL = "10000"


def run_downloaded(name: str, *args: str) -> ReaderRun:
    """``pyflyte run <file> <args>`` on lesson ``name`` downloaded into an empty folder, on
    a new machine."""
    lesson = lessons.path(name)
    folder = fresh_dir("download")
    shutil.copy(lesson, folder / lesson.name)
    env = {**machine("bad-input"), "COLUMNS": WIDE_TERMINAL}
    return run_in_folder(folder, ["pyflyte", "run", lesson.name, *args], env)


def assert_refused_in_one_line(run: ReaderRun, option: str, reason: str) -> None:
    """The command line refused an input: exit 2, one line naming the option and the
    reason, no traceback."""
    output = run.stdout + run.stderr
    assert run.returncode == 2, output[-3000:]
    line = f"Invalid value for '{option}': {reason}"
    assert sum(line in row for row in output.splitlines()) == 1, output[-3000:]
    assert "Traceback" not in output


@pytest.fixture(scope="session")
def reader_runs():
    """Each lesson downloaded into an empty folder on a new machine, and the Run-it box's
    local commands run there one after another, once per test run. Returns a function:
    lesson name -> the list of ReaderRun, in the box's order (the first is ``python
    <file>.py``; a later command finds the local cache the earlier ones left, as on a
    reader's machine)."""
    seen: dict[str, list[ReaderRun]] = {}

    def runs(name: str) -> list[ReaderRun]:
        if name in seen:
            return seen[name]
        with once_per_test_run(f"reader/{name.replace('/', '--')}") as (work, to_make):
            if to_make:
                lesson = lessons.path(name)
                folder = fresh_dir("download")
                shutil.copy(lesson, folder / lesson.name)
                env = {**machine("reader"), "COLUMNS": WIDE_TERMINAL}
                done = [run_in_folder(folder, command, env)
                        for command in run_it.parse(lesson).local]
                work.write_text(json.dumps([vars(run) for run in done]))
        seen[name] = [ReaderRun(**run) for run in json.loads(work.read_text())]
        return seen[name]

    return runs


@pytest.fixture
def empty_caches():
    """Both SDKs' local caches in this process: a new, empty directory for one test."""
    with isolation.fresh_local_caches(fresh_dir("local-cache")) as directory:
        yield directory


# --------------------------------------------------------------------------------------------
# The built site in a real browser (tests/test_browser.py, tests/test_reading.py).

UNDER_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium through Playwright, one for the session; skipped (failed under CI)
    where there is none."""
    executable = find_chromium(headless_shell=True)
    if executable is None:
        looked = (f"$CHROMIUM={os.environ['CHROMIUM']}" if os.environ.get("CHROMIUM")
                  else "chromium, chromium-browser, google-chrome on PATH")
        reason = (f"no Chromium found ({looked}); install Debian's with "
                  "`apt-get install chromium` (.ci/run does)")
        if UNDER_CI:
            pytest.fail("CI=true: " + reason)
        pytest.skip(reason)
    try:
        import playwright.sync_api  # noqa: F401
        import axe_playwright_python  # noqa: F401
    except ImportError as error:
        reason = f"{error.name} is not installed (it is in the test extra of pyproject.toml)"
        if UNDER_CI:
            pytest.fail("CI=true: " + reason)
        pytest.skip(reason)
    with chromium(fresh_dir("chromium"), executable) as running:
        yield running


@pytest.fixture(scope="session")
def page_pool(browser):
    """Pages kept open for the browser tests of this process (``PagePool``): a test loads its
    page in one instead of opening a context of its own."""
    from browser import PagePool

    pool = PagePool(browser)
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def crawl(browser, site, base_url):
    """Every built page, opened once at 1280 px and once at 390 px (``sweep.crawl``): what
    the browser and layout tests check."""
    from sweep import crawl as crawl_pages

    return crawl_pages(browser, site.html, base_url)


@pytest.fixture(scope="session")
def base_url(site):
    """The strict build, served on loopback."""
    with serve(site.html) as url:
        yield url
