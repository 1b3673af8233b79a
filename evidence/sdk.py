"""Every private name of flytekit and the flyte SDK that this project uses, in one place.

The lessons use public APIs only. The evidence needs a few SDK internals: where each SDK
keeps its local cache, where a task body starts and where the local cache answers, where
the flyte SDK writes local runs, how it names the module of a task defined in a gallery
page. Each is named once in ``NAMES``; ``check()`` resolves all of them (the build calls
it first), so an SDK upgrade that moves one fails at once, naming the SDK, its version and
the name, instead of deep inside a page. Nothing outside this module may import a private
SDK name (``tests/test_private_names.py`` holds that).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import json
import threading
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator

# The versions this module was checked against; a newer one is fine while every name resolves.
WRITTEN_FOR = {"flytekit": "1.16.31", "flyte": "2.12.1"}

# key -> (distribution, "module:attribute.path")
NAMES = {
    # flytekit's local cache: a diskcache store at CACHE_LOCATION, opened on first use.
    "flytekit.cache_location": ("flytekit", "flytekit.core.local_cache:CACHE_LOCATION"),
    "flytekit.cache": ("flytekit", "flytekit.core.local_cache:LocalTaskCache"),
    "flytekit.cache_initialized": (
        "flytekit", "flytekit.core.local_cache:LocalTaskCache._initialized"),
    # Where a task body runs (a miss, or no cache), for every function task kind.
    "flytekit.function_task": (
        "flytekit", "flytekit.core.python_function_task:PythonFunctionTask.execute"),
    "flytekit.async_function_task": (
        "flytekit", "flytekit.core.python_function_task:AsyncPythonFunctionTask.execute"),
    # The flyte SDK's local cache: <DEFAULT_CACHE_DIR>/local-cache/cache.db, one connection
    # per process, made on first use.
    "flyte.cache_dir": ("flyte", "flyte._persistence._db:DEFAULT_CACHE_DIR"),
    "flyte.local_db": ("flyte", "flyte._persistence._db:LocalDB"),
    "flyte.task_cache": ("flyte", "flyte._persistence._task_cache:LocalTaskCache.get"),
    # The local cache key of a task call; the local controller calls it through the module.
    "flyte.cache_key": ("flyte", "flyte._internal.runtime.convert:generate_cache_key_hash"),
    # Where a task body runs, once per attempt.
    "flyte.task_execute": ("flyte", "flyte._task:AsyncFunctionTaskTemplate.execute"),
    # The local controller waits before a retry with asyncio.sleep, its only sleep; the
    # fallback pacing when a task sets no flyte.Backoff.
    "flyte.local_controller_asyncio": (
        "flyte", "flyte._internal.controllers._local_controller:asyncio"),
    "flyte.local_retry_first_wait": (
        "flyte", "flyte._internal.controllers._local_controller:_MIN_BACKOFF_ON_ERR_SEC"),
    "flyte.local_retry_factor": (
        "flyte", "flyte._internal.controllers._local_controller:_BACKOFF_MULTIPLIER"),
    # Local runs write to /tmp/flyte unless given paths (_Runner.__init__ sets the defaults).
    "flyte.runner": ("flyte", "flyte._run:_Runner.__init__"),
    # How the SDK names a task's module: from the module's __file__.
    "flyte.extract_obj_module": ("flyte", "flyte._module:extract_obj_module"),
    "flyte.task_module": ("flyte", "flyte._internal.resolvers._task_module:extract_obj_module"),
    # The RunSpec a remote run sends with CreateRun: pure proto assembly, no I/O.
    "flyte.run_spec": ("flyte", "flyte._run:_Runner._apply_overrides"),
    # The pip packages an image installs.
    "flyte.image_layers": ("flyte", "flyte._image:Image._layers"),
    "flyte.pip_packages": ("flyte", "flyte._image:PipPackages"),
    # How the SDK turns a call's arguments into the inputs a cache key hashes: the literals,
    # the inputs hash of a task called from a task, and the one 2.12.1 sends with a run
    # whose inputs carry a content hash.
    "flyte.native_to_inputs": (
        "flyte", "flyte._internal.runtime.convert:convert_from_native_to_inputs"),
    "flyte.inputs_hash": (
        "flyte", "flyte._internal.runtime.convert:generate_inputs_hash_from_proto"),
    "flyte.content_inputs_hash": (
        "flyte", "flyte._internal.runtime.convert:generate_content_inputs_hash"),
}


class SDKChanged(RuntimeError):
    """An SDK upgrade moved or removed a name this project relies on."""


def resolve(key: str) -> Any:
    distribution, dotted = NAMES[key]
    module_name, _, attributes = dotted.partition(":")
    try:
        value: Any = importlib.import_module(module_name)
        for attribute in attributes.split("."):
            value = _attribute(value, attribute)
    except (ImportError, AttributeError) as error:
        raise SDKChanged(
            f"{distribution} {metadata.version(distribution)} has no {dotted} ({error}); "
            f"evidence/sdk.py was written for {distribution} {WRITTEN_FOR[distribution]}: "
            "update it to the new SDK"
        ) from None
    return value


def _attribute(owner: Any, name: str) -> Any:
    """``owner.name``; on a class, without running descriptors, and a dataclass field
    counts (it has no class attribute when it has a default factory)."""
    if not isinstance(owner, type):
        return getattr(owner, name)
    fields = getattr(owner, "__dataclass_fields__", {})
    if name in fields:
        return fields[name]
    return inspect.getattr_static(owner, name)


def check() -> None:
    """Resolve every name: raises SDKChanged naming the first one an upgrade moved."""
    for key in NAMES:
        resolve(key)


def check_once(stamp: Path) -> None:
    """``check()``, unless ``stamp`` records one that passed against the same names and the
    same SDK files (each SDK's version; each named module's size and modification time), as
    when a build runs again with nothing installed since: resolving the names imports both
    SDKs, about a second."""
    fingerprint = _fingerprint()
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == fingerprint:
        return
    check()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint, encoding="utf-8")


def _fingerprint() -> str:
    """What ``check()``'s answer depends on, read from the installed files, not imported."""
    distributions = {name: metadata.distribution(name) for name, _ in NAMES.values()}
    files = {}
    for distribution, dotted in NAMES.values():
        base = dotted.partition(":")[0].replace(".", "/")
        for relpath in (f"{base}.py", f"{base}/__init__.py"):
            path = Path(distributions[distribution].locate_file(relpath))
            if path.is_file():
                stat = path.stat()
                files[relpath] = [stat.st_size, stat.st_mtime_ns]
                break
        else:
            files[base] = None
    return json.dumps({"names": NAMES, "files": files,
                       "versions": {name: d.version for name, d in distributions.items()}},
                      sort_keys=True)


