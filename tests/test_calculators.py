"""The guides' calculators (issue 13): the page's JavaScript computes what the examples'
Python models compute, starts from what the examples printed, rejects bad input next to
the field, shares its inputs through the URL, and is accessible, in Chromium.

The Python model in each example is the source of truth. The parity grids call the
page's own model functions (``window.flyteCalculators.models``) on typical, edge and
extreme inputs and compare them with the example's functions, loaded with
``load_example``. Tolerance: the parallelism and decomposition models use only + - * /
ceil min max, which IEEE arithmetic makes identical in both languages when done in the
same order, so they must agree exactly; the interruptible model also calls expm1 and
pow, whose last bit may differ between V8 and glibc, so it must agree to a relative
1e-9. A few points are also driven through the form itself and compared as the reader
sees them, formatted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import re

import pytest
from bs4 import BeautifulSoup

from browser import built_pages
from compiled import load_example
from conftest import ROOT

GUIDES = ("decomposition", "parallelism", "interruptible")
STEMS = {
    "parallelism": "fan_out_inference_with_map_task",
    "interruptible": "spot_preemption_with_caching",
    "decomposition": "decompose_training_and_inference",
}
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# The interruptible model's tolerance: V8's and glibc's expm1 and pow may differ in the
# last bit.
RELATIVE = 1e-9


@pytest.fixture(scope="module")
def examples():
    return {name: load_example(stem) for name, stem in STEMS.items()}


def page_url(base_url: str, guide: str, query: str = "") -> str:
    return f"{base_url}guides/{guide}.html{query}"


@contextlib.contextmanager
def opened(
    browser, base_url, guide, query="", viewport=DESKTOP, open_it=True, **options
):
    """The guide in a fresh context, its calculator opened; fails on any console error
    or uncaught exception while the test used it."""
    context = browser.new_context(viewport=viewport, **options)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
        page.goto(page_url(base_url, guide, query), wait_until="load")
        if open_it:
            page.evaluate(
                f"() => {{ document.getElementById('{guide}-calculator').open = "
                "true; }"
            )
            page.wait_for_function(
                "() => document.querySelector('.calc-summary')?.textContent.length > 0"
            )
        yield page
        assert errors == [], errors
    finally:
        context.close()


def field(page, key):
    return page.locator(f"input[name='{key}']")


def summary(page) -> list[str]:
    return page.locator(".calc-summary p").all_inner_texts()


def table_rows(page) -> list[list[str]]:
    """The results table as text: one list per body row, its header cell first; a cell's
    note (on its own line) joined with a space."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.calc-table tbody tr')]
      .map(tr => [...tr.children].map(c => c.innerText.replace(/\\s*\\n\\s*/g, ' ')))"""
    )


def settle(page):
    """Wait until the URL carries the last edit (it is written 250 ms after it)."""
    page.wait_for_timeout(400)


def example_output(site, guide) -> list[str]:
    """The lines the example printed on its page, in this build."""
    path = site.html / "auto_examples" / f"{STEMS[guide]}.html"
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    return [
        line
        for block in soup.select(".sphx-glr-script-out pre")
        for line in block.get_text().splitlines()
    ]


def printed(lines, prefix) -> str:
    (line,) = [line for line in lines if line.startswith(prefix)]
    return line[len(prefix) :]


# --------------------------------------------------------------------------------------
# Where the calculators are.


def front_matter_calculators() -> dict[str, str]:
    found = {}
    for path in sorted((ROOT / "guides").glob("*.md")):
        match = re.match(r"---\n(.*?)\n---\n", path.read_text(encoding="utf-8"), re.S)
        named = match and re.search(r"^calculator: (\w+)$", match[1], re.M)
        if named:
            found[f"guides/{path.stem}.html"] = named[1]
    return found


def test_script_and_styles_load_only_on_the_pages_that_name_a_calculator(site):
    expected = front_matter_calculators()
    assert sorted(expected.values()) == sorted(GUIDES)
    loaded = {}
    for name in built_pages(site.html):
        soup = BeautifulSoup(
            (site.html / name).read_text(encoding="utf-8"), "html.parser"
        )
        scripts = [s for s in soup.select("script[src]") if "calculator" in s["src"]]
        styles = [
            s for s in soup.select("link[href]") if "calculators.css" in s["href"]
        ]
        apps = soup.select(".calculator-app[data-calculator]")
        if scripts or styles or apps:
            loaded[name] = [a["data-calculator"] for a in apps]
            sources = [s["src"].split("?")[0].rsplit("/", 1)[1] for s in scripts]
            # The build's inputs first, then the script; both deferred: neither blocks.
            assert sources == ["calculator-inputs.js", "calculators.js"], (
                name,
                sources,
            )
            assert all(s.has_attr("defer") for s in scripts), name
            assert len(styles) == 1, name
    assert loaded == {page: [name] for page, name in expected.items()}


@pytest.mark.parametrize("guide", GUIDES)
def test_calculator_follows_the_decision_table_in_a_dropdown(site, guide):
    """Next to the decision aid it extends, after it, so the first screen keeps the
    verdict and the table; and it links the example section that defines its model."""
    soup = BeautifulSoup(
        (site.html / f"guides/{guide}.html").read_text(encoding="utf-8"), "html.parser"
    )
    section = soup.select_one("section#how-to-decide")
    dropdown = section.select_one(f"details#{guide}-calculator")
    assert dropdown is not None and not dropdown.has_attr("open")
    assert section.select_one("table").sourceline < dropdown.sourceline
    links = [a["href"] for a in dropdown.select("a[href]")]
    assert any(h.endswith(f"{STEMS[guide]}.html#{guide}-model") for h in links), links
    assert dropdown.select_one("noscript"), "no word for readers without JavaScript"


# --------------------------------------------------------------------------------------
# First load: the example's own inputs, so the calculator says what the example printed.


def test_parallelism_starts_from_the_examples_inputs_and_prints_its_answer(
    browser, base_url, site, examples
):
    m = examples["parallelism"]
    lines = example_output(site, "parallelism")
    concurrency = m.MODEL_INPUTS["concurrency"]
    with opened(browser, base_url, "parallelism") as page:
        for key, value in m.MODEL_INPUTS.items():
            assert float(field(page, key).input_value()) == value, key
        use, second = summary(page)
        assert (
            use == f"Use: {printed(lines, f'model, concurrency {concurrency}, use: ')}."
        )
        fastest = printed(lines, f"model, concurrency {concurrency}, fastest: ")
        assert (second == "That is the fastest batch size.") == (
            fastest == printed(lines, f"model, concurrency {concurrency}, use: ")
        )


def test_interruptible_starts_from_the_examples_inputs_and_prints_its_answer(
    browser, base_url, site, examples
):
    m = examples["interruptible"]
    lines = example_output(site, "interruptible")
    with opened(browser, base_url, "interruptible") as page:
        stages = page.evaluate(
            "() => flyteCalculators.instances.interruptible.values()"
        )
        assert [
            (s["name"], s["minutes"], s["interruptible"]) for s in stages["stages"]
        ] == [(s.name, s.minutes, s.interruptible) for s in m.PIPELINE]
        assert stages["preemptions_per_hour"] == m.PREEMPTIONS_PER_HOUR
        for key, value in m.MODEL_INPUTS.items():
            assert stages[key] == value, key
        rows = {row[0]: row[1:] for row in table_rows(page)}
        for column, shape in enumerate(("coarse", "fine-grained")):
            numbers = re.findall(r"\d+\.\d+", printed(lines, f"model, {shape}: "))
            spot_cost, demand_cost, spot_hours, demand_hours = numbers
            assert rows["Cost on spot (node-hours)"][column] == spot_cost
            assert rows["Cost on demand (node-hours)"][column] == demand_cost
            assert rows["Time on spot (h)"][column] == spot_hours
            assert rows["Time on demand (h)"][column] == demand_hours
            even = printed(lines, f"model, break-even, {shape}: ")
            rate, every = re.fullmatch(
                r"([\d.]+) preemptions per node-hour \(one every (\d+) min\)", even
            ).groups()
            assert rows["Break-even rate (per node-hour)"][column] == (
                f"{rate} one every {every} min"
            )


def test_decomposition_starts_from_the_measured_inputs_its_figure_used(
    browser, base_url, site, examples
):
    """The defaults are what the example measured in this very build: the calculator
    prints the example's numbers, and the example's Python model, fed the calculator's
    defaults, prints them too."""
    m = examples["decomposition"]
    lines = example_output(site, "decomposition")
    with opened(browser, base_url, "decomposition") as page:
        inputs = page.evaluate("() => window.calculatorInputs.decomposition")
        rows = {row[0]: row[1:] for row in table_rows(page)}
        text = " ".join(summary(page))
    first, second = m.Step(**inputs["first"]), m.Step(**inputs["second"])
    overhead = m.Overhead(**inputs["overhead"])
    assert overhead == m.Overhead(), "the example's sourced overhead and prices"
    handoff = inputs["handoff_bytes"]
    one = m.keep_together(first, second, overhead)
    two = m.split(first, second, handoff, overhead)
    for label, choice, column in (("one task", one, 0), ("two tasks", two, 1)):
        shown = printed(lines, f"{label}, model on measured inputs: ")
        assert (
            shown == f"{choice.seconds:.2f} s, USD {1000 * choice.usd:.3f} / 1,000 runs"
        )
        assert rows["Time per run (s)"][column] == f"{choice.seconds:.2f}"
        assert rows["Cost per 1,000 runs (USD)"][column] == f"{1000 * choice.usd:.3f}"
    even = m.break_even_second_seconds(first, second, handoff, overhead)
    assert printed(
        lines, "break-even, model: two tasks cost less once predict runs "
    ) == (f"{even:.1f} s")
    assert f"once the second step runs {even:.1f} s." in text
    rerun = m.rerun_split(second, handoff, overhead)
    assert printed(
        lines, "re-run, new threshold, two tasks, model on measured inputs: "
    ) == (f"{rerun.seconds:.2f} s")
    assert rows["Re-run of the second step (s)"] == [
        f"{one.seconds:.2f}",
        f"{rerun.seconds:.2f}",
    ]
    repay = m.reruns_to_repay(first, second, handoff, overhead)
    assert printed(
        lines, "re-runs of predict alone to repay the extra pod start, " "measured: "
    ) == str(repay)
    assert f"repaid after {repay} such re-run" in text
    # The requests are the compiled ones the example printed.
    assert f"cpu={first.cpu:g}" in printed(lines, "train, compiled requests: ")
    assert f"cpu={second.cpu:g}" in printed(lines, "predict, compiled requests: ")


# --------------------------------------------------------------------------------------
# One model, two languages: the grids.


@pytest.fixture(scope="module")
def model_page(browser, base_url):
    """One page per guide for the grids: its script's model functions, called
    directly."""
    context = browser.new_context()
    pages = {}
    errors: list[str] = []
    try:
        for guide in GUIDES:
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_url(base_url, guide), wait_until="load")
            page.wait_for_function("() => window.flyteCalculators !== undefined")
            pages[guide] = page
        yield pages
        assert errors == []
    finally:
        context.close()


def test_number_formatting_is_pythons(model_page):
    """The calculator shows numbers as the examples print them: format(x, ",.Nf"), ties
    rounded to even on the exact binary value (toFixed would round 0.125 up)."""
    values = [
        0,
        0.5,
        1.5,
        2.5,
        0.125,
        0.375,
        7.25,
        7.35,
        1e6 + 0.5,
        1234567.891,
        0.0049999,
        0.0005,
        2 / 3,
        1e-9,
        999.9995,
        99.95,
        1e15 + 0.25,
        123456789012.345,
        -2.5,
        -0.001,
    ]
    cases = [[x, d] for x in values for d in range(4)]
    got = model_page["parallelism"].evaluate(
        "cases => cases.map(([x, d]) => flyteCalculators.fixed(x, d))", cases
    )
    assert got == [format(x, f",.{d}f") for x, d in cases]


def parallelism_grid():
    typical = itertools.product(
        [1, 7, 1000, 2_000_000],
        [1e-6, 0.02, 2.0],
        [0.0, 30.0],
        [1, 100, 1000],
        [2.5, 50.0, 1e6],
    )
    extreme = [  # the calculator's bounds
        (1_000_000_000, 86_400.0, 86_400.0, 1_000_000, 1e-6),
        (1_000_000_000, 1e-6, 0.0, 1_000_000, 1e6),
        (1, 1e-6, 86_400.0, 1_000_000, 1e-6),
        (999_999_937, 0.003, 12.5, 999_983, 0.75),
    ]
    return [
        dict(
            zip(
                [
                    "items",
                    "seconds_per_item",
                    "start_up_s",
                    "concurrency",
                    "launch_rate_per_s",
                ],
                case,
            )
        )
        for case in [*typical, *extreme]
    ]


def numbers(value):
    """``value`` with every number a float. Playwright hands over a whole-valued
    JavaScript number as an int parsed from its shortest decimal form
    (2.805558603511111e16 becomes 28055586035111110, not the double's
    28055586035111112); float() gets the double back."""
    if isinstance(value, (list, tuple)):
        return [numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: numbers(v) for k, v in value.items()}
    return (
        float(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool)
        else value
    )


def test_parallelism_model_agrees_exactly_on_the_grid(model_page, examples):
    m = examples["parallelism"]
    cases = []
    for inputs in parallelism_grid():
        use, fastest = m.batch_size_to_use(**inputs), m.fastest_batch_size(**inputs)
        items = inputs["items"]
        batches = sorted({1, 3, max(1, items // 3), items, use, fastest})
        cases.append(
            (
                inputs,
                batches,
                {
                    "use": use,
                    "fastest": fastest,
                    "describe": [m.describe(b, inputs) for b in (use, fastest)],
                    "rows": [
                        [
                            m.tasks_for(items, b),
                            m.wall_time_s(batch_size=b, **inputs),
                            m.pod_minutes(
                                items,
                                b,
                                inputs["seconds_per_item"],
                                inputs["start_up_s"],
                            ),
                        ]
                        for b in batches
                    ],
                },
            )
        )
    got = model_page["parallelism"].evaluate(
        """cases => cases.map(([v, batches]) => {
      const m = flyteCalculators.models.parallelism;
      const args = [v.items, v.seconds_per_item, v.start_up_s, v.concurrency,
                    v.launch_rate_per_s];
      const use = m.batch_size_to_use(...args), fastest = m.fastest_batch_size(...args);
      return {use, fastest, describe: [use, fastest].map(b => m.describe(b, v)),
              rows: batches.map(b => [m.tasks_for(v.items, b),
                                      m.wall_time_s(v.items, b, ...args.slice(1)),
                                      m.pod_minutes(v.items, b, v.seconds_per_item,
                                                    v.start_up_s)])};
    })""",
        [[inputs, batches] for inputs, batches, _ in cases],
    )
    mismatches = [
        (inputs, want, have)
        for (inputs, _, want), have in zip(cases, got)
        if numbers(want) != numbers(have)
    ]
    assert len(got) == len(cases) == 4 * 3 * 2 * 3 * 3 + 4
    assert mismatches == []


def interruptible_stage_sets(m):
    S = m.Stage
    return {
        "example": list(m.PIPELINE),
        "one empty stage": [S("only", 0, True)],
        "one longest stage": [S("long", 10_000, True)],
        "mixed": [S("a", 0.5, True), S("b", 600, False), S("c", 30, True)],
        "eight": [S(f"s{i}", 7.5 * i, i % 3 != 0) for i in range(8)],
        "all on demand": [S("x", 60, False), S("y", 30, False)],
    }


def close(a, b) -> bool:
    if isinstance(a, float) and math.isinf(a):
        return a == b
    return math.isclose(a, b, rel_tol=RELATIVE, abs_tol=1e-300)


def test_interruptible_model_agrees_on_the_grid(model_page, examples):
    m = examples["interruptible"]
    stage_sets = {
        k: [dataclasses.asdict(s) for s in v]
        for k, v in interruptible_stage_sets(m).items()
    }
    spot_cases = list(
        itertools.product(
            stage_sets,
            [0.0, 0.3, 1.0],
            [0.0, 1e-6, m.PREEMPTIONS_PER_HOUR, 0.5, 1000.0],
            [0, 1, 3, 20],
            [0.0, 1.0, 600.0],
        )
    )
    even_cases = list(
        itertools.product(
            stage_sets, [0.0, 0.3, 0.97, 1.0], [0, 1, 3, 20], [0.0, 1.0, 600.0]
        )
    )
    got = model_page["interruptible"].evaluate(
        """([sets, spot, even]) => {
      const m = flyteCalculators.models.interruptible;
      const est = e => [e.cost, e.hours];
      return {
        spot: spot.map(([k, ratio, rate, attempts, overhead]) =>
          [false, true].map(fine =>
          est(m.on_spot(sets[k], {fine_grained: fine, spot_price_ratio: ratio,
                                  preemptions_per_hour: rate, spot_attempts: attempts,
                                  overhead_minutes: overhead}))
          .concat(est(m.on_demand(sets[k], {fine_grained: fine,
                                            overhead_minutes: overhead}))))),
        even: even.map(([k, ratio, attempts, overhead]) => [false, true].map(fine =>
          m.break_even_rate(sets[k], {fine_grained: fine, spot_price_ratio: ratio,
                                      spot_attempts: attempts,
                                      overhead_minutes: overhead}))),
      };
    }""",
        [stage_sets, spot_cases, even_cases],
    )
    stages = interruptible_stage_sets(m)
    problems = []
    for (k, ratio, rate, attempts, overhead), have in zip(spot_cases, got["spot"]):
        for fine, pair in zip((False, True), have):
            spot = m.on_spot(
                stages[k],
                fine_grained=fine,
                spot_price_ratio=ratio,
                preemptions_per_hour=rate,
                spot_attempts=attempts,
                overhead_minutes=overhead,
            )
            demand = m.on_demand(
                stages[k], fine_grained=fine, overhead_minutes=overhead
            )
            want = [spot.cost, spot.hours, demand.cost, demand.hours]
            if not all(map(close, want, pair)):
                problems.append((k, ratio, rate, attempts, overhead, fine, want, pair))
    for (k, ratio, attempts, overhead), have in zip(even_cases, got["even"]):
        for fine, rate in zip((False, True), have):
            want = m.break_even_rate(
                stages[k],
                fine_grained=fine,
                spot_price_ratio=ratio,
                spot_attempts=attempts,
                overhead_minutes=overhead,
            )
            if not close(want, rate):
                problems.append((k, ratio, attempts, overhead, fine, want, rate))
    assert len(got["spot"]) == len(spot_cases) > 1000
    # The grid reaches every kind of break-even: never, a rate, and beyond the bound.
    evens = [r for pair in got["even"] for r in pair]
    assert 0 in evens and math.inf in evens and any(0 < r < math.inf for r in evens)
    assert problems == []


@pytest.mark.parametrize(
    "override, message",
    [
        ({"stages": []}, "stages must not be empty"),
        ({"minutes": -1}, "minutes must be between 0 and 10000"),
        ({"minutes": 10_001}, "minutes must be between 0 and 10000"),
        ({"spot_price_ratio": 1.5}, "spot_price_ratio must be between 0 and 1"),
        (
            {"preemptions_per_hour": 1001},
            "preemptions_per_hour must be between 0 and 1000",
        ),
        ({"spot_attempts": 21}, "spot_attempts must be between 0 and 20"),
        ({"spot_attempts": 2.5}, "spot_attempts must be a whole number"),
        ({"overhead_minutes": -0.5}, "overhead_minutes must be between 0 and 600"),
    ],
)
def test_interruptible_model_rejects_what_the_python_rejects(
    model_page, examples, override, message
):
    m = examples["interruptible"]
    stages = [m.Stage("one", override.pop("minutes", 10), True)]
    stages = override.pop("stages", stages)
    inputs = {
        "spot_price_ratio": 0.3,
        "preemptions_per_hour": 0.01,
        "spot_attempts": 3,
        "overhead_minutes": 1.0,
        **override,
    }
    with pytest.raises(ValueError, match=re.escape(message)):
        m.on_spot(stages, fine_grained=True, **inputs)
    thrown = model_page["interruptible"].evaluate(
        """([stages, inputs]) => {
      try { flyteCalculators.models.interruptible.on_spot(
              stages, {fine_grained: true, ...inputs}); return null; }
      catch (error) { return error.message; }
    }""",
        [[dataclasses.asdict(s) for s in stages], inputs],
    )
    assert thrown is not None and message in thrown


def test_decomposition_model_agrees_exactly_on_the_grid(model_page, examples):
    m = examples["decomposition"]
    steps = [
        m.Step(0.0, 0.001, 0.001),
        m.Step(0.05, 1, 0.5),
        m.Step(30.0, 2, 1.0),
        m.Step(3600.0, 16, 1.0),
        m.Step(20.0, 1, 64.0),
        m.Step(1e6, 1000, 1e5),
    ]
    overheads = [
        m.Overhead(),
        m.Overhead(0.0, 1e6, 0.0, 0.0),
        m.Overhead(86_400.0, 0.001, 1000.0, 1000.0),
        m.Overhead(5.0, 85.0, 0.04, 0.0),
    ]
    cases = list(itertools.product(steps, steps, [0.0, 4.3e6, 1e15], overheads))
    want = []
    for first, second, handoff, overhead in cases:
        one, two = m.keep_together(first, second, overhead), m.split(
            first, second, handoff, overhead
        )
        rerun = m.rerun_split(second, handoff, overhead)
        want.append(
            [
                one.seconds,
                one.usd,
                two.seconds,
                two.usd,
                rerun.seconds,
                rerun.usd,
                m.break_even_second_seconds(first, second, handoff, overhead),
                m.reruns_to_repay(first, second, handoff, overhead),
                m.usd_per_second(first.cpu, first.memory_gib, overhead),
                m.transfer_seconds(handoff, overhead),
            ]
        )
    got = model_page["decomposition"].evaluate(
        """cases => cases.map(([a, b, bytes, o]) => {
      const m = flyteCalculators.models.decomposition;
      const one = m.keep_together(a, b, o), two = m.split(a, b, bytes, o);
      const rerun = m.rerun_split(b, bytes, o);
      return [one.seconds, one.usd, two.seconds, two.usd, rerun.seconds, rerun.usd,
              m.break_even_second_seconds(a, b, bytes, o),
              m.reruns_to_repay(a, b, bytes, o),
              m.usd_per_second(a.cpu, a.memory_gib, o), m.transfer_seconds(bytes, o)];
    })""",
        [
            [dataclasses.asdict(a), dataclasses.asdict(b), h, dataclasses.asdict(o)]
            for a, b, h, o in cases
        ],
    )
    assert len(got) == len(cases) == 6 * 6 * 3 * 4
    # Every branch is on the grid: no break-even, one at 0, a positive one; no repay.
    evens, repays = [w[6] for w in want], [w[7] for w in want]
    assert None in evens and 0.0 in evens and any(e and e > 0 for e in evens)
    assert None in repays and any(r for r in repays)
    differ = [
        (c, w, g) for c, w, g in zip(cases, want, got) if numbers(w) != numbers(g)
    ]
    assert differ == [], "\n".join(map(str, differ[:3]))


# --------------------------------------------------------------------------------------
# Points driven through the form, read as the reader sees them.


@pytest.mark.parametrize(
    "inputs",
    [
        dict(
            items=1000,
            seconds_per_item=0.5,
            start_up_s=60.0,
            concurrency=7,
            launch_rate_per_s=2.5,
        ),
        dict(
            items=2_000_000,
            seconds_per_item=0.02,
            start_up_s=30.0,
            concurrency=1000,
            launch_rate_per_s=50.0,
        ),
        dict(
            items=10,
            seconds_per_item=0.1,
            start_up_s=30.0,
            concurrency=100,
            launch_rate_per_s=50.0,
        ),
    ],
)
def test_parallelism_form_shows_what_the_python_model_says(
    browser, base_url, examples, inputs
):
    m = examples["parallelism"]
    with opened(browser, base_url, "parallelism") as page:
        for key, value in inputs.items():
            field(page, key).fill(f"{value:g}")
        use, fastest = m.batch_size_to_use(**inputs), m.fastest_batch_size(**inputs)
        lines = summary(page)
        assert lines[0] == f"Use: {m.describe(use, inputs)}."
        if use != fastest:
            assert lines[1].startswith(f"Fastest: {m.describe(fastest, inputs)}")
        rows = {row[0].split(" ")[0]: row for row in table_rows(page)}
        for b in (1, use, fastest, inputs["items"]):
            tasks = m.tasks_for(inputs["items"], b)
            wall = m.wall_time_s(batch_size=b, **inputs) / 60
            pods = m.pod_minutes(
                inputs["items"], b, inputs["seconds_per_item"], inputs["start_up_s"]
            )
            note = f"{tasks:,} task{'s' if tasks != 1 else ''}"
            assert rows[f"{b:,}"][0].startswith(f"{b:,} {note}")
            assert rows[f"{b:,}"][1:] == [f"{wall:,.1f}", f"{pods:,.0f}"]
        assert page.locator("svg.calc-chart path.calc-line").count() == 2


def test_interruptible_form_shows_what_the_python_model_says(
    browser, base_url, examples
):
    """Remove a stage, add one on demand, pick a preset rate, change the retry
    budget."""
    m = examples["interruptible"]
    with opened(browser, base_url, "interruptible") as page:
        page.get_by_role("button", name="Remove publish").click()
        page.get_by_role("button", name="Add a stage").click()
        field(page, "stage-4").fill("45")
        page.get_by_label("on spot (stage 4)").uncheck()
        page.locator("select").select_option(label="AWS band <5% a month")
        field(page, "spot_attempts").fill("1")
        field(page, "overhead_minutes").fill("2.5")
        field(page, "spot_price_ratio").fill("0.45")
        stages = [*m.PIPELINE[:3], m.Stage("stage 4", 45, False)]
        inputs = dict(spot_price_ratio=0.45, spot_attempts=1, overhead_minutes=2.5)
        rate = m.rate_from_monthly_fraction(m.AWS_ADVISOR_BANDS["<5%"])
        rows = {row[0]: row[1:] for row in table_rows(page)}
        for column, fine in enumerate((False, True)):
            spot = m.on_spot(
                stages, fine_grained=fine, preemptions_per_hour=rate, **inputs
            )
            demand = m.on_demand(stages, fine_grained=fine, overhead_minutes=2.5)
            even = m.break_even_rate(stages, fine_grained=fine, **inputs)
            assert rows["Cost on spot (node-hours)"][column] == f"{spot.cost:.2f}"
            assert rows["Cost on demand (node-hours)"][column] == f"{demand.cost:.2f}"
            assert rows["Time on spot (h)"][column] == f"{spot.hours:.2f}"
            assert rows["Time on demand (h)"][column] == f"{demand.hours:.2f}"
            assert rows["Break-even rate (per node-hour)"][column] == (
                f"{even:.2f} one every {60 / even:.0f} min"
            )
        chosen = page.evaluate(
            "() => flyteCalculators.instances.interruptible.values()"
        )
        # A preset stands for its band's exact rate, not the rounded text in the field.
        assert chosen["preemptions_per_hour"] == rate


def test_decomposition_form_shows_what_the_python_model_says(
    browser, base_url, examples
):
    m = examples["decomposition"]
    texts = dict(
        first_seconds="1200",
        first_cpu="8",
        first_memory_gib="32",
        second_seconds="300",
        second_cpu="1",
        second_memory_gib="2",
        handoff_mb="250",
        pod_start_s="40",
        transfer_mb_per_s="60",
        usd_per_cpu_hour="0.05",
        usd_per_gib_hour="0.006",
    )
    first, second = m.Step(1200.0, 8, 32.0), m.Step(300.0, 1, 2.0)
    overhead, handoff = m.Overhead(40.0, 60.0, 0.05, 0.006), 250 * 1e6
    with opened(browser, base_url, "decomposition") as page:
        for key, text in texts.items():
            field(page, key).fill(text)
        rows = {row[0]: row[1:] for row in table_rows(page)}
        lines = summary(page)
    one, two = m.keep_together(first, second, overhead), m.split(
        first, second, handoff, overhead
    )
    rerun = m.rerun_split(second, handoff, overhead)
    assert rows["Time per run (s)"] == [f"{one.seconds:,.2f}", f"{two.seconds:,.2f}"]
    assert rows["Cost per 1,000 runs (USD)"] == [
        f"{1000 * one.usd:,.3f}",
        f"{1000 * two.usd:,.3f}",
    ]
    assert rows["Re-run of the second step (s)"] == [
        f"{one.seconds:,.2f}",
        f"{rerun.seconds:,.2f}",
    ]
    assert lines[0].startswith(
        "Per run, split:" if two.usd < one.usd else "Per run, keep together:"
    )
    even = m.break_even_second_seconds(first, second, handoff, overhead)
    assert f"runs {even:,.1f} s." in lines[1]
    repay = m.reruns_to_repay(first, second, handoff, overhead)
    assert f"repaid after {repay:,} such re-run" in lines[2]


# --------------------------------------------------------------------------------------
# Bad input: a message next to the field, never NaN or a frozen page.

BAD = [  # (guide, field, text, words the message must contain)
    ("parallelism", "items", "", "Enter a number"),
    ("parallelism", "items", "-5", "at least 1"),
    ("parallelism", "items", "1.5", "whole number"),
    ("parallelism", "items", "abc", "Not a number"),
    ("parallelism", "items", "2,000", "without commas"),
    ("parallelism", "items", "1e10", "at most 1,000,000,000"),
    ("parallelism", "items", "1e400", "at most 1,000,000,000"),
    ("parallelism", "seconds_per_item", "0", "more than 0"),
    ("parallelism", "seconds_per_item", "-0.1", "more than 0"),
    ("parallelism", "launch_rate_per_s", "0", "more than 0"),
    ("parallelism", "concurrency", "0", "at least 1"),
    ("parallelism", "concurrency", "1e7", "at most 1,000,000"),
    ("parallelism", "start_up_s", "0x10", "Not a number"),
    ("interruptible", "stage-0", "-1", "at least 0"),
    ("interruptible", "stage-1", "10001", "at most 10,000"),
    ("interruptible", "spot_price_ratio", "1.5", "at most 1"),
    ("interruptible", "preemptions_per_hour", "1001", "at most 1,000"),
    ("interruptible", "spot_attempts", "2.5", "whole number"),
    ("interruptible", "spot_attempts", "21", "at most 20"),
    ("interruptible", "overhead_minutes", "NaN", "Not a number"),
    ("decomposition", "transfer_mb_per_s", "0", "more than 0"),
    ("decomposition", "first_cpu", "0", "more than 0"),
    ("decomposition", "handoff_mb", "1e10", "at most 1,000,000,000"),
    ("decomposition", "pod_start_s", "-1", "at least 0"),
    ("decomposition", "usd_per_gib_hour", "Infinity", "Not a number"),
    ("decomposition", "second_seconds", " ", "Enter a number"),
]

NO_BROKEN_NUMBERS_JS = """() => {
  const text = document.querySelector('.calculator-app').innerText;
  return (text.match(/NaN|Infinity|undefined|null/g) || []);
}"""


@pytest.mark.parametrize("guide", GUIDES)
def test_bad_input_gets_a_message_next_to_its_field_and_no_result(
    browser, base_url, guide
):
    cases = [case for case in BAD if case[0] == guide]
    with opened(browser, base_url, guide) as page:
        for _, key, text, words in cases:
            box = field(page, key)
            good = box.input_value()
            box.fill(text)
            assert box.get_attribute("aria-invalid") == "true", (key, text)
            message = page.locator(f"#{box.get_attribute('aria-describedby')}")
            assert words in message.inner_text(), (key, text, message.inner_text())
            assert message.is_visible()
            assert summary(page)[0].startswith(
                "No result until every field holds a valid"
            )
            assert (
                page.locator(".calc-table").count() == 0
            ), "a stale result is still shown"
            assert page.evaluate(NO_BROKEN_NUMBERS_JS) == []
            box.fill(good)
            assert box.get_attribute("aria-invalid") is None
            assert message.inner_text() == ""
            assert page.locator(".calc-table").count() == 1


@pytest.mark.parametrize(
    "guide, texts",
    [
        (
            "parallelism",
            dict(
                items="1e9",
                seconds_per_item="86400",
                start_up_s="86400",
                concurrency="1e6",
                launch_rate_per_s="0.000001",
            ),
        ),
        (
            "parallelism",
            dict(
                items="1e9",
                seconds_per_item="0.000001",
                start_up_s="0",
                concurrency="1e6",
                launch_rate_per_s="1e6",
            ),
        ),
        (
            "interruptible",
            {
                "stage-0": "10000",
                "stage-1": "10000",
                "stage-2": "0",
                "spot_price_ratio": "0",
                "preemptions_per_hour": "1000",
                "spot_attempts": "20",
                "overhead_minutes": "600",
            },
        ),
        (
            "decomposition",
            dict(
                first_seconds="1e6",
                first_cpu="1000",
                first_memory_gib="1e5",
                second_seconds="0",
                second_cpu="0.001",
                second_memory_gib="0.001",
                handoff_mb="1e9",
                pod_start_s="86400",
                transfer_mb_per_s="0.001",
                usd_per_cpu_hour="1000",
                usd_per_gib_hour="1000",
            ),
        ),
    ],
)
def test_the_largest_inputs_allowed_still_give_a_finite_result(
    browser, base_url, guide, texts
):
    """Inputs at the calculator's bounds: the page answers (it does not freeze) with
    finite numbers."""
    with opened(browser, base_url, guide) as page:
        for key, text in texts.items():
            field(page, key).fill(text)
        page.wait_for_function(
            "() => document.querySelector('.calc-table')", timeout=10_000
        )
        assert not summary(page)[0].startswith("No result"), summary(page)
        assert page.evaluate(NO_BROKEN_NUMBERS_JS) == []


# --------------------------------------------------------------------------------------
# Sharing: the inputs live in the URL.


def test_a_shared_url_reopens_the_same_filled_in_calculator(browser, base_url):
    with opened(browser, base_url, "interruptible", query="?from=a-colleague") as page:
        page.get_by_role("button", name="Remove train").click()
        page.get_by_role("button", name="Add a stage").click()
        field(page, "stage-4").fill("33")
        page.get_by_label("on spot (evaluate)").uncheck()
        field(page, "spot_attempts").fill("5")
        field(page, "preemptions_per_hour").fill("0.02")
        settle(page)
        url = page.url
        fields_before = page.evaluate(
            "() => [...document.querySelectorAll('.calculator-app input')].map("
            "i => i.type === 'checkbox' ? i.checked : i.value)"
        )
        results_before = summary(page), table_rows(page)
    assert "from=a-colleague" in url, "a parameter that is not the calculator's stays"
    assert url.endswith("#interruptible-calculator")
    assert "stage=evaluate:15:demand" in url and "stage=stage+4:33:spot" in url
    with opened(
        browser,
        base_url,
        "interruptible",
        open_it=False,
        query=url.split("interruptible.html", 1)[1],
    ) as shared:
        assert (
            shared.locator("#interruptible-calculator").get_attribute("open")
            is not None
        )
        shared.wait_for_function("() => document.querySelector('.calc-table')")
        fields_after = shared.evaluate(
            "() => [...document.querySelectorAll('.calculator-app input')].map("
            "i => i.type === 'checkbox' ? i.checked : i.value)"
        )
        assert fields_after == fields_before
        assert (summary(shared), table_rows(shared)) == results_before


@pytest.mark.parametrize(
    "guide, key, text",
    [
        ("parallelism", "concurrency", "250"),
        ("decomposition", "second_seconds", "42.5"),
    ],
)
def test_every_calculator_reads_its_inputs_back_from_the_url(
    browser, base_url, guide, key, text
):
    with opened(browser, base_url, guide) as page:
        field(page, key).fill(text)
        settle(page)
        query = page.url.split(f"{guide}.html", 1)[1]
        before = summary(page)
    assert f"{key}={text}" in query
    with opened(browser, base_url, guide, query=query, open_it=False) as shared:
        shared.wait_for_function("() => document.querySelector('.calc-table')")
        assert field(shared, key).input_value() == text
        assert summary(shared) == before


def test_a_bad_shared_url_shows_messages_and_builds_no_markup(browser, base_url):
    """What a URL holds is text in the fields, never HTML: a stage name that is not a
    plain name is replaced, a bad number is reported next to its field."""
    query = (
        "?stage=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E:5:spot&stage=train:abc:spot"
        "&spot_attempts=-2"
    )
    with opened(browser, base_url, "interruptible", query=query, open_it=False) as page:
        assert page.locator(".calculator-app img").count() == 0
        labels = page.locator(".calc-stage .calc-field label").all_inner_texts()
        assert labels == ["stage 1 (min)", "train (min)"]
        assert page.get_by_label("stage 1 (min)").input_value() == "5"
        assert page.get_by_label("train (min)").get_attribute("aria-invalid") == "true"
        assert field(page, "spot_attempts").get_attribute("aria-invalid") == "true"
        assert summary(page)[0].startswith("No result")


# --------------------------------------------------------------------------------------
# Accessible, readable, usable without a mouse or without JavaScript.


def axe_violations(page, theme: str) -> list[str]:
    from axe_playwright_python.base import (
        AXE_SCRIPT,
    )  # as tests/test_browser.py uses it

    page.evaluate(AXE_SCRIPT)
    page.evaluate(f"() => {{ document.body.dataset.theme = '{theme}'; }}")
    page.wait_for_timeout(100)
    result = page.evaluate(
        "() => axe.run(document.querySelector('details.calculator'), "
        "{resultTypes: ['violations']})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']}: "
        + "; ".join(" ".join(n["target"]) for n in v["nodes"][:4])
        for v in result["violations"]
    ]


FILLED = {
    "parallelism": {"items": "50000", "seconds_per_item": "0.3", "concurrency": "bad"},
    "interruptible": {"stage-0": "40", "spot_attempts": "1", "overhead_minutes": "-3"},
    "decomposition": {"first_seconds": "90", "handoff_mb": "800", "pod_start_s": "x"},
}


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("guide", GUIDES)
def test_filled_in_calculator_passes_axe(browser, base_url, guide, theme):
    """Every axe rule, on the calculator with the reader's numbers in it, results shown
    and then with one field invalid (its message shown), in each theme."""
    with opened(browser, base_url, guide, color_scheme=theme) as page:
        *valid, (bad_key, bad_text) = FILLED[guide].items()
        for key, text in valid:
            field(page, key).fill(text)
        assert axe_violations(page, theme) == []
        field(page, bad_key).fill(bad_text)
        assert field(page, bad_key).get_attribute("aria-invalid") == "true"
        assert axe_violations(page, theme) == []


@pytest.mark.parametrize("guide", GUIDES)
def test_every_field_has_a_label_with_its_unit_and_results_are_announced(
    browser, base_url, guide
):
    with opened(browser, base_url, guide) as page:
        labels = page.evaluate("""() => [...document.querySelectorAll(
            '.calculator-app input:not([type=checkbox]), .calculator-app select')]
            .map(i => i.labels.length ? i.labels[0].innerText : '')""")
        assert labels and all(labels), labels
        units = [label for label in labels if not re.search(r"\(.+\)", label)]
        assert units == [], "a field without its unit in the label"
        live = page.locator(".calc-summary")
        assert live.get_attribute("aria-live") == "polite"
        before = live.inner_text()
        field(
            page,
            page.locator(".calculator-app input[name]").first.get_attribute("name"),
        ).fill("3")
        assert live.inner_text() != before, "the announced region did not change"


def test_keyboard_alone_opens_fills_and_extends_the_calculator(browser, base_url):
    with opened(browser, base_url, "interruptible", open_it=False) as page:
        page.locator("#interruptible-calculator > summary").focus()
        page.keyboard.press("Enter")
        assert (
            page.locator("#interruptible-calculator").get_attribute("open") is not None
        )
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.name") == "stage-0"
        page.keyboard.press("Control+A")
        page.keyboard.type("30")
        page.keyboard.press("Tab")  # the stage's "on spot" checkbox
        page.keyboard.press("Space")
        assert not page.get_by_label("on spot (featurize)").is_checked()
        add = page.get_by_role("button", name="Add a stage")
        add.focus()
        page.keyboard.press("Enter")
        assert page.locator(".calc-stage").count() == 5
        assert page.evaluate("() => document.activeElement.name") == "stage-4"
        values = page.evaluate(
            "() => flyteCalculators.instances.interruptible.values()"
        )
        assert values["stages"][0] == {
            "name": "featurize",
            "minutes": 30,
            "interruptible": False,
        }


# Everything stays inside the article's column, and the page does not scroll sideways.
FITS_JS = """() => {
  const article = document.querySelector('article').getBoundingClientRect();
  const out = [...document.querySelectorAll('details.calculator *')]
    .filter(el => el.getBoundingClientRect().width > 0)
    .filter(el => el.getBoundingClientRect().right > article.right + 1)
    .map(el => el.tagName + '.' + el.className);
  const wide = [...document.querySelectorAll('.calc-table-wrap')]
    .filter(w => w.scrollWidth > w.clientWidth + 1).length;
  return {out, wide, page: document.documentElement.scrollWidth, window: innerWidth};
}"""


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280px", "390px"])
@pytest.mark.parametrize("guide", GUIDES)
def test_open_calculator_fits_the_column(browser, base_url, guide, viewport):
    with opened(browser, base_url, guide, viewport=viewport) as page:
        found = page.evaluate(FITS_JS)
    assert found["out"] == [] and found["wide"] == 0, found
    assert found["page"] <= found["window"], found


def test_chart_is_drawn_at_the_width_it_is_shown(browser, base_url):
    """Redrawn when the column's width changes, so its text keeps the page's size."""
    with opened(browser, base_url, "parallelism") as page:
        wide = page.evaluate(
            "() => document.querySelector('svg.calc-chart').clientWidth"
        )
        page.set_viewport_size(PHONE)
        page.wait_for_function(
            f"() => document.querySelector('svg.calc-chart')" f".clientWidth < {wide}"
        )
        shown = page.evaluate(
            """() => { const svg = document.querySelector('svg.calc-chart');
          return [svg.clientWidth, Number(svg.getAttribute('width')),
                  svg.parentElement.clientWidth]; }"""
        )
    assert shown[0] == shown[1] <= shown[2], shown


@pytest.mark.parametrize("guide", GUIDES)
def test_without_javascript_the_page_keeps_its_table_and_says_why(
    browser, base_url, guide
):
    with opened(
        browser, base_url, guide, open_it=False, java_script_enabled=False
    ) as page:
        assert page.locator("section#how-to-decide table").is_visible()
        page.locator(f"#{guide}-calculator > summary").click()
        note = page.locator(
            f"#{guide}-calculator noscript p, " f"#{guide}-calculator .calculator-app p"
        ).first
        assert "needs JavaScript" in note.inner_text()


def test_a_closed_calculator_is_built_only_when_it_is_opened(browser, base_url):
    """Building one computes its table and chart: a reader who never opens it does not
    wait for that before the page is ready."""
    with opened(browser, base_url, "parallelism", open_it=False) as page:
        assert page.locator(".calculator-app form").count() == 0
        page.locator("#parallelism-calculator > summary").click()
        page.wait_for_function(
            "() => document.querySelector('.calc-summary')?.textContent.length > 0"
        )
        assert page.locator(".calculator-app form").count() == 1
