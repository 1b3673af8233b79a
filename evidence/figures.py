"""The house figure: drawn at the width furo shows it, with text that stays readable.

Every evidence page draws through ``figure()`` and ends with ``show(fig)``, which refuses a
figure whose tick labels overlap or whose legend covers drawn text (from matplotlib's own
text extents), so such a figure fails the build instead of reaching a page.
"""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from evidence import isolation

# furo's content column is about 740 px wide: 7.4 in at 100 dpi, shown at its drawn size.
WIDTH_IN = 7.4
plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "legend.fontsize": 10,
                     "xtick.labelsize": 10, "ytick.labelsize": 10})


class UnreadableFigure(ValueError):
    """A figure whose text collides: fix the figure, not the check."""


def figure(height_in: float, **subplots) -> tuple[Figure, object]:
    """A new figure as wide as the column, laid out so nothing is clipped."""
    return plt.subplots(figsize=(WIDTH_IN, height_in), layout="constrained", **subplots)


def for_phones(fig: Figure, size: float = 14) -> Figure:
    """Enlarge every text of ``fig``: a phone shows it at about half its width."""
    for ax in fig.axes:
        ax.tick_params(labelsize=size)
        for text in (ax.title, ax.xaxis.label, ax.yaxis.label):
            text.set_fontsize(size)
    for legend in [ax.get_legend() for ax in fig.axes] + list(fig.legends):
        if legend is not None:
            for text in legend.get_texts():
                text.set_fontsize(size - 1)
    return fig


def show(fig: Figure) -> None:
    """Check the figure's text, then hand it to the page (sphinx-gallery saves it)."""
    check(fig)
    plt.show()


def _visible_texts(texts) -> list[Text]:
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def _drawn_tick_labels(axis) -> list[Text]:
    """The tick labels matplotlib draws: a locator may place ticks outside the axis's
    range, whose labels exist but are not drawn."""
    low, high = sorted(axis.get_view_interval())
    ticks = axis.get_major_ticks() + axis.get_minor_ticks()
    return _visible_texts([tick.label1 for tick in ticks
                           if low <= tick.get_loc() <= high])


