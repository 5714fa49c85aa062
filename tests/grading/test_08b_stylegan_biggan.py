"""Grading tests of notebook 08b (StyleGAN and BigGAN): AdaIN, the modulated convolution with
demodulation, and BigGAN's orthogonal regularisation.

Reference values are computed in the tests, in float64, independently of ganlib: AdaIN with the mean and
the biased variance written as sums over each map's pixels; the modulated convolution one sample at a
time (sample b's weights s_i w_ijk built, each output channel's demodulation sum over (C_in, k, k)
written out, then an ordinary ``F.conv2d``), and for 1x1 kernels as a plain contraction over the input
channels; the regulariser as an explicit double sum over pairs of filters. Gradients are checked
against closed forms (AdaIN's instance-norm gradient, the regulariser's 4 beta (G ⊙ (1 - I)) W and
4 beta (G - I) W) or against autograd through those references. Invariances the exercises promise are
checked too: AdaIN's output statistics are the style; a demodulated output ignores a sample's overall
style scale; unit-variance inputs give unit-variance outputs (StyleGAN2's Eq. 2).

Delegation. Every call of a submitted function goes through :func:`_run`, which disables ganlib's
references of this notebook for the duration of the call (``stylegan.adain``, ``stylegan.modulated_conv2d``
in both its fused and unfused forms, ``losses.orthogonal_regularization`` and
``losses.orthogonal_regularization_of``): each reference function's code is swapped for a stub that
records the call and raises, so a call is caught however the submission reached the function (``from
ganlib.models.stylegan import adain``, ``stylegan.modulated_conv2d``, ganlib's ``StyleLayer`` and ``ToRGB``
layers, which call these functions, an import inside the function), even when it swallows the error. An
exercise answered by calling ganlib's reference so earns nothing (DESIGN: Notebooks). Each exercise also
has a test of its own, ``test_<exercise>_is_your_own``, that adds a static check (a forbidden object
bound to a global name the function uses) and names the problem in its failure message. PyTorch itself
is allowed: ``F.conv2d`` (grouped or not), ``F.instance_norm``, ``torch.linalg.matrix_norm`` and the like.
"""

import pytest
import torch
import torch.nn.functional as nnf

from ganlib import losses
from ganlib.models import stylegan

from _delegation import Delegation

NOTEBOOK = "08b_stylegan_biggan"
F64 = torch.float64

# ganlib's references of this notebook -> the exercise function that must not call them
FORBIDDEN = {
    "ganlib.models.stylegan.adain": ("adain", stylegan.adain),
    "ganlib.models.stylegan.modulated_conv2d": ("modulated_conv2d", stylegan.modulated_conv2d),
    "ganlib.losses.orthogonal_regularization": ("orthogonal_regularization", losses.orthogonal_regularization),
    "ganlib.losses.orthogonal_regularization_of": ("orthogonal_regularization", losses.orthogonal_regularization_of),
}
EXERCISE_NUMBER = {"adain": "8b.1", "modulated_conv2d": "8b.2", "orthogonal_regularization": "8b.3"}
DELEGATION = Delegation(FORBIDDEN, EXERCISE_NUMBER)
_run, _assert_own_work = DELEGATION.run, DELEGATION.assert_own_work


def _randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _rand(*shape, seed=0, dtype=F64):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def _tensor(got, shape, what):
    assert isinstance(got, torch.Tensor), f"{what}: expected a tensor, got {type(got).__name__}"
    assert tuple(got.shape) == tuple(shape), f"{what}: expected shape {tuple(shape)}, got {tuple(got.shape)}"
    return got


def _max_error(got, expected):
    return (got.detach().to(F64) - expected).abs().max().item()


def _unchanged(before, after, what):
    for name, a, b in zip(what, before, after):
        assert torch.equal(a, b), f"the input {name} was modified in place: work on new tensors (no x -= ..., x.mul_)"


# ---------------------------------------------------------------------------------------------
# Exercise 1: adain
# ---------------------------------------------------------------------------------------------


