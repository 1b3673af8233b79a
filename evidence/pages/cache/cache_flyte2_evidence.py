"""
Caching in the flyte SDK: the evidence
======================================

How the site knows what :ref:`guide-caching` says of Flyte 2, from the lessons
:ref:`sphx_glr_auto_examples_cache_cache_by_function_body.py`,
:ref:`sphx_glr_auto_examples_cache_cache_files_by_content.py` and
:ref:`sphx_glr_auto_examples_cache_cache_each_map_element.py`. Their tasks run here
under a probe that records which bodies ran and which calls the local cache served, from
an empty cache; then the edits, the settings, what a cluster receives, the keys.
"""

# %%
# .. _flyte2-cache-probed-runs:
#
# What each call did
# ------------------
# The first lesson's three calls again, each inside ``probes.flyte_runs()``. A "stale"
# result is one the cache served although the code as it is now computes another value
# (found by calling the task's function directly, without Flyte).
import contextlib
import io

import flyte

from evidence import figures, lessons, probes

flyte.init()
lesson = lessons.load("cache/cache_by_function_body")
TEXT = "The cat sat on the mat"
# Each probed call, by the figure it is drawn in; and those the cache served stale.
probed: dict[str, list[tuple[str, probes.TaskRuns]]] = {"edits": [], "settings": [],
                                                        "data": []}
stale: set[tuple[str, str]] = set()
figure_of_next_calls = "edits"


def quietly(function, *args, **kwargs):
    """Call ``function`` with what its task bodies print kept off the page."""
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args, **kwargs)


def call(label: str, task, *args, current=None, watch=None, runner=flyte, **kwargs):
    """Run ``task`` locally once under the probe; print what it did to ``watch`` (the
    task itself unless named) and whether the value is the one the current code
    computes."""
    with probes.flyte_runs() as runs:
        runs.value = quietly(lambda: runner.run(task, *args, **kwargs).outputs()[0])
    now = quietly(task.func, *args, **kwargs) if current is None else current
    name = watch or probes.short(task.name)
    outcome = ("body ran" if runs.ran(name) else
               "served, current" if runs.value == now else "served, STALE")
    if outcome == "served, STALE":
        stale.add((label, name))
    print(f"{label}: {outcome}, returned {runs.value}")
    probed[figure_of_next_calls].append((label, runs))


call("first call", lesson.count_words, TEXT)
call("same input", lesson.count_words, TEXT)
call("verbose=True (ignored)", lesson.count_words, TEXT, verbose=True)

# %%
# .. _flyte2-cache-versions:
#
# The version is a hash of the task's source
# ------------------------------------------
# ``flyte.extras.serialize`` (through ``probes.flyte_spec``) gives the task template
# ``flyte run`` and ``flyte deploy`` send; its ``discovery_version`` is the cache
# version. Recomputed here by hand, as ``FunctionBodyPolicy`` and ``Cache.get_version``
# do: SHA-256 of the function's syntax tree (``ast.dump`` without positions) plus the
# salt, hashed once more.
import ast
import hashlib
import inspect
import textwrap


def version_of(task) -> str:
    return probes.flyte_spec(task).task_template.metadata.discovery_version


def by_hand(function, salt: str = "") -> str:
    tree = ast.dump(ast.parse(textwrap.dedent(inspect.getsource(function))))
    body = hashlib.sha256(tree.encode() + salt.encode()).hexdigest()
    return hashlib.sha256(body.encode()).hexdigest()


ORIGINAL = version_of(lesson.count_words)
print(f"count_words version: {len(ORIGINAL)} hex digits")
print(f"count_words version equals the hash recomputed by hand: "
      f"{ORIGINAL == by_hand(lesson.count_words.func)}")

# %%
# .. _flyte2-cache-body-edits:
#
# Edit the task itself
# --------------------
# Each source below is an edit of ``count_words`` made in the lesson's own module, as
# saving the file would: same function name in the same environment, so the same task
# name. A comment and a new layout leave the syntax tree as it was: same version,
# served. A docstring, a decorator argument or a changed body is in the tree: a new
# version, and the body runs.
DECORATOR = '@env.task(cache=flyte.Cache("auto", ignored_inputs=("verbose",)))\n'
BODY = '''def count_words(text: str, verbose: bool = False) -> int:
    {doc}words = {words}
    print(f"count_words ran: {{len(words)}} words")
    if verbose:
        print(f"count_words saw: {{' '.join(words)}}")
    return len(words)
'''
FINDALL = 're.findall(r"[a-z\']+", normalize(text))'
EDITS = {
    "comment, new layout": DECORATOR + BODY.format(
        doc="# a comment\n    ", words=f"(\n        {FINDALL}\n    )"),
    "docstring added": DECORATOR + BODY.format(doc='"""Count words."""\n    ',
                                               words=FINDALL),
    "decorator: retries=2": DECORATOR.replace(")))", ")), retries=2)")
                            + BODY.format(doc="", words=FINDALL),
    "body: distinct words": DECORATOR + BODY.format(doc="", words=f"set({FINDALL})"),
}
edited_versions = {}
for label, source in EDITS.items():
    edited = lessons.redefine(lesson, source)["count_words"]
    edited_versions[label] = version_of(edited)
    call(label, edited, TEXT)
    print(f"{label}, same version: {edited_versions[label] == ORIGINAL}")

