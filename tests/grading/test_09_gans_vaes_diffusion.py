"""Hidden grading tests for notebook 09, GANs beside VAEs and diffusion models: the reparameterisation trick,
the negative ELBO in bits per dimension, the forward noising q(x_t | x_0) in closed form, and a fake
detector's balanced accuracy.

Reference values are closed forms and independent computations written here: z = mu + exp(logvar / 2) eps in
float64, a Monte Carlo check of the draws' mean and variance, the gradients dz/dmu = 1 and dz/dlogvar =
eps sigma / 2 against autograd; the KL of a diagonal Gaussian to N(0, I) worked out by hand (mu = 2 costs 2
nats, a variance of 2 costs (1 - ln 2) / 2) with a decoder that puts all its mass on x (log p(x | z) = 0), and
the discretised Gaussian likelihood of every pixel from ``scipy.stats.norm`` in float64 (the outermost bins
reaching to -inf and +inf); x_t per image from the formula with Python floats, and q(x_t | x_0)'s mean and
standard deviation by composing the single noising steps x <- sqrt(1 - beta) x + sqrt(beta) eps one at a time;
balanced accuracies counted by hand and with NumPy.

Delegation. Every call of a submitted function goes through ``_run`` (:class:`_delegation.Delegation`), which
disables ganlib's references of this notebook for the duration of the call: ``ganlib.models.vae``'s
``reparameterize`` (exercise 1); its ``elbo_terms``, ``ganlib.likelihood``'s ``normal_kl`` and
``bits_per_dim`` and ``ganlib.compare.vae_bits_per_dim`` (exercise 2); ``ganlib.models.diffusion.q_sample``
(exercise 3, also when reached through ``simple_loss`` or the DDPM); ``ganlib.forensics.detection_accuracy``
(exercise 4). An answer that calls them earns nothing for its exercise; ``test_<exercise>_is_your_own`` adds a
static check (a reference bound to a global name the function uses) and checks the result too, so that no test
of this file passes a no-op. ``ganlib.likelihood.discretized_gaussian_log_likelihood`` stays allowed: the
exercise cell imports it for the students.
"""

import functools
import math

import numpy as np
import pytest
import torch
from scipy import stats

from ganlib import compare, forensics, likelihood
from ganlib.models import diffusion
from ganlib.models import vae as vae_module

from _delegation import Delegation

NOTEBOOK = "09_gans_vaes_diffusion"

# ganlib's references of this notebook -> the exercise function that must not call them
FORBIDDEN = {
    "ganlib.models.vae.reparameterize": ("reparameterize", vae_module.reparameterize),
    "ganlib.models.vae.elbo_terms": ("negative_elbo_bits", vae_module.elbo_terms),
    "ganlib.likelihood.normal_kl": ("negative_elbo_bits", likelihood.normal_kl),
    "ganlib.likelihood.bits_per_dim": ("negative_elbo_bits", likelihood.bits_per_dim),
    "ganlib.compare.vae_bits_per_dim": ("negative_elbo_bits", compare.vae_bits_per_dim),
    "ganlib.models.diffusion.q_sample": ("q_sample", diffusion.q_sample),
    "ganlib.forensics.detection_accuracy": ("detection_accuracy", forensics.detection_accuracy),
}
EXERCISE_NUMBER = {"reparameterize": "9.1", "negative_elbo_bits": "9.2", "q_sample": "9.3",
                   "detection_accuracy": "9.4"}
DELEGATION = Delegation(FORBIDDEN, EXERCISE_NUMBER)
_run = DELEGATION.run


def _generator(seed):
    return torch.Generator().manual_seed(seed)


def _tensor(got, shape, what):
    """The submission's result as a float64 tensor, after checking that it is a tensor of the expected shape."""
    assert isinstance(got, torch.Tensor), f"{what}: expected a tensor, got {type(got).__name__}"
    assert tuple(got.shape) == tuple(shape), f"{what}: expected the shape {tuple(shape)}, got {tuple(got.shape)}"
    return got.detach().double()


# ---- Exercise 1: reparameterize -------------------------------------------------------------


