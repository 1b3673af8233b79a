"""Measure what the project promises about speed and size; print a table, write bench.json;
take full-page screenshots for review (<builddir>/screenshots/).

Usage: python tools/bench.py [--builddir _build] [--clean-runs 2] [--noop-runs 5]
                             [--example-runs 3] [--skip-install] [--skip-suite]
                             [--skip-lighthouse]

Every build and run happens in a temp copy of the sources with its own HOME and TMPDIR (the
project's one isolation recipe, ``evidence.isolation``), so the bench neither touches the
working tree's build nor the user's ~/.flyte. The test suite runs as `make test` runs it.

The screenshots are of the bench's clean build: four pages (landing, a guide, a lesson, an
evidence page; ``browser.SCREENSHOT_PAGES``) in the light and the dark colour scheme at
1280x900, as ``<page>-<light|dark>.png``, for a person to look over after a change of styles.
The test suite checks only their background per colour scheme: a full page costs seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from evidence import isolation, lessons  # noqa: E402
from site_build import ROOT, copy_sources, sphinx_command  # noqa: E402 (the tests' own helpers)

TARGETS = {  # from the issues; the table says whether each holds
    "clean_build_s": 60.0,
    "noop_rebuild_s": 3.0,
    "install_s": 60.0,
    "example_s": 10.0,
    "all_examples_in_build_s": 45.0,
    "heaviest_page_kb": 400.0,
    "dom_content_loaded_ms": 500.0,
    "suite_s": 180.0,
}


def timed(cmd: list[str], env: dict, cwd: Path | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (MB) of one command; fails loudly if the command fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(map(str, cmd))} failed (exit {proc.returncode}):\n"
                 + output.decode(errors="replace")[-3000:])
    return wall, usage.ru_maxrss // 1024


isolated_env = isolation.environment


def bench_builds(work: Path, clean_runs: int, noop_runs: int) -> tuple[dict, Path]:
    clean, noop, example_times = [], [], []
    for run in range(clean_runs):
        src = copy_sources(work / f"build-{run}" / "src")
        out = src.parent / "html"
        env = isolated_env(src.parent)
        wall, _ = timed(sphinx_command(src, out), env)
        clean.append(wall)
        example_times.append(gallery_run_time(src / "auto_examples")
                             + gallery_run_time(src / "auto_evidence"))
        for _ in range(noop_runs if run == 0 else 0):
            noop.append(timed(sphinx_command(src, out), env)[0])
    return {
        "clean_build_s": statistics.median(clean),
        "clean_build_runs_s": clean,
        "noop_rebuild_s": statistics.median(noop),
        "noop_rebuild_runs_s": noop,
        "all_examples_in_build_s": statistics.median(example_times),
    }, work / "build-0" / "html"


def gallery_run_time(gallery: Path) -> float:
    """Sum of the examples' run times as sphinx-gallery recorded them in this build."""
    total = 0.0
    for rst in gallery.rglob("*.rst"):
        match = re.search(r"\*\*Total running time of the script:\*\* \((\d+) minutes ([\d.]+) seconds\)",
                          rst.read_text())
        if match:
            total += 60 * int(match[1]) + float(match[2])
    return total


def bench_examples(work: Path, runs: int) -> dict:
    """Each lesson as a reader runs it: `python <file>.py` in a folder holding only the file,
    on a new machine (empty HOME, so empty local caches)."""
    results = {}
    for script in lessons.paths():
        walls, peaks = [], []
        for run in range(runs):
            folder = work / f"example-{script.stem}-{run}"
            folder.mkdir(parents=True)
            shutil.copy(script, folder / script.name)
            env = isolated_env(folder / "machine")
            wall, peak = timed([sys.executable, script.name], env, cwd=folder)
            walls.append(wall)
            peaks.append(peak)
        results[lessons.name(script)] = {"wall_s": statistics.median(walls), "runs_s": walls,
                                         "peak_rss_mb": max(peaks)}
    return results


def bench_suite() -> dict:
    """The test suite as `make test` runs it (the Makefile's workers and distribution), in the
    working tree; its own fixtures keep it away from the machine."""
    make = subprocess.run(["make", "-C", str(ROOT), "--dry-run", "test"], capture_output=True,
                          text=True, check=True).stdout
    (command,) = [line for line in make.splitlines() if "pytest" in line]
    wall, _ = timed(["sh", "-c", command], {**os.environ}, cwd=ROOT)
    return {"suite_s": wall, "suite_command": command}


def bench_install(work: Path) -> dict:
    """The Makefile's own bootstrap into a fresh venv with an empty uv and pip cache: downloads
    included, as on a new machine."""
    env = {**isolated_env(work), "UV_CACHE_DIR": str(work / "uv-cache"), "PIP_NO_CACHE_DIR": "1"}
    wall, _ = timed(["make", "-C", str(ROOT), "install", f"VENV={work / 'venv'}"], env)
    return {"install_s": wall}


