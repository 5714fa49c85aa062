"""Repository-wide pytest settings.

- Notebooks executed by ``pytest --nbval`` run in the ``smoke`` profile unless GANLIB_PROFILE is
  already set (the kernel inherits this process's environment).
- ``--submission-dir DIR`` points the grading tests in tests/grading/ at a folder of notebooks
  (default: solutions/).
"""

import os

os.environ.setdefault("GANLIB_PROFILE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_addoption(parser):
    parser.addoption(
        "--submission-dir",
        default=None,
        help="folder of notebooks whose exercises tests/grading/ grades (default: solutions/)",
    )
