"""Tests of ganlib.theory: D* maximises V, JSD and KL against closed forms (Goodfellow et al. 2014)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import optimize

from ganlib import theory
from ganlib.theory import (
    bilinear_energy,
    bilinear_game,
    bilinear_invariant,
    integrate,
    js_divergence,
    kl_divergence,
    optimal_discriminator,
    optimal_value,
    value_function,
)

LOG2 = math.log(2.0)


def gauss(x: np.ndarray, mu: float, s: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi))


def _random_densities(seed: int, n: int = 201) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.linspace(-3, 3, n)
    p, q = rng.uniform(0.05, 2.0, n), rng.uniform(0.05, 2.0, n)  # positive everywhere
    return x, p / integrate(p, x), q / integrate(q, x)


# --------------------------------------------------------------------------- the optimal discriminator


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optimal_discriminator_beats_perturbed_discriminators(seed):
    x, p_data, p_g = _random_densities(seed)
    d_star = optimal_discriminator(p_data, p_g)
    v_star = value_function(d_star, p_data, p_g, x)
    rng = np.random.default_rng(seed + 10)
    for scale in (1e-3, 1e-2, 0.1, 1.0):
        d = np.clip(d_star + scale * rng.normal(size=d_star.shape), 1e-6, 1 - 1e-6)
        assert value_function(d, p_data, p_g, x) < v_star
    assert value_function(np.full_like(x, 0.5), p_data, p_g, x) <= v_star


@pytest.mark.parametrize("seed", [0, 1])
def test_optimal_discriminator_matches_numeric_maximisation(seed):
    """Pointwise, y -> a log y + b log(1 - y) is maximised at a / (a + b) (Prop. 1)."""
    _, p_data, p_g = _random_densities(seed, n=40)
    d_star = optimal_discriminator(p_data, p_g)
    numeric = np.array([
        optimize.minimize_scalar(lambda y, a=a, b=b: -(a * np.log(y) + b * np.log1p(-y)),
                                 bounds=(1e-12, 1 - 1e-12), method="bounded",
                                 options={"xatol": 1e-12}).x
        for a, b in zip(p_data, p_g)
    ])
    np.testing.assert_allclose(d_star, numeric, rtol=0, atol=1e-5)


def test_optimal_discriminator_closed_form_and_limits():
    p_data = np.array([3.0, 1.0, 0.0, 2.0, 0.0])
    p_g = np.array([1.0, 1.0, 2.0, 0.0, 0.0])
    np.testing.assert_array_equal(optimal_discriminator(p_data, p_g), [0.75, 0.5, 0.0, 1.0, 0.5])


def test_optimal_discriminator_is_one_half_where_densities_agree():
    x = np.linspace(-5, 5, 101)
    p = gauss(x, 0.3, 1.2)
    np.testing.assert_array_equal(optimal_discriminator(p, p), np.full_like(x, 0.5))


def test_value_at_d_one_half_is_minus_log4():
    x = np.linspace(-8, 8, 2001)
    p, q = gauss(x, 0, 1), gauss(x, 1, 1)
    assert abs(value_function(np.full_like(x, 0.5), p, q, x) - (-math.log(4) * integrate(p, x))) < 1e-12


# --------------------------------------------------------------------------- divergences


def test_jsd_of_equal_densities_is_zero():
    x = np.linspace(-6, 6, 1001)
    p = gauss(x, 0.5, 0.8)
    assert abs(js_divergence(p, p, x)) < 1e-12
    assert abs(kl_divergence(p, p, x)) < 1e-12


def test_jsd_of_disjoint_densities_is_log2():
    x = np.linspace(-15, 15, 30001)
    p, q = gauss(x, -10, 0.5), gauss(x, 10, 0.5)  # 40 std apart: no overlap in float64
    assert abs(js_divergence(p, q, x) - LOG2) < 1e-6


def test_jsd_with_exactly_zero_density_regions_is_finite_log2():
    x = np.linspace(0, 4, 4001)
    p = np.where(x < 1, 1.0, 0.0)  # uniform on [0, 1)
    q = np.where(x >= 3, 1.0, 0.0)  # uniform on [3, 4]
    value = js_divergence(p, q, x)
    assert math.isfinite(value)
    assert abs(value - LOG2) < 1e-3  # trapezoid error at the jumps only


@pytest.mark.parametrize("seed", range(5))
def test_jsd_is_symmetric_and_bounded(seed):
    x, p, q = _random_densities(seed)
    a, b = js_divergence(p, q, x), js_divergence(q, p, x)
    assert abs(a - b) < 1e-14
    assert 0 <= a <= LOG2


@pytest.mark.parametrize("m1,s1,m2,s2", [(0, 1, 0, 1), (0, 1, 1, 1), (-1, 0.5, 2, 1.5), (0, 1, 6, 0.3)])
def test_optimal_value_is_2jsd_minus_log4(m1, s1, m2, s2):
    x = np.linspace(-12, 14, 26001)
    p, q = gauss(x, m1, s1), gauss(x, m2, s2)
    assert abs(optimal_value(p, q, x) - (2 * js_divergence(p, q, x) - math.log(4))) < 1e-10


@pytest.mark.parametrize("m1,s1,m2,s2", [(0, 1, 1, 1), (-1, 0.5, 2, 1.5)])
def test_optimal_value_is_v_at_d_star(m1, s1, m2, s2):
    # grid kept where D* does not round to exactly 0 or 1 (there V(G, D*) itself would hit log 0,
    # which is why optimal_value is not computed through D*)
    x = np.linspace(-6, 7, 13001)
    p, q = gauss(x, m1, s1), gauss(x, m2, s2)
    v = value_function(optimal_discriminator(p, q), p, q, x)
    assert abs(optimal_value(p, q, x) - v) < 1e-10


def test_value_at_d_star_for_disjoint_supports_is_zero_without_warnings():
    x = np.linspace(0, 4, 401)
    p = np.where(x < 1, 1.0, 0.0)
    q = np.where(x >= 3, 1.0, 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 0 * log 0 must be handled, not computed and masked noisily
        assert value_function(optimal_discriminator(p, q), p, q, x) == 0.0
        assert optimal_value(p, q, x) == 0.0  # 2 log 2 - log 4


def test_optimal_value_at_pg_equal_pdata_is_minus_log4():
    x = np.linspace(-10, 10, 4001)
    p = gauss(x, 0, 1)
    assert abs(optimal_value(p, p, x) + math.log(4)) < 1e-10


@pytest.mark.parametrize("m1,s1,m2,s2", [(0, 1, 0, 1), (0, 1, 1, 1), (0.5, 0.7, -1, 1.3), (1, 2, 0, 1.5)])
def test_kl_of_gaussians_matches_closed_form(m1, s1, m2, s2):
    x = np.linspace(-20, 20, 40001)
    p, q = gauss(x, m1, s1), gauss(x, m2, s2)
    closed = math.log(s2 / s1) + (s1 ** 2 + (m1 - m2) ** 2) / (2 * s2 ** 2) - 0.5
    assert abs(kl_divergence(p, q, x) - closed) < 1e-6


def test_kl_is_infinite_when_q_misses_p_mass():
    x = np.linspace(0, 1, 11)
    p = np.ones_like(x)
    q = np.where(x < 0.5, 2.0, 0.0)
    with np.errstate(all="raise"):  # no warnings leak out either
        assert kl_divergence(p, q, x) == math.inf
    assert kl_divergence(q, p, x) < math.inf


def test_integrate_is_the_trapezoid_rule():
    x = np.linspace(0, 2, 3)
    assert integrate(x ** 2, x) == pytest.approx(0.5 * (0 + 1) + 0.5 * (1 + 4))  # 3.0 by trapezoids


# --------------------------------------------------------------------------- one Gaussian for several modes


def test_gaussian_pdf_is_scipys_normal_density():
    from scipy import stats

    x = np.linspace(-5, 7, 97)
    np.testing.assert_allclose(theory.gaussian_pdf(x, 1.2, 0.7), stats.norm.pdf(x, 1.2, 0.7), rtol=1e-13)


@pytest.mark.parametrize("m1,s1,m2,s2", [(0, 1, 0, 1), (0, 1, 1.5, 0.8), (-2, 0.5, 1, 2)])
def test_nonsaturating_objective_is_the_expected_minus_log_d_star(m1, s1, m2, s2):
    """E_pg[-log D*] computed directly, with log D* = log p_data - log(p_data + p_g) (no D* rounding to 0)."""
    x = np.linspace(-15, 15, 30001)
    p_data, p_g = gauss(x, m1, s1), gauss(x, m2, s2)
    direct = integrate(p_g * (np.log(p_data + p_g) - np.log(p_data)), x)
    assert theory.nonsaturating_objective(p_data, p_g, x) == pytest.approx(direct, abs=1e-9)
    if (m1, s1) == (m2, s2):  # at p_g = p_data, D* = 1/2: the loss is log 2
        assert theory.nonsaturating_objective(p_data, p_g, x) == pytest.approx(LOG2, abs=1e-9)


def test_best_gaussian_by_the_kl_closed_form():
    """Forward KL(N(0, 1) || N(mu, s^2)) = log s + (1 + mu^2) / (2 s^2) - 1/2: the grid point nearest (0, 1) wins,
    and the value returned is the divergence there."""
    x = np.linspace(-20, 20, 40001)
    mus, sigmas = np.linspace(-1, 1, 9), np.array([0.6, 0.9, 1.2, 1.5])
    mu, sigma, value = theory.best_gaussian(gauss(x, 0, 1), x, kl_divergence, mus, sigmas)
    closed = {(m, s): math.log(s) + (1 + m * m) / (2 * s * s) - 0.5 for m in mus for s in sigmas}
    assert (mu, sigma) == min(closed, key=closed.get)
    assert value == pytest.approx(closed[(mu, sigma)], abs=1e-6)
    assert all(isinstance(v, float) for v in (mu, sigma, value))


def test_mode_seeking_and_mass_covering_fits_of_three_modes():
    """Three modes at -4, 0, 4 (std 0.5): forward KL spreads one wide Gaussian, reverse KL and the non-saturating
    objective sit on one mode; the JSD's price for dropping two modes stays below log 2, forward KL's does not."""
    x = np.linspace(-12, 13, 5001)
    p = sum(gauss(x, m, 0.5) for m in (-4, 0, 4)) / 3
    mus, sigmas = np.linspace(-6, 6, 25), np.geomspace(0.25, 6, 20)
    reverse = lambda a, b, grid: kl_divergence(b, a, grid)
    fwd = theory.best_gaussian(p, x, kl_divergence, mus, sigmas)
    rev = theory.best_gaussian(p, x, reverse, mus, sigmas)
    ns = theory.best_gaussian(p, x, theory.nonsaturating_objective, mus, sigmas)
    assert fwd[1] > 2.5 and abs(fwd[0]) < 0.5
    assert rev[1] < 0.7 and ns[1] < 0.7 and min(abs(rev[0] - m) for m in (-4, 0, 4)) < 0.3
    one_mode = gauss(x, 4, 0.5)
    jsd_fit = theory.best_gaussian(p, x, js_divergence, mus, sigmas)
    assert js_divergence(p, one_mode, x) - jsd_fit[2] < LOG2 < kl_divergence(p, one_mode, x) - fwd[2]


# --------------------------------------------------------------------------- the bilinear game min_x max_y x y


def test_bilinear_game_one_iteration_by_hand():
    # x = 1, y = 2, lr = 0.5: simultaneous x - lr y = 0, y + lr x = 2.5; alternating y = 2.5 first, x = 1 - 1.25
    np.testing.assert_array_equal(bilinear_game(1.0, 2.0, lr=0.5, steps=1, simultaneous=True), [[1, 2], [0, 2.5]])
    np.testing.assert_array_equal(bilinear_game(1.0, 2.0, lr=0.5, steps=1), [[1, 2], [-0.25, 2.5]])
    # k = 3: y climbs three times with x fixed (2 + 3 * 0.5 = 3.5), then x = 1 - 0.5 * 3.5 (alternating)
    np.testing.assert_array_equal(bilinear_game(1.0, 2.0, lr=0.5, steps=1, k=3), [[1, 2], [-0.75, 3.5]])
    np.testing.assert_array_equal(bilinear_game(1.0, 2.0, lr=0.5, steps=1, k=3, simultaneous=True), [[1, 2], [0, 3.5]])


@pytest.mark.parametrize("k,lr,simultaneous", [(1, 0.1, False), (1, 0.3, True), (5, 0.2, False), (3, 1.5, True),
                                               (2, 1.9, False)])
def test_bilinear_game_is_the_power_of_its_linear_map(k, lr, simultaneous):
    """One iteration is linear: (x, y) -> M (x, y), with M = [[1 - k lr^2, -lr], [k lr, 1]] (alternating)
    or [[1, -lr], [k lr, 1]] (simultaneous); row n of the trajectory is M^n (x0, y0)."""
    m = np.array([[1.0 if simultaneous else 1 - k * lr ** 2, -lr], [k * lr, 1.0]])
    traj = bilinear_game(0.3, -0.7, lr=lr, steps=40, k=k, simultaneous=simultaneous)
    assert traj.shape == (41, 2)
    expected = np.stack([np.linalg.matrix_power(m, n) @ [0.3, -0.7] for n in range(41)])
    np.testing.assert_allclose(traj, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k,lr", [(1, 0.1), (1, 0.5), (4, 0.25), (10, 0.05)])
def test_simultaneous_play_spirals_out_by_exactly_one_plus_k_lr_squared(k, lr):
    traj = bilinear_game(1.0, 0.5, lr=lr, steps=200, k=k, simultaneous=True)
    energy = bilinear_energy(traj, k=k)  # k x^2 + y^2
    np.testing.assert_allclose(energy[1:] / energy[:-1], 1 + k * lr ** 2, rtol=1e-12)
    if k == 1:  # x^2 + y^2 itself: the distance from the equilibrium grows by sqrt(1 + lr^2) per step
        radius = np.hypot(traj[:, 0], traj[:, 1])
        np.testing.assert_allclose(radius, np.hypot(1.0, 0.5) * (1 + lr ** 2) ** (np.arange(201) / 2), rtol=1e-10)


@pytest.mark.parametrize("k,lr", [(1, 0.1), (1, 1.0), (1, 1.99), (5, 0.4), (3, 1.1)])
def test_alternating_play_conserves_its_invariant_and_orbits(k, lr):
    """k lr^2 < 4: the invariant is a positive-definite form, so the orbit stays on one ellipse."""
    assert k * lr ** 2 < 4
    traj = bilinear_game(1.0, 0.5, lr=lr, steps=2000, k=k)
    invariant = bilinear_invariant(traj, lr=lr, k=k)
    np.testing.assert_allclose(invariant, invariant[0], rtol=1e-9)
    # bounded by the ellipse: x^2 + y^2 <= invariant / (smallest eigenvalue of the form's matrix)
    form = np.array([[k, k * lr / 2], [k * lr / 2, 1.0]])
    radius = np.hypot(traj[:, 0], traj[:, 1])
    assert np.all(radius ** 2 <= invariant[0] / np.linalg.eigvalsh(form)[0] * (1 + 1e-9))
    assert radius.min() > 0.05 * radius[0]  # never reaches the equilibrium either


def test_alternating_play_diverges_past_k_lr_squared_four():
    """k lr^2 > 4: the map has a real eigenvalue of modulus (s + sqrt(s^2 - 4)) / 2 with s = k lr^2 - 2."""
    k, lr = 5, 1.0
    traj = bilinear_game(1.0, 0.5, lr=lr, steps=30, k=k)
    s = k * lr ** 2 - 2
    rho = (s + math.sqrt(s * s - 4)) / 2
    radius = np.hypot(traj[:, 0], traj[:, 1])
    assert radius[-1] / radius[-2] == pytest.approx(rho, rel=1e-9)
    # still conserved (up to rounding relative to the terms' size): an indefinite form, hyperbolas, not ellipses
    drift = np.abs(bilinear_invariant(traj, lr=lr, k=k) - bilinear_invariant(traj[0], lr=lr, k=k))
    assert np.all(drift <= 1e-12 * bilinear_energy(traj, k=k) + 1e-12)


def test_small_steps_approach_the_continuous_circle():
    """As lr -> 0 both kinds of play follow the flow x' = -y, y' = x: the circle through the start."""
    for simultaneous in (False, True):
        lr = 1e-3
        traj = bilinear_game(1.0, 0.0, lr=lr, steps=int(round(np.pi / 2 / lr)), simultaneous=simultaneous)
        np.testing.assert_allclose(traj[-1], [0.0, 1.0], atol=2e-3)  # a quarter turn: (cos t, sin t) at t = pi / 2


def test_bilinear_game_rejects_bad_arguments():
    with pytest.raises(ValueError):
        bilinear_game(1.0, 1.0, lr=0.1, steps=3, k=0)
    with pytest.raises(ValueError):
        bilinear_game(1.0, 1.0, lr=0.1, steps=-1)


# --------------------------------------------------------------------------- input checks


@pytest.mark.parametrize("call", [
    lambda a, b: optimal_discriminator(a, b),
    lambda a, b: kl_divergence(a, a, b),
    lambda a, b: js_divergence(a, b, a),
    lambda a, b: optimal_value(a, a, b),
    lambda a, b: value_function(a, a, a, b),
    lambda a, b: integrate(a, b),
])
def test_shape_mismatch_raises(call):
    with pytest.raises(ValueError, match="same shape"):
        call(np.ones(5), np.ones(6))


def test_module_exports_exist():
    for name in theory.__all__:
        assert hasattr(theory, name)