def browser_measures(html_dir: Path) -> dict:
    """Per page, in headless Chromium from a local server (the browser tests' own harness):
    HTML+CSS+JS bytes as downloaded, and the median DOMContentLoaded of 5 cold loads (single
    loads vary by about 100 ms on a 2-core machine)."""
    try:
        from browser import measure_pages
        measures = measure_pages(html_dir, repeats=5)
    except Exception as error:  # no Chromium or Playwright on this machine, most likely
        return {"browser": f"not measured: {error}"}
    kb = {page: round(m.html_css_js_bytes / 1024, 1) for page, m in measures.items()}
    ms = {page: m.dom_content_loaded_ms for page, m in measures.items()}
    heaviest, slowest = max(kb, key=kb.get), max(ms, key=ms.get)
    return {"heaviest_page": heaviest, "heaviest_page_kb": kb[heaviest], "page_kb": kb,
            "slowest_page": slowest, "dom_content_loaded_ms": ms[slowest], "page_ms": ms}


# A screenshot smaller than this is blank, or nearly: the page did not render.
MIN_SCREENSHOT_BYTES = 10_000


def take_screenshots(html_dir: Path, out_dir: Path) -> dict:
    """Full-page screenshots of the pages a person reviews, both colour schemes, in
    ``out_dir`` (the browser tests' own harness, ``browser.screenshot_pages``)."""
    try:
        from browser import screenshot_pages
        written = screenshot_pages(html_dir, out_dir)
    except Exception as error:  # no Chromium or Playwright on this machine, most likely
        return {"screenshots": f"not taken: {error}"}
    return {"screenshots": [str(path) for path in written],
            "screenshots_blank": [str(path) for path in written
                                  if path.stat().st_size < MIN_SCREENSHOT_BYTES]}


LIGHTHOUSE = ROOT / "tools" / "lighthouse"  # package.json pins the version; npm ci installs it
LIGHTHOUSE_CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
# Scores below 100 that are a choice, not a defect: shown beside the miss, still a miss.
LIGHTHOUSE_WHY: dict[tuple[str, str], str] = {}  # (category, page) -> why; none now


# Lighthouse's own advice on its variability: run it several times and take the median
# (https://github.com/GoogleChrome/lighthouse/blob/v12.8.2/docs/variability.md). The
# performance score moves with the machine's load from run to run; the other three are
# computed from the page alone, so one run gives them.
PERFORMANCE_RUNS = 3


def bench_lighthouse(html_dir: Path, work: Path) -> dict:
    """Lighthouse's four scores for every page, default (mobile) settings, the site served
    from a local static server as a static host serves it (gzip): performance as the
    median of PERFORMANCE_RUNS runs (each run's score is kept), the others from the first.
    Installs the pinned Lighthouse from npm into tools/lighthouse/node_modules on first
    use."""
    from browser import built_pages, find_chromium, serve

    chromium = find_chromium()
    npm = shutil.which("npm")
    if chromium is None or npm is None:
        return {"lighthouse": f"not measured: no {'Chromium' if chromium is None else 'npm'}"}
    program = LIGHTHOUSE / "node_modules" / ".bin" / "lighthouse"
    if not program.exists():
        installed = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--prefix",
                                    str(LIGHTHOUSE)], capture_output=True, text=True)
        if installed.returncode != 0:  # e.g. an npm whose lock format differs
            why = next((line for line in installed.stderr.splitlines() if line.strip()
                        and "code" not in line), "no message").removeprefix("npm error ")
            return {"lighthouse": f"not measured: `npm ci` in {LIGHTHOUSE} failed: {why}"}
    env = {**isolated_env(work / "lighthouse"), "CHROME_PATH": chromium}
    report = work / "lighthouse.json"

    def categories(url: str, *only: str) -> dict:
        done = subprocess.run(
            [str(program), url, "--quiet", "--output=json", f"--output-path={report}",
             "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
             *([f"--only-categories={','.join(only)}"] if only else [])],
            env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"bench: lighthouse failed on {url}:\n{done.stderr[-2000:]}")
        return {name: round(100 * found["score"])
                for name, found in json.loads(report.read_text())["categories"].items()}

    scores, performance_runs = {}, {}
    with serve(html_dir, compress=True) as base:
        for page in built_pages(html_dir):
            first = categories(base + page)
            runs = [first["performance"]] + [
                categories(base + page, "performance")["performance"]
                for _ in range(PERFORMANCE_RUNS - 1)]
            scores[page] = {name: first[name] for name in LIGHTHOUSE_CATEGORIES}
            scores[page]["performance"] = round(statistics.median(runs))
            performance_runs[page] = runs
    lowest = {name: min(s[name] for s in scores.values()) for name in LIGHTHOUSE_CATEGORIES}
    return {"lighthouse_lowest": lowest, "lighthouse": scores,
            "lighthouse_performance_runs": performance_runs}


