"""PatchGAN: the fully convolutional discriminator that scores every patch of an image.

A PatchGAN D (Isola et al. 2017, Sec. 2.2, "Markovian discriminator") returns a map of logits
(B, 1, h, w) rather than one logit per image: each logit judges one overlapping N x N patch,
N = :func:`receptive_field` (70 px with ``n_layers=3``), and the map has side
:func:`patch_map_size`. D models only local texture, "as a form of texture/style loss"; the
low frequencies are left to another term (the L1 loss of pix2pix, the cycle loss of CycleGAN).
Being fully convolutional, it runs on any image at least as large as its receptive field, with
far fewer parameters than a full-image D. On small images a downsampling D is nearly global
(34 px patches with ``n_layers=2`` on a 32 px image); ``stride=1`` keeps the patches small, and
:func:`patch_footprint` shows which pixels one logit actually reads.

Two families share it, so it lives in its own file:

* pix2pix (:mod:`ganlib.models.conditional`): conditional, ``D(image | condition)`` on the
  channel-wise concatenation of the two, with batch norm (``norm="batch"``).
* CycleGAN (:mod:`ganlib.models.cyclegan`): unconditional, ``D_Y(y)`` on the image alone, with
  instance norm without learned affine (``norm="instance"``; Zhu et al. 2017, Appendix 7.2:
  C64-C128-C256-C512, no norm on the first layer, LeakyReLU 0.2).

D returns raw logits (or the raw scores of the least-squares loss): no sigmoid here.
Convolutions start from N(0, 0.02) (:func:`ganlib.models.dcgan.init_dcgan_weights_`).
"""

from __future__ import annotations

import torch
from torch import nn

from ganlib.models.dcgan import init_dcgan_weights_

__all__ = ["PATCH_NORMS", "PatchDiscriminator", "receptive_field", "patch_map_size", "patch_footprint"]

PATCH_NORMS = ("batch", "instance")  # the normalisations PatchDiscriminator offers after its hidden layers


def receptive_field(n_layers: int = 3, stride: int = 2) -> int:
    """Side, in input pixels, of the patch that one logit of a :class:`PatchDiscriminator` sees.

    D has ``n_layers`` 4x4 convolutions of stride ``stride`` followed by two of stride 1. Walking back
    from one output pixel, a layer of kernel k and stride s maps a field r to ``(r - 1) * s + k``: the
    two stride-1 layers give 1 -> 4 -> 7, and each of the ``n_layers`` layers r -> (r - 1) * stride + 4,
    hence with stride 2 (downsampling, the paper's D)

        r(n) = 9 * 2**n - 2:   16 (n=1), 34 (n=2), 70 (n=3, the paper's 70x70), 286 (n=5),

    and with stride 1 (no downsampling: a D whose patches stay small) r(n) = 7 + 3n: 10 (n=1), 13 (n=2).

    Args:
        n_layers: number of stride-``stride`` convolutions, at least 1.
        stride: their stride, 2 (default) or 1.

    Returns:
        The receptive field's side in pixels.
    """
    if n_layers < 1:
        raise ValueError(f"n_layers must be a positive integer, got {n_layers}")
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2, got {stride}")
    return 9 * 2 ** n_layers - 2 if stride == 2 else 7 + 3 * n_layers


def patch_map_size(input_size: int, n_layers: int = 3, stride: int = 2) -> int:
    """Side of a :class:`PatchDiscriminator`'s logit map for an input of side ``input_size``.

    Every convolution has kernel 4 and padding 1: a stride-2 one maps s -> floor((s - 2) / 2) + 1,
    a stride-1 one s -> s - 1. At 256 px with ``n_layers=3``: 128, 64, 32, 31, 30.

    Args:
        input_size: height (or width) of the input.
        n_layers: number of stride-``stride`` convolutions.
        stride: their stride, 2 (default) or 1.

    Returns:
        The map's height (or width); below 1 means the input is too small.
    """
    s = input_size
    for _ in range(n_layers):
        s = (s - 2) // stride + 1
    return s - 2


def patch_footprint(D: nn.Module, image_size: int, row: int, col: int, condition_channels: int = 0) -> torch.Tensor:
    """The input pixels that one patch logit of ``D`` depends on, found by backpropagation.

    The gradient of logit ``[row, col]`` with respect to a random input is nonzero exactly where the
    logit reads the input (LeakyReLU has no flat part), so its support is the logit's receptive field,
    clipped where it falls on the zero padding. D is run in eval mode (batch norm's running statistics),
    so the logits of different images do not mix. (Instance norm normalises each map by its own
    statistics, so with ``norm="instance"`` every logit depends a little on every pixel.)

    Args:
        D: a patch discriminator, ``D(image)`` or ``D(image, condition)`` -> logits (B, 1, h, w).
        image_size: side of the square input.
        row, col: the logit, in the map.
        condition_channels: channels of the condition (pix2pix: 1 for an edge map); 0 for an unconditional D.

    Returns:
        A boolean mask of shape (image_size, image_size): True where the logit reads the input.
    """
    was_training = D.training
    D.eval()
    image_channels = getattr(D, "in_channels", 1 + condition_channels) - condition_channels
    x = torch.randn(1, image_channels + condition_channels, image_size, image_size,
                    generator=torch.Generator().manual_seed(0), requires_grad=True)
    image, condition = x[:, :image_channels], x[:, image_channels:]  # (1, C_img, S, S), (1, C_cond, S, S)
    logits = D(image, condition) if condition_channels else D(image)  # (1, 1, h, w)
    (grad,) = torch.autograd.grad(logits[0, 0, row, col], x)
    D.train(was_training)
    return grad.abs().sum(dim=(0, 1)) > 0  # (S, S)


