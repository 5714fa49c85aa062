"""Weights for torch-fidelity's FID Inception-v3 that a test makes itself (no download).

The real file (95 MB) cannot be fetched offline, and its values do not matter for checking that
ganlib's features and metrics agree with torch-fidelity's: any weights do, as long as the
features are not degenerate. Default PyTorch initialisation is: 90-odd conv layers, each shrinking
the activations' second moment by about 6 (kaiming-uniform with a = sqrt(5), then ReLU), leave
features near 0 that hardly differ between images. So the conv weights get He's normal
initialisation (std sqrt(2 / fan_in): the second moment is kept through conv + ReLU) and every
batch norm is calibrated on a batch of images (its running mean and variance set to that batch's
statistics, as in data-dependent initialisation), so each channel reaches the pool roughly
standardised and the pool features vary between images.
"""

from __future__ import annotations

import math
from pathlib import Path
from unittest import mock

import torch
import torch_fidelity.feature_extractor_inceptionv3 as tfi

FEATURES = ["2048", "logits_unbiased"]


def smooth_images(n: int, channels: int = 3, size: int = 32, shift: float = 0.0, seed: int = 0) -> torch.Tensor:
    """Smooth random images (n, channels, size, size) in [-1, 1]: 4 x 4 Gaussian noise plus ``shift``,
    upsampled and squashed; a larger shift gives brighter images (another distribution)."""
    g = torch.Generator().manual_seed(seed)
    low = torch.randn(n, channels, 4, 4, generator=g) + shift  # (n, C, 4, 4)
    return torch.tanh(torch.nn.functional.interpolate(low, size=(size, size), mode="bilinear", align_corners=False))


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> the uint8 RGB (N, 3, H, W) that torch-fidelity takes."""
    return ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1)


def untrained_inception() -> tfi.FeatureExtractorInceptionV3:
    """torch-fidelity's architecture with PyTorch's default initialisation: its constructor's weight
    loading (download or file) is skipped."""
    with mock.patch.object(tfi, "load_state_dict_from_url", lambda *args, **kwargs: {}), \
            mock.patch.object(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state, *a, **k: None):
        return tfi.FeatureExtractorInceptionV3("inception-v3-compat", FEATURES)


def make_inception_weights(path: Path, seed: int = 0) -> Path:
    """Write a state dict of torch-fidelity's FID Inception with non-degenerate random weights to ``path``."""
    net = untrained_inception()
    g = torch.Generator().manual_seed(seed)
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) * math.sqrt(2.0 / fan_in))  # He normal
        elif isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one batch sets running stats = that batch's statistics
    net.train()
    net(to_uint8(smooth_images(8, seed=seed + 1000)))  # calibrate every batch norm on one batch
    net.eval()
    # Logits: the pool features' spread between images is ~0.4, so std 0.1 weights give logits that
    # differ between images by ~2: softmax neither uniform (IS = 1) nor one-hot.
    net.fc.weight.copy_(torch.randn(net.fc.weight.shape, generator=g) * 0.1)
    net.fc.bias.copy_(torch.randn(net.fc.bias.shape, generator=g))
    torch.save(net.state_dict(), path)
    return path
