r"""
Train once, predict cheaply: when two tasks beat one
====================================================

Training and batch inference on scikit-learn's digits run as two tasks of one workflow:
each asks a cluster for its own CPU and memory, and training is cached on its own, so a
new inference threshold does not retrain.

A small cost model then says when the split pays on a cluster, from this run's measured
times and hand-off size. Runs locally in a few seconds, most of them spent importing
libraries. The question behind it:
:ref:`guide-decomposition`. (Flyte 2 twin:
:ref:`sphx_glr_auto_examples_decompose_decompose_with_task_environments.py`.)

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 scikit-learn==1.9.1 matplotlib==3.11.2

   .. code-block:: sh
      :caption: Run it in the folder you saved it to (in a clone: cd examples/decompose)

      python decompose_training_and_inference.py
      pyflyte run decompose_training_and_inference.py train_then_predict \
          --n_trees 100 --min_confidence 0.5

   .. code-block:: sh
      :caption: Run it on a Flyte cluster (ImageSpec builds the image with your Docker)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where the image goes: the demo's
      pyflyte run --remote decompose_training_and_inference.py \
          train_then_predict --n_trees 100 --min_confidence 0.5
"""

# %%
# .. _decomposition-tasks:
#
# Two tasks, two resource profiles
# --------------------------------
# ``train`` fits a random forest on the first 1,200 digit images, building trees on two
# CPUs. ``predict`` classifies the 597 held-out images on one CPU and accepts a
# prediction only when the forest's probability for it reaches ``min_confidence``; the
# rest would go to a person. Each task carries its own ``requests`` and ``limits``:
# training 2 CPUs and 1 GiB, inference 1 CPU and 512 MiB. Both fit the platform limits
# of a stock Flyte deployment (2 CPUs and 1 GiB; the guide has the details).
#
# ``train`` is cached (``Cache(version="1")``); ``predict`` is not, so it always runs.
# Each task checks the workflow input it is the first to use and rejects a bad value
# with one line naming it (``click.BadParameter``).
#
# ``explain_failure`` runs only if the workflow fails. It is there for local runs:
# flytekit's local cache keeps the *path* of the stored model, in a temp dir that a
# reboot deletes, and the next cache hit would fail with a long traceback. The handler
# forgets such entries and says so in one line; on a cluster, which has no local cache,
# it does nothing.
import os
from dataclasses import dataclass
from typing import Optional

import click
from flytekit import Cache, ImageSpec, Resources, task, workflow
from flytekit.types.error import FlyteError
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1", "matplotlib==3.11.2"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)

N_TRAIN = 1200  # the first 1,200 images train the model; the other 597 are held out
MAX_TREES = 1000  # about 4 s of training here; a million trees would run for hours


@dataclass
class BatchReport:
    images: int  # held-out images classified
    accepted: int  # predictions whose probability reached min_confidence
    correct: int  # accepted predictions that match the true label


@task(
    container_image=image,
    requests=Resources(cpu="2", mem="1Gi"),
    limits=Resources(cpu="2", mem="1Gi"),
    cache=Cache(version="1"),
)
def train(n_trees: int) -> RandomForestClassifier:
    if not 1 <= n_trees <= MAX_TREES:
        raise click.BadParameter(
            f"must be between 1 and {MAX_TREES}, got {n_trees}",
            param_hint="'--n_trees'",
        )
    digits = load_digits()
    forest = RandomForestClassifier(n_estimators=n_trees, n_jobs=2, random_state=0)
    return forest.fit(digits.data[:N_TRAIN], digits.target[:N_TRAIN])


