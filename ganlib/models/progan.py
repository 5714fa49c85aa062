"""Progressive GAN (Karras et al. 2018): the layers that StyleGAN keeps, and the growing networks.

This file starts with ProGAN's three architectural ideas, which StyleGAN (``models/stylegan.py``)
imports rather than repeats:

* **Equalised learning rate** (their Sec. 4.1): weights are stored as N(0, 1) and multiplied at run
  time by He's constant ``c = gain / sqrt(fan_in)``. The forward pass is that of a He-initialised
  layer, but Adam's update (about ``lr`` per step, whatever the gradient's scale) now acts on the
  *unscaled* weight, so every layer learns at the same relative speed. ``lr_multiplier`` scales
  both the run-time constant and the stored weights' learning speed (StyleGAN's mapping network uses
  0.01).
* **Pixelwise feature normalisation** (Sec. 4.2): each pixel's feature vector is divided by its
  root mean square over channels, ``b = a / sqrt(mean_c a^2 + eps)``, in G after every convolution.
* **Minibatch standard deviation** (Sec. 3): D gets one extra feature map, the standard deviation
  of each feature over a group of samples, averaged to one number per group, so it can see a lack
  of variety across a batch.

The second part grows the networks (their Sec. 2, Fig. 2). Training starts at 4x4; each time the
resolution doubles, G gains a block (nearest upsample, two 3x3 convolutions) and D the mirror block
(two 3x3 convolutions, average pool). A new block is *faded in* rather than switched on: while
``alpha`` goes from 0 to 1, G's output is ``alpha * toRGB_new(block(h)) + (1 - alpha) *
upsample(toRGB_old(h))`` and D's input side is ``alpha * block(fromRGB_new(x)) + (1 - alpha) *
fromRGB_old(avgpool(x))`` (:func:`fade_in`), so the well-trained smaller networks are not
disturbed by randomly initialised layers. Every layer exists from the start; ``forward(...,
resolution, alpha)`` runs only the ones the current phase uses. For 32 px (``w(r)`` is the width
at resolution r, :meth:`ProGANConfig.width`)::

    G: z (B, latent) -> pixel norm -> dense, conv3 -> (B, w(4), 4, 4) -> blocks, each doubling: (B, w(r), r, r)
       -> toRGB (1x1) -> image (B, C, r, r), a linear output (no tanh, as in the paper)
    D: image (B, C, r, r) -> fromRGB (1x1) -> (B, w(r), r, r) -> blocks, each halving -> (B, w(4), 4, 4)
       -> minibatch std (B, w(4) + 1, 4, 4) -> conv3 -> dense -> dense -> logit (B,)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "EqualizedLinear", "EqualizedConv2d", "PixelNorm", "pixel_norm", "MinibatchStdDev", "minibatch_stddev",
    "ProGANConfig", "PROGAN_PRESETS", "ProGANGenerator", "ProGANDiscriminator", "build_progan",
    "resolutions", "fade_in", "upsample", "downsample", "fade_reals",
]


class EqualizedLinear(nn.Module):
    """A linear layer with an equalised learning rate: y = x (c W)^T + b_mul b, W ~ N(0, 1 / lr_multiplier^2).

    Args:
        in_features, out_features: sizes.
        bias: learn a bias (initialised to ``bias_init``).
        gain: He's gain; sqrt(2) before a (leaky) ReLU, 1 before a linear output.
        lr_multiplier: scales the effective learning rate of this layer (StyleGAN's mapping: 0.01).
        bias_init: the bias's initial value (StyleGAN's style affines start at 1).
        equalized: False stores the He-initialised weights themselves (scale 1 at run time): the
            same function at initialisation, the conventional parametrisation, for comparison.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, gain: float = 1.0,
                 lr_multiplier: float = 1.0, bias_init: float = 0.0, equalized: bool = True):
        super().__init__()
        scale = gain * lr_multiplier / math.sqrt(in_features)  # He's constant (times the lr multiplier)
        stored = 1.0 / lr_multiplier if equalized else scale / lr_multiplier
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * stored)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init) / lr_multiplier)) if bias else None
        self.weight_scale = scale if equalized else lr_multiplier  # equalised: He's constant, applied at run time
        self.bias_scale = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias * self.bias_scale if self.bias is not None else None
        return F.linear(x, self.weight * self.weight_scale, bias)  # (B, out_features)

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}->{self.weight.shape[0]}, scale {self.weight_scale:.4g}"


