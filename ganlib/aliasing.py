"""Aliasing in generators, the problem StyleGAN3 fixes (Karras et al. 2021), with ideal filters.

A feature map of a CNN stands for a continuous signal sampled on a grid, band-limited below the
grid's Nyquist frequency (half a cycle per sample). Upsampling keeps the band; a pointwise
nonlinearity does not: ReLU puts kinks in the signal, whose spectrum reaches arbitrarily high
frequencies. Sampled back on the grid, the energy above Nyquist *aliases*: it folds onto lower
frequencies that are tied to the pixel grid, so the generated details stick to pixel coordinates
instead of moving with the object ("texture sticking"). StyleGAN3's remedy (their Sec. 3.2) is to
apply the nonlinearity at a higher sampling rate and low-pass filter before going back down.

This module works with periodic signals and ideal (brick-wall) filters in the Fourier domain, which
makes the effect exact and easy to measure; StyleGAN3 uses windowed-sinc filters to the same end.
Every function acts along the last dimension (1-D signals) or the last two (2-D images).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

__all__ = ["band_limited_signal", "power_spectrum", "energy_above", "upsample", "lowpass", "downsample",
           "fourier_shift", "plain_nonlinearity", "filtered_nonlinearity", "equivariance_psnr"]


def band_limited_signal(n: int, max_frequency: int, batch: int = 1, generator: torch.Generator | None = None,
                        dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Random periodic signals of ``n`` samples with energy only at frequencies 1..``max_frequency``
    (cycles per period; Nyquist is n / 2), normalised to unit standard deviation: (batch, n)."""
    assert 1 <= max_frequency < n // 2, f"max_frequency must be in [1, {n // 2 - 1}], got {max_frequency}"
    spec = torch.zeros(batch, n // 2 + 1, dtype=torch.complex128 if dtype == torch.float64 else torch.complex64)
    k = max_frequency
    re, im = torch.randn(2, batch, k, generator=generator, dtype=dtype)
    spec[:, 1:k + 1] = torch.complex(re, im)
    x = torch.fft.irfft(spec, n=n)
    return (x / x.std(dim=-1, keepdim=True)).to(dtype)


def power_spectrum(x: torch.Tensor) -> torch.Tensor:
    """|FFT|^2 of the last dimension at frequencies 0..n/2, averaged over the other dimensions: (n // 2 + 1,)."""
    p = torch.fft.rfft(x, dim=-1).abs().pow(2)
    return p.reshape(-1, p.shape[-1]).mean(dim=0)


def energy_above(x: torch.Tensor, frequency: float) -> float:
    """Fraction of the (non-constant) power of ``x`` at frequencies above ``frequency`` cycles per period."""
    p = power_spectrum(x)[1:]  # drop the mean
    freqs = torch.arange(1, len(p) + 1, dtype=p.dtype)
    return float(p[freqs > frequency].sum() / p.sum())


def upsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Ideal band-limited upsampling along the last dimension: zero-pad the spectrum (n -> factor n samples)."""
    n = x.shape[-1]
    spec = torch.fft.rfft(x, dim=-1)
    padded = torch.zeros(*spec.shape[:-1], factor * n // 2 + 1, dtype=spec.dtype)
    padded[..., :spec.shape[-1]] = spec
    if n % 2 == 0:
        padded[..., n // 2] *= 0.5  # split the Nyquist bin between +/- frequencies of the finer grid
    return torch.fft.irfft(padded, n=factor * n, dim=-1) * factor


def lowpass(x: torch.Tensor, cutoff: float) -> torch.Tensor:
    """Ideal low-pass along the last dimension: keep frequencies <= ``cutoff`` cycles per period."""
    spec = torch.fft.rfft(x, dim=-1)
    freqs = torch.arange(spec.shape[-1])
    return torch.fft.irfft(torch.where(freqs <= cutoff, spec, torch.zeros_like(spec)), n=x.shape[-1], dim=-1)


def downsample(x: torch.Tensor, factor: int, *, filtered: bool = True) -> torch.Tensor:
    """Back to ``n / factor`` samples: ideal low-pass below the new Nyquist first (``filtered``), or
    plain decimation (every ``factor``-th sample), which lets the energy above it alias."""
    n = x.shape[-1] // factor
    if filtered:
        x = lowpass(x, n / 2 - 1e-9)
    return x[..., ::factor]


def fourier_shift(x: torch.Tensor, shift: float) -> torch.Tensor:
    """Translate periodic signals by ``shift`` samples (may be fractional) along the last dimension,
    exactly for band-limited signals: multiply frequency k by exp(-2 pi i k shift / n)."""
    n = x.shape[-1]
    spec = torch.fft.rfft(x, dim=-1)
    k = torch.arange(spec.shape[-1], dtype=torch.float64)
    phase = torch.exp(-2j * math.pi * k * shift / n).to(spec.dtype)
    return torch.fft.irfft(spec * phase, n=n, dim=-1)


def plain_nonlinearity(x: torch.Tensor, slope: float = 0.2) -> torch.Tensor:
    """A generator's usual nonlinearity on the grid itself: leaky ReLU, sample by sample."""
    return F.leaky_relu(x, slope)


def filtered_nonlinearity(x: torch.Tensor, up: int = 4, slope: float = 0.2) -> torch.Tensor:
    """StyleGAN3's alias-free nonlinearity (their Sec. 3.2), with ideal filters: upsample ``up`` times,
    apply the leaky ReLU there, low-pass below the *original* Nyquist, and decimate back."""
    n = x.shape[-1]
    return downsample(lowpass(F.leaky_relu(upsample(x, up), slope), n / 2 - 1e-9), up, filtered=False)


def equivariance_psnr(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, shift: float) -> float:
    """How well ``fn`` commutes with a sub-pixel translation: PSNR in dB between fn(shift(x)) and
    shift(fn(x)), with the peak-to-peak range of fn(x) as the peak (StyleGAN3's EQ-T, in 1-D)."""
    a, b = fn(fourier_shift(x, shift)), fourier_shift(fn(x), shift)
    mse = (a - b).pow(2).mean()
    peak = fn(x).max() - fn(x).min()
    return float(10 * torch.log10(peak ** 2 / mse)) if mse > 0 else math.inf