def _reparameterized(mu, logvar, eps):
    """mu + sigma eps with sigma = sqrt(exp(logvar)), element by element in NumPy's float64."""
    mu, logvar, eps = (np.asarray(a, dtype=np.float64) for a in (mu, logvar, eps))
    return mu + np.sqrt(np.exp(logvar)) * eps


@pytest.mark.points(2)
def test_reparameterize_matches_the_closed_form(ex):
    g = _generator(0)
    mu = torch.randn(5, 4, generator=g, dtype=torch.float64)
    logvar = torch.empty(5, 4, dtype=torch.float64).uniform_(-4, 3, generator=g)  # sigma from 0.14 to 4.5
    eps = torch.randn(5, 4, generator=g, dtype=torch.float64)
    z = _tensor(_run(ex, "reparameterize", mu, logvar, eps), (5, 4), "reparameterize")
    np.testing.assert_allclose(z.numpy(), _reparameterized(mu, logvar, eps), rtol=1e-12, atol=1e-12,
                               err_msg="z = mu + exp(logvar / 2) * eps: sigma is the square root of the variance")
    z0 = _tensor(_run(ex, "reparameterize", mu, logvar, torch.zeros_like(eps)), (5, 4), "reparameterize")
    np.testing.assert_allclose(z0.numpy(), mu.numpy(), rtol=0, atol=1e-15, err_msg="eps = 0 must give z = mu")
    # logvar = 0 is the unit variance: z = mu + eps; logvar = 2 ln 3 is sigma = 3
    unit = _tensor(_run(ex, "reparameterize", mu, torch.zeros_like(mu), eps), (5, 4), "reparameterize")
    np.testing.assert_allclose(unit.numpy(), (mu + eps).numpy(), rtol=1e-12, atol=1e-12)
    three = _tensor(_run(ex, "reparameterize", mu, torch.full_like(mu, 2 * math.log(3)), eps), (5, 4), "reparameterize")
    np.testing.assert_allclose(three.numpy(), (mu + 3 * eps).numpy(), rtol=1e-12, atol=1e-12,
                               err_msg="logvar = 2 ln 3 is a variance of 9, sigma = 3")


@pytest.mark.points(1)
def test_reparameterize_draws_have_mean_mu_and_variance_exp_logvar(ex):
    """Monte Carlo, as in the notebook: one (1, d) mu and logvar broadcast against n draws of eps (n, d)."""
    n = 200_000
    mu = torch.tensor([[0.5, -1.0, 3.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.2, -2.0, 1.5]], dtype=torch.float64)
    eps = torch.randn(n, 3, generator=_generator(1), dtype=torch.float64)
    z = _tensor(_run(ex, "reparameterize", mu, logvar, eps), (n, 3), "reparameterize (mu (1, d), eps (n, d))")
    variance = logvar[0].exp()
    mean_se = (variance / n).sqrt()  # standard errors of the sample mean and of the sample variance
    var_se = variance * math.sqrt(2 / n)
    assert bool(((z.mean(0) - mu[0]).abs() < 5 * mean_se).all()), (
        f"the draws' mean {z.mean(0).tolist()} is not mu = {mu[0].tolist()}")
    assert bool(((z.var(0) - variance).abs() < 5 * var_se).all()), (
        f"the draws' variance {z.var(0).tolist()} is not exp(logvar) = {variance.tolist()}")


@pytest.mark.points(1)
def test_reparameterize_is_differentiable_in_mu_and_logvar(ex):
    g = _generator(2)
    mu = torch.randn(3, 4, generator=g, dtype=torch.float64).requires_grad_(True)
    logvar = torch.empty(3, 4, dtype=torch.float64).uniform_(-3, 2, generator=g).requires_grad_(True)
    eps = torch.randn(3, 4, generator=g, dtype=torch.float64)
    z = _run(ex, "reparameterize", mu, logvar, eps)
    assert isinstance(z, torch.Tensor) and z.requires_grad, (
        "z must carry the gradient to mu and logvar: no detach, no torch.no_grad, no NumPy")
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None, "both mu and logvar must receive a gradient"
    sigma = (0.5 * logvar.detach()).exp()
    torch.testing.assert_close(mu.grad, torch.ones_like(mu), rtol=1e-12, atol=1e-12, msg="dz/dmu = 1")
    torch.testing.assert_close(logvar.grad, eps * sigma / 2, rtol=1e-10, atol=1e-12,
                               msg="dz/dlogvar = eps * sigma / 2")


