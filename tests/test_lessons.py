"""What every lesson promises a reader: a short script of mostly Flyte code, in public APIs,
that runs as downloaded, from its Run-it box, in Jupyter, and on a cluster unchanged.

Lessons are the scripts in examples/<question>/, for flytekit (Flyte 1) or the flyte SDK
(Flyte 2); the promises are the same, the commands differ (``evidence.lessons.sdk``).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest

from conftest import (LESSONS, ROOT, built_page, each_lesson, fresh_dir, lesson_id,
                      lines_too_long, machine)
from evidence import lessons, run_it, sdk

MAX_LINES = 150
MIN_FLYTE_SHARE = 0.70
MAX_PRINTED = 82  # characters of output: its box is narrower (the "Out" margin)
# What a page or a run may not show: machine paths, ids, timestamps.
MACHINE_SPECIFIC = re.compile(
    r"/tmp/|/home/|/root/|\b[0-9a-f]{16,}\b|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")
# Imports that belong to the evidence, never to a lesson: figures, log parsing, cache
# surgery, the project's own package.
EVIDENCE_ONLY = {"matplotlib", "logging", "diskcache", "sqlite3", "evidence"}


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


# --------------------------------------------------------------------------------------------
# The script itself


@each_lesson
def test_lesson_is_short_and_mostly_flyte_code(lesson):
    stats = lessons.stats(lesson)
    assert stats.lines <= MAX_LINES, f"{stats.lines} lines"
    assert stats.flyte_share >= MIN_FLYTE_SHARE, (
        f"{stats.flyte} of {stats.code} code lines are Flyte code ({stats.flyte_share:.0%})")


@each_lesson
def test_lesson_uses_public_sdk_names_only(lesson):
    private = [name for name in imported_modules(lesson)
               if name.split(".")[0] in ("flytekit", "flyte")
               and any(part.startswith("_") for part in name.split(".")[1:])]
    tree = ast.parse(lesson.read_text(encoding="utf-8"))
    private += [ast.unparse(node) for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                and node.attr.startswith("_") and not node.attr.startswith("__")]
    assert not private, private


@each_lesson
def test_lesson_draws_nothing_parses_no_log_and_touches_no_cache(lesson):
    used = {name.split(".")[0] for name in imported_modules(lesson)} & EVIDENCE_ONLY
    assert not used, f"evidence, not lesson: {sorted(used)} (see evidence/)"


@each_lesson
def test_lesson_has_a_title_docstring_and_a_main_guard(lesson):
    tree = ast.parse(lesson.read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree)
    assert docstring, "a lesson opens with a docstring whose first line is its title"
    title, underline = docstring.splitlines()[:2]
    assert set(underline) == {"="} and len(underline) >= len(title), "reST title underline"
    guards = [n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
    assert guards, "run code sits under `if __name__ == \"__main__\":`"


@each_lesson
def test_lesson_lines_fit_the_page(lesson):
    long = lines_too_long(lesson)
    assert not long, "\n".join(long)


@each_lesson
def test_importing_a_lesson_runs_nothing(lesson, capfd):
    lessons.load(lesson_id(lesson))
    out, _ = capfd.readouterr()
    assert out == ""


def test_lessons_are_in_the_question_folders_and_named_apart():
    """One folder per guide; both SDKs find a task's module by its file's stem, so no two
    lessons (or evidence pages) share one."""
    found = sorted((ROOT / "examples").rglob("*.py"))
    assert found == sorted(LESSONS), "a script outside examples/<question>/"
    stems = [p.stem for p in [*found, *(ROOT / "evidence" / "pages").rglob("*.py")]]
    assert len(stems) == len(set(stems)), stems


def flytekit_lessons() -> list[Path]:
    return [p for p in LESSONS if lessons.sdk(p) == "flytekit"]


@pytest.mark.parametrize("lesson", flytekit_lessons(), ids=lesson_id)
def test_every_flytekit_task_declares_the_image_it_needs(lesson):
    from flytekit import ImageSpec
    from flytekit.core.base_task import PythonTask

    module = lessons.load(lesson_id(lesson))
    tasks = [v for v in vars(module).values() if isinstance(v, PythonTask)]
    assert tasks, "a lesson defines at least one task"
    for task in tasks:
        assert isinstance(task.container_image, ImageSpec), f"{task.name} has no ImageSpec"


def image_requirements(lesson: Path) -> list[str]:
    module = lessons.load(lesson_id(lesson))
    if lessons.sdk(lesson) == "flyte":
        import flyte

        envs = [v for v in vars(module).values() if isinstance(v, flyte.TaskEnvironment)]
        assert envs, "a Flyte 2 lesson defines at least one TaskEnvironment"
        for env in envs:
            assert isinstance(env.image, flyte.Image), f"{env.name}: name its image"
        return [p for env in envs for p in sdk.flyte_image_pip_packages(env.image)]
    from flytekit import ImageSpec

    return [r for v in vars(module).values() if isinstance(v, ImageSpec) for r in v.packages or []]


@each_lesson
def test_image_pins_the_versions_that_produced_the_page(lesson):
    for requirement in image_requirements(lesson):
        name, sep, pinned = requirement.partition("==")
        assert sep, f"{requirement}: pin it with =="
        assert pinned == metadata.version(name), f"{requirement}: installed is {name} " \
                                                 f"{metadata.version(name)}"


def test_pyflyte_package_compiles_every_flytekit_lesson():
    """`pyflyte package` compiles every workflow and task as registration would, offline."""
    work = fresh_dir("package")
    folder = work / "lessons"  # a package name: no hyphen
    folder.mkdir()
    for lesson in flytekit_lessons():
        shutil.copy(lesson, folder / lesson.name)
    (folder / "__init__.py").touch()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "pyflyte"), "--pkgs", folder.name, "package",
         "--image", "localhost:30000/unused:0", "-o", str(work / "lessons.tgz")],
        cwd=work, capture_output=True, text=True, check=False, env=machine("package"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Successfully packaged" in done.stdout


# --------------------------------------------------------------------------------------------
# The Run-it box: the commands a reader copies from the top of the page


def imported_distributions(lesson: Path) -> set[str]:
    """Distributions (as installed) the lesson's imports come from, stdlib excluded."""
    tops = {name.split(".")[0] for name in imported_modules(lesson)}
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


