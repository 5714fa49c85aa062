"""PatchGAN: the fully convolutional discriminator that scores every patch of an image.

A PatchGAN D (Isola et al. 2017, Sec. 2.2, "Markovian discriminator") returns a map of logits
(B, 1, h, w) rather than one logit per image: each logit judges one overlapping N x N patch,
N = :func:`receptive_field` (70 px with ``n_layers=3``), and the map has side
:func:`patch_map_size`. D models only local texture, "as a form of texture/style loss"; the
low frequencies are left to another term (the L1 loss of pix2pix, the cycle loss of CycleGAN).
Being fully convolutional, it runs on any image at least as large as its receptive field, with
far fewer parameters than a full-image D.

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

__all__ = ["PATCH_NORMS", "PatchDiscriminator", "receptive_field", "patch_map_size"]

PATCH_NORMS = ("batch", "instance")  # the normalisations PatchDiscriminator offers after its hidden layers


def receptive_field(n_layers: int = 3) -> int:
    """Side, in input pixels, of the patch that one logit of a :class:`PatchDiscriminator` sees.

    D has ``n_layers`` 4x4 convolutions of stride 2 followed by two of stride 1. Walking back from
    one output pixel, a layer of kernel k and stride s maps a field r to ``(r - 1) * s + k``: the
    two stride-1 layers give 1 -> 4 -> 7, and each stride-2 layer r -> 2r + 2, hence

        r(n) = 9 * 2**n - 2:   16 (n=1), 34 (n=2), 70 (n=3, the paper's 70x70), 286 (n=5).

    Args:
        n_layers: number of stride-2 convolutions, at least 1.

    Returns:
        The receptive field's side in pixels.
    """
    if n_layers < 1:
        raise ValueError(f"n_layers must be a positive integer, got {n_layers}")
    return 9 * 2 ** n_layers - 2


def patch_map_size(input_size: int, n_layers: int = 3) -> int:
    """Side of a :class:`PatchDiscriminator`'s logit map for an input of side ``input_size``.

    Every convolution has kernel 4 and padding 1: a stride-2 one maps s -> floor((s - 2) / 2) + 1,
    a stride-1 one s -> s - 1. At 256 px with ``n_layers=3``: 128, 64, 32, 31, 30.

    Args:
        input_size: height (or width) of the input.
        n_layers: number of stride-2 convolutions.

    Returns:
        The map's height (or width); below 1 means the input is too small.
    """
    s = input_size
    for _ in range(n_layers):
        s = (s - 2) // 2 + 1
    return s - 2


class PatchDiscriminator(nn.Module):
    """PatchGAN D: (B, in_channels, H, W) -> patch logits (B, 1, h, w). No sigmoid.

    Layers (``w`` the width): Conv(in -> w, stride 2) -> LeakyReLU, then ``n_layers - 1`` times
    Conv(stride 2) -> norm -> LeakyReLU doubling the width up to 8w, then Conv(stride 1) -> norm ->
    LeakyReLU, then Conv(stride 1) to one channel: each logit judges one
    :func:`receptive_field` x :func:`receptive_field` patch, and the map has side
    :func:`patch_map_size`. For pix2pix ``in_channels`` counts the condition and the image,
    which :meth:`forward` concatenates; for CycleGAN it is just the image's channels.
    """

    def __init__(self, in_channels: int, width: int = 64, n_layers: int = 3, norm: str = "batch",
                 leaky_slope: float = 0.2):
        """
        Args:
            in_channels: input channels, condition and image together (pix2pix) or the image alone.
            width: channels of the first layer; doubles per layer up to 8x.
            n_layers: number of stride-2 convolutions (3: 70x70 patches).
            norm: ``"batch"`` (pix2pix) or ``"instance"`` (CycleGAN, no learned affine).
            leaky_slope: LeakyReLU slope.
        """
        super().__init__()
        for name, value in (("in_channels", in_channels), ("width", width), ("n_layers", n_layers)):
            if value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
        if norm not in PATCH_NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose one of: {', '.join(PATCH_NORMS)}")
        self.in_channels, self.n_layers = in_channels, n_layers
        widths = [width * min(2 ** i, 8) for i in range(n_layers + 1)]  # the last for the stride-1 layer
        strides = [2] * n_layers + [1]
        layers: list[nn.Module] = []
        for i, (n_in, n_out, stride) in enumerate(zip([in_channels, *widths[:-1]], widths, strides)):
            normed = i > 0  # no norm on the input layer
            # BN's shift replaces the bias; instance norm here has no affine part, so it keeps one.
            layers.append(nn.Conv2d(n_in, n_out, kernel_size=4, stride=stride, padding=1,
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
            Patch logits of shape (B, 1, h, w), h = ``patch_map_size(H, n_layers)``.
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
        h_out, w_out = patch_map_size(x.shape[2], self.n_layers), patch_map_size(x.shape[3], self.n_layers)
        assert h_out >= 1 and w_out >= 1, (
            f"D with n_layers={self.n_layers} needs a larger input than {tuple(x.shape[2:])}"
        )
        return self.net(x)  # (B, 1, h, w)