def _adain_reference(x, style_scale, style_bias, eps=1e-8):
    """AdaIN written out: mean and biased variance as sums over each map's H * W pixels, in float64."""
    n = x.shape[2] * x.shape[3]
    mu = x.sum(dim=(2, 3), keepdim=True) / n  # (B, C, 1, 1)
    var = ((x - mu) ** 2).sum(dim=(2, 3), keepdim=True) / n  # biased: divided by n, not n - 1
    return style_scale[:, :, None, None] * (x - mu) / torch.sqrt(var + eps) + style_bias[:, :, None, None]


def _adain_inputs(shape, seed):
    """Maps with their own offsets and spreads per sample and channel; styles of both signs."""
    B, C = shape[:2]
    x = _randn(*shape, seed=seed) * (0.5 + 2 * _rand(B, C, 1, 1, seed=seed + 1)) + 3 * _randn(B, C, 1, 1, seed=seed + 2)
    return x, _randn(B, C, seed=seed + 3) * 1.5, _randn(B, C, seed=seed + 4)


ADAIN_SHAPES = [(4, 5, 6, 7), (1, 3, 5, 2), (2, 1, 3, 8), (3, 4, 4, 4)]


@pytest.mark.points(1)
@pytest.mark.parametrize("shape", ADAIN_SHAPES, ids=["4x5x6x7", "one_sample", "one_channel", "square"])
def test_adain_matches_reference(ex, shape):
    x, y_s, y_b = _adain_inputs(shape, seed=sum(shape))
    got = _tensor(_run(ex, "adain", x, y_s, y_b), shape, "adain")
    error = _max_error(got, _adain_reference(x, y_s, y_b))
    assert error < 1e-10, (
        f"x {tuple(shape)}: largest difference {error:.3g} from y_s (x - mean) / sqrt(var + eps) + y_b with the mean "
        "and the biased variance (divide by H * W) of each sample's and channel's map over its pixels (dim=(2, 3)); "
        "the styles (B, C) broadcast as style[:, :, None, None]")


@pytest.mark.points(1)
def test_adain_small_example(ex):
    x = torch.tensor([1.0, 3.0], dtype=F64).reshape(1, 1, 1, 2)  # mean 2, biased variance 1
    y_s, y_b = torch.full((1, 1), 2.0, dtype=F64), torch.full((1, 1), 1.0, dtype=F64)
    got = _tensor(_run(ex, "adain", x, y_s, y_b, eps=3.0), (1, 1, 1, 2), "adain").flatten().tolist()
    assert max(abs(got[0] - 0.0), abs(got[1] - 2.0)) < 1e-12, (
        f"the map (1, 3), y_s = 2, y_b = 1, eps = 3: expected 2 (x - 2) / sqrt(1 + 3) + 1 = (0, 2), got "
        f"({got[0]:.4g}, {got[1]:.4g}) ((-1, 3): eps ignored; (0.5, 1.5): eps added to the std; (0.106, 1.89): "
        "unbiased variance; (1.5, 2.5): scale and bias swapped; (1, 3): bias added before scaling)")


@pytest.mark.points(1)
def test_adain_output_statistics_are_the_style(ex):
    x, y_s, y_b = _adain_inputs((3, 4, 5, 6), seed=10)
    out = _tensor(_run(ex, "adain", x, y_s, y_b), (3, 4, 5, 6), "adain").detach().to(F64)
    mean = out.sum(dim=(2, 3)) / 30
    std = (((out - mean[:, :, None, None]) ** 2).sum(dim=(2, 3)) / 30).sqrt()
    assert torch.allclose(mean, y_b, atol=1e-10), "each output map's mean must be its style bias y_b"
    # std = |y_s| sqrt(var / (var + eps)): eps = 1e-8 against variances >= 0.25 moves it by < 1e-7 relative
    assert torch.allclose(std, y_s.abs(), rtol=1e-7, atol=1e-12), (
        "each output map's (biased) standard deviation must be |y_s|: normalise by the map's own std first")
    centred = x - x.mean(dim=(2, 3), keepdim=True)
    correlation = ((out - mean[:, :, None, None]) * centred).sum(dim=(2, 3)) / (30 * std * centred.square().mean(
        dim=(2, 3)).sqrt())
    assert torch.allclose(correlation, torch.sign(y_s), atol=1e-9), (
        "the pattern inside a map must be kept: out = y_b + y_s (x - mean) / std, correlation sign(y_s) with x")


