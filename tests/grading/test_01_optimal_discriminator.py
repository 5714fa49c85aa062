"""Hidden grading tests for notebook 01, the optimal discriminator.

Reference values are closed forms (a / (a + b), -sigmoid(t), -(1 - sigmoid(t))), a brute-force maximisation
of the pointwise objective, adaptive quadrature of the JSD's definition with scipy, the trapezoid rule
written out here, and for exercise 4 a grid search written here over scipy's normal densities.

Delegation. Every call of a submitted function goes through ``_run`` (:class:`_delegation.Delegation`), which
disables ganlib's references of this notebook for the duration of the call: ``ganlib.theory``'s
``optimal_discriminator`` (exercise 1), its ``js_divergence`` and the functions that give the JSD in one line
(``kl_divergence``, ``optimal_value`` = 2 JSD - log 4, ``value_function`` at D*; exercise 2), and the
generator losses of ``ganlib.losses``, whose autograd derivative is exercise 3's answer, and
``ganlib.theory.best_gaussian`` (exercise 4; ``ganlib.theory.gaussian_pdf``, which the exercise names, stays
allowed). An answer that calls
them so earns nothing for its exercise; ``test_<exercise>_is_your_own`` adds a static check (a reference bound
to a global name the function uses). ``ganlib.theory.integrate`` (the trapezoid rule) stays allowed.
Every test checks values, so a no-op or a constant keeps no point either.
"""

import functools

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

from ganlib import losses, theory

from _delegation import Delegation

NOTEBOOK = "01_optimal_discriminator"

# ganlib's references of this notebook -> the exercise function that must not call them
FORBIDDEN = {
    "ganlib.theory.optimal_discriminator": ("optimal_discriminator", theory.optimal_discriminator),
    "ganlib.theory.js_divergence": ("js_divergence", theory.js_divergence),
    "ganlib.theory.kl_divergence": ("js_divergence", theory.kl_divergence),
    "ganlib.theory.optimal_value": ("js_divergence", theory.optimal_value),
    "ganlib.theory.value_function": ("js_divergence", theory.value_function),
    "ganlib.losses.generator_loss_saturating": ("generator_gradients", losses.generator_loss_saturating),
    "ganlib.losses.generator_loss_nonsaturating": ("generator_gradients", losses.generator_loss_nonsaturating),
    "ganlib.theory.best_gaussian": ("best_gaussian", theory.best_gaussian),
}
EXERCISE_NUMBER = {"optimal_discriminator": "1.1", "js_divergence": "1.2", "generator_gradients": "1.3",
                   "best_gaussian": "1.4"}
DELEGATION = Delegation(FORBIDDEN, EXERCISE_NUMBER)
_run = DELEGATION.run


# ---- Exercise 1: optimal_discriminator ------------------------------------------------------


@pytest.mark.points(2)
def test_optimal_discriminator_is_the_density_ratio(ex):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.01, 2, 50), rng.uniform(0.01, 2, 50)
    np.testing.assert_allclose(_run(ex, "optimal_discriminator", a, b), a / (a + b), rtol=1e-12)


@pytest.mark.points(1)
def test_optimal_discriminator_maximises_the_pointwise_objective(ex):
    # For f(y) = a log y + b log(1 - y) the answer must beat every other y on a fine grid.
    y = np.linspace(1e-6, 1 - 1e-6, 200_001)
    for a, b in [(0.7, 0.2), (0.01, 0.9), (1.3, 1.3)]:
        d = float(np.asarray(_run(ex, "optimal_discriminator", np.array([a]), np.array([b])))[0])
        f = lambda v: a * np.log(v) + b * np.log1p(-v)
        assert f(d) >= f(y).max() - 1e-9, f"D*({a}, {b}) = {d:.6f} does not maximise a log y + b log(1 - y)"


