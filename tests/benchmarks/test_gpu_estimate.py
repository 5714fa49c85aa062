"""benchmarks/gpu_estimate.py on the CPU: the cost model's closed form, a training run cut short and counted under
the plan a T4 would get, and ProGAN's steps split by phase as its schedule says."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

import ganlib.train
import ganlib.training
from ganlib import recipes
from ganlib.training import loop, progan

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import gpu_estimate  # noqa: E402


def _patch(monkeypatch, recorder):
    """What gpu_estimate.install does in a notebook's kernel, undone after the test."""
    counting = recorder.fit(loop.fit)
    for module in gpu_estimate.fit_holders():
        monkeypatch.setattr(module, "fit", counting)


def test_cost_model_is_launch_bound_or_flop_bound():
    launches = {"ops": 1000, "flops16": 0, "flops32": 0}
    assert gpu_estimate.seconds(launches, "t4", 0) == pytest.approx(1000 * 10e-6)
    assert gpu_estimate.seconds(launches, "t4", 1) == pytest.approx(1000 * 20e-6)
    arithmetic = {"ops": 1, "flops16": 65e12, "flops32": 8.1e12}  # one second of each at the T4's peaks
    assert gpu_estimate.seconds(arithmetic, "t4", 0) == pytest.approx(2 / 0.5)
    assert gpu_estimate.seconds(arithmetic, "t4", 1) == pytest.approx(2 / 0.25)


def test_a_run_is_cut_short_counted_per_step_and_costed_for_the_steps_asked(tmp_path, monkeypatch):
    recorder = gpu_estimate.Recorder("t4", str(tmp_path / "counts.json"))
    _patch(monkeypatch, recorder)
    with recorder.counter:
        run = recipes.train_recipe("dcgan", "mnist-5k", steps=5000, device="cpu", progress=False, seed=0,
                                   out_dir=tmp_path / "run")
    assert run.steps_done == gpu_estimate.WARMUP_STEPS + gpu_estimate.COUNT_STEPS  # cut short
    (counted,) = recorder.runs
    assert counted["steps"] == 5000 and counted["precision"] == "fp16"  # the T4's plan for a DCGAN
    step = counted["phases"]["step"]
    assert step["steps"] == gpu_estimate.COUNT_STEPS and step["ops"] > 0
    assert step["flops16"] > 0 and step["flops32"] >= 0  # the convolutions ran in fp16 autocast
    assert recorder.other["ops"] > 0  # data and model building outside the steps were counted elsewhere
    per_step = {k: step[k] / step["steps"] for k in ("ops", "flops16", "flops32")}
    for which in (0, 1):
        assert gpu_estimate.run_seconds(counted, "t4", which) == pytest.approx(
            5000 * gpu_estimate.seconds(per_step, "t4", which))
    recorder.dump()
    assert json.loads((tmp_path / "counts.json").read_text())["runs"][0]["steps"] == 5000


def test_a_resumed_run_asks_only_for_the_steps_after_the_last_one(tmp_path, monkeypatch):
    recorder = gpu_estimate.Recorder("t4", str(tmp_path / "counts.json"))
    _patch(monkeypatch, recorder)
    with recorder.counter:
        for steps in (300, 800):
            recipes.train_recipe("vanilla", "mnist-5k", steps=steps, device="cpu", progress=False, seed=0,
                                 out_dir=tmp_path / "run", resume="auto")
    assert [r["steps"] for r in recorder.runs] == [300, 500]


def test_a_run_in_stages_asks_for_each_stage_once(tmp_path, monkeypatch):
    """ganlib.training.stages copies the last stage's checkpoint into the next folder: found by its content."""
    recorder = gpu_estimate.Recorder("t4", str(tmp_path / "counts.json"))
    _patch(monkeypatch, recorder)
    with recorder.counter:
        for stop, out_dir in ganlib.training.stages(tmp_path / "run", [0, 300, 800]):
            recipes.train_recipe("vanilla", "mnist-5k", steps=stop, device="cpu", progress=False, seed=0,
                                 out_dir=out_dir, resume="auto")
    assert [r["steps"] for r in recorder.runs] == [0, 300, 500]