@task(
    container_image=image,
    requests=Resources(cpu="1", mem="512Mi"),
    limits=Resources(cpu="1", mem="512Mi"),
)
def predict(model: RandomForestClassifier, min_confidence: float) -> BatchReport:
    if not 0 <= min_confidence <= 1:
        raise click.BadParameter(
            f"must be between 0 and 1, got {min_confidence}",
            param_hint="'--min_confidence'",
        )
    digits = load_digits()
    images, labels = digits.data[N_TRAIN:], digits.target[N_TRAIN:]
    model.set_params(n_jobs=1)  # the one CPU this task asks for
    probabilities = model.predict_proba(images)
    accepted = probabilities.max(axis=1) >= min_confidence
    predicted = model.classes_[probabilities.argmax(axis=1)]
    correct = predicted[accepted] == labels[accepted]
    return BatchReport(len(images), int(accepted.sum()), int(correct.sum()))


@task(container_image=image, limits=Resources(cpu="100m", mem="256Mi"))
def explain_failure(
    n_trees: int, min_confidence: float, err: Optional[FlyteError] = None
) -> None:
    if forget_cached_results(train, stale_only=True):
        raise click.ClickException(
            "train's cached model was in a temp dir that no longer exists (a reboot?); "
            "forgot it: run the same command again"
        )


@workflow(on_failure=explain_failure)
def train_then_predict(n_trees: int = 100, min_confidence: float = 0.5) -> BatchReport:
    model = train(n_trees=n_trees)
    return predict(model=model, min_confidence=min_confidence)


# %%
# .. _decomposition-local-cache:
#
# Start cold, and recover after a reboot
# --------------------------------------
# flytekit keeps its local cache in ``~/.flyte/local-cache``, across runs: a diskcache
# store whose keys start with the task's name, and whose values are the task's outputs
# as Flyte literals. A model is stored as a file under flytekit's temp dir and the
# literal holds that file's path.
#
# ``forget_cached_results`` deletes one task's entries, or with ``stale_only`` only
# those whose files are gone. So that run 1 below is a real cache miss each time you run
# this script, the script forgets ``train``'s entries first (``pyflyte local-cache
# clear`` would empty the whole store).
import diskcache
from flyteidl.core.literals_pb2 import LiteralMap
from flytekit.core import local_cache


def missing_files(serialized_outputs: bytes) -> bool:
    """True if a cached output refers to a local file that no longer exists."""
    outputs = LiteralMap.FromString(serialized_outputs)
    uris = [v.scalar.blob.uri for v in outputs.literals.values() if v.scalar.blob.uri]
    return any("://" not in uri and not os.path.exists(uri) for uri in uris)


def forget_cached_results(task_, stale_only: bool = False) -> int:
    """Delete ``task_``'s entries from flytekit's local cache; return how many."""
    location = os.path.expanduser(local_cache.CACHE_LOCATION)
    if not os.path.isdir(location):  # no local cache (a cluster pod, a new machine)
        return 0
    forgotten = 0
    with diskcache.Cache(location) as store:
        for key in list(store.iterkeys()):
            if not (isinstance(key, str) and key.startswith(f"{task_.name}-")):
                continue
            if stale_only and not missing_files(store[key]):
                continue
            del store[key]
            forgotten += 1
    return forgotten


if __name__ == "__main__":
    forget_cached_results(train)

# %%
# .. _decomposition-first-run:
#
# First run: both tasks execute
# -----------------------------
# Locally, flytekit logs (at INFO level, hidden by default) each cache check, each task
# body it is about to run, and how long the body took. ``watching_flytekit`` routes
# those messages to a small handler while a ``with`` block runs, so the run reports what
# really happened. The message texts are flytekit 1.16's. "This machine" in the timing
# lines is the one that ran the script: for this page, the site's build machine.
import logging
import re
import time
from contextlib import contextmanager


