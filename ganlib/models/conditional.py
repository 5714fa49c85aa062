"""Conditional GANs: class-conditional DCGANs and the pix2pix pair for image-to-image translation.

A conditional GAN gives both players the auxiliary information ``y`` (lecture B, "Conditional
GANs"; Mirza & Osindero 2014):

    min_G max_D  E_{x ~ p_data}[log D(x | y)] + E_{z ~ p_z}[log(1 - D(G(z | y) | y))]

so G learns to generate a chosen class, and D judges both realism and agreement with ``y``
(lecture C, "Conditional GANs"). This file holds two families that share that objective.

Class labels, ``y`` an int64 tensor (B,) with values in [0, n_classes):

* :class:`ConditionalGenerator`: the label is embedded, ``nn.Embedding(n_classes, embed_dim)``,
  concatenated to ``z``, and the DCGAN transposed-convolution stack does the rest::

      [z (B, latent_dim), embed(y) (B, embed_dim)] -> (B, 4w, 4, 4) -> (B, 2w, 8, 8)
          -> (B, w, 16, 16) -> (B, C, 32, 32) in [-1, 1]

* :class:`ConcatDiscriminator`: input concatenation. ``embed(y)`` is broadcast to constant
  channels (B, embed_dim, H, W), stacked onto the image, and a DCGAN discriminator scores the
  (B, C + embed_dim, H, W) result.
* :class:`ProjectionDiscriminator` (Miyato & Koyama 2018): a convolutional trunk with global sum
  pooling gives features ``phi(x)`` (B, F), and the label enters only at the end, through an
  inner product: ``logit = psi(phi(x)) + <embed(y), phi(x)>`` (their Eq. 3), with ``psi`` linear.
  Spectral norm of every layer (``spectral_norm=True``) is the paper's companion.

Paired images, pix2pix (Isola et al. 2017; lecture C, "Pix2pix"):

* :class:`UNetGenerator`: an encoder-decoder whose decoder layers also receive the encoder
  layer of the same size (skip connections), so low-level detail such as edges crosses directly
  from the input to the output. Dropout in the innermost decoder layers is G's only noise.
* :class:`PatchDiscriminator`: a fully convolutional D that returns a map of logits, one per
  overlapping patch (70x70 pixels with ``n_layers=3``); it judges local texture and leaves the
  low frequencies to the L1 term of the pix2pix loss. It lives in :mod:`ganlib.models.patchgan`,
  shared with CycleGAN (where it runs without a condition), and is re-exported here with
  :func:`receptive_field` and :func:`patch_map_size`.

Every D returns raw logits; the sigmoid lives inside the loss (:mod:`ganlib.losses`).
Convolutions start from N(0, 0.02) as in DCGAN (:func:`ganlib.models.dcgan.init_dcgan_weights_`),
which pix2pix also uses (Isola et al. 2017, Sec. 3.3).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from ganlib.models.dcgan import init_dcgan_weights_
from ganlib.models.patchgan import PatchDiscriminator, patch_map_size, receptive_field  # re-exported

__all__ = [
    "ConditionalConfig",
    "CONDITIONAL_PRESETS",
    "ConditionalGenerator",
    "ConcatDiscriminator",
    "ProjectionDiscriminator",
    "build_conditional_gan",
    "init_conditional_weights_",
    "UNetGenerator",
    "PatchDiscriminator",
    "receptive_field",
    "patch_map_size",
]

_SIZES = (32, 64)
_DISCRIMINATOR_NAMES = ("projection", "concat")


# =============================================================================================
# Class-conditional DCGAN
# =============================================================================================


@dataclass
class ConditionalConfig:
    """Sizes and switches of a class-conditional G and D; see :data:`CONDITIONAL_PRESETS`."""

    latent_dim: int = 64  # size of z
    n_classes: int = 10  # number of class labels, y in [0, n_classes)
    embed_dim: int = 16  # size of the label embedding in G (joined to z) and in the concat D (extra channels)
    image_size: int = 32  # 32 or 64 (square images)
    channels: int = 1  # 1 (MNIST, Fashion-MNIST) or 3 (CIFAR-10)
    g_width: int = 32  # channels of G's last hidden layer (doubles toward the input)
    d_width: int = 32  # channels of D's first layer (doubles with depth)
    leaky_slope: float = 0.2  # LeakyReLU slope in D
    d_batchnorm: bool = True  # BN after D's hidden layers (off for a gradient penalty)
    spectral_norm: bool = False  # spectral norm of every D layer, embedding included; D then has no BN

    def __post_init__(self) -> None:
        if self.image_size not in _SIZES:
            raise ValueError(f"image_size must be one of {_SIZES}, got {self.image_size}")
        for name in ("latent_dim", "n_classes", "embed_dim", "channels", "g_width", "d_width"):
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

    @property
    def feature_dim(self) -> int:
        """F, the size of the projection discriminator's features phi(x): its last conv width."""
        return self.d_width * 2 ** (self.n_doublings - 1)


