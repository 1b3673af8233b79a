"""Keep the docs build away from the machine it runs on.

The gallery runs flytekit and the flyte SDK (Flyte 2) inside the Sphinx process. Left alone,
they would read the reader's ``~/.flyte`` config, share one ``~/.flyte/local-cache`` across
examples and builds (so "first run: cache miss" would only be true once), print their log
lines into the pages, and leave temp dirs in ``/tmp`` (see FACTS.md in the project brief).

This extension gives the build its own HOME and TMPDIR under the doctree dir, hides the
config files both SDKs would look for, quiets their console logging, and hands every example
an empty local cache of each SDK.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sphinx.application import Sphinx

# Set at config-inited; read by the gallery hook, which may run in a worker process.
SCRATCH_ENV = "WORKFLOW_DOCS_SCRATCH"


def _short_socket_dir() -> None:
    """Give multiprocessing its temp dir under /tmp before TMPDIR moves into the build.

    multiprocessing names its Unix sockets after that dir (sphinx-sitemap starts a Manager,
    which listens on one), and a socket path may not exceed 107 bytes: under the build's deep
    TMPDIR the Manager fails with "AF_UNIX path too long". multiprocessing removes the dir when
    the process exits.
    """
    import multiprocessing.util

    saved = tempfile.tempdir
    tempfile.tempdir = "/tmp" if os.access("/tmp", os.W_OK) else saved
    try:
        multiprocessing.util.get_temp_dir()
    finally:
        tempfile.tempdir = saved


def _isolate_process(app: Sphinx) -> None:
    _short_socket_dir()
    scratch = Path(app.doctreedir, "scratch").resolve()
    home, tmp = scratch / "home", scratch / "tmp"
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    os.environ[SCRATCH_ENV] = str(scratch)
    os.environ["HOME"] = str(home)
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = str(tmp)  # tempfile caches its first answer
    # Read when flytekit is first imported; 40 = ERROR, so pages show only what examples print.
    os.environ["FLYTE_SDK_LOGGING_LEVEL"] = "40"
    # flytekit's import installs rich tracebacks process-wide; keep Sphinx's own error report.
    os.environ["FLYTE_SDK_RICH_TRACEBACKS"] = "0"
    # The flyte SDK's level (its generic name is the SDK's choice). 50 = CRITICAL: the SDK
    # logs every failed task attempt at ERROR, with a traceback, even when the example
    # expects the failure (a retry it demonstrates); an unexpected failure still raises.
    os.environ["LOG_LEVEL"] = "50"
    # Both SDKs also find a config through these; the build must not read the reader's.
    for pointer in ("FLYTECTL_CONFIG", "UCTL_CONFIG"):
        os.environ.pop(pointer, None)
    # Last, as it imports flyte: the SDK writes local runs to /tmp/flyte whatever
    # TMPDIR says; keep them in ours.
    from flyte_local_runs import keep_local_runs_under

    keep_local_runs_under(tmp)


def _remove_temp_files(app: Sphinx, exception: Exception | None) -> None:
    scratch = os.environ.get(SCRATCH_ENV)
    if not scratch:
        return
    shutil.rmtree(Path(scratch, "local-cache"), ignore_errors=True)
    # Empty TMPDIR but keep it: after a failure Sphinx still writes its error log there.
    for entry in Path(scratch, "tmp").iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def fresh_local_caches(gallery_conf: dict, fname: str | None) -> None:
    """sphinx-gallery ``reset_modules`` hook: each example starts with empty local caches,
    flytekit's and the flyte SDK's, in a directory of its own."""
    if fname is None:  # called once per gallery directory as well
        return
    scratch = os.environ.get(SCRATCH_ENV)
    if not scratch:
        raise RuntimeError("build_isolation must be in `extensions` before the gallery runs")
    example = Path(fname).relative_to(Path(fname).anchor).with_suffix("").as_posix()
    example_dir = Path(scratch, "local-cache", example.replace("/", "--"))
    shutil.rmtree(example_dir, ignore_errors=True)
    _point_flytekit_cache_at(example_dir / "flytekit")
    _point_flyte_cache_at(example_dir / "flyte")
    _name_gallery_main_module(Path(fname).stem)


def _point_flytekit_cache_at(cache_dir: Path) -> None:
    from flytekit.core import local_cache

    if local_cache.LocalTaskCache._initialized:
        local_cache.LocalTaskCache._cache.close()
    local_cache.CACHE_LOCATION = str(cache_dir)
    local_cache.LocalTaskCache._initialized = False


def _point_flyte_cache_at(base_dir: Path) -> None:
    """The flyte SDK keeps its cache in ``<base>/local-cache/cache.db``; ``<base>`` is
    ``~/.flyte`` unless a config file is found (none is: HOME is the build's own)."""
    from flyte._persistence import _db

    _db.LocalDB.close_sync()
    _db.LocalDB._conn = None  # an async connection belongs to the loop of the run that made it
    _db.LocalDB._initialized = False
    _db.DEFAULT_CACHE_DIR = str(base_dir)


def _name_gallery_main_module(stem: str) -> None:
    """Let the flyte SDK serialize tasks that a gallery example defines.

    sphinx-gallery runs an example as a ``__main__`` module without ``__file__``, on purpose
    (sphinx-gallery#166, #212). flyte's task resolver (``flyte._module.extract_obj_module``)
    reads that file to name the task's module and raises without it; for a script run with
    ``python`` it names the module after the file's stem. Give the gallery's module that name.
    """
    import inspect

    import flyte._internal.resolvers._task_module as task_module
    import flyte._module

    original = getattr(flyte._module, "_unpatched_extract_obj_module",
                       flyte._module.extract_obj_module)

    def extract_obj_module(obj, source_dir=None):
        module = inspect.getmodule(obj)
        if module is not None and module.__name__ == "__main__" and not hasattr(module, "__file__"):
            return stem, module
        return original(obj, source_dir)

    flyte._module._unpatched_extract_obj_module = original
    flyte._module.extract_obj_module = task_module.extract_obj_module = extract_obj_module


def setup(app: Sphinx) -> dict:
    # At once, before the extensions after this one are imported: sphinxext-opengraph imports
    # matplotlib, which makes its config and font cache in the HOME it finds.
    _isolate_process(app)
    app.connect("build-finished", _remove_temp_files)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
