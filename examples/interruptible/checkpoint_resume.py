"""
Resume a killed task from its checkpoint
========================================

A training loop saves a checkpoint after every epoch with flytekit's
``current_context().checkpoint``. This page runs the task with the command a Flyte
cluster runs, kills the first attempt with SIGKILL part-way, and starts a second attempt
that resumes where the first one stopped; a new execution starts over. Takes about 5 s
locally.
The question behind it: :ref:`guide-interruptible`. (Flyte 2 twin:
:ref:`sphx_glr_auto_examples_interruptible_retries_and_checkpoint.py`.)

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 numpy==2.4.6 matplotlib==3.11.2

   .. code-block:: sh
      :caption: Run it in the folder you saved it to (in a clone: cd examples/interruptible)

      python checkpoint_resume.py
      pyflyte run checkpoint_resume.py training --n_epochs 8

   .. code-block:: sh
      :caption: Run it on a Flyte cluster (ImageSpec builds the image with your Docker)

      export FLYTE_IMAGE_REGISTRY=localhost:30000  # where the image goes: the demo's
      pyflyte run --remote checkpoint_resume.py training --n_epochs 8
"""

# %%
# .. _checkpoint-task:
#
# A task that saves its progress
# ------------------------------
# ``train`` fits a linear model with mini-batch gradient descent and, after every epoch,
# writes everything the next epoch depends on: the epoch number, the weights, the random
# generator's state (it shuffles the batches) and the loss history. On a cluster, Flyte
# hands each retry the previous attempt's checkpoint, and ``read()`` returns it; on a
# first attempt, in a new execution, and in every local run it returns ``None``.
#
# Two details make the resume reliable. A retry sees only the attempt just before it, so
# the task writes the state it restored at once: an attempt killed before its first
# epoch ends still passes the state on. And when that previous attempt saved nothing at
# all, ``read()`` raises ``FlyteDataNotFoundException`` instead of returning ``None``
# (shown below), so ``load_state`` treats that as "no checkpoint".
#
# The task is interruptible with ``retries=2``. Launch the *workflow*: a task launched
# on its own (``pyflyte run --remote file.py train``) does not run as interruptible (see
# the guide).
import os
import pickle
from typing import NamedTuple, Optional

import click
import numpy as np
from flytekit import ImageSpec, current_context, task, workflow
from flytekit.core.checkpointer import Checkpoint
from flytekit.exceptions.user import FlyteDataNotFoundException

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["scikit-learn==1.9.1", "matplotlib==3.11.2"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)

MAX_EPOCHS = 200  # about 10 s of work: a bound for the input


class Trained(NamedTuple):
    loss_per_epoch: list[float]
    first_epoch_here: int  # the epoch this attempt started from: 0 unless it resumed


@task(container_image=image, interruptible=True, retries=2)
def train(n_epochs: int) -> Trained:
    check_n_epochs(n_epochs)
    checkpoint = current_context().checkpoint
    state = load_state(checkpoint)
    if state is None:
        state = new_state()
    else:
        checkpoint.write(pickle.dumps(state))  # pass it on, even if killed at once
    first_epoch = state["epoch"]
    x, y = make_data()
    while state["epoch"] < n_epochs:
        run_epoch(state, x, y)
        checkpoint.write(pickle.dumps(state))
    return Trained(loss_per_epoch=state["losses"], first_epoch_here=first_epoch)


@workflow
def training(n_epochs: int = 8) -> Trained:
    return train(n_epochs=n_epochs)


def load_state(checkpoint: Checkpoint) -> Optional[dict]:
    """The previous attempt's saved state, or None if there is none."""
    try:
        saved = checkpoint.read()
    except FlyteDataNotFoundException:  # the previous attempt saved nothing
        return None
    return pickle.loads(saved) if saved else None


# %%
# The training itself is plain NumPy: synthetic data from a fixed seed (so every attempt
# sees the same data), and one pass of mini-batch gradient descent per epoch.
N_ROWS, N_FEATURES, BATCH, LEARNING_RATE = 40_000, 40, 250, 6e-6


