"""
Pace Flyte 2 retries with a backoff, bound them with timeouts
=============================================================

A task that calls a busy service fails its first two attempts and succeeds on the
third. ``flyte.RetryStrategy`` gives it retries and a ``flyte.Backoff`` that spaces them
out; ``flyte.Timeout`` bounds one attempt's run, one attempt's wait in the queue, and
all attempts together. A local run honours the backoff and none of the timeouts. The
question behind it: :ref:`guide-interruptible`; how the site checks it, and what a
cluster receives:
:ref:`sphx_glr_auto_evidence_interruptible_interruptible_flyte2_evidence.py`.

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flyte==2.12.1

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/interruptible)

      python retry_backoff_and_timeouts.py
      flyte run --local retry_backoff_and_timeouts.py fetch --failures 2

   .. code-block:: sh
      :caption: Run it on a Flyte 2 cluster (after ``flyte create config``)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where the image goes: the devbox's
      flyte run retry_backoff_and_timeouts.py fetch --failures 2
"""

# %%
# .. _flyte2-backoff-task:
#
# Retries with a backoff, and three timeouts
# ------------------------------------------
# ``RetryStrategy(count=4, backoff=...)`` allows four user retries. ``Backoff`` waits
# ``min(base * factor**n, cap)`` before retry ``n + 1``: here 0.2 s, then 0.6 s, 1.8 s
# and 5.4 s.
# A ``factor`` above 1 needs a ``cap``. Both are set on the task (``@env.task``) or on
# one call (``fetch.override(...)``), never on the ``TaskEnvironment``.
#
# ``Timeout`` holds three independent bounds, each unlimited when unset:
# ``max_runtime`` for one attempt's run, ``max_queued_time`` for one attempt's wait for
# a node, ``deadline`` for all attempts together, counted from the first queueing. A
# bare number of seconds or a ``timedelta`` as ``timeout=`` is a ``max_runtime``.
#
# ``flyte.ctx().attempt_number`` stays 0 in a local run, so the task counts its attempts
# in its checkpoint, which each retry receives from the attempt before it, locally and
# on a cluster.
from datetime import timedelta

import flyte
import flyte.errors

env = flyte.TaskEnvironment(
    name="busy_service",
    image=flyte.Image.from_debian_base(),  # flyte only: the task needs nothing else
)
BACKOFF = flyte.Backoff(
    base=timedelta(seconds=0.2), factor=3.0, cap=timedelta(minutes=1)
)


@env.task(
    retries=flyte.RetryStrategy(count=4, backoff=BACKOFF),
    timeout=flyte.Timeout(
        max_runtime=timedelta(minutes=5),
        max_queued_time=timedelta(minutes=30),
        deadline=timedelta(hours=1),
    ),
)
def fetch(failures: int = 2) -> str:
    if not 0 <= failures <= 4:  # retrying cannot fix a bad input: fail at once
        raise flyte.errors.NonRecoverableError(
            f"failures must be 0 to 4, got {failures}")
    checkpoint = flyte.ctx().checkpoint
    saved = checkpoint.load_sync()  # None on a first attempt
    attempt = int(saved.read_text()) + 1 if saved else 1
    checkpoint.save_sync(str(attempt).encode())
    if attempt <= failures:
        print(f"fetch, attempt {attempt}: the service is busy")
        raise ConnectionError(f"the service is busy (attempt {attempt})")
    print(f"fetch, attempt {attempt}: answered")
    return f"answered on attempt {attempt}"


# %%
# .. _flyte2-backoff-local:
#
# Run it: the backoff paces the local retries
# -------------------------------------------
# The first two attempts fail. The local controller waits what the backoff says before
# each retry (0.2 s, then 0.6 s) and the third attempt answers. None of the timeouts is
# enforced locally; the evidence page runs a task past its ``max_runtime`` and
# ``deadline`` and it finishes. On a cluster the SDK sends all of them with the task;
# which backend enforces which is in the guide.
if __name__ == "__main__":
    flyte.init()
    run = flyte.run(fetch, failures=2)
    print(f"fetch returned: {run.outputs()[0]}")
    waits = [BACKOFF.compute_delay(n).total_seconds() for n in range(2)]
    print(f"waits before retries 1 and 2, in seconds: {waits}")
