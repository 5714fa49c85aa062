"""Tests of the command line, ``python -m ganlib``, in temporary folders.

A training run and its resume are real subprocesses, made once by a module fixture. Starting
Python with torch and torchvision costs seconds of CPU, so the other cases call
``ganlib.__main__.main`` in-process: a short MNIST run, and the errors that stop before training,
checked by the exit message a subprocess would print, or by the return code 2 that ``main`` gives
after printing one line instead of a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import pytest
import torch

from ganlib.__main__ import main

RING = ["train", "vanilla", "--dataset", "ring8", "--out", "run", "--no-progress"]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "GANLIB_PROFILE": "smoke"}
    result = subprocess.run([sys.executable, "-m", "ganlib", *args], cwd=cwd, env=env, text=True,
                            capture_output=True, timeout=300)
    result.cwd = cwd
    return result


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    """A 20-step ring8 run, and a copy of it resumed to 40 steps, both as real subprocesses."""
    root = tmp_path_factory.mktemp("cli")
    results = {"train": _run(RING + ["--steps", "20"], root / "train")}
    assert results["train"].returncode == 0, results["train"].stderr  # the resume builds on it
    results["train-history"] = json.loads((root / "train" / "run" / "history.json").read_text())
    shutil.copytree(root / "train", root / "resume")
    results["resume"] = _run(RING + ["--steps", "40", "--resume"], root / "resume")
    return results


# --------------------------------------------------------------------------- successful runs


def test_train_writes_samples_curves_history_and_checkpoint(cli):
    result = cli["train"]
    assert result.returncode == 0, result.stderr
    run = result.cwd / "run"
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt", "history.json", "losses.png", "samples.png"]
    history = cli["train-history"]
    assert history["step"] == [10, 20]
    assert set(history) >= {"step", "d_loss", "g_loss", "d_real", "d_fake"}
    assert all(len(history[k]) == 2 for k in ("d_loss", "g_loss", "d_real", "d_fake"))
    for png in ("samples.png", "losses.png"):
        assert mpimg.imread(run / png).ndim == 3
    state = torch.load(run / "checkpoint.pt", weights_only=True)
    assert state["step"] == 20
    assert "mode coverage" in result.stdout


def test_resume_continues_the_run(cli):
    result = cli["resume"]
    assert result.returncode == 0, result.stderr
    history = json.loads((result.cwd / "run" / "history.json").read_text())
    assert history["step"] == [10, 20, 30, 40]
    first = cli["train-history"]
    for key in first:  # the first 20 steps are the interrupted run's, unchanged
        assert history[key][:2] == first[key]
    assert torch.load(result.cwd / "run" / "checkpoint.pt", weights_only=True)["step"] == 40


@pytest.fixture
def one_thread():
    """In-process training of small nets: one thread, as OMP_NUM_THREADS=1 gives the subprocesses."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_bundled_mnist_trains_a_few_steps(tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "vanilla", "--dataset", "mnist-5k", "--steps", "5", "--out", "run", "--no-progress"]) == 0
    run = tmp_path / "run"
    assert json.loads((run / "history.json").read_text())["step"] == [5]
    grid = mpimg.imread(run / "samples.png")
    assert grid.shape[:2] == (2 + 8 * (28 + 2), 2 + 8 * (28 + 2))  # 64 samples, 8 per row
    assert torch.load(run / "checkpoint.pt", weights_only=True)["step"] == 5


@pytest.mark.parametrize("model,objective,k", [("dcgan", "gan", 1), ("wgan", "wgan", 5), ("wgan-gp", "wgan-gp", 5)])
def test_convolutional_models_train_by_name(model, objective, k, tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    assert main(["train", model, "--dataset", "mnist-5k", "--steps", "2", "--out", "run", "--no-progress"]) == 0
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert state["config"]["objective"] == objective and state["config"]["k"] == k
    assert "G_ema" in state  # samples come from the EMA generator
    assert state["G"]["net.0.weight"].shape[-2:] == (4, 4)  # a transposed convolution: z (1x1) -> 4x4
    grid = mpimg.imread(tmp_path / "run" / "samples.png")
    assert grid.shape[:2] == (2 + 8 * (32 + 2), 2 + 8 * (32 + 2))  # MNIST padded to 32 px for DCGAN


# --------------------------------------------------------------------------- clear failures


def _exit_message(argv: list[str], cwd: Path, monkeypatch, capsys) -> str:
    """Run the CLI in-process; it must return exit status 2 and print one `error:` line to stderr."""
    monkeypatch.chdir(cwd)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    return err


def test_rerun_without_resume_refuses_and_keeps_the_run(cli, tmp_path, monkeypatch, capsys):
    shutil.copytree(cli["train"].cwd / "run", tmp_path / "run")
    message = _exit_message(RING + ["--steps", "40"], tmp_path, monkeypatch, capsys)
    assert "--resume" in message and "already holds a run" in message
    assert json.loads((tmp_path / "run" / "history.json").read_text()) == cli["train-history"]
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)["step"] == 20


def test_resume_without_a_checkpoint_fails_clearly(tmp_path, monkeypatch, capsys):
    message = _exit_message(RING + ["--steps", "20", "--resume"], tmp_path, monkeypatch, capsys)
    assert "--resume" in message and "no checkpoint" in message
    assert not (tmp_path / "run").exists()


def test_unknown_model_lists_the_models(tmp_path, monkeypatch, capsys):
    message = _exit_message(["train", "stylegan9", "--dataset", "ring8", "--no-progress"], tmp_path, monkeypatch, capsys)
    assert "stylegan9" in message and "vanilla" in message


def test_unknown_dataset_lists_the_datasets(tmp_path, monkeypatch, capsys):
    message = _exit_message(["train", "vanilla", "--dataset", "imagenet", "--no-progress"], tmp_path, monkeypatch, capsys)
    for name in ("imagenet", "mnist-5k", "ring8", "grid25", "cifar10"):
        assert name in message
    assert not list(tmp_path.iterdir())  # nothing written


def test_bogus_profile_fails_without_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(RING + ["--profile", "bogus"]) == 2  # returned, not raised: no traceback
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith("error: ") and "bogus" in err
    for name in ("smoke", "quick", "full"):
        assert name in err
    assert not (tmp_path / "run").exists()  # failed before touching the output folder


def test_library_errors_exit_2_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:  # argparse rejects it, before anything is written
        main(RING + ["--steps", "2", "--g-loss", "hinge"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "hinge" in err and "non-saturating" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
