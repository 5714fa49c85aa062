"""Fixtures shared by the unit tests, and the one place that puts ``tests/support`` on ``sys.path``.

``tests/support`` holds what the tests share but pytest must not collect: the mutation harness
(``_mutation``), stand-in Inception weights (``_inception_weights``), the killed-run helper
(``_interrupt``), the ``torchrun`` worker (``_distributed_worker.py``, launched by path) and the files
tests read (``data/``). A test imports a helper by its module name, ``from _mutation import ...``.
"""

import sys
from pathlib import Path

import pytest
import torch

SUPPORT = Path(__file__).resolve().parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))


@pytest.fixture(scope="module")
def one_thread_per_module():
    """Tiny matrices: one thread is fastest, and immune to a busy machine's thread contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
