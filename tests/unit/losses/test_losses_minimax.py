"""Tests of ganlib.losses against the hand formulas of the GAN paper, in float64."""

from __future__ import annotations

import math

import pytest
import torch

from ganlib import losses
from ganlib.losses import (
    GENERATOR_LOSSES,
    discriminator_loss,
    generator_loss,
    generator_loss_nonsaturating,
    generator_loss_saturating,
)

LOG2 = math.log(2.0)


def _logits(seed: int, n: int = 64, scale: float = 3.0) -> torch.Tensor:
    return scale * torch.randn(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# --------------------------------------------------------------------------- reference formulas


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_discriminator_loss_equals_the_naive_formula(seed):
    real, fake = _logits(seed), _logits(seed + 100)
    naive = -torch.log(torch.sigmoid(real)).mean() - torch.log(1 - torch.sigmoid(fake)).mean()
    assert discriminator_loss(real, fake).dtype == torch.float64
    assert abs(discriminator_loss(real, fake).item() - naive.item()) < 1e-10


@pytest.mark.parametrize("seed", [0, 1])
def test_generator_losses_equal_the_naive_formulas(seed):
    fake = _logits(seed)
    d = torch.sigmoid(fake)
    assert abs(generator_loss_saturating(fake).item() - torch.log(1 - d).mean().item()) < 1e-10
    assert abs(generator_loss_nonsaturating(fake).item() - (-torch.log(d)).mean().item()) < 1e-10


def test_column_logits_give_the_same_loss():
    real, fake = _logits(3), _logits(4)
    assert torch.allclose(discriminator_loss(real[:, None], fake[:, None]), discriminator_loss(real, fake),
                          rtol=0, atol=1e-14)


def test_losses_stay_finite_at_extreme_logits_where_the_naive_formula_does_not():
    big = torch.tensor([100.0, -100.0], dtype=torch.float32)
    # the naive formula in float32: sigmoid(100) rounds to 1 and sigmoid(-100) to 0, so log gives inf
    naive = -torch.log(torch.sigmoid(-big)).mean() - torch.log(1 - torch.sigmoid(big)).mean()
    assert not torch.isfinite(naive)
    for value in (discriminator_loss(-big, big), discriminator_loss(big, -big),
                  generator_loss_saturating(big), generator_loss_nonsaturating(-big)):
        assert torch.isfinite(value)
    # and exact: D rejects reals at logit -100 and accepts fakes at +100, loss ~ 100 + 100
    worst = discriminator_loss(torch.full((4,), -100.0), torch.full((4,), 100.0))
    assert abs(worst.item() - 200.0) < 1e-3
    best = discriminator_loss(torch.full((4,), 100.0), torch.full((4,), -100.0))
    assert 0.0 <= best.item() < 1e-30  # exp(-100): D is right about everything


def test_gradients_are_finite_at_extreme_logits():
    real = torch.tensor([-100.0, 100.0], requires_grad=True)
    fake = torch.tensor([100.0, -100.0], requires_grad=True)
    discriminator_loss(real, fake).backward()
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


# --------------------------------------------------------------------------- closed values


def test_values_at_zero_logits():
    zeros = torch.zeros(16, dtype=torch.float64)
    assert abs(discriminator_loss(zeros, zeros).item() - math.log(4.0)) < 1e-12  # D = 1/2 everywhere
    assert abs(generator_loss_saturating(zeros).item() - (-LOG2)) < 1e-12  # log(1 - 1/2)
    assert abs(generator_loss_nonsaturating(zeros).item() - LOG2) < 1e-12  # -log(1/2)


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("t", [-10.0, -3.0, -0.5, 0.0, 0.7, 4.0])
def test_generator_gradients_match_the_closed_forms(t):
    B = 5
    sig = 1 / (1 + math.exp(-t))
    for loss, expected in ((generator_loss_saturating, -sig / B),
                           (generator_loss_nonsaturating, -(1 - sig) / B)):
        fake = torch.full((B,), t, dtype=torch.float64, requires_grad=True)
        loss(fake).backward()
        assert torch.allclose(fake.grad, torch.full((B,), expected, dtype=torch.float64), rtol=1e-12, atol=1e-15)


def test_discriminator_gradients_match_the_closed_forms():
    real, fake = _logits(7, n=8).requires_grad_(), _logits(8, n=8).requires_grad_()
    discriminator_loss(real, fake).backward()
    B = 8
    # d/dr softplus(-r) = -(1 - sigmoid(r)); d/df softplus(f) = sigmoid(f)
    assert torch.allclose(real.grad, -(1 - torch.sigmoid(real.detach())) / B, rtol=1e-12, atol=1e-15)
    assert torch.allclose(fake.grad, torch.sigmoid(fake.detach()) / B, rtol=1e-12, atol=1e-15)


def test_saturating_loss_saturates_when_d_rejects_fakes():
    grads = {}
    for name, loss in GENERATOR_LOSSES.items():
        fake = torch.full((4,), -10.0, dtype=torch.float64, requires_grad=True)
        loss(fake).backward()
        assert (fake.grad < 0).all()  # both push the logit up (gradient descent increases t) ...
        grads[name] = fake.grad.abs().max().item()
    assert grads["saturating"] < 1e-4 * grads["non-saturating"]  # ... but one barely moves


# --------------------------------------------------------------------------- lookup


def test_generator_loss_lookup():
    assert generator_loss("saturating") is generator_loss_saturating
    assert generator_loss("non-saturating") is generator_loss_nonsaturating
    assert set(GENERATOR_LOSSES) == {"saturating", "non-saturating"}


def test_unknown_generator_loss_raises_listing_names():
    with pytest.raises(ValueError, match="wasserstein") as info:
        generator_loss("wasserstein")
    for name in GENERATOR_LOSSES:
        assert name in str(info.value)


def test_module_exports_exist():
    for name in losses.__all__:
        assert hasattr(losses, name)
