"""Friendly checks that a student runs right after an exercise.

Each check prints one line: a tick and what passed, or raises :class:`CheckFailed` (an
``AssertionError``) with one line saying what was expected and what came back. They compare
against values the notebook states, so they reveal no solution.

In a notebook, importing this module also shortens two kinds of error to that one line instead of
a traceback: a failed check, and an exercise that is not written yet (the
``NotImplementedError("Exercise N.M ...")`` of the student notebooks). Every other error keeps its
full traceback, which a student needs to debug their code. The cell still fails, so "Run All"
stops at the first exercise that is not done.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["CheckFailed", "check_close", "check_true", "verdict"]


class CheckFailed(AssertionError):
    """A student check failed; the message is the whole story (what, expected, got)."""


def _array(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _short(a: np.ndarray) -> str:
    return np.array2string(a, precision=4, threshold=6, suppress_small=True) if a.ndim else f"{float(a):.6g}"


def check_close(what: str, got, expected, *, rtol: float = 1e-4, atol: float = 1e-6) -> None:
    """Pass if ``got`` matches ``expected`` (same shape, elementwise within tolerance).

    Args:
        what: what is being checked, in words, e.g. ``"D*(x) where p_data = 3 p_g"``.
        got: the student's value (number, array or tensor).
        expected: the right value.
    """
    if got is None:
        raise CheckFailed(f"✗ {what}: your function returned None; did you forget `return`?")
    g, e = _array(got), _array(expected)
    if g.shape != e.shape:
        raise CheckFailed(f"✗ {what}: expected shape {e.shape}, got shape {g.shape}")
    if not np.all(np.isfinite(g) | ~np.isfinite(e)) or not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
        raise CheckFailed(f"✗ {what}: expected {_short(e)}, got {_short(g)}")
    print(f"✓ {what}")


def check_true(what: str, condition: bool, hint: str = "") -> None:
    """Pass if ``condition`` holds; otherwise fail with ``hint``."""
    if not condition:
        raise CheckFailed(f"✗ {what}" + (f": {hint}" if hint else ""))
    print(f"✓ {what}")


def _one_line_errors(shell, etype, value, tb, tb_offset=None):
    """IPython handler: one line for a failed check or an unwritten exercise, else the usual traceback.

    IPython ignores a custom handler's return value when user code raises, so the handler shows
    the error itself; ``_showtraceback`` is how an IPython shell (a Jupyter kernel's included)
    sends an error output, so the cell is still marked failed and "Run All" stops there.
    """
    message = str(value)
    if issubclass(etype, NotImplementedError) and message.startswith("Exercise "):
        name = message.split(":")[0]
        message = (f"✗ {name} is not written yet: replace the `raise NotImplementedError(...)` line in its cell "
                   "with your code, run that cell, then run this one again.")
    elif not issubclass(etype, CheckFailed):  # any other error: the student needs the whole traceback
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return None
    shell._showtraceback(etype, value, [message])
    return [message]


def _install_one_line_errors() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # plain Python: nothing to install
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "set_custom_exc"):
        shell.set_custom_exc((CheckFailed, NotImplementedError), _one_line_errors)


_install_one_line_errors()


def verdict(claim: str, held: bool, evidence: str = "") -> bool:
    """Print whether a claim a reading makes held in this run, computed from the run's own numbers.

    Prints one line, ``VERDICT held: CLAIM (EVIDENCE)`` or ``VERDICT not held here: CLAIM (EVIDENCE)``,
    so a run on another machine, profile or seed shows which claims of the reading it supports.
    Nothing is raised either way: an effect that did not appear is a result, not an error.

    Returns:
        ``held``, as a bool.
    """
    held = bool(held)
    print(f"VERDICT {'held' if held else 'not held here'}: {claim}" + (f" ({evidence})" if evidence else ""))
    return held
