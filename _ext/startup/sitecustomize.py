"""Run at start-up by the tests' subprocesses (their PYTHONPATH names this folder): local
flyte runs then keep their files under TMPDIR. See ../flyte_local_runs.py for why."""

import importlib.machinery
import importlib.util
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "flyte_local_runs", os.path.join(os.path.dirname(_here), "flyte_local_runs.py"))
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
_module.patch_when_imported()

# A sitecustomize of the Python installation (Debian ships one) would be hidden by this one.
_other = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if os.path.abspath(p or ".") != _here])
if _other is not None and _other.loader is not None:
    _other.loader.exec_module(importlib.util.module_from_spec(_other))
