"""Grading tests of notebook 05 (conditional GANs and pix2pix): the conditional discriminator loss,
the projection discriminator's logit, Sobel edge maps and the pix2pix generator loss.

Reference values come from closed forms computed in float64, from ganlib's own losses and
discriminators, and from torch's conv2d with the Sobel kernels.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganlib import losses
from ganlib.models.conditional import build_conditional_gan

NOTEBOOK = "05_conditional_gan"


def _randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _softplus64(t):
    return torch.log1p(torch.exp(-t.abs())) + t.clamp(min=0)  # log(1 + e^t), stable, float64


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


@pytest.mark.points(2)
def test_conditional_d_loss_closed_form(ex):
    D = _BilinearD().double()
    real, fake = _randn(32, 1, 4, 4, seed=2, dtype=torch.float64), _randn(32, 1, 4, 4, seed=3, dtype=torch.float64)
    y = torch.randint(10, (32,), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        real_logits = (real.flatten(1) * D.u[y]).sum(1) + D.c[y]
        fake_logits = (fake.flatten(1) * D.u[y]).sum(1) + D.c[y]
        expected = _softplus64(-real_logits).mean() + _softplus64(fake_logits).mean()
    got = ex.conditional_d_loss(D, real, y, fake)
    assert got.ndim == 0, f"expected a scalar, got shape {tuple(got.shape)}"
    assert abs(got.item() - expected.item()) < 1e-10, f"got {got.item():.8f}, expected {expected.item():.8f}"


@pytest.mark.points(1)
def test_conditional_d_loss_is_stable_for_large_logits(ex):
    D = lambda x, y: torch.where(y == 0, torch.full((len(x),), 200.0), torch.full((len(x),), -200.0))
    x = torch.zeros(2, 1, 4, 4)
    confident = ex.conditional_d_loss(D, x, torch.tensor([0, 0]), x)  # real right, fake wrong by 200
    assert torch.isfinite(confident) and abs(confident.item() - 200.0) < 1e-3, f"got {confident.item()}"
    perfect = ex.conditional_d_loss(D, x, torch.tensor([1, 1]), x)  # logits -200 on both
    assert torch.isfinite(perfect) and abs(perfect.item() - 200.0) < 1e-3, f"got {perfect.item()}"


@pytest.mark.points(1)
def test_conditional_d_loss_uses_the_labels_on_both_terms(ex):
    calls = []

    def D(x, y):
        calls.append(y.clone())
        return torch.zeros(len(x))

    y = torch.tensor([3, 1, 4, 1, 5])
    ex.conditional_d_loss(D, torch.zeros(5, 1, 4, 4), y, torch.ones(5, 1, 4, 4))
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
    got = ex.conditional_d_loss(D, real, y, fake)
    with torch.no_grad():
        expected = losses.discriminator_loss(D(real, y), D(fake, y))
    assert abs(got.item() - expected.item()) < 1e-5
    got.backward()
    assert all(p.grad is None for p in G.parameters()), "the fakes must be detached: G received a gradient"
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in D.parameters()), "D received no gradient"


# ---------------------------------------------------------------------------------------------
# Exercise 2: projection_logit
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(2)
def test_projection_logit_closed_form(ex):
    B, F_, K = 7, 5, 4
    phi = _randn(B, F_, seed=7, dtype=torch.float64)
    w, b = _randn(1, F_, seed=8, dtype=torch.float64), _randn(1, seed=9, dtype=torch.float64)
    V = _randn(K, F_, seed=10, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3, 3, 0, 2])
    expected = torch.tensor([phi[i] @ w[0] + b[0] + phi[i] @ V[y[i]] for i in range(B)], dtype=torch.float64)
    got = ex.projection_logit(phi, w, b, V, y)
    assert tuple(got.shape) == (B,), f"expected shape ({B},), got {tuple(got.shape)}"
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
        got = ex.projection_logit(phi, D.psi.weight, D.psi.bias, D.embed.weight, y)
        assert torch.allclose(got, D(x, y), atol=1e-5)


@pytest.mark.points(1)
def test_projection_logit_difference_between_labels_is_linear(ex):
    phi = _randn(3, 6, seed=13, dtype=torch.float64)
    w, b = _randn(1, 6, seed=14, dtype=torch.float64), torch.tensor([2.0], dtype=torch.float64)
    V = _randn(10, 6, seed=15, dtype=torch.float64)
    a = ex.projection_logit(phi, w, b, V, torch.tensor([2, 2, 2]))
    c = ex.projection_logit(phi, w, b, V, torch.tensor([7, 7, 7]))
    assert torch.allclose(a - c, phi @ (V[2] - V[7]), atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Exercise 3: sobel_edges
# ---------------------------------------------------------------------------------------------


def _sobel_reference(images):
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=torch.float64)
    ink = (images.double() + 1) / 2
    gx = F.conv2d(ink, kx[None, None], padding=1)
    gy = F.conv2d(ink, kx.T[None, None], padding=1)
    return torch.sqrt(gx ** 2 + gy ** 2)


@pytest.mark.points(2)
def test_sobel_edges_matches_reference_on_random_images(ex):
    images = torch.rand(5, 1, 13, 17, generator=torch.Generator().manual_seed(16)) * 2 - 1
    got = ex.sobel_edges(images)
    assert tuple(got.shape) == (5, 1, 13, 17), f"expected shape (5, 1, 13, 17), got {tuple(got.shape)}"
    assert torch.allclose(got.double(), _sobel_reference(images), atol=1e-5)


@pytest.mark.points(1)
def test_sobel_edges_of_steps_and_ramps(ex):
    step = -torch.ones(1, 1, 10, 10)
    step[:, :, 5:, :] = 1.0  # a horizontal edge between rows 4 and 5
    edges = ex.sobel_edges(step)[0, 0]
    assert torch.allclose(edges[4, 1:9], torch.full((8,), 4.0)) and torch.allclose(edges[5, 1:9], torch.full((8,), 4.0))
    assert torch.allclose(edges[1:4, 1:9], torch.zeros(3, 8)), "no edge away from the step"
    half = torch.zeros(1, 1, 10, 10)  # ink 1/2 everywhere
    half[:, :, :, 5:] = -1.0  # ink 0 on the right: a step of height 1/2, going down
    assert torch.allclose(ex.sobel_edges(half)[0, 0, 2:8, 4], torch.full((6,), 2.0)), "a step of 1/2 has magnitude 2"
    ramp = (torch.arange(10.0) / 9 * 2 - 1)[:, None].expand(1, 1, 10, 10)  # ink rises by 1/9 per row
    assert torch.allclose(ex.sobel_edges(ramp)[0, 0, 1:9, 1:9], torch.full((8, 8), 8 / 9), atol=1e-5)


@pytest.mark.points(1)
def test_sobel_edges_zero_padding_on_the_ink(ex):
    blank = -torch.ones(2, 1, 6, 6)  # background only: no edges anywhere, borders included
    assert torch.allclose(ex.sobel_edges(blank), torch.zeros(2, 1, 6, 6)), "a blank image has no edges"
    full = torch.ones(1, 1, 6, 6)  # ink 1 everywhere: edges only along the border (zero padding)
    edges = ex.sobel_edges(full)[0, 0]
    assert torch.allclose(edges[1:5, 1:5], torch.zeros(4, 4))
    assert torch.allclose(edges[0, 0], torch.tensor(3 * math.sqrt(2))), "corner: gx = gy = 3"
    assert torch.allclose(edges[0, 2], torch.tensor(4.0)), "top border: gy = 1 + 2 + 1"


# ---------------------------------------------------------------------------------------------
# Exercise 4: pix2pix_generator_loss
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.parametrize("l1_weight", [100.0, 0.0, 2.5])
def test_pix2pix_generator_loss_closed_form(ex, l1_weight):
    logits = _randn(4, 1, 6, 6, seed=17, dtype=torch.float64) * 3
    fake, target = _randn(4, 3, 16, 16, seed=18, dtype=torch.float64), _randn(4, 3, 16, 16, seed=19, dtype=torch.float64)
    expected = _softplus64(-logits).mean() + l1_weight * (target - fake).abs().mean()
    got = ex.pix2pix_generator_loss(logits, fake, target, l1_weight)
    assert got.ndim == 0, f"expected a scalar, got shape {tuple(got.shape)}"
    assert abs(got.item() - expected.item()) < 1e-9, f"got {got.item():.8f}, expected {expected.item():.8f}"


@pytest.mark.points(1)
def test_pix2pix_generator_loss_default_weight_and_ganlib(ex):
    logits = _randn(2, 1, 6, 6, seed=20)
    fake, target = _randn(2, 1, 32, 32, seed=21), _randn(2, 1, 32, 32, seed=22)
    expected = losses.generator_loss_nonsaturating(logits) + 100.0 * F.l1_loss(fake, target)
    assert abs(ex.pix2pix_generator_loss(logits, fake, target).item() - expected.item()) < 1e-4  # lambda = 100


@pytest.mark.points(1)
def test_pix2pix_generator_loss_gradients(ex):
    logits = torch.zeros(1, 1, 2, 2, requires_grad=True)
    fake = torch.zeros(1, 1, 2, 2, requires_grad=True)
    target = torch.tensor([[[[1.0, -1.0], [1.0, -1.0]]]])
    ex.pix2pix_generator_loss(logits, fake, target, 8.0).backward()
    # d/dt softplus(-t) / 4 = -sigmoid(-t) / 4 = -1/8 at t = 0; d/dfake 8 * mean|target - fake| = -8 sign(target - fake) / 4
    assert torch.allclose(logits.grad, torch.full((1, 1, 2, 2), -0.125))
    assert torch.allclose(fake.grad, torch.tensor([[[[-2.0, 2.0], [-2.0, 2.0]]]]))


@pytest.mark.points(1)
def test_pix2pix_generator_loss_is_stable(ex):
    logits = torch.tensor([-300.0, 300.0]).reshape(2, 1, 1, 1)
    x = torch.zeros(2, 1, 4, 4)
    got = ex.pix2pix_generator_loss(logits, x, x, 100.0)
    assert torch.isfinite(got) and abs(got.item() - 150.0) < 1e-3, f"got {got.item()}"
