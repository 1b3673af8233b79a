r"""
Which edits re-run a cached task in Flyte 2
===========================================

With ``cache="auto"``, Flyte 2 versions a cached task by a hash of its own source code:
edit the task and it runs again; change what it calls or reads, and the old result comes
back. Each edit below is made in this script and run locally, in a few seconds. The
question behind it: :ref:`guide-caching`. (Flyte 1 twin:
:ref:`sphx_glr_auto_examples_cache_rerun_with_caching.py`.)

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flyte==2.12.1 matplotlib==3.11.2

   .. code-block:: sh
      :caption: Run it in the folder you saved it to (in a clone: cd examples/cache)

      python cache_by_function_body.py
      flyte run --local cache_by_function_body.py count_words \
          --text "the cat sat on the mat"

   .. code-block:: sh
      :caption: Run it on a Flyte 2 cluster (after ``flyte create config``)

      flyte run cache_by_function_body.py count_words \
          --text "the cat sat on the mat"
"""

# %%
# .. _flyte2-cache-tasks:
#
# Define the tasks
# ----------------
# ``count_words`` counts the words of a text with a helper (``tidy``) and a library
# function (``wordlib.split``); ``count_lines`` counts the lines of a file it is handed.
# The environment caches every task with ``cache="auto"``: the cache version is a hash
# of the task function's source. ``count_words`` also leaves ``verbose`` out of its key
# (``ignored_inputs``): a switch that prints a line cannot change the count.
import hashlib
import pathlib
import types

import flyte
from flyte.io import File

env = flyte.TaskEnvironment(
    name="cache_edits",
    image=flyte.Image.from_debian_base(),  # flyte only: the tasks need nothing else
    cache="auto",
)


def tidy(text: str) -> str:
    """A helper the task calls. Its source is not the task's source."""
    return " ".join(text.split())


# A stand-in for an installed library (say, a tokenizer you pip install). It is built
# here so that this page can "upgrade" it below; a real upgrade also changes code
# outside the task.
wordlib = types.ModuleType("wordlib")
wordlib.__version__ = "1.0"
wordlib.split = str.split


@env.task(cache=flyte.Cache("auto", ignored_inputs=("verbose",)))
def count_words(text: str, verbose: bool = False) -> int:
    words = wordlib.split(tidy(text))
    if verbose:
        print(f"count_words body: {len(words)} words")
    return len(words)


@env.task
def count_lines(data: File) -> int:
    with data.open_sync("rb") as f:
        return len(f.read().splitlines())


# %%
# Listen for cache hits
# ---------------------
# A local run logs ``Cache hit for task '<name>'`` on the ``flyte`` logger at INFO,
# below the level it prints. ``call`` collects those records while it runs one task,
# prints what came back, and what the code as it is now computes when run directly,
# without Flyte (``.func``). A hit whose value differs from the current code's is a
# stale result.
import logging
import time
from contextlib import contextmanager


class _Hits(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.tasks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Cache hit for task '"):
            self.tasks.append(message.split("'")[1])


@contextmanager
def cache_hits():
    """Collect cache hits at INFO without printing flyte's log lines."""
    log = logging.getLogger("flyte")
    saved_level, saved = log.level, [(h, h.level) for h in log.handlers]
    for handler, level in saved:
        handler.setLevel(max(level, log.getEffectiveLevel()))
    hits = _Hits()
    log.addHandler(hits)
    log.setLevel(logging.INFO)
    try:
        yield hits.tasks
    finally:
        log.removeHandler(hits)
        log.setLevel(saved_level)
        for handler, level in saved:
            handler.setLevel(level)


outcomes: list[tuple[str, str, float]] = []  # (label, outcome, seconds) for the figure


def call(label: str, task, *args, current=None, **kwargs):
    """Run ``task`` locally once; print whether it hit, and if the value is current."""
    with cache_hits() as hits:
        start = time.perf_counter()
        value = flyte.run(task, *args, **kwargs).outputs()[0]
        seconds = time.perf_counter() - start
    now = task.func(*args) if current is None else current
    outcome = "ran" if not hits else ("hit" if value == now else "stale")
    outcomes.append((label, outcome, seconds))
    print(f"{label}: {'cache hit' if hits else 'body ran'}, returned {value}")
    if hits:
        verdict = "same" if value == now else "STALE result"
        print(f"  current code gives {now}: {verdict}")
    return value


# %%
# .. _flyte2-cache-second-call:
#
# Call it twice
# -------------
# The text ends with a random word, so that each run of this script starts with keys no
# earlier run stored: Flyte 2's local cache persists across runs, and its keys are
# hashes, so a script cannot pick out its own entries to forget as the Flyte 1 example
# does.
if __name__ == "__main__":
    import secrets
    import tempfile

    flyte.init()
    nonce = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(12))
    TEXT = f"the cat - the one on the mat - sat {nonce}"  # 11 words for str.split

    call("first call", count_words, TEXT)
    call("same input again", count_words, TEXT)
    call("verbose=True, an ignored input", count_words, TEXT, verbose=True)

