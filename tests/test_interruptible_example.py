"""The interruptible example does what its page says: checked from behaviour, specs and the model.

Runs happen in this process, so the tests read which stage bodies ran (the example's
``WORK_DONE``) rather than trusting the printed text; each run starts from an empty local cache.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from compiled import compile_task, compile_workflow, load_example
from conftest import ROOT, run_pyflyte

STEM = "spot_preemption_with_caching"
STAGES = ["featurize", "train", "evaluate", "publish"]


@pytest.fixture
def example(empty_flytekit_cache):
    """The example module, run against an empty local cache."""
    return load_example(STEM)


@pytest.fixture(scope="module")
def model():
    return load_example(STEM)


def ran(work) -> list[str]:
    return [name for name, _ in work]


# --- what runs, locally -----------------------------------------------------------------

@pytest.mark.parametrize("preempted", [1, 2, 3, 4])
def test_rerun_executes_only_the_interrupted_stage_and_later_ones(example, preempted, monkeypatch):
    monkeypatch.setattr(example, "PREEMPTED", preempted)
    first, second, result = example.run_twice(example.pipeline)
    assert ran(first) == STAGES[:preempted], "the first run stops at the preempted stage"
    assert ran(second) == STAGES[preempted - 1:], "finished stages come from the cache"
    assert result.startswith("SVC with ")


def test_publish_runs_again_on_every_run_because_it_is_not_cached(example):
    """A side effect must not be skipped by a cache hit: publish runs each time."""
    for _ in range(2):
        example.WORK_DONE.clear()
        example.pipeline(preempt_stage=0)
        assert "publish" in ran(example.WORK_DONE)
    assert ran(example.WORK_DONE) == ["publish"], "the cached stages were hits"


def test_coarse_task_reexecutes_every_stage(example):
    first, second, result = example.run_twice(example.coarse_pipeline)
    assert ran(first) == STAGES[: example.PREEMPTED]
    assert ran(second) == STAGES, "a coarse task stores nothing until it finishes"


def test_both_shapes_compute_the_same_result(example):
    assert example.pipeline(preempt_stage=0) == example.coarse_pipeline(preempt_stage=0)


def test_local_run_does_not_retry(example):
    """retries=3 is in the spec, yet locally the recoverable error ends the run after one try."""
    from flytekit.exceptions.user import FlyteRecoverableException

    example.WORK_DONE.clear()
    with pytest.raises(FlyteRecoverableException, match="simulated spot preemption: evaluate"):
        example.pipeline(preempt_stage=3)
    assert ran(example.WORK_DONE) == ["featurize", "train", "evaluate"]


def test_simulated_preemption_spares_retries(example, monkeypatch):
    """On a cluster a retry has FLYTE_ATTEMPT_NUMBER >= 1: the same input then runs through."""
    monkeypatch.setenv("FLYTE_ATTEMPT_NUMBER", "1")
    example.WORK_DONE.clear()
    assert example.pipeline(preempt_stage=3).startswith("SVC with ")
    assert ran(example.WORK_DONE) == STAGES


# --- what a cluster receives ------------------------------------------------------------

def test_compiled_spec_carries_interruptible_retries_cache_and_the_override():
    module = load_example(STEM)
    spec, tasks = compile_workflow(module, module.pipeline)
    nodes = {node.metadata.name: node.metadata for node in spec.template.nodes}
    assert set(nodes) == set(STAGES)
    for name in STAGES:
        template = tasks[name].template.metadata
        assert template.interruptible is True and template.retries.retries == 3, name
        assert nodes[name].retries.retries == 3, name
        assert nodes[name].interruptible is (name != "publish"), name
        # The side-effecting stage is not cached (the caching guide's rule).
        assert template.discoverable is (name != "publish"), name
        if name != "publish":
            assert template.discovery_version == "1", name
            assert tuple(template.cache_ignore_input_vars) == ("preempt_stage",), name
    coarse = compile_task(module, module.all_stages).template.metadata
    assert coarse.interruptible is True and coarse.retries.retries == 3
    assert not coarse.discoverable, "the coarse task contains the side effect"


def test_the_model_is_the_workflow_as_written(model):
    """The model's stages, in order, with the interruptible flag each node compiles to."""
    spec, _ = compile_workflow(model, model.pipeline)
    compiled = [(n.metadata.name, n.metadata.interruptible) for n in spec.template.nodes]
    assert compiled == [(s.name, s.interruptible) for s in model.PIPELINE]


# --- what the page prints ---------------------------------------------------------------

