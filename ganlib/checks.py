"""Friendly checks that a student runs right after an exercise.

Each check prints one line: a tick and what passed, or raises ``AssertionError`` with one line
saying what was expected and what came back. They compare against values the notebook states,
so they reveal no solution.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["check_close", "check_true"]


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
        raise AssertionError(f"✗ {what}: your function returned None; did you forget `return`?")
    g, e = _array(got), _array(expected)
    if g.shape != e.shape:
        raise AssertionError(f"✗ {what}: expected shape {e.shape}, got shape {g.shape}")
    if not np.all(np.isfinite(g) | ~np.isfinite(e)) or not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
        raise AssertionError(f"✗ {what}: expected {_short(e)}, got {_short(g)}")
    print(f"✓ {what}")


def check_true(what: str, condition: bool, hint: str = "") -> None:
    """Pass if ``condition`` holds; otherwise fail with ``hint``."""
    if not condition:
        raise AssertionError(f"✗ {what}" + (f": {hint}" if hint else ""))
    print(f"✓ {what}")
