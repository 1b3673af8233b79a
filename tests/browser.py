"""Serve a built site on loopback and open it in Debian's Chromium through Playwright.

Used by ``tests/test_browser.py`` and importable by ``make bench`` (``tools/bench.py``)::

    sys.path.insert(0, "tests")
    from browser import measure_pages, screenshot_pages
    measure_pages(Path("_build/html"))  # {"index.html": PageMeasure(212.4, 183204), ...}
    screenshot_pages(Path("_build/html"), Path("_build/screenshots"))  # [.../landing-light.png]

``playwright install`` cannot download browsers on this project's machines, so the system's
Chromium is driven through ``executable_path``. Playwright is imported only where a browser is
started, so :func:`find_chromium` and :func:`serve` work without it.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

# The Chromium names Debian, Ubuntu, Fedora and Google's packages install.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
# Chromium's headless shell (Debian's chromium-headless-shell, Google's chrome-headless-shell):
# the same Blink, without the browser around it; it used 18% less CPU than the full browser
# for the browser tests. The tests take it where it is installed; `make bench` measures in the
# full browser, as readers have it.
HEADLESS_SHELL_NAMES = ("chromium-headless-shell", "chrome-headless-shell")

# Root in a container needs --no-sandbox; the rest keep Chromium from phoning home (on a closed
# network its background connections fail loudly) and make runs independent of each other.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# What a page weighs: the bytes a reader downloads before it can read it, images excluded.
WEIGHED_RESOURCE_TYPES = frozenset({"document", "stylesheet", "script"})


def find_chromium(headless_shell: bool = False) -> str | None:
    """Path of the system's Chromium (``$CHROMIUM`` wins), or None; with ``headless_shell``,
    its headless shell where one is installed."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        return shutil.which(explicit) or (explicit if os.access(explicit, os.X_OK) else None)
    for name in (HEADLESS_SHELL_NAMES if headless_shell else ()) + CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def built_pages(html_dir: Path) -> list[str]:
    """Every HTML page of a build, as paths relative to ``html_dir`` (posix, sorted)."""
    return sorted(p.relative_to(html_dir).as_posix() for p in html_dir.rglob("*.html"))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as any real web server does
    # TCP_NODELAY, as nginx sets on keep-alive connections: with Nagle's algorithm on, the body
    # written after the headers waits for the client's delayed ACK (~40 ms on Linux loopback),
    # so the load times measured would be the server's, not the site's.
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # noqa: A002 (the stdlib's name)
        pass


class _CompressingHandler(_QuietHandler):
    """As a static host serves a site: text compressed with gzip for a client that accepts it
    (GitHub Pages, Read the Docs and Netlify all do), and cacheable for an hour."""

    COMPRESSED = (".html", ".css", ".js", ".svg", ".json", ".txt", ".xml")

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (accepts and path.suffix in self.COMPRESSED and path.is_file()):
            return super().send_head()
        body = gzip.compress(path.read_bytes(), mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600")
        self.end_headers()
        return io.BytesIO(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the browser closed a connection (a page was left mid-load): not our error
        super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(directory: Path, compress: bool = False) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port) in a thread; yields the base URL.
    ``compress``: as a static host does (gzip, cache headers); else every byte as stored."""
    handler_class = _CompressingHandler if compress else _QuietHandler
    handler = functools.partial(handler_class, directory=str(directory))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# Chromium's socket is "<its TMPDIR>/.org.chromium.Chromium.XXXXXX/SingletonSocket" and a Unix
# socket path holds at most 107 bytes; its TMPDIR is "<base>/chromium-XXXXXXXX".
MAX_SHORT_BASE = 107 - len("/.org.chromium.Chromium.XXXXXX/SingletonSocket/chromium-XXXXXXXX")


def short_temp_dir() -> tempfile.TemporaryDirectory:
    """A fresh temp dir short enough for Chromium's sockets: under TMPDIR if it is short, else /tmp."""
    base = tempfile.gettempdir()
    if len(base) > MAX_SHORT_BASE:
        base = "/tmp"
    return tempfile.TemporaryDirectory(prefix="chromium-", dir=base)


@contextlib.contextmanager
def chromium(profile_parent: Path, executable: str | None = None):
    """Start Playwright and launch headless Chromium; yields the Browser.

    Chromium's user-data dir is a fresh directory that Playwright creates in its driver's
    TMPDIR and removes on close. Chromium puts its singleton socket under its own TMPDIR, and
    a Unix socket path may not exceed 107 bytes: under a long TMPDIR (macOS's
    /var/folders/.../T/, /run/user/1000/tmp) it could not start. So the driver and Chromium
    get a TMPDIR of their own on a short path (:func:`short_temp_dir`), removed on close.
    Chromium also writes to $HOME (~/.config/chromium/Crash Reports, ~/.cache/dconf) whatever
    its user-data dir: it runs with HOME and the XDG dirs under ``profile_parent``, so neither
    the user's home nor the machine's /tmp keeps anything.
    """
    from playwright.sync_api import sync_playwright

    executable = executable or find_chromium()
    if executable is None:
        raise FileNotFoundError("no Chromium found (looked for " + ", ".join(CHROMIUM_NAMES) + ")")
    profile_parent.mkdir(parents=True, exist_ok=True)
    with short_temp_dir() as short_tmp:
        saved = os.environ.get("TMPDIR")
        os.environ["TMPDIR"] = short_tmp  # read by the Node driver when it starts
        try:
            manager = sync_playwright()
            playwright = manager.start()
        finally:
            if saved is None:
                del os.environ["TMPDIR"]
            else:
                os.environ["TMPDIR"] = saved
        home = profile_parent / "home"
        env = {**os.environ, "HOME": str(home), "TMPDIR": short_tmp,
               "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache")}
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=list(CHROMIUM_ARGS), env=env)
            try:
                yield browser
            finally:
                browser.close()
        finally:
            manager.__exit__(None, None, None)


