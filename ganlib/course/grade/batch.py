"""Grading: one submission in a fresh scratch folder inside the sandbox, and a batch of them side by side."""

from __future__ import annotations

import shutil
import signal
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from ganlib.course.grade.hidden_tests import CourseNotebook, pytest_args
from ganlib.course.grade.results import SubmissionResult, TestResult, read_report, shorten
from ganlib.course.grade.sandbox import ChildRun, Limits, Sandbox, child_env, make_scratch, run_limited
from ganlib.course.grade.submissions import Submission

MAX_NOTEBOOK_BYTES = 50 << 20  # a submission larger than this is not even copied


def _submission_error(run: ChildRun, has_report: bool, limits: Limits) -> dict | None:
    """What stopped a submission as a whole, from how its child ended."""
    output = run.head + run.tail
    if run.timed_out:
        return {"kind": "timeout", "message": f"stopped after {limits.timeout:g} s of wall-clock time"}
    if run.returncode < 0:
        sig = -run.returncode
        kind = {signal.SIGXCPU: "cpu-limit", signal.SIGXFSZ: "file-limit", signal.SIGKILL: "killed"}.get(sig, "crash")
        hint = " (out of memory?)" if sig == signal.SIGKILL else ""
        return {"kind": kind, "message": f"killed by {signal.Signals(sig).name}{hint}"}
    if not has_report:
        kind = "memory" if "MemoryError" in output else "crash"
        last = shorten("\n".join(output.strip().splitlines()[-3:]))
        return {"kind": kind, "message": f"exited with code {run.returncode} before pytest wrote its report: {last}"}
    if run.returncode not in (0, 1):  # 2: interrupted (KeyboardInterrupt, pytest.exit), 3: internal error
        return {"kind": "interrupted", "message": f"pytest exited with code {run.returncode}"}
    return None


def _check_notebook(path: Path) -> str | None:
    """None if the file is a readable notebook of reasonable size, else why not."""
    import nbformat

    try:
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return f"larger than {MAX_NOTEBOOK_BYTES >> 20} MB"
        nbformat.read(path, as_version=4)
    except Exception as e:  # any parse error is the submission's, not the grader's
        return f"not a readable notebook: {type(e).__name__}: {shorten(str(e), lines=1)}"
    return None


def grade_submission(submission: Submission, notebook: CourseNotebook, sandbox: Sandbox, limits: Limits,
                     root: Path, workdir: Path) -> SubmissionResult:
    """Grade one notebook in a fresh scratch folder below ``workdir``, then delete the folder."""
    not_run = {t.key: TestResult("not-run", 0, t.points) for t in notebook.tests}
    problem = _check_notebook(submission.path)
    if problem:
        return SubmissionResult(submission, not_run, {"kind": "invalid", "message": problem})
    holder = Path(tempfile.mkdtemp(prefix="sub-", dir=workdir))
    try:
        scratch = make_scratch(holder, sandbox)
        shutil.copyfile(submission.path, scratch / "submission" / f"{notebook.name}.ipynb")
        report = scratch / "report.xml"
        inner = [sys.executable, "-m", "pytest", str(notebook.test_file.resolve()), *pytest_args(root),
                 f"--submission-dir={scratch / 'submission'}", f"--junitxml={report}",
                 f"--test-timeout={limits.test_timeout:g}", "-q", "--capture=no", "-W", "ignore",
                 "--tb=native"]  # pytest's own traceback styles can crash on a frame a timeout interrupted
        run = run_limited(sandbox.command(inner, scratch, root, limits), scratch, child_env(root, scratch),
                          sandbox, limits)
        tests = None if run.timed_out else read_report(report, notebook)
    finally:
        shutil.rmtree(holder, ignore_errors=True)
    error = _submission_error(run, tests is not None, limits)
    results = {**not_run, **(tests or {})}
    gap = "\n...\n" if run.nbytes > len(run.head) else ""
    excerpt = "" if error is None else run.head[-1000:] + gap + run.tail[-1000:]
    return SubmissionResult(submission, results, error, round(run.seconds, 2), run.nbytes, excerpt.strip())


def grade_batch(submissions: list[Submission], notebooks: dict[str, CourseNotebook], sandbox: Sandbox,
                limits: Limits, root: Path, jobs: int = 1, progress: bool = True) -> list[SubmissionResult]:
    """Grade every submission (``jobs`` at a time), with a progress bar; results in input order."""
    from tqdm import tqdm

    workdir = Path(tempfile.mkdtemp(prefix="ganlib-grade-"))
    workdir.chmod(0o711)
    results: dict[int, SubmissionResult] = {}
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, \
                tqdm(total=len(submissions), desc="grading", unit="nb", disable=not progress, file=sys.stderr) as bar:
            futures = {pool.submit(grade_submission, s, notebooks[s.number], sandbox, limits, root, workdir): i
                       for i, s in enumerate(submissions)}
            for future in as_completed(futures):
                result = future.result()
                results[futures[future]] = result
                bar.set_postfix_str(f"{result.submission.student} {result.score:g}/{result.max_points:g}")
                bar.update()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return [results[i] for i in range(len(submissions))]
