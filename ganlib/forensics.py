"""Telling real images from generated ones, for notebook 09: spectra, a detector, a watermark, class balance.

Lecture B ("Ethical considerations") names the defences against deepfakes: *detection* (train a classifier
to tell fakes) and *watermarking* (embed an invisible marker); and the risk of *bias amplification*. This
module holds the small tools the notebook measures them with:

- :func:`radial_spectrum`: the mean power spectrum of images, averaged over rings of equal spatial frequency.
  Generators that upsample with transposed convolutions leave periodic traces at high frequencies
  (Durall et al. 2020; Frank et al. 2020), and a blurry model has too little energy there;
  :func:`high_frequency_fraction` turns that into one sharpness number.
- :class:`FakeDetector` and :func:`train_detector`: a small CNN trained on real against one generator's
  images, to be tested on other generators' (does a detector generalise?);
- :func:`embed_watermark` / :func:`watermark_score`: a key-seeded +-1 pattern added at low amplitude, found
  again by correlation (a spread-spectrum watermark, Cox et al. 1997): the score is a z-statistic, about
  N(0, 1) for unmarked images;
- :func:`class_fractions`: how often each digit appears, as the shipped MNIST classifier sees it.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganlib.metrics import predict_digits

__all__ = ["radial_spectrum", "high_frequency_fraction", "FakeDetector", "train_detector", "detector_logits",
           "detection_accuracy", "watermark_pattern", "embed_watermark", "watermark_score", "class_fractions"]


def _check_images(images: torch.Tensor) -> None:
    assert images.ndim == 4, f"expected images (N, C, H, W), got {tuple(images.shape)}"


def _ring_power(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Total power |FFT|^2 (mean over images and channels) in each ring of integer radius k = 0 .. H // 2, and
    the number of frequencies in each ring; each image's mean is removed first."""
    _check_images(images)
    x = images.double()
    x = x - x.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(x).abs().pow(2).mean(dim=(0, 1))  # (H, W)
    H, W = power.shape
    fy = torch.fft.fftfreq(H, d=1.0 / H).double()[:, None]  # integer frequencies -H/2 .. H/2 - 1
    fx = torch.fft.fftfreq(W, d=1.0 / W).double()[None, :]
    radius = torch.sqrt(fy ** 2 + fx ** 2).round().long()  # (H, W) ring of each frequency
    n = H // 2 + 1
    inside = radius < n  # the corners beyond the highest axis frequency are left out
    totals = torch.zeros(n, dtype=torch.float64).index_add_(0, radius[inside], power[inside])
    counts = torch.zeros(n, dtype=torch.float64).index_add_(0, radius[inside], torch.ones_like(power[inside]))
    return totals, counts


def radial_spectrum(images: torch.Tensor) -> torch.Tensor:
    """Mean power spectrum of images (N, C, H, W), averaged over channels and rings of equal frequency.

    Returns:
        (H // 2 + 1,) float64: entry k is the mean of |FFT|^2 over the frequencies of radius k (rounded), averaged
        over the images; k = H / 2 is the highest frequency along an axis. Each image's mean is removed, so k = 0 is 0.
    """
    totals, counts = _ring_power(images)
    return totals / counts.clamp_min(1)


def high_frequency_fraction(images: torch.Tensor, cutoff: float = 0.5) -> float:
    """Sharpness: the fraction of the images' spectral energy in rings above ``cutoff`` x the highest radius.

    Blurry images (a VAE's means) put less of their energy at high frequencies than the data do.
    """
    totals, _ = _ring_power(images)
    high = torch.arange(len(totals)) > cutoff * (len(totals) - 1)
    return float(totals[high].sum() / totals.sum().clamp_min(1e-30))


