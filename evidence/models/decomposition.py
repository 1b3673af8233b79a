"""Model: when do two tasks beat one?

A local run starts no pods, so what the split costs on a cluster comes from a model.
It compares two ways to run two steps: one task sized for the larger of the two, or
two tasks, each sized for its own step, that hand a file over through the blob store.
Its inputs, with units:

- each step's run time (s), CPUs and memory (GiB) it requests;
- the size of what passes between them (bytes), a file such as a model;
- per-task overhead: a pod start (s) and a blob-store transfer rate (MB/s);
- prices per CPU-hour and per GiB-hour (USD).

Assumptions. A pod pays for what it requests from its start to its end, start-up
included, per second (no minimum charge). Each task pays one pod start; the first task
uploads the hand-off at its end, the second downloads it at its start, one connection
each. Flyte's own bookkeeping between nodes is left out. The defaults:

- **pod start, 5 s**: Kubernetes' pod start-up SLO, "99th percentile per cluster-day
  <= 5s", which excludes pulling the image (`pod startup latency SLO
  <https://github.com/kubernetes/community/blob/
  1b775253d3a0311c06da75f19334d25f5a35e174/sig-scalability/slos/
  pod_startup_latency.md>`_). A cold node, an image pull or slow Python imports make
  it longer, which only favours one task.
- **85 MB/s**: Amazon S3's guidance, "one concurrent request for each 85–90 MB/s of
  desired network throughput" (`S3 performance design patterns
  <https://docs.aws.amazon.com/AmazonS3/latest/userguide/
  optimizing-performance-design-patterns.html>`_).
- **USD 0.000011244 per vCPU-second and 0.000001235 per GB-second**: AWS Fargate's
  on-demand rates for Linux/x86 in US East (N. Virginia), the examples on its `pricing
  page <https://aws.amazon.com/fargate/pricing/>`_, which bills "from the time you
  start to download your container image until the [...] Pod terminates, rounded up to
  the nearest second". The GB rate is converted to GiB; Fargate's one-minute minimum
  is left out. Put your own cluster's prices in.

A re-run that changes only the second step's input finds the first step in the cache
when the steps are separate tasks: a cache hit starts no pod, so only the second task
runs. In one task, the whole task runs again.

The two steps and the hand-off (``FIRST``, ``SECOND``, ``HANDOFF_BYTES`` below) are the
lesson's pipeline at cluster scale, a random forest trained on a million rows and then
used to score a batch. They are a scenario, each number with its source; put yours in:

- **Training, 900 s on 32 CPUs and 20 GiB**: szilard/benchm-ml's scikit-learn random
  forest, 500 trees on 1M rows of the airline data: 900 s on a 32-core EC2 c3.8xlarge,
  20 GB of RAM at most (README, "Random Forest",
  https://github.com/szilard/benchm-ml/blob/00577d0d1461e0003a6193c533b4a18750cd941d/README.md).
  20 GiB covers the 20 GB peak (18.6 GiB).
- **Hand-off, 7.7 GB**: that forest's joblib file. A fully grown scikit-learn tree keeps
  about one node per five training rows on noisy data, and the file takes 80 bytes per
  node: one tree fit on 1M rows of ``make_classification(n_features=20, n_informative=8,
  flip_y=0.2, random_state=0)`` with scikit-learn 1.9.1 writes 15.4 MB (measured on this
  project's machine, 2026-12-07; ``tests/test_decomposition_model.py`` re-measures the
  bytes per row and tree at 100,000 rows); 500 trees: 7.7 GB. The airline data's trees
  would differ; the order of magnitude is the point: a forest is as large as its data.
- **Scoring, 30 s on 1 CPU and 16 GiB**: predicting 100,000 rows with that forest,
  53 ms of CPU per tree (measured as above, ``time.process_time``): 27 s for 500 trees,
  rounded up. 16 GiB holds the 7.2 GiB forest and the batch. benchm-ml observed its
  scoring times but did not report them ("not the bottleneck").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional

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


def break_even_seconds(
    first: Step, second: Step, handoff_bytes: float, overhead: Overhead
) -> dict[str, Optional[float]]:
    """For each step (``"first"``, ``"second"``), how long it must run, the other step as
    given, for two tasks to cost no more than one.

    Splitting saves money only while a step runs on a pod smaller than the one-task pod,
    so the answer is per step: None for a step that needs as much as the one-task pod (its
    run time cannot make the split cheaper), 0.0 when the split is cheaper at any run time
    of that step. Either step may be the large one: the order of the steps is the data's,
    not their size's.
    """
    together = usd_per_second(
        max(first.cpu, second.cpu), max(first.memory_gib, second.memory_gib), overhead
    )
    result: dict[str, Optional[float]] = {}
    for name in ("first", "second"):
        step = first if name == "first" else second
        alone = usd_per_second(step.cpu, step.memory_gib, overhead)
        if together <= alone:
            result[name] = None
            continue
        instant = Step(0.0, step.cpu, step.memory_gib)  # the step with no run time
        pair = (instant, second) if name == "first" else (first, instant)
        extra = split(*pair, handoff_bytes, overhead).usd
        extra -= keep_together(*pair, overhead).usd
        result[name] = max(0.0, extra / (together - alone))  # cost lines cross here
    return result


def break_even_second_seconds(
    first: Step, second: Step, handoff_bytes: float, overhead: Overhead
) -> Optional[float]:
    """How long the second step must run for two tasks to cost no more than one (see
    ``break_even_seconds``)."""
    return break_even_seconds(first, second, handoff_bytes, overhead)["second"]


def reruns_to_repay(
    first: Step, second: Step, handoff_bytes: float, overhead: Overhead
) -> Optional[int]:
    """Second-step-only re-runs after which the split has also saved wall time overall:
    0 when two tasks are not slower per run.

    None when a re-run of the split is not faster than a re-run of the single task.
    """
    lost = split(first, second, handoff_bytes, overhead).seconds
    lost -= keep_together(first, second, overhead).seconds
    saved = keep_together(first, second, overhead).seconds
    saved -= rerun_split(second, handoff_bytes, overhead).seconds
    return max(0, math.ceil(lost / saved)) if saved > 0 else None


# The model's inputs: what the evidence page prints and draws, the calculator's defaults.
# The lesson's pipeline at cluster scale; the module docstring gives each number's source.
FIRST = Step(seconds=900.0, cpu=32, memory_gib=20.0)  # training: benchm-ml's forest
SECOND = Step(seconds=30.0, cpu=1, memory_gib=16.0)  # scoring 100,000 rows with it
HANDOFF_BYTES = 7_700_000_000  # the forest's joblib file: 500 trees of 15.4 MB
OVERHEAD = Overhead()


def calculator_defaults() -> dict:
    """What the decomposition calculator starts from."""
    return {"first": asdict(FIRST), "second": asdict(SECOND),
            "handoff_bytes": HANDOFF_BYTES, "overhead": asdict(OVERHEAD)}
