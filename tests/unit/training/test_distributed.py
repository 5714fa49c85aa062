"""Training on several processes (ganlib.training.distributed), tested on the CPU with gloo and two processes.

The runs are real ``torchrun --standalone --nproc_per_node 2`` launches, as a user types them: the CLI, and
``tests/support/_distributed_worker.py`` for what needs a look inside (the gradients one step used; every task's replicas).
Each launch starts two Pythons with torch (about 7-10 s here), so the launches are made once per module.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from ganlib.__main__ import main
from ganlib.training import distributed
from ganlib.training.checkpoint import load_checkpoint

WORKER = Path(__file__).resolve().parents[2] / "support" / "_distributed_worker.py"
DCGAN = ["train", "dcgan", "--dataset", "mnist-5k", "--batch-size", "8", "--profile", "smoke", "--device", "cpu",
         "--no-progress"]


def _torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                             *args], cwd=cwd, env=env, text=True, capture_output=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory):
    """``torchrun -m ganlib train dcgan``: 4 steps at once, and 2 steps resumed to 4."""
    root = tmp_path_factory.mktemp("ddp")
    once = _torchrun(["-m", "ganlib", *DCGAN, "--steps", "4", "--checkpoint-every", "2", "--out", "once"], root)
    _torchrun(["-m", "ganlib", *DCGAN, "--steps", "2", "--out", "resumed"], root)
    _torchrun(["-m", "ganlib", *DCGAN, "--steps", "4", "--out", "resumed", "--resume"], root)
    return root, once


def test_a_torchrun_run_finishes_and_one_process_writes_one_checkpoint(cli_runs):
    root, once = cli_runs
    assert sorted(p.name for p in (root / "once").iterdir()) == ["checkpoint.pt", "history.json", "losses.png",
                                                                 "samples.png"]
    assert once.stdout.count("training dcgan on mnist-5k") == 1 and "2 processes (cpu)" in once.stdout
    assert once.stdout.count("wrote ") == 1  # rank 0 alone writes and reports
    saved = load_checkpoint(root / "once" / "checkpoint.pt")
    assert saved["step"] == 4 and saved["world_size"] == 2 and len(saved["processes"]) == 2
    assert saved["images"] == 4 * 8  # the global batch: 4 images from each process per step
    # each process drew its own noise: the saved noise streams differ
    assert not torch.equal(saved["processes"][0]["rng"]["noise"], saved["processes"][1]["rng"]["noise"])
    assert len(json.loads((root / "once" / "history.json").read_text())["step"]) > 0


def test_resume_with_the_same_number_of_processes_continues_exactly(cli_runs):
    root, _ = cli_runs
    once, resumed = (load_checkpoint(root / name / "checkpoint.pt") for name in ("once", "resumed"))
    assert resumed["step"] == once["step"] == 4
    for name in ("G", "D", "G_ema"):
        for key, value in once[name].items():
            assert torch.equal(value, resumed[name][key]), f"{name}.{key} differs after resuming"


def test_resume_with_another_number_of_processes_is_a_clear_error(cli_runs, tmp_path, capsys):
    root, _ = cli_runs
    code = main([*DCGAN, "--steps", "6", "--out", str(root / "once"), "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and "written by 2 training process(es) and this run has 1" in err
    assert "torchrun --nproc_per_node 2" in err and "Traceback" not in err
    assert load_checkpoint(root / "once" / "checkpoint.pt")["step"] == 4  # nothing written


def test_one_step_averages_gradients_as_one_process_on_the_concatenated_batch(tmp_path):
    """A network without batch norm: the gradient each process steps with equals the whole batch's."""
    _torchrun([str(WORKER), "gradients", str(tmp_path / "g.json")], tmp_path)
    result = json.loads((tmp_path / "g.json").read_text())
    assert result["world_size"] == 2 and result["shard_rows"] == 8  # half of the batch of 16 in each process
    assert result["stepped_vs_full_batch"] < 1e-6
    assert result["own_shard_vs_full_batch"] > 1e-2  # without the averaging the step would differ


def test_every_task_of_the_loop_trains_on_two_processes_with_equal_replicas(tmp_path):
    _torchrun([str(WORKER), "tasks", str(tmp_path)], tmp_path)
    rank0, rank1 = json.loads((tmp_path / "replicas.json").read_text())
    assert sorted(rank0) == ["cgan", "cyclegan", "dcgan", "progan", "stylegan", "wgan-gp"]
    assert rank0 == rank1  # every network's weights and buffers agree after training on different shards
    for task in rank0:
        saved = load_checkpoint(tmp_path / task / "checkpoint.pt")
        assert saved["step"] == 3 and saved["world_size"] == 2, task


# ---- the helpers, in one process ----


def test_one_process_is_left_alone(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    world, device = distributed.init_from_env("cpu")
    assert world == distributed.World() and world.main and not world.distributed and device.type == "cpu"
    x = torch.arange(10)
    assert distributed.shard(x) is x and distributed.local_batch_size(7) == 7
    g = torch.Generator().manual_seed(3)
    assert distributed.rank_generator(g, 3) is g
    assert distributed.mean_over_processes({"a": 1.5}) == {"a": 1.5}


def test_shards_split_the_data_and_the_batch():
    world = distributed.World(rank=1, size=3)
    assert distributed.shard(torch.arange(10), world).tolist() == [1, 4, 7]
    assert distributed.local_batch_size(12, world) == 4
    with pytest.raises(ValueError, match="batch size 10 is split over 3 processes.*--batch-size 9"):
        distributed.local_batch_size(10, world)
    other = distributed.rank_generator(torch.Generator().manual_seed(0), 0, world)
    assert other.initial_seed() == distributed.RANK_SEED_STRIDE


def test_world_size_without_torchrun_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(ValueError, match="start several processes with torchrun"):
        distributed.init_from_env("cpu")


def test_sync_batchnorm_keeps_the_parameters_and_the_state_dict():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    before, weight = net.state_dict(), net[1].weight
    converted = distributed.sync_batchnorm(net)
    assert converted is net and isinstance(net[1], nn.SyncBatchNorm) and net[1].weight is weight
    assert net.state_dict().keys() == before.keys()
