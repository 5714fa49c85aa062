"""What the generic loop costs per step: ganlib.train.train vs a bare loop over the same step, in one run.

Both sides run the same step function (ganlib.train.train_step: one D update, one G update) on the
same tiny MLP GAN and ring-of-8 batches, for the same number of steps, on the CPU:

(a) bare: a for-loop that calls train_step, nothing else (no history, no checks, no snapshots);
(b) ganlib.train.train: the task-based loop (AlternatingTask in ganlib.training.fit), logging every
    10 steps with the finite checks, the EMA copy of G, the progress counters, snapshots at the
    start and the end.

The models are tiny so that the loop's bookkeeping, not the arithmetic, dominates: this is the
worst case for overhead; with DCGAN-sized models the difference disappears into the convolutions.
Run from the repository root:

    python benchmarks/loop_overhead.py --steps 2000
"""

from __future__ import annotations

import argparse
import copy
import time

import torch

from ganlib.data import ToyBatches, ring8
from ganlib.models.mlp import build_mlp_gan
from ganlib.train import TrainConfig, train, train_step


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    G, D = build_mlp_gan("toy2d", g_hidden=(64, 64), d_hidden=(64, 64))
    return G, D, ToyBatches(ring8(), 64, generator=torch.Generator().manual_seed(seed))


def bare(steps: int) -> float:
    G, D, batches = _setup()
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    noise = torch.Generator().manual_seed(0)
    sample_z = lambda n: torch.randn(n, G.cfg.latent_dim, generator=noise)
    start = time.perf_counter()
    for _ in range(steps):
        train_step(G, D, opt_g, opt_d, batches, sample_z)
    return time.perf_counter() - start


def looped(steps: int) -> float:
    G, D, batches = _setup()
    cfg = TrainConfig(steps=steps, batch_size=64, log_every=10, n_snapshot=64)
    start = time.perf_counter()
    train(G, D, batches, cfg, progress=False, G_ema=copy.deepcopy(G))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.steps} steps, tiny MLP GAN on ring8")
    for r in range(args.repeats):  # interleaved, so drift in the machine's speed hits both sides alike
        t_bare, t_loop = bare(args.steps), looped(args.steps)
        print(f"run {r + 1}: bare {1e3 * t_bare / args.steps:.3f} ms/step, ganlib.train {1e3 * t_loop / args.steps:.3f} "
              f"ms/step, ratio {t_loop / t_bare:.2f}x")


if __name__ == "__main__":
    main()