def test_page_prints_fine_grained_recomputing_less_than_coarse(standalone_runs):
    run = standalone_runs(STEM)
    assert run.returncode == 0, run.stderr[-3000:]
    fractions = dict(re.findall(
        r"work recomputed after the preemption, (\S+), measured: (\d+)%", run.stdout))
    assert set(fractions) == {"fine-grained", "coarse"}
    assert int(fractions["fine-grained"]) < 50 <= 90 <= int(fractions["coarse"])
    assert "fine-grained, re-run served from the cache: featurize, train" in run.stdout
    assert "compiled node publish: interruptible=False, retries=3, cached=False" in run.stdout


def test_page_output_and_code_fit_the_column(standalone_runs):
    run = standalone_runs(STEM)
    assert run.returncode == 0, run.stderr[-3000:]
    assert max(map(len, run.stdout.splitlines())) <= 88
    assert max(map(len, (ROOT / "examples" / f"{STEM}.py").read_text().splitlines())) <= 88


def test_a_second_run_of_the_script_tells_the_same_preemption_story(standalone_runs):
    """Run twice on one machine, the script still reaches the preemption and re-runs only the
    stages after it: it starts each pair of runs without its own old cache entries."""
    first, again = standalone_runs(STEM), standalone_runs(STEM, again=True)
    assert again.returncode == 0, again.stderr[-3000:]

    def story(out: str) -> list[str]:
        return [line for line in out.splitlines()
                if line.startswith(("preempted:", "fine-grained,", "coarse,"))]

    assert story(again.stdout) == story(first.stdout)
    assert "fine-grained, re-run executed: evaluate, publish" in story(again.stdout)


def test_guide_restates_none_of_the_model_results(standalone_runs):
    """Model results are computed at build time: the guide links to them, never copies them."""
    run = standalone_runs(STEM)
    results = re.findall(r"(\d+\.\d\d)", "\n".join(
        line for line in run.stdout.splitlines()
        if line.startswith(("model, coarse:", "model, fine-grained:", "model, break-even"))))
    assert results, run.stdout
    guide = (ROOT / "guides" / "interruptible.md").read_text()
    assert not [r for r in results if r in guide and r not in {"0.30", "1.00"}]


# --- the cost model ---------------------------------------------------------------------

def spot(model, stages=None, **overrides):
    inputs = {**model.MODEL_INPUTS, "preemptions_per_hour": model.PREEMPTIONS_PER_HOUR,
              **overrides}
    fine = inputs.pop("fine_grained", True)
    stages = model.PIPELINE if stages is None else stages
    return model.on_spot(stages, fine_grained=fine, **inputs)


def test_model_without_preemptions_charges_the_spot_price_for_spot_stages(model):
    fine = spot(model, preemptions_per_hour=0)
    spot_minutes = sum(s.minutes + 1 for s in model.PIPELINE if s.interruptible)
    demand_minutes = sum(s.minutes + 1 for s in model.PIPELINE if not s.interruptible)
    assert fine.cost == pytest.approx((0.30 * spot_minutes + demand_minutes) / 60)
    assert fine.hours == pytest.approx((spot_minutes + demand_minutes) / 60)


def test_model_keeps_the_on_demand_stage_on_demand_at_any_rate(model):
    publish = [s for s in model.PIPELINE if not s.interruptible]
    for rate in (0, 1e-3, 1, 100):
        assert spot(model, publish, preemptions_per_hour=rate) == model.on_demand(
            publish, fine_grained=True, overhead_minutes=1)


def test_model_with_no_spot_attempts_is_on_demand(model):
    for fine in (False, True):
        assert spot(model, spot_attempts=0, fine_grained=fine, preemptions_per_hour=0.5) == \
            model.on_demand(model.PIPELINE, fine_grained=fine, overhead_minutes=1)


def test_model_at_extreme_rates_falls_back_to_on_demand(model):
    """Preempted at once on every spot attempt, the on-demand attempt does all the work."""
    demand = model.on_demand(model.PIPELINE, fine_grained=False, overhead_minutes=1)
    extreme = spot(model, preemptions_per_hour=model.MAX_RATE, fine_grained=False)
    assert extreme.hours == pytest.approx(demand.hours, rel=0.01)
    assert extreme.cost == pytest.approx(demand.cost, rel=0.01)