class TaskEvents(logging.Handler):
    """Keeps flytekit's per-task messages: cache hit/miss, "body ran", body run time."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.events: list[tuple[str, str]] = []  # (task, "cache hit" | ...)
        self.seconds: dict[str, float] = {}  # task -> body run time, flytekit's timer
        self.task = ""

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        pattern = r"(?:Checking cache for task named|Invoking) ([\w.]+)"
        named = re.match(pattern, message)
        if named:
            self.task = named[1].rsplit(".", 1)[-1]
        if message.startswith("Invoking "):
            self.events.append((self.task, "body ran"))
        elif message.startswith(("Cache hit", "Cache miss")):
            self.events.append((self.task, message[:10].lower()))
        elif timed := re.match(r"Execute user level code\. \[Time: ([\d.]+)s", message):
            self.seconds[self.task] = float(timed[1])


@contextmanager
def watching_flytekit():
    """Send flytekit's log, INFO and up, only to a TaskEvents handler while it runs."""
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
# A stricter threshold changes only ``predict``'s input. ``train``'s inputs are the
# same, so its cache key is the same: flytekit finds the model in its local cache and
# does not run the body. The counts below come from the messages flytekit logged during
# this run.

if __name__ == "__main__":
    with watching_flytekit() as second:
        start = time.perf_counter()
        second_report = train_then_predict(n_trees=100, min_confidence=0.5)
        second_wall = time.perf_counter() - start
    print("run 2, inputs: n_trees=100, min_confidence=0.5")
    show("run 2", second_report, second, second_wall)
    for task_name in ("train", "predict"):
        runs = second.events.count((task_name, "body ran"))
        print(f"run 2, times {task_name}'s body ran: {runs}")

# %%
# .. _decomposition-compiled:
#
# What a cluster would receive
# ----------------------------
# Registration serializes each task into a task template; its resources and cache
# settings travel in it, and the workflow carries ``explain_failure`` as its failure
# node. ``compiled`` serializes an entity offline, the way ``pyflyte register`` would;
# naming the ImageSpec's image up front stops flytekit from asking Docker whether it
# exists.
#
# To give one call of a task more memory, override requests *and* limits, as
# ``predict_with_more_memory`` does: a cluster clamps an overridden request to the limit
# the task already has, so a request alone would stay at 512 MiB (see the guide).
from collections import OrderedDict

from flyteidl.core.tasks_pb2 import Resources as ResourcesIdl
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.models.task import TaskSpec
from flytekit.tools.translator import get_serializable


@workflow
def predict_with_more_memory(
    n_trees: int = 100, min_confidence: float = 0.5
) -> BatchReport:
    model = train(n_trees=n_trees)
    more = Resources(mem="1Gi")
    return predict(model=model, min_confidence=min_confidence).with_overrides(
        requests=more, limits=more
    )


def compiled(entity) -> tuple:
    """The entity's spec, and its task templates by short name, as registered."""
    named = Image(name=image.id, fqn=f"{image.registry}/{image.name}", tag=image.tag)
    settings = SerializationSettings(
        image_config=ImageConfig(default_image=named, images=[named])
    )
    entities = OrderedDict()
    spec = get_serializable(entities, settings, entity)
    tasks = [value for value in entities.values() if isinstance(value, TaskSpec)]
    return spec, {t.template.id.name.rsplit(".", 1)[-1]: t.template for t in tasks}


def listed(entries) -> str:
    """Resource entries as "cpu=2, memory=1Gi" ("none" when there are none)."""
    names = ResourcesIdl.ResourceName.Name
    pairs = [f"{names(e.name).lower()}={e.value}" for e in entries]
    return ", ".join(pairs) or "none"


if __name__ == "__main__":
    spec, templates = compiled(train_then_predict)
    for name in ("train", "predict"):
        resources = templates[name].container.resources
        metadata = templates[name].metadata
        version = metadata.discovery_version
        cache = f"on, version {version}" if metadata.discoverable else "off"
        print(f"{name}, compiled requests: {listed(resources.requests)}")
        print(f"{name}, compiled limits: {listed(resources.limits)}")
        print(f"{name}, compiled cache: {cache}")
    handler = spec.template.failure_node.task_node.reference_id.name.rsplit(".", 1)[-1]
    print(f"train_then_predict, failure node runs: {handler}")
    override_spec, _ = compiled(predict_with_more_memory)
    (node,) = [n for n in override_spec.template.nodes if n.id == "n1"]
    overridden = node.task_node.overrides.resources
    print(f"predict_with_more_memory, n1 requests: {listed(overridden.requests)}")
    print(f"predict_with_more_memory, n1 limits: {listed(overridden.limits)}")