# %%
# .. _flyte2-cache-outside-edits:
#
# Edit what it calls
# ------------------
# Back to the lesson's ``count_words``. The helper ``normalize`` now drops "the"; then
# the library ``re`` is "upgraded" to one whose ``findall`` drops words of one or two
# letters (a stand-in module put in the lesson's namespace under the name ``re``, as a
# new installed version replaces the module a task imports). Neither is in the task's
# source: same version, and the old count comes back. A new ``salt`` is the fix: it
# changes the version without touching the code.
import re as real_re
import types


@contextlib.contextmanager
def replaced(name: str, value):
    """The lesson's global ``name`` is ``value`` while the block runs."""
    saved = getattr(lesson, name)
    setattr(lesson, name, value)
    try:
        yield
    finally:
        setattr(lesson, name, saved)


def drop_the(text: str) -> str:
    return " ".join(word for word in text.lower().split() if word != "the")


re_upgraded = types.ModuleType("re")
re_upgraded.findall = lambda pattern, text: [w for w in real_re.findall(pattern, text)
                                             if len(w) > 2]

with replaced("normalize", drop_the):
    call("helper edited", lesson.count_words, TEXT)
    print(f"helper edited, same version: {version_of(lesson.count_words) == ORIGINAL}")
with replaced("re", re_upgraded):
    call("library upgraded", lesson.count_words, TEXT)
    salted = lesson.count_words.override(
        cache=flyte.Cache("auto", ignored_inputs=("verbose",), salt="re 2.0"))
    call("library upgraded, new salt", salted, TEXT)

# %%
# The edits at a glance:
fig = figures.task_grid(probed["edits"], ["count_words"],
                        "count_words: which edits run it again", stale=stale,
                        row_height=0.36)
figures.show(fig)

# %%
# .. _flyte2-cache-data-by-name:
#
# Change the data behind a path
# -----------------------------
# ``count_lines`` receives a ``File``. Passed by its path alone, its key holds the path:
# rewriting the file keeps the key, and the old count comes back. Passed with a digest
# of its bytes (``file_cache_key=``, as the lesson does), the new bytes make a new key.
import pathlib
import tempfile

from flyte.io import File

figure_of_next_calls = "data"
notes = pathlib.Path(tempfile.mkdtemp(), "notes.txt")


def by_path() -> File:
    return File.from_existing_remote(str(notes))


def by_digest() -> File:
    digest = hashlib.sha256(notes.read_bytes()).hexdigest()
    return File.from_existing_remote(str(notes), file_cache_key=digest)


notes.write_text("one\ntwo\n")
call("file by path", lesson.count_lines, by_path(), current=2)
call("file by digest", lesson.count_lines, by_digest(), current=2)
notes.write_text("one\ntwo\nthree\n")
call("rewritten, by path", lesson.count_lines, by_path(), current=3)
call("rewritten, by digest", lesson.count_lines, by_digest(), current=3)

# %%
# .. _flyte2-cache-overrides:
#
# Pin the version, skip the cache, overwrite it
# ---------------------------------------------
# ``task.override(cache=...)`` returns a copy of the task with another cache setting.
#
# - ``Cache("override", version_override="1")`` pins the version to "1". A local run of
#   flyte 2.12.1 reads its cache only for ``"auto"``, so the pinned task runs every time
#   here (it still writes its entries).
# - ``Cache("auto", version_override="1")`` pins the version as well (``get_version``
#   returns the override whatever the behaviour), and a local run reads it: the second
#   call is served, and so is an edited body under the same pin, stale, as in Flyte 1.
# - ``"disable"`` runs every time; ``with_runcontext(disable_run_cache=True)`` neither
#   reads nor writes the local cache for one run;
#   ``with_runcontext(overwrite_cache=True)`` changes nothing in a local run: the call
#   is served.
figure_of_next_calls = "settings"
PINNED = "pin"
pinned = lesson.count_words.override(
    cache=flyte.Cache("override", version_override="1"))
