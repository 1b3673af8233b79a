"""The interruptible example does what its page says: checked from behaviour, specs and the model.

Runs happen in this process, so the test reads which stage bodies ran (the example's
``WORK_DONE``) rather than trusting the printed text; each run starts from an empty local cache.
"""

from __future__ import annotations

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


def ran(work) -> list[str]:
    return [name for name, _ in work]


@pytest.mark.parametrize("preempted", [1, 2, 3, 4])
def test_rerun_executes_only_the_interrupted_stage_and_later_ones(example, preempted, monkeypatch):
    monkeypatch.setattr(example, "PREEMPTED", preempted)
    first, second, result = example.run_twice(example.pipeline)
    assert ran(first) == STAGES[:preempted], "the first run stops at the preempted stage"
    assert ran(second) == STAGES[preempted - 1:], "finished stages come from the cache"
    assert result.startswith("SVC with ")


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


def test_compiled_spec_carries_interruptible_retries_cache_and_the_override():
    module = load_example(STEM)
    spec, tasks = compile_workflow(module, module.pipeline)
    nodes = {node.metadata.name: node.metadata for node in spec.template.nodes}
    assert set(nodes) == set(STAGES)
    for name in STAGES:
        template = tasks[name].template.metadata
        assert template.interruptible is True and template.retries.retries == 3, name
        assert template.discoverable and template.discovery_version == "1", name
        assert tuple(template.cache_ignore_input_vars) == ("preempt_stage",), name
        assert nodes[name].retries.retries == 3, name
        assert nodes[name].interruptible is (name != "publish"), name
    coarse = compile_task(module, module.all_stages).template.metadata
    assert coarse.interruptible is True and coarse.retries.retries == 3
    assert tuple(coarse.cache_ignore_input_vars) == ("preempt_stage",)


def test_page_prints_fine_grained_recomputing_less_than_coarse(standalone_runs):
    run = standalone_runs(STEM)
    assert run.returncode == 0, run.stderr[-3000:]
    fractions = dict(re.findall(r"work recomputed after the preemption, (\S+), measured: (\d+)%", run.stdout))
    assert set(fractions) == {"fine-grained", "coarse"}
    assert int(fractions["fine-grained"]) < 50 <= 90 <= int(fractions["coarse"])
    assert "fine-grained, re-run served from the cache: featurize, train" in run.stdout
    assert "compiled node publish: interruptible=False, retries=3 (its task: interruptible=True" in run.stdout


def test_a_second_run_of_the_script_tells_the_same_preemption_story(standalone_runs):
    """Run twice on one machine, the script still reaches the preemption and re-runs only the
    stages after it: it starts each pair of runs without its own old cache entries."""
    first, again = standalone_runs(STEM), standalone_runs(STEM, again=True)
    assert again.returncode == 0, again.stderr[-3000:]

    def story(out: str) -> list[str]:
        return [line for line in out.splitlines() if line.startswith(("preempted:", "fine-grained,", "coarse,"))]

    assert story(again.stdout) == story(first.stdout)
    assert "fine-grained, re-run executed: evaluate, publish" in story(again.stdout)


def test_numbers_the_guide_quotes_are_the_ones_the_example_prints(standalone_runs):
    run = standalone_runs(STEM)
    guide = " ".join((ROOT / "guides" / "interruptible.md").read_text().split())
    coarse = re.search(r"model, coarse task: .* costs (\S+) of on demand .* above a (\d+%) hourly", run.stdout)
    cached = re.search(r"model, fine-grained, cached: .* costs (\S+) of on demand .* on demand (nowhere)", run.stdout)
    assert coarse and cached, run.stdout
    assert f"the coarse single task costs {coarse[1]} of on demand" in guide
    assert f"the cached fine-grained stages {cached[1]};" in guide
    assert f"above a {coarse[2]} chance per hour of losing its node, the fine-grained stages not" in guide


# --- the cost model -------------------------------------------------------------------------

STRATEGIES = ("coarse task", "fine-grained, not cached, re-run from the start", "fine-grained, cached")


def test_model_caching_never_costs_more_than_rerunning_from_the_start():
    module = load_example(STEM)
    for q in np.linspace(0, 1, 101):
        coarse, uncached, cached = (module.expected_cost_and_time(q, s) for s in STRATEGIES)
        assert cached[0] <= uncached[0] + 1e-12, q
        assert coarse[0] <= uncached[0] + 1e-12, "re-running every stage also pays more overheads"
        if q <= 0.8:
            # Above that, each cached stage spends its own spot attempts before falling back to on
            # demand, so it can finish later than a pipeline that falls back as a whole (the page
            # says so); it never costs more.
            assert cached[1] <= uncached[1] + 1e-12, q


def test_model_limits():
    module = load_example(STEM)
    on_demand_hours = (sum(module.STAGE_MINUTES.values()) + module.OVERHEAD_MINUTES) / 60
    cost, hours = module.expected_cost_and_time(0, "coarse task")
    assert cost == pytest.approx(1 - module.SPOT_DISCOUNT) and hours == pytest.approx(on_demand_hours)
    # Preempted at once on every spot attempt: the on-demand attempt does all the work.
    assert module.expected_cost_and_time(1, "coarse task") == pytest.approx((1.0, on_demand_hours))


def test_model_matches_a_simulation():
    """The closed form for one unit of work against a Monte Carlo run of the same rules."""
    module = load_example(STEM)
    rng = np.random.default_rng(1)
    minutes, rate = 60.0, 0.8  # one hour of work, 0.8 preemptions per node-hour
    hours, trials = minutes / 60, 200_000
    spot = np.zeros(trials)
    finished = np.zeros(trials, dtype=bool)
    for _ in range(module.SPOT_ATTEMPTS):
        hit_at = rng.exponential(1 / rate, trials)
        spot += np.where(finished, 0, np.minimum(hit_at, hours))
        finished |= hit_at >= hours
    on_demand = np.where(finished, 0, hours)
    cost = (1 - module.SPOT_DISCOUNT) * spot + on_demand
    expected_cost, expected_hours = module.expected_unit(minutes, rate)
    assert cost.mean() == pytest.approx(expected_cost, rel=0.01)
    assert (spot + on_demand).mean() == pytest.approx(expected_hours, rel=0.01)


# --- bad inputs ------------------------------------------------------------------------------

@pytest.mark.parametrize("workflow", ["pipeline", "coarse_pipeline"])
def test_out_of_range_stage_is_a_one_line_error_naming_the_input(workflow):
    result = run_pyflyte(STEM, workflow, "--preempt_stage", "7")
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    lines = [line for line in result.stderr.splitlines() if "Invalid value for '--preempt_stage'" in line]
    assert lines and "must be 0 (no preemption) to 4, got 7" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("probability", [-0.1, 1.5])
def test_model_rejects_a_probability_outside_0_to_1(probability):
    module = load_example(STEM)
    with pytest.raises(ValueError, match=rf"hourly_preemption_probability must be between 0 and 1, got {probability}"):
        module.expected_cost_and_time(probability, "coarse task")


def test_model_rejects_an_unknown_strategy():
    module = load_example(STEM)
    with pytest.raises(ValueError, match="strategy must be one of"):
        module.expected_cost_and_time(0.1, "spot, but cheaper")