# %%
# .. _decomposition-units:
#
# Bigger units: a subworkflow or a launch plan
# --------------------------------------------
# A workflow can call another workflow (a *subworkflow*: its nodes run inside the
# parent's execution and count against the parent's parallelism) or a launch plan (a
# *separate execution*, started by the parent and shown on its own). ``two_thresholds``
# does both with ``train_then_predict``. Locally both run in this process, one after the
# other, and ``train`` is a cache hit both times; the compiled nodes show the difference
# a cluster sees.
from flytekit import LaunchPlan

train_then_predict_lp = LaunchPlan.get_or_create(
    train_then_predict, name="train_then_predict_lp"
)


@workflow
def two_thresholds(n_trees: int = 100) -> tuple[BatchReport, BatchReport]:
    lenient = train_then_predict(n_trees=n_trees, min_confidence=0.3)  # a subworkflow
    strict = train_then_predict_lp(n_trees=n_trees, min_confidence=0.5)  # an execution
    return lenient, strict


def node_kind(node) -> str:
    if node.workflow_node is None:
        return "task"
    if node.workflow_node.launchplan_ref is not None:
        return "launch plan: a separate execution"
    return "subworkflow: inside this execution"


if __name__ == "__main__":
    parent, _ = compiled(two_thresholds)
    for node in parent.template.nodes:
        print(f"two_thresholds, node {node.id}: {node_kind(node)}")
    with watching_flytekit() as units:
        lenient, strict = two_thresholds(n_trees=100)
    trained = units.events.count(("train", "body ran"))
    print(f"two_thresholds, times train's body ran locally: {trained}")
    print(f"two_thresholds, accepted: {lenient.accepted} and {strict.accepted}")

# %%
# .. _decomposition-handoff:
#
# What travels between the tasks
# ------------------------------
# On a cluster ``train`` uploads its output to the blob store when it ends and
# ``predict`` downloads it when it starts. flytekit stores a scikit-learn model as a
# joblib file and passes a *reference* to it: the literal that travels through Flyte's
# own metadata holds only the file's URI. Passing the trained forest through flytekit's
# type engine, as ``train`` hands it to ``predict``, gives the size of that file and of
# the reference.
#
# Values without a file type travel *inline*, inside the literal: a ``list[float]`` of a
# million scores is a literal of several megabytes, and a Flyte backend refuses to read
# one over its ``maxDownloadMBs`` (2 MB unless the deployment raises it; the guide lists
# the defaults). The last lines measure how large such a list can be.
from flytekit.core.context_manager import FlyteContextManager
from flytekit.core.type_engine import TypeEngine


def literal_bytes(value, python_type) -> tuple:
    """``value`` as the literal flytekit passes on, and that literal's size in bytes."""
    ctx = FlyteContextManager.current_context()
    literal_type = TypeEngine.to_literal_type(python_type)
    literal = TypeEngine.to_literal(ctx, value, python_type, literal_type)
    return literal, literal.to_flyte_idl().ByteSize()


if __name__ == "__main__":
    model = train(n_trees=100)  # a cache hit: the forest both runs handed to predict
    ctx = FlyteContextManager.current_context()
    start = time.perf_counter()
    model_literal, reference_bytes = literal_bytes(model, RandomForestClassifier)
    TypeEngine.to_python_value(ctx, model_literal, RandomForestClassifier)  # read back
    round_trip = time.perf_counter() - start
    blob = model_literal.scalar.blob
    handoff_bytes = ctx.file_access.get_filesystem_for_path(blob.uri).size(blob.uri)
    mib = handoff_bytes / 2**20
    print(f"train -> predict, stored as: {blob.metadata.type.format} blob (joblib)")
    print(f"train -> predict, measured size of the model file: {mib:.1f} MiB")
    print(f"train -> predict, measured size of the reference: {reference_bytes} bytes")
    print(f"train -> predict, write + read, measured here: {round_trip:.2f} s")
    _, inline_bytes = literal_bytes([0.5] * 1000, list[float])
    per_item = inline_bytes / 1000
    print(f"inline list[float], measured bytes per item: {per_item:.1f}")
    print(f"inline list[float], items that fit in 2 MiB: {int(2 * 2**20 / per_item):,}")

