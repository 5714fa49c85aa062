"""``python -m ganlib train cyclegan``: the offline default pair, both directions' grids, curves,
history, checkpoint; ``--resume`` continuing exactly; clear errors that write nothing. In-process
(``ganlib.__main__.main``) to spare a torch import per case."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import pytest
import torch

from ganlib.__main__ import main

pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py

ARGS = ["train", "cyclegan", "--no-progress", "--checkpoint-every", "2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """a: 4 steps. c: 6 steps, uninterrupted, its step-4 checkpoint copied to b as if the run had been
    killed there (the learning-rate schedule depends on the total, so b resumes with the same --steps)."""
    from ganlib.training import loop

    root = tmp_path_factory.mktemp("cyclegan-cli")
    assert main([*ARGS, "--out", str(root / "a"), "--steps", "4"]) == 0
    real_save = loop.save_checkpoint

    def save_and_copy_step_4(path, state):
        written = real_save(path, state)
        if state["step"] == 4:
            (root / "b").mkdir()
            shutil.copy(written, root / "b" / written.name)
        return written

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(loop, "save_checkpoint", save_and_copy_step_4)
        assert main([*ARGS, "--out", str(root / "c"), "--steps", "6"]) == 0
    assert main([*ARGS, "--out", str(root / "b"), "--steps", "6", "--resume"]) == 0
    return root


def test_train_cyclegan_writes_both_directions_curves_history_and_checkpoint(runs, capsys):
    run = runs / "a"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt", "history.json", "losses.png", "samples_x2y.png",
                                                     "samples_y2x.png"]
    grid = mpimg.imread(run / "samples_x2y.png")
    assert grid.shape[0] == 3 * 30 + 2 and grid.shape[1] == 8 * 30 + 2  # rows x, G(x), F(G(x)); 8 test images
    history = json.loads((run / "history.json").read_text())
    assert history["step"] == [4] and {"g_gan", "cycle", "identity", "d_x_loss", "d_y_loss"} <= set(history)
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["step"] == 4 and state["task"]["name"] == "cyclegan"
    assert state["config"]["lambda_cyc"] == 10.0 and state["config"]["pool_size"] == 50


def test_resume_continues_exactly(runs):
    resumed = json.loads((runs / "b" / "history.json").read_text())
    straight = json.loads((runs / "c" / "history.json").read_text())
    assert resumed == straight and resumed["step"] == [6]
    a = torch.load(runs / "b" / "checkpoint.pt", weights_only=True)
    b = torch.load(runs / "c" / "checkpoint.pt", weights_only=True)
    assert all(torch.equal(a["G"][k], b["G"][k]) for k in a["G"])


@pytest.mark.parametrize("args,message", [
    (["--dataset", "mnist-5k"], "pair of image domains"),
    (["--dataset", "zebra2horse"], "mnist-typeset, mnist-thick, horse2zebra"),
    (["--k", "5"], "--k do not apply to cyclegan"),
])
def test_bad_choices_say_what_to_do_and_write_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    assert main([*ARGS, "--out", str(out), "--steps", "2", *args]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_photo_set_offline_fails_with_the_download_advice(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GANLIB_DATA", str(tmp_path / "data"))
    monkeypatch.setattr("ganlib.domains.CYCLEGAN_URL", "http://127.0.0.1:9/{name}.zip")  # nothing listens there
    assert main([*ARGS, "--out", str(tmp_path / "run"), "--dataset", "horse2zebra", "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "horse2zebra" in err and "trainA" in err and "mnist-typeset" in err