class EqualizedConv2d(nn.Module):
    """A 2-D convolution with an equalised learning rate: weights N(0, 1), scaled by gain / sqrt(C_in k^2).

    Args:
        in_channels, out_channels, kernel_size, stride, padding: as ``nn.Conv2d``.
        bias: learn a bias (initialised to 0).
        gain: He's gain; sqrt(2) before a (leaky) ReLU, 1 before a linear output.
        equalized: False stores the He-initialised weights themselves (see :class:`EqualizedLinear`).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 bias: bool = True, *, gain: float = math.sqrt(2), equalized: bool = True):
        super().__init__()
        scale = gain / math.sqrt(in_channels * kernel_size ** 2)  # He's constant
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size) * (1.0 if equalized else scale))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_scale = scale if equalized else 1.0
        self.stride, self.padding = stride, padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.weight_scale, self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self) -> str:
        c_out, c_in, k, _ = self.weight.shape
        return f"{c_in}->{c_out}, kernel {k}, stride {self.stride}, pad {self.padding}, scale {self.weight_scale:.4g}"


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Each pixel's feature vector divided by its RMS over channels (Karras et al. 2018, Eq. in Sec. 4.2).

    Works on (B, C) vectors (StyleGAN normalises z this way) and on (B, C, H, W) feature maps.
    """
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