# %%
# .. _decomposition-model:
#
# Model: when do two tasks beat one?
# ----------------------------------
# A local run starts no pods, so what the split costs on a cluster comes from a model.
# It compares two ways to run two steps: one task sized for the larger of the two, or
# two tasks, each sized for its own step, that hand a file over through the blob store.
# Its inputs, with units:
#
# - each step's run time (s), CPUs and memory (GiB): this run's measurements and
#   requests;
# - the size of what passes between them (bytes): the model file measured above;
# - per-task overhead: a pod start (s) and a blob-store transfer rate (MB/s);
# - prices per CPU-hour and per GiB-hour (USD).
#
# Assumptions. A pod pays for what it requests from its start to its end, start-up
# included, per second (no minimum charge). Each task pays one pod start; the first task
# uploads the hand-off at its end, the second downloads it at its start, one connection
# each. Flyte's own bookkeeping between nodes is left out. The defaults:
#
# - **pod start, 5 s**: Kubernetes' pod start-up SLO, "99th percentile per cluster-day
#   <= 5s", which excludes pulling the image (`pod startup latency SLO
#   <https://github.com/kubernetes/community/blob/
#   1b775253d3a0311c06da75f19334d25f5a35e174/sig-scalability/slos/
#   pod_startup_latency.md>`_). A cold node, an image pull or slow Python imports make
#   it longer, which only favours one task.
# - **85 MB/s**: Amazon S3's guidance, "one concurrent request for each 85–90 MB/s of
#   desired network throughput" (`S3 performance design patterns
#   <https://docs.aws.amazon.com/AmazonS3/latest/userguide/
#   optimizing-performance-design-patterns.html>`_).
# - **USD 0.000011244 per vCPU-second and 0.000001235 per GB-second**: AWS Fargate's
#   on-demand rates for Linux/x86 in US East (N. Virginia), the examples on its `pricing
#   page <https://aws.amazon.com/fargate/pricing/>`_, which bills "from the time you
#   start to download your container image until the [...] Pod terminates, rounded up to
#   the nearest second". The GB rate is converted to GiB; Fargate's one-minute minimum
#   is left out. Put your own cluster's prices in.
#
# A re-run that changes only the second step's input finds the first step in the cache
# when the steps are separate tasks: a cache hit starts no pod, so only the second task
# runs. In one task, the whole task runs again.
import math

GIB = 2**30


@dataclass(frozen=True)
class Step:
    seconds: float  # run time of the step's own code, s
    cpu: float  # CPUs it requests
    memory_gib: float  # memory it requests, GiB


@dataclass(frozen=True)
class Overhead:
    pod_start_s: float = 5.0  # per task: Kubernetes pod start-up SLO (p99)
    transfer_mb_per_s: float = 85.0  # blob store, one connection; MB = 10**6 bytes
    usd_per_cpu_hour: float = 0.000011244 * 3600  # AWS Fargate, Linux/x86, US East
    usd_per_gib_hour: float = 0.000001235 * 3600 * GIB / 1e9  # the same, GB to GiB


@dataclass(frozen=True)
class Choice:
    seconds: float  # wall time from the first pod's start to the last pod's end
    usd: float  # price of the requested resources over that time


def usd_per_second(cpu: float, memory_gib: float, overhead: Overhead) -> float:
    hourly = cpu * overhead.usd_per_cpu_hour + memory_gib * overhead.usd_per_gib_hour
    return hourly / 3600


def transfer_seconds(handoff_bytes: float, overhead: Overhead) -> float:
    return handoff_bytes / (overhead.transfer_mb_per_s * 1e6)


