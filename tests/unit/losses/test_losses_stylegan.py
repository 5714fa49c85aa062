"""Tests of StyleGAN2's regularisers (R1, path length) and BigGAN's orthogonal regularisation, against
closed forms in float64."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganlib import losses
from ganlib.models.progan import EqualizedLinear

pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py

f64 = torch.float64


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- R1


class _LinearD(nn.Module):
    """D(x) = <a, x> + b: grad_x D = a everywhere, so R1 = ||a||^2 for every sample."""

    def __init__(self, shape):
        super().__init__()
        self.a = nn.Parameter(torch.randn(shape, generator=_g(1), dtype=f64))
        self.b = nn.Parameter(torch.tensor(0.3, dtype=f64))

    def forward(self, x):
        return (x * self.a).flatten(1).sum(1) + self.b  # (B,)


class _QuadraticD(nn.Module):
    """D(x) = x^T M x over the flattened image: grad_x D = (M + M^T) x."""

    def __init__(self, n):
        super().__init__()
        self.M = nn.Parameter(torch.randn(n, n, generator=_g(2), dtype=f64))

    def forward(self, x):
        v = x.flatten(1)  # (B, n)
        return ((v @ self.M) * v).sum(1)  # (B,)


def test_r1_of_a_linear_discriminator_is_the_squared_norm_of_its_weights():
    D = _LinearD((1, 3, 3))
    real = torch.randn(5, 1, 3, 3, generator=_g(), dtype=f64)
    r1 = losses.r1_penalty(D, real)
    assert r1.shape == (5,) and r1.dtype == f64
    assert torch.allclose(r1, D.a.detach().square().sum().expand(5), atol=1e-12)
    # create_graph: the penalty trains D; d/da mean ||a||^2 = 2a
    r1.mean().backward()
    assert torch.allclose(D.a.grad, 2 * D.a.detach(), atol=1e-12)


def test_r1_of_a_quadratic_discriminator_is_per_sample():
    D = _QuadraticD(6)
    real = torch.randn(4, 1, 2, 3, generator=_g(), dtype=f64)
    v = real.flatten(1)
    M = D.M.detach()
    expected = (v @ (M + M.t()).t()).square().sum(1)  # ||(M + M^T) x||^2
    assert torch.allclose(losses.r1_penalty(D, real), expected, atol=1e-10)


def test_r1_detaches_the_real_batch_and_computes_in_fp32_at_least():
    D = _LinearD((1, 2, 2)).float()
    real = torch.randn(3, 1, 2, 2).half().requires_grad_()
    r1 = losses.r1_penalty(D, real)
    assert r1.dtype == torch.float32
    r1.sum().backward()
    assert real.grad is None  # no gradient into the data (nor into a generator that made it)


# --------------------------------------------------------------------------- path length


def _linear_synthesis(A: torch.Tensor, image_shape):
    """g(ws) = A vec(ws): a 'generator' linear in w, images of ``image_shape`` (C, H, W)."""
    return lambda ws: (ws.flatten(1) @ A.t()).reshape(ws.shape[0], *image_shape)


def test_path_lengths_of_a_linear_generator_equal_the_closed_form():
    B, L, w_dim, shape = 3, 2, 4, (1, 3, 2)
    n_pix = math.prod(shape)
    A = torch.randn(n_pix, L * w_dim, generator=_g(1), dtype=f64)
    ws = torch.randn(B, L, w_dim, generator=_g(2), dtype=f64, requires_grad=True)
    y = torch.randn(B, *shape, generator=_g(3), dtype=f64)
    penalty, lengths = losses.path_length_penalty(_linear_synthesis(A, shape), ws, 0.7, noise=y)
    # J_w = A for every w, so J_w^T (y / sqrt(HW)) = A^T y / sqrt(HW), one (L, w_dim) block per sample
    jty = (y.flatten(1) @ A / math.sqrt(3 * 2)).reshape(B, L, w_dim)
    expected = jty.square().sum(2).mean(1).sqrt()  # sum over w_dim, mean over layers (the paper's code)
    assert torch.allclose(lengths, expected, atol=1e-12)
    assert torch.allclose(penalty, (expected - 0.7) ** 2, atol=1e-12)


def test_path_length_penalty_trains_the_generator_through_a_double_backward():
    shape = (1, 2, 2)
    A = torch.randn(4, 6, generator=_g(1), dtype=f64, requires_grad=True)
    ws = torch.randn(2, 2, 3, generator=_g(2), dtype=f64)  # no grad: made a leaf inside
    y = torch.randn(2, *shape, generator=_g(3), dtype=f64)
    penalty, lengths = losses.path_length_penalty(_linear_synthesis(A, shape), ws, 0.0, noise=y)
    penalty.sum().backward()
    # with a = 0 the penalty is ||A^T y'||^2 / L summed over samples: gradient 2/L sum_b y'_b (A^T y'_b)^T
    yp = y.flatten(1) / 2.0  # y / sqrt(HW), HW = 4
    expected = 2 / 2 * yp.t() @ (yp @ A.detach())
    assert torch.allclose(A.grad, expected, atol=1e-12)


def test_path_length_noise_is_drawn_from_the_generator_and_scaled():
    shape = (1, 4, 4)
    A = torch.randn(16, 8, generator=_g(1), dtype=f64)
    ws = torch.randn(6, 2, 4, generator=_g(2), dtype=f64)
    _, a = losses.path_length_penalty(_linear_synthesis(A, shape), ws, 0.0, generator=_g(9))
    _, b = losses.path_length_penalty(_linear_synthesis(A, shape), ws, 0.0, generator=_g(9))
    y = torch.randn(6, *shape, generator=_g(9), dtype=f64)
    _, c = losses.path_length_penalty(_linear_synthesis(A, shape), ws, 0.0, noise=y)
    assert torch.equal(a, b) and torch.allclose(a, c, atol=1e-12)


def test_update_path_length_mean_is_pure_and_moves_a_fraction_of_the_gap():
    a = torch.tensor(2.0)
    lengths = torch.tensor([1.0, 3.0, 5.0])  # mean 3
    new = losses.update_path_length_mean(a, lengths, decay=0.01)
    assert new.item() == pytest.approx(2.0 + 0.01 * (3.0 - 2.0)) and a.item() == 2.0
    assert losses.update_path_length_mean(0.0, lengths, 1.0).item() == pytest.approx(3.0)
    assert not losses.update_path_length_mean(a, lengths.requires_grad_()).requires_grad


# --------------------------------------------------------------------------- orthogonal regularisation


def test_an_orthogonal_weight_costs_nothing_in_either_form():
    Q, _ = torch.linalg.qr(torch.randn(5, 5, generator=_g(), dtype=f64))
    rows = Q[:3]  # orthonormal rows, (3, 5): W W^T = I
    for W in (Q, rows):
        assert losses.orthogonal_regularization(W, 1.0).item() == pytest.approx(0, abs=1e-12)
        assert losses.orthogonal_regularization(W, 1.0, off_diagonal=False).item() == pytest.approx(0, abs=1e-12)
    # orthogonal but not normalised filters: only the full form objects
    W = 3 * rows
    assert losses.orthogonal_regularization(W, 1.0).item() == pytest.approx(0, abs=1e-10)
    assert losses.orthogonal_regularization(W, 1.0, off_diagonal=False).item() == pytest.approx(3 * (9 - 1) ** 2)


def test_a_known_two_by_two_example_pins_down_the_product_w_w_transposed():
    W = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=f64)
    # W W^T = [[5, 11], [11, 25]]; W^T W = [[10, 14], [14, 20]] would give 392 and 1010 instead
    assert losses.orthogonal_regularization(W, 1e-4).item() == pytest.approx(1e-4 * 2 * 11 ** 2)
    assert losses.orthogonal_regularization(W, 1e-4, off_diagonal=False).item() == pytest.approx(
        1e-4 * (4 ** 2 + 2 * 11 ** 2 + 24 ** 2))


def test_a_convolution_kernel_is_flattened_to_one_row_per_output_filter():
    kernel = torch.randn(4, 2, 3, 3, generator=_g(), dtype=f64)
    for off in (True, False):
        assert torch.allclose(losses.orthogonal_regularization(kernel, 0.5, off_diagonal=off),
                              losses.orthogonal_regularization(kernel.reshape(4, 18), 0.5, off_diagonal=off))


@pytest.mark.parametrize("off_diagonal", [True, False])
def test_orthogonal_regularization_gradients_pass_gradcheck(off_diagonal):
    W = torch.randn(3, 2, 2, 2, generator=_g(), dtype=f64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w: losses.orthogonal_regularization(w, 0.3, off_diagonal=off_diagonal), (W,))


def test_the_gradient_is_twice_the_step_of_biggans_code():
    W = torch.randn(4, 6, generator=_g(), dtype=f64, requires_grad=True)
    beta = 1e-2
    losses.orthogonal_regularization(W, beta).backward()
    Wd = W.detach()
    code_step = 2 * ((Wd @ Wd.t()) * (1 - torch.eye(4, dtype=f64))) @ Wd  # BigGAN's utils.ortho, times beta
    assert torch.allclose(W.grad, 2 * beta * code_step, atol=1e-12)


def test_orthogonal_regularization_of_a_module_sums_its_weights_but_not_biases_norms_or_embeddings():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.Conv2d(2, 5, 3), EqualizedLinear(4, 2), nn.BatchNorm2d(5),
                        nn.Embedding(10, 4)).double()
    expected = sum(losses.orthogonal_regularization(w, 0.1, off_diagonal=False)
                   for w in (net[0].weight, net[1].weight, net[2].weight))
    total = losses.orthogonal_regularization_of(net, 0.1, off_diagonal=False)
    assert torch.allclose(total, expected)
    total.backward()
    assert net[4].weight.grad is None and net[3].weight.grad is None and net[0].bias.grad is None
    assert losses.orthogonal_regularization_of(nn.ReLU(), 0.1).item() == 0