@pytest.mark.points(1)
def test_reparameterize_shapes_float32_and_inputs_left_alone(ex):
    # the notebook's float32, a latent of one dimension, and (1, d) against (n, d) without touching the inputs
    mu = torch.tensor([[0.3], [-0.7], [2.0]])
    logvar = torch.tensor([[-1.0], [0.5], [0.0]])
    eps = torch.tensor([[1.5], [-0.2], [0.4]])
    z = _tensor(_run(ex, "reparameterize", mu, logvar, eps), (3, 1), "reparameterize, (B, 1)")
    np.testing.assert_allclose(z.numpy(), _reparameterized(mu, logvar, eps), rtol=1e-6, atol=1e-6)
    mu2, logvar2 = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.4, -0.4]])
    eps2 = torch.randn(6, 2, generator=_generator(3))
    copies = mu2.clone(), logvar2.clone(), eps2.clone()
    z = _tensor(_run(ex, "reparameterize", mu2, logvar2, eps2), (6, 2), "reparameterize (mu (1, d), eps (n, d))")
    np.testing.assert_allclose(z.numpy(), _reparameterized(mu2, logvar2, eps2), rtol=1e-6, atol=1e-6)
    for before, after, name in zip(copies, (mu2, logvar2, eps2), ("mu", "logvar", "eps")):
        assert torch.equal(before, after), f"{name} was modified: compute z without in-place operations"


@pytest.mark.points(1)
def test_reparameterize_is_your_own(ex):
    mu, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.2, -2.0]])
    eps = torch.tensor([[1.0, 1.0], [-0.5, 2.0]])
    DELEGATION.assert_no_bound_references(ex, "reparameterize")
    z = _tensor(_run(ex, "reparameterize", mu, logvar, eps), (2, 2), "reparameterize")
    np.testing.assert_allclose(z.numpy(), _reparameterized(mu, logvar, eps), rtol=1e-6, atol=1e-6)


# ---- Exercise 2: negative_elbo_bits -----------------------------------------------------------


def _grid_images(shape, seed, edge_fraction=0.3):
    """Images on the 8-bit grid x = k / 127.5 - 1, float64, with many pixels at -1 and some at 1 (the outermost
    bins, which reach to -inf and +inf)."""
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 256, size=shape)
    k = np.where(rng.random(shape) < edge_fraction, 0, k)  # MNIST's background
    k = np.where(rng.random(shape) < 0.1, 255, k)
    return torch.as_tensor(k / 127.5 - 1.0)


def _log_likelihood_by_scipy(x, mean, log_scale):
    """log P(x) per pixel: the N(mean, exp(log_scale)^2) mass of x's bin [x - 1/255, x + 1/255], the lowest bin
    from -inf, the highest to +inf; differences of upper tails above the mean (no cancellation)."""
    x, mean = x.numpy(), mean.numpy()
    scale = np.exp(np.broadcast_to(log_scale.numpy(), x.shape))
    lower = np.where(x <= -1 + 1e-9, -np.inf, (x - 1 / 255 - mean) / scale)
    upper = np.where(x >= 1 - 1e-9, np.inf, (x + 1 / 255 - mean) / scale)
    mass = np.where(lower > 0, stats.norm.sf(lower) - stats.norm.sf(upper),
                    stats.norm.cdf(upper) - stats.norm.cdf(lower))
    return np.log(mass)