call("override, pinned", pinned, PINNED)
call("override, pinned, again", pinned, PINNED)
auto_pinned = lesson.count_words.override(
    cache=flyte.Cache("auto", version_override="1", ignored_inputs=("verbose",)))
call("auto, pinned", auto_pinned, TEXT + " again")
call("auto, pinned, again", auto_pinned, TEXT + " again")
edited = lessons.redefine(lesson, EDITS["body: distinct words"])["count_words"]
call("auto, pinned, body edited", edited.override(
    cache=flyte.Cache("auto", version_override="1", ignored_inputs=("verbose",))),
    TEXT + " again")
call('"disable"', lesson.count_words.override(cache="disable"), TEXT)
no_run_cache = flyte.with_runcontext(disable_run_cache=True)
call("disable_run_cache", lesson.count_words, "a fresh text", runner=no_run_cache)
call("disable_run_cache, again", lesson.count_words, "a fresh text",
     runner=no_run_cache)
call("then a plain call", lesson.count_words, "a fresh text")
call("overwrite_cache=True", lesson.count_words, TEXT,
     runner=flyte.with_runcontext(overwrite_cache=True))

# %%
# The settings at a glance:
fig = figures.task_grid(probed["settings"], ["count_words"],
                        "count_words: pinned, disabled, overwritten", stale=stale,
                        row_height=0.36)
figures.show(fig)

# %%
# .. _flyte2-cache-spec:
#
# What a cluster receives
# -----------------------
# The cache settings travel in the task template's metadata. A disabled task still
# carries a version (the source hash): the SDK uses it to name actions, not to cache.
# ``max_age`` goes into ``cache_max_age``, a field the SDK's protocol has and Flyte
# v2.0.43's does not. The interface's parameter descriptions are empty: flyte 2.12.1
# fills them from the docstring only when ``flyte deploy`` registers the task.
from datetime import timedelta


def metadata(task):
    return probes.flyte_spec(task).task_template.metadata


words = metadata(lesson.count_words)
print(f"spec count_words: discoverable {words.discoverable}, "
      f"serializable {words.cache_serializable}")
print(f"spec count_words: ignored inputs {list(words.cache_ignore_input_vars)}")
print(f"spec pinned: version {metadata(pinned).discovery_version!r}")
serialized = metadata(lesson.count_words.override(
    cache=flyte.Cache("auto", serialize=True, max_age=timedelta(days=7))))
print(f"spec serialize=True: serializable {serialized.cache_serializable}")
print(f"spec max_age=7 days: cache_max_age {serialized.cache_max_age.seconds} s")
off = metadata(lesson.count_words.override(cache="disable"))
print(f'spec "disable": discoverable {off.discoverable}, '
      f"version still the source hash {off.discovery_version == ORIGINAL}")
salted_by_hand = by_hand(lesson.count_words.func, "re 2.0")
print(f"spec salt='re 2.0': version recomputed by hand with the salt "
      f"{metadata(salted).discovery_version == salted_by_hand}")
interface = probes.flyte_spec(lesson.count_words).task_template.interface
print(f"spec interface, parameter descriptions: "
      f"{[v.value.description for v in interface.inputs.variables]}")

# %%
# .. _flyte2-cache-notebook-version:
#
# A remote run from a notebook: the pickle's digest is the version
# ----------------------------------------------------------------
# ``flyte.run`` to a cluster from a Jupyter or IPython kernel (``interactive_mode``, on
# whenever IPython is active) cloudpickles the task into a code bundle and serializes
# every task with that bundle. The serializer then takes the bundle's digest as the
# cache version, before it looks at the ``Cache``: ``"auto"`` and a ``version_override``
# alike. Shown here by serializing with such a bundle (its digest a placeholder).
from flyte.models import CodeBundle, SerializationContext

bundle = CodeBundle(pkl="code_bundle.pkl.gz", computed_version="digest-of-the-pickle")
in_notebook = SerializationContext(version="docs", code_bundle=bundle,
                                   root_dir=pathlib.Path(lesson.__file__).parent)
for label, task in (('"auto"', lesson.count_words), ("pinned to '1'", pinned)):
    version = flyte.extras.serialize(task, in_notebook).task_template.metadata
    print(f"notebook run, {label}: version {version.discovery_version!r}")

# %%
# .. _flyte2-cache-root-vs-child:
#
# A run's first task, and the same task called from a task
# --------------------------------------------------------
# Locally both go through the same controller and the same key: a call from a parent
# task is served the entry a run of the task alone stored.
from evidence import sdk

