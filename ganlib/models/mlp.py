"""Multi-layer perceptron generator and discriminator: the models of the original GAN paper.

Used for the 2-D toy distributions and for flattened MNIST digits. ``G`` maps a latent vector
``z ~ N(0, I)`` to a sample of ``out_shape``; ``D`` maps a sample to one logit per example
(``D(x) = sigmoid(logit)``; the sigmoid lives inside the loss). With ``spectral_norm=True`` every
linear layer of ``D`` is divided by its largest singular value (Miyato et al. 2018), which makes
``D`` (a critic, then) at most 1-Lipschitz: the third way, after weight clipping and the gradient
penalty, to constrain a Wasserstein critic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm


@dataclass
class MLPConfig:
    """Sizes and switches of an MLP generator and discriminator; see :data:`MLP_PRESETS`."""

    latent_dim: int = 2  # size of z
    data_shape: tuple[int, ...] = (2,)  # shape of one sample: (2,) for points, (1, 28, 28) for MNIST
    g_hidden: tuple[int, ...] = (128, 128, 128)  # generator hidden widths
    d_hidden: tuple[int, ...] = (128, 128, 128)  # discriminator hidden widths
    leaky_slope: float = 0.2  # LeakyReLU slope in D
    g_batchnorm: bool = False  # BatchNorm1d after G's hidden layers: steadies the MNIST generator
    tanh_output: bool = False  # squash G's output to [-1, 1] (images); points are unbounded
    spectral_norm: bool = False  # divide each D weight by its largest singular value (Miyato et al. 2018)


MLP_PRESETS: dict[str, MLPConfig] = {
    # 2-D toy distributions (ring of 8, grid of 25): small nets, unbounded output.
    "toy2d": MLPConfig(),
    # 28x28 grey-scale digits scaled to [-1, 1].
    # Sized so that a few thousand steps run in about a minute on two CPU cores.
    "mnist": MLPConfig(
        latent_dim=64,
        data_shape=(1, 28, 28),
        g_hidden=(128, 256, 512),
        d_hidden=(256, 128),
        g_batchnorm=True,  # without it this G collapses to one blurry digit within 2,000 steps
        tanh_output=True,
    ),
}


def _mlp(widths: list[int], hidden_act: nn.Module, batchnorm: bool = False) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(widths) - 2:  # hidden layer: [norm], activation; the last layer stays linear
            if batchnorm:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(hidden_act)
    return layers


class MLPGenerator(nn.Module):
    """G(z): latent (B, latent_dim) -> sample (B, *data_shape)."""

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        self.cfg = cfg
        out_features = math.prod(cfg.data_shape)
        layers = _mlp([cfg.latent_dim, *cfg.g_hidden, out_features], nn.ReLU(), cfg.g_batchnorm)
        if cfg.tanh_output:
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        assert z.ndim == 2 and z.shape[1] == self.cfg.latent_dim, (
            f"G expects z of shape (B, {self.cfg.latent_dim}), got {tuple(z.shape)}"
        )
        return self.net(z).view(z.shape[0], *self.cfg.data_shape)  # (B, *data_shape)


class MLPDiscriminator(nn.Module):
    """D(x): sample (B, *data_shape) -> logit (B,). Ends in a linear layer: no sigmoid here.

    With ``cfg.spectral_norm`` each linear layer computes ``x @ (W / sigma(W)).T + b``, where
    ``sigma(W)``, W's spectral norm, is estimated by one step of power iteration per forward pass in
    training mode (``torch.nn.utils.parametrizations.spectral_norm``). LeakyReLU is 1-Lipschitz, so
    D is then at most 1-Lipschitz.
    """

    def __init__(self, cfg: MLPConfig):
        super().__init__()
        self.cfg = cfg
        in_features = math.prod(cfg.data_shape)
        layers = _mlp([in_features, *cfg.d_hidden, 1], nn.LeakyReLU(cfg.leaky_slope))
        if cfg.spectral_norm:  # W -> W / sigma(W): each layer, hence D, at most 1-Lipschitz
            layers = [_spectral_norm(m) if isinstance(m, nn.Linear) else m for m in layers]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert tuple(x.shape[1:]) == tuple(self.cfg.data_shape), (
            f"D expects samples of shape (B, {', '.join(map(str, self.cfg.data_shape))}), got {tuple(x.shape)}"
        )
        return self.net(x.flatten(1)).squeeze(1)  # (B,)


def build_mlp_gan(cfg: MLPConfig | str = "toy2d", **overrides) -> tuple[MLPGenerator, MLPDiscriminator]:
    """Build a (G, D) pair from a config or a preset name, with optional field overrides.

    Example: ``G, D = build_mlp_gan("toy2d", latent_dim=8)``.
    """
    if isinstance(cfg, str):
        if cfg not in MLP_PRESETS:
            raise ValueError(f"unknown MLP preset {cfg!r}; choose one of: {', '.join(MLP_PRESETS)}")
        cfg = MLP_PRESETS[cfg]
    fields = {**cfg.__dict__, **overrides}
    cfg = MLPConfig(**fields)
    return MLPGenerator(cfg), MLPDiscriminator(cfg)
