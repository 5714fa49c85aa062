"""Tests of ganlib.train: the alternating loop, gradient isolation, exact resume, checkpoints, NaN guard.

Everything runs on the CPU with tiny MLPs and a few dozen steps.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import warnings
from pathlib import Path

import pytest
import torch

from ganlib import train as training
from ganlib.data import InMemoryBatches, ToyBatches, ring8
from ganlib.models.mlp import build_mlp_gan
from ganlib.train import (
    CHECKPOINT_NAME,
    CheckpointError,
    History,
    NonFiniteLossError,
    TrainConfig,
    discriminator_step,
    generator_step,
    load_checkpoint,
    sample,
    save_checkpoint,
    train,
    train_step,
)

BATCH = 32


pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py


def _toy(seed: int, batch_seed: int | None = None):
    """Small toy-2d models initialised under ``seed`` and ring8 batches from their own generator."""
    torch.manual_seed(seed)
    G, D = build_mlp_gan("toy2d", g_hidden=(32, 32), d_hidden=(32, 32))
    batch_gen = torch.Generator().manual_seed(seed if batch_seed is None else batch_seed)
    return G, D, ToyBatches(ring8(), BATCH, generator=batch_gen)


IMAGES = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(5)) * 2 - 1  # (N, C, H, W) in [-1, 1]


def _images(seed: int, batch_seed: int | None = None, batch_size: int = 16):
    torch.manual_seed(seed)
    G, D = build_mlp_gan("mnist", data_shape=(1, 8, 8), g_hidden=(16,), d_hidden=(16,), latent_dim=4)
    batch_gen = torch.Generator().manual_seed(seed if batch_seed is None else batch_seed)
    return G, D, InMemoryBatches(IMAGES, batch_size, generator=batch_gen)


def _cfg(**kw) -> TrainConfig:
    base = dict(steps=20, batch_size=BATCH, log_every=5, n_snapshot=16, lr_g=1e-3, lr_d=1e-3)
    return TrainConfig(**{**base, **kw})


def _state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- the loop runs


def test_a_few_steps_on_ring8_record_history_every_log_every():
    G, D, batches = _toy(0)
    history = train(G, D, batches, _cfg(steps=23, log_every=10, snapshot_every=10), progress=False)
    assert history.step == [10, 20, 23]  # every log_every, and the last step
    for name in History.METRICS:
        values = getattr(history, name)
        assert len(values) == 3 and all(isinstance(v, float) for v in values)
    assert all(0 <= v <= 1 for v in history.d_real + history.d_fake)  # probabilities
    assert history.snapshot_steps == [0, 10, 20, 23]
    assert all(s.shape == (16, 2) and s.device.type == "cpu" for s in history.snapshots)
    assert not torch.equal(history.snapshots[0], history.snapshots[-1])  # G did learn something


def test_training_changes_both_models():
    G, D, batches = _toy(0)
    g0, d0 = ({k: v.clone() for k, v in m.state_dict().items()} for m in (G, D))
    train(G, D, batches, _cfg(steps=3), progress=False)
    assert not _state_equal(g0, G.state_dict())
    assert not _state_equal(d0, D.state_dict())


def test_same_seed_same_run():
    runs = []
    for _ in range(2):
        G, D, batches = _toy(0)
        runs.append((train(G, D, batches, _cfg(steps=10), progress=False), G.state_dict()))
    assert runs[0][0].to_dict() == runs[1][0].to_dict()
    assert _state_equal(runs[0][1], runs[1][1])


@pytest.mark.parametrize("bad", [dict(k=0), dict(steps=-1), dict(log_every=0), dict(g_loss="hinge")])
def test_invalid_config_raises(bad):
    G, D, batches = _toy(0)
    with pytest.raises(ValueError):
        train(G, D, batches, _cfg(**bad), progress=False)


# --------------------------------------------------------------------------- k and gradient isolation


class CountingBatches:
    """Wraps a batch iterator and counts the batches drawn."""

    def __init__(self, inner):
        self.inner, self.count = inner, 0

    def __next__(self):
        self.count += 1
        return next(self.inner)

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)


def test_k_discriminator_updates_per_generator_update():
    G, D, inner = _toy(0)
    batches = CountingBatches(inner)
    optimisers = {}

    def step_fn(G, D, opt_g, opt_d, *args, **kwargs):
        optimisers.update(g=opt_g, d=opt_d)
        return train_step(G, D, opt_g, opt_d, *args, **kwargs)

    steps = 7
    train(G, D, batches, _cfg(steps=steps, k=3), progress=False, step_fn=step_fn)
    assert batches.count == 3 * steps  # one real batch per D update
    d_steps = {int(optimisers["d"].state[p]["step"]) for p in D.parameters()}
    g_steps = {int(optimisers["g"].state[p]["step"]) for p in G.parameters()}
    assert d_steps == {3 * steps} and g_steps == {steps}


def test_only_the_module_being_optimised_receives_gradients():
    G, D, batches = _toy(0)
    received: list[str] = []  # labels of parameters that got a gradient since the last optimiser step
    for label, module in (("G", G), ("D", D)):
        for p in module.parameters():
            p.register_hook(lambda grad, label=label: received.append(label))
    updates: list[tuple[str, set]] = []

    def before_step(label):
        def hook(optimizer, args, kwargs):
            updates.append((label, set(received)))
            received.clear()
        return hook

    def step_fn(G, D, opt_g, opt_d, *args, **kwargs):
        if not getattr(step_fn, "hooked", False):  # the optimisers exist only inside train()
            opt_g.register_step_pre_hook(before_step("G"))
            opt_d.register_step_pre_hook(before_step("D"))
            step_fn.hooked = True
        return train_step(G, D, opt_g, opt_d, *args, **kwargs)

    train(G, D, batches, _cfg(steps=4, k=2), progress=False, step_fn=step_fn)
    assert [label for label, _ in updates] == ["D", "D", "G"] * 4  # k D updates, then one G update
    for label, got in updates:
        assert got == {label}, f"the {label} update saw gradients for {got}"


def test_discriminator_step_leaves_g_untouched():
    G, D, batches = _toy(0)
    opt_d = torch.optim.Adam(D.parameters(), lr=1e-2)
    g0 = {k: v.clone() for k, v in G.state_dict().items()}
    d0 = {k: v.clone() for k, v in D.state_dict().items()}
    metrics = discriminator_step(G, D, opt_d, next(batches), torch.randn(BATCH, 2))
    assert all(p.grad is None for p in G.parameters())
    assert all(p.grad is not None for p in D.parameters())
    assert _state_equal(g0, G.state_dict()) and not _state_equal(d0, D.state_dict())
    assert set(metrics) == {"d_loss", "d_real", "d_fake", "d_acc_real", "d_acc_fake", "w_estimate", "d_grad_norm"}
    assert not any(v.requires_grad for v in metrics.values())


def test_generator_step_leaves_d_untouched_and_restores_requires_grad():
    G, D, _ = _toy(0)
    opt_g = torch.optim.Adam(G.parameters(), lr=1e-2)
    g0 = {k: v.clone() for k, v in G.state_dict().items()}
    d0 = {k: v.clone() for k, v in D.state_dict().items()}
    metrics = generator_step(G, D, opt_g, torch.randn(BATCH, 2), training.losses.generator_loss_nonsaturating)
    assert all(p.grad is None for p in D.parameters())
    assert all(p.grad is not None for p in G.parameters())
    assert all(p.requires_grad for p in D.parameters())
    assert _state_equal(d0, D.state_dict()) and not _state_equal(g0, G.state_dict())
    assert not metrics["g_loss"].requires_grad


def test_generator_step_restores_d_even_when_the_loss_fails():
    G, D, _ = _toy(0)
    opt_g = torch.optim.Adam(G.parameters())

    def broken_loss(logits):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        generator_step(G, D, opt_g, torch.randn(4, 2), broken_loss)
    assert all(p.requires_grad for p in D.parameters())


# --------------------------------------------------------------------------- exact resume


def _assert_same_run(h1: History, h2: History, models1, models2):
    assert h1.step == h2.step
    for name in History.METRICS:
        assert getattr(h1, name) == getattr(h2, name), name  # exactly, not approximately
    assert h1.snapshot_steps[-1] == h2.snapshot_steps[-1]
    assert torch.equal(h1.snapshots[-1], h2.snapshots[-1])
    for m1, m2 in zip(models1, models2):
        assert _state_equal(m1.state_dict(), m2.state_dict())


def _check_resume(make, cfg: TrainConfig, tmp_path: Path):
    half = TrainConfig(**{**cfg.__dict__, "steps": cfg.steps // 2})
    # A: one uninterrupted run
    G_a, D_a, batches_a = make(0)
    h_a = train(G_a, D_a, batches_a, cfg, out_dir=tmp_path / "A", progress=False)
    # B: stop half-way ...
    G_b, D_b, batches_b = make(0)
    train(G_b, D_b, batches_b, half, out_dir=tmp_path / "B", progress=False)
    # ... then continue with fresh objects that start from other weights and another batch stream
    G_c, D_c, batches_c = make(123, batch_seed=999)
    assert not _state_equal(G_c.state_dict(), G_a.state_dict())
    torch.manual_seed(4321)  # disturb the global RNG too: resume must restore it
    h_c = train(G_c, D_c, batches_c, cfg, out_dir=tmp_path / "B", resume=True, progress=False)
    _assert_same_run(h_a, h_c, (G_a, D_a), (G_c, D_c))
    # the final checkpoints agree too, optimiser state included
    ck_a, ck_c = load_checkpoint(tmp_path / "A" / CHECKPOINT_NAME), load_checkpoint(tmp_path / "B" / CHECKPOINT_NAME)
    assert ck_a["step"] == ck_c["step"] == cfg.steps
    for key in ("opt_g", "opt_d"):
        for p_id, s in ck_a[key]["state"].items():
            assert _state_equal(s, ck_c[key]["state"][p_id])


@pytest.mark.parametrize("k,g_loss", [(1, "non-saturating"), (2, "saturating")])
def test_resume_on_toy_batches_equals_the_uninterrupted_run(tmp_path, k, g_loss):
    _check_resume(_toy, _cfg(steps=60, log_every=10, checkpoint_every=30, k=k, g_loss=g_loss), tmp_path)


def test_resume_on_in_memory_images_equals_the_uninterrupted_run(tmp_path):
    # 40 images in batches of 16: epochs end at odd places, so the permutation state matters
    _check_resume(_images, _cfg(steps=60, batch_size=16, log_every=10, checkpoint_every=30), tmp_path)


def test_resume_from_a_mid_run_checkpoint(tmp_path):
    """A run killed after its step-30 checkpoint (simulated by copying it) resumes exactly."""
    cfg = _cfg(steps=40, log_every=10, checkpoint_every=10)
    G_a, D_a, batches_a = _toy(0)
    h_a = train(G_a, D_a, batches_a, cfg, out_dir=tmp_path / "A", progress=False)
    # B: the same run, with a checkpoint copied away at step 30
    G_b, D_b, batches_b = _toy(0)
    copied = tmp_path / "B" / CHECKPOINT_NAME

    def step_fn(G, D, opt_g, opt_d, *args, **kwargs):
        ckpt = tmp_path / "tmp-run" / CHECKPOINT_NAME
        if ckpt.exists() and load_checkpoint(ckpt)["step"] == 30 and not copied.exists():
            copied.parent.mkdir()
            copied.write_bytes(ckpt.read_bytes())
        return train_step(G, D, opt_g, opt_d, *args, **kwargs)

    train(G_b, D_b, batches_b, cfg, out_dir=tmp_path / "tmp-run", progress=False, step_fn=step_fn)
    assert load_checkpoint(copied)["step"] == 30
    G_c, D_c, batches_c = _toy(7, batch_seed=8)
    h_c = train(G_c, D_c, batches_c, cfg, out_dir=tmp_path / "B", resume=True, progress=False)
    _assert_same_run(h_a, h_c, (G_a, D_a), (G_c, D_c))


def test_resume_at_the_end_does_nothing(tmp_path):
    G, D, batches = _toy(0)
    h1 = train(G, D, batches, _cfg(steps=10), out_dir=tmp_path, progress=False)
    G2, D2, batches2 = _toy(1)
    h2 = train(G2, D2, batches2, _cfg(steps=10), out_dir=tmp_path, resume=True, progress=False)
    assert h2.to_dict() == h1.to_dict()
    assert _state_equal(G.state_dict(), G2.state_dict())


def test_resume_with_changed_settings_warns(tmp_path):
    G, D, batches = _toy(0)
    train(G, D, batches, _cfg(steps=5), out_dir=tmp_path, progress=False)
    G, D, batches = _toy(0)
    with pytest.warns(UserWarning, match="lr_d"):
        train(G, D, batches, _cfg(steps=6, lr_d=5e-4), out_dir=tmp_path, resume=True, progress=False)
    G, D, batches = _toy(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # steps, log_every and checkpoint_every may change freely
        train(G, D, batches, _cfg(steps=8, lr_d=5e-4, log_every=2, checkpoint_every=4), out_dir=tmp_path,
              resume=True, progress=False)


# --------------------------------------------------------------------------- checkpoints


def test_checkpoint_is_written_atomically_and_loads_weights_only(tmp_path):
    G, D, batches = _toy(0)
    train(G, D, batches, _cfg(steps=10, checkpoint_every=5), out_dir=tmp_path, progress=False)
    assert sorted(os.listdir(tmp_path)) == [CHECKPOINT_NAME]  # no temporary files left behind
    state = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert state["format"] == "ganlib-checkpoint-v1"
    assert state["step"] == 10
    assert _state_equal(state["G"], G.state_dict()) and _state_equal(state["D"], D.state_dict())
    assert state["history"]["step"] == [5, 10]


def test_failed_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / CHECKPOINT_NAME
    save_checkpoint(path, {"step": 1, "w": torch.arange(3.0)})
    real_save = torch.save

    def crash_mid_write(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"step": 2, "w": torch.zeros(3)})
    monkeypatch.setattr(torch, "save", real_save)
    assert sorted(os.listdir(tmp_path)) == [CHECKPOINT_NAME]
    state = load_checkpoint(path)
    assert state["step"] == 1 and torch.equal(state["w"], torch.arange(3.0))


def _corrupt_files(tmp_path: Path):
    good = save_checkpoint(tmp_path / "good.pt", {"step": 3, "w": torch.randn(256)})
    raw = good.read_bytes()
    yield "truncated", raw[: len(raw) // 2]
    yield "empty", b""
    for seed in range(4):
        g = torch.Generator().manual_seed(seed)
        yield f"random{seed}", bytes(torch.randint(0, 256, (300,), generator=g, dtype=torch.uint8).tolist())
    yield "pickle-prefix", b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."  # legacy torch magic, then nothing


def test_corrupt_checkpoints_raise_checkpoint_error_naming_the_path(tmp_path):
    cases = list(_corrupt_files(tmp_path))
    for name, content in cases:
        path = tmp_path / f"{name}.pt"
        path.write_bytes(content)
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        assert str(path) in str(info.value), name


@pytest.mark.parametrize("obj", [[1, 2, 3], {"step": 3}, {"format": "other"}, argparse.Namespace(step=3)],
                         ids=["list", "dict-without-format", "wrong-format", "unsafe-object"])
def test_something_else_saved_with_torch_is_not_a_checkpoint(tmp_path, obj):
    path = tmp_path / "other.pt"
    torch.save(obj, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_train_resume_from_a_corrupt_checkpoint_raises(tmp_path):
    (tmp_path / CHECKPOINT_NAME).write_bytes(b"not a checkpoint at all")
    G, D, batches = _toy(0)
    with pytest.raises(CheckpointError, match=str(tmp_path / CHECKPOINT_NAME)):
        train(G, D, batches, _cfg(steps=5), out_dir=tmp_path, resume=True, progress=False)


def test_resume_without_a_checkpoint_raises(tmp_path):
    G, D, batches = _toy(0)
    with pytest.raises(CheckpointError, match="no checkpoint") as info:
        train(G, D, batches, _cfg(steps=5), out_dir=tmp_path / "empty", resume=True, progress=False)
    assert str(tmp_path / "empty" / CHECKPOINT_NAME) in str(info.value)
    with pytest.raises(CheckpointError, match="out_dir"):
        train(G, D, batches, _cfg(steps=5), resume=True, progress=False)


# --------------------------------------------------------------------------- non-finite losses


class NaNAfter(CountingBatches):
    """Yields real batches, then NaN batches after ``n`` of them."""

    def __init__(self, inner, n: int):
        super().__init__(inner)
        self.n = n

    def __next__(self):
        batch = super().__next__()
        return torch.full_like(batch, float("nan")) if self.count > self.n else batch


def test_nan_data_raises_and_keeps_the_last_good_checkpoint(tmp_path):
    G, D, inner = _toy(0)
    batches = NaNAfter(inner, 12)  # step 13 is the first to see NaN data
    cfg = _cfg(steps=30, log_every=5, checkpoint_every=5)
    with pytest.raises(NonFiniteLossError) as info:
        train(G, D, batches, cfg, out_dir=tmp_path, progress=False)
    message = str(info.value)
    assert "step 15" in message  # the first checked step after the NaN
    assert str(tmp_path / CHECKPOINT_NAME) in message and "step 10" in message
    state = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert state["step"] == 10
    assert state["history"]["step"] == [5, 10]
    assert all(torch.isfinite(v).all() for v in [*state["G"].values(), *state["D"].values()])
    assert sorted(os.listdir(tmp_path)) == [CHECKPOINT_NAME]


def test_nan_from_the_step_is_reported_with_its_step_and_no_checkpoint():
    G, D, batches = _toy(0)
    calls = []

    def step_fn(*args, **kwargs):
        metrics = train_step(*args, **kwargs)
        calls.append(1)
        if len(calls) == 7:
            metrics["g_loss"] = torch.tensor(float("inf"))
        return metrics

    with pytest.raises(NonFiniteLossError, match=r"g_loss.*step 7.*no checkpoint was written"):
        train(G, D, batches, _cfg(steps=20, log_every=1), progress=False, step_fn=step_fn)
    assert len(calls) == 7  # stopped right there


def test_non_finite_weights_behind_finite_losses_are_never_checkpointed(tmp_path):
    # The losses are computed before the update, so an update can break the weights while every
    # logged loss is finite: the checkpoint guard must catch it and keep the last good file.
    G, D, batches = _toy(0)
    calls = []

    def step_fn(G, D, *args, **kwargs):
        metrics = train_step(G, D, *args, **kwargs)
        calls.append(1)
        if len(calls) == 10:  # after step 10's (finite) losses, just before its checkpoint
            with torch.no_grad():
                next(G.parameters())[0, 0] = float("nan")
        return metrics

    cfg = _cfg(steps=20, log_every=1, checkpoint_every=5)
    with pytest.raises(NonFiniteLossError, match=r"G weights.*step 10.*step 5"):
        train(G, D, batches, cfg, out_dir=tmp_path, progress=False, step_fn=step_fn)
    state = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert state["step"] == 5
    assert all(torch.isfinite(v).all() for v in state["G"].values())


def test_huge_learning_rate_is_caught(tmp_path):
    G, D, batches = _toy(0)
    cfg = _cfg(steps=40, log_every=1, lr_g=1e30, lr_d=1e30, checkpoint_every=0)
    with pytest.raises(NonFiniteLossError, match="non-finite"):
        train(G, D, batches, cfg, out_dir=tmp_path, progress=False)
    assert not (tmp_path / CHECKPOINT_NAME).exists()  # nothing good to keep


def test_resumed_run_reports_its_checkpoint_on_nan(tmp_path):
    G, D, batches = _toy(0)
    train(G, D, batches, _cfg(steps=10), out_dir=tmp_path, progress=False)
    G, D, inner = _toy(0)
    with pytest.raises(NonFiniteLossError, match="step 10"):
        train(G, D, NaNAfter(inner, 0), _cfg(steps=20), out_dir=tmp_path, resume=True, progress=False)
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME)["step"] == 10


# --------------------------------------------------------------------------- History


def test_history_json_round_trip(tmp_path):
    G, D, batches = _toy(0)
    history = train(G, D, batches, _cfg(steps=12, log_every=4), progress=False)
    path = tmp_path / "history.json"
    history.save_json(path)
    loaded = json.loads(path.read_text())
    plans = loaded.pop("plans")
    assert loaded == history.to_dict()
    assert plans == history.plans and [p["step"] for p in plans] == [0] and plans[0]["device"] == "cpu"
    assert loaded["step"] == [4, 8, 12]
    assert set(loaded) == {"step", *History.METRICS, *History.HEALTH, *History.TASK}
    assert all(v is not None for name in History.HEALTH for v in loaded[name])  # train_step reports them all
    assert all(0 <= v <= 1 for v in loaded["d_acc_real"] + loaded["d_acc_fake"])
    assert sorted(os.listdir(tmp_path)) == ["history.json"]
    rebuilt = History.from_state_dict(loaded)
    assert rebuilt.to_dict() == history.to_dict()


def test_history_state_dict_round_trip():
    h = History()
    h.record(1, {"d_loss": 1.0, "g_loss": 2.0, "d_real": 0.5, "d_fake": 0.25})
    h.snapshot_steps.append(1)
    h.snapshots.append(torch.ones(2, 2))
    back = History.from_state_dict(h.state_dict())
    missing = {name: [None] for name in History.HEALTH + History.TASK}  # a step that does not report them: NaN, JSON null
    assert back.to_dict() == h.to_dict() == {"step": [1], "d_loss": [1.0], "g_loss": [2.0], "d_real": [0.5],
                                             "d_fake": [0.25], **missing}
    assert math.isnan(back.d_grad_norm[0])
    assert back.snapshot_steps == [1] and torch.equal(back.snapshots[0], torch.ones(2, 2))


# --------------------------------------------------------------------------- sample


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_sample_shape_device_and_mode(mode):
    G, _, _ = _images(0)
    G.train(mode == "train")
    bn = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm1d)][0]
    stats = bn.running_mean.clone()
    x = sample(G, 6, generator=torch.Generator().manual_seed(1))
    assert x.shape == (6, 1, 8, 8) and x.device.type == "cpu" and x.dtype == torch.float32
    assert G.training == (mode == "train")
    assert torch.equal(bn.running_mean, stats)  # sampled in eval mode: BatchNorm statistics untouched
    assert not x.requires_grad
    # reproducible from the generator, and equal to G(z) in eval mode
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(x, sample(G, 6, z=z))
    G.eval()
    with torch.no_grad():
        assert torch.equal(x, G(z))


def test_a_step_function_without_autocast_trains_under_a_16_bit_plan():
    """02's exercise step (no autocast keyword) under the plan a T4 gets: it runs, in fp32, instead of a TypeError."""
    from ganlib.data import ToyBatches, ring8
    from ganlib.models.mlp import build_mlp_gan
    from ganlib.train import TrainConfig, train, train_step

    def student_step(G, D, opt_g, opt_d, batches, sample_z, *, k, g_loss):
        return train_step(G, D, opt_g, opt_d, batches, sample_z, k=k, g_loss=g_loss)

    torch.manual_seed(0)
    G, D = build_mlp_gan("toy2d", g_hidden=(8,), d_hidden=(8,))
    history = train(G, D, ToyBatches(ring8(), 8, generator=torch.Generator().manual_seed(0)),
                    TrainConfig(steps=3, batch_size=8, log_every=1, precision="fp16"), progress=False,
                    step_fn=student_step)
    assert len(history.step) == 3 and all(math.isfinite(v) for v in history.d_loss)


def test_every_g_against_d_setting_takes_the_g_regularizer_and_logs_it():
    """cgan and pix2pix take BigGAN's orthogonal regulariser like the unconditional step: one signature."""
    import functools

    from ganlib import losses, recipes

    reg = functools.partial(losses.orthogonal_regularization_of, beta=1e-4)
    run = recipes.train_recipe("cgan", "mnist-5k", steps=2, profile="smoke", device="cpu", progress=False,
                               checkpoint_every=0, g_regularizer=reg)
    assert run.history.g_reg and all(v > 0 for v in run.history.g_reg)


def test_a_step_function_that_cannot_take_a_setting_is_refused_when_the_task_is_built():
    from ganlib.training.gan import AlternatingTask

    def plain_step(G, D, opt_g, opt_d, batches, sample_z, *, k, g_loss):  # no d_loss, gp_weight, clip
        raise AssertionError("never called")

    G, D = build_mlp_gan("toy2d")
    AlternatingTask(G, D, TrainConfig(objective="gan"), step_fn=plain_step)  # the "gan" objective needs nothing else
    with pytest.raises(ValueError, match="takes no d_loss, gp_weight, clip"):
        AlternatingTask(G, D, TrainConfig(objective="wgan-gp"), step_fn=plain_step)
