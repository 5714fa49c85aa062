"""Toy distributions with a known density: equal-weight isotropic Gaussian mixtures.

A notebook can plot the true ``p_data`` of a :class:`GaussianMixture`, the optimal discriminator, and
count how many modes a generator covers (:func:`count_modes`). ``ring8`` and ``grid25`` are the two
classic mode-collapse benchmarks (:data:`TOY_DATASETS`); ``mixture1d`` is the 1-D example of the theory
notebook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from scipy.special import logsumexp

__all__ = ["ArrayLike", "GaussianMixture", "ring8", "grid25", "mixture1d", "ModeCoverage", "count_modes",
           "TOY_DATASETS"]

ArrayLike = np.ndarray | torch.Tensor


def _as_points(x: ArrayLike, dim: int, what: str) -> np.ndarray:
    """Turn ``x`` into a float64 array of shape (N, dim); (N,) is accepted when dim == 1."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1 and dim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != dim:
        expected = "(N, 1) or (N,)" if dim == 1 else f"(N, {dim})"
        raise ValueError(f"{what} must have shape {expected} for a {dim}-D mixture, got {tuple(x.shape)}")
    return x  # (N, d)


@dataclass(frozen=True, eq=False)  # eq=False: tensor fields cannot be compared with ==
class GaussianMixture:
    """An equal-weight mixture of isotropic Gaussians in ``d`` dimensions:

    p(x) = 1/K * sum_k N(x; mu_k, std^2 I)

    Attributes:
        means: (K, d) float32 mode centres (stored on the CPU).
        std: the standard deviation of every component, in every direction.
        name: a label for plots and logs.
    """

    means: torch.Tensor  # (K, d)
    std: float
    name: str = "mixture"

    def __post_init__(self) -> None:
        means = torch.as_tensor(self.means).detach().to("cpu", torch.float32).contiguous()
        if means.ndim != 2 or means.shape[0] < 1 or means.shape[1] < 1:
            raise ValueError(f"means must have shape (K, d) with K, d >= 1, got {tuple(means.shape)}; "
                             "for a 1-D mixture pass shape (K, 1)")
        if not (math.isfinite(self.std) and self.std > 0):
            raise ValueError(f"std must be a positive number, got {self.std}")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "std", float(self.std))

    @property
    def dim(self) -> int:
        """The dimension ``d`` of a sample."""
        return self.means.shape[1]

    @property
    def n_modes(self) -> int:
        """The number of components ``K``."""
        return self.means.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` points.

        Args:
            n: how many points.
            generator: a CPU ``torch.Generator``, the only source of randomness used (the global
                generator when ``None``).

        Returns:
            (n, d) float32 tensor on the CPU.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        modes = torch.randint(self.n_modes, (n,), generator=generator)  # (n,)
        noise = torch.randn(n, self.dim, generator=generator)  # (n, d)
        return self.means[modes] + self.std * noise  # (n, d)

    def pdf(self, x: ArrayLike) -> np.ndarray:
        """The density p(x), computed in float64 with a log-sum-exp (no underflow near modes).

        Args:
            x: points, shape (N, d), or (N,) when d == 1; a numpy array or a tensor.

        Returns:
            (N,) float64 array of densities.
        """
        x = _as_points(x, self.dim, "x")  # (N, d)
        means = self.means.numpy().astype(np.float64)  # (K, d)
        var = self.std ** 2
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * var)
        # log N(x; mu_k, var I), one mode at a time to keep memory at (N, K)
        log_comp = np.stack([-0.5 * ((x - mu) ** 2).sum(axis=1) / var for mu in means], axis=1)  # (N, K)
        return np.exp(logsumexp(log_comp, axis=1) - math.log(self.n_modes) + log_norm)  # (N,)


def ring8(radius: float = 2.0, std: float = 0.02) -> GaussianMixture:
    """Eight modes evenly spaced on a circle (the mode-collapse benchmark of Metz et al. 2017).

    Args:
        radius: radius of the circle.
        std: standard deviation of each mode.

    Returns:
        A 2-D :class:`GaussianMixture` named ``"ring8"``; mode k sits at angle k * 45 degrees.
    """
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)  # (8,)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)  # (8, 2)
    return GaussianMixture(means.float(), std, "ring8")


def grid25(spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """A 5 x 5 grid of modes centred at the origin (coordinates -2..2 times ``spacing``).

    Args:
        spacing: distance between neighbouring modes.
        std: standard deviation of each mode.

    Returns:
        A 2-D :class:`GaussianMixture` named ``"grid25"``.
    """
    coords = torch.arange(-2, 3, dtype=torch.float32) * spacing  # (5,)
    xs, ys = torch.meshgrid(coords, coords, indexing="ij")
    means = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)  # (25, 2)
    return GaussianMixture(means, std, "grid25")


def mixture1d(means: tuple[float, ...] = (-2.0, 1.0, 3.0), std: float = 0.5) -> GaussianMixture:
    """The 1-D mixture of the theory notebook (optimal discriminator, divergences).

    Args:
        means: the mode centres.
        std: standard deviation of each mode.

    Returns:
        A 1-D :class:`GaussianMixture` named ``"mixture1d"`` (``means`` has shape (K, 1)).
    """
    return GaussianMixture(torch.tensor(means, dtype=torch.float32).reshape(-1, 1), std, "mixture1d")


@dataclass(frozen=True, eq=False)  # eq=False: an ndarray field cannot be compared with ==
class ModeCoverage:
    """How well a set of samples covers the modes of a mixture (see :func:`count_modes`).

    Attributes:
        n_modes: modes that received at least ``min_count`` high-quality samples.
        total_modes: the number of modes of the mixture.
        high_quality: fraction of samples within ``n_std * std`` of their nearest mode.
        counts: (K,) high-quality samples assigned to each mode (its nearest mode).
    """

    n_modes: int
    total_modes: int
    high_quality: float
    counts: np.ndarray  # (K,)

    def __str__(self) -> str:
        return f"{self.n_modes}/{self.total_modes} modes, {self.high_quality:.0%} high-quality samples"


def count_modes(
    samples: ArrayLike,
    mixture: GaussianMixture,
    n_std: float = 3.0,
    min_count: int | None = None,
) -> ModeCoverage:
    """Count the modes a generator covers, by the protocol of Unrolled GAN / VEEGAN.

    Each sample is assigned to its nearest mode. It is *high quality* if it lies within
    ``n_std * std`` (Euclidean distance) of that mode; 3 std is the threshold of Metz et al.
    (2017) and Srivastava et al. (2017). A mode is *covered* if it received at least ``min_count``
    high-quality samples. By default that is 20% of a mode's fair share,
    ``max(1, round(0.2 * N / K))``: a handful of stray samples does not count as covering a mode,
    but a mode that gets a fifth of what the true distribution would give it does.

    Note: in d dimensions a true sample lies within 3 std of its mode with probability
    P(chi2_d <= 9), which is 98.9% for d = 2; expect slightly under 100% even for real data.

    Args:
        samples: (N, d) points (numpy or tensor); (N,) when d == 1.
        mixture: the target distribution.
        n_std: the distance threshold in units of ``mixture.std``.
        min_count: high-quality samples a mode needs to count as covered (default above).

    Returns:
        A :class:`ModeCoverage`; ``str()`` of it reads e.g. ``"7/8 modes, 93% high-quality samples"``.
    """
    x = _as_points(samples, mixture.dim, "samples")  # (N, d)
    n, k = len(x), mixture.n_modes
    if n == 0:
        raise ValueError("samples is empty; pass at least one sample")
    if min_count is None:
        min_count = max(1, round(0.2 * n / k))
    means = mixture.means.numpy().astype(np.float64)  # (K, d)
    sq_dist = np.stack([((x - mu) ** 2).sum(axis=1) for mu in means], axis=1)  # (N, K)
    nearest = sq_dist.argmin(axis=1)  # (N,)
    near_enough = np.sqrt(sq_dist[np.arange(n), nearest]) <= n_std * mixture.std  # (N,)
    counts = np.bincount(nearest[near_enough], minlength=k)  # (K,)
    return ModeCoverage(
        n_modes=int((counts >= min_count).sum()),
        total_modes=k,
        high_quality=float(near_enough.mean()),
        counts=counts,
    )


#: name -> factory of the toy 2-D datasets that :func:`make_batches` knows.
TOY_DATASETS: dict[str, Callable[[], GaussianMixture]] = {"ring8": ring8, "grid25": grid25}
