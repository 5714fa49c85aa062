"""Grading tests of notebook 02 (the vanilla GAN): the losses from logits and the alternating step.

Reference values are closed forms (softplus, sigmoid) computed in float64, ganlib.losses, and
ganlib.train.train_step replayed from the same state with the same random numbers.

Delegation. Every call of a submitted function goes through ``_run`` (:class:`_delegation.Delegation`),
which disables ganlib's references of this notebook for the duration of the call:
``losses.discriminator_loss`` (exercise 1), ``losses.generator_loss_saturating`` and
``generator_loss_nonsaturating`` (exercise 2), and the step functions of ``ganlib.training.gan``
(``train_step``, ``discriminator_step``, ``generator_step``; exercise 3), however the submission reached
them. An exercise answered by calling them earns nothing; ``test_<exercise>_is_your_own`` adds a static
check (a reference bound to a global name the function uses). ganlib's helpers ``optimizer_step`` and
``frozen`` (ganlib.training.loop), which exercise 3 is meant to use, stay allowed.

Exercise 3 and exercise 1. The step is graded on its own: its tests replace the module's
``discriminator_loss`` by a correct one, so a wrong exercise 1 does not also cost exercise 3, whether the
step calls it (as the notebook asks) or inlines it; and the generator losses they hand to the step are
written here (``_saturating``, ``_nonsaturating``), not ganlib's, which are disabled during the call.
Every test checks values, so a no-op or a constant keeps no point either.
"""

import copy

import pytest
import torch
import torch.nn.functional as F

from ganlib import losses
from ganlib.data import ToyBatches, ring8
from ganlib.models.mlp import build_mlp_gan
from ganlib.train import train_step
from ganlib.training import gan

from _delegation import Delegation

NOTEBOOK = "02_vanilla_gan"

# ganlib's references of this notebook -> the exercise function that must not call them
FORBIDDEN = {
    "ganlib.losses.discriminator_loss": ("discriminator_loss", losses.discriminator_loss),
    "ganlib.losses.generator_loss_saturating": ("generator_losses", losses.generator_loss_saturating),
    "ganlib.losses.generator_loss_nonsaturating": ("generator_losses", losses.generator_loss_nonsaturating),
    "ganlib.training.gan.train_step": ("alternating_step", gan.train_step),
    "ganlib.training.gan.discriminator_step": ("alternating_step", gan.discriminator_step),
    "ganlib.training.gan.generator_step": ("alternating_step", gan.generator_step),
}
EXERCISE_NUMBER = {"discriminator_loss": "2.1", "generator_losses": "2.2", "alternating_step": "2.3"}
DELEGATION = Delegation(FORBIDDEN, EXERCISE_NUMBER)
_run = DELEGATION.run


def _softplus64(t):
    return F.softplus(torch.as_tensor(t, dtype=torch.float64))


def _random_logits(shape, seed, scale=3.0):
    return scale * torch.randn(shape, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------
# Exercise 1: discriminator_loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_discriminator_loss_hand_values(ex):
    real, fake = torch.tensor([3.0, -1.0, 0.5]), torch.tensor([0.5, 2.0, -4.0])
    expected = _softplus64(-real).mean() + _softplus64(fake).mean()
    got = _run(ex, "discriminator_loss", real, fake)
    assert got.ndim == 0, f"expected a scalar, got shape {tuple(got.shape)}"
    assert abs(got.item() - expected.item()) < 1e-5


@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(64,), (64, 1)])
def test_discriminator_loss_matches_ganlib(ex, shape):
    real, fake = _random_logits(shape, 1), _random_logits(shape, 2)
    got = _run(ex, "discriminator_loss", real, fake)
    assert got.shape == torch.Size([]), f"expected a scalar for logits of shape {shape}, got {tuple(got.shape)}"
    assert torch.allclose(got, losses.discriminator_loss(real, fake), rtol=1e-6, atol=1e-6)


