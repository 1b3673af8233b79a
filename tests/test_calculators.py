"""The guides' calculators (issues 13, 19): the page's JavaScript computes what the Python
models compute, starts from the models' defaults, says nothing its own table contradicts,
rejects bad input next to the field, shares its inputs through the URL, and is accessible,
in Chromium.

The Python model (``evidence.models``) is the source of truth. The parity grids call the
page's own model functions (``window.flyteCalculators.models``) on typical, edge and
extreme inputs and compare them with the model's functions. Tolerance: the parallelism and decomposition models use only + - * /
ceil min max, which IEEE arithmetic makes identical in both languages when done in the
same order, so they must agree exactly; the interruptible model also calls expm1 and
pow, whose last bit may differ between V8 and glibc, so it must agree to a relative
1e-9. A few points are also driven through the form itself and compared as the reader
sees them, formatted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import math
import random
import re

import pytest

from browser import built_pages
from conftest import ROOT, built_page
from evidence.models import decomposition, interruptible, parallelism
from sweep import DESKTOP, NEXT_FRAME_JS, NO_TRANSITIONS_CSS, PHONE

# One worker holds this module's shared browser fixtures (make test: --dist loadgroup).


GUIDES = ("decomposition", "parallelism", "interruptible")
MODELS = {"parallelism": parallelism, "interruptible": interruptible,
          "decomposition": decomposition}
# The evidence page that prints and draws each model.
EVIDENCE = {
    "parallelism": "auto_evidence/parallelize/parallelize_flyte1_evidence.html",
    "interruptible": "auto_evidence/interruptible/interruptible_flyte1_evidence.html",
    "decomposition": "auto_evidence/decompose/decompose_flyte1_evidence.html",
}
# The interruptible model's tolerance: V8's and glibc's expm1 and pow may differ in the
# last bit.
RELATIVE = 1e-9


@pytest.fixture(scope="module")
def models():
    return MODELS


def page_url(base_url: str, guide: str, query: str = "") -> str:
    return f"{base_url}guides/{guide}.html{query}"


@contextlib.contextmanager
def opened(
    page_pool, base_url, guide, query="", viewport=DESKTOP, open_it=True, **options
):
    """The guide in a page as good as new (``page_pool``), its calculator opened; fails on
    any console error or uncaught exception while the test used it."""
    errors: list[str] = []
    listeners = {"console": lambda m: m.type == "error" and errors.append(m.text),
                 "pageerror": lambda e: errors.append(f"uncaught: {e}")}
    with page_pool.page(on=listeners, viewport=viewport, **options) as page:
        page.goto(page_url(base_url, guide, query), wait_until="load")
        if options.get("java_script_enabled", True):  # calculators.js comes after "load"
            page.wait_for_function("() => window.flyteCalculators !== undefined")
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


# True once the URL holds what every number field of the calculator holds now.
URL_HOLDS_THE_FORM_JS = """() => {
  const params = new URLSearchParams(location.search);
  return [...document.querySelectorAll('.calculator-app input[name]')]
    .filter(i => i.type !== 'checkbox' && !i.name.startsWith('stage-'))
    .every(i => params.get(i.name) === i.value.trim());
}"""


def settle(page):
    """Wait until the URL carries the last edit (the calculator writes it 250 ms after)."""
    page.wait_for_function(URL_HOLDS_THE_FORM_JS)


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
        soup = built_page(site, name)
        scripts = [s for s in soup.select("script[src]") if "calculator" in s["src"]]
        styles = [
            s for s in soup.select("link[href]") if "calculators.css" in s["href"]
        ]
        apps = soup.select(".calculator-app[data-calculator]")
        if scripts or styles or apps:
            loaded[name] = [a["data-calculator"] for a in apps]
            sources = [s["src"].split("?")[0].rsplit("/", 1)[1] for s in scripts]
            # The build's inputs and the loader, deferred: it blocks nothing, and fetches
            # calculators.js only once the page has loaded.
            assert sources == ["calculator-inputs.js"], (name, sources)
            assert all(s.has_attr("defer") for s in scripts), name
            assert len(styles) == 1, name
    assert loaded == {page: [name] for page, name in expected.items()}
    loader = (site.html / "_static" / "calculator-inputs.js").read_text(encoding="utf-8")
    version = hashlib.sha256((ROOT / "_static" / "calculators.js").read_bytes()).hexdigest()
    assert f'"calculators.js?v={version[:8]}"' in loader
    assert (site.html / "_static" / "calculators.js").is_file()


@pytest.mark.parametrize("guide", GUIDES)
def test_calculator_follows_the_decision_table_in_a_dropdown(site, guide):
    """Next to the decision aid it extends, after it, so the first screen keeps the
    verdict and the table; and it links the evidence page's section that defines its
    model."""
    soup = built_page(site, f"guides/{guide}.html")
    section = soup.select_one("section#how-to-decide")
    dropdown = section.select_one(f"details#{guide}-calculator")
    assert dropdown is not None and not dropdown.has_attr("open")
    assert section.select_one("table").sourceline < dropdown.sourceline
    links = [a["href"] for a in dropdown.select("a[href]")]
    page = EVIDENCE[guide].removeprefix("auto_evidence/")
    assert any(h.endswith(f"{page}#{guide}-model") for h in links), links
    assert dropdown.select_one("noscript"), "no word for readers without JavaScript"


# --------------------------------------------------------------------------------------
# How the calculators write numbers, as their tests read them back.


def duration(seconds: float) -> str:
    """The calculator's durations: seconds up to two minutes, minutes up to two hours."""
    if seconds < 120:
        return f"{seconds:,.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:,.1f} min"
    return f"{seconds / 3600:,.1f} h"


