"""Grading tests of notebook 04 (WGAN and WGAN-GP): the Wasserstein losses, the gradient penalty,
the exact 1-D earth mover's distance and weight clipping.

Reference values are hand computations, closed forms written as sums over counts (a linear critic's
gradient is its weight vector everywhere), an explicit per-sample autograd reference, ganlib's penalty
under the same seed (called outside the submission) and scipy.stats.wasserstein_distance.

Delegation. Every call of a submitted function goes through :func:`_run`, which disables ganlib's
references of this notebook for the duration of the call (``losses.wasserstein_critic_loss`` and
``wasserstein_estimate``, ``wasserstein_generator_loss`` and ``hinge_generator_loss``, which is the same
-E f(G(z)), ``gradient_penalty`` and ``clip_weights_``): each reference function's code is swapped for a
stub that records the call and raises, so a call is caught however the submission reached the function
(``from ganlib.losses import gradient_penalty as gp``, ``ganlib.losses.clip_weights_``,
``losses.objective("wgan").d_loss``, ganlib's ``discriminator_step``, which calls them, an import inside
the function), even when it swallows the error. An exercise answered by calling ganlib's reference so
earns nothing (DESIGN: Notebooks). Each exercise with a reference also has a test of its own,
``test_<exercise>_is_your_own``, that adds a static check (a forbidden object bound to a global name the
function uses) and names the problem in its failure message. ``emd_1d`` has no counterpart in ganlib;
PyTorch itself is allowed everywhere (``torch.sort``, ``torch.autograd.grad``, ``Tensor.clamp_``).
"""

import copy

import pytest
import torch
from scipy.stats import wasserstein_distance
from torch import nn

from ganlib import losses

from _delegation import Delegation

NOTEBOOK = "04_wgan_gp"
F64 = torch.float64

# ganlib's references of this notebook -> the exercise function that must not call them
FORBIDDEN = {
    "ganlib.losses.wasserstein_critic_loss": ("critic_loss", losses.wasserstein_critic_loss),
    "ganlib.losses.wasserstein_estimate": ("critic_loss", losses.wasserstein_estimate),
    "ganlib.losses.wasserstein_generator_loss": ("generator_loss_w", losses.wasserstein_generator_loss),
    "ganlib.losses.hinge_generator_loss": ("generator_loss_w", losses.hinge_generator_loss),
    "ganlib.losses.gradient_penalty": ("gradient_penalty", losses.gradient_penalty),
    "ganlib.losses.clip_weights_": ("clip_weights", losses.clip_weights_),
}
EXERCISE_NUMBER = {"critic_loss": "4.1", "generator_loss_w": "4.2", "gradient_penalty": "4.3", "emd_1d": "4.4",
                   "clip_weights": "4.5"}
DELEGATION = Delegation(FORBIDDEN, EXERCISE_NUMBER)
NO_REFERENCE = {  # exercise -> why ganlib has no answer to forbid
    "emd_1d": "ganlib has no earth mover's distance (the tests' reference is scipy.stats.wasserstein_distance)",
}
_run, _assert_own_work = DELEGATION.run, DELEGATION.assert_own_work


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


def _scalar(got, what):
    assert isinstance(got, torch.Tensor), f"{what}: expected a scalar tensor, got {type(got).__name__}"
    assert got.ndim == 0, f"{what}: expected a scalar (0-dimensional) tensor, got shape {tuple(got.shape)}"
    return got


def _mean(scores):
    """The mean of all the scores, written out in float64: sum / count."""
    return scores.double().sum().item() / scores.numel()


# ---------------------------------------------------------------------------------------------
# Exercise 1: critic_loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_critic_loss_sign_convention(ex):
    """E f(G(z)) - E f(x): a critic that scores real samples higher has a negative loss."""
    got = _scalar(_run(ex, "critic_loss", torch.tensor([3.0, 1.0, 2.0]), torch.tensor([-1.0, 0.0, 4.0])), "critic_loss")
    assert abs(got.item() - (1.0 - 2.0)) < 1e-6, f"expected E f(fake) - E f(real) = -1, got {got.item()}"
    assert _run(ex, "critic_loss", torch.tensor([5.0]), torch.tensor([-5.0])).item() == pytest.approx(-10.0)


@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(32,), (32, 1)])
def test_critic_loss_closed_form(ex, shape):
    real, fake = _randn(*shape, seed=1) + 0.5, 2 * _randn(*shape, seed=2)
    got = _scalar(_run(ex, "critic_loss", real, fake), f"critic_loss of scores {shape}")
    assert got.item() == pytest.approx(_mean(fake) - _mean(real), abs=1e-6)


