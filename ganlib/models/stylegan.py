"""StyleGAN (Karras et al. 2019) and StyleGAN2 (Karras et al. 2020): a style-based generator and the
residual discriminator, in one file.

The generator splits in two networks (lecture B, "StyleGAN Series Evolution"):

    z (B, latent_dim) -> pixel_norm -> mapping: 8 equalised dense layers -> w (B, w_dim)
    w, broadcast to ws (B, num_ws, w_dim): one w per style layer (style mixing gives layers different w's)
    synthesis: learned constant (C, 4, 4) -> [style layers at 4, 8, ..., image_size] -> image (B, C_img, H, W)

The **mapping network** f: Z -> W learns a space W in which factors of variation need not follow the
fixed Gaussian of z, so W can be less entangled than Z (StyleGAN, Sec. 4). Its layers learn 100 times
more slowly (``lr_multiplier = 0.01``, StyleGAN App. C). A running average ``w_avg`` of the w's seen in
training is kept for the **truncation trick** in W (StyleGAN, Sec. 2 and App. B):
``w' = w_avg + psi (w - w_avg)``; psi < 1 trades variety for typicality.

Each **style layer** turns its w into per-channel styles with a learned affine map A (an equalised
dense layer whose bias starts at 1, so the styles start near 1). Two ways to apply them:

* ``"stylegan1"``, **AdaIN** (StyleGAN, Eq. 1): conv -> noise -> bias, LeakyReLU -> for each channel,
  normalise the feature map to zero mean and unit variance, then scale by y_s and shift by y_b,
  both affine maps of w: ``AdaIN(x_i, y) = y_s,i (x_i - mu(x_i)) / sigma(x_i) + y_b,i``. The first
  4x4 layer has no convolution: it applies noise and AdaIN to the constant directly.
* ``"stylegan2"``, **weight demodulation** (StyleGAN2, Sec. 2.2, Eqs. 1-3): the style scales the
  convolution's input channels by changing the weights, ``w'_ijk = s_i w_ijk``, then each output
  channel's weights are rescaled to unit norm, ``w''_ijk = w'_ijk / sqrt(sum_{i,k} w'_ijk^2 + eps)``,
  which restores unit output variance for unit-variance input *statistically*, without measuring
  the features: the droplet artefacts of AdaIN vanish. Since every sample has its own weights, the
  convolution runs as one grouped convolution over the batch (:func:`modulated_conv2d`), or, the
  same numbers computed another way, as input scaling, a shared convolution and output scaling
  (``fused_modconv=False``, the default: StyleGAN2-ADA trains this way, and it is faster on a CPU). Then
  noise -> bias -> LeakyReLU.

**Noise inputs** (StyleGAN, Sec. 3.2): every layer adds single-channel Gaussian noise (B, 1, H, W),
scaled per channel by a learned factor that starts at 0. ``noise_mode`` chooses fresh noise
("random"), the layer's fixed noise buffer ("const", for repeatable pictures) or none ("none").

Between resolutions the features are upsampled (bilinear by default, StyleGAN2's [1, 3, 3, 1]
filter is the same as bilinear upsampling by 2). The image is the sum of the toRGB outputs of every
resolution, each upsampled to the next (StyleGAN2's "skip" generator, Fig. 7). In StyleGAN2 the
toRGB layers are modulated 1x1 convolutions without demodulation; for simplicity the StyleGAN 1
variant here uses the same skip output with plain 1x1 toRGB layers (the original grew
progressively and kept only the last toRGB). Neither variant has a tanh: the output is linear.

The **discriminator** is StyleGAN2's residual D (StyleGAN2, Fig. 7c): fromRGB at full resolution,
then per resolution two 3x3 convolutions and a 2x downsampling, added to a 1x1 residual skip, the sum
scaled by 1/sqrt(2); at 4x4 the minibatch standard deviation, a 3x3 convolution, a dense layer and a
dense output to one logit. Downsampling is a 2x2 average (a box filter, in place of the paper's
[1, 3, 3, 1] FIR filter). All layers use ProGAN's equalised learning rate, imported from
:mod:`ganlib.models.progan`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ganlib.models.progan import EqualizedConv2d, EqualizedLinear, minibatch_stddev, pixel_norm
from ganlib.shipped import load_shipped

__all__ = [
    "StyleGANConfig",
    "STYLEGAN_PRESETS",
    "adain",
    "modulated_conv2d",
    "MappingNetwork",
    "SynthesisNetwork",
    "StyleGANGenerator",
    "StyleGANDiscriminator",
    "build_stylegan",
    "load_pretrained",
    "PRETRAINED_FORMAT",
]

_ARCHITECTURES = ("stylegan1", "stylegan2")
_UPSAMPLING = ("nearest", "bilinear")
NOISE_MODES = ("random", "const", "none")
_SLOPE = 0.2  # LeakyReLU slope everywhere (both papers)
_GAIN = math.sqrt(2)  # He's gain for LeakyReLU


@dataclass
class StyleGANConfig:
    """Sizes and switches of a StyleGAN generator and discriminator; see :data:`STYLEGAN_PRESETS`."""

    architecture: str = "stylegan2"  # "stylegan2" (modulated convs, demodulation) or "stylegan1" (AdaIN)
    image_size: int = 32  # side of the square images: a power of 2, at least 8
    channels: int = 1  # image channels: 1 (MNIST) or 3 (CIFAR-10, CelebA)
    latent_dim: int = 512  # size of z
    w_dim: int = 512  # size of w (the papers: 512, like z)
    mapping_layers: int = 8  # dense layers of the mapping network (both papers: 8)
    mapping_lr: float = 0.01  # the mapping network's learning-rate multiplier (StyleGAN, App. C)
    fmap_base: int = 16384  # feature maps at resolution r: min(fmap_base // r, fmap_max), in G and D
    fmap_max: int = 512  # upper bound on feature maps per layer
    upsample: str = "bilinear"  # G's upsampling between resolutions: "bilinear" (StyleGAN2's filter) or "nearest"
    fused_modconv: bool = False  # StyleGAN2: True modulates the weights (one grouped conv); False scales the
    # activations around a shared conv, as StyleGAN2-ADA's code does in training: the same numbers, faster on a CPU
    mbstd_group: int = 4  # D's minibatch-stddev group size (the batch must be divisible by min(it, B))

    def __post_init__(self) -> None:
        if self.architecture not in _ARCHITECTURES:
            raise ValueError(f"architecture must be one of {_ARCHITECTURES}, got {self.architecture!r}")
        if self.upsample not in _UPSAMPLING:
            raise ValueError(f"upsample must be one of {_UPSAMPLING}, got {self.upsample!r}")
        if self.image_size < 8 or self.image_size & (self.image_size - 1):
            raise ValueError(f"image_size must be a power of 2 of at least 8, got {self.image_size}")
        for name in ("channels", "latent_dim", "w_dim", "mapping_layers", "fmap_base", "fmap_max", "mbstd_group"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if not self.mapping_lr > 0:
            raise ValueError(f"mapping_lr must be positive, got {self.mapping_lr}")

    @property
    def resolutions(self) -> list[int]:
        """[4, 8, ..., image_size]: the synthesis network's resolutions."""
        return [2 ** k for k in range(2, int(math.log2(self.image_size)) + 1)]

    def fmaps(self, resolution: int) -> int:
        """Feature maps at ``resolution`` (in G and in D)."""
        return max(1, min(self.fmap_base // resolution, self.fmap_max))

    @property
    def num_ws(self) -> int:
        """How many w's the synthesis network reads: 2 per resolution (see :class:`SynthesisNetwork`)."""
        return 2 * len(self.resolutions)


STYLEGAN_PRESETS: dict[str, StyleGANConfig] = {
    # Digits padded to 32 px, small enough for a CPU: 64-32-16-8 feature maps at 4-8-16-32 px, z and w of 64
    # (G 0.13 M, D 0.14 M parameters). One StyleGAN2 training step at batch 32 (with the lazy regularisers)
    # takes about 135-155 ms on one idle CPU thread; fmap_base=512 (twice the width) about 250 ms.
    "mnist32": StyleGANConfig(image_size=32, channels=1, latent_dim=64, w_dim=64, fmap_base=256, fmap_max=64),
    # CIFAR-10 at 32 px for a GPU: 256 maps at every resolution (the StyleGAN2-ADA CIFAR network uses 512).
    "cifar32": StyleGANConfig(image_size=32, channels=3, latent_dim=512, w_dim=512, fmap_base=8192, fmap_max=256),
    # CelebA at 64 px for a GPU: 512 maps up to 32 px, 256 at 64 px.
    "celeba64": StyleGANConfig(image_size=64, channels=3, latent_dim=512, w_dim=512, fmap_base=16384,
                               fmap_max=512),
}


# ---------------------------------------------------------------------------------------------
# The two ways to apply a style: AdaIN (StyleGAN) and modulated convolution (StyleGAN2)
# ---------------------------------------------------------------------------------------------


def adain(x: torch.Tensor, style_scale: torch.Tensor, style_bias: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Adaptive instance normalisation (Huang and Belongie 2017; StyleGAN, Eq. 1).

    ``AdaIN(x_i, y) = y_s,i (x_i - mu(x_i)) / sigma(x_i) + y_b,i``: each feature map x_i of each
    sample is normalised over its pixels (instance norm), then given the style's scale and shift, so
    its output mean is y_b,i and its standard deviation |y_s,i| (up to eps).

    Args:
        x: features (B, C, H, W).
        style_scale: y_s (B, C).
        style_bias: y_b (B, C).
        eps: added to the variance.

    Returns:
        (B, C, H, W).
    """
    assert x.ndim == 4 and style_scale.shape == style_bias.shape == x.shape[:2], (
        f"adain expects x (B, C, H, W) and styles (B, C), got {tuple(x.shape)}, {tuple(style_scale.shape)}, "
        f"{tuple(style_bias.shape)}")
    mu = x.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1): mu(x_i)
    var = x.var(dim=(2, 3), keepdim=True, unbiased=False)  # (B, C, 1, 1): sigma(x_i)^2
    normalised = (x - mu) * torch.rsqrt(var + eps)  # instance norm
    return style_scale[:, :, None, None] * normalised + style_bias[:, :, None, None]  # Eq. 1


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                     padding: int = 1, eps: float = 1e-8, fused: bool = True) -> torch.Tensor:
    """StyleGAN2's modulated convolution with weight demodulation (Karras et al. 2020, Eqs. 1-3).

    Every sample b gets its own weights: modulation ``w'_ijk = s_i w_ijk`` (Eq. 1; i input channel,
    j output channel, k kernel position), then, with ``demodulate``, demodulation
    ``w''_ijk = w'_ijk / sqrt(sum_{i,k} w'_ijk^2 + eps)`` (Eq. 3): for inputs of unit variance the
    outputs keep unit variance (Eq. 2, sigma_j = sqrt(sum_{i,k} w'_ijk^2)).

    ``fused=True`` folds the batch into the channels and runs one grouped convolution, B groups of
    C_in channels, each with its own weights (the paper's code does this at inference).
    ``fused=False`` computes the same thing without building per-sample weights: scale the input
    channels by s, convolve with the shared weight, scale the output channels by the demodulation
    factors (how the paper's code trains; often faster on a CPU).

    Args:
        x: input features (B, C_in, H, W).
        weight: the shared weight (C_out, C_in, k, k).
        styles: s, one scale per input channel and sample (B, C_in).
        demodulate: apply Eq. 3 (StyleGAN2's convolutions); off for the toRGB layers.
        padding: zero padding of the convolution (1 for 3x3, 0 for 1x1).
        eps: the epsilon of Eq. 3.
        fused: grouped convolution over the batch (True) or the scale-convolve-scale form (False).

    Returns:
        (B, C_out, H', W'), H' = H + 2 padding - k + 1.
    """
    B, C_in, H, W = x.shape
    C_out, C_in_w, kh, kw = weight.shape
    assert C_in_w == C_in and styles.shape == (B, C_in), (
        f"modulated_conv2d expects x (B, C_in, H, W), weight (C_out, C_in, k, k), styles (B, C_in); got "
        f"{tuple(x.shape)}, {tuple(weight.shape)}, {tuple(styles.shape)}")
    if not fused:
        x = x * styles[:, :, None, None]  # modulation on the activations: s_i x_i
        out = F.conv2d(x, weight, padding=padding)  # (B, C_out, H', W')
        if demodulate:
            # sum_{i,k} (s_i w_ijk)^2 = sum_i s_i^2 (sum_k w_ijk^2): (B, C_in) @ (C_in, C_out)
            dcoefs = torch.rsqrt(styles.square() @ weight.square().sum(dim=(2, 3)).t() + eps)  # (B, C_out)
            out = out * dcoefs[:, :, None, None]  # Eq. 3, applied to the output instead of the weights
        return out
    w = weight.unsqueeze(0) * styles[:, None, :, None, None]  # (B, C_out, C_in, k, k)  Eq. 1: w' = s_i w_ijk
    if demodulate:
        w = w * torch.rsqrt(w.square().sum(dim=(2, 3, 4), keepdim=True) + eps)  # Eq. 3: w'' = w' / sigma_j
    x = x.reshape(1, B * C_in, H, W)  # the batch becomes B groups of channels
    out = F.conv2d(x, w.reshape(B * C_out, C_in, kh, kw), padding=padding, groups=B)  # (1, B C_out, H', W')
    return out.reshape(B, C_out, *out.shape[2:])


def _upsample(x: torch.Tensor, mode: str) -> torch.Tensor:
    if mode == "nearest":
        return F.interpolate(x, scale_factor=2, mode="nearest")
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)  # = the [1, 3, 3, 1] filter


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, _SLOPE)


# ---------------------------------------------------------------------------------------------
# Mapping network: z -> w
# ---------------------------------------------------------------------------------------------


class MappingNetwork(nn.Module):
    """f: Z -> W. z -> pixel_norm -> ``mapping_layers`` x (equalised dense, LeakyReLU 0.2 x sqrt 2) -> w.

    Holds the buffer ``w_avg`` (w_dim,), the running average of w that the training task updates
    (:meth:`update_w_avg`) and :meth:`truncate` reads.
    """

    def __init__(self, cfg: StyleGANConfig):
        super().__init__()
        dims = [cfg.latent_dim] + [cfg.w_dim] * cfg.mapping_layers
        self.layers = nn.ModuleList(EqualizedLinear(a, b, lr_multiplier=cfg.mapping_lr) for a, b in zip(dims, dims[1:]))
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, latent_dim) -> w (B, w_dim)."""
        x = pixel_norm(z)  # z / sqrt(mean z^2): the input lies near a sphere (StyleGAN's code)
        for layer in self.layers:
            x = _lrelu(layer(x)) * _GAIN  # activation with He's gain applied after it, as in StyleGAN2's code
        return x

    @torch.no_grad()
    def update_w_avg(self, w: torch.Tensor, decay: float = 0.995) -> None:
        """w_avg <- decay w_avg + (1 - decay) mean_b w: one step of the running average, from w (B, w_dim)."""
        self.w_avg.copy_(w.detach().float().mean(dim=0).lerp(self.w_avg, decay))

    def truncate(self, w: torch.Tensor, psi: float) -> torch.Tensor:
        """The truncation trick in W: w_avg + psi (w - w_avg); any shape ending in w_dim. psi = 1 returns w."""
        if psi == 1:
            return w
        return self.w_avg + psi * (w - self.w_avg)


# ---------------------------------------------------------------------------------------------
# Synthesis network: ws -> image
# ---------------------------------------------------------------------------------------------


class NoiseInput(nn.Module):
    """Adds single-channel noise (B, 1, H, W) scaled by a learned per-channel factor (starts at 0)."""

    def __init__(self, channels: int, resolution: int):
        super().__init__()
        self.strength = nn.Parameter(torch.zeros(channels))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
        if noise_mode == "none":
            return x
        B, _, H, W = x.shape
        if noise_mode == "const":
            noise = self.noise_const  # (1, 1, H, W), the same for every sample and call
        else:
            noise = torch.randn(B, 1, H, W, device=x.device, dtype=x.dtype)  # fresh every call
        return x + noise * self.strength[None, :, None, None]


class StyleLayer(nn.Module):
    """One style layer at one resolution: [upsample] -> conv -> noise -> bias, activation, with the style
    applied as the architecture says (AdaIN after, or modulation of the convolution)."""

    def __init__(self, in_channels: int, out_channels: int, resolution: int, cfg: StyleGANConfig, *,
                 up: bool = False, conv: bool = True):
        super().__init__()
        self.stylegan2 = cfg.architecture == "stylegan2"
        self.up, self.upsample_mode, self.fused = up, cfg.upsample, cfg.fused_modconv
        if self.stylegan2:
            assert conv, "every StyleGAN2 layer convolves"
            self.affine = EqualizedLinear(cfg.w_dim, in_channels, bias_init=1.0)  # A: w -> s (B, C_in)
            self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))  # demodulation normalises it
        else:
            self.conv = EqualizedConv2d(in_channels, out_channels, 3, padding=1, bias=False) if conv else None
            self.affine_scale = EqualizedLinear(cfg.w_dim, out_channels, bias_init=1.0)  # A: w -> y_s
            self.affine_bias = EqualizedLinear(cfg.w_dim, out_channels, bias_init=0.0)  # A: w -> y_b
        self.noise = NoiseInput(out_channels, resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        """x (B, C_in, r/2 or r, ...) and w (B, w_dim) -> (B, C_out, r, r)."""
        if self.up:
            x = _upsample(x, self.upsample_mode)
        if self.stylegan2:
            x = modulated_conv2d(x, self.weight, self.affine(w), demodulate=True, padding=1, fused=self.fused)
            x = self.noise(x, noise_mode)
            return _lrelu(x + self.bias[None, :, None, None]) * _GAIN
        if self.conv is not None:
            x = self.conv(x)
        x = self.noise(x, noise_mode)
        x = _lrelu(x + self.bias[None, :, None, None])  # He's gain is in the equalised conv's weights
        return adain(x, self.affine_scale(w), self.affine_bias(w))


class ToRGB(nn.Module):
    """1x1 convolution to image channels: modulated, not demodulated (StyleGAN2), or plain (StyleGAN 1)."""

    def __init__(self, in_channels: int, cfg: StyleGANConfig):
        super().__init__()
        self.modulated = cfg.architecture == "stylegan2"
        if self.modulated:
            self.affine = EqualizedLinear(cfg.w_dim, in_channels, bias_init=1.0)
            self.weight = nn.Parameter(torch.randn(cfg.channels, in_channels, 1, 1))
            self.weight_gain = 1 / math.sqrt(in_channels)  # no demodulation: the equalised scale instead
            self.bias = nn.Parameter(torch.zeros(cfg.channels))
            self.fused = cfg.fused_modconv
        else:
            self.conv = EqualizedConv2d(in_channels, cfg.channels, 1, gain=1.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
        if not self.modulated:
            return self.conv(x)
        styles = self.affine(w) * self.weight_gain  # (B, C_in)
        out = modulated_conv2d(x, self.weight, styles, demodulate=False, padding=0, fused=self.fused)
        return out + self.bias[None, :, None, None]


class SynthesisBlock(nn.Module):
    """The layers of one resolution: two style layers (at 4x4: the constant and one) and a toRGB."""

    def __init__(self, in_channels: int, out_channels: int, resolution: int, cfg: StyleGANConfig):
        super().__init__()
        first = resolution == 4
        if first:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))  # the learned constant input
        if first and cfg.architecture == "stylegan2":
            layers = [StyleLayer(out_channels, out_channels, 4, cfg)]  # StyleGAN2: one conv on the constant
        elif first:
            layers = [StyleLayer(out_channels, out_channels, 4, cfg, conv=False),  # StyleGAN: noise + AdaIN on it
                      StyleLayer(out_channels, out_channels, 4, cfg)]
        else:
            layers = [StyleLayer(in_channels, out_channels, resolution, cfg, up=True),
                      StyleLayer(out_channels, out_channels, resolution, cfg)]
        self.layers = nn.ModuleList(layers)
        self.to_rgb = ToRGB(out_channels, cfg)


class SynthesisNetwork(nn.Module):
    """g: ws (B, num_ws, w_dim) -> images (B, C, H, W).

    Which w each layer reads: StyleGAN 1 has two style layers per resolution, layers 2k and 2k + 1 at
    resolution 4 * 2^k, and its toRGB layers read none. StyleGAN2 has one convolution at 4x4 and two
    at every further resolution; each toRGB reads the w of the layer after it, as the paper's code
    does (so the last toRGB has its own). Both read ``num_ws = 2 * len(resolutions)`` w's.
    """

    def __init__(self, cfg: StyleGANConfig):
        super().__init__()
        self.cfg = cfg
        self.blocks = nn.ModuleList(
            SynthesisBlock(cfg.fmaps(max(r // 2, 4)), cfg.fmaps(r), r, cfg) for r in cfg.resolutions)
        self.num_ws = cfg.num_ws

    def forward(self, ws: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        """ws (B, num_ws, w_dim) -> images (B, C, image_size, image_size)."""
        assert ws.ndim == 3 and ws.shape[1:] == (self.num_ws, self.cfg.w_dim), (
            f"synthesis expects ws (B, {self.num_ws}, {self.cfg.w_dim}), got {tuple(ws.shape)}")
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        B = ws.shape[0]
        x = img = None
        i = 0  # index of the next w
        for block in self.blocks:
            if x is None:
                x = block.const.unsqueeze(0).expand(B, -1, -1, -1)  # (B, C, 4, 4)
            for layer in block.layers:
                x = layer(x, ws[:, i], noise_mode)  # (B, C_r, r, r)
                i += 1
            w_rgb = ws[:, i] if block.to_rgb.modulated else None  # StyleGAN2: the next layer's w
            rgb = block.to_rgb(x, w_rgb)  # (B, C_img, r, r)
            img = rgb if img is None else _upsample(img, "bilinear") + rgb  # skip generator: sum over resolutions
        return img


class StyleGANGenerator(nn.Module):
    """G = synthesis . mapping, with truncation and style mixing (StyleGAN, Secs. 2-3.1).

    ``G(z)`` draws images; ``G.mapping(z)`` gives w (B, w_dim) and ``G.synthesis(ws)`` takes
    ws (B, num_ws, w_dim), so path lengths and truncation can be worked in W.
    """

    def __init__(self, cfg: StyleGANConfig):
        super().__init__()
        self.cfg = cfg
        self.mapping = MappingNetwork(cfg)
        self.synthesis = SynthesisNetwork(cfg)
        self.num_ws = cfg.num_ws

    @property
    def w_avg(self) -> torch.Tensor:
        """The running average of w (w_dim,), kept by the mapping network."""
        return self.mapping.w_avg

    def truncate(self, w: torch.Tensor, psi: float) -> torch.Tensor:
        """w_avg + psi (w - w_avg): psi = 1 leaves w alone, psi = 0 gives w_avg."""
        return self.mapping.truncate(w, psi)

    def broadcast(self, w: torch.Tensor) -> torch.Tensor:
        """w (B, w_dim) -> ws (B, num_ws, w_dim): the same w for every layer."""
        return w.unsqueeze(1).expand(-1, self.num_ws, -1)

    def forward(self, z: torch.Tensor, *, psi: float = 1.0, mixing_z: torch.Tensor | None = None,
                crossover: int | None = None, noise_mode: str = "random",
                return_w: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Images from latents.

        Args:
            z: latents (B, latent_dim).
            psi: truncation in W, applied to every layer's w (1 = none).
            mixing_z: a second batch of latents (B, latent_dim) for style mixing (StyleGAN, Sec. 3.1):
                layers ``crossover`` and later read w2 = mapping(mixing_z), the earlier ones w1.
            crossover: the first layer that reads w2, in [0, num_ws]; required with ``mixing_z``.
            noise_mode: "random", "const" (each layer's fixed noise) or "none".
            return_w: also return the ws (B, num_ws, w_dim) the synthesis read.

        Returns:
            Images (B, C, H, W), or ``(images, ws)`` with ``return_w``.
        """
        assert z.ndim == 2 and z.shape[1] == self.cfg.latent_dim, (
            f"G expects z (B, {self.cfg.latent_dim}), got {tuple(z.shape)}")
        ws = self.broadcast(self.mapping(z))  # (B, num_ws, w_dim)
        if mixing_z is not None:
            if crossover is None or not 0 <= crossover <= self.num_ws:
                raise ValueError(f"style mixing needs crossover in [0, {self.num_ws}], got {crossover!r}")
            assert mixing_z.shape == z.shape, f"mixing_z must have z's shape {tuple(z.shape)}, got {tuple(mixing_z.shape)}"
            ws2 = self.broadcast(self.mapping(mixing_z))
            ws = torch.cat([ws[:, :crossover], ws2[:, crossover:]], dim=1)  # coarse from z, the rest from mixing_z
        elif crossover is not None:
            raise ValueError("crossover is given but mixing_z is not")
        if psi != 1.0:
            ws = self.truncate(ws, psi)
        images = self.synthesis(ws, noise_mode=noise_mode)
        return (images, ws) if return_w else images


# ---------------------------------------------------------------------------------------------
# Discriminator: StyleGAN2's residual D
# ---------------------------------------------------------------------------------------------


class DiscriminatorBlock(nn.Module):
    """(B, C, r, r) -> (B, C', r/2, r/2): conv3x3, LReLU, downsample + conv3x3, LReLU, plus a 1x1 residual
    skip of the downsampled input; the sum scaled by 1/sqrt(2) to keep the variance (StyleGAN2, Fig. 7c)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = EqualizedConv2d(in_channels, in_channels, 3, padding=1)
        self.conv1 = EqualizedConv2d(in_channels, out_channels, 3, padding=1)
        self.skip = EqualizedConv2d(in_channels, out_channels, 1, bias=False, gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.skip(F.avg_pool2d(x, 2))  # residual path
        x = _lrelu(self.conv0(x))
        x = _lrelu(self.conv1(F.avg_pool2d(x, 2)))  # downsample, then convolve at the lower resolution
        return (x + y) * math.sqrt(0.5)


class StyleGANDiscriminator(nn.Module):
    """StyleGAN2's residual discriminator: images (B, C, H, W) -> logits (B,)."""

    def __init__(self, cfg: StyleGANConfig):
        super().__init__()
        self.cfg = cfg
        top = cfg.image_size
        self.from_rgb = EqualizedConv2d(cfg.channels, cfg.fmaps(top), 1)
        self.blocks = nn.Sequential(*(DiscriminatorBlock(cfg.fmaps(r), cfg.fmaps(r // 2))
                                      for r in reversed(cfg.resolutions[1:])))
        c = cfg.fmaps(4)
        self.conv = EqualizedConv2d(c + 1, c, 3, padding=1)  # after the minibatch-stddev channel
        self.dense = EqualizedLinear(c * 16, c, gain=_GAIN)
        self.out = EqualizedLinear(c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = self.cfg.image_size
        assert x.ndim == 4 and x.shape[1:] == (self.cfg.channels, size, size), (
            f"D expects images (B, {self.cfg.channels}, {size}, {size}), got {tuple(x.shape)}")
        x = _lrelu(self.from_rgb(x))  # (B, C_top, H, W)
        x = self.blocks(x)  # (B, C_4, 4, 4)
        x = minibatch_stddev(x, self.cfg.mbstd_group)  # (B, C_4 + 1, 4, 4)
        x = _lrelu(self.conv(x))
        x = _lrelu(self.dense(x.flatten(1)))  # (B, C_4)
        return self.out(x).reshape(-1)  # (B,)


def build_stylegan(cfg: StyleGANConfig | str = "mnist32",
                   **overrides) -> tuple[StyleGANGenerator, StyleGANDiscriminator]:
    """Build a (G, D) pair from a config or a preset name, with optional field overrides.

    Example: ``G, D = build_stylegan("mnist32", architecture="stylegan1")``.

    Args:
        cfg: a :class:`StyleGANConfig`, or the name of one in :data:`STYLEGAN_PRESETS`.
        **overrides: config fields to replace.

    Returns:
        ``(G, D)``, on the CPU in float32.
    """
    if isinstance(cfg, str):
        if cfg not in STYLEGAN_PRESETS:
            raise ValueError(f"unknown StyleGAN preset {cfg!r}; choose one of: {', '.join(STYLEGAN_PRESETS)}")
        cfg = STYLEGAN_PRESETS[cfg]
    cfg = dataclasses.replace(cfg, **overrides)  # a fresh, validated copy: presets stay untouched
    return StyleGANGenerator(cfg), StyleGANDiscriminator(cfg)


# ---------------------------------------------------------------------------------------------
# The small generators shipped for notebook 08b
# ---------------------------------------------------------------------------------------------

PRETRAINED_NAME = "stylegan_mnist32.pt"
PRETRAINED_FORMAT = "ganlib-stylegan-assets-v1"


def load_pretrained(architecture: str = "stylegan2", device: str | torch.device = "cpu"
                    ) -> tuple[StyleGANGenerator, dict]:
    """A shipped ``mnist32`` generator (the G_ema of a run on mnist-5k), in eval mode, and its record.

    ``scripts/train_stylegan_assets.py`` made the file (``ganlib/assets/stylegan_mnist32.pt``); the
    record holds its steps, seed, images, training seconds, torch version and the command.

    Args:
        architecture: "stylegan1" (AdaIN) or "stylegan2" (modulated convolutions).
        device: where to put the generator.

    Returns:
        ``(G, info)``; G's parameters do not require gradients.

    Raises:
        ValueError: an unknown architecture.
        FileNotFoundError: the file is missing or holds no such generator (the message says how to make it).
        RuntimeError: the file is corrupt or not this kind of file.
    """
    if architecture not in _ARCHITECTURES:
        raise ValueError(f"architecture must be one of {_ARCHITECTURES}, got {architecture!r}")
    remake = "recreate it with `python scripts/train_stylegan_assets.py` (about 15 minutes on a CPU)"
    state = load_shipped(PRETRAINED_NAME, PRETRAINED_FORMAT, remake)
    if architecture not in state:
        raise FileNotFoundError(f"ganlib/assets/{PRETRAINED_NAME} holds no {architecture} generator; {remake}")
    entry = state[architecture]
    G = StyleGANGenerator(StyleGANConfig(**entry["config"]))
    G.load_state_dict(entry["G_ema"])
    G.requires_grad_(False)
    return G.to(device).eval(), dict(entry["info"])
