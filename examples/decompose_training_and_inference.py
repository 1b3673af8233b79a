"""
Train once, predict cheaply: one workflow, two tasks
====================================================

Training and batch inference on scikit-learn's digits run as two tasks of one workflow, so each
asks a cluster for its own resources and training is cached on its own: changing only the
inference input does not retrain. Runs locally in a few seconds. The question behind it:
:ref:`guide-decomposition`.
"""

# %%
# .. _decomposition-tasks:
#
# Two tasks, two resource requests
# --------------------------------
# ``train`` fits a random forest on the first 1,200 digit images, building trees on two CPUs.
# ``predict`` classifies the 597 held-out images on one CPU and accepts a prediction only when
# the forest's probability for it reaches ``min_confidence``; the rest would go to a person.
#
# Training asks for 2 CPUs and 2 GiB, inference for 1 CPU and 512 MiB, each with its limit set
# to the same values. The digits set is small, so both tasks would fit in the smaller memory
# request; the numbers stand for a training set that does not. Had both steps been one task,
# inference would hold the training-sized request for its whole run.
#
# ``train`` is cached (``cache=Cache(version="1")``); ``predict`` is not, so it always runs.
# Each task validates the workflow input it is the first to use.
import logging
import os
import re
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

import click
import matplotlib.pyplot as plt
from flyteidl.core.tasks_pb2 import Resources as ResourcesIdl
from flytekit import Cache, ImageSpec, Resources, task, workflow
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.core.context_manager import FlyteContextManager
from flytekit.core.type_engine import TypeEngine
from flytekit.models.task import TaskSpec
from flytekit.tools.translator import get_serializable
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1", "matplotlib==3.11.2"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)

N_TRAIN = 1200  # the first 1,200 images train the model; the other 597 are held out


@dataclass
class BatchReport:
    images: int  # held-out images classified
    accepted: int  # predictions whose probability reached min_confidence
    correct: int  # accepted predictions that match the true label


@task(
    container_image=image,
    requests=Resources(cpu="2", mem="2Gi"),
    limits=Resources(cpu="2", mem="2Gi"),
    cache=Cache(version="1"),
)
def train(n_trees: int) -> RandomForestClassifier:
    if n_trees < 1:
        # A click exception: `pyflyte run` prints a short usage hint and one error line naming
        # the input, and exits with code 2 (any other exception prints a long traceback); on a
        # cluster the task fails with this message.
        raise click.BadParameter(f"must be at least 1, got {n_trees}", param_hint="'--n_trees'")
    digits = load_digits()
    forest = RandomForestClassifier(n_estimators=n_trees, n_jobs=2, random_state=0)  # 2 CPUs
    return forest.fit(digits.data[:N_TRAIN], digits.target[:N_TRAIN])


@task(
    container_image=image,
    requests=Resources(cpu="1", mem="512Mi"),
    limits=Resources(cpu="1", mem="512Mi"),
)
def predict(model: RandomForestClassifier, min_confidence: float) -> BatchReport:
    if not 0 <= min_confidence <= 1:
        raise click.BadParameter(
            f"must be between 0 and 1, got {min_confidence}", param_hint="'--min_confidence'"
        )
    digits = load_digits()
    images, labels = digits.data[N_TRAIN:], digits.target[N_TRAIN:]
    model.set_params(n_jobs=1)  # the one CPU this task asks for
    probabilities = model.predict_proba(images)
    accepted = probabilities.max(axis=1) >= min_confidence
    predicted = model.classes_[probabilities.argmax(axis=1)]
    correct = predicted[accepted] == labels[accepted]
    return BatchReport(images=len(images), accepted=int(accepted.sum()), correct=int(correct.sum()))


@workflow
def train_then_predict(n_trees: int = 100, min_confidence: float = 0.5) -> BatchReport:
    model = train(n_trees=n_trees)
    return predict(model=model, min_confidence=min_confidence)


# %%
# .. _decomposition-compiled:
#
# What a cluster would receive
# ----------------------------
# Registration serializes each task into a task template; the resources and the cache settings
# travel in it. This compiles the workflow offline, the way ``pyflyte register`` would, and
# reads them back.


