"""What every example promises a reader: it copies, runs, registers and reads the same way.

Flyte 1 examples (flytekit) live in examples/, Flyte 2 examples (the flyte SDK) in
examples/flyte2/; the promises are the same, the commands differ.
"""

from __future__ import annotations

import ast
import re
import shlex
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from flytekit import ImageSpec
from flytekit.core.base_task import PythonTask
from flytekit.core.workflow import WorkflowBase

from compiled import image_specs, load_example
from conftest import (EXAMPLES, EXAMPLES_DIR, FLYTE2_EXAMPLES, FLYTEKIT_EXAMPLES, PYFLYTE, ROOT,
                      example_name, fresh_dir, run_example)

examples = pytest.mark.parametrize("example", EXAMPLES, ids=example_name)

# What a page must not show: machine paths, ids, timestamps.
MACHINE_SPECIFIC = re.compile(
    r"/tmp/|/home/|/root/|\b[0-9a-f]{16,}\b|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}"
)
# Lines the page can show without scrolling sideways (house style).
MAX_LINE = 88
# The "Run it" box: its four commands, in this order, by how their captions start
# ("Run the workflow with your own inputs" or "Run the task ..."; "Run it on a Flyte cluster"
# or "... Flyte 2 cluster"). tests/test_reading.py checks the box on the page.
RUN_IT_CAPTIONS = ("Install (Python 3.11 or newer)", "Run the whole script, as this page did",
                   "Run the ", "Run it on a Flyte")
FLYTE = str(Path(sys.executable).parent / "flyte")


def is_flyte2(example: Path) -> bool:
    return example in FLYTE2_EXAMPLES


