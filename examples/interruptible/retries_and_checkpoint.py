"""
Retry a Flyte 2 task and resume it from its checkpoint
======================================================

The training loop of the Flyte 1 checkpoint example, written with the ``flyte`` SDK: the
task saves a checkpoint every epoch with ``flyte.ctx().checkpoint``, fails part-way on
its first attempt, and its retry resumes from the checkpoint. Unlike flytekit, the
``flyte`` SDK retries locally, so one local run shows it all. Takes about 4 s. The
question behind it: :ref:`guide-interruptible`. (Flyte 1 twin:
:ref:`sphx_glr_auto_examples_interruptible_checkpoint_resume.py`.)

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flyte==2.12.1 numpy==2.4.6 matplotlib==3.11.2

   .. code-block:: sh
      :caption: Run it in the folder you saved it to (in a clone: cd examples/interruptible)

      python retries_and_checkpoint.py
      flyte run --local retries_and_checkpoint.py train --fail_after 3

   .. code-block:: sh
      :caption: Run it on a Flyte 2 cluster (after ``flyte create config``)

      flyte run retries_and_checkpoint.py train --fail_after 3
"""

# %%
# .. _flyte2-retries-task:
#
# The task: interruptible, retried, checkpointed
# ----------------------------------------------
# In Flyte 2 the environment carries ``interruptible``; a task or a single call can
# change it (``@env.task(interruptible=...)``, ``train.override(interruptible=...)``).
# ``retries`` counts *user* retries: any exception the task raises is retried, except
# ``flyte.errors.NonRecoverableError``.
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

MAX_EPOCHS = 200  # about 10 s of work: a bound for the input

# The epoch each attempt started from. Local runs execute in this process, so the run
# cells below can read it; on a cluster each attempt runs in its own container.
ATTEMPT_STARTS: list[int] = []


@env.task(retries=2)
def train(n_epochs: int = 8, fail_after: int = 0) -> list[float]:
    checkpoint = flyte.ctx().checkpoint
    saved = checkpoint.load_sync()
    state = pickle.loads(saved.read_bytes()) if saved else new_state()
    first_epoch = state["epoch"]
    ATTEMPT_STARTS.append(first_epoch)
    check_inputs(n_epochs, fail_after)
    checkpoint.save_sync(pickle.dumps(state))  # pass it on even if killed at once
    x, y = make_data()
    while state["epoch"] < n_epochs:
        run_epoch(state, x, y)
        checkpoint.save_sync(pickle.dumps(state))
        if first_epoch == 0 and state["epoch"] == fail_after:
            raise RuntimeError(f"simulated preemption after epoch {fail_after}")
    return state["losses"]


# %%
# The training itself is the Flyte 1 twin's NumPy code: synthetic data from a fixed
# seed, one pass of mini-batch gradient descent per epoch.
N_ROWS, N_FEATURES, BATCH, LEARNING_RATE = 40_000, 40, 250, 6e-6


def check_inputs(n_epochs: int, fail_after: int) -> None:
    # A bad input cannot be fixed by retrying: NonRecoverableError fails the task at
    # once.
    if not 1 <= n_epochs <= MAX_EPOCHS:
        raise flyte.errors.NonRecoverableError(
            f"n_epochs must be between 1 and {MAX_EPOCHS}, got {n_epochs}"
        )
    if not 0 <= fail_after < n_epochs:
        raise flyte.errors.NonRecoverableError(
            f"fail_after must be between 0 (no failure) and n_epochs - 1, "
            f"got {fail_after}"
        )


def make_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_ROWS, N_FEATURES))
    y = x @ rng.normal(size=N_FEATURES) + rng.normal(scale=0.5, size=N_ROWS)
    return x, y


def new_state() -> dict:
    return {
        "epoch": 0,
        "weights": np.zeros(N_FEATURES),
        "rng": np.random.default_rng(1).bit_generator.state,
        "losses": [],
    }


def run_epoch(state: dict, x: np.ndarray, y: np.ndarray) -> None:
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]
    weights = state["weights"]
    order = rng.permutation(len(y))
    for start in range(0, len(y), BATCH):
        rows = order[start : start + BATCH]
        error = x[rows] @ weights - y[rows]
        weights -= LEARNING_RATE * (x[rows].T @ error)
    state["rng"] = rng.bit_generator.state
    state["losses"].append(float(np.mean((x @ weights - y) ** 2)))
    state["epoch"] += 1


