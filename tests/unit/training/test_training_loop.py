"""Tests of the generic loop (ganlib.training.loop.fit) and of what it promises every task:
any metric kept, progress in steps and images, task state and EMA copies in the checkpoint,
exact resume, and checkpoints written before the loop became task-based still resuming exactly.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from ganlib.data import ToyBatches, ring8
from ganlib.models.mlp import build_mlp_gan
from ganlib.train import TrainConfig, train
from ganlib.training import CHECKPOINT_NAME, CheckpointError, Context, LoopConfig, Progress, fit, load_checkpoint, stages
from ganlib.training.history import History
from ganlib.training.loop import frozen, optimizer_step

pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py

V1_CHECKPOINT = Path(__file__).resolve().parents[2] / "support" / "data" / "checkpoint-v1.pt"


def _state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# --------------------------------------------------------------------------- old checkpoints


def _v1_setup(seed: int = 0):
    """The models, batches and settings that wrote tests/support/data/checkpoint-v1.pt (10 steps, the
    training code of before the task-based loop, commit ebde512)."""
    torch.manual_seed(seed)
    G, D = build_mlp_gan("toy2d", g_hidden=(16,), d_hidden=(16,))
    batches = ToyBatches(ring8(), 16, generator=torch.Generator().manual_seed(seed))
    cfg = TrainConfig(steps=20, batch_size=16, log_every=5, n_snapshot=8, lr_g=1e-3, lr_d=1e-3, ema_half_life=200)
    return G, D, copy.deepcopy(G), batches, cfg


def _continue_v1(folder: Path, *stops: int):
    """Continue tests/support/data/checkpoint-v1.pt (10 steps) with today's code, stopping and resuming at ``stops``,
    from models initialised otherwise (seed 5), so everything must come from the file."""
    folder.mkdir()
    (folder / CHECKPOINT_NAME).write_bytes(V1_CHECKPOINT.read_bytes())
    G, D, E, batches, cfg = _v1_setup(5)
    for steps in stops:
        G, D, E, batches, _ = _v1_setup(5)  # a fresh process: nothing survives but the checkpoint
        history = train(G, D, batches, dataclasses.replace(cfg, steps=steps), out_dir=folder, resume=True,
                        progress=False, G_ema=E)
    return G, D, E, history


def test_a_checkpoint_written_by_the_old_train_resumes_exactly(tmp_path):
    """The old file was written on another machine, so its continuation is compared bit for bit only with
    other continuations made here (one piece against two), and with a fresh run here to a stated tolerance:
    floating-point results repeat on one machine, not across CPUs whose vector units differ (seen: the
    eighth digit of a gradient norm)."""
    old = load_checkpoint(V1_CHECKPOINT)
    assert old["step"] == 10 and "task" not in old and "images" not in old  # really the old layout
    G_1, D_1, E_1, h_1 = _continue_v1(tmp_path / "one", 20)
    G_2, D_2, E_2, h_2 = _continue_v1(tmp_path / "two", 15, 20)
    assert h_2.to_dict() == h_1.to_dict()  # exact resume of a resumed old run, on this machine
    for m_1, m_2 in ((G_1, G_2), (D_1, D_2), (E_1, E_2)):
        assert _state_equal(m_1.state_dict(), m_2.state_dict())
    assert torch.equal(h_1.snapshots[-1], h_2.snapshots[-1])
    new = load_checkpoint(tmp_path / "one" / CHECKPOINT_NAME)
    assert new["task"]["name"] == "gan" and new["images"] == 20 * 16
    # The same 20 steps without a break, today: the old file held the same run (weights, optimiser moments,
    # random streams and the batch position), so they agree up to the machines' rounding. A misread state (a
    # random stream or the batch position) changes the losses at the first digit.
    G_a, D_a, E_a, batches_a, cfg = _v1_setup(0)
    h_a = train(G_a, D_a, batches_a, cfg, out_dir=tmp_path / "fresh", progress=False, G_ema=E_a)
    fresh, resumed = h_a.to_dict(), h_1.to_dict()
    assert fresh.keys() == resumed.keys() and fresh["step"] == resumed["step"]
    nan = lambda values: [math.nan if v is None else v for v in values]  # to_dict writes NaN as None (JSON)
    for name in fresh:
        assert nan(resumed[name]) == pytest.approx(nan(fresh[name]), rel=1e-4, abs=1e-6, nan_ok=True), name
    for m_a, m_1 in ((G_a, G_1), (D_a, D_1), (E_a, E_1)):
        for key, value in m_a.state_dict().items():
            assert torch.allclose(m_1.state_dict()[key], value, rtol=1e-4, atol=1e-6), key


# --------------------------------------------------------------------------- a task of its own


class _Pair(nn.Module):
    def __init__(self, seed: int):
        super().__init__()
        torch.manual_seed(seed)
        self.lin = nn.Linear(2, 2)

    def forward(self, x):
        return self.lin(x)


class ThreePlayerTask:
    """A made-up game of three networks with named phases, a schedule read from the progress,
    an EMA copy, state of its own (a running mean fed by random draws) and metrics of its own."""

    name = "three-player"
    eager = ()
    metric_names = ("loss_a",)

    def __init__(self, seed: int = 0, every: int = 3):
        self.modules = {"A": _Pair(seed), "B": _Pair(seed + 1), "C": _Pair(seed + 2)}
        self.ema = {"A_ema": "A"}
        self.every = every
        self.running = torch.zeros(2)
        self.gen = torch.Generator().manual_seed(seed + 10)  # the task's own random stream
        self.c_updates: list[int] = []

    def optimizers(self, *, fused):
        return {"ab": torch.optim.Adam([*self.modules["A"].parameters(), *self.modules["B"].parameters()], lr=1e-2),
                "c": torch.optim.SGD(self.modules["C"].parameters(), lr=1e-2)}

    def step(self, ctx: Context, batches):
        A, B, C = (ctx.modules[n] for n in "ABC")
        x = next(batches)  # (B, 2)
        # ---- Phase 1: A and B, C fixed ----
        with frozen(C):
            loss_ab = (C(B(A(x))) - x).pow(2).mean() + 0.1 * ctx.randn(1).abs().sum()
            norm_ab = ctx.optimize("ab", loss_ab)
        metrics = {"loss_a": loss_ab.detach(), "norm_ab": norm_ab}
        # ---- Phase 2: C every `every` steps, read from the progress ----
        if ctx.progress.step % self.every == 0:
            self.c_updates.append(ctx.progress.step)
            loss_c = (C(x) + x).pow(2).mean()
            metrics["loss_c"] = loss_c.detach()
            ctx.optimize("c", loss_c)
        self.running = 0.9 * self.running + 0.1 * torch.rand(2, generator=self.gen)
        metrics["running"] = self.running.sum()
        return metrics

    def snapshot(self):
        with torch.no_grad():
            return self.modules["A_ema"](torch.eye(2))

    def state_dict(self):
        return {"running": self.running.clone(), "gen": self.gen.get_state()}

    def load_state_dict(self, state):
        self.running = state["running"].clone()
        self.gen.set_state(state["gen"])


def _points(seed: int):
    return ToyBatches(ring8(), 8, generator=torch.Generator().manual_seed(seed))


def test_a_task_of_three_networks_keeps_every_metric_and_reads_the_progress():
    task = ThreePlayerTask(every=3)
    cfg = LoopConfig(steps=9, batch_size=8, log_every=1)
    history = fit(task, _points(0), cfg, progress=False)
    assert history.step == list(range(1, 10))
    assert history.names == ["loss_a", "norm_ab", "loss_c", "running"]  # in the order first reported
    assert [i + 1 for i, v in enumerate(history.loss_c) if not math.isnan(v)] == [1, 4, 7]  # steps 0, 3, 6 done before
    assert task.c_updates == [0, 3, 6]
    assert "A_ema" in task.modules and not any(p.requires_grad for p in task.modules["A_ema"].parameters())


@pytest.mark.parametrize("stop", [4, 5])
def test_a_task_of_three_networks_resumes_exactly(tmp_path, stop):
    cfg = LoopConfig(steps=10, batch_size=8, log_every=1, ema_half_life=40)
    a = ThreePlayerTask(0)
    h_a = fit(a, _points(0), cfg, out_dir=tmp_path / "a", progress=False)
    b = ThreePlayerTask(0)
    fit(b, _points(0), LoopConfig(**{**cfg.__dict__, "steps": stop}), out_dir=tmp_path / "b", progress=False)
    c = ThreePlayerTask(7)  # other weights, other task state: everything must come from the checkpoint
    torch.manual_seed(99)
    h_c = fit(c, _points(3), cfg, out_dir=tmp_path / "b", resume=True, progress=False)
    assert h_c.to_dict() == h_a.to_dict()
    assert torch.equal(h_c.snapshots[-1], h_a.snapshots[-1])
    for name in ("A", "B", "C", "A_ema"):
        assert _state_equal(a.modules[name].state_dict(), c.modules[name].state_dict()), name
    assert torch.equal(a.running, c.running)
    ck = load_checkpoint(tmp_path / "b" / CHECKPOINT_NAME)
    assert ck["step"] == 10 and ck["images"] == 80 and ck["task"]["name"] == "three-player"
    assert {"A", "B", "C", "A_ema", "opt_ab", "opt_c"} <= set(ck)


def test_resuming_another_kind_of_run_says_so(tmp_path):
    fit(ThreePlayerTask(0), _points(0), LoopConfig(steps=2, batch_size=8), out_dir=tmp_path, progress=False)
    torch.manual_seed(0)
    G, D = build_mlp_gan("toy2d", g_hidden=(8,), d_hidden=(8,))
    with pytest.raises(CheckpointError, match=r"holds a 'three-player' run, not a 'gan' one"):
        train(G, D, _points(0), TrainConfig(steps=4, batch_size=8), out_dir=tmp_path, resume=True, progress=False)


def test_resuming_without_a_module_the_checkpoint_needs_says_which(tmp_path):
    torch.manual_seed(0)
    G, D = build_mlp_gan("toy2d", g_hidden=(8,), d_hidden=(8,))
    cfg = TrainConfig(steps=2, batch_size=8)
    train(G, D, _points(0), cfg, out_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="holds no G_ema"):
        train(G, D, _points(0), TrainConfig(steps=4, batch_size=8), out_dir=tmp_path, resume=True, progress=False,
              G_ema=copy.deepcopy(G))


def test_history_keeps_the_gradient_penalty_of_wgan_gp():
    torch.manual_seed(0)
    G, D = build_mlp_gan("toy2d", g_hidden=(8,), d_hidden=(8,))
    cfg = TrainConfig(steps=4, batch_size=8, log_every=2, objective="wgan-gp", k=2)
    history = train(G, D, _points(0), cfg, progress=False)
    assert "gp" in history.names and len(history.gp) == 2 and all(v >= 0 for v in history.gp)


def test_module_names_that_clash_with_checkpoint_keys_are_refused():
    task = ThreePlayerTask(0)
    task.modules["history"] = task.modules.pop("C")
    with pytest.raises(ValueError, match="clash"):
        fit(task, _points(0), LoopConfig(steps=1, batch_size=8), progress=False)


# --------------------------------------------------------------------------- the pieces


def test_optimizer_step_returns_the_gradient_norm_before_the_step():
    w = nn.Parameter(torch.tensor([3.0, 4.0]))
    opt = torch.optim.SGD([w], lr=0.1)
    norm = optimizer_step(opt, 0.5 * (w ** 2).sum())  # gradient = w = (3, 4), norm 5
    assert norm.item() == pytest.approx(5.0)
    assert torch.allclose(w.detach(), torch.tensor([2.7, 3.6]))


def test_frozen_restores_each_flag_even_after_an_error():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.bias.requires_grad_(False)
    with pytest.raises(RuntimeError):
        with frozen(a, b):
            assert not any(p.requires_grad for p in [*a.parameters(), *b.parameters()])
            raise RuntimeError("boom")
    assert a.weight.requires_grad and a.bias.requires_grad and b.weight.requires_grad and not b.bias.requires_grad


def test_history_series_appear_when_first_reported_and_are_back_filled():
    h = History(names=("a",))
    h.record(1, {"a": 1.0})
    h.record(2, {"a": 2.0, "b": 5.0})
    h.record(3, {"b": 6.0})
    assert h.step == [1, 2, 3] and h.a[:2] == [1.0, 2.0] and math.isnan(h.a[2])
    assert math.isnan(h.b[0]) and h.b[1:] == [5.0, 6.0]
    assert History.from_state_dict(h.state_dict()).to_dict() == h.to_dict()
    with pytest.raises(AttributeError, match="has no series 'c'"):
        h.c
    with pytest.raises(ValueError, match="cannot name a metric"):
        h.record(4, {"step": 1.0})


def test_progress_starts_at_zero():
    assert Progress() == Progress(step=0, images=0)


def test_a_pix2pix_run_killed_mid_way_resumes_exactly(tmp_path):
    """pix2pix draws its noise from dropout (the global RNG, which the checkpoint holds)."""
    from ganlib.data import InMemoryBatches
    from ganlib.models.conditional import PatchDiscriminator, UNetGenerator

    target = torch.rand(24, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    cond = -target

    def make(seed):
        torch.manual_seed(seed)
        G, D = UNetGenerator(1, 1, width=4, depth=2, n_dropout=1), PatchDiscriminator(2, width=4, n_layers=1)
        return G, D, InMemoryBatches(cond, 8, targets=target, generator=torch.Generator().manual_seed(seed))

    cfg = TrainConfig(steps=9, batch_size=8, log_every=1, checkpoint_every=4, lr_g=1e-3, lr_d=1e-3)
    G_a, D_a, b_a = make(0)
    h_a = train(G_a, D_a, b_a, cfg, out_dir=tmp_path / "a", snapshot_inputs=cond[:2], progress=False)
    G_b, D_b, b_b = make(0)
    train(G_b, D_b, b_b, TrainConfig(**{**cfg.__dict__, "steps": 4}), out_dir=tmp_path / "b",
          snapshot_inputs=cond[:2], progress=False)
    G_c, D_c, b_c = make(3)
    torch.manual_seed(77)
    h_c = train(G_c, D_c, b_c, cfg, out_dir=tmp_path / "b", resume=True, snapshot_inputs=cond[:2], progress=False)
    assert h_c.to_dict() == h_a.to_dict() and not math.isnan(h_a.l1[-1])
    assert _state_equal(G_a.state_dict(), G_c.state_dict()) and _state_equal(D_a.state_dict(), D_c.state_dict())


def test_a_g_regularizer_is_added_to_gs_loss_and_logged():
    """train(..., g_regularizer=) adds a penalty on G's weights to every G update (BigGAN's orthogonal one)."""
    torch.manual_seed(0)
    G, D = build_mlp_gan("toy2d", g_hidden=(8,), d_hidden=(8,))
    norms = []

    def weight_decay(G):  # a penalty whose gradient we know: 0.5 * ||theta||^2
        penalty = 0.5 * sum((p ** 2).sum() for p in G.parameters())
        norms.append(float(penalty.detach()))
        return penalty

    cfg = TrainConfig(steps=4, batch_size=8, log_every=1)
    history = train(G, D, _points(0), cfg, progress=False, g_regularizer=weight_decay)
    assert len(norms) == 4 and history.g_reg == pytest.approx(norms)
    # g_loss reported is the total G descended: the adversarial loss plus the penalty
    torch.manual_seed(0)
    G2, D2 = build_mlp_gan("toy2d", g_hidden=(8,), d_hidden=(8,))
    plain = train(G2, D2, _points(0), TrainConfig(steps=1, batch_size=8, log_every=1), progress=False)
    assert history.g_loss[0] == pytest.approx(plain.g_loss[0] + norms[0], rel=1e-5)
    assert "g_reg" not in plain.names



class _SleepyTask(ThreePlayerTask):
    """ThreePlayerTask whose every step also waits 20 ms, so that training time is known from below."""

    def step(self, ctx, batches):
        time.sleep(0.02)
        return super().step(ctx, batches)


def test_history_keeps_the_training_time_across_a_resume(tmp_path):
    """history.seconds sums the wall-clock time of every part of a resumed run and travels in the checkpoint."""
    cfg = LoopConfig(steps=6, batch_size=8)
    first = fit(_SleepyTask(0), _points(0), LoopConfig(steps=3, batch_size=8), out_dir=tmp_path, progress=False)
    assert 0.06 <= first.seconds < 5.0
    saved = load_checkpoint(tmp_path / CHECKPOINT_NAME)["history"]["seconds"]
    assert saved == pytest.approx(first.seconds, abs=0.05)
    resumed = fit(_SleepyTask(0), _points(0), cfg, out_dir=tmp_path, resume=True, progress=False)
    assert resumed.seconds >= saved + 0.06  # three more sleepy steps on top of the first part's time
    assert "seconds" not in resumed.to_dict()  # the JSON file holds the metrics only
    assert History.from_state_dict({"step": []}).seconds == 0.0  # checkpoints from before it was kept


def test_progress_into_a_log_file_is_a_plain_line_every_five_percent(capsys):
    # capsys: stderr is not a terminal, as in a log file, CI or nohup
    fit(ThreePlayerTask(every=3), _points(0), LoopConfig(steps=200, batch_size=8, log_every=10), progress=True,
        description="toy")
    err = capsys.readouterr().err
    assert "\r" not in err  # no progress-bar redraws
    lines = err.splitlines()
    assert len(lines) == 20 and lines[0].startswith("toy: step 10/200 (5%), ")
    assert lines[-1].startswith("toy: step 200/200 (100%), ") and "loss_a=" in lines[-1]
    assert len(err) < 3000


def test_plain_progress_from_a_resumed_step_and_an_early_stop():
    import io

    from ganlib.progress import PlainProgress

    out = io.StringIO()
    bar = PlainProgress(range(30, 100), initial=30, total=100, desc="run from 30", file=out, every_percent=25)
    for step in bar:
        bar.set_postfix({"d_loss": f"{step:.3f}"})
        if step == 61:
            break
    bar.close()
    assert [line.split(" (")[0] for line in out.getvalue().splitlines()] == ["run from 30: step 50/100",
                                                                            "run from 30: step 61/100"]  # steps 0-60 done
    assert out.getvalue().splitlines()[-1].endswith("d_loss=61.000")


def _staged(root: Path, stops, seed: int = 0) -> list[dict]:
    """Train a three-player run to each stop in turn through stages(root, stops); A's weights at every stop."""
    rows = []
    for stop, out_dir in stages(root, stops):
        task = ThreePlayerTask(seed)
        fit(task, _points(0), LoopConfig(steps=stop, batch_size=8, log_every=1), out_dir=out_dir, resume="auto",
            progress=False)
        rows.append(copy.deepcopy(task.modules["A"].state_dict()))
    return rows


