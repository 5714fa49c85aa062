"""Grading tests of notebook 03 (DCGAN): convolution size arithmetic, the DCGAN init, latent
interpolation (lerp and slerp) and attribute vectors.

Reference values come from torch's own layers (output sizes), from the paper's distributions with
tolerances that PyTorch's default init fails (a normal, not a uniform, of standard deviation 0.02), and
from closed forms computed in float64 (slerp written out, the attribute vector with an explicit sort).

Delegation. Every call of a submitted function goes through :func:`_run`, which disables ganlib's
references of this notebook for the duration of the call (``ganlib.models.dcgan.init_dcgan_weights_``
and ``ganlib.metrics.slerp``): each reference function's code is swapped for a stub that records the
call and raises, so a call is caught however the submission reached the function (``from
ganlib.models.dcgan import init_dcgan_weights_ as f``, ``ganlib.metrics.slerp``, ganlib's
``init_conditional_weights_``, which calls the DCGAN init, an import inside the function), even when it
swallows the error. An exercise answered by calling ganlib's reference so earns nothing (DESIGN:
Notebooks). Exercises 3 and 4 also have a test of their own, ``test_<exercise>_is_your_own``, that adds
a static check (a forbidden object bound to a global name the function uses) and names the problem in
its failure message. The size formulas and the attribute vector have no counterpart in ganlib; PyTorch
itself is allowed everywhere (``nn.init.normal_``, ``torch.topk``).
"""

import copy
import functools
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganlib import metrics
from ganlib.models import dcgan
from ganlib.models.dcgan import build_dcgan

from _delegation import Delegation

NOTEBOOK = "03_dcgan"
F64 = torch.float64
CONVS = (nn.Conv2d, nn.ConvTranspose2d)

# ganlib's references of this notebook -> the exercise function that must not call them
FORBIDDEN = {
    "ganlib.models.dcgan.init_dcgan_weights_": ("init_dcgan_", dcgan.init_dcgan_weights_),
    "ganlib.metrics.slerp": ("interpolate_latents", metrics.slerp),
}
EXERCISE_NUMBER = {"conv_output_size": "3.1", "conv_transpose_output_size": "3.2", "init_dcgan_": "3.3",
                   "interpolate_latents": "3.4", "attribute_vector": "3.5"}
DELEGATION = Delegation(FORBIDDEN, EXERCISE_NUMBER)
NO_REFERENCE = {  # exercise -> why ganlib has no answer to forbid
    "conv_output_size": "ganlib has no general size formula (patchgan.patch_map_size follows one fixed stack)",
    "conv_transpose_output_size": "ganlib has no size formula for transposed convolutions",
    "attribute_vector": "ganlib has no latent-arithmetic helper",
}
_run, _assert_own_work = DELEGATION.run, DELEGATION.assert_own_work


def _randn(*shape, seed=0, dtype=torch.float32):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# ---------------------------------------------------------------------------------------------
# Exercises 1 and 2: conv_output_size, conv_transpose_output_size
# ---------------------------------------------------------------------------------------------


def _conv_cases():
    for size in (1, 2, 3, 4, 5, 7, 8, 13, 16, 28, 31, 32, 64):
        for kernel in (1, 2, 3, 4, 5, 7):
            for stride in (1, 2, 3, 4):
                for padding in (0, 1, 2, 3):
                    if kernel <= size + 2 * padding and padding <= kernel // 2:
                        yield size, kernel, stride, padding


@functools.lru_cache(maxsize=None)
def _torch_conv_sizes():
    """{(size, kernel, stride, padding): output size} from F.conv2d itself (computed once)."""
    return {(i, k, s, p): F.conv2d(torch.zeros(1, 1, i, i), torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1]
            for i, k, s, p in _conv_cases()}