def rate_text(x: float) -> str:
    """A preemption rate: two decimals, or two significant digits as JavaScript's
    toExponential(1) writes them (3.1e-4, not Python's 3.1e-04)."""
    if x >= 0.01:
        return f"{x:,.2f}"
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}" if int(exponent) < 0 else f"{mantissa}e+{int(exponent)}"


def break_even_cell(even: float) -> str:
    if even == 0:
        return "0 spot never pays"
    if even == math.inf:
        return f"none not reached by {interruptible.MAX_RATE:,.0f}"
    return f"{rate_text(even)} one every {60 / even:,.0f} min"


# --------------------------------------------------------------------------------------
# First load: the model's defaults, so the calculator says what its evidence page prints.


def test_parallelism_starts_from_the_models_defaults_and_gives_its_answer(
    page_pool, base_url
):
    m, inputs = parallelism, parallelism.DEFAULTS
    with opened(page_pool, base_url, "parallelism") as page:
        for key, value in inputs.items():
            assert float(field(page, key).input_value()) == value, key
        use_line, second = summary(page)
    use, fastest = m.batch_size_to_use(**inputs), m.fastest_batch_size(**inputs)
    assert use_line == f"Use: {m.describe(use, inputs)}."
    assert (second == "That is the fastest batch size.") == (use == fastest)


def test_interruptible_starts_from_the_models_defaults_and_gives_its_answer(
    page_pool, base_url
):
    m = interruptible
    with opened(page_pool, base_url, "interruptible") as page:
        chosen = page.evaluate("() => flyteCalculators.instances.interruptible.values()")
        rows = {row[0]: row[1:] for row in table_rows(page)}
    assert [(s["name"], s["minutes"], s["interruptible"]) for s in chosen["stages"]] == [
        (s.name, s.minutes, s.interruptible) for s in m.PIPELINE]
    assert chosen["preemptions_per_hour"] == m.PREEMPTIONS_PER_HOUR
    for key, value in m.MODEL_INPUTS.items():
        assert chosen[key] == value, key
    for column, fine in enumerate((False, True)):
        spot = m.on_spot(m.PIPELINE, fine_grained=fine,
                         preemptions_per_hour=m.PREEMPTIONS_PER_HOUR, **m.MODEL_INPUTS)
        demand = m.on_demand(m.PIPELINE, fine_grained=fine,
                             overhead_minutes=m.OVERHEAD_MINUTES)
        even = m.break_even_rate(m.PIPELINE, fine_grained=fine, **m.MODEL_INPUTS)
        assert rows["Cost on spot (node-hours)"][column] == f"{spot.cost:,.2f}"
        assert rows["Cost on demand (node-hours)"][column] == f"{demand.cost:,.2f}"
        assert rows["Time on spot (h)"][column] == f"{spot.hours:,.2f}"
        assert rows["Time on demand (h)"][column] == f"{demand.hours:,.2f}"
        assert rows["Break-even rate (per node-hour)"][column] == break_even_cell(even)