@pytest.mark.points(1)
def test_adain_constant_map(ex):
    x = torch.full((2, 3, 3, 3), 7.0, dtype=F64)  # variance 0: only eps keeps the division finite
    y_s, y_b = _randn(2, 3, seed=20), _randn(2, 3, seed=21)
    got = _tensor(_run(ex, "adain", x, y_s, y_b), (2, 3, 3, 3), "adain").detach()
    assert torch.isfinite(got).all(), "a constant map gave inf or nan: divide by sqrt(var + eps), eps inside the root"
    assert torch.allclose(got, y_b[:, :, None, None].expand(2, 3, 3, 3), atol=1e-9), (
        "a constant map normalises to 0, so the output is the style bias y_b everywhere")


@pytest.mark.points(2)
def test_adain_gradients(ex):
    x, y_s, y_b = _adain_inputs((2, 3, 4, 5), seed=30)
    x, y_s, y_b = (t.clone().requires_grad_(True) for t in (x, y_s, y_b))
    upstream = _randn(2, 3, 4, 5, seed=35)
    got = _tensor(_run(ex, "adain", x, y_s, y_b), (2, 3, 4, 5), "adain")
    assert got.requires_grad, "the output must keep its graph: no .detach() or torch.no_grad()"
    (got * upstream).sum().backward()
    assert x.grad is not None and y_s.grad is not None and y_b.grad is not None, (
        "no gradient reached " + ", ".join(n for n, t in (("x", x), ("style_scale", y_s), ("style_bias", y_b))
                                           if t.grad is None))
    # closed forms, sigma = sqrt(var + eps) and n_hat = (x - mean) / sigma per map: d/dy_b = sum of the upstream
    # gradient g, d/dy_s = sum of g n_hat, d/dx = y_s / sigma (g - mean(g) - n_hat mean(g n_hat))
    xd = x.detach()
    mu = xd.mean(dim=(2, 3), keepdim=True)
    sigma = torch.sqrt(((xd - mu) ** 2).mean(dim=(2, 3), keepdim=True) + 1e-8)
    n_hat = (xd - mu) / sigma
    g = upstream
    assert torch.allclose(y_b.grad, g.sum(dim=(2, 3)), atol=1e-10), "wrong gradient for style_bias: sum of g per map"
    assert torch.allclose(y_s.grad, (g * n_hat).sum(dim=(2, 3)), atol=1e-10), (
        "wrong gradient for style_scale: sum of g (x - mean) / sigma per map")
    expected_x = y_s.detach()[:, :, None, None] / sigma * (
        g - g.mean(dim=(2, 3), keepdim=True) - n_hat * (g * n_hat).mean(dim=(2, 3), keepdim=True))
    assert torch.allclose(x.grad, expected_x, atol=1e-10), (
        "wrong gradient for x: the mean and the variance must stay in the graph (no .detach() of the statistics)")


@pytest.mark.points(1)
def test_adain_keeps_the_dtype_and_the_inputs(ex):
    for dtype in (F64, torch.float32):
        x, y_s, y_b = (t.to(dtype) for t in _adain_inputs((2, 3, 4, 3), seed=40))
        before = [t.clone() for t in (x, y_s, y_b)]
        got = _tensor(_run(ex, "adain", x, y_s, y_b), (2, 3, 4, 3), "adain")
        assert got.dtype == dtype, f"{dtype} in, {got.dtype} out: keep the input's dtype"
        _unchanged(before, (x, y_s, y_b), ("x", "style_scale", "style_bias"))
        error = _max_error(got, _adain_reference(*(t.to(F64) for t in before)))
        assert error < (1e-10 if dtype == F64 else 1e-4), f"{dtype}: largest difference {error:.3g} from the reference"