def check(fig: Figure) -> None:
    """Raise UnreadableFigure if the figure has no title (sphinx-gallery makes it the
    image's alt text, else the file name), two tick labels of an axis overlap, or a legend
    covers any other text of the figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = []
    titled = (fig._suptitle is not None and fig._suptitle.get_text()) or any(  # noqa: SLF001
        ax.get_title(loc) for ax in fig.axes for loc in ("left", "center", "right"))
    if not titled:
        problems.append("no title: give the figure one (it is the image's alt text)")
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            boxes = [(t.get_text(), t.get_window_extent(renderer))
                     for t in _drawn_tick_labels(axis)]
            for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
                if box_a.overlaps(box_b):
                    problems.append(f"tick labels {a!r} and {b!r} overlap")
    legends = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    for legend in filter(None, legends):
        box = legend.get_window_extent(renderer)
        own = set(legend.get_texts()) | {legend.get_title()}
        for text in _visible_texts(fig.findobj(Text)):
            if text in own:
                continue
            if box.overlaps(text.get_window_extent(renderer)):
                problems.append(f"the legend covers {text.get_text()!r}")
    if problems:
        raise UnreadableFigure("; ".join(problems))


# What a call of a task came to, and its colour in every grid.
STATES = {"body ran": "#dd8452", "served from the cache": "#4c72b0",
          "served a stale result": "#c44e52", "not called": "#dddddd"}


def task_state(runs, task: str, stale: bool = False) -> str:
    """What a block of runs did with ``task``: its body ran, the cache served it (a stale
    result, if the caller knows it was), or neither."""
    if runs.ran(task):
        return "body ran"
    if runs.served(task):
        return "served a stale result" if stale else "served from the cache"
    return "not called"


def task_grid(rows: list[tuple[str, object]], tasks: list[str], title: str,
              stale: set[tuple[str, str]] = frozenset(), row_height: float = 0.45) -> Figure:
    """One row per run, one column per task: did its body run, or did the local cache
    serve it? ``rows`` pairs a label with a ``probes.TaskRuns``; ``stale`` holds the
    (row label, task) pairs whose served value the current code would not compute."""
    return state_grid([(label, {task: task_state(runs, task, (label, task) in stale)
                                for task in tasks}) for label, runs in rows], tasks, title,
                      row_height)


def state_grid(rows: list[tuple[str, dict[str, str]]], columns: list[str],
               title: str, row_height: float = 0.45) -> Figure:
    """One row per run, one column per task (or per element of a map): each cell coloured
    by its state, one of ``STATES``; a cell a row does not name is "not called"."""
    from matplotlib.patches import Patch

    fig, ax = figure(row_height * len(rows) + 1.3)
    seen = set()
    for y, (_, states) in enumerate(rows):
        for x, column in enumerate(columns):
            state = states.get(column, "not called")
            seen.add(state)
            ax.add_patch(plt.Rectangle((x + 0.03, y + 0.06), 0.94, 0.88,
                                       color=STATES[state]))
    ax.set_xlim(0, len(columns))
    ax.set_ylim(len(rows), 0)
    ax.set_xticks([x + 0.5 for x in range(len(columns))], columns)
    ax.set_yticks([y + 0.5 for y in range(len(rows))], [label for label, _ in rows])
    ax.tick_params(length=0)
    ax.xaxis.tick_top()
    for spine in ax.spines.values():
        spine.set_visible(False)
    shown = [state for state in STATES if state in seen]
    fig.legend(handles=[Patch(color=STATES[s], label=s) for s in shown],
               loc="outside lower center", ncols=min(len(shown), 2), frameon=False)
    ax.set_title(title, pad=12)
    return fig


# ------------------------------------------------------------------------------------------
# Gallery cards: each thumbnail states a page's result in a few large lines, drawn for the
# card (a page figure shrunk to a card is an illegible strip)

CARD_SIZE_IN, CARD_DPI = (4.0, 2.8), 100  # sphinx-gallery's card image: 400 x 280 px
CARD_FONT_PT = 17  # shown about 200 px wide, the text stays about 11 px high


def draw_card(lines: list[str], path) -> Path:
    """Draw a card of at most four short lines into ``path`` (PNG); refuse text that does
    not fit the card at its size."""
    if not 1 <= len(lines) <= 4:
        raise ValueError(f"a card holds 1 to 4 lines, got {len(lines)}")
    fig = plt.figure(figsize=CARD_SIZE_IN, dpi=CARD_DPI)
    fig.patch.set_facecolor("#f4f6fb")
    step = 1 / (len(lines) + 1)
    texts = [fig.text(0.06, 1 - step * (i + 1), line, fontsize=CARD_FONT_PT, va="center",
                      color="#1f3a68" if i == 0 else "#222222",
                      fontweight="bold" if i == 0 else "normal")
             for i, line in enumerate(lines)]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width = fig.bbox.width
    too_wide = [t.get_text() for t in texts if t.get_window_extent(renderer).x1 > 0.97 * width]
    if too_wide:
        plt.close(fig)
        raise UnreadableFigure(f"card lines wider than the card: {too_wide}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    drawn = io.BytesIO()
    fig.savefig(drawn, dpi=CARD_DPI)
    plt.close(fig)
    # Two colours of text, antialiased, on one background: 32 colours hold it all, and the
    # card, the first image a gallery page shows, is a quarter of the size.
    Image.open(drawn).convert("RGB").quantize(colors=32).save(path, optimize=True)
    return path


def lesson_card(lesson: str, lines: list[str]) -> None:
    """Draw the gallery card of lesson ``question/stem`` where the build shows it (a lesson
    draws no figure, so sphinx-gallery keeps the card it finds). Outside a build, nothing.
    Returns nothing, so a page that ends on it prints nothing."""
    srcdir = os.environ.get(isolation.SRCDIR_ENV)
    if srcdir:
        question, stem = lesson.split("/")
        draw_card(lines, Path(srcdir, "auto_examples", question, "images", "thumb",
                              f"sphx_glr_{stem}_thumb.png"))


def page_card(stem: str, lines: list[str]) -> None:
    """Draw an evidence page's own card, which its ``sphinx_gallery_thumbnail_path``
    comment names (``auto_evidence/cards/<stem>.png``). Outside a build, nothing."""
    srcdir = os.environ.get(isolation.SRCDIR_ENV)
    if srcdir:
        draw_card(lines, card_path(srcdir, stem))


def card_path(srcdir, stem: str) -> Path:
    """Where an evidence page's card is drawn, in the build's source folder."""
    return Path(srcdir, "auto_evidence", "cards", f"{stem}.png")
