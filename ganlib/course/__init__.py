"""The course's instructor tooling, behind its own extra (``pip install "ganlib[course]"``).

- :mod:`ganlib.course.notebooks` ``course build``: student notebooks from the solutions, the Colab setup cell and
  badges, and loading a notebook's exercise cells as a module (the grading tests' ``ex``)
- :mod:`ganlib.course.run`       ``course run``: executing notebooks with papermill, collecting their verdicts
- :mod:`ganlib.course.grade`     ``course grade``: sandboxed grading of a folder of student submissions

Nothing else in ganlib imports this package: a plain ``pip install ganlib`` trains, samples and evaluates
without nbformat, papermill or pytest. The names of :mod:`ganlib.course.notebooks` are re-exported here
(``from ganlib.course import load_exercises``).
"""

from __future__ import annotations

EXTRA_HINT = ("the course tooling needs the 'course' extra: pip install \"ganlib[course]\" "
              "(in a checkout: pip install -e \".[course]\")")

try:
    import nbformat  # noqa: F401 - the one dependency every course command shares
except ImportError as e:  # a plain install
    raise ImportError(EXTRA_HINT) from e

from ganlib.course.notebooks import *  # noqa: E402,F403
from ganlib.course.notebooks import __all__  # noqa: E402,F401
