"""Grading tests of notebook 07 (evaluating GANs): the Inception Score, Gaussian statistics and the
Fréchet distance, k-NN precision (and recall, the same function swapped), the truncated normal.

Truths come from closed forms (IS bounds, FID of equal or diagonal covariances and of 2 x 2
matrices, precision on points of a line, the truncated normal's variance and distribution
function) and from ganlib's reference implementations in ``ganlib.metrics``.
"""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from ganlib import metrics

NOTEBOOK = "07_evaluation_is_fid"


def _rng(seed):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------------
# Exercise 1: inception_score
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.parametrize("n, k, concentration", [(500, 10, 0.3), (200, 2, 1.0), (64, 1000, 0.05), (1000, 10, 5.0)])
def test_inception_score_matches_ganlib(ex, n, k, concentration):
    probs = _rng(n + k).dirichlet(np.full(k, concentration), size=n)  # (n, k) rows on the simplex
    got = ex.inception_score(probs)
    assert isinstance(got, float), f"expected a Python float, got {type(got).__name__}"
    assert got == pytest.approx(metrics.inception_score(probs, splits=1)[0], rel=1e-9)


@pytest.mark.points(2)
def test_inception_score_bounds_are_reached(ex):
    assert ex.inception_score(np.tile([0.5, 0.3, 0.2], (40, 1))) == pytest.approx(1.0, abs=1e-12), "identical rows: 1"
    assert ex.inception_score(np.full((30, 7), 1 / 7)) == pytest.approx(1.0, abs=1e-12), "uniform rows: 1"
    for k in (2, 10, 100):
        one_hot = np.eye(k)[np.arange(20 * k) % k]  # confident and balanced
        assert ex.inception_score(one_hot) == pytest.approx(k, rel=1e-12), f"one-hot, {k} balanced classes: IS = {k}"
    only_three = np.eye(10)[np.arange(300) % 3]  # confident, 3 of 10 classes used
    assert ex.inception_score(only_three) == pytest.approx(3.0, rel=1e-12)


@pytest.mark.points(1)
def test_inception_score_small_closed_form_and_zero_probabilities(ex):
    # p(y) = (3/4, 1/4); KL = log(4/3) and (1/2) log(2/3) + (1/2) log 2; IS = (4/3)^(3/4)
    assert ex.inception_score(np.array([[1.0, 0.0], [0.5, 0.5]])) == pytest.approx((4 / 3) ** 0.75, rel=1e-12)
    sparse = np.eye(5)[[0, 0, 1, 2, 2, 2, 4]]  # exact zeros everywhere, class 3 never used
    got = ex.inception_score(sparse)
    assert math.isfinite(got), "0 log 0 must count as 0, not NaN"
    assert got == pytest.approx(metrics.inception_score(sparse, splits=1)[0], rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Exercise 2: gaussian_stats, frechet_distance
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.parametrize("n, d", [(1000, 8), (3, 4), (200, 64)])
def test_gaussian_stats_matches_ganlib(ex, n, d):
    x = _rng(n * d).normal(size=(n, d)) @ _rng(d).normal(size=(d, d)) + 3.0  # correlated, nonzero mean
    mu, sigma = ex.gaussian_stats(x)
    ref_mu, ref_sigma = metrics.gaussian_stats(x) if n > d else (x.mean(0), np.cov(x, rowvar=False))
    assert np.shape(mu) == (d,) and np.shape(sigma) == (d, d), f"got shapes {np.shape(mu)} and {np.shape(sigma)}"
    np.testing.assert_allclose(mu, ref_mu, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sigma, ref_sigma, rtol=1e-10, atol=1e-12, err_msg="unbiased covariance: divide by N - 1")


@pytest.mark.points(1)
def test_gaussian_stats_is_float64(ex):
    x = _rng(1).normal(size=(500, 5)).astype(np.float32) * 1e3 + 1e4  # float32 input, large offset
    mu, sigma = ex.gaussian_stats(x)
    assert np.asarray(mu).dtype == np.float64 and np.asarray(sigma).dtype == np.float64
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-9)


def _random_cov(d, seed, n=None):
    a = _rng(seed).normal(size=(n or 3 * d, d))
    return np.atleast_2d(np.cov(a, rowvar=False))