def _kl_by_hand(mu, logvar):
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per row: sum over coordinates of (mu^2 + s^2 - 1 - ln s^2) / 2."""
    mu, var = np.asarray(mu, dtype=np.float64), np.exp(np.asarray(logvar, dtype=np.float64))
    return 0.5 * (mu**2 + var - 1 - np.log(var)).sum(axis=1)


ELBO_CASES = [((3, 3, 4, 5), 6, (1, 3, 1, 1)), ((4, 1, 8, 8), 16, (1, 1, 1, 1)), ((2, 2, 6, 3), 4, (2, 2, 6, 3))]


@functools.lru_cache(maxsize=None)
def _elbo_case(index):
    """Inputs of one case (float64) and its -ELBO in bits per dimension from scipy and the KL by hand."""
    shape, latent, scale_shape = ELBO_CASES[index]
    g = _generator(10 + index)
    x = _grid_images(shape, seed=index)
    mean = (x + 0.3 * torch.randn(shape, generator=g, dtype=torch.float64)).clamp(-1.2, 1.2)  # a decoder's guess
    log_scale = torch.empty(scale_shape, dtype=torch.float64).uniform_(-2.5, -0.5, generator=g)
    mu = torch.randn(shape[0], latent, generator=g, dtype=torch.float64) * 1.5
    logvar = torch.empty(shape[0], latent, dtype=torch.float64).uniform_(-3, 1, generator=g)
    return (x, mean, log_scale, mu, logvar), _nelbo_by_scipy(x, mean, log_scale, mu, logvar)


def _nelbo_by_scipy(x, mean, log_scale, mu, logvar):
    """-ELBO per image in bits per dimension: the likelihood from scipy, the KL by hand."""
    recon = _log_likelihood_by_scipy(x, mean, log_scale).reshape(len(x), -1).sum(axis=1)  # nats per image
    dims = int(np.prod(x.shape[1:]))
    return (_kl_by_hand(mu, logvar) - recon) / (dims * math.log(2))


def _nelbo(ex, *args):
    return _tensor(_run(ex, "negative_elbo_bits", *args), (len(args[0]),), "negative_elbo_bits, one value per image")


@pytest.mark.points(2)
def test_negative_elbo_bits_of_a_perfect_decoder_is_the_kl(ex):
    """A decoder with all its mass on x (scale e^-10, bins of half-width 1/255 = 86 scales): log p(x | z) = 0, so
    the value is KL / (D ln 2) with the KL by hand, image by image."""
    x = _grid_images((4, 3, 4, 4), seed=20)
    mean, log_scale = x.clone(), torch.full((1, 1, 1, 1), -10.0, dtype=torch.float64)
    mu, logvar = torch.zeros(4, 5, dtype=torch.float64), torch.zeros(4, 5, dtype=torch.float64)
    mu[1, 0] = 2.0  # mu^2 / 2 = 2 nats
    logvar[2, 3] = math.log(2.0)  # a variance of 2: (2 - 1 - ln 2) / 2 nats
    mu[3], logvar[3] = torch.tensor([1.0, -1.0, 0.5, 0.0, 3.0]), torch.tensor([-1.0, 0.5, 0.0, -2.0, 1.0])
    kl_nats = [0.0, 2.0, (1 - math.log(2)) / 2, float(_kl_by_hand(mu[3:], logvar[3:])[0])]
    dims = 3 * 4 * 4
    got = _nelbo(ex, x, mean, log_scale, mu, logvar)
    np.testing.assert_allclose(got.numpy(), np.array(kl_nats) / (dims * math.log(2)), rtol=1e-9, atol=1e-12,
                               err_msg="[KL - log p(x|z)] / (D ln 2), D = C * H * W = 48, in bits: "
                                       "KL = sum over the latents of (mu^2 + exp(logvar) - 1 - logvar) / 2")


@pytest.mark.points(2)
@pytest.mark.parametrize("case", range(len(ELBO_CASES)))
def test_negative_elbo_bits_matches_scipy(ex, case):
    args, expected = _elbo_case(case)
    got = _nelbo(ex, *args)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-8, atol=1e-12, err_msg=(
        f"x {tuple(args[0].shape)}, log_scale {tuple(args[2].shape)}: the sum over ALL pixels of log P(x) "
        "(discretised likelihood, nats) subtracted from the KL, divided by D ln 2 with D = C * H * W"))


@pytest.mark.points(1)
def test_negative_elbo_bits_one_value_per_image_whatever_the_batch(ex):
    (x, mean, log_scale, mu, logvar), expected = _elbo_case(0)
    for i in range(len(x)):  # each image alone gives its own value: nothing depends on the batch
        alone = _nelbo(ex, x[i:i + 1], mean[i:i + 1], log_scale, mu[i:i + 1], logvar[i:i + 1])
        np.testing.assert_allclose(alone.numpy(), expected[i:i + 1], rtol=1e-8, atol=1e-12,
                                   err_msg=f"image {i} alone (a batch of 1): no mean over the batch, no division by B")
    # the notebook's float32, and the batch in another order. The decoder's guess is moved closer to x (no bin
    # edge beyond one scale of its mean): float32 torch.special.ndtr is 1 + erf on some builds and reads 0 below about
    # -5.4, so a bin's mass written by hand as a difference of CDFs would be lost in the far tails on one machine
    # and not on another; tail precision is for the float64 tests, this one is about the batch and the dtype.
    order = torch.tensor([2, 0, 1])
    near = x + 0.2 * (mean - x)
    expected = _nelbo_by_scipy(x, near, log_scale, mu, logvar)
    got = _nelbo(ex, *(a[order].float() for a in (x, near)), log_scale.float(), mu[order].float(),
                 logvar[order].float())
    np.testing.assert_allclose(got.numpy(), expected[order.numpy()], rtol=3e-3)


@pytest.mark.points(1)
def test_negative_elbo_bits_is_your_own(ex):
    (x, mean, log_scale, mu, logvar), expected = _elbo_case(1)
    DELEGATION.assert_no_bound_references(ex, "negative_elbo_bits")
    got = _nelbo(ex, x, mean, log_scale, mu, logvar)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-8, atol=1e-12)


# ---- Exercise 3: q_sample ---------------------------------------------------------------------


def _linear_schedule(timesteps=1000, beta_start=1e-4, beta_end=0.02):
    """Ho et al.'s betas and alpha_bar_t = prod_{s <= t} (1 - beta_s), float64."""
    betas = torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)
    return betas, torch.cumprod(1 - betas, 0)


