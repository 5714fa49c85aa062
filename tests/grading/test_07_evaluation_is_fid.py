"""Grading tests of notebook 07 (evaluating GANs): the Inception Score, Gaussian statistics and the
Fréchet distance, the Kernel Inception Distance, k-NN precision (and recall, the same function swapped),
the truncated normal.

Truths come from closed forms (IS bounds and a two-image example, the mean and covariance of a square's
corners, FID of equal or diagonal covariances and of 2 x 2 matrices, an unbiased MMD^2 small enough to do
by hand, precision on points of a line, the truncated normal's variance and distribution function), from
brute-force references written here (KID as explicit sums over pairs) and from ganlib's implementations
in ``ganlib.metrics``.

Delegation. Every call of a submitted function goes through :func:`_run`, which disables ganlib's
references of this notebook for the duration of the call (``metrics.inception_score``,
``metrics.gaussian_stats``, ``metrics.frechet_distance`` and its ``_trace_sqrt_product``,
``metrics.kernel_inception_distance`` and its ``_mmd2_unbiased_polynomial``, ``metrics.precision_recall``
and its ``_knn_radii`` and ``_fraction_inside``, ``ganlib.train.truncated_normal``): a call is caught
however the submission reached the function (``from ganlib.metrics import ...``, ``metrics.x``,
``ganlib.metrics.x``, an import inside the function, ``metrics.digit_scores``, which calls them), even
when it swallows the error, so an exercise answered by calling ganlib's reference earns nothing
(DESIGN: Notebooks). Each exercise also has ``test_<exercise>_is_your_own``, which adds a static check
(a reference bound to a global name the function uses), names the problem, and checks the result too, so
that no test of this file passes a no-op. NumPy, SciPy and PyTorch are allowed (``np.cov``,
``scipy.linalg.sqrtm``, ``torch.cdist``, ...).
"""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from ganlib import metrics
from ganlib import train as ganlib_train

from _delegation import Delegation

NOTEBOOK = "07_evaluation_is_fid"

# ganlib's references of this notebook -> the exercise function that must not call them
FORBIDDEN = {
    "ganlib.metrics.inception_score": ("inception_score", metrics.inception_score),
    "ganlib.metrics.gaussian_stats": ("gaussian_stats", metrics.gaussian_stats),
    "ganlib.metrics.frechet_distance": ("frechet_distance", metrics.frechet_distance),
    "ganlib.metrics._trace_sqrt_product": ("frechet_distance", metrics._trace_sqrt_product),
    "ganlib.metrics.kernel_inception_distance": ("kid", metrics.kernel_inception_distance),
    "ganlib.metrics._mmd2_unbiased_polynomial": ("kid", metrics._mmd2_unbiased_polynomial),
    "ganlib.metrics.precision_recall": ("manifold_precision", metrics.precision_recall),
    "ganlib.metrics._knn_radii": ("manifold_precision", metrics._knn_radii),
    "ganlib.metrics._fraction_inside": ("manifold_precision", metrics._fraction_inside),
    "ganlib.train.truncated_normal": ("truncated_normal", ganlib_train.truncated_normal),
}
EXERCISE_NUMBER = {"inception_score": "7.1", "gaussian_stats": "7.2", "frechet_distance": "7.3", "kid": "7.4",
                   "manifold_precision": "7.5", "truncated_normal": "7.6"}
DELEGATION = Delegation(FORBIDDEN, EXERCISE_NUMBER)
_run = DELEGATION.run


def _own_work(ex, name, *args, **kwargs):
    """The static check (no reference bound to a global name the function uses), then the call with every reference
    disabled; the result is returned so that the test also checks it (a no-op earns no point here either)."""
    DELEGATION.assert_no_bound_references(ex, name)
    return _run(ex, name, *args, **kwargs)


def _rng(seed):
    return np.random.default_rng(seed)


def _float(got, what):
    assert isinstance(got, float), f"{what}: expected a Python float, got {type(got).__name__}"
    return got


