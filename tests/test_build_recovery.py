"""A build after what contributors do (revert a failed example, rename or remove examples)
publishes a correct site, with no `make clean` in between (issue #10).

Each test builds a gallery-only copy of the sources (conftest.gallery_only_copy) with small
examples of its own, so a build takes about 2 s.
"""

from __future__ import annotations

from conftest import example_source, gallery_only_copy, sphinx_build


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
        # sub-galleries, as examples/flyte2/ will be
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
