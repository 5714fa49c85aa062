"""Grading a batch of student notebooks, each in its own sandboxed process.

``python -m ganlib course grade SUBMISSIONS... --out grades.csv`` finds the students' notebooks,
grades each one with the hidden tests of ``tests/grading/test_NN_*.py`` and writes a CSV (one row
per student, one column per test) and a JSON report (outcome, points and a short message per
test, plus what stopped a submission: timeout, crash, memory).

Naming rule (see :func:`find_submissions`):

- the notebook is the course notebook whose two-digit number ``NN`` stands at the start of the
  file stem or after a separator (``02_vanilla_gan.ipynb``, ``bob_02.ipynb``,
  ``02_vanilla_gan-bob.ipynb``), or the one given with ``--notebook NN``;
- below a folder given on the command line, a notebook inside a subfolder ``S/`` belongs to
  student ``S``; a notebook directly in the folder (or given as a file) belongs to the student
  its stem names once the notebook part is removed (``bob_02`` -> ``bob``), else to the folder.

A file whose notebook cannot be told (no number, two numbers, a number without grading tests)
and two files of the same student and notebook are skipped with a reported error.

Isolation: each submission runs ``pytest`` on its notebook's grading tests in a fresh scratch
folder, in a child process with a wall-clock timeout, CPU-time, heap (``RLIMIT_DATA``, which
leaves torch's large virtual address space alone), file-size and open-file limits, and its
output read through a pipe of which only the first and last few kilobytes are kept; a test
running longer than ``--test-timeout`` fails on its own (tests/grading/conftest.py). As root the
child runs inside bubblewrap (read-only ``/``, ``/root``, ``/home``, ``/tmp`` and ``solutions/``
hidden but for Python, the virtual environment and the course; the scratch folder the one
writable place; no network; own PID namespace), where a small launcher sets the limits and drops
to user ``nobody`` before starting pytest. Without bubblewrap the child runs as ``nobody`` only
(if ``nobody`` can read Python); with neither, the grader refuses unless ``--unsafe-no-sandbox``.
As an ordinary user: bubblewrap if it works, else the scratch folder and the limits alone. Each
sandbox is first proven by a probe (Python imports ganlib and pytest in it); the next is tried
when it fails.

The hidden tests run in the same process as the student's code, so a submission that sets out
to rewrite pytest's report can forge its outcomes: the sandbox protects the machine and the
batch, not the grade. The list of tests and their points come from a separate collection of the
instructor's test files, so a forged report can neither add tests nor change their points.

Nothing in ganlib imports this module; only the CLI does.
"""

from __future__ import annotations

import csv
import grp
import json
import os
import pwd
import re
import stat
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "Limits", "GradingTest", "CourseNotebook", "Submission", "Skipped", "TestResult", "SubmissionResult",
    "Sandbox", "course_notebooks", "notebook_number", "find_submissions", "collect_tests", "choose_sandbox",
    "grade_submission", "grade_batch", "write_csv", "write_json", "summary", "main_grade",
]

SEPARATORS = "_-. "
# NN (or NN plus one letter, for a notebook in parts: 08a, 08b) at the start or after a separator
_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{2}(?:[a-z](?![A-Za-z]))?)(?!\d)")
_TEST_FILE = re.compile(r"test_(\d{2}[a-z]?)_\w+\.py")
MAX_NOTEBOOK_BYTES = 50 << 20  # a submission larger than this is not even copied
MAX_REPORT_BYTES = 20 << 20  # pytest's junit report, written by the child


# ---------------------------------------------------------------------------------------------
# What is graded: course notebooks, their tests, and the students' files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Resources one submission may use."""

    timeout: float = 120.0  # wall-clock seconds for the whole submission
    test_timeout: float = 30.0  # seconds one grading test may run before it fails
    memory_mb: int = 4096  # RLIMIT_DATA (heap and private mappings); torch alone takes about 0.9 GB
    file_mb: int = 64  # RLIMIT_FSIZE: the largest file the child may write
    output_kb: int = 32  # kept from the child's stdout + stderr: the first and the last half of this
    open_files: int = 1024  # RLIMIT_NOFILE
    processes: int = 512  # RLIMIT_NPROC, set only when the child runs as its own user (nobody)


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


