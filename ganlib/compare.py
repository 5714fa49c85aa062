"""GANs beside VAEs and diffusion models (notebook 09): one way to sample, time and score the three families.

The lecture's comparison table (lecture A, "GANs vs VAEs vs Diffusion"; lecture E, "Comparison to other
generative models") has rows for quality, diversity, stability, likelihood and sampling speed. Each row
becomes a number here, measured the same way for every family:

- :func:`ganlib.sampling.draw` samples n images from a DCGAN generator, a VAE or a DDPM (ancestral or DDIM);
- :func:`seconds_per_image` times that, per image, for a given number of network evaluations;
- :func:`bits_per_dim` is the likelihood bound where one exists (the VAE's negative ELBO, the DDPM's
  variational bound) and ``None`` for a GAN, which defines no density;
- :func:`score` puts the classifier FID, precision, recall and sharpness of a sample next to each other.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from ganlib import forensics, likelihood, metrics
from ganlib.models.vae import elbo_terms
from ganlib.sampling import draw, family_of

__all__ = ["seconds_per_image", "bits_per_dim", "vae_bits_per_dim", "Scores", "score"]


def seconds_per_image(model: nn.Module, *, steps: int | None = None, n: int = 16, repeats: int = 1) -> float:
    """Wall-clock seconds to draw one image, measured on ``n`` images at once (the best of ``repeats``)."""
    best = math.inf
    for _ in range(repeats):
        device = next(model.parameters()).device
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        draw(model, n, generator=torch.Generator().manual_seed(0), steps=steps)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, (time.perf_counter() - started) / n)
    return best


@torch.no_grad()
def vae_bits_per_dim(vae: nn.Module, images: torch.Tensor, *, generator: torch.Generator) -> torch.Tensor:
    """The VAE's negative ELBO per image (N,), in bits per dimension, with one draw of z per image."""
    device = vae.log_scale.device
    x = images.to(device)
    eps = torch.randn(len(x), vae.cfg.latent_dim, generator=generator).to(device)
    mean, mu, logvar = vae(x, eps)
    recon, kl = elbo_terms(x, mean, vae.log_scale, mu, logvar)
    return likelihood.bits_per_dim(kl - recon, x[0].numel()).cpu()


@torch.no_grad()
def bits_per_dim(model: nn.Module, images: torch.Tensor, *, generator: torch.Generator, t_samples: int = 20,
                 batch_size: int = 250) -> float | None:
    """The bound on -log2 p(x) / D averaged over ``images`` (N, C, 32, 32) on the 8-bit grid; None for a GAN.

    The VAE: its negative ELBO. The DDPM: its variational bound, the sum over t estimated from ``t_samples``
    draws of t per image (:meth:`~ganlib.models.diffusion.DDPM.bits_per_dim`).
    """
    family = family_of(model)
    if family == "gan":
        return None
    device = next(model.parameters()).device
    values = []
    for start in range(0, len(images), batch_size):
        x = images[start:start + batch_size]
        values.append(vae_bits_per_dim(model, x, generator=generator) if family == "vae"
                      else model.bits_per_dim(x.to(device), t_samples, generator=generator).cpu())
    return float(torch.cat(values).mean())


@dataclass(frozen=True)
class Scores:
    """One sample's row of the comparison table."""

    fid: float  # classifier FID against the real digits (lower is better)
    precision: float  # fraction of samples inside the real data's k-NN manifold (fidelity)
    recall: float  # fraction of real data inside the samples' manifold (diversity)
    sharpness: float  # high-frequency fraction of the spectral energy (the real digits' is the yardstick)


def score(samples: torch.Tensor, real: torch.Tensor) -> Scores:
    """Classifier FID, precision and recall (:func:`ganlib.metrics.digit_scores`) and sharpness of ``samples``."""
    s = metrics.digit_scores(samples, real=real, device="cpu")
    return Scores(fid=s.fid, precision=s.precision, recall=s.recall,
                  sharpness=forensics.high_frequency_fraction(samples))
