"""Run by tests/unit/training/test_distributed.py under ``torchrun --nproc_per_node 2`` (gloo, CPU): one of two checks.

``gradients OUT.json``: one training step of a network without batch norm through ``ganlib.training.fit``, each
process on its shard of a batch; rank 0 compares the gradients the optimiser stepped with against a single process's
on the whole (concatenated) batch, and against its own shard's alone, and writes the differences to OUT.json.

``tasks OUT_DIR``: every task of the loop (alternating, conditional, CycleGAN, ProGAN, StyleGAN) trains a few steps
through its recipe; each process reports a checksum of its weights, rank 0 writes them all to OUT_DIR/replicas.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch import nn

from ganlib import data, recipes
from ganlib.training import LoopConfig, distributed, fit

BATCH = 16


class RegressionTask:
    """The smallest task: one network fitting 1 by least squares; it keeps the gradients it stepped with."""

    name, ema, eager, metric_names = "regression", {}, (), ("loss",)

    def __init__(self, net: nn.Module):
        self.modules = {"net": net}
        self.stepped_grads: list[torch.Tensor] = []

    def optimizers(self, *, fused: bool) -> dict[str, torch.optim.Optimizer]:
        return {"opt": torch.optim.SGD(self.modules["net"].parameters(), lr=0.1)}

    def step(self, ctx, batches) -> dict[str, torch.Tensor]:
        x = next(batches)  # (B / N, 4)
        loss = (ctx.modules["net"](x) - 1).pow(2).mean()
        ctx.optimize("opt", loss)
        self.stepped_grads = [p.grad.clone() for p in self.modules["net"].parameters()]  # what the step used
        return {"loss": loss.detach()}

    def snapshot(self) -> torch.Tensor:
        return torch.zeros(1)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def make_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))


def full_batch_grads(x: torch.Tensor) -> list[torch.Tensor]:
    net = make_net()
    (net(x) - 1).pow(2).mean().backward()
    return [p.grad for p in net.parameters()]


def gradients(out: Path) -> None:
    world, _ = distributed.init_from_env("cpu")
    x = torch.randn(BATCH, 4, generator=torch.Generator().manual_seed(1))
    task = RegressionTask(make_net())
    shard = distributed.shard(x)  # (B / N, 4): with B / N per process, each step sees its whole shard
    batches = data.InMemoryBatches(shard, distributed.local_batch_size(BATCH),
                                   generator=distributed.rank_generator(torch.Generator().manual_seed(0), 0))
    fit(task, batches, LoopConfig(steps=1, batch_size=BATCH, log_every=1), progress=False)
    if world.main:
        full, own = full_batch_grads(x), full_batch_grads(shard)
        diff = lambda a, b: max(float((p - q).abs().max()) for p, q in zip(a, b))
        out.write_text(json.dumps({"world_size": world.size, "shard_rows": len(shard),
                                   "stepped_vs_full_batch": diff(task.stepped_grads, full),
                                   "own_shard_vs_full_batch": diff(own, full)}))


@torch.no_grad()
def checksum(nets: dict[str, nn.Module]) -> dict[str, float]:
    return {name: float(sum(t.double().abs().sum() for t in (*m.parameters(), *m.buffers())))
            for name, m in nets.items()}


def tasks(out: Path) -> None:
    world, device = distributed.init_from_env("cpu")
    common = dict(profile="smoke", device=device, progress=False, checkpoint_every=2, steps=3)
    sums = {}
    run = recipes.train_recipe("dcgan", "mnist-5k", out_dir=out / "dcgan", batch_size=8, **common)
    sums["dcgan"] = checksum({"G": run.G, "D": run.D, "G_ema": run.G_ema})
    run = recipes.train_recipe("cgan", "mnist-5k", out_dir=out / "cgan", batch_size=8, **common)
    sums["cgan"] = checksum({"G": run.G, "D": run.D})
    run = recipes.train_recipe("wgan-gp", "mnist-5k", out_dir=out / "wgan-gp", batch_size=8, **common)
    sums["wgan-gp"] = checksum({"G": run.G, "D": run.D})
    cycle = recipes.train_cyclegan("mnist-typeset", out_dir=out / "cyclegan", batch_size=4, **common)
    sums["cyclegan"] = checksum(cycle.nets)
    run = recipes.train_progan("mnist-5k", out_dir=out / "progan", **common)
    sums["progan"] = checksum({"G": run.G, "D": run.D, "G_ema": run.G_ema})
    run = recipes.train_stylegan("mnist-5k", out_dir=out / "stylegan", batch_size=8, **common)
    sums["stylegan"] = checksum({"G": run.G, "D": run.D, "G_ema": run.G_ema})
    every = distributed.gather_objects(sums)
    if world.main:
        (out / "replicas.json").write_text(json.dumps(every))


if __name__ == "__main__":
    mode, where = sys.argv[1], Path(sys.argv[2])
    try:
        {"gradients": gradients, "tasks": tasks}[mode](where)
    except BaseException:
        distributed.shutdown(wait=False)
        raise
    distributed.shutdown()  # waits for the other process: rank 0 works on after training