@dataclass(frozen=True)
class Submission:
    """One student's notebook to grade."""

    student: str
    number: str
    path: Path


@dataclass(frozen=True)
class Skipped:
    """An input that was not graded, and why."""

    path: str
    error: str


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


def notebook_number(stem: str, known: Collection[str]) -> str:
    """The course notebook number ``NN`` named by a file stem.

    Raises:
        ValueError: no number, several different numbers, or a number without grading tests.
    """
    numbers = sorted(set(_NUMBER.findall(stem)))
    if not numbers:
        raise ValueError("cannot tell which notebook this is: put its number first or after a separator "
                         "(02_vanilla_gan.ipynb, bob_02.ipynb), or pass --notebook NN")
    if len(numbers) > 1:
        raise ValueError(f"ambiguous: the name holds the notebook numbers {', '.join(numbers)}; "
                         "rename it or pass --notebook NN")
    if numbers[0] not in known:
        raise ValueError(f"notebook {numbers[0]} has no grading tests (known: {', '.join(sorted(known))})")
    return numbers[0]


def _student_from_stem(stem: str, number: str, course_name: str) -> str:
    """What is left of a stem once the notebook part (its course name, else its number) is removed."""
    lowered = stem.lower()
    at = lowered.find(course_name.lower())
    if at >= 0:
        rest = stem[:at] + " " + stem[at + len(course_name):]
    else:
        match = next((m for m in _NUMBER.finditer(stem) if m.group(1) == number), None)
        rest = stem[:match.start()] + " " + stem[match.end():] if match else stem
    return re.sub(rf"[{re.escape(SEPARATORS)}]+", "_", rest).strip("_")


