"""The batch-size model (``evidence.models.parallelism``): its closed forms match the
schedule they describe, its "fastest" is the fastest, the rule is the one the guide states,
and the evidence page prints what it computes.

The calculator re-implements these functions in JavaScript (``tests/test_calculators.py``
holds the two together); this module pins what the Python model, the source of truth,
computes.
"""

from __future__ import annotations

import math

import pytest

from bs4 import BeautifulSoup

from evidence.models import parallelism


@pytest.fixture(scope="module")
def model():
    return parallelism


def simulated_wall_time(items, batch_size, seconds_per_item, start_up_s, concurrency,
                        launch_rate_per_s):
    """The schedule the model describes, step by step: task k starts when a slot is free
    (the task ``concurrency`` places earlier has finished) and not before k / rate."""
    tasks = math.ceil(items / batch_size)
    task_s = start_up_s + batch_size * seconds_per_item
    starts = []
    for k in range(tasks):
        slot_free = starts[k - concurrency] + task_s if k >= concurrency else 0.0
        starts.append(max(k / launch_rate_per_s, slot_free))
    return starts[-1] + task_s


GRID = [
    # items, seconds_per_item, start_up_s, concurrency, launch_rate_per_s
    (1000, 0.01, 30.0, 10, 50.0),
    (1000, 0.01, 30.0, 100, 2.5),
    (5000, 0.5, 5.0, 7, 1.0),
    (777, 2.0, 60.0, 1000, 0.1),
    (1, 1.0, 1.0, 1, 1.0),
]


@pytest.mark.parametrize("items, per_item, start_up, concurrency, rate", GRID)
def test_closed_form_wall_time_matches_the_simulated_schedule(model, items, per_item,
                                                             start_up, concurrency, rate):
    for batch_size in sorted({1, 2, 3, 7, 10, 64, items // 3 or 1, items}):
        expected = simulated_wall_time(items, batch_size, per_item, start_up,
                                       concurrency, rate)
        got = model.wall_time_s(items, batch_size, per_item, start_up, concurrency, rate)
        assert got == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("items, per_item, start_up, concurrency, rate", GRID)
def test_fastest_batch_size_is_the_fastest_one_round_batch(model, items, per_item, start_up,
                                                 concurrency, rate):
    """Against every batch size that runs in one round, as its docstring says."""
    best = model.fastest_batch_size(items, per_item, start_up, concurrency, rate)
    one_round = math.ceil(items / concurrency)
    walls = {b: model.wall_time_s(items, b, per_item, start_up, concurrency, rate)
             for b in range(one_round, items + 1)}
    assert walls[best] == min(walls.values())
    assert best == max(b for b, w in walls.items() if w == walls[best])


def test_without_a_launch_limit_the_model_is_rounds_of_tasks(model):
    """An unlimited launch rate gives the old model: ceil(tasks / concurrency) rounds."""
    for batch_size in (1, 10, 333, 1000):
        tasks = math.ceil(1000 / batch_size)
        expected = math.ceil(tasks / 10) * (30 + batch_size * 0.01)
        assert model.wall_time_s(1000, batch_size, 0.01, 30, 10, 1e12) == pytest.approx(
            expected)


def test_a_slow_launch_rate_makes_high_concurrency_unreachable(model):
    """With 2.5 launches a second and 30 s tasks, at most ~75 pods run at once: 1,000
    slots finish no sooner than 100 would."""
    args = dict(items=100_000, batch_size=100, seconds_per_item=0.0, start_up_s=30.0,
                launch_rate_per_s=2.5)
    assert model.wall_time_s(concurrency=1000, **args) == pytest.approx(
        model.wall_time_s(concurrency=100, **args))


def test_pod_minutes_are_every_start_up_plus_all_compute(model):
    assert model.pod_minutes(1000, 10, 0.5, 30.0) == pytest.approx((100 * 30 + 500) / 60)
    assert model.pod_minutes(1000, 1000, 0.5, 30.0) == pytest.approx((30 + 500) / 60)


@pytest.mark.parametrize("items, per_item, start_up, concurrency, rate", GRID + [
    (2_000_000, 0.02, 30.0, 1000, 50.0), (2_000_000, 0.02, 30.0, 100, 50.0)])
def test_the_rule_never_goes_below_ten_times_start_up_unless_one_task(
        model, items, per_item, start_up, concurrency, rate):
    use = model.batch_size_to_use(items, per_item, start_up, concurrency, rate)
    fastest = model.fastest_batch_size(items, per_item, start_up, concurrency, rate)
    assert 1 <= use <= items
    assert use >= fastest, "the rule trades speed for pod-minutes, never the reverse"
    if use < items:
        assert use * per_item >= model.MIN_WORK_PER_START_UP * start_up - 1e-9
    if use > fastest:  # the floor decided: the smallest batch at or above it
        assert (use - 1) * per_item < model.MIN_WORK_PER_START_UP * start_up or use == items


def test_the_defaults_land_on_both_sides_of_the_rule(model):
    """What the guide says the example shows: at concurrency 100 the fastest batch already
    computes 10x its start-up; at 1,000 it does not, and the rule runs fewer tasks."""
    inputs = dict(model.DEFAULTS)
    assert model.batch_size_to_use(**inputs) == model.fastest_batch_size(**inputs)
    inputs["concurrency"] = 1000
    use, fastest = model.batch_size_to_use(**inputs), model.fastest_batch_size(**inputs)
    assert use > fastest
    assert model.tasks_for(inputs["items"], use) < 1000


def test_calculator_defaults_are_the_models_defaults(model):
    """The shape _static/calculators.js reads."""
    assert model.calculator_defaults() == {"inputs": model.DEFAULTS}
    assert model.calculator_defaults()["inputs"] is not model.DEFAULTS


def test_one_image_per_task_costs_over_a_thousand_times_the_rules_pod_minutes(model):
    """The guide: "One image per task costs over a thousand times the pod-minutes of the
    rule's batches"."""
    inputs = {**model.DEFAULTS, "concurrency": 1000}
    args = (inputs["items"], inputs["seconds_per_item"], inputs["start_up_s"])
    use = model.batch_size_to_use(**inputs)
    one = model.pod_minutes(args[0], 1, *args[1:])
    assert one > 1000 * model.pod_minutes(args[0], use, *args[1:])


def evidence_lines(site) -> dict[str, str]:
    page = site.html / "auto_evidence" / "parallelize" / "parallelize_flyte1_evidence.html"
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    text = "\n".join(b.get_text() for b in soup.select("div.sphx-glr-script-out pre"))
    return dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)


def test_evidence_page_prints_what_the_model_computes(model, site):
    lines = evidence_lines(site)
    for name, value in model.DEFAULTS.items():
        assert lines[f"model input {name}"] == f"{value:,}"
    for c in (10, 100, 1000):
        inputs = {**model.DEFAULTS, "concurrency": c}
        for kind, size in (("use", model.batch_size_to_use(**inputs)),
                           ("fastest", model.fastest_batch_size(**inputs))):
            tasks = model.tasks_for(inputs["items"], size)
            assert lines[f"model, {c:,} at once, {kind}"].startswith(
                f"{size:,} per task, {tasks:,} tasks, "), (c, kind)
