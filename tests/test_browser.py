"""The built site in a real browser: offline-clean, accessible, fast, no broken links (issue #5).

One strict build of the whole site (the ``site`` fixture) is served on a loopback HTTP server
and opened in Debian's Chromium (its headless shell where installed) through Playwright; one
browser serves the whole session.

Which pages: every ``.html`` file the build wrote, so nothing escapes the checks, and a crawl
from ``index.html`` must reach each of them (so no page is an orphan). genindex.html and
search.html count as reached through the ``<link rel="index">`` and the search ``<form>``
every page carries: that is how readers get to them.
"""

from __future__ import annotations

import colorsys
import re
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup

from browser import SCREENSHOT_PAGES, SCREENSHOT_VIEWPORT
from conftest import LESSONS, ROOT
from sweep import (DESKTOP, GALLERY_SOURCES, MILD_RULES_JS, PHONE, audit, copies_checked,
                   origin)

# The crawl of every page is the session fixture ``crawl`` (tests/sweep.py); the tests that
# use it share one worker (make test: --dist loadgroup).

# Issue #5: the heaviest page's HTML+CSS+JS <= 400 KB. How fast pages load is measured by
# `make bench`, not asserted here: a timing depends on what else the machine is doing.
MAX_PAGE_BYTES = 400 * 1024

# axe-core violations of impact "serious" or "critical" that cannot be fixed in our pages:
# {(rule id, page): why}. Empty: every one found so far was fixed at its root (see conf.py,
# _static/site.css and _static/accessibility.js).
ALLOWED_VIOLATIONS: dict[tuple[str, str], str] = {}

# sphinx-copybutton's prompt rule, from conf.py: only prompt lines are copied, prompts removed.
PROMPT = re.compile(r"^(>>> |\.\.\. |\$ )")


def _local_target(url: str, base_url: str) -> tuple[str, str] | None:
    """(path relative to the site root, fragment) of a URL on the local server, else None."""
    if origin(url) != origin(base_url):
        return None
    parts = urlsplit(url)
    path = unquote(parts.path).lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path, unquote(parts.fragment)


def _failures(crawl, check) -> list[str]:
    return [f"{page}: {problem}" for page, report in crawl.items() for problem in check(page, report)]


