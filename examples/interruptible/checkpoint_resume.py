"""
Checkpoint a long task so that its retry resumes
================================================

A training loop saves its state after every epoch with flytekit's
``current_context().checkpoint``; when a spot node is reclaimed, the retry carries on
from what the lost attempt saved. A local run never retries and starts from epoch 0.
The question: :ref:`guide-interruptible`; an attempt killed with SIGKILL and the next
one resuming, run with the cluster's container command:
:ref:`sphx_glr_auto_evidence_interruptible_interruptible_flyte1_evidence.py`.
(Flyte 2 twin: :ref:`sphx_glr_auto_examples_interruptible_retries_and_checkpoint.py`.)

.. admonition:: Run it
   :class: run-it

   .. code-block:: sh
      :caption: Install (Python 3.11 or newer)

      pip install flytekit==1.16.31 numpy==2.4.6

   .. code-block:: sh
      :caption: Run it where you saved it (in a clone: cd examples/interruptible)

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
# ``train`` fits a linear model by mini-batch gradient descent and, after every epoch,
# writes everything the next epoch depends on: the epoch number, the weights, the random
# generator's state (it shuffles the batches) and the losses so far. On a cluster Flyte
# hands each retry the previous attempt's checkpoint, and ``read()`` returns it; on a
# first attempt, in a new execution and in every local run it returns ``None``.
#
# Two details make the resume reliable. A retry sees only the attempt just before it, so
# the task writes the state it restored at once: an attempt killed before its first
# epoch ends still passes it on. And when that attempt saved nothing at all, ``read()``
# raises ``FlyteDataNotFoundException`` instead of returning ``None``.
#
# The task is interruptible with ``retries=2``. Launch the *workflow*: a task launched
# on its own (``pyflyte run --remote file.py train``) does not run as interruptible (see
# the guide).
import os
import pickle
from typing import NamedTuple

import click
import numpy as np
from flytekit import ImageSpec, current_context, task, workflow
from flytekit.exceptions.user import FlyteDataNotFoundException

image = ImageSpec(
    name="workflow-structure-examples",
    packages=["numpy==2.4.6"],
    registry=os.environ.get("FLYTE_IMAGE_REGISTRY", "localhost:30000"),
)
N_ROWS, N_FEATURES, BATCH, LEARNING_RATE = 40_000, 40, 250, 6e-6


class Trained(NamedTuple):
    loss_per_epoch: list[float]
    first_epoch_here: int  # the epoch this attempt started from: 0 unless it resumed


@task(container_image=image, interruptible=True, retries=2)
def train(n_epochs: int) -> Trained:
    if not 1 <= n_epochs <= 200:  # one error line from pyflyte run, exit code 2
        raise click.BadParameter(f"must be 1 to 200, got {n_epochs}",
                                 param_hint="'--n_epochs'")
    checkpoint = current_context().checkpoint
    try:
        saved = checkpoint.read()  # the previous attempt's state, or None
    except FlyteDataNotFoundException:  # the previous attempt saved nothing
        saved = None
    state = pickle.loads(saved) if saved else {
        "epoch": 0, "weights": np.zeros(N_FEATURES), "losses": [],
        "rng": np.random.default_rng(1).bit_generator.state,
    }
    checkpoint.write(pickle.dumps(state))  # pass it on, even if killed at once
    first_epoch = state["epoch"]
    print(f"train started after epoch: {first_epoch}")

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
        checkpoint.write(pickle.dumps(state))
    return Trained(loss_per_epoch=state["losses"], first_epoch_here=first_epoch)


@workflow
def training(n_epochs: int = 8) -> Trained:
    return train(n_epochs=n_epochs)


# %%
# .. _checkpoint-local-run:
#
# Run it
# ------
# A local run has no previous attempt: ``train`` starts after epoch 0 and trains all
# eight epochs. The loss falls from epoch to epoch; the evidence page kills an attempt
# part-way and checks that the resumed one reaches exactly these losses.
if __name__ == "__main__":
    result = training(n_epochs=8)
    print(f"epochs trained: {len(result.loss_per_epoch)}")
    print(f"loss after epoch 1: {result.loss_per_epoch[0]:.3f}")
    print(f"loss after epoch 8: {result.loss_per_epoch[-1]:.3f}")
