"""Fixtures of the hidden grading tests.

Each grading module names its notebook in ``NOTEBOOK`` (file stem, e.g. ``"01_optimal_discriminator"``)
and takes the fixture ``ex``: the notebook's exercise cells executed in a fresh module, so
``ex.optimal_discriminator`` is the submission's function. Points per test come from
``@pytest.mark.points(n)`` (default 1).

``--test-timeout SECONDS`` (set by ``python -m ganlib course grade``) fails a test that runs longer,
so a submission whose function loops forever loses that test's points, not the whole notebook.
"""

import signal
import threading
from pathlib import Path

import pytest

from ganlib.course import load_exercises

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def ex(request):
    folder = request.config.getoption("--submission-dir") or ROOT / "solutions"
    path = Path(folder) / f"{request.module.NOTEBOOK}.ipynb"
    if not path.is_file():
        pytest.fail(f"no submission {path}")
    return load_exercises(path)


def pytest_addoption(parser):
    parser.addoption("--test-timeout", type=float, default=None,
                     help="seconds one grading test may run before it fails (default: no limit)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    """Raise TimeoutError in a test still running after --test-timeout seconds (and every second after,
    in case the submission swallows it); armed around the test function only, not pytest's reporting."""
    seconds = item.config.getoption("--test-timeout", default=None)
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise TimeoutError(f"the grading test ran longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