@pytest.mark.points(1)
def test_discriminator_loss_extreme_logits(ex):
    """±50 and ±100: sigmoid rounds to 0 or 1 in float32, softplus stays exact and finite."""
    real, fake = torch.tensor([-50.0, 50.0, -100.0]), torch.tensor([50.0, -50.0, 100.0])
    real.requires_grad_(True)
    fake.requires_grad_(True)
    got = _run(ex, "discriminator_loss", real, fake)
    expected = (50.0 + 0.0 + 100.0) / 3 * 2  # the confident mistakes cost |t|; the right answers ~0
    assert torch.isfinite(got), f"loss is {got.item()} for large logits; use softplus, not log(sigmoid)"
    assert abs(got.item() - expected) < 1e-4
    got.backward()
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all(), "gradient not finite"


@pytest.mark.points(1)
def test_discriminator_loss_gradient(ex):
    """d L_D / d t_real = -(1 - sigmoid(t)) / B and d L_D / d t_fake = sigmoid(t) / B."""
    real, fake = _random_logits((16,), 3).requires_grad_(True), _random_logits((16,), 4).requires_grad_(True)
    _run(ex, "discriminator_loss", real, fake).backward()
    assert real.grad is not None and fake.grad is not None, "the loss must be differentiable in both logits"
    assert torch.allclose(real.grad, -(1 - torch.sigmoid(real.detach())) / 16, atol=1e-6)
    assert torch.allclose(fake.grad, torch.sigmoid(fake.detach()) / 16, atol=1e-6)


@pytest.mark.points(1)
def test_discriminator_loss_is_your_own(ex):
    DELEGATION.assert_no_bound_references(ex, "discriminator_loss")
    real, fake = torch.tensor([1.0, -2.0]), torch.tensor([0.0, 3.0])
    got = _run(ex, "discriminator_loss", real, fake)
    assert abs(got.item() - (_softplus64(-real).mean() + _softplus64(fake).mean()).item()) < 1e-5


# ---------------------------------------------------------------------------------------------
# Exercise 2: generator_losses
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
def test_generator_losses_hand_values(ex):
    t = torch.tensor([-2.0, 0.0, 1.5])
    sat, ns = _run(ex, "generator_losses", t)
    assert sat.ndim == 0 and ns.ndim == 0, "both losses must be scalars"
    assert abs(sat.item() - (-_softplus64(t).mean().item())) < 1e-5, "saturating: mean of log(1 - sigmoid(t))"
    assert abs(ns.item() - _softplus64(-t).mean().item()) < 1e-5, "non-saturating: mean of -log sigmoid(t)"


@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(64,), (64, 1)])
def test_generator_losses_match_ganlib(ex, shape):
    t = _random_logits(shape, 5)
    sat, ns = _run(ex, "generator_losses", t)
    assert sat.shape == torch.Size([]) and ns.shape == torch.Size([])
    assert torch.allclose(sat, losses.generator_loss_saturating(t), rtol=1e-6, atol=1e-6)
    assert torch.allclose(ns, losses.generator_loss_nonsaturating(t), rtol=1e-6, atol=1e-6)


@pytest.mark.points(1)
def test_generator_losses_extreme_logits(ex):
    t = torch.tensor([-50.0, 50.0, -100.0], requires_grad=True)
    sat, ns = _run(ex, "generator_losses", t)
    assert torch.isfinite(sat) and torch.isfinite(ns), f"got {sat.item()}, {ns.item()}; use softplus"
    assert abs(sat.item() - (-50.0 / 3)) < 1e-4  # -softplus(t): about -0, -50, -0
    assert abs(ns.item() - 150.0 / 3) < 1e-4  # softplus(-t): about 50, 0, 100
    (sat + ns).backward()
    assert torch.isfinite(t.grad).all()


@pytest.mark.points(2)
def test_generator_losses_gradients(ex):
    """Closed forms: -sigmoid(t) / B for the saturating loss, -(1 - sigmoid(t)) / B for the non-saturating one."""
    t = torch.cat([_random_logits((14,), 6), torch.tensor([-30.0, 30.0])]).requires_grad_(True)
    sat, ns = _run(ex, "generator_losses", t)
    grad_sat, = torch.autograd.grad(sat, t)
    grad_ns, = torch.autograd.grad(ns, t)
    s = torch.sigmoid(t.detach())
    assert torch.allclose(grad_sat, -s / 16, atol=1e-7), "saturating gradient should be -sigmoid(t) / B"
    assert torch.allclose(grad_ns, -(1 - s) / 16, atol=1e-7), "non-saturating gradient should be -(1 - sigmoid(t)) / B"


