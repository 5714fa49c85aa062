"""Course tooling: student notebooks built from the solutions, and exercises loaded for grading.

``solutions/`` is the source of truth. ``build`` turns each solution notebook into its student
version in ``notebooks/``:

- in a cell tagged ``exercise``, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
  become ``raise NotImplementedError(...)`` naming the exercise, at the same indentation;
- lines between ``### BEGIN HIDDEN`` and ``### END HIDDEN``, and whole cells tagged
  ``solution-only``, are removed;
- outputs and execution counts are cleared, except in golden cells marked ``# NBVAL_CHECK_OUTPUT``.

The output is a pure function of the solution file, so ``build --check`` can fail CI whenever the
committed student notebooks drift from the solutions.

Nothing else in ganlib imports this module; only the CLI and the tests do.
"""

from __future__ import annotations

import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = [
    "BEGIN_SOLUTION", "END_SOLUTION", "Exercise", "student_notebook", "build", "main_build",
    "exercise_cells", "load_exercises",
]

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN", "### END HIDDEN"
GOLDEN = "# NBVAL_CHECK_OUTPUT"
EXERCISE_TAG, SOLUTION_ONLY_TAG = "exercise", "solution-only"
_DEF = re.compile(r"^\s*def\s+(\w+)\s*\(")


@dataclass(frozen=True)
class Exercise:
    """One exercise found in a solution notebook: its number and the function the student writes."""

    number: int  # 1-based, in notebook order
    function: str  # the function whose body the student writes


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _strip_hidden(lines: list[str], where: str) -> list[str]:
    out, hidden = [], False
    for line in lines:
        marker = line.strip()
        if marker == BEGIN_HIDDEN:
            if hidden:
                raise ValueError(f"{where}: nested {BEGIN_HIDDEN}")
            hidden = True
        elif marker == END_HIDDEN:
            if not hidden:
                raise ValueError(f"{where}: {END_HIDDEN} without {BEGIN_HIDDEN}")
            hidden = False
        elif not hidden:
            out.append(line)
    if hidden:
        raise ValueError(f"{where}: {BEGIN_HIDDEN} is never closed")
    return out


def _blank_solutions(lines: list[str], where: str, notebook: str, counter: list[int]) -> tuple[list[str], list[Exercise]]:
    out, exercises, function, inside = [], [], None, False
    for line in lines:
        marker = line.strip()
        if marker == BEGIN_SOLUTION:
            if inside:
                raise ValueError(f"{where}: nested {BEGIN_SOLUTION}")
            if function is None:
                raise ValueError(f"{where}: {BEGIN_SOLUTION} must sit inside a function (def ...)")
            inside = True
            counter[0] += 1
            exercises.append(Exercise(counter[0], function))
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f'{indent}raise NotImplementedError("Exercise {notebook}.{counter[0]} ({function}): '
                       f'replace this line with your code")')
        elif marker == END_SOLUTION:
            if not inside:
                raise ValueError(f"{where}: {END_SOLUTION} without {BEGIN_SOLUTION}")
            inside = False
        elif not inside:
            match = _DEF.match(line)
            if match:
                function = match.group(1)
            out.append(line)
    if inside:
        raise ValueError(f"{where}: {BEGIN_SOLUTION} is never closed")
    return out, exercises