# %%
# .. _flyte2-cache-body-edits:
#
# Edit the task itself
# --------------------
# The redefinitions below are edits to ``count_words``: same function name in the same
# environment, so the same task name, with the decorator unchanged. A comment is not
# part of the syntax tree the version hashes, so adding one keeps the key. Changing the
# body (dropping the dashes) changes the version: the task runs again.
if __name__ == "__main__":
    original = count_words

    @env.task(cache=flyte.Cache("auto", ignored_inputs=("verbose",)))
    def count_words(text: str, verbose: bool = False) -> int:
        # A comment changes nothing the version hashes.
        words = wordlib.split(tidy(text))
        if verbose:
            print(f"count_words body: {len(words)} words")
        return len(words)

    call("comment added", count_words, TEXT)
    commented = count_words

    @env.task(cache=flyte.Cache("auto", ignored_inputs=("verbose",)))
    def count_words(text: str, verbose: bool = False) -> int:
        words = [word for word in wordlib.split(tidy(text)) if word != "-"]
        if verbose:
            print(f"count_words body: {len(words)} words")
        return len(words)

    call("body edited", count_words, TEXT)
    edited = count_words

# %%
# .. _flyte2-cache-outside-edits:
#
# Edit what it calls
# ------------------
# Back to the original ``count_words``. Each change below alters what it computes, but
# not its source: the key is the same and the old count comes back.
#
# * The helper ``tidy`` now drops dashes.
# * The "library" is upgraded to 2.0, whose ``split`` skips words of one or two letters.
#   This is simulated: the stand-in module's version string and function are replaced in
#   this process, as installing a new version replaces the code a task imports.
if __name__ == "__main__":
    count_words = original

    def tidy(text: str) -> str:  # the edited helper
        return " ".join(word for word in text.split() if word != "-")

    call("helper edited", count_words, TEXT)

    wordlib.__version__ = "2.0"
    wordlib.split = lambda text: [word for word in text.split() if len(word) > 2]
    call("library upgraded", count_words, TEXT)

# %%
# .. _flyte2-cache-data-by-name:
#
# Change the data behind a name
# -----------------------------
# ``count_lines`` receives a ``File``. Without a content hash, its key holds the file's
# path, so rewriting the file keeps the key. With
# ``File.from_existing_remote(path, file_cache_key=digest)``, the digest of the bytes
# replaces the path in the key (for a bucket object, its ETag or version id would do).
# The first line of the file is this run's random word, for the reason given above.
if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        path = pathlib.Path(scratch, "notes.txt")

        def lines(text: str) -> tuple[File, File, int]:
            """The file by name, by content digest, and its true line count."""
            path.write_text(text)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            by_content = File.from_existing_remote(str(path), file_cache_key=digest)
            return File(path=str(path)), by_content, len(text.splitlines())

        by_name, by_content, true_count = lines(f"{nonce}\ntwo\n")
        call("file, by name", count_lines, by_name, current=true_count)
        call("file, by content", count_lines, by_content, current=true_count)
        by_name, by_content, true_count = lines(f"{nonce}\ntwo\nthree\n")
        call("file rewritten, by name", count_lines, by_name, current=true_count)
        call("file rewritten, by content", count_lines, by_content, current=true_count)

