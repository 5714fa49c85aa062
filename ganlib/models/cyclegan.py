"""CycleGAN: two ResNet generators and two PatchGAN discriminators for unpaired translation.

Zhu et al. (2017) learn G: X -> Y and F: Y -> X from two unpaired collections of images (lecture C,
"CycleGAN"). Each direction has its own adversary, D_Y judging G(x) against real y and D_X judging
F(y) against real x, and a cycle-consistency term ties the two maps together (their Eq. 1-3):

    L(G, F, D_X, D_Y) = L_GAN(G, D_Y, X, Y) + L_GAN(F, D_X, Y, X) + lambda L_cyc(G, F),
    L_cyc(G, F) = E_x ||F(G(x)) - x||_1 + E_y ||G(F(y)) - y||_1,   lambda = 10,

with the least-squares form of L_GAN (their Sec. 4, after Mao et al. 2017). The losses are in
:mod:`ganlib.losses` (:func:`~ganlib.losses.cycle_consistency_loss`,
:func:`~ganlib.losses.identity_loss`, the ``least_squares_*`` pair); this file holds the networks.

:class:`ResnetGenerator` is the architecture of Johnson et al. (2016) as CycleGAN uses it (Zhu et
al. 2017, Appendix 7.2). With ``w`` the width, ``n_down = 2`` and ``n_blocks = 6`` it reads
c7s1-w, d2w, d4w, R4w x 6, u2w, uw, c7s1-C::

    x (B, C_in, H, W) -> c7s1 (B, w, H, W) -> d (B, 2w, H/2, W/2) -> d (B, 4w, H/4, W/4)
      -> R x n_blocks (B, 4w, H/4, W/4) -> u (B, 2w, H/2, W/2) -> u (B, w, H, W)
      -> c7s1 + tanh (B, C_out, H, W) in [-1, 1]

where c7s1-k is a 7x7 convolution of stride 1 after a reflection pad of 3; dk a 3x3 convolution of
stride 2 (zero padding 1); Rk a residual block of two reflection-padded 3x3 convolutions,
``x + f(x)``; uk a 3x3 transposed convolution of stride 2 (padding 1, output padding 1), which
exactly doubles H and W. Every layer but the last is followed by instance norm and ReLU
("Reflection padding was used to reduce artifacts", Appendix 7.2). H and W must be multiples of
``2**n_down``: 28 px digits go 28 -> 14 -> 7 -> 14 -> 28.

Instance norm here is ``nn.InstanceNorm2d(k)`` with its defaults, as in the authors' code: no
learned affine and no running statistics, so it normalises every image with its own statistics in
training and in evaluation alike. Since it subtracts each channel's mean, a bias in the
convolution before it would cancel exactly (its gradient is zero); those convolutions have none.

The discriminators are :class:`~ganlib.models.patchgan.PatchDiscriminator` with
``norm="instance"``: the 70x70 PatchGAN C64-C128-C256-C512 of the paper at 128 and 256 px, a
two-layer one at 28 px. Weights start from N(0, 0.02) (Appendix 7.1), via
:func:`ganlib.models.dcgan.init_dcgan_weights_`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from ganlib.models.dcgan import init_dcgan_weights_
from ganlib.models.patchgan import PatchDiscriminator, patch_map_size

__all__ = [
    "CycleGANConfig",
    "CYCLEGAN_PRESETS",
    "ResidualBlock",
    "ResnetGenerator",
    "build_cyclegan",
]


@dataclass
class CycleGANConfig:
    """Sizes of CycleGAN's two generators and two discriminators; see :data:`CYCLEGAN_PRESETS`."""

    channels: int = 1  # image channels of domain X (and of Y, unless channels_y says otherwise)
    channels_y: int | None = None  # image channels of domain Y when they differ from X's; None = channels
    image_size: int = 28  # side of the (square) training images; a multiple of 2**n_down
    width: int = 8  # ngf: channels of G's first and last hidden layers; doubles per downsampling
    n_down: int = 2  # stride-2 downsamplings in G (and as many upsamplings); paper: 2
    n_blocks: int = 3  # residual blocks at G's bottleneck; paper: 6 at 128 px, 9 at 256 px
    dropout: float = 0.0  # dropout inside each residual block; the paper's CycleGAN uses none
    d_width: int = 16  # ndf: channels of the PatchGAN's first layer; doubles per layer up to 8x
    d_layers: int = 2  # stride-2 convolutions in the PatchGAN: 3 gives the paper's 70x70 patches

    def __post_init__(self) -> None:
        for name in ("channels", "image_size", "width", "n_down", "d_width", "d_layers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.channels_y is not None and self.channels_y < 1:
            raise ValueError(f"channels_y must be a positive integer or None, got {self.channels_y}")
        if self.n_blocks < 0:
            raise ValueError(f"n_blocks must be a non-negative integer, got {self.n_blocks}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        m = 2 ** self.n_down
        if self.image_size % m or self.image_size // m < 2:
            raise ValueError(
                f"image_size must be a multiple of 2**n_down = {m} with at least 2 pixels left at the "
                f"bottleneck, got {self.image_size}"
            )
        if self.patch_map < 1:
            raise ValueError(f"a PatchGAN with d_layers={self.d_layers} needs images larger than {self.image_size} px")

    @property
    def domain_channels(self) -> tuple[int, int]:
        """(C_X, C_Y): the image channels of domain X and of domain Y."""
        return self.channels, self.channels if self.channels_y is None else self.channels_y

    @property
    def patch_map(self) -> int:
        """Side of D's logit map at ``image_size``: (B, 1, patch_map, patch_map)."""
        return patch_map_size(self.image_size, self.d_layers)


CYCLEGAN_PRESETS: dict[str, CycleGANConfig] = {
    # Digits at 28 px (MNIST-like domains), 1 channel: 28 -> 14 -> 7 -> 14 -> 28, bottleneck 32 channels.
    # D's map is 5x5 at 28 px, each logit seeing a 34 px field (most of the image). G 68 k, D 42 k
    # parameters. One forward + backward of G and one of D, batch 32, take about 40 ms on one CPU
    # thread (G 33-35, D 5-7) and 25 ms on two; width=16, d_width=32 would take about 95 ms.
    "digits": CycleGANConfig(channels=1, image_size=28, width=8, n_down=2, n_blocks=3, d_width=16, d_layers=2),
    # The paper's 128x128 network (Appendix 7.2): c7s1-64, d128, d256, R256 x 6, u128, u64, c7s1-3.
    "resnet_6blocks": CycleGANConfig(channels=3, image_size=128, width=64, n_down=2, n_blocks=6,
                                     d_width=64, d_layers=3),
    # The paper's 256x256 network: nine residual blocks; D the 70x70 PatchGAN, a 30x30 map.
    "resnet_9blocks": CycleGANConfig(channels=3, image_size=256, width=64, n_down=2, n_blocks=9,
                                     d_width=64, d_layers=3),
}


class ResidualBlock(nn.Module):
    """Rk: ``x + f(x)`` with f = pad, conv3x3, IN, ReLU, [dropout], pad, conv3x3, IN. Shape-preserving.

    No ReLU after the sum, as in the authors' CycleGAN code, so a block with f = 0 is exactly the
    identity and the skip carries x through every block unchanged.
    """

    def __init__(self, channels: int, dropout: float = 0.0):
        """
        Args:
            channels: k, the channels of the input, of the hidden layer and of the output.
            dropout: dropout probability after the first ReLU; 0 for none (CycleGAN).
        """
        super().__init__()
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3, bias=False),  # IN removes any bias
            nn.InstanceNorm2d(channels),
            nn.ReLU(),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(p=dropout))
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, kernel_size=3, bias=False),
            nn.InstanceNorm2d(channels),
        ]
        self.f = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block.

        Args:
            x: features, shape (B, channels, h, w), h and w at least 2 (reflection padding).

        Returns:
            ``x + f(x)``, shape (B, channels, h, w).
        """
        return x + self.f(x)  # (B, k, h, w): the skip carries x unchanged


class ResnetGenerator(nn.Module):
    """G: image (B, in_channels, H, W) -> image (B, out_channels, H, W) in [-1, 1], a ResNet.

    c7s1-w, ``n_down`` times dk (k doubling), ``n_blocks`` times Rk, ``n_down`` times uk (k halving),
    c7s1-C with tanh; see the module docstring. Fully convolutional: any H and W that are multiples
    of ``2**n_down`` work, not only the training size.
    """

    def __init__(self, in_channels: int, out_channels: int, width: int = 64, n_down: int = 2,
                 n_blocks: int = 9, dropout: float = 0.0):
        """
        Args:
            in_channels: channels of the input domain.
            out_channels: channels of the output domain.
            width: ngf, channels of the first layer; the bottleneck has ``width * 2**n_down``.
            n_down: number of stride-2 downsamplings (and of upsamplings); paper: 2.
            n_blocks: number of residual blocks at the bottleneck; paper: 6 (128 px) or 9 (256 px).
            dropout: dropout probability inside the residual blocks; paper: 0.
        """
        super().__init__()
        for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("width", width),
                            ("n_down", n_down)):
            if value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        if n_blocks < 0:
            raise ValueError(f"n_blocks must be a non-negative integer, got {n_blocks}")
        self.in_channels, self.out_channels, self.n_down = in_channels, out_channels, n_down
        # what ganlib.models.architecture records to rebuild this network
        self.arguments = dict(in_channels=in_channels, out_channels=out_channels, width=width, n_down=n_down,
                              n_blocks=n_blocks, dropout=dropout)

        # c7s1-w: (B, C_in, H, W) -> (B, w, H, W)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, width, kernel_size=7, bias=False),
                                   nn.InstanceNorm2d(width), nn.ReLU()]
        # dk: (B, k/2, s, s) -> (B, k, s/2, s/2), k = 2w, 4w, ...
        for i in range(n_down):
            n_in, n_out = width * 2 ** i, width * 2 ** (i + 1)
            layers += [nn.Conv2d(n_in, n_out, kernel_size=3, stride=2, padding=1, bias=False),
                       nn.InstanceNorm2d(n_out), nn.ReLU()]
        # Rk at the bottleneck: (B, k, H / 2**n_down, W / 2**n_down), shape-preserving
        bottleneck = width * 2 ** n_down
        layers += [ResidualBlock(bottleneck, dropout=dropout) for _ in range(n_blocks)]
        # uk: (B, 2k, s, s) -> (B, k, 2s, 2s); output_padding=1 makes it exactly 2s: (s-1)*2 - 2*1 + 3 + 1
        for i in reversed(range(n_down)):
            n_in, n_out = width * 2 ** (i + 1), width * 2 ** i
            layers += [nn.ConvTranspose2d(n_in, n_out, kernel_size=3, stride=2, padding=1, output_padding=1,
                                          bias=False),
                       nn.InstanceNorm2d(n_out), nn.ReLU()]
        # c7s1-C_out: no norm, a bias, and tanh to land in [-1, 1]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(width, out_channels, kernel_size=7, bias=True), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        init_dcgan_weights_(self)  # convolutions ~ N(0, 0.02), biases 0 (Zhu et al. 2017, Appendix 7.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Translate images from one domain to the other.

        Args:
            x: images, shape (B, in_channels, H, W), H and W multiples of ``2**n_down`` with at
                least 2 pixels left at the bottleneck (28 px works for ``n_down=2``).

        Returns:
            Images of shape (B, out_channels, H, W), values in [-1, 1].
        """
        m = 2 ** self.n_down
        assert x.ndim == 4 and x.shape[1] == self.in_channels, (
            f"ResnetGenerator expects images of shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}"
        )
        h, w = x.shape[2], x.shape[3]
        assert h % m == 0 and w % m == 0 and h // m >= 2 and w // m >= 2, (
            f"ResnetGenerator with n_down={self.n_down} expects H and W to be multiples of 2**n_down = {m}, "
            f"at least {2 * m}, got {h}x{w}; pad or crop the images (e.g. 28 px works, 30 px does not)"
        )
        return self.net(x)  # (B, out_channels, H, W)


