"""The grading tests themselves are tested: each must pass on the solution notebook and fail on
the student notebook (whose exercises raise NotImplementedError)."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GRADING = sorted((ROOT / "tests" / "grading").glob("test_*.py"))


def _outcomes(test_file: Path, submissions: Path, tmp_path: Path) -> dict[str, str]:
    report = tmp_path / f"{test_file.stem}-{submissions.name}.xml"
    subprocess.run(
        [sys.executable, "-m", "pytest", str(test_file), f"--submission-dir={submissions}",
         f"--junitxml={report}", "-q", "-p", "no:cacheprovider", "-o", "addopts="],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        outcomes[case.get("name")] = "failed" if failed else "skipped" if skipped else "passed"
    return outcomes


@pytest.mark.parametrize("test_file", GRADING, ids=[p.stem for p in GRADING])
def test_grading_passes_on_solution_and_fails_on_student(test_file, tmp_path):
    on_solution = _outcomes(test_file, ROOT / "solutions", tmp_path)
    on_student = _outcomes(test_file, ROOT / "notebooks", tmp_path)
    assert on_solution, f"{test_file.name} collected no tests"
    assert set(on_solution.values()) == {"passed"}, f"must pass on the solution: {on_solution}"
    assert set(on_student) == set(on_solution)
    still_passing = [name for name, outcome in on_student.items() if outcome != "failed"]
    assert not still_passing, f"these grading tests do not fail on the student notebook: {still_passing}"


# ---------------------------------------------------------------------------------------------
# Every exercise of every notebook is guarded: delegation earns nothing, and the tests are mutated
# ---------------------------------------------------------------------------------------------

SOLUTIONS = sorted((ROOT / "solutions").glob("[0-9][0-9]*.ipynb"))


def _exercise_cells(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return [(cell, nb.cells[i + 1]) for i, cell in enumerate(nb.cells)
            if "exercise" in cell.metadata.get("tags", []) and i + 1 < len(nb.cells)]


def _defined(source):
    import ast

    return [node.name for node in ast.parse(source).body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_every_exercise_has_delegation_checks_a_visible_check_and_mutants(solution):
    from _mutation import load_grading_module  # tests/support, put on sys.path by tests/conftest.py

    grading = load_grading_module(solution.stem)
    owners = set(grading.DELEGATION.owners.values())
    no_reference = getattr(grading, "NO_REFERENCE", {})  # exercise -> why ganlib has no answer to forbid
    cells = _exercise_cells(solution)
    assert cells, f"{solution.name} has no exercise cells"
    for exercise_cell, check_cell in cells:
        for name in _defined(exercise_cell.source):
            assert name in owners or name in no_reference, (
                f"{solution.stem}: exercise {name} forbids no ganlib reference; add ganlib's answer to FORBIDDEN "
                "or say in NO_REFERENCE why there is none")
            if name in owners:
                assert callable(getattr(grading, f"test_{name}_is_your_own", None)), f"test_{name}_is_your_own"
                assert f"check_own_work({name}," in check_cell.source, (
                    f"{solution.stem}: the check cell after {name} does not tell students about delegation")
    number = solution.stem.split("_")[0]
    mutants = ROOT / "tests" / "grading_mutants" / f"test_{solution.stem}_mutants.py"
    assert mutants.is_file(), f"no mutation tests for {number}"