@each_lesson
def test_run_it_box_has_install_local_and_cluster_blocks(lesson):
    box = run_it.parse(lesson)
    for caption, expected in zip(box.captions, run_it.CAPTIONS):
        assert caption.startswith(expected), f"{caption!r} should start with {expected!r}"


@each_lesson
def test_run_it_captions_mark_commands_as_code(lesson):
    """A command in a caption is ``code``; a single-backquoted one renders in italics (reST's
    default role), as two pages once showed `flyte create config`."""
    for caption in run_it.parse(lesson).captions:
        assert not re.search(r"(?<!`)`[^`]+`(?!`)", caption), caption


@each_lesson
def test_install_line_pins_exactly_what_the_lesson_imports(lesson):
    """`pip install` names every distribution the lesson imports that nothing else on the
    line brings, nothing it does not need, each at the version that produced the page."""
    words = run_it.parse(lesson).install
    assert words[:2] == ["pip", "install"], words
    pinned = dict(word.split("==") for word in words[2:])
    for name, version in pinned.items():
        assert version == metadata.version(name), f"{name}=={version}: installed is " \
                                                  f"{metadata.version(name)}"
    listed = {name.lower() for name in pinned}
    brought = set().union(*(requirements_of(name) for name in listed))
    missing = imported_distributions(lesson) - listed - brought
    assert not missing, f"imported but not installed by the line: {sorted(missing)}"
    unused = {name for name in listed if name not in imported_distributions(lesson)}
    assert not unused, f"installed but not imported: {sorted(unused)}"


@cache
def entry_point(lesson: Path) -> tuple[object, set[str]]:
    """The workflow or task the local run command names, and its inputs."""
    local = run_it.parse(lesson).local[1]
    module = lessons.load(lesson_id(lesson))
    if lessons.sdk(lesson) == "flyte":
        import flyte

        entry = getattr(module, local[4], None)
        assert isinstance(entry, flyte.TaskTemplate), f"{local[4]} is not a task of the lesson"
        return entry, set(entry.native_interface.inputs)
    from flytekit.core.base_task import PythonTask
    from flytekit.core.workflow import WorkflowBase

    entry = getattr(module, local[3], None)
    assert isinstance(entry, (WorkflowBase, PythonTask)), f"{local[3]} is not in the lesson"
    return entry, set(entry.python_interface.inputs)