def test_decomposition_starts_from_the_models_defaults_and_gives_its_answer(
    page_pool, base_url
):
    """The defaults are the model's sourced scenario: the calculator shows what the model
    computes for it, and says what its table shows."""
    m = decomposition
    with opened(page_pool, base_url, "decomposition") as page:
        inputs = page.evaluate("() => window.calculatorInputs.decomposition")
        rows = {row[0]: row[1:] for row in table_rows(page)}
        lines = summary(page)
    assert inputs == m.calculator_defaults()
    first, second, handoff = m.FIRST, m.SECOND, m.HANDOFF_BYTES
    one, two = m.keep_together(first, second, m.OVERHEAD), m.split(first, second, handoff,
                                                                    m.OVERHEAD)
    rerun = m.rerun_split(second, handoff, m.OVERHEAD)
    assert rows["Time per run"] == [duration(one.seconds), duration(two.seconds)]
    assert rows["Cost per 1,000 runs (USD)"] == [f"{1000 * one.usd:,.2f}",
                                                 f"{1000 * two.usd:,.2f}"]
    assert rows["Re-run, new input for step 2"] == [duration(one.seconds),
                                                    duration(rerun.seconds)]
    assert_decomposition_says_what_its_table_shows(
        dict(first=first, second=second, handoff=handoff, overhead=m.OVERHEAD),
        lines, rows)


# --------------------------------------------------------------------------------------
# One model, two languages: the grids.


@pytest.fixture(scope="module")
def model_page(page_pool, base_url):
    """One page per guide for the grids: its script's model functions, called
    directly."""
    pages = {}
    errors: list[str] = []
    with contextlib.ExitStack() as lent:
        for guide in GUIDES:
            page = lent.enter_context(
                page_pool.page(on={"pageerror": lambda e: errors.append(str(e))}))
            page.goto(page_url(base_url, guide), wait_until="load")
            page.wait_for_function("() => window.flyteCalculators !== undefined")
            pages[guide] = page
        yield pages
        assert errors == []


