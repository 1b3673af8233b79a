"""The spot cost model (``evidence.models.interruptible``): what its evidence page prints
and draws and the interruptible calculator computes. Checked against its own closed
forms, a simulation of the same rules, its edge cases and bounds, and the spot lesson's
workflow as compiled."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import ROOT
from evidence import lessons, probes
from evidence.models import interruptible as model


def spot(stages=None, **overrides):
    inputs = {**model.MODEL_INPUTS, "preemptions_per_hour": model.PREEMPTIONS_PER_HOUR,
              **overrides}
    fine = inputs.pop("fine_grained", True)
    return model.on_spot(model.PIPELINE if stages is None else stages, fine_grained=fine,
                         **inputs)


def test_the_model_is_the_spot_lesson_as_written():
    """The model's stages, in order, with the interruptible flag each node compiles to."""
    lesson = lessons.load("interruptible/spot_preemption_with_caching")
    spec, _ = probes.flytekit_compiled(lesson.pipeline)
    compiled = [(n.metadata.name, n.metadata.interruptible) for n in spec.template.nodes]
    assert compiled == [(s.name, s.interruptible) for s in model.PIPELINE]


def test_without_preemptions_spot_stages_cost_the_spot_price():
    fine = spot(preemptions_per_hour=0)
    spot_minutes = sum(s.minutes + 1 for s in model.PIPELINE if s.interruptible)
    demand_minutes = sum(s.minutes + 1 for s in model.PIPELINE if not s.interruptible)
    assert fine.cost == pytest.approx((0.30 * spot_minutes + demand_minutes) / 60)
    assert fine.hours == pytest.approx((spot_minutes + demand_minutes) / 60)


def test_the_on_demand_stage_stays_on_demand_at_any_rate():
    publish = [s for s in model.PIPELINE if not s.interruptible]
    for rate in (0, 1e-3, 1, 100):
        assert spot(publish, preemptions_per_hour=rate) == model.on_demand(
            publish, fine_grained=True, overhead_minutes=1)


def test_no_spot_attempts_is_on_demand():
    for fine in (False, True):
        assert spot(spot_attempts=0, fine_grained=fine, preemptions_per_hour=0.5) == \
            model.on_demand(model.PIPELINE, fine_grained=fine, overhead_minutes=1)


def test_at_extreme_rates_the_on_demand_attempt_does_the_work():
    """Preempted at once on every spot attempt, the attempt on demand does all the work:
    cost and time fall back to on demand's."""
    for fine in (False, True):
        demand = model.on_demand(model.PIPELINE, fine_grained=fine, overhead_minutes=1)
        extreme = spot(preemptions_per_hour=model.MAX_RATE, fine_grained=fine)
        assert extreme.hours == pytest.approx(demand.hours, rel=0.01)
        assert extreme.cost == pytest.approx(demand.cost, rel=0.01)


def test_expected_time_rises_then_falls_back_as_the_page_explains():
    """The figure's shape: time is on demand's at no preemptions and again at extreme
    rates, and higher in between, with one peak (up, then down, on a log grid)."""
    rates = np.logspace(-5, 3, 321)
    for fine in (False, True):
        hours = np.array([spot(preemptions_per_hour=r, fine_grained=fine).hours
                          for r in rates])
        demand = model.on_demand(model.PIPELINE, fine_grained=fine, overhead_minutes=1)
        peak = int(np.argmax(hours))
        assert 0 < peak < len(rates) - 1
        assert hours[peak] > 1.5 * demand.hours
        assert np.all(np.diff(hours[:peak + 1]) >= -1e-12)
        assert np.all(np.diff(hours[peak:]) <= 1e-12)


def test_without_a_fall_back_time_grows_with_the_rate():
    """With so many spot attempts that the last is never reached, a unit of H hours
    takes (e^(rate H) - 1) / rate hours on average: it grows without bound."""
    hours = 1.0
    previous = 0.0
    for rate in (0.05, 0.1, 0.2, 0.4):
        unit = model.expected_unit(60 * hours, True, rate, 0.3, model.MAX_SPOT_ATTEMPTS)
        assert unit.hours == pytest.approx(math.expm1(rate * hours) / rate, rel=1e-6)
        assert unit.hours > previous
        previous = unit.hours


def test_the_closed_form_matches_a_simulation():
    """One unit of work against a Monte Carlo run of the same rules (seeded)."""
    rng = np.random.default_rng(1)
    minutes, rate, ratio, spot_attempts = 60.0, 0.8, 0.3, 3
    hours, trials = minutes / 60, 200_000
    spot_hours = np.zeros(trials)
    finished = np.zeros(trials, dtype=bool)
    for _ in range(spot_attempts):
        hit_at = rng.exponential(1 / rate, trials)
        spot_hours += np.where(finished, 0, np.minimum(hit_at, hours))
        finished |= hit_at >= hours
    on_demand = np.where(finished, 0, hours)
    expected = model.expected_unit(minutes, True, rate, ratio, spot_attempts)
    assert (ratio * spot_hours + on_demand).mean() == pytest.approx(expected.cost, rel=0.01)
    assert (spot_hours + on_demand).mean() == pytest.approx(expected.hours, rel=0.01)


