"""Keep the index entries in the search index across incremental builds (Sphinx 9.0).

Sphinx's search finds a guide section through its ``{index}`` entries, which the HTML
builder collects while it writes each page (``IndexBuilder.feed``). An incremental build
writes only the pages that changed and takes everything else from the previous
``searchindex.js`` (``IndexBuilder.load``). ``load`` restores the titles and the words but
not the index entries, and the environment pickled before writing does not hold them
either: after a second ``make html`` the index has only the entries of the pages written
again, so searches that landed on a guide section land elsewhere (issue 19). This restores
them from the previous index and drops those of removed pages, as Sphinx does for titles.

A local workaround, applied only while Sphinx's own ``load`` ignores ``indexentries``.
"""

from __future__ import annotations

import inspect
import io

from sphinx.application import Sphinx
from sphinx.search import IndexBuilder


def _load_with_index_entries(original):
    def load(self, stream, format):
        if isinstance(format, str):
            format = self.formats[format]
        data = stream.read()
        original(self, io.BytesIO(data) if isinstance(data, bytes) else io.StringIO(data),
                 format)  # raises on an index of another format, as before
        frozen = format.loads(data)
        entries: dict[str, list[tuple[str, str, str]]] = {}
        for entry, places in frozen.get("indexentries", {}).items():
            for doc, target_id, main in places:
                entries.setdefault(frozen["docnames"][doc], []).append(
                    (entry, target_id, "main" if main else ""))
        self._index_entries.clear()
        self._index_entries.update({doc: sorted(found) for doc, found in entries.items()})
    return load


def _prune_index_entries(original):
    def prune(self, docnames):
        docnames = set(docnames)
        original(self, docnames)
        for doc in [d for d in self._index_entries if d not in docnames]:
            del self._index_entries[doc]
    return prune


def setup(app: Sphinx) -> dict:
    if "indexentries" not in inspect.getsource(IndexBuilder.load) and \
            not getattr(IndexBuilder.load, "_keeps_index_entries", False):
        IndexBuilder.load = _load_with_index_entries(IndexBuilder.load)
        IndexBuilder.load._keeps_index_entries = True
        IndexBuilder.prune = _prune_index_entries(IndexBuilder.prune)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
