"""Tests of ProGAN (Karras et al. 2018): the equalised layers, pixel norm and minibatch std in closed
form, the growing networks and their fade-in, the schedule, batches of varying size, and a run that
grows 4 -> 8 -> 16 and, killed in the middle of a fade-in, resumes exactly."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ganlib.data import InMemoryBatches
from ganlib.models.progan import (
    EqualizedConv2d,
    EqualizedLinear,
    ProGANConfig,
    build_progan,
    downsample,
    fade_in,
    fade_reals,
    minibatch_stddev,
    pixel_norm,
    resolutions,
    upsample,
)
from ganlib.training import CHECKPOINT_NAME, fit, load_checkpoint
from ganlib.training.loop import Context, Progress, _LoopBatches
from ganlib.training.progan import (
    ProGANTask,
    ProGANTrainConfig,
    batch_size_at,
    images_after,
    phase,
    schedule,
    steps_for_images,
)
from _interrupt import DiesAfter as _DiesAfter
from _interrupt import Killed as _Killed

pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py


# --------------------------------------------------------------------------- equalised learning rate


@pytest.mark.parametrize("gain", [1.0, math.sqrt(2)])
def test_equalised_layers_keep_the_signal_at_the_gain_times_the_input_scale(gain):
    torch.manual_seed(0)
    conv = EqualizedConv2d(64, 64, 3, padding=1, gain=gain)
    dense = EqualizedLinear(1024, 256, gain=gain)
    x = torch.randn(16, 64, 16, 16)  # std 1
    assert conv(x)[:, :, 1:-1, 1:-1].std().item() == pytest.approx(gain, rel=0.05)  # inside: no zero padding
    assert dense(torch.randn(256, 1024)).std().item() == pytest.approx(gain, rel=0.05)


def test_equalised_weights_are_stored_as_n01_and_scaled_by_he_s_constant_at_run_time():
    torch.manual_seed(0)
    conv, dense = EqualizedConv2d(32, 48, 3, gain=math.sqrt(2)), EqualizedLinear(512, 64, gain=1.0)
    assert conv.weight_scale == math.sqrt(2) / math.sqrt(32 * 3 * 3)  # c = gain / sqrt(fan_in)
    assert dense.weight_scale == 1.0 / math.sqrt(512)
    for layer in (conv, dense):
        w = layer.weight.detach()
        assert abs(w.mean().item()) < 0.02 and w.std().item() == pytest.approx(1.0, rel=0.03)  # N(0, 1)
    # the forward pass is that of a layer whose effective weight is c * w
    x = torch.randn(2, 32, 5, 5)
    assert torch.allclose(conv(x), F.conv2d(x, conv.weight * conv.weight_scale, conv.bias), atol=1e-6)
    v = torch.randn(3, 512)
    assert torch.allclose(dense(v), v @ (dense.weight * dense.weight_scale).T + dense.bias, atol=1e-6)


def _relative_first_adam_update(layer: nn.Module, effective) -> float:
    """||change of the effective weight|| / ||effective weight|| after one Adam step on a random loss."""
    opt = torch.optim.Adam(layer.parameters(), lr=1e-3, betas=(0.0, 0.99))
    before = effective(layer).detach().clone()
    x = torch.randn(32, layer.weight.shape[1])
    loss = (layer(x) * torch.randn(32, layer.weight.shape[0])).sum()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return ((effective(layer).detach() - before).norm() / before.norm()).item()


def test_under_adam_every_equalised_layer_learns_at_the_same_relative_speed():
    # Adam's first step moves every stored weight by lr (g / |g|), whatever the gradient's scale. With
    # equalised layers the stored weight is N(0, 1) for every fan-in, so the effective weight c * w
    # moves by lr relative to its size: ||c lr sign(g)|| / ||c w|| = lr sqrt(n) / ||w|| ~ lr.
    # A plain He-initialised layer stores c * N(0, 1): the same step is lr / c relative, sqrt(fan_in) / gain
    # times larger, so wide layers would learn faster than narrow ones (Karras et al. 2018, Sec. 4.1).
    torch.manual_seed(0)
    lr = 1e-3
    fans = (16, 1024)
    equalised = [_relative_first_adam_update(EqualizedLinear(n, 64, gain=math.sqrt(2)),
                                             lambda m: m.weight * m.weight_scale) for n in fans]
    for n, rel in zip(fans, equalised):
        assert rel == pytest.approx(lr, rel=0.05), (n, rel)
    plain = []
    for n in fans:
        layer = nn.Linear(n, 64)
        nn.init.kaiming_normal_(layer.weight, a=0.0)  # std sqrt(2 / fan_in), as He
        plain.append(_relative_first_adam_update(layer, lambda m: m.weight))
    for n, rel in zip(fans, plain):
        assert rel == pytest.approx(lr * math.sqrt(n) / math.sqrt(2), rel=0.05), (n, rel)
    assert plain[1] / plain[0] == pytest.approx(math.sqrt(1024 / 16), rel=0.1)  # 8x faster in the wide layer
    assert equalised[1] / equalised[0] == pytest.approx(1.0, abs=0.07)


# --------------------------------------------------------------------------- pixel norm, minibatch std


def test_pixel_norm_gives_every_pixel_a_feature_vector_of_rms_one():
    torch.manual_seed(0)
    x = torch.randn(3, 16, 5, 5) * torch.rand(3, 1, 5, 5) * 10  # a different scale at every pixel
    rms = pixel_norm(x).pow(2).mean(dim=1).sqrt()  # (3, 5, 5)
    assert torch.allclose(rms, torch.ones_like(rms), atol=1e-5)
    v = torch.randn(4, 32) * 7  # (B, C) vectors, as z
    assert torch.allclose(pixel_norm(v).pow(2).mean(dim=1), torch.ones(4), atol=1e-5)
    assert torch.allclose(pixel_norm(v), v / v.pow(2).mean(1, keepdim=True).sqrt(), atol=1e-6)


def test_minibatch_std_of_identical_samples_is_zero():
    x = torch.randn(1, 3, 4, 4).expand(8, 3, 4, 4).contiguous()
    y = minibatch_stddev(x, group_size=4)
    assert y.shape == (8, 4, 4, 4)
    assert torch.equal(y[:, :3], x)
    assert y[:, 3].abs().max().item() < 1e-3  # sqrt(eps) = 1e-4


def test_minibatch_std_in_closed_form():
    # B = 4, groups of 2: samples i and i + B/2 form a group (as in the authors' code).
    # Feature 0: (0, 10, 2, 30); feature 1: (4, 0, 0, 0). Group {0, 2}: stds 1 and 2, mean 1.5;
    # group {1, 3}: stds 10 and 0, mean 5.
    x = torch.tensor([[0.0, 4.0], [10.0, 0.0], [2.0, 0.0], [30.0, 0.0]]).reshape(4, 2, 1, 1)
    y = minibatch_stddev(x, group_size=2)
    assert torch.allclose(y[:, 2].flatten(), torch.tensor([1.5, 5.0, 1.5, 5.0]), atol=1e-4)
    with pytest.raises(AssertionError, match="divisible"):
        minibatch_stddev(torch.randn(6, 2, 1, 1), group_size=4)


# --------------------------------------------------------------------------- the growing networks


def _tiny_cfg(**overrides) -> ProGANConfig:
    # widths 8, 8, 4 at 4, 8, 16 px
    return ProGANConfig(**{"latent_dim": 8, "channels": 1, "resolution": 16, "fmap_base": 64, "fmap_max": 8, **overrides})


def _tiny(seed: int = 0, **overrides):
    torch.manual_seed(seed)
    return build_progan(_tiny_cfg(**overrides))


def test_widths_follow_the_fmap_rule_and_presets_build():
    cfg = ProGANConfig()  # the paper's: 512 up to 32 px
    assert [cfg.width(r) for r in (4, 32, 64, 128, 256)] == [512, 512, 256, 128, 64]
    assert _tiny_cfg().resolutions == (4, 8, 16) and [_tiny_cfg().width(r) for r in (4, 8, 16)] == [8, 8, 4]
    G, D = build_progan("mnist32")
    assert G.cfg.resolutions == (4, 8, 16, 32) and G.cfg.channels == 1 and D.cfg == G.cfg
    assert build_progan("celeba64", fmap_max=16)[0].cfg.resolution == 64
    with pytest.raises(ValueError, match="unknown ProGAN preset"):
        build_progan("lsun")
    with pytest.raises(ValueError, match="power of two"):
        ProGANConfig(resolution=48)
    assert resolutions(4, 32) == [4, 8, 16, 32] and resolutions(8, 8) == [8]
    with pytest.raises(ValueError, match="powers of two"):
        resolutions(8, 4)


@pytest.mark.parametrize("resolution, alpha", [(4, 1.0), (8, 0.0), (8, 0.3), (8, 1.0), (16, 0.0), (16, 0.7), (16, 1.0)])
def test_generator_and_discriminator_shapes_at_every_resolution_and_alpha(resolution, alpha):
    G, D = _tiny()
    z = torch.randn(4, 8)
    x = G(z, resolution, alpha)
    assert x.shape == (4, 1, resolution, resolution) and x.dtype == torch.float32
    assert D(x, resolution, alpha).shape == (4,)


def test_the_networks_refuse_wrong_shapes_and_phases_with_clear_messages():
    G, D = _tiny()
    with pytest.raises(AssertionError, match=r"resolution must be one of \(4, 8, 16\)"):
        G(torch.randn(2, 8), 12)
    with pytest.raises(AssertionError, match=r"alpha must lie in \[0, 1\]"):
        G(torch.randn(2, 8), 8, 1.5)
    with pytest.raises(AssertionError, match="no smaller network to fade from"):
        D(torch.randn(2, 1, 4, 4), 4, 0.5)
    with pytest.raises(AssertionError, match=r"z of shape \(B, 8\)"):
        G(torch.randn(2, 9), 8)
    with pytest.raises(AssertionError, match=r"D at 8 px expects images of shape \(B, 1, 8, 8\)"):
        D(torch.randn(2, 1, 16, 16), 8)
    assert G(torch.randn(2, 8)).shape == (2, 1, 16, 16)  # default: the final resolution


def test_fade_in_is_exactly_the_old_path_at_alpha_0_and_the_new_at_alpha_1():
    old, new = torch.randn(2, 3, 4, 4), torch.randn(2, 3, 4, 4)
    assert torch.equal(fade_in(old, new, 0.0), old) and torch.equal(fade_in(old, new, 1.0), new)
    assert torch.allclose(fade_in(old, new, 0.25), 0.25 * new + 0.75 * old)


def test_the_generator_fades_its_new_block_in_over_the_old_output_enlarged():
    G, _ = _tiny()
    z = torch.randn(4, 8)
    with torch.no_grad():
        h4 = G.blocks[0](pixel_norm(z))  # (4, 8, 4, 4)
        old = upsample(G.to_rgb[0](h4))  # the 4 px G, enlarged: Fig. 2 (a)
        new = G.to_rgb[1](G.blocks[1](h4))  # the new 8 px block
        assert torch.equal(G(z, 8, 0.0), old) and torch.equal(G(z, 8, 0.0), upsample(G(z, 4)))
        assert torch.equal(G(z, 8, 1.0), new)
        assert torch.allclose(G(z, 8, 0.4), 0.4 * new + 0.6 * old, atol=1e-6)  # Fig. 2 (b)


def test_the_discriminator_fades_its_new_block_in_over_the_old_input_halved():
    _, D = _tiny()
    x = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        assert torch.equal(D(x, 16, 0.0), D(F.avg_pool2d(x, 2), 8, 1.0))  # only the smaller D, on avgpool(x)
        lrelu = lambda t: F.leaky_relu(t, 0.2)
        new = D.blocks[2](lrelu(D.from_rgb[2](x)))  # (4, 8, 8, 8)
        old = lrelu(D.from_rgb[1](F.avg_pool2d(x, 2)))  # (4, 8, 8, 8)
        rest = lambda h: D.blocks[0](D.blocks[1](h))
        assert torch.equal(D(x, 16, 1.0), rest(new))
        assert torch.allclose(D(x, 16, 0.3), rest(0.3 * new + 0.7 * old), atol=1e-6)


def test_reals_are_downsampled_and_faded_like_the_generators_output():
    x = torch.randn(3, 1, 16, 16)
    x8 = F.avg_pool2d(x, 2)
    assert torch.equal(downsample(x, 16), x) and torch.allclose(downsample(x, 4), F.avg_pool2d(x8, 2), atol=1e-6)
    assert torch.equal(fade_reals(x, 8, 1.0), x8)
    coarse = upsample(F.avg_pool2d(x8, 2))
    assert torch.equal(fade_reals(x, 8, 0.0), coarse)  # the 4 px image, enlarged: what G makes at alpha 0
    assert torch.allclose(fade_reals(x, 8, 0.25), 0.25 * x8 + 0.75 * coarse, atol=1e-6)


def test_networks_start_on_the_cpu_in_float32():
    G, D = _tiny()
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in [*G.parameters(), *D.parameters()])


# --------------------------------------------------------------------------- the schedule


def _cfg(**overrides) -> ProGANTrainConfig:
    base = dict(final_resolution=16, images_per_phase=16, batch_sizes={4: 8, 8: 8, 16: 4}, batch_size=8,
                log_every=1, n_snapshot=4, ema_half_life=50.0, objective="gan")
    return ProGANTrainConfig(**{**base, **overrides})


def test_phase_boundaries_in_images():
    cfg = _cfg(images_per_phase=100)
    expected = {0: (4, 1.0), 99: (4, 1.0),  # stabilise 4
                100: (8, 0.0), 150: (8, 0.5), 175: (8, 0.75),  # fade in 8
                200: (8, 1.0), 299: (8, 1.0),  # stabilise 8
                300: (16, 0.0), 301: (16, 0.01), 399: (16, 0.99),  # fade in 16
                400: (16, 1.0), 10 ** 7: (16, 1.0)}  # stabilise 16 until the end
    for images, (resolution, alpha) in expected.items():
        assert phase(images, cfg) == (resolution, pytest.approx(alpha)), images
    assert schedule(cfg) == [(0, 4, "stabilise"), (100, 8, "fade-in"), (200, 8, "stabilise"),
                             (300, 16, "fade-in"), (400, 16, "stabilise")]
    later = _cfg(images_per_phase=100, start_resolution=8)
    assert phase(0, later) == (8, 1.0) and phase(100, later) == (16, 0.0) and phase(200, later) == (16, 1.0)
    with pytest.raises(ValueError):
        phase(-1, cfg)


def test_steps_for_images_follows_the_batch_size_of_each_phase():
    cfg = _cfg(images_per_phase=100, batch_sizes={4: 10, 8: 20, 16: 50})
    assert [batch_size_at(r, cfg) for r in (4, 8, 16)] == [10, 20, 50]
    # 100 images at 4 px in 10 steps, 200 at 8 px in 10, the 100 of the 16 px fade-in in 2
    assert steps_for_images(100, cfg) == 10 and steps_for_images(300, cfg) == 20 and steps_for_images(400, cfg) == 22
    assert steps_for_images(401, cfg) == 23


def test_the_default_schedule_is_the_documented_quick_run():
    cfg = ProGANTrainConfig()
    assert ProGANTask(*build_progan("mnist32"), cfg).objective is not None  # the defaults fit the preset
    assert [steps_for_images(k * cfg.images_per_phase, cfg) for k in (1, 3, 5, 6)] == [64, 192, 448, 576]
    # 3 * 4096 images in batches of 64 (4 and 8 px), 3 * 4096 in batches of 32 (16 px and the 32 px fade-in)
    assert cfg.steps == 800 and phase(6 * 4096, cfg) == (32, 1.0) and phase(6 * 4096 - 32, cfg)[1] < 1


# --------------------------------------------------------------------------- batches of varying size


def test_take_draws_n_items_from_the_permutation_and_resumes_exactly():
    data = torch.arange(20.0).reshape(20, 1)
    a = InMemoryBatches(data, 4, generator=torch.Generator().manual_seed(0))
    b = InMemoryBatches(data, 4, generator=torch.Generator().manual_seed(0))
    fresh = InMemoryBatches(data, 4, generator=torch.Generator().manual_seed(0))
    first = torch.cat([a.take(4), a.take(8), a.take(4), a.take(3)])  # 19 of the first epoch's 20, in order
    assert torch.equal(first, fresh.take(19)) and len(set(first.flatten().tolist())) == 19
    assert torch.equal(first[:4], next(b))  # next is take(batch_size)
    state = a.state_dict()
    after = [a.take(n) for n in (2, 6, 16)]  # 2 does not fit: a new epoch starts
    assert a.epoch == 3
    c = InMemoryBatches(data, 4, generator=torch.Generator().manual_seed(9))
    c.load_state_dict(state)
    assert all(torch.equal(x, c.take(n)) for x, n in zip(after, (2, 6, 16)))
    with pytest.raises(ValueError, match="cannot take 21"):
        a.take(21)


def test_the_loop_counts_the_images_taken_and_says_when_batches_cannot_take():
    progress = Progress()
    data = torch.randn(40, 1, 4, 4)
    batches = _LoopBatches(InMemoryBatches(data, 8), progress, channels_last=False)
    assert batches.take(12).shape == (12, 1, 4, 4) and next(batches).shape == (8, 1, 4, 4)
    assert progress.images == 20

    class NoTake:
        def __next__(self):
            return data[:8]

    with pytest.raises(TypeError, match="no take"):
        _LoopBatches(NoTake(), progress, channels_last=False).take(4)


# --------------------------------------------------------------------------- runs


def _data(seed: int = 0, n: int = 64) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 16, 16, generator=g) * 2 - 1  # (n, 1, 16, 16)


def _batches(seed: int = 0):
    return InMemoryBatches(_data(), 8, generator=torch.Generator().manual_seed(seed))


def _expected_phases(cfg: ProGANTrainConfig, steps: int) -> list[tuple[int, float, int]]:
    """(resolution, alpha, batch size) of each step, by the closed form."""
    seen, out = 0, []
    for _ in range(steps):
        resolution, alpha = phase(seen, cfg)
        out.append((resolution, alpha, batch_size_at(resolution, cfg)))
        seen += out[-1][2]
    return out


def test_a_tiny_run_grows_through_4_8_16_as_the_schedule_says(tmp_path):
    # 16 images a phase; batches of 8 at 4 and 8 px, 4 at 16 px:
    # steps 0-1 stabilise 4; 2-3 fade 8 (alpha 0, 1/2); 4-5 stabilise 8; 6-9 fade 16 (0, 1/4, 1/2, 3/4); 10- stabilise 16
    cfg = _cfg(steps=12, snapshot_every=3)
    G, D = _tiny()
    history = fit(ProGANTask(G, D, cfg), _batches(), cfg, out_dir=tmp_path, progress=False)
    assert history.resolution == [4] * 2 + [8] * 4 + [16] * 6
    assert history.alpha == [1, 1, 0, 0.5, 1, 1, 0, 0.25, 0.5, 0.75, 1, 1]
    assert history.batch_size == [8] * 6 + [4] * 6
    assert [(r, a, b) for r, a, b in zip(history.resolution, history.alpha, history.batch_size)] == _expected_phases(cfg, 12)
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["images"] == 6 * 8 + 6 * 4
    assert history.snapshot_steps == [0, 3, 6, 9, 12]
    assert all(s.shape == (4, 1, 16, 16) for s in history.snapshots)  # every snapshot at the final size
    small = history.snapshots[0]  # 4 px images, enlarged by 4: constant 4x4 blocks
    assert torch.equal(small, upsample(small[:, :, ::4, ::4], 4))
    assert all(math.isfinite(v) for v in history.d_loss + history.g_loss)


def test_batch_sizes_change_with_the_resolution_and_every_image_is_counted(tmp_path):
    cfg = _cfg(steps=9, batch_sizes={4: 16, 8: 8, 16: 4}, images_per_phase=32)
    requested = []

    class Recording(InMemoryBatches):
        def take(self, n):
            requested.append(n)
            return super().take(n)

    G, D = _tiny()
    batches = Recording(_data(), 8, generator=torch.Generator().manual_seed(0))
    history = fit(ProGANTask(G, D, cfg), batches, cfg, out_dir=tmp_path, progress=False)
    # 32 images at 4 px (2 steps of 16), 32 fading in 8 px and 32 stabilising (4 + 4 steps of 8), then 4 at a time
    assert requested == [16, 16, 8, 8, 8, 8, 8, 8, 8] == history.batch_size
    assert history.resolution == [4, 4] + [8] * 7
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["images"] == sum(requested)


def test_a_step_shows_d_the_reals_faded_like_g_output_at_the_phase_of_the_progress():
    G, D = _tiny()
    cfg = _cfg()
    task = ProGANTask(G, D, cfg)
    calls = []

    class Recorder(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x, resolution, alpha):
            calls.append((x.detach().clone(), resolution, alpha))
            return self.inner(x, resolution, alpha)

    class Fixed:
        def take(self, n):
            return _data()[:n]

    ctx = Context(progress=Progress(step=7, images=6 * 8 + 4), device=torch.device("cpu"),
                  modules={"G": G, "D": Recorder(D)}, optimizers=task.optimizers(fused=False),
                  noise=torch.Generator().manual_seed(0))
    metrics = task.step(ctx, Fixed())
    assert [(r, a) for _, r, a in calls] == [(16, 0.25)] * 3  # reals, fakes (D phase), fakes (G phase)
    assert torch.equal(calls[0][0], fade_reals(_data()[:4], 16, 0.25))  # the reals, faded as G's output is
    assert (metrics["resolution"], metrics["alpha"], metrics["batch_size"]) == (16, 0.25, 4)
    assert task.images == 6 * 8 + 4 + 4


def test_layers_the_phase_does_not_run_are_not_updated(tmp_path):
    cfg = _cfg(steps=2)  # stabilise 4 only
    G, D = _tiny()
    G0, D0 = copy.deepcopy(G), copy.deepcopy(D)
    fit(ProGANTask(G, D, cfg), _batches(), cfg, out_dir=tmp_path, progress=False)
    changed = lambda a, b: not all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert changed(G.to_rgb[0], G0.to_rgb[0]) and changed(G.blocks[0], G0.blocks[0]) and changed(D.blocks[0], D0.blocks[0])
    for i in (1, 2):
        for a, b in ((G.to_rgb[i], G0.to_rgb[i]), (G.blocks[i], G0.blocks[i]),
                     (D.from_rgb[i], D0.from_rgb[i]), (D.blocks[i], D0.blocks[i])):
            assert not changed(a, b), i
    # Adam holds every parameter but has state only for those that had a gradient
    ck = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    n_g = len(list(G.parameters()))
    used = len(list(G.blocks[0].parameters())) + len(list(G.to_rgb[0].parameters()))
    assert len(ck["opt_g"]["param_groups"][0]["params"]) == n_g and len(ck["opt_g"]["state"]) == used


def test_after_a_fade_in_the_old_output_layer_stops_changing(tmp_path):
    # to_rgb[0] is used until the 8 px fade-in ends (step 4), never afterwards: Adam (beta1 = 0) skips it
    cfg = _cfg()
    weights = {}
    for steps in (4, 6):
        G, D = _tiny()
        run_cfg = _cfg(steps=steps)
        fit(ProGANTask(G, D, run_cfg), _batches(), run_cfg, out_dir=tmp_path / str(steps), progress=False)
        weights[steps] = (G.to_rgb[0].weight.detach().clone(), G.to_rgb[1].weight.detach().clone())
    assert phase(4 * 8, cfg) == (8, 1.0)  # steps 4 and 5 stabilise 8
    assert torch.equal(weights[4][0], weights[6][0]) and not torch.equal(weights[4][1], weights[6][1])


def _assert_same(a, b, where="checkpoint"):
    """Recursively equal: tensors bitwise, everything else by ==."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)), where


