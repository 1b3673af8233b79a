"""Keep the docs build away from the machine it runs on.

The gallery runs flytekit inside the Sphinx process. Left alone, flytekit would read the
reader's ``~/.flyte/config.yaml``, share one ``~/.flyte/local-cache`` across examples and
builds (so "first run: cache miss" would only be true once), print its log lines into the
pages, and leave two temp dirs in ``/tmp`` per process (see FACTS.md in the project brief).

This extension gives the build its own HOME and TMPDIR under the doctree dir, quiets
flytekit's console logging, and hands every example an empty local cache.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config

# Set at config-inited; read by the gallery hook, which may run in a worker process.
SCRATCH_ENV = "WORKFLOW_DOCS_SCRATCH"


def _isolate_process(app: Sphinx, config: Config) -> None:
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


def _remove_temp_files(app: Sphinx, exception: Exception | None) -> None:
    scratch = os.environ.get(SCRATCH_ENV)
    if not scratch:
        return
    shutil.rmtree(Path(scratch, "local-cache"), ignore_errors=True)
    # Empty TMPDIR but keep it: after a failure Sphinx still writes its error log there.
    for entry in Path(scratch, "tmp").iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


def fresh_flytekit_cache(gallery_conf: dict, fname: str | None) -> None:
    """sphinx-gallery ``reset_modules`` hook: each example starts with an empty local cache."""
    if fname is None:  # called once per gallery directory as well
        return
    scratch = os.environ.get(SCRATCH_ENV)
    if not scratch:
        raise RuntimeError("build_isolation must be in `extensions` before the gallery runs")
    from flytekit.core import local_cache

    if local_cache.LocalTaskCache._initialized:
        local_cache.LocalTaskCache._cache.close()
    cache_dir = Path(scratch, "local-cache", Path(fname).stem)
    shutil.rmtree(cache_dir, ignore_errors=True)
    local_cache.CACHE_LOCATION = str(cache_dir)
    local_cache.LocalTaskCache._initialized = False


def _name_gallery_main_module(example: str) -> None:
    """Let flyte serialize tasks that a gallery example defines.

    sphinx-gallery runs an example as a ``__main__`` module without ``__file__``, on
    purpose (sphinx-gallery#166, #212). flyte 2's task resolver needs that file to name the
    task's module (``flyte._module.extract_obj_module``) and raises without it; a script run
    with ``python`` has one, and flyte then names the module after the file's stem. Give the
    gallery's module the same name.
    """
    import inspect

    import flyte._module
    import flyte._internal.resolvers._task_module as task_module

    original = getattr(flyte._module, "_unpatched_extract_obj_module",
                       flyte._module.extract_obj_module)

    def extract_obj_module(obj, source_dir=None):
        module = inspect.getmodule(obj)
        if module is not None and module.__name__ == "__main__" and not hasattr(module, "__file__"):
            return Path(example).stem, module
        return original(obj, source_dir)

    flyte._module._unpatched_extract_obj_module = original
    flyte._module.extract_obj_module = extract_obj_module
    task_module.extract_obj_module = extract_obj_module


def fresh_flyte2_example(gallery_conf: dict, fname: str | None) -> None:
    """sphinx-gallery ``reset_modules`` hook: name the next example's module for flyte."""
    if fname is not None:  # the example's file name
        _name_gallery_main_module(fname)


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", _isolate_process, priority=0)  # before sphinx-gallery (10)
    app.connect("build-finished", _remove_temp_files)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