# ---------------------------------------------------------------------------------------------
# Exercise 1: inception_score
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.parametrize("n, k, concentration", [(500, 10, 0.3), (200, 2, 1.0), (64, 1000, 0.05), (1000, 10, 5.0)])
def test_inception_score_matches_ganlib(ex, n, k, concentration):
    probs = _rng(n + k).dirichlet(np.full(k, concentration), size=n)  # (n, k) rows on the simplex
    got = _float(_run(ex, "inception_score", probs), "inception_score")
    assert got == pytest.approx(metrics.inception_score(probs, splits=1)[0], rel=1e-9), (
        "IS = exp(mean over the images of KL(p(y|x) || p(y))), p(y) the mean of the rows, natural logs, all N "
        "rows at once (no splits)")


@pytest.mark.points(2)
def test_inception_score_bounds_are_reached(ex):
    score = lambda p: _run(ex, "inception_score", p)  # noqa: E731
    assert score(np.tile([0.5, 0.3, 0.2], (40, 1))) == pytest.approx(1.0, abs=1e-12), "identical rows: IS = 1"
    assert score(np.full((30, 7), 1 / 7)) == pytest.approx(1.0, abs=1e-12), "uniform rows: IS = 1"
    for k in (2, 10, 100):
        one_hot = np.eye(k)[np.arange(20 * k) % k]  # confident and balanced
        assert score(one_hot) == pytest.approx(k, rel=1e-12), f"one-hot, {k} balanced classes: IS = {k}"
    only_three = np.eye(10)[np.arange(300) % 3]  # confident, 3 of 10 classes used
    assert score(only_three) == pytest.approx(3.0, rel=1e-12)


@pytest.mark.points(1)
def test_inception_score_small_closed_form_and_zero_probabilities(ex):
    # p(y) = (3/4, 1/4); KL = log(4/3) and (1/2) log(2/3) + (1/2) log 2; IS = (4/3)^(3/4)
    got = _run(ex, "inception_score", np.array([[1.0, 0.0], [0.5, 0.5]]))
    assert got == pytest.approx((4 / 3) ** 0.75, rel=1e-12), f"expected (4/3)^(3/4) = {(4 / 3) ** 0.75:.6f}, got {got}"
    sparse = np.eye(5)[[0, 0, 1, 2, 2, 2, 4]]  # exact zeros everywhere, class 3 never used
    got = _run(ex, "inception_score", sparse)
    assert math.isfinite(got), "0 log 0 must count as 0, not NaN"
    assert got == pytest.approx(metrics.inception_score(sparse, splits=1)[0], rel=1e-12)


@pytest.mark.points(1)
def test_inception_score_is_your_own(ex):
    probs = _rng(0).dirichlet(np.ones(4), size=20)
    got = _own_work(ex, "inception_score", probs)
    assert got == pytest.approx(metrics.inception_score(probs, splits=1)[0], rel=1e-9)


# ---------------------------------------------------------------------------------------------
# Exercise 2: gaussian_stats
# ---------------------------------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.parametrize("n, d", [(1000, 8), (3, 4), (200, 64)])
def test_gaussian_stats_matches_ganlib(ex, n, d):
    x = _rng(n * d).normal(size=(n, d)) @ _rng(d).normal(size=(d, d)) + 3.0  # correlated, nonzero mean
    mu, sigma = _run(ex, "gaussian_stats", x)
    ref_mu, ref_sigma = metrics.gaussian_stats(x) if n > d else (x.mean(0), np.cov(x, rowvar=False))
    assert np.shape(mu) == (d,) and np.shape(sigma) == (d, d), (
        f"expected shapes ({d},) and ({d}, {d}), got {np.shape(mu)} and {np.shape(sigma)}: one row per sample, "
        "features in the columns")
    np.testing.assert_allclose(mu, ref_mu, rtol=1e-12, atol=1e-12, err_msg="the mean of the rows")
    np.testing.assert_allclose(sigma, ref_sigma, rtol=1e-10, atol=1e-12, err_msg="unbiased covariance: divide by N - 1")


