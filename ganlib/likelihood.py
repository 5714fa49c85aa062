"""Log-likelihoods of 8-bit images, for the models that have one (the VAE and the DDPM of notebook 09).

Images in ganlib live in [-1, 1] on a grid of 256 values (x = k / 127.5 - 1 for k = 0 .. 255). A density
for such data is turned into a probability by integrating it over each value's bin, of half-width
1/255, with the two outermost bins reaching to -inf and +inf (Ho et al. 2020, Sec. 3.3, Eq. 13):

    p(x | mean, scale) = Phi((x + 1/255 - mean) / scale) - Phi((x - 1/255 - mean) / scale)

so log-likelihoods are those of the discrete data and can be compared across models in *bits per
dimension*: -log2 p(x) / D, with D = C * H * W. A GAN defines no density and has no such number.
"""

from __future__ import annotations

import math

import torch

__all__ = ["BIN_HALF_WIDTH", "discretized_gaussian_log_likelihood", "normal_kl", "bits_per_dim"]

BIN_HALF_WIDTH = 1.0 / 255.0  # half of one 8-bit step on [-1, 1]


def _log_normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return torch.special.log_ndtr(x)  # log Phi(x), accurate far into the lower tail


def discretized_gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """log P(x) per pixel of 8-bit images x in [-1, 1] under N(mean, exp(log_scale)^2) integrated over x's bin.

    Args:
        x: (B, C, H, W) on the 8-bit grid; mean: same shape; log_scale: broadcastable to it.

    Returns:
        (B, C, H, W) log-probabilities in nats (each <= 0).
    """
    assert x.shape == mean.shape, f"x {tuple(x.shape)} and mean {tuple(mean.shape)} must have one shape"
    inv_scale = torch.exp(-log_scale)
    upper = (x - mean + BIN_HALF_WIDTH) * inv_scale  # standardised edges of x's bin
    lower = (x - mean - BIN_HALF_WIDTH) * inv_scale
    # Phi(upper) - Phi(lower), taken on the side of the mean where the CDF is small (Phi(-l) - Phi(-u) above
    # the mean), as log Phi(a) + log(1 - Phi(b) / Phi(a)) with b < a: no cancellation in the tails
    above = x > mean
    a, b = torch.where(above, -lower, upper), torch.where(above, -upper, lower)
    log_a = _log_normal_cdf(a)
    log_mass = log_a + torch.log((-torch.expm1(_log_normal_cdf(b) - log_a)).clamp_min(1e-30))
    return torch.where(x < -1 + BIN_HALF_WIDTH, _log_normal_cdf(upper),  # the lowest bin reaches to -inf
                       torch.where(x > 1 - BIN_HALF_WIDTH, _log_normal_cdf(-lower), log_mass))  # the highest to +inf


def normal_kl(mean1: torch.Tensor, logvar1: torch.Tensor, mean2: torch.Tensor | float,
              logvar2: torch.Tensor | float) -> torch.Tensor:
    """KL(N(mean1, exp(logvar1)) || N(mean2, exp(logvar2))) element-wise, in nats (closed form)."""
    mean2, logvar2 = torch.as_tensor(mean2), torch.as_tensor(logvar2)
    return 0.5 * (logvar2 - logvar1 + torch.exp(logvar1 - logvar2) + (mean1 - mean2).pow(2) * torch.exp(-logvar2) - 1)


def bits_per_dim(nats_per_image: torch.Tensor, dims: int) -> torch.Tensor:
    """-log p(x) in nats per image -> bits per dimension: nats / (D ln 2)."""
    return nats_per_image / (dims * math.log(2.0))
