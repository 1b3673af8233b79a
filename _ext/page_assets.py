"""What a page loads before it can paint, and what waits until after.

Every stylesheet in a page's head holds its first paint until it has arrived: on a phone's
network that was eight requests on every page, some for styles the page does not use
(sphinx-design's tabs and cards on a gallery page, sphinx-gallery's on a guide). So, per
page: a stylesheet or script for components the page does not contain is left out (the
copy button's on a page without code); the syntax colours (Pygments) and the calculators'
styles, which change no layout of the first screen, load without blocking it
(``media="print"`` switched to ``all`` once loaded, the usual pattern; without JavaScript
the page keeps its layout and shows code uncoloured); and every script is deferred, so
none holds the page's parsing, and a component's script goes with its styles.
"""

from __future__ import annotations

import posixpath

from sphinx.application import Sphinx

# Stylesheet or script -> the start of a class attribute only its components' markup has.
NEEDED_ONLY_WITH = {"sphinx-design.min.css": 'class="sd-', "design-tabs.js": 'class="sd-tab',
                    "sg_gallery.css": 'class="sphx-glr-', "sg-tags.js": 'class="sphx-glr-',
                    # sphinx-copybutton's button goes on code blocks only
                    "copybutton.css": "<pre", "copybutton.js": "<pre",
                    "clipboard.min.js": "<pre"}
AFTER_FIRST_PAINT = ("pygments.css", "calculators.css")


def _name(asset) -> str:
    return posixpath.basename(str(asset.filename).split("?")[0])


def _restyled(asset, **changes):
    """The same asset with some attributes changed (Sphinx's asset classes are frozen)."""
    return type(asset)(asset.filename, priority=asset.priority, **{**asset.attributes, **changes})


def page_assets(app: Sphinx, pagename: str, templatename: str, context: dict,
                doctree) -> None:
    body = context.get("body", "")
    sheets = []
    for sheet in context.get("css_files", []):
        marker = NEEDED_ONLY_WITH.get(_name(sheet))
        if marker and marker not in body:
            continue
        if _name(sheet) in AFTER_FIRST_PAINT:
            sheet = _restyled(sheet, media="print", onload="this.media='all'")
        sheets.append(sheet)
    context["css_files"] = sheets
    scripts = []
    for script in context.get("script_files", []):
        marker = NEEDED_ONLY_WITH.get(_name(script)) if script.filename else None
        if marker and marker not in body:
            continue
        # The search page's template adds searchtools.js after these, undeferred, and it
        # needs documentation_options.js run first: there, the order stays as it was.
        if script.filename and pagename != "search" and \
                not {"defer", "async"} & set(script.attributes):
            script = _restyled(script, defer="defer")
        scripts.append(script)
    context["script_files"] = scripts


def setup(app: Sphinx) -> dict:
    # After the extensions that add a page's own files (the calculators, priority 500).
    app.connect("html-page-context", page_assets, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
