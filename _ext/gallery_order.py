"""The order of the scripts within each question of the galleries: Flyte 1 (flytekit) ones
first, then Flyte 2 (flyte SDK) ones, each by file name, so a question's twins sit side by
side in one section."""

from __future__ import annotations

from pathlib import Path

from sphinx_gallery.sorting import FileNameSortKey

from evidence import lessons


class FlyteOneFirst(FileNameSortKey):
    def __call__(self, filename) -> tuple[bool, str]:
        path = Path(self.src_dir, filename)
        return lessons.sdk(path) == "flyte", path.name
