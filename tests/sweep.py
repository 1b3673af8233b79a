"""One load of every built page in Chromium, at 1280 px and at 390 px: what a reader's
browser sees and does there, read once for the checks of ``test_browser.py`` (requests,
links, images, axe-core, copy buttons) and ``test_reading.py`` (layout). ``conftest.py``
makes it the session fixture ``crawl``; the tests that use it share one xdist worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from browser import built_pages, disable_cache, weigh_responses

ROOT = Path(__file__).resolve().parent.parent

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

# Images that may carry an empty alt: sphinx-gallery's thumbnails on the gallery index. They
# are decorative on purpose (sphinx-gallery/sphinx-gallery#998): the card's link, right on top
# of the image, carries the example's title, so a non-empty alt would make a screen reader read
# the title twice. The image test checks that the card's link does have that name.
DECORATIVE_IMAGES = ".sphx-glr-thumbcontainer img"


@dataclass
class PageReport:
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    anchors: list[dict] = field(default_factory=list)  # <a href>: {href, raw}
    resources: list[dict] = field(default_factory=list)  # <link href>: {href, rel}
    forms: list[str] = field(default_factory=list)  # <form action>, resolved
    images: list[dict] = field(default_factory=list)
    icons: list[dict] = field(default_factory=list)  # <link rel=icon>: {href, status, type}
    axe: dict[str, list[dict]] = field(default_factory=dict)  # run -> serious/critical ones
    html_css_js_bytes: int = 0
    # Pages whose copy buttons are checked (copies_checked), if they show code: each button's
    # [target, the block's text, what it copied], and the copy buttons on captured output;
    # or why they could not be clicked.
    copies: list[list[str]] | None = None
    output_copy_buttons: int = 0
    copy_error: str = ""
    layout: dict = field(default_factory=dict)  # read_layout's


COLLECT_JS = """
async () => {
  const images = [...document.images];
  for (const img of images) img.loading = "eager";
  const settle = img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done); img.addEventListener("error", done); });
  await Promise.race([Promise.all(images.map(settle)),
                      new Promise(done => setTimeout(done, 5000))]);
  const icons = [];
  for (const link of document.querySelectorAll("link[rel~=icon]")) {
    let status = 0, type = "";
    try { const r = await fetch(link.href); status = r.status; type = r.headers.get("content-type"); }
    catch (e) { status = -1; }
    icons.push({href: link.href, status, type});
  }
  return {
    ids: [...document.querySelectorAll("[id]")].map(e => e.id)
         .concat([...document.querySelectorAll("a[name]")].map(e => e.name)),
    anchors: [...document.querySelectorAll("a[href]")].map(
      a => ({href: a.href, raw: a.getAttribute("href")})),
    resources: [...document.querySelectorAll("link[href]")].map(
      l => ({href: l.href, rel: l.getAttribute("rel") || ""})),
    forms: [...document.querySelectorAll("form")].map(f => f.action),
    images: images.map(img => ({
      src: img.currentSrc || img.src, alt: img.getAttribute("alt"),
      width: img.naturalWidth, height: img.naturalHeight,
      decorative: img.matches(%r),
      card_link_name: (img.closest(".sphx-glr-thumbcontainer")?.querySelector("a")
                       ?.textContent || "").trim(),
    })),
    icons,
  };
}
""" % DECORATIVE_IMAGES

# axe-core runs three times per page: every rule but the colour rules and the mild ones
# (MILD_RULES_JS) once (the DOM is the same in both themes), then the colour rules in the
# light and in the dark theme.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]
# Each run: (theme, axe context, axe options).
_COLOUR_ONLY = {"resultTypes": ["violations"], "runOnly": {"type": "rule", "values": COLOUR_RULES}}
_REPEATS_LEFT_OUT = {"exclude": ["[data-colour-checked]"]}  # see MARK_REPEATED_TEXTS_JS
AXE_RUNS = {
    "structure": ("light", {"exclude": []}, {
        "resultTypes": ["violations"], "rules": {rule: {"enabled": False} for rule in COLOUR_RULES}}),
    "light": ("light", _REPEATS_LEFT_OUT, _COLOUR_ONLY),
    "dark": ("dark", _REPEATS_LEFT_OUT, _COLOUR_ONLY),
}

# The colour rules are most of axe's time: a guide has thousands of text elements, an example
# page thousands of highlighted spans, and most look like others already checked. What the
# colour rules judge of a text is its own colours and those of every box behind it, so each
# text is keyed by the computed colour, background, opacity, font size and weight (and whether
# it is a link) of its element and of each ancestor. The first text of each key on the whole
# site is checked, in each theme (the keys hold the theme's colours); an element whose texts
# all repeat known keys is left out of the colour rules only.
MARK_REPEATED_TEXTS_JS = """seen => {
  const known = new Set(seen), fresh = [];
  for (const el of document.querySelectorAll("[data-colour-checked]"))
    el.removeAttribute("data-colour-checked");
  const chains = new Map();
  const chain = el => {
    if (!el || el === document.documentElement) return "";
    let key = chains.get(el);
    if (key === undefined) {
      const s = getComputedStyle(el);
      key = [el.tagName === "A", s.color, s.backgroundColor, s.backgroundImage, s.opacity,
             s.fontSize, s.fontWeight, s.textShadow, s.filter, s.textDecorationLine].join(" ")
            + "<" + chain(el.parentElement);
      chains.set(el, key);
    }
    return key;
  };
  const digest = text => {  // FNV-1a, 32 bits twice: the keys cross to Python and back
    let a = 0x811c9dc5, b = 0x01000193;
    for (let i = 0; i < text.length; i++) {
      a = Math.imul(a ^ text.charCodeAt(i), 0x01000193);
      b = Math.imul(b ^ text.charCodeAt(i), 0x811c9dc5);
    }
    return (a >>> 0).toString(36) + (b >>> 0).toString(36);
  };
  const ownText = el => [...el.childNodes].some(n => n.nodeType === 3 && n.data.trim());
  const repeat = new Map();
  const all = [...document.body.querySelectorAll("*")];
  for (let i = all.length - 1; i >= 0; i--) {  // children before their parents
    const el = all[i];
    let same = [...el.children].every(c => repeat.get(c));
    if (ownText(el)) {
      const key = digest(chain(el));
      if (!known.has(key)) { known.add(key); fresh.push(key); same = false; }
    }
    repeat.set(el, same);
  }
  for (const el of all)
    if (repeat.get(el) && !repeat.get(el.parentElement)) el.setAttribute("data-colour-checked", "");
  return fresh;
}"""

# The rules none of whose checks can find more than a minor or moderate problem: their
# violations are never serious or critical, so the structure run skips them (a third of its
# time: "region" alone walks every text node). Read from the axe-core build that runs.
MILD_RULES_JS = """() => axe._audit.rules.filter(rule => {
  const impacts = [...rule.any, ...rule.all, ...rule.none].map(
    check => axe._audit.data.checks[check.id || check]?.impact);
  return impacts.length && impacts.every(impact => impact === "minor" || impact === "moderate");
}).map(rule => rule.id)"""

NO_TRANSITIONS_CSS = "*, *::before, *::after { transition: none !important; }"
NEXT_FRAME_JS = "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"


def audit(page, colour_checked: set[str], runs=tuple(AXE_RUNS)) -> dict[str, list[dict]]:
    """axe-core's serious and critical violations on the open page, per run of AXE_RUNS
    (those named in ``runs``); ``colour_checked`` holds the keys of the texts the colour rules
    have already judged (on this page's predecessors) and gains this page's new ones."""
    from axe_playwright_python.base import AXE_SCRIPT  # the axe-core build the package ships

    page.evaluate(AXE_SCRIPT)
    # Colours are judged as they settle: a theme switch mid-transition (sphinx-design fades
    # tab labels over 250 ms) would be measured half-way.
    page.add_style_tag(content=NO_TRANSITIONS_CSS)
    found = {}
    for run in runs:
        theme, axe_context, options = AXE_RUNS[run]
        if run == "structure":
            skipped = {rule: {"enabled": False} for rule in page.evaluate(MILD_RULES_JS)}
            options = {**options, "rules": {**options["rules"], **skipped}}
        page.evaluate(f"() => {{ document.body.dataset.theme = '{theme}'; }}")
        page.evaluate(NEXT_FRAME_JS)
        if axe_context is _REPEATS_LEFT_OUT:
            colour_checked.update(page.evaluate(MARK_REPEATED_TEXTS_JS, sorted(colour_checked)))
        violations = page.evaluate("([context, options]) => axe.run(context, options)",
                                   [axe_context, options])["violations"]
        found[run] = [v for v in violations if v["impact"] in ("serious", "critical")]
    return found


# Click every copy button of the page in turn, in the page itself (one round trip per page,
# not three per button): its target, the block's text as a reader sees it (line numbers
# excluded), and what the clipboard then held (emptied after each read, so the next read
# shows only what the next click copied).
COPY_EVERY_BLOCK_JS = """async () => {
  const copied = [];
  for (const button of document.querySelectorAll("button.copybtn")) {
    const target = button.getAttribute("data-clipboard-target");
    const block = document.querySelector(target).cloneNode(true);
    block.querySelectorAll(".linenos").forEach(n => n.remove());
    button.click();
    const text = await navigator.clipboard.readText();
    await navigator.clipboard.writeText("");
    copied.push([target, block.innerText, text]);
  }
  return copied;
}"""


# Gallery pages and the folders of the scripts they show.
GALLERY_SOURCES = {"auto_examples/": ROOT / "examples", "auto_evidence/": ROOT / "evidence" / "pages"}


def copies_checked(name: str) -> bool:
    """The pages whose copy buttons are checked: the landing page, the guides, the galleries."""
    return name == "index.html" or name.startswith(("guides/", *GALLERY_SOURCES))


# Layout.

# Every block that could run off the right edge of the column: what scrolls inside its box,
# and what sticks out of the article.
OVERFLOW_JS = """() => {
  const article = document.querySelector("article");
  const right = article.getBoundingClientRect().right;
  const name = el => el.tagName.toLowerCase() + (el.className ? "." +
      String(el.className).trim().split(/\\s+/).slice(0, 2).join(".") : "");
  const problems = [];
  for (const el of article.querySelectorAll("pre, .table-wrapper, .sd-tab-content")) {
    if (el.scrollWidth > el.clientWidth + 1)
      problems.push(`${name(el)} scrolls: ${el.scrollWidth} px of content in ${el.clientWidth} px:
        ${el.innerText.split("\\n").find(l => l.length > 60)?.slice(0, 60) || ""}`);
  }
  for (const el of article.querySelectorAll("img, svg, table, .admonition, .sd-tab-set, pre")) {
    const box = el.getBoundingClientRect();
    if (box.width && box.right > right + 1)
      problems.push(`${name(el)} sticks out of the column by ${Math.round(box.right - right)} px`);
  }
  const page = document.documentElement;
  if (page.scrollWidth > window.innerWidth)
    problems.push(`the page scrolls sideways: ${page.scrollWidth} px in ${window.innerWidth}`);
  return problems;
}"""

FIGURES_JS = """() => [...document.querySelectorAll("img.sphx-glr-single-img, img.sphx-glr-multi-img")]
  .map(img => ({src: img.getAttribute("src"), natural: img.naturalWidth, shown: img.clientWidth,
                srcset: img.getAttribute("srcset") || ""}))"""

SIDEWAYS_JS = """() => ({
  page: document.documentElement.scrollWidth, window: window.innerWidth,
  tables: [...document.querySelectorAll(".table-wrapper")]
    .filter(w => w.scrollWidth > w.clientWidth + 1)
    .map(w => getComputedStyle(w).backgroundImage.includes("gradient")),
})"""


# On a phone: what runs past the screen's right edge, a table that must scroll to be read, and
# inline code broken inside a word (a line may end after a space, a dot or a bracket, never
# between two letters or digits).
PHONE_FIT_JS = """() => {
  const right = document.documentElement.clientWidth;
  const out = [...document.querySelectorAll("article *")].filter(el => {
    const box = el.getBoundingClientRect();
    return box.width && box.right > right + 1 && !el.closest("pre, .table-wrapper")
      && getComputedStyle(el).visibility !== "hidden" && !el.closest(".headerlink");
  }).map(el => `${el.tagName.toLowerCase()} runs ${
    Math.round(el.getBoundingClientRect().right - right)} px past the screen: ${
    el.textContent.slice(0, 40)}`);
  const broken = [];
  for (const code of document.querySelectorAll("article code")) {
    if (code.closest("pre")) continue;
    const text = code.textContent, range = document.createRange();
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    const tops = [];
    for (let node; (node = walker.nextNode());)
      for (let i = 0; i < node.length; i++) {
        range.setStart(node, i); range.setEnd(node, i + 1);
        tops.push(range.getBoundingClientRect().top);
      }
    for (let i = 1; i < text.length; i++)
      if (tops[i] > tops[i - 1] + 1 && /\\w/.test(text[i - 1]) && /\\w/.test(text[i]))
        broken.push(`${JSON.stringify(text)} is broken between ${text[i - 1]} and ${text[i]}`);
  }
  const scrolled = [...document.querySelectorAll("article .table-wrapper")]
    .filter(w => w.scrollWidth > w.clientWidth + 1)
    .map(w => `a table needs ${w.scrollWidth - w.clientWidth} px more than the column`);
  return out.concat(scrolled, broken);
}"""


# A guide's first screen at 1280 px: the verdict's and the body's font sizes, where the first
# decision aid after the verdict starts; and its outline ("On this page"). Read in the one load
# of each page at 1280 px (``crawl``).
FIRST_SCREEN_JS = """() => {
  const verdict = document.querySelector("article .admonition.verdict");
  const text = verdict.querySelector(".sd-tab-content p, p:not(.admonition-title)");
  const body = document.querySelector("article section > p");
  const after = [...document.querySelectorAll("article table, article .graphviz, article img")]
    .find(el => verdict.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING);
  return {verdictSize: getComputedStyle(text).fontSize, bodySize: getComputedStyle(body).fontSize,
          aidTop: after ? after.getBoundingClientRect().top : null, height: window.innerHeight};
}"""

def outline_on_screen(tab) -> dict:
    """What the outline test asserts, read with Playwright's locators (strict: one outline)."""
    outline = tab.locator(".toc-drawer .toc-tree")
    return {"visible": outline.is_visible(), "box": outline.bounding_box(),
            "links": outline.locator("a").count()}


def read_or_error(read, tab):
    """``read(tab)``, or the error it raised, for the one test that asserts it to report."""
    try:
        return read(tab)
    except Exception as error:  # a failure is that test's, not every layout test's
        return {"error": f"{type(error).__name__}: {error}"}


def read_layout(name: str, wide, narrow) -> dict:
    """Page ``name`` laid out at 1280 px (``wide``: overflow, figures; a guide's first screen
    and outline) and at 390 px (``narrow``: sideways scroll; the landing page's fit)."""
    layout = {"overflow": wide.evaluate(OVERFLOW_JS), "figures": wide.evaluate(FIGURES_JS),
              "phone": narrow.evaluate(SIDEWAYS_JS)}
    if name == "index.html":
        layout["phone_fit"] = narrow.evaluate(PHONE_FIT_JS)
    if name.startswith("guides/"):
        layout["first_screen"] = read_or_error(lambda tab: tab.evaluate(FIRST_SCREEN_JS), wide)
        layout["outline"] = read_or_error(outline_on_screen, wide)
    return layout


def crawl(browser, html_dir: Path, base_url: str) -> dict[str, PageReport]:
    """Open every built page once at 1280 px and once at 390 px; record what a reader's
    browser would see and do, and how each page is laid out (``PageReport.layout``)."""
    from playwright.sync_api import Error as PlaywrightError  # installed: ``browser`` says so

    reports = {page: PageReport() for page in built_pages(html_dir)}
    assert "index.html" in reports, "the build has no index.html"
    site_origin = origin(base_url)
    context = browser.new_context(viewport=DESKTOP,
                                  permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    narrow = context.new_page()  # no listeners: the wide load records what went wrong
    narrow.set_viewport_size(PHONE)
    disable_cache(page)  # every visit is a cold load: it downloads what a new reader does
    weighed = weigh_responses(page)
    current: list[PageReport] = []
    colour_checked: set[str] = set()  # keys of texts already checked by the colour rules

    def on_request(request):
        url = request.url
        if not url.startswith(("data:", "blob:", "about:")) and origin(url) != site_origin:
            current[-1].foreign_requests.append(url)

    page.on("console", lambda m: m.type == "error" and current[-1].console_errors.append(
        f"console.error: {m.text} ({m.location.get('url', '')}:{m.location.get('lineNumber', '')})"))
    page.on("pageerror", lambda error: current[-1].console_errors.append(f"uncaught: {error}"))
    page.on("request", on_request)
    page.on("requestfailed", lambda r: current[-1].failed_requests.append(
        f"{r.url}: {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and current[-1].failed_requests.append(
        f"{r.url}: HTTP {r.status}"))
    try:
        for name, report in reports.items():
            current.append(report)
            weighed.clear()
            page.goto(base_url + name, wait_until="load")
            report.html_css_js_bytes = sum(weighed)
            found = page.evaluate(COLLECT_JS)
            report.ids = set(found["ids"])
            report.anchors, report.resources = found["anchors"], found["resources"]
            report.forms, report.images, report.icons = found["forms"], found["images"], found["icons"]
            narrow.goto(base_url + name, wait_until="load")
            report.layout = read_layout(name, page, narrow)
            report.axe = audit(page, colour_checked)
            # Last, as a click changes its button ("Copied!") and the audit judges the page
            # as loaded; what a button copies does not depend on the theme the audit left.
            if copies_checked(name) and page.locator("article pre").count():
                try:  # a failure here is the copy test's, not every crawl test's
                    page.wait_for_function("() => window.ClipboardJS !== undefined")
                    report.output_copy_buttons = page.locator(
                        ".sphx-glr-script-out .copybtn").count()
                    report.copies = page.evaluate(COPY_EVERY_BLOCK_JS)
                except PlaywrightError as error:
                    report.copy_error = str(error)
    finally:
        context.close()
    return reports


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
