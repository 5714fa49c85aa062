"""``python -m ganlib course grade SUBMISSIONS... --out grades.csv``: grading a batch of student notebooks.

The pipeline: find the submissions (file names -> student and notebook) -> collect the hidden tests of
``tests/grading/test_NN_*.py`` and their points -> choose a sandbox and prove it -> run each submission's tests in
a sandboxed child, read its JUnit XML -> write a CSV (one row per student, one column per test) and a JSON report
(outcome, points and message per test, plus what stopped a submission: timeout, crash, memory).

- :mod:`~ganlib.course.grade.submissions`  the naming rule: files and folders -> :class:`Submission`, or skipped
- :mod:`~ganlib.course.grade.hidden_tests` the notebooks that have hidden tests, their tests and points
- :mod:`~ganlib.course.grade.sandbox`      bubblewrap / user ``nobody`` / none, resource limits, running one child
- :mod:`~ganlib.course.grade.results`      per-test results from the child's JUnit XML; a submission's result
- :mod:`~ganlib.course.grade.batch`        grading one submission in its scratch folder, and a batch of them
- :mod:`~ganlib.course.grade.reports`      the CSV, the JSON report and the printed summary
- :mod:`~ganlib.course.grade.cli`          :func:`main_grade`, the command

Nothing in ganlib imports this package; only the CLI does.
"""

from ganlib.course.grade.batch import MAX_NOTEBOOK_BYTES, grade_batch, grade_submission
from ganlib.course.grade.cli import main_grade
from ganlib.course.grade.hidden_tests import _TEST_FILE, CourseNotebook, GradingTest, collect_tests, course_notebooks
from ganlib.course.grade.reports import summary, write_csv, write_json
from ganlib.course.grade.results import MAX_REPORT_BYTES, SubmissionResult, TestResult, read_report
from ganlib.course.grade.sandbox import HIDDEN, Limits, Sandbox, child_env, choose_sandbox
from ganlib.course.grade.submissions import (SEPARATORS, Skipped, Submission, _student_from_stem, find_submissions,
                                             notebook_number)

__all__ = [
    "Limits", "GradingTest", "CourseNotebook", "Submission", "Skipped", "TestResult", "SubmissionResult",
    "Sandbox", "course_notebooks", "notebook_number", "find_submissions", "collect_tests", "choose_sandbox",
    "grade_submission", "grade_batch", "write_csv", "write_json", "summary", "main_grade",
]