@pytest.mark.points(1)
def test_adain_is_your_own(ex):
    _assert_own_work(ex, "adain", *_adain_inputs((2, 3, 4, 4), seed=50))


# ---------------------------------------------------------------------------------------------
# Exercise 2: modulated_conv2d
# ---------------------------------------------------------------------------------------------


def _modconv_reference(x, weight, styles, demodulate, padding, eps=1e-8):
    """The definition, one sample at a time, in float64: w'_ijk = s_i w_ijk (Eq. 1), each output channel j
    divided by sqrt(sum over (i, k) of w'_ijk^2 + eps) (Eq. 3), then an ordinary convolution."""
    outs = []
    for b in range(x.shape[0]):
        w = weight * styles[b][None, :, None, None]  # (C_out, C_in, k, k): input channel i scaled by s_i
        if demodulate:
            sums = torch.stack([w[j].square().sum() for j in range(w.shape[0])])  # (C_out,)
            w = w / torch.sqrt(sums + eps)[:, None, None, None]
        outs.append(nnf.conv2d(x[b:b + 1], w, padding=padding))
    return torch.cat(outs)


def _modconv_inputs(B, C_in, C_out, H, W, k, seed, weight_scale=1.0, signed_styles=False):
    x = _randn(B, C_in, H, W, seed=seed)
    weight = _randn(C_out, C_in, k, k, seed=seed + 1) * weight_scale
    styles = _randn(B, C_in, seed=seed + 2) if signed_styles else _rand(B, C_in, seed=seed + 2) * 1.5 + 0.2
    return x, weight, styles


# (B, C_in, C_out, H, W, k, padding, demodulate, eps, weight scale, styles of both signs)
MODCONV_CASES = [
    (3, 4, 6, 8, 7, 3, 1, True, 1e-8, 1.0, False),
    (1, 5, 2, 6, 9, 5, 2, True, 1e-8, 1.0, True),
    (2, 3, 3, 5, 5, 1, 0, True, 1e-8, 1.0, False),
    (4, 2, 5, 7, 6, 3, 0, False, 1e-8, 1.0, True),
    (2, 6, 3, 4, 5, 5, 2, False, 1e-8, 1.0, False),
    (2, 3, 4, 6, 5, 3, 1, True, 0.5, 0.15, False),  # small weights and a large eps: eps matters
    (3, 4, 4, 5, 6, 3, 1, True, 1e-8, 1.0, True),
]
MODCONV_IDS = ["3x3_pad1", "one_sample_5x5_pad2", "1x1_pad0", "no_demod_3x3_pad0", "no_demod_5x5_pad2",
               "large_eps", "square_channels"]


@pytest.mark.points(1)
@pytest.mark.parametrize("case", MODCONV_CASES, ids=MODCONV_IDS)
def test_modulated_conv2d_matches_per_sample_reference(ex, case):
    B, C_in, C_out, H, W, k, padding, demodulate, eps, scale, signed = case
    x, weight, styles = _modconv_inputs(B, C_in, C_out, H, W, k, sum(case[:6]), scale, signed)
    got = _run(ex, "modulated_conv2d", x, weight, styles, demodulate=demodulate, padding=padding, eps=eps)
    expected = _modconv_reference(x, weight, styles, demodulate, padding, eps)
    _tensor(got, expected.shape, f"x {tuple(x.shape)}, weight {tuple(weight.shape)}, padding {padding}")
    error = _max_error(got, expected)
    assert error < 1e-10, (
        f"x {tuple(x.shape)}, weight {tuple(weight.shape)}, padding {padding}, demodulate {demodulate}, eps {eps:g}: "
        f"largest difference {error:.3g} from the per-sample definition: sample b's weights s_i w_ijk (the styles "
        "scale the INPUT channels, weight's axis 1), "
        + ("each output channel j divided by sqrt(sum over (C_in, k, k) of w'^2 + eps), " if demodulate else
           "no demodulation, ") + "then sample b convolved with its own weights only")