def _owner(key: str) -> tuple[Any, str]:
    """The class (or module) holding NAMES[key]'s last attribute, and that attribute."""
    _, dotted = NAMES[key]
    module_name, _, attributes = dotted.partition(":")
    *path, last = attributes.split(".")
    owner: Any = importlib.import_module(module_name)
    for attribute in path:
        owner = getattr(owner, attribute)
    return owner, last


# ------------------------------------------------------------------------------------------
# Local caches


def point_flytekit_cache_at(directory: Path) -> None:
    """Make flytekit keep its local cache in ``directory`` (created on first use)."""
    local_cache, _ = _owner("flytekit.cache_location")
    cache = resolve("flytekit.cache")
    if cache._initialized:
        cache._cache.close()
    local_cache.CACHE_LOCATION = str(directory)
    cache._initialized = False


def point_flyte_cache_at(base: Path) -> None:
    """Make the flyte SDK keep its local cache in ``base/local-cache/cache.db``."""
    db_module, _ = _owner("flyte.cache_dir")
    local_db = resolve("flyte.local_db")
    local_db.close_sync()
    local_db._conn = None  # an async connection belongs to the loop of the run that made it
    local_db._initialized = False
    db_module.DEFAULT_CACHE_DIR = str(base)


def flytekit_cache_location() -> Path:
    module, _ = _owner("flytekit.cache_location")
    return Path(module.CACHE_LOCATION).expanduser()


# ------------------------------------------------------------------------------------------
# Watching local runs: which task bodies ran, which calls the local cache served