def test_number_formatting_is_pythons(model_page):
    """The calculator shows numbers as the Python models format them: format(x, ",.Nf"), ties
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


def test_parallelism_model_agrees_exactly_on_the_grid(model_page, models):
    m = models["parallelism"]
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


def test_interruptible_model_agrees_on_the_grid(model_page, models):
    m = models["interruptible"]
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
    model_page, models, override, message
):
    m = models["interruptible"]
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


def test_decomposition_model_agrees_exactly_on_the_grid(model_page, models):
    m = models["decomposition"]
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
                m.break_even_seconds(first, second, handoff, overhead)["first"],
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
              m.usd_per_second(a.cpu, a.memory_gib, o), m.transfer_seconds(bytes, o),
              m.break_even_seconds(a, b, bytes, o).first];
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
    page_pool, base_url, models, inputs
):
    m = models["parallelism"]
    with opened(page_pool, base_url, "parallelism") as page:
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
    page_pool, base_url, models
):
    """Remove a stage, add one on demand, pick a preset rate, change the retry
    budget."""
    m = models["interruptible"]
    with opened(page_pool, base_url, "interruptible") as page:
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
            assert rows["Break-even rate (per node-hour)"][column] == break_even_cell(even)
        chosen = page.evaluate(
            "() => flyteCalculators.instances.interruptible.values()"
        )
        # A preset stands for its band's exact rate, not the rounded text in the field.
        assert chosen["preemptions_per_hour"] == rate


@pytest.mark.parametrize("order", ["large step first", "large step second"])
def test_decomposition_form_shows_what_the_python_model_says(page_pool, base_url, order):
    """Issue 19's case: a short light step and a long heavy one, in either order. Entered
    short-first, the old calculator said the split was cheaper, then that two tasks never
    cost less."""
    m = decomposition
    light, heavy = m.Step(120.0, 2, 4.0), m.Step(1800.0, 8, 32.0)
    first, second = (heavy, light) if order == "large step first" else (light, heavy)
    overhead, handoff = m.Overhead(), 500e6
    texts = dict(first_seconds=f"{first.seconds:g}", first_cpu=f"{first.cpu:g}",
                 first_memory_gib=f"{first.memory_gib:g}",
                 second_seconds=f"{second.seconds:g}", second_cpu=f"{second.cpu:g}",
                 second_memory_gib=f"{second.memory_gib:g}", handoff_mb="500")
    with opened(page_pool, base_url, "decomposition") as page:
        for key, text in texts.items():
            field(page, key).fill(text)
        rows = {row[0]: row[1:] for row in table_rows(page)}
        lines = summary(page)
    one, two = m.keep_together(first, second, overhead), m.split(first, second, handoff,
                                                                  overhead)
    rerun = m.rerun_split(second, handoff, overhead)
    assert rows["Time per run"] == [duration(one.seconds), duration(two.seconds)]
    assert rows["Cost per 1,000 runs (USD)"] == [f"{1000 * one.usd:,.2f}",
                                                 f"{1000 * two.usd:,.2f}"]
    assert rows["Re-run, new input for step 2"] == [duration(one.seconds),
                                                    duration(rerun.seconds)]
    assert two.usd < one.usd and lines[0].startswith("Per run, split:")
    light_step = "step 1" if order == "large step second" else "step 2"
    assert f"once {light_step} runs longer than" in lines[1], lines
    assert not any("never" in line for line in lines), lines
    assert_decomposition_says_what_its_table_shows(
        dict(first=first, second=second, handoff=handoff, overhead=overhead), lines, rows)


# --------------------------------------------------------------------------------------
# Every sentence agrees with the table beside it (issue 19), over a wide grid of inputs.

NUMBER = r"[\d,]+(?:\.\d+)?"


def as_number(text: str) -> float:
    return float(text.replace(",", ""))


def assert_decomposition_says_what_its_table_shows(v: dict, lines: list[str], rows: dict):
    """``v``: first, second (Steps), handoff (bytes), overhead. ``rows``: the table, by row
    header. Each sentence's verdict and numbers against the table's and the model's."""
    m = decomposition
    first, second, handoff, overhead = v["first"], v["second"], v["handoff"], v["overhead"]
    one, two = m.keep_together(first, second, overhead), m.split(first, second, handoff,
                                                                  overhead)
    cost_one, cost_two = rows["Cost per 1,000 runs (USD)"]
    verdict, *middle, rerun_line = lines
    if cost_one == cost_two:
        assert verdict == f"Per run, one task and two tasks cost the same: USD {cost_one} " \
                          "per 1,000 runs.", verdict
    elif as_number(cost_two) < as_number(cost_one):
        assert verdict == f"Per run, split: two tasks cost USD {cost_two} per 1,000 runs, " \
                          f"one task USD {cost_one}.", verdict
    else:
        assert verdict == f"Per run, keep them together: one task costs USD {cost_one} " \
                          f"per 1,000 runs, two tasks USD {cost_two}.", verdict
    split_cheaper = two.usd < one.usd
    evens = m.break_even_seconds(first, second, handoff, overhead)
    expected = []
    for key, name, step in (("first", "step 1", first), ("second", "step 2", second)):
        even = evens[key]
        if even is None:
            continue
        if even == 0:
            expected.append(f"Two tasks cost less however short {name} runs.")
            assert split_cheaper or two.usd == one.usd, (verdict, name)
        else:
            expected.append(f"Two tasks cost less once {name} runs longer than "
                            f"{duration(even)}; it runs {duration(step.seconds)}.")
            if abs(step.seconds - even) > 1e-9 * max(1.0, even):  # off the knife's edge
                assert (step.seconds > even) == split_cheaper, (verdict, name, even)
    if not expected:
        expected = ["Neither step runs on less CPU and memory than the one-task pod needs, "
                    "so two tasks never cost less per run."]
        assert not split_cheaper, verdict
    assert middle == expected
    rerun = m.rerun_split(second, handoff, overhead)
    repay = m.reruns_to_repay(first, second, handoff, overhead)
    time_one, time_rerun = rows["Re-run, new input for step 2"]
    if repay is None:
        assert rerun_line.startswith("A re-run with a new input for step 2 only is not "
                                     "faster as two tasks"), rerun_line
        assert rerun.seconds >= one.seconds
        return
    assert rerun_line.startswith(f"A re-run with a new input for step 2 only takes "
                                 f"{time_rerun} as two tasks (step 1 from the cache) and "
                                 f"{time_one} as one. "), rerun_line
    lost, saved = two.seconds - one.seconds, one.seconds - rerun.seconds
    if repay == 0:
        assert rerun_line.endswith("Two tasks are not slower per run, so there is nothing "
                                   "to repay.") and lost <= 0
    else:
        found = re.search(rf"extra ({NUMBER} (?:s|min|h)) per run is repaid after "
                          rf"({NUMBER}) such re-runs?\.$", rerun_line)
        assert found, rerun_line
        assert found[1] == duration(lost) and as_number(found[2]) == repay
        assert repay * saved >= lost > (repay - 1) * saved