@pytest.mark.points(1)
def test_frechet_equal_covariances_is_squared_mean_distance(ex):
    for d in (1, 3, 20):
        S = _random_cov(d, d)
        m1, m2 = _rng(10 + d).normal(size=d), _rng(20 + d).normal(size=d)
        got = ex.frechet_distance(m1, S, m2, S)
        assert got == pytest.approx(float((m1 - m2) @ (m1 - m2)), rel=1e-7, abs=1e-9)
    S = _random_cov(5, 7)
    assert ex.frechet_distance(np.zeros(5), S, np.zeros(5), S) == pytest.approx(0.0, abs=1e-9), "FID(x, x) = 0"


@pytest.mark.points(1)
def test_frechet_diagonal_and_two_by_two_closed_forms(ex):
    a, b = np.array([4.0, 9.0, 0.25, 2.0]), np.array([1.0, 4.0, 1.0, 8.0])
    expected = float(((np.sqrt(a) - np.sqrt(b)) ** 2).sum()) + 1.0  # plus ||(1, 0, 0, 0)||^2
    got = ex.frechet_distance(np.eye(4)[0], np.diag(a), np.zeros(4), np.diag(b))
    assert got == pytest.approx(expected, rel=1e-10)
    # 2 x 2, not commuting: Tr sqrt(M) = sqrt(Tr M + 2 sqrt(det M)) for M = S1 S2 with eigenvalues >= 0
    S1, S2 = np.array([[2.0, 0.8], [0.8, 1.0]]), np.array([[1.0, -0.3], [-0.3, 0.5]])
    M = S1 @ S2
    tr_sqrt = math.sqrt(np.trace(M) + 2 * math.sqrt(np.linalg.det(M)))
    expected = 0.5**2 + np.trace(S1) + np.trace(S2) - 2 * tr_sqrt
    assert ex.frechet_distance(np.array([0.5, 0.0]), S1, np.zeros(2), S2) == pytest.approx(expected, rel=1e-10)


@pytest.mark.points(2)
@pytest.mark.parametrize("d", [2, 16, 64])
def test_frechet_matches_ganlib_on_full_rank_covariances(ex, d):
    m1, m2 = _rng(d).normal(size=d), _rng(d + 1).normal(size=d)
    S1, S2 = _random_cov(d, 2 * d), _random_cov(d, 2 * d + 1) * 2.0
    got = ex.frechet_distance(m1, S1, m2, S2)
    assert isinstance(got, float), f"expected a Python float (real), got {type(got).__name__}"
    assert got == pytest.approx(metrics.frechet_distance(m1, S1, m2, S2), rel=1e-6)
    assert ex.frechet_distance(m2, S2, m1, S1) == pytest.approx(got, rel=1e-6), "FID is symmetric"


@pytest.mark.points(1)
def test_frechet_with_singular_covariances(ex):
    """Features with dead units (always 0, as in the notebook's classifier): singular covariances.
    The dead coordinates add exactly 0, so the truth is the distance on the live coordinates."""
    rng = _rng(3)
    live1, live2 = rng.normal(size=(300, 10)), rng.normal(size=(300, 10)) * 1.5 + 0.2
    dead = np.zeros((300, 6))
    f1, f2 = np.hstack([live1, dead]), np.hstack([live2, dead])  # (300, 16), rank 10
    stats1, stats2 = ex.gaussian_stats(f1), ex.gaussian_stats(f2)
    expected = metrics.frechet_distance(*metrics.gaussian_stats(live1), *metrics.gaussian_stats(live2))
    got = ex.frechet_distance(*stats1, *stats2)
    assert math.isfinite(got) and got == pytest.approx(expected, rel=1e-4)


# ---------------------------------------------------------------------------------------------
# Exercise 3: manifold_precision
# ---------------------------------------------------------------------------------------------


LINE = np.arange(10.0)[:, None]  # real points 0..9 on a line
FAKES = np.array([[0.5], [4.2], [9.0], [10.0], [-1.0], [11.5], [-2.0], [20.0], [13.0], [-1.5]])


@pytest.mark.points(2)
def test_precision_on_a_line(ex):
    # k = 1: every radius is 1 (10.0 and -1.0 lie exactly on a ball's edge, which counts as inside)
    assert ex.manifold_precision(LINE, FAKES, k=1) == pytest.approx(0.5)
    # k = 2: inner radii stay 1, the two end points' radii become 2
    assert ex.manifold_precision(LINE, FAKES, k=2) == pytest.approx(0.7)
    # the point itself is not its own neighbour: in the plane, copies of the line moved sideways by 0.9
    # are all inside (radius 1), by 1.1 all outside; with radius 0 (self counted) none would be inside
    plane = np.hstack([LINE, np.zeros_like(LINE)])  # (10, 2)
    assert ex.manifold_precision(plane, plane + [0.0, 0.9], k=1) == pytest.approx(1.0)
    assert ex.manifold_precision(plane, plane + [0.0, 1.1], k=1) == pytest.approx(0.0)