@pytest.mark.parametrize("objective", ["lsgan", "gan", "wgan-gp"])
def test_a_run_killed_in_the_middle_of_a_fade_in_resumes_exactly(tmp_path, objective):
    # steps 6-9 fade 16 px in; the checkpoint of step 7 (alpha 1/2 next) is the last before the kill during step 9
    cfg = _cfg(steps=13, checkpoint_every=7, objective=objective)
    assert phase(6 * 8 + 4, cfg) == (16, 0.25)  # step 7 starts in the middle of the fade-in
    # A: uninterrupted
    G_a, D_a = _tiny(0)
    task_a = ProGANTask(G_a, D_a, cfg)
    h_a = fit(task_a, _batches(0), cfg, out_dir=tmp_path / "a", progress=False)
    # B: the same run, killed while drawing the batch of step 9
    G_b, D_b = _tiny(0)
    with pytest.raises(_Killed):
        fit(ProGANTask(G_b, D_b, cfg), _DiesAfter(_batches(0), 9), cfg, out_dir=tmp_path / "b", progress=False)
    ck = load_checkpoint(tmp_path / "b" / CHECKPOINT_NAME)
    assert ck["step"] == 7 and ck["task"]["name"] == "progan" and ck["images"] == 6 * 8 + 4
    assert {"G", "D", "G_ema", "opt_g", "opt_d"} <= set(ck)
    # C: other weights, other batches, another global RNG; everything must come from the checkpoint
    G_c, D_c = _tiny(5)
    task_c = ProGANTask(G_c, D_c, cfg)
    torch.manual_seed(1234)
    h_c = fit(task_c, _batches(3), cfg, out_dir=tmp_path / "b", resume=True, progress=False)
    assert h_c.to_dict() == h_a.to_dict()
    assert h_a.alpha[6:11] == [0.0, 0.25, 0.5, 0.75, 1.0] and h_a.resolution[6:] == [16] * 7
    assert torch.equal(h_c.snapshots[-1], h_a.snapshots[-1])
    for name in ("G", "D", "G_ema"):
        sa, sc = task_a.modules[name].state_dict(), task_c.modules[name].state_dict()
        assert all(torch.equal(sa[k], sc[k]) for k in sa), name
    # the final checkpoints agree in everything: weights, Adam states, random states, batches, history
    end_a, end_c = load_checkpoint(tmp_path / "a" / CHECKPOINT_NAME), load_checkpoint(tmp_path / "b" / CHECKPOINT_NAME)
    assert end_c["history"].pop("seconds") > 0 and end_a["history"].pop("seconds") > 0  # wall-clock: not reproducible
    _assert_same(end_a, end_c)
    if objective == "wgan-gp":
        assert all(v >= 0 for v in h_a.gp) and all(v >= 0 for v in h_a.drift)