def _x_t_by_hand(x0, t, noise, alpha_bar):
    """Image by image with Python floats: sqrt(alpha_bar[t_i]) x0_i + sqrt(1 - alpha_bar[t_i]) noise_i."""
    rows = []
    for i, step in enumerate(t.tolist()):
        ab = float(alpha_bar[step])
        rows.append(math.sqrt(ab) * x0[i].double() + math.sqrt(1 - ab) * noise[i].double())
    return torch.stack(rows)


def _q_sample(ex, x0, t, noise, alpha_bar):
    return _tensor(_run(ex, "q_sample", x0, t, noise, alpha_bar), x0.shape, "q_sample, x0's shape")


@pytest.mark.points(2)
def test_q_sample_each_image_at_its_own_step(ex):
    _, alpha_bar = _linear_schedule()
    g = _generator(30)
    x0 = torch.rand(5, 3, 4, 6, generator=g, dtype=torch.float64) * 2 - 1  # B = 5 images, C = 3 channels
    noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    t = torch.tensor([0, 999, 10, 500, 250])  # (B,) long, a different step for every image
    got = _q_sample(ex, x0, t, noise, alpha_bar)
    torch.testing.assert_close(got, _x_t_by_hand(x0, t, noise, alpha_bar), rtol=1e-12, atol=1e-12, msg=(
        "x_t = sqrt(alpha_bar[t_i]) x0_i + sqrt(1 - alpha_bar[t_i]) noise_i: alpha_bar at each image's own step "
        "(not t - 1, not t[0]), both square roots, broadcast over (C, H, W)"))


