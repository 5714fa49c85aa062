"""Closed forms of the GAN game, computed numerically for 1-D densities on a grid.

For a fixed generator with density p_g, the discriminator that maximises

    V(G, D) = ∫ p_data(x) log D(x) + p_g(x) log(1 - D(x)) dx

is D*(x) = p_data(x) / (p_data(x) + p_g(x)) (Goodfellow et al. 2014, Prop. 1), and plugging it
back in gives V(G, D*) = 2 JSD(p_data || p_g) - log 4 (ibid., Theorem 1).

The density functions take densities evaluated on an evenly spaced 1-D grid ``x`` (NumPy arrays
of the same shape) and integrate with the trapezoid rule, in float64. Where a density is zero the
integrand's limit is used (0 log 0 = 0), so disjoint supports give finite answers.

Which single Gaussian each divergence prefers for multi-modal data (:func:`best_gaussian`, a grid search)
shows what the JSD does and does not force: forward KL(p_data || q) pays without bound for a missed mode and
covers them all with one wide Gaussian; reverse KL(q || p_data) settles on one mode; the JSD's price for a missed
mode is bounded by log 2. The generator's non-saturating loss against D* is mode-seeking:
E_{p_g}[-log D*] = KL(p_g || p_data) - KL(p_g || m) + log 2 (:func:`nonsaturating_objective`; Arjovsky and
Bottou 2017, Sec. 2.2).

The last three functions are about the dynamics of the game rather than its optimum: gradient play
on the bilinear game min_x max_y x y (:func:`bilinear_game`), whose only equilibrium (0, 0) plain
gradient steps never reach. Simultaneous steps spiral out, multiplying :func:`bilinear_energy` by a
fixed factor per iteration; alternating steps, as in the GAN algorithm, conserve
:func:`bilinear_invariant` and circle forever (Mescheder et al. 2018, Sec. 2, the Dirac-GAN).
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
    "gaussian_pdf",
    "nonsaturating_objective",
    "best_gaussian",
    "bilinear_game",
    "bilinear_energy",
    "bilinear_invariant",
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


def gaussian_pdf(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """The density of N(mu, sigma^2) at x."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


def nonsaturating_objective(p_data: np.ndarray, p_g: np.ndarray, x: np.ndarray) -> float:
    """What the non-saturating generator loss E_{p_g}[-log D*(x)] equals against the optimal discriminator:
    KL(p_g || p_data) - KL(p_g || m) + log 2, m = (p_data + p_g) / 2, by the identity
    -log D* = log(2 m / p_data) = log 2 + log(p_g / p_data) - log(p_g / m)."""
    p_data, p_g, x = _as_grid(p_data, p_g, x)
    m = 0.5 * (p_data + p_g)
    return kl_divergence(p_g, p_data, x) - kl_divergence(p_g, m, x) + float(np.log(2.0))


def best_gaussian(p: np.ndarray, x: np.ndarray, divergence, mus, sigmas) -> tuple[float, float, float]:
    """The N(mu, sigma^2), mu in ``mus`` and sigma in ``sigmas``, whose density q on ``x`` minimises
    ``divergence(p, q, x)``: returns (mu, sigma, value). Ties go to the first found, mu in the outer loop."""
    best = (float("nan"), float("nan"), float("inf"))
    for mu in mus:
        for sigma in sigmas:
            value = float(divergence(p, gaussian_pdf(x, mu, sigma), x))
            if value < best[2]:
                best = (float(mu), float(sigma), value)
    return best


# --------------------------------------------------------------------------- the bilinear game


def bilinear_game(x0: float, y0: float, *, lr: float, steps: int, k: int = 1,
                  simultaneous: bool = False) -> np.ndarray:
    """Gradient play on f(x, y) = x y: x (the generator) descends f, y (the discriminator) ascends it.

    The game min_x max_y x y has one equilibrium, (0, 0). One iteration is one step of the GAN
    algorithm: first the discriminator's phase, k ascent steps ``y <- y + lr * x`` with x fixed
    (df/dy = x); then the generator's phase, one descent step ``x <- x - lr * y`` (df/dx = y), where y
    is the value just updated (``simultaneous=False``: alternating play, as in the lecture's algorithm)
    or the value at the start of the iteration (``simultaneous=True``: both players move from the same
    point; with k = 1 this is simultaneous gradient descent-ascent).

    What happens (closed forms, derived in notebook 02 and tested): simultaneous play multiplies
    ``bilinear_energy`` = k x^2 + y^2 by exactly 1 + k lr^2 per iteration, an outward spiral; alternating
    play conserves ``bilinear_invariant`` = k x^2 + y^2 + k lr x y, so for k lr^2 < 4 (an ellipse) it
    orbits the equilibrium forever, and for k lr^2 > 4 it diverges.

    Args:
        x0, y0: the starting point.
        lr: the step size of both players.
        steps: the number of iterations (generator steps).
        k: discriminator steps per generator step.
        simultaneous: whether the generator's step uses y from before the discriminator's phase.

    Returns:
        The trajectory, shape (steps + 1, 2): row n is (x, y) after n iterations, row 0 the start.
    """
    if k < 1 or steps < 0:
        raise ValueError(f"need k >= 1 and steps >= 0, got k={k}, steps={steps}")
    out = np.empty((steps + 1, 2), dtype=np.float64)  # (steps + 1, 2)
    x, y = float(x0), float(y0)
    out[0] = x, y
    for n in range(1, steps + 1):
        y_before = y
        for _ in range(k):  # discriminator phase: ascend f, x held fixed
            y = y + lr * x  # df/dy = x
        x = x - lr * (y_before if simultaneous else y)  # generator phase: descend f, df/dx = y
        out[n] = x, y
    return out


def bilinear_energy(xy: np.ndarray, *, k: int = 1) -> np.ndarray:
    """k x^2 + y^2 for every row (x, y): conserved by continuous-time play, where x' = -y and y' = k x.

    Simultaneous steps (:func:`bilinear_game` with ``simultaneous=True``) multiply it by exactly
    1 + k lr^2 per iteration: expand k (x - lr y)^2 + (y + k lr x)^2, the cross terms cancel.

    Args:
        xy: points, shape (..., 2).
        k: discriminator steps per generator step.

    Returns:
        Shape (...,).
    """
    xy = np.asarray(xy, dtype=np.float64)
    return k * xy[..., 0] ** 2 + xy[..., 1] ** 2


def bilinear_invariant(xy: np.ndarray, *, lr: float, k: int = 1) -> np.ndarray:
    """k x^2 + y^2 + k lr x y for every row (x, y): what alternating play on x y conserves exactly.

    With y' = y + k lr x and x' = x - lr y', substituting shows k x'^2 + y'^2 + k lr x' y' =
    k x^2 + y^2 + k lr x y. For k lr^2 < 4 the quadratic form is positive definite: its level sets are
    ellipses around (0, 0), so the players orbit the equilibrium without reaching it or escaping.

    Args:
        xy: points, shape (..., 2).
        lr: the step size of :func:`bilinear_game`.
        k: discriminator steps per generator step.

    Returns:
        Shape (...,).
    """
    xy = np.asarray(xy, dtype=np.float64)
    return bilinear_energy(xy, k=k) + k * lr * xy[..., 0] * xy[..., 1]
