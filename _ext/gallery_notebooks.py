"""Make the gallery's downloadable notebooks start with an install cell and read as Markdown.

sphinx-gallery turns each example into a notebook, converting the reST of its text blocks to
Markdown, but only part of it: a ``:ref:`` keeps its label as inline code ("The question
behind it: `guide-caching`"), and directives other than note/warning (our "Run it" box) stay
reST. Its ``first_notebook_cell`` is one string for every example, while each example needs
its own ``pip install`` line.

After the build has written the pages, this rewrites each downloadable notebook:

- a first code cell ``%pip install ...``, taken from the install line of the example's own
  "Run it" box (so the notebook installs what the page says);
- the "Run it" box as a Markdown list of commands;
- each label left by a ``:ref:`` replaced by a link to that section of the site (an absolute
  URL when the build knows the site's URL, else the section's title in italics).

Rewriting is idempotent, so an unchanged notebook rewritten again stays the same.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

from sphinx.application import Sphinx

INSTALL_LINE = re.compile(r"^\s*(pip install \S.*)$", re.M)
# The "Run it" admonition as sphinx-gallery leaves it in the first Markdown cell.
RUN_IT_BOX = re.compile(r"^\.\. admonition:: (?P<title>.+)\n(?P<body>(?:[ \t]+.*\n|[ \t]*\n)*)",
                        re.M)
CAPTIONED_BLOCK = re.compile(
    r"^[ \t]*\.\. code-block:: *(?P<lang>\S*)\n[ \t]+:caption: *(?P<caption>.+)\n"
    r"(?P<code>(?:(?![ \t]*\.\. ).*\n)*)", re.M)
REF_LEFTOVER = re.compile(r"(?<!`)`(?:(?P<text>[^`<]+?) *<(?P<label>[^`>]+)>|(?P<bare>[^`<>]+))`(?!`)")


def _run_it_markdown(match: re.Match) -> str:
    items = []
    for block in CAPTIONED_BLOCK.finditer(match["body"] + "\n"):
        code = textwrap.dedent(block["code"].strip("\n")).strip()
        items.append(f"{block['caption'].strip()}:\n\n```{block['lang']}\n{code}\n```\n")
    return f"**{match['title'].strip()}**\n\n" + "\n".join(items) + "\n"


def rewrite_notebook(notebook: dict, install: str | None, resolve) -> dict:
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
    if install:
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


def _rewrite_downloads(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    resolve = _link_resolver(app)
    for source, (_, dest) in app.env.dlfiles.items():
        if not str(source).endswith(".ipynb"):
            continue
        example = Path(app.srcdir, source).with_suffix(".py")  # the gallery's copy of the .py
        found = INSTALL_LINE.search(example.read_text(encoding="utf-8")) if example.is_file() else None
        path = Path(app.outdir, "_downloads", dest)  # what readers download
        notebook = json.loads(path.read_text(encoding="utf-8"))
        fixed = rewrite_notebook(notebook, found[1] if found else None, resolve)
        path.write_text(json.dumps(fixed, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def setup(app: Sphinx) -> dict:
    app.connect("build-finished", _rewrite_downloads)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
