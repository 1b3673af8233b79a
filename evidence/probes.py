"""One probe per kind of fact the site states about a lesson.

- ``flytekit_runs()`` / ``flyte_runs()``: which task bodies ran and which calls the local
  cache served, while a block runs (no log parsing: ``evidence.sdk`` hooks the SDKs);
- ``in_flight()``: how many bodies of each task ran at once (a count, not a clock);
- ``flyte_retry_waits()``: how long the flyte SDK's local controller waited before each
  retry; ``flyte_attempts(task, ...)`` runs a task under both, quietly, and keeps what it
  printed and the epochs a checkpointing task's attempts started after;
- ``flytekit_compiled(entity)`` / ``flyte_spec(task)``: what registration would send a
  cluster, compiled offline;
- ``flytekit_literal(value, type)`` / ``flyte_literal(value, type)``: the literal a value
  travels as between tasks, and its size.

Pages print what these return; tests assert on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from evidence import sdk


def run_coroutine(coroutine: Any) -> Any:
    """Run ``coroutine`` to its end from plain code: here, or on a thread of its own where
    this thread already runs an event loop (a Jupyter kernel does, and so may a test run
    after one that drives one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def short(task_name: str) -> str:
    """A task's name without its module or environment: ``train``."""
    return task_name.rsplit(".", 1)[-1]


@dataclass
class TaskRuns:
    """What the local runs inside a ``with`` block did, task by task (short names)."""

    bodies: list[str] = field(default_factory=list)  # each start of a body, in order
    hits: list[str] = field(default_factory=list)  # each call the local cache served
    misses: list[str] = field(default_factory=list)  # flytekit: each lookup that missed
    threads: set[str] = field(default_factory=set)  # flyte SDK: threads that started a body
    calls: list[tuple[str, dict]] = field(default_factory=list)  # flyte SDK: each body
    #                                                   start's task and its inputs by name

    def ran(self, task: str) -> int:
        """How many times ``task``'s body started (attempts count one each)."""
        return Counter(self.bodies)[task]

    def served(self, task: str) -> int:
        """How many calls of ``task`` the local cache answered."""
        return Counter(self.hits)[task]


@contextlib.contextmanager
def flytekit_runs() -> Iterator[TaskRuns]:
    """Record the flytekit task bodies that run, and the local cache's answers."""
    runs = TaskRuns()

    def on_lookup(task_name: str, hit: bool) -> None:
        (runs.hits if hit else runs.misses).append(short(task_name))

    with sdk.watch_flytekit(lambda task_name: runs.bodies.append(short(task_name)), on_lookup):
        yield runs


@contextlib.contextmanager
def flyte_runs() -> Iterator[TaskRuns]:
    """Record the flyte SDK task attempts that start, and the local cache's hits."""
    runs = TaskRuns()

    def on_body(task_name: str, thread: str) -> None:
        runs.bodies.append(short(task_name))
        runs.threads.add(thread)

    def on_inputs(task_name: str, inputs: dict) -> None:
        runs.calls.append((short(task_name), inputs))

    with sdk.watch_flyte(on_body, lambda task_name: runs.hits.append(short(task_name)),
                         on_inputs):
        yield runs


@dataclass
class InFlight:
    """How many bodies of each task were running at once while a block ran (short names).

    Counted at each start of a body, itself included: ``[1, 1, 1]`` is three bodies that
    each started after the one before had returned; ``[1, 2, 3]`` is three at once."""

    at_start: dict[str, list[int]] = field(default_factory=dict)

    def peak(self, task: str) -> int:
        """The most bodies of ``task`` that were running at once (0: it never ran)."""
        return max(self.at_start.get(task, [0]))


@contextlib.contextmanager
def in_flight() -> Iterator[InFlight]:
    """Record, for either SDK, how many bodies of each task run at once. A count, not a
    clock: it says whether bodies overlapped, whatever the machine's speed."""
    import threading

    record, running, lock = InFlight(), Counter(), threading.Lock()

    def on_start(task_name: str) -> None:
        with lock:
            task = short(task_name)
            running[task] += 1
            record.at_start.setdefault(task, []).append(running[task])

    def on_end(task_name: str) -> None:
        with lock:
            running[short(task_name)] -= 1

    with sdk.watch_body_spans(on_start, on_end):
        yield record


@contextlib.contextmanager
def flyte_retry_waits() -> Iterator[list[float]]:
    """The delays, in seconds, the flyte SDK's local controller waited before each retry
    while the block ran, in order."""
    waits: list[float] = []
    with sdk.watch_flyte_retry_waits(waits.append):
        yield waits


def flyte_attempts(task: Any, *, context: Any = None, **inputs: Any) -> TaskRuns:
    """Run ``task`` locally (in ``context``, a ``flyte.with_runcontext``, if given) under
    ``flyte_runs`` and ``flyte_retry_waits``, its output kept from the page. Adds to the
    probe: ``value`` (None if the run failed with a user error, then in ``error``),
    ``waits``, the lines it printed, and ``starts``: the epoch each attempt started after,
    from the labelled line a checkpointing lesson prints when an attempt starts."""
    import io

    import flyte

    printed = io.StringIO()
    with flyte_runs() as runs, flyte_retry_waits() as waits, \
            contextlib.redirect_stdout(printed):
        try:
            runs.value = (context or flyte).run(task, **inputs).outputs()[0]
            runs.error = None
        except flyte.errors.RuntimeUserError as error:
            runs.value, runs.error = None, error
    runs.waits = waits
    runs.printed = printed.getvalue().splitlines()
    runs.starts = [int(line.rsplit(": ", 1)[1]) for line in runs.printed
                   if line.startswith("attempt started after epoch: ")]
    return runs


# ------------------------------------------------------------------------------------------
# What a cluster would receive


def flytekit_compiled(entity: Any) -> tuple[Any, dict[str, Any]]:
    """Compile a flytekit workflow, launch plan or task offline, as ``pyflyte register``
    would: its spec, and the templates of its tasks by short name.

    Each ImageSpec its tasks use is named up front, so flytekit neither builds the image
    nor asks Docker whether it exists.
    """
    from flytekit.configuration import Image, ImageConfig, SerializationSettings
    from flytekit.models.task import TaskSpec
    from flytekit.tools.translator import get_serializable

    specs = _image_specs(entity)
    images = [Image(name=spec.id, tag=spec.tag,
                    fqn=f"{spec.registry}/{spec.name}" if spec.registry else spec.name)
              for spec in specs]
    default = ImageConfig.auto_default_image().default_image
    settings = SerializationSettings(
        image_config=ImageConfig(default_image=default, images=images))
    entities: OrderedDict = OrderedDict()
    spec = get_serializable(entities, settings, entity)
    templates = {short(value.template.id.name): value.template
                 for value in entities.values() if isinstance(value, TaskSpec)}
    return spec, templates


def _image_specs(entity: Any, seen: set | None = None) -> list:
    """The ImageSpecs registration resolves for an entity: its own, its nodes', its
    workflow's, a map's target's; for a ``@dynamic`` task, also those of every task
    defined in the process (flytekit resolves them all when it serializes one, so that
    the graph built at run time can look any of them up)."""
    from flytekit import ImageSpec
    from flytekit.core.context_manager import FlyteEntities
    from flytekit.core.python_function_task import PythonFunctionTask

    seen = set() if seen is None else seen
    if id(entity) in seen:
        return []
    seen.add(id(entity))
    found = []
    image = getattr(entity, "container_image", None)
    if isinstance(image, ImageSpec):
        found.append(image)
    for inner in (getattr(entity, "python_function_task", None),  # a map task's task
                  getattr(entity, "target", None),  # a map over a launch plan: the plan
                  getattr(entity, "workflow", None)):  # a launch plan's workflow
        if inner is not None:
            found += _image_specs(inner, seen)
    for node in getattr(entity, "nodes", None) or []:
        found += _image_specs(node.flyte_entity, seen)
    if getattr(entity, "execution_mode", None) == \
            PythonFunctionTask.ExecutionBehavior.DYNAMIC:
        found += [other.container_image for other in FlyteEntities.entities
                  if isinstance(getattr(other, "container_image", None), ImageSpec)]
        for hint in entity.node_dependency_hints or []:
            found += _image_specs(hint, seen)
    return list({spec.id: spec for spec in found}.values())


def flyte_spec(task: Any) -> Any:
    """A flyte SDK task's TaskSpec, serialized offline as ``flyte deploy`` would."""
    import inspect
    import sys

    import flyte.extras
    from flyte.models import SerializationContext

    # The SDK names the task's module from its module's file (a task redefined by
    # ``lessons.redefine`` keeps the lesson's module; its source lives elsewhere).
    module = sys.modules.get(task.func.__module__)
    source = getattr(module, "__file__", None) or inspect.getsourcefile(task.func)
    root = Path(source).resolve().parent if source else Path.cwd()
    return flyte.extras.serialize(task, SerializationContext(version="docs", root_dir=root))


def flytekit_resources(entries: Any) -> dict[str, str]:
    """Compiled resource entries as ``{"cpu": "2", "memory": "1Gi"}``."""
    from flyteidl.core.tasks_pb2 import Resources

    return {Resources.ResourceName.Name(e.name).lower(): e.value for e in entries}


def flyte_resources(entries: Any) -> dict[str, str]:
    """Serialized flyte SDK resource entries as ``{"cpu": "2", "memory": "1Gi"}``."""
    from flyteidl2.core.tasks_pb2 import Resources

    return {Resources.ResourceName.Name(e.name).lower(): e.value for e in entries}


# ------------------------------------------------------------------------------------------
# What travels between tasks


def flytekit_literal(value: Any, python_type: Any) -> tuple[Any, int]:
    """``value`` as the literal flytekit passes to the next task, and its size in bytes."""
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine

    ctx = FlyteContextManager.current_context()
    literal_type = TypeEngine.to_literal_type(python_type)
    literal = TypeEngine.to_literal(ctx, value, python_type, literal_type)
    return literal, literal.to_flyte_idl().ByteSize()


def flyte_literal(value: Any, python_type: Any) -> tuple[Any, int]:
    """``value`` as the literal the flyte SDK passes to the next task, and its size."""
    from flyte.types import TypeEngine

    literal_type = TypeEngine.to_literal_type(python_type)
    literal = run_coroutine(TypeEngine.to_literal(value, python_type, literal_type))
    return literal, literal.ByteSize()
