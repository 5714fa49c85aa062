"""Tests of the CycleGAN task: the image pool, the generators' objective against a hand computation,
gradient isolation between the phases, the learning-rate schedule, and exact resume with the pools."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ganlib import losses
from ganlib.domains import UnpairedBatches
from ganlib.models.cyclegan import build_cyclegan
from ganlib.training import CHECKPOINT_NAME, fit, load_checkpoint
from ganlib.training.cyclegan import (
    CycleGANTask,
    CycleGANTrainConfig,
    ImagePool,
    generator_objective,
    learning_rate_factor,
    lsgan_generator_term,
)
from _interrupt import DiesAfter as _DiesAfter
from _interrupt import Killed as _Killed

pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py


# --------------------------------------------------------------------------- the image pool


def _batch(value: float, n: int = 4) -> torch.Tensor:
    return torch.full((n, 1, 2, 2), float(value))


def test_pool_returns_fresh_images_while_filling_up():
    pool = ImagePool(size=6, seed=0)
    assert torch.equal(pool.query(_batch(1)), _batch(1)) and len(pool) == 4
    out = pool.query(_batch(2))  # 2 more fill the pool, then 2 go through the coin flip
    assert torch.equal(out[:2], _batch(2, 2)) and len(pool) == 6


def test_a_full_pool_swaps_about_half_the_images_for_stored_ones():
    pool = ImagePool(size=50, seed=0)
    for i in range(13):  # 52 images: full
        pool.query(_batch(i))
    swapped = total = 0
    for i in range(100, 200):
        stored_before = {float(img[0, 0, 0]) for img in pool.images}
        out = pool.query(_batch(i))
        for value in out[:, 0, 0, 0].tolist():
            total += 1
            if value != i:
                swapped += 1
                assert value in stored_before  # an old fake, never something made up
        assert len(pool) == 50
    assert 0.42 < swapped / total < 0.58, swapped / total  # p = 1/2 over 400 images


def test_a_swapped_image_takes_the_place_of_the_one_returned():
    pool = ImagePool(size=2, seed=3)
    pool.query(torch.stack([torch.full((1, 1, 1), 10.0), torch.full((1, 1, 1), 20.0)]))
    for i in range(50):
        fresh = torch.full((1, 1, 1, 1), float(100 + i))
        before = [float(img) for img in pool.images]
        out = float(pool.query(fresh))
        after = [float(img) for img in pool.images]
        if out == 100 + i:
            assert after == before  # returned fresh, pool untouched
        else:
            j = before.index(out)
            assert after[j] == 100 + i and after[1 - j] == before[1 - j]


def test_pool_of_size_zero_passes_batches_through_detached():
    fakes = torch.randn(3, 1, 2, 2, requires_grad=True)
    out = ImagePool(size=0).query(fakes)
    assert torch.equal(out, fakes) and not out.requires_grad


def test_pool_state_round_trip_gives_the_same_future():
    a = ImagePool(size=5, seed=1)
    for i in range(4):
        a.query(torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(i)))
    b = ImagePool(size=5, seed=99)
    b.load_state_dict(a.state_dict())
    for i in range(10, 15):
        batch = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(i))
        assert torch.equal(a.query(batch), b.query(batch))
    with pytest.raises(ValueError, match="holds up to 5"):
        ImagePool(size=4).load_state_dict(a.state_dict())


# --------------------------------------------------------------------------- the objective


class _Scale(nn.Module):
    def __init__(self, a: float):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=torch.float64))

    def forward(self, x):
        return self.a * x


class _MeanD(nn.Module):
    def __init__(self, w: float, b: float):
        super().__init__()
        self.w, self.b = nn.Parameter(torch.tensor(w, dtype=torch.float64)), nn.Parameter(torch.tensor(b, dtype=torch.float64))

    def forward(self, x):
        return self.w * x.mean(dim=(1, 2, 3), keepdim=True) + self.b  # (B, 1, 1, 1)


def test_generator_objective_equals_the_hand_computed_equation_3():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(5, 1, 3, 3, generator=g, dtype=torch.float64), torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64)
    G, F, D_X, D_Y = _Scale(2.0), _Scale(0.3), _MeanD(1.5, 0.2), _MeanD(-0.7, 0.1)
    terms = generator_objective(G, F, D_X, D_Y, x, y, lambda_gan=0.8, lambda_cyc=10.0, lambda_id=0.5)
    a, b = 2.0, 0.3
    ls = lambda logits: ((logits - 1) ** 2).mean()  # the paper's least-squares G loss, E[(D(G(x)) - 1)^2]
    gan = ls(-0.7 * (a * x).mean(dim=(1, 2, 3)) + 0.1) + ls(1.5 * (b * y).mean(dim=(1, 2, 3)) + 0.2)
    cycle = (a * b * x - x).abs().mean() + (a * b * y - y).abs().mean()
    identity = (b * x - x).abs().mean() + (a * y - y).abs().mean()
    assert torch.allclose(terms.gan, gan, atol=1e-12) and torch.allclose(terms.cycle, cycle, atol=1e-12)
    assert torch.allclose(terms.identity, identity, atol=1e-12)
    assert torch.allclose(terms.total, 0.8 * gan + 10 * cycle + 5 * identity, atol=1e-12)
    assert torch.equal(terms.fake_y, a * x) and torch.equal(terms.fake_x, b * y)
    # lambda_id = 0 leaves the identity term out
    assert generator_objective(G, F, D_X, D_Y, x, y, lambda_id=0).identity.item() == 0


def test_the_papers_adversarial_term_is_twice_mao_et_al_s_half_form():
    logits = torch.tensor([[[[0.5]]], [[[2.0]]]])
    assert lsgan_generator_term(logits).item() == pytest.approx((0.25 + 1.0) / 2)
    assert torch.allclose(lsgan_generator_term(logits), 2 * losses.least_squares_generator_loss(logits))


# --------------------------------------------------------------------------- the task in the loop


def _tiny(seed: int = 0, size: int = 16):
    torch.manual_seed(seed)
    return build_cyclegan("digits", image_size=size, width=2, n_blocks=1, d_width=4)


def _data(seed: int = 0, n: int = 24, size: int = 16):
    g = torch.Generator().manual_seed(100)
    x = torch.rand(n, 1, size, size, generator=g) * 2 - 1
    y = -torch.rand(n, 1, size, size, generator=g).pow(2)  # another domain: darker
    return x, y, UnpairedBatches(x, y, 4, generator=torch.Generator().manual_seed(seed))


def _task(nets, x, y, **kw):
    cfg = CycleGANTrainConfig(**{**dict(steps=8, batch_size=4, log_every=2, pool_size=6, n_snapshot=3), **kw})
    return CycleGANTask(nets["G"], nets["F"], nets["D_X"], nets["D_Y"], cfg, snapshot_inputs=(x[:3], y[:3])), cfg


def test_a_step_updates_all_four_networks_and_reports_every_term():
    nets = _tiny()
    before = {name: [p.clone() for p in m.parameters()] for name, m in nets.items()}
    x, y, batches = _data()
    task, cfg = _task(nets, x, y, steps=2)
    history = fit(task, batches, cfg, progress=False)
    for name, m in nets.items():
        assert any(not torch.equal(p, q) for p, q in zip(before[name], m.parameters())), name
    assert set(CycleGANTask.metric_names) <= set(history.names)
    assert history.snapshots[-1].shape == (18, 1, 16, 16)  # x, G(x), F(G(x)), y, F(y), G(F(y)), three each
    assert torch.equal(history.snapshots[-1][:3], x[:3]) and torch.equal(history.snapshots[-1][9:12], y[:3])


def test_the_generator_phase_leaves_the_discriminators_alone():
    nets = _tiny()
    d_before = {name: [p.clone() for p in nets[name].parameters()] for name in ("D_X", "D_Y")}
    x, y, batches = _data()
    task, cfg = _task(nets, x, y, steps=3, lambda_gan=0.0)  # no adversarial term: the D phase is skipped
    history = fit(task, batches, cfg, progress=False)
    for name, params in d_before.items():
        assert all(torch.equal(p, q) for p, q in zip(params, nets[name].parameters())), name
    assert all(v != v for v in history.d_loss)  # never reported: NaN
    assert len(task.pool_x) == 0  # and no fakes were pooled


def test_the_discriminators_see_pooled_fakes_and_take_no_gradient_into_the_generators(monkeypatch):
    nets = _tiny()
    x, y, batches = _data()
    task, cfg = _task(nets, x, y, steps=1)
    seen = {}
    real_query = ImagePool.query

    def query(self, fakes):
        seen.setdefault("requires_grad", []).append(fakes.requires_grad)  # the generators' graph is there ...
        out = real_query(self, fakes)
        seen.setdefault("out", []).append(out.requires_grad)  # ... and cut here
        return out

    monkeypatch.setattr(ImagePool, "query", query)
    fit(task, batches, cfg, progress=False)
    assert seen["requires_grad"] == [True, True] and seen["out"] == [False, False]
    assert len(task.pool_x) == len(task.pool_y) == 4


def test_learning_rate_is_constant_then_falls_linearly_to_zero():
    assert [learning_rate_factor(s, 10, 0.5) for s in (0, 4, 5, 6, 9, 10)] == pytest.approx([1, 1, 1, 0.8, 0.2, 0])
    assert learning_rate_factor(7, 10, 1.0) == 1.0  # decay_start 1: never decays
    nets = _tiny()
    x, y, batches = _data()
    task, cfg = _task(nets, x, y, steps=10, log_every=1, decay_start=0.5, lr=1e-3)
    history = fit(task, batches, cfg, progress=False)
    assert history.lr == pytest.approx([1e-3] * 6 + [8e-4, 6e-4, 4e-4, 2e-4])  # the lr of steps 0..9


def test_cyclegan_killed_mid_run_resumes_exactly_with_its_pools_and_schedule(tmp_path):
    x, y, batches_a = _data(0)
    nets_a = _tiny(0)
    task_a, cfg = _task(nets_a, x, y, steps=12, checkpoint_every=5, decay_start=0.25)  # lr decays from step 3
    h_a = fit(task_a, batches_a, cfg, out_dir=tmp_path / "a", progress=False)
    # B: the same run, killed during step 8; its last checkpoint is step 5's, with full pools
    nets_b = _tiny(0)
    _, _, batches_b = _data(0)
    task_b, _ = _task(nets_b, x, y, steps=12, checkpoint_every=5, decay_start=0.25)
    with pytest.raises(_Killed):
        fit(task_b, _DiesAfter(batches_b, 7), cfg, out_dir=tmp_path / "b", progress=False)
    ck = load_checkpoint(tmp_path / "b" / CHECKPOINT_NAME)
    assert ck["step"] == 5 and ck["task"]["name"] == "cyclegan" and {"G", "F", "D_X", "D_Y", "opt_g", "opt_d"} <= set(ck)
    assert ck["task"]["state"]["pool_x"]["images"].shape == (6, 1, 16, 16)  # full: coin flips and swaps matter
    # C: other weights, other batches, another global RNG; everything must come from the checkpoint
    nets_c = _tiny(7)
    _, _, batches_c = _data(3)
    task_c, _ = _task(nets_c, x, y, steps=12, checkpoint_every=5, decay_start=0.25)
    torch.manual_seed(1234)
    h_c = fit(task_c, batches_c, cfg, out_dir=tmp_path / "b", resume=True, progress=False)
    assert h_c.to_dict() == h_a.to_dict()
    assert torch.equal(h_c.snapshots[-1], h_a.snapshots[-1])
    for name in nets_a:
        sa, sc = nets_a[name].state_dict(), nets_c[name].state_dict()
        assert all(torch.equal(sa[k], sc[k]) for k in sa), name
    assert all(torch.equal(p, q) for p, q in zip(task_a.pool_y.images, task_c.pool_y.images))


def test_bad_settings_are_refused():
    nets = _tiny()
    x, y, _ = _data()
    with pytest.raises(ValueError, match="lambda_cyc"):
        _task(nets, x, y, lambda_cyc=-1)
    with pytest.raises(ValueError, match="objective"):
        _task(nets, x, y, objective="wgan-gp")
    with pytest.raises(ValueError, match="decay_start"):
        _task(nets, x, y, decay_start=1.5)
    with pytest.raises(ValueError, match="snapshot_inputs"):
        CycleGANTask(nets["G"], nets["F"], nets["D_X"], nets["D_Y"], CycleGANTrainConfig(), snapshot_inputs=(x[0], y[0]))