def compiled_task_templates(entity) -> dict:
    """The task templates of ``entity`` as registration would send them, keyed by task name."""
    # Naming the ImageSpec's image up front stops flytekit from asking Docker whether it exists.
    named = Image(name=image.id, fqn=f"{image.registry}/{image.name}", tag=image.tag)
    settings = SerializationSettings(image_config=ImageConfig(default_image=named, images=[named]))
    entities = OrderedDict()
    get_serializable(entities, settings, entity)
    specs = [spec for spec in entities.values() if isinstance(spec, TaskSpec)]
    return {spec.template.id.name.rsplit(".", 1)[-1]: spec.template for spec in specs}


def quantities(entries) -> dict[str, str]:
    """Resource entries of a task template as {"cpu": "2", "memory": "2Gi"}."""
    return {ResourcesIdl.ResourceName.Name(e.name).lower(): e.value for e in entries}


def listed(entries) -> str:
    return ", ".join(f"{name}={value}" for name, value in quantities(entries).items())


if __name__ == "__main__":
    templates = compiled_task_templates(train_then_predict)
    for name, template in templates.items():
        print(f"{name}, compiled requests: {listed(template.container.resources.requests)}")
        print(f"{name}, compiled limits: {listed(template.container.resources.limits)}")
        metadata = template.metadata
        cache = f"on, version {metadata.discovery_version}" if metadata.discoverable else "off"
        print(f"{name}, compiled cache: {cache}")

# %%
# .. _decomposition-first-run:
#
# First run: both tasks execute
# -----------------------------
# On an empty cache, as when this page was built, both task bodies run. Run the script a second
# time and even run 1 reports ``train: cache hit``: the local cache lives in
# ``~/.flyte/local-cache`` and outlasts the process (``pyflyte local-cache clear`` empties it).
#
# Locally, flytekit logs (at INFO level, hidden by default) each cache check, each task body it
# is about to run, and how long the body took. ``watching_flytekit`` routes those messages to a
# small handler for the length of a ``with`` block, so the run reports what really happened
# instead of what we expect. The message texts are flytekit 1.16's. "This machine" in the
# timing lines is the one that ran the script: for this page, the site's build machine.


class TaskEvents(logging.Handler):
    """Keeps flytekit's per-task messages: cache hit/miss, "body ran", and the body's run time."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.events: list[tuple[str, str]] = []  # (task, "cache miss" | "cache hit" | "body ran")
        self.seconds: dict[str, float] = {}  # task -> its body's run time, as flytekit timed it
        self.task = ""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if named := re.match(r"(?:Checking cache for task named|Invoking) ([\w.]+)", message):
            self.task = named[1].rsplit(".", 1)[-1]
        if message.startswith("Invoking "):
            self.events.append((self.task, "body ran"))
        elif message.startswith(("Cache hit", "Cache miss")):
            self.events.append((self.task, message[:10].lower()))
        elif timed := re.match(r"Execute user level code\. \[Time: ([\d.]+)s\]", message):
            self.seconds[self.task] = float(timed[1])


@contextmanager
def watching_flytekit():
    """Send flytekit's log, INFO and up, only to a TaskEvents handler while the block runs."""
    log = logging.getLogger("flytekit")
    handlers, level = log.handlers[:], log.level
    events = TaskEvents()
    log.handlers = [events]  # nothing extra reaches the console
    log.setLevel(logging.INFO)
    try:
        yield events
    finally:
        log.handlers = handlers
        log.setLevel(level)


def show(run: str, report: BatchReport, events: TaskEvents, wall: float) -> None:
    for task_name, event in events.events:
        print(f"{run}, {task_name}: {event}")
    for task_name, seconds in events.seconds.items():
        print(f"{run}, {task_name} body, measured on this machine: {seconds:.3f} s")
    print(f"{run}, whole workflow, measured on this machine: {wall:.2f} s")
    print(f"{run}, accepted: {report.accepted} of {report.images} held-out images")
    print(f"{run}, accuracy of accepted: {report.correct / report.accepted:.1%}")


if __name__ == "__main__":
    with watching_flytekit() as first:
        start = time.perf_counter()
        first_report = train_then_predict(n_trees=100, min_confidence=0.3)
        first_wall = time.perf_counter() - start
    print("run 1, inputs: n_trees=100, min_confidence=0.3")
    show("run 1", first_report, first, first_wall)

# %%
# .. _decomposition-second-run:
#
# Second run: only the inference input changed
# --------------------------------------------
# A stricter threshold changes only ``predict``'s input. ``train``'s inputs are the same, so its
# cache key is the same: flytekit finds the model in its local cache and does not run the body.
# The counts below come from the messages flytekit logged during this run.

