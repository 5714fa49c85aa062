"""The sandbox: where and under which limits a submission's child process runs.

Each submission runs ``pytest`` on its notebook's grading tests in a fresh scratch folder, in a
child process with a wall-clock timeout, CPU-time, heap (``RLIMIT_DATA``, which leaves torch's
large virtual address space alone), file-size and open-file limits, and its output read through
a pipe of which only the first and last few kilobytes are kept; a test running longer than
``--test-timeout`` fails on its own (tests/grading/conftest.py). As root the child runs inside
bubblewrap (read-only ``/``, ``/root``, ``/home``, ``/tmp`` and ``solutions/`` hidden but for
Python, the virtual environment and the course; the scratch folder the one writable place; no
network; own PID namespace), where a small launcher sets the limits and drops to user ``nobody``
before starting pytest. Without bubblewrap the child runs as ``nobody`` only (if ``nobody`` can
read Python); with neither, the grader refuses unless ``--unsafe-no-sandbox``. As an ordinary
user: bubblewrap if it works, else the scratch folder and the limits alone. Each sandbox is
first proven by a probe (Python imports ganlib and pytest in it); the next is tried when it fails.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


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
        scratch = make_scratch(Path(tmp), sandbox)
        inner = [sys.executable, "-c", "import ganlib.course, pytest; print('ok')"]
        try:
            run = run_limited(sandbox.command(inner, scratch, root, limits), scratch, child_env(root, scratch),
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


def make_scratch(parent: Path, sandbox: Sandbox, name: str = "scratch") -> Path:
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
class ChildRun:
    """How a child ended, and what it printed."""

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


def run_limited(cmd: list[str], scratch: Path, env: dict[str, str], sandbox: Sandbox, limits: Limits) -> ChildRun:
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
    return ChildRun(proc.returncode, timed_out, time.monotonic() - start, decode(out["head"]), decode(out["tail"]),
                    out["nbytes"])


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # bubblewrap's --die-with-parent takes the sandbox down with it
    except (ProcessLookupError, PermissionError):
        proc.kill()


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