@pytest.mark.points(1)
def test_generator_losses_is_your_own(ex):
    DELEGATION.assert_no_bound_references(ex, "generator_losses")
    t = torch.tensor([0.5, -3.0])
    sat, ns = _run(ex, "generator_losses", t)
    assert abs(sat.item() + _softplus64(t).mean().item()) < 1e-5
    assert abs(ns.item() - _softplus64(-t).mean().item()) < 1e-5


# ---------------------------------------------------------------------------------------------
# Exercise 3: alternating_step
# ---------------------------------------------------------------------------------------------


def _saturating(t):
    return -F.softplus(t).mean()  # log(1 - sigmoid(t)), written here: ganlib's is disabled during the call


def _nonsaturating(t):
    return F.softplus(-t).mean()  # -log sigmoid(t)


def _correct_discriminator_loss(real_logits, fake_logits):
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def _step(ex, monkeypatch, *args, **kwargs):
    """The submission's alternating_step with a correct discriminator_loss in its module (see the docstring)."""
    monkeypatch.setattr(ex, "discriminator_loss", _correct_discriminator_loss, raising=False)
    return _run(ex, "alternating_step", *args, **kwargs)


class _Counting:
    """Wrap a batch iterator or a latent sampler and count the calls."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def __next__(self):
        self.calls += 1
        return next(self.inner)

    def __call__(self, n):
        self.calls += 1
        return self.inner(n)


def _setup(seed=0, optimiser="sgd"):
    """A small toy GAN with optimisers, batches and a latent sampler, all seeded."""
    torch.manual_seed(seed)
    G, D = build_mlp_gan("toy2d", g_hidden=(16, 16), d_hidden=(16, 16))
    make = (lambda p: torch.optim.SGD(p, lr=0.1)) if optimiser == "sgd" else (lambda p: torch.optim.Adam(p, lr=1e-3))
    opt_g, opt_d = make(G.parameters()), make(D.parameters())
    batches = ToyBatches(ring8(), 32, generator=torch.Generator().manual_seed(seed + 1))
    z_gen = torch.Generator().manual_seed(seed + 2)
    sample_z = lambda n: torch.randn(n, G.cfg.latent_dim, generator=z_gen)  # noqa: E731
    return G, D, opt_g, opt_d, batches, sample_z


def _adam_steps(opt):
    return {int(state["step"]) for state in opt.state.values()}


def _assert_same_metrics(out, expected):
    assert isinstance(out, dict), f"expected a dict of metrics, got {type(out).__name__}"
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert name in out, f"missing {name!r} in the returned dict"
        assert torch.allclose(torch.as_tensor(out[name]), expected[name], atol=1e-6), (
            f"{name}: got {float(out[name]):.6f}, expected {float(expected[name]):.6f}")


def _assert_same_weights(mine, ref):
    for net, (a, b) in (("G", (mine[0], ref[0])), ("D", (mine[1], ref[1]))):
        for (name, p), q in zip(a.named_parameters(), b.parameters()):
            assert torch.allclose(p, q, atol=1e-6), f"{net}.{name} differs from the reference step"


@pytest.mark.points(2)
@pytest.mark.parametrize("g_loss", [_nonsaturating, _saturating], ids=["non-saturating", "saturating"])
def test_alternating_step_matches_reference(ex, monkeypatch, g_loss):
    """From the same state and random numbers, the step equals ganlib.train.train_step: metrics and weights."""
    mine, ref = _setup(), _setup()
    for _ in range(2):
        out = _step(ex, monkeypatch, *mine, k=2, g_loss=g_loss)
        _assert_same_metrics(out, train_step(*ref, k=2, g_loss=g_loss))
    _assert_same_weights(mine, ref)


@pytest.mark.points(1)
@pytest.mark.parametrize("k", [1, 3])
def test_alternating_step_exact_k_updates(ex, monkeypatch, k):
    G, D, opt_g, opt_d, batches, sample_z = _setup(optimiser="adam")
    batches, sample_z = _Counting(batches), _Counting(sample_z)
    _step(ex, monkeypatch, G, D, opt_g, opt_d, batches, sample_z, k=k, g_loss=_nonsaturating)
    assert _adam_steps(opt_d) == {k}, f"D's optimiser should step k={k} times, stepped {_adam_steps(opt_d)}"
    assert _adam_steps(opt_g) == {1}, f"G's optimiser should step once, stepped {_adam_steps(opt_g)}"
    assert batches.calls == k, f"expected {k} real batches (one per D update), drew {batches.calls}"
    assert sample_z.calls == k + 1, f"expected {k + 1} latent batches (k for D, one for G), drew {sample_z.calls}"


@pytest.mark.points(1)
def test_alternating_step_d_frozen_in_g_phase(ex, monkeypatch):
    """D's weights receive gradients exactly k times (its own updates), none from the G update."""
    G, D, opt_g, opt_d, batches, sample_z = _setup()
    count = {"n": 0}
    first = next(D.parameters())
    first.register_hook(lambda grad: count.__setitem__("n", count["n"] + 1))
    d_before = copy.deepcopy(D)
    _step(ex, monkeypatch, G, D, opt_g, opt_d, batches, sample_z, k=2, g_loss=_nonsaturating)
    assert count["n"] == 2, f"D's weights got {count['n']} gradients, expected 2 (k=2): freeze D in the G phase"
    assert all(p.requires_grad for p in D.parameters()), "D must be trainable again after the step"
    assert any(not torch.equal(p, q) for p, q in zip(D.parameters(), d_before.parameters())), "D was not updated"