# %%
# .. _flyte2-cache-overrides:
#
# Pin the version, or switch the cache off for one call
# -----------------------------------------------------
# ``task.override(cache=...)`` returns a copy of the task with another cache setting.
# With ``Cache("override", version_override="1")`` the version is the string you give,
# and the source no longer matters; on a cluster it is looked up like any other version.
# Note what a local run does with it: flyte 2.12.1 reads the local cache only for
# ``"auto"``, so the pinned task runs every time here. ``"disable"`` skips the cache.
if __name__ == "__main__":
    pinned = count_words.override(cache=flyte.Cache("override", version_override="1"))
    call("version pinned to 1", pinned, TEXT)
    call("version pinned to 1, again", pinned, TEXT)
    call("cache disabled for this call", count_words.override(cache="disable"), TEXT)

# %%
# .. _flyte2-cache-spec:
#
# What a cluster receives
# -----------------------
# ``flyte deploy`` and ``flyte run`` serialize each task into a task template; its
# metadata carries the cache settings. ``spec`` runs the SDK's own serializer
# (``translate_task_to_wire``, which ``flyte deploy`` calls) offline. The version of an
# ``"auto"`` task is the 64-digit hash of its source; a pinned task carries your string.
import sys

from flyte._internal.runtime.task_serde import translate_task_to_wire
from flyte.models import SerializationContext


def spec(task):
    module = sys.modules[task.func.__module__]
    if not getattr(module, "__file__", None):  # the page's runner, sphinx-gallery, runs
        module.__file__ = sys.argv[0]  # this script in a module without __file__
    root = pathlib.Path(module.__file__).parent
    context = SerializationContext(version="v1", root_dir=root)
    return translate_task_to_wire(task, context).task_template.metadata


if __name__ == "__main__":
    auto = spec(original)
    print(f"spec count_words: discoverable {auto.discoverable}, "
          f"ignored inputs {list(auto.cache_ignore_input_vars)}")
    print(f"spec count_words: version is a {len(auto.discovery_version)}-digit hash")
    same = spec(commented).discovery_version == auto.discovery_version
    print(f"spec after the comment, same version: {same}")
    same = spec(edited).discovery_version == auto.discovery_version
    print(f"spec after the body edit, same version: {same}")
    print(f"spec with the version pinned: version {spec(pinned).discovery_version!r}")
    off = spec(count_words.override(cache="disable"))
    print(f"spec with the cache disabled: discoverable {off.discoverable}")

# %%
# What each edit did
# ------------------
# One bar per call above, its length the measured time of the local run (the first one
# also starts the SDK's local runner). A stale hit is as fast as a correct one: only the
# value tells them apart.
if __name__ == "__main__":
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    colors = {"ran": "tab:orange", "hit": "tab:blue", "stale": "tab:red"}
    names = {"ran": "the task body ran", "hit": "cache hit, value current",
             "stale": "cache hit, value STALE"}
    fig, ax = plt.subplots(figsize=(7.4, 5.8))
    labels = [label for label, _, _ in outcomes]
    ax.barh(labels, [seconds * 1000 for _, _, seconds in outcomes],
            color=[colors[outcome] for _, outcome, _ in outcomes])
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("wall time of the local run, measured (ms, log scale)")
    ax.set_title("Flyte 2, cache=\"auto\": which edits re-run a task")
    shown = [o for o in colors if any(outcome == o for _, outcome, _ in outcomes)]
    ax.legend(handles=[Patch(color=colors[o], label=names[o]) for o in shown],
              loc="upper center", bbox_to_anchor=(0.32, -0.1), ncol=3, frameon=False,
              fontsize=10)
    fig.tight_layout()
    plt.show()

# sphinx_gallery_thumbnail_number = 1