@pytest.mark.points(1)
def test_modulated_conv2d_defaults(ex):
    x, weight, styles = _modconv_inputs(2, 3, 4, 5, 6, 3, seed=60)
    got = _run(ex, "modulated_conv2d", x, weight, styles)
    expected = _modconv_reference(x, weight, styles, True, 1)
    _tensor(got, expected.shape, "the defaults (padding 1, a 3x3 kernel keeps H and W)")
    error = _max_error(got, expected)
    assert error < 1e-10, f"the defaults demodulate=True, padding=1, eps=1e-8: largest difference {error:.3g}"


@pytest.mark.points(1)
@pytest.mark.parametrize("demodulate", [True, False], ids=["demodulated", "modulated_only"])
def test_modulated_conv2d_1x1_closed_form(ex, demodulate):
    """A 1x1 kernel is a per-pixel matrix product: out[b, j] = sum_i w''_bji x[b, i], written as a contraction."""
    x, weight, styles = _modconv_inputs(3, 4, 2, 5, 6, 1, seed=70, signed_styles=True)
    w = weight[:, :, 0, 0][None] * styles[:, None, :]  # (B, C_out, C_in): w'_bji = s_bi w_ji
    if demodulate:
        w = w / torch.sqrt(w.square().sum(dim=2, keepdim=True) + 1e-8)
    interior = torch.einsum("bji,bihw->bjhw", w, x)
    expected = nnf.pad(interior, (1, 1, 1, 1))  # padding 1 around a 1x1 convolution: a border of zeros
    got = _run(ex, "modulated_conv2d", x, weight, styles, demodulate=demodulate, padding=1)
    _tensor(got, (3, 2, 7, 8), "1x1 kernel, padding 1: H + 2 and W + 2")
    error = _max_error(got, expected)
    assert error < 1e-10, (
        f"1x1 kernel, padding 1, demodulate {demodulate}: largest difference {error:.3g} from out[b, j] = sum_i "
        "s_bi w_ji x[b, i]" + (" / sqrt(sum_i (s_bi w_ji)^2 + eps)" if demodulate else "")
        + ", zeros on the padded border")


@pytest.mark.points(1)
def test_modulated_conv2d_demodulation_ignores_a_samples_style_scale(ex):
    x, weight, styles = _modconv_inputs(3, 4, 5, 6, 6, 3, seed=80)
    factor = torch.tensor([[1.0], [5.0], [0.1]], dtype=F64)  # one positive constant per sample
    base = _run(ex, "modulated_conv2d", x, weight, styles).detach()
    scaled = _run(ex, "modulated_conv2d", x, weight, styles * factor).detach()
    # eps = 1e-8 against sums of w'^2 of at least ~0.1 (factor 0.1): the outputs move by < 1e-6
    assert torch.allclose(scaled, base, atol=1e-6), (
        "with demodulation, scaling all of a sample's styles by a positive constant must not change its output "
        "(Eq. 3 divides it out)")
    base = _run(ex, "modulated_conv2d", x, weight, styles, demodulate=False).detach()
    scaled = _run(ex, "modulated_conv2d", x, weight, styles * factor, demodulate=False).detach()
    assert torch.allclose(scaled, base * factor[:, :, None, None], rtol=1e-10, atol=1e-12), (
        "with demodulate=False the output must scale with the styles: skip Eq. 3 then")


@pytest.mark.points(1)
def test_modulated_conv2d_unit_variance_outputs(ex):
    x, weight, styles = _randn(8, 64, 16, 16, seed=90), _randn(32, 64, 3, 3, seed=91), _rand(8, 64, seed=92) * 3
    out = _run(ex, "modulated_conv2d", x, weight, styles, padding=0)
    _tensor(out, (8, 32, 14, 14), "padding 0, 3x3 kernel")
    out = out.detach().to(F64)
    # Each output is a combination of independent unit-variance inputs whose squared coefficients sum to 1
    # after demodulation, so it has variance 1 exactly; the estimate over 50,176 correlated outputs (neighbours
    # and channels share inputs) spreads by about 0.004 across seeds (0.012 per sample, 6,272 outputs each):
    # the tolerances are 7 and 5 of those. Without demodulation, or with a wrong one, the std is far from 1.
    std = out.std().item()
    assert abs(std - 1) < 0.03, f"unit-variance inputs should give outputs of std about 1 (Eq. 2), got {std:.4f}"
    per_sample = out.flatten(1).std(dim=1)
    worst = (per_sample - 1).abs().max().item()
    assert worst < 0.06, f"every sample's outputs should have std about 1, one is off by {worst:.3f}"


