"""Model: expected cost and time of a pipeline on spot nodes.

A MODEL, not a measurement, for the spot lesson's workflow as written
(``examples/interruptible/spot_preemption_with_caching.py``): ``featurize``, ``train``
and ``evaluate`` may run on spot, ``publish`` runs on demand; the coarse alternative is
``all_stages`` (``evidence.shapes``), one task on spot as a whole. The functions below are
the model; the Flyte 1 evidence page prints and draws it, and the interruptible guide's
calculator computes the same, starting from these inputs (``calculator_defaults()``).

Assumptions:

- Preemptions are *memoryless*: a spot node is reclaimed at a constant rate per hour
  it runs, whatever its age (a Poisson process). An attempt that is hit loses all its
  work.
- A task (a *unit*) gets ``spot_attempts`` attempts on spot, then one on demand that
  always finishes. With flytepropeller's defaults (``max-node-retries-system-failures:
  3``, ``interruptible-failure-threshold: -1``) a node that keeps being preempted
  makes 3 attempts on spot and its 4th on demand (see the guide). That fall-back is Flyte
  1's: open-source Flyte 2 (v2.0.43) has none, and retries a preempted task on spot
  without limit, which the model does not describe.
- Flyte retries each node on its own, so a fine-grained pipeline's unit is one stage,
  cache or no cache; the coarse task's unit is the whole pipeline.
- Every attempt pays ``overhead_minutes`` (pod start, moving inputs and outputs) at
  the price of its node, and can be preempted during it. Waiting for capacity is not
  counted.
- Cost is in on-demand node-hours: an hour on demand costs 1, on spot
  ``spot_price_ratio``.

Inputs, and where they come from:

- Stage run times: featurize 15, train 90, evaluate 15, publish 5 minutes. Assumed: a
  cluster-scale version of the lesson's pipeline, with training the long stage.
- Spot price: 0.30 of on demand. Assumed, inside the providers' ranges: AWS says Spot
  is "up to 90%" cheaper than On-Demand (https://aws.amazon.com/ec2/spot/).
- Preemption rate: AWS's Spot Instance Advisor publishes, per instance type and
  region, a "Frequency of interruption", which "represents the rate at which Spot has
  reclaimed capacity during the trailing month", in ranges of "< 5%, 5-10%, 10-15%,
  15-20% and >20%" (https://aws.amazon.com/ec2/spot/instance-advisor/). The model
  reads a band's edge as the chance that a node running for a whole 30-day month is
  reclaimed in it. The presets are the upper edges; the default is 20%, the highest
  rate a band bounds.
- Overhead: 1 minute per task attempt. Assumed; use your cluster's figure.
- Spot attempts: 3, flytepropeller's default for system errors.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

HOURS_PER_MONTH = 30 * 24
AWS_ADVISOR_BANDS = {"<5%": 0.05, "5-10%": 0.10, "10-15%": 0.15, "15-20%": 0.20}
MAX_RATE, MAX_SPOT_ATTEMPTS = 1000.0, 20  # input bounds: per node-hour, attempts


@dataclass(frozen=True)
class Stage:
    name: str
    minutes: float  # run time of the stage's work, without per-task overhead
    interruptible: bool  # may this stage's task run on spot?


@dataclass(frozen=True)
class Estimate:
    cost: float  # expected cost, on-demand node-hours
    hours: float  # expected time to finish, hours


def rate_from_monthly_fraction(fraction: float) -> float:
    """Preemptions per node-hour at which a node running a 30-day month is reclaimed in
    it with probability ``fraction`` (memoryless)."""
    if not 0 <= fraction < 1:
        raise ValueError(f"fraction must be at least 0 and below 1, got {fraction}")
    return -math.log1p(-fraction) / HOURS_PER_MONTH


def validate(stages, spot_price_ratio: float, preemptions_per_hour: float,
             spot_attempts: int, overhead_minutes: float) -> None:
    if not stages:
        raise ValueError("stages must not be empty")
    for s in stages:
        if not 0 <= s.minutes <= 10_000:
            raise ValueError(f"{s.name}: minutes must be between 0 and 10000, "
                             f"got {s.minutes}")
    checks = (("spot_price_ratio", spot_price_ratio, 0, 1),
              ("preemptions_per_hour", preemptions_per_hour, 0, MAX_RATE),
              ("spot_attempts", spot_attempts, 0, MAX_SPOT_ATTEMPTS),
              ("overhead_minutes", overhead_minutes, 0, 600))
    for name, value, low, high in checks:
        if not low <= value <= high:  # also rejects NaN
            raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    if spot_attempts != int(spot_attempts):
        raise ValueError(f"spot_attempts must be a whole number, got {spot_attempts}")


def expected_unit(minutes: float, interruptible: bool, preemptions_per_hour: float,
                  spot_price_ratio: float, spot_attempts: int) -> Estimate:
    """One task (unit) of ``minutes``, overhead included: up to ``spot_attempts``
    attempts on spot, then one on demand."""
    hours = minutes / 60
    if not interruptible or spot_attempts == 0:
        return Estimate(hours, hours)
    if preemptions_per_hour == 0:
        return Estimate(spot_price_ratio * hours, hours)
    hit = -math.expm1(-preemptions_per_hour * hours)  # P(an attempt is preempted)
    hours_per_spot_attempt = hit / preemptions_per_hour  # E[min(time to hit, hours)]
    spot_attempts_made = sum(hit**i for i in range(spot_attempts))
    spot_hours = hours_per_spot_attempt * spot_attempts_made
    on_demand_hours = hit**spot_attempts * hours
    return Estimate(spot_price_ratio * spot_hours + on_demand_hours,
                    spot_hours + on_demand_hours)


def units(stages, fine_grained: bool,
          overhead_minutes: float) -> list[tuple[float, bool]]:
    """(minutes with overhead, interruptible) for each task the pipeline shape runs."""
    if fine_grained:
        return [(s.minutes + overhead_minutes, s.interruptible) for s in stages]
    total = sum(s.minutes for s in stages) + overhead_minutes
    return [(total, any(s.interruptible for s in stages))]


def on_spot(stages, *, fine_grained: bool, spot_price_ratio: float,
            preemptions_per_hour: float, spot_attempts: int,
            overhead_minutes: float) -> Estimate:
    """Expected cost and time of the pipeline with its interruptible tasks on spot."""
    validate(stages, spot_price_ratio, preemptions_per_hour, spot_attempts,
             overhead_minutes)
    parts = [expected_unit(minutes, interruptible, preemptions_per_hour,
                           spot_price_ratio, spot_attempts)
             for minutes, interruptible
             in units(stages, fine_grained, overhead_minutes)]
    return Estimate(sum(p.cost for p in parts), sum(p.hours for p in parts))


def on_demand(stages, *, fine_grained: bool, overhead_minutes: float) -> Estimate:
    """Cost and time of the same pipeline shape with every task on demand."""
    validate(stages, 1, 0, 0, overhead_minutes)
    hours = sum(m for m, _ in units(stages, fine_grained, overhead_minutes)) / 60
    return Estimate(hours, hours)


def break_even_rate(stages, *, fine_grained: bool, spot_price_ratio: float,
                    spot_attempts: int, overhead_minutes: float) -> float:
    """The lowest preemption rate (per node-hour) at which spot costs as much as on
    demand for this shape: 0 if spot never saves, ``math.inf`` if not reached by
    ``MAX_RATE``. Scans 100 rates per decade from 1e-6, then bisects."""
    target = on_demand(stages, fine_grained=fine_grained,
                       overhead_minutes=overhead_minutes).cost

    def excess(rate: float) -> float:
        return on_spot(stages, fine_grained=fine_grained,
                       spot_price_ratio=spot_price_ratio, preemptions_per_hour=rate,
                       spot_attempts=spot_attempts,
                       overhead_minutes=overhead_minutes).cost - target

    if excess(0.0) >= 0:
        return 0.0
    below = 0.0
    for i in range(901):  # 1e-6 to 1e3 per node-hour
        rate = 10 ** (-6 + i / 100)
        if excess(rate) >= 0:
            above = rate
            for _ in range(60):
                middle = (below + above) / 2
                if excess(middle) < 0:
                    below = middle
                else:
                    above = middle
            return above
        below = rate
    return math.inf


# The model's inputs: what the evidence page prints and draws, the calculator's defaults.
PIPELINE = (Stage("featurize", 15, True), Stage("train", 90, True),
            Stage("evaluate", 15, True), Stage("publish", 5, False))
SPOT_PRICE_RATIO = 0.30
PREEMPTIONS_PER_HOUR = rate_from_monthly_fraction(0.20)
SPOT_ATTEMPTS = 3
OVERHEAD_MINUTES = 1.0
MODEL_INPUTS = dict(spot_price_ratio=SPOT_PRICE_RATIO, spot_attempts=SPOT_ATTEMPTS,
                    overhead_minutes=OVERHEAD_MINUTES)


def calculator_defaults() -> dict:
    """What the interruptible calculator starts from; the AWS bands as
    [monthly fraction, the model's rate per node-hour for it]."""
    return {
        "stages": [asdict(stage) for stage in PIPELINE],
        "spot_price_ratio": SPOT_PRICE_RATIO,
        "preemptions_per_hour": PREEMPTIONS_PER_HOUR,
        "spot_attempts": SPOT_ATTEMPTS,
        "overhead_minutes": OVERHEAD_MINUTES,
        "bands": {band: [f, rate_from_monthly_fraction(f)]
                  for band, f in AWS_ADVISOR_BANDS.items()},
    }
