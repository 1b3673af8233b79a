"""The evidence package: private SDK names in one place, probes that tell a body run from a
cache hit, figures refused when their text collides, evidence pages that ran and offer no
downloads."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import matplotlib
import pytest

from conftest import ROOT, built_page, lines_too_long
from evidence import figures, probes, sdk

matplotlib.use("Agg")
PROJECT_PYTHON = sorted(p for p in ROOT.rglob("*.py") if not {".venv", "_build", "auto_examples",
                        "auto_evidence", ".git"} & set(p.relative_to(ROOT).parts))


def private_sdk_uses(path: Path) -> list[str]:
    """Imports of a private flytekit or flyte module or name, and ``._name`` attributes of
    what such an import bound."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found, sdk_names = [], set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            module = getattr(node, "module", None) or ""
            names = [module] if isinstance(node, ast.ImportFrom) else []
            for alias in node.names:
                full = f"{module}.{alias.name}" if module else alias.name
                top = full.split(".")[0]
                if top not in ("flytekit", "flyte") or (node.level if hasattr(node, "level") else 0):
                    continue
                sdk_names.add((alias.asname or alias.name).split(".")[0])
                names.append(full)
            found += [n for n in names if n.split(".")[0] in ("flytekit", "flyte")
                      and any(part.startswith("_") for part in n.split(".")[1:])]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                and not node.attr.startswith("__"):
            root = node
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in sdk_names:
                found.append(ast.unparse(node))
    return found


def test_private_sdk_names_are_used_in_evidence_sdk_only():
    uses = {p.relative_to(ROOT).as_posix(): private_sdk_uses(p) for p in PROJECT_PYTHON
            if p != ROOT / "evidence" / "sdk.py"}
    assert {path: found for path, found in uses.items() if found} == {}


def test_every_private_name_resolves_in_the_installed_sdks():
    sdk.check()


def test_a_passed_check_is_not_repeated_until_the_names_or_the_sdk_files_change(
        monkeypatch, tmp_path):
    stamp, checks = tmp_path / "checked.json", []
    sdk.check_once(stamp)
    monkeypatch.setattr(sdk, "check", lambda: checks.append("checked"))
    sdk.check_once(stamp)
    assert checks == [], "checked again with nothing changed"

    monkeypatch.setitem(sdk.NAMES, "another", ("flyte", "flyte._run:_Runner"))
    sdk.check_once(stamp)
    assert len(checks) == 1, "a new name was not checked"

    # The same version with one named module changed, as an editable install has it; then
    # a new version.
    edited = tmp_path / "_run.py"
    edited.write_text("# edited\n")
    installed = sdk.metadata.distribution

    class Edited:
        def __init__(self, name, version=None):
            self.real, self.version = installed(name), version or installed(name).version

        def locate_file(self, relpath):
            return edited if relpath == "flyte/_run.py" else self.real.locate_file(relpath)

    monkeypatch.setattr(sdk.metadata, "distribution", Edited)
    sdk.check_once(stamp)
    assert len(checks) == 2, "a changed SDK file was not checked"
    monkeypatch.setattr(sdk.metadata, "distribution", lambda name: Edited(name, "99.0"))
    sdk.check_once(stamp)
    assert len(checks) == 3, "a new SDK version was not checked"


def test_a_moved_name_fails_naming_the_sdk_its_version_and_the_name(monkeypatch):
    from importlib import metadata

    monkeypatch.setitem(sdk.NAMES, "gone", ("flyte", "flyte._run:_NoSuchRunner"))
    with pytest.raises(sdk.SDKChanged) as raised:
        sdk.check()
    message = str(raised.value)
    assert f"flyte {metadata.version('flyte')}" in message
    assert "flyte._run:_NoSuchRunner" in message and "evidence/sdk.py" in message


# --------------------------------------------------------------------------------------------
# Probes