@pytest.mark.points(1)
def test_alternating_step_fakes_detached_in_d_phase(ex, monkeypatch):
    """G's weights receive a gradient once (its own update): the fakes of the D updates are detached."""
    G, D, opt_g, opt_d, batches, sample_z = _setup()
    count = {"n": 0}
    next(G.parameters()).register_hook(lambda grad: count.__setitem__("n", count["n"] + 1))
    g_before = copy.deepcopy(G)
    _step(ex, monkeypatch, G, D, opt_g, opt_d, batches, sample_z, k=3, g_loss=_nonsaturating)
    assert count["n"] == 1, f"G's weights got {count['n']} gradients, expected 1: detach the fakes in the D phase"
    assert any(not torch.equal(p, q) for p, q in zip(G.parameters(), g_before.parameters())), "G was not updated"


@pytest.mark.points(1)
def test_alternating_step_returns_detached_scalars(ex, monkeypatch):
    mine, ref = _setup(seed=1), _setup(seed=1)
    out = _step(ex, monkeypatch, *mine, k=1, g_loss=_nonsaturating)
    assert isinstance(out, dict) and set(out) == {"d_loss", "g_loss", "d_real", "d_fake"}, (
        f"expected a dict with d_loss, g_loss, d_real, d_fake, got {out!r}")
    for name, value in out.items():
        assert isinstance(value, torch.Tensor) and value.ndim == 0, f"{name} must be a 0-dim tensor"
        assert not value.requires_grad, f"{name} must be detached"
    _assert_same_metrics(out, train_step(*ref, k=1, g_loss=_nonsaturating))  # and the right numbers


@pytest.mark.points(1)
def test_alternating_step_uses_the_given_g_loss(ex, monkeypatch):
    """Any generator loss goes through: a made-up one gives the reference's result too."""
    def g_loss(t):
        return (t - 1.0).pow(2).mean()

    mine, ref = _setup(seed=3), _setup(seed=3)
    out = _step(ex, monkeypatch, *mine, k=1, g_loss=g_loss)
    expected = train_step(*ref, k=1, g_loss=g_loss)
    assert torch.allclose(out["g_loss"], expected["g_loss"], atol=1e-6)
    for p, q in zip(mine[0].parameters(), ref[0].parameters()):
        assert torch.allclose(p, q, atol=1e-6), "G's update must descend g_loss(D(G(z)))"


@pytest.mark.points(1)
def test_alternating_step_is_your_own(ex, monkeypatch):
    DELEGATION.assert_no_bound_references(ex, "alternating_step")
    mine, ref = _setup(seed=4), _setup(seed=4)
    out = _step(ex, monkeypatch, *mine, k=2, g_loss=_saturating)
    _assert_same_metrics(out, train_step(*ref, k=2, g_loss=_saturating))
    _assert_same_weights(mine, ref)