def assert_interruptible_says_what_its_table_shows(v: dict, lines: list[str], rows: dict):
    m = interruptible
    stages = [m.Stage(**s) for s in v["stages"]]
    common = dict(spot_price_ratio=v["spot_price_ratio"], spot_attempts=v["spot_attempts"],
                  overhead_minutes=v["overhead_minutes"])
    shapes = (("the coarse task", False), ("the fine-grained stages", True))
    demands = [m.on_demand(stages, fine_grained=f, overhead_minutes=v["overhead_minutes"])
               for _, f in shapes]
    if all(d.cost == 0 for d in demands):
        assert lines == ["Nothing to run: every stage and the overhead take 0 minutes."]
        return
    share, *evens = lines
    spots = [m.on_spot(stages, fine_grained=f, preemptions_per_hour=v["preemptions_per_hour"],
                       **common) for _, f in shapes]
    percents = [f"{100 * s.cost / d.cost:,.0f}" for s, d in zip(spots, demands)]
    assert share == (f"At this rate, spot costs {percents[0]}% of on demand for the coarse "
                     f"task and {percents[1]}% for the fine-grained stages."), share
    for column, ((shape, fine), sentence) in enumerate(zip(shapes, evens)):
        # The share against the table's own (rounded) costs.
        spot_cell = as_number(rows["Cost on spot (node-hours)"][column])
        demand_cell = as_number(rows["Cost on demand (node-hours)"][column])
        if demand_cell >= 1:
            assert abs(100 * spot_cell / demand_cell - as_number(percents[column])) <= 2
        even = m.break_even_rate(stages, fine_grained=fine, **common)
        cell = rows["Break-even rate (per node-hour)"][column]
        assert cell == break_even_cell(even)
        if even == 0:
            assert sentence == f"Spot never pays for {shape}, at any rate."
        elif even == math.inf:
            assert sentence == (f"Spot pays for {shape} at every rate up to "
                                f"{m.MAX_RATE:,.0f} preemptions per node-hour, the model's "
                                "bound.")
        else:
            assert sentence == (f"Spot stops paying for {shape} above {rate_text(even)} "
                                f"preemptions per node-hour (one every {60 / even:,.0f} "
                                "min).")
            if v["preemptions_per_hour"] < even * (1 - 1e-6):  # below it, spot is cheaper
                assert spots[column].cost < demands[column].cost


