"""A flytekit task's attempts, run as a Flyte cluster's pods run them.

Locally flytekit runs a task in-process, never retries and hands every run an empty
checkpoint, so a local run cannot show a retry resuming. What a cluster does is easy to
reproduce: each attempt's pod runs the task's serialized container command,
``pyflyte-execute ...``, with the placeholders flytepropeller fills in:
``{{.checkpointOutputPrefix}}`` is the attempt's checkpoint location,
``{{.prevCheckpointPrefix}}`` the previous attempt's, ``""`` on a first attempt
(``render`` in flyteplugins' ``core/template/template.go``, v1.16.8).

``run_attempt`` does that: each attempt is its own process, local directories stand in
for the blob store. A preemption is a SIGKILL, sent only once the attempt has written a
given number of checkpoints: the process stops itself (SIGSTOP) right after that write,
the caller waits for it to be stopped, then kills it. No timing decides where it dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from evidence import probes

ROOT = Path(__file__).resolve().parent.parent
# What flytekit's SyncCheckpoint names a checkpoint written as bytes, under its
# location.
CHECKPOINT_FILE = "_dst_cp"


def container_args(task: Any) -> list[str]:
    """The container command a cluster's pod runs for ``task``, serialized offline."""
    _, templates = probes.flytekit_compiled(task)
    return list(templates[probes.short(task.name)].container.args)


@dataclass
class Attempt:
    number: int  # 0 for the first attempt, as FLYTE_ATTEMPT_NUMBER counts
    returncode: int  # -9 when killed by SIGKILL
    checkpoint: Path  # this attempt's checkpoint location
    outputs: Optional[dict]  # the task's outputs; None when it was killed or failed
    error_document: bool  # whether it wrote error.pb, the error a cluster reads
    log: str


def saved(checkpoint: Path) -> Optional[bytes]:
    """What an attempt left at its checkpoint location, or None."""
    file = Path(checkpoint, CHECKPOINT_FILE)
    return file.read_bytes() if file.is_file() else None


def run_attempt(task: Any, inputs: dict, work: Path, number: int,
                previous: Optional[Path] = None,
                kill_after_writes: Optional[int] = None) -> Attempt:
    """Run attempt ``number`` of ``task`` with ``inputs`` as its pod would, under
    ``work/attempt-<number>``; ``previous`` is the previous attempt's checkpoint
    location. With ``kill_after_writes``, the attempt is killed with SIGKILL right after
    its checkpoint write number ``kill_after_writes``."""
    from flyteidl.core import literals_pb2
    from flytekit import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine
    from flytekit.core.utils import load_proto_from_file, write_proto_to_file
    from flytekit.models.literals import LiteralMap

    ctx = FlyteContextManager.current_context()
    here = Path(work, f"attempt-{number}")
    where = {name: here / name for name in ("outputs", "raw", "checkpoint")}
    for path in where.values():
        path.mkdir(parents=True)
    types = {name: type(value) for name, value in inputs.items()}
    literals = TypeEngine.dict_to_literal_map(ctx, inputs, types)
    write_proto_to_file(literals.to_flyte_idl(), str(here / "inputs.pb"))
    filled = {
        "{{.input}}": str(here / "inputs.pb"),
        "{{.outputPrefix}}": str(where["outputs"]),
        "{{.rawOutputDataPrefix}}": str(where["raw"]),
        "{{.checkpointOutputPrefix}}": str(where["checkpoint"]),
        "{{.prevCheckpointPrefix}}": str(previous) if previous else '""',
    }
    args = [filled.get(arg, arg) for arg in container_args(task)]
    # The command's first word names flytekit's entry point; run it through this module,
    # which adds the stop after a checkpoint write and nothing else.
    assert args[0] == "pyflyte-execute", args[0]
    lesson_dir = Path(task.task_function.__code__.co_filename).resolve().parent
    python_path = [str(ROOT), str(lesson_dir), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "FLYTE_ATTEMPT_NUMBER": str(number),
           "PYTHONPATH": os.pathsep.join(p for p in python_path if p)}
    log_file = here / "log.txt"
    with open(log_file, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "evidence.attempts", str(kill_after_writes or 0),
             *args[1:]],
            env=env, stdout=log, stderr=subprocess.STDOUT)
    returncode = _wait(process, kill=kill_after_writes is not None)
    outputs_file = where["outputs"] / "outputs.pb"
    outputs = None
    if outputs_file.exists():
        literal_map = LiteralMap.from_flyte_idl(
            load_proto_from_file(literals_pb2.LiteralMap, str(outputs_file)))
        outputs = TypeEngine.literal_map_to_kwargs(ctx, literal_map,
                                                   task.python_interface.outputs)
    error_document = (where["outputs"] / "error.pb").exists()
    return Attempt(number, returncode, where["checkpoint"], outputs, error_document,
                   log_file.read_text())


# Two tasks that fail, each its own way: one raises, one ends its process with a status.
FAILING_TASKS = '''
import sys

from flytekit import task


@task
def raises(code: int) -> int:
    if code:
        raise ValueError(f"failed with {code}")
    return code


@task
def exits(code: int) -> int:
    if code:
        sys.exit(code)  # SystemExit: not an Exception, flytekit does not catch it
    return code
'''


def failing_tasks(directory: Path) -> Any:
    """A module ``failing_tasks`` written to ``directory`` and imported: the tasks
    ``raises`` and ``exits``. A file of its own, because an attempt's process imports
    the task by module and name, as a pod does."""
    import importlib.util

    file = Path(directory, "failing_tasks.py")
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(FAILING_TASKS)
    spec = importlib.util.spec_from_file_location("failing_tasks", file)
    module = importlib.util.module_from_spec(spec)
    sys.modules["failing_tasks"] = module
    spec.loader.exec_module(module)
    return module


def _wait(process: subprocess.Popen, kill: bool) -> int:
    """Wait for the process to end; if it stops itself first, SIGKILL it then."""
    if kill:
        _, status = os.waitpid(process.pid, os.WUNTRACED)
        if os.WIFSTOPPED(status):
            process.send_signal(signal.SIGKILL)
        else:  # it ended before the write it was to be killed after
            process.returncode = os.waitstatus_to_exitcode(status)
            return process.returncode
    return process.wait()


def _stop_after_writes(count: int) -> None:
    """In the attempt's process: stop it right after its checkpoint write ``count``."""
    from flytekit.core.checkpointer import SyncCheckpoint

    write = SyncCheckpoint.write
    done = [0]

    def write_then_maybe_stop(self, b: bytes) -> None:
        write(self, b)
        done[0] += 1
        if done[0] == count:
            os.kill(os.getpid(), signal.SIGSTOP)

    SyncCheckpoint.write = write_then_maybe_stop


# python -m evidence.attempts <writes> <pyflyte-execute args>
if __name__ == "__main__":
    from flytekit.bin.entrypoint import execute_task_cmd

    writes, *arguments = sys.argv[1:]
    if int(writes):
        _stop_after_writes(int(writes))
    sys.argv = ["pyflyte-execute", *arguments]
    execute_task_cmd()
