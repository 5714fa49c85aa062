"""Fixtures of the hidden grading tests.

Each grading module names its notebook in ``NOTEBOOK`` (file stem, e.g. ``"01_optimal_discriminator"``)
and takes the fixture ``ex``: the notebook's exercise cells executed in a fresh module, so
``ex.optimal_discriminator`` is the submission's function. Points per test come from
``@pytest.mark.points(n)`` (default 1).
"""

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
