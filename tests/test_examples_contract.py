"""What every example promises a reader: it copies, runs, registers and reads the same way."""

from __future__ import annotations

import ast
import re
import subprocess
from importlib import metadata

import pytest
from bs4 import BeautifulSoup
from flytekit import ImageSpec
from flytekit.core.base_task import PythonTask

from compiled import image_specs, load_example
from conftest import EXAMPLES, PYFLYTE, ROOT, fresh_dir

examples = pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)

# What a page must not show: machine paths, ids, timestamps.
MACHINE_SPECIFIC = re.compile(
    r"/tmp/|/home/|/root/|\b[0-9a-f]{16,}\b|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}"
)


@examples
def test_example_has_a_title_docstring_and_a_main_guard(example):
    tree = ast.parse(example.read_text())
    docstring = ast.get_docstring(tree)
    assert docstring, "an example opens with a docstring whose first line is its title"
    title, underline = docstring.splitlines()[:2]
    assert set(underline) == {"="} and len(underline) >= len(title), "reST title underline"
    guards = [n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
    assert guards, "run code sits under `if __name__ == \"__main__\":`"


def labels(output: str) -> list[str]:
    return [line.split(": ", 1)[0] for line in output.splitlines() if ": " in line]


@examples
def test_running_an_example_again_on_the_same_machine_works(example, standalone_runs):
    """Readers run a script twice: the second run, with the local cache the first one left,
    succeeds and prints no line the first run did not (decomposition's run 1 drops its
    train-body lines on a cache hit, as its page says; the others print the same labels)."""
    first, second = standalone_runs(example.stem), standalone_runs(example.stem, again=True)
    assert first.returncode == 0, first.stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    assert set(labels(second.stdout)) <= set(labels(first.stdout))


@examples
def test_importing_an_example_runs_nothing(example, capfd):
    load_example(example.stem)
    out, err = capfd.readouterr()
    assert out == ""


@examples
def test_every_task_declares_the_image_it_needs(example):
    module = load_example(example.stem)
    tasks = [v for v in vars(module).values() if isinstance(v, PythonTask)]
    assert tasks, "an example defines at least one task"
    for task in tasks:
        assert isinstance(task.container_image, ImageSpec), f"{task.name} has no ImageSpec"


@examples
def test_image_pins_the_versions_that_produced_the_page(example):
    """A cluster run should use the packages the site was built with."""
    for spec in image_specs(load_example(example.stem)):
        for requirement in spec.packages or []:
            name, sep, pinned = requirement.partition("==")
            assert sep, f"{requirement}: pin it with =="
            assert pinned == metadata.version(name), f"{requirement} differs from the installed {name}"


@examples
def test_example_prints_labelled_lines_only(example, standalone_runs):
    run = standalone_runs(example.stem)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert lines, "an example prints what it shows"
    for line in lines:
        assert re.match(r"^(\S[^:]*: \S|  )", line), f"not a labelled line: {line!r}"
        assert not MACHINE_SPECIFIC.search(line), f"machine-specific output: {line!r}"


@examples
def test_example_page_shows_a_figure_and_the_gallery_a_thumbnail(site, example):
    page = BeautifulSoup((site.html / "auto_examples" / f"{example.stem}.html").read_text(), "html.parser")
    assert page.select("img.sphx-glr-single-img, img.sphx-glr-multi-img"), "no figure on the page"
    index = BeautifulSoup((site.html / "auto_examples" / "index.html").read_text(), "html.parser")
    thumbs = [img["src"] for img in index.select(".sphx-glr-thumbcontainer img")]
    assert any(f"sphx_glr_{example.stem}_thumb" in src for src in thumbs)


@examples
def test_example_page_links_to_a_guide(site, example):
    page = BeautifulSoup((site.html / "auto_examples" / f"{example.stem}.html").read_text(), "html.parser")
    article = page.select_one("article")
    assert any("guides/" in a.get("href", "") for a in article.select("a"))


def test_examples_package_for_a_cluster():
    """`pyflyte package` compiles every workflow and task as registration would."""
    out = fresh_dir("package") / "examples.tgz"
    result = subprocess.run(
        [PYFLYTE, "--pkgs", "examples", "package", "--image", "localhost:30000/unused:0", "-o", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Successfully packaged" in result.stdout
