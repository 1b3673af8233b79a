"""A page's description (search results, link previews) from its first paragraph.

sphinxext-opengraph 0.13.0 builds the description from the page's text nodes. It strips
each node and puts a space back only before a node that does not start with punctuation.
So a code literal that starts with "@" sticks to the word before it ("A@dynamic
workflow"), and the space inside a parenthesis moves ("flyte.map( concurrency caps").
This module gives the extension the text to use instead, so that the description and
og:description say the same: the one the page declares (front matter ``html_meta``), or
else the first paragraph as a reader sees it (docutils' text of the whole paragraph),
whitespace collapsed and cut at a word.
"""

from __future__ import annotations

import html

from docutils import nodes
from sphinx.application import Sphinx


def first_paragraph(doctree: nodes.document) -> str:
    """The text of the first paragraph outside admonitions (a lesson's Run-it box)."""
    for paragraph in doctree.findall(nodes.paragraph):
        if not any(isinstance(a, nodes.Admonition) for a in _ancestors(paragraph)):
            return " ".join(paragraph.astext().split())
    return ""


def _ancestors(node: nodes.Node):
    while node.parent is not None:
        node = node.parent
        yield node


def cut(text: str, length: int) -> str:
    """At most ``length`` characters, ending at a whole word and "..." if cut."""
    if len(text) <= length:
        return text
    return text[: length - 3].rsplit(" ", 1)[0].rstrip(",;:") + "..."


def declared(doctree: nodes.document) -> str | None:
    """The description the page's source declares, if any (in the doctree as a meta node,
    which the HTML writer turns into the page's meta tag)."""
    return next((node["content"] for node in doctree.findall(nodes.meta)
                 if node.get("name") == "description"), None)


def describe(app: Sphinx, pagename: str, templatename: str, context: dict,
             doctree) -> None:
    if doctree is None:
        return
    text = declared(doctree)
    if text is None:
        text = cut(first_paragraph(doctree), app.config.ogp_description_length)
        if not text:
            return
        context["metatags"] = context.get("metatags", "") + (
            f'<meta name="description" content="{html.escape(text)}" />\n')
    context["meta"] = {**(context.get("meta") or {}), "og:description": html.escape(text)}


def setup(app: Sphinx) -> dict:
    # Before sphinxext-opengraph's own handler (priority 500), which then finds a description
    # in the page's meta tags and an og:description among the page's fields.
    app.connect("html-page-context", describe, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
