"""The ``python -m ganlib course grade`` command: the grading pipeline from the command line to the reports."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from ganlib.course.grade.batch import grade_batch
from ganlib.course.grade.hidden_tests import collect_tests, course_notebooks
from ganlib.course.grade.reports import summary, write_csv, write_json
from ganlib.course.grade.sandbox import Limits, child_env, choose_sandbox
from ganlib.course.grade.submissions import find_submissions


def _output_paths(out: str, json_out: str | None) -> tuple[Path, Path]:
    """The CSV and JSON paths, their folder created and proven writable."""
    csv_path = Path(out)
    json_path = Path(json_out) if json_out else csv_path.with_suffix(".json")
    for path in (csv_path, json_path):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".ganlib-grade-"):
                pass
        except OSError as e:
            raise ValueError(f"cannot write to the output folder {path.parent}: {e.strerror or e}") from None
    return csv_path, json_path


def main_grade(args) -> int:
    """The ``python -m ganlib course grade`` command.

    Returns:
        0 when every input was graded, 1 when some were skipped (the outputs are still written).

    Raises:
        ValueError: no submissions, an unknown ``--notebook``, an unwritable output folder, no sandbox.
    """
    start = time.monotonic()
    root = Path(args.root).resolve()
    test_files = course_notebooks(root)
    if args.notebook is not None:
        number = f"{int(args.notebook):02d}" if str(args.notebook).isdigit() else str(args.notebook)
        if number not in test_files:
            raise ValueError(f"unknown notebook {args.notebook!r}: the grading tests cover {', '.join(test_files)}")
        args.notebook = number
    names = {n: p.stem.removeprefix("test_") for n, p in test_files.items()}
    submissions, skipped = find_submissions(args.submissions, names, args.notebook)
    for s in skipped:
        print(f"skipped {s.path}: {s.error}", file=sys.stderr)
    if not submissions:
        raise ValueError(f"no gradable notebooks (.ipynb) found in {' '.join(args.submissions)}")
    csv_path, json_path = _output_paths(args.out, args.json)
    limits = Limits(timeout=args.timeout, test_timeout=args.test_timeout, memory_mb=args.memory_mb)
    sandbox, notes = choose_sandbox(args.sandbox, args.unsafe_no_sandbox, root, limits)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if sandbox.kind == "none":
        print("warning: no sandbox: submissions run as you, limited only by the scratch folder and resource limits",
              file=sys.stderr)
    graded = {n: test_files[n] for n in sorted({s.number for s in submissions})}
    notebooks = collect_tests(root, graded, child_env(root))
    print(f"grading {len(submissions)} notebook(s); sandbox: {sandbox.describe()}", file=sys.stderr)
    results = grade_batch(submissions, notebooks, sandbox, limits, root, jobs=args.jobs, progress=not args.no_progress)
    write_csv(results, notebooks, csv_path)
    write_json(results, notebooks, skipped, sandbox, limits, json_path)
    print(summary(results, notebooks, skipped, time.monotonic() - start))
    print(f"wrote {csv_path} and {json_path}")
    return 1 if skipped else 0
