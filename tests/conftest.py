"""Shared set-up: an isolated HOME and TMPDIR for the whole run, and one strict build of the site.

Nothing here may touch the user's ~/.flyte or leave files in /tmp: everything lives in one
session directory that is removed when pytest exits.
"""

from __future__ import annotations

import contextlib
import fcntl
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

from browser import chromium, find_chromium, serve
from site_build import ROOT, copy_sources, sphinx_command

EXAMPLES_DIR = ROOT / "examples"
# Every example script: flytekit (Flyte 1) ones in examples/, flyte SDK (Flyte 2) ones in the
# sub-gallery examples/flyte2/.
EXAMPLES = sorted(EXAMPLES_DIR.rglob("*.py"))
FLYTE2_EXAMPLES = [p for p in EXAMPLES if p.parent.name == "flyte2"]
FLYTEKIT_EXAMPLES = [p for p in EXAMPLES if p not in FLYTE2_EXAMPLES]
GUIDES = sorted((ROOT / "guides").glob("*.md"))


def example_name(path: Path) -> str:
    """An example's path under examples/, without .py: ``rerun_with_caching``,
    ``flyte2/<file>``. Its page is ``auto_examples/<name>.html``."""
    return path.relative_to(EXAMPLES_DIR).with_suffix("").as_posix()

# Before any test module imports flytekit: it reads ~/.flyte/config* and makes temp dirs on import.
SESSION_DIR = Path(tempfile.mkdtemp(prefix="workflow-docs-tests-"))
# Under pytest-xdist (`make test` runs two workers) the workers start from the controller's
# environment, so their session dirs sit inside the controller's, which it removes at the end;
# the site build and the examples' standalone runs are made once, in the controller's dir
# (see ``once_per_test_run``).
SHARED_DIR = Path(os.environ.setdefault("WORKFLOW_DOCS_TESTS_SHARED", str(SESSION_DIR)))
for _name in ("home", "tmp"):
    (SESSION_DIR / _name).mkdir()
os.environ["HOME"] = str(SESSION_DIR / "home")
os.environ["TMPDIR"] = str(SESSION_DIR / "tmp")
tempfile.tempdir = str(SESSION_DIR / "tmp")
os.environ["FLYTE_SDK_LOGGING_LEVEL"] = "40"
os.environ["FLYTE_SDK_RICH_TRACEBACKS"] = "0"
os.environ["LOG_LEVEL"] = "50"  # the flyte SDK's logger, as in the build (_ext/build_isolation.py)
for _pointer in ("FLYTECTL_CONFIG", "UCTL_CONFIG"):  # config files both SDKs would read
    os.environ.pop(_pointer, None)
# The flyte SDK writes local runs to /tmp/flyte whatever TMPDIR says: keep them under the
# session's TMPDIR, here and (through _ext/startup/sitecustomize.py) in every subprocess.
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT / "_ext" / "startup"), os.environ.get("PYTHONPATH")]))
sys.path.insert(0, str(ROOT / "_ext"))
from flyte_local_runs import patch_when_imported  # noqa: E402

patch_when_imported()
# Examples name their image registry from this; a loopback default keeps image probes offline.
os.environ["FLYTE_IMAGE_REGISTRY"] = "localhost:30000"
# Examples end figure cells with plt.show(): no window, no "non-interactive" warning.
os.environ["MPLBACKEND"] = "Agg"


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(SESSION_DIR, ignore_errors=True)


def sphinx_build(srcdir: Path, outdir: Path, *options: str, env: dict | None = None):
    """Run the strict build the Makefile runs; returns the finished process (output merged)."""
    return subprocess.run(sphinx_command(srcdir, outdir, *options), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env, check=False)


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


def fresh_dir(name: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=name + "-", dir=SESSION_DIR))
    return path


def example_source(title: str, line: str) -> str:
    """The text of a minimal gallery example: a titled docstring and one print."""
    return f'"""\n{title}\n{"=" * len(title)}\n"""\n\nprint("{line}")\n'


def gallery_only_copy(name: str, examples: dict[str, str]) -> Path:
    """A copy of the sources whose only pages are an index and a gallery of ``examples``.

    The conf, extensions, templates and Makefile are the site's; without the guides and the
    real examples a build takes about 2 s instead of 15. ``examples``: path under examples/ ->
    text.
    """
    src = copy_sources(fresh_dir(name) / "src")
    shutil.rmtree(src / "guides")
    (src / "404.md").unlink()  # it links the guides
    for path in (src / "examples").rglob("*.py"):  # the Flyte 2 ones in examples/flyte2/ too
        path.unlink()
    (src / "index.md").write_text("# Gallery only\n\n```{toctree}\nauto_examples/index\n```\n")
    for relpath, text in examples.items():
        (src / "examples" / relpath).parent.mkdir(exist_ok=True)
        (src / "examples" / relpath).write_text(text)
    return src


@dataclass
class SiteBuild:
    html: Path
    log: str
    home: Path  # the HOME the build ran with: must stay empty
    tmp: Path  # the TMPDIR the build ran with: must be empty afterwards


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