@functools.lru_cache(maxsize=None)
def _torch_conv_transpose_sizes():
    """{(size, kernel, stride, padding, output_padding): output size} from F.conv_transpose2d (computed once)."""
    sizes = {}
    for i, k, s, p in _conv_cases():
        for op in range(s):  # torch requires output_padding < stride
            try:
                out = F.conv_transpose2d(torch.zeros(1, 1, i, i), torch.zeros(1, 1, k, k), stride=s, padding=p,
                                         output_padding=op)
            except RuntimeError:  # torch refuses an empty output: no case to compare
                continue
            sizes[i, k, s, p, op] = out.shape[-1]
    return sizes


def _wrong_sizes(ex, name, expected_sizes):
    """(case, got, expected) for every case where the submission's ``name`` disagrees with torch; one
    delegation context for all the cases (as :func:`_run` does for one call)."""
    fn = getattr(ex, name)
    with DELEGATION.forbidding(name) as calls:
        wrong = [(case, got, expected) for case, expected in expected_sizes.items() if (got := fn(*case)) != expected]
    assert not calls, DELEGATION.message(name, calls[0], DELEGATION.owners[calls[0]])
    return wrong


def _int(value, what):
    assert type(value) is int, f"{what}: expected a Python int, got {type(value).__name__} {value!r}"
    return value


@pytest.mark.points(2)
def test_conv_output_size_matches_torch(ex):
    wrong = _wrong_sizes(ex, "conv_output_size", _torch_conv_sizes())
    assert not wrong, f"(size, kernel, stride, padding), got, expected: {wrong[:5]} ({len(wrong)} wrong)"


@pytest.mark.points(1)
def test_conv_output_size_returns_an_int_and_has_defaults(ex):
    assert _int(_run(ex, "conv_output_size", 32, 3), "conv_output_size(32, 3)") == 30  # stride 1, padding 0
    assert _int(_run(ex, "conv_output_size", 33, 4, 2, 1), "conv_output_size(33, 4, 2, 1)") == 16  # floor(31/2) + 1
    assert _int(_run(ex, "conv_output_size", 9, 3, stride=3), "conv_output_size(9, 3, stride=3)") == 3
    assert _int(_run(ex, "conv_output_size", 5, 3, padding=1), "conv_output_size(5, 3, padding=1)") == 5


@pytest.mark.points(1)
def test_conv_output_size_dcgan_chain(ex):
    """D at 64 px: stride-2 convolutions (k=4, p=1) halve 64 -> 32 -> 16 -> 8 -> 4, a 4x4 one gives 1."""
    size, chain = 64, []
    for _ in range(4):
        size = _run(ex, "conv_output_size", size, 4, 2, 1)
        chain.append(size)
    assert chain + [_run(ex, "conv_output_size", 4, 4, 1, 0)] == [32, 16, 8, 4, 1]


@pytest.mark.points(2)
def test_conv_transpose_output_size_matches_torch(ex):
    wrong = _wrong_sizes(ex, "conv_transpose_output_size", _torch_conv_transpose_sizes())
    assert not wrong, (f"(size, kernel, stride, padding, output_padding), got, expected: {wrong[:5]} "
                       f"({len(wrong)} wrong)")


@pytest.mark.points(1)
def test_conv_transpose_output_size_returns_an_int_and_has_defaults(ex):
    assert _int(_run(ex, "conv_transpose_output_size", 4, 3), "conv_transpose_output_size(4, 3)") == 6
    assert _int(_run(ex, "conv_transpose_output_size", 16, 4, 2, 1), "conv_transpose_output_size(16, 4, 2, 1)") == 32
    assert _run(ex, "conv_transpose_output_size", 5, 3, stride=2) == 11  # padding 0, output_padding 0
    assert _run(ex, "conv_transpose_output_size", 5, 3, padding=1) == 5
    assert _run(ex, "conv_transpose_output_size", 7, 3, stride=2, padding=1, output_padding=1) == 14


