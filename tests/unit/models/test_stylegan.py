"""Tests of StyleGAN and StyleGAN2: AdaIN and the modulated convolution against closed forms and a
naive reference, the mapping network's learning-rate multiplier, truncation, style mixing, noise
modes, the presets' shapes, and the training task (lazy regularisation intervals, w_avg, exact resume)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ganlib import shipped
from ganlib.data import InMemoryBatches
from ganlib.models.stylegan import (
    MappingNetwork,
    STYLEGAN_PRESETS,
    StyleGANConfig,
    StyleGANDiscriminator,
    StyleGANGenerator,
    adain,
    build_stylegan,
    modulated_conv2d,
)
from ganlib.training import CHECKPOINT_NAME, Context, Progress, fit, load_checkpoint
from ganlib.training.stylegan import StyleGANTask, StyleGANTrainConfig, lazy_factor, mix_styles
from _interrupt import DiesAfter as _DiesAfter
from _interrupt import Killed as _Killed

pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py

f64 = torch.float64
TINY = dict(image_size=8, channels=1, latent_dim=8, w_dim=8, mapping_layers=2, fmap_base=32, fmap_max=8)


def _g(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _tiny(seed: int = 0, **kw):
    torch.manual_seed(seed)
    return build_stylegan(StyleGANConfig(**{**TINY, **kw}))


# --------------------------------------------------------------------------- AdaIN, modulated convolution


def test_adain_output_has_the_styles_mean_and_standard_deviation():
    x = torch.randn(3, 4, 5, 6, generator=_g(), dtype=f64) * 3 + 1
    scale = torch.randn(3, 4, generator=_g(1), dtype=f64)
    bias = torch.randn(3, 4, generator=_g(2), dtype=f64)
    out = adain(x, scale, bias, eps=0.0)
    assert out.shape == x.shape
    assert torch.allclose(out.mean(dim=(2, 3)), bias, atol=1e-12)  # mean y_b
    assert torch.allclose(out.std(dim=(2, 3), unbiased=False), scale.abs(), atol=1e-12)  # std |y_s|
    # the input's own statistics are gone: shifting and scaling x changes nothing
    assert torch.allclose(adain(5 * x - 2, scale, bias, eps=0.0), out, atol=1e-12)


def _naive_modulated_conv(x, weight, styles, demodulate, padding, eps=1e-8):
    """One sample at a time: scale the weights by the style (Eq. 1), normalise them (Eq. 3), F.conv2d."""
    out = []
    for b in range(x.shape[0]):
        w = weight * styles[b][None, :, None, None]  # w'_ijk = s_i w_ijk
        if demodulate:
            w = w / torch.sqrt((w ** 2).sum(dim=(1, 2, 3), keepdim=True) + eps)  # w''_ijk
        out.append(F.conv2d(x[b:b + 1], w, padding=padding))
    return torch.cat(out)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("demodulate,padding,k", [(True, 1, 3), (False, 1, 3), (True, 0, 3), (False, 0, 1)])
def test_modulated_conv_equals_a_naive_per_sample_reference(fused, demodulate, padding, k):
    x = torch.randn(3, 5, 6, 6, generator=_g(), dtype=f64)
    weight = torch.randn(4, 5, k, k, generator=_g(1), dtype=f64)
    styles = torch.randn(3, 5, generator=_g(2), dtype=f64)
    out = modulated_conv2d(x, weight, styles, demodulate=demodulate, padding=padding, fused=fused)
    ref = _naive_modulated_conv(x, weight, styles, demodulate, padding)
    assert out.shape == ref.shape
    assert torch.allclose(out, ref, atol=1e-5, rtol=0)
    assert (out - ref).abs().max() < 1e-12  # in float64 they agree to rounding


def test_demodulation_restores_unit_variance_for_unit_variance_inputs():
    x = torch.randn(8, 64, 12, 12, generator=_g())  # unit variance, independent
    weight = torch.randn(32, 64, 3, 3, generator=_g(1)) * 7  # any scale
    styles = torch.exp(torch.randn(8, 64, generator=_g(2)))  # log-normal styles: very unequal channels
    out = modulated_conv2d(x, weight, styles, demodulate=True, padding=0)  # no padding: every output sees 576 inputs
    assert out.std().item() == pytest.approx(1.0, abs=0.03)
    per_channel = out.std(dim=(0, 2, 3))
    assert per_channel.min() > 0.85 and per_channel.max() < 1.15
    plain = modulated_conv2d(x, weight, styles, demodulate=False, padding=0)
    assert plain.std() > 20  # without demodulation the styles and the weights' scale pass through


# --------------------------------------------------------------------------- mapping, truncation, mixing, noise


def test_mapping_layers_have_the_learning_rate_multiplier():
    G, _ = _tiny(mapping_lr=0.01)
    G = G.double()  # the stored mapping weights are ~100: float32 would round a 1e-3 step
    layer = G.mapping.layers[0]
    n_in = TINY["latent_dim"]
    assert layer.weight_scale == pytest.approx(0.01 / math.sqrt(n_in))
    effective = layer.weight * layer.weight_scale
    # stored ~ N(0, 1/0.01^2) times 0.01/sqrt(n_in): the forward pass is He-initialised whatever the multiplier
    assert effective.std().item() == pytest.approx(1 / math.sqrt(n_in), rel=0.35)
    # ... but Adam's first step (about lr on every stored weight) moves the effective weight 100x less
    affine = G.synthesis.blocks[0].layers[0].affine  # lr multiplier 1, same fan-in (w_dim = latent_dim)
    before_map, before_aff = effective.detach().clone(), (affine.weight * affine.weight_scale).detach().clone()
    opt = torch.optim.Adam(G.parameters(), lr=1e-3)
    G(torch.randn(4, n_in, generator=_g(), dtype=f64)).square().mean().backward()
    opt.step()
    moved_map = ((layer.weight * layer.weight_scale).detach() - before_map).abs()
    moved_aff = ((affine.weight * affine.weight_scale).detach() - before_aff).abs()
    assert torch.allclose(moved_map[moved_map > 0], torch.tensor(1e-3 * 0.01 / math.sqrt(n_in), dtype=f64), rtol=1e-4)
    assert torch.allclose(moved_aff[moved_aff > 0], torch.tensor(1e-3 / math.sqrt(n_in), dtype=f64), rtol=1e-4)


def test_truncation_at_psi_zero_gives_w_avg_and_at_one_changes_nothing():
    G, _ = _tiny()
    G.mapping.w_avg.copy_(torch.randn(TINY["w_dim"], generator=_g(3)))
    w = G.mapping(torch.randn(5, TINY["latent_dim"], generator=_g()))
    assert torch.allclose(G.truncate(w, 0.0), G.w_avg.expand(5, -1))
    assert torch.equal(G.truncate(w, 1.0), w)
    assert torch.allclose(G.truncate(w, 0.5), (w + G.w_avg) / 2, atol=1e-6)
    # through G: psi = 0 draws the same image for every z
    z = torch.randn(4, TINY["latent_dim"], generator=_g(1))
    images, ws = G(z, psi=0.0, noise_mode="const", return_w=True)
    assert torch.allclose(ws, G.w_avg.expand_as(ws)) and torch.allclose(images, images[:1].expand_as(images), atol=1e-6)


def test_w_avg_moves_toward_the_batch_mean_of_w():
    G, _ = _tiny()
    w = torch.randn(16, TINY["w_dim"], generator=_g()) + 3
    G.mapping.update_w_avg(w, decay=0.995)
    assert torch.allclose(G.w_avg, 0.005 * w.mean(0))
    for _ in range(2000):
        G.mapping.update_w_avg(w, decay=0.995)
    assert torch.allclose(G.w_avg, w.mean(0), atol=1e-3)


@pytest.mark.parametrize("architecture", ["stylegan1", "stylegan2"])
def test_style_mixing_layers_before_the_crossover_depend_only_on_z1(architecture):
    G, _ = _tiny(architecture=architecture)
    z1 = torch.randn(3, TINY["latent_dim"], generator=_g(), requires_grad=True)
    z2 = torch.randn(3, TINY["latent_dim"], generator=_g(1), requires_grad=True)
    c = 2
    _, ws = G(z1, mixing_z=z2, crossover=c, return_w=True)
    assert ws.shape == (3, G.num_ws, TINY["w_dim"])
    g1, g2 = torch.autograd.grad(ws[:, :c].sum(), (z1, z2), allow_unused=True, retain_graph=True)
    assert g1.abs().sum() > 0 and (g2 is None or torch.all(g2 == 0))
    g1, g2 = torch.autograd.grad(ws[:, c:].sum(), (z1, z2), allow_unused=True)
    assert (g1 is None or torch.all(g1 == 0)) and g2.abs().sum() > 0
    # the two ends: crossover num_ws is G(z1) alone, crossover 0 is G(z2) alone
    with torch.no_grad():
        assert torch.allclose(G(z1, mixing_z=z2, crossover=G.num_ws, noise_mode="const"), G(z1, noise_mode="const"))
        assert torch.allclose(G(z1, mixing_z=z2, crossover=0, noise_mode="const"), G(z2, noise_mode="const"))
    with pytest.raises(ValueError, match="crossover"):
        G(z1, mixing_z=z2)


def test_mix_styles_takes_w2_from_the_crossover_on():
    w1, w2 = torch.zeros(2, 3), torch.ones(2, 3)
    ws = mix_styles(w1, w2, torch.tensor(2), 4)
    assert ws.shape == (2, 4, 3) and ws[:, :2].sum() == 0 and torch.all(ws[:, 2:] == 1)
    assert torch.all(mix_styles(w1, w2, 4, 4) == 0)


@pytest.mark.parametrize("architecture", ["stylegan1", "stylegan2"])
def test_noise_modes(architecture):
    G, _ = _tiny(architecture=architecture)
    strengths = [m.strength for m in G.modules() if hasattr(m, "strength")]
    assert strengths and all(torch.all(s == 0) for s in strengths)  # noise strengths start at 0: no effect
    z = torch.randn(2, TINY["latent_dim"], generator=_g())
    with torch.no_grad():
        assert torch.equal(G(z, noise_mode="random"), G(z, noise_mode="none"))
        for s in strengths:
            s.fill_(1.0)
        assert torch.equal(G(z, noise_mode="const"), G(z, noise_mode="const"))
        assert not torch.allclose(G(z, noise_mode="random"), G(z, noise_mode="random"))
        assert not torch.allclose(G(z, noise_mode="const"), G(z, noise_mode="none"))
        assert torch.equal(G(z, noise_mode="none"), G(z, noise_mode="none"))
    with pytest.raises(ValueError, match="noise_mode"):
        G(z, noise_mode="fixed")


# --------------------------------------------------------------------------- shapes, presets


@pytest.mark.parametrize("architecture", ["stylegan1", "stylegan2"])
@pytest.mark.parametrize("preset", list(STYLEGAN_PRESETS))
def test_presets_build_and_give_the_right_shapes(preset, architecture):
    cfg = STYLEGAN_PRESETS[preset]
    # the preset's layout at a fraction of the width, so the test stays cheap
    G, D = build_stylegan(preset, architecture=architecture, fmap_base=cfg.fmap_base // 32,
                          fmap_max=max(cfg.fmap_max // 32, 2))
    assert G.cfg.latent_dim == cfg.latent_dim and G.num_ws == 2 * len(cfg.resolutions)
    z = torch.randn(2, cfg.latent_dim, generator=_g())
    with torch.no_grad():
        images, ws = G(z, return_w=True)
        logits = D(images)
    assert images.shape == (2, cfg.channels, cfg.image_size, cfg.image_size)
    assert ws.shape == (2, G.num_ws, cfg.w_dim) and logits.shape == (2,)
    assert STYLEGAN_PRESETS[preset] == cfg  # overrides leave the preset alone


def test_mnist32_preset_at_full_width():
    G, D = build_stylegan("mnist32")
    assert G.cfg.image_size == 32 and G.cfg.channels == 1 and G.cfg.architecture == "stylegan2"
    assert [G.cfg.fmaps(r) for r in G.cfg.resolutions] == [64, 32, 16, 8]
    with torch.no_grad():
        images = G(torch.randn(4, G.cfg.latent_dim, generator=_g()))
    assert images.shape == (4, 1, 32, 32) and D(images).shape == (4,)
    assert 0.2 < images.std().item() < 5  # demodulation keeps the signal at a sane scale at init


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="architecture"):
        StyleGANConfig(architecture="stylegan3")
    with pytest.raises(ValueError, match="power of 2"):
        StyleGANConfig(image_size=28)
    with pytest.raises(ValueError, match="unknown StyleGAN preset"):
        build_stylegan("ffhq1024")
    G, D = _tiny()
    with pytest.raises(AssertionError):
        G.synthesis(torch.zeros(2, G.num_ws + 1, TINY["w_dim"]))
    with pytest.raises(AssertionError):
        D(torch.zeros(2, 1, 16, 16))


def test_discriminator_is_residual_and_returns_one_logit_per_sample():
    _, D = _tiny()
    assert isinstance(D, StyleGANDiscriminator) and len(D.blocks) == 1  # 8 -> 4
    x = torch.randn(4, 1, 8, 8, generator=_g())
    assert D(x).shape == (4,)
    block = D.blocks[0]
    with torch.no_grad():
        for conv in (block.conv0, block.conv1):
            conv.weight.zero_(), conv.bias.zero_()
        h = torch.randn(2, 4, 8, 8, generator=_g(1))
        # main path silenced: the output is the 1x1 skip of the downsampled input, over sqrt(2)
        assert torch.allclose(block(h), block.skip(F.avg_pool2d(h, 2)) / math.sqrt(2), atol=1e-6)


# --------------------------------------------------------------------------- the training task


def _data(n: int = 24, size: int = 8):
    return torch.rand(n, 1, size, size, generator=_g(100)) * 2 - 1


def _task(nets, **kw):
    G, D = nets
    cfg = StyleGANTrainConfig(**{**dict(steps=6, batch_size=4, log_every=1, n_snapshot=3, ema_half_life=50.0), **kw})
    return StyleGANTask(G, D, cfg), cfg


def _batches(seed: int = 0, size: int = 8):
    return InMemoryBatches(_data(size=size), 4, generator=_g(seed))


def test_optimisers_are_scaled_for_lazy_regularisation():
    task, cfg = _task(_tiny())
    opts = task.optimizers(fused=False)
    c_g, c_d = 4 / 5, 16 / 17
    assert lazy_factor(4) == c_g and lazy_factor(0) == 1
    assert opts["g"].param_groups[0]["lr"] == pytest.approx(2e-3 * c_g)
    assert opts["g"].param_groups[0]["betas"] == pytest.approx((0.0, 0.99 ** c_g))
    assert opts["d"].param_groups[0]["lr"] == pytest.approx(2e-3 * c_d)
    assert opts["d"].param_groups[0]["betas"] == pytest.approx((0.0, 0.99 ** c_d))
    task, _ = _task(_tiny(), pl_weight=0.0, r1_gamma=0.0)  # no regulariser: no scaling
    opts = task.optimizers(fused=False)
    assert opts["g"].param_groups[0]["lr"] == opts["d"].param_groups[0]["lr"] == pytest.approx(2e-3)


def test_regularisers_run_exactly_on_their_lazy_steps():
    task, cfg = _task(_tiny(), steps=34)
    history = fit(task, _batches(), cfg, progress=False)
    done = history.step  # steps done after each logged iteration: iteration s is logged as s + 1
    r1_steps = [s - 1 for s, v in zip(done, history.r1) if not math.isnan(v)]
    pl_steps = [s - 1 for s, v in zip(done, history.pl) if not math.isnan(v)]
    assert r1_steps == [0, 16, 32]
    assert pl_steps == list(range(0, 34, 4))
    assert not any(math.isnan(v) for v in history.d_loss + history.g_loss + history.pl_mean)
    assert {"d_loss", "g_loss", "r1", "pl", "pl_mean"} <= set(history.names)
    # pl_mean moves only on path-length steps, by pl_decay of the gap
    pl_mean = history.pl_mean
    assert pl_mean[0] > 0 and pl_mean[1] == pl_mean[2] == pl_mean[3] and pl_mean[4] != pl_mean[3]


def test_training_updates_w_avg_toward_each_batch_mean_and_g_ema_follows_g(monkeypatch):
    G, D = _tiny()
    task, cfg = _task((G, D), steps=5, w_avg_decay=0.8)
    calls = []
    real_update = MappingNetwork.update_w_avg

    def spy(self, w, decay=0.995):
        calls.append((w.detach().clone(), decay))
        return real_update(self, w, decay)

    monkeypatch.setattr(MappingNetwork, "update_w_avg", spy)
    fit(task, _batches(), cfg, progress=False)
    assert len(calls) == 5 and all(w.shape == (4, TINY["w_dim"]) and d == 0.8 for w, d in calls)  # once a step
    expected = torch.zeros(TINY["w_dim"])
    for w, _ in calls:
        expected = 0.8 * expected + 0.2 * w.mean(0)  # w_avg <- decay w_avg + (1 - decay) mean_b w
    assert torch.allclose(G.w_avg, expected, atol=1e-6) and G.w_avg.abs().sum() > 0
    G_ema = task.modules["G_ema"]
    assert torch.equal(G_ema.w_avg, G.w_avg)  # buffers are copied into the EMA copy
    assert all(not p.requires_grad for p in G_ema.parameters())
    assert any(not torch.equal(p, q) for p, q in zip(G_ema.parameters(), G.parameters()))


def test_snapshots_come_from_g_ema_on_fixed_latents():
    task, cfg = _task(_tiny(), steps=2)
    history = fit(task, _batches(), cfg, progress=False)
    assert history.snapshot_steps == [0, 2] and history.snapshots[-1].shape == (3, 1, 8, 8)
    with torch.no_grad():
        expected = task.modules["G_ema"](task.z_fixed, noise_mode="const")
    assert torch.equal(history.snapshots[-1], expected)


def test_stylegan1_trains_in_the_same_task():
    task, cfg = _task(_tiny(architecture="stylegan1"), steps=3)
    history = fit(task, _batches(), cfg, progress=False)
    assert all(math.isfinite(v) for v in history.d_loss + history.g_loss)


def test_a_step_runs_under_bf16_autocast_with_the_penalties_in_fp32():
    # What fit does on CUDA (bf16 autocast around the forward passes), tried on the CPU
    G, D = _tiny(fused_modconv=True)
    task, cfg = _task((G, D))
    ctx = Context(progress=Progress(), device=torch.device("cpu"), modules={"G": G, "D": D},
                  optimizers=task.optimizers(fused=False), noise=_g(1),
                  autocast=lambda: torch.autocast("cpu", dtype=torch.bfloat16))
    metrics = task.step(ctx, _batches())
    assert {"r1", "pl", "pl_mean", "d_loss", "g_loss"} <= set(metrics)
    assert all(torch.isfinite(v) and v.dtype == torch.float32 for v in metrics.values())
    assert task.pl_mean.dtype == torch.float32 and G.w_avg.dtype == torch.float32


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="style_mixing_prob"):
        _task(_tiny(), style_mixing_prob=1.5)
    with pytest.raises(ValueError, match="r1_interval"):
        _task(_tiny(), r1_interval=-1)


def test_stylegan_killed_mid_run_resumes_exactly(tmp_path):
    # checkpoint at 9: the resumed run meets a path-length step (12), an R1 step (16) and style mixing
    kw = dict(steps=20, checkpoint_every=9, log_every=1)
    nets_a = _tiny(0)
    task_a, cfg = _task(nets_a, **kw)
    h_a = fit(task_a, _batches(0), cfg, out_dir=tmp_path / "a", progress=False)
    # B: the same run, killed during step 12; its last checkpoint is step 9's
    task_b, _ = _task(_tiny(0), **kw)
    with pytest.raises(_Killed):
        fit(task_b, _DiesAfter(_batches(0), 11), cfg, out_dir=tmp_path / "b", progress=False)
    ck = load_checkpoint(tmp_path / "b" / CHECKPOINT_NAME)
    assert ck["step"] == 9 and ck["task"]["name"] == "stylegan"
    assert {"G", "D", "G_ema", "opt_g", "opt_d"} <= set(ck) and ck["task"]["state"]["pl_mean"] > 0
    # C: other weights, other batches, another global RNG; everything must come from the checkpoint
    nets_c = _tiny(7)
    task_c, _ = _task(nets_c, **kw)
    torch.manual_seed(1234)
    h_c = fit(task_c, _batches(3), cfg, out_dir=tmp_path / "b", resume=True, progress=False)
    assert h_c.to_dict() == h_a.to_dict()  # every series, pl_mean, r1 and pl included
    assert torch.equal(h_c.snapshots[-1], h_a.snapshots[-1])
    assert torch.equal(task_c.pl_mean, task_a.pl_mean)
    end_a, end_c = load_checkpoint(tmp_path / "a" / CHECKPOINT_NAME), load_checkpoint(tmp_path / "b" / CHECKPOINT_NAME)
    for name in ("G", "D", "G_ema"):
        sa, sc = end_a[name], end_c[name]
        assert sa.keys() == sc.keys() and all(torch.equal(sa[k], sc[k]) for k in sa), name
    for name in ("opt_g", "opt_d"):
        sa, sc = end_a[name]["state"], end_c[name]["state"]
        assert sa.keys() == sc.keys()
        assert all(torch.equal(sa[i][k], sc[i][k]) for i in sa for k in sa[i]), name
        assert end_a[name]["param_groups"] == end_c[name]["param_groups"]


# ---------------------------------------------------------------------------------------------
# The generators shipped for notebook 08b
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("architecture", ["stylegan1", "stylegan2"])
def test_the_shipped_generators_load_with_their_record_and_draw_varied_digits(architecture):
    from ganlib.metrics import predict_digits
    from ganlib.models.stylegan import load_pretrained

    G, info = load_pretrained(architecture)
    assert G.cfg.architecture == architecture and not G.training
    assert not any(p.requires_grad for p in G.parameters())
    assert info["steps"] >= 1000 and info["seed"] == 0 and info["command"].startswith("python scripts/train_stylegan_assets.py")
    with torch.no_grad():
        x = G(torch.randn(300, G.cfg.latent_dim, generator=torch.Generator().manual_seed(0)), noise_mode="const")
    assert x.shape == (300, 1, 32, 32) and torch.isfinite(x).all()
    classes = torch.bincount(predict_digits(x.clamp(-1, 1), device="cpu"), minlength=10)
    assert (classes > 0).sum() >= 8, f"a collapsed generator: digits read {classes.tolist()}"
    assert G.w_avg.abs().sum() > 0  # the tracked average of w came along (truncation needs it)


def test_load_pretrained_says_what_is_wrong(monkeypatch, tmp_path):
    from ganlib.models import stylegan as sg

    with pytest.raises(ValueError, match="architecture must be one of"):
        sg.load_pretrained("stylegan3")
    monkeypatch.setattr(shipped.importlib.resources, "files", lambda package: tmp_path)
    with pytest.raises(FileNotFoundError, match="scripts/train_stylegan_assets.py"):
        sg.load_pretrained("stylegan2")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / sg.PRETRAINED_NAME).write_bytes(b"not a torch file")
    with pytest.raises(RuntimeError, match="cannot be read.*scripts/train_stylegan_assets.py"):
        sg.load_pretrained("stylegan2")
    torch.save({"format": sg.PRETRAINED_FORMAT}, tmp_path / "assets" / sg.PRETRAINED_NAME)
    with pytest.raises(FileNotFoundError, match="holds no stylegan1 generator"):
        sg.load_pretrained("stylegan1")
    torch.save({"weights": 1}, tmp_path / "assets" / sg.PRETRAINED_NAME)
    with pytest.raises(RuntimeError, match="is not a ganlib-stylegan-assets-v1 file"):
        sg.load_pretrained("stylegan1")
