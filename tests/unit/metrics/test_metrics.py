"""ganlib.metrics: closed forms and independent reference implementations, CPU only."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from ganlib import metrics


def _fid_reference(mu1, s1, mu2, s2) -> float:
    """The classic pytorch-fid formula with scipy's matrix square root (no `disp`: SciPy 1.18)."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def _random_spd(rng: np.random.Generator, d: int, eps: float = 0.1) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T / d + eps * np.eye(d)  # (d, d), eigenvalues >= eps


# ---------------------------------------------------------------------------------------------
# gaussian_stats
# ---------------------------------------------------------------------------------------------

def test_gaussian_stats_matches_numpy_for_tensor_and_array():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float32)
    for feats in (x, x.numpy()):
        mu, sigma = metrics.gaussian_stats(feats)
        assert mu.dtype == np.float64 and mu.shape == (4,) and sigma.shape == (4, 4)
        np.testing.assert_allclose(mu, x.double().mean(0).numpy(), rtol=1e-12)
        np.testing.assert_allclose(sigma, np.cov(x.double().numpy(), rowvar=False), rtol=1e-12)


def test_gaussian_stats_guards():
    with pytest.raises(ValueError, match="at least 2 samples"):
        metrics.gaussian_stats(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="2 dimensions"):
        metrics.gaussian_stats(np.zeros(5))
    with pytest.warns(UserWarning, match="singular.*at least 17 samples"):
        metrics.gaussian_stats(np.random.default_rng(0).standard_normal((8, 16)))


# ---------------------------------------------------------------------------------------------
# frechet_distance
# ---------------------------------------------------------------------------------------------

def test_frechet_matches_sqrtm_on_2048d_sample_covariances():
    # The realistic FID regime: 2048-d statistics estimated from 4096 samples of two different
    # Gaussians (condition number of the estimates ~ 30).
    rng = np.random.default_rng(1)
    d, n = 2048, 4096
    x = rng.standard_normal((n, d))
    y = rng.standard_normal((n, d)) * rng.uniform(0.5, 1.5, size=d) + 0.05  # other scales, shifted
    mu1, s1 = metrics.gaussian_stats(x)
    mu2, s2 = metrics.gaussian_stats(y)
    ours = metrics.frechet_distance(mu1, s1, mu2, s2)
    ref = _fid_reference(mu1, s1, mu2, s2)
    assert ours == pytest.approx(ref, rel=1e-10)


def test_frechet_matches_sqrtm_on_random_spd():
    # Well-conditioned random SPD covariances A A^T / d + eps I. d = 512 rather than 2048 keeps
    # the file fast: scipy's sqrtm alone takes ~16 s at d = 2048 on one core (the 2048-d case is
    # the test above and benchmarks/fid_speed.py).
    rng = np.random.default_rng(2)
    d = 512
    s1, s2 = _random_spd(rng, d), _random_spd(rng, d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    assert metrics.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_fid_reference(mu1, s1, mu2, s2), rel=1e-10)


def test_frechet_equal_covariances_is_mean_distance_and_symmetric():
    rng = np.random.default_rng(3)
    d = 64
    s = _random_spd(rng, d)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    expected = float(np.sum((mu1 - mu2) ** 2))
    assert metrics.frechet_distance(mu1, s, mu2, s) == pytest.approx(expected, rel=1e-10, abs=1e-10)
    assert metrics.frechet_distance(mu1, s, mu1, s) == pytest.approx(0.0, abs=1e-9)  # identical stats
    s2 = _random_spd(rng, d)
    assert metrics.frechet_distance(mu1, s, mu2, s2) == pytest.approx(
        metrics.frechet_distance(mu2, s2, mu1, s), rel=1e-10)


def test_frechet_one_dimensional_closed_form():
    # For N(m1, s1^2) and N(m2, s2^2): W2^2 = (m1 - m2)^2 + (s1 - s2)^2.
    m1, sd1, m2, sd2 = 0.3, 1.7, -1.1, 0.4
    expected = (m1 - m2) ** 2 + (sd1 - sd2) ** 2
    assert metrics.frechet_distance(np.array([m1]), np.array([[sd1**2]]), np.array([m2]),
                                    np.array([[sd2**2]])) == pytest.approx(expected, rel=1e-12)
    assert metrics.frechet_distance(m1, sd1**2, m2, sd2**2) == pytest.approx(expected, rel=1e-12)  # scalars


def test_frechet_dataset_with_itself_is_small_against_another_distribution():
    rng = np.random.default_rng(4)
    d = 16
    data = rng.standard_normal((20000, d)) @ rng.standard_normal((d, d))
    other = rng.standard_normal((10000, d)) * 1.5 + 0.5
    half1, half2 = metrics.gaussian_stats(data[:10000]), metrics.gaussian_stats(data[10000:])
    same = metrics.frechet_distance(*half1, *half2)
    different = metrics.frechet_distance(*half1, *metrics.gaussian_stats(other))
    assert same < 0.01 * different