@pytest.mark.points(1)
def test_critic_loss_batches_of_different_sizes(ex):
    real, fake = torch.tensor([[1.0], [2.0], [3.0], [6.0]]), torch.tensor([[0.0], [1.0]])
    assert _scalar(_run(ex, "critic_loss", real, fake), "critic_loss").item() == pytest.approx(0.5 - 3.0)


@pytest.mark.points(1)
def test_critic_loss_gradients(ex):
    """d L_f / d f(x_j) = -1/B, d L_f / d f(G(z_i)) = +1/B'."""
    real, fake = _randn(4, seed=3).requires_grad_(True), _randn(5, seed=4).requires_grad_(True)
    loss = _scalar(_run(ex, "critic_loss", real, fake), "critic_loss")
    assert loss.requires_grad, "the loss must keep its graph: no .item(), .detach() or torch.no_grad()"
    loss.backward()
    assert torch.allclose(real.grad, torch.full((4,), -0.25)) and torch.allclose(fake.grad, torch.full((5,), 0.2))


@pytest.mark.points(1)
def test_critic_loss_is_your_own(ex):
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0])
    _assert_own_work(ex, "critic_loss", real, fake)
    assert _run(ex, "critic_loss", real, fake).item() == pytest.approx(-3.0), "and it must work"


# ---------------------------------------------------------------------------------------------
# Exercise 1: generator_loss_w
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_generator_loss_w_sign_convention(ex):
    got = _scalar(_run(ex, "generator_loss_w", torch.tensor([1.0, 2.0, 6.0])), "generator_loss_w")
    assert got.item() == pytest.approx(-3.0), "G minimises -E f(G(z))"


@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(32,), (7, 1)])
def test_generator_loss_w_closed_form(ex, shape):
    fake = 3 * _randn(*shape, seed=5) + 1
    got = _scalar(_run(ex, "generator_loss_w", fake), f"generator_loss_w of scores {shape}")
    assert got.item() == pytest.approx(-_mean(fake), abs=1e-6)


@pytest.mark.points(1)
def test_generator_loss_w_gradients(ex):
    """d L_G / d f(G(z_i)) = -1/B': descent raises every fake score."""
    fake = _randn(5, 1, seed=6).requires_grad_(True)
    loss = _scalar(_run(ex, "generator_loss_w", fake), "generator_loss_w")
    assert loss.requires_grad, "the loss must keep its graph: no .item(), .detach() or torch.no_grad()"
    loss.backward()
    assert torch.allclose(fake.grad, torch.full((5, 1), -0.2))


@pytest.mark.points(1)
def test_generator_loss_w_is_your_own(ex):
    fake = torch.tensor([0.5, 1.5, -4.0])
    _assert_own_work(ex, "generator_loss_w", fake)
    assert _run(ex, "generator_loss_w", fake).item() == pytest.approx(2 / 3), "and it must work"


# ---------------------------------------------------------------------------------------------
# Exercise 3: gradient_penalty
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.parametrize("w", [[3.0, 4.0], [0.6, 0.8], [0.3, -0.4], [0.0, 0.0, 2.0]])
def test_gradient_penalty_linear_critic_closed_form(ex, w):
    """f(x) = w.x + b has gradient w everywhere: the penalty is (||w|| - 1)^2 whatever eps is (for w and 2 w)."""
    for scale in (1.0, 2.0):
        critic = _linear_critic([scale * v for v in w])
        real, fake = _randn(7, len(w), seed=5), _randn(7, len(w), seed=6)
        gp = _run(ex, "gradient_penalty", critic, real, fake)
        expected = (scale * torch.tensor(w).norm() - 1) ** 2
        assert gp.shape == (7,), f"expected one penalty per sample, shape (7,), got {tuple(gp.shape)}"
        assert torch.allclose(gp, expected.expand(7), atol=1e-5), f"expected {expected.item()} everywhere, got {gp}"


def _assert_per_sample_reference(critic, gp, shape, rtol=1e-5, atol=1e-7):
    """Each penalty is (||grad f(x_hat_i)|| - 1)^2 at the last batch the recording critic scored, with
    grad f(x_hat_i) computed for that sample alone."""
    assert len(critic.inputs) >= 1, "the penalty must evaluate the critic at the interpolates"
    x_hat = critic.inputs[-1]
    assert x_hat.shape == shape, f"the critic scored a batch of shape {tuple(x_hat.shape)}, expected {tuple(shape)}"
    expected = []
    for x in x_hat:
        x = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(critic.critic(x[None]).sum(), x)
        expected.append((g.norm() - 1) ** 2)
    assert torch.allclose(gp.detach().to(x_hat.dtype), torch.stack(expected), rtol=rtol, atol=atol), \
        "the penalties differ from (||grad f(x_hat_i)|| - 1)^2 at the points the critic scored"


