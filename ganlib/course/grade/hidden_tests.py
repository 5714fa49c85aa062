"""The hidden tests: which course notebooks have them, and their tests and points.

:func:`course_notebooks` finds the files ``tests/grading/test_NN_*.py``; :func:`collect_tests` collects their
tests and points in one pytest subprocess of the instructor's files (trusted), apart from any submission, so a
forged report can neither add tests nor change their points.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_TEST_FILE = re.compile(r"test_(\d{2}[a-z]?)_\w+\.py")


@dataclass(frozen=True)
class GradingTest:
    """One hidden test: its key (the pytest node id after the file, e.g. ``test_x[shape0]``) and points."""

    key: str
    points: float


@dataclass(frozen=True)
class CourseNotebook:
    """A gradable course notebook: its number, file stem, hidden test file and tests."""

    number: str  # "02"
    name: str  # "02_vanilla_gan": the file name the grading tests look for
    test_file: Path
    tests: tuple[GradingTest, ...] = ()

    @property
    def max_points(self) -> float:
        return sum(t.points for t in self.tests)


def course_notebooks(root: Path) -> dict[str, Path]:
    """The notebooks that have hidden tests: number ``NN`` -> ``tests/grading/test_NN_*.py``."""
    folder = root / "tests" / "grading"
    found = {}
    for path in sorted(folder.glob("test_*.py")):
        match = _TEST_FILE.fullmatch(path.name)
        if match:
            found[match.group(1)] = path
    if not found:
        raise ValueError(f"no grading tests found in {folder}; run from the course repository root or pass --root")
    return found


def pytest_args(root: Path) -> list[str]:
    """The options every pytest run of the grader shares: no cache, no repository addopts, fixed rootdir."""
    return ["-p", "no:cacheprovider", "-o", "addopts=", "--rootdir", str(root)]


def _collect_main(out: str, files: list[str]) -> None:
    """Run inside the collection subprocess: write every test's key, points and notebook to ``out``."""
    import pytest

    found: dict[str, dict] = {}

    class Collector:
        def pytest_collection_finish(self, session):
            for item in session.items:
                marker = item.get_closest_marker("points")
                points = marker.args[0] if marker and marker.args else 1
                notebook = getattr(item.module, "NOTEBOOK", None)
                entry = found.setdefault(str(item.path), {"notebook": notebook, "tests": []})
                entry["tests"].append([item.nodeid.split("::", 1)[1], points])

    code = pytest.main(["--collect-only", "-q", *files], plugins=[Collector()])
    Path(out).write_text(json.dumps({"exit": int(code), "files": found}), encoding="utf-8")


def collect_tests(root: Path, test_files: dict[str, Path], env: dict[str, str]) -> dict[str, CourseNotebook]:
    """Collect the hidden tests of the given notebooks in one trusted pytest subprocess.

    Returns:
        number -> CourseNotebook with its tests and points.
    """
    with tempfile.TemporaryDirectory(prefix="ganlib-collect-") as tmp:
        out = Path(tmp) / "tests.json"
        code = ("import sys; from ganlib.course.grade.hidden_tests import _collect_main; "
                "_collect_main(sys.argv[1], sys.argv[2:])")
        files = [str(p) for p in test_files.values()]
        done = subprocess.run([sys.executable, "-c", code, str(out), *pytest_args(root), *files],
                              cwd=root, env=env, capture_output=True, text=True, timeout=600)
        found = json.loads(out.read_text(encoding="utf-8")) if out.exists() else None
    if found is None or found["exit"] != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ValueError(f"collecting the grading tests failed:\n{tail}")
    notebooks = {}
    for number, path in test_files.items():
        entry = found["files"].get(str(path.resolve())) or found["files"].get(str(path))
        if not entry or not entry["tests"]:
            raise ValueError(f"{path} holds no grading tests")
        if not entry["notebook"]:
            raise ValueError(f"{path} does not name its notebook in NOTEBOOK")
        tests = tuple(GradingTest(key, points) for key, points in entry["tests"])
        notebooks[number] = CourseNotebook(number, entry["notebook"], path, tests)
    return notebooks