@pytest.fixture(scope="session")
def site() -> SiteBuild:
    """One clean, strict build of the whole site, examples executed, outside the repository.

    Built once per test run, whichever worker asks first; a failed build fails every test
    that needs it, with its log.
    """
    with once_per_test_run("site") as (work, to_make):
        home, tmp = work / "empty-home", work / "empty-tmp"
        if to_make:
            src = copy_sources(work / "src")
            home.mkdir()
            tmp.mkdir()
            env = {**os.environ, "HOME": str(home), "TMPDIR": str(tmp)}
            result = sphinx_build(src, work / "html", env=env)
            (work / "build.json").write_text(json.dumps([result.returncode, result.stdout]))
    returncode, log = json.loads((work / "build.json").read_text())
    if returncode != 0:
        pytest.fail(f"the site build failed (exit {returncode}):\n{log[-6000:]}")
    return SiteBuild(html=work / "html", log=log, home=home, tmp=tmp)


@pytest.fixture(scope="session")
def standalone_runs():
    """Run each example as a reader would (`python examples/<file>.py`), once per test run.

    Each example gets its own empty HOME (so its own empty local caches) and TMPDIR.
    Returns a function: example name (see ``example_name``) -> finished process.
    ``run(name, again=True)`` runs the script a second time on the first run's HOME and
    TMPDIR, as a reader re-running it would.
    """
    seen: dict[tuple[str, bool], subprocess.CompletedProcess] = {}  # by this worker

    def run(stem: str, again: bool = False) -> subprocess.CompletedProcess:
        if (stem, again) in seen:
            return seen[stem, again]
        if again:
            run(stem)
        machine = Path("standalone", stem.replace("/", "--"))
        with once_per_test_run(str(machine / ("again" if again else "first"))) as (
                work, to_make):
            if to_make:
                home, tmp = SHARED_DIR / machine / "home", SHARED_DIR / machine / "tmp"
                home.mkdir(exist_ok=True)
                tmp.mkdir(exist_ok=True)
                done = run_example(ROOT / "examples" / f"{stem}.py", home=home, tmp=tmp)
                work.write_text(json.dumps([done.args, done.returncode, done.stdout,
                                            done.stderr]))
        seen[stem, again] = subprocess.CompletedProcess(*json.loads(work.read_text()))
        return seen[stem, again]

    return run


PYFLYTE = str(Path(sys.executable).parent / "pyflyte")

# pyflyte prints errors through rich, which wraps lines at the terminal's width (80 without a
# terminal): a message after a long temp path would break across lines and a substring check
# on it would miss. Wider than any path (PATH_MAX is 4096), nothing the tests read wraps.
WIDE_TERMINAL = "10000"


def run_pyflyte(stem: str, workflow: str, *args: str, **isolation):
    """`pyflyte run examples/<stem>.py <workflow> <args>` locally, isolated like run_example."""
    script = ROOT / "examples" / f"{stem}.py"
    return run_example(script, *args, command=(PYFLYTE, "run", str(script), workflow), **isolation)


def run_example(script: Path, *args: str, command: tuple[str, ...] | None = None,
                home: Path | None = None, tmp: Path | None = None,
                env: dict | None = None) -> subprocess.CompletedProcess:
    """Run an example script in a subprocess with a throw-away HOME and TMPDIR.

    ``command`` replaces ``python <script>`` (e.g. a pyflyte invocation). ``home`` reuses a HOME,
    and so a flytekit cache, across runs; pass ``tmp`` too when a later run must read cached
    offloaded outputs, which flytekit keeps under TMPDIR. ``env`` adds environment variables.
    """
    run_tmp = tmp or fresh_dir("tmp")
    full_env = {**os.environ, "HOME": str(home or fresh_dir("home")), "TMPDIR": str(run_tmp),
                "COLUMNS": WIDE_TERMINAL, **(env or {})}
    cmd = list(command) if command else [sys.executable, str(script)]
    result = subprocess.run(cmd + list(args), capture_output=True, text=True, env=full_env,
                            cwd=ROOT, timeout=300, check=False)
    if tmp is None:
        shutil.rmtree(run_tmp, ignore_errors=True)
    return result


@pytest.fixture
def empty_flytekit_cache(monkeypatch):
    """Point flytekit's local cache in this process at a new, empty directory for one test."""
    from flytekit.core import local_cache

    cache = local_cache.LocalTaskCache
    if cache._initialized:
        cache._cache.close()
    monkeypatch.setattr(local_cache, "CACHE_LOCATION", str(fresh_dir("local-cache")))
    monkeypatch.setattr(cache, "_initialized", False)
    yield
    if cache._initialized:
        cache._cache.close()


# --------------------------------------------------------------------------------------------
# The built site in a real browser (tests/test_browser.py, tests/test_reading.py).

UNDER_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium through Playwright, one for the session; skipped (failed under CI)
    where there is none."""
    executable = find_chromium()
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
def base_url(site):
    """The strict build, served on loopback."""
    with serve(site.html) as url:
        yield url