@pytest.mark.points(1)
def test_optimal_discriminator_edge_cases(ex):
    p_data, p_g = np.array([0.0, 0.0, 3.0, 5.0]), np.array([0.0, 2.0, 0.0, 5.0])
    with np.errstate(all="raise"):  # no division by zero, no invalid operation
        d = _run(ex, "optimal_discriminator", p_data, p_g)
    np.testing.assert_allclose(d, [0.5, 0.0, 1.0, 0.5], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(p_data, [0.0, 0.0, 3.0, 5.0])  # the inputs are left alone
    np.testing.assert_array_equal(p_g, [0.0, 2.0, 0.0, 5.0])
    grid = _run(ex, "optimal_discriminator", np.ones((3, 4)), 3 * np.ones((3, 4)))
    assert np.shape(grid) == (3, 4), f"expected the input's shape (3, 4), got {np.shape(grid)}"
    np.testing.assert_allclose(grid, 0.25, rtol=1e-12)


@pytest.mark.points(1)
def test_optimal_discriminator_is_your_own(ex):
    DELEGATION.assert_no_bound_references(ex, "optimal_discriminator")
    a, b = np.array([0.3, 0.0, 1.0]), np.array([0.1, 0.0, 0.0])
    np.testing.assert_allclose(_run(ex, "optimal_discriminator", a, b), [0.75, 0.5, 1.0], rtol=1e-12)


# ---- Exercise 2: js_divergence ----------------------------------------------------------------

X = np.linspace(-15, 15, 30_001)


def _trapezoid(f, x):
    """The trapezoid rule written out: sum of (f_i + f_{i+1}) / 2 * (x_{i+1} - x_i)."""
    return float(np.sum((f[1:] + f[:-1]) / 2 * np.diff(x)))


def _jsd_by_trapezoids(p, q, x):
    m = 0.5 * (p + q)
    return 0.5 * _trapezoid(special.rel_entr(p, m), x) + 0.5 * _trapezoid(special.rel_entr(q, m), x)  # 0 log 0 = 0


@pytest.mark.points(2)
def test_js_divergence_of_equal_and_of_disjoint_densities(ex):
    p = stats.norm.pdf(X, 1.0, 0.7)
    assert abs(_run(ex, "js_divergence", p, p, X)) < 1e-12, "JSD(p || p) must be 0"
    with np.errstate(divide="raise", invalid="raise"):
        jsd = _run(ex, "js_divergence", stats.norm.pdf(X, -8, 0.3), stats.norm.pdf(X, 8, 0.3), X)
    assert jsd == pytest.approx(np.log(2), abs=1e-8), "densities with disjoint supports have JSD = log 2"


def _p_pdf(t):
    return stats.norm.pdf(t, 0.0, 1.0)


def _q_pdf(t):
    return 0.5 * stats.norm.pdf(t, 1.5, 0.5) + 0.5 * stats.norm.pdf(t, -2.0, 0.8)


@functools.lru_cache(maxsize=None)
def _jsd_by_quadrature():
    """Adaptive quadrature of the JSD's definition with scipy, independent of any grid (computed once)."""
    m_pdf = lambda t: 0.5 * (_p_pdf(t) + _q_pdf(t))
    kl = lambda f: integrate.quad(lambda t: f(t) * np.log(f(t) / m_pdf(t)) if f(t) > 0 else 0.0, -15, 15, limit=200)[0]
    return 0.5 * kl(_p_pdf) + 0.5 * kl(_q_pdf)


@pytest.mark.points(2)
def test_js_divergence_matches_quadrature_of_the_definition(ex):
    assert _run(ex, "js_divergence", _p_pdf(X), _q_pdf(X), X) == pytest.approx(_jsd_by_quadrature(), abs=1e-7)


@pytest.mark.points(1)
def test_js_divergence_uses_the_trapezoid_rule_on_the_grid(ex):
    """On a coarse grid, where the rule matters: p = 2x and q = 2(1 - x) on [0, 1], 11 points, then 6."""
    for n in (11, 6):
        x = np.linspace(0.0, 1.0, n)
        p, q = 2 * x, 2 * (1 - x)  # both 0 at one end: the 0 log 0 = 0 convention is needed there
        with np.errstate(divide="raise", invalid="raise"):
            got = _run(ex, "js_divergence", p, q, x)
        assert got == pytest.approx(_jsd_by_trapezoids(p, q, x), abs=1e-12), (
            f"{n} grid points: expected the trapezoid rule's {_jsd_by_trapezoids(p, q, x):.10f}, got {got:.10f}")


@pytest.mark.points(1)
def test_js_divergence_symmetric_bounded_and_gives_the_game_value(ex):
    rng = np.random.default_rng(1)
    for _ in range(5):
        p = stats.norm.pdf(X, rng.uniform(-3, 3), rng.uniform(0.3, 2))
        q = stats.norm.pdf(X, rng.uniform(-3, 3), rng.uniform(0.3, 2))
        jsd = _run(ex, "js_divergence", p, q, X)
        assert jsd == pytest.approx(_run(ex, "js_divergence", q, p, X), abs=1e-12)
        assert -1e-12 <= jsd <= np.log(2) + 1e-12
        assert 2 * jsd - np.log(4) == pytest.approx(theory.optimal_value(p, q, X), abs=1e-8)


@pytest.mark.points(1)
def test_js_divergence_is_your_own(ex):
    DELEGATION.assert_no_bound_references(ex, "js_divergence")
    x = np.linspace(-6, 6, 2001)
    p, q = stats.norm.pdf(x, 0, 1), stats.norm.pdf(x, 1, 1)
    assert _run(ex, "js_divergence", p, q, x) == pytest.approx(_jsd_by_trapezoids(p, q, x), abs=1e-12)


# ---- Exercise 3: generator_gradients ----------------------------------------------------------


def _closed_forms(t):
    """d/dt log(1 - sigmoid(t)) = -sigmoid(t) and d/dt -log sigmoid(t) = -(1 - sigmoid(t)) = -sigmoid(-t)."""
    return -torch.sigmoid(t), -torch.sigmoid(-t)


@pytest.mark.points(2)
def test_generator_gradients_match_closed_forms(ex):
    t = torch.linspace(-30, 30, 121, dtype=torch.float64)
    g_sat, g_nonsat = _run(ex, "generator_gradients", t)
    want_sat, want_nonsat = _closed_forms(t)
    torch.testing.assert_close(g_sat, want_sat, rtol=1e-6, atol=1e-12)  # d/dt log(1 - s(t))
    torch.testing.assert_close(g_nonsat, want_nonsat, rtol=1e-6, atol=1e-12)  # d/dt -log s(t)


@pytest.mark.points(1)
def test_generator_gradients_finite_shaped_and_detached(ex):
    t = torch.tensor([[-50.0, 50.0], [0.0, -100.0]])
    g_sat, g_nonsat = _run(ex, "generator_gradients", t)
    for g in (g_sat, g_nonsat):
        assert g.shape == t.shape, f"expected the input's shape {tuple(t.shape)}, got {tuple(g.shape)}"
        assert torch.isfinite(g).all(), "use the stable forms (logsigmoid or softplus)"
        assert not g.requires_grad
    assert g_nonsat[1, 1] == pytest.approx(-1.0)
    assert g_nonsat[0, 0] == pytest.approx(-1.0) and g_sat[0, 1] == pytest.approx(-1.0)
    assert g_sat[1, 0] == pytest.approx(-0.5) and g_nonsat[1, 0] == pytest.approx(-0.5)
    assert abs(g_sat[1, 1]) < 1e-30  # saturated: no signal at all


@pytest.mark.points(1)
def test_generator_gradients_do_not_modify_the_input(ex):
    t = torch.tensor([-3.0, 0.5], requires_grad=True)
    g_sat, g_nonsat = _run(ex, "generator_gradients", t)
    assert t.grad is None, "the input got a gradient: differentiate a detached copy"
    want_sat, want_nonsat = _closed_forms(t.detach())
    torch.testing.assert_close(g_sat, want_sat)
    torch.testing.assert_close(g_nonsat, want_nonsat)
    u = torch.tensor([1.0, -2.0])  # a plain tensor stays plain
    _run(ex, "generator_gradients", u)
    assert not u.requires_grad and u.grad is None, "the input was switched to requires_grad: use a detached copy"


@pytest.mark.points(1)
def test_generator_gradients_is_your_own(ex):
    DELEGATION.assert_no_bound_references(ex, "generator_gradients")
    t = torch.tensor([-6.0, -1.0, 2.0])
    g_sat, g_nonsat = _run(ex, "generator_gradients", t)
    want_sat, want_nonsat = _closed_forms(t)
    torch.testing.assert_close(g_sat, want_sat)
    torch.testing.assert_close(g_nonsat, want_nonsat)


# ---- Exercise 4: best_gaussian ----------------------------------------------------------------

X4 = np.linspace(-12, 12, 4801)


def _forward_kl(p, q, x):
    return _trapezoid(special.rel_entr(p, q), x)


def _reverse_kl(p, q, x):
    return _trapezoid(special.rel_entr(q, p), x)


def _reference_search(p, x, divergence, mus, sigmas):
    """Every (mu, sigma) with scipy's density, sorted by value: [(value, mu, sigma), ...]."""
    return sorted((divergence(p, stats.norm.pdf(x, mu, sigma), x), float(mu), float(sigma))
                  for mu in mus for sigma in sigmas)


def _best(ex, *args):
    got = _run(ex, "best_gaussian", *args)
    assert isinstance(got, tuple) and len(got) == 3, f"expected a tuple (mu, sigma, value), got {got!r}"
    assert all(isinstance(v, (float, np.floating)) for v in got), f"expected floats, got {got!r}"
    return tuple(float(v) for v in got)


@pytest.mark.points(2)
def test_best_gaussian_finds_the_data_itself_under_forward_kl(ex):
    p = stats.norm.pdf(X4, 1.2, 0.7)
    mus, sigmas = -0.8 + 0.4 * np.arange(11), np.array([0.3, 0.5, 0.7, 0.9, 1.1])
    mu, sigma, value = _best(ex, p, X4, _forward_kl, mus, sigmas)
    assert (mu, sigma) == pytest.approx((1.2, 0.7), abs=1e-9), f"N(1.2, 0.7^2) fits itself best, got ({mu}, {sigma})"
    assert abs(value) < 1e-9, f"KL(p || p) = 0, got {value}"


@pytest.mark.points(2)
def test_best_gaussian_matches_a_brute_force_search_for_mode_seeking_and_covering(ex):
    """Two modes at -3 and 3: reverse KL picks one mode (the heavier), forward KL one wide Gaussian; values as the
    search's."""
    p = 0.45 * stats.norm.pdf(X4, -3, 0.6) + 0.55 * stats.norm.pdf(X4, 3, 0.6)
    mus, sigmas = np.linspace(-4, 4, 17), np.geomspace(0.3, 5, 15)
    for divergence in (_reverse_kl, _forward_kl, _jsd_by_trapezoids):
        ranked = _reference_search(p, X4, divergence, mus, sigmas)
        (value, mu, sigma), runner_up = ranked[0], ranked[1]
        assert runner_up[0] - value > 1e-6  # a winner clear of rounding (ties: the next test)
        got = _best(ex, p, X4, divergence, mus, sigmas)
        assert got[:2] == pytest.approx((mu, sigma), abs=1e-12), (
            f"{divergence.__name__.strip('_')}: the grid's best is ({mu:.3f}, {sigma:.3f}), got {got[:2]}")
        assert got[2] == pytest.approx(value, rel=1e-9, abs=1e-12), "the value must be the divergence at the best"


@pytest.mark.points(1)
def test_best_gaussian_passes_the_data_first_and_each_candidate_once(ex):
    p = stats.norm.pdf(X4, 0.5, 1.0)
    mus, sigmas = np.array([-1.0, 0.0, 2.0]), np.array([0.5, 1.5])
    calls = []

    def recording(first, second, x):
        calls.append((np.array(first, copy=True), np.array(second, copy=True)))
        return _trapezoid((x - 2.0) ** 2 * second, x)  # depends on the candidate only: best is N(2, 0.5^2)

    mu, sigma, value = _best(ex, p, X4, recording, mus, sigmas)
    assert len(calls) == 6, f"every (mu, sigma) once: expected 6 evaluations, got {len(calls)}"
    for first, second in calls:
        np.testing.assert_array_equal(first, p, err_msg="divergence(p, q, x): the data comes first")
    seen = sorted((round(_trapezoid(X4 * q, X4), 6), round(np.sqrt(_trapezoid((X4 - _trapezoid(X4 * q, X4)) ** 2 * q, X4)), 6))
                  for _, q in calls)
    assert seen == sorted((m, s) for m in mus for s in sigmas), f"candidates' (mean, std) seen: {seen}"
    assert (mu, sigma) == (2.0, 0.5) and value == pytest.approx(0.25, rel=1e-6)


@pytest.mark.points(1)
def test_best_gaussian_keeps_the_first_of_equal_values(ex):
    """A divergence that ties everything: the first (mu, sigma) found, mu in the outer loop."""
    p = stats.norm.pdf(X4, 0, 1)
    mus, sigmas = np.array([0.5, -1.0, 2.0]), np.array([0.8, 0.4])
    assert _best(ex, p, X4, lambda a, b, x: 1.5, mus, sigmas) == (0.5, 0.8, 1.5)
    mixed = lambda a, b, x: 0.0 if abs(_trapezoid(x * b, x) - 2.0) < 1e-6 else 1.0  # both sigmas at mu = 2 tie
    assert _best(ex, p, X4, mixed, mus, sigmas)[:2] == (2.0, 0.8), "of the two sigmas at mu = 2, the first"


@pytest.mark.points(1)
def test_best_gaussian_is_your_own(ex):
    DELEGATION.assert_no_bound_references(ex, "best_gaussian")
    p = stats.norm.pdf(X4, -1.0, 0.5)
    got = _best(ex, p, X4, _forward_kl, np.array([-1.0, 0.0]), np.array([0.5, 1.0]))
    assert got[:2] == (-1.0, 0.5) and abs(got[2]) < 1e-9