def _notebook_files(folder: Path) -> list[Path]:
    """Every ``.ipynb`` below a folder, hidden folders (``.ipynb_checkpoints``) left out."""
    return sorted(p for p in folder.rglob("*.ipynb")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def find_submissions(paths: list[str | Path], known: dict[str, str], notebook: str | None = None,
                     ) -> tuple[list[Submission], list[Skipped]]:
    """Turn the command line's files and folders into submissions, following the naming rule.

    Args:
        paths: files (``.ipynb``) and folders of student notebooks.
        known: notebook number -> course notebook name (``"02" -> "02_vanilla_gan"``).
        notebook: ``NN`` forced for every file (``--notebook``), or None to read it from the names.

    Returns:
        The submissions, sorted by student and notebook, and the inputs skipped with the reason.
    """
    candidates: list[tuple[Path, Path]] = []  # (file, the folder it was found below)
    skipped: list[Skipped] = []
    for given in map(Path, paths):
        if given.is_dir():
            candidates += [(f, given) for f in _notebook_files(given)]
        elif given.is_file() and given.suffix == ".ipynb":
            candidates.append((given, given.parent))
        else:
            skipped.append(Skipped(str(given), "not a notebook (.ipynb) or a folder"))
    found: dict[tuple[str, str], list[Path]] = {}
    seen: set[Path] = set()
    for path, base in candidates:
        if path.resolve() in seen:  # the same file given twice (as a file and inside a folder)
            continue
        seen.add(path.resolve())
        try:
            number = notebook or notebook_number(path.stem, known)
        except ValueError as e:
            skipped.append(Skipped(str(path), str(e)))
            continue
        inside = path.parent.relative_to(base).parts
        base_name = base.resolve().name
        student = inside[0] if inside else (_student_from_stem(path.stem, number, known[number]) or base_name)
        found.setdefault((student, number), []).append(path)
    submissions = []
    for (student, number), files in sorted(found.items()):
        if len(files) > 1:
            names = ", ".join(map(str, files))
            skipped += [Skipped(str(f), f"student {student!r} has {len(files)} files for notebook {number}: {names}")
                        for f in files]
        else:
            submissions.append(Submission(student, number, files[0]))
    return submissions, skipped


# ---------------------------------------------------------------------------------------------
# The hidden tests and their points, collected from the instructor's files (trusted)
# ---------------------------------------------------------------------------------------------


def _pytest_args(root: Path) -> list[str]:
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
        code = "import sys; from ganlib.course.grade import _collect_main; _collect_main(sys.argv[1], sys.argv[2:])"
        files = [str(p) for p in test_files.values()]
        done = subprocess.run([sys.executable, "-c", code, str(out), *_pytest_args(root), *files],
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


# ---------------------------------------------------------------------------------------------
# The sandbox
# ---------------------------------------------------------------------------------------------

# Started as the child: set the resource limits, optionally become an unprivileged user, then
# become the real command. Only the standard library, so that it starts in milliseconds, and no
# preexec_fn, which is unsafe in a process with threads.
_LAUNCHER = (
    "import json, os, resource, sys\n"
    "limits, uid, gid = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])\n"
    "for name, value in limits:\n"
    "    resource.setrlimit(getattr(resource, name), (value, value))\n"
    "if uid >= 0:\n"
    "    os.setgroups([]); os.setgid(gid); os.setuid(uid)\n"
    "os.execv(sys.argv[4], sys.argv[4:])\n"
)
HIDDEN = ("/root", "/home", "/tmp")  # private folders: empty in the sandbox, but for the paths the grading needs


@dataclass(frozen=True)
class Sandbox:
    """How a child runs: in ``bubblewrap``, as an unprivileged ``user`` only, or with no sandbox (``none``).

    ``user``/``group`` name the unprivileged account the child becomes (only when the grader is root).
    """

    kind: str  # "bubblewrap", "user" or "none"
    user: str | None = None
    group: str | None = None

    def describe(self) -> str:
        who = f" as user {self.user}" if self.user else ""
        return {"bubblewrap": f"bubblewrap{who} (read-only /, no network, {', '.join(HIDDEN)} hidden)",
                "user": f"user {self.user} (no bubblewrap: the network and world-writable folders are reachable)",
                "none": "none (scratch folder and resource limits only)"}[self.kind]

    def command(self, inner: list[str], scratch: Path, root: Path, limits: Limits) -> list[str]:
        """``inner`` run under the limits, inside this sandbox, with ``scratch`` its one writable folder."""
        switch = ["-1", "-1"]
        if self.kind == "bubblewrap" and self.user:  # bubblewrap runs as root; the launcher inside drops to the user
            switch = [str(pwd.getpwnam(self.user).pw_uid), str(grp.getgrnam(self.group).gr_gid)]
        launcher = [sys.executable, "-I", "-S", "-c", _LAUNCHER, json.dumps(_rlimits(self, limits)), *switch, *inner]
        return [*_bwrap_args(scratch, root), "--", *launcher] if self.kind == "bubblewrap" else launcher

    def popen_user(self) -> dict:
        """The ``subprocess.Popen`` arguments that switch to this sandbox's user (kind ``user``)."""
        if self.kind != "user":
            return {}
        return {"user": self.user, "group": self.group, "extra_groups": []}


def _expose(path: Path, how: str) -> list[str]:
    """bubblewrap arguments binding ``path`` at its place, through the folders of HIDDEN (kept traversable)."""
    args = []
    for top in map(Path, HIDDEN):
        if top in path.parents:
            between = [p for p in reversed(path.parents) if top in p.parents]
            args += [arg for p in between for arg in ("--perms", "0755", "--dir", str(p))]
    return [*args, how, str(path), str(path)]


def _bwrap_args(scratch: Path, root: Path) -> list[str]:
    """bubblewrap: read-only ``/``, private homes hidden, writable scratch, no network, own PID namespace."""
    args = [shutil.which("bwrap") or "bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    args += [arg for top in HIDDEN if Path(top).is_dir() for arg in ("--perms", "0755", "--tmpfs", top)]
    for needed in sorted({Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), root.resolve()}):
        args += _expose(needed, "--ro-bind")  # Python, the virtual environment, the course (tests, ganlib)
    args += _expose(scratch.resolve(), "--bind")  # the child's TMPDIR and HOME live there
    args += ["--bind", str(scratch / "shm"), "/dev/shm"]  # on disk, not a RAM tmpfs outside RLIMIT_DATA
    if (root / "solutions").is_dir():  # the instructor's answers are not for the submission to load
        args += ["--ro-bind", str(scratch / "empty"), str(root.resolve() / "solutions")]
    args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
             "--die-with-parent", "--new-session", "--chdir", str(scratch)]
    if os.geteuid() != 0:
        args.append("--unshare-user")  # unprivileged bubblewrap works through a user namespace
    return args


def _unprivileged_user() -> tuple[str, str] | None:
    """``("nobody", "nogroup")`` (or the group ``nobody``), if they exist."""
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        return None
    for group in ("nogroup", "nobody"):
        try:
            grp.getgrnam(group)
            return "nobody", group
        except KeyError:
            continue
    return None


def _candidates(requested: str) -> list[Sandbox]:
    """The sandboxes to try, best first, for ``--sandbox auto|bubblewrap|user``."""
    nobody = _unprivileged_user() if os.geteuid() == 0 else None
    bwrap = [Sandbox("bubblewrap", *(nobody or ()))] if shutil.which("bwrap") else []
    user = [Sandbox("user", *nobody)] if nobody else []
    if requested == "bubblewrap":
        return bwrap
    if requested == "user":
        return user
    return bwrap + user


def choose_sandbox(requested: str, unsafe: bool, root: Path, limits: Limits) -> tuple[Sandbox, list[str]]:
    """The first sandbox that works here, proven by importing ganlib and pytest in it.

    Returns:
        The sandbox and the reasons the better ones were passed over.

    Raises:
        ValueError: the sandbox asked for does not work, or none does while the grader is root and
            ``unsafe`` (``--unsafe-no-sandbox``) is not given.
    """
    notes = []
    for sandbox in _candidates(requested):
        problem = _probe(sandbox, root, limits)
        if problem is None:
            return sandbox, notes
        notes.append(f"sandbox {sandbox.describe()} does not work here: {problem}")
    if requested != "auto":
        raise ValueError("; ".join(notes) or f"sandbox {requested!r} is not available here")
    if os.geteuid() == 0 and not unsafe:
        why = "; ".join(notes) or "bubblewrap (bwrap) is not installed and there is no user 'nobody'"
        raise ValueError(f"refusing to run submissions as root without a sandbox ({why}); "
                         "install bubblewrap (apt-get install -y bubblewrap), or pass --unsafe-no-sandbox")
    return Sandbox("none"), notes


def _probe(sandbox: Sandbox, root: Path, limits: Limits) -> str | None:
    """None if Python imports ganlib and pytest in the sandbox under the limits, else why not."""
    with tempfile.TemporaryDirectory(prefix="ganlib-probe-") as tmp:
        scratch = _make_scratch(Path(tmp), sandbox)
        inner = [sys.executable, "-c", "import ganlib.course, pytest; print('ok')"]
        try:
            run = _run_limited(sandbox.command(inner, scratch, root, limits), scratch, child_env(root, scratch),
                               sandbox, limits)
        except OSError as e:
            return f"{type(e).__name__}: {e}"
    if run.returncode == 0 and "ok" in run.head:
        return None
    lines = (run.head + run.tail).strip().splitlines()
    return lines[-1] if lines else f"exit code {run.returncode}"


def _rlimits(sandbox: Sandbox, limits: Limits) -> list[tuple[str, int]]:
    """The resource limits of a child, as (name in ``resource``, value) pairs."""
    mib = 1 << 20
    chosen = [("RLIMIT_CPU", int(limits.timeout) + 5), ("RLIMIT_DATA", limits.memory_mb * mib),
              ("RLIMIT_FSIZE", limits.file_mb * mib), ("RLIMIT_NOFILE", limits.open_files), ("RLIMIT_CORE", 0)]
    if sandbox.user:  # counts every process of the user: only meaningful for an account of its own
        chosen.append(("RLIMIT_NPROC", limits.processes))
    return chosen


def _make_scratch(parent: Path, sandbox: Sandbox, name: str = "scratch") -> Path:
    """A fresh scratch folder owned by the child's user: tmp/, home/, shm/, submission/, and empty/ (read-only)."""
    scratch = parent / name
    for sub in ("", "tmp", "home", "shm", "empty", "submission"):
        (scratch / sub).mkdir(parents=True, exist_ok=True)
    parent.chmod(0o711)  # the user may pass through to its folder, not list its neighbours
    if sandbox.user:
        uid, gid = pwd.getpwnam(sandbox.user).pw_uid, grp.getgrnam(sandbox.group).gr_gid
        for sub in ("", "tmp", "home", "shm", "submission"):
            os.chown(scratch / sub, uid, gid)
    return scratch


# ---------------------------------------------------------------------------------------------
# Running one child
# ---------------------------------------------------------------------------------------------


@dataclass
class _Run:
    returncode: int
    timed_out: bool
    seconds: float
    head: str  # the first half of the kept output
    tail: str  # the last half
    nbytes: int  # everything the child printed


def _drain(stream, keep: int, run: dict) -> None:
    """Read a pipe to its end, keeping only its first and last ``keep`` bytes."""
    head, tail, total = bytearray(), bytearray(), 0
    while chunk := stream.read(65536):
        total += len(chunk)
        if len(head) < keep:
            take = keep - len(head)
            head += chunk[:take]
            chunk = chunk[take:]
        tail = (tail + chunk)[-keep:]
    run.update(head=bytes(head), tail=bytes(tail), nbytes=total)


def _run_limited(cmd: list[str], scratch: Path, env: dict[str, str], sandbox: Sandbox, limits: Limits) -> _Run:
    """Run a child with a wall-clock timeout, its stdout and stderr read through one capped pipe."""
    keep = limits.output_kb * 1024 // 2
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, **sandbox.popen_user())
    out: dict = {"head": b"", "tail": b"", "nbytes": 0}
    reader = threading.Thread(target=_drain, args=(proc.stdout, keep, out), daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=limits.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
        proc.wait()
    reader.join(timeout=5)  # a process that escaped the group may hold the pipe open: do not wait for it
    proc.stdout.close()
    decode = lambda b: b.decode("utf-8", "replace")  # noqa: E731
    return _Run(proc.returncode, timed_out, time.monotonic() - start, decode(out["head"]), decode(out["tail"]),
                out["nbytes"])


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # bubblewrap's --die-with-parent takes the sandbox down with it
    except (ProcessLookupError, PermissionError):
        proc.kill()


# ---------------------------------------------------------------------------------------------
# Grading one submission
# ---------------------------------------------------------------------------------------------


def child_env(root: Path, scratch: Path | None = None) -> dict[str, str]:
    """A clean environment for the children: one thread, headless plots, the repository importable."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "PYTHONPATH": str(root.resolve()),
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MPLBACKEND": "Agg", "GANLIB_PROFILE": "smoke"}
    if scratch is None:  # the instructor's own, trusted run (collecting the tests)
        env.update({k: os.environ[k] for k in ("HOME", "TMPDIR") if k in os.environ})
    else:
        env.update(HOME=str(scratch / "home"), TMPDIR=str(scratch / "tmp"), MPLCONFIGDIR=str(scratch / "home"),
                   GANLIB_RUNS=str(scratch / "runs"))
    return env


def _short(message: str | None, lines: int = 3, chars: int = 300) -> str | None:
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
            results[key] = TestResult(_kind(problem), 0, points[key], _short(message))
        elif case.find("skipped") is not None:
            results[key] = TestResult("skipped", 0, points[key], _short(case.find("skipped").get("message")))
        else:
            results[key] = TestResult("passed", points[key], points[key])
    return results


def _submission_error(run: _Run, has_report: bool, limits: Limits) -> dict | None:
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
        last = _short("\n".join(output.strip().splitlines()[-3:]))
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
        return f"not a readable notebook: {type(e).__name__}: {_short(str(e), lines=1)}"
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
        scratch = _make_scratch(holder, sandbox)
        shutil.copyfile(submission.path, scratch / "submission" / f"{notebook.name}.ipynb")
        report = scratch / "report.xml"
        inner = [sys.executable, "-m", "pytest", str(notebook.test_file.resolve()), *_pytest_args(root),
                 f"--submission-dir={scratch / 'submission'}", f"--junitxml={report}",
                 f"--test-timeout={limits.test_timeout:g}", "-q", "--capture=no", "-W", "ignore",
                 "--tb=native"]  # pytest's own traceback styles can crash on a frame a timeout interrupted
        run = _run_limited(sandbox.command(inner, scratch, root, limits), scratch, child_env(root, scratch),
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


# ---------------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


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
