"""The strict build: zero warnings, every page present, real example output, no side effects."""

from __future__ import annotations

import re
from importlib import metadata

import pytest
from bs4 import BeautifulSoup

from conftest import EXAMPLES, GUIDES


def page(site, relpath: str) -> BeautifulSoup:
    return BeautifulSoup((site.html / relpath).read_text(encoding="utf-8"), "html.parser")


def captured_output(site, example_stem: str) -> str:
    """What the gallery captured from an example's run, all cells joined in order."""
    soup = page(site, f"auto_examples/{example_stem}.html")
    blocks = soup.select("div.sphx-glr-script-out pre")
    return "\n".join(block.get_text().rstrip("\n") for block in blocks)


def without_measurements(text: str) -> str:
    """Lines labelled as measured carry timings that differ run to run: mask their numbers."""
    return "\n".join(
        re.sub(r"\d+(\.\d+)?", "N", line) if "measured" in line else line
        for line in text.strip().splitlines()
    )


def test_strict_build_reports_no_warnings(site):
    warnings = [line for line in site.log.splitlines() if "WARNING" in line or "ERROR" in line]
    assert warnings == []


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.stem)
def test_every_guide_has_a_page(site, guide):
    assert (site.html / "guides" / f"{guide.stem}.html").is_file()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_page_shows_what_the_example_printed(site, example):
    output = captured_output(site, example.stem)
    assert output.strip(), f"{example.name}: its page shows no captured output"
    assert "Traceback" not in output


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_page_output_matches_a_standalone_run(site, standalone_runs, example):
    """Each example starts from an empty cache in the build, as it does on a reader's machine."""
    run = standalone_runs(example.stem)
    assert run.returncode == 0, f"{example.name} failed standalone:\n{run.stderr[-3000:]}"
    assert without_measurements(captured_output(site, example.stem)) == without_measurements(run.stdout)


def test_site_says_which_flytekit_produced_its_outputs(site):
    text = page(site, "index.html").get_text(" ", strip=True)
    assert f"flytekit {metadata.version('flytekit')}" in text


def test_build_writes_nothing_to_home_and_leaves_no_temp_files(site):
    assert list(site.home.iterdir()) == []
    assert list(site.tmp.iterdir()) == []
    leftovers = [p.name for p in site.html.parent.rglob("flyte*") if p.is_dir()]
    assert leftovers == [], "flytekit temp dirs were left in the build directory"


def test_build_sources_exclude_non_site_files(site):
    """README, tests and the gallery's raw header are inputs to tools, not pages."""
    for stray in ("README.html", "examples/GALLERY_HEADER.html", "tests"):
        assert not (site.html / stray).exists(), stray