def keep_together(first: Step, second: Step, overhead: Overhead) -> Choice:
    """One task: one pod start, no hand-off, sized for the larger step throughout."""
    rate = usd_per_second(
        max(first.cpu, second.cpu), max(first.memory_gib, second.memory_gib), overhead
    )
    seconds = overhead.pod_start_s + first.seconds + second.seconds
    return Choice(seconds, seconds * rate)


def split(
    first: Step, second: Step, handoff_bytes: float, overhead: Overhead
) -> Choice:
    """Two tasks: two pod starts, an upload, a download; each pod sized for its step."""
    transfer = transfer_seconds(handoff_bytes, overhead)
    first_pod = overhead.pod_start_s + first.seconds + transfer  # uploads at its end
    second_pod = overhead.pod_start_s + transfer + second.seconds  # downloads first
    usd = first_pod * usd_per_second(first.cpu, first.memory_gib, overhead)
    usd += second_pod * usd_per_second(second.cpu, second.memory_gib, overhead)
    return Choice(first_pod + second_pod, usd)


def rerun_split(second: Step, handoff_bytes: float, overhead: Overhead) -> Choice:
    """A re-run with a new input for the second step only: the first is a cache hit."""
    seconds = overhead.pod_start_s + transfer_seconds(handoff_bytes, overhead)
    seconds += second.seconds
    rate = usd_per_second(second.cpu, second.memory_gib, overhead)
    return Choice(seconds, seconds * rate)


def break_even_second_seconds(
    first: Step, second: Step, handoff_bytes: float, overhead: Overhead
) -> Optional[float]:
    """How long the second step must run for two tasks to cost no more than one.

    None when the second step needs as much as the one-task pod (then no run time makes
    the split cheaper); 0.0 when the split is cheaper at any run time.
    """
    together = usd_per_second(
        max(first.cpu, second.cpu), max(first.memory_gib, second.memory_gib), overhead
    )
    alone = usd_per_second(second.cpu, second.memory_gib, overhead)
    if together <= alone:
        return None
    instant = Step(0.0, second.cpu, second.memory_gib)
    extra = split(first, instant, handoff_bytes, overhead).usd
    extra -= keep_together(first, instant, overhead).usd
    return max(0.0, extra / (together - alone))  # cost lines cross here


def reruns_to_repay(
    first: Step, second: Step, handoff_bytes: float, overhead: Overhead
) -> Optional[int]:
    """Second-step-only re-runs after which the split has also saved wall time overall.

    None when a re-run of the split is not faster than a re-run of the single task.
    """
    lost = split(first, second, handoff_bytes, overhead).seconds
    lost -= keep_together(first, second, overhead).seconds
    saved = keep_together(first, second, overhead).seconds
    saved -= rerun_split(second, handoff_bytes, overhead).seconds
    return math.ceil(lost / saved) if saved > 0 else None


# %%
# .. _decomposition-verdict:
#
# The model, fed with this run
# ----------------------------
# The steps' run times are the task bodies' times from run 1, measured on this machine;
# CPU and memory are the compiled requests; the hand-off is the model file measured
# above. "Cost" is USD per 1,000 runs, so the small numbers stay readable.


def quantity(entries, name: str) -> float:
    """A resource quantity from compiled entries, in CPUs or GiB."""
    names = ResourcesIdl.ResourceName.Name
    (value,) = [e.value for e in entries if names(e.name).lower() == name]
    units = {"Gi": 1, "Mi": 1 / 1024, "m": 1 / 1000}
    suffix = next((s for s in units if value.endswith(s)), "")
    return float(value.removesuffix(suffix) or 0) * units.get(suffix, 1)


def measured_step(name: str) -> Step:
    requests = templates[name].container.resources.requests
    cpu, memory = quantity(requests, "cpu"), quantity(requests, "memory")
    return Step(first.seconds[name], cpu, memory)


