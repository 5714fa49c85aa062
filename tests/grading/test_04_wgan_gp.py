"""Grading tests of notebook 04 (WGAN and WGAN-GP): the Wasserstein losses, the gradient penalty,
the exact 1-D earth mover's distance and weight clipping.

Reference values are hand computations, closed forms (a linear critic's gradient is its weight
vector everywhere), an explicit per-sample autograd reference, ganlib.losses, and
scipy.stats.wasserstein_distance.
"""

import copy

import pytest
import torch
from scipy.stats import wasserstein_distance
from torch import nn

from ganlib import losses

NOTEBOOK = "04_wgan_gp"


def _randn(*shape, seed, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _linear_critic(w, dtype=torch.float32):
    critic = nn.Linear(len(w), 1).to(dtype)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([w], dtype=dtype))
        critic.bias.fill_(0.3)
    return critic


def _mlp_critic(d_in=2, seed=0, dtype=torch.float32):
    """A smooth nonlinear critic: its gradient norm changes along every segment real -- fake."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)).to(dtype)


class _Recording(nn.Module):
    """Wraps a critic and keeps a copy of every batch it scores."""

    def __init__(self, critic):
        super().__init__()
        self.critic, self.inputs = critic, []

    def forward(self, x):
        self.inputs.append(x.detach().clone())
        return self.critic(x)


# ---------------------------------------------------------------------------------------------
# Exercise 1: critic_loss, generator_loss_w
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_critic_loss_sign_convention(ex):
    """E f(G(z)) - E f(x): a critic that scores real samples higher has a negative loss."""
    got = ex.critic_loss(torch.tensor([3.0, 1.0, 2.0]), torch.tensor([-1.0, 0.0, 4.0]))
    assert got.ndim == 0, f"expected a scalar, got shape {tuple(got.shape)}"
    assert abs(got.item() - (1.0 - 2.0)) < 1e-6, f"expected E f(fake) - E f(real) = -1, got {got.item()}"
    assert ex.critic_loss(torch.tensor([5.0]), torch.tensor([-5.0])).item() == pytest.approx(-10.0)


@pytest.mark.points(1)
def test_generator_loss_w_sign_convention(ex):
    got = ex.generator_loss_w(torch.tensor([1.0, 2.0, 6.0]))
    assert got.ndim == 0, f"expected a scalar, got shape {tuple(got.shape)}"
    assert got.item() == pytest.approx(-3.0), "G minimises -E f(G(z))"


@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(32,), (32, 1)])
def test_wasserstein_losses_match_ganlib(ex, shape):
    real, fake = _randn(*shape, seed=1), _randn(*shape, seed=2)
    got = ex.critic_loss(real, fake)
    assert got.shape == torch.Size([]), f"expected a scalar for scores of shape {shape}, got {tuple(got.shape)}"
    assert torch.allclose(got, losses.wasserstein_critic_loss(real, fake), atol=1e-6)
    assert torch.allclose(ex.generator_loss_w(fake), losses.wasserstein_generator_loss(fake), atol=1e-6)


@pytest.mark.points(1)
def test_critic_loss_batches_of_different_sizes(ex):
    real, fake = torch.tensor([[1.0], [2.0], [3.0], [6.0]]), torch.tensor([[0.0], [1.0]])
    assert ex.critic_loss(real, fake).item() == pytest.approx(0.5 - 3.0)


@pytest.mark.points(1)
def test_wasserstein_loss_gradients(ex):
    """d L_f / d f(x_j) = -1/B, d L_f / d f(G(z_i)) = +1/B', d L_G / d f(G(z_i)) = -1/B'."""
    real, fake = _randn(4, seed=3).requires_grad_(True), _randn(5, seed=4).requires_grad_(True)
    ex.critic_loss(real, fake).backward()
    assert torch.allclose(real.grad, torch.full((4,), -0.25)) and torch.allclose(fake.grad, torch.full((5,), 0.2))
    fake.grad = None
    ex.generator_loss_w(fake).backward()
    assert torch.allclose(fake.grad, torch.full((5,), -0.2))


# ---------------------------------------------------------------------------------------------
# Exercise 2: gradient_penalty
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.parametrize("w", [[3.0, 4.0], [0.6, 0.8], [0.3, -0.4], [0.0, 0.0, 2.0]])
def test_gradient_penalty_linear_critic_closed_form(ex, w):
    """f(x) = w.x + b has gradient w everywhere: the penalty is (||w|| - 1)^2 whatever eps is."""
    critic = _linear_critic(w)
    real, fake = _randn(7, len(w), seed=5), _randn(7, len(w), seed=6)
    gp = ex.gradient_penalty(critic, real, fake)
    expected = (torch.tensor(w).norm() - 1) ** 2
    assert gp.shape == (7,), f"expected one penalty per sample, shape (7,), got {tuple(gp.shape)}"
    assert torch.allclose(gp, expected.expand(7), atol=1e-5), f"expected {expected.item()} everywhere, got {gp}"


@pytest.mark.points(2)
def test_gradient_penalty_matches_an_explicit_per_sample_reference(ex):
    """At the points where the critic was evaluated, each penalty is (||grad f(x_hat_i)|| - 1)^2,
    with grad f(x_hat_i) computed for that sample alone."""
    critic = _Recording(_mlp_critic(3, seed=1, dtype=torch.float64))
    real, fake = _randn(16, 3, seed=7, dtype=torch.float64), 3 * _randn(16, 3, seed=8, dtype=torch.float64)
    gp = ex.gradient_penalty(critic, real, fake)
    assert gp.shape == (16,)
    assert len(critic.inputs) >= 1, "the penalty must evaluate the critic at the interpolates"
    x_hat = critic.inputs[-1]
    assert x_hat.shape == real.shape
    expected = []
    for x in x_hat:
        x = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(critic.critic(x[None]).sum(), x)
        expected.append((g.norm() - 1) ** 2)
    assert torch.allclose(gp.detach(), torch.stack(expected), rtol=1e-6, atol=1e-9)


@pytest.mark.points(2)
def test_gradient_penalty_draws_one_eps_per_sample(ex):
    """f(x) = ||x||^2 / 2 has gradient x: with every real point at a and every fake at b, the penalty
    of sample i is (||b + eps_i (a - b)|| - 1)^2, so the penalties must differ across the batch
    (one eps for the whole batch makes them all equal), and each must match some eps_i in [0, 1]."""
    critic = lambda x: 0.5 * (x ** 2).sum(dim=1)  # (B,)
    a, b = torch.tensor([4.0, 0.0]), torch.tensor([0.5, 0.0])
    real, fake = a.expand(64, 2).clone(), b.expand(64, 2).clone()
    torch.manual_seed(0)
    gp = ex.gradient_penalty(critic, real, fake)
    assert gp.shape == (64,)
    assert gp.std() > 0.5, "all the penalties are (nearly) equal: draw one eps per sample, shape (B, 1)"
    eps = (gp.detach().sqrt() + 1 - 0.5) / 3.5  # ||x_hat|| = 0.5 + 3.5 eps > 1 for eps > 1/7; invert
    low = gp.detach() < (0.5 + 3.5 / 7 - 1) ** 2  # ambiguous branch (||x_hat|| < 1): skip those
    assert ((eps[~low] >= -1e-5) & (eps[~low] <= 1 + 1e-5)).all(), "x_hat must lie between real and fake"


@pytest.mark.points(1)
def test_gradient_penalty_eps_is_shared_across_a_sample(ex):
    """For images the interpolate of sample i is eps_i x_i + (1 - eps_i) x~_i with ONE eps_i for all its
    pixels: eps of shape (B, 1, 1, 1), not (B, C, H, W) and not (B, 1)."""
    torch.manual_seed(3)
    critic = _Recording(nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 1)))
    real, fake = _randn(6, 2, 4, 4, seed=9), _randn(6, 2, 4, 4, seed=10) + 5.0
    ex.gradient_penalty(critic, real, fake)
    x_hat = critic.inputs[-1]
    assert x_hat.shape == real.shape, f"x_hat has shape {tuple(x_hat.shape)}, expected {tuple(real.shape)}"
    eps = (x_hat - fake) / (real - fake)  # (B, C, H, W): the same number within a sample
    per_sample = eps.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample), atol=1e-4), \
        "eps differs between pixels of one sample"
    assert ((per_sample >= -1e-4) & (per_sample <= 1 + 1e-4)).all()
    assert per_sample[:, 0].std() > 1e-3, "every sample got the same eps"


@pytest.mark.points(1)
def test_gradient_penalty_matches_ganlib_with_the_same_seed(ex):
    critic = _mlp_critic(2, seed=2)
    real, fake = _randn(32, 2, seed=11), _randn(32, 2, seed=12)
    torch.manual_seed(5)
    got = ex.gradient_penalty(critic, real, fake)
    torch.manual_seed(5)
    assert torch.allclose(got, losses.gradient_penalty(critic, real, fake), rtol=1e-5, atol=1e-7)


@pytest.mark.points(2)
def test_gradient_penalty_create_graph_trains_the_critic(ex):
    """d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||: only reachable through a gradient with a graph."""
    critic = _linear_critic([1.2, -1.6])  # ||w|| = 2
    gp = ex.gradient_penalty(critic, _randn(5, 2, seed=13), _randn(5, 2, seed=14))
    assert gp.requires_grad, "the penalty must be differentiable: use create_graph=True"
    gp.mean().backward()
    assert critic.weight.grad is not None, "no gradient reached the critic's weights: use create_graph=True"
    assert torch.allclose(critic.weight.grad, torch.tensor([[1.2, -1.6]]), atol=1e-5)  # 2 (2 - 1) w / 2 = w


@pytest.mark.points(1)
@pytest.mark.parametrize("shape,scores_2d", [((10, 2), False), ((10, 2), True), ((4, 3, 5, 5), False)])
def test_gradient_penalty_shape(ex, shape, scores_2d):
    torch.manual_seed(4)
    body = nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(shape[1:]).prod()), 8), nn.Tanh(), nn.Linear(8, 1))
    critic = body if scores_2d or len(shape) > 2 else (lambda x: body(x).squeeze(1))
    gp = ex.gradient_penalty(critic, _randn(*shape, seed=15), _randn(*shape, seed=16))
    assert gp.shape == (shape[0],), f"expected shape ({shape[0]},), got {tuple(gp.shape)}"
    assert torch.isfinite(gp).all() and (gp >= 0).all()


@pytest.mark.points(1)
def test_gradient_penalty_leaves_its_inputs_alone(ex):
    """Same values, no requires_grad switched on, no .grad written, and no gradient into G."""
    critic = _mlp_critic(2, seed=3)
    real = _randn(8, 2, seed=17)
    G = nn.Linear(2, 2)
    fake = G(_randn(8, 2, seed=18))  # a fake with a graph back into G
    real_before, fake_before = real.clone(), fake.detach().clone()
    gp = ex.gradient_penalty(critic, real, fake)
    assert torch.equal(real, real_before) and torch.equal(fake.detach(), fake_before), "the inputs were modified"
    assert not real.requires_grad and real.grad is None, "do not call requires_grad_ on the input itself"
    gp.sum().backward()
    assert G.weight.grad is None, "the penalty reached G: detach real and fake, it trains the critic only"


# ---------------------------------------------------------------------------------------------
# Exercise 3: emd_1d
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.parametrize("n,seed", [(1, 0), (5, 1), (200, 2), (3000, 3)])
def test_emd_1d_matches_scipy(ex, n, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=gen, dtype=torch.float64)
    y = 2 * torch.rand(n, generator=gen, dtype=torch.float64) ** 2 + 0.3
    got = ex.emd_1d(x, y)
    assert torch.is_tensor(got) and got.ndim == 0, "return a scalar tensor"
    assert got.item() == pytest.approx(wasserstein_distance(x.numpy(), y.numpy()), rel=1e-9, abs=1e-12)


@pytest.mark.points(1)
def test_emd_1d_of_a_shift_and_a_permutation(ex):
    x = _randn(500, seed=19)
    assert ex.emd_1d(x, x - 1.25).item() == pytest.approx(1.25, rel=1e-5)
    assert ex.emd_1d(x, x[torch.randperm(500, generator=torch.Generator().manual_seed(0))]).item() == pytest.approx(0.0, abs=1e-7)
    assert ex.emd_1d(torch.tensor([0.0, 3.0]), torch.tensor([2.0, 1.0])).item() == pytest.approx(1.0)


@pytest.mark.points(1)
def test_emd_1d_does_not_sort_its_inputs_in_place(ex):
    x, y = _randn(50, seed=20), _randn(50, seed=21) + 1
    x_before, y_before = x.clone(), y.clone()
    ex.emd_1d(x, y)
    assert torch.equal(x, x_before) and torch.equal(y, y_before), "emd_1d changed its inputs"


# ---------------------------------------------------------------------------------------------
# Exercise 4: clip_weights
# ---------------------------------------------------------------------------------------------


def _net():
    torch.manual_seed(6)
    net = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(20)  # most values far outside [-c, c]
        net[0].weight[0, 0] = 0.003  # and a few known ones inside
        net[3].bias.fill_(-0.004)
    return net


@pytest.mark.points(1)
def test_clip_weights_bounds_and_in_range_values(ex):
    net = _net()
    before = [p.detach().clone() for p in net.parameters()]
    result = ex.clip_weights(net, 0.01)
    assert result is None, "clip_weights works in place and returns nothing"
    for p, b in zip(net.parameters(), before):
        assert p.abs().max() <= 0.01 + 1e-9, "a parameter is outside [-c, c]"
        assert torch.equal(p.detach(), b.clamp(-0.01, 0.01)), "in-range values must stay, others go to +-c"
    assert net[0].weight[0, 0].item() == pytest.approx(0.003) and net[3].bias.item() == pytest.approx(-0.004)


@pytest.mark.points(1)
def test_clip_weights_in_place_keeps_the_optimiser_working(ex):
    net = _net()
    params = list(net.parameters())
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    ex.clip_weights(net, 0.05)
    assert all(a is b for a, b in zip(net.parameters(), params)), "replace values, not the parameter tensors"
    assert all(p.requires_grad and p.grad_fn is None for p in net.parameters()), "parameters must stay trainable leaves"
    net(torch.ones(4, 3)).sum().backward()
    before = copy.deepcopy(net.state_dict())
    opt.step()
    assert not torch.equal(net[3].weight, before["3.weight"]), "the optimiser no longer updates the clipped weights"


@pytest.mark.points(1)
def test_clip_weights_leaves_buffers_alone(ex):
    net = _net()
    net.train()
    net(_randn(16, 3, seed=22))  # batch norm running statistics move away from (0, 1)
    running_mean, running_var = net[1].running_mean.clone(), net[1].running_var.clone()
    ex.clip_weights(net, 0.01)
    assert torch.equal(net[1].running_mean, running_mean) and torch.equal(net[1].running_var, running_var), \
        "only parameters are clipped, not buffers"