class FakeDetector(nn.Module):
    """A small CNN: image (B, C, 32, 32) -> logit (B,), positive for "generated"."""

    def __init__(self, channels: int = 1, width: int = 16):
        super().__init__()
        act = lambda: nn.LeakyReLU(0.2)
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1), act(),  # full resolution first: keeps pixel-level traces
            nn.Conv2d(width, width, 4, 2, 1), act(),  # (B, w, 16, 16)
            nn.Conv2d(width, 2 * width, 4, 2, 1), act(),  # (B, 2w, 8, 8)
            nn.Conv2d(2 * width, 4 * width, 4, 2, 1), act(),  # (B, 4w, 4, 4)
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x)
        return self.net(x).squeeze(1)


def train_detector(real: torch.Tensor, fake: torch.Tensor, *, steps: int = 300, batch_size: int = 64,
                   lr: float = 1e-3, seed: int = 0) -> FakeDetector:
    """A :class:`FakeDetector` trained with the logistic loss on ``real`` (label 0) against ``fake`` (label 1).

    Each step draws ``batch_size / 2`` images of each kind, so the classes are balanced whatever the set sizes.
    """
    _check_images(real)
    _check_images(fake)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    detector = FakeDetector(real.shape[1])
    opt = torch.optim.Adam(detector.parameters(), lr=lr)
    half = batch_size // 2
    for _ in range(steps):
        x = torch.cat([real[torch.randint(len(real), (half,), generator=g)],
                       fake[torch.randint(len(fake), (half,), generator=g)]])
        y = torch.cat([torch.zeros(half), torch.ones(half)])
        loss = F.binary_cross_entropy_with_logits(detector(x), y)  # softplus form: sigmoid inside the loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return detector.eval()


@torch.no_grad()
def detector_logits(detector: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """The detector's logits (N,) for many images, in batches."""
    return torch.cat([detector(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


def detection_accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> float:
    """Balanced accuracy of a detector whose logit > 0 means "generated": the mean of its accuracy on the real
    images and its accuracy on the fakes (0.5 = chance, whatever the two sets' sizes)."""
    return 0.5 * (float((real_logits <= 0).float().mean()) + float((fake_logits > 0).float().mean()))


def watermark_pattern(key: int, shape: tuple[int, ...]) -> torch.Tensor:
    """The secret +-1 pattern of ``key``, shape (C, H, W)."""
    g = torch.Generator().manual_seed(key)
    return torch.randint(0, 2, shape, generator=g).float() * 2 - 1


def embed_watermark(images: torch.Tensor, key: int, strength: float = 0.1) -> torch.Tensor:
    """Images carrying the key's pattern: (1 - strength) * x + strength * pattern, still in [-1, 1].

    Mixing instead of adding keeps the pattern where a plain sum would be clamped away (MNIST's background
    sits at -1); at 0.1 each pixel moves by at most 0.2, about 26 grey levels of 255, 13 on average.
    """
    _check_images(images)
    if not 0 <= strength <= 1:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    return (1 - strength) * images + strength * watermark_pattern(key, tuple(images.shape[1:]))


def watermark_score(images: torch.Tensor, key: int) -> torch.Tensor:
    """Per image, the correlation of its (mean-removed) pixels with the key's pattern as a z-statistic (N,).

    For an image that does not carry the pattern the score has mean 0 and a spread of about 1; one that carries
    it at strength s scores about s * sqrt(D) / std(pixels), for digits (D = 1024) about 4 at s = 0.1.
    """
    _check_images(images)
    pattern = watermark_pattern(key, tuple(images.shape[1:])).flatten()
    x = images.flatten(1).double()
    x = x - x.mean(1, keepdim=True)
    D = x.shape[1]
    return (x @ pattern.double()) / (x.std(1).clamp_min(1e-12) * math.sqrt(D))


def class_fractions(images: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """The fraction of images the shipped MNIST classifier puts in each class (n_classes,)."""
    predicted = predict_digits(images, device="cpu")
    return torch.bincount(predicted, minlength=n_classes).double() / len(predicted)
