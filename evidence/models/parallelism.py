"""Model: batch size, wall time and pod-minutes of a map task on a cluster.

A local run says nothing about a cluster, where every task pays a start-up: scheduling a
pod, pulling the image, starting Python, moving inputs and outputs. This MODEL, not a
measurement, scores ``items`` images in tasks of ``batch_size`` images each. Its inputs:

- ``items``: images to score (2,000,000: an assumed nightly job);
- ``seconds_per_item``: compute per image (0.02 s, a small convolutional network on one
  CPU: an assumption);
- ``start_up_s``: seconds each task spends not computing (30 s, an assumption for a cold
  node: Kubernetes' own target covers only the pod start without the image pull, at most
  5 s for 99 % of pods; pulling an ML image and starting Python add the rest);
- ``concurrency``: the map task's ``concurrency``, tasks running at once (100);
- ``launch_rate_per_s``: pods the cluster starts per second (50, the default
  kube-scheduler's request limit: an upper bound; a busy or autoscaling cluster is slower).

Assumptions: every task takes ``start_up_s + batch_size * seconds_per_item`` (a smaller last
batch takes as long as a full one); task ``k`` starts when a slot is free and the launch rate
allows, at ``k / launch_rate_per_s`` at the earliest; nothing fails or retries; start-up and
compute both hold a pod, so both count as pod-minutes.

The batch size to use: the fastest batch size, unless its tasks would compute for less than
``MIN_WORK_PER_START_UP`` (10) times their start-up; then the smallest batch that does, which
means fewer tasks than ``concurrency`` allows (and one task if the whole job computes for
less than that).
"""

from __future__ import annotations

import functools
import math

DEFAULTS = {
    "items": 2_000_000,
    "seconds_per_item": 0.02,
    "start_up_s": 30.0,
    "concurrency": 100,
    "launch_rate_per_s": 50.0,
}
MIN_WORK_PER_START_UP = 10  # a task should compute at least 10x its start-up


def tasks_for(items: int, batch_size: int) -> int:
    """Tasks the map task runs: one per batch."""
    return math.ceil(items / batch_size)


def wall_time_s(items: int, batch_size: int, seconds_per_item: float, start_up_s: float,
                concurrency: int, launch_rate_per_s: float) -> float:
    """Seconds from the first launch until the last task finishes.

    Task k (from 0) starts at ``q * max(task_s, concurrency / rate) + r / rate`` with
    ``q, r = divmod(k, concurrency)``: the earliest a slot and a launch are both free.
    """
    tasks = tasks_for(items, batch_size)
    task_s = start_up_s + batch_size * seconds_per_item
    gap = 1.0 / launch_rate_per_s
    rounds, rest = divmod(tasks - 1, concurrency)
    return rounds * max(task_s, concurrency * gap) + rest * gap + task_s


def pod_minutes(items: int, batch_size: int, seconds_per_item: float,
                start_up_s: float) -> float:
    """Pod time for the whole job: every task's start-up plus all the compute."""
    tasks = tasks_for(items, batch_size)
    return (tasks * start_up_s + items * seconds_per_item) / 60.0


def fastest_batch_size(items: int, seconds_per_item: float, start_up_s: float,
                       concurrency: int, launch_rate_per_s: float) -> int:
    """The batch size with the shortest wall time, the larger one on a tie.

    Only batch sizes that run in one round (at most ``concurrency`` tasks) are tried:
    more rounds repeat the start-up. Each task count gets its smallest batch.
    """
    # Up to a million task counts at the calculator's bounds; batch_size_to_use asks again.
    return _fastest_batch_size(items, seconds_per_item, start_up_s, concurrency,
                               launch_rate_per_s)


@functools.lru_cache(maxsize=1024)
def _fastest_batch_size(items: int, seconds_per_item: float, start_up_s: float,
                        concurrency: int, launch_rate_per_s: float) -> int:
    best_batch, best_wall = items, math.inf
    for tasks in range(1, min(items, concurrency) + 1):
        batch = math.ceil(items / tasks)
        wall = wall_time_s(items, batch, seconds_per_item, start_up_s, concurrency,
                           launch_rate_per_s)
        if wall < best_wall:
            best_batch, best_wall = batch, wall
    return best_batch


def batch_size_to_use(items: int, seconds_per_item: float, start_up_s: float,
                      concurrency: int, launch_rate_per_s: float) -> int:
    """The fastest batch, unless its tasks compute for under 10x their start-up."""
    floor = math.ceil(MIN_WORK_PER_START_UP * start_up_s / seconds_per_item)
    fastest = fastest_batch_size(items, seconds_per_item, start_up_s, concurrency,
                                 launch_rate_per_s)
    return min(items, max(fastest, floor))


def describe(batch_size: int, inputs: dict) -> str:
    """One batch size as the evidence page prints it and the calculator shows it."""
    wall_min = wall_time_s(batch_size=batch_size, **inputs) / 60
    cost = pod_minutes(inputs["items"], batch_size, inputs["seconds_per_item"],
                       inputs["start_up_s"])
    tasks = tasks_for(inputs["items"], batch_size)
    return (f"{batch_size:,} per task, {tasks:,} tasks, {wall_min:,.1f} min, "
            f"{cost:,.0f} pod-min")


def calculator_defaults() -> dict:
    """What the parallelism calculator starts from."""
    return {"inputs": dict(DEFAULTS)}
