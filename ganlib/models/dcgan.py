"""DCGAN: the deep convolutional generator and discriminator of Radford et al. (2016).

The architecture follows the paper's rules (lecture A, "Improvements: DCGAN"):

1. no pooling: D downsamples with stride-2 convolutions, G upsamples with stride-2 transposed ones;
2. batch norm everywhere except at G's output layer and D's input layer;
3. no fully connected hidden layers: G's first layer is a transposed convolution from
   ``(B, latent_dim, 1, 1)`` to 4x4, D's last layer a 4x4 convolution down to one logit;
4. ReLU in G, with Tanh on the output;
5. LeakyReLU(0.2) in D.

Weights start from N(0, 0.02) (convolutions) and N(1, 0.02) (batch-norm scales), biases at zero
(paper, Sec. 4). For 32 px images the stack is (``w`` is the width):

    G: z (B, 100) -> (B, 4w, 4, 4) -> (B, 2w, 8, 8) -> (B, w, 16, 16) -> (B, C, 32, 32)
    D: x (B, C, 32, 32) -> (B, w, 16, 16) -> (B, 2w, 8, 8) -> (B, 4w, 4, 4) -> logit (B,)

and 64 px images add one more doubling (8w) at each end. ``D`` returns raw logits: the sigmoid,
or none at all for a Wasserstein critic, lives inside the loss (:mod:`ganlib.losses`).

MNIST and Fashion-MNIST are 28x28: pad them to 32x32 with :func:`ganlib.data.pad_to` before training.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

__all__ = [
    "DCGANConfig",
    "DCGAN_PRESETS",
    "DCGANGenerator",
    "DCGANDiscriminator",
    "build_dcgan",
    "init_dcgan_weights_",
]

_SIZES = (32, 64)
_DOWNSAMPLING = ("stride", "pool")


@dataclass
class DCGANConfig:
    """Sizes and switches of a DCGAN generator and discriminator; see :data:`DCGAN_PRESETS`."""

    latent_dim: int = 100  # size of z
    image_size: int = 32  # 32 or 64 (square images)
    channels: int = 1  # 1 (MNIST, Fashion-MNIST) or 3 (CIFAR-10, CelebA)
    g_width: int = 64  # channels of G's last hidden layer (doubles toward the input)
    d_width: int = 64  # channels of D's first layer (doubles with depth)
    leaky_slope: float = 0.2  # LeakyReLU slope in D (paper: 0.2)
    g_batchnorm: bool = True  # BN after G's hidden layers; off for the "without batch norm" experiment
    # BN after D's hidden layers. Turn it off for WGAN-GP: the gradient penalty is a per-sample
    # quantity, and batch norm couples the samples of a batch (Gulrajani et al. 2017, Sec. 4).
    d_batchnorm: bool = True
    spectral_norm: bool = False  # spectral normalisation of every D layer (Miyato et al. 2018); D then has no BN
    downsample: str = "stride"  # D's downsampling: "stride" (the DCGAN rule) or "pool" (the counter-example)

    def __post_init__(self) -> None:
        if self.image_size not in _SIZES:
            raise ValueError(f"image_size must be one of {_SIZES}, got {self.image_size}")
        if self.downsample not in _DOWNSAMPLING:
            raise ValueError(f"downsample must be one of {_DOWNSAMPLING}, got {self.downsample!r}")
        for name in ("latent_dim", "channels", "g_width", "d_width"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")

    @property
    def n_doublings(self) -> int:
        """Number of stride-2 stages between 4x4 and the image: 3 at 32 px, 4 at 64 px."""
        return int(math.log2(self.image_size)) - 2

    @property
    def d_uses_batchnorm(self) -> bool:
        """Whether D's hidden layers carry batch norm: asked for, and not replaced by spectral norm."""
        return self.d_batchnorm and not self.spectral_norm


DCGAN_PRESETS: dict[str, DCGANConfig] = {
    # MNIST / Fashion-MNIST padded to 32x32, in [-1, 1]. Width 32 keeps a batch-64 step of G and D
    # near 0.1 s on two CPU cores (G 0.37 M, D 0.17 M parameters).
    "mnist32": DCGANConfig(latent_dim=100, image_size=32, channels=1, g_width=32, d_width=32),
    # CIFAR-10: colour 32x32, the paper's width.
    "cifar32": DCGANConfig(latent_dim=100, image_size=32, channels=3, g_width=64, d_width=64),
    # CelebA (or LSUN) at 64x64: the architecture of the paper's Figure 1.
    "celeba64": DCGANConfig(latent_dim=100, image_size=64, channels=3, g_width=64, d_width=64),
}


