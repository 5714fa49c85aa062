"""Closed forms of the GAN game, computed numerically for 1-D densities on a grid.

For a fixed generator with density p_g, the discriminator that maximises

    V(G, D) = ∫ p_data(x) log D(x) + p_g(x) log(1 - D(x)) dx

is D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al. 2014, Prop. 1), and plugging it
back in gives V(G, D*) = 2 JSD(p_data || p_g) - log 4 (ibid., Theorem 1).

All functions take densities evaluated on an evenly spaced 1-D grid ``x`` (NumPy arrays of the
same shape) and integrate with the trapezoid rule, in float64. Where a density is zero the
integrand's limit is used (0 log 0 = 0), so disjoint supports give finite answers.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "optimal_discriminator",
    "integrate",
    "kl_divergence",
    "js_divergence",
    "value_function",
    "optimal_value",
]

LOG4 = float(np.log(4.0))


def _as_grid(*arrays: np.ndarray) -> list[np.ndarray]:
    out = [np.asarray(a, dtype=np.float64) for a in arrays]
    shape = out[0].shape
    for a in out[1:]:
        if a.shape != shape:
            raise ValueError(f"densities and grid must have the same shape, got {shape} and {a.shape}")
    return out


def optimal_discriminator(p_data: np.ndarray, p_g: np.ndarray) -> np.ndarray:
    """D*(x) = p_data(x) / (p_data(x) + p_g(x)), pointwise.

    Where both densities are zero, D* is not determined by the game; we return 1/2 there.
    """
    p_data, p_g = _as_grid(p_data, p_g)
    total = p_data + p_g
    return np.divide(p_data, total, out=np.full_like(total, 0.5), where=total > 0)


def integrate(f: np.ndarray, x: np.ndarray) -> float:
    """Trapezoid rule ∫ f(x) dx on a grid."""
    f, x = _as_grid(f, x)
    return float(np.trapezoid(f, x))


def _xlogy_ratio(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """p log(p / q) with the limit 0 where p = 0 (and +inf where p > 0 = q)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0)


def kl_divergence(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """KL(p || q) = ∫ p log(p / q) dx. Infinite when p has mass where q has none."""
    p, q, x = _as_grid(p, q, x)
    return integrate(_xlogy_ratio(p, q), x)


def js_divergence(p: np.ndarray, q: np.ndarray, x: np.ndarray) -> float:
    """JSD(p || q) = KL(p || m)/2 + KL(q || m)/2 with m = (p + q)/2. Between 0 and log 2."""
    p, q, x = _as_grid(p, q, x)
    m = 0.5 * (p + q)
    return 0.5 * kl_divergence(p, m, x) + 0.5 * kl_divergence(q, m, x)


def value_function(d: np.ndarray, p_data: np.ndarray, p_g: np.ndarray, x: np.ndarray) -> float:
    """V(G, D) = ∫ p_data log D + p_g log(1 - D) dx for a discriminator given on the grid."""
    d, p_data, p_g, x = _as_grid(d, p_data, p_g, x)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 * log 0 is computed, then masked by where
        real = np.where(p_data > 0, p_data * np.log(d), 0.0)
        fake = np.where(p_g > 0, p_g * np.log1p(-d), 0.0)
    return integrate(real + fake, x)


def optimal_value(p_data: np.ndarray, p_g: np.ndarray, x: np.ndarray) -> float:
    """C(G) = max_D V(G, D) = V(G, D*), which equals 2 JSD(p_data || p_g) - log 4.

    Computed from the value function itself, not from the JSD: with log D* = log p_data -
    log(p_data + p_g) written out, so that D* rounding to exactly 1 in the far tails cannot
    produce log 0.
    """
    p_data, p_g, x = _as_grid(p_data, p_g, x)
    total = p_data + p_g
    return integrate(_xlogy_ratio(p_data, total) + _xlogy_ratio(p_g, total), x)