class PatchDiscriminator(nn.Module):
    """PatchGAN D: (B, in_channels, H, W) -> patch logits (B, 1, h, w). No sigmoid.

    Layers (``w`` the width): Conv(in -> w, stride s) -> LeakyReLU, then ``n_layers - 1`` times
    Conv(stride s) -> norm -> LeakyReLU doubling the width up to 8w, then Conv(stride 1) -> norm ->
    LeakyReLU, then Conv(stride 1) to one channel: each logit judges one
    :func:`receptive_field` x :func:`receptive_field` patch, and the map has side
    :func:`patch_map_size`. For pix2pix ``in_channels`` counts the condition and the image,
    which :meth:`forward` concatenates; for CycleGAN it is just the image's channels. The stride s
    is 2 (the paper's D, which downsamples) unless ``stride=1`` asks for a D whose patches stay small
    on small images (10 px with ``n_layers=1``).
    """

    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 3, norm: str = "batch",
                 leaky_slope: float = 0.2, stride: int = 2):
        """
        Args:
            in_channels: input channels, condition and image together (pix2pix) or the image alone.
            width: channels of the first layer; doubles per layer up to 8x.
            n_layers: number of stride-``stride`` convolutions (3 with stride 2: 70x70 patches).
            norm: ``"batch"`` (pix2pix) or ``"instance"`` (CycleGAN, no learned affine).
            leaky_slope: LeakyReLU slope.
            stride: stride of the ``n_layers`` convolutions: 2 (the paper's D), or 1 for a D that does not
                downsample, whose patches stay small (:func:`receptive_field` ``7 + 3 n_layers``).
        """
        super().__init__()
        for name, value in (("in_channels", in_channels), ("width", width), ("n_layers", n_layers)):
            if value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        if norm not in PATCH_NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose one of: {', '.join(PATCH_NORMS)}")
        self.in_channels, self.n_layers, self.stride = in_channels, n_layers, stride
        # what ganlib.models.architecture records to rebuild this network
        self.arguments = dict(in_channels=in_channels, width=width, n_layers=n_layers, norm=norm,
                              leaky_slope=leaky_slope, stride=stride)
        widths = [width * min(2 ** i, 8) for i in range(n_layers + 1)]  # the last for the stride-1 layer
        strides = [stride] * n_layers + [1]
        layers: list[nn.Module] = []
        for i, (n_in, n_out, layer_stride) in enumerate(zip([in_channels, *widths[:-1]], widths, strides)):
            normed = i > 0  # no norm on the input layer
            # BN's shift replaces the bias; instance norm here has no affine part, so it keeps one.
            layers.append(nn.Conv2d(n_in, n_out, kernel_size=4, stride=layer_stride, padding=1,
                                    bias=not (normed and norm == "batch")))
            if normed:
                layers.append(nn.BatchNorm2d(n_out) if norm == "batch" else nn.InstanceNorm2d(n_out))
            layers.append(nn.LeakyReLU(negative_slope=leaky_slope))
        layers.append(nn.Conv2d(widths[-1], 1, kernel_size=4, stride=1, padding=1, bias=True))  # patch logits
        self.net = nn.Sequential(*layers)
        init_dcgan_weights_(self)

    def forward(self, image: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Score every patch of ``image``, given ``condition`` if there is one.

        Args:
            image: images, shape (B, C_img, H, W).
            condition: optional condition images, shape (B, C_cond, H, W), C_cond + C_img = in_channels.

        Returns:
            Patch logits of shape (B, 1, h, w), h = ``patch_map_size(H, n_layers, stride)``.
        """
        assert image.ndim == 4, f"D expects images of shape (B, C, H, W), got {tuple(image.shape)}"
        if condition is not None:
            assert condition.ndim == 4 and condition.shape[0] == image.shape[0] and (
                condition.shape[2:] == image.shape[2:]
            ), f"D expects a condition of shape ({image.shape[0]}, C, {image.shape[2]}, {image.shape[3]}), " \
               f"got {tuple(condition.shape)}"
            x = torch.cat([condition, image], dim=1)  # (B, C_cond + C_img, H, W)
        else:
            x = image
        assert x.shape[1] == self.in_channels, (
            f"D expects {self.in_channels} input channels (condition + image), got {x.shape[1]}"
        )
        h_out = patch_map_size(x.shape[2], self.n_layers, self.stride)
        w_out = patch_map_size(x.shape[3], self.n_layers, self.stride)
        assert h_out >= 1 and w_out >= 1, (
            f"D with n_layers={self.n_layers} needs a larger input than {tuple(x.shape[2:])}"
        )
        return self.net(x)  # (B, 1, h, w)