CONDITIONAL_PRESETS: dict[str, ConditionalConfig] = {
    # MNIST / Fashion-MNIST padded to 32x32, 10 classes; small enough for a CPU.
    "mnist32": ConditionalConfig(latent_dim=64, n_classes=10, embed_dim=16, image_size=32, channels=1,
                                 g_width=32, d_width=32),
    # CIFAR-10: colour, the DCGAN width, and spectral norm, the projection paper's recipe.
    "cifar32": ConditionalConfig(latent_dim=128, n_classes=10, embed_dim=32, image_size=32, channels=3,
                                 g_width=64, d_width=64, spectral_norm=True),
}


@torch.no_grad()
def init_conditional_weights_(module: nn.Module, embedding_std: float = 1.0) -> None:
    """Initialise ``module`` in place: the DCGAN init, plus linear layers and label embeddings.

    Convolutions ~ N(0, 0.02) and batch-norm scales ~ N(1, 0.02) (:func:`init_dcgan_weights_`);
    linear weights ~ N(0, 0.02); embeddings ~ N(0, ``embedding_std``); biases 0. Layers are found
    by type. Call it before spectral norm is applied.

    Args:
        module: a network, or a single layer.
        embedding_std: standard deviation of embedding rows. 1 where the embedding is an input
            beside z ~ N(0, I) or pixels in [-1, 1]; 0.02 where it is an output weight (projection).
    """
    init_dcgan_weights_(module)
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=embedding_std)


def _check_labels(y: torch.Tensor, batch: int, n_classes: int, who: str) -> None:
    """Assert that ``y`` is an int64 tensor of shape (batch,) with values in [0, n_classes)."""
    assert isinstance(y, torch.Tensor), (
        f"{who} expects labels y as a tensor of shape ({batch},), got {type(y).__name__}"
    )
    assert y.ndim == 1 and y.shape[0] == batch, (
        f"{who} expects labels y of shape ({batch},) (one class index per example), got {tuple(y.shape)}"
    )
    assert y.dtype == torch.long, (
        f"{who} expects int64 class labels of shape ({batch},), got dtype {y.dtype}; use y.long()"
    )
    if batch > 0:
        lo, hi = int(y.min()), int(y.max())  # a host sync, but a bad index on CUDA is a device-side assert
        assert 0 <= lo and hi < n_classes, (
            f"{who} expects labels in [0, {n_classes}), got values in [{lo}, {hi}]"
        )


def _check_images(x: torch.Tensor, cfg: ConditionalConfig, who: str) -> None:
    expected = (cfg.channels, cfg.image_size, cfg.image_size)
    assert x.ndim == 4 and tuple(x.shape[1:]) == expected, (
        f"{who} expects images of shape (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}"
    )


def _d_trunk(cfg: ConditionalConfig, in_channels: int) -> tuple[list[nn.Module], list[nn.Conv2d]]:
    """DCGAN discriminator body: (B, in_channels, S, S) -> (B, F, 4, 4), stride-2 convolutions.

    Returns the layers and, separately, the convolutions among them (for spectral norm).
    """
    bn = cfg.d_uses_batchnorm
    widths = [cfg.d_width * 2 ** i for i in range(cfg.n_doublings)]  # w, 2w, 4w at 32 px
    layers: list[nn.Module] = []
    convs: list[nn.Conv2d] = []
    for i, (n_in, n_out) in enumerate(zip([in_channels, *widths[:-1]], widths)):  # each halves H and W
        norm = bn and i > 0  # no batch norm on the input layer (DCGAN rule 2)
        conv = nn.Conv2d(n_in, n_out, kernel_size=4, stride=2, padding=1, bias=not norm)
        layers.append(conv)
        convs.append(conv)
        if norm:
            layers.append(nn.BatchNorm2d(n_out))
        layers.append(nn.LeakyReLU(negative_slope=cfg.leaky_slope))
    return layers, convs


