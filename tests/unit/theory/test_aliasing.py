"""ganlib.aliasing: ideal filters and shifts are exact on band-limited periodic signals; a pointwise
nonlinearity puts energy above Nyquist and breaks sub-pixel equivariance; the filtered one much less."""

import math

import torch

from ganlib.aliasing import (
    band_limited_signal,
    downsample,
    energy_above,
    equivariance_psnr,
    filtered_nonlinearity,
    fourier_shift,
    lowpass,
    plain_nonlinearity,
    power_spectrum,
    upsample,
)

X = band_limited_signal(64, 12, batch=50, generator=torch.Generator().manual_seed(0))


def test_band_limited_signals_have_no_energy_above_their_band_and_unit_std():
    assert energy_above(X, 12) < 1e-25 and energy_above(X, 11) > 0.01
    assert torch.allclose(X.std(dim=-1), torch.ones(50, dtype=X.dtype))
    assert power_spectrum(X).shape == (33,)


def test_integer_fourier_shifts_are_rolls_and_shifts_compose():
    assert torch.allclose(fourier_shift(X, 3.0), torch.roll(X, 3, dims=-1), atol=1e-12)
    assert torch.allclose(fourier_shift(fourier_shift(X, 0.3), 0.45), fourier_shift(X, 0.75), atol=1e-12)


def test_ideal_upsampling_keeps_the_samples_and_downsampling_undoes_it():
    up = upsample(X, 4)
    assert up.shape == (50, 256) and torch.allclose(up[..., ::4], X, atol=1e-12)
    assert torch.allclose(downsample(up, 4), X, atol=1e-12)
    assert torch.allclose(lowpass(lowpass(X, 5), 5), lowpass(X, 5), atol=1e-12)


def test_a_pointwise_nonlinearity_puts_energy_above_the_original_nyquist():
    fine = upsample(X, 16)  # a stand-in for the continuous signal
    assert energy_above(fine, 32) < 1e-25
    assert energy_above(plain_nonlinearity(fine), 32) > 1e-4  # the kinks of the leaky ReLU


def test_the_filtered_nonlinearity_is_far_more_translation_equivariant():
    plain, filtered = (equivariance_psnr(fn, X, 0.5) for fn in (plain_nonlinearity, filtered_nonlinearity))
    assert filtered > plain + 10, (plain, filtered)
    assert equivariance_psnr(lambda x: lowpass(x, 8), X, 0.37) > 200 or math.isinf(equivariance_psnr(lambda x: lowpass(x, 8), X, 0.37))
    assert equivariance_psnr(plain_nonlinearity, X, 1.0) > 200  # whole-sample shifts commute with any pointwise map