def test_break_even_is_where_spot_costs_what_on_demand_costs():
    for fine in (False, True):
        rate = model.break_even_rate(model.PIPELINE, fine_grained=fine, **model.MODEL_INPUTS)
        demand = model.on_demand(model.PIPELINE, fine_grained=fine, overhead_minutes=1).cost
        assert spot(preemptions_per_hour=rate, fine_grained=fine).cost == \
            pytest.approx(demand, rel=1e-6)
        assert spot(preemptions_per_hour=rate * 0.9, fine_grained=fine).cost < demand


def test_fine_grained_stages_pay_off_at_higher_rates_than_the_coarse_task():
    coarse, fine = (model.break_even_rate(model.PIPELINE, fine_grained=f, **model.MODEL_INPUTS)
                    for f in (False, True))
    assert fine > coarse
    # ...while at the published bands the coarse task is the cheaper shape (fewer
    # overheads, and publish runs on spot inside it).
    assert spot(fine_grained=False).cost < spot().cost


def test_break_even_edge_cases():
    pinned = [model.Stage("publish", 5, False)]
    assert model.break_even_rate(pinned, fine_grained=True, **model.MODEL_INPUTS) == 0
    same_price = {**model.MODEL_INPUTS, "spot_price_ratio": 1.0}
    assert model.break_even_rate(model.PIPELINE, fine_grained=True, **same_price) == 0
    tiny = [model.Stage("quick", 0.01, True)]
    cheap = {**model.MODEL_INPUTS, "spot_price_ratio": 0.0, "overhead_minutes": 0}
    assert model.break_even_rate(tiny, fine_grained=True, **cheap) == math.inf


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.2, 0.9])
def test_a_monthly_band_converts_to_a_memoryless_rate(fraction):
    rate = model.rate_from_monthly_fraction(fraction)
    assert -math.expm1(-rate * 30 * 24) == pytest.approx(fraction)


def test_calculator_defaults_are_the_model_inputs():
    defaults = model.calculator_defaults()
    assert set(defaults) == {"stages", "spot_price_ratio", "preemptions_per_hour",
                             "spot_attempts", "overhead_minutes", "bands"}
    assert [tuple(s.values()) for s in defaults["stages"]] == \
        [(s.name, s.minutes, s.interruptible) for s in model.PIPELINE]
    assert defaults["preemptions_per_hour"] == model.rate_from_monthly_fraction(0.20)
    assert defaults["bands"]["15-20%"] == [0.20, model.PREEMPTIONS_PER_HOUR]


def test_the_guide_restates_none_of_the_model_results():
    """Model results are computed when the site is built: the guide links to them and
    never copies them (they would go stale with the inputs)."""
    results = []
    for fine in (False, True):
        estimate = spot(fine_grained=fine)
        results += [estimate.cost, estimate.hours,
                    model.break_even_rate(model.PIPELINE, fine_grained=fine,
                                          **model.MODEL_INPUTS)]
    guide = (ROOT / "guides" / "interruptible.md").read_text(encoding="utf-8")
    shown = {f"{value:.2f}" for value in results} - {"0.30", "1.00"}
    assert not [value for value in shown if value in guide]


@pytest.mark.parametrize("override,message", [
    ({"preemptions_per_hour": -0.1}, "preemptions_per_hour must be between 0 and 1000"),
    ({"preemptions_per_hour": float("nan")}, "preemptions_per_hour must be between"),
    ({"preemptions_per_hour": 1e6}, "preemptions_per_hour must be between 0 and 1000"),
    ({"spot_price_ratio": 1.5}, "spot_price_ratio must be between 0 and 1"),
    ({"spot_attempts": -1}, "spot_attempts must be between 0 and 20"),
    ({"spot_attempts": 2.5}, "spot_attempts must be a whole number"),
    ({"overhead_minutes": -1}, "overhead_minutes must be between 0 and 600"),
])
def test_inputs_outside_their_range_are_rejected(override, message):
    with pytest.raises(ValueError, match=message):
        spot(**override)


def test_bad_stages_are_rejected():
    with pytest.raises(ValueError, match="stages must not be empty"):
        spot(stages=[])
    with pytest.raises(ValueError, match="train: minutes must be between 0 and 10000"):
        spot(stages=[model.Stage("train", -5, True)])


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_a_monthly_fraction_outside_0_to_1_is_rejected(fraction):
    with pytest.raises(ValueError, match="fraction must be at least 0 and below 1"):
        model.rate_from_monthly_fraction(fraction)
