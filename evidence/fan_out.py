"""Probe tasks for fan-outs: whether their children run at once, where each body runs,
how failures come back, and how several mapped lists pair up.

Overlap is shown by construction, never by a clock. A ``*_together`` child waits at a
barrier until all ``parties`` children of its fan-out have arrived, so a fan-out of them
can finish only if every child was running at once; the plain children wait for
nothing, and ``probes.in_flight()`` counts how many ran at once. Each child reports
where its body ran: the thread's name and whether an event loop runs in that thread.

The barriers wait at most ``GUARD_S``: a guard against a fan-out that runs its children
one after another, where the first would wait forever. A broken barrier raises; it never
decides a result that a page states.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import flyte
from flytekit import LaunchPlan, map_task, task, workflow

GUARD_S = 300.0

env = flyte.TaskEnvironment(name="fan_out_probes")


@dataclass
class Where:
    thread: str  # the name of the thread the body ran in
    event_loop: bool  # whether an event loop was running in that thread


@dataclass
class FanOut:
    parent: Where
    children: list[Where]


def where() -> Where:
    try:
        asyncio.get_running_loop()
        running = True
    except RuntimeError:
        running = False
    return Where(threading.current_thread().name, running)


# One barrier of each kind per fan-out, made by the parent before its children start (an
# asyncio barrier belongs to the event loop of the run that uses it).
_barriers: dict[str, object] = {}


def _new_barriers(parties: int) -> None:
    _barriers["async"] = asyncio.Barrier(parties)
    _barriers["thread"] = threading.Barrier(parties)


@env.task
async def async_child(i: int) -> Where:
    return where()


@env.task
def sync_child(i: int) -> Where:
    return where()


@env.task
async def async_child_together(i: int) -> Where:
    await asyncio.wait_for(_barriers["async"].wait(), GUARD_S)
    return where()


@env.task
def sync_child_together(i: int) -> Where:
    _barriers["thread"].wait(GUARD_S)
    return where()


CHILDREN = {"async": async_child, "sync": sync_child,
            "async_together": async_child_together,
            "sync_together": sync_child_together}


@env.task
async def gather(kind: str, n: int) -> FanOut:
    """``n`` children of ``kind`` fanned out with ``asyncio.gather``."""
    _new_barriers(n)
    child = CHILDREN[kind]
    children = await asyncio.gather(*(child.aio(i) for i in range(n)))
    return FanOut(where(), list(children))


@env.task
async def map_children(kind: str, n: int, concurrency: int) -> FanOut:
    """``n`` children of ``kind`` fanned out with ``flyte.map``."""
    _new_barriers(n)
    child = CHILDREN[kind]
    children = [c async for c in flyte.map.aio(child, range(n), concurrency=concurrency,
                                               return_exceptions=False)]
    return FanOut(where(), children)


# --------------------------------------------------------------------------------------
# Failures


@env.task
async def square_or_fail(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative input {x}")
    return x * x


@env.task
async def map_failures(xs: list[int], return_exceptions: bool) -> list[str]:
    """``flyte.map`` over ``square_or_fail``: each result, or ``Exception(code)`` for
    the exception in its place (the code names the error the task raised)."""
    results = flyte.map.aio(square_or_fail, xs, return_exceptions=return_exceptions)
    return [f"{type(r).__name__}({getattr(r, 'code', '')})" if isinstance(r, Exception)
            else str(r) async for r in results]


# --------------------------------------------------------------------------------------
# Several mapped lists


@env.task
async def add(x: int, y: int) -> int:
    return x + y


@env.task
async def map_pairs(xs: list[int], ys: list[int]) -> list[int]:
    """``flyte.map`` over two lists: it pairs them up as ``zip`` does."""
    return [r async for r in flyte.map.aio(add, xs, ys, return_exceptions=False)]


@task
def add_items(x: int, y: int) -> int:
    return x + y


@workflow
def map_task_pairs(xs: list[int], ys: list[int]) -> list[int]:
    """flytekit's ``map_task`` over two lists."""
    return map_task(add_items)(x=xs, y=ys)


@workflow
def add_pair(x: int, y: int) -> int:
    return add_items(x=x, y=y)


add_pair_plan = LaunchPlan.get_or_create(add_pair, name="fan_out_add_pair")


@workflow
def map_over_plan(xs: list[int], ys: list[int]) -> list[int]:
    """flytekit's ``map_task`` over a launch plan (flytekit 1.13.2 and later)."""
    return map_task(add_pair_plan)(x=xs, y=ys)
