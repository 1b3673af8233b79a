"""Bring sphinx-gallery's generated folder in step with the examples before the gallery runs.

sphinx-gallery runs an example again only when its text differs from the checksum in
``<gallery dir>/<name>.py.md5``, and writes that file only after a run that succeeded. So it
leaves behind two things that a later build publishes or trips over:

* After a failed (or interrupted) run, the checksum of the last good run stays, next to the
  page of the failed run. Revert the example and the checksum matches again: the example is
  skipped ("executed 0 out of 0") and the build publishes the failed run's traceback.
* Everything generated for an example that was removed or renamed: its orphan page fails the
  strict build ("document isn't included in any toctree") until ``make clean``.

So before the gallery runs, this forgets the checksum of each example about to run (it changed,
or its page is missing); sphinx-gallery writes it again only if the run succeeds. And it removes
what was generated for examples and sub-galleries that no longer exist.

An evidence page also depends on what it imports: the lessons and the ``evidence`` package.
sphinx-gallery sees only the page's own text, so after an edit to a lesson it would publish
the old evidence. The build keeps a digest of those files beside the evidence gallery; when
it differs, every evidence page runs again (the digest is written after a build succeeds).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx_gallery.utils import get_md5sum

logger = logging.getLogger(__name__)

# What sphinx-gallery writes next to the copy of an example <name>.py (images aside). The copy
# itself goes last: it is how a leftover is recognised, so an interrupted clean-up resumes.
GENERATED_SUFFIXES = (".rst", ".ipynb", ".zip", ".codeobj.json", ".cost.json", ".py.md5", ".py")


def _as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


EVIDENCE_GALLERY = "auto_evidence"
DIGEST = ".inputs.sha256"  # in the evidence gallery: what its pages last ran against


def sync_galleries(app: Sphinx) -> None:
    conf = app.config.sphinx_gallery_conf
    for examples, gallery in zip(_as_list(conf["examples_dirs"]), _as_list(conf["gallery_dirs"])):
        sync_gallery(Path(app.srcdir, examples), Path(app.srcdir, gallery), Path(app.srcdir))
    evidence = Path(app.srcdir, EVIDENCE_GALLERY)
    digest = evidence / DIGEST
    if evidence.is_dir() and (not digest.is_file()
                              or digest.read_text() != evidence_inputs_digest(app.srcdir)):
        for checksum in evidence.rglob("*.py.md5"):
            checksum.unlink()
        digest.unlink(missing_ok=True)


def stand_in_cards(app: Sphinx) -> None:
    """An evidence page draws its own card when it runs; until it has run once (a build that
    runs other pages only, a prose-only build), the card its thumbnail comment names is
    sphinx-gallery's own placeholder, or the build would warn that it is missing."""
    from sphinx_gallery import gen_rst

    from evidence.figures import card_path

    placeholder = Path(gen_rst.glr_path_static(), "no_image.png")
    for page in Path(app.srcdir, "evidence", "pages").rglob("*.py"):
        card = card_path(app.srcdir, page.stem)
        if "sphinx_gallery_thumbnail_path" in page.read_text(encoding="utf-8") and \
                not card.is_file():
            card.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(placeholder, card)


def evidence_inputs_digest(srcdir: str | Path) -> str:
    """A digest of every lesson and every module of the evidence package (not its pages)."""
    root = Path(srcdir)
    files = sorted(p for p in [*root.glob("examples/**/*.py"), *root.glob("evidence/**/*.py")]
                   if "pages" not in p.relative_to(root).parts[:2])
    sha = hashlib.sha256()
    for path in files:
        sha.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


def record_evidence_inputs(app: Sphinx, exception: Exception | None) -> None:
    """After a build that ran every evidence page (not `make example`, not -noplot)."""
    conf = app.config.sphinx_gallery_conf
    ran_all = conf["plot_gallery"] in (True, "True") and conf["filename_pattern"] == "/"
    evidence = Path(app.srcdir, EVIDENCE_GALLERY)
    if exception is None and ran_all and evidence.is_dir():
        (evidence / DIGEST).write_text(evidence_inputs_digest(app.srcdir))


def sync_gallery(examples: Path, gallery: Path, root: Path) -> None:
    """Sync one generated folder with its examples folder, then its sub-galleries."""
    if not gallery.is_dir():
        return
    for copy in sorted(gallery.glob("*.py")):
        source = examples / copy.name
        if source.is_file():
            forget_checksum_unless_current(source, copy)
        else:
            remove_generated(gallery, copy.stem)
            logger.info("removed the generated pages of %s: the example no longer exists",
                        os.path.relpath(source, root))
    for sub in sorted(p for p in gallery.iterdir() if p.is_dir() and p.name != "images"):
        if (examples / sub.name).is_dir():
            sync_gallery(examples / sub.name, sub, root)
        elif (sub / "index.rst").is_file():  # a sub-gallery sphinx-gallery generated, nothing else
            shutil.rmtree(sub)
            logger.info("removed %s/: its examples folder %s/ no longer exists",
                        os.path.relpath(sub, root), os.path.relpath(examples / sub.name, root))


def forget_checksum_unless_current(source: Path, copy: Path) -> None:
    """Delete the checksum of an example that will run: only a successful run writes it back."""
    checksum = copy.with_name(copy.name + ".md5")
    if not checksum.is_file():
        return
    page = copy.with_suffix(".rst")
    if not page.is_file() or checksum.read_text() != get_md5sum(source, mode="t"):
        checksum.unlink()


def remove_generated(gallery: Path, stem: str) -> None:
    """Remove what sphinx-gallery generated in ``gallery`` for the example ``<stem>.py``."""
    images = re.compile(rf"sphx_glr_{re.escape(stem)}_(\d+|thumb)\.\w+")
    for folder in (gallery / "images", gallery / "images" / "thumb"):
        if folder.is_dir():
            for image in folder.iterdir():
                if images.fullmatch(image.name):
                    image.unlink()
    for suffix in GENERATED_SUFFIXES:
        gallery.joinpath(stem + suffix).unlink(missing_ok=True)


def setup(app: Sphinx) -> dict:
    # After sphinx-gallery completes its configuration (priority 10), before it runs (500).
    app.connect("builder-inited", sync_galleries, priority=400)
    app.connect("builder-inited", stand_in_cards, priority=410)
    app.connect("build-finished", record_evidence_inputs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
