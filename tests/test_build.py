"""The strict build: zero warnings, every page present, real example output, no side effects."""

from __future__ import annotations

import re
from importlib import metadata

import pytest
from bs4 import BeautifulSoup

from conftest import EXAMPLES, GUIDES, example_name


def page(site, relpath: str) -> BeautifulSoup:
    return BeautifulSoup((site.html / relpath).read_text(encoding="utf-8"), "html.parser")


def captured_output(site, name: str) -> str:
    """What the gallery captured from an example's run, all cells joined in order."""
    soup = page(site, f"auto_examples/{name}.html")
    blocks = soup.select("div.sphx-glr-script-out pre")
    return "\n".join(block.get_text().rstrip("\n") for block in blocks)


def without_measurements(text: str) -> str:
    """Lines labelled as measured carry timings that differ run to run: mask their numbers."""
    return "\n".join(
        re.sub(r"\d+(?:,\d{3})*(?:\.\d+)?", "N", line) if "measured" in line else line
        for line in text.strip().splitlines()
    )


def test_strict_build_reports_no_warnings(site):
    warnings = [line for line in site.log.splitlines() if "WARNING" in line or "ERROR" in line]
    assert warnings == []


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.stem)
def test_every_guide_has_a_page(site, guide):
    assert (site.html / "guides" / f"{guide.stem}.html").is_file()


@pytest.mark.parametrize("example", EXAMPLES, ids=example_name)
def test_every_example_page_shows_what_the_example_printed(site, example):
    output = captured_output(site, example_name(example))
    assert output.strip(), f"{example.name}: its page shows no captured output"
    assert "Traceback" not in output


@pytest.mark.parametrize("example", EXAMPLES, ids=example_name)
def test_example_page_output_matches_a_standalone_run(site, standalone_runs, example):
    """Each example starts from an empty cache in the build, as it does on a reader's machine."""
    name = example_name(example)
    run = standalone_runs(name)
    assert run.returncode == 0, f"{example.name} failed standalone:\n{run.stderr[-3000:]}"
    assert without_measurements(captured_output(site, name)) == without_measurements(run.stdout)


@pytest.mark.parametrize("relpath", ["index.html", "guides/caching.html",
                                     "auto_examples/rerun_with_caching.html"])
def test_every_page_says_which_sdks_produced_its_outputs(site, relpath):
    footer = page(site, relpath).select_one("footer").get_text(" ", strip=True)
    for sdk in ("flytekit", "flyte"):
        assert f"{sdk} {metadata.version(sdk)}" in footer


def test_build_writes_nothing_to_home_and_leaves_no_temp_files(site):
    assert list(site.home.iterdir()) == []
    assert list(site.tmp.iterdir()) == []
    # tempfile.mkdtemp names: flytekit's flyte-XXXXXXXX and flyteXXXXXXXX, the flyte SDK's
    # tmpXXXXXXXX; and the SDK's local runs (flyte/metadata, flyte/raw_data).
    temp_dir = re.compile(r"(flyte-?|tmp)[a-z0-9_]{8}")
    leftovers = [p.relative_to(site.html.parent).as_posix() for p in site.html.parent.rglob("*")
                 if p.is_dir() and (temp_dir.fullmatch(p.name) or p.name in ("metadata", "raw_data"))]
    assert leftovers == [], "SDK temp dirs were left in the build directory"


def test_build_sources_exclude_non_site_files(site):
    """README, tests and the gallery's raw header are inputs to tools, not pages."""
    for stray in ("README.html", "examples/GALLERY_HEADER.html", "tests"):
        assert not (site.html / stray).exists(), stray
