"""A small convolutional variational autoencoder (Kingma and Welling 2014), for notebook 09.

The encoder maps an image to the mean and log-variance of a diagonal Gaussian q(z | x); a latent is
drawn with the reparameterisation trick, z = mu + sigma * eps with eps ~ N(0, I), so that gradients flow
through mu and sigma; the decoder maps z to the mean of p(x | z). The model is trained by maximising the
evidence lower bound (ELBO), a lower bound on log p(x) (Kingma and Welling 2014, Eq. 3):

    log p(x) >= ELBO(x) = E_q(z|x)[log p(x | z)] - KL(q(z | x) || N(0, I))

p(x | z) is the *discretised* Gaussian of Ho et al. (2020, Sec. 3.3): each 8-bit pixel value gets the
probability mass of its bin under N(mean, scale^2), so the ELBO is a bound on the probability of the
8-bit data itself and, in bits per dimension, comparable with the DDPM's bound
(:func:`ganlib.models.diffusion.bits_per_dim`). The scale is one learned number per channel. A GAN has
no such number: it defines no density.

For 32 px images (``w`` is the width)::

    encoder: x (B, C, 32, 32) -> (B, w, 16, 16) -> (B, 2w, 8, 8) -> (B, 4w, 4, 4) -> mu, logvar (B, latent_dim)
    decoder: z (B, latent_dim) -> (B, 4w, 4, 4) -> (B, 2w, 8, 8) -> (B, w, 16, 16) -> mean (B, C, 32, 32)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ganlib import likelihood

__all__ = ["VAEConfig", "VAE", "reparameterize", "elbo_terms"]


@dataclass
class VAEConfig:
    """Sizes of the VAE."""

    channels: int = 1  # 1 (digits) or 3
    image_size: int = 32  # 32 (MNIST padded from 28)
    latent_dim: int = 16  # size of z
    width: int = 32  # channels of the first encoder layer (doubles with depth)
    init_log_scale: float = math.log(0.3)  # start of the decoder's per-channel log standard deviation

    def __post_init__(self) -> None:
        if self.image_size != 32:
            raise ValueError(f"the VAE is built for 32 px images (pad MNIST's 28 px), got {self.image_size}")
        for name in ("channels", "latent_dim", "width"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps with sigma = exp(logvar / 2): a draw from N(mu, sigma^2) that is differentiable
    in mu and logvar (Kingma and Welling 2014, Sec. 2.4). All (B, latent_dim)."""
    return mu + torch.exp(0.5 * logvar) * eps


def elbo_terms(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor, mu: torch.Tensor,
               logvar: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two terms of the ELBO per image, in nats: (reconstruction log-likelihood, KL), each (B,).

    Args:
        x: images (B, C, H, W) in [-1, 1] on the 8-bit grid.
        mean: the decoder's mean (B, C, H, W); log_scale: its log standard deviation, broadcastable.
        mu, logvar: q(z | x)'s parameters (B, latent_dim).
    """
    recon = likelihood.discretized_gaussian_log_likelihood(x, mean, log_scale).flatten(1).sum(1)  # log p(x | z)
    kl = likelihood.normal_kl(mu, logvar, 0.0, 0.0).sum(1)  # KL(N(mu, sigma^2) || N(0, I)), closed form
    return recon, kl


class VAE(nn.Module):
    """Encoder, decoder and the decoder's scale. ``forward(x, eps)`` returns (mean, mu, logvar)."""

    def __init__(self, cfg: VAEConfig | None = None):
        super().__init__()
        self.cfg = cfg = cfg or VAEConfig()
        w, C = cfg.width, cfg.channels
        act = lambda: nn.LeakyReLU(0.2)
        self.encoder = nn.Sequential(
            nn.Conv2d(C, w, 4, 2, 1), act(),  # (B, w, 16, 16)
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), act(),  # (B, 2w, 8, 8)
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.BatchNorm2d(4 * w), act(),  # (B, 4w, 4, 4)
            nn.Flatten(),
        )
        self.to_stats = nn.Linear(4 * w * 16, 2 * cfg.latent_dim)  # mu and logvar
        self.from_z = nn.Linear(cfg.latent_dim, 4 * w * 16)
        self.decoder = nn.Sequential(
            nn.BatchNorm2d(4 * w), nn.ReLU(),
            nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.ReLU(),  # (B, 2w, 8, 8)
            nn.ConvTranspose2d(2 * w, w, 4, 2, 1), nn.BatchNorm2d(w), nn.ReLU(),  # (B, w, 16, 16)
            nn.ConvTranspose2d(w, C, 4, 2, 1),  # (B, C, 32, 32): the mean of p(x | z)
        )
        self.log_scale = nn.Parameter(torch.full((1, C, 1, 1), cfg.init_log_scale))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | x): (mu, logvar), each (B, latent_dim)."""
        assert x.ndim == 4 and x.shape[1:] == (self.cfg.channels, 32, 32), f"expected (B, {self.cfg.channels}, 32, 32), got {tuple(x.shape)}"
        mu, logvar = self.to_stats(self.encoder(x)).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)  # keeps exp(logvar) finite early in training

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The mean of p(x | z), (B, C, 32, 32)."""
        w = self.cfg.width
        return self.decoder(self.from_z(z).view(-1, 4 * w, 4, 4))

    def forward(self, x: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar, eps)), mu, logvar

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n images from the prior: the decoder's mean at z ~ N(0, I), clamped to [-1, 1], (n, C, 32, 32).

        The mean, not a draw of p(x | z): the usual way to show a VAE's samples (a draw adds pixel noise)."""
        device = self.log_scale.device
        z = torch.randn(n, self.cfg.latent_dim, generator=generator).to(device)
        return self.decode(z).clamp(-1, 1)