def check_n_epochs(n_epochs: int) -> None:
    # click's exception: `pyflyte run` prints one error line naming the input and exits
    # 2.
    if not 1 <= n_epochs <= MAX_EPOCHS:
        raise click.BadParameter(f"must be between 1 and {MAX_EPOCHS}, got {n_epochs}",
                                 param_hint="'--n_epochs'")


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
# .. _checkpoint-attempts:
#
# Kill an attempt, start the next one
# -----------------------------------
# Locally, flytekit runs a task in-process with a fresh checkpoint and never retries, so
# a local run cannot show a resume. What a cluster does is easy to reproduce, though:
# each attempt's pod runs the task's container command, ``pyflyte-execute ...``, with
# the placeholders filled in by flytepropeller: ``{{.checkpointOutputPrefix}}`` is this
# attempt's checkpoint location, ``{{.prevCheckpointPrefix}}`` the previous attempt's
# (empty on a first attempt).
#
# Here the blob store is a local directory, each attempt is a separate process, and a
# preemption is a SIGKILL, sent as soon as the checkpoint shows epoch ``KILL_AFTER``.
# Nothing of the killed process survives except what it wrote out. (The processes import
# the task from ``checkpoint_resume.py``: these cells need the script, not a notebook.)
import functools
import signal
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from flyteidl.core import literals_pb2
from flytekit import FlyteContextManager
from flytekit.configuration import Image, ImageConfig, SerializationSettings
from flytekit.core.type_engine import TypeEngine
from flytekit.core.utils import load_proto_from_file, write_proto_to_file
from flytekit.models.literals import LiteralMap
from flytekit.tools.translator import get_serializable

N_EPOCHS, KILL_AFTER = 8, 3


@functools.cache
def container_command(entity) -> list[str]:
    """The container args a cluster's pod runs for ``entity``, serialized offline."""
    ours = Image(name=image.id, fqn=f"{image.registry}/{image.name}", tag=image.tag)
    default = ImageConfig.auto_default_image().default_image
    settings = SerializationSettings(ImageConfig(default_image=default, images=[ours]))
    spec = get_serializable(OrderedDict(), settings, entity)
    return list(spec.template.container.args)


def saved_state(checkpoint_dir: Path) -> Optional[dict]:
    """What ``read()`` would return from this checkpoint location (its single file)."""
    files = list(checkpoint_dir.iterdir()) if checkpoint_dir.is_dir() else []
    try:
        return pickle.loads(files[0].read_bytes()) if len(files) == 1 else None
    except (EOFError, pickle.UnpicklingError):  # caught while being written
        return None


@dataclass
class Attempt:
    returncode: int
    checkpoint: Path
    outputs: Optional[dict]  # None when the attempt was killed


def run_attempt(work: Path, number: int, prev: Optional[Path], n_epochs: int,
                kill_after: Optional[int] = None) -> Attempt:
    """Run attempt ``number`` of ``train`` as its pod would; SIGKILL it once its
    checkpoint reaches epoch ``kill_after``."""
    ctx = FlyteContextManager.current_context()
    where = {name: work / f"attempt-{number}" / name for name in ("out", "raw", "cp")}
    for path in where.values():
        path.mkdir(parents=True)
    inputs = work / f"attempt-{number}" / "inputs.pb"
    literals = TypeEngine.dict_to_literal_map(ctx, {"n_epochs": n_epochs},
                                              {"n_epochs": int})
    write_proto_to_file(literals.to_flyte_idl(), str(inputs))
    filled = {
        "{{.input}}": str(inputs),
        "{{.outputPrefix}}": str(where["out"]),
        "{{.rawOutputDataPrefix}}": str(where["raw"]),
        "{{.checkpointOutputPrefix}}": str(where["cp"]),
        "{{.prevCheckpointPrefix}}": str(prev) if prev else '""',
    }
    args = [filled.get(arg, arg) for arg in container_command(train)]
    args[0] = str(Path(sys.executable).parent / args[0])  # pyflyte-execute in this venv
    here = Path(train.task_function.__code__.co_filename).resolve().parent
    env = {**os.environ, "FLYTE_ATTEMPT_NUMBER": str(number), "PYTHONPATH": str(here)}
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    while kill_after is not None and process.poll() is None:
        state = saved_state(where["cp"])
        if state is not None and state["epoch"] >= kill_after:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    log, _ = process.communicate()
    outputs_file = where["out"] / "outputs.pb"
    if not outputs_file.exists():
        if kill_after is None:
            raise RuntimeError(f"attempt {number} wrote no outputs:\n{log[-3000:]}")
        return Attempt(process.returncode, where["cp"], None)
    literal_map = LiteralMap.from_flyte_idl(
        load_proto_from_file(literals_pb2.LiteralMap, str(outputs_file))
    )
    outputs = TypeEngine.literal_map_to_kwargs(ctx, literal_map,
                                               train.python_interface.outputs)
    return Attempt(process.returncode, where["cp"], outputs)


