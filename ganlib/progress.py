"""Progress display: tqdm's bar where it can redraw in place (a terminal, a notebook kernel), plain lines elsewhere.

Training (:func:`ganlib.training.fit`), sampling in ``evaluate`` and feature extraction in ``metrics`` all show
their progress through :func:`progress_bar`.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Iterable

from tqdm.auto import tqdm

__all__ = ["PlainProgress", "progress_bar"]


class PlainProgress:
    """Progress for output that is not a terminal (a log file, CI, ``nohup``): one plain line every few percent.

    A progress bar redraws itself with carriage returns many times a second, which a log file keeps byte by
    byte; this prints ``label: step N/M (P%), S s, metrics`` each time another ``every_percent`` of the run is
    done, and at the end. It takes the same calls as the tqdm bar the loop uses (iteration, ``set_postfix``,
    ``close``).
    """

    def __init__(self, iterable: Iterable[int], *, initial: int, total: int, desc: str, file=None,
                 every_percent: float = 5.0):
        self.iterable, self.total, self.desc = iterable, total, desc
        self.file = file if file is not None else sys.stderr
        self.n = initial
        self.every = max(1, math.ceil(total * every_percent / 100))  # steps between two lines
        self.postfix: dict[str, str] = {}
        self.started = time.perf_counter()
        self.last_printed = initial

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.n += 1
            if self.n % self.every == 0 or self.n == self.total:
                self._print()

    def set_postfix(self, values: dict[str, str]) -> None:
        self.postfix = dict(values)

    def _print(self) -> None:
        metrics = "".join(f", {k}={v}" for k, v in self.postfix.items())
        print(f"{self.desc}: step {self.n}/{self.total} ({100 * self.n / self.total:.0f}%), "
              f"{time.perf_counter() - self.started:.0f} s{metrics}", file=self.file, flush=True)
        self.last_printed = self.n

    def close(self) -> None:
        if self.last_printed != self.n:  # stopped early: say where
            self._print()


def _interactive() -> bool:
    """Whether progress can redraw in place: a terminal, or a notebook kernel (tqdm.auto draws a widget there).

    A kernel's shell has a ``kernel``: Jupyter's ``ZMQInteractiveShell`` and Colab's own shell class alike;
    IPython in a terminal has none.
    """
    try:
        from IPython import get_ipython

        if getattr(get_ipython(), "kernel", None) is not None:
            return True
    except ImportError:
        pass
    return sys.stderr.isatty()


def progress_bar(iterable: Iterable[int], *, initial: int, total: int, desc: str, enabled: bool = True):
    """tqdm's bar where it can redraw in place, else :class:`PlainProgress` lines (disabled: a silent tqdm)."""
    if enabled and not _interactive():
        return PlainProgress(iterable, initial=initial, total=total, desc=desc)
    return tqdm(iterable, initial=initial, total=total, disable=not enabled, desc=desc, unit="step")
