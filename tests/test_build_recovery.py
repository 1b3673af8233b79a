"""A build after what contributors do (revert a failed example, rename or remove examples, edit
a lesson an evidence page reads, press Ctrl-C mid-build) publishes a correct site, with no
`make clean` in between (issue #10).

Each test builds a gallery-only copy of the sources (conftest.gallery_only_copy) with small
scripts of its own, so a build takes seconds.
"""

from __future__ import annotations

import signal

from conftest import RUN_IT_BOX, example_source, gallery_only_copy, run_make, sphinx_build


def test_reverted_failing_example_runs_again_and_its_page_shows_no_traceback():
    good = example_source("A tiny example", "tiny example: it ran")
    src = gallery_only_copy("reverted", {"tiny_example.py": good})
    example = src / "examples" / "tiny_example.py"
    html = src.parent / "html"

    def build():
        return sphinx_build(src, html, "-D", "sphinx_gallery_conf.filename_pattern=tiny_example")

    assert build().returncode == 0
    example.write_text(good + 'raise RuntimeError("broken on purpose")\n')
    assert build().returncode != 0
    example.write_text(good)  # the revert: same text as the last successful run
    reverted = build()

    assert reverted.returncode == 0, reverted.stdout[-3000:]
    page = (html / "auto_examples" / "tiny_example.html").read_text()
    assert "broken on purpose" not in page
    assert "tiny example: it ran" in page
    assert "broken on purpose" not in (src / "auto_examples" / "tiny_example.rst").read_text()


def test_renamed_and_removed_examples_leave_no_pages_behind():
    """Prose-only builds: the stale pages break the strict build whether or not examples run."""
    src = gallery_only_copy("renamed", {"tiny_example.py": example_source("A tiny example", "tiny")} | {
        # sub-galleries, as the question folders are
        path: text for sub in ("kept", "dropped") for path, text in (
            (f"{sub}/GALLERY_HEADER.rst", f"{sub.title()}\n{'-' * len(sub)}\n"),
            (f"{sub}/{sub}_example.py", example_source(f"In {sub}", sub)))})
    examples = src / "examples"
    html = src.parent / "html"
    first = sphinx_build(src, html, "-D", "plot_gallery=0")
    assert first.returncode == 0, first.stdout[-3000:]
    gallery = src / "auto_examples"
    assert (gallery / "tiny_example.rst").is_file() and (gallery / "dropped").is_dir()

    (examples / "tiny_example.py").rename(examples / "tiny_renamed.py")
    (examples / "kept" / "kept_example.py").rename(examples / "kept" / "kept_renamed.py")
    for path in sorted((examples / "dropped").iterdir()):
        path.unlink()
    (examples / "dropped").rmdir()
    second = sphinx_build(src, html, "-D", "plot_gallery=0")

    assert second.returncode == 0, second.stdout[-3000:]
    generated = [p.relative_to(gallery).as_posix() for p in gallery.rglob("*")]
    assert [p for p in generated if "tiny_example" in p or "kept_example" in p or "dropped" in p] == []
    assert (gallery / "tiny_renamed.rst").is_file() and (gallery / "kept" / "kept_renamed.rst").is_file()
    assert "removed the generated pages of examples/tiny_example.py" in second.stdout


LESSON = '''"""
A lesson
========
''' + RUN_IT_BOX.replace("{", "{{").replace("}", "}}") + '''"""
ANSWER = {answer}

if __name__ == "__main__":
    print(f"lesson: {{ANSWER}}")
'''
EVIDENCE_PAGE = '''"""
Evidence
========
"""
from evidence import lessons

print(f"evidence: the lesson's answer is {lessons.load('cache/tiny_lesson').ANSWER}")
'''


def test_an_edit_to_a_lesson_runs_the_evidence_pages_again():
    """An evidence page reads lessons, which sphinx-gallery does not know: an edit to a
    lesson runs the evidence pages again (and an unchanged build runs nothing)."""
    src = gallery_only_copy("evidence-inputs", {
        "cache/GALLERY_HEADER.rst": "Cache\n-----\n",
        "cache/tiny_lesson.py": LESSON.format(answer=41)})
    pages = src / "evidence" / "pages" / "cache"
    (pages / "GALLERY_HEADER.rst").write_text("Cache\n-----\n")
    (pages / "tiny_evidence.py").write_text(EVIDENCE_PAGE)
    html = src.parent / "html"
    evidence_page = html / "auto_evidence" / "cache" / "tiny_evidence.html"

    assert sphinx_build(src, html).returncode == 0
    assert "the lesson's answer is 41" in evidence_page.read_text()
    unchanged = sphinx_build(src, html)
    assert unchanged.returncode == 0 and "executed 0 out of" in unchanged.stdout

    (src / "examples" / "cache" / "tiny_lesson.py").write_text(LESSON.format(answer=42))
    edited = sphinx_build(src, html)
    assert edited.returncode == 0, edited.stdout[-3000:]
    assert "the lesson's answer is 42" in evidence_page.read_text()


# Appended to a copy's conf.py: Ctrl-C, as a terminal sends it (SIGINT to make, its shell and
# sphinx-build alike), while the third page is being written.
INTERRUPT_WHILE_WRITING = '''

import os as _os, signal as _signal
_setup, _pages = setup, []


def _interrupt(app, pagename, templatename, context, doctree):
    _pages.append(pagename)
    if len(_pages) == 3 and _os.environ.get("INTERRUPT_BUILD"):
        _os.killpg(0, _signal.SIGINT)


def setup(app):
    _setup(app)
    app.connect("html-page-context", _interrupt)
'''


def test_build_after_one_interrupted_while_writing_pages_succeeds():
    src = gallery_only_copy("interrupted", {"tiny_example.py": example_source("A tiny example", "tiny")})
    with (src / "conf.py").open("a") as conf:
        conf.write(INTERRUPT_WHILE_WRITING)
    interrupted = run_make(src, "html-noplot", env={"INTERRUPT_BUILD": "1"}, own_process_group=True)
    assert interrupted.returncode in (-signal.SIGINT, 2, 130), interrupted.stdout[-2000:]
    assert not (src / "_build" / "html" / "index.html").exists(), "the build was not interrupted"

    after = run_make(src, "html-noplot")

    assert after.returncode == 0, after.stdout[-3000:] + after.stderr[-3000:]
    assert (src / "_build" / "html" / "index.html").is_file()
    assert (src / "_build" / "html" / "searchindex.js").is_file()
