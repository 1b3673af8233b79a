"""
Retry a Flyte 2 task and resume it from its checkpoint
======================================================

The Flyte 1 checkpoint lesson's training loop, with the ``flyte`` SDK: the task saves a
checkpoint every epoch with ``flyte.ctx().checkpoint``, fails part-way on its first
attempt, and its retry resumes from the checkpoint. The ``flyte`` SDK retries locally,
so one local run shows it all. The question behind it:
:ref:`guide-interruptible`; how the site checks it, and what a cluster receives:
:ref:`sphx_glr_auto_evidence_interruptible_interruptible_flyte2_evidence.py`. (Flyte 1
twin: :ref:`sphx_glr_auto_examples_interruptible_checkpoint_resume.py`.)

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flyte==2.12.1 numpy==2.4.6

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/interruptible)

      python retries_and_checkpoint.py
      flyte run --local retries_and_checkpoint.py train --fail_after 3

   .. code-block:: sh
      :caption: Run it on a Flyte 2 cluster (after ``flyte create config``)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where flyte run pushes the image
      flyte run retries_and_checkpoint.py train --fail_after 3
"""

# %%
# .. _flyte2-retries-task:
#
# The task: interruptible, retried, checkpointed
# ----------------------------------------------
# The environment carries ``interruptible``; a task or a single call can change it
# (``@env.task(interruptible=...)``, ``train.override(interruptible=...)``). ``retries``
# counts *user* retries: any exception the task raises is retried, except
# ``flyte.errors.NonRecoverableError``, which fails the task at once (a bad input
# cannot be fixed by trying again).
#
# ``flyte.ctx().checkpoint`` loads the previous attempt's checkpoint (``load_sync``
# returns ``None`` when there is none, including when that attempt saved nothing) and
# saves this attempt's (``save_sync``). To show a retry, ``fail_after`` makes an attempt
# that started from scratch raise after that many epochs, as if its node had been
# reclaimed; the attempt that resumes from the checkpoint runs through.
import pickle

import flyte
import flyte.errors
import numpy as np

env = flyte.TaskEnvironment(
    name="spot_training",
    image=flyte.Image.from_debian_base().with_pip_packages("numpy==2.4.6"),
    interruptible=True,
)
N_ROWS, N_FEATURES, BATCH, LEARNING_RATE = 40_000, 40, 250, 6e-6


@env.task(retries=2)
def train(n_epochs: int = 8, fail_after: int = 0) -> list[float]:
    if not 1 <= n_epochs <= 200 or not 0 <= fail_after < n_epochs:
        raise flyte.errors.NonRecoverableError(
            f"need 1 <= n_epochs <= 200 and 0 <= fail_after < n_epochs, "
            f"got n_epochs={n_epochs}, fail_after={fail_after}")
    checkpoint = flyte.ctx().checkpoint
    saved = checkpoint.load_sync()  # the previous attempt's state, or None
    state = pickle.loads(saved.read_bytes()) if saved else {
        "epoch": 0, "weights": np.zeros(N_FEATURES), "losses": [],
        "rng": np.random.default_rng(1).bit_generator.state,
    }
    checkpoint.save_sync(pickle.dumps(state))  # pass it on, even if killed at once
    first_epoch = state["epoch"]
    print(f"attempt started after epoch: {first_epoch}")

    data = np.random.default_rng(0)  # the same data on every attempt
    x = data.normal(size=(N_ROWS, N_FEATURES))
    y = x @ data.normal(size=N_FEATURES) + data.normal(scale=0.5, size=N_ROWS)
    rng, weights = np.random.default_rng(), state["weights"]
    rng.bit_generator.state = state["rng"]  # it shuffles as the lost attempt would have
    while state["epoch"] < n_epochs:
        order = rng.permutation(N_ROWS)
        for start in range(0, N_ROWS, BATCH):
            rows = order[start : start + BATCH]
            weights -= LEARNING_RATE * (x[rows].T @ (x[rows] @ weights - y[rows]))
        state["rng"] = rng.bit_generator.state
        state["losses"].append(float(np.mean((x @ weights - y) ** 2)))
        state["epoch"] += 1
        checkpoint.save_sync(pickle.dumps(state))
        if first_epoch == 0 and state["epoch"] == fail_after:
            raise RuntimeError(f"simulated preemption after epoch {fail_after}")
    return state["losses"]


# %%
# .. _flyte2-retries-local:
#
# Run it: the retry happens locally
# ---------------------------------
# The first attempt fails after epoch 3; the SDK's local controller waits (0.5 s before
# the first retry, twice as long before each next one, unless the task sets a
# ``flyte.Backoff``) and starts the second attempt, which finds the checkpoint and
# trains epochs 4 to 8. ``with_runcontext(interruptible=True)`` sets the run-level
# flag; locally it changes nothing.
if __name__ == "__main__":
    flyte.init()
    run = flyte.with_runcontext(interruptible=True).run(train, n_epochs=8, fail_after=3)
    losses = run.outputs()[0]
    print(f"epochs in the result: {len(losses)}")
    print(f"loss after epoch 8: {losses[-1]:.3f}")