parent_env = flyte.TaskEnvironment(name="parent_probe")


@parent_env.task
def parent(text: str) -> int:
    return lesson.count_words(text)


call("run alone", lesson.count_words, "root and child")
call("called from a parent", parent, "root and child", current=3, watch="count_words")

# %%
# On a cluster they part. The SDK keys a task it calls on SHA-256 over ``name:value``
# pairs (44 characters in base64). For a run's first task Flyte v2.0.43 uses the same
# formula with the inputs hash its upload service made: FNV-64a over the serialized
# inputs (11 characters), recomputed below from v2.0.43's ``hashInputsProto``. They
# cannot be equal: the two calls share no entries. flyte 2.12.1 sends its own hash with
# a run only when an input carries a content hash (a ``File`` with a digest); then they
# agree.
import base64


def fnv64a(data: bytes) -> bytes:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) % 2**64
    return value.to_bytes(8, "big")


def server_inputs_hash(inputs, ignored: list[str]) -> str:
    """v2.0.43's dataproxy ``hashInputsProto`` over the inputs minus the ignored
    ones."""
    kept = type(inputs)(literals=[x for x in inputs.literals if x.name not in ignored])
    data = kept.SerializeToString(deterministic=True)
    return base64.urlsafe_b64encode(fnv64a(data)).rstrip(b"=").decode()


inputs = sdk.flyte_inputs(lesson.count_words, TEXT)
child = sdk.flyte_inputs_hash(inputs)
root = server_inputs_hash(inputs, ["verbose"])
print(f"inputs hash, called from a task (SDK): {len(child)} characters")
print(f"inputs hash, run's first task (server): {len(root)} characters")
print(f"text input, 2.12.1 replaces the server's hash: "
      f"{sdk.flyte_run_inputs_hash(inputs, ['verbose']) is not None}")
file_inputs = sdk.flyte_inputs(lesson.count_lines, by_digest())
sent = sdk.flyte_run_inputs_hash(file_inputs, [])
print(f"file with a digest, 2.12.1 sends the hash a child call uses: "
      f"{sent == sdk.flyte_inputs_hash(file_inputs)}")

# %%
# .. _flyte2-cache-content-probed:
#
# Files and folders by content
# ----------------------------
# The second lesson's workflows, each run twice. By reference ``count_lines`` runs both
# times; with a digest from the producer, the second run is served, for a file and for a
# folder. A ``File`` or ``Dir`` made outside a task (in the script that launches the
# run) loses the key it was given in a local run: the SDK uploads it lazily, and the
# lazy path returns no hash, so the two calls below both run.
from flyte.io import Dir

figure_of_next_calls = "data"
content = lessons.load("cache/cache_files_by_content")
for name, watch, current in (("lines_by_reference", "count_lines", 3),
                             ("lines_by_content", "count_lines", 3),
                             ("files_by_content", "count_files", 2)):
    for attempt in (1, 2):
        call(f"{name}, run {attempt}", getattr(content, name), current=current,
             watch=watch)

KEY = hashlib.sha256(b"one\n").hexdigest()
for attempt in (1, 2):  # the same bytes in a new folder, with the same key
    shards = pathlib.Path(tempfile.mkdtemp())
    (shards / "part-0.txt").write_text("one\n")
    folder = Dir.from_local_sync(str(shards), dir_cache_key=KEY)
    call(f"Dir keyed by the launcher, run {attempt}", content.count_files, folder,
         current=1)
for attempt in (1, 2):
    path = pathlib.Path(tempfile.mkdtemp(), "words.txt")
    path.write_text("one\n")
    data = File.from_local_sync(str(path), hash_method=KEY)
    call(f"File keyed by the launcher, run {attempt}", content.count_lines, data,
         current=1)

# %%
# The calls that passed a file or a folder, at a glance:
fig = figures.task_grid(probed["data"], ["count_lines", "count_files"],
                        "Files and folders: by path, by reference, by content",
                        stale=stale, row_height=0.36)
figures.show(fig)

# %%
# .. _flyte2-cache-hash-function:
#
# ``HashFunction`` on a file keeps the last chunk's hash
# ------------------------------------------------------
# ``HashFunction.from_fn(fn)`` calls ``fn`` on each piece of data it is fed and keeps
# the last result. ``DataFrame.from_local`` feeds it the whole frame once.
# ``File.from_local`` feeds it the file as it copies or uploads it: left in place (a
# local run's default) it reads nothing and the file gets no key; uploaded (the path to
# a bucket, shown with fsspec's in-memory store) it is fed line by line, and two files
# that differ only in their first line get the same key. A digest string
# (``hash_method=digest``) has neither problem.
from flyte.io import HashFunction

