"""The lessons: the scripts in ``examples/`` a reader copies, one folder per question.

``load(name)`` imports a lesson as a module without running its ``__main__`` block, under
its file's stem, as ``python <file>.py`` would name it (both SDKs find a task's module by
that name in ``sys.modules``, so two lessons may not share a stem).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# One folder of examples/ per guide, in the guides' order.
QUESTIONS = ("decompose", "parallelize", "cache", "interruptible")


def paths() -> list[Path]:
    """Every lesson, question by question, in file-name order within a question."""
    return [path for question in QUESTIONS
            for path in sorted((EXAMPLES / question).glob("*.py"))]


def name(path: Path) -> str:
    """``cache/rerun_with_caching`` for ``examples/cache/rerun_with_caching.py``."""
    return Path(path).resolve().relative_to(EXAMPLES).with_suffix("").as_posix()


def path(lesson: str) -> Path:
    found = EXAMPLES / f"{lesson}.py"
    if not found.is_file():
        known = ", ".join(name(p) for p in paths())
        raise FileNotFoundError(f"no lesson {lesson!r}; the lessons are: {known}")
    return found


def sdk(lesson: str | Path) -> str:
    """``"flyte"`` for a Flyte 2 lesson (it imports the flyte SDK), else ``"flytekit"``."""
    file = Path(lesson) if isinstance(lesson, Path) else path(lesson)
    tops = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            tops |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            tops.add(node.module.split(".")[0])
    return "flyte" if "flyte" in tops else "flytekit"


@functools.cache
def load(lesson: str) -> ModuleType:
    """Import ``examples/<lesson>.py`` once per process, without running ``__main__``."""
    file = path(lesson)
    module_name = file.stem
    loaded = sys.modules.get(module_name)
    if loaded is not None and Path(getattr(loaded, "__file__", "")) != file:
        raise RuntimeError(f"two modules named {module_name}: {loaded!r} and {file}")
    spec = importlib.util.spec_from_file_location(module_name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def redefine(module: ModuleType, source: str) -> dict:
    """Run ``source`` at the top level of a lesson's module, as an edit to its file would,
    and return the names it defined.

    Both SDKs name a task after the module whose top level creates it: a task redefined here
    keeps the lesson's task name, and so its cache key. The source is written to a file
    first (under TMPDIR), because both SDKs read a task's source lines.
    """
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".py", prefix=f"{module.__name__}-edit-",
                                     delete=False) as file:
        file.write(source)
    namespace = vars(module)
    before = dict(namespace)
    exec(compile(source, file.name, "exec"), namespace)
    defined = {k: v for k, v in namespace.items() if before.get(k, object()) is not v}
    namespace.clear()
    namespace.update(before)  # the lesson itself stays as written
    return defined


# ------------------------------------------------------------------------------------------
# How much of a lesson is the Flyte code a reader came for


@dataclasses.dataclass(frozen=True)
class Stats:
    lines: int  # every line of the file
    code: int  # lines holding code: not blank, not only a comment, not a docstring
    flyte: int  # code lines of Flyte code: SDK imports, images and environments, tasks,
    #             workflows, the types in their signatures, and the __main__ block

    @property
    def flyte_share(self) -> float:
        return self.flyte / self.code if self.code else 0.0


FLYTE_PACKAGES = ("flytekit", "flyte")


def stats(file: Path) -> Stats:
    """Count a lesson's lines, code lines and Flyte code lines.

    A top-level statement is Flyte code when it imports from flytekit or the flyte SDK,
    uses a name bound to one of them (an ImageSpec, a TaskEnvironment, a task, a workflow),
    is decorated with such a name (``@task``, ``@env.task``), or is a class named in a Flyte
    function's signature. Inside ``if __name__ == "__main__":`` each statement counts on its
    own: one that runs a task or workflow, or uses what one returned, is the run; printing
    or arithmetic on anything else is not.
    """
    source = Path(file).read_text(encoding="utf-8")
    tree = ast.parse(source)
    flyte_names: set[str] = set()
    flyte_lines: set[int] = set()
    signature_names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            flyte_lines.add(node.lineno)  # the guard itself belongs to the run
            flyte_lines |= _flyte_lines_of_block(node.body, flyte_names)
        elif _is_flyte_statement(node, flyte_names):
            flyte_lines |= set(range(_first_line(node), node.end_lineno + 1))
            flyte_names |= _bound_names(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                annotations = [node.args, node.returns] if node.returns else [node.args]
                signature_names |= {n.id for a in annotations for n in ast.walk(a)
                                    if isinstance(n, ast.Name)}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in signature_names:
            flyte_lines |= set(range(_first_line(node), node.end_lineno + 1))
    code_lines = _code_lines(source, tree)
    return Stats(lines=len(source.splitlines()), code=len(code_lines),
                 flyte=len(flyte_lines & code_lines))


def _flyte_lines_of_block(body: list[ast.stmt], flyte_names: set[str]) -> set[int]:
    """The lines of the statements in ``body`` that run Flyte code or use its results;
    names they bind join ``flyte_names``."""
    lines: set[int] = set()
    for node in body:
        children = [getattr(node, name) for name in ("body", "orelse", "finalbody")
                    if getattr(node, name, None)]
        children += [handler.body for handler in getattr(node, "handlers", [])]
        if children and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef,
                                              ast.ClassDef)):
            inner = set()
            for child in children:
                inner |= _flyte_lines_of_block(child, flyte_names)
            header_end = min(child[0].lineno for child in children) - 1
            header = set(range(node.lineno, header_end + 1))
            uses = {n.id for field in ("test", "iter", "items", "target")
                    for part in _as_nodes(getattr(node, field, None))
                    for n in ast.walk(part) if isinstance(n, ast.Name)}
            if inner or uses & flyte_names:
                lines |= inner | header
                flyte_names |= _bound_names(node)
        elif _is_flyte_statement(node, flyte_names):
            lines |= set(range(_first_line(node), node.end_lineno + 1))
            flyte_names |= _bound_names(node)
    return lines


def _as_nodes(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators])


def _is_flyte_statement(node: ast.stmt, flyte_names: set[str]) -> bool:
    if isinstance(node, ast.Import):
        return any(a.name.split(".")[0] in FLYTE_PACKAGES for a in node.names)
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] in FLYTE_PACKAGES and node.level == 0
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        used = {n.id for d in node.decorator_list for n in ast.walk(d)
                if isinstance(n, ast.Name)}
        return bool(used & flyte_names)
    return bool({n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & flyte_names)


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For, ast.AsyncFor)):
        targets = [node.target]
    elif isinstance(node, (ast.With, ast.AsyncWith)):
        targets = [item.optional_vars for item in node.items if item.optional_vars]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _code_lines(source: str, tree: ast.Module) -> set[int]:
    """Lines that hold a token other than a comment or a docstring."""
    import io
    import tokenize

    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                docstrings |= set(range(body[0].lineno, body[0].end_lineno + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENCODING, tokenize.ENDMARKER}
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines |= set(range(token.start[0], token.end[0] + 1))
    return lines - docstrings
