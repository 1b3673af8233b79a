"""The "Run it" box at the top of every lesson, read from the lesson's docstring.

Three captioned ``sh`` blocks: the install line; the local commands, on the bare file name,
run in the folder the reader saved the file to (the caption names the folder of a clone);
the cluster commands. The build reads the install line into the notebook's first cell
(``_ext/gallery_downloads.py``); the tests run the local commands on a bare downloaded copy
and check the rest (``tests/test_lessons.py``).
"""

from __future__ import annotations

import ast
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

BOX = re.compile(r"^\.\. admonition:: Run it\n((?:[ \t]+.*\n|[ \t]*\n)*)", re.M)
BLOCK = re.compile(r"\.\. code-block:: sh\n[ \t]+:caption: (.+)\n((?:(?![ \t]*\.\. ).*\n)*)")
CAPTIONS = ("Install (Python 3.11 or newer)", "Run it where you saved it",
            "Run it on a Flyte")


@dataclass(frozen=True)
class RunIt:
    captions: tuple[str, ...]
    install: list[str]  # the words of the pip install line
    local: list[list[str]]  # each local command, as words
    cluster: list[list[str]]  # each cluster command, as words

    @property
    def clone_folder(self) -> str | None:
        """The folder a reader of a clone changes to, as the local caption names it."""
        found = re.search(r"in a clone: cd (\S+?)\)", self.captions[1])
        return found[1] if found else None


def commands(code: str) -> list[list[str]]:
    """The shell commands of a code block, each as words (continuations joined, comments
    dropped)."""
    joined = re.sub(r"\\\n\s*", " ", code)
    return [words for line in joined.splitlines()
            if (words := shlex.split(line, comments=True))]


def parse(lesson: Path) -> RunIt:
    docstring = ast.get_docstring(ast.parse(Path(lesson).read_text(encoding="utf-8"))) or ""
    box = BOX.search(docstring + "\n")
    if box is None:
        raise ValueError(f"{lesson}: its docstring has no `.. admonition:: Run it` box")
    blocks = BLOCK.findall(box[1])
    if len(blocks) != 3:
        raise ValueError(f"{lesson}: the Run-it box has {len(blocks)} code blocks, not 3")
    captions = tuple(caption.strip() for caption, _ in blocks)
    install, local, cluster = (commands(code) for _, code in blocks)
    if len(install) != 1:
        raise ValueError(f"{lesson}: the install block holds {len(install)} commands, not 1")
    return RunIt(captions, install[0], local, cluster)
