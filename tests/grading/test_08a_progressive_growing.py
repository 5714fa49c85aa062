"""Grading tests of notebook 08a (progressive growing): the fade-in of a new resolution, the minibatch
standard deviation, and the convolution with an equalised learning rate.

Reference values are computed in the tests, in float64, independently of ganlib: the nearest-neighbour
enlargement by indexing (pixel (i, j) of the enlarged image is pixel (i // 2, j // 2) of the old one),
the minibatch statistic group by group with the variance written out (group j = samples j, j + B/G, ...),
and the convolution as a sum over the kernel's offsets of channel contractions. Gradients are checked
against closed forms (each 2x2 block of the upstream gradient summed, times 1 - alpha; the stored
weight's gradient c times the effective weight's) or against autograd through those references.
Values and gradients are compared to float32 precision (relative 1e-5), every mistake looked for differing
far more; the dtype (float64 in, float64 out; float32 in, float32 out), float64 precision and the inputs
left unchanged are graded once per exercise, by ``test_<exercise>_keeps_dtype_and_inputs``, so a stray
float32 tensor costs that one test.

Delegation. Every call of a submitted function goes through :func:`_run`, which disables ganlib's
references of this notebook for the duration of the call (``progan.fade_in``, ``progan.upsample``,
``progan.fade_reals``, ``progan._fade_paths``, ``progan.minibatch_stddev``, and the layers
``progan.MinibatchStdDev`` and ``progan.EqualizedConv2d``): each reference function's code is swapped
for a stub that records the call and raises, and each layer's ``__init__`` and ``forward`` are replaced
by such stubs, so a call is caught however the submission reached it (``from ganlib.models.progan import
fade_in``, ``progan.minibatch_stddev``, ``ganlib.models.stylegan``'s re-export, an import inside the
function), even when it swallows the error. An exercise answered by calling ganlib's reference so earns
nothing (DESIGN: Notebooks). Each exercise also has a test of its own, ``test_<exercise>_is_your_own``,
that adds a static check (a forbidden object bound to a global name the function uses) and names the
problem in its failure message. PyTorch itself is allowed: ``F.interpolate``, ``repeat_interleave``,
``F.conv2d`` and the like.
"""

import math

import pytest
import torch
import torch.nn.functional as nnf

from ganlib.models import progan

from _delegation import Delegation

NOTEBOOK = "08a_progressive_growing"
F64 = torch.float64

# ganlib's references of this notebook -> the exercise function that must not call them
FORBIDDEN = {
    "ganlib.models.progan.fade_in": ("faded_output", progan.fade_in),
    "ganlib.models.progan.upsample": ("faded_output", progan.upsample),
    "ganlib.models.progan.fade_reals": ("faded_output", progan.fade_reals),
    "ganlib.models.progan._fade_paths": ("faded_output", progan._fade_paths),
    "ganlib.models.progan.minibatch_stddev": ("minibatch_stddev", progan.minibatch_stddev),
}
# ganlib's layers of this notebook: (qualified name, exercise, class), their __init__ and forward disabled
FORBIDDEN_CLASSES = [
    ("ganlib.models.progan.MinibatchStdDev", "minibatch_stddev", progan.MinibatchStdDev),
    ("ganlib.models.progan.EqualizedConv2d", "equalized_conv2d", progan.EqualizedConv2d),
]
EXERCISE_NUMBER = {"faded_output": "8a.1", "minibatch_stddev": "8a.2", "equalized_conv2d": "8a.3"}
DELEGATION = Delegation(FORBIDDEN, EXERCISE_NUMBER, classes=[(*entry, "forward") for entry in FORBIDDEN_CLASSES])
_run, _assert_own_work = DELEGATION.run, DELEGATION.assert_own_work


def _randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


# Values and gradients are graded to float32 precision, relative to the largest expected value, so a stray float32
# tensor along the way costs only the test of its exercise that checks the dtype and float64 precision
# (test_<exercise>_keeps_dtype_and_inputs). Every mistake the tests look for differs far more.
RTOL = 1e-5


def _tolerance(expected):
    return RTOL * (1 + expected.detach().abs().max().item())


def _error(got, expected):
    return (got.detach().to(expected.dtype) - expected.detach()).abs().max().item()