def row(name: str, value, target_key: str | None = None, unit: str = "") -> str:
    shown = f"{value:.2f}{unit}" if isinstance(value, float) else str(value)
    verdict = ""
    if target_key and isinstance(value, (int, float)):
        limit = TARGETS[target_key]
        verdict = f"target <= {limit:g}{unit}: {'ok' if value <= limit else 'MISSED'}"
    return f"{name:<58} {shown:>10}  {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builddir", default="_build")
    parser.add_argument("--clean-runs", type=int, default=2)
    parser.add_argument("--noop-runs", type=int, default=5)
    parser.add_argument("--example-runs", type=int, default=3)
    parser.add_argument("--skip-install", action="store_true")
    parser.add_argument("--skip-suite", action="store_true")
    parser.add_argument("--skip-lighthouse", action="store_true")
    args = parser.parse_args()
    if min(args.clean_runs, args.noop_runs, args.example_runs) < 1:
        parser.error("every run count must be at least 1")

    work = Path(tempfile.mkdtemp(prefix="workflow-docs-bench-"))
    try:
        report = {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                  "machine": platform.machine()}
        builds, html = bench_builds(work, args.clean_runs, args.noop_runs)
        report.update(builds)
        report["examples"] = bench_examples(work, args.example_runs)
        report.update(browser_measures(html))
        report.update(take_screenshots(html, Path(args.builddir) / "screenshots"))
        if not args.skip_lighthouse:
            report.update(bench_lighthouse(html, work))
        if not args.skip_install:
            report.update(bench_install(work))
        if not args.skip_suite:
            report.update(bench_suite())
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [f"bench on {report['cpu_count']} cores, Python {report['python']} "
             f"(medians: {args.clean_runs} clean builds, {args.noop_runs} no-op rebuilds, "
             f"{args.example_runs} runs per example)",
             row("clean build, examples executed (s)", report["clean_build_s"], "clean_build_s"),
             row("no-op rebuild (s)", report["noop_rebuild_s"], "noop_rebuild_s"),
             row("all lessons and evidence pages inside the clean build (s)",
                 report["all_examples_in_build_s"], "all_examples_in_build_s")]
    for stem, result in report["examples"].items():
        lines.append(row(f"{stem} as downloaded (s)", result["wall_s"], "example_s"))
        lines.append(row(f"{stem} peak memory (MB)", result["peak_rss_mb"]))
    if "browser" in report:
        lines.append(f"page weight and DOMContentLoaded: {report['browser']}")
    else:
        lines.append(row(f"heaviest page: {report['heaviest_page']} (KB)",
                         report["heaviest_page_kb"], "heaviest_page_kb"))
        lines.append(row(f"slowest DOMContentLoaded: {report['slowest_page']} (ms)",
                         report["dom_content_loaded_ms"], "dom_content_loaded_ms"))
    if isinstance(report["screenshots"], str):
        lines.append(f"screenshots for review: {report['screenshots']}")
    else:
        blank = report["screenshots_blank"]
        lines.append(f"screenshots for review: {len(report['screenshots'])} in "
                     f"{Path(args.builddir) / 'screenshots'}/"
                     + (f"; BLANK (under {MIN_SCREENSHOT_BYTES} bytes): {', '.join(blank)}"
                        if blank else ""))
    if "lighthouse_lowest" in report:
        pages = report["lighthouse"]
        for name, lowest in report["lighthouse_lowest"].items():
            below = sorted(page for page, s in pages.items() if s[name] < 100)
            named = [page + (f" ({LIGHTHOUSE_WHY[name, page]})"
                             if (name, page) in LIGHTHOUSE_WHY else "") for page in below]
            measure = (f"lighthouse {name} (median of {PERFORMANCE_RUNS} runs)"
                       if name == "performance" else f"lighthouse {name}")
            lines.append(f"{measure + ', lowest of ' + str(len(pages)) + ' pages':<58}"
                         f" {lowest:>10}  target 100: "
                         + ("ok" if not below else "MISSED on " + ", ".join(named[:4])))
    elif "lighthouse" in report:
        lines.append(f"lighthouse: {report['lighthouse']}")
    if "install_s" in report:
        lines.append(row("dependency install, fresh venv, empty cache (s)", report["install_s"],
                         "install_s"))
    if "suite_s" in report:
        lines.append(row("make test, the whole suite (s)", report["suite_s"], "suite_s"))
    print("\n".join(lines))
    out = Path(args.builddir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {out / 'bench.json'}")


if __name__ == "__main__":
    main()
