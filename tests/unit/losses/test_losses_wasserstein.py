"""Tests of the Wasserstein, hinge and least-squares losses, the gradient penalty and the
objective registry in ganlib.losses: hand computations and closed forms, in float64 where exact."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from ganlib import losses
from ganlib.losses import (
    OBJECTIVES,
    Objective,
    clip_weights_,
    discriminator_loss,
    generator_loss_nonsaturating,
    generator_loss_saturating,
    gradient_penalty,
    hinge_discriminator_loss,
    hinge_generator_loss,
    least_squares_discriminator_loss,
    least_squares_generator_loss,
    objective,
    wasserstein_critic_loss,
    wasserstein_estimate,
    wasserstein_generator_loss,
)

F64 = torch.float64


def _t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def _randn(seed: int, *shape: int, dtype: torch.dtype = F64) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# --------------------------------------------------------------------------- Wasserstein losses


def test_wasserstein_losses_by_hand():
    real, fake = _t(3.0, 1.0, 2.0), _t(-1.0, 0.5, 0.0, 2.5)  # means 2 and 0.5
    assert wasserstein_critic_loss(real, fake).item() == pytest.approx(0.5 - 2.0, abs=1e-15)
    assert wasserstein_generator_loss(fake).item() == pytest.approx(-0.5, abs=1e-15)
    assert wasserstein_estimate(real, fake).item() == pytest.approx(2.0 - 0.5, abs=1e-15)


def test_wasserstein_sign_conventions():
    real, fake = _randn(0, 32).requires_grad_(), _randn(1, 32).requires_grad_()
    critic, estimate = wasserstein_critic_loss(real, fake), wasserstein_estimate(real, fake)
    assert torch.equal(estimate, -critic.detach())  # the critic minimises minus the estimate
    assert not estimate.requires_grad and critic.requires_grad
    critic.backward()
    # descending the critic loss raises f on reals and lowers it on fakes
    assert torch.allclose(real.grad, torch.full((32,), -1 / 32, dtype=F64))
    assert torch.allclose(fake.grad, torch.full((32,), 1 / 32, dtype=F64))
    g = fake.detach().requires_grad_()
    wasserstein_generator_loss(g).backward()
    assert (g.grad < 0).all()  # descending the generator loss raises f(G(z))


def test_wasserstein_column_scores_give_the_same_values():
    real, fake = _randn(2, 8), _randn(3, 8)
    assert wasserstein_critic_loss(real[:, None], fake[:, None]) == wasserstein_critic_loss(real, fake)
    assert wasserstein_estimate(real[:, None], fake[:, None]) == wasserstein_estimate(real, fake)


# --------------------------------------------------------------------------- hinge


def test_hinge_losses_by_hand():
    real, fake = _t(2.0, 0.5, -1.0), _t(-2.0, 0.0, 0.5)
    # relu(1 - real) = [0, 0.5, 2], relu(1 + fake) = [0, 1, 1.5]: means 5/6 and 5/6
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(5 / 3, abs=1e-14)
    assert hinge_generator_loss(fake).item() == pytest.approx(0.5, abs=1e-14)  # -mean([-2, 0, 0.5])


def test_hinge_is_zero_beyond_the_margin():
    real = 1 + _randn(4, 16).abs()  # >= 1
    fake = -1 - _randn(5, 16).abs()  # <= -1
    real.requires_grad_(), fake.requires_grad_()
    loss = hinge_discriminator_loss(real, fake)
    assert loss.item() == 0.0
    loss.backward()
    assert (real.grad == 0).all() and (fake.grad == 0).all()  # no push beyond the margin
    assert hinge_discriminator_loss(_t(1.0), _t(-1.0)).item() == 0.0  # on the margin too


# --------------------------------------------------------------------------- least squares


def test_least_squares_losses_by_hand():
    real, fake = _t(1.0, 0.0, 2.0), _t(0.0, 1.0, -1.0)
    # 1/2 mean([0, 1, 1]) + 1/2 mean([0, 1, 1]) = 1/3 + 1/3
    assert least_squares_discriminator_loss(real, fake).item() == pytest.approx(2 / 3, abs=1e-14)
    # 1/2 mean([1, 0, 4])
    assert least_squares_generator_loss(fake).item() == pytest.approx(5 / 6, abs=1e-14)


def test_least_squares_is_zero_at_the_discriminator_optimum():
    assert least_squares_discriminator_loss(torch.ones(8, dtype=F64), torch.zeros(8, dtype=F64)).item() == 0.0
    assert least_squares_generator_loss(torch.ones(8, dtype=F64)).item() == 0.0


def test_least_squares_optimum_is_one_half_when_the_distributions_agree():
    # Mao et al. 2017, Eq. 4 with a=0, b=1: D*(x) = p_data / (p_data + p_g) = 1/2 when p_g = p_data
    t = torch.tensor(0.5, dtype=F64, requires_grad=True)
    least_squares_discriminator_loss(t.expand(4), t.expand(4)).backward()
    assert abs(t.grad.item()) < 1e-15


# --------------------------------------------------------------------------- gradient penalty


class _LinearCritic(nn.Module):
    """f(x) = <w, x> + b over the flattened sample: grad f = w everywhere."""

    def __init__(self, w: torch.Tensor, b: float = 0.3):
        super().__init__()
        self.w = nn.Parameter(w.flatten().clone())
        self.b = nn.Parameter(torch.tensor(b, dtype=w.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w + self.b  # (B,)


@pytest.mark.parametrize("shape", [(6, 3, 4, 4), (6, 2)], ids=["images", "points"])
def test_penalty_of_a_linear_critic_is_closed_form(shape):
    w = _randn(0, *shape[1:])
    critic = _LinearCritic(w)
    penalty = gradient_penalty(critic, _randn(1, *shape), _randn(2, *shape))
    assert penalty.shape == (shape[0],) and penalty.dtype == F64
    expected = (w.norm() - 1) ** 2  # (||w|| - 1)^2 for every sample
    assert torch.allclose(penalty, expected.expand(shape[0]), rtol=0, atol=1e-12)


def test_penalty_vanishes_for_a_unit_gradient_critic():
    w = _randn(3, 5)
    penalty = gradient_penalty(_LinearCritic(w / w.norm()), _randn(4, 7, 5), _randn(5, 7, 5))
    assert penalty.abs().max().item() < 1e-24


@pytest.mark.parametrize("shape", [(5, 2, 3, 3), (5, 2)], ids=["images", "points"])
def test_penalty_of_half_squared_norm_matches_a_per_sample_computation(shape):
    def critic(x):
        return 0.5 * (x.flatten(1) ** 2).sum(1)  # f(x) = ||x||^2 / 2, so grad f(x_hat) = x_hat

    real, fake = _randn(6, *shape), _randn(7, *shape)
    penalty = gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(11))
    eps = torch.rand((shape[0],) + (1,) * (len(shape) - 1), generator=torch.Generator().manual_seed(11), dtype=F64)
    for i in range(shape[0]):  # one sample at a time, no broadcasting
        x_hat = eps[i] * real[i] + (1 - eps[i]) * fake[i]
        assert abs(penalty[i].item() - (x_hat.norm().item() - 1) ** 2) < 1e-12


def test_epsilon_is_drawn_per_sample_and_broadcast_within_a_sample():
    seen = []

    def critic(x):
        seen.append(x.detach().clone())
        return x.flatten(1).sum(1)

    B = 8
    real, fake = torch.ones(B, 3, 4, 4), torch.zeros(B, 3, 4, 4)  # so x_hat = eps, broadcast
    gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(3))
    x_hat = seen[0]
    eps = x_hat[:, 0, 0, 0]
    assert torch.equal(x_hat, eps[:, None, None, None].expand_as(x_hat))  # one value per sample
    assert eps.unique().numel() == B  # different samples get different eps
    assert ((eps >= 0) & (eps <= 1)).all()
    assert torch.equal(eps, torch.rand(B, 1, 1, 1, generator=torch.Generator().manual_seed(3)).flatten())
    gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(3))
    assert torch.equal(seen[1], x_hat)  # the same seed gives the same interpolation


def test_penalty_trains_the_critic_through_a_double_backward():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))  # (B, 2) -> (B, 1)
    penalty = gradient_penalty(critic, torch.randn(32, 2), torch.randn(32, 2))
    assert penalty.shape == (32,) and penalty.requires_grad
    (10.0 * penalty.mean()).backward()
    for p in critic.parameters():
        if p is critic[2].bias:
            continue  # the output bias does not change grad_x f, so it gets no gradient
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_penalty_gradient_of_a_linear_critic_is_closed_form():
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||, for every sample, so also for the mean
    w = _randn(8, 6)
    critic = _LinearCritic(w)
    gradient_penalty(critic, _randn(9, 4, 6), _randn(10, 4, 6)).mean().backward()
    expected = 2 * (w.norm() - 1) * w / w.norm()
    assert torch.allclose(critic.w.grad, expected, rtol=0, atol=1e-12)


def test_penalty_does_not_reach_the_generator():
    critic = _LinearCritic(_randn(0, 2))
    g_param = torch.ones(2, dtype=F64, requires_grad=True)
    fake = torch.zeros(4, 2, dtype=F64) + g_param  # as if from G, still in G's graph
    gradient_penalty(critic, _randn(1, 4, 2), fake).mean().backward()
    assert g_param.grad is None
    assert critic.w.grad is not None


def test_penalty_is_computed_in_at_least_float32():
    critic = nn.Linear(4, 1)  # float32 weights
    real, fake = torch.randn(3, 4).bfloat16(), torch.randn(3, 4).bfloat16()
    penalty = gradient_penalty(critic, real, fake)
    assert penalty.dtype == torch.float32
    expected = (critic.weight.detach().norm() - 1) ** 2
    assert torch.allclose(penalty, expected.expand(3), atol=1e-6)


def test_penalty_under_bf16_autocast_stays_float32_and_finite():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 4, 1, 0), nn.Flatten(0))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        penalty = gradient_penalty(critic, torch.randn(3, 1, 8, 8), torch.randn(3, 1, 8, 8))
    assert penalty.dtype == torch.float32 and penalty.shape == (3,) and torch.isfinite(penalty).all()
    penalty.mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in critic[0].parameters())


def test_penalty_contracts():
    critic = _LinearCritic(_randn(0, 4))
    with pytest.raises(AssertionError, match="same shape"):
        gradient_penalty(critic, _randn(1, 3, 4), _randn(2, 2, 4))
    with pytest.raises(AssertionError, match="one score per sample"):
        gradient_penalty(lambda x: x, _randn(1, 3, 4), _randn(2, 3, 4))


# --------------------------------------------------------------------------- weight clipping


def test_clip_weights_bounds_every_parameter_and_keeps_in_range_values():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.Linear(7, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.05 * torch.randn_like(p))
    before = [p.detach().clone() for p in net.parameters()]
    c = 0.01
    clip_weights_(net, c)
    for p, old in zip(net.parameters(), before):
        assert p.abs().max() <= c
        inside = old.abs() <= c
        assert torch.equal(p[inside], old[inside])  # in-range values unchanged
        assert torch.equal(p[~inside], c * old[~inside].sign())  # the rest land on the bound
        assert p.requires_grad and p.grad_fn is None  # still a trainable leaf


def test_clip_bound_must_be_positive():
    with pytest.raises(AssertionError):
        clip_weights_(nn.Linear(2, 2), 0.0)


# --------------------------------------------------------------------------- objectives by name


def test_objective_names_and_contents():
    assert set(OBJECTIVES) == {"gan", "gan-saturating", "wgan", "wgan-gp", "hinge", "lsgan"}
    assert objective("gan").d_loss is discriminator_loss
    assert objective("gan").g_loss is generator_loss_nonsaturating
    assert objective("gan-saturating").g_loss is generator_loss_saturating
    assert objective("wgan").d_loss is wasserstein_critic_loss
    assert objective("wgan").g_loss is wasserstein_generator_loss
    assert (objective("wgan").clip, objective("wgan").gp_weight) == (0.01, 0.0)
    assert (objective("wgan-gp").clip, objective("wgan-gp").gp_weight) == (None, 10.0)
    assert objective("hinge").d_loss is hinge_discriminator_loss and objective("hinge").g_loss is hinge_generator_loss
    assert objective("lsgan").d_loss is least_squares_discriminator_loss
    assert objective("lsgan").g_loss is least_squares_generator_loss
    for name in ("gan", "gan-saturating", "hinge", "lsgan"):
        assert objective(name).clip is None and objective(name).gp_weight == 0.0


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_every_objective_gives_scalar_losses(name):
    obj = objective(name)
    assert obj.description
    real, fake = _randn(0, 8), _randn(1, 8)
    assert obj.d_loss(real, fake).shape == () and obj.g_loss(fake).shape == ()


def test_unknown_objective_raises_listing_names():
    with pytest.raises(ValueError, match="wasserstein") as info:
        objective("wasserstein")
    for name in OBJECTIVES:
        assert name in str(info.value)


def test_objective_is_frozen_and_keyword_only():
    obj = objective("gan")
    with pytest.raises(dataclasses.FrozenInstanceError):
        obj.gp_weight = 1.0
    with pytest.raises(TypeError):
        Objective(discriminator_loss, generator_loss_nonsaturating, 0.0, None, "positional")


def test_new_names_are_exported():
    for name in ("wasserstein_critic_loss", "wasserstein_generator_loss", "wasserstein_estimate",
                 "gradient_penalty", "clip_weights_", "hinge_discriminator_loss", "hinge_generator_loss",
                 "least_squares_discriminator_loss", "least_squares_generator_loss", "Objective",
                 "OBJECTIVES", "objective"):
        assert name in losses.__all__ and hasattr(losses, name)
    assert math.isfinite(wasserstein_estimate(_t(1.0), _t(0.0)).item())