if __name__ == "__main__":
    with watching_flytekit() as second:
        start = time.perf_counter()
        second_report = train_then_predict(n_trees=100, min_confidence=0.5)
        second_wall = time.perf_counter() - start
    print("run 2, inputs: n_trees=100, min_confidence=0.5")
    show("run 2", second_report, second, second_wall)
    for task_name in templates:
        runs = second.events.count((task_name, "body ran"))
        print(f"run 2, times {task_name}'s body ran: {runs}")

# %%
# .. _decomposition-costs:
#
# What the split costs
# --------------------
# On a cluster each task is its own pod. Every extra task pays a pod start (scheduling, pulling
# the image onto the node if it is not there, starting Python and importing the libraries),
# and its inputs and outputs go through the blob store: ``train`` uploads the model, ``predict``
# downloads it. Flyte's `execution timeline
# <https://docs.flyte.org/en/latest/concepts/execution_timeline.html>`_ calls the wait for
# Kubernetes to start the pod queuing latency, and the gathering of a node's inputs from the
# outputs before it transition latency; Union's `scaling guide
# <https://www.union.ai/docs/v2/union/user-guide/run-scaling/scale-your-workflows/>`_ counts
# them per task (upload and download of inputs and outputs, enqueueing, creating the container)
# and advises a task run time of more than ten times that overhead. A local run starts no pods,
# so pod start-up cannot be measured here.
#
# What would travel is measurable. flytekit stores a scikit-learn model as a joblib file
# (``flytekit/extras/sklearn/native.py``). Passing the trained forest through flytekit's type
# engine the way ``train`` hands it to ``predict`` gives the size a cluster would upload and
# download, and how long writing and reading it takes here, on a local disk (a blob store adds
# the network on top).

if __name__ == "__main__":
    model = train(n_trees=100)  # a cache hit: the forest both runs handed to predict
    ctx = FlyteContextManager.current_context()
    model_type = TypeEngine.to_literal_type(RandomForestClassifier)
    start = time.perf_counter()
    literal = TypeEngine.to_literal(ctx, model, RandomForestClassifier, model_type)  # write
    TypeEngine.to_python_value(ctx, literal, RandomForestClassifier)  # read back
    round_trip = time.perf_counter() - start
    blob = literal.scalar.blob
    size = ctx.file_access.get_filesystem_for_path(blob.uri).size(blob.uri)
    print(f"train -> predict, stored as: {blob.metadata.type.format} blob (a joblib file)")
    print(f"train -> predict, measured size of the serialized model: {size / 2**20:.1f} MiB")
    print(f"train -> predict, write + read, measured on this machine: {round_trip:.2f} s")
    print("pod start-up per task: not measured (a local run starts no pods)")

# %%
# .. _decomposition-figure:
#
# Run time and requests, side by side
# -----------------------------------
# Left: how long each task body ran in each run, as flytekit timed it on the machine that built
# this page. Right: what each task asks a cluster for, read from the compiled templates.


def mebibytes(quantity: str) -> float:
    units = {"Gi": 1024, "Mi": 1, "Ki": 1 / 1024}
    return float(quantity[:-2]) * units[quantity[-2:]]


if __name__ == "__main__":
    names = list(templates)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2), layout="constrained")
    width = 0.38
    runs = (("run 1, min_confidence=0.3", first), ("run 2, min_confidence=0.5", second))
    for offset, (label, events) in zip((-width / 2, width / 2), runs):
        seconds = [events.seconds.get(name, 0.0) for name in names]
        ran = [name in events.seconds for name in names]
        texts = [f"{t:.2f} s" if r else "cache hit,\nnot run" for t, r in zip(seconds, ran)]
        bars = left.bar([i + offset for i in range(len(names))], seconds, width, label=label)
        left.bar_label(bars, texts, fontsize=9)
    left.set_xticks(range(len(names)), names)
    left.set_ylabel("task body run time (s)")
    left.set_title("Measured on the machine that ran it")
    left.legend()
    left.margins(y=0.25)

    requested = [quantities(templates[name].container.resources.requests) for name in names]
    bars = right.bar(names, [mebibytes(r["memory"]) for r in requested], color="tab:gray")
    right.bar_label(bars, [f"{r['memory']}, {r['cpu']} CPU" for r in requested], fontsize=9)
    right.set_ylabel("memory request (MiB)")
    right.set_title("Requested, from the compiled task templates")
    right.margins(y=0.15)
    fig.suptitle("Train and predict as separate tasks: a new threshold does not retrain")
    plt.show()
