r"""
One TaskEnvironment per resource profile
========================================

The Flyte 2 twin of :ref:`sphx_glr_auto_examples_decompose_decompose_training_and_inference.py`:
training and batch inference on scikit-learn's digits as tasks of two
``TaskEnvironment`` objects, each with its own CPU and memory, called from a small
driver task.

It shows what runs where in a local run, what a cluster would receive, what a reusable
environment serializes to, and how large the model is that passes between the tasks.
Runs locally in a few seconds, most of them spent importing libraries. The
question behind it: :ref:`guide-decomposition`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flyte==2.12.1 scikit-learn==1.9.1 matplotlib==3.11.2

   .. code-block:: sh
      :caption: Run it in the folder you saved it to (in a clone: cd examples/decompose)

      python decompose_with_task_environments.py
      flyte run --local decompose_with_task_environments.py \
          train_then_predict --n_trees 100 --min_confidence 0.5

   .. code-block:: sh
      :caption: Run it on a Flyte 2 cluster (after ``flyte create config``)

      flyte run decompose_with_task_environments.py \
          train_then_predict --n_trees 100 --min_confidence 0.5
"""

# %%
# .. _decomposition2-environments:
#
# Two environments, one driver
# ----------------------------
# In Flyte 2 a task belongs to a ``TaskEnvironment``, and the environment carries the
# image, the resources and the cache policy for all its tasks. One environment per
# resource profile: ``training`` asks for 2 CPUs and 1 GiB, ``inference`` for 1 CPU and
# 512 MiB. There is no workflow DSL: ``train_then_predict`` is a task too, in a small
# ``driver`` environment, and calls the other two as plain Python functions.
#
# ``training`` caches with ``cache="auto"``: the cache version is a hash of the task
# function's source, so an edited ``train`` misses and an unchanged one hits.
# ``n_trees`` is capped at 200: Flyte 2 passes this model *inline*, and the last section
# shows why a larger forest would not fit.
from dataclasses import dataclass

import flyte
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

image = flyte.Image.from_debian_base().with_pip_packages("scikit-learn==1.9.1")

training = flyte.TaskEnvironment(
    name="digits_training",
    image=image,
    resources=flyte.Resources(cpu=2, memory="1Gi"),
    cache="auto",
)
inference = flyte.TaskEnvironment(
    name="digits_inference",
    image=image,
    resources=flyte.Resources(cpu=1, memory="512Mi"),
)
driver = flyte.TaskEnvironment(
    name="digits_driver",
    image=image,
    resources=flyte.Resources(cpu="250m", memory="256Mi"),
    depends_on=[training, inference],
)

N_TRAIN = 1200  # the first 1,200 images train the model; the other 597 are held out
MAX_TREES = 200  # the pickled forest grows about 41 KB per tree; see the last section


@dataclass
class BatchReport:
    images: int  # held-out images classified
    accepted: int  # predictions whose probability reached min_confidence
    correct: int  # accepted predictions that match the true label


@training.task
def train(n_trees: int) -> RandomForestClassifier:
    if not 1 <= n_trees <= MAX_TREES:
        raise ValueError(f"n_trees must be between 1 and {MAX_TREES}, got {n_trees}")
    digits = load_digits()
    forest = RandomForestClassifier(n_estimators=n_trees, n_jobs=2, random_state=0)
    return forest.fit(digits.data[:N_TRAIN], digits.target[:N_TRAIN])


@inference.task
def predict(model: RandomForestClassifier, min_confidence: float) -> BatchReport:
    if not 0 <= min_confidence <= 1:
        message = f"min_confidence must be between 0 and 1, got {min_confidence}"
        raise ValueError(message)
    digits = load_digits()
    images, labels = digits.data[N_TRAIN:], digits.target[N_TRAIN:]
    model.set_params(n_jobs=1)  # the one CPU this task asks for
    probabilities = model.predict_proba(images)
    accepted = probabilities.max(axis=1) >= min_confidence
    predicted = model.classes_[probabilities.argmax(axis=1)]
    correct = predicted[accepted] == labels[accepted]
    return BatchReport(len(images), int(accepted.sum()), int(correct.sum()))


@driver.task
def train_then_predict(n_trees: int = 100, min_confidence: float = 0.5) -> BatchReport:
    model = train(n_trees)
    return predict(model, min_confidence)


