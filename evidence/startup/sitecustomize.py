"""Run at start-up by an isolated subprocess (``evidence.isolation.environment`` puts this
folder on its PYTHONPATH): its local flyte runs then stay under TMPDIR."""

import importlib.machinery
import importlib.util
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_root = os.path.dirname(os.path.dirname(_here))
# The project's package for this one import; a lesson run here must not find it on its path.
sys.path.insert(0, _root)
try:
    from evidence.isolation import patch_flyte_when_imported
finally:
    sys.path.remove(_root)
patch_flyte_when_imported()

# A sitecustomize of the Python installation (Debian ships one) would be hidden by this one.
_other = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if os.path.abspath(p or ".") != _here])
if _other is not None and _other.loader is not None:
    _other.loader.exec_module(importlib.util.module_from_spec(_other))
