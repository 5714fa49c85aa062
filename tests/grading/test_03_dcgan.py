"""Grading tests of notebook 03 (DCGAN): convolution size arithmetic, the DCGAN init, latent
interpolation (lerp and slerp) and attribute vectors.

Reference values come from torch's own layers (output sizes), from the paper's distributions with
tolerances that PyTorch's default init fails, and from closed forms computed in float64.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganlib.models.dcgan import build_dcgan

NOTEBOOK = "03_dcgan"

CONVS = (nn.Conv2d, nn.ConvTranspose2d)


# ---------------------------------------------------------------------------------------------
# Exercise 1: conv_output_size, conv_transpose_output_size
# ---------------------------------------------------------------------------------------------


def _conv_cases():
    for size in (1, 2, 3, 4, 5, 7, 8, 13, 16, 28, 31, 32, 64):
        for kernel in (1, 2, 3, 4, 5, 7):
            for stride in (1, 2, 3, 4):
                for padding in (0, 1, 2, 3):
                    if kernel <= size + 2 * padding and padding <= kernel // 2:
                        yield size, kernel, stride, padding


@pytest.mark.points(2)
def test_conv_output_size_matches_torch(ex):
    wrong = []
    for size, kernel, stride, padding in _conv_cases():
        expected = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel),
                            stride=stride, padding=padding).shape[-1]
        got = ex.conv_output_size(size, kernel, stride, padding)
        if got != expected:
            wrong.append(((size, kernel, stride, padding), got, expected))
    assert not wrong, f"(size, kernel, stride, padding), got, expected: {wrong[:5]} ({len(wrong)} wrong)"


@pytest.mark.points(2)
def test_conv_transpose_output_size_matches_torch(ex):
    wrong = []
    for size, kernel, stride, padding in _conv_cases():
        for output_padding in range(stride):  # torch requires output_padding < stride
            try:
                expected = F.conv_transpose2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel),
                                              stride=stride, padding=padding, output_padding=output_padding).shape[-1]
            except RuntimeError:  # torch refuses an empty output: no case to compare
                continue
            got = ex.conv_transpose_output_size(size, kernel, stride, padding, output_padding)
            if got != expected:
                wrong.append(((size, kernel, stride, padding, output_padding), got, expected))
    assert not wrong, f"(size, kernel, stride, padding, output_padding), got, expected: {wrong[:5]} ({len(wrong)} wrong)"


@pytest.mark.points(1)
def test_size_functions_return_ints_and_have_defaults(ex):
    assert ex.conv_output_size(32, 3) == 30  # stride 1, padding 0 by default
    assert ex.conv_transpose_output_size(4, 3) == 6
    for value in (ex.conv_output_size(33, 4, 2, 1), ex.conv_transpose_output_size(16, 4, 2, 1)):
        assert type(value) is int, f"expected a Python int, got {type(value).__name__} {value!r}"
    assert ex.conv_output_size(33, 4, 2, 1) == 16  # the floor of 31/2 + 1


@pytest.mark.points(1)
def test_dcgan_size_chains(ex):
    size = ex.conv_transpose_output_size(1, 4, 1, 0)
    chain = [size]
    for _ in range(4):
        size = ex.conv_transpose_output_size(size, 4, 2, 1)
        chain.append(size)
    assert chain == [4, 8, 16, 32, 64]
    size, chain = 64, []
    for _ in range(4):
        size = ex.conv_output_size(size, 4, 2, 1)
        chain.append(size)
    assert chain + [ex.conv_output_size(4, 4, 1, 0)] == [32, 16, 8, 4, 1]


# ---------------------------------------------------------------------------------------------
# Exercise 2: init_dcgan_
# ---------------------------------------------------------------------------------------------


def _pytorch_defaults(module):
    for m in module.modules():
        if isinstance(m, (*CONVS, nn.BatchNorm2d)):
            m.reset_parameters()
    return module


def _fresh_celeba64():
    torch.manual_seed(0)
    return [_pytorch_defaults(net) for net in build_dcgan("celeba64")]


@pytest.mark.points(2)
def test_init_conv_weights_on_a_large_model(ex):
    """Every conv layer of the 64 px DCGAN (G and D, about 6 M weights): mean 0, std 0.02."""
    nets = _fresh_celeba64()
    for net in nets:
        ex.init_dcgan_(net)  # in place
    for net in nets:
        for name, m in net.named_modules():
            if isinstance(m, CONVS):
                w = m.weight.detach().double()
                tol = 4 * 0.02 / math.sqrt(2 * w.numel()) + 2e-4  # about 4 standard errors of the sample std
                assert abs(w.std().item() - 0.02) < max(tol, 1e-3), f"{name}: std {w.std().item():.4f}, expected 0.02"
                assert abs(w.mean().item()) < 4 * 0.02 / math.sqrt(w.numel()) + 1e-4, f"{name}: mean {w.mean().item():.5f}"


@pytest.mark.points(2)
def test_init_batchnorm_and_biases_on_a_large_model(ex):
    nets = _fresh_celeba64()
    for net in nets:
        ex.init_dcgan_(net)
    bns = [m for net in nets for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    gamma = torch.cat([m.weight.detach().flatten() for m in bns]).double()  # about 2000 scales
    assert abs(gamma.mean().item() - 1.0) < 3e-3, f"batch-norm scales: mean {gamma.mean().item():.4f}, expected 1"
    assert 0.017 < gamma.std().item() < 0.023, f"batch-norm scales: std {gamma.std().item():.4f}, expected 0.02"
    for net in nets:
        for name, m in net.named_modules():
            if isinstance(m, (*CONVS, nn.BatchNorm2d)) and m.bias is not None:
                assert bool((m.bias == 0).all()), f"{name}: bias not zero"


@pytest.mark.points(1)
def test_init_single_layers_and_nested_containers(ex):
    torch.manual_seed(1)
    conv = nn.Conv2d(64, 64, 3)  # with a bias
    ex.init_dcgan_(conv)  # the module itself is a layer
    assert abs(conv.weight.std().item() - 0.02) < 1e-3 and bool((conv.bias == 0).all())
    inner_t = nn.ConvTranspose2d(128, 64, 4, bias=False)
    inner_bn = nn.BatchNorm2d(512)
    net = nn.Sequential(nn.Sequential(inner_t, nn.ReLU()), nn.ModuleList([inner_bn]))
    ex.init_dcgan_(net)
    assert abs(inner_t.weight.std().item() - 0.02) < 1e-3, "a ConvTranspose2d nested two levels deep was missed"
    assert abs(inner_bn.weight.mean().item() - 1.0) < 5e-3 and 0.015 < inner_bn.weight.std().item() < 0.025
    assert bool((inner_bn.bias == 0).all())


@pytest.mark.points(1)
def test_init_leaves_other_layers_alone_and_keeps_parameters_trainable(ex):
    torch.manual_seed(2)
    linear = nn.Linear(50, 50)
    before = [p.detach().clone() for p in linear.parameters()]
    net = nn.Sequential(nn.Conv2d(3, 8, 3), linear, nn.BatchNorm2d(8))
    ex.init_dcgan_(net)
    assert all(torch.equal(a, b) for a, b in zip(before, linear.parameters())), "nn.Linear must stay untouched"
    for p in net.parameters():
        assert p.requires_grad and p.is_leaf and p.grad_fn is None, "parameters must stay trainable leaves"
    net[0](torch.zeros(1, 3, 5, 5)).sum().backward()  # and autograd still works through them


# ---------------------------------------------------------------------------------------------
# Exercise 3: interpolate_latents
# ---------------------------------------------------------------------------------------------


def _slerp64(z0, z1, n):
    z0, z1 = z0.double(), z1.double()
    t = torch.linspace(0, 1, n, dtype=torch.float64)[:, None]
    omega = torch.acos(((z0 @ z1) / (z0.norm() * z1.norm())).clamp(-1, 1))
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def _randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.mark.points(1)
@pytest.mark.parametrize("mode", ["slerp", "lerp"])
def test_interpolate_shapes_dtypes_and_exact_endpoints(ex, mode):
    for n, dim in [(2, 2), (5, 100), (33, 512)]:
        for dtype in (torch.float32, torch.float64):
            z0, z1 = _randn(2, dim, seed=n, dtype=dtype)
            path = ex.interpolate_latents(z0, z1, n, mode=mode)
            assert tuple(path.shape) == (n, dim), f"expected shape {(n, dim)}, got {tuple(path.shape)}"
            assert path.dtype == dtype, f"expected dtype {dtype}, got {path.dtype}"
            assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)


@pytest.mark.points(1)
def test_lerp_is_the_straight_line(ex):
    z0, z1 = _randn(2, 64, seed=3)
    path = ex.interpolate_latents(z0, z1, 9, mode="lerp")
    t = torch.linspace(0, 1, 9)[:, None]
    assert torch.allclose(path, (1 - t) * z0 + t * z1, atol=1e-6)


@pytest.mark.points(2)
def test_slerp_matches_the_closed_form_for_vectors_of_any_norm(ex):
    z0, z1 = _randn(2, 100, seed=4)
    z1 = 3.0 * z1  # different norms: the formula still applies as written
    path = ex.interpolate_latents(z0, z1, 12, mode="slerp")
    assert torch.allclose(path.double(), _slerp64(z0, z1, 12), atol=1e-5)
    path_default = ex.interpolate_latents(z0, z1, 12)  # slerp is the default
    assert torch.allclose(path_default.double(), _slerp64(z0, z1, 12), atol=1e-5)


@pytest.mark.points(2)
def test_slerp_keeps_unit_norm_and_constant_angular_speed(ex):
    z0, z1 = _randn(2, 100, seed=5, dtype=torch.float64)
    z0, z1 = z0 / z0.norm(), z1 / z1.norm()
    n = 17
    path = ex.interpolate_latents(z0, z1, n, mode="slerp")
    assert torch.allclose(path.norm(dim=1), torch.ones(n, dtype=torch.float64), atol=1e-9), "slerp must stay on the unit sphere"
    omega = torch.acos(z0 @ z1)
    steps = torch.acos((path[:-1] * path[1:]).sum(dim=1).clamp(-1, 1))  # angle between neighbours
    assert torch.allclose(steps, torch.full_like(steps, omega.item() / (n - 1)), atol=1e-6), "angular speed must be constant"
    from_start = torch.acos((path @ z0).clamp(-1, 1))
    assert torch.allclose(from_start, torch.linspace(0, 1, n, dtype=torch.float64) * omega, atol=1e-6)


@pytest.mark.points(1)
def test_slerp_of_orthogonal_vectors_keeps_the_norm(ex):
    z0 = torch.zeros(100)
    z1 = torch.zeros(100)
    z0[0], z1[1] = 10.0, 10.0
    mid = ex.interpolate_latents(z0, z1, 3, mode="slerp")[1]
    assert abs(mid.norm().item() - 10.0) < 1e-4, f"slerp midpoint norm {mid.norm().item():.4f}, expected 10"
    assert abs(ex.interpolate_latents(z0, z1, 3, mode="lerp")[1].norm().item() - 10 / math.sqrt(2)) < 1e-4


@pytest.mark.points(2)
def test_slerp_degenerate_parallel_vectors_fall_back_to_lerp(ex):
    z0 = _randn(100, seed=6)
    t = torch.linspace(0, 1, 6)[:, None]
    for z1 in (z0.clone(), 2.5 * z0, -z0, z0 * (1 + 1e-7)):
        path = ex.interpolate_latents(z0, z1, 6, mode="slerp")
        assert bool(torch.isfinite(path).all()), "parallel or antiparallel vectors must not give NaN or inf"
        assert torch.allclose(path, (1 - t) * z0 + t * z1, atol=1e-4), "expected the lerp fallback"


# ---------------------------------------------------------------------------------------------
# Exercise 4: attribute_vector
# ---------------------------------------------------------------------------------------------


def _attribute64(z, scores, fraction):
    m = max(1, int(fraction * len(scores)))
    order = torch.argsort(scores.double())
    return z.double()[order[-m:]].mean(0) - z.double()[order[:m]].mean(0)


@pytest.mark.points(1)
@pytest.mark.parametrize("n, fraction", [(1000, 0.1), (25, 0.1), (37, 0.3), (10, 0.5), (8, 0.05)])
def test_attribute_vector_matches_reference(ex, n, fraction):
    z = _randn(n, 16, seed=n)
    scores = _randn(n, seed=n + 1)  # distinct values: no ties
    got = ex.attribute_vector(z, scores, fraction)
    assert tuple(got.shape) == (16,), f"expected shape (16,), got {tuple(got.shape)}"
    assert torch.allclose(got.double(), _attribute64(z, scores, fraction), atol=1e-5)


@pytest.mark.points(1)
def test_attribute_vector_default_fraction_and_planted_direction(ex):
    z = _randn(4000, 100, seed=7)
    u = torch.zeros(100)
    u[3] = 1.0
    scores = z @ u + 0.1 * _randn(4000, seed=8)  # the attribute lives along coordinate 3
    v = ex.attribute_vector(z, scores)  # fraction 0.1 by default
    assert torch.allclose(v.double(), _attribute64(z, scores, 0.1), atol=1e-5)
    assert F.cosine_similarity(v, u, dim=0) > 0.9, "the attribute vector should point along the planted direction"