@pytest.mark.points(2)
def test_q_sample_matches_composed_single_steps(ex):
    """q(x_t | x_0) is the composition of t + 1 single steps x <- sqrt(1 - beta_s) x + sqrt(beta_s) eps: mean
    m_t x_0 and variance v_t with m <- sqrt(1 - beta) m and v <- (1 - beta) v + beta, step by step from m = 1,
    v = 0. x_t is linear in (x_0, noise): q_sample(1, t, 0) is m_t and q_sample(0, t, 1) is sqrt(v_t)."""
    betas, alpha_bar = _linear_schedule(300, 1e-3, 0.05)
    m, v, means, stds = 1.0, 0.0, [], []
    for beta in betas.tolist():
        m, v = math.sqrt(1 - beta) * m, (1 - beta) * v + beta
        means.append(m)
        stds.append(math.sqrt(v))
    t = torch.arange(300)
    ones, zeros = torch.ones(300, 1, 1, 1, dtype=torch.float64), torch.zeros(300, 1, 1, 1, dtype=torch.float64)
    got_mean = _q_sample(ex, ones, t, zeros, alpha_bar).flatten()
    got_std = _q_sample(ex, zeros, t, ones, alpha_bar).flatten()
    torch.testing.assert_close(got_mean, torch.tensor(means, dtype=torch.float64), rtol=1e-10, atol=1e-12,
                               msg="the weight of x0 after t + 1 noising steps: sqrt(alpha_bar_t)")
    torch.testing.assert_close(got_std, torch.tensor(stds, dtype=torch.float64), rtol=1e-10, atol=1e-12,
                               msg="the weight of the noise after t + 1 noising steps: sqrt(1 - alpha_bar_t)")
    # and as a distribution: 40,000 draws of one pixel at t = 149 from standard normal noise
    n, step = 40_000, 149
    x = _q_sample(ex, torch.full((n, 1, 1, 1), 0.8, dtype=torch.float64), torch.full((n,), step),
                  torch.randn(n, 1, 1, 1, generator=_generator(31), dtype=torch.float64), alpha_bar)
    assert abs(float(x.mean()) - 0.8 * means[step]) < 5 * stds[step] / math.sqrt(n)
    assert abs(float(x.var()) - stds[step] ** 2) < 5 * stds[step] ** 2 * math.sqrt(2 / n)


@pytest.mark.points(1)
def test_q_sample_the_notebooks_schedule_float32_and_inputs_left_alone(ex):
    schedule = diffusion.NoiseSchedule(1000, 1e-4, 0.02)  # float32 buffers, as in the notebook
    g = _generator(32)
    x0 = torch.rand(4, 1, 32, 32, generator=g) * 2 - 1
    noise = torch.randn(x0.shape, generator=g)
    t = torch.tensor([999, 0, 3, 3])
    copies = x0.clone(), t.clone(), noise.clone(), schedule.alpha_bar.clone()
    got = _q_sample(ex, x0, t, noise, schedule.alpha_bar)
    torch.testing.assert_close(got, _x_t_by_hand(x0, t, noise, schedule.alpha_bar), rtol=1e-5, atol=1e-6)
    for before, after, name in zip(copies, (x0, t, noise, schedule.alpha_bar), ("x0", "t", "noise", "alpha_bar")):
        assert torch.equal(before, after), f"{name} was modified: compute x_t without in-place operations"
    # one image, and non-square images with C != B
    x1, n1 = torch.rand(1, 2, 3, 5, generator=g), torch.randn(1, 2, 3, 5, generator=g)
    got = _q_sample(ex, x1, torch.tensor([7]), n1, schedule.alpha_bar)
    torch.testing.assert_close(got, _x_t_by_hand(x1, torch.tensor([7]), n1, schedule.alpha_bar), rtol=1e-5, atol=1e-6)


@pytest.mark.points(1)
def test_q_sample_is_your_own(ex):
    _, alpha_bar = _linear_schedule()
    x0 = torch.linspace(-1, 1, 2 * 3 * 2 * 2, dtype=torch.float64).reshape(2, 3, 2, 2)
    noise = torch.linspace(2, -2, 2 * 3 * 2 * 2, dtype=torch.float64).reshape(2, 3, 2, 2)
    t = torch.tensor([100, 900])
    DELEGATION.assert_no_bound_references(ex, "q_sample")
    got = _q_sample(ex, x0, t, noise, alpha_bar)
    torch.testing.assert_close(got, _x_t_by_hand(x0, t, noise, alpha_bar), rtol=1e-12, atol=1e-12)


# ---- Exercise 4: detection_accuracy -----------------------------------------------------------


TOL = 1e-6  # fractions counted in float32 (.float().mean()) are exact to about 1e-7; the cases differ by 0.05 or more