def init_dcgan_weights_(module: nn.Module) -> None:
    """Initialise every layer of ``module`` in place as the DCGAN paper does (Sec. 4).

    Convolution and transposed-convolution weights ~ N(0, 0.02); batch-norm scales ~ N(1, 0.02);
    all biases 0. Layers are found by type, never by class name. Call it before spectral norm is
    applied (a parametrized weight is computed, not stored).

    Args:
        module: a network, or a single layer.
    """
    # no_grad inside rather than as a decorator: a plain function, which the delegation checks can disable
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(m.weight, mean=0.0, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, mean=1.0, std=0.02)
                nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """G(z): latent (B, latent_dim) -> image (B, channels, image_size, image_size) in [-1, 1]."""

    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.cfg = cfg
        bn = cfg.g_batchnorm
        # Hidden widths from the 4x4 layer outward: 4w, 2w, w at 32 px; 8w, 4w, 2w, w at 64 px.
        widths = [cfg.g_width * 2 ** i for i in reversed(range(cfg.n_doublings))]
        layers: list[nn.Module] = [
            # Project and reshape, as a convolution: (B, latent_dim, 1, 1) -> (B, widths[0], 4, 4).
            # A layer followed by batch norm needs no bias: BN's shift replaces it.
            nn.ConvTranspose2d(cfg.latent_dim, widths[0], kernel_size=4, stride=1, padding=0, bias=not bn),
        ]
        if bn:
            layers.append(nn.BatchNorm2d(widths[0]))
        layers.append(nn.ReLU())
        for n_in, n_out in zip(widths[:-1], widths[1:]):  # each doubles H and W
            layers.append(nn.ConvTranspose2d(n_in, n_out, kernel_size=4, stride=2, padding=1, bias=not bn))
            if bn:
                layers.append(nn.BatchNorm2d(n_out))
            layers.append(nn.ReLU())
        # Output layer: no batch norm (DCGAN rule 2), Tanh to land in [-1, 1].
        layers.append(nn.ConvTranspose2d(widths[-1], cfg.channels, kernel_size=4, stride=2, padding=1, bias=True))
        layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        init_dcgan_weights_(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Generate images.

        Args:
            z: latent codes, shape (B, latent_dim); (B, latent_dim, 1, 1) is accepted too.

        Returns:
            Images of shape (B, channels, image_size, image_size), values in [-1, 1].
        """
        cfg = self.cfg
        assert (z.ndim == 2 and z.shape[1] == cfg.latent_dim) or (
            z.ndim == 4 and tuple(z.shape[1:]) == (cfg.latent_dim, 1, 1)
        ), f"G expects z of shape (B, {cfg.latent_dim}), got {tuple(z.shape)}"
        return self.net(z.reshape(z.shape[0], cfg.latent_dim, 1, 1))  # (B, C, H, W)


class DCGANDiscriminator(nn.Module):
    """D(x): image (B, channels, image_size, image_size) -> logit (B,). No sigmoid here.

    With ``downsample="pool"`` every stride-2 convolution becomes a 3x3 stride-1 convolution
    followed by ``AvgPool2d(2)``, the classifier pattern that DCGAN replaced; the spatial sizes
    stay the same, the hidden convolutions have 9 rather than 16 weights per channel pair.
    """

    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.cfg = cfg
        bn = cfg.d_uses_batchnorm
        # Widths from the input inward: w, 2w, 4w at 32 px; w, 2w, 4w, 8w at 64 px.
        widths = [cfg.d_width * 2 ** i for i in range(cfg.n_doublings)]
        layers: list[nn.Module] = []
        convs: list[nn.Conv2d] = []
        for i, (n_in, n_out) in enumerate(zip([cfg.channels, *widths[:-1]], widths)):  # each halves H and W
            norm = bn and i > 0  # no batch norm on the input layer (DCGAN rule 2)
            if cfg.downsample == "stride":
                conv = nn.Conv2d(n_in, n_out, kernel_size=4, stride=2, padding=1, bias=not norm)
                layers.append(conv)
            else:
                conv = nn.Conv2d(n_in, n_out, kernel_size=3, stride=1, padding=1, bias=not norm)
                layers += [conv, nn.AvgPool2d(kernel_size=2)]
            convs.append(conv)
            if norm:
                layers.append(nn.BatchNorm2d(n_out))
            layers.append(nn.LeakyReLU(negative_slope=cfg.leaky_slope))
        # Output layer: (B, widths[-1], 4, 4) -> (B, 1, 1, 1), one logit per image, no sigmoid.
        last = nn.Conv2d(widths[-1], 1, kernel_size=4, stride=1, padding=0, bias=True)
        layers.append(last)
        convs.append(last)
        init_dcgan_weights_(nn.ModuleList(layers))
        if cfg.spectral_norm:  # W -> W / sigma(W), sigma by one power iteration per training step
            for conv in convs:
                _spectral_norm(conv)  # in place: the module becomes a ParametrizedConv2d
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Score images.

        Args:
            x: images, shape (B, channels, image_size, image_size).

        Returns:
            Logits of shape (B,): ``D(x) = sigmoid(logit)`` for the GAN losses, or the critic's
            score f(x) for the Wasserstein ones.
        """
        cfg = self.cfg
        expected = (cfg.channels, cfg.image_size, cfg.image_size)
        assert x.ndim == 4 and tuple(x.shape[1:]) == expected, (
            f"D expects images of shape (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}"
        )
        return self.net(x).reshape(x.shape[0])  # (B, 1, 1, 1) -> (B,)


def build_dcgan(cfg: DCGANConfig | str = "mnist32", **overrides) -> tuple[DCGANGenerator, DCGANDiscriminator]:
    """Build a (G, D) pair from a config or a preset name, with optional field overrides.

    Example: ``G, D = build_dcgan("mnist32", d_batchnorm=False)`` for a WGAN-GP critic.

    Args:
        cfg: a :class:`DCGANConfig`, or the name of one in :data:`DCGAN_PRESETS`.
        **overrides: config fields to replace, e.g. ``spectral_norm=True``.

    Returns:
        ``(G, D)``, on the CPU in float32; move them with ``.to(device)``.
    """
    if isinstance(cfg, str):
        if cfg not in DCGAN_PRESETS:
            raise ValueError(f"unknown DCGAN preset {cfg!r}; choose one of: {', '.join(DCGAN_PRESETS)}")
        cfg = DCGAN_PRESETS[cfg]
    cfg = dataclasses.replace(cfg, **overrides)  # a fresh, validated copy: presets stay untouched
    return DCGANGenerator(cfg), DCGANDiscriminator(cfg)