@pytest.mark.points(1)
@pytest.mark.parametrize("case", [(2, 3, 4, 5, 6, 3, 1, True), (3, 4, 2, 4, 4, 1, 0, False)],
                         ids=["demodulated_3x3", "modulated_only_1x1"])
def test_modulated_conv2d_gradients(ex, case):
    B, C_in, C_out, H, W, k, padding, demodulate = case
    inputs = [t.requires_grad_(True) for t in _modconv_inputs(B, C_in, C_out, H, W, k, seed=100, signed_styles=True)]
    expected_out = _modconv_reference(*inputs, demodulate, padding)
    upstream = _randn(*expected_out.shape, seed=105)
    expected = torch.autograd.grad((expected_out * upstream).sum(), inputs)
    got = _tensor(_run(ex, "modulated_conv2d", *inputs, demodulate=demodulate, padding=padding), expected_out.shape,
                  "modulated_conv2d")
    assert got.requires_grad, "the output must keep its graph: no .detach() or torch.no_grad()"
    (got * upstream).sum().backward()
    for name, tensor, grad in zip(("x", "weight", "styles"), inputs, expected):
        assert tensor.grad is not None, f"no gradient reached {name}"
        error = _max_error(tensor.grad, grad)
        assert error < 1e-10, (
            f"wrong gradient for {name} (largest difference {error:.3g}): everything, the demodulation sums "
            "included, must stay in the graph")


@pytest.mark.points(1)
def test_modulated_conv2d_keeps_the_dtype_and_the_inputs(ex):
    for dtype in (F64, torch.float32):
        x, weight, styles = (t.to(dtype) for t in _modconv_inputs(2, 3, 4, 5, 5, 3, seed=110))
        before = [t.clone() for t in (x, weight, styles)]
        got = _tensor(_run(ex, "modulated_conv2d", x, weight, styles), (2, 4, 5, 5), "modulated_conv2d")
        assert got.dtype == dtype, f"{dtype} in, {got.dtype} out: keep the input's dtype"
        _unchanged(before, (x, weight, styles), ("x", "weight", "styles"))
        error = _max_error(got, _modconv_reference(*(t.to(F64) for t in before), True, 1))
        assert error < (1e-10 if dtype == F64 else 1e-4), f"{dtype}: largest difference {error:.3g} from the reference"


@pytest.mark.points(1)
def test_modulated_conv2d_is_your_own(ex):
    _assert_own_work(ex, "modulated_conv2d", *_modconv_inputs(2, 3, 4, 5, 5, 3, seed=120))
    _run(ex, "modulated_conv2d", *_modconv_inputs(2, 3, 4, 5, 5, 1, seed=121), demodulate=False, padding=0)


# ---------------------------------------------------------------------------------------------
# Exercise 3: orthogonal_regularization
# ---------------------------------------------------------------------------------------------


def _ortho_reference(weight, beta, off_diagonal):
    """beta times the sum over pairs of filters (rows of weight.reshape(out, -1)) of the squared entries of
    G - I (full) or of G off its diagonal, G[a, b] = <filter a, filter b>, written as a double sum."""
    rows = [weight[a].flatten() for a in range(weight.shape[0])]
    total = torch.zeros((), dtype=F64)
    for a, row_a in enumerate(rows):
        for b, row_b in enumerate(rows):
            dot = (row_a * row_b).sum()
            if a != b:
                total = total + dot ** 2
            elif not off_diagonal:
                total = total + (dot - 1) ** 2
    return beta * total