def _assert_none(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


# --------------------------------------------------------------------------------------------
# Every page.

def test_every_page_is_reached_from_the_landing_page(crawl, base_url):
    """A crawl over links, <link rel> and the search form reaches every built page."""
    seen, todo = {"index.html"}, ["index.html"]
    while todo:
        report = crawl[todo.pop()]
        urls = [a["href"] for a in report.anchors] + report.forms + [
            r["href"] for r in report.resources if r["rel"] in ("index", "search", "next", "prev")]
        for url in urls:
            target = _local_target(url, base_url)
            if target and target[0] in crawl and target[0] not in seen:
                seen.add(target[0])
                todo.append(target[0])
    # 404.html is what the server sends for a URL that leads nowhere: no link should lead to it.
    _assert_none([f"{page}: built, but no link leads to it"
                  for page in sorted(set(crawl) - seen - {"404.html"})])


def test_no_console_errors(crawl):
    _assert_none(_failures(crawl, lambda page, r: r.console_errors))


def test_no_failed_requests(crawl):
    _assert_none(_failures(crawl, lambda page, r: r.failed_requests))


def test_no_requests_to_other_hosts(crawl, site):
    """Offline-clean and private: nothing is fetched from anywhere but the site itself.

    The browser records what each page loads; a scan of the HTML also catches scripts,
    styles, images and frames from other hosts that a page would load only later.
    """
    _assert_none(_failures(crawl, lambda page, r: r.foreign_requests))
    remote = re.compile(r"^(https?:)?//")
    loaded_by_tag = {"script": "src", "img": "src", "iframe": "src", "source": "src", "link": "href"}
    leaks = []
    for name in crawl:
        soup = BeautifulSoup((site.html / name).read_text(encoding="utf-8"), "html.parser")
        for tag, attr in loaded_by_tag.items():
            for element in soup.find_all(tag):
                url = element.get(attr) or ""
                rel = element.get("rel") or []
                if tag == "link" and not {"stylesheet", "icon", "preload", "modulepreload"} & set(rel):
                    continue  # <link rel="next"> etc. are navigation, not loads
                if remote.match(url):
                    leaks.append(f"{name}: <{tag} {attr}={url}>")
    css_remote = re.compile(r"(?:url\(|@import)\s*['\"]?((?:https?:)?//[^'\")\s]+)")
    for css in site.html.rglob("*.css"):
        for url in css_remote.findall(css.read_text("utf-8")):
            leaks.append(f"{css.relative_to(site.html)}: {url}")
    _assert_none(leaks)


def test_known_offline_problems_are_gone(crawl, site):
    """sphinx-gallery's execution-times page (jQuery/DataTables from CDNs) is not built, and
    every page declares a favicon that loads, so browsers do not ask for a missing /favicon.ico."""
    assert not list(site.html.rglob("sg_execution_times.html"))
    problems = _failures(crawl, lambda page, r: (
        ["declares no <link rel=icon>"] if not r.icons else
        [f"icon {icon['href']}: HTTP {icon['status']} {icon['type']}" for icon in r.icons
         if icon["status"] != 200 or not (icon["type"] or "").startswith("image/")]))
    _assert_none(problems)


def test_internal_links_and_anchors_resolve(crawl, site, base_url):
    def broken(page, report):
        for link in report.anchors + report.resources:
            target = _local_target(link["href"], base_url)
            if target is None:
                continue  # another site: a plain link, never fetched by the pages
            path, fragment = target
            if not (site.html / path).is_file():
                yield f"{link.get('raw') or link['href']} -> {path} does not exist"
            elif fragment and path.endswith(".html") and fragment not in crawl[path].ids:
                yield f"{link.get('raw') or link['href']} -> no id {fragment!r} in {path}"

    _assert_none(_failures(crawl, lambda page, r: list(broken(page, r))))


def test_images_load_and_have_alt_text(crawl):
    def problems(page, report):
        for img in report.images:
            if img["width"] == 0 or img["height"] == 0:
                yield f"{img['src']} did not load"
            if img["alt"] is None:
                yield f"{img['src']} has no alt attribute"
            elif not img["alt"].strip():
                if not img["decorative"]:
                    yield f"{img['src']} has an empty alt"
                elif not img["card_link_name"]:
                    yield f"{img['src']} is a decorative thumbnail, but its card link has no text"

    _assert_none(_failures(crawl, problems))


def test_figure_alt_text_is_not_the_file_name(crawl):
    """sphinx-gallery takes a figure's alt text from its title (suptitle, or the title of a
    single axes) and falls back to the example's file name, which tells a screen-reader user
    nothing. Figures need a title (house style): add one, e.g. ``fig.suptitle(...)``."""
    scripts = [*LESSONS, *(ROOT / "evidence" / "pages").rglob("*.py")]
    stems = {p.stem.replace("_", " ") for p in scripts}

    def problems(page, report):
        for img in report.images:
            if (img["alt"] or "").strip() in stems:
                yield f"{img['src']}: alt is the file name {img['alt']!r}; give the figure a title"

    _assert_none(_failures(crawl, problems))


def test_accessibility_audit(crawl):
    """axe-core, every rule that can find a serious or critical problem, the colour rules
    in the light and the dark theme: no serious or critical violation, unless it is listed
    in ALLOWED_VIOLATIONS with the reason."""
    def problems(page, report):
        for run, violations in report.axe.items():
            for v in violations:
                if (v["id"], page) in ALLOWED_VIOLATIONS:
                    continue
                targets = "; ".join(" ".join(n["target"]) for n in v["nodes"][:5])
                yield f"[{run}] {v['id']} ({v['impact']}): {v['help']}: {targets}"

    _assert_none(_failures(crawl, problems))


def test_colour_audit_still_judges_a_text_whose_colours_changed(page_pool, base_url):
    """The colour rules skip texts that look like ones already judged: a text made hard to
    read, in one theme only, on a page whose texts were all judged before, is still found,
    in that theme and not in the other."""
    colour_runs = ("light", "dark")  # the other rules judge nothing this test asserts
    with page_pool.page(viewport=DESKTOP) as page:
        checked: set[str] = set()
        page.goto(base_url + "guides/caching.html", wait_until="load")
        assert audit(page, checked, colour_runs)["dark"] == []
        page.goto(base_url + "guides/caching.html", wait_until="load")
        page.add_style_tag(content='body[data-theme="dark"] article p { color: #2a2a2a; }')
        found = audit(page, checked, colour_runs)
    assert "color-contrast" in {v["id"] for v in found["dark"]}, found["dark"]
    assert found["light"] == []


def test_structure_audit_skips_only_rules_that_cannot_find_a_serious_problem(page_pool, base_url):
    """The rules left out of the structure run are the mild ones only: on a page with an
    unlabelled image (critical), an unlabelled button (critical) and no level-one heading
    (moderate), the run still reports the first two."""
    with page_pool.page() as page:
        page.goto(base_url + "index.html", wait_until="load")
        page.evaluate("""() => { document.querySelector("article").innerHTML =
            '<h2>No level-one heading</h2><img src="x.png"><button></button>'; }""")
        found = {v["id"] for v in audit(page, set(), ("structure",))["structure"]}
        mild = set(page.evaluate(MILD_RULES_JS))
    assert {"image-alt", "button-name"} <= found, found
    assert "page-has-heading-one" in mild and not {"image-alt", "button-name"} & mild, mild


def test_pages_stay_light(crawl):
    """Every page: HTML + CSS + JS, as a cold load downloads them, <= 400 KB (images excluded)."""
    _assert_none([f"{page}: {r.html_css_js_bytes / 1024:.1f} KB" for page, r in crawl.items()
                  if r.html_css_js_bytes > MAX_PAGE_BYTES])


# --------------------------------------------------------------------------------------------
# The site as a whole.

# The lesson a reader searching for "cache" should find.
CACHING_LESSON = ROOT / "examples" / "cache" / "rerun_with_caching.py"
CACHING_LESSON_PAGE = "auto_examples/cache/rerun_with_caching.html"


@pytest.fixture(scope="module")
def cache_search_results(page_pool, base_url) -> list[str]:
    with page_pool.page() as page:
        page.goto(base_url + "search.html?q=cache")
        page.wait_for_function(
            "() => /Search finished|did not match/.test("
            "document.querySelector('#search-results .search-summary')?.textContent || '')",
            timeout=15000)
        hrefs = page.eval_on_selector_all("#search-results ul.search li a", "as => as.map(a => a.href)")
    return [_local_target(h, base_url)[0] for h in hrefs if _local_target(h, base_url)]


@pytest.mark.parametrize("kind", ["guide", "example"])
def test_search_for_cache_lists_the_caching_pages(kind, cache_search_results, site):
    if kind == "guide":
        assert (ROOT / "guides" / "caching.md").is_file()
        expected = ["guides/caching.html"]
    else:
        assert CACHING_LESSON.is_file(), f"{CACHING_LESSON.relative_to(ROOT)} is missing"
        expected = [CACHING_LESSON_PAGE]
    for page in expected:
        assert (site.html / page).is_file(), f"{page} was not built"
        assert page in cache_search_results, f"searching 'cache' does not list {page}"


def _background_lightness(page) -> float:
    rgb = page.evaluate("() => getComputedStyle(document.body).backgroundColor.match(/[\\d.]+/g)"
                        ".slice(0, 3).map(Number)")
    return colorsys.rgb_to_hls(*(c / 255 for c in rgb))[1]


def test_theme_toggle_switches_light_and_dark(page_pool, base_url):
    # A page as on a first visit: no theme stored, the system's preference light.
    with page_pool.page(color_scheme="light") as page:
        page.goto(base_url + "index.html")
        toggles = page.locator("button.theme-toggle")
        visible = [i for i in range(toggles.count()) if toggles.nth(i).is_visible()]
        assert toggles.count() == 2 and len(visible) == 1, "furo renders two toggles, one shown"
        toggle = toggles.nth(visible[0])
        theme = lambda: page.evaluate("() => document.body.dataset.theme")  # noqa: E731
        assert theme() == "auto" and _background_lightness(page) > 0.8

        toggle.click()  # with a light system preference furo cycles auto -> dark -> light -> auto
        assert theme() == "dark" and _background_lightness(page) < 0.2
        page.goto(base_url + "guides/caching.html")  # the choice is remembered across pages
        assert theme() == "dark" and _background_lightness(page) < 0.2

        page.locator("button.theme-toggle:visible").click()
        assert theme() == "light" and _background_lightness(page) > 0.8


def _expected_copy(code: str) -> str:
    """What a reader should get: the code; only the prompt lines (prompts removed) if it has any."""
    lines = code.split("\n")
    if any(PROMPT.match(line) for line in lines):
        lines = [PROMPT.sub("", line) for line in lines if PROMPT.match(line) or not line.strip()]
    text = "\n".join(lines)
    return text[:-1] if text.endswith("\n") else text


def test_copy_buttons_copy_exactly_the_code(crawl):
    """Every copy button on the guides, the landing page and the galleries copies its block's
    code: no prompts, no output lines. A gallery page's code is what its .py file holds, and
    the captured-output blocks have no copy button. (The crawl clicks them, in its load of
    each page; a page without code has no copy button, script or styles.)"""
    problems, copied = [], 0
    for name, report in crawl.items():
        if report.copy_error:
            problems.append(f"{name}: the copy buttons could not be clicked: {report.copy_error}")
        if not copies_checked(name) or report.copies is None:
            continue
        if report.output_copy_buttons:
            problems.append(f"{name}: a captured-output block has a copy button")
        source = None
        for prefix, folder in GALLERY_SOURCES.items():
            script = folder / name.removeprefix(prefix).replace(".html", ".py")
            if name.startswith(prefix) and script.is_file():
                source = script.read_text(encoding="utf-8")
        for target, code, got in report.copies:
            copied += 1
            if got != _expected_copy(code):
                problems.append(f"{name} {target}: copied {got[:80]!r}, block holds {code[:80]!r}")
            elif any(PROMPT.match(line) for line in got.split("\n")):
                problems.append(f"{name} {target}: copied text keeps a prompt")
            elif source is not None and not _in_source(got, source):
                problems.append(f"{name} {target}: copied code is not in the page's .py file")
    _assert_none(problems)  # first: a page whose buttons could not be clicked copied nothing
    assert copied > 0, "no copy button found on any guide or gallery page"


def _rstrip_lines(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.split("\n"))


def _in_source(copied: str, source: str) -> bool:
    """The copied block stands in the .py file as it is, or as a whole under one prefix of
    spaces and ``#``: a code block inside the docstring (a Run-it command continued over two
    lines) or inside a comment carries its first line's indentation on every line."""
    copied, source = _rstrip_lines(copied), _rstrip_lines(source)
    if copied in source:
        return True
    first, *rest = copied.split("\n")
    for line in source.split("\n"):
        prefix = line[:len(line) - len(first)]
        if first and line.endswith(first) and set(prefix) <= {" ", "#"}:
            block = "\n".join([line] + [(prefix + more).rstrip() for more in rest])
            if block in source:
                return True
    return False


def test_reviewed_pages_take_the_background_of_each_colour_scheme(page_pool, base_url):
    """The pages `make bench` screenshots for review (tools/bench.py writes them to
    _build/screenshots/; a full-page screenshot costs seconds, so the suite takes none) have
    a light background in the light colour scheme and a dark one in the dark."""
    for theme in ("light", "dark"):
        with page_pool.page(color_scheme=theme, viewport=SCREENSHOT_VIEWPORT) as page:
            for _, url in SCREENSHOT_PAGES:
                page.goto(base_url + url)
                lightness = _background_lightness(page)
                assert (lightness > 0.8) if theme == "light" else (lightness < 0.2), (url, theme)


# --------------------------------------------------------------------------------------------
# The pages the browser tests share (tests/browser.py's PagePool).

def test_a_page_lent_again_keeps_nothing_of_its_last_use(page_pool, base_url):
    """A page is lent again as a new one would be: none of the last use's listeners, storage,
    cookies or viewport, and a goto to the very URL it was on loads the page anew (not a
    jump to the #fragment). A use that failed closes its page."""
    size, url = DESKTOP, base_url + "guides/caching.html#how-to-decide"
    heard: list = []
    with page_pool.page(on={"console": lambda m: heard.append(m)}, viewport=size) as page:
        page.goto(url)
        page.evaluate("""() => { localStorage.setItem("theme", "dark");
          sessionStorage.setItem("seen", "1"); document.cookie = "seen=1"; window.used = 1; }""")
        page.set_viewport_size(PHONE)
        first, heard_before = page, len(heard)
    with page_pool.page(viewport=size) as page:
        assert page is first, "the idle page is lent again"
        assert page.url == "about:blank" and page.viewport_size == size
        page.goto(url)
        assert page.evaluate("""() => [localStorage.length, sessionStorage.length,
          document.cookie, window.used === undefined]""") == [0, 0, "", True]
        page.evaluate("() => console.log('a listener of the last use would hear this')")
    assert len(heard) == heard_before
    with pytest.raises(RuntimeError), page_pool.page(viewport=size) as page:
        failed = page
        raise RuntimeError("a test failed while it used the page")
    assert failed.is_closed()
