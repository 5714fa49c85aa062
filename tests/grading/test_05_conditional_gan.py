"""Grading tests of notebook 05 (conditional GANs and pix2pix): the conditional discriminator loss,
the projection discriminator's logit, Sobel edge maps and the pix2pix generator loss.

Reference values come from closed forms computed in float64 (softplus written out; a bilinear D whose
logits and parameter gradients have closed forms; the projection logit as an explicit sum per example),
from ganlib's discriminators, and from torch's conv2d with the Sobel kernels.

Delegation. Every call of a submitted function goes through :func:`_run`, which disables ganlib's
references of this notebook for the duration of the call (``losses.discriminator_loss`` and
``discriminator_step``, ``ProjectionDiscriminator.forward``, ``losses.generator_loss_nonsaturating`` and
``generator_step``): each reference function's code is swapped for a stub that records the call and
raises, so a call is caught however the submission reached the function (``from ganlib.losses import
discriminator_loss as d``, ``ganlib.losses.discriminator_loss``, ``losses.discriminator_loss``, a stand-in
object handed to ``ProjectionDiscriminator.forward``, an import inside the function), even when it swallows
the error. An exercise answered by calling ganlib's reference so earns nothing (DESIGN: Notebooks). Each of
these exercises also has a test of its own, ``test_<exercise>_is_your_own``, that adds a static check (a
forbidden object bound to a global name the function uses), names the problem in its failure message, and
checks the value too: every test checks values, so a no-op or a constant keeps no point either.
``sobel_edges`` has no counterpart in ganlib. PyTorch itself is allowed (``F.softplus``,
``F.binary_cross_entropy_with_logits``, ``F.l1_loss``, ``F.conv2d``, ``nn.Embedding``'s lookup by indexing).
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganlib import losses
from ganlib.models.conditional import ProjectionDiscriminator, build_conditional_gan
from ganlib.training import gan

from _delegation import Delegation

NOTEBOOK = "05_conditional_gan"
F64 = torch.float64

# ganlib's references of this notebook -> the exercise function that must not call them
FORBIDDEN = {
    "ganlib.losses.discriminator_loss": ("conditional_d_loss", losses.discriminator_loss),
    "ganlib.training.gan.discriminator_step": ("conditional_d_loss", gan.discriminator_step),
    "ganlib.models.conditional.ProjectionDiscriminator.forward": ("projection_logit", ProjectionDiscriminator.forward),
    "ganlib.losses.generator_loss_nonsaturating": ("pix2pix_generator_loss", losses.generator_loss_nonsaturating),
    "ganlib.training.gan.generator_step": ("pix2pix_generator_loss", gan.generator_step),
}
EXERCISE_NUMBER = {"conditional_d_loss": "5.1", "projection_logit": "5.2", "sobel_edges": "5.3",
                   "pix2pix_generator_loss": "5.4"}
DELEGATION = Delegation(FORBIDDEN, EXERCISE_NUMBER)
_run = DELEGATION.run
# exercises without an answer in ganlib (nothing to forbid), and why
NO_REFERENCE = {"sobel_edges": "ganlib has no edge detector: the notebook builds its edge -> digit pairs with the "
                               "student's own sobel_edges"}


def _randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _softplus64(t):
    return torch.log1p(torch.exp(-t.abs())) + t.clamp(min=0)  # log(1 + e^t), stable, float64


def _scalar(got):
    assert isinstance(got, torch.Tensor), f"expected a scalar tensor, got {type(got).__name__}"
    assert got.ndim == 0, f"expected a scalar, got shape {tuple(got.shape)}"
    return got


# ---------------------------------------------------------------------------------------------
# Exercise 1: conditional_d_loss
# ---------------------------------------------------------------------------------------------


class _BilinearD(nn.Module):
    """D(x, y) = <u_y, x> + c_y: a logit that depends on every pixel and on the label."""

    def __init__(self, n_classes=10, n_pixels=16, seed=0):
        super().__init__()
        self.u = nn.Parameter(_randn(n_classes, n_pixels, seed=seed) / 4)
        self.c = nn.Parameter(_randn(n_classes, seed=seed + 1))

    def forward(self, x, y):
        return (x.flatten(1) * self.u[y]).sum(dim=1) + self.c[y]  # (B,)


def _bilinear_case():
    D = _BilinearD().double()
    real, fake = _randn(32, 1, 4, 4, seed=2, dtype=F64), _randn(32, 1, 4, 4, seed=3, dtype=F64)
    y = torch.randint(10, (32,), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        real_logits = (real.flatten(1) * D.u[y]).sum(1) + D.c[y]
        fake_logits = (fake.flatten(1) * D.u[y]).sum(1) + D.c[y]
    return D, real, fake, y, real_logits, fake_logits


@pytest.mark.points(2)
def test_conditional_d_loss_closed_form(ex):
    D, real, fake, y, real_logits, fake_logits = _bilinear_case()
    expected = _softplus64(-real_logits).mean() + _softplus64(fake_logits).mean()
    got = _scalar(_run(ex, "conditional_d_loss", D, real, y, fake))
    assert abs(got.item() - expected.item()) < 1e-10, f"got {got.item():.8f}, expected {expected.item():.8f}"


@pytest.mark.points(1)
def test_conditional_d_loss_gradient_reaches_d_through_both_terms(ex):
    D, real, fake, y, real_logits, fake_logits = _bilinear_case()
    fake = fake.clone().requires_grad_(True)  # as if it came from G
    _scalar(_run(ex, "conditional_d_loss", D, real, y, fake)).backward()
    assert fake.grad is None, "the fakes must be detached: a gradient reached them (and so G)"
    # dL/d real_logit_i = -sigmoid(-r_i) / B, dL/d fake_logit_i = sigmoid(f_i) / B; each logit is <u_y, x> + c_y
    d_real, d_fake = -torch.sigmoid(-real_logits) / 32, torch.sigmoid(fake_logits) / 32
    grad_u = torch.zeros(10, 16, dtype=F64).index_add_(0, y, d_real[:, None] * real.flatten(1)
                                                       + d_fake[:, None] * fake.detach().flatten(1))
    grad_c = torch.zeros(10, dtype=F64).index_add_(0, y, d_real + d_fake)
    assert D.u.grad is not None and D.c.grad is not None, "D received no gradient"
    assert torch.allclose(D.c.grad, grad_c, atol=1e-12), "D's gradient is wrong: both terms must reach D's weights"
    assert torch.allclose(D.u.grad, grad_u, atol=1e-12), "D's gradient is wrong: both terms must reach D's weights"


@pytest.mark.points(1)
def test_conditional_d_loss_is_stable_for_large_logits(ex):
    D = lambda x, y: torch.where(y == 0, torch.full((len(x),), 200.0), torch.full((len(x),), -200.0))
    x = torch.zeros(2, 1, 4, 4)
    confident = _run(ex, "conditional_d_loss", D, x, torch.tensor([0, 0]), x)  # real right, fake wrong by 200
    assert torch.isfinite(confident) and abs(confident.item() - 200.0) < 1e-3, f"got {confident.item()}"
    perfect = _run(ex, "conditional_d_loss", D, x, torch.tensor([1, 1]), x)  # logits -200 on both
    assert torch.isfinite(perfect) and abs(perfect.item() - 200.0) < 1e-3, f"got {perfect.item()}"


@pytest.mark.points(1)
def test_conditional_d_loss_uses_the_labels_on_both_terms(ex):
    calls = []

    def D(x, y):
        calls.append(y.clone())
        return torch.zeros(len(x))

    y = torch.tensor([3, 1, 4, 1, 5])
    _run(ex, "conditional_d_loss", D, torch.zeros(5, 1, 4, 4), y, torch.ones(5, 1, 4, 4))
    assert calls, "D was not called"
    seen = torch.cat(calls)  # one call per batch, or real and fake in one batch
    assert len(seen) == 10, f"D must score the 5 real and the 5 fake images once each, it saw {len(seen)} labels"
    assert torch.equal(seen, torch.cat([y, y])), "D must receive the real images' labels for real and fake alike"


@pytest.mark.points(2)
def test_conditional_d_loss_trains_d_only_on_a_ganlib_pair(ex):
    torch.manual_seed(0)
    G, D = build_conditional_gan("mnist32", discriminator="concat")
    D.eval()  # batch norm with running statistics: logits independent of how the batch is split
    y = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    real = _randn(8, 1, 32, 32, seed=5).clamp(-1, 1)
    fake = G(_randn(8, 64, seed=6), y)  # attached to G's graph
    got = _scalar(_run(ex, "conditional_d_loss", D, real, y, fake))
    with torch.no_grad():
        expected = F.softplus(-D(real, y)).mean() + F.softplus(D(fake, y)).mean()
    assert abs(got.item() - expected.item()) < 1e-5
    got.backward()
    assert all(p.grad is None for p in G.parameters()), "the fakes must be detached: G received a gradient"
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in D.parameters()), "D received no gradient"


@pytest.mark.points(1)
def test_conditional_d_loss_is_your_own(ex):
    DELEGATION.assert_no_bound_references(ex, "conditional_d_loss")
    D, real, fake, y, real_logits, fake_logits = _bilinear_case()
    got = _scalar(_run(ex, "conditional_d_loss", D, real[:8], y[:8], fake[:8]))
    expected = _softplus64(-real_logits[:8]).mean() + _softplus64(fake_logits[:8]).mean()
    assert abs(got.item() - expected.item()) < 1e-10, f"got {got.item():.8f}, expected {expected.item():.8f}"


# ---------------------------------------------------------------------------------------------
# Exercise 2: projection_logit
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.parametrize("batch", [7, 1])
def test_projection_logit_closed_form(ex, batch):
    B, F_, K = batch, 5, 4
    phi = _randn(B, F_, seed=7, dtype=F64)
    w, b = _randn(1, F_, seed=8, dtype=F64), _randn(1, seed=9, dtype=F64)
    V = _randn(K, F_, seed=10, dtype=F64)
    y = torch.tensor([0, 1, 2, 3, 3, 0, 2])[:B]
    expected = torch.tensor([sum(phi[i, f] * (w[0, f] + V[y[i], f]) for f in range(F_)) + b[0] for i in range(B)],
                            dtype=F64)
    got = _run(ex, "projection_logit", phi, w, b, V, y)
    assert isinstance(got, torch.Tensor) and tuple(got.shape) == (B,), (
        f"expected a tensor of shape ({B},), got {tuple(getattr(got, 'shape', ()))}")
    assert torch.allclose(got, expected, atol=1e-12)


@pytest.mark.points(2)
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_projection_logit_matches_ganlib(ex, spectral_norm):
    torch.manual_seed(11)
    _, D = build_conditional_gan("mnist32", discriminator="projection", spectral_norm=spectral_norm)
    D.eval()
    with torch.no_grad():
        for p in D.embed.parameters():
            p.normal_(0, 0.5)  # class directions large enough to matter
        x = _randn(10, 1, 32, 32, seed=12).clamp(-1, 1)
        y = torch.arange(10)
        phi = D.features(x)
        expected = D(x, y)
        got = _run(ex, "projection_logit", phi, D.psi.weight, D.psi.bias, D.embed.weight, y)
        assert torch.allclose(got, expected, atol=1e-5)


@pytest.mark.points(1)
def test_projection_logit_difference_between_labels_is_linear(ex):
    phi = _randn(3, 6, seed=13, dtype=F64)
    w, b = _randn(1, 6, seed=14, dtype=F64), torch.tensor([2.0], dtype=F64)
    V = _randn(10, 6, seed=15, dtype=F64)
    a = _run(ex, "projection_logit", phi, w, b, V, torch.tensor([2, 2, 2]))
    c = _run(ex, "projection_logit", phi, w, b, V, torch.tensor([7, 7, 7]))
    assert torch.allclose(a - c, phi @ (V[2] - V[7]), atol=1e-12)


@pytest.mark.points(1)
def test_projection_logit_is_your_own(ex):
    DELEGATION.assert_no_bound_references(ex, "projection_logit")
    phi, w, V = _randn(3, 6, seed=16, dtype=F64), _randn(1, 6, seed=17, dtype=F64), _randn(10, 6, seed=18, dtype=F64)
    b, y = torch.tensor([-0.5], dtype=F64), torch.tensor([1, 5, 9])
    got = _run(ex, "projection_logit", phi, w, b, V, y)
    expected = torch.stack([phi[i] @ (w[0] + V[y[i]]) for i in range(3)]) + b
    assert isinstance(got, torch.Tensor) and torch.allclose(got, expected, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Exercise 3: sobel_edges
# ---------------------------------------------------------------------------------------------


def _sobel_reference(images):
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=F64)
    ink = (images.double() + 1) / 2
    gx = F.conv2d(ink, kx[None, None], padding=1)
    gy = F.conv2d(ink, kx.T[None, None], padding=1)
    return torch.sqrt(gx ** 2 + gy ** 2)


@pytest.mark.points(2)
def test_sobel_edges_matches_reference_on_random_images(ex):
    images = torch.rand(5, 1, 13, 17, generator=torch.Generator().manual_seed(16)) * 2 - 1
    got = _run(ex, "sobel_edges", images)
    assert tuple(got.shape) == (5, 1, 13, 17), f"expected shape (5, 1, 13, 17), got {tuple(got.shape)}"
    assert torch.allclose(got.double(), _sobel_reference(images), atol=1e-5)


@pytest.mark.points(1)
def test_sobel_edges_of_steps_and_ramps(ex):
    step = -torch.ones(1, 1, 10, 10)
    step[:, :, 5:, :] = 1.0  # a horizontal edge between rows 4 and 5
    edges = _run(ex, "sobel_edges", step)[0, 0]
    assert torch.allclose(edges[4, 1:9], torch.full((8,), 4.0)) and torch.allclose(edges[5, 1:9], torch.full((8,), 4.0))
    assert torch.allclose(edges[1:4, 1:9], torch.zeros(3, 8)), "no edge away from the step"
    half = torch.zeros(1, 1, 10, 10)  # ink 1/2 everywhere
    half[:, :, :, 5:] = -1.0  # ink 0 on the right: a step of height 1/2, going down
    assert torch.allclose(_run(ex, "sobel_edges", half)[0, 0, 2:8, 4], torch.full((6,), 2.0)), (
        "a step of 1/2 has magnitude 2")
    ramp = (torch.arange(10.0) / 9 * 2 - 1)[:, None].expand(1, 1, 10, 10)  # ink rises by 1/9 per row
    assert torch.allclose(_run(ex, "sobel_edges", ramp)[0, 0, 1:9, 1:9], torch.full((8, 8), 8 / 9), atol=1e-5)


@pytest.mark.points(1)
def test_sobel_edges_zero_padding_on_the_ink(ex):
    blank = -torch.ones(2, 1, 6, 6)  # background only: no edges anywhere, borders included
    assert torch.allclose(_run(ex, "sobel_edges", blank), torch.zeros(2, 1, 6, 6)), "a blank image has no edges"
    full = torch.ones(1, 1, 6, 6)  # ink 1 everywhere: edges only along the border (zero padding)
    edges = _run(ex, "sobel_edges", full)[0, 0]
    assert torch.allclose(edges[1:5, 1:5], torch.zeros(4, 4))
    assert torch.allclose(edges[0, 0], torch.tensor(3 * math.sqrt(2))), "corner: gx = gy = 3"
    assert torch.allclose(edges[0, 2], torch.tensor(4.0)), "top border: gy = 1 + 2 + 1"


# ---------------------------------------------------------------------------------------------
# Exercise 4: pix2pix_generator_loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.parametrize("l1_weight", [100.0, 0.0, 2.5])
def test_pix2pix_generator_loss_closed_form(ex, l1_weight):
    logits = _randn(4, 1, 6, 5, seed=17, dtype=F64) * 3
    fake, target = _randn(4, 3, 16, 16, seed=18, dtype=F64), _randn(4, 3, 16, 16, seed=19, dtype=F64)
    expected = _softplus64(-logits).mean() + l1_weight * (target - fake).abs().mean()
    got = _scalar(_run(ex, "pix2pix_generator_loss", logits, fake, target, l1_weight))
    assert abs(got.item() - expected.item()) < 1e-9, f"got {got.item():.8f}, expected {expected.item():.8f}"


@pytest.mark.points(1)
def test_pix2pix_generator_loss_default_weight(ex):
    logits = _randn(2, 1, 6, 6, seed=20, dtype=F64)
    fake, target = _randn(2, 1, 32, 32, seed=21, dtype=F64), _randn(2, 1, 32, 32, seed=22, dtype=F64)
    expected = _softplus64(-logits).mean() + 100.0 * (fake - target).abs().mean()  # lambda = 100
    got = _scalar(_run(ex, "pix2pix_generator_loss", logits, fake, target))
    assert abs(got.item() - expected.item()) < 1e-9, (
        f"got {got.item():.8f}, expected {expected.item():.8f} (lambda = 100)")


@pytest.mark.points(1)
def test_pix2pix_generator_loss_gradients(ex):
    logits = torch.zeros(1, 1, 2, 2, requires_grad=True)
    fake = torch.zeros(1, 1, 2, 2, requires_grad=True)
    target = torch.tensor([[[[1.0, -1.0], [1.0, -1.0]]]])
    _scalar(_run(ex, "pix2pix_generator_loss", logits, fake, target, 8.0)).backward()
    # d/dt softplus(-t) / 4 = -sigmoid(-t) / 4 = -1/8 at t = 0;
    # d/dfake 8 * mean|target - fake| = -8 sign(target - fake) / 4
    assert logits.grad is not None and fake.grad is not None, "the loss must reach the logits and G's output"
    assert torch.allclose(logits.grad, torch.full((1, 1, 2, 2), -0.125))
    assert torch.allclose(fake.grad, torch.tensor([[[[-2.0, 2.0], [-2.0, 2.0]]]]))


@pytest.mark.points(1)
def test_pix2pix_generator_loss_is_stable(ex):
    logits = torch.tensor([-300.0, 300.0]).reshape(2, 1, 1, 1)
    x = torch.zeros(2, 1, 4, 4)
    got = _run(ex, "pix2pix_generator_loss", logits, x, x, 100.0)
    assert torch.isfinite(got) and abs(got.item() - 150.0) < 1e-3, f"got {got.item()}"


@pytest.mark.points(1)
def test_pix2pix_generator_loss_is_your_own(ex):
    DELEGATION.assert_no_bound_references(ex, "pix2pix_generator_loss")
    logits = _randn(2, 1, 3, 3, seed=23, dtype=F64)
    fake, target = _randn(2, 1, 8, 8, seed=24, dtype=F64), _randn(2, 1, 8, 8, seed=25, dtype=F64)
    got = _scalar(_run(ex, "pix2pix_generator_loss", logits, fake, target, 10.0))
    expected = _softplus64(-logits).mean() + 10.0 * (target - fake).abs().mean()
    assert abs(got.item() - expected.item()) < 1e-9, f"got {got.item():.8f}, expected {expected.item():.8f}"
