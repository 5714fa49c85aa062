"""What grading produced: per-test results, read from the child's JUnit XML, and each submission's result.

Only the collected tests count, with the collected points (:mod:`ganlib.course.grade.hidden_tests`). The hidden
tests run in the same process as the student's code, so a submission that sets out to rewrite pytest's report can
forge its outcomes: the sandbox protects the machine and the batch, not the grade.
"""

from __future__ import annotations

import os
import stat
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from ganlib.course.grade.hidden_tests import CourseNotebook
from ganlib.course.grade.submissions import Submission

MAX_REPORT_BYTES = 20 << 20  # pytest's junit report, written by the child


@dataclass
class TestResult:
    """The outcome of one hidden test on one submission."""

    outcome: str  # passed, failed, error, timeout, memory, skipped, not-run
    points: float
    max_points: float
    message: str | None = None


@dataclass
class SubmissionResult:
    """Everything known about one graded submission."""

    submission: Submission
    tests: dict[str, TestResult]
    # what stopped the submission as a whole: {"kind": ..., "message": ...}, kind one of timeout, crash,
    # killed, memory, cpu-limit, file-limit, interrupted, invalid
    error: dict | None = None
    seconds: float = 0.0
    output_bytes: int = 0
    output_excerpt: str = ""

    @property
    def score(self) -> float:
        return sum(t.points for t in self.tests.values())

    @property
    def max_points(self) -> float:
        return sum(t.max_points for t in self.tests.values())


def shorten(message: str | None, lines: int = 3, chars: int = 300) -> str | None:
    """The first lines of a failure message."""
    if not message:
        return None
    kept = [ln.rstrip() for ln in message.strip().splitlines() if ln.strip()][:lines]
    text = "\n".join(kept)
    return text if len(text) <= chars else text[: chars - 3] + "..."


def _kind(element: ET.Element) -> str:
    """failed (an assertion), error (any other exception), timeout or memory, from a junit failure/error."""
    text = (element.get("message") or "") + "\n" + (element.text or "")
    if "MemoryError" in text or "can't allocate memory" in text or "DefaultCPUAllocator" in text:
        return "memory"
    if "TimeoutError" in text and "grading test ran longer than" in text:
        return "timeout"
    message = element.get("message") or ""
    if element.tag == "failure" and message.startswith(("AssertionError", "assert ")):  # with or without a text
        return "failed"
    return "error"


def _junit_key(case: ET.Element, module: str) -> str:
    """A junit testcase's key, like the collection's: classes after the module, then the name."""
    parts = (case.get("classname") or "").split(".")
    classes = parts[parts.index(module) + 1:] if module in parts else []
    return "::".join([*classes, case.get("name") or ""])


def read_report(path: Path, notebook: CourseNotebook) -> dict[str, TestResult] | None:
    """Per-test results from the child's junit XML (None if there is none, or it is unreadable).

    Only the collected tests count, with the collected points: extra or renamed cases are ignored.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)  # the child owns the folder: do not follow its links
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        data = f.read(MAX_REPORT_BYTES + 1)
    if len(data) > MAX_REPORT_BYTES:
        return None
    try:
        tree = ET.fromstring(data)
    except ET.ParseError:
        return None
    points = {t.key: t.points for t in notebook.tests}
    results = {}
    for case in tree.iter("testcase"):
        key = _junit_key(case, notebook.test_file.stem)
        if key not in points or key in results:
            continue
        problem = next((e for e in (case.find("failure"), case.find("error")) if e is not None), None)
        if problem is not None:
            message = problem.get("message") or problem.text
            results[key] = TestResult(_kind(problem), 0, points[key], shorten(message))
        elif case.find("skipped") is not None:
            results[key] = TestResult("skipped", 0, points[key], shorten(case.find("skipped").get("message")))
        else:
            results[key] = TestResult("passed", points[key], points[key])
    return results