def build_cyclegan(preset_or_cfg: CycleGANConfig | str = "digits", **overrides) -> dict[str, nn.Module]:
    """Build CycleGAN's four networks from a config or a preset name, with optional field overrides.

    Example: ``nets = build_cyclegan("digits", n_blocks=6)``; then ``nets["G"](x)`` maps X to Y.

    Args:
        preset_or_cfg: a :class:`CycleGANConfig`, or the name of one in :data:`CYCLEGAN_PRESETS`.
        **overrides: config fields to replace, e.g. ``width=32``.

    Returns:
        ``{"G": X -> Y generator, "F": Y -> X generator, "D_X": PatchGAN on domain X,
        "D_Y": PatchGAN on domain Y}``, four distinct modules on the CPU in float32.
    """
    cfg = preset_or_cfg
    if isinstance(cfg, str):
        if cfg not in CYCLEGAN_PRESETS:
            raise ValueError(f"unknown CycleGAN preset {cfg!r}; choose one of: {', '.join(CYCLEGAN_PRESETS)}")
        cfg = CYCLEGAN_PRESETS[cfg]
    cfg = dataclasses.replace(cfg, **overrides)  # a fresh, validated copy: presets stay untouched
    cx, cy = cfg.domain_channels
    g_args = dict(width=cfg.width, n_down=cfg.n_down, n_blocks=cfg.n_blocks, dropout=cfg.dropout)
    d_args = dict(width=cfg.d_width, n_layers=cfg.d_layers, norm="instance")
    return {
        "G": ResnetGenerator(cx, cy, **g_args),  # X -> Y
        "F": ResnetGenerator(cy, cx, **g_args),  # Y -> X
        "D_X": PatchDiscriminator(cx, **d_args),  # real x vs F(y)
        "D_Y": PatchDiscriminator(cy, **d_args),  # real y vs G(x)
    }
