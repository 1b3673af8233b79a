"""Bad input stops the build with a message naming the file, and leaves no finished-looking site."""

from __future__ import annotations

from conftest import example_source, gallery_only_copy, run_make, sphinx_build

BROKEN_SCRIPTS = {
    "raises_on_purpose": '"""\nRaises on purpose\n=================\n"""\n\nraise RuntimeError("boom")\n',
    "imports_a_missing_package": (
        '"""\nNeeds a package that is not installed\n'
        '=====================================\n"""\n\nimport package_that_is_not_installed\n'
    ),
}


def test_every_failing_lesson_and_evidence_page_fails_the_build_and_is_named():
    """One build holding a lesson and an evidence page that raise, and one of each that
    imports a package that is not installed: it fails, and its message names all four."""
    src = gallery_only_copy("broken", {"cache/GALLERY_HEADER.rst": "Cache\n-----\n"})
    scripts = []
    for gallery, prefix in (("examples/cache", "lesson"), ("evidence/pages/cache", "page")):
        (src / gallery / "GALLERY_HEADER.rst").write_text("Cache\n-----\n")
        for stem, text in BROKEN_SCRIPTS.items():
            scripts.append(f"{gallery}/{prefix}_{stem}.py")  # stems differ across galleries
            (src / scripts[-1]).write_text(text)
    result = sphinx_build(src, src.parent / "html")
    assert result.returncode != 0
    for script in scripts:
        assert script in result.stdout, script


def test_broken_reference_in_a_guide_fails_the_build_and_names_the_guide():
    src = gallery_only_copy("broken-ref", {})
    (src / "guides").mkdir()
    (src / "guides" / "a_guide.md").write_text(
        "# A guide\n\nSee {ref}`a-label-that-does-not-exist`.\n")
    with (src / "index.md").open("a") as index:
        index.write("\n```{toctree}\nguides/a_guide\n```\n")
    result = sphinx_build(src, src.parent / "html", "-D", "plot_gallery=0")
    assert result.returncode != 0
    assert "guides/a_guide.md" in result.stdout
    assert "a-label-that-does-not-exist" in result.stdout


def test_make_removes_the_html_of_a_failed_build_and_the_next_build_fails_too():
    """A failed build leaves no site that looks finished, and `make html` again, with
    nothing changed, reports the same error instead of passing: Sphinx warns about a page
    only when it reads it, so the failed build's doctrees go with its HTML."""
    src = gallery_only_copy("make-fail", {"tiny.py": example_source("Tiny", "tiny: ran")})
    ok = run_make(src, "html-noplot")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert (src / "_build" / "html" / "index.html").is_file()

    (src / "index.md").write_text((src / "index.md").read_text() + "\n{ref}`no-such-label`\n")
    for attempt in ("first", "second"):
        failed = run_make(src, "html-noplot")
        assert failed.returncode != 0, f"the {attempt} build after the break passed"
        assert "no-such-label" in failed.stderr + failed.stdout, attempt
        assert "_build/html was removed" in failed.stderr
        assert not (src / "_build" / "html").exists()


def test_an_sdk_upgrade_that_moved_a_private_name_fails_the_build_naming_it():
    src = gallery_only_copy("sdk-moved", {})
    with (src / "conf.py").open("a") as conf:
        conf.write('\nfrom evidence import sdk as _sdk\n'
                   '_sdk.NAMES["moved"] = ("flyte", "flyte._run:_RunnerThatMoved")\n')
    result = run_make(src, "html")  # a build that runs scripts: one that runs none never
    assert result.returncode != 0  # imports an SDK
    assert "flyte._run:_RunnerThatMoved" in result.stdout + result.stderr
    assert "evidence/sdk.py was written for flyte" in result.stdout + result.stderr