@examples
def test_example_has_a_title_docstring_and_a_main_guard(example):
    tree = ast.parse(example.read_text())
    docstring = ast.get_docstring(tree)
    assert docstring, "an example opens with a docstring whose first line is its title"
    title, underline = docstring.splitlines()[:2]
    assert set(underline) == {"="} and len(underline) >= len(title), "reST title underline"
    guards = [n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
    assert guards, "run code sits under `if __name__ == \"__main__\":`"


@examples
def test_example_lines_fit_the_page(example):
    """Code and comments of at most 88 characters: the page shows them without scrolling."""
    long = [f"line {n}: {len(line)} characters" for n, line in
            enumerate(example.read_text().splitlines(), 1) if len(line) > MAX_LINE]
    assert not long, "\n".join(long)


@examples
def test_figures_use_no_text_smaller_than_10_points(example):
    """Figures are shown at the size they are drawn, so 10 pt is about the body's small print
    on the page; smaller tick labels, legends and notes are unreadable."""
    source = example.read_text()
    small = [m[0] for m in re.finditer(r"\b(?:fontsize|labelsize|size)\s*=\s*(\d+(?:\.\d+)?)",
                                       source) if float(m[1]) < 10]
    small += re.findall(r"\b(?:fontsize|labelsize)\s*=\s*['\"](?:x+-)?small['\"]", source)
    assert not small, f"text below 10 pt: {small}"


def labels(output: str) -> list[str]:
    return [line.split(": ", 1)[0] for line in output.splitlines() if ": " in line]


@examples
def test_running_an_example_again_on_the_same_machine_works(example, standalone_runs):
    """Readers run a script twice: the second run, with the local cache the first one left,
    succeeds and prints no line the first run did not (an example may drop lines on a cache
    hit, as its page says; none may add any)."""
    name = example_name(example)
    first, second = standalone_runs(name), standalone_runs(name, again=True)
    assert first.returncode == 0, first.stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    assert set(labels(second.stdout)) <= set(labels(first.stdout))


@examples
def test_importing_an_example_runs_nothing(example, capfd):
    load_example(example_name(example))
    out, err = capfd.readouterr()
    assert out == ""


@pytest.mark.parametrize("example", FLYTEKIT_EXAMPLES, ids=example_name)
def test_every_flytekit_task_declares_the_image_it_needs(example):
    module = load_example(example_name(example))
    tasks = [v for v in vars(module).values() if isinstance(v, PythonTask)]
    assert tasks, "an example defines at least one task"
    for task in tasks:
        assert isinstance(task.container_image, ImageSpec), f"{task.name} has no ImageSpec"


def flyte2_pip_packages(module) -> list[str]:
    """The pip packages of every TaskEnvironment's image in a Flyte 2 example."""
    import flyte
    from flyte._image import PipPackages

    envs = [v for v in vars(module).values() if isinstance(v, flyte.TaskEnvironment)]
    assert envs, "a Flyte 2 example defines at least one TaskEnvironment"
    packages = []
    for env in envs:
        assert isinstance(env.image, flyte.Image), f"{env.name}: name its image (not 'auto')"
        packages += [p for layer in env.image._layers if isinstance(layer, PipPackages)
                     for p in layer.packages]
    return packages


@examples
def test_image_pins_the_versions_that_produced_the_page(example):
    """A cluster run should use the packages the site was built with."""
    module = load_example(example_name(example))
    if is_flyte2(example):
        requirements = flyte2_pip_packages(module)
    else:
        requirements = [r for spec in image_specs(module) for r in spec.packages or []]
    for requirement in requirements:
        name, sep, pinned = requirement.partition("==")
        assert sep, f"{requirement}: pin it with =="
        assert pinned == metadata.version(name), f"{requirement} differs from the installed {name}"


@examples
def test_example_prints_labelled_lines_only(example, standalone_runs):
    run = standalone_runs(example_name(example))
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert lines, "an example prints what it shows"
    for line in lines:
        assert re.match(r"^(\S[^:]*: \S|  )", line), f"not a labelled line: {line!r}"
        assert not MACHINE_SPECIFIC.search(line), f"machine-specific output: {line!r}"
        assert len(line) <= MAX_LINE, f"{len(line)} characters, wider than the page: {line!r}"


@examples
def test_example_page_shows_a_figure_and_the_gallery_a_thumbnail(site, example):
    name = example_name(example)
    page = BeautifulSoup((site.html / "auto_examples" / f"{name}.html").read_text(), "html.parser")
    assert page.select("img.sphx-glr-single-img, img.sphx-glr-multi-img"), "no figure on the page"
    index = BeautifulSoup((site.html / "auto_examples" / "index.html").read_text(), "html.parser")
    thumbs = [img["src"] for img in index.select(".sphx-glr-thumbcontainer img")]
    assert any(f"sphx_glr_{example.stem}_thumb" in src for src in thumbs)


@examples
def test_example_page_links_to_a_guide(site, example):
    page = BeautifulSoup((site.html / "auto_examples" / f"{example_name(example)}.html").read_text(),
                         "html.parser")
    article = page.select_one("article")
    assert any("guides/" in a.get("href", "") for a in article.select("a"))


def test_examples_package_for_a_cluster():
    """`pyflyte package` compiles every flytekit workflow and task as registration would."""
    out = fresh_dir("package") / "examples.tgz"
    result = subprocess.run(
        [PYFLYTE, "--pkgs", "examples", "package", "--image", "localhost:30000/unused:0", "-o", str(out)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Successfully packaged" in result.stdout


# --------------------------------------------------------------------------------------------
# The "Run it" box: the commands a reader copies from the top of the page.

@cache
def run_it_commands(example: Path) -> dict[str, str]:
    """Caption prefix -> command, from the example docstring's "Run it" admonition."""
    docstring = ast.get_docstring(ast.parse(example.read_text()))
    box = re.search(r"^\.\. admonition:: Run it\n((?:[ \t]+.*\n|[ \t]*\n)*)", docstring + "\n",
                    re.M)
    assert box, "the docstring has no `.. admonition:: Run it` box"
    blocks = re.findall(r"\.\. code-block:: sh\n[ \t]+:caption: (.+)\n((?:(?![ \t]*\.\. ).*\n)*)",
                        box[1])
    commands = {}
    for caption, code in blocks:
        lines = [line.strip() for line in code.strip().splitlines()]
        commands[caption.strip()] = " ".join(line.removesuffix("\\").strip() for line in lines)
    return commands


def command(example: Path, which: int) -> str:
    """The Run-it box's command number ``which`` (0: install ... 3: cluster)."""
    commands = list(run_it_commands(example).values())
    assert len(commands) == len(RUN_IT_CAPTIONS), f"the Run-it box has {len(commands)} commands"
    return commands[which]


@examples
def test_run_it_box_has_the_four_commands(example):
    captions = list(run_it_commands(example))
    assert len(captions) == 4, captions
    for caption, expected in zip(captions, RUN_IT_CAPTIONS):
        assert caption.startswith(expected), f"{caption!r} should start with {expected!r}"


def imported_distributions(example: Path) -> set[str]:
    """Distributions (as installed) that the example's imports come from, stdlib excluded."""
    tops = set()
    for node in ast.walk(ast.parse(example.read_text())):
        if isinstance(node, ast.Import):
            tops |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            tops.add(node.module.split(".")[0])
    providers = metadata.packages_distributions()
    return {providers[top][0].lower() for top in tops - set(sys.stdlib_module_names)}


def requirements_of(distribution: str, seen: set[str] | None = None) -> set[str]:
    """Everything installing ``distribution`` installs (its requirements, transitively)."""
    seen = set() if seen is None else seen
    for requirement in metadata.requires(distribution) or []:
        if "extra ==" in requirement:
            continue
        name = re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        if name not in seen:
            seen.add(name)
            try:
                requirements_of(name, seen)
            except metadata.PackageNotFoundError:
                pass  # a requirement for another platform
    return seen


@examples
def test_install_line_pins_exactly_what_the_example_imports(example):
    """`pip install` names every distribution the example imports that nothing else on the
    line brings, nothing it does not need, each at the version that produced the page."""
    words = shlex.split(command(example, 0))
    assert words[:2] == ["pip", "install"], words
    pinned = dict(word.split("==") for word in words[2:])
    for name, version in pinned.items():
        assert version == metadata.version(name), f"{name}=={version}: installed is {metadata.version(name)}"
    listed = {name.lower() for name in pinned}
    brought = set().union(*(requirements_of(name) for name in listed))
    missing = imported_distributions(example) - listed - brought
    assert not missing, f"imported but not installed by the line: {sorted(missing)}"
    unused = {name for name in listed if name not in imported_distributions(example)}
    assert not unused, f"installed but not imported: {sorted(unused)}"


@examples
def test_run_it_runs_this_very_file(example):
    path = example.relative_to(ROOT).as_posix()
    assert command(example, 1) == f"python {path}"


def local_and_remote(example: Path) -> tuple[list[str], list[str]]:
    local = shlex.split(command(example, 2))
    remote = shlex.split(command(example, 3))
    return local, remote


@examples
def test_run_it_names_a_real_entry_point_and_its_inputs(example):
    """The local command runs a workflow (Flyte 1) or task (Flyte 2) the file defines, with
    inputs it has; the cluster command runs the same thing with the same inputs."""
    path = example.relative_to(ROOT).as_posix()
    local, remote = local_and_remote(example)
    if is_flyte2(example):
        assert local[:4] == ["flyte", "run", "--local", path], local
        assert remote[:3] == ["flyte", "run", path] and remote[3:] == local[4:], remote
        entry, args = local[4], local[5:]
        import flyte

        task = getattr(load_example(example_name(example)), entry, None)
        assert isinstance(task, flyte.TaskTemplate), f"{entry} is not a task in {path}"
        inputs = set(task.native_interface.inputs)
    else:
        assert local[:3] == ["pyflyte", "run", path], local
        assert remote[:4] == ["pyflyte", "run", "--remote", path] and remote[4:] == local[3:], remote
        entry, args = local[3], local[4:]
        workflow = getattr(load_example(example_name(example)), entry, None)
        assert isinstance(workflow, WorkflowBase), f"{entry} is not a workflow in {path}"
        inputs = set(workflow.python_interface.inputs)
    for flag in (a for a in args if a.startswith("--")):
        assert flag[2:].split("=")[0] in inputs, f"{flag} is not an input of {entry}"


@examples
def test_run_it_local_command_runs(example):
    """The reader's local command, as shown, succeeds (isolated HOME and TMPDIR)."""
    local, _ = local_and_remote(example)
    program = {"pyflyte": PYFLYTE, "flyte": FLYTE}[local[0]]
    result = run_example(example, command=(program, *local[1:]))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


def test_every_example_is_in_a_gallery_folder():
    """Flyte 1 examples at the top of examples/, Flyte 2 ones in examples/flyte2/: the only
    folders with a gallery header."""
    folders = {p.parent for p in EXAMPLES}
    assert folders <= {EXAMPLES_DIR, EXAMPLES_DIR / "flyte2"}, folders
    for folder in folders:
        assert (folder / "GALLERY_HEADER.rst").is_file(), folder