class PixelNorm(nn.Module):
    """:func:`pixel_norm` as a layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_norm(x)


def minibatch_stddev(x: torch.Tensor, group_size: int = 4, eps: float = 1e-8) -> torch.Tensor:
    """Append one feature map: the standard deviation across a group of samples (Karras et al. 2018, Sec. 3).

    The batch is split into groups of ``min(group_size, B)`` samples (B must be divisible by it);
    for each group, the standard deviation of every feature at every pixel over the group's samples
    is averaged to one number, which becomes a constant extra channel for that group's samples.

    Args:
        x: features (B, C, H, W).

    Returns:
        (B, C + 1, H, W).
    """
    B, C, H, W = x.shape
    G = min(group_size, B)
    assert B % G == 0, f"minibatch std: the batch ({B}) must be divisible by the group size ({G})"
    # In fp32 even under fp16 autocast: eps = 1e-8 is 0 in fp16, and sqrt's gradient at 0 is infinite.
    y = x.float().reshape(G, B // G, C, H, W)  # sample i of every group shares a slice of the group axis, as in the paper's code
    std = (y.var(dim=0, unbiased=False) + eps).sqrt()  # (B / G, C, H, W): over the group
    stat = std.mean(dim=(1, 2, 3))  # (B / G,): one number per group
    stat = stat.reshape(1, B // G, 1, 1, 1).expand(G, B // G, 1, H, W).reshape(B, 1, H, W).to(x.dtype)
    return torch.cat([x, stat], dim=1)  # (B, C + 1, H, W)


class MinibatchStdDev(nn.Module):
    """:func:`minibatch_stddev` as a layer."""

    def __init__(self, group_size: int = 4):
        super().__init__()
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return minibatch_stddev(x, self.group_size)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


# ---------------------------------------------------------------------------------------------
# The growing networks
# ---------------------------------------------------------------------------------------------


def _is_power_of_two(n: int) -> bool:
    return isinstance(n, int) and n >= 1 and n & (n - 1) == 0


@dataclass
class ProGANConfig:
    """Sizes of a progressive G and D; see :data:`PROGAN_PRESETS`.

    The channel width at resolution r is ``min(fmap_base // r, fmap_max)`` (:meth:`width`): the
    paper's 16384 and 512 give 512 channels up to 32 px, then half as many at each doubling.
    """

    latent_dim: int = 512  # size of z (paper: 512); z is pixel-normalised onto the sphere first
    channels: int = 3  # image channels: 1 for MNIST, 3 for CIFAR-10 and CelebA
    resolution: int = 32  # the final image size, a power of two >= 4; the networks grow 4 -> 8 -> ... -> resolution
    fmap_base: int = 16384  # width at resolution r = min(fmap_base // r, fmap_max) (paper: 16384 ...
    fmap_max: int = 512  # ... and 512)
    mbstd_group: int = 4  # minibatch-std group size in D (paper: 4); batch sizes must be multiples of it
    leaky_slope: float = 0.2  # LeakyReLU slope in G and D (paper: 0.2)
    equalized_lr: bool = True  # weights N(0, 1) scaled by He's constant at run time (Sec. 4.1); False: He init, stored
    minibatch_std: bool = True  # D's last block appends the minibatch standard deviation (Sec. 3)

    def __post_init__(self) -> None:
        if not _is_power_of_two(self.resolution) or self.resolution < 4:
            raise ValueError(f"resolution must be a power of two >= 4 (4, 8, 16, 32, 64, 128, ...), got {self.resolution}")
        for name in ("latent_dim", "channels", "fmap_base", "fmap_max", "mbstd_group"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.fmap_base // self.resolution < 1:
            raise ValueError(f"fmap_base {self.fmap_base} leaves no channel at {self.resolution} px; "
                             f"use fmap_base >= {self.resolution}")

    def width(self, resolution: int) -> int:
        """Channels of the feature maps at ``resolution``: ``min(fmap_base // resolution, fmap_max)``."""
        return min(self.fmap_base // resolution, self.fmap_max)

    @property
    def resolutions(self) -> tuple[int, ...]:
        """Every resolution the networks grow through: (4, 8, ..., resolution)."""
        return tuple(resolutions(4, self.resolution))


PROGAN_PRESETS: dict[str, ProGANConfig] = {
    # MNIST padded to 32x32: widths 64, 64, 32, 16 at 4, 8, 16, 32 px (G 0.28 M, D 0.21 M parameters).
    # One training step on one CPU thread (lsgan; batch 64 at 4 and 8 px, 32 above): about 30, 115,
    # 140 and 240 ms at 4, 8, 16 and 32 px, so the quick run (800 steps) takes 2.5 minutes.
    "mnist32": ProGANConfig(latent_dim=128, channels=1, resolution=32, fmap_base=512, fmap_max=64),
    # CIFAR-10: the paper's widths, 512 channels at every resolution up to 32 px (a GPU model).
    "cifar32": ProGANConfig(latent_dim=512, channels=3, resolution=32, fmap_base=16384, fmap_max=512),
    # CelebA at 64x64: 512 channels up to 32 px, 256 at 64 px, as in the paper's Table 2.
    "celeba64": ProGANConfig(latent_dim=512, channels=3, resolution=64, fmap_base=16384, fmap_max=512),
}


def resolutions(start: int, final: int) -> list[int]:
    """The resolutions a run passes through: ``[start, 2 start, ..., final]``, powers of two."""
    if not (_is_power_of_two(start) and _is_power_of_two(final)) or not 4 <= start <= final:
        raise ValueError(f"need powers of two 4 <= start <= final, got start={start}, final={final}")
    return [start * 2 ** i for i in range(int(math.log2(final // start)) + 1)]


def fade_in(old: torch.Tensor, new: torch.Tensor, alpha: float) -> torch.Tensor:
    """The fade-in blend ``alpha * new + (1 - alpha) * old`` (Karras et al. 2018, Fig. 2).

    ``alpha`` rises linearly from 0 (only the old, smaller network's path) to 1 (only the new
    block); at 0 the result is ``old`` and at 1 it is ``new``, exactly.
    """
    assert old.shape == new.shape, f"fade_in blends tensors of one shape, got {tuple(old.shape)} and {tuple(new.shape)}"
    return alpha * new + (1.0 - alpha) * old


def upsample(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Nearest-neighbour upsampling (B, C, H, W) -> (B, C, factor H, factor W): each pixel becomes a block."""
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


def downsample(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Average-pool square images (B, C, R, R) down to (B, C, resolution, resolution); R a multiple of it."""
    size = x.shape[-1]
    assert x.ndim == 4 and x.shape[-2] == size and size % resolution == 0, (
        f"downsample expects square images (B, C, R, R) with R a multiple of {resolution}, got {tuple(x.shape)}")
    return x if size == resolution else F.avg_pool2d(x, size // resolution)


def fade_reals(x: torch.Tensor, resolution: int, alpha: float) -> torch.Tensor:
    """Real images as D sees them in a phase: at ``resolution`` and, during a fade-in, blended like G's output.

    ``x`` (B, C, R, R) is average-pooled to ``resolution``; during a fade-in (``alpha < 1``) it becomes
    ``alpha * x_r + (1 - alpha) * upsample(avgpool(x_r))``, so reals and fakes move from the coarse to
    the fine resolution together (the paper's Sec. 2 fades the reals too).

    Returns:
        (B, C, resolution, resolution).
    """
    x = downsample(x, resolution)  # (B, C, r, r)
    if alpha >= 1:
        return x
    return fade_in(upsample(downsample(x, resolution // 2)), x, alpha)  # (B, C, r, r)


def _check_phase(cfg: ProGANConfig, resolution: int, alpha: float) -> int:
    """The index of ``resolution`` in ``cfg.resolutions``, after checking the phase makes sense."""
    assert resolution in cfg.resolutions, f"resolution must be one of {cfg.resolutions}, got {resolution}"
    assert 0.0 <= alpha <= 1.0, f"alpha must lie in [0, 1], got {alpha}"
    level = cfg.resolutions.index(resolution)
    assert level > 0 or alpha == 1.0, f"at {resolution} px there is no smaller network to fade from: alpha must be 1, got {alpha}"
    return level


def _fade_paths(old, new, alpha: float) -> torch.Tensor:
    """:func:`fade_in` of two paths given as functions, running only the path(s) whose weight is not 0."""
    if alpha >= 1:
        return new()
    if alpha <= 0:
        return old()
    return fade_in(old(), new(), alpha)


class _GFirstBlock(nn.Module):
    """z (B, latent) -> (B, width, 4, 4): an equalised dense layer to 4x4, then a 3x3 convolution."""

    def __init__(self, latent_dim: int, width: int, slope: float, equalized: bool = True):
        super().__init__()
        # As in the authors' code, the dense layer's gain is sqrt(2) / 4: He's constant of a 4x4
        # transposed convolution from a 1x1 input, which this layer is.
        self.dense = EqualizedLinear(latent_dim, width * 16, gain=math.sqrt(2) / 4, equalized=equalized)
        self.conv = EqualizedConv2d(width, width, 3, padding=1, equalized=equalized)
        self.width, self.slope = width, slope

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.dense(z).reshape(-1, self.width, 4, 4)  # (B, w, 4, 4)
        x = pixel_norm(F.leaky_relu(x, self.slope))
        return pixel_norm(F.leaky_relu(self.conv(x), self.slope))  # (B, w, 4, 4)


class _GBlock(nn.Module):
    """(B, c_in, r, r) -> (B, c_out, 2r, 2r): nearest upsample, then two 3x3 convolutions, each
    followed by LeakyReLU and pixel norm."""

    def __init__(self, c_in: int, c_out: int, slope: float, equalized: bool = True):
        super().__init__()
        self.conv1 = EqualizedConv2d(c_in, c_out, 3, padding=1, equalized=equalized)
        self.conv2 = EqualizedConv2d(c_out, c_out, 3, padding=1, equalized=equalized)
        self.slope = slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = upsample(x)  # (B, c_in, 2r, 2r)
        x = pixel_norm(F.leaky_relu(self.conv1(x), self.slope))
        return pixel_norm(F.leaky_relu(self.conv2(x), self.slope))  # (B, c_out, 2r, 2r)


class ProGANGenerator(nn.Module):
    """G(z, resolution, alpha): latent (B, latent_dim) -> images (B, channels, resolution, resolution).

    ``blocks[i]`` makes the features at ``cfg.resolutions[i]`` and ``to_rgb[i]`` (a 1x1 equalised
    convolution, gain 1) turns them into an image. The output is linear: reals in [-1, 1] teach G
    the range, as in the paper.
    """

    def __init__(self, cfg: ProGANConfig):
        super().__init__()
        self.cfg = cfg
        res, w, slope, eq = cfg.resolutions, cfg.width, cfg.leaky_slope, cfg.equalized_lr
        self.blocks = nn.ModuleList([_GFirstBlock(cfg.latent_dim, w(4), slope, eq)] +
                                    [_GBlock(w(r // 2), w(r), slope, eq) for r in res[1:]])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(w(r), cfg.channels, 1, gain=1.0, equalized=eq) for r in res])

    def forward(self, z: torch.Tensor, resolution: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        """Generate images at one phase of the growth.

        Args:
            z: latent codes (B, latent_dim).
            resolution: the current resolution, one of ``cfg.resolutions``; default the final one.
            alpha: the fade-in of this resolution's block, in [0, 1]; 1 once it is stabilised. At 0
                only the old path runs, at 1 only the new one.

        Returns:
            (B, channels, resolution, resolution); during a fade-in
            ``alpha * toRGB_new(block(h)) + (1 - alpha) * upsample(toRGB_old(h))``.
        """
        cfg = self.cfg
        resolution = cfg.resolution if resolution is None else resolution
        assert z.ndim == 2 and z.shape[1] == cfg.latent_dim, f"G expects z of shape (B, {cfg.latent_dim}), got {tuple(z.shape)}"
        level = _check_phase(cfg, resolution, alpha)
        h = self.blocks[0](pixel_norm(z))  # (B, w(4), 4, 4): z normalised onto the sphere first (Sec. 4.2)
        for block in self.blocks[1:level]:
            h = block(h)  # up to the previous resolution: (B, w(r/2), r/2, r/2)
        if level == 0:
            return self.to_rgb[0](h)  # (B, C, 4, 4)
        new = lambda: self.to_rgb[level](self.blocks[level](h))  # (B, C, r, r): the new block
        old = lambda: upsample(self.to_rgb[level - 1](h))  # (B, C, r, r): the smaller G's image, enlarged
        return _fade_paths(old, new, alpha)  # Fig. 2 (b)


class _DBlock(nn.Module):
    """(B, c_in, r, r) -> (B, c_out, r/2, r/2): two 3x3 convolutions with LeakyReLU, then a 2x2 average pool."""

    def __init__(self, c_in: int, c_out: int, slope: float, equalized: bool = True):
        super().__init__()
        self.conv1 = EqualizedConv2d(c_in, c_in, 3, padding=1, equalized=equalized)
        self.conv2 = EqualizedConv2d(c_in, c_out, 3, padding=1, equalized=equalized)
        self.slope = slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.leaky_relu(self.conv1(x), self.slope)
        x = F.leaky_relu(self.conv2(x), self.slope)
        return F.avg_pool2d(x, 2)  # (B, c_out, r/2, r/2)


class _DLastBlock(nn.Module):
    """(B, width, 4, 4) -> logits (B,): minibatch std (``group`` 0: none), a 3x3 convolution, a dense
    layer, a dense output."""

    def __init__(self, width: int, group: int, slope: float, equalized: bool = True):
        super().__init__()
        self.mbstd = MinibatchStdDev(group) if group else nn.Identity()
        self.conv = EqualizedConv2d(width + (1 if group else 0), width, 3, padding=1, equalized=equalized)
        self.dense = EqualizedLinear(width * 16, width, gain=math.sqrt(2), equalized=equalized)
        self.out = EqualizedLinear(width, 1, gain=1.0, equalized=equalized)  # one logit, linear
        self.slope = slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mbstd(x)  # (B, w + 1, 4, 4): the group's spread as an extra feature (Sec. 3)
        x = F.leaky_relu(self.conv(x), self.slope)  # (B, w, 4, 4)
        x = F.leaky_relu(self.dense(x.flatten(1)), self.slope)  # (B, w)
        return self.out(x).reshape(-1)  # (B,)


class ProGANDiscriminator(nn.Module):
    """D(x, resolution, alpha): images (B, channels, resolution, resolution) -> logits (B,). No sigmoid.

    ``from_rgb[i]`` (1x1 equalised convolution and LeakyReLU) reads images at ``cfg.resolutions[i]``;
    ``blocks[i]`` (i > 0) halves them to the previous resolution; ``blocks[0]`` is the 4x4 head with
    the minibatch standard deviation.
    """

    def __init__(self, cfg: ProGANConfig):
        super().__init__()
        self.cfg = cfg
        res, w, slope, eq = cfg.resolutions, cfg.width, cfg.leaky_slope, cfg.equalized_lr
        self.from_rgb = nn.ModuleList([EqualizedConv2d(cfg.channels, w(r), 1, equalized=eq) for r in res])
        group = cfg.mbstd_group if cfg.minibatch_std else 0
        self.blocks = nn.ModuleList([_DLastBlock(w(4), group, slope, eq)] +
                                    [_DBlock(w(r), w(r // 2), slope, eq) for r in res[1:]])

    def _from_rgb(self, level: int, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.from_rgb[level](x), self.cfg.leaky_slope)

    def forward(self, x: torch.Tensor, resolution: int | None = None, alpha: float = 1.0) -> torch.Tensor:
        """Score images at one phase of the growth.

        Args:
            x: images (B, channels, resolution, resolution); B a multiple of ``min(mbstd_group, B)``.
            resolution: the current resolution, one of ``cfg.resolutions``; default the final one.
            alpha: the fade-in of this resolution's block, in [0, 1]; 1 once it is stabilised.

        Returns:
            Logits (B,). During a fade-in the features entering the previous resolution's block are
            ``alpha * block(fromRGB_new(x)) + (1 - alpha) * fromRGB_old(avgpool(x))``.
        """
        cfg = self.cfg
        resolution = cfg.resolution if resolution is None else resolution
        level = _check_phase(cfg, resolution, alpha)
        expected = (cfg.channels, resolution, resolution)
        assert x.ndim == 4 and tuple(x.shape[1:]) == expected, (
            f"D at {resolution} px expects images of shape (B, {', '.join(map(str, expected))}), got {tuple(x.shape)}")
        if level == 0:
            h = self._from_rgb(0, x)  # (B, w(4), 4, 4)
        else:
            new = lambda: self.blocks[level](self._from_rgb(level, x))  # (B, w(r/2), r/2, r/2): the new block
            old = lambda: self._from_rgb(level - 1, F.avg_pool2d(x, 2))  # the same shape: the smaller D's input
            h = _fade_paths(old, new, alpha)  # Fig. 2 (b), mirrored
        for i in range(level - 1, 0, -1):
            h = self.blocks[i](h)  # halve down to (B, w(4), 4, 4)
        return self.blocks[0](h)  # (B,)


def build_progan(cfg: ProGANConfig | str = "mnist32", **overrides) -> tuple[ProGANGenerator, ProGANDiscriminator]:
    """Build a (G, D) pair from a config or a preset name, with optional field overrides.

    Example: ``G, D = build_progan("mnist32", resolution=16)``.

    Args:
        cfg: a :class:`ProGANConfig`, or the name of one in :data:`PROGAN_PRESETS`.
        **overrides: config fields to replace.

    Returns:
        ``(G, D)``, on the CPU in float32; every layer of every resolution exists from the start.
    """
    if isinstance(cfg, str):
        if cfg not in PROGAN_PRESETS:
            raise ValueError(f"unknown ProGAN preset {cfg!r}; choose one of: {', '.join(PROGAN_PRESETS)}")
        cfg = PROGAN_PRESETS[cfg]
    cfg = dataclasses.replace(cfg, **overrides)  # a fresh, validated copy: presets stay untouched
    return ProGANGenerator(cfg), ProGANDiscriminator(cfg)
