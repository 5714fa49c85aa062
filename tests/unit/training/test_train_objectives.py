"""The training loop with every objective, weight clipping, the gradient penalty, EMA and health figures."""

import copy
import math

import pytest
import torch

from ganlib import losses
from ganlib.data import ToyBatches, ring8
from ganlib.models.mlp import build_mlp_gan
from ganlib.train import CHECKPOINT_NAME, TrainConfig, ema_beta, ema_update, load_checkpoint, train

BATCH = 32


pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py


def _toy(seed: int = 0):
    torch.manual_seed(seed)
    G, D = build_mlp_gan("toy2d", g_hidden=(32, 32), d_hidden=(32, 32))
    return G, D, ToyBatches(ring8(), BATCH, generator=torch.Generator().manual_seed(seed))


def _cfg(**kw) -> TrainConfig:
    base = dict(steps=12, batch_size=BATCH, log_every=4, n_snapshot=8, lr_g=1e-3, lr_d=1e-3)
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("name", sorted(losses.OBJECTIVES))
def test_every_objective_trains_and_records_health_figures(name):
    G, D, batches = _toy()
    history = train(G, D, batches, _cfg(objective=name, k=2), progress=False)
    assert history.step == [4, 8, 12]
    for metric in ("d_loss", "g_loss", "w_estimate", "d_grad_norm", "g_grad_norm", "d_acc_real", "d_acc_fake"):
        values = getattr(history, metric)
        assert len(values) == 3 and all(math.isfinite(v) for v in values), (metric, values)
    assert all(v > 0 for v in history.d_grad_norm + history.g_grad_norm)


def test_wgan_clips_the_critic_after_every_update():
    G, D, batches = _toy()
    with torch.no_grad():
        for p in D.parameters():
            p.mul_(100)  # far outside [-0.01, 0.01]
    train(G, D, batches, _cfg(objective="wgan", steps=2), progress=False)
    assert max(p.abs().max().item() for p in D.parameters()) <= 0.01 + 1e-9


def test_wgan_gp_step_adds_the_weighted_penalty_to_the_critic_loss():
    G, D, batches = _toy()
    seen = {}

    def step_fn(G, D, opt_g, opt_d, batches, sample_z, **kwargs):
        seen.update(kwargs)
        from ganlib.train import train_step

        return train_step(G, D, opt_g, opt_d, batches, sample_z, **kwargs)

    train(G, D, batches, _cfg(objective="wgan-gp", steps=1, log_every=1), progress=False, step_fn=step_fn)
    assert seen["gp_weight"] == 10.0 and seen["d_loss"] is losses.wasserstein_critic_loss
    assert seen["g_loss"] is losses.wasserstein_generator_loss and seen["clip"] is None


def test_gan_objective_passes_only_k_and_g_loss_to_a_custom_step():
    # Notebook 02's students write step functions with exactly these keyword arguments.
    G, D, batches = _toy()
    seen = {}

    def step_fn(G, D, opt_g, opt_d, batches, sample_z, *, k, g_loss):
        seen.update(k=k, g_loss=g_loss)
        from ganlib.train import train_step

        return train_step(G, D, opt_g, opt_d, batches, sample_z, k=k, g_loss=g_loss)

    train(G, D, batches, _cfg(steps=1, log_every=1, g_loss="saturating", k=3), progress=False, step_fn=step_fn)
    assert seen == {"k": 3, "g_loss": losses.generator_loss_saturating}


def test_unknown_objective_lists_the_valid_ones():
    G, D, batches = _toy()
    with pytest.raises(ValueError, match="wgan-gp"):
        train(G, D, batches, _cfg(objective="wgan-typo"), progress=False)


def test_ema_beta_halves_a_weight_after_the_half_life():
    beta = ema_beta(batch_size=64, half_life_images=6400)
    assert beta ** (6400 / 64) == pytest.approx(0.5, rel=1e-12)


def test_ema_update_is_the_convex_combination():
    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    old = copy.deepcopy(a)
    ema_update(a, b, beta=0.9)
    for p_new, p_old, p in zip(a.parameters(), old.parameters(), b.parameters()):
        torch.testing.assert_close(p_new, 0.9 * p_old + 0.1 * p)


def test_ema_generator_follows_g_and_resumes_exactly(tmp_path):
    # Uninterrupted run with an EMA copy ...
    G, D, batches = _toy(0)
    G_ema = copy.deepcopy(G)
    cfg = _cfg(steps=10, checkpoint_every=5, ema_half_life=320)
    train(G, D, batches, cfg, progress=False, G_ema=G_ema, out_dir=tmp_path / "a")
    # ... and the same run interrupted at step 5 and resumed into fresh objects.
    G2, D2, batches2 = _toy(0)
    train(G2, D2, batches2, _cfg(steps=5, checkpoint_every=5, ema_half_life=320), progress=False,
          G_ema=copy.deepcopy(G2), out_dir=tmp_path / "b")
    G3, D3, batches3 = _toy(7)
    G3_ema = copy.deepcopy(G3)
    train(G3, D3, batches3, cfg, progress=False, G_ema=G3_ema, out_dir=tmp_path / "b", resume=True)
    for p, q in zip(G_ema.parameters(), G3_ema.parameters()):
        assert torch.equal(p, q)
    assert not all(torch.equal(p, q) for p, q in zip(G_ema.parameters(), G.parameters()))  # it lags G
    assert "G_ema" in load_checkpoint(tmp_path / "a" / CHECKPOINT_NAME)


def test_gradient_penalty_is_computed_in_fp32_outside_autocast():
    # The critic's forward runs under bf16 autocast, the penalty's double backward must not:
    # with the same weights, data and random interpolation weights, the penalty is the same
    # as in a run with no autocast at all.
    from ganlib.train import discriminator_step

    G, D, batches = _toy()
    real, z = next(batches), torch.randn(BATCH, 2, generator=torch.Generator().manual_seed(1))
    results = []
    for autocast in (None, lambda: torch.autocast("cpu", dtype=torch.bfloat16)):
        G_, D_ = copy.deepcopy(G), copy.deepcopy(D)
        opt = torch.optim.SGD(D_.parameters(), lr=0.0)
        torch.manual_seed(3)  # the same interpolation weights in both runs
        kwargs = dict(d_loss=losses.wasserstein_critic_loss, gp_weight=10.0)
        if autocast is not None:
            kwargs["autocast"] = autocast
        results.append(discriminator_step(G_, D_, opt, real, z, **kwargs)["gp"])
    assert results[0].dtype == results[1].dtype == torch.float32
    torch.testing.assert_close(results[1], results[0], rtol=1e-6, atol=1e-7)