@contextlib.contextmanager
def _wrapped(key: str, make_wrapper: Callable[[Callable], Callable]) -> Iterator[None]:
    owner, name = _owner(key)
    original = inspect.getattr_static(owner, name)
    setattr(owner, name, make_wrapper(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextlib.contextmanager
def watch_flytekit(on_body: Callable[[str], None],
                   on_lookup: Callable[[str, bool], None]) -> Iterator[None]:
    """Call ``on_body(task name)`` when a task body starts and ``on_lookup(task name, hit)``
    when flytekit's local cache is asked, while the block runs."""

    def body(execute):
        if inspect.iscoroutinefunction(execute):
            @functools.wraps(execute)
            async def wrapper(self, **kwargs):
                on_body(self.name)
                return await execute(self, **kwargs)
        else:
            @functools.wraps(execute)
            def wrapper(self, **kwargs):
                on_body(self.name)
                return execute(self, **kwargs)
        return wrapper

    def lookup(get):
        function = get.__func__ if isinstance(get, staticmethod) else get

        @functools.wraps(function)
        def wrapper(task_name, *args, **kwargs):
            found = function(task_name, *args, **kwargs)
            on_lookup(task_name, found is not None)
            return found
        return staticmethod(wrapper)

    with contextlib.ExitStack() as stack:
        stack.enter_context(_wrapped("flytekit.function_task", body))
        stack.enter_context(_wrapped("flytekit.async_function_task", body))
        cache = resolve("flytekit.cache")
        stack.enter_context(_wrapped_attribute(cache, "get", lookup))
        yield


@contextlib.contextmanager
def _wrapped_attribute(owner: Any, name: str, make_wrapper: Callable) -> Iterator[None]:
    original = inspect.getattr_static(owner, name)
    setattr(owner, name, make_wrapper(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


@contextlib.contextmanager
def watch_flyte(on_body: Callable[[str, str], None],
                on_hit: Callable[[str], None],
                on_inputs: Callable[[str, dict], None] | None = None) -> Iterator[None]:
    """Call ``on_body(task name, thread name)`` when an attempt of a task body starts and
    ``on_hit(task name)`` when the flyte SDK's local cache returns an entry; with
    ``on_inputs``, also ``on_inputs(task name, its inputs by name)`` when a body starts."""
    tasks_by_key: dict[str, str] = {}

    def key(generate):
        @functools.wraps(generate)
        def wrapper(task_name, *args, **kwargs):
            made = generate(task_name, *args, **kwargs)
            tasks_by_key[made] = task_name
            return made
        return wrapper

    def body(execute):
        @functools.wraps(execute)
        async def wrapper(self, *args, **kwargs):
            on_body(self.name, threading.current_thread().name)
            if on_inputs is not None:
                on_inputs(self.name, {**dict(zip(self.native_interface.inputs, args)),
                                      **kwargs})
            return await execute(self, *args, **kwargs)
        return wrapper

    def lookup(get):
        function = get.__func__ if isinstance(get, staticmethod) else get

        @functools.wraps(function)
        async def wrapper(cache_key):
            found = await function(cache_key)
            if found is not None:
                on_hit(tasks_by_key.get(cache_key, "?"))
            return found
        return staticmethod(wrapper)

    with _wrapped("flyte.task_execute", body), _wrapped("flyte.task_cache", lookup), \
            _wrapped("flyte.cache_key", key):
        yield


@contextlib.contextmanager
def watch_body_spans(on_start: Callable[[str], None],
                     on_end: Callable[[str], None]) -> Iterator[None]:
    """Call ``on_start(task name)`` when a task body starts and ``on_end(task name)`` when
    it returns or raises, for the function tasks of both SDKs, while the block runs.

    flytekit calls ``execute`` in the thread that runs the body. The flyte SDK awaits
    ``execute`` on its event loop, which runs an ``async def`` body there and a ``def``
    body in a thread of its own; either way the span brackets the body."""

    def flytekit_span(execute):
        if inspect.iscoroutinefunction(execute):
            @functools.wraps(execute)
            async def wrapper(self, **kwargs):
                on_start(self.name)
                try:
                    return await execute(self, **kwargs)
                finally:
                    on_end(self.name)
        else:
            @functools.wraps(execute)
            def wrapper(self, **kwargs):
                on_start(self.name)
                try:
                    return execute(self, **kwargs)
                finally:
                    on_end(self.name)
        return wrapper

    def flyte_span(execute):
        @functools.wraps(execute)
        async def wrapper(self, *args, **kwargs):
            on_start(self.name)
            try:
                return await execute(self, *args, **kwargs)
            finally:
                on_end(self.name)
        return wrapper

    with _wrapped("flytekit.function_task", flytekit_span), \
            _wrapped("flytekit.async_function_task", flytekit_span), \
            _wrapped("flyte.task_execute", flyte_span):
        yield


class _RecordingAsyncio:
    """The asyncio module as the local controller sees it, with ``sleep`` reported."""

    def __init__(self, real: Any, on_wait: Callable[[float], None]):
        self._real, self._on_wait = real, on_wait

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    async def sleep(self, delay: float, *args: Any, **kwargs: Any) -> Any:
        self._on_wait(delay)
        return await self._real.sleep(delay, *args, **kwargs)


@contextlib.contextmanager
def watch_flyte_retry_waits(on_wait: Callable[[float], None]) -> Iterator[None]:
    """Call ``on_wait(seconds)`` each time the flyte SDK's local controller waits before a
    retry, with the delay it waits (its only ``asyncio.sleep``, in
    ``LocalController.submit``)."""
    module, name = _owner("flyte.local_controller_asyncio")
    real = getattr(module, name)
    setattr(module, name, _RecordingAsyncio(real, on_wait))
    try:
        yield
    finally:
        setattr(module, name, real)


def flyte_local_retry_fallback() -> tuple[float, float]:
    """The local controller's pacing for a task without a ``flyte.Backoff``: the first
    wait in seconds, and the factor each next wait grows by."""
    return resolve("flyte.local_retry_first_wait"), resolve("flyte.local_retry_factor")


# ------------------------------------------------------------------------------------------
# Where the flyte SDK writes local runs, and how it names a gallery page's module


def keep_flyte_local_runs_under(base: str | Path) -> None:
    """Default the metadata and raw-data paths of local flyte runs to ``base/flyte/``.

    flyte 2.12 writes every local run to ``/tmp/flyte/metadata/<run>`` and
    ``/tmp/flyte/raw_data/<run>`` unless the run is given other paths, whatever TMPDIR says
    (``_Runner.__init__``); there is no setting for it. A run that names its own paths
    keeps them.
    """
    runner, _ = _owner("flyte.runner")
    runner_init = runner.__init__
    if getattr(runner_init, "_keeps_runs_under", None) is not None:
        runner_init = runner_init.__wrapped__
    metadata_dir = Path(base, "flyte", "metadata")
    raw_data_dir = Path(base, "flyte", "raw_data")

    @functools.wraps(runner_init)
    def __init__(self, *args, **kwargs):
        runner_init(self, *args, **kwargs)
        if self._metadata_path is None:
            self._metadata_path = str(metadata_dir)
        if self._raw_data_path is None:
            # One directory per run, as flyte's own default (raw_data/<run name>): a task's
            # local checkpoint lives in it, so a shared one would hand a run the last one's.
            self._raw_data_path = str(raw_data_dir / uuid.uuid4().hex)

    __init__._keeps_runs_under = str(base)
    runner.__init__ = __init__


def name_main_module(stem: str) -> None:
    """Let the flyte SDK run tasks defined in a module ``__main__`` without ``__file__``.

    sphinx-gallery runs a page as such a module, on purpose (sphinx-gallery#166, #212).
    The SDK names a task's module from that file and raises without it; for a script run
    with ``python`` it names the module after the file's stem. Give the page's module that
    name.
    """
    module, _ = _owner("flyte.extract_obj_module")
    task_module, _ = _owner("flyte.task_module")
    original = getattr(module, "_unpatched_extract_obj_module", module.extract_obj_module)

    def extract_obj_module(obj, source_dir=None):
        found = inspect.getmodule(obj)
        if found is not None and found.__name__ == "__main__" and not hasattr(found, "__file__"):
            return stem, found
        return original(obj, source_dir)

    module._unpatched_extract_obj_module = original
    module.extract_obj_module = task_module.extract_obj_module = extract_obj_module


# ------------------------------------------------------------------------------------------
# What a flyte SDK cache key hashes


def flyte_inputs(task: Any, *args: Any, **kwargs: Any) -> Any:
    """The inputs (``flyteidl2`` ``Inputs``) a call of ``task`` with these arguments sends:
    what the local cache and a cluster hash."""
    from evidence.probes import run_coroutine

    convert = resolve("flyte.native_to_inputs")
    return run_coroutine(convert(task.native_interface, *args, **kwargs)).proto_inputs


def flyte_inputs_hash(inputs: Any) -> str:
    """The inputs hash the SDK puts in the cache key of a task it calls (locally, and from
    a parent task on a cluster): SHA-256 over ``name:value;`` pairs, a literal's content
    hash in place of its value."""
    return resolve("flyte.inputs_hash")(inputs)


def flyte_run_inputs_hash(inputs: Any, ignored_inputs: list[str]) -> str | None:
    """The inputs hash flyte 2.12.1 sends with a remote run in place of the server's, or
    None when it leaves the server's (no input carries a content hash)."""
    return resolve("flyte.content_inputs_hash")(inputs, ignored_inputs)


def flyte_cache_key(task_name: str, inputs_hash: str, interface: Any, version: str,
                    ignored_inputs: list[str], inputs: Any) -> str:
    """The cache key the SDK computes (and the v2.0.43 backend for a run's first task,
    from its own inputs hash): SHA-256 of inputs hash, task name, interface hash and
    version."""
    generate = resolve("flyte.cache_key")
    return generate(task_name, inputs_hash, interface, version, ignored_inputs, inputs)


# ------------------------------------------------------------------------------------------
# What a remote run sends


def flyte_run_spec(runner: Any, task: Any) -> Any:
    """The ``RunSpec`` proto that ``runner`` (what ``flyte.with_runcontext`` returns) would
    send a cluster to start a run of ``task``, built offline."""
    resolve("flyte.run_spec")
    return runner._apply_overrides(None, task=task)


# ------------------------------------------------------------------------------------------
# Images


def flyte_image_pip_packages(image: Any) -> list[str]:
    """The pip packages a ``flyte.Image`` installs, in order."""
    pip_packages = resolve("flyte.pip_packages")
    return [package for layer in image._layers if isinstance(layer, pip_packages)
            for package in layer.packages]