def test_bad_settings_are_refused():
    G, D = _tiny()
    with pytest.raises(ValueError, match="final_resolution 32 must equal"):
        ProGANTask(G, D, _cfg(final_resolution=32))
    with pytest.raises(ValueError, match="multiple of the minibatch-std group size 4"):
        ProGANTask(G, D, _cfg(batch_sizes={4: 6}))
    ProGANTask(G, D, _cfg(batch_sizes={4: 8, 8: 8, 16: 4, 32: 6}))  # sizes of resolutions this run skips are ignored
    with pytest.raises(ValueError, match="objective"):
        ProGANTask(G, D, _cfg(objective="hinge"))
    with pytest.raises(ValueError, match="share one config"):
        ProGANTask(G, build_progan(_tiny_cfg(fmap_max=4))[1], _cfg())


# ---------------------------------------------------------------------------------------------
# The switches notebook 08a compares: no equalised lr, no minibatch std, no fade-in
# ---------------------------------------------------------------------------------------------


def test_without_equalised_lr_the_same_function_is_stored_at_he_scale():
    """equalized_lr=False stores c * N(0, 1) and scales by 1: from one seed, the same G and D at initialisation."""
    G_eq, D_eq = _tiny(3)
    G_plain, D_plain = _tiny(3, equalized_lr=False)
    z, x = torch.randn(4, 8, generator=torch.Generator().manual_seed(1)), torch.randn(4, 1, 16, 16)
    assert torch.allclose(G_plain(z), G_eq(z), atol=1e-6) and torch.allclose(D_plain(x), D_eq(x), atol=1e-5)
    conv_eq, conv_plain = G_eq.blocks[2].conv1, G_plain.blocks[2].conv1  # 8 -> 4 channels, 3x3: c = sqrt(2 / 72)
    c = math.sqrt(2 / 72)
    assert conv_eq.weight_scale == pytest.approx(c) and conv_plain.weight_scale == 1.0
    assert torch.allclose(conv_plain.weight, conv_eq.weight * c)
    lin = EqualizedLinear(400, 300, gain=1.0, equalized=False)
    assert lin.weight.std().item() == pytest.approx(1 / math.sqrt(400), rel=0.02) and lin.weight_scale == 1.0


