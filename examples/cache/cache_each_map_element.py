r"""
Cache each element of a flyte.map
=================================

``flyte.map`` calls a task once per element, and each call is looked up in the cache on
its own key: add an element and only that one runs. An argument bound with
``functools.partial`` is an input of every call, so it is in every element's key:
change it and every element runs again. The question behind it: :ref:`guide-caching`;
how the site checks it: :ref:`sphx_glr_auto_evidence_cache_cache_flyte2_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flyte==2.12.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/cache)

      python cache_each_map_element.py
      flyte run --local cache_each_map_element.py count_all --titles '["Dune", "Emma"]'

   .. code-block:: sh
      :caption: Run it on a Flyte 2 cluster (after ``flyte create config``)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where flyte run pushes the image
      flyte run cache_each_map_element.py count_all --titles '["Dune", "Emma"]'
"""

# %%
# .. _flyte2-cache-map-elements:
#
# A cached task mapped by an uncached one
# ---------------------------------------
# ``count_letters`` is cached (``cache="auto"`` on the environment) and prints a line
# when its body runs. ``count_all`` maps it over the titles with ``flyte.map``, binding
# ``min_length`` with ``functools.partial``: a partial may leave exactly one parameter
# open, the one each element fills. ``count_all`` itself is not cached
# (``cache="disable"``), so it runs every time and asks the cache about each element.
import functools

import flyte

env = flyte.TaskEnvironment(
    name="map_cache", image=flyte.Image.from_debian_base(), cache="auto"
)


@env.task
def count_letters(title: str, min_length: int) -> int:
    """Letters in the words of ``title`` that have at least ``min_length`` letters."""
    letters = sum(len(word) for word in title.split() if len(word) >= min_length)
    print(f"count_letters ran: {title!r}, min_length={min_length}")
    return letters


@env.task(cache="disable")
def count_all(titles: list[str], min_length: int = 1) -> list[int]:
    count = functools.partial(count_letters, min_length=min_length)
    return list(flyte.map(count, titles))


# %%
# .. _flyte2-cache-map-partial:
#
# Three runs: the same list, one more title, another bound value
# --------------------------------------------------------------
# Run 1 runs every element. Run 2 adds "Ulysses": the first three are served from the
# cache, only the new one runs. Run 3 binds ``min_length=5``: that value is in each
# element's key, so every element runs again. (Run the script again and runs 1 and 2 are
# served whole: the local cache outlives it; ``flyte delete local-cache`` empties it.)
if __name__ == "__main__":
    flyte.init()
    titles = ["Dune", "Emma", "Middlemarch"]
    runs = (("run 1", titles, 1), ("run 2, one more title", titles + ["Ulysses"], 1),
            ("run 3, min_length=5", titles + ["Ulysses"], 5))
    for label, these, min_length in runs:
        counts = flyte.run(count_all, these, min_length=min_length).outputs()[0]
        print(f"{label}, letters: {counts}")