def student_notebook(solution: nbformat.NotebookNode, name: str = "notebook") -> tuple[nbformat.NotebookNode, list[Exercise]]:
    """Return the student version of a solution notebook and the exercises it contains.

    Args:
        solution: the solution notebook (not modified).
        name: used in error messages and exercise labels; a leading number such as ``01`` in it
            becomes the notebook number of the labels (``Exercise 1.2``).

    Raises:
        ValueError: unbalanced markers, or a solution region outside a function or outside a cell
            tagged ``exercise``.
    """
    number = re.match(r"0*(\d+)", name)
    label = number.group(1) if number else name
    student = nbformat.from_dict(solution)
    cells, exercises, counter = [], [], [0]
    for index, cell in enumerate(student.cells):
        if SOLUTION_ONLY_TAG in _tags(cell):
            continue
        where = f"{name}, cell {index}"
        lines = _strip_hidden(cell.source.splitlines(), where)
        if cell.cell_type == "code":
            if EXERCISE_TAG in _tags(cell):
                lines, found = _blank_solutions(lines, where, label, counter)
                exercises += found
            elif any(line.strip() in (BEGIN_SOLUTION, END_SOLUTION) for line in lines):
                raise ValueError(f"{where}: solution markers in a cell not tagged '{EXERCISE_TAG}'")
            if GOLDEN not in cell.source:
                cell.outputs = []
                cell.execution_count = None
        cell.source = "\n".join(lines)
        cells.append(cell)
    student.cells = cells
    student.metadata.pop("widgets", None)
    return student, exercises


def _render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb, version=4) + "\n"


def build(root: str | Path = ".", check: bool = False) -> list[str]:
    """Build ``notebooks/`` from ``solutions/`` under ``root``.

    Args:
        root: the course repository.
        check: compare instead of writing.

    Returns:
        With ``check``, a list of problems (empty when everything matches); otherwise the list of
        notebooks written.
    """
    root = Path(root)
    src, dst = root / "solutions", root / "notebooks"
    solutions = sorted(src.glob("*.ipynb"))
    if not solutions:
        raise ValueError(f"no solution notebooks found in {src}; run from the course repository root or pass --root")
    problems, written = [], []
    for path in solutions:
        nb = nbformat.read(path, as_version=4)
        student, _ = student_notebook(nb, path.stem)
        text = _render(student)
        target = dst / path.name
        if check:
            if not target.exists():
                problems.append(f"{target} is missing")
            elif target.read_text(encoding="utf-8") != text:
                problems.append(f"{target} differs from the build of {path}")
        else:
            dst.mkdir(exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(str(target))
    extra = {p.name for p in dst.glob("*.ipynb")} - {p.name for p in solutions}
    problems += [f"{dst / name} has no solution in {src}" for name in sorted(extra)]
    return problems if check else written


def main_build(root: Path, check: bool = False) -> int:
    """The ``python -m ganlib course build [--check]`` command."""
    result = build(root, check=check)
    if check:
        if result:
            print("student notebooks are out of date:", *result, sep="\n  ", file=sys.stderr)
            print("run `python -m ganlib course build` and commit notebooks/", file=sys.stderr)
            return 1
        print("notebooks/ matches solutions/")
        return 0
    print("wrote", *result, sep="\n  ")
    return 0


# ---------------------------------------------------------------------------------------------
# Loading a notebook's exercises, for grading
# ---------------------------------------------------------------------------------------------


def exercise_cells(path: str | Path) -> list[str]:
    """The source of every cell tagged ``exercise`` in a notebook, IPython magics removed."""
    nb = nbformat.read(Path(path), as_version=4)
    sources = []
    for cell in nb.cells:
        if cell.cell_type == "code" and EXERCISE_TAG in _tags(cell):
            lines = [ln for ln in cell.source.splitlines() if not ln.lstrip().startswith(("%", "!"))]
            sources.append("\n".join(lines))
    return sources


def load_exercises(path: str | Path) -> types.ModuleType:
    """Execute a notebook's exercise cells in a fresh module and return it.

    Exercise cells are self-contained (they import what they use), so this runs a student's
    functions without running the rest of the notebook. Errors propagate: a submission whose
    cells do not even define their functions fails loudly.
    """
    path = Path(path)
    module = types.ModuleType("exercises_" + re.sub(r"\W", "_", path.stem))
    module.__file__ = str(path)
    for index, source in enumerate(exercise_cells(path)):
        exec(compile(source, f"{path.name}[exercise {index + 1}]", "exec"), module.__dict__)
    return module