@pytest.mark.points(2)
def test_gradient_penalty_matches_an_explicit_per_sample_reference(ex):
    """At the points where the critic was evaluated, each penalty is (||grad f(x_hat_i)|| - 1)^2,
    with grad f(x_hat_i) computed for that sample alone."""
    critic = _Recording(_mlp_critic(3, seed=1, dtype=torch.float64))
    real, fake = _randn(16, 3, seed=7, dtype=torch.float64), 3 * _randn(16, 3, seed=8, dtype=torch.float64)
    gp = _run(ex, "gradient_penalty", critic, real, fake)
    assert gp.shape == (16,)
    _assert_per_sample_reference(critic, gp, real.shape, rtol=1e-6, atol=1e-9)


@pytest.mark.points(2)
def test_gradient_penalty_draws_one_eps_per_sample(ex):
    """f(x) = ||x||^2 / 2 has gradient x: with every real point at a and every fake at b, the penalty
    of sample i is (||b + eps_i (a - b)|| - 1)^2, so the penalties must differ across the batch
    (one eps for the whole batch makes them all equal), and each must match some eps_i in [0, 1]."""
    critic = lambda x: 0.5 * (x ** 2).sum(dim=1)  # (B,)
    a, b = torch.tensor([4.0, 0.0]), torch.tensor([0.5, 0.0])
    real, fake = a.expand(64, 2).clone(), b.expand(64, 2).clone()
    torch.manual_seed(0)
    gp = _run(ex, "gradient_penalty", critic, real, fake)
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
    _run(ex, "gradient_penalty", critic, real, fake)
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
    got = _run(ex, "gradient_penalty", critic, real, fake)
    torch.manual_seed(5)
    assert torch.allclose(got, losses.gradient_penalty(critic, real, fake), rtol=1e-5, atol=1e-7)


@pytest.mark.points(2)
def test_gradient_penalty_create_graph_trains_the_critic(ex):
    """d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||: only reachable through a gradient with a graph."""
    critic = _linear_critic([1.2, -1.6])  # ||w|| = 2
    gp = _run(ex, "gradient_penalty", critic, _randn(5, 2, seed=13), _randn(5, 2, seed=14))
    assert gp.requires_grad, "the penalty must be differentiable: use create_graph=True"
    gp.mean().backward()
    assert critic.weight.grad is not None, "no gradient reached the critic's weights: use create_graph=True"
    assert torch.allclose(critic.weight.grad, torch.tensor([[1.2, -1.6]]), atol=1e-5)  # 2 (2 - 1) w / 2 = w


@pytest.mark.points(1)
@pytest.mark.parametrize("shape,scores_2d", [((10, 2), False), ((10, 2), True), ((4, 3, 5, 5), False)])
def test_gradient_penalty_shape(ex, shape, scores_2d):
    torch.manual_seed(4)
    body = nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(shape[1:]).prod()), 8), nn.Tanh(), nn.Linear(8, 1))
    critic = _Recording(body if scores_2d or len(shape) > 2 else (lambda x: body(x).squeeze(1)))
    gp = _run(ex, "gradient_penalty", critic, _randn(*shape, seed=15), _randn(*shape, seed=16))
    assert gp.shape == (shape[0],), f"expected shape ({shape[0]},), got {tuple(gp.shape)}"
    _assert_per_sample_reference(critic, gp, shape)


@pytest.mark.points(1)
def test_gradient_penalty_leaves_its_inputs_alone(ex):
    """Same values, no requires_grad switched on, no .grad written, and no gradient into G."""
    critic = _Recording(_mlp_critic(2, seed=3))
    real = _randn(8, 2, seed=17)
    G = nn.Linear(2, 2)
    fake = G(_randn(8, 2, seed=18))  # a fake with a graph back into G
    real_before, fake_before = real.clone(), fake.detach().clone()
    gp = _run(ex, "gradient_penalty", critic, real, fake)
    assert torch.equal(real, real_before) and torch.equal(fake.detach(), fake_before), "the inputs were modified"
    assert not real.requires_grad and real.grad is None, "do not call requires_grad_ on the input itself"
    _assert_per_sample_reference(critic, gp, real.shape)
    gp.sum().backward()
    assert G.weight.grad is None, "the penalty reached G: detach real and fake, it trains the critic only"