if __name__ == "__main__":
    overhead = Overhead()
    train_step, predict_step = measured_step("train"), measured_step("predict")
    together = keep_together(train_step, predict_step, overhead)
    two = split(train_step, predict_step, handoff_bytes, overhead)
    for label, choice in (("one task", together), ("two tasks", two)):
        print(f"{label}, model on measured inputs: {choice.seconds:.2f} s, "
              f"USD {1000 * choice.usd:.3f} / 1,000 runs")
    cheaper = "split" if two.usd < together.usd else "keep together"
    print(f"one run, cheaper choice (model): {cheaper}")
    even = break_even_second_seconds(train_step, predict_step, handoff_bytes, overhead)
    print(f"break-even, model: two tasks cost less once predict runs {even:.1f} s")
    print(f"break-even, measured predict run time: {predict_step.seconds:.3f} s")
    rerun = rerun_split(predict_step, handoff_bytes, overhead)
    for label, choice in (("one task", together), ("two tasks", rerun)):
        print(f"re-run, new threshold, {label}, model on measured inputs: "
              f"{choice.seconds:.2f} s")
    repay = reruns_to_repay(train_step, predict_step, handoff_bytes, overhead)
    print(f"re-runs of predict alone to repay the extra pod start, measured: {repay}")

# %%
# .. _decomposition-figure:
#
# When the split pays
# -------------------
# First what ran, measured on the machine that built this page: run 2 found ``train`` in
# the cache.
import matplotlib.pyplot as plt

if __name__ == "__main__":
    fig, ax = plt.subplots(figsize=(7.4, 3.2), layout="constrained")
    runs = (("run 1, min_confidence=0.3", first), ("run 2, min_confidence=0.5", second))
    names, width = ["train", "predict"], 0.38
    for offset, (label, events) in zip((-width / 2, width / 2), runs):
        seconds = [events.seconds.get(name, 0.0) for name in names]
        texts = [f"{events.seconds[n]:.2f} s" if n in events.seconds else "cache hit"
                 for n in names]
        bars = ax.bar([i + offset for i in range(2)], seconds, width, label=label)
        ax.bar_label(bars, texts, fontsize=10)
    ax.set_xticks(range(2), names)
    ax.set_ylabel("task body run time (s)")
    ax.set_title("Measured: run 2 did not retrain")
    ax.legend(fontsize=10)
    ax.margins(y=0.25)
    plt.show()

# %%
# Then the model: the extra cost of two tasks over one as ``predict``'s run time grows,
# the other inputs held at this run's values. Left of the crossing one task is cheaper;
# right of it, two.

if __name__ == "__main__":
    fig, ax = plt.subplots(figsize=(7.4, 4.2), layout="constrained")
    grid = [10 ** (k / 20) for k in range(-40, 61)]  # 0.01 s to 1,000 s
    extra = []  # what two tasks cost more than one, in percent
    for seconds in grid:
        step = Step(seconds, predict_step.cpu, predict_step.memory_gib)
        one = keep_together(train_step, step, overhead).usd
        two = split(train_step, step, handoff_bytes, overhead).usd
        extra.append(100 * (two - one) / one)
    ax.plot(grid, extra, linewidth=2.5, color="tab:blue", label="two tasks vs one")
    ax.axhline(0, color="black", linewidth=1)
    measured = predict_step.seconds
    ax.axvline(measured, color="tab:gray", linestyle=":", label="predict, measured")
    ax.axvline(even, color="tab:red", linestyle="--", label=f"break-even, {even:.1f} s")
    ax.text(0.012, 5, "one task is cheaper", fontsize=11, va="bottom")
    ax.text(0.012, -5, "two tasks are cheaper", fontsize=11, va="top")
    ax.set_xscale("log")
    ax.set_xlabel("run time of predict (s); other inputs as measured")
    ax.set_ylabel("extra cost of two tasks (%)")
    ax.set_title("Model: the split pays once predict runs past the break-even")
    ax.legend(fontsize=10, loc="upper right")
    plt.show()

# sphinx_gallery_thumbnail_number = 2