def assert_parallelism_says_what_its_table_shows(v: dict, lines: list[str], rows: list):
    m = parallelism
    use, fastest = m.batch_size_to_use(**v), m.fastest_batch_size(**v)
    assert lines[0] == f"Use: {m.describe(use, v)}."
    marked = {row[0].rsplit(", ", 1)[-1]: row for row in rows if row[0].endswith(
        (", use", ", fastest"))}

    def says(row, batch):
        tasks = m.tasks_for(v["items"], batch)
        head = f"{batch:,} {tasks:,} task{'' if tasks == 1 else 's'}"
        wall = m.wall_time_s(batch_size=batch, **v) / 60
        pods = m.pod_minutes(v["items"], batch, v["seconds_per_item"], v["start_up_s"])
        return row[0].startswith(head) and row[1:] == [f"{wall:,.1f}", f"{pods:,.0f}"]

    assert says(marked["use"], use)
    if use == fastest:
        assert lines[1:] == ["That is the fastest batch size."] and "fastest" not in marked
    else:
        assert lines[1].startswith(f"Fastest: {m.describe(fastest, v)}")
        assert says(marked["fastest"], fastest)


# A calculator's compute() on many inputs at once: its sentences and its table's rows.
COMPUTE_JS = """([name, cases]) => cases.map(values => {
  const out = flyteCalculators.calculators[name].compute(values, 0);
  const table = out.details[0];
  const text = cell => [...cell.childNodes].map(n => n.textContent).join(" ");
  const rows = table ? [...table.querySelectorAll("tbody tr")]
    .map(tr => [...tr.children].map(text)) : [];
  return {summary: out.summary, rows};
})"""


def decomposition_cases(rng: random.Random, n: int) -> list[dict]:
    m = decomposition
    cases = []
    for _ in range(n):
        steps = [m.Step(rng.choice([0.0, 1.0]) * 10 ** rng.uniform(-1, 5),
                        rng.choice([0.25, 1, 2, 8, 32, 96]),
                        rng.choice([0.5, 2, 4, 16, 32, 256])) for _ in range(2)]
        overhead = m.Overhead(rng.choice([0.0, 5.0, 30.0]), rng.choice([10.0, 85.0, 500.0]),
                              rng.choice([0.04, 0.0404784, 1.0]),
                              rng.choice([0.0, 0.004773856149504, 0.5]))
        # Megabytes, as the field holds them: both languages multiply by 1e6 the same way.
        megabytes = rng.choice([0.0, 1.0]) * 10 ** rng.uniform(-3, 5)
        for first, second in (steps, steps[::-1]):  # both orders
            cases.append(dict(first=first, second=second, handoff_mb=megabytes,
                              handoff=megabytes * 1e6, overhead=overhead))
    return cases


def interruptible_cases(rng: random.Random, n: int) -> list[dict]:
    cases = []
    for _ in range(n):
        stages = [dict(name=f"stage {i + 1}", minutes=rng.choice([0, 1, 5, 15, 90, 600]),
                       interruptible=rng.random() < 0.7) for i in range(rng.randint(1, 5))]
        cases.append(dict(stages=stages, spot_price_ratio=rng.choice([0.0, 0.1, 0.3, 1.0]),
                          preemptions_per_hour=rng.choice([0.0, 1e-4, 0.01, 0.5, 3.0, 300.0]),
                          spot_attempts=rng.randint(0, 5),
                          overhead_minutes=rng.choice([0.0, 1.0, 10.0])))
    return cases