class ConditionalGenerator(nn.Module):
    """G(z | y): latent (B, latent_dim) and labels (B,) -> images (B, channels, S, S) in [-1, 1]."""

    def __init__(self, cfg: ConditionalConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.n_classes, cfg.embed_dim)  # y -> (B, embed_dim)
        widths = [cfg.g_width * 2 ** i for i in reversed(range(cfg.n_doublings))]  # 4w, 2w, w at 32 px
        layers: list[nn.Module] = [
            # (B, latent_dim + embed_dim, 1, 1) -> (B, widths[0], 4, 4); BN's shift replaces the bias
            nn.ConvTranspose2d(cfg.latent_dim + cfg.embed_dim, widths[0], kernel_size=4, stride=1, padding=0,
                               bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
        ]
        for n_in, n_out in zip(widths[:-1], widths[1:]):  # each doubles H and W
            layers += [nn.ConvTranspose2d(n_in, n_out, kernel_size=4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(n_out), nn.ReLU()]
        # Output layer: no batch norm, Tanh to land in [-1, 1].
        layers += [nn.ConvTranspose2d(widths[-1], cfg.channels, kernel_size=4, stride=2, padding=1, bias=True),
                   nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_conditional_weights_(self, embedding_std=1.0)  # embedding on the scale of z

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Generate images of the given classes.

        Args:
            z: latent codes, shape (B, latent_dim).
            y: class labels, int64, shape (B,), values in [0, n_classes).

        Returns:
            Images of shape (B, channels, image_size, image_size), values in [-1, 1].
        """
        cfg = self.cfg
        assert z.ndim == 2 and z.shape[1] == cfg.latent_dim, (
            f"G expects z of shape (B, {cfg.latent_dim}), got {tuple(z.shape)}"
        )
        _check_labels(y, z.shape[0], cfg.n_classes, "G")
        h = torch.cat([z, self.embed(y)], dim=1)  # (B, latent_dim + embed_dim): Mirza & Osindero's joint input
        return self.net(h[:, :, None, None])  # (B, C, H, W)


class ConcatDiscriminator(nn.Module):
    """D(x | y) by input concatenation: [x, embed(y) as constant channels] -> logit (B,). No sigmoid."""

    def __init__(self, cfg: ConditionalConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.n_classes, cfg.embed_dim)  # y -> (B, embed_dim)
        layers, convs = _d_trunk(cfg, cfg.channels + cfg.embed_dim)  # -> (B, 4w, 4, 4) at 32 px
        # Output layer: (B, F, 4, 4) -> (B, 1, 1, 1), one logit per image, no sigmoid.
        last = nn.Conv2d(cfg.feature_dim, 1, kernel_size=4, stride=1, padding=0, bias=True)
        layers.append(last)
        convs.append(last)
        self.net = nn.Sequential(*layers)
        init_conditional_weights_(self, embedding_std=1.0)  # embedding on the scale of the pixels
        if cfg.spectral_norm:  # W -> W / sigma(W) for every layer with a weight matrix
            for layer in [*convs, self.embed]:
                _spectral_norm(layer)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Score images against their labels.

        Args:
            x: images, shape (B, channels, image_size, image_size).
            y: class labels, int64, shape (B,), values in [0, n_classes).

        Returns:
            Logits of shape (B,).
        """
        _check_images(x, self.cfg, "D")
        _check_labels(y, x.shape[0], self.cfg.n_classes, "D")
        maps = self.embed(y)[:, :, None, None].expand(-1, -1, *x.shape[2:])  # (B, embed_dim, H, W)
        return self.net(torch.cat([x, maps], dim=1)).reshape(x.shape[0])  # (B, 1, 1, 1) -> (B,)


class ProjectionDiscriminator(nn.Module):
    """D(x | y) with a projection (Miyato & Koyama 2018): ``psi(phi(x)) + <embed(y), phi(x)>``.

    ``phi`` is a DCGAN convolutional trunk followed by global sum pooling, (B, C, S, S) -> (B, F);
    ``psi`` is ``nn.Linear(F, 1)``; ``embed`` is ``nn.Embedding(n_classes, F)``. The label does not
    touch the image features: it picks the direction along which they count. Their Eq. 3 follows
    from the optimal logit, log q(x, y) / p(x, y) = log q(y|x) / p(y|x) + log q(x) / p(x) (q the
    data, p the model): with both conditionals softmax models of phi(x), the first term is
    ``<embed(y), phi(x)>`` up to a y-free part, which joins the second in ``psi``.
    """

    def __init__(self, cfg: ConditionalConfig):
        super().__init__()
        self.cfg = cfg
        layers, convs = _d_trunk(cfg, cfg.channels)  # (B, C, S, S) -> (B, F, 4, 4)
        self.trunk = nn.Sequential(*layers)
        self.psi = nn.Linear(cfg.feature_dim, 1)  # unconditional term
        self.embed = nn.Embedding(cfg.n_classes, cfg.feature_dim)  # class directions V, one row per class
        init_conditional_weights_(self, embedding_std=0.02)  # psi and V are both output weights on phi
        if cfg.spectral_norm:  # W -> W / sigma(W) for every layer, the embedding V included (as in the paper)
            for layer in [*convs, self.psi, self.embed]:
                _spectral_norm(layer)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x): the trunk's last activations summed over space.

        Args:
            x: images, shape (B, channels, image_size, image_size).

        Returns:
            Features of shape (B, F) with F = ``cfg.feature_dim``.
        """
        _check_images(x, self.cfg, "D")
        return self.trunk(x).sum(dim=(2, 3))  # (B, F, 4, 4) -> (B, F): global sum pooling

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Score images against their labels.

        Args:
            x: images, shape (B, channels, image_size, image_size).
            y: class labels, int64, shape (B,), values in [0, n_classes).

        Returns:
            Logits of shape (B,).
        """
        _check_labels(y, x.shape[0], self.cfg.n_classes, "D")
        phi = self.features(x)  # (B, F)
        # Eq. 3 of Miyato & Koyama (2018): f(x, y) = y^T V phi(x) + psi(phi(x)), y one-hot.
        return self.psi(phi).squeeze(1) + (self.embed(y) * phi).sum(dim=1)  # (B,)


def build_conditional_gan(
    cfg: ConditionalConfig | str = "mnist32", discriminator: str = "projection", **overrides
) -> tuple[ConditionalGenerator, ConcatDiscriminator | ProjectionDiscriminator]:
    """Build a class-conditional (G, D) pair from a config or a preset name.

    Example: ``G, D = build_conditional_gan("mnist32", discriminator="concat", embed_dim=8)``.

    Args:
        cfg: a :class:`ConditionalConfig`, or the name of one in :data:`CONDITIONAL_PRESETS`.
        discriminator: ``"projection"`` (:class:`ProjectionDiscriminator`) or ``"concat"``
            (:class:`ConcatDiscriminator`).
        **overrides: config fields to replace, e.g. ``spectral_norm=True``.

    Returns:
        ``(G, D)``, on the CPU in float32; move them with ``.to(device)``.
    """
    if isinstance(cfg, str):
        if cfg not in CONDITIONAL_PRESETS:
            raise ValueError(f"unknown conditional preset {cfg!r}; choose one of: {', '.join(CONDITIONAL_PRESETS)}")
        cfg = CONDITIONAL_PRESETS[cfg]
    if discriminator not in _DISCRIMINATOR_NAMES:
        raise ValueError(
            f"unknown conditional discriminator {discriminator!r}; choose one of: {', '.join(_DISCRIMINATOR_NAMES)}"
        )
    cfg = dataclasses.replace(cfg, **overrides)  # a fresh, validated copy: presets stay untouched
    D = ProjectionDiscriminator(cfg) if discriminator == "projection" else ConcatDiscriminator(cfg)
    return ConditionalGenerator(cfg), D


# =============================================================================================
# pix2pix: U-Net generator (its PatchGAN discriminator is in ganlib.models.patchgan)
# =============================================================================================


class UNetGenerator(nn.Module):
    """G(x): image (B, in_channels, H, W) -> image (B, out_channels, H, W) in [-1, 1], a U-Net.

    ``depth`` stride-2 stages; with ``w`` the width and ``e_i = w * min(2**i, 8)``::

        encoder  x -> f_0 (e_0, H/2) -> f_1 (e_1, H/4) -> ... -> f_{d-1} (e_{d-1}, H/2**d)
        decoder  f_{d-1} -> up -> [., f_{d-2}] -> up -> [., f_{d-3}] -> ... -> [., f_0] -> up -> Tanh

    where ``[., f_i]`` concatenates the skip along channels. Encoder layers are Conv(4, stride 2)
    -> BN -> LeakyReLU(0.2), without BN on the first layer (paper, Sec. 6.1.1) and on the
    innermost one (pix2pix trains with batch size 1, and BN over a single 1x1 value zeroes it;
    the authors' PyTorch code drops it too). Decoder layers are ConvTranspose(4, stride 2) -> BN
    -> [Dropout(0.5)] -> ReLU, dropout on the ``n_dropout`` innermost of them: G's only noise
    (Sec. 2.2). ``depth=5`` brings 32 px to 1x1, the paper's ``depth=8`` does so at 256 px.
    """

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, depth: int = 5,
                 dropout: float = 0.5, n_dropout: int = 3):
        """
        Args:
            in_channels: channels of the input (the condition), e.g. 1 for edge maps.
            out_channels: channels of the output image.
            width: channels of the first encoder layer; doubles per stage up to 8x.
            depth: number of stride-2 stages; H and W must be multiples of 2**depth.
            dropout: dropout probability in the innermost decoder layers (paper: 0.5).
            n_dropout: how many of the ``depth - 1`` hidden decoder layers carry dropout (paper: 3).
        """
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("width", width),
                            ("depth", depth)):
            if value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        if not 0 <= n_dropout <= depth - 1:
            raise ValueError(f"n_dropout must be in [0, depth - 1 = {depth - 1}], got {n_dropout}")
        self.in_channels, self.out_channels, self.depth = in_channels, out_channels, depth
        # what ganlib.models.architecture records to rebuild this network
        self.arguments = dict(in_channels=in_channels, out_channels=out_channels, width=width, depth=depth,
                              dropout=dropout, n_dropout=n_dropout)
        e = [width * min(2 ** i, 8) for i in range(depth)]  # encoder widths

        self.down = nn.ModuleList()
        for i in range(depth):  # stage i: (B, e_{i-1}, s, s) -> (B, e_i, s/2, s/2)
            norm = 0 < i < depth - 1  # no BN on the outermost and innermost encoder layers
            block: list[nn.Module] = [nn.Conv2d(in_channels if i == 0 else e[i - 1], e[i], kernel_size=4,
                                                stride=2, padding=1, bias=not norm)]
            if norm:
                block.append(nn.BatchNorm2d(e[i]))
            block.append(nn.LeakyReLU(negative_slope=0.2))
            self.down.append(nn.Sequential(*block))

        self.up = nn.ModuleList()
        for i in reversed(range(1, depth)):  # from the bottleneck out: (B, ., s, s) -> (B, e_{i-1}, 2s, 2s)
            n_in = e[i] if i == depth - 1 else 2 * e[i]  # the bottleneck has no skip partner
            block = [nn.ConvTranspose2d(n_in, e[i - 1], kernel_size=4, stride=2, padding=1, bias=False),
                     nn.BatchNorm2d(e[i - 1])]
            if depth - 1 - i < n_dropout:  # the innermost decoder layers
                block.append(nn.Dropout(p=dropout))
            block.append(nn.ReLU())
            self.up.append(nn.Sequential(*block))
        self.out = nn.Sequential(  # [up_0, f_0] (B, 2 e_0, H/2, W/2) -> (B, out_channels, H, W)
            nn.ConvTranspose2d(2 * e[0], out_channels, kernel_size=4, stride=2, padding=1, bias=True),
            nn.Tanh(),
        )
        init_dcgan_weights_(self)  # N(0, 0.02), as in the paper (Sec. 3.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate images.

        Args:
            x: input images, shape (B, in_channels, H, W), H and W multiples of 2**depth.

        Returns:
            Images of shape (B, out_channels, H, W), values in [-1, 1].
        """
        m = 2 ** self.depth
        assert x.ndim == 4 and x.shape[1] == self.in_channels, (
            f"U-Net expects images of shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}"
        )
        assert x.shape[2] % m == 0 and x.shape[3] % m == 0 and x.shape[2] > 0 and x.shape[3] > 0, (
            f"U-Net of depth {self.depth} expects H and W to be positive multiples of {m}, got {tuple(x.shape)}"
        )
        skips: list[torch.Tensor] = []
        h = x
        for block in self.down:
            h = block(h)  # (B, e_i, H / 2**(i+1), W / 2**(i+1))
            skips.append(h)
        h = skips.pop()  # bottleneck (B, e_{d-1}, H / 2**d, W / 2**d)
        for block in self.up:
            h = torch.cat([block(h), skips.pop()], dim=1)  # (B, 2 e_{i-1}, H / 2**i, W / 2**i)
        return self.out(h)  # (B, out_channels, H, W)