fed = HashFunction.from_fn(lambda data: bytes(data).decode())
fed.update(b"first piece")
fed.update(b"last piece")
print(f"HashFunction fed two pieces keeps: {fed.result()!r}")

hash_env = flyte.TaskEnvironment(name="hash_function_probe")


def sha(data) -> str:
    return hashlib.sha256(bytes(data)).hexdigest()


@hash_env.task
async def file_key(text: str, destination: str) -> str:
    path = pathlib.Path(tempfile.mkdtemp(), "notes.txt")
    path.write_text(text)
    made = await File.from_local(str(path), remote_destination=destination or None,
                                 hash_method=HashFunction.from_fn(sha))
    return made.hash or "none"


def key_of(text: str, destination: str = "") -> str:
    return quietly(lambda: flyte.run(file_key, text, destination).outputs()[0])


FIRST, SECOND, LAST_LINE = "one\ntwo\n", "ONE\ntwo\n", b"two\n"
print(f"file left in place, its key: {key_of(FIRST)}")
uploaded = [key_of(text, "memory://bucket/notes.txt") for text in (FIRST, SECOND)]
print(f"uploaded, files differing in line 1 get the same key: "
      f"{uploaded[0] == uploaded[1]}")
print(f"uploaded, the key is the hash of the last line: "
      f"{uploaded[0] == sha(LAST_LINE)}")

# %%
# .. _flyte2-cache-map-probed:
#
# ``flyte.map``: one key per element
# ----------------------------------
# The third lesson's three runs. Each element is a call of ``count_letters`` with the
# element and the ``partial``-bound ``min_length``; the probe records the inputs of each
# body that ran. Run 2 adds one title: only it runs. Run 3 binds another ``min_length``:
# every element runs.
mapped = lessons.load("cache/cache_each_map_element")
TITLES = ["Dune", "Emma", "Middlemarch", "Ulysses"]
map_rows, map_ran = [], {}
for label, these, min_length in (("run 1", TITLES[:3], 1), ("run 2", TITLES, 1),
                                 ("run 3, min_length=5", TITLES, 5)):
    with probes.flyte_runs() as runs:
        quietly(lambda: flyte.run(mapped.count_all, these, min_length=min_length))
    ran = [inputs["title"] for task, inputs in runs.calls if task == "count_letters"]
    map_ran[label] = (len(ran), len(these))
    print(f"{label}, elements run: {', '.join(ran) or 'none'}")
    print(f"{label}, elements served from the cache: {runs.served('count_letters')}")
    map_rows.append((label, {title: "body ran" if title in ran else
                             "served from the cache" for title in these}))

# %%
fig = figures.state_grid(map_rows, TITLES,
                         "flyte.map: each element looked up on its own")
figures.show(fig)

# %%
# The gallery's cards
# -------------------
# Each card states a page's result in a few words, taken from the calls above by their
# labels.
calls = {label: runs for rows in probed.values() for label, runs in rows}


def did(label: str, task: str) -> str:
    """What the call ``label`` did with ``task``: ran, served, or served stale."""
    runs = calls[label]
    if runs.ran(task):
        return "ran"
    return "served stale" if (label, task) in stale else "served"


figures.page_card("cache_flyte2_evidence", [
    "Caching in the flyte SDK",
    f"{len(calls)} calls, {sum(len(r.hits) for r in calls.values())} cache hits",
    f"{len(stale)} served a stale value"])
cards = {
    "cache/cache_by_function_body": [
        "Keyed on its own source",
        f"comment added: {did('comment, new layout', 'count_words')}",
        f"body edited: {did('body: distinct words', 'count_words')}",
        f"helper edited: {did('helper edited', 'count_words')}"],
    "cache/cache_files_by_content": [
        "Files keyed by content",
        f"by reference, run 2: {did('lines_by_reference, run 2', 'count_lines')}",
        f"by content, run 2: {did('lines_by_content, run 2', 'count_lines')}",
        f"a folder, run 2: {did('files_by_content, run 2', 'count_files')}"],
    "cache/cache_each_map_element": [
        "One key per map element",
        "run 1: {} of {} ran".format(*map_ran["run 1"]),
        "one title added: {} of {} ran".format(*map_ran["run 2"]),
        "min_length=5: {} of {} ran".format(*map_ran["run 3, min_length=5"])],
}
for stem, lines in cards.items():
    figures.lesson_card(stem, lines)
# sphinx_gallery_thumbnail_path = "auto_evidence/cards/cache_flyte2_evidence.png"