def test_progan_steps_are_split_by_the_phases_of_its_schedule():
    cfg = progan.ProGANTrainConfig(images_per_phase=640)
    steps = progan.steps_for_images(7 * cfg.images_per_phase, cfg) + 10  # grown, then 10 steps at 32 px
    counts = gpu_estimate._progan_phase_steps(progan, cfg, 0, steps)
    assert sum(counts.values()) == steps
    assert list(counts) == ["4px", "8px fade-in", "8px", "16px fade-in", "16px", "32px fade-in", "32px"]
    for name, resolution in (("4px", 4), ("8px", 8), ("16px", 16)):
        assert counts[name] == 640 // progan.batch_size_at(resolution, cfg)  # a phase is 640 images
    assert counts["32px"] == 640 // progan.batch_size_at(32, cfg) + 10


def test_the_course_map_quotes_the_committed_t4_estimates():
    """The README's course map shows the committed colab estimates on a T4, each within the 15-minute session."""
    repo = Path(__file__).resolve().parents[2]
    result = json.loads((repo / "benchmarks" / "results" / "gpu-estimate-t4-colab.json").read_text())
    assert (result["gpu"], result["profile"]) == ("t4", "colab")
    table = (repo / "README.md").read_text().split("<!-- course-map:start -->")[1].split("<!-- course-map:end -->")[0]
    last_cell = {cells[1].strip(): cells[-2].strip() for cells in (line.split("|") for line in table.splitlines())
                 if len(cells) > 3}
    assert "colab on a T4 (estimate)" in last_cell["#"]
    for name, notebook in result["notebooks"].items():
        assert notebook["total_s"][1] <= 15 * 60, f"{name}: {gpu_estimate.minutes(notebook['total_s'])} on a T4"
        assert last_cell[name.split("_")[0]].endswith(f"/ {gpu_estimate.minutes(notebook['total_s'])} (estimate)"), name


def _count(recorder, call):
    bucket = gpu_estimate._zero()
    with recorder.counting_into(bucket):
        out = call()
    return out, bucket


def test_sampling_and_bounds_counted_on_their_first_batch_cost_what_the_whole_call_costs(tmp_path):
    """09's colab draws (FIRST_BATCH_ONLY): two alike batches counted as one batch twice = the two counted."""
    from ganlib import compare, sampling
    from ganlib.models.dcgan import DCGANConfig, DCGANGenerator
    from ganlib.models.vae import VAE

    recorder = gpu_estimate.Recorder("t4", str(tmp_path / "counts.json"))
    G, vae = DCGANGenerator(DCGANConfig(g_width=8)).eval(), VAE().eval()
    images = torch.rand(40, 1, 32, 32) * 2 - 1
    with recorder.counter:
        whole, full = _count(recorder, lambda: sampling.draw(G, 30, generator=torch.Generator(), batch_size=15))
        cut, first = _count(recorder, lambda: recorder.draw(sampling.draw)(
            G, 30, generator=torch.Generator(), batch_size=15))
        _, bound_full = _count(recorder, lambda: compare.bits_per_dim(
            vae, images, generator=torch.Generator().manual_seed(0), batch_size=20))
        value, bound_first = _count(recorder, lambda: recorder.bits_per_dim(compare.bits_per_dim)(
            vae, images, generator=torch.Generator().manual_seed(0), batch_size=20))
    assert cut.shape == whole.shape == (30, 1, 32, 32)
    torch.testing.assert_close(cut[15:], cut[:15])  # the first batch, repeated to the asked size
    # the same FLOPs; the operations up to one: draw's closing torch.cat of its batches, here once per batch
    assert first["flops32"] == full["flops32"] > 0 and full["ops"] > 0 and 0 <= first["ops"] - full["ops"] <= 1
    # ... and bits_per_dim's closing cat, mean and item (5 operations), once per batch here
    assert bound_first["flops32"] == bound_full["flops32"] > 0 and bound_full["ops"] > 0
    assert 0 <= bound_first["ops"] - bound_full["ops"] <= 5
    assert math.isfinite(value)
    with recorder.counter:  # a call of one batch or less runs as written
        small, counted = _count(recorder, lambda: recorder.draw(sampling.draw)(G, 10, generator=torch.Generator(),
                                                                               batch_size=15))
    assert small.shape[0] == 10 and counted["ops"] > 0