def test_frechet_singular_covariance_warns_and_stays_finite():
    rng = np.random.default_rng(5)
    d = 64
    with pytest.warns(UserWarning, match="singular"):
        stats1 = metrics.gaussian_stats(rng.standard_normal((20, d)))  # rank 19 < 64
    with pytest.warns(UserWarning, match="singular"):
        stats2 = metrics.gaussian_stats(rng.standard_normal((30, d)) + 1.0)
    fid = metrics.frechet_distance(*stats1, *stats2)
    assert math.isfinite(fid) and fid > 0
    # Both singular factors give the same answer (eigh fallback when Cholesky fails).
    assert fid == pytest.approx(metrics.frechet_distance(*stats2, *stats1), rel=1e-8)


def test_frechet_shape_errors():
    mu, s = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match="same length"):
        metrics.frechet_distance(mu, s, np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="sigma2 must have shape"):
        metrics.frechet_distance(mu, s, mu, np.eye(2))
    with pytest.raises(ValueError, match="NaN"):
        metrics.frechet_distance(mu, s, mu, np.full((3, 3), np.nan))


# ---------------------------------------------------------------------------------------------
# inception_score
# ---------------------------------------------------------------------------------------------

def test_inception_score_identical_predictions_is_one():
    p = np.random.default_rng(6).dirichlet(np.ones(10))
    mean, std = metrics.inception_score(np.tile(p, (200, 1)), splits=10)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_inception_score_confident_balanced_is_num_classes():
    k = 10
    probs = torch.eye(k).repeat(50, 1)  # (500, 10): one-hot, classes cycling, every split balanced
    mean, std = metrics.inception_score(probs, splits=10)
    assert mean == pytest.approx(k, rel=1e-12) and std == pytest.approx(0.0, abs=1e-9)
    # Slightly soft predictions still score close to K, and less than K.
    soft = 0.98 * np.eye(k) + 0.02 / k
    mean_soft, _ = metrics.inception_score(np.tile(soft, (50, 1)), splits=10)
    assert 0.85 * k < mean_soft < k


def test_inception_score_blind_to_within_class_collapse():
    # A "generator" that emits one confident image per class, repeated: its predictions are the
    # same as those of a diverse generator with one confident class per image, so IS = K.
    k, reps = 5, 40
    one_image_per_class = np.eye(k)  # (K, K): image c is classified as class c
    collapsed = np.tile(one_image_per_class, (reps, 1))  # (K * reps, K)
    mean, _ = metrics.inception_score(collapsed, splits=4)
    assert mean == pytest.approx(k, rel=1e-12)


def test_inception_score_guards():
    with pytest.raises(ValueError, match="softmax"):
        metrics.inception_score(np.random.default_rng(0).standard_normal((20, 3)), splits=2)
    with pytest.raises(ValueError, match="one sample per split"):
        metrics.inception_score(np.eye(3), splits=10)


# ---------------------------------------------------------------------------------------------
# kernel_inception_distance
# ---------------------------------------------------------------------------------------------