# %%
# .. _flyte2-retries-local:
#
# Run it: the retry happens locally
# ---------------------------------
# The first attempt fails after epoch ``FAIL_AFTER``; the SDK's local controller waits
# (0.5 s before the first retry, doubling after that) and starts the second attempt,
# which finds the checkpoint. ``with_runcontext(interruptible=True)`` sets the run-level
# flag; locally it changes nothing.
import time

N_EPOCHS, FAIL_AFTER = 8, 3

if __name__ == "__main__":
    flyte.init()
    started = time.perf_counter()
    run = flyte.with_runcontext(interruptible=True).run(
        train, n_epochs=N_EPOCHS, fail_after=FAIL_AFTER
    )
    losses = run.outputs()[0]
    seconds = time.perf_counter() - started
    print(f"attempts, each starting after epoch: {ATTEMPT_STARTS}")
    print(f"epochs in the result: {len(losses)}, run time measured: {seconds:.1f} s")

# %%
# The same task without a failure gives the same losses: the checkpoint held everything
# the next epoch depends on (weights, the random generator's state, the epoch).
if __name__ == "__main__":
    del ATTEMPT_STARTS[:]
    uninterrupted = flyte.run(train, n_epochs=N_EPOCHS).outputs()[0]
    print(f"uninterrupted run, attempts starting after epoch: {ATTEMPT_STARTS}")
    same = losses == uninterrupted
    print(f"retried-and-resumed losses equal the uninterrupted run's: {same}")

# %%
# .. _flyte2-retries-nonrecoverable:
#
# What is not retried
# -------------------
# ``NonRecoverableError`` is the opt-out: a bad input fails on its first attempt, with
# retries to spare.
if __name__ == "__main__":
    del ATTEMPT_STARTS[:]
    try:
        flyte.run(train, n_epochs=N_EPOCHS, fail_after=N_EPOCHS)
        outcome = "succeeded"
    except flyte.errors.RuntimeUserError as error:
        outcome = f"failed ({error.code})"
    print(f"fail_after={N_EPOCHS}: {outcome}, attempts started: {len(ATTEMPT_STARTS)}")

# %%
# .. _flyte2-retries-spec:
#
# What a cluster receives
# -----------------------
# The SDK serializes each task for deployment; ``translate_task_to_wire`` is the
# function ``flyte deploy`` calls, and it runs offline. ``interruptible`` and
# ``retries`` travel in the task template's metadata, and ``override`` changes them for
# one call. The container command carries the checkpoint placeholders the backend fills
# in for each attempt.
import importlib.util
import pathlib
import sys

from flyte._internal.runtime.task_serde import translate_task_to_wire
from flyte.models import SerializationContext


def task_spec(name: str, **overrides):
    """Serialize task ``name`` of this file as ``flyte deploy`` would: from the file
    imported as a module (the SDK names a task by its module's file)."""
    path = pathlib.Path(train.func.__code__.co_filename).resolve()
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    task = getattr(module, name)
    task = task.override(**overrides) if overrides else task
    context = SerializationContext(version="docs", root_dir=path.parent)
    return translate_task_to_wire(task, context)


if __name__ == "__main__":
    for label, overrides in (("train", {}),
                             ("train.override(...)", {"interruptible": False,
                                                      "retries": 5})):
        meta = task_spec("train", **overrides).task_template.metadata
        print(f"spec, {label}: interruptible={meta.interruptible}, "
              f"retries={meta.retries.retries}")
    args = list(task_spec("train").task_template.container.args)
    for flag in ("--checkpoint-path", "--prev-checkpoint"):
        print(f"spec, container command: {flag} {args[args.index(flag) + 1]}")

# %%
# The loss per epoch of the retried run, coloured by the attempt that computed it.
if __name__ == "__main__":
    import matplotlib.pyplot as plt

    epochs = np.arange(1, N_EPOCHS + 1)
    fig, ax = plt.subplots(figsize=(7.4, 3.6))
    ax.plot(epochs, uninterrupted, color="#999999", lw=6, alpha=0.5,
            label="run without a failure")
    ax.plot(epochs[:FAIL_AFTER], losses[:FAIL_AFTER], "o-", color="#dd8452",
            label="attempt 1 (failed)")
    ax.plot(epochs[FAIL_AFTER:], losses[FAIL_AFTER:], "s-", color="#4c72b0",
            label="attempt 2 (retried, resumed)")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error")
    ax.set_title("Flyte 2, local run: the retry resumes from the checkpoint")
    ax.legend(fontsize=10, loc="upper right")
    fig.tight_layout()
    plt.show()
