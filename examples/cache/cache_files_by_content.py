r"""
Key a Flyte 2 task on a file's content, not its path
====================================================

A cached flyte SDK task that receives a file or a folder keys on its path, and a
producer that runs again writes the same bytes to a new path. A digest given to the
``File`` or ``Dir`` when it is made (``hash_method=``, ``dir_cache_key=``) goes into the
key instead. The Flyte 1 twin:
:ref:`sphx_glr_auto_examples_cache_cache_arrays_by_content.py`. The question:
:ref:`guide-caching`; the evidence:
:ref:`sphx_glr_auto_evidence_cache_cache_flyte2_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flyte==2.12.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/cache)

      python cache_files_by_content.py
      flyte run --local cache_files_by_content.py lines_by_content --n_lines 3

   .. code-block:: sh
      :caption: Run it on a Flyte 2 cluster (after ``flyte create config``)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where flyte run pushes the image
      flyte run cache_files_by_content.py lines_by_content --n_lines 3
"""

# %%
# .. _flyte2-cache-content-keys:
#
# Producers with and without a digest
# -----------------------------------
# The producers are not cached: each run writes its words to a new folder. The
# ``_hashed`` one passes the SHA-256 of the bytes as ``hash_method``; a string there is
# the key itself. ``write_shards`` does the same for a folder with ``dir_cache_key``.
# ``count_lines`` and ``count_files`` are cached and print a line when they run.
import hashlib
import pathlib
import tempfile

import flyte
from flyte.io import Dir, File

env = flyte.TaskEnvironment(name="content_keys", image=flyte.Image.from_debian_base())
LINE = "the cat sat on the mat\n"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@env.task
def write_words(n_lines: int) -> File:
    path = pathlib.Path(tempfile.mkdtemp(), "words.txt")
    path.write_text(LINE * n_lines)
    return File.from_local_sync(str(path))


@env.task
def write_words_hashed(n_lines: int) -> File:
    path = pathlib.Path(tempfile.mkdtemp(), "words.txt")
    path.write_text(LINE * n_lines)
    return File.from_local_sync(str(path), hash_method=digest(path.read_bytes()))


@env.task
def write_shards(n_shards: int) -> Dir:
    folder = pathlib.Path(tempfile.mkdtemp())
    for shard in range(n_shards):
        (folder / f"part-{shard}.txt").write_text(LINE * (shard + 1))
    parts = sorted(folder.iterdir())
    key = digest(b"".join(p.name.encode() + p.read_bytes() for p in parts))
    return Dir.from_local_sync(str(folder), dir_cache_key=key)


@env.task(cache="auto")
def count_lines(data: File) -> int:
    with data.open_sync("rb") as f:
        lines = len(f.read().splitlines())
    print(f"count_lines ran: {lines} lines")
    return lines


@env.task(cache="auto")
def count_files(shards: Dir) -> int:
    files = len(shards.list_files_sync())
    print(f"count_files ran: {files} files")
    return files


@env.task
def lines_by_reference(n_lines: int = 3) -> int:
    return count_lines(write_words(n_lines))


@env.task
def lines_by_content(n_lines: int = 3) -> int:
    return count_lines(write_words_hashed(n_lines))


@env.task
def files_by_content(n_shards: int = 2) -> int:
    return count_files(write_shards(n_shards))


# %%
# Run each twice
# --------------
# By reference, ``count_lines`` runs both times: the second run's words are at a new
# path. By content, the second run is served from the cache, for the file and for the
# folder. (Run the script again and the first runs by content are served too: the local
# cache outlives the script; ``flyte delete local-cache`` empties it.)
if __name__ == "__main__":
    flyte.init()
    for label, task in (("by reference", lines_by_reference),
                        ("by content", lines_by_content),
                        ("folder by content", files_by_content)):
        for run in (1, 2):
            print(f"{label}, run {run}, counted: {flyte.run(task).outputs()[0]}")
