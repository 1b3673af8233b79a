"""The one recipe that keeps a build, a test or a benchmark away from the machine it runs on.

Left alone, flytekit and the flyte SDK read the reader's ``~/.flyte`` config, share one
``~/.flyte/local-cache`` across runs (so "first run: cache miss" would be true only once),
print their log lines into pages and test output, and leave directories in ``/tmp``. This
module says once what an isolated process gets:

- ``environment(base)``: the environment of an isolated subprocess (a lesson run, a
  notebook kernel, a build), with HOME and TMPDIR under ``base``;
- ``isolate_process(base)``: the same, applied to this process (the Sphinx build);
- ``fresh_local_caches(directory)``: both SDKs' local caches moved to an empty directory.

The Sphinx build (``_ext/build_isolation.py``), the tests (``tests/conftest.py``) and
``make bench`` (``tools/bench.py``) all use it.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

# Read when each SDK is first imported.
QUIET = {
    # flytekit: errors only, so a page shows what its script printed and nothing else.
    "FLYTE_SDK_LOGGING_LEVEL": "40",
    # flytekit installs rich tracebacks process-wide on import; keep Python's own.
    "FLYTE_SDK_RICH_TRACEBACKS": "0",
    # The flyte SDK (its generic name is the SDK's choice): critical only. It logs every
    # failed attempt at ERROR with a traceback, even one a page expects (a retry it shows);
    # an unexpected failure still raises.
    "LOG_LEVEL": "50",
}
# Both SDKs also find a config file through these; an isolated process must not read the
# reader's.
CONFIG_POINTERS = ("FLYTECTL_CONFIG", "UCTL_CONFIG")
# Set by the build to its source folder: evidence pages draw the gallery's cards there.
SRCDIR_ENV = "WORKFLOW_DOCS_SRCDIR"
# Holds sitecustomize.py, which a subprocess runs at start-up when this folder is on its
# PYTHONPATH: the flyte SDK then keeps its local runs under TMPDIR (see below).
STARTUP = Path(__file__).resolve().parent / "startup"


def environment(base: Path, **extra: str) -> dict[str, str]:
    """The environment of an isolated subprocess: this one's, with HOME and TMPDIR under
    ``base`` (created here), quiet SDK logging, no config pointers, Agg for matplotlib,
    and the start-up folder on PYTHONPATH. ``extra`` adds or replaces variables."""
    home, tmp = Path(base, "home"), Path(base, "tmp")
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    env = {name: value for name, value in os.environ.items() if name not in CONFIG_POINTERS}
    python_path = [str(STARTUP)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep)
                                    if p and p != str(STARTUP)]
    env.update(QUIET, HOME=str(home), TMPDIR=str(tmp), MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(python_path))
    env.update(extra)
    return env


def isolate_process(base: Path) -> None:
    """Give this process the environment ``environment(base)`` describes.

    Call it before either SDK or matplotlib is imported: they read HOME and the log levels
    on import. The flyte SDK is patched when it is imported (it writes local runs to
    /tmp/flyte otherwise); a build that runs no script imports neither SDK."""
    _short_socket_dir()
    for pointer in CONFIG_POINTERS:
        os.environ.pop(pointer, None)
    os.environ.update(environment(base))
    tempfile.tempdir = os.environ["TMPDIR"]  # tempfile caches its first answer
    patch_flyte_when_imported()


def _short_socket_dir() -> None:
    """Give multiprocessing its temp dir under /tmp before TMPDIR moves deeper.

    multiprocessing names its Unix sockets after that dir (sphinx-sitemap starts a Manager,
    which listens on one), and a socket path may not exceed 107 bytes: under a deep TMPDIR
    the Manager fails with "AF_UNIX path too long". multiprocessing removes the dir when the
    process exits.
    """
    import multiprocessing.util

    saved = tempfile.tempdir
    tempfile.tempdir = "/tmp" if os.access("/tmp", os.W_OK) else saved
    try:
        multiprocessing.util.get_temp_dir()
    finally:
        tempfile.tempdir = saved


def empty_temp_dir(tmp: Path) -> None:
    """Remove what runs left in ``tmp`` but keep the folder (Sphinx writes its error log
    there after a failure)."""
    for entry in Path(tmp).iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


@contextlib.contextmanager
def fresh_local_caches(directory: Path) -> Iterator[Path]:
    """Point both SDKs' local caches at a new, empty ``directory`` while the block runs."""
    shutil.rmtree(directory, ignore_errors=True)
    point_local_caches_at(directory)
    try:
        yield directory
    finally:
        point_local_caches_at(directory)  # closes the stores the block opened
        shutil.rmtree(directory, ignore_errors=True)


def point_local_caches_at(directory: Path) -> None:
    """flytekit's cache in ``directory/flytekit``, the flyte SDK's in ``directory/flyte``."""
    from evidence import sdk

    sdk.point_flytekit_cache_at(Path(directory, "flytekit"))
    sdk.point_flyte_cache_at(Path(directory, "flyte"))


class _PatchWhenImported(importlib.abc.MetaPathFinder):
    """Apply ``keep_flyte_local_runs_under(TMPDIR)`` as soon as ``flyte._run`` is imported."""

    def __init__(self, keep_runs_under):
        self.keep_runs_under = keep_runs_under  # bound now: see evidence/startup

    def find_spec(self, fullname, path, target=None):
        if fullname != "flyte._run":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        exec_module = spec.loader.exec_module

        def exec_then_patch(module):
            exec_module(module)
            sys.meta_path.remove(self)
            self.keep_runs_under(os.environ.get("TMPDIR") or tempfile.gettempdir())

        spec.loader.exec_module = exec_then_patch
        return spec


def patch_flyte_when_imported() -> None:
    """Keep this process's local flyte runs under TMPDIR, without importing flyte now
    (a process that never imports it pays nothing)."""
    from evidence import sdk

    if "flyte._run" in sys.modules:
        sdk.keep_flyte_local_runs_under(os.environ.get("TMPDIR") or tempfile.gettempdir())
    elif not any(isinstance(finder, _PatchWhenImported) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchWhenImported(sdk.keep_flyte_local_runs_under))
