"""Keep the flyte SDK's local runs under TMPDIR, for the build and the tests.

flyte 2.12 writes every local run's metadata and raw data to ``/tmp/flyte/metadata/<run>``
and ``/tmp/flyte/raw_data/<run>`` unless the run is given other paths, whatever TMPDIR says
(``_Runner._run_local`` in ``flyte/_run.py``; there is no setting for it). A build or a test
session would leave a directory there per run. ``keep_local_runs_under(base)`` makes those
paths default to ``base/flyte/...`` instead; a run that names its own paths keeps them.

The build calls it in-process (``_ext/build_isolation.py``). Test subprocesses get it from
``_ext/startup/sitecustomize.py``, which the tests put on PYTHONPATH; it patches flyte only
when a process imports ``flyte._run``, so flytekit-only runs are untouched.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import os
import sys
import uuid
from pathlib import Path


def keep_local_runs_under(base: str | Path) -> None:
    """Default the metadata and raw-data paths of local flyte runs to ``base/flyte/``."""
    from flyte import _run

    runner_init = _run._Runner.__init__
    if getattr(runner_init, "_keeps_runs_under", None) is not None:
        runner_init = runner_init.__wrapped__
    metadata, raw_data = Path(base, "flyte", "metadata"), Path(base, "flyte", "raw_data")

    @functools.wraps(runner_init)
    def __init__(self, *args, **kwargs):
        runner_init(self, *args, **kwargs)
        if self._metadata_path is None:
            self._metadata_path = str(metadata)
        if self._raw_data_path is None:
            # One directory per run, as flyte's own default (raw_data/<run name>): a given
            # raw-data path is used as is, and a task's local checkpoint lives in it
            # (<raw>/checkpoint), so a shared one would hand each run the last run's
            # checkpoint to resume from.
            self._raw_data_path = str(raw_data / uuid.uuid4().hex)

    __init__._keeps_runs_under = str(base)
    _run._Runner.__init__ = __init__


class _PatchWhenImported(importlib.abc.MetaPathFinder):
    """Apply ``keep_local_runs_under(TMPDIR)`` right after ``flyte._run`` is first imported."""

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
            import tempfile

            keep_local_runs_under(os.environ.get("TMPDIR") or tempfile.gettempdir())

        spec.loader.exec_module = exec_then_patch
        return spec


def patch_when_imported() -> None:
    if "flyte._run" in sys.modules:
        import tempfile

        keep_local_runs_under(os.environ.get("TMPDIR") or tempfile.gettempdir())
    elif not any(isinstance(finder, _PatchWhenImported) for finder in sys.meta_path):
        sys.meta_path.insert(0, _PatchWhenImported())