class PagePool:
    """Open pages kept for the next test: one browser context per set of context options.

    A new context and its first page cost Chromium a renderer (about 0.5 s with the first
    load); a navigation in an open page about 0.15 s. :meth:`page` lends a page of the
    context with the given options, a new one only if none is idle. After a use that ended
    without an error the page is made as a new one for the next user: the listeners given in
    ``on`` removed, the storage and cookies of the site cleared, its viewport restored and
    about:blank loaded, so that the next ``goto`` loads its page anew even to the same URL
    (a URL that differs only by its #fragment would only scroll). A use that raised closes
    its page: whatever state it was left in goes with it.

    Users add listeners only through ``on`` (one added with ``page.on`` would outlive the use)
    and change no other setting of the page (routes, init scripts, emulated media), which no
    reset undoes. Pages lent at the same time with the same options share their storage, as
    tabs of one browser do, and a release clears it for all. What a context keeps between
    uses is its HTTP cache: no user of the pool measures a cold load (the crawl, which does,
    has a context of its own).
    """

    # Playwright's own defaults, written out so that leaving one out or passing it names the
    # same context.
    DEFAULTS = {"viewport": {"width": 1280, "height": 720}, "device_scale_factor": 1}

    def __init__(self, browser):
        self._browser = browser
        self._contexts: dict[str, object] = {}
        self._idle: dict[str, list] = {}

    @contextlib.contextmanager
    def page(self, on: dict | None = None, **options):
        """A page of a context made with ``options`` (``browser.new_context``'s), on
        about:blank; ``on``: event -> listener, for this use only."""
        options = {**self.DEFAULTS, **options}
        key = json.dumps(options, sort_keys=True)
        if key not in self._contexts:
            self._contexts[key] = self._browser.new_context(**options)
            self._idle[key] = []
        idle = self._idle[key]
        page = idle.pop() if idle else self._contexts[key].new_page()
        listeners = list((on or {}).items())
        for event, listener in listeners:
            page.on(event, listener)
        clean = False
        try:
            yield page
            clean = True
        finally:
            for event, listener in listeners:
                page.remove_listener(event, listener)
            if clean:
                try:
                    self._reset(page, options["viewport"])
                except BaseException:
                    page.close()
                    raise
                idle.append(page)
            else:
                page.close()

    @staticmethod
    def _reset(page, viewport: dict) -> None:
        if page.url.startswith(("http://", "https://")):  # evaluate works without JavaScript too
            page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
        page.context.clear_cookies()
        page.goto("about:blank")
        if page.viewport_size != viewport:
            page.set_viewport_size(viewport)

    def close(self) -> None:
        for context in self._contexts.values():
            context.close()
        self._contexts.clear()
        self._idle.clear()