@pytest.mark.points(1)
def test_conv_transpose_output_size_dcgan_chain(ex):
    """G at 64 px: a 4x4 transposed convolution takes z (1x1) to 4, then k=4, s=2, p=1 doubles up to 64."""
    size = _run(ex, "conv_transpose_output_size", 1, 4, 1, 0)
    chain = [size]
    for _ in range(4):
        size = _run(ex, "conv_transpose_output_size", size, 4, 2, 1)
        chain.append(size)
    assert chain == [4, 8, 16, 32, 64]


# ---------------------------------------------------------------------------------------------
# Exercise 3: init_dcgan_
# ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _cifar32():
    torch.manual_seed(0)
    return build_dcgan("cifar32")  # built once (64 channels wide, about 1.7 M weights); each test works on a copy


def _fresh_dcgan():
    """A copy of the 64-wide DCGAN with every conv and BN layer back at PyTorch's default initialisation."""
    torch.manual_seed(0)
    nets = copy.deepcopy(_cifar32())
    for net in nets:
        for m in net.modules():
            if isinstance(m, (*CONVS, nn.BatchNorm2d)):
                m.reset_parameters()
    return nets


def _initialised_dcgan(ex):
    nets = _fresh_dcgan()
    torch.manual_seed(1)
    for net in nets:
        assert _run(ex, "init_dcgan_", net) is None, "init_dcgan_ works in place and returns nothing"
    return nets


@pytest.mark.points(2)
def test_init_dcgan__conv_weights_on_a_large_model(ex):
    """Every conv layer of a 64-wide DCGAN (G and D): mean 0, std 0.02."""
    for net in _initialised_dcgan(ex):
        for name, m in net.named_modules():
            if isinstance(m, CONVS):
                w = m.weight.detach().double()
                tol = 4 * 0.02 / math.sqrt(2 * w.numel()) + 2e-4  # about 4 standard errors of the sample std
                assert abs(w.std().item() - 0.02) < max(tol, 1e-3), f"{name}: std {w.std().item():.4f}, expected 0.02"
                assert abs(w.mean().item()) < 4 * 0.02 / math.sqrt(w.numel()) + 1e-4, \
                    f"{name}: mean {w.mean().item():.5f}"


@pytest.mark.points(1)
def test_init_dcgan__conv_weights_are_normal(ex):
    """A normal puts 68.3% of its mass within one standard deviation and has tails beyond 4 of them; a
    uniform of the same std puts 57.7% there and stops at 1.73 std."""
    w = torch.cat([m.weight.detach().flatten() for net in _initialised_dcgan(ex) for m in net.modules()
                   if isinstance(m, CONVS)]).double()  # about 1.7 M weights
    inside = (w.abs() < 0.02).double().mean().item()
    assert abs(inside - math.erf(1 / math.sqrt(2))) < 5e-3, (
        f"{inside:.1%} of the weights within one std (0.02) of 0, expected 68.3% for N(0, 0.02^2)")
    assert w.abs().max().item() > 4 * 0.02, "no weight beyond 4 std: not a normal distribution"


