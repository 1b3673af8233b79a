"""The strict build: zero warnings, every page present, real example output, no side effects."""

from __future__ import annotations

import json
import re
from importlib import metadata

import pytest

from browser import built_pages
from conftest import GUIDES, LESSONS, built_page, lesson_id


def test_strict_build_reports_no_warnings(site):
    for log in site.logs:
        warnings = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
        assert warnings == []


def test_second_build_with_nothing_changed_reads_and_runs_nothing(site):
    """What a contributor's second `make html` does: no page read again, no script run."""
    assert "updating environment: 0 added, 0 changed, 0 removed" in site.logs[1]
    assert "executed 0 out of 0" in site.logs[1]


def test_search_index_keeps_its_index_entries_after_the_second_build(site):
    """The guides' {index} entries make a search land on the section that answers; an
    incremental build lost them (Sphinx 9.0, see _ext/search_index.py)."""
    text = (site.html / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[len("Search.setIndex("):-1])
    entries = index["indexentries"]
    docs = {index["docnames"][place[0]] for places in entries.values() for place in places}
    assert {f"guides/{guide.stem}" for guide in GUIDES} <= docs, sorted(docs)


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.stem)
def test_every_guide_has_a_page(site, guide):
    assert (site.html / "guides" / f"{guide.stem}.html").is_file()


@pytest.mark.parametrize("lesson", LESSONS, ids=lesson_id)
def test_every_lesson_page_shows_what_the_lesson_printed(site, lesson):
    """(tests/test_lessons.py holds that it is exactly what a reader's first run prints.)"""
    soup = built_page(site, f"auto_examples/{lesson_id(lesson)}.html")
    output = "\n".join(b.get_text() for b in soup.select("div.sphx-glr-script-out pre"))
    assert output.strip(), f"{lesson.name}: its page shows no captured output"
    assert "Traceback" not in output


@pytest.mark.parametrize("relpath", ["index.html", "guides/caching.html",
                                     "auto_examples/cache/rerun_with_caching.html",
                                     "auto_evidence/cache/cache_flyte1_evidence.html"])
def test_every_page_says_which_sdks_produced_its_outputs(site, relpath):
    footer = built_page(site, relpath).select_one("footer").get_text(" ", strip=True)
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
    for stray in ("README.html", "examples/GALLERY_HEADER.html", "tests", "evidence"):
        assert not (site.html / stray).exists(), stray


def test_no_page_asks_search_engines_not_to_index_it(site):
    """furo marks search.html noindex; _templates/search.html takes it out (Lighthouse's SEO
    audit fails a page that asks not to be indexed)."""
    asking = [name for name in built_pages(site.html)
              if any("noindex" in meta.get("content", "")
                     for meta in built_page(site, name).select("meta[name=robots]"))]
    assert not asking, asking
