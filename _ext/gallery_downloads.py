"""What readers download from the gallery: lessons that run anywhere, no evidence scripts.

**Lessons.** sphinx-gallery turns each lesson into a notebook, converting the reST of its
text blocks to Markdown, but only part of it: a ``:ref:`` keeps its label as inline code
("The question behind it: `guide-caching`"), and directives other than note/warning (the
"Run it" box) stay reST. Its ``first_notebook_cell`` is one string for every lesson, while
each lesson needs its own ``pip install`` line. So once the build has read every page (all
labels known) and before it copies the downloads, this rewrites each lesson's notebook in
the gallery folder:

- a first code cell ``%pip install ...`` (one line: Jupyter's ``%pip`` takes no
  continuation), the install line of the lesson's own "Run it" box;
- the "Run it" box as Markdown;
- each label left by a ``:ref:`` replaced by a link to that section of the site (an
  absolute URL when the build knows the site's URL, else the section's title in italics);

and writes the lesson's zip download again, so it holds the same notebook. Rewriting is
idempotent.

**Evidence pages** import the project's ``evidence`` package, so a downloaded copy would not
run: their pages get no download buttons (the note at the top and the footer that
sphinx-gallery writes are left out when the page is read).
"""

from __future__ import annotations

import json
import os
import re
import textwrap
import zipfile
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

from evidence import run_it

logger = logging.getLogger(__name__)

# The "Run it" admonition as sphinx-gallery leaves it in the first Markdown cell.
RUN_IT_BOX = re.compile(r"^\.\. admonition:: (?P<title>.+)\n(?P<body>(?:[ \t]+.*\n|[ \t]*\n)*)",
                        re.M)
CAPTIONED_BLOCK = re.compile(
    r"^[ \t]*\.\. code-block:: *(?P<lang>\S*)\n[ \t]+:caption: *(?P<caption>.+)\n"
    r"(?P<code>(?:(?![ \t]*\.\. ).*\n)*)", re.M)
REF_LEFTOVER = re.compile(r"(?<!`)`(?:(?P<text>[^`<]+?) *<(?P<label>[^`>]+)>|(?P<bare>[^`<>]+))`(?!`)")
# In a generated page of the evidence gallery: the note that points to the downloads, and
# the footer holding them (with its label), up to the next top-level construct.
DOWNLOAD_NOTE = re.compile(r"^\.\. only:: html\n\n    \.\. note::\n        :class: "
                           r"sphx-glr-download-link-note\n(?:\n|        .*\n)*", re.M)
DOWNLOAD_FOOTER = re.compile(r"^\.\. _sphx_glr_download_\S+:\n\n\.\. only:: html\n\n"
                             r"  \.\. container:: sphx-glr-footer.*\n(?:\n|[ \t]+.*\n)*", re.M)
LESSONS, EVIDENCE = "auto_examples", "auto_evidence"


def _run_it_markdown(match: re.Match) -> str:
    items = []
    for block in CAPTIONED_BLOCK.finditer(match["body"] + "\n"):
        code = textwrap.dedent(block["code"].strip("\n")).strip()
        items.append(f"{block['caption'].strip()}:\n\n```{block['lang']}\n{code}\n```\n")
    return f"**{match['title'].strip()}**\n\n" + "\n".join(items) + "\n"


def rewrite_notebook(notebook: dict, install: str, resolve) -> dict:
    """Return ``notebook`` with the install cell, the Run-it box and the links fixed."""
    cells = [c for c in notebook["cells"]
             if not (c["cell_type"] == "code" and "".join(c["source"]).startswith("%pip install"))]
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        text = RUN_IT_BOX.sub(_run_it_markdown, text)
        text = REF_LEFTOVER.sub(lambda m: resolve(m) or m[0], text)
        cell["source"] = [text]
    cells.insert(0, {"cell_type": "code", "execution_count": None, "metadata": {},
                     "outputs": [], "source": [f"%{install}"]})
    return {**notebook, "cells": cells}


def _link_resolver(app: Sphinx):
    labels = app.env.domains["std"].labels  # label -> (docname, anchor, section title)

    def resolve(match: re.Match) -> str | None:
        label = (match["label"] or match["bare"]).strip()
        if label not in labels:
            return None  # inline code that is not a leftover reference
        docname, anchor, title = labels[label]
        text = (match["text"] or title).strip()
        if not app.config.html_baseurl:
            return f"*{text}*"
        url = app.config.html_baseurl + app.builder.get_target_uri(docname)
        return f"[{text}]({url}#{anchor})" if anchor else f"[{text}]({url})"

    return resolve


def rewrite_lesson_downloads(app: Sphinx, env) -> None:
    """After reading, before writing: fix each lesson's notebook and zip in place."""
    if app.builder.format != "html":
        return
    resolve = _link_resolver(app)
    for notebook_path in sorted(Path(app.srcdir, LESSONS).rglob("*.ipynb")):
        script = notebook_path.with_suffix(".py")  # the gallery's copy of the lesson
        if not script.is_file():
            continue
        try:
            install = " ".join(run_it.parse(script).install)
        except ValueError as error:  # a lesson without its box: say so, in one line
            logger.warning("%s; its notebook gets no install cell", error,
                           location=str(script))
            continue
        notebook = json.loads(notebook_path.read_text(encoding="utf-8"))
        fixed = rewrite_notebook(notebook, install, resolve)
        text = json.dumps(fixed, indent=1, ensure_ascii=False) + "\n"
        if text == notebook_path.read_text(encoding="utf-8"):
            continue  # rewritten by an earlier build, and so was its zip
        archive = notebook_path.with_suffix(".zip")
        times = {path: path.stat() for path in (notebook_path, archive) if path.exists()}
        notebook_path.write_text(text, encoding="utf-8")
        # sphinx-gallery zipped the notebook as it wrote it: zip the one readers get.
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for member in (script, notebook_path):
                zipped.write(member, member.name)
        # The page was read before this (its downloads are its dependencies): the files
        # keep their times, or the next build would read the page again for nothing.
        # Sphinx copies a download when its content differs, whatever its time.
        for path, stat in times.items():
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def drop_evidence_downloads(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname.startswith(EVIDENCE + "/") and not docname.endswith("index"):
        text = DOWNLOAD_NOTE.sub("", source[0], count=1)
        source[0] = DOWNLOAD_FOOTER.sub("", text, count=1)


def setup(app: Sphinx) -> dict:
    app.connect("source-read", drop_evidence_downloads)
    app.connect("env-updated", rewrite_lesson_downloads)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