def _diagnosis(got, mistakes, tolerance):
    """' (that is what <mistake> gives)' for the first known mistake ``got`` matches, else ''."""
    for what, value in mistakes.items():
        if value is not None and got.shape == value.shape and _error(got, value) <= tolerance:
            return f" (that is what {what} gives)"
    return ""


def _check(got, expected, what, mistakes=None, atol=None):
    """``got`` is a tensor of ``expected``'s shape, equal to it within ``atol`` (default: float32 precision)."""
    assert isinstance(got, torch.Tensor), f"{what}: expected a tensor, got {type(got).__name__}"
    assert tuple(got.shape) == tuple(expected.shape), (
        f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")
    tolerance = _tolerance(expected) if atol is None else atol
    error = _error(got, expected)
    assert error <= tolerance, (f"{what}: wrong values, largest error {error:.3g}"
                                + _diagnosis(got, mistakes or {}, tolerance))


def _close(got, expected):
    return _error(got, expected) <= _tolerance(expected)


def _check_float64_precision(got, expected, name):
    error = _error(got, expected)
    assert error <= _tolerance(expected), f"float64 inputs: wrong values, largest error {error:.3g}"
    assert error <= 1e-10, (
        f"float64 inputs: the values must be exact to float64 precision, largest error {error:.3g}: part of {name} "
        "ran in float32 (a tensor made without dtype=..., a .float(), a torch.tensor(number))")


# ---------------------------------------------------------------------------------------------
# Exercise 1: faded_output
# ---------------------------------------------------------------------------------------------


def _enlarged(old):
    """Nearest-neighbour 2x, written as indexing: pixel (i, j) of the result is old's (i // 2, j // 2)."""
    h, w = old.shape[-2:]
    return old[:, :, torch.arange(2 * h) // 2][:, :, :, torch.arange(2 * w) // 2]


def _expected_fade(old, new, alpha):
    return alpha * new + (1 - alpha) * _enlarged(old)


def _fade_mistakes(old, new, alpha):
    """What common mistakes return, for the failure messages."""
    up, tiled = _enlarged(old), old.repeat(1, 1, 2, 2)
    zero_inserted = torch.zeros_like(new)
    zero_inserted[:, :, ::2, ::2] = old
    return {
        "alpha and 1 - alpha swapped": (1 - alpha) * new + alpha * up,
        "old tiled 2x2 (old.repeat(1, 1, 2, 2)) instead of each pixel enlarged to a 2x2 block":
            alpha * new + (1 - alpha) * tiled,
        "bilinear upsampling instead of nearest-neighbour":
            alpha * new + (1 - alpha) * nnf.interpolate(old, scale_factor=2, mode="bilinear", align_corners=False),
        "bilinear upsampling with align_corners=True instead of nearest-neighbour":
            alpha * new + (1 - alpha) * nnf.interpolate(old, scale_factor=2, mode="bilinear", align_corners=True),
        "zeros between old's pixels instead of copies": alpha * new + (1 - alpha) * zero_inserted,
        "each 2x2 block holding old / 4": alpha * new + (1 - alpha) * up / 4,
        "alpha squared": alpha ** 2 * new + (1 - alpha ** 2) * up,
        "the new image alone": new,
        "the enlarged old image alone": up,
        "new + up(old), unweighted": new + up,
    }


# (B, C, h, w) of old, and alpha: non-square, odd sizes, one channel and several
FADE_CASES = [((2, 3, 4, 4), 0.3), ((1, 2, 3, 5), 0.75), ((3, 1, 1, 2), 0.5), ((2, 4, 5, 3), 0.1)]


@pytest.mark.points(1)
@pytest.mark.parametrize("shape, alpha", FADE_CASES, ids=["square", "non_square", "one_channel", "odd"])
def test_faded_output_closed_form(ex, shape, alpha):
    B, C, h, w = shape
    old, new = _randn(B, C, h, w, seed=sum(shape)), _randn(B, C, 2 * h, 2 * w, seed=sum(shape) + 1) * 2 + 1
    expected = _expected_fade(old, new, alpha)
    mistakes = _fade_mistakes(old, new, alpha)
    got = _run(ex, "faded_output", old, new, alpha)
    _check(got, expected, f"old {tuple(old.shape)}, new {tuple(new.shape)}, alpha {alpha}: "
           "alpha * new + (1 - alpha) * up(old), up repeating every pixel into a 2x2 block", mistakes)


@pytest.mark.points(1)
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_faded_output_endpoints(ex, alpha):
    old, new = _randn(2, 3, 3, 4, seed=10), _randn(2, 3, 6, 8, seed=11)
    expected = new if alpha == 1.0 else _enlarged(old)
    got = _run(ex, "faded_output", old, new, alpha)
    what = ("alpha = 1: exactly the new path's image" if alpha == 1.0 else
            "alpha = 0: exactly the old image enlarged, every pixel a 2x2 block (the new layers have no effect)")
    _check(got, expected, what, _fade_mistakes(old, new, alpha))


@pytest.mark.points(1)
def test_faded_output_small_example(ex):
    old = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=F64).reshape(1, 1, 2, 3)
    new = torch.full((1, 1, 4, 6), 8.0, dtype=F64)
    expected = torch.tensor([[1.0, 1.0, 2.0, 2.0, 3.0, 3.0], [1.0, 1.0, 2.0, 2.0, 3.0, 3.0],
                             [4.0, 4.0, 5.0, 5.0, 6.0, 6.0], [4.0, 4.0, 5.0, 5.0, 6.0, 6.0]], dtype=F64)
    expected = (0.25 * 8.0 + 0.75 * expected).reshape(1, 1, 4, 6)
    got = _run(ex, "faded_output", old, new, 0.25)
    _check(got, expected, "old = [[1, 2, 3], [4, 5, 6]], new = 8 everywhere, alpha = 0.25: expected "
           "2 + 0.75 * [[1, 1, 2, 2, 3, 3], [1, 1, 2, 2, 3, 3], [4, 4, 5, 5, 6, 6], [4, 4, 5, 5, 6, 6]]",
           _fade_mistakes(old, new, 0.25))


@pytest.mark.points(1)
@pytest.mark.parametrize("alpha", [0.3, 0.8])
def test_faded_output_gradients(ex, alpha):
    old = _randn(2, 2, 3, 4, seed=20).requires_grad_(True)
    new = _randn(2, 2, 6, 8, seed=21).requires_grad_(True)
    upstream = _randn(2, 2, 6, 8, seed=22)
    got = _run(ex, "faded_output", old, new, alpha)
    assert isinstance(got, torch.Tensor) and got.requires_grad, (
        "the output must keep its graph to both paths: no .detach(), .item() or torch.no_grad()")
    (got * upstream).sum().backward()
    assert new.grad is not None and old.grad is not None, "no gradient reached one of the two paths (detached?)"
    assert _close(new.grad, alpha * upstream), (
        f"wrong gradient with respect to new: expected alpha ({alpha}) times the upstream gradient")
    blocks = upstream.reshape(2, 2, 3, 2, 4, 2).sum(dim=(3, 5))  # each 2x2 block of the upstream gradient
    assert _close(old.grad, (1 - alpha) * blocks), (
        f"wrong gradient with respect to old: expected (1 - alpha) = {1 - alpha:g} times the sum of the upstream "
        "gradient over each 2x2 block, as for a copy of every pixel into its block (nearest-neighbour 2x)")


@pytest.mark.points(1)
def test_faded_output_keeps_dtype_and_inputs(ex):
    for dtype in (F64, torch.float32):
        old, new = _randn(2, 3, 2, 3, seed=30, dtype=dtype), _randn(2, 3, 4, 6, seed=31, dtype=dtype)
        old_before, new_before = old.clone(), new.clone()
        got = _run(ex, "faded_output", old, new, 0.4)
        assert isinstance(got, torch.Tensor) and got.dtype == dtype, (
            f"{dtype} inputs must give a {dtype} output, got "
            f"{got.dtype if isinstance(got, torch.Tensor) else type(got).__name__}")
        assert torch.equal(old, old_before) and torch.equal(new, new_before), (
            "faded_output changed its inputs in place (new.mul_, +=, ...): build a new tensor")
        expected = _expected_fade(old.to(F64), new.to(F64), 0.4)
        if dtype == F64:
            _check_float64_precision(got, expected, "faded_output")
        else:
            _check(got, expected, "float32 inputs")


@pytest.mark.points(1)
def test_faded_output_is_your_own(ex):
    _assert_own_work(ex, "faded_output", _randn(2, 3, 4, 4, seed=40), _randn(2, 3, 8, 8, seed=41), 0.3)


# ---------------------------------------------------------------------------------------------
# Exercise 2: minibatch_stddev
# ---------------------------------------------------------------------------------------------


def _expected_mbstd(x, group_size, *, interleaved=True, unbiased=False, eps=1e-8, first=False):
    """The minibatch statistic group by group, written out; the keywords give common mistakes."""
    B, C, H, W = x.shape
    G = min(group_size, B)
    n = B // G
    members = [x[j::n] if interleaved else x[j * G:(j + 1) * G] for j in range(n)]  # each (G, C, H, W)
    stats = []
    for group in members:
        mean = group.sum(dim=0) / G
        var = ((group - mean) ** 2).sum(dim=0) / (G - 1 if unbiased else G)
        stats.append(torch.sqrt(var + eps).sum() / (C * H * W))
    per_sample = torch.stack([stats[b % n] if interleaved else stats[b // G] for b in range(B)])
    extra = per_sample.reshape(B, 1, 1, 1).expand(B, 1, H, W)
    return torch.cat([extra, x] if first else [x, extra], dim=1)


def _mbstd_mistakes(x, group_size):
    B = x.shape[0]
    G = min(group_size, B)
    plain = _expected_mbstd(x, group_size)
    return {
        "consecutive groups (samples 0..G-1 together) instead of interleaved ones (samples j, j + B/G, ...)":
            _expected_mbstd(x, group_size, interleaved=False),
        "the unbiased variance (divided by G - 1)": _expected_mbstd(x, group_size, unbiased=True) if G > 1 else None,
        "sqrt(var) without the 1e-8": _expected_mbstd(x, group_size, eps=0.0),
        "one group of the whole batch (group_size ignored)": _expected_mbstd(x, B),
        "the extra channel put first": _expected_mbstd(x, group_size, first=True),
        "x alone, without the extra channel": x,
        "the extra channel all zeros": torch.cat([x, torch.zeros_like(plain[:, :1])], dim=1),
    }


def _features(B, C, H, W, seed):
    """Random features whose spread grows with the sample's index, so every group has its own statistic."""
    scale = (1.0 + torch.arange(B, dtype=F64)).reshape(B, 1, 1, 1)
    return _randn(B, C, H, W, seed=seed) * scale + 0.5


# (B, C, H, W) and group_size: several groups, one group (B = G and B < group_size), G = 1, non-square
MBSTD_CASES = [((8, 5, 4, 4), 4), ((6, 3, 2, 5), 2), ((12, 1, 1, 1), 4), ((6, 2, 3, 3), 3), ((3, 2, 3, 3), 4),
               ((4, 2, 3, 1), 4), ((2, 3, 2, 2), 1)]


@pytest.mark.points(1)
@pytest.mark.parametrize("shape, group_size", MBSTD_CASES,
                         ids=["two_groups_of_4", "three_groups_of_2", "one_pixel", "groups_of_3",
                              "batch_smaller_than_group", "one_group", "group_size_1"])
def test_minibatch_stddev_closed_form(ex, shape, group_size):
    x = _features(*shape, seed=sum(shape) + group_size)
    expected = _expected_mbstd(x, group_size)
    got = _run(ex, "minibatch_stddev", x, group_size)
    G = min(group_size, shape[0])
    _check(got, expected, f"x {tuple(shape)}, group_size {group_size} (G = {G}, {shape[0] // G} group(s)): x with one "
           "more channel, each sample's group's mean over C, H, W of sqrt(biased var over the group + 1e-8)",
           _mbstd_mistakes(x, group_size))


@pytest.mark.points(1)
def test_minibatch_stddev_default_group_size(ex):
    x = _features(8, 2, 3, 2, seed=50)
    got = _run(ex, "minibatch_stddev", x)
    _check(got, _expected_mbstd(x, 4), "called without group_size: the default group_size is 4",
           {"group_size 2": _expected_mbstd(x, 2), "group_size 8 (the whole batch)": _expected_mbstd(x, 8),
            **_mbstd_mistakes(x, 4)})


@pytest.mark.points(1)
def test_minibatch_stddev_interleaved_groups(ex):
    x = torch.zeros(6, 2, 2, 3, dtype=F64)
    x[0], x[3] = 1.0, 3.0  # group 0 = samples 0 and 3: std 1 everywhere
    x[1], x[4] = 5.0, 5.0  # group 1 = samples 1 and 4: identical, std sqrt(1e-8) = 1e-4
    x[2], x[5] = -2.0, 4.0  # group 2 = samples 2 and 5: std 3
    got = _run(ex, "minibatch_stddev", x, 2)
    stats = torch.tensor([math.sqrt(1 + 1e-8), 1e-4, math.sqrt(9 + 1e-8)] * 2, dtype=F64)  # sqrt(var + 1e-8)
    expected = torch.cat([x, stats.reshape(6, 1, 1, 1).expand(6, 1, 2, 3)], dim=1)
    _check(got, expected, "B = 6, group_size 2: groups {0, 3}, {1, 4}, {2, 5} (sample b in group b % (B // G)) "
           "with stds 1, 0 and 3: extra channel sqrt(1 + 1e-8), 1e-4, sqrt(9 + 1e-8), then the same again",
           _mbstd_mistakes(x, 2), atol=1e-6)


@pytest.mark.points(1)
def test_minibatch_stddev_identical_samples(ex):
    x = _randn(1, 3, 2, 2, seed=60).repeat(4, 1, 1, 1)  # a collapsed batch: four copies of one sample
    got = _run(ex, "minibatch_stddev", x, 4)
    expected = torch.cat([x, torch.full((4, 1, 2, 2), 1e-4, dtype=F64)], dim=1)
    _check(got, expected, "four identical samples: variance 0, so every entry of the extra channel is "
           "sqrt(0 + 1e-8) = 1e-4 (the 1e-8 goes inside the square root)",
           {"sqrt(var) without the 1e-8": torch.cat([x, torch.zeros(4, 1, 2, 2, dtype=F64)], dim=1),
            "sqrt(var) + 1e-8": torch.cat([x, torch.full((4, 1, 2, 2), 1e-8, dtype=F64)], dim=1)}, atol=1e-9)


@pytest.mark.points(1)
def test_minibatch_stddev_gradients(ex):
    x = _features(6, 2, 3, 2, seed=70).requires_grad_(True)
    upstream = _randn(6, 3, 3, 2, seed=71)
    got = _run(ex, "minibatch_stddev", x, 3)
    assert isinstance(got, torch.Tensor) and got.requires_grad, (
        "the output must keep its graph: no .detach(), .item() or torch.no_grad()")
    (got * upstream).sum().backward()
    assert x.grad is not None, "no gradient reached x"
    reference = x.detach().clone().requires_grad_(True)
    (expected,) = torch.autograd.grad((_expected_mbstd(reference, 3) * upstream).sum(), reference)
    error = _error(x.grad, expected)
    assert error <= _tolerance(expected), (
        f"wrong gradient with respect to x (largest error {error:.3g}): the first C channels pass x through, "
        "and the gradient of the extra channel must flow through the standard deviations (no detach)")


@pytest.mark.points(1)
def test_minibatch_stddev_keeps_dtype_and_inputs(ex):
    for dtype in (F64, torch.float32):
        x = _features(4, 3, 2, 2, seed=80).to(dtype)
        before = x.clone()
        got = _run(ex, "minibatch_stddev", x, 2)
        assert isinstance(got, torch.Tensor) and got.dtype == dtype, (
            f"{dtype} features must give a {dtype} output, got "
            f"{got.dtype if isinstance(got, torch.Tensor) else type(got).__name__}")
        assert torch.equal(x, before), "minibatch_stddev changed x in place (-=, sub_, ...): work on new tensors"
        assert tuple(got.shape) == (4, 4, 2, 2), f"expected shape (4, 4, 2, 2), got {tuple(got.shape)}"
        assert torch.equal(got[:, :3], x), "the first C channels of the output must be x itself, unchanged"
        expected = _expected_mbstd(x.to(F64), 2)
        if dtype == F64:
            _check_float64_precision(got, expected, "minibatch_stddev")
        else:
            _check(got, expected, "float32 features")


@pytest.mark.points(1)
def test_minibatch_stddev_is_your_own(ex):
    _assert_own_work(ex, "minibatch_stddev", _features(8, 3, 2, 2, seed=90), 4)


# ---------------------------------------------------------------------------------------------
# Exercise 3: equalized_conv2d
# ---------------------------------------------------------------------------------------------


def _convolution(x, weight, bias, padding):
    """Cross-correlation with zero padding, written as a sum over the kernel's offsets (no conv2d)."""
    k = weight.shape[-1]
    padded = nnf.pad(x, (padding, padding, padding, padding))
    H, W = padded.shape[2] - k + 1, padded.shape[3] - k + 1
    out = sum(torch.einsum("bchw,oc->bohw", padded[:, :, i:i + H, j:j + W], weight[:, :, i, j])
              for i in range(k) for j in range(k))
    return out + bias.reshape(1, -1, 1, 1)


def _he_constant(weight, gain):
    c_out, c_in, k, _ = weight.shape
    return gain / math.sqrt(c_in * k * k)


def _conv_mistakes(x, weight, bias, gain, padding):
    c_out, c_in, k, _ = weight.shape
    c = _he_constant(weight, gain)
    return {
        "the fan-in counted from C_out": _convolution(x, weight * gain / math.sqrt(c_out * k * k), bias, padding),
        "the fan-in without k * k (C_in only)": _convolution(x, weight * gain / math.sqrt(c_in), bias, padding),
        "gain / fan-in, without the square root": _convolution(x, weight * gain / (c_in * k * k), bias, padding),
        "the bias scaled too": _convolution(x, weight * c, bias * c, padding),
        "the gain ignored": _convolution(x, weight / math.sqrt(c_in * k * k), bias, padding),
        "gain sqrt(2) whatever the gain argument":
            _convolution(x, weight * math.sqrt(2 / (c_in * k * k)), bias, padding),
        "the weight unscaled (He's constant not applied)": _convolution(x, weight, bias, padding),
    }


# x (B, C_in, H, W), weight (C_out, C_in, k, k), gain, padding: C_out above and below C_in, k = 1, 3, 5
CONV_CASES = [((2, 3, 6, 6), (5, 3, 3, 3), math.sqrt(2), 1), ((1, 4, 5, 7), (2, 4, 3, 3), 1.0, 0),
              ((3, 2, 4, 5), (6, 2, 1, 1), math.sqrt(2), 0), ((2, 1, 7, 6), (3, 1, 5, 5), 0.5, 2)]


@pytest.mark.points(1)
@pytest.mark.parametrize("x_shape, w_shape, gain, padding", CONV_CASES,
                         ids=["3x3_pad1", "gain1_no_padding", "1x1", "5x5_pad2_gain_half"])
def test_equalized_conv2d_closed_form(ex, x_shape, w_shape, gain, padding):
    seed = sum(x_shape) + sum(w_shape)
    x, weight, bias = _randn(*x_shape, seed=seed), _randn(*w_shape, seed=seed + 1), _randn(w_shape[0], seed=seed + 2)
    c = _he_constant(weight, gain)
    expected = _convolution(x, weight * c, bias, padding)
    got = _run(ex, "equalized_conv2d", x, weight, bias, gain=gain, padding=padding)
    _check(got, expected, f"x {x_shape}, weight {w_shape}, gain {gain:.4g}, padding {padding}: conv2d with the weight "
           f"times c = gain / sqrt(C_in k^2) = {c:.4g}, plus the unscaled bias",
           _conv_mistakes(x, weight, bias, gain, padding))


@pytest.mark.points(1)
def test_equalized_conv2d_default_arguments(ex):
    x, weight, bias = _randn(2, 3, 5, 4, seed=100), _randn(4, 3, 3, 3, seed=101), _randn(4, seed=102)
    expected = _convolution(x, weight * math.sqrt(2) / math.sqrt(27), bias, 0)
    got = _run(ex, "equalized_conv2d", x, weight, bias)
    _check(got, expected, "called with x, weight, bias only: gain sqrt(2) and padding 0 by default, "
           "output (2, 4, 3, 2)", _conv_mistakes(x, weight, bias, math.sqrt(2), 0))


@pytest.mark.points(1)
def test_equalized_conv2d_bias_not_scaled(ex):
    x, weight, bias = torch.zeros(2, 3, 4, 4, dtype=F64), _randn(5, 3, 3, 3, seed=110), _randn(5, seed=111)
    got = _run(ex, "equalized_conv2d", x, weight, bias, gain=math.sqrt(2), padding=1)
    expected = bias.reshape(1, 5, 1, 1).expand(2, 5, 4, 4)
    c = _he_constant(weight, math.sqrt(2))
    _check(got, expected, "x = 0: every output pixel is the bias itself (only the weight is scaled by c)",
           {f"the bias scaled by c = {c:.4g}": expected * c, "no bias": torch.zeros_like(expected)})


@pytest.mark.points(1)
def test_equalized_conv2d_gradients(ex):
    gain, padding = 0.8, 1
    x = _randn(2, 3, 5, 4, seed=120).requires_grad_(True)
    weight = _randn(4, 3, 3, 3, seed=121).requires_grad_(True)
    bias = _randn(4, seed=122).requires_grad_(True)
    upstream = _randn(2, 4, 5, 4, seed=123)
    got = _run(ex, "equalized_conv2d", x, weight, bias, gain=gain, padding=padding)
    assert isinstance(got, torch.Tensor) and got.requires_grad, (
        "the output must keep its graph: no .detach(), .data, copies into a layer under torch.no_grad()")
    (got * upstream).sum().backward()
    assert weight.grad is not None and bias.grad is not None and x.grad is not None, (
        "no gradient reached the stored weight, the bias or x")
    c = _he_constant(weight, gain)
    effective = (weight.detach() * c).requires_grad_(True)
    x_ref = x.detach().clone().requires_grad_(True)
    g_effective, g_x = torch.autograd.grad((_convolution(x_ref, effective, bias.detach(), padding) * upstream).sum(),
                                           (effective, x_ref))
    assert _close(weight.grad, c * g_effective), (
        f"the stored weight's gradient must be c = {c:.4g} times the effective weight's (w = c * weight in the "
        "forward pass, so the chain rule multiplies by c)")
    assert _close(bias.grad, upstream.sum(dim=(0, 2, 3))), (
        "the bias's gradient must be the upstream gradient summed over batch and pixels (the bias is not scaled)")
    assert _close(x.grad, g_x), "wrong gradient with respect to x"


@pytest.mark.points(1)
def test_equalized_conv2d_keeps_dtype_and_inputs(ex):
    for dtype in (F64, torch.float32):
        x, weight, bias = (_randn(2, 2, 4, 4, seed=130, dtype=dtype), _randn(3, 2, 3, 3, seed=131, dtype=dtype),
                           _randn(3, seed=132, dtype=dtype))
        before = [t.clone() for t in (x, weight, bias)]
        got = _run(ex, "equalized_conv2d", x, weight, bias, gain=1.0, padding=1)
        assert isinstance(got, torch.Tensor) and got.dtype == dtype, (
            f"{dtype} inputs must give a {dtype} output, got "
            f"{got.dtype if isinstance(got, torch.Tensor) else type(got).__name__}")
        assert all(torch.equal(a, b) for a, b in zip((x, weight, bias), before)), (
            "equalized_conv2d changed its inputs in place (weight.mul_, weight *= c, ...): the stored weight must "
            "stay as it is, scaled only inside the forward pass")
        expected = _convolution(x.to(F64), weight.to(F64) / math.sqrt(18), bias.to(F64), 1)
        if dtype == F64:
            _check_float64_precision(got, expected, "equalized_conv2d")
        else:
            _check(got, expected, "float32 inputs")


@pytest.mark.points(1)
def test_equalized_conv2d_is_your_own(ex):
    _assert_own_work(ex, "equalized_conv2d", _randn(2, 3, 5, 5, seed=140), _randn(4, 3, 3, 3, seed=141),
                     _randn(4, seed=142), gain=math.sqrt(2), padding=1)