@pytest.mark.points(2)
def test_init_dcgan__batchnorm_and_biases_on_a_large_model(ex):
    nets = _initialised_dcgan(ex)
    bns = [m for net in nets for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    gamma = torch.cat([m.weight.detach().flatten() for m in bns]).double()  # about 800 scales
    assert abs(gamma.mean().item() - 1.0) < 3e-3, f"batch-norm scales: mean {gamma.mean().item():.4f}, expected 1"
    assert 0.017 < gamma.std().item() < 0.023, f"batch-norm scales: std {gamma.std().item():.4f}, expected 0.02"
    for net in nets:
        for name, m in net.named_modules():
            if isinstance(m, (*CONVS, nn.BatchNorm2d)) and m.bias is not None:
                assert bool((m.bias == 0).all()), f"{name}: bias not zero"


@pytest.mark.points(1)
def test_init_dcgan__single_layers_and_nested_containers(ex):
    torch.manual_seed(1)
    conv = nn.Conv2d(64, 64, 3)  # with a bias
    _run(ex, "init_dcgan_", conv)  # the module itself is a layer
    assert abs(conv.weight.std().item() - 0.02) < 1e-3 and bool((conv.bias == 0).all())
    inner_t = nn.ConvTranspose2d(128, 64, 4, bias=False)
    inner_bn = nn.BatchNorm2d(512)
    net = nn.Sequential(nn.Sequential(inner_t, nn.ReLU()), nn.ModuleList([inner_bn]))
    _run(ex, "init_dcgan_", net)
    assert abs(inner_t.weight.std().item() - 0.02) < 1e-3, "a ConvTranspose2d nested two levels deep was missed"
    assert abs(inner_bn.weight.mean().item() - 1.0) < 5e-3 and 0.015 < inner_bn.weight.std().item() < 0.025
    assert bool((inner_bn.bias == 0).all())


@pytest.mark.points(1)
def test_init_dcgan__leaves_other_layers_alone_and_keeps_parameters_trainable(ex):
    torch.manual_seed(2)
    linear = nn.Linear(50, 50)
    before = [p.detach().clone() for p in linear.parameters()]
    net = nn.Sequential(nn.Conv2d(32, 64, 3), linear, nn.BatchNorm2d(64))
    params = list(net.parameters())
    _run(ex, "init_dcgan_", net)
    assert all(torch.equal(a, b) for a, b in zip(before, linear.parameters())), "nn.Linear must stay untouched"
    assert abs(net[0].weight.std().item() - 0.02) < 1e-3 and bool((net[0].bias == 0).all()), \
        "the convolution was not initialised"
    assert abs(net[2].weight.mean().item() - 1.0) < 1e-2 and bool((net[2].bias == 0).all()), \
        "the batch norm was not initialised"
    assert all(a is b for a, b in zip(net.parameters(), params)), \
        "change the values of the parameters in place; do not replace them (an optimiser holds the old ones)"
    for p in net.parameters():
        assert p.requires_grad and p.is_leaf and p.grad_fn is None, "parameters must stay trainable leaves"
    net[0](torch.zeros(1, 32, 5, 5)).sum().backward()  # and autograd still works through them


@pytest.mark.points(1)
def test_init_dcgan__is_your_own(ex):
    torch.manual_seed(3)
    net = nn.Sequential(nn.Conv2d(64, 64, 3), nn.BatchNorm2d(64))
    _assert_own_work(ex, "init_dcgan_", net)
    assert abs(net[0].weight.std().item() - 0.02) < 1e-3 and bool((net[0].bias == 0).all()), "and it must work"
    assert abs(net[1].weight.mean().item() - 1.0) < 1e-2 and bool((net[1].bias == 0).all()), "and it must work"


# ---------------------------------------------------------------------------------------------
# Exercise 4: interpolate_latents
# ---------------------------------------------------------------------------------------------


def _slerp64(z0, z1, n):
    z0, z1 = z0.double(), z1.double()
    t = torch.linspace(0, 1, n, dtype=F64)[:, None]
    omega = torch.acos(((z0 @ z1) / (z0.norm() * z1.norm())).clamp(-1, 1))
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


_PROBE = (torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 1.5, 1.0]))  # neither parallel nor orthogonal


def _path(ex, *args, **kwargs):
    """The submission's path; every test first makes it slerp a generic pair with ganlib's references disabled,
    so an answer that calls ganlib's slerp earns none of this exercise's points, not even the lerp mode's."""
    _run(ex, "interpolate_latents", *_PROBE, 3, mode="slerp")
    path = _run(ex, "interpolate_latents", *args, **kwargs)
    assert isinstance(path, torch.Tensor), f"expected a tensor, got {type(path).__name__}"
    return path