@pytest.mark.points(1)
def test_gradient_penalty_is_your_own(ex):
    critic = _linear_critic([0.6, 0.8, 0.0])  # ||w|| = 1: penalty 0
    _assert_own_work(ex, "gradient_penalty", critic, _randn(3, 3, seed=23), _randn(3, 3, seed=24))
    gp = _run(ex, "gradient_penalty", _linear_critic([3.0, 0.0, 4.0]), _randn(3, 3, seed=23), _randn(3, 3, seed=24))
    assert isinstance(gp, torch.Tensor) and torch.allclose(gp, torch.full((3,), 16.0), atol=1e-4), "and it must work"


# ---------------------------------------------------------------------------------------------
# Exercise 4: emd_1d
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.parametrize("n,seed", [(1, 0), (5, 1), (200, 2), (3000, 3)])
def test_emd_1d_matches_scipy(ex, n, seed):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, generator=gen, dtype=torch.float64)
    y = 2 * torch.rand(n, generator=gen, dtype=torch.float64) ** 2 + 0.3
    got = _run(ex, "emd_1d", x, y)
    assert torch.is_tensor(got) and got.ndim == 0, "return a scalar tensor"
    assert got.item() == pytest.approx(wasserstein_distance(x.numpy(), y.numpy()), rel=1e-9, abs=1e-12)


@pytest.mark.points(1)
def test_emd_1d_of_a_shift_and_a_permutation(ex):
    x = _randn(500, seed=19)
    assert _run(ex, "emd_1d", x, x - 1.25).item() == pytest.approx(1.25, rel=1e-5)
    shuffled = x[torch.randperm(500, generator=torch.Generator().manual_seed(0))]
    assert _run(ex, "emd_1d", x, shuffled).item() == pytest.approx(0.0, abs=1e-7)
    assert _run(ex, "emd_1d", torch.tensor([0.0, 3.0]), torch.tensor([2.0, 1.0])).item() == pytest.approx(1.0)


@pytest.mark.points(1)
def test_emd_1d_does_not_sort_its_inputs_in_place(ex):
    x, y = _randn(50, seed=20, dtype=F64), _randn(50, seed=21, dtype=F64) + 1
    x_before, y_before = x.clone(), y.clone()
    got = _run(ex, "emd_1d", x, y)
    assert torch.equal(x, x_before) and torch.equal(y, y_before), "emd_1d changed its inputs"
    assert torch.is_tensor(got) and got.item() == pytest.approx(wasserstein_distance(x.numpy(), y.numpy()), rel=1e-9)


@pytest.mark.points(1)
def test_emd_1d_small_examples(ex):
    """{0, 1} to {2, 3}: 2; {0, 3} to {1, 2}: the sorted matching, (1 + 1) / 2 = 1, not (2 + 2) / 2 or 0."""
    cases = [([1.0, 0.0], [3.0, 2.0], 2.0), ([0.0, 3.0], [2.0, 1.0], 1.0),
             ([0.0, 1.0, 2.0, 3.0], [5.0, 0.5, 1.5, 2.5], 0.875), ([4.0, -4.0, 0.0], [0.0, 0.0, 0.0], 8 / 3)]
    for x, y, expected in cases:
        got = _run(ex, "emd_1d", torch.tensor(x, dtype=F64), torch.tensor(y, dtype=F64))
        assert torch.is_tensor(got) and got.ndim == 0, "return a scalar tensor"
        assert got.item() == pytest.approx(expected, abs=1e-12), \
            f"emd_1d({x}, {y}): expected {expected}, got {got.item()}"


# ---------------------------------------------------------------------------------------------
# Exercise 5: clip_weights
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
    result = _run(ex, "clip_weights", net, 0.01)
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
    _run(ex, "clip_weights", net, 0.05)
    assert all(a is b for a, b in zip(net.parameters(), params)), "replace values, not the parameter tensors"
    assert all(p.abs().max() <= 0.05 for p in net.parameters()), "a parameter is outside [-c, c]"
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
    assert running_var.abs().max() > 0.01 and running_mean.abs().max() > 0.01  # buffers outside [-c, c]
    _run(ex, "clip_weights", net, 0.01)
    assert torch.equal(net[1].running_mean, running_mean) and torch.equal(net[1].running_var, running_var), \
        "only parameters are clipped, not buffers"
    assert all(p.abs().max() <= 0.01 for p in net.parameters()), "a parameter is outside [-c, c]"


@pytest.mark.points(1)
def test_clip_weights_is_your_own(ex):
    _assert_own_work(ex, "clip_weights", nn.Linear(3, 2), 0.01)
    net = _net()
    _run(ex, "clip_weights", net, 0.02)
    assert all(p.abs().max() <= 0.02 for p in net.parameters()), "and it must work"