# Milliseconds from the start of the navigation to the end of the DOMContentLoaded handlers.
DOM_CONTENT_LOADED_JS = """() => {
  const n = performance.getEntriesByType("navigation")[0];
  return n.domContentLoadedEventEnd - n.startTime;
}"""


def weigh_responses(page) -> list[int]:
    """Start recording the bytes of each HTML, CSS and JS response ``page`` receives."""
    weighed: list[int] = []

    def on_response(response):
        if response.request.resource_type in WEIGHED_RESOURCE_TYPES:
            length = response.headers.get("content-length")
            weighed.append(int(length) if length else len(response.body()))

    page.on("response", on_response)
    return weighed


def disable_cache(page) -> None:
    """Make every load of ``page`` cold: Chromium's cache is bypassed (DevTools protocol)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})


@dataclass(frozen=True)
class PageMeasure:
    dom_content_loaded_ms: float  # median over the cold loads
    html_css_js_bytes: int  # document + stylesheets + scripts, as served (no compression)


def measure_loaded(browser, url: str) -> tuple[float, int]:
    """Load ``url`` once in a fresh context (cold cache): (DOMContentLoaded ms, HTML+CSS+JS bytes).

    DOMContentLoaded is the navigation timing entry's ``domContentLoadedEventEnd``, measured from
    the start of the navigation.
    """
    context = browser.new_context()
    try:
        page = context.new_page()
        weighed = weigh_responses(page)
        page.goto(url, wait_until="load")
        return float(page.evaluate(DOM_CONTENT_LOADED_JS)), sum(weighed)
    finally:
        context.close()


def measure_pages(html_dir: Path, repeats: int = 3, pages: list[str] | None = None,
                  browser=None) -> dict[str, PageMeasure]:
    """Per page: median DOMContentLoaded over ``repeats`` cold loads, and its HTML+CSS+JS bytes.

    Serves ``html_dir`` itself; starts its own Chromium (profile in a temp dir it removes)
    unless a running ``browser`` is given.
    """
    html_dir = Path(html_dir)
    pages = pages if pages is not None else built_pages(html_dir)
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(serve(html_dir))
        if browser is None:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="browser-")))
            browser = stack.enter_context(chromium(scratch))
        measure_loaded(browser, base + pages[0])  # warm Chromium itself up, not the cache
        # Round by round over all pages, not page by page: a few busy seconds on the machine
        # then slow one load of many pages instead of every load of one page.
        runs: dict[str, list[tuple[float, int]]] = {page: [] for page in pages}
        for _ in range(repeats):
            for page in pages:
                runs[page].append(measure_loaded(browser, base + page))
        return {page: PageMeasure(
                    dom_content_loaded_ms=statistics.median(r[0] for r in page_runs),
                    html_css_js_bytes=max(r[1] for r in page_runs))
                for page, page_runs in runs.items()}


# Pages a person looks over after a change of styles, as ``<label>-<light|dark>.png``: the
# landing page, a guide, a lesson and an evidence page. The browser tests check that each has
# a light background in the light colour scheme and a dark one in the dark.
SCREENSHOT_PAGES = (
    ("landing", "index.html"),
    ("guide-caching", "guides/caching.html"),
    ("lesson-rerun_with_caching", "auto_examples/cache/rerun_with_caching.html"),
    ("evidence-cache-flyte1", "auto_evidence/cache/cache_flyte1_evidence.html"),
)
SCREENSHOT_VIEWPORT = {"width": 1280, "height": 900}


def screenshot_pages(html_dir: Path, out_dir: Path, browser=None) -> list[Path]:
    """Full-page screenshots of SCREENSHOT_PAGES in the light and the dark colour scheme, in
    ``out_dir`` (its earlier PNGs removed); returns the files written.

    Serves ``html_dir`` itself; starts its own Chromium unless a running ``browser`` is given.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.png"):
        old.unlink()
    written = []
    with contextlib.ExitStack() as stack:
        base = stack.enter_context(serve(Path(html_dir)))
        if browser is None:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="browser-")))
            browser = stack.enter_context(chromium(scratch))
        for theme in ("light", "dark"):
            context = browser.new_context(color_scheme=theme, viewport=SCREENSHOT_VIEWPORT)
            try:
                page = context.new_page()
                for label, name in SCREENSHOT_PAGES:
                    page.goto(base + name)
                    written.append(out_dir / f"{label}-{theme}.png")
                    page.screenshot(path=str(written[-1]), full_page=True)
            finally:
                context.close()
    return written
