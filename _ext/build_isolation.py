"""Keep the docs build away from the machine it runs on (``evidence.isolation``).

The gallery runs flytekit and the flyte SDK inside the Sphinx process. This extension gives
the build its own HOME and TMPDIR under the doctree dir before anything imports either SDK,
hands every gallery script empty local caches of both, and empties the build's TMPDIR when
the build ends.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from sphinx.application import Sphinx

from evidence import isolation, sdk

# Set at setup; read by the gallery hook, which may run in a worker process.
SCRATCH_ENV = "WORKFLOW_DOCS_SCRATCH"


def _remove_temp_files(app: Sphinx, exception: Exception | None) -> None:
    scratch = os.environ.get(SCRATCH_ENV)
    if not scratch:
        return
    shutil.rmtree(Path(scratch, "local-cache"), ignore_errors=True)
    isolation.empty_temp_dir(Path(scratch, "tmp"))


def fresh_local_caches(gallery_conf: dict, fname: str | None) -> None:
    """sphinx-gallery ``reset_modules`` hook: each script starts with empty local caches,
    flytekit's and the flyte SDK's, in a directory of its own."""
    if fname is None:  # called once per gallery directory as well
        return
    scratch = os.environ.get(SCRATCH_ENV)
    if not scratch:
        raise RuntimeError("build_isolation must be in `extensions` before the gallery runs")
    script = Path(fname).relative_to(Path(fname).anchor).with_suffix("").as_posix()
    cache_dir = Path(scratch, "local-cache", script.replace("/", "--"))
    shutil.rmtree(cache_dir, ignore_errors=True)
    isolation.point_local_caches_at(cache_dir)
    # sphinx-gallery runs a script as a module __main__ without __file__; the flyte SDK
    # names a task's module from that file.
    sdk.name_main_module(Path(fname).stem)


def _check_sdks(app: Sphinx) -> None:
    """Before any script runs: an SDK upgrade that moved a private name fails the build
    here, naming it. A build that runs no script (``plot_gallery=0``) skips it: resolving
    the names imports both SDKs, about a second; so does a build after one that checked the
    same SDK files (the stamp lives with the doctrees, removed with them by make clean)."""
    if app.config.sphinx_gallery_conf["plot_gallery"]:
        sdk.check_once(Path(app.doctreedir, "sdk-names-checked.json"))


def setup(app: Sphinx) -> dict:
    # At once, before the extensions after this one are imported: sphinxext-opengraph imports
    # matplotlib, which makes its config and font cache in the HOME it finds.
    scratch = Path(app.doctreedir, "scratch").resolve()
    os.environ[SCRATCH_ENV] = str(scratch)
    os.environ[isolation.SRCDIR_ENV] = str(Path(app.srcdir).resolve())  # where cards go
    isolation.isolate_process(scratch)
    # After sphinx-gallery reads plot_gallery (priority 10), before it runs scripts (500).
    app.connect("builder-inited", _check_sdks, priority=20)
    app.connect("build-finished", _remove_temp_files)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