@pytest.mark.points(1)
def test_gaussian_stats_corners_of_a_square(ex):
    # the corners (0, 0), (2, 0), (0, 2), (2, 2): mean (1, 1); each coordinate's squares sum to 4 over 4 points,
    # the cross products to 0, so the unbiased covariance is 4/3 I (the biased one would be I)
    corners = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    mu, sigma = _run(ex, "gaussian_stats", corners)
    np.testing.assert_allclose(mu, [1.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(sigma, np.eye(2) * 4 / 3, atol=1e-15, err_msg="expected 4/3 I: divide by N - 1 = 3")
    # a line y = -x: perfectly anti-correlated coordinates
    mu, sigma = _run(ex, "gaussian_stats", np.array([[1.0, -1.0], [-1.0, 1.0], [3.0, -3.0]]))
    np.testing.assert_allclose(mu, [1.0, -1.0], atol=1e-15)
    np.testing.assert_allclose(sigma, [[4.0, -4.0], [-4.0, 4.0]], atol=1e-14)


@pytest.mark.points(1)
def test_gaussian_stats_is_float64(ex):
    x = _rng(1).normal(size=(500, 5)).astype(np.float32) * 1e3 + 1e4  # float32 input, large offset
    mu, sigma = _run(ex, "gaussian_stats", x)
    assert np.asarray(mu).dtype == np.float64 and np.asarray(sigma).dtype == np.float64, "return float64 arrays"
    np.testing.assert_allclose(sigma, np.cov(x.astype(np.float64), rowvar=False), rtol=1e-9)


@pytest.mark.points(1)
def test_gaussian_stats_is_your_own(ex):
    x = _rng(2).normal(size=(20, 3))
    mu, sigma = _own_work(ex, "gaussian_stats", x)
    np.testing.assert_allclose(mu, x.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Exercise 3: frechet_distance
# ---------------------------------------------------------------------------------------------


def _random_cov(d, seed, n=None):
    a = _rng(seed).normal(size=(n or 3 * d, d))
    return np.atleast_2d(np.cov(a, rowvar=False))


def _fid(ex, *args):
    return _float(_run(ex, "frechet_distance", *args), "frechet_distance")


@pytest.mark.points(1)
def test_frechet_distance_equal_covariances_is_squared_mean_distance(ex):
    for d in (1, 3, 20):
        S = _random_cov(d, d)
        m1, m2 = _rng(10 + d).normal(size=d), _rng(20 + d).normal(size=d)
        got = _fid(ex, m1, S, m2, S)
        assert got == pytest.approx(float((m1 - m2) @ (m1 - m2)), rel=1e-7, abs=1e-9), (
            f"d = {d}, equal covariances: FID = ||mu1 - mu2||^2 (squared, not the norm)")
    S = _random_cov(5, 7)
    assert _fid(ex, np.zeros(5), S, np.zeros(5), S) == pytest.approx(0.0, abs=1e-9), "FID(x, x) = 0"


@pytest.mark.points(1)
def test_frechet_distance_diagonal_and_two_by_two_closed_forms(ex):
    a, b = np.array([4.0, 9.0, 0.25, 2.0]), np.array([1.0, 4.0, 1.0, 8.0])
    expected = float(((np.sqrt(a) - np.sqrt(b)) ** 2).sum()) + 1.0  # plus ||(1, 0, 0, 0)||^2
    got = _fid(ex, np.eye(4)[0], np.diag(a), np.zeros(4), np.diag(b))
    assert got == pytest.approx(expected, rel=1e-10), "diagonal covariances: sum of (sqrt(a_i) - sqrt(b_i))^2"
    # 2 x 2, not commuting: Tr sqrt(M) = sqrt(Tr M + 2 sqrt(det M)) for M = S1 S2 with eigenvalues >= 0
    S1, S2 = np.array([[2.0, 0.8], [0.8, 1.0]]), np.array([[1.0, -0.3], [-0.3, 0.5]])
    M = S1 @ S2
    tr_sqrt = math.sqrt(np.trace(M) + 2 * math.sqrt(np.linalg.det(M)))
    expected = 0.5**2 + np.trace(S1) + np.trace(S2) - 2 * tr_sqrt
    assert _fid(ex, np.array([0.5, 0.0]), S1, np.zeros(2), S2) == pytest.approx(expected, rel=1e-10), (
        "S1 S2 not commuting: the trace term is Tr (S1 S2)^(1/2), the square root of the product")


@pytest.mark.points(2)
@pytest.mark.parametrize("d", [2, 16, 64])
def test_frechet_distance_matches_ganlib_on_full_rank_covariances(ex, d):
    m1, m2 = _rng(d).normal(size=d), _rng(d + 1).normal(size=d)
    S1, S2 = _random_cov(d, 2 * d), _random_cov(d, 2 * d + 1) * 2.0
    got = _fid(ex, m1, S1, m2, S2)
    assert got == pytest.approx(metrics.frechet_distance(m1, S1, m2, S2), rel=1e-6)
    assert _fid(ex, m2, S2, m1, S1) == pytest.approx(got, rel=1e-6), "FID is symmetric"


@pytest.mark.points(1)
def test_frechet_distance_with_singular_covariances(ex):
    """Features with dead units (always 0, as in the notebook's classifier): singular covariances.
    The dead coordinates add exactly 0, so the truth is the distance on the live coordinates."""
    rng = _rng(3)
    live1, live2 = rng.normal(size=(300, 10)), rng.normal(size=(300, 10)) * 1.5 + 0.2
    dead = np.zeros((300, 6))
    f1, f2 = np.hstack([live1, dead]), np.hstack([live2, dead])  # (300, 16), rank 10
    stats1 = f1.mean(0), np.cov(f1, rowvar=False)
    stats2 = f2.mean(0), np.cov(f2, rowvar=False)
    expected = metrics.frechet_distance(*metrics.gaussian_stats(live1), *metrics.gaussian_stats(live2))
    got = _fid(ex, *stats1, *stats2)
    assert math.isfinite(got) and got == pytest.approx(expected, rel=1e-4), f"dead units: expected {expected:.6f}"
    # the same features turned by an orthonormal map into 16 dimensions: the null space is no longer along the
    # axes, the distance does not change, and round-off makes some eigenvalues of S1 S2 slightly negative
    Q, _ = np.linalg.qr(_rng(4).normal(size=(16, 10)))  # (16, 10), orthonormal columns
    g1, g2 = live1 @ Q.T, live2 @ Q.T  # (300, 16), rank 10
    got = _fid(ex, g1.mean(0), np.cov(g1, rowvar=False), g2.mean(0), np.cov(g2, rowvar=False))
    assert math.isfinite(got), "round-off makes some eigenvalues slightly negative: clip them to 0 before the root"
    assert got == pytest.approx(expected, rel=1e-4), f"a rotated null space: expected {expected:.6f}, got {got:.6f}"


@pytest.mark.points(1)
def test_frechet_distance_is_your_own(ex):
    S = _random_cov(3, 4)
    got = _own_work(ex, "frechet_distance", np.zeros(3), S, np.ones(3), 2 * S)
    # S and 2 S commute: Tr (2 S^2)^(1/2) = sqrt(2) Tr S, so FID = 3 + (3 - 2 sqrt 2) Tr S
    assert got == pytest.approx(3 + (3 - 2 * math.sqrt(2)) * np.trace(S), rel=1e-9)


# ---------------------------------------------------------------------------------------------
# Exercise 4: kid
# ---------------------------------------------------------------------------------------------


def _kid_reference(x, y):
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, as explicit sums over the pairs (Binkowski et al. 2018, Eq. 2,
    with sets of sizes m and n: Gretton et al. 2012, Eq. 3)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    m, n, d = len(x), len(y), x.shape[1]
    k = lambda a, b: (math.fsum(a * b) / d + 1.0) ** 3  # noqa: E731
    xx = math.fsum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = math.fsum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = math.fsum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def _kid(ex, x, y):
    return _float(_run(ex, "kid", x, y), "kid")


@pytest.mark.points(2)
def test_kid_closed_form_by_hand(ex):
    # d = 1, x = {0, 2}, y = {1, 1}, k(a, b) = (ab + 1)^3: the pairs i != j of x give k(0, 2) = 1, of y k(1, 1) = 8,
    # the cross pairs k(0, 1) = 1 and k(2, 1) = 27 (mean 14): MMD^2 = 1 + 8 - 2 * 14 = -19. With the diagonals
    # (k(0, 0) = 1, k(2, 2) = 125) the biased estimate would be 32 + 8 - 28 = 12.
    got = _kid(ex, np.array([[0.0], [2.0]]), np.array([[1.0], [1.0]]))
    assert got == pytest.approx(-19.0, abs=1e-12), (
        f"expected -19, got {got:g} (12: the diagonal terms k(x_i, x_i) were kept; unbiased means i != j)")
    # d = 2 normalises the dot product: x = {(1, 1), (-1, -1)}, y = {(1, -1), (-1, 1)}: a.b / 2 is -1 within x,
    # -1 within y, 0 across: (0)^3 + (0)^3 - 2 (1)^3 = -2
    got = _kid(ex, np.array([[1.0, 1.0], [-1.0, -1.0]]), np.array([[1.0, -1.0], [-1.0, 1.0]]))
    assert got == pytest.approx(-2.0, abs=1e-12), f"expected -2, got {got:g}: k(x, y) = (x.y / d + 1)^3, d features"


@pytest.mark.points(2)
@pytest.mark.parametrize("m, n, d, shift", [(7, 5, 3, 0.0), (12, 12, 16, 0.5), (4, 9, 2, 1.5), (30, 20, 8, 0.2)])
def test_kid_matches_the_sums_over_pairs(ex, m, n, d, shift):
    rng = _rng(100 * m + n + d)
    x, y = rng.normal(size=(m, d)), rng.normal(size=(n, d)) * 1.2 + shift
    expected = _kid_reference(x, y)
    assert _kid(ex, x, y) == pytest.approx(expected, rel=1e-9, abs=1e-12), (
        f"sets of {m} and {n} rows in {d} dimensions: sum k over the pairs i != j of each set, divided by "
        "m (m - 1) and n (n - 1), minus twice the mean of k over all m n cross pairs")
    assert _kid(ex, y, x) == pytest.approx(expected, rel=1e-9, abs=1e-12), "KID is symmetric in its two sets"


@pytest.mark.points(1)
@pytest.mark.parametrize("n, d", [(300, 64), (50, 10)])
def test_kid_matches_ganlib(ex, n, d):
    rng = _rng(n + d)
    x, y = np.abs(rng.normal(size=(n, d))), np.abs(rng.normal(size=(n, d))) * 1.1  # ReLU-like features
    expected = metrics.kernel_inception_distance(x, y, subsets=1, subset_size=n)[0]  # one subset: all of both sets
    assert _kid(ex, x, y) == pytest.approx(expected, rel=1e-8, abs=1e-12)


@pytest.mark.points(1)
def test_kid_is_computed_in_float64(ex):
    rng = _rng(7)
    x = (rng.normal(size=(200, 16)) + 5.0).astype(np.float32)  # float32 features far from 0: large kernel values
    y = (rng.normal(size=(150, 16)) + 5.0).astype(np.float32)
    xd, yd = x.astype(np.float64), y.astype(np.float64)
    k_xx, k_yy, k_xy = ((a @ b.T / 16 + 1) ** 3 for a, b in ((xd, xd), (yd, yd), (xd, yd)))
    expected = ((k_xx.sum() - np.trace(k_xx)) / (200 * 199) + (k_yy.sum() - np.trace(k_yy)) / (150 * 149)
                - 2 * k_xy.mean())  # MMD^2, small next to the kernel values it subtracts
    assert _kid(ex, x, y) == pytest.approx(expected, rel=1e-6, abs=1e-9), (
        "float32 loses the difference of the large kernel means: convert the features to float64 first")


@pytest.mark.points(1)
def test_kid_is_your_own(ex):
    x, y = _rng(8).normal(size=(6, 3)), _rng(9).normal(size=(5, 3))
    assert _own_work(ex, "kid", x, y) == pytest.approx(_kid_reference(x, y), rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Exercise 5: manifold_precision
# ---------------------------------------------------------------------------------------------


LINE = np.arange(10.0)[:, None]  # real points 0..9 on a line
FAKES = np.array([[0.5], [4.2], [9.0], [10.0], [-1.0], [11.5], [-2.0], [20.0], [13.0], [-1.5]])


def _precision(ex, real, fake, *k):
    return _float(_run(ex, "manifold_precision", real, fake, *k), "manifold_precision")


@pytest.mark.points(2)
def test_manifold_precision_on_a_line(ex):
    # k = 1: every radius is 1 (10.0 and -1.0 lie exactly on a ball's edge, which counts as inside)
    assert _precision(ex, LINE, FAKES, 1) == pytest.approx(0.5), "k = 1: 5 of the 10 fakes lie in a ball (<= counts)"
    # k = 2: inner radii stay 1, the two end points' radii become 2
    assert _precision(ex, LINE, FAKES, 2) == pytest.approx(0.7), "k = 2: the end points' radii become 2"
    # the point itself is not its own neighbour: in the plane, copies of the line moved sideways by 0.9
    # are all inside (radius 1), by 1.1 all outside; with radius 0 (self counted) none would be inside
    plane = np.hstack([LINE, np.zeros_like(LINE)])  # (10, 2)
    assert _precision(ex, plane, plane + [0.0, 0.9], 1) == pytest.approx(1.0), (
        "the radius is the distance to the k-th nearest OTHER real point (not counting the point itself)")
    assert _precision(ex, plane, plane + [0.0, 1.1], 1) == pytest.approx(0.0)


@pytest.mark.points(2)
@pytest.mark.parametrize("n_real, n_fake, d, k, shift", [(300, 200, 8, 3, 0.5), (150, 400, 2, 1, 1.0),
                                                         (500, 500, 32, 5, 0.2)])
def test_manifold_precision_and_recall_match_ganlib(ex, n_real, n_fake, d, k, shift):
    rng = _rng(n_real + d)
    real = rng.normal(size=(n_real, d))
    fake = rng.normal(size=(n_fake, d)) * 1.3 + shift
    precision, recall = metrics.precision_recall(real, fake, k=k)
    assert _precision(ex, real, fake, k) == pytest.approx(precision, abs=1e-12), "precision"
    assert _precision(ex, fake, real, k) == pytest.approx(recall, abs=1e-12), "recall: the sets swapped"


@pytest.mark.points(1)
def test_manifold_precision_default_k_is_3(ex):
    rng = _rng(11)
    real, fake = rng.normal(size=(200, 4)), rng.normal(size=(100, 4)) + 0.7
    got = _precision(ex, real, fake)
    assert got == pytest.approx(metrics.precision_recall(real, fake, k=3)[0], abs=1e-12)


@pytest.mark.points(1)
def test_manifold_precision_is_your_own(ex):
    real, fake = _rng(12).normal(size=(20, 3)), _rng(13).normal(size=(10, 3))
    got = _own_work(ex, "manifold_precision", real, fake, 2)
    assert got == pytest.approx(metrics.precision_recall(real, fake, k=2)[0], abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Exercise 6: truncated_normal
# ---------------------------------------------------------------------------------------------


def _truncated_variance(psi):
    return 1 - 2 * psi * stats.norm.pdf(psi) / (2 * stats.norm.cdf(psi) - 1)


def _draw(ex, n, dim, psi, seed):
    z = _run(ex, "truncated_normal", n, dim, psi, generator=torch.Generator().manual_seed(seed))
    assert isinstance(z, torch.Tensor) and tuple(z.shape) == (n, dim), f"expected a tensor of shape {(n, dim)}"
    return z


@pytest.mark.points(1)
def test_truncated_normal_shape_dtype_and_bound(ex):
    for n, dim, psi in [(1000, 100, 1.0), (7, 3, 0.1), (500, 128, 2.5)]:
        z = _draw(ex, n, dim, psi, seed=n)
        assert z.dtype == torch.float32, f"expected float32, got {z.dtype}"
        assert bool((z.abs() <= psi).all()), f"psi = {psi}: largest |z| = {z.abs().max():.4f}"
        # a continuous distribution puts no mass on the bound itself; clamping piles up there
        at_bound = int((z.abs() == psi).sum())
        assert at_bound == 0, (f"psi = {psi}: {at_bound} entries equal +-psi exactly: redraw the entries outside, "
                               "do not clamp them to the bound")
        if n * dim >= 10_000:  # so many draws come close to the bound (the chance of none above 0.95 psi is < 1e-9)
            assert float(z.abs().max()) > 0.95 * psi, f"psi = {psi}: largest |z| only {z.abs().max():.4f}"


@pytest.mark.points(2)
@pytest.mark.parametrize("psi", [0.5, 1.0, 2.0])
def test_truncated_normal_distribution(ex, psi):
    """Kolmogorov-Smirnov distance to N(0, 1) conditioned on [-psi, psi]: clipping (atoms at +-psi) or
    rescaling fails by far; a correct sampler sits below 2 / sqrt(n) except with probability < 0.001."""
    x = _draw(ex, 400, 250, psi, seed=int(10 * psi)).double().flatten().numpy()
    statistic = stats.kstest(x, stats.truncnorm(-psi, psi).cdf).statistic
    assert statistic < 2.0 / math.sqrt(len(x)), f"KS distance {statistic:.4f} to the truncated normal"
    se = math.sqrt(2 / len(x)) * _truncated_variance(psi)  # about the standard error of the variance
    assert x.var() == pytest.approx(_truncated_variance(psi), abs=5 * se + 1e-4)
    assert abs(x.mean()) < 5 * math.sqrt(_truncated_variance(psi) / len(x))


@pytest.mark.points(1)
def test_truncated_normal_without_truncation_is_the_normal(ex):
    x = _draw(ex, 400, 250, math.inf, seed=5).double().flatten().numpy()
    assert stats.kstest(x, "norm").statistic < 2.0 / math.sqrt(len(x)), "psi = inf: the plain standard normal"


@pytest.mark.points(1)
def test_truncated_normal_draws_from_the_generator(ex):
    torch.manual_seed(1)
    a = _draw(ex, 300, 50, 0.8, seed=42)
    torch.manual_seed(2)  # the global RNG must not matter
    b = _draw(ex, 300, 50, 0.8, seed=42)
    c = _draw(ex, 300, 50, 0.8, seed=43)
    assert torch.equal(a, b), "the same generator seed must give the same z (redraw with the generator too)"
    assert not torch.equal(a, c), "another seed must give another z"


@pytest.mark.points(1)
def test_truncated_normal_is_your_own(ex):
    z = _own_work(ex, "truncated_normal", 200, 5, 0.5, generator=torch.Generator().manual_seed(0))
    assert isinstance(z, torch.Tensor) and tuple(z.shape) == (200, 5), "expected a tensor of shape (200, 5)"
    assert bool((z.abs() <= 0.5).all()) and int((z.abs() == 0.5).sum()) == 0, "every |z_i| < psi = 0.5, none on it"
    assert float(z.abs().max()) > 0.45, "1,000 draws from N(0, 1) conditioned on |z| <= 0.5 come close to 0.5"
