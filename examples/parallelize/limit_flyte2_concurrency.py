r"""
Cap a Flyte 2 fan-out, and a whole run
======================================

Two settings limit what runs at once in Flyte 2. ``flyte.map(..., concurrency=N)`` caps
one fan-out: the parent task's own process keeps at most ``N`` of its children in
flight. ``max_action_concurrency`` caps a whole run, the parent included: set it with
``flyte.with_runcontext`` or ``flyte run --max-action-concurrency``; the SDK refuses 1.
The question behind it: :ref:`guide-parallelism`; how the site checks it:
:ref:`sphx_glr_auto_evidence_parallelize_parallelize_flyte2_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flyte==2.12.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/parallelize)

      python limit_flyte2_concurrency.py
      flyte run --local limit_flyte2_concurrency.py fan_out --n 6 --concurrency 3

   .. code-block:: sh
      :caption: Run it on a Flyte 2 cluster (after ``flyte create config``)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where flyte run pushes the image
      flyte run limit_flyte2_concurrency.py fan_out --n 6 --concurrency 3
"""

# %%
# .. _parallelism-flyte2-limit-tasks:
#
# A parent that maps a task
# -------------------------
# ``square`` prints a line when it runs. ``fan_out`` maps it over ``range(n)``: on a
# cluster, with ``concurrency=3``, the parent submits three children, and the next one
# only when one of them has finished. ``asyncio.gather`` has no such parameter: an
# ``asyncio.Semaphore`` around each call does the same (:ref:`parallelism-flyte2-map`).
import flyte

env = flyte.TaskEnvironment(
    name="limit_concurrency",
    image=flyte.Image.from_debian_base(),  # flyte only: the tasks need nothing else
    resources=flyte.Resources(cpu=1, memory="500Mi"),
)


@env.task
async def square(x: int) -> int:
    print(f"square ran: {x}")
    return x * x


@env.task
async def fan_out(n: int = 6, concurrency: int = 3) -> list[int]:
    if not 1 <= n <= 1000 or concurrency < 0:
        raise ValueError(f"need 1 <= n <= 1000 and concurrency >= 0, got {n}, "
                         f"{concurrency}")
    return [r async for r in flyte.map.aio(square, range(n), concurrency=concurrency)]


# %%
# .. _parallelism-flyte2-run-cap:
#
# Cap the whole run
# -----------------
# ``max_action_concurrency`` travels with the run, not with a task: every action of the
# run counts against it, the parent included; left unset, the platform decides. On the
# command line:
#
# .. code-block:: sh
#
#    flyte run --max-action-concurrency 4 limit_flyte2_concurrency.py fan_out --n 6
#
# A cap of 1 would leave the parent holding the only slot while its children wait for
# one, so the SDK refuses it before anything runs, in a local run too. A local run
# accepts the other values and applies neither cap: ``flyte.map`` runs the squares one
# after another in this process, whatever ``concurrency`` says, and the run cap only
# goes into what a cluster receives. Which backend enforces which cap:
# :ref:`parallelism-flyte2-caps`.
if __name__ == "__main__":
    flyte.init()
    capped = flyte.with_runcontext(max_action_concurrency=4)
    run = capped.run(fan_out, n=6, concurrency=3)
    print(f"fan_out in a run capped at 4 actions, squares: {run.outputs()[0]}")
    try:
        flyte.with_runcontext(max_action_concurrency=1)
        print("max_action_concurrency=1: accepted")
    except ValueError as error:
        print(f"max_action_concurrency=1: refused ({type(error).__name__})")
