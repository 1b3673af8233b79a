"""Figures a reader can read on any screen: sized, and one tap from full resolution.

sphinx-gallery writes each figure as an ``<img>`` with no size and no link. On a phone the
7.4-inch figure shrinks to the column (about 358 px) and its labels to a few pixels; a
reader could not enlarge it. This wraps each gallery figure in a link to its sharpest image
(the 2x one of its ``srcset``), which a tap opens at full size, and gives the ``<img>`` its
pixel size, so the browser reserves its space before it loads (no layout shift), and
loads it only when the reader scrolls near it. The gallery's cards get their size too.
"""

from __future__ import annotations

import posixpath
import re
import struct
from pathlib import Path

from sphinx.application import Sphinx

FIGURE = re.compile(r'<img (?P<attrs>[^>]*class = "sphx-glr-(?:single|multi)-img"[^>]*)/>')
CARD = re.compile(r'<img (?P<attrs>alt="[^"]*" src="[^"]*_thumb\.png")\s*/>')
EAGER_CARDS = 4  # the first row or two of a gallery's cards: on the first screen
ATTR = re.compile(r'(\w+)="([^"]*)"')


def png_size(path: Path) -> tuple[int, int] | None:
    with open(path, "rb") as file:
        head = file.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def _linked_figures(app: Sphinx, pagename: str, templatename: str, context: dict,
                    doctree) -> None:
    body = context.get("body", "")
    if "sphx-glr-" not in body:
        return
    # sphinx-gallery copied the page's images to _images/ while it wrote the body.
    page_dir = Path(app.outdir, posixpath.dirname(pagename))

    def link(match: re.Match) -> str:
        attrs = dict(ATTR.findall(match["attrs"]))
        candidates = [part.strip().split(" ")[0] for part in attrs.get("srcset", "").split(",")]
        sharpest = next((c for c in reversed(candidates) if c), attrs["src"])
        image_file = (page_dir / attrs["src"]).resolve()
        size = png_size(image_file) if image_file.is_file() else None
        sized = f' width="{size[0]}" height="{size[1]}"' if size else ""
        # Loaded when scrolled near: a figure below the first screen then takes no
        # bandwidth from what the reader sees first.
        image = match[0].replace("<img ", f'<img{sized} loading="lazy" decoding="async" ', 1)
        return (f'<a class="sphx-glr-figure-link" href="{sharpest}" '
                f'title="Open the figure at full size">{image}</a>')

    cards = iter(range(10**6))

    def sized_card(match: re.Match) -> str:
        src = dict(ATTR.findall(match["attrs"]))["src"]
        image_file = (page_dir / src).resolve()
        size = png_size(image_file) if image_file.is_file() else None
        sized = f'width="{size[0]}" height="{size[1]}" ' if size else ""
        lazy = 'loading="lazy" ' if next(cards) >= EAGER_CARDS else ""
        return f"<img {sized}{lazy}{match['attrs']} />"

    context["body"] = CARD.sub(sized_card, FIGURE.sub(link, body))


def setup(app: Sphinx) -> dict:
    app.connect("html-page-context", _linked_figures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
