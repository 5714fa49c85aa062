"""``python -m ganlib train progan`` and ``train stylegan``: samples, curves, history and checkpoint;
``--resume`` with more steps equals one uninterrupted run (their schedules count images, not the
total); clear errors that write nothing. In-process, smoke profile."""

from __future__ import annotations

import json
import shutil

import matplotlib.image as mpimg
import pytest
import torch

from ganlib.__main__ import main

pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py


@pytest.fixture(scope="module", params=["progan", "stylegan"])
def runs(request, tmp_path_factory):
    model = request.param
    root = tmp_path_factory.mktemp(model)
    args = ["train", model, "--no-progress", "--checkpoint-every", "2", "--profile", "smoke"]
    assert main([*args, "--out", str(root / "a"), "--steps", "3"]) == 0
    shutil.copytree(root / "a", root / "b")
    assert main([*args, "--out", str(root / "b"), "--steps", "5", "--resume"]) == 0
    assert main([*args, "--out", str(root / "c"), "--steps", "5"]) == 0
    return model, root


def test_writes_samples_curves_history_and_checkpoint(runs):
    model, root = runs
    run = root / "a"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt", "history.json", "losses.png", "samples.png"]
    assert mpimg.imread(run / "samples.png").shape[:2] == (8 * 34 + 2, 8 * 34 + 2)  # 8 x 8 grid of 32 px digits
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["step"] == 3 and state["task"]["name"] == model and "G_ema" in state
    history = json.loads((run / "history.json").read_text())
    assert {"d_loss", "g_loss"} <= set(history)


def test_resume_with_more_steps_equals_the_uninterrupted_run(runs):
    _, root = runs
    resumed, straight = (json.loads((root / r / "history.json").read_text()) for r in ("b", "c"))
    # the first run also logged its own last step (3); from there on the two agree exactly
    assert resumed["step"] == [3, 5] and straight["step"] == [5]
    assert {name: values[-1] for name, values in resumed.items()} == {name: values[-1] for name, values in straight.items()}
    a, b = (torch.load(root / r / "checkpoint.pt", weights_only=True) for r in ("b", "c"))
    assert all(torch.equal(a["G_ema"][k], b["G_ema"][k]) for k in a["G_ema"])


@pytest.mark.parametrize("model", ["progan", "stylegan"])
def test_a_toy_dataset_or_a_cyclegan_option_is_refused_before_anything_is_written(tmp_path, capsys, model):
    assert main(["train", model, "--dataset", "ring8", "--out", str(tmp_path / "r")]) == 2
    assert "trains on images" in capsys.readouterr().err and not (tmp_path / "r").exists()
    assert main(["train", model, "--k", "3", "--out", str(tmp_path / "r")]) == 2
    assert f"do not apply to {model}" in capsys.readouterr().err and not (tmp_path / "r").exists()