def test_a_run_in_stages_keeps_every_stage_and_a_rerun_loads_them(tmp_path, monkeypatch):
    stops = [0, 3, 7]
    first = _staged(tmp_path / "run", stops)
    # each stage equals one uninterrupted run stopped there: a stage resumed from the previous one's copy
    for stop, weights in zip(stops, first):
        alone = ThreePlayerTask(0)
        fit(alone, _points(0), LoopConfig(steps=stop, batch_size=8, log_every=1), progress=False)
        assert _state_equal(weights, alone.modules["A"].state_dict()), stop
    assert not _state_equal(first[0], first[-1])
    assert [load_checkpoint(tmp_path / "run" / f"step-{s}" / CHECKPOINT_NAME)["step"] for s in stops] == stops
    # a re-run trains nothing (fresh weights of another seed; every stage comes from its own folder)
    steps_taken = []
    original = ThreePlayerTask.step
    monkeypatch.setattr(ThreePlayerTask, "step", lambda self, *a: steps_taken.append(1) or original(self, *a))
    again = _staged(tmp_path / "run", stops, seed=5)
    assert steps_taken == [] and all(_state_equal(a, b) for a, b in zip(first, again))
    # a stage that was lost (deleted, or never finished) is trained again from the stage before it
    import shutil
    shutil.rmtree(tmp_path / "run" / "step-7")
    third = _staged(tmp_path / "run", stops, seed=5)
    assert len(steps_taken) == 4 and _state_equal(third[-1], first[-1])


def test_stages_must_increase():
    with pytest.raises(ValueError, match="increasing"):
        list(stages("unused", [3, 3]))
    with pytest.raises(ValueError, match=">= 0"):
        list(stages("unused", [-1, 2]))
