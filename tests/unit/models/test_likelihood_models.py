"""The VAE, the DDPM and their likelihoods (notebook 09): closed forms, oracles and exact resumption."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from ganlib import likelihood, recipes
from ganlib.metrics.gate import GATES, GateFailed, GateResult
from ganlib.models.diffusion import DDPM, DiffusionConfig, NoiseSchedule, q_sample
from ganlib.models.vae import VAE, elbo_terms, reparameterize
from ganlib.training.checkpoint import CHECKPOINT_NAME, load_checkpoint

GRID = torch.arange(256, dtype=torch.float64) / 127.5 - 1  # every 8-bit value on [-1, 1]


# ---- discretised likelihood ----


@pytest.mark.parametrize("mean, log_scale", [(0.3, -2.0), (-0.99, -5.0), (0.0, 1.0), (0.8, -8.0), (1.7, -3.0), (-3.0, 0.5)])
def test_the_256_bins_hold_all_the_probability(mean, log_scale):
    log_p = likelihood.discretized_gaussian_log_likelihood(GRID, torch.full_like(GRID, mean),
                                                           torch.tensor(log_scale, dtype=torch.float64))
    assert torch.isfinite(log_p).all() and (log_p <= 0).all()
    assert log_p.exp().sum().item() == pytest.approx(1.0, abs=1e-9)


def test_a_bin_holds_the_normal_mass_between_its_edges():
    mean, scale = torch.tensor(0.1, dtype=torch.float64), torch.tensor(0.05, dtype=torch.float64)
    x = GRID[120:150]  # around the mean, where the direct difference of CDFs loses no digits
    direct = torch.log(torch.special.ndtr((x - mean + 1 / 255) / scale) - torch.special.ndtr((x - mean - 1 / 255) / scale))
    got = likelihood.discretized_gaussian_log_likelihood(x, mean.expand_as(x), scale.log())
    assert torch.allclose(got, direct, rtol=0, atol=1e-12)
    # the edges: everything below the first bin's upper edge, everything above the last bin's lower edge
    edge = likelihood.discretized_gaussian_log_likelihood(GRID[[0, -1]], torch.zeros(2, dtype=torch.float64), scale.log())
    assert torch.allclose(edge.exp(), torch.special.ndtr(torch.tensor([-1 + 1 / 255, -(1 - 1 / 255)], dtype=torch.float64) / scale))


def test_far_tails_stay_finite():
    x = GRID[100:101]
    log_p = likelihood.discretized_gaussian_log_likelihood(x, torch.tensor([0.9], dtype=torch.float64),
                                                           torch.tensor(-6.0, dtype=torch.float64))
    assert torch.isfinite(log_p).all() and log_p.item() < -1e4  # about -(1.1 / 0.0025)^2 / 2, not -inf


def test_normal_kl_matches_its_closed_form_and_a_monte_carlo_estimate():
    m1, lv1, m2, lv2 = torch.tensor(0.5), torch.tensor(-1.0), torch.tensor(-0.3), torch.tensor(0.4)
    assert likelihood.normal_kl(m1, lv1, m1, lv1).item() == pytest.approx(0.0, abs=1e-7)
    x = m1 + (0.5 * lv1).exp() * torch.randn(400_000, generator=torch.Generator().manual_seed(0))
    log_q = lambda x, m, lv: -0.5 * (math.log(2 * math.pi) + lv + (x - m) ** 2 / lv.exp())
    mc = (log_q(x, m1, lv1) - log_q(x, m2, lv2)).mean()
    assert likelihood.normal_kl(m1, lv1, m2, lv2).item() == pytest.approx(mc.item(), abs=5e-3)


def test_bits_per_dim_converts_nats():
    assert likelihood.bits_per_dim(torch.tensor(1024 * math.log(2.0)), 1024).item() == pytest.approx(1.0)


# ---- VAE ----


def test_reparameterisation_draws_from_the_posterior_and_passes_gradients():
    mu = torch.tensor([[0.5, -1.0]], requires_grad=True)
    logvar = torch.tensor([[0.2, -2.0]], requires_grad=True)
    eps = torch.randn(200_000, 2, generator=torch.Generator().manual_seed(0))
    z = reparameterize(mu, logvar, eps)
    assert torch.allclose(z.mean(0), mu[0], atol=1e-2)
    assert torch.allclose(z.var(0), logvar[0].exp(), rtol=1e-2)
    z[:1].sum().backward()  # dz/dmu = 1, dz/dlogvar = eps * sigma / 2
    assert torch.allclose(mu.grad, torch.ones(1, 2))
    assert torch.allclose(logvar.grad, eps[:1] * (0.5 * logvar).exp() / 2)


def test_the_elbo_is_reconstruction_minus_the_kl_to_the_prior():
    torch.manual_seed(0)
    vae = VAE().eval()
    x = (torch.randint(0, 256, (3, 1, 32, 32)) / 127.5 - 1).float()
    mean, mu, logvar = vae(x, torch.zeros(3, 16))  # eps = 0: z = mu
    recon, kl = elbo_terms(x, mean, vae.log_scale, mu, logvar)
    expected_kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(1)
    expected_recon = likelihood.discretized_gaussian_log_likelihood(x, mean, vae.log_scale).flatten(1).sum(1)
    # two float32 forms of the same sum over 16 latents (normal_kl's general form against the prior's)
    assert torch.allclose(kl, expected_kl, rtol=1e-4, atol=1e-6) and torch.allclose(recon, expected_recon)
    assert (kl >= 0).all() and (recon <= 0).all()


def test_vae_training_raises_the_elbo(tmp_path):
    run = recipes.train_vae(out_dir=tmp_path, steps=60, device="cpu", progress=False, batch_size=32, log_every=10)
    first, last = run.history.bits_per_dim[0], run.history.bits_per_dim[-1]
    assert last < 0.5 * first  # the bound on bits per dimension falls during training
    samples = run.sampler.sample(5, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (5, 1, 32, 32) and samples.min() >= -1 and samples.max() <= 1


# ---- DDPM ----


def test_the_schedule_composes_the_single_steps():
    s = NoiseSchedule(50, 1e-4, 0.02)
    # mean coefficient: prod sqrt(1 - beta_s); variance: v_t = (1 - beta_t) v_{t-1} + beta_t, v_0 = 0
    v, coef = torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64)
    for beta in s.betas.double():
        v, coef = (1 - beta) * v + beta, coef * (1 - beta).sqrt()
    assert coef.item() == pytest.approx(s.alpha_bar[-1].sqrt().item(), rel=1e-5)
    assert v.item() == pytest.approx(1 - s.alpha_bar[-1].item(), rel=1e-5)


def test_q_sample_is_the_closed_form_of_the_forward_process():
    s = NoiseSchedule(100, 1e-4, 0.02)
    x0 = torch.full((100_000, 1), 0.7)
    t = torch.full((100_000,), 60)
    x_t = q_sample(x0, t, torch.randn(x0.shape, generator=torch.Generator().manual_seed(0)), s.alpha_bar)
    ab = s.alpha_bar[60]
    assert x_t.mean().item() == pytest.approx((ab.sqrt() * 0.7).item(), abs=1e-2)
    assert x_t.var().item() == pytest.approx((1 - ab).item(), rel=2e-2)


class _Oracle(nn.Module):
    """The best noise prediction when every training image is the constant image c."""

    def __init__(self, schedule: NoiseSchedule, c: float):
        super().__init__()
        self.schedule, self.c = schedule, c

    def forward(self, x_t, t):
        ab = self.schedule.at("alpha_bar", t)
        return (x_t - ab.sqrt() * self.c) / (1 - ab).sqrt()


def _oracle_ddpm(c: float, timesteps: int = 100) -> DDPM:
    ddpm = DDPM(DiffusionConfig(timesteps=timesteps, width=8, channel_mult=(1,)))
    ddpm.net = _Oracle(ddpm.schedule, c)
    return ddpm


def test_samplers_with_the_oracle_recover_the_data():
    c = GRID[200].item()  # an 8-bit value
    ddpm = _oracle_ddpm(c)
    g = torch.Generator().manual_seed(0)
    ddim = ddpm.sample(4, 10, generator=g)
    assert torch.allclose(ddim, torch.full_like(ddim, c), atol=1e-5)  # deterministic DDIM lands on c
    ancestral = ddpm.sample(64, generator=g)  # all 100 steps: the last one adds no noise
    assert (ancestral - c).abs().max().item() < 0.05 and abs((ancestral - c).mean().item()) < 2e-3


def test_the_bound_with_the_oracle_leaves_only_the_variance_mismatch():
    c = GRID[64].item()
    ddpm = _oracle_ddpm(c, timesteps=20)
    s = ddpm.schedule
    x0 = torch.full((2, 1, 32, 32), c)
    t = torch.full((2,), 7)
    terms = ddpm.bound_terms(x0, t, torch.randn(x0.shape, generator=torch.Generator().manual_seed(0)))
    ratio = s.posterior_var[7] / s.reverse_var[7]  # the model's mean is exact; only sigma_t^2 != beta~_t costs
    per_dim = 0.5 * (ratio - 1 - ratio.log())
    assert torch.allclose(terms, per_dim * 1024, rtol=1e-3)
    # L_0: the exact mean and the scale sigma = sqrt(beta~_2): x0's bin holds 2 Phi(h / sigma) - 1, h = 1/255
    l0 = ddpm.bound_terms(x0, torch.zeros(2, dtype=torch.long), torch.randn(x0.shape))
    sigma = s.reverse_var[0].double().sqrt()
    expected_l0 = -1024 * torch.log(2 * torch.special.ndtr(likelihood.BIN_HALF_WIDTH / sigma) - 1)
    assert torch.allclose(l0.double(), expected_l0.expand(2), rtol=1e-4)


def test_the_bound_sums_every_term_and_its_monte_carlo_estimate_is_unbiased():
    c, T = GRID[64].item(), 20
    ddpm = _oracle_ddpm(c, timesteps=T)  # with the oracle each L_t (t >= 1) is a known constant
    s = ddpm.schedule
    x0 = torch.full((1, 1, 32, 32), c)
    ratio = (s.posterior_var[1:] / s.reverse_var[1:]).double()
    terms = 1024 * 0.5 * (ratio - 1 - ratio.log())  # L_1 .. L_{T-1}, nats
    l0 = ddpm.bound_terms(x0, torch.zeros(1, dtype=torch.long), torch.randn(x0.shape)).double()
    exact = (ddpm.prior_term(x0).double() + l0 + terms.sum()) / (1024 * math.log(2))
    assert ddpm.bits_per_dim(x0).double().item() == pytest.approx(exact.item(), rel=1e-4)
    # sampling 2 steps per estimate: mean of (T-1)/2 * (L_a + L_b) over many estimates -> the sum
    estimates = torch.stack([ddpm.bits_per_dim(x0, 2, generator=torch.Generator().manual_seed(i)) for i in range(300)])
    spread = ((T - 1) * terms.std() / math.sqrt(2) / (1024 * math.log(2))).item()  # one estimate's std, about
    assert abs(estimates.mean().item() - exact.item()) < 4 * spread / math.sqrt(300)


@pytest.mark.parametrize("train", [recipes.train_vae, recipes.train_ddpm])
def test_a_resumed_run_continues_exactly(tmp_path, train):
    small = {"model": {"width": 8, "channel_mult": (1, 2), "timesteps": 50}} if train is recipes.train_ddpm else {}
    settings = dict(device="cpu", progress=False, batch_size=8, n_snapshot=2, **small)
    once = train(out_dir=tmp_path / "once", steps=4, **settings)
    train(out_dir=tmp_path / "twice", steps=2, **settings)
    twice = train(out_dir=tmp_path / "twice", steps=4, resume=True, **settings)
    a, b = (load_checkpoint(tmp_path / n / CHECKPOINT_NAME) for n in ("once", "twice"))
    for name in [k for k in a if k in ("vae", "model", "model_ema")]:
        assert all(torch.equal(a[name][k], b[name][k]) for k in a[name]), name
    assert once.history.loss[-1] == twice.history.loss[-1]  # (the first run also logged its last step, 2)


# ---- the command line ----


@pytest.mark.parametrize("model", ["vae", "ddpm"])
def test_the_cli_trains_writes_and_resumes(tmp_path, capsys, model):
    from ganlib.__main__ import main

    out = tmp_path / model
    args = ["train", model, "--profile", "smoke", "--out", str(out), "--no-progress", "--device", "cpu",
            "--batch-size", "8", "--sampling-steps", "3"]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "history.json", "losses.png", "samples.png"]
    assert main([*args, "--steps", "6", "--resume"]) == 0 and load_checkpoint(out / CHECKPOINT_NAME)["step"] == 6
    printed = capsys.readouterr().out
    assert "sampled 64 images" in printed and ("3 network evaluations" in printed) == (model == "ddpm")
    assert main(["train", model, "--k", "2", "--out", str(tmp_path / "x")]) == 2
    assert "--k do not apply" in capsys.readouterr().err


# ---- the shipped comparison runs (notebook 09) ----


def test_the_comparison_file_round_trips_and_says_how_to_remake_it(tmp_path, monkeypatch):
    import importlib.util

    from ganlib import shipped

    spec = importlib.util.spec_from_file_location(
        "train_comparison_assets", Path(__file__).resolve().parents[3] / "scripts" / "train_comparison_assets.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "assets" / recipes.COMPARISON_FILE
    with pytest.raises(GateFailed, match="dcgan seed 0: FAILED"):  # one step of training is no model of the digits
        script.main(["--steps", "1", "--out", str(out), "--work-dir", str(tmp_path / "work")])
    assert not out.exists()
    passing = lambda name, model, family: GateResult(name, GATES[family], (0.1,) * 10, 1.0, 1.0, 0.0, ())  # noqa: E731
    monkeypatch.setattr(script, "measure_model", passing)  # the round trip of the file, with the gate stood in for
    script.main(["--steps", "1", "--out", str(out), "--work-dir", str(tmp_path / "work")])
    monkeypatch.setattr(shipped.importlib.resources, "files", lambda package: tmp_path)  # ganlib/assets -> tmp_path
    runs = recipes.load_comparison_runs()
    assert sorted(runs) == ["dcgan", "ddpm", "vae"] and all([m.seed for m in runs[f]] == [0, 1, 2] for f in runs)
    assert runs["ddpm"][0].sampler.cfg.width == 16 and runs["ddpm"][0].info["steps"] == 1
    assert "--steps 1" in runs["vae"][2].info["command"]
    first, second = (m.sampler.encoder[0].weight for m in runs["vae"][:2])
    assert not torch.equal(first, second)  # each seed's own weights
    out.write_bytes(b"not a torch file")
    with pytest.raises(RuntimeError, match="cannot be read.*train_comparison_assets"):
        recipes.load_comparison_runs()
    out.unlink()
    with pytest.raises(FileNotFoundError, match="scripts/train_comparison_assets.py"):
        recipes.load_comparison_runs()