def _mmd2_reference(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> float:
    """Unbiased MMD^2 with full kernel matrices, written out term by term."""
    m, d = x.shape
    gamma = 1.0 / d
    k = lambda a, b: (gamma * a @ b.T + coef0) ** degree  # noqa: E731
    k_xx, k_yy, k_xy = k(x, x), k(y, y), k(x, y)
    off = ~np.eye(m, dtype=bool)
    return float(k_xx[off].sum() / (m * (m - 1)) + k_yy[off].sum() / (m * (m - 1)) - 2 * k_xy.mean())


def test_kid_matches_reference_mmd2_on_all_samples():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((300, 32))
    y = rng.standard_normal((300, 32)) * 1.3 + 0.2
    # One subset that holds every sample (order does not matter to the statistic).
    mean, std = metrics.kernel_inception_distance(x, y, subsets=1, subset_size=1000,
                                                  generator=torch.Generator().manual_seed(0))
    assert mean == pytest.approx(_mmd2_reference(x, y), rel=1e-10)
    assert std == 0.0


def test_kid_same_distribution_near_zero_and_different_positive():
    g = torch.Generator().manual_seed(1)
    x, y, z = torch.randn(2000, 16, generator=g), torch.randn(2000, 16, generator=g), torch.randn(2000, 16, generator=g) + 0.5
    same, same_std = metrics.kernel_inception_distance(x, y, subsets=20, subset_size=500, generator=g)
    different, _ = metrics.kernel_inception_distance(x, z, subsets=20, subset_size=500, generator=g)
    assert abs(same) < 3 * same_std / math.sqrt(20) + 1e-3
    assert different > 50 * abs(same)


def test_kid_guards():
    with pytest.raises(ValueError, match="dimensions differ"):
        metrics.kernel_inception_distance(np.zeros((5, 3)), np.zeros((5, 4)))


# ---------------------------------------------------------------------------------------------
# precision_recall
# ---------------------------------------------------------------------------------------------

def test_precision_recall_identical_sets():
    x = torch.randn(400, 8, generator=torch.Generator().manual_seed(2))
    assert metrics.precision_recall(x, x.clone(), k=3, batch_size=128) == (1.0, 1.0)


def test_precision_recall_far_away_fakes():
    rng = np.random.default_rng(8)
    real = rng.standard_normal((300, 8))
    fake = rng.standard_normal((300, 8)) + 100.0
    assert metrics.precision_recall(real, fake, k=3) == (0.0, 0.0)


def test_precision_recall_mode_collapse():
    rng = np.random.default_rng(9)
    real = rng.standard_normal((500, 8))
    fake = np.repeat(real[:1], 200, axis=0)  # every fake is the same real sample
    precision, recall = metrics.precision_recall(real, fake, k=3, batch_size=64)
    assert precision == 1.0
    assert recall <= 0.01


def test_precision_recall_batching_does_not_change_the_answer():
    rng = np.random.default_rng(10)
    real, fake = rng.standard_normal((257, 6)), rng.standard_normal((199, 6)) * 1.2
    assert metrics.precision_recall(real, fake, k=5, batch_size=17) == metrics.precision_recall(
        real, fake, k=5, batch_size=10_000)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, 10])
def test_precision_recall_validates_k(k):
    with pytest.raises(ValueError, match="k"):
        metrics.precision_recall(np.zeros((10, 2)), np.ones((10, 2)), k=k)


def test_frechet_distance_with_dead_features_matches_the_live_subspace():
    """Features that never fire (a ReLU unit that is always 0), seen through a rotation, make both
    covariances singular.
    The distance must equal the one computed on the live features alone, to round-off: the
    zero eigenvalues must not come back as sqrt(1e-17) = 3e-9 each."""
    g = torch.Generator().manual_seed(0)
    live1 = torch.randn(3000, 30, generator=g, dtype=torch.float64) @ torch.randn(30, 30, generator=g, dtype=torch.float64)
    live2 = 0.7 * live1[:, torch.randperm(30, generator=g)] + torch.randn(3000, 30, generator=g, dtype=torch.float64)
    dead = torch.zeros(3000, 34, dtype=torch.float64)
    rotation, _ = torch.linalg.qr(torch.randn(64, 64, generator=g, dtype=torch.float64))  # FID is rotation invariant
    full1 = torch.cat([live1, dead], 1) @ rotation  # (3000, 64): rank 30, the null space not along the axes
    full2 = torch.cat([live2, dead], 1) @ rotation
    expected = metrics.frechet_distance(*metrics.gaussian_stats(live1), *metrics.gaussian_stats(live2))
    got = metrics.frechet_distance(*metrics.gaussian_stats(full1), *metrics.gaussian_stats(full2))
    assert abs(got - expected) <= 1e-10 * abs(expected)


def test_perceptual_path_length_of_a_linear_map_in_w_is_its_squared_gain():
    """For generate(w) = A w and features = identity, d / eps^2 = ||A (b - a)||^2 exactly along a lerp."""
    from ganlib.metrics import perceptual_path_length

    g = torch.Generator().manual_seed(0)
    A = torch.randn(6, 4, generator=g, dtype=torch.float64)
    a, b = torch.randn(10, 4, generator=g, dtype=torch.float64), torch.randn(10, 4, generator=g, dtype=torch.float64)
    mean, lengths = perceptual_path_length(lambda w: w @ A.T, a, b, space="w", features=lambda x: x, epsilon=1e-3,
                                           generator=g)
    expected = ((b - a) @ A.T).pow(2).sum(dim=1)
    assert torch.allclose(lengths, expected, rtol=1e-9) and abs(mean - expected.mean().item()) < 1e-9


def test_slerp_stays_on_the_sphere_and_hits_its_ends():
    from ganlib.metrics import slerp

    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, 8, generator=g, dtype=torch.float64), torch.randn(5, 8, generator=g, dtype=torch.float64)
    a, b = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    assert torch.allclose(slerp(a, b, torch.zeros(5, dtype=torch.float64)), a, atol=1e-9)
    assert torch.allclose(slerp(a, b, torch.ones(5, dtype=torch.float64)), b, atol=1e-9)
    assert torch.allclose(slerp(a, b, torch.full((5,), 0.3, dtype=torch.float64)).norm(dim=1), torch.ones(5, dtype=torch.float64))
