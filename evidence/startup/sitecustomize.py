"""Run at start-up by an isolated subprocess (``evidence.isolation.environment`` puts this
folder on its PYTHONPATH): its local flyte runs then stay under TMPDIR."""

import importlib.machinery
import importlib.util
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
_root = os.path.dirname(os.path.dirname(_here))
# The project's package for this one call, then gone again: a lesson run here must not find
# it, and a build of a copy of the project (the tests make some) must import the copy's.
sys.path.insert(0, _root)
try:
    from evidence.isolation import patch_flyte_when_imported

    patch_flyte_when_imported()  # the hook it installs keeps what it needs
finally:
    sys.path.remove(_root)
    for _name in [n for n in sys.modules if n == "evidence" or n.startswith("evidence.")]:
        del sys.modules[_name]



def _ours(path: str) -> bool:
    """This folder, or a copy of it: a build of a copy of the project puts both on the path,
    and each would run the other, over and over, a second's worth in every process."""
    path = os.path.abspath(path or ".")
    return path == _here or path.endswith(os.path.join(os.sep + "evidence", "startup"))


# A sitecustomize of the Python installation (Debian ships one) would be hidden by this one.
_other = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if not _ours(p)])
if _other is not None and _other.loader is not None:
    _other.loader.exec_module(importlib.util.module_from_spec(_other))