# %%
# .. _decomposition2-local-runs:
#
# Two local runs: what ran where
# ------------------------------
# ``flyte.run`` runs the driver locally; no cluster, no network. The SDK logs (below the
# level it prints) each action it creates, each task body it starts and in which thread,
# each cache hit, and how long each body took. ``watching_flyte`` collects those
# messages while a ``with`` block runs; the message texts are flyte 2.12.1's. Every log
# record also names the process that wrote it.
#
# On an empty cache, as when this page was built, run 1 trains and run 2 finds ``train``
# cached. Run the script again and run 1 finds it cached too: the cache lives in
# ``~/.flyte/local-cache/cache.db`` and keeps this forest inline (see the last section),
# so it also survives a cleaned temp dir. ``flyte delete local-cache`` empties it.
import logging
import os
import re
import time
from contextlib import contextmanager


STARTED = r"Starting executor thread '(.+)' for function '(\w+)'"


class ActionEvents(logging.Handler):
    """Keeps the SDK's per-action messages: action created, body started, cache hit."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.events: list[tuple[str, str]] = []  # (task, "action" | "body ran" | ...)
        self.threads: set[str] = set()  # threads that ran a task body
        self.spans: dict[str, tuple[float, float]] = {}  # function -> (start, end)
        self.processes: set[int] = set()
        self._running: list[tuple[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.processes.add(record.process)
        started = re.match(STARTED, message)
        hit = re.match(r"Cache hit for task '[\w.]*?(\w+)'", message)
        if message.startswith("----- Generating sub-action ID"):
            task = message.rsplit("-", 2)[-2].rsplit(".", 1)[-1]
            self.events.append((task, "action created"))
        elif started:
            self.threads.add(started[1])
            self.events.append((started[2], "body ran"))
            self._running.append((started[2], record.created))
        elif hit:
            self.events.append((hit[1], "cache hit"))
        elif message.startswith("Stopwatch: run_task completed") and self._running:
            function, start = self._running.pop()
            self.spans[function] = (start, record.created)


@contextmanager
def watching_flyte():
    """Send the flyte logger's messages, DEBUG and up, only to ActionEvents."""
    log = logging.getLogger("flyte")
    handlers, level, propagate = log.handlers[:], log.level, log.propagate
    events = ActionEvents()
    log.handlers, log.propagate = [events], False  # nothing reaches the console
    log.setLevel(logging.DEBUG)
    try:
        yield events
    finally:
        log.handlers, log.propagate = handlers, propagate
        log.setLevel(level)


def show(run: str, report: BatchReport, events: ActionEvents, wall: float) -> None:
    for task_name, event in events.events:
        print(f"{run}, {task_name}: {event}")
    for function, (start, end) in events.spans.items():
        print(f"{run}, {function} body, measured on this machine: {end - start:.3f} s")
    print(f"{run}, whole run, measured on this machine: {wall:.2f} s")
    same = events.processes == {os.getpid()}
    print(f"{run}, every action ran in this script's process: {same}")
    print(f"{run}, threads that ran task bodies: {len(events.threads)}")
    print(f"{run}, accepted: {report.accepted} of {report.images} held-out images")


if __name__ == "__main__":
    flyte.init()
    runs = {}
    for run, threshold in (("run 1", 0.3), ("run 2", 0.5)):
        with watching_flyte() as events:
            start, clock = time.perf_counter(), time.time()  # log records use time.time
            done = flyte.run(train_then_predict, n_trees=100, min_confidence=threshold)
            report = done.outputs()[0]
            wall = time.perf_counter() - start
        runs[run] = (events, clock, wall)
        print(f"{run}, inputs: n_trees=100, min_confidence={threshold}")
        show(run, report, events, wall)

# %%
# .. _decomposition2-serialized:
#
# What a cluster would receive
# ----------------------------
# ``flyte.extras.serialize`` builds a task's wire spec offline, with the function the
# deploy path uses, without a client or a code bundle. Each spec carries its
# environment's resources; the cache is on for ``train`` only, its version the hash of
# the function.
#
# ``predict_warm`` is ``predict`` with a reuse policy: keep two warm replicas for five
# minutes after the last call. It serializes to a task of type ``actor`` with a
# ``reuse_policy``; the guide says which backend runs such tasks in warm containers.
# Locally it runs like any other task.
from flyte.extras import serialize
from flyteidl2.core.tasks_pb2 import Resources as ResourcesIdl

