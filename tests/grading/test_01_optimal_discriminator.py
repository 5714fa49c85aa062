"""Hidden grading tests for notebook 01, the optimal discriminator."""

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from ganlib import theory

NOTEBOOK = "01_optimal_discriminator"


# ---- Exercise 1: optimal_discriminator ------------------------------------------------------


@pytest.mark.points(2)
def test_optimal_discriminator_is_the_density_ratio(ex):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.01, 2, 50), rng.uniform(0.01, 2, 50)
    np.testing.assert_allclose(ex.optimal_discriminator(a, b), a / (a + b), rtol=1e-12)


@pytest.mark.points(1)
def test_optimal_discriminator_maximises_the_pointwise_objective(ex):
    # For f(y) = a log y + b log(1 - y) the answer must beat every other y on a fine grid.
    y = np.linspace(1e-6, 1 - 1e-6, 200_001)
    for a, b in [(0.7, 0.2), (0.01, 0.9), (1.3, 1.3)]:
        d = float(np.asarray(ex.optimal_discriminator(np.array([a]), np.array([b])))[0])
        f = lambda v: a * np.log(v) + b * np.log1p(-v)
        assert f(d) >= f(y).max() - 1e-9


@pytest.mark.points(1)
def test_optimal_discriminator_edge_cases(ex):
    with np.errstate(all="raise"):  # no division by zero, no invalid operation
        d = ex.optimal_discriminator(np.array([0.0, 0.0, 3.0, 5.0]), np.array([0.0, 2.0, 0.0, 5.0]))
    np.testing.assert_allclose(d, [0.5, 0.0, 1.0, 0.5])
    grid = ex.optimal_discriminator(np.ones((3, 4)), np.ones((3, 4)))
    assert np.shape(grid) == (3, 4)


# ---- Exercise 2: js_divergence ----------------------------------------------------------------

X = np.linspace(-15, 15, 30_001)


@pytest.mark.points(1)
def test_jsd_is_zero_for_equal_densities(ex):
    p = stats.norm.pdf(X, 1.0, 0.7)
    assert abs(ex.js_divergence(p, p, X)) < 1e-12


@pytest.mark.points(1)
def test_jsd_is_log2_for_disjoint_densities(ex):
    with np.errstate(divide="raise", invalid="raise"):
        jsd = ex.js_divergence(stats.norm.pdf(X, -8, 0.3), stats.norm.pdf(X, 8, 0.3), X)
    assert jsd == pytest.approx(np.log(2), abs=1e-8)


@pytest.mark.points(2)
def test_jsd_matches_quadrature_of_the_definition(ex):
    # Reference: adaptive quadrature of the JSD definition with scipy, independent of the grid.
    p_pdf = lambda t: stats.norm.pdf(t, 0.0, 1.0)
    q_pdf = lambda t: 0.5 * stats.norm.pdf(t, 1.5, 0.5) + 0.5 * stats.norm.pdf(t, -2.0, 0.8)
    m_pdf = lambda t: 0.5 * (p_pdf(t) + q_pdf(t))
    kl = lambda f: integrate.quad(lambda t: f(t) * np.log(f(t) / m_pdf(t)) if f(t) > 0 else 0.0, -15, 15, limit=200)[0]
    reference = 0.5 * kl(p_pdf) + 0.5 * kl(q_pdf)
    assert ex.js_divergence(p_pdf(X), q_pdf(X), X) == pytest.approx(reference, abs=1e-7)


@pytest.mark.points(1)
def test_jsd_symmetric_bounded_and_gives_the_game_value(ex):
    rng = np.random.default_rng(1)
    for _ in range(5):
        p = stats.norm.pdf(X, rng.uniform(-3, 3), rng.uniform(0.3, 2))
        q = stats.norm.pdf(X, rng.uniform(-3, 3), rng.uniform(0.3, 2))
        jsd = ex.js_divergence(p, q, X)
        assert jsd == pytest.approx(ex.js_divergence(q, p, X), abs=1e-12)
        assert -1e-12 <= jsd <= np.log(2) + 1e-12
        assert 2 * jsd - np.log(4) == pytest.approx(theory.optimal_value(p, q, X), abs=1e-8)


# ---- Exercise 3: generator_gradients ----------------------------------------------------------


@pytest.mark.points(2)
def test_generator_gradients_match_closed_forms(ex):
    t = torch.linspace(-30, 30, 121, dtype=torch.float64)
    g_sat, g_nonsat = ex.generator_gradients(t)
    torch.testing.assert_close(g_sat, -torch.sigmoid(t), rtol=1e-6, atol=1e-12)  # d/dt log(1 - s(t))
    torch.testing.assert_close(g_nonsat, -(1 - torch.sigmoid(t)), rtol=1e-6, atol=1e-12)  # d/dt -log s(t)


@pytest.mark.points(1)
def test_generator_gradients_finite_shaped_and_detached(ex):
    t = torch.tensor([[-50.0, 50.0], [0.0, -100.0]])
    g_sat, g_nonsat = ex.generator_gradients(t)
    for g in (g_sat, g_nonsat):
        assert g.shape == t.shape
        assert torch.isfinite(g).all()
        assert not g.requires_grad
    assert g_nonsat[1, 1] == pytest.approx(-1.0)
    assert abs(g_sat[1, 1]) < 1e-30  # saturated: no signal at all


@pytest.mark.points(1)
def test_generator_gradients_do_not_modify_the_input(ex):
    t = torch.tensor([-3.0, 0.5], requires_grad=True)
    ex.generator_gradients(t)
    assert t.grad is None
