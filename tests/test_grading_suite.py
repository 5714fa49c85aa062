"""The grading tests themselves are tested: each must pass on the solution notebook and fail on
the student notebook (whose exercises raise NotImplementedError)."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