def _scalar(got, what):
    assert isinstance(got, torch.Tensor), f"{what}: expected a scalar tensor, got {type(got).__name__}"
    assert got.ndim == 0, f"{what}: expected a scalar tensor, got shape {tuple(got.shape)}"
    return got


def _close(got, expected, rel=1e-9):
    return abs(got - expected) <= rel * abs(expected) + 1e-13


# dense (out, in) and convolution (out, in, k, k) weights; out > in * k * k in some, so the full form cannot reach 0
ORTHO_SHAPES = [(5, 3), (3, 7), (4, 4), (4, 2, 3, 3), (6, 1, 2, 2)]


@pytest.mark.points(1)
@pytest.mark.parametrize("shape", ORTHO_SHAPES, ids=["dense_5x3", "dense_3x7", "dense_4x4", "conv_4x2x3x3",
                                                     "conv_6x1x2x2"])
def test_orthogonal_regularization_explicit_sums(ex, shape):
    weight = _randn(*shape, seed=sum(shape)) * 0.6 + 0.1
    for off_diagonal, beta in ((True, 0.3), (False, 0.7)):
        got = _scalar(_run(ex, "orthogonal_regularization", weight, beta, off_diagonal), f"weight {shape}").item()
        expected = _ortho_reference(weight, beta, off_diagonal).item()
        form = "beta ||G * (1 - I)||_F^2" if off_diagonal else "beta ||G - I||_F^2"
        assert _close(got, expected), (
            f"weight {shape}, beta {beta}, off_diagonal={off_diagonal}: got {got:.8g}, expected {expected:.8g} = "
            f"{form} with G = W W^T (out x out), W = weight.reshape(out, -1): one filter per row, all of "
            "(in, k, k) in it, squared entries summed")


@pytest.mark.points(1)
def test_orthogonal_regularization_small_examples(ex):
    q, _ = torch.linalg.qr(_randn(6, 6, seed=130))
    for off_diagonal in (True, False):
        got = _scalar(_run(ex, "orthogonal_regularization", q, 1.0, off_diagonal), "orthonormal filters").item()
        assert abs(got) < 1e-12, f"orthonormal filters: both forms are 0, got {got:.3g} (off_diagonal={off_diagonal})"
    got = _scalar(_run(ex, "orthogonal_regularization", 2 * q, 0.5, True), "norm 2").item()
    assert abs(got) < 1e-10, f"orthogonal filters of norm 2: the off-diagonal form is 0 (norms are free), got {got:.4g}"
    got = _scalar(_run(ex, "orthogonal_regularization", 2 * q, 0.5, False), "norm 2").item()
    assert _close(got, 27.0), (
        f"orthogonal filters of norm 2, full form, beta 0.5: expected 0.5 * 6 * (4 - 1)^2 = 27, got {got:.6g} "
        "(54: beta missing; 13.5: beta squared; 3.67: the norm not squared)")
    w = torch.tensor([[1.0, 0.0, 0.0], [1.0, 2.0, 0.0]], dtype=F64)  # G = W W^T = [[1, 1], [1, 5]]
    got = [_scalar(_run(ex, "orthogonal_regularization", w, 0.5, d), "2 filters").item() for d in (True, False)]
    assert _close(got[0], 1.0) and _close(got[1], 9.0), (
        f"filters (1, 0, 0) and (1, 2, 0), G = W W^T = [[1, 1], [1, 5]], beta 0.5: expected 0.5 (1 + 1) = 1 "
        f"(off-diagonal) and 0.5 (0 + 1 + 1 + 16) = 9 (full), got {got[0]:.6g} and {got[1]:.6g} (4 and 9.5: "
        "W^T W, the Gram matrix of columns; 14 off-diagonal: the diagonal kept)")