def test_without_minibatch_std_each_sample_is_scored_alone():
    _, D = _tiny(0, minibatch_std=False)
    _, D_std = _tiny(0)
    assert D.blocks[0].conv.weight.shape[1] == 8 and D_std.blocks[0].conv.weight.shape[1] == 9  # no extra channel
    x = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    other = x.clone()
    other[1:] = torch.randn(3, 1, 16, 16, generator=torch.Generator().manual_seed(1))  # same first sample, new company
    assert torch.allclose(D(x)[0], D(other)[0], atol=1e-6)
    assert not torch.allclose(D_std(x)[0], D_std(other)[0], atol=1e-4)  # with it, the group's spread matters


def test_without_fade_in_every_phase_has_alpha_one_on_the_same_schedule():
    cfg = ProGANTrainConfig(start_resolution=4, final_resolution=16, images_per_phase=10, batch_sizes={}, batch_size=2)
    plain = ProGANTrainConfig(**{**cfg.__dict__, "fade_in": False})
    for seen in range(0, 60):
        assert phase(seen, plain) == (phase(seen, cfg)[0], 1.0)
    assert phase(15, cfg) == (8, 0.5)


def test_images_after_inverts_steps_for_images():
    cfg = ProGANTrainConfig(start_resolution=4, final_resolution=16, images_per_phase=100,
                            batch_sizes={4: 16, 8: 8, 16: 4})
    assert images_after(0, cfg) == 0
    assert images_after(7, cfg) == 7 * 16 and images_after(8, cfg) == 7 * 16 + 8  # 112 >= 100: 8 px from step 8
    for images in (1, 100, 101, 250, 777):
        steps = steps_for_images(images, cfg)
        assert images_after(steps, cfg) >= images > images_after(steps - 1, cfg)