@pytest.mark.points(1)
@pytest.mark.parametrize("mode", ["slerp", "lerp"])
def test_interpolate_latents_shapes_dtypes_and_exact_endpoints(ex, mode):
    """And between the endpoints, the path of the mode: slerp keeps the norm of two vectors of equal norm."""
    for n, dim in [(2, 2), (5, 100), (33, 512)]:
        for dtype in (torch.float32, torch.float64):
            z0, z1 = _randn(2, dim, seed=n, dtype=dtype)
            z1 = z1 * (z0.norm() / z1.norm())  # equal norms
            path = _path(ex, z0, z1, n, mode=mode)
            assert tuple(path.shape) == (n, dim), f"expected shape {(n, dim)}, got {tuple(path.shape)}"
            assert path.dtype == dtype, f"expected dtype {dtype}, got {path.dtype}"
            assert torch.allclose(path[0], z0, atol=1e-5) and torch.allclose(path[-1], z1, atol=1e-5)
            t = torch.linspace(0, 1, n, dtype=F64)[:, None]
            expected = _slerp64(z0, z1, n) if mode == "slerp" else (1 - t) * z0.double() + t * z1.double()
            assert torch.allclose(path.double(), expected, atol=1e-4), f"{mode}: the points between are wrong"


@pytest.mark.points(1)
def test_interpolate_latents_lerp_is_the_straight_line(ex):
    z0, z1 = _randn(2, 64, seed=3)
    path = _path(ex, z0, z1, 9, mode="lerp")
    t = torch.linspace(0, 1, 9)[:, None]
    assert torch.allclose(path, (1 - t) * z0 + t * z1, atol=1e-6)


@pytest.mark.points(2)
def test_interpolate_latents_slerp_closed_form_for_vectors_of_any_norm(ex):
    z0, z1 = _randn(2, 100, seed=4)
    z1 = 3.0 * z1  # different norms: the formula still applies as written
    path = _path(ex, z0, z1, 12, mode="slerp")
    assert torch.allclose(path.double(), _slerp64(z0, z1, 12), atol=1e-5)
    path_default = _path(ex, z0, z1, 12)  # slerp is the default
    assert torch.allclose(path_default.double(), _slerp64(z0, z1, 12), atol=1e-5)


@pytest.mark.points(2)
def test_interpolate_latents_slerp_keeps_unit_norm_and_constant_angular_speed(ex):
    z0, z1 = _randn(2, 100, seed=5, dtype=F64)
    z0, z1 = z0 / z0.norm(), z1 / z1.norm()
    n = 17
    path = _path(ex, z0, z1, n, mode="slerp")
    assert torch.allclose(path.norm(dim=1), torch.ones(n, dtype=F64), atol=1e-9), "slerp must stay on the unit sphere"
    omega = torch.acos(z0 @ z1)
    steps = torch.acos((path[:-1] * path[1:]).sum(dim=1).clamp(-1, 1))  # angle between neighbours
    assert torch.allclose(steps, torch.full_like(steps, omega.item() / (n - 1)), atol=1e-6), \
        "angular speed must be constant"
    from_start = torch.acos((path @ z0).clamp(-1, 1))
    assert torch.allclose(from_start, torch.linspace(0, 1, n, dtype=F64) * omega, atol=1e-6)


@pytest.mark.points(1)
def test_interpolate_latents_orthogonal_vectors(ex):
    z0, z1 = torch.zeros(100), torch.zeros(100)
    z0[0], z1[1] = 10.0, 10.0
    mid = _path(ex, z0, z1, 3, mode="slerp")[1]
    assert abs(mid.norm().item() - 10.0) < 1e-4, f"slerp midpoint norm {mid.norm().item():.4f}, expected 10"
    assert abs(_path(ex, z0, z1, 3, mode="lerp")[1].norm().item() - 10 / math.sqrt(2)) < 1e-4


