"""The reports: a CSV (one row per student, one column per hidden test), a JSON report and a summary."""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

from ganlib.course.grade.hidden_tests import CourseNotebook
from ganlib.course.grade.results import SubmissionResult
from ganlib.course.grade.sandbox import Limits, Sandbox
from ganlib.course.grade.submissions import Skipped


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(value, 4)


def _columns(notebooks: dict[str, CourseNotebook]) -> list[tuple[str, str]]:
    return [(number, t.key) for number in sorted(notebooks) for t in notebooks[number].tests]


def _by_student(results: list[SubmissionResult]) -> dict[str, dict[str, SubmissionResult]]:
    students: dict[str, dict[str, SubmissionResult]] = {}
    for r in results:
        students.setdefault(r.submission.student, {})[r.submission.number] = r
    return dict(sorted(students.items()))


def write_csv(results: list[SubmissionResult], notebooks: dict[str, CourseNotebook], path: Path) -> None:
    """One row per student, one column ``NN::test`` per hidden test (points earned), then total and max.

    A notebook the student did not hand in leaves its cells empty and counts as zero.
    """
    columns = _columns(notebooks)
    max_total = sum(nb.max_points for nb in notebooks.values())
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *(f"{n}::{key}" for n, key in columns), "total", "max"])
        for student, graded in _by_student(results).items():
            cells = [_number(graded[n].tests[key].points) if n in graded else "" for n, key in columns]
            total = sum(r.score for r in graded.values())
            writer.writerow([student, *cells, _number(total), _number(max_total)])


def write_json(results: list[SubmissionResult], notebooks: dict[str, CourseNotebook], skipped: list[Skipped],
               sandbox: Sandbox, limits: Limits, path: Path) -> None:
    """Per student and notebook: score, per-test outcome, points and message, and submission-level errors."""
    students = {}
    for student, graded in _by_student(results).items():
        students[student] = {
            "total": _number(sum(r.score for r in graded.values())),
            "max": _number(sum(nb.max_points for nb in notebooks.values())),
            "notebooks": {number: {
                "file": str(r.submission.path), "score": _number(r.score), "max": _number(r.max_points),
                "error": r.error, "seconds": r.seconds, "output_bytes": r.output_bytes,
                "output_truncated": r.output_bytes > limits.output_kb * 1024,
                **({"output_excerpt": r.output_excerpt} if r.output_excerpt else {}),
                "tests": {key: {**asdict(t), "points": _number(t.points), "max_points": _number(t.max_points)}
                          for key, t in r.tests.items()},
            } for number, r in sorted(graded.items())},
        }
    report = {
        "sandbox": sandbox.describe(), "limits": asdict(limits),
        "notebooks": {n: {"name": nb.name, "max": _number(nb.max_points),
                          "tests": {t.key: _number(t.points) for t in nb.tests}}
                      for n, nb in sorted(notebooks.items())},
        "students": students,
        "skipped": [asdict(s) for s in skipped],
    }
    path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


def summary(results: list[SubmissionResult], notebooks: dict[str, CourseNotebook], skipped: list[Skipped],
            seconds: float) -> str:
    """Students graded, mean total (of the same maximum as the CSV's), failures by kind, submission
    errors and skipped inputs."""
    students = _by_student(results)
    lines = [f"graded {len(results)} notebook(s) of {len(students)} student(s) in {seconds:.0f} s"]
    if students:
        totals = [sum(r.score for r in g.values()) for g in students.values()]
        max_total = sum(nb.max_points for nb in notebooks.values())
        lines.append(f"mean total {sum(totals) / len(totals):.2f} of {max_total:.4g} points")
    kinds = Counter(t.outcome for r in results for t in r.tests.values() if t.outcome != "passed")
    if kinds:
        lines.append("tests not passed, by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    errors = [r for r in results if r.error]
    if errors:
        by_kind = Counter(r.error["kind"] for r in errors)
        lines.append("submission errors: " + ", ".join(f"{k} {n}" for k, n in sorted(by_kind.items())))
        lines += [f"  {r.submission.student} {r.submission.number}: {r.error['kind']}: {r.error['message']}"
                  for r in errors]
    if skipped:
        lines.append(f"skipped {len(skipped)} input(s):")
        lines += [f"  {s.path}: {s.error}" for s in skipped]
    return "\n".join(lines)
