"""Runs shipped in ganlib/assets (recipes.load_pretrained_run, pretrained_run_state): the WGAN-GP of notebook 07.

The shipped file is made by scripts/train_wgan_gp_asset.py; here it is read back (its record and its
networks), and a file written by ``pretrained_run_state`` round-trips through ``load_pretrained_run``
(float16 on disk, float32 in memory); a missing, corrupt or foreign file gives an error that says how to
remake it.
"""

import math
import types

import pytest
import torch

from ganlib import recipes, shipped
from ganlib.train import TrainConfig, sample


def test_the_shipped_wgan_gp_loads_with_its_record():
    run = recipes.load_pretrained_run("wgan-gp")
    assert run.cfg.objective == "wgan-gp" and run.cfg.k == 5 and tuple(run.cfg.betas) == (0.0, 0.9)
    assert run.steps_done == run.info["steps"] > 0
    for key in ("seed", "seconds", "threads", "torch", "command", "dataset", "images"):
        assert key in run.info, key
    assert run.info["dataset"] == "mnist-5k" and run.info["images"] == run.steps_done * run.cfg.batch_size
    assert run.info["command"].startswith("python scripts/train_wgan_gp_asset.py --steps")
    for G in (run.G, run.G_ema):
        assert not G.training and not any(p.requires_grad for p in G.parameters())
        assert all(p.dtype == torch.float32 for p in G.parameters())
        x = sample(G, 8, generator=torch.Generator().manual_seed(0))
        assert x.shape == (8, 1, 32, 32) and bool(x.abs().le(1).all()) and math.isfinite(float(x.sum()))


def _tiny_run(steps=7):
    G, _ = recipes.build_models("wgan-gp", (1, 32, 32))
    G_ema, _ = recipes.build_models("wgan-gp", (1, 32, 32))
    with torch.no_grad():
        for p in G_ema.parameters():
            p.add_(0.01)  # G_ema differs from G
    cfg = TrainConfig(steps=steps, batch_size=64, k=5, objective="wgan-gp", lr_g=1e-4, lr_d=1e-4, betas=(0.0, 0.9))
    return types.SimpleNamespace(G=G, G_ema=G_ema, cfg=cfg, steps_done=steps)


@pytest.fixture
def assets(tmp_path, monkeypatch):
    """ganlib's assets folder replaced by tmp_path / "assets" for load_pretrained_run."""
    (tmp_path / "assets").mkdir()
    monkeypatch.setattr(shipped.importlib.resources, "files", lambda package: tmp_path)
    return tmp_path / "assets"


def test_a_run_file_round_trips_in_float16(assets):
    run = _tiny_run()
    state = recipes.pretrained_run_state("wgan-gp", run, {"seed": 3, "command": "c"})
    assert all(v.dtype == torch.float16 for v in state["G"].values() if v.is_floating_point())
    torch.save(state, assets / recipes.PRETRAINED_RUNS["wgan-gp"])
    loaded = recipes.load_pretrained_run("wgan-gp")
    assert loaded.steps_done == 7 and loaded.info == {"seed": 3, "command": "c", "steps": 7}
    assert loaded.cfg == run.cfg
    for original, got in ((run.G, loaded.G), (run.G_ema, loaded.G_ema)):
        for (name, a), b in zip(original.state_dict().items(), got.state_dict().values()):
            expected = a.half().float() if a.is_floating_point() else a
            assert torch.equal(b, expected), name


def test_settings_unknown_to_this_ganlib_are_skipped(assets):
    state = recipes.pretrained_run_state("wgan-gp", _tiny_run(), {})
    state["train_config"]["a_setting_of_a_later_version"] = 1
    torch.save(state, assets / recipes.PRETRAINED_RUNS["wgan-gp"])
    assert recipes.load_pretrained_run("wgan-gp").cfg == _tiny_run().cfg


def test_missing_corrupt_and_foreign_files_say_how_to_remake_them(assets):
    with pytest.raises(FileNotFoundError, match="scripts/train_wgan_gp_asset.py"):
        recipes.load_pretrained_run("wgan-gp")
    path = assets / recipes.PRETRAINED_RUNS["wgan-gp"]
    path.write_bytes(b"not a torch file")
    with pytest.raises(RuntimeError, match="cannot be read.*scripts/train_wgan_gp_asset.py"):
        recipes.load_pretrained_run("wgan-gp")
    torch.save({"format": "something else"}, path)
    with pytest.raises(RuntimeError, match="not a ganlib-pretrained-run-1 file"):
        recipes.load_pretrained_run("wgan-gp")


def test_only_recipes_with_a_shipped_run():
    with pytest.raises(ValueError, match="no shipped run for 'dcgan'"):
        recipes.load_pretrained_run("dcgan")
    with pytest.raises(ValueError, match="no shipped run"):
        recipes.pretrained_run_state("dcgan", _tiny_run(), {})