@pytest.mark.points(2)
def test_interpolate_latents_slerp_of_parallel_vectors_falls_back_to_lerp(ex):
    """Only there: two vectors at an angle still get the great circle."""
    z0 = _randn(100, seed=6)
    t = torch.linspace(0, 1, 6)[:, None]
    z_other = _randn(100, seed=8)
    assert torch.allclose(_path(ex, z0, z_other, 6, mode="slerp").double(), _slerp64(z0, z_other, 6), atol=1e-5)
    for z1 in (z0.clone(), 2.5 * z0, -z0, z0 * (1 + 1e-7)):
        path = _path(ex, z0, z1, 6, mode="slerp")
        assert bool(torch.isfinite(path).all()), "parallel or antiparallel vectors must not give NaN or inf"
        assert torch.allclose(path, (1 - t) * z0 + t * z1, atol=1e-4), "expected the lerp fallback"


@pytest.mark.points(1)
def test_interpolate_latents_is_your_own(ex):
    z0, z1 = _randn(2, 8, seed=7)
    _assert_own_work(ex, "interpolate_latents", z0, z1, 4)
    path = _run(ex, "interpolate_latents", z0, z1, 4, mode="slerp")
    assert isinstance(path, torch.Tensor) and torch.allclose(path.double(), _slerp64(z0, z1, 4), atol=1e-5), \
        "and it must work"


# ---------------------------------------------------------------------------------------------
# Exercise 5: attribute_vector
# ---------------------------------------------------------------------------------------------


def _attribute64(z, scores, fraction):
    m = max(1, int(fraction * len(scores)))
    order = torch.argsort(scores.double())
    return z.double()[order[-m:]].mean(0) - z.double()[order[:m]].mean(0)


@pytest.mark.points(1)
@pytest.mark.parametrize("n, fraction", [(1000, 0.1), (25, 0.1), (37, 0.3), (29, 0.2), (10, 0.5), (8, 0.05)])
def test_attribute_vector_matches_reference(ex, n, fraction):
    z = _randn(n, 16, seed=n)
    scores = _randn(n, seed=n + 1)  # distinct values: no ties
    got = _run(ex, "attribute_vector", z, scores, fraction)
    assert tuple(got.shape) == (16,), f"expected shape (16,), got {tuple(got.shape)}"
    assert torch.allclose(got.double(), _attribute64(z, scores, fraction), atol=1e-5)


@pytest.mark.points(1)
def test_attribute_vector_small_example(ex):
    """m = max(1, int(fraction * N)): the top m minus the bottom m, whatever the order of the rows."""
    z = torch.tensor([[0.0, 1.0], [2.0, 0.0], [4.0, 1.0], [6.0, 3.0], [8.0, -2.0]], dtype=F64)
    scores = torch.tensor([5.0, -1.0, 7.0, 0.0, 2.0], dtype=F64)
    cases = {0.2: [2.0, 1.0], 0.4: [-2.0, -0.5], 0.5: [-2.0, -0.5], 0.01: [2.0, 1.0], 0.7: [-4 / 3, -1 / 3]}
    for fraction, expected in cases.items():
        got = _run(ex, "attribute_vector", z, scores, fraction)
        assert torch.allclose(got.double(), torch.tensor(expected, dtype=F64), atol=1e-9), (
            f"fraction {fraction}: expected {expected}, got {got.tolist()}")


@pytest.mark.points(1)
def test_attribute_vector_default_fraction_and_planted_direction(ex):
    z = _randn(4000, 100, seed=7)
    u = torch.zeros(100)
    u[3] = 1.0
    scores = z @ u + 0.1 * _randn(4000, seed=8)  # the attribute lives along coordinate 3
    v = _run(ex, "attribute_vector", z, scores)  # fraction 0.1 by default
    assert torch.allclose(v.double(), _attribute64(z, scores, 0.1), atol=1e-5)
    assert F.cosine_similarity(v, u, dim=0) > 0.9, "the attribute vector should point along the planted direction"