@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(3, 5), (4, 2, 2, 2)], ids=["dense", "conv"])
def test_orthogonal_regularization_orthonormal_rows_not_columns(ex, shape):
    """Fewer filters than inputs: rows can be orthonormal while the columns cannot."""
    n = int(torch.tensor(shape[1:]).prod())
    q, _ = torch.linalg.qr(_randn(n, n, seed=140 + n))
    weight = q[:shape[0]].reshape(shape)  # out orthonormal rows of length in * k * k
    for off_diagonal in (True, False):
        got = _scalar(_run(ex, "orthogonal_regularization", weight, 1.0, off_diagonal), f"weight {shape}").item()
        assert abs(got) < 1e-12, (
            f"weight {shape} whose {shape[0]} filters (rows of weight.reshape(out, -1)) are orthonormal: expected 0, "
            f"got {got:.4g} (off_diagonal={off_diagonal}): the Gram matrix is W W^T over filters, not W^T W over "
            "input columns, and each filter holds every (in, k, k) entry")


@pytest.mark.points(1)
def test_orthogonal_regularization_defaults(ex):
    weight = _randn(4, 3, 2, 2, seed=150)
    got = _scalar(_run(ex, "orthogonal_regularization", weight), "defaults").item()
    expected = _ortho_reference(weight, 1e-4, True).item()
    assert _close(got, expected), (
        f"the defaults beta=1e-4, off_diagonal=True (BigGAN's): expected {expected:.8g}, got {got:.8g}")
    got = _scalar(_run(ex, "orthogonal_regularization", weight, off_diagonal=False), "off_diagonal=False").item()
    expected = _ortho_reference(weight, 1e-4, False).item()
    assert _close(got, expected), f"beta=1e-4 by default, off_diagonal=False: expected {expected:.8g}, got {got:.8g}"


@pytest.mark.points(1)
@pytest.mark.parametrize("shape", [(4, 6), (5, 3, 2, 2)], ids=["dense", "conv"])
def test_orthogonal_regularization_gradients(ex, shape):
    for off_diagonal, beta in ((True, 0.3), (False, 0.2)):
        weight = (_randn(*shape, seed=160 + len(shape)) * 0.5).requires_grad_(True)
        got = _scalar(_run(ex, "orthogonal_regularization", weight, beta, off_diagonal), f"weight {shape}")
        assert got.requires_grad, "the penalty must keep its graph: no .item(), .detach() or torch.no_grad()"
        got.backward()
        assert weight.grad is not None, "no gradient reached the weight"
        W = weight.detach().reshape(shape[0], -1)
        gram, eye = W @ W.t(), torch.eye(shape[0], dtype=F64)
        expected = 4 * beta * ((gram * (1 - eye)) if off_diagonal else (gram - eye)) @ W  # d/dW of beta ||.||_F^2
        error = _max_error(weight.grad.reshape(shape[0], -1), expected)
        assert error < 1e-12, (
            f"weight {shape}, off_diagonal={off_diagonal}: the gradient is off by {error:.3g} from 4 beta "
            + ("(G * (1 - I)) W" if off_diagonal else "(G - I) W") + ", reshaped like the weight")


@pytest.mark.points(1)
def test_orthogonal_regularization_returns_a_scalar_tensor(ex):
    for dtype in (F64, torch.float32):
        weight = _randn(5, 2, 3, 3, seed=170, dtype=dtype)
        before = weight.clone()
        for off_diagonal in (True, False):
            got = _scalar(_run(ex, "orthogonal_regularization", weight, 0.5, off_diagonal), f"{dtype}")
            assert got.dtype == dtype, f"{dtype} in, {got.dtype} out: keep the weight's dtype"
            assert torch.equal(weight, before), "the weight was modified in place"
            expected = _ortho_reference(before.to(F64), 0.5, off_diagonal).item()
            assert _close(got.item(), expected, 1e-9 if dtype == F64 else 1e-5), (
                f"{dtype}, off_diagonal={off_diagonal}: expected {expected:.8g}, got {got.item():.8g}")


@pytest.mark.points(1)
def test_orthogonal_regularization_is_your_own(ex):
    _assert_own_work(ex, "orthogonal_regularization", _randn(4, 3, 2, 2, seed=180), 1e-4, True)
    _run(ex, "orthogonal_regularization", _randn(4, 3, seed=181), 1e-4, False)
