"""A reader takes in each answer at a glance and can run every example from its page (issue 9).

The built HTML is read with BeautifulSoup where structure is enough (verdict length, paragraph
length, source paths, the Run-it box, page metadata) and laid out in Chromium where
only a browser can tell (what runs off the right edge at 1280 px, sideways scrolling at 390 px,
figure sizes, the first screen, the page outline, search ranking).
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote, urlsplit

import pytest
from bs4 import BeautifulSoup

from browser import built_pages
from conftest import (GUIDES, LESSONS, ROOT, built_page, copy_sources, fresh_dir,
                      lesson_id, sphinx_build)
from evidence import run_it
from sweep import DESKTOP, PHONE

# The layout of every page is read in the crawl (tests/sweep.py, the session fixture
# ``crawl``); the tests that use it share one worker (make test: --dist loadgroup).


MAX_VERDICT_WORDS = 60
MAX_PARAGRAPH_WORDS = 90
# A figure may be drawn a little larger than shown (it is scaled down, stays sharp), not more.
MAX_DRAWN_OVER_SHOWN = 1.15

GUIDE_PAGES = [f"guides/{g.stem}.html" for g in GUIDES]
LESSON_PAGES = [f"auto_examples/{lesson_id(p)}.html" for p in LESSONS]
guide_pages = pytest.mark.parametrize("page", GUIDE_PAGES)
lesson_pages = pytest.mark.parametrize("page", LESSON_PAGES)

# A path to a source file (x/y/z.go, flytekit/core/base_task.py). Paths under examples/ are the
# reader's own copies of this site's scripts, named in commands; they may stand in prose.
SOURCE_PATH = re.compile(r"(?<![\w/.~-])(?!examples/)(?:[\w.-]+/)+[\w.-]+\."
                         r"(?:go|py|proto|rs|ts|ya?ml|toml|md|rst|json)\b")

# Words a search should answer with a guide, and the guide.
SEARCH_ANSWERS = {
    "map_task": "parallelism", "max_parallelism": "parallelism", "cache": "caching",
    "caching": "caching", "interruptible": "interruptible", "spot": "interruptible",
    "retries": "interruptible", "decompose": "decomposition", "resources": "decomposition",
    "preprocessing": "decomposition", "split": "decomposition", "training": "decomposition",
    "split preprocessing training": "decomposition",
}


def words(text: str) -> int:
    return len(text.split())


def _assert_none(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


# --------------------------------------------------------------------------------------------
# Guides read top-down in layers.

@guide_pages
def test_guide_opens_with_a_short_verdict_for_each_sdk(site, page):
    """The first thing under the question is the "Short answer": one tab per SDK, each
    prose paragraphs only and at most 60 words."""
    article = built_page(site, page).select_one("article")
    title = article.select_one("h1")
    first_block = title.find_next(lambda tag: tag.name in ("p", "div", "table", "ul", "ol"))
    assert first_block is not None and "verdict" in first_block.get("class", []), (
        "the first block under the title is not the verdict admonition (class verdict)")
    tabs = first_block.select(".sd-tab-set > label")
    assert [t.get_text(" ", strip=True) for t in tabs][:2] == [
        "Flyte 1 (flytekit)", "Flyte 2 (flyte SDK)"], "verdict tabs for Flyte 1 and Flyte 2"
    for label, content in zip(tabs, first_block.select(".sd-tab-set > .sd-tab-content")):
        count = words(content.get_text(" ", strip=True))
        assert count <= MAX_VERDICT_WORDS, f"{label.get_text(strip=True)}: {count} words"
        # A source line starting "1." once turned the end of a verdict into a list.
        blocks = {child.name for child in content.find_all(True, recursive=False)}
        assert blocks <= {"p"}, f"{label.get_text(strip=True)}: not prose only: {blocks}"


PROSE_OUTSIDE = ".sphx-glr-script-out, .sphx-glr-thumbcontainer, .sphx-glr-footer, aside.footnote"


@pytest.mark.parametrize("page", ["index.html", *GUIDE_PAGES, *LESSON_PAGES])
def test_no_paragraph_runs_over_90_words(site, page):
    problems = []
    for p in built_page(site, page).select("article p"):
        count = words(p.get_text(" ", strip=True))
        if count > MAX_PARAGRAPH_WORDS and not p.find_parent(class_="footnote"):
            problems.append(f"{count} words: {p.get_text(' ', strip=True)[:100]}...")
    _assert_none(problems)


def test_no_sentence_puts_a_period_after_a_question_mark(site):
    """A sentence that ends on a linked question ends there ("The question behind them:
    When should I use caching?"), with no period after the question mark."""
    problems = []
    for page in built_pages(site.html):
        for block in built_page(site, page).select("article p, article li"):
            text = "".join(s for s in block.find_all(string=True)
                           if not s.find_parent(["code", "pre"]))
            if "?." in text:
                problems.append(f"{page}: {' '.join(text.split())[:120]}")
    _assert_none(problems)


@pytest.mark.parametrize("page", ["index.html", *GUIDE_PAGES])
def test_source_paths_live_in_footnotes_not_in_running_prose(site, page):
    """Prose, lists and tables name what a reader needs; the file a claim comes from sits one
    click away, in a footnote (or a section headed Sources)."""
    problems = []
    for p in built_page(site, page).select("article p"):
        if p.find_parent("aside", class_="footnote") or p.find_parent(id="sources"):
            continue
        problems += [f"{m[0]} in: {p.get_text(' ', strip=True)[:90]}..."
                     for m in SOURCE_PATH.finditer(p.get_text(" "))]
    _assert_none(problems)


# --------------------------------------------------------------------------------------------
# Every lesson can be run from its page.

@lesson_pages
def test_lesson_page_opens_with_a_run_it_box(site, page):
    """Before the first line of the lesson's code: a "Run it" box of three captioned blocks
    (install, run where you saved it, run on a cluster), each with its own copy button."""
    article = built_page(site, page).select_one("article")
    box = article.select_one(".admonition.run-it")
    assert box is not None, "no Run-it box (class run-it)"
    assert box.select_one(".admonition-title").get_text(strip=True) == "Run it"
    first_code = article.select_one("div.highlight-Python, div.highlight-python")
    assert first_code is None or box.sourceline < first_code.sourceline, \
        "the Run-it box comes after the lesson's code"
    blocks = box.select("div.literal-block-wrapper")
    captions = [b.select_one(".code-block-caption").get_text(" ", strip=True) for b in blocks]
    assert len(blocks) == 3, captions
    for caption, expected in zip(captions, run_it.CAPTIONS):
        assert caption.startswith(expected), caption


# --------------------------------------------------------------------------------------------
# Page metadata.

def test_every_page_has_a_meta_description_in_sentences_the_same_in_link_previews(site):
    """What a search result and a link preview show of the page: prose, not the cells of
    a table scraped into a row of commas, and the same text in both: the description
    written for the page, or its first paragraph as the page shows it (no word glued to a
    code literal, no space moved inside a parenthesis)."""
    problems, seen = [], {}
    for page in built_pages(site.html):
        soup = built_page(site, page)
        meta = soup.select_one('meta[name="description"]')
        text = (meta or {}).get("content", "")
        preview = (soup.select_one('meta[property="og:description"]') or {}).get("content")
        if len(text) < 50:
            problems.append(f"{page}: description {text!r}")
        elif "import " in text:
            problems.append(f"{page}: the description quotes code: {text!r}")
        elif re.search(r",\s*,", text):
            problems.append(f"{page}: the description runs table cells together: {text!r}")
        seen.setdefault(text, []).append(page)
        if preview is None:  # a page of the theme's templates (search, index): no preview
            continue
        if preview != text:
            problems.append(f"{page}: the link preview says {preview!r}, not {text!r}")
        source = ROOT / page.replace(".html", ".md")
        if not (source.is_file() and text in source.read_text(encoding="utf-8")):
            # not written for the page: then its first paragraph, as the page shows it
            shown = next((" ".join(p.get_text().split()) for p in soup.select("article p")
                          if not p.find_parent(class_="admonition")), "")
            if not shown.startswith(text.removesuffix("...")):
                problems.append(f"{page}: the description {text!r} is not how the page's "
                                f"first paragraph reads: {shown[:200]!r}")
    problems += [f"same description on {pages}" for pages in seen.values() if len(pages) > 1]
    _assert_none(problems)


def test_site_has_a_404_page_an_llms_txt_and_no_empty_index(site):
    not_found = built_page(site, "404.html")
    links = {a["href"] for a in not_found.select("article a[href]")}
    for guide in GUIDES:
        assert any(h.endswith(f"guides/{guide.stem}.html") for h in links), guide.stem
    llms = (site.html / "llms.txt").read_text(encoding="utf-8")
    for page in GUIDE_PAGES + LESSON_PAGES:
        title = built_page(site, page).select_one("h1").get_text(" ", strip=True).rstrip("#¶ ")
        assert title in llms, f"llms.txt does not list {page} ({title!r})"
    assert (site.html / "llms-full.txt").stat().st_size > 10_000
    if (site.html / "genindex.html").exists():
        assert built_page(site, "genindex.html").select("table.indextable a"), "empty general index"


def test_without_a_site_url_there_is_no_sitemap_and_no_repository_link(site):
    """The default build knows neither where it is served nor a public repository: it says
    how to get the scripts from the pages themselves, and links nowhere it cannot know."""
    assert not (site.html / "sitemap.xml").exists()
    landing = built_page(site, "index.html")
    assert landing.select_one('link[rel="canonical"]') is None
    assert "download it from the buttons at the end of its page" in landing.get_text(" ")


SITE_URL = "https://docs.example.org/flyte-structure/"
REPOSITORY = "https://github.com/example-org/flyte-workflow-structure"


@pytest.fixture(scope="module")
def site_with_urls():
    """A prose-only build that knows its URL and repository, as a hosted build would."""
    work = fresh_dir("site-urls")
    src = copy_sources(work / "src")
    env = {**os.environ, "SITE_URL": SITE_URL, "SITE_REPOSITORY_URL": REPOSITORY + ".git"}
    result = sphinx_build(src, work / "html", "-D", "plot_gallery=0", env=env)
    assert result.returncode == 0, result.stdout[-4000:]
    return work / "html"


def test_a_hosted_build_writes_a_sitemap_canonical_links_and_the_repository_link(site_with_urls):
    sitemap = (site_with_urls / "sitemap.xml").read_text(encoding="utf-8")
    listed = set(re.findall(r"<loc>([^<]+)</loc>", sitemap))
    for page in GUIDE_PAGES + ["index.html"]:
        assert SITE_URL + page in listed or (page == "index.html" and SITE_URL in listed), page
    assert all(url.startswith(SITE_URL) for url in listed)
    guide = BeautifulSoup((site_with_urls / GUIDE_PAGES[0]).read_text(), "html.parser")
    assert guide.select_one('link[rel="canonical"]')["href"] == SITE_URL + GUIDE_PAGES[0]
    landing = BeautifulSoup((site_with_urls / "index.html").read_text(), "html.parser")
    assert REPOSITORY in {a["href"].rstrip("/") for a in landing.select("article a[href]")}
    llms = (site_with_urls / "llms.txt").read_text(encoding="utf-8")
    assert f"]({SITE_URL}_sources/" in llms


# --------------------------------------------------------------------------------------------
# Layout, in Chromium.

@pytest.fixture(scope="module")
def layouts(crawl) -> dict[str, dict]:
    """Every page laid out at 1280 px and at 390 px, as the crawl read it (sweep.read_layout)."""
    return {page: report.layout for page, report in crawl.items()}


def test_nothing_runs_off_the_right_edge_at_1280_px(layouts):
    _assert_none([f"{page}: {p}" for page, r in layouts.items() for p in r["overflow"]])


def test_no_page_scrolls_sideways_at_390_px(layouts):
    problems = []
    for page, r in layouts.items():
        phone = r["phone"]
        if phone["page"] > phone["window"]:
            problems.append(f"{page}: {phone['page']} px wide in a {phone['window']} px window")
        if not all(phone["tables"]):
            problems.append(f"{page}: a table scrolls with no sign that it does")
    _assert_none(problems)


def test_landing_page_fits_390_px_without_breaking_an_identifier(layouts):
    """The short answers and the migration map on a phone: nothing sticks out of the column
    (a code block may scroll inside its box), and no inline name is split inside a word."""
    _assert_none(layouts["index.html"]["phone_fit"])


def test_figures_are_drawn_at_the_width_shown_with_a_2x_image(layouts):
    problems, figures = [], 0
    for page, r in layouts.items():
        for fig in r["figures"]:
            figures += 1
            if fig["natural"] > MAX_DRAWN_OVER_SHOWN * fig["shown"]:
                problems.append(f"{page}: {fig['src']} drawn {fig['natural']} px wide, "
                                f"shown at {fig['shown']} px")
            if not re.search(r"\s2(\.0+)?x\b", fig["srcset"]):
                problems.append(f"{page}: {fig['src']} has no 2x image")
    assert figures, "no gallery figure on any page"
    _assert_none(problems)


@guide_pages
def test_verdict_at_body_size_and_decision_aid_on_the_first_screen(layouts, page):
    found = layouts[page]["first_screen"]
    assert "error" not in found, found
    assert found["verdictSize"] == found["bodySize"], found
    assert found["aidTop"] is not None, "no decision table or diagram after the verdict"
    assert found["aidTop"] < found["height"], f"the decision aid starts at {found['aidTop']} px"


@guide_pages
def test_page_outline_is_on_screen_at_a_laptop_width(layouts, page):
    """furo hides "On this page" below 1312 px; the site's CSS keeps it from 1200 px."""
    outline = layouts[page]["outline"]
    assert "error" not in outline, outline
    box = outline["box"]
    assert outline["visible"] and box and box["x"] + box["width"] <= DESKTOP["width"]
    assert outline["links"] >= 4, "the outline lists the guide's sections"


def test_sdk_version_note_is_visible_on_a_phone(page_pool, base_url):
    with page_pool.page(viewport=PHONE) as tab:
        tab.goto(base_url + GUIDE_PAGES[0])
        note = tab.locator("footer .built-with")
        note.scroll_into_view_if_needed()
        assert note.is_visible() and "flytekit" in note.inner_text()


# --------------------------------------------------------------------------------------------
# Search.

@pytest.fixture(scope="module")
def searched(page_pool, base_url) -> dict[str, list[str]]:
    """Every term below, put to the site's own search on the served second build, in one tab:
    term -> the result links, in order, as paths with their fragment."""
    found = {}
    with page_pool.page() as tab:
        for term in sorted(SEARCH_ANSWERS):
            tab.goto(f"{base_url}search.html?q={quote(term)}")
            tab.wait_for_function(
                "() => /Search finished|did not match/.test("
                "document.querySelector('#search-results .search-summary')?.textContent || '')",
                timeout=15000)
            hrefs = tab.eval_on_selector_all("#search-results ul.search li > a",
                                             "as => as.map(a => a.href)")
            found[term] = [urlsplit(h).path.lstrip("/")
                           + ("#" + urlsplit(h).fragment if urlsplit(h).fragment else "")
                           for h in hrefs]
    return found


@pytest.mark.parametrize("term,guide", sorted(SEARCH_ANSWERS.items()))
def test_search_lists_the_guide_that_answers_among_the_first_two(searched, term, guide):
    results = searched[term]
    first_two = [r.split("#")[0] for r in results[:2]]
    assert f"guides/{guide}.html" in first_two, f"{term!r}: {results[:5]}"


def test_search_for_retries_can_land_on_the_retry_section(searched):
    results = searched["retries"]
    assert any(r.startswith("guides/interruptible.html#") for r in results), results[:8]


# A component's stylesheets and scripts -> what, in a page's article, is that component.
COMPONENT_ASSETS = {
    ("sphinx-design.min.css",): lambda article: article.select_one("[class^='sd-'], "
                                                                   "[class*=' sd-']"),
    ("sg_gallery.css",): lambda article: article.select_one("[class*='sphx-glr-']"),
    ("copybutton.css", "copybutton.js", "clipboard.min.js"): lambda article: article.pre,
}
# Styles that change nothing on the first screen: loaded without holding its first paint.
AFTER_FIRST_PAINT = ("pygments.css", "calculators.css")


def test_a_page_loads_the_assets_of_its_components_only_and_paints_before_the_colours(site):
    """Each stylesheet in a page's head holds its first paint: a page loads a component's
    styles and scripts only if it holds that component, and the code colours (and the
    calculators' styles) without blocking."""
    problems = []
    for page in built_pages(site.html):
        soup = built_page(site, page)
        article = soup.select_one("article") or soup
        loaded = {href.rsplit("/", 1)[-1].split("?")[0]: tag
                  for tag in soup.select("link[rel=stylesheet], script[src]")
                  for href in [tag.get("href") or tag.get("src")]}
        for assets, present in COMPONENT_ASSETS.items():
            has = present(article) is not None
            for asset in assets:
                if has != (asset in loaded):
                    problems.append(f"{page}: {asset} {'missing' if has else 'loaded'} "
                                    f"with{'' if has else 'out'} its component")
        for sheet in AFTER_FIRST_PAINT:
            if sheet in loaded and loaded[sheet].get("media") != "print":
                problems.append(f"{page}: {sheet} blocks the first paint")
    _assert_none(problems)


def test_landing_page_install_line_covers_every_lesson(site):
    """The landing page's one install line pins every package any lesson's Run-it box pins,
    at the same version."""
    blocks = built_page(site, "index.html").select("article pre")
    text = re.sub(r"\\\n\s*", " ", "\n".join(b.get_text() for b in blocks))  # joined
    pins = set(re.search(r"pip install (.+)", text)[1].split())
    for lesson in LESSONS:
        wanted = set(run_it.parse(lesson).install[2:])
        assert wanted and wanted <= pins, f"{lesson.name}: {sorted(wanted - pins)}"