def parallelism_cases(rng: random.Random, n: int) -> list[dict]:
    return [dict(items=int(10 ** rng.uniform(0, 9)), seconds_per_item=10 ** rng.uniform(-6, 1),
                 start_up_s=rng.choice([0.0, 5.0, 30.0, 300.0]),
                 concurrency=int(10 ** rng.uniform(0, 5)),
                 launch_rate_per_s=10 ** rng.uniform(-2, 3)) for _ in range(n)]


def form_values(name: str, case: dict) -> dict:
    """A case as the calculator's compute() takes it (its field names)."""
    if name != "decomposition":
        return case
    o = case["overhead"]
    return dict(first_seconds=case["first"].seconds, first_cpu=case["first"].cpu,
                first_memory_gib=case["first"].memory_gib,
                second_seconds=case["second"].seconds, second_cpu=case["second"].cpu,
                second_memory_gib=case["second"].memory_gib,
                handoff_mb=case["handoff_mb"], pod_start_s=o.pod_start_s,
                transfer_mb_per_s=o.transfer_mb_per_s, usd_per_cpu_hour=o.usd_per_cpu_hour,
                usd_per_gib_hour=o.usd_per_gib_hour)


@pytest.mark.parametrize("name, cases, check, size", [
    ("decomposition", decomposition_cases, assert_decomposition_says_what_its_table_shows,
     150),
    ("interruptible", interruptible_cases, assert_interruptible_says_what_its_table_shows,
     60),
    ("parallelism", parallelism_cases, assert_parallelism_says_what_its_table_shows, 150),
])
def test_every_sentence_agrees_with_the_table_beside_it(model_page, name, cases, check,
                                                        size):
    """A seeded grid of inputs (both step orders for the decomposition): the calculator in
    the browser says each verdict from the numbers its table shows, and both agree with
    the Python model."""
    grid = cases(random.Random(19), size)
    results = model_page[name].evaluate(COMPUTE_JS, [name, [form_values(name, c) for c in grid]])
    for case, result in zip(grid, results):
        rows = result["rows"]
        if name != "parallelism":
            rows = {row[0]: row[1:] for row in rows}
        check(case, result["summary"], rows)


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
    ("decomposition", "handoff_mb", "1e7", "at most 1,000,000: a terabyte"),
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
    page_pool, base_url, guide
):
    cases = [case for case in BAD if case[0] == guide]
    with opened(page_pool, base_url, guide) as page:
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
                handoff_mb="1e6",
                pod_start_s="86400",
                transfer_mb_per_s="0.001",
                usd_per_cpu_hour="1000",
                usd_per_gib_hour="1000",
            ),
        ),
    ],
)
def test_the_largest_inputs_allowed_still_give_a_finite_result(
    page_pool, base_url, guide, texts
):
    """Inputs at the calculator's bounds: the page answers (it does not freeze) with
    finite numbers."""
    with opened(page_pool, base_url, guide) as page:
        for key, text in texts.items():
            field(page, key).fill(text)
        page.wait_for_function(
            "() => document.querySelector('.calc-table')", timeout=10_000
        )
        assert not summary(page)[0].startswith("No result"), summary(page)
        assert page.evaluate(NO_BROKEN_NUMBERS_JS) == []


# --------------------------------------------------------------------------------------
# Sharing: the inputs live in the URL.


def test_a_shared_url_reopens_the_same_filled_in_calculator(page_pool, base_url):
    with opened(page_pool, base_url, "interruptible", query="?from=a-colleague") as page:
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
        page_pool,
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
    page_pool, base_url, guide, key, text
):
    with opened(page_pool, base_url, guide) as page:
        field(page, key).fill(text)
        settle(page)
        query = page.url.split(f"{guide}.html", 1)[1]
        before = summary(page)
    assert f"{key}={text}" in query
    with opened(page_pool, base_url, guide, query=query, open_it=False) as shared:
        shared.wait_for_function("() => document.querySelector('.calc-table')")
        assert field(shared, key).input_value() == text
        assert summary(shared) == before


