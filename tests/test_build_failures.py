"""Bad input stops the build with a message naming the file, and leaves no finished-looking site."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import copy_sources, fresh_dir, sphinx_build

BROKEN_EXAMPLES = {
    "raises_on_purpose": '"""\nRaises on purpose\n=================\n"""\n\nraise RuntimeError("boom")\n',
    "imports_a_missing_package": (
        '"""\nNeeds a package that is not installed\n'
        '=====================================\n"""\n\nimport package_that_is_not_installed\n'
    ),
}


@pytest.mark.parametrize("stem", sorted(BROKEN_EXAMPLES))
def test_failing_example_fails_the_build_and_names_the_example(stem):
    src = copy_sources(fresh_dir("broken-example") / "src")
    (src / "examples" / f"{stem}.py").write_text(BROKEN_EXAMPLES[stem])
    # Run only the broken example; the others are rendered without running (fast).
    result = sphinx_build(src, src.parent / "html", "-D", f"sphinx_gallery_conf.filename_pattern={stem}")
    assert result.returncode != 0
    assert f"examples/{stem}.py" in result.stdout


def test_broken_reference_in_a_guide_fails_the_build_and_names_the_guide():
    src = copy_sources(fresh_dir("broken-ref") / "src")
    guide = sorted((src / "guides").glob("*.md"))[0]
    with guide.open("a") as f:
        f.write("\nSee {ref}`a-label-that-does-not-exist`.\n")
    result = sphinx_build(src, src.parent / "html", "-D", "plot_gallery=0")
    assert result.returncode != 0
    assert f"guides/{guide.name}" in result.stdout
    assert "a-label-that-does-not-exist" in result.stdout


def test_make_removes_the_html_of_a_failed_build():
    src = copy_sources(fresh_dir("make-fail") / "src")
    # A first good prose-only build, then a broken one: the old site must not survive as "built".
    venv = Path(sys.prefix)
    make = ["make", "-C", str(src), f"VENV={venv}", "-o", f"{venv}/.installed-from-lock"]
    env = {**os.environ, "MAKEFLAGS": ""}
    ok = subprocess.run(make + ["html-noplot"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert (src / "_build" / "html" / "index.html").is_file()

    (src / "index.md").write_text((src / "index.md").read_text() + "\n{ref}`no-such-label`\n")
    failed = subprocess.run(make + ["html-noplot"], capture_output=True, text=True, env=env)
    assert failed.returncode != 0
    assert "index.md" in failed.stderr + failed.stdout
    assert "_build/html was removed" in failed.stderr
    assert not (src / "_build" / "html").exists()