def test_model_matches_a_simulation(model):
    """The closed form for one unit of work against a Monte Carlo run of the same rules."""
    rng = np.random.default_rng(1)
    minutes, rate, ratio, attempts = 60.0, 0.8, 0.3, 3
    hours, trials = minutes / 60, 200_000
    spot_hours = np.zeros(trials)
    finished = np.zeros(trials, dtype=bool)
    for _ in range(attempts):
        hit_at = rng.exponential(1 / rate, trials)
        spot_hours += np.where(finished, 0, np.minimum(hit_at, hours))
        finished |= hit_at >= hours
    on_demand = np.where(finished, 0, hours)
    expected = model.expected_unit(minutes, True, rate, ratio, attempts)
    assert (ratio * spot_hours + on_demand).mean() == pytest.approx(expected.cost, rel=0.01)
    assert (spot_hours + on_demand).mean() == pytest.approx(expected.hours, rel=0.01)


def test_break_even_is_where_spot_costs_what_on_demand_costs(model):
    for fine in (False, True):
        rate = model.break_even_rate(model.PIPELINE, fine_grained=fine, **model.MODEL_INPUTS)
        demand = model.on_demand(model.PIPELINE, fine_grained=fine, overhead_minutes=1).cost
        assert spot(model, preemptions_per_hour=rate, fine_grained=fine).cost == \
            pytest.approx(demand, rel=1e-6)
        assert spot(model, preemptions_per_hour=rate * 0.9, fine_grained=fine).cost < demand


def test_fine_grained_stages_pay_off_at_higher_rates_than_the_coarse_task(model):
    coarse, fine = (model.break_even_rate(model.PIPELINE, fine_grained=f, **model.MODEL_INPUTS)
                    for f in (False, True))
    assert fine > coarse
    # ...while at the published bands the coarse task is the cheaper shape (fewer overheads,
    # and publish runs on spot inside it).
    assert spot(model, fine_grained=False).cost < spot(model).cost


def test_break_even_edge_cases(model):
    pinned = [model.Stage("publish", 5, False)]
    assert model.break_even_rate(pinned, fine_grained=True, **model.MODEL_INPUTS) == 0
    same_price = {**model.MODEL_INPUTS, "spot_price_ratio": 1.0}
    assert model.break_even_rate(model.PIPELINE, fine_grained=True, **same_price) == 0
    tiny = [model.Stage("quick", 0.01, True)]
    cheap = {**model.MODEL_INPUTS, "spot_price_ratio": 0.0, "overhead_minutes": 0}
    assert model.break_even_rate(tiny, fine_grained=True, **cheap) == math.inf


@pytest.mark.parametrize("fraction", [0.0, 0.05, 0.2, 0.9])
def test_monthly_band_converts_to_a_memoryless_rate(model, fraction):
    rate = model.rate_from_monthly_fraction(fraction)
    assert -math.expm1(-rate * 30 * 24) == pytest.approx(fraction)


# --- bad inputs ------------------------------------------------------------------------

@pytest.mark.parametrize("workflow", ["pipeline", "coarse_pipeline"])
def test_out_of_range_stage_is_a_one_line_error_naming_the_input(workflow):
    result = run_pyflyte(STEM, workflow, "--preempt_stage", "7")
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines()
             if "Invalid value for '--preempt_stage'" in line]
    assert lines and "must be 0 (no preemption) to 4, got 7" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("override,message", [
    ({"preemptions_per_hour": -0.1}, "preemptions_per_hour must be between 0 and 1000"),
    ({"preemptions_per_hour": float("nan")}, "preemptions_per_hour must be between"),
    ({"preemptions_per_hour": 1e6}, "preemptions_per_hour must be between 0 and 1000"),
    ({"spot_price_ratio": 1.5}, "spot_price_ratio must be between 0 and 1"),
    ({"spot_attempts": -1}, "spot_attempts must be between 0 and 20"),
    ({"spot_attempts": 2.5}, "spot_attempts must be a whole number"),
    ({"overhead_minutes": -1}, "overhead_minutes must be between 0 and 600"),
])
def test_model_rejects_inputs_outside_their_range(model, override, message):
    with pytest.raises(ValueError, match=message):
        spot(model, **override)


def test_model_rejects_bad_stages(model):
    with pytest.raises(ValueError, match="stages must not be empty"):
        spot(model, stages=[])
    with pytest.raises(ValueError, match="train: minutes must be between 0 and 10000"):
        spot(model, stages=[model.Stage("train", -5, True)])


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_monthly_fraction_outside_0_to_1_is_rejected(model, fraction):
    with pytest.raises(ValueError, match="fraction must be at least 0 and below 1"):
        model.rate_from_monthly_fraction(fraction)