@each_lesson
def test_run_it_commands_name_this_file_a_real_entry_point_and_its_inputs(lesson):
    """Locally: the whole script, then one workflow or task with inputs it has, both on the
    bare file name in the folder the file is in; a clone's reader changes to that folder
    first. On a cluster: the same entry point and inputs."""
    box = run_it.parse(lesson)
    assert box.clone_folder == lesson.parent.relative_to(ROOT).as_posix()
    assert box.local[0] == ["python", lesson.name]
    local, cluster = box.local[1], box.cluster[-1]
    if lessons.sdk(lesson) == "flyte":
        assert local[:4] == ["flyte", "run", "--local", lesson.name], local
        assert cluster[:3] == ["flyte", "run", lesson.name] and cluster[3:] == local[4:]
        args = local[5:]
    else:
        assert local[:3] == ["pyflyte", "run", lesson.name], local
        assert cluster[:4] == ["pyflyte", "run", "--remote", lesson.name]
        assert cluster[4:] == local[3:], cluster
        args = local[4:]
    _, inputs = entry_point(lesson)
    for flag in (a for a in args if a.startswith("--")):
        assert flag[2:].split("=")[0] in inputs, f"{flag} is not an input"


@each_lesson
def test_cluster_block_says_where_the_image_goes(lesson):
    """Both SDKs push the image they build to FLYTE_IMAGE_REGISTRY (flytekit through the
    lesson's ImageSpec, the flyte SDK's builder by itself): the box sets it first."""
    first = run_it.parse(lesson).cluster[0]
    assert first[0] == "export" and first[1].startswith("FLYTE_IMAGE_REGISTRY="), first


# --------------------------------------------------------------------------------------------
# The lesson as a reader runs it: downloaded into an empty folder, the box's commands


@each_lesson
def test_downloaded_lesson_runs_with_the_run_it_commands(lesson, reader_runs):
    """Each local command of the box succeeds in a folder holding only the script, on a new
    machine, and prints labelled lines that fit the page and name nothing of the machine."""
    for run in reader_runs(lesson_id(lesson)):
        assert run.returncode == 0, f"{' '.join(run.command)}:\n{run.stderr[-3000:]}"
    script = reader_runs(lesson_id(lesson))[0]
    lines = [line for line in script.stdout.splitlines() if line.strip()]
    assert lines, "a lesson prints what it shows"
    for line in lines:
        assert re.match(r"^(\S[^:]*: \S|  )", line), f"not a labelled line: {line!r}"
        assert not MACHINE_SPECIFIC.search(line), f"machine-specific output: {line!r}"
        assert len(line) <= MAX_PRINTED, f"{len(line)} characters: {line!r}"


def printed_on_page(site, lesson: Path) -> str:
    soup = built_page(site, f"auto_examples/{lesson_id(lesson)}.html")
    return "\n".join(b.get_text().rstrip("\n") for b in soup.select("div.sphx-glr-script-out pre"))


@each_lesson
def test_lesson_page_shows_what_a_reader_sees(site, lesson, reader_runs):
    """The build ran each lesson on empty caches, as a reader's first run is: the page shows
    exactly the lines the downloaded script printed."""
    script = reader_runs(lesson_id(lesson))[0]
    assert printed_on_page(site, lesson).strip() == script.stdout.strip()


@each_lesson
def test_download_is_the_lesson_itself(site, lesson):
    soup = built_page(site, f"auto_examples/{lesson_id(lesson)}.html")
    link = soup.select_one(f"a[href$='/{lesson.name}']")
    assert link is not None, "no download button for the script"
    downloaded = (site.html / "auto_examples" / lesson_id(lesson)).parent / link["href"]
    assert downloaded.read_bytes() == lesson.read_bytes()


@each_lesson
def test_lesson_page_links_to_its_guide_and_its_evidence(site, lesson):
    article = built_page(site, f"auto_examples/{lesson_id(lesson)}.html").select_one("article")
    hrefs = [a.get("href", "") for a in article.select("a")]
    assert any("guides/" in h for h in hrefs), "no link to the guide"
    assert any("auto_evidence/" in h for h in hrefs), "no link to the evidence page"