def test_flytekit_probe_tells_a_body_run_from_a_cache_hit(empty_caches):
    from evidence import lessons

    lesson = lessons.load("cache/cache_arrays_by_content")
    with probes.flytekit_runs() as first:
        lesson.ink_by_content()
    with probes.flytekit_runs() as second:
        lesson.ink_by_content()
    assert first.bodies == ["digit_images_hashed", "ink_per_image"]
    assert first.misses == ["ink_per_image"] and first.hits == []
    assert second.bodies == ["digit_images_hashed"] and second.hits == ["ink_per_image"]


def test_probes_leave_the_sdks_as_they_were():
    from flytekit.core.local_cache import LocalTaskCache
    from flytekit.core.python_function_task import PythonFunctionTask

    before = (PythonFunctionTask.__dict__["execute"], LocalTaskCache.__dict__["get"])
    with probes.flytekit_runs():
        assert PythonFunctionTask.__dict__["execute"] is not before[0]
    assert (PythonFunctionTask.__dict__["execute"], LocalTaskCache.__dict__["get"]) == before


# --------------------------------------------------------------------------------------------
# Figures


def test_a_figure_without_a_title_is_refused():
    fig, ax = figures.figure(2.0)
    ax.plot([0, 1], [0, 1])
    with pytest.raises(figures.UnreadableFigure, match="no title"):
        figures.check(fig)


def test_a_figure_whose_tick_labels_overlap_is_refused():
    fig, ax = figures.figure(2.0)
    ax.set_title("a title")
    ax.set_xticks(range(8), [f"a long tick label {i}" for i in range(8)])
    with pytest.raises(figures.UnreadableFigure, match="overlap"):
        figures.check(fig)


def test_a_legend_over_drawn_text_is_refused():
    fig, ax = figures.figure(2.0)
    ax.set_title("a title")
    ax.plot([0, 1], [0, 1], label="a line")
    ax.text(0.02, 0.9, "a note under the legend", transform=ax.transAxes)
    ax.legend(loc="upper left")
    with pytest.raises(figures.UnreadableFigure, match="legend covers"):
        figures.check(fig)


def test_a_readable_figure_passes():
    fig, ax = figures.figure(2.0)
    ax.set_title("a title")
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend(loc="lower right")
    figures.check(fig)


# --------------------------------------------------------------------------------------------
# Evidence pages in the built site

EVIDENCE_PAGES = sorted((ROOT / "evidence" / "pages").rglob("*.py"))


MAX_PRINTED = 82  # characters of output: its box is narrower (the "Out" margin)
evidence_pages = pytest.mark.parametrize(
    "script", EVIDENCE_PAGES, ids=lambda p: p.relative_to(ROOT / "evidence" / "pages").as_posix())


@evidence_pages
def test_evidence_page_code_fits_the_page(script):
    long = lines_too_long(script)
    assert not long, "\n".join(long)


@evidence_pages
def test_evidence_page_prints_labelled_lines_that_fit_its_output_box(site, script):
    """What a page printed: labelled lines, none wider than the output box, no SDK log
    line (a warning reaching stdout, such as flytekit's Docker probe)."""
    relpath = script.relative_to(ROOT / "evidence" / "pages").with_suffix(".html")
    soup = built_page(site, f"auto_evidence/{relpath.as_posix()}")
    lines = [line for block in soup.select("div.sphx-glr-script-out pre")
             for line in block.get_text().splitlines() if line.strip()]
    problems = [f"{len(line)} characters: {line!r}" for line in lines if len(line) > MAX_PRINTED]
    problems += [f"not a labelled line: {line!r}" for line in lines
                 if not re.match(r"^(\S[^:]*: \S|  )", line)]
    assert not problems, "\n".join(problems)


@evidence_pages
def test_evidence_page_ran_and_offers_no_download(site, script):
    relpath = script.relative_to(ROOT / "evidence" / "pages").with_suffix(".html")
    soup = built_page(site, f"auto_evidence/{relpath.as_posix()}")
    output = "\n".join(b.get_text() for b in soup.select("div.sphx-glr-script-out pre"))
    assert output.strip() and "Traceback" not in output
    article = soup.select_one("article")
    assert not article.select(".sphx-glr-download, .sphx-glr-download-link-note")
    assert not article.select("a[href$='.py'], a[href$='.ipynb'], a[href$='.zip']")
