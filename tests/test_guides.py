"""Guides are reachable, lead to executed lessons and evidence, and show only code that ran."""

from __future__ import annotations

import re
import shlex

import pytest
from flytekit.core.workflow import WorkflowBase

from browser import built_pages
from conftest import GUIDES, ROOT, built_page
from evidence import lessons

guides = pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.stem)

# Python a guide may show: the executed lessons and evidence pages, and snippets that cannot
# run here (each one labelled as such on its page and checked to parse by its guide's tests).
CODE_SOURCES = [*lessons.paths(), *sorted((ROOT / "evidence" / "pages").rglob("*.py")),
                *sorted((ROOT / "guides" / "snippets").glob("*.py"))]


def normalized(code: str) -> str:
    """Compare code by its lines' content: indentation changes (:dedent:) do not matter."""
    return "\n".join(line.strip() for line in code.strip().splitlines())


@guides
def test_guide_is_in_the_site_navigation(site, guide):
    nav = built_page(site, "index.html").select(".sidebar-tree a")
    assert any(a["href"].endswith(f"guides/{guide.stem}.html") for a in nav)


@guides
def test_guide_links_to_its_executed_lessons_and_evidence(site, guide):
    article = built_page(site, f"guides/{guide.stem}.html").select_one("article")
    for gallery, folder in (("auto_examples/", ROOT / "examples"),
                            ("auto_evidence/", ROOT / "evidence" / "pages")):
        links = [a["href"] for a in article.select("a[href]") if gallery in a["href"]]
        assert links, f"{guide.name} does not link to any page of {gallery}"
        for href in links:
            page = href.split("#")[0].split(gallery)[1]
            assert page.endswith("index.html") or (folder / page.replace(".html", ".py")).is_file()


@guides
def test_guide_python_code_comes_from_a_file_that_runs(site, guide):
    """No hand-pasted Python: every block is text of an example (or a labelled snippet)."""
    sources = {path: normalized(path.read_text()) for path in CODE_SOURCES}
    article = built_page(site, f"guides/{guide.stem}.html").select_one("article")
    for block in article.select("div.highlight-python pre, div.highlight-default pre"):
        code = normalized(block.get_text())
        assert any(code in text for text in sources.values()), (
            f"{guide.name} shows Python that is in no executed file:\n{block.get_text()[:400]}"
        )


STEMS = {path.stem: lessons.name(path) for path in lessons.paths()}


def shown_commands():
    """Every `pyflyte run` of a lesson in the guides, the landing page and the README, by
    its path in a clone or its bare file name."""
    for path in [*GUIDES, ROOT / "README.md", ROOT / "index.md"]:
        # A long command continues on the next line after a backslash: read it as one line.
        for line in re.sub(r"\\\n\s*", " ", path.read_text()).splitlines():
            match = re.search(r"pyflyte run (.*?[\w/]*?(\w+)\.py.*)", line)
            if match and match[2] in STEMS:
                yield path.name, match[1].strip().rstrip("`")


@pytest.mark.parametrize("where,command", list(shown_commands()))
def test_shown_pyflyte_command_names_a_real_workflow_and_inputs(where, command):
    words = shlex.split(command)
    # `pyflyte run` options (--remote, --overwrite-cache) come before the script.
    script, workflow_name, *args = words[next(i for i, w in enumerate(words) if w.endswith(".py")):]
    module = lessons.load(STEMS[script.rsplit("/", 1)[-1].removesuffix(".py")])
    workflow = getattr(module, workflow_name, None)
    assert isinstance(workflow, WorkflowBase), f"{where}: {workflow_name} is not a workflow in {script}"
    inputs = set(workflow.python_interface.inputs)
    for flag in (a for a in args if a.startswith("--")):
        assert flag[2:].split("=")[0] in inputs, f"{where}: {flag} is not an input of {workflow_name}"


# A link into a repository's files names the version it read: a release tag (v1.16.8,
# 1.2.3) or a commit. A branch (master, main) moves: flyteorg/flyte's default branch went
# from Flyte 1 to Flyte 2, and every claim citing it changed meaning.
REPOSITORY_FILE_LINK = re.compile(
    r"https://github\.com/([\w.-]+/[\w.-]+)/(?:blob|tree|raw|blame)/([^/#?]+)"
    r"|https://raw\.githubusercontent\.com/([\w.-]+/[\w.-]+)/([^/#?]+)")
PINNED_REF = re.compile(r"v?\d+(\.\d+)+|[0-9a-f]{7,40}")


def test_links_into_repositories_name_a_release_tag_or_a_commit_never_a_branch(site):
    refs, moving = 0, []
    for page in built_pages(site.html):
        for a in built_page(site, page).select("a[href]"):
            for match in REPOSITORY_FILE_LINK.finditer(a["href"]):
                repo, ref = match[1] or match[3], match[2] or match[4]
                refs += 1
                if not PINNED_REF.fullmatch(ref):
                    moving.append(f"{page}: {repo} at {ref!r}")
    assert refs > 100, "the guides cite Flyte's source at tags; the pattern found too few"
    assert moving == []


@pytest.mark.parametrize("href, pinned", [
    ("https://github.com/flyteorg/flyte/blob/v1.16.8/flytepropeller/x.go#L3", True),
    ("https://github.com/flyteorg/flyte/blob/master/flytepropeller/x.go", False),
    ("https://github.com/flyteorg/flytekit/tree/main/flytekit", False),
    ("https://github.com/kubernetes/kubernetes/blob/00fe7a377bc3c858548409173dff587de03d4"
     "55c/pkg/x.go", True),
    ("https://raw.githubusercontent.com/flyteorg/flyte/master/README.md", False),
])
def test_the_link_rule_tells_a_tag_or_commit_from_a_branch(href, pinned):
    match = REPOSITORY_FILE_LINK.search(href)
    assert bool(PINNED_REF.fullmatch(match[2] or match[4])) is pinned