if __name__ == "__main__":
    args = container_command(train)
    print(f"container command: {args[0]} ... (as serialized for a cluster)")
    for flag in ("--checkpoint-path", "--prev-checkpoint"):
        print(f"  {flag} {args[args.index(flag) + 1]}")
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        first = run_attempt(work, 0, None, N_EPOCHS, kill_after=KILL_AFTER)
        killed_at = saved_state(first.checkpoint)["epoch"]
        second = run_attempt(work, 1, first.checkpoint, N_EPOCHS)
    print(f"attempt 1: exit code {first.returncode} (killed by SIGKILL), outputs: none")
    print(f"attempt 1: its checkpoint holds the state after epoch {killed_at}")
    resumed = second.outputs["first_epoch_here"]
    print(f"attempt 2: resumed after epoch {resumed}, "
          f"ran epochs {resumed + 1} to {N_EPOCHS}")

# %%
# .. _checkpoint-relaunch:
#
# A new execution starts over
# ---------------------------
# The checkpoint belongs to one execution: Flyte gives a first attempt no previous
# checkpoint (only recovering a failed execution does, see the guide). A local run
# behaves the same way, which lets us check the resumed result: the two attempts
# together computed exactly the losses of an uninterrupted run, because the state held
# everything an epoch depends on.
if __name__ == "__main__":
    fresh = training(n_epochs=N_EPOCHS)
    print(f"new execution (local run): started from epoch {fresh.first_epoch_here}")
    same = fresh.loss_per_epoch == second.outputs["loss_per_epoch"]
    print(f"killed-and-resumed losses equal the uninterrupted run's: {same}")

# %%
# .. _checkpoint-nothing-saved:
#
# When the previous attempt saved nothing
# ---------------------------------------
# If an attempt dies before its first write, the next attempt's previous-checkpoint
# location holds nothing. flytekit's ``read()`` then raises rather than returning
# ``None``: here a ``SyncCheckpoint`` (the class the container entrypoint builds) reads
# an empty previous location. ``load_state`` turns that into a fresh start.
from flytekit.core.checkpointer import SyncCheckpoint

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as scratch:
        empty = SyncCheckpoint(checkpoint_dest=f"{scratch}/cp",
                               checkpoint_src=f"{scratch}/nothing-saved")
        try:
            empty.read()
            raised = "nothing"
        except FlyteDataNotFoundException as error:
            raised = type(error).__name__
        print(f"read() with nothing saved before: raised {raised}")
        print(f"load_state() with nothing saved before: {load_state(empty)}")

# %%
# The loss per epoch, coloured by the process that computed it. The killed attempt's
# epochs come from its checkpoint, the only thing it left behind.
if __name__ == "__main__":
    import matplotlib.pyplot as plt

    losses = second.outputs["loss_per_epoch"]
    epochs = np.arange(1, N_EPOCHS + 1)
    fig, ax = plt.subplots(figsize=(7.4, 3.6))
    ax.plot(epochs, fresh.loss_per_epoch, color="#999999", lw=6, alpha=0.5,
            label="uninterrupted run (new execution)")
    ax.plot(epochs[:resumed], losses[:resumed], "o-", color="#dd8452",
            label="attempt 1 (killed)")
    ax.plot(epochs[resumed:], losses[resumed:], "s-", color="#4c72b0",
            label="attempt 2 (resumed)")
    ax.axvline(resumed + 0.5, color="#c44e52", ls="--", lw=1)
    ax.annotate("attempt 1 killed", (resumed + 0.5, 1),
                xycoords=("data", "axes fraction"), xytext=(4, -14),
                textcoords="offset points", color="#c44e52", fontsize=10)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean squared error")
    ax.set_title("Attempt 2 resumes from attempt 1's checkpoint")
    ax.legend(fontsize=10, loc="upper right")
    fig.tight_layout()
    plt.show()