def test_a_bad_shared_url_shows_messages_and_builds_no_markup(page_pool, base_url):
    """What a URL holds is text in the fields, never HTML: a stage name that is not a
    plain name is replaced, a bad number is reported next to its field."""
    query = (
        "?stage=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E:5:spot&stage=train:abc:spot"
        "&spot_attempts=-2"
    )
    with opened(page_pool, base_url, "interruptible", query=query, open_it=False) as page:
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
    """Every axe rule's violations, any impact, in the open calculator only: the crawl
    (tests/sweep.py) audits each guide as loaded, this what filling it in changed.
    axe still judges the calculator's colours against the page behind it."""
    from axe_playwright_python.base import AXE_SCRIPT  # as tests/sweep.py uses it

    if not page.evaluate("() => 'axe' in window"):  # once per load of the page
        page.evaluate(AXE_SCRIPT)
        # Colours are judged once they have settled: no transition half-way (a tab label
        # fades over 250 ms), the theme switched, two frames drawn.
        page.add_style_tag(content=NO_TRANSITIONS_CSS)
    page.evaluate(f"() => {{ document.body.dataset.theme = '{theme}'; }}")
    page.evaluate(NEXT_FRAME_JS)
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


@pytest.mark.parametrize("guide", GUIDES)
def test_filled_in_calculator_passes_axe(page_pool, base_url, guide):
    """Every axe rule, on the calculator with the reader's numbers in it, results shown
    and then with one field invalid (its message shown), in each theme."""
    with opened(page_pool, base_url, guide) as page:
        *valid, (bad_key, bad_text) = FILLED[guide].items()
        for key, text in valid:
            field(page, key).fill(text)
        for theme in ("light", "dark"):
            assert axe_violations(page, theme) == [], theme
        field(page, bad_key).fill(bad_text)
        assert field(page, bad_key).get_attribute("aria-invalid") == "true"
        for theme in ("light", "dark"):
            assert axe_violations(page, theme) == [], theme


@pytest.mark.parametrize("guide", GUIDES)
def test_every_field_has_a_label_with_its_unit_and_results_are_announced(
    page_pool, base_url, guide
):
    with opened(page_pool, base_url, guide) as page:
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


def test_keyboard_alone_opens_fills_and_extends_the_calculator(page_pool, base_url):
    with opened(page_pool, base_url, "interruptible", open_it=False) as page:
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
def test_open_calculator_fits_the_column(page_pool, base_url, guide, viewport):
    with opened(page_pool, base_url, guide, viewport=viewport) as page:
        found = page.evaluate(FITS_JS)
    assert found["out"] == [] and found["wide"] == 0, found
    assert found["page"] <= found["window"], found


def test_chart_is_drawn_at_the_width_it_is_shown(page_pool, base_url):
    """Redrawn when the column's width changes, so its text keeps the page's size."""
    with opened(page_pool, base_url, "parallelism") as page:
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
    page_pool, base_url, guide
):
    with opened(
        page_pool, base_url, guide, open_it=False, java_script_enabled=False
    ) as page:
        assert page.locator("section#how-to-decide table").is_visible()
        page.locator(f"#{guide}-calculator > summary").click()
        note = page.locator(
            f"#{guide}-calculator noscript p, " f"#{guide}-calculator .calculator-app p"
        ).first
        assert "needs JavaScript" in note.inner_text()


def test_a_closed_calculator_is_built_only_when_it_is_opened(page_pool, base_url):
    """Building one computes its table and chart: a reader who never opens it does not
    wait for that before the page is ready."""
    with opened(page_pool, base_url, "parallelism", open_it=False) as page:
        assert page.locator(".calculator-app form").count() == 0
        page.locator("#parallelism-calculator > summary").click()
        page.wait_for_function(
            "() => document.querySelector('.calc-summary')?.textContent.length > 0"
        )
        assert page.locator(".calculator-app form").count() == 1
