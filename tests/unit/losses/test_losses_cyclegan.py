"""Tests of CycleGAN's losses in ganlib.losses: cycle consistency, identity, least squares on patch maps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganlib import losses
from ganlib.losses import (
    cycle_consistency_loss,
    identity_loss,
    least_squares_discriminator_loss,
    least_squares_generator_loss,
)

F64 = torch.float64
RECONSTRUCTION_LOSSES = (cycle_consistency_loss, identity_loss)


def _randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _full(value: float, *shape: int) -> torch.Tensor:
    return torch.full(shape, value, dtype=F64)


# --------------------------------------------------------------------------- closed forms


@pytest.mark.parametrize("loss", RECONSTRUCTION_LOSSES)
def test_constant_images_give_the_absolute_differences(loss):
    # x and y of different sizes: each direction is a mean over its own elements, not a sum
    x, x_back = _full(0.25, 2, 1, 4, 4), _full(-0.5, 2, 1, 4, 4)
    y, y_back = _full(1.0, 3, 3, 8, 8), _full(0.875, 3, 3, 8, 8)
    value = loss(x, x_back, y, y_back)
    assert value.dtype == F64 and value.ndim == 0
    assert value.item() == 0.75 + 0.125  # |0.25 - (-0.5)| + |1 - 0.875|, exact in binary


@pytest.mark.parametrize("loss", RECONSTRUCTION_LOSSES)
def test_the_two_directions_add(loss):
    x, y = _randn(2, 1, 6, 6, seed=1), _randn(2, 1, 6, 6, seed=2)
    x_back, y_back = _randn(2, 1, 6, 6, seed=3), _randn(2, 1, 6, 6, seed=4)
    both = loss(x, x_back, y, y_back)
    only_x, only_y = loss(x, x_back, y, y), loss(x, x, y, y_back)
    assert abs(both.item() - (only_x + only_y).item()) < 1e-14
    assert abs(only_x.item() - (x_back - x).abs().mean().item()) < 1e-14


@pytest.mark.parametrize("loss", RECONSTRUCTION_LOSSES)
def test_zero_when_the_images_come_back_unchanged(loss):
    x, y = _randn(2, 3, 4, 4, seed=5), _randn(2, 3, 4, 4, seed=6)
    assert loss(x, x.clone(), y, y.clone()).item() == 0.0


@pytest.mark.parametrize("seed", [0, 1])
def test_cycle_loss_equals_torch_l1_in_each_direction(seed):
    x, x_back = _randn(4, 1, 8, 8, seed=seed), _randn(4, 1, 8, 8, seed=seed + 10)
    y, y_back = _randn(2, 3, 4, 4, seed=seed + 20), _randn(2, 3, 4, 4, seed=seed + 30)
    reference = nn.L1Loss()(x_back, x) + nn.L1Loss()(y_back, y)  # the authors' criterionCycle, twice
    assert abs(cycle_consistency_loss(x, x_back, y, y_back).item() - reference.item()) < 1e-12


def test_gradient_wrt_the_cycled_images_is_sign_over_numel():
    x, y = _randn(2, 1, 4, 4, seed=7), _randn(3, 3, 2, 2, seed=8)  # 32 and 36 elements
    x_back = _randn(2, 1, 4, 4, seed=9).requires_grad_(True)
    y_back = _randn(3, 3, 2, 2, seed=10).requires_grad_(True)
    cycle_consistency_loss(x, x_back, y, y_back).backward()
    assert torch.equal(x_back.grad, torch.sign(x_back.detach() - x) / x.numel())
    assert torch.equal(y_back.grad, torch.sign(y_back.detach() - y) / y.numel())


def test_identity_loss_pairs_each_generator_with_its_own_domain():
    # identity_loss(x, F(x), y, G(y)): x with F(x), y with G(y); swapped pairs have other shapes
    x, F_of_x = _full(0.0, 1, 1, 4, 4), _full(0.5, 1, 1, 4, 4)
    y, G_of_y = _full(0.0, 1, 3, 4, 4), _full(-0.25, 1, 3, 4, 4)
    assert identity_loss(x, F_of_x, y, G_of_y).item() == 0.75
    with pytest.raises(ValueError):
        identity_loss(x, G_of_y, y, F_of_x)


# --------------------------------------------------------------------------- input validation


@pytest.mark.parametrize("loss", RECONSTRUCTION_LOSSES)
def test_shape_mismatch_raises_a_clear_error(loss):
    x, y = _randn(2, 1, 4, 4), _randn(2, 1, 4, 4)
    name = loss.__name__
    expected = rf"{name} expects x and \w+ of the same shape.*\(2, 1, 4, 4\) and \(2, 1, 8, 8\)"
    with pytest.raises(ValueError, match=expected):
        loss(x, _randn(2, 1, 8, 8), y, y)
    with pytest.raises(ValueError, match=rf"{name} expects y and \w+ of the same shape"):
        loss(x, x, y, _randn(2, 3, 4, 4))
    with pytest.raises(ValueError):  # (1, 4, 4) would broadcast against (2, 1, 4, 4) and hide the mistake
        loss(x, x, y, y[0])


# --------------------------------------------------------------------------- least squares on patch maps


def test_least_squares_losses_average_over_a_patch_map():
    real, fake = _randn(4, 1, 5, 5, seed=11), _randn(4, 1, 5, 5, seed=12)  # PatchGAN maps (B, 1, h, w)
    d_map = least_squares_discriminator_loss(real, fake)
    assert abs(d_map.item() - least_squares_discriminator_loss(real.flatten(), fake.flatten()).item()) < 1e-14
    by_hand = 0.5 * ((real - 1) ** 2).sum() / 100 + 0.5 * (fake ** 2).sum() / 100  # B * h * w = 100 patches
    assert abs(d_map.item() - by_hand.item()) < 1e-14
    g_map = least_squares_generator_loss(fake)
    assert abs(g_map.item() - (0.5 * ((fake - 1) ** 2).sum() / 100).item()) < 1e-14


def test_least_squares_losses_relate_to_the_cyclegan_code_as_documented():
    real, fake = _randn(2, 1, 5, 5, seed=13), _randn(2, 1, 5, 5, seed=14)
    mse = nn.MSELoss()
    # D: the authors halve (MSE(D(y), 1) + MSE(D(G(x)), 0)); this is exactly our D loss
    code_d = 0.5 * (mse(real, torch.ones_like(real)) + mse(fake, torch.zeros_like(fake)))
    assert abs(least_squares_discriminator_loss(real, fake).item() - code_d.item()) < 1e-14
    # G: the authors use MSE(D(G(x)), 1) without the 1/2, twice our G loss
    code_g = mse(fake, torch.ones_like(fake))
    assert abs(2 * least_squares_generator_loss(fake).item() - code_g.item()) < 1e-14


def test_the_new_losses_are_exported():
    for name in ("cycle_consistency_loss", "identity_loss"):
        assert name in losses.__all__