predict_warm = predict.override(reusable=flyte.ReusePolicy(replicas=2, idle_ttl=300))


def listed(entries) -> str:
    names = ResourcesIdl.ResourceName.Name
    return ", ".join(f"{names(e.name).lower()}={e.value}" for e in entries) or "none"


if __name__ == "__main__":
    for task_ in (train, predict, train_then_predict, predict_warm):
        template = serialize(task_).task_template
        label = "predict_warm" if task_ is predict_warm else task_.name
        resources = template.container.resources
        print(f"{label}, serialized type: {template.type}")
        print(f"{label}, requests: {listed(resources.requests)}")
        print(f"{label}, limits: {listed(resources.limits)}")
        print(f"{label}, cache: {'on' if template.metadata.discoverable else 'off'}")
    policy = serialize(predict_warm).task_template.reuse_policy
    print(f"predict_warm, reuse policy: {policy.min_replicas} to {policy.max_replicas} "
          f"replicas, idle TTL {policy.idle_ttl.seconds} s")
    with watching_flyte() as warm:
        model = flyte.run(train, n_trees=100).outputs()[0]  # a cache hit
        warm_report = flyte.run(predict_warm, model=model, min_confidence=0.5)
    print(f"predict_warm, local run, accepted: {warm_report.outputs()[0].accepted}")

# %%
# .. _decomposition2-handoff:
#
# What travels between the tasks
# ------------------------------
# Flyte 2 has no scikit-learn type, so it pickles the forest (and logs a warning saying
# so). Its pickle transformer writes a file only when ``sys.getsizeof`` of the object is
# over 10 KB, and ``sys.getsizeof`` of an estimator counts only the outer object: the
# whole forest travels *inline*, inside the task's outputs and the next task's inputs.
# On a cluster a task call refuses inputs or outputs over its ``max_inline_io_bytes``
# (10 MiB unless the task sets it); a local run does not check. Hence the 200-tree cap.
import asyncio
import sys

from flyte.types import TypeEngine

if __name__ == "__main__":
    literal_type = TypeEngine.to_literal_type(RandomForestClassifier)
    converting = TypeEngine.to_literal(model, RandomForestClassifier, literal_type)
    literal = asyncio.run(converting)
    inline = literal.ByteSize()
    limit = predict.max_inline_io_bytes
    per_tree = inline / 100
    print(f"train -> predict, sys.getsizeof(forest): {sys.getsizeof(model)} bytes")
    print(f"train -> predict, passed as: {literal.scalar.WhichOneof('value')} (inline)")
    print(f"train -> predict, measured inline size: {inline / 2**20:.1f} MiB")
    print(f"predict, max_inline_io_bytes: {limit / 2**20:.0f} MiB")
    print(f"trees that fit inline, measured: about {int(limit / per_tree)}")

# %%
# .. _decomposition2-figure:
#
# The two runs, side by side
# --------------------------
# Each bar is one task body, placed where it ran in time, measured on the machine that
# built this page. In run 2 ``train`` was a cache hit and did not run.
import matplotlib.pyplot as plt

if __name__ == "__main__":
    fig, ax = plt.subplots(figsize=(7.4, 3.8), layout="constrained")
    functions = ["train_then_predict", "train", "predict"]
    colors = {"run 1": "tab:blue", "run 2": "tab:orange"}
    for row, function in enumerate(functions):
        for run, (events, run_start, _) in runs.items():
            offset = 0.18 if run == "run 2" else -0.18
            if function not in events.spans:
                ax.text(0.02, row + offset, f"{run}: cache hit, did not run",
                        va="center", fontsize=10)
                continue
            start, end = events.spans[function]
            ax.barh(row + offset, end - start, left=start - run_start, height=0.34,
                    color=colors[run], label=run)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    fig.legend(unique.values(), unique.keys(), fontsize=10, ncols=2,
               loc="outside lower center")
    ax.set_xlim(left=0)
    ax.set_yticks(range(len(functions)), functions)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since flyte.run was called (measured)")
    ax.set_title("Local runs: every task body in one process, one after another")
    plt.show()

# sphinx_gallery_thumbnail_number = 1