def _accuracy(ex, real_logits, fake_logits):
    got = _run(ex, "detection_accuracy", torch.as_tensor(real_logits), torch.as_tensor(fake_logits))
    assert isinstance(got, (float, torch.Tensor, np.generic)), f"expected a float, got {type(got).__name__}"
    return float(got)


@pytest.mark.points(2)
def test_detection_accuracy_closed_forms(ex):
    assert _accuracy(ex, [-1.0, -2.0], [3.0, 0.5]) == pytest.approx(1.0, abs=TOL), (
        "a perfect detector: logit > 0 means fake")
    assert _accuracy(ex, [1.0, 2.0], [-3.0, -0.5]) == pytest.approx(0.0, abs=TOL), "always wrong: 0"
    assert _accuracy(ex, [-1.0, -1.0, -1.0, 1.0], [1.0, -1.0]) == pytest.approx(0.625, abs=TOL), (
        "3 of 4 reals and 1 of 2 fakes right: (3/4 + 1/2) / 2")
    assert _accuracy(ex, [-1.0, 1.0, 1.0, 1.0, 1.0], [2.0, 2.0, 2.0]) == pytest.approx(0.6, abs=TOL), (
        "1 of 5 reals and 3 of 3 fakes: (1/5 + 1) / 2")


@pytest.mark.points(1)
def test_detection_accuracy_is_balanced_whatever_the_set_sizes(ex):
    assert _accuracy(ex, torch.ones(10), torch.ones(1000)) == pytest.approx(0.5, abs=TOL), (
        "calling everything fake scores 1/2, however many fakes (not the plain accuracy 1000/1010)")
    assert _accuracy(ex, -torch.ones(990), torch.full((10,), -1.0)) == pytest.approx(0.5, abs=TOL), (
        "calling everything real scores 1/2 too")
    rng = np.random.default_rng(40)
    for n_real, n_fake in [(37, 101), (500, 20), (64, 64)]:
        real = rng.normal(-0.5, 1.0, n_real)
        fake = rng.normal(0.7, 1.5, n_fake)
        expected = 0.5 * (np.mean(real <= 0) + np.mean(fake > 0))
        assert _accuracy(ex, real, fake) == pytest.approx(expected, abs=TOL), (
            f"{n_real} reals, {n_fake} fakes: the mean of the accuracy on the reals and on the fakes")


@pytest.mark.points(1)
def test_detection_accuracy_a_logit_of_zero_counts_as_real(ex):
    assert _accuracy(ex, torch.zeros(4), torch.zeros(4)) == pytest.approx(0.5, abs=TOL), (
        "logit 0 is 'real': right on the reals, wrong on the fakes")
    assert _accuracy(ex, [0.0, 0.0, -1.0, 2.0], [0.0, 3.0, 3.0, 3.0]) == pytest.approx(0.75, abs=TOL), (
        "reals: logit <= 0 is right (3 of 4); fakes: logit > 0 is right (3 of 4)")
    assert _accuracy(ex, [0.0, 0.0], [0.0, 1.0, 1.0, 1.0, 1.0]) == pytest.approx(0.9, abs=TOL)


@pytest.mark.points(1)
def test_detection_accuracy_returns_a_python_float(ex):
    got = _run(ex, "detection_accuracy", torch.tensor([-1.0, 1.0, -3.0]), torch.tensor([0.5, 2.0]))
    assert isinstance(got, float), f"expected a Python float (float(...) or .item()), got {type(got).__name__}"
    assert got == pytest.approx((2 / 3 + 1) / 2, abs=TOL)
    got = _run(ex, "detection_accuracy", torch.tensor([0.1, -0.1], dtype=torch.float64),
               torch.tensor([-0.2, 0.3, 0.4, 0.5], dtype=torch.float64))
    assert isinstance(got, float), f"expected a Python float for float64 logits, got {type(got).__name__}"
    assert got == pytest.approx(0.625, abs=TOL)


@pytest.mark.points(1)
def test_detection_accuracy_is_your_own(ex):
    DELEGATION.assert_no_bound_references(ex, "detection_accuracy")
    assert _accuracy(ex, [-1.0, 0.5], [1.0, 1.0, -2.0]) == pytest.approx((1 / 2 + 2 / 3) / 2, abs=TOL)