@pytest.mark.points(2)
@pytest.mark.parametrize("n_real, n_fake, d, k, shift", [(300, 200, 8, 3, 0.5), (150, 400, 2, 1, 1.0),
                                                         (500, 500, 32, 5, 0.2)])
def test_precision_and_recall_match_ganlib(ex, n_real, n_fake, d, k, shift):
    rng = _rng(n_real + d)
    real = rng.normal(size=(n_real, d))
    fake = rng.normal(size=(n_fake, d)) * 1.3 + shift
    precision, recall = metrics.precision_recall(real, fake, k=k)
    assert ex.manifold_precision(real, fake, k=k) == pytest.approx(precision, abs=1e-12)
    assert ex.manifold_precision(fake, real, k=k) == pytest.approx(recall, abs=1e-12)


@pytest.mark.points(1)
def test_precision_default_k_is_3_and_returns_a_float(ex):
    rng = _rng(11)
    real, fake = rng.normal(size=(200, 4)), rng.normal(size=(100, 4)) + 0.7
    got = ex.manifold_precision(real, fake)
    assert isinstance(got, float), f"expected a Python float, got {type(got).__name__}"
    assert got == pytest.approx(metrics.precision_recall(real, fake, k=3)[0], abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Exercise 4: truncated_normal
# ---------------------------------------------------------------------------------------------


def _truncated_variance(psi):
    return 1 - 2 * psi * stats.norm.pdf(psi) / (2 * stats.norm.cdf(psi) - 1)


@pytest.mark.points(1)
def test_truncated_normal_shape_dtype_and_bound(ex):
    for n, dim, psi in [(1000, 100, 1.0), (7, 3, 0.1), (500, 128, 2.5)]:
        z = ex.truncated_normal(n, dim, psi, generator=torch.Generator().manual_seed(n))
        assert isinstance(z, torch.Tensor) and tuple(z.shape) == (n, dim), f"expected a tensor of shape {(n, dim)}"
        assert z.dtype == torch.float32, f"expected float32, got {z.dtype}"
        assert bool((z.abs() <= psi).all()), f"psi = {psi}: largest |z| = {z.abs().max():.4f}"


@pytest.mark.points(2)
@pytest.mark.parametrize("psi", [0.5, 1.0, 2.0])
def test_truncated_normal_distribution(ex, psi):
    """Kolmogorov-Smirnov distance to N(0, 1) conditioned on [-psi, psi]: clipping (atoms at +-psi) or
    rescaling fails by far; a correct sampler sits below 2 / sqrt(n) except with probability < 0.001."""
    z = ex.truncated_normal(400, 250, psi, generator=torch.Generator().manual_seed(int(10 * psi)))
    x = z.double().flatten().numpy()
    statistic = stats.kstest(x, stats.truncnorm(-psi, psi).cdf).statistic
    assert statistic < 2.0 / math.sqrt(len(x)), f"KS distance {statistic:.4f} to the truncated normal"
    se = math.sqrt(2 / len(x)) * _truncated_variance(psi)  # about the standard error of the variance
    assert x.var() == pytest.approx(_truncated_variance(psi), abs=5 * se + 1e-4)
    assert abs(x.mean()) < 5 * math.sqrt(_truncated_variance(psi) / len(x))


@pytest.mark.points(1)
def test_truncated_normal_without_truncation_is_the_normal(ex):
    z = ex.truncated_normal(400, 250, math.inf, generator=torch.Generator().manual_seed(5))
    x = z.double().flatten().numpy()
    assert stats.kstest(x, "norm").statistic < 2.0 / math.sqrt(len(x))


@pytest.mark.points(1)
def test_truncated_normal_draws_from_the_generator(ex):
    torch.manual_seed(1)
    a = ex.truncated_normal(300, 50, 0.8, generator=torch.Generator().manual_seed(42))
    torch.manual_seed(2)  # the global RNG must not matter
    b = ex.truncated_normal(300, 50, 0.8, generator=torch.Generator().manual_seed(42))
    c = ex.truncated_normal(300, 50, 0.8, generator=torch.Generator().manual_seed(43))
    assert torch.equal(a, b), "the same generator seed must give the same z"
    assert not torch.equal(a, c), "another seed must give another z"
