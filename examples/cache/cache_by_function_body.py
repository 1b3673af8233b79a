r"""
Cache a Flyte 2 task keyed on its own source
============================================

With ``cache="auto"`` the flyte SDK versions a cached task by a hash of its own source.
Here a second call is served from the local cache, an input in ``ignored_inputs`` leaves
the key, and a file passed with a digest of its bytes is keyed on the digest, not its
path. The question behind it: :ref:`guide-caching`; which edits re-run the task, probed:
:ref:`sphx_glr_auto_evidence_cache_cache_flyte2_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flyte==2.12.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/cache)

      python cache_by_function_body.py
      flyte run --local cache_by_function_body.py count_words \
          --text "The cat sat on the mat"

   .. code-block:: sh
      :caption: Run it on a Flyte 2 cluster (after ``flyte create config``)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where flyte run pushes the image
      flyte run cache_by_function_body.py count_words --text "The cat sat on the mat"
"""

# %%
# .. _flyte2-cache-tasks:
#
# An environment that caches its tasks
# ------------------------------------
# ``cache="auto"`` on the ``TaskEnvironment`` caches every task in it; the version in
# each key is a hash of the task function's source. ``count_words`` calls a helper
# (``normalize``) and a library (``re``): neither is in its source, so editing either
# does not change the version. ``verbose`` is left out of the key (``ignored_inputs``):
# a switch that prints more cannot change the count. ``count_lines`` reads a file.
import hashlib
import pathlib
import re
import tempfile

import flyte
from flyte.io import File

env = flyte.TaskEnvironment(
    name="cache_edits",
    image=flyte.Image.from_debian_base(),  # the flyte SDK only: the tasks need no more
    cache="auto",
)


def normalize(text: str) -> str:
    """A helper the task calls: its source is not the task's source."""
    return text.lower()


@env.task(cache=flyte.Cache("auto", ignored_inputs=("verbose",)))
def count_words(text: str, verbose: bool = False) -> int:
    words = re.findall(r"[a-z']+", normalize(text))
    print(f"count_words ran: {len(words)} words")
    if verbose:
        print(f"count_words saw: {' '.join(words)}")
    return len(words)


@env.task
def count_lines(data: File) -> int:
    with data.open_sync("rb") as f:
        lines = len(f.read().splitlines())
    print(f"count_lines ran: {lines} lines")
    return lines


# %%
# .. _flyte2-cache-second-call:
#
# Call it twice, then flip the ignored input
# ------------------------------------------
# The first call runs the body and stores its output in the local cache; the second,
# with the same input, is served from it: no "ran" line. ``verbose=True`` changes only
# an ignored input, so it is served too, and its extra line is never printed.
#
# The local cache outlives the script (``~/.flyte/local-cache``): run the script again
# and the first call is served as well. ``flyte delete local-cache`` empties it.
if __name__ == "__main__":
    flyte.init()
    TEXT = "The cat sat on the mat"
    for label, verbose in (("first call", False), ("same input", False),
                           ("verbose=True, an ignored input", True)):
        words = flyte.run(count_words, TEXT, verbose=verbose).outputs()[0]
        print(f"{label}, words: {words}")

# %%
# .. _flyte2-cache-data-by-digest:
#
# Pass a file with a digest of its bytes
# --------------------------------------
# A ``File`` travels as a reference, and the key of the task that receives it holds that
# reference: rewrite the file in place and the key stays, the old count comes back.
# ``File.from_existing_remote(path, file_cache_key=digest)`` puts the digest in the key
# instead, so new bytes mean a new key. For an object in a bucket, its ETag or version
# id serves as the digest.
if __name__ == "__main__":
    notes = pathlib.Path(tempfile.mkdtemp(), "notes.txt")
    for label, text in (("two lines", "one\ntwo\n"), ("same bytes", "one\ntwo\n"),
                        ("three lines", "one\ntwo\nthree\n")):
        notes.write_text(text)
        digest = hashlib.sha256(notes.read_bytes()).hexdigest()
        data = File.from_existing_remote(str(notes), file_cache_key=digest)
        lines = flyte.run(count_lines, data).outputs()[0]
        print(f"file with {label}, by digest, lines: {lines}")
