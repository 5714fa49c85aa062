"""Train the WGAN-GP that notebook 07 ships: ``ganlib/assets/wgan_gp_mnist32.pt``.

The ``wgan-gp`` recipe (DCGAN networks, no batch norm in the critic, 5 critic steps per G step with the
gradient penalty, Adam(1e-4, 0, 0.9)) on the bundled mnist-5k digits padded to 32 px, trained by
``ganlib.recipes.train_recipe`` (the same as ``python -m ganlib train wgan-gp``) with one seed. Each of
its steps runs 5 critic updates with a gradient penalty (about 3 times the time of a DCGAN step on one CPU
thread), so notebook 07's smoke and quick profiles load this run instead of training it (its full profile
trains its own). The file keeps G and G_ema in float16, the training
settings, and the record: steps, seed, images, training seconds, threads, torch version and this command.
Deterministic on a CPU for a given torch version and thread count (``--threads``, default 1).

    python scripts/train_wgan_gp_asset.py [--steps 3000] [--seed 0] [--threads 1]
                                          [--out ganlib/assets/wgan_gp_mnist32.pt] [--work-dir DIR]

``--work-dir`` keeps the training checkpoint there (default: a temporary folder): run again with more
``--steps`` and the run continues, with the same result as one uninterrupted run; the recorded command
leaves it out, since it does not change the result.

Before writing, the G_ema passes the quality gate of :mod:`ganlib.metrics.gate` (class histogram, recall and FID
read by the course's classifier); a run that fails it is not written.

Notebook 07 reads the file with ``ganlib.recipes.load_pretrained_run("wgan-gp")``.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import torch

from ganlib.metrics.gate import measure_model, require
from ganlib.recipes import PRETRAINED_RUNS, pretrained_run_state, train_recipe
from ganlib.shipped import save_shipped

NAME, DATASET = "wgan-gp", "mnist-5k"
ASSET = PRETRAINED_RUNS[NAME]  # wgan_gp_mnist32.pt


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the result depends on it)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "ganlib" / "assets" / ASSET))
    p.add_argument("--work-dir", default=None, help="keep the training checkpoint here, to continue with more steps")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    command = f"python scripts/train_wgan_gp_asset.py --steps {args.steps} --seed {args.seed} --threads {args.threads}"
    with tempfile.TemporaryDirectory() as tmp:
        run = train_recipe(NAME, DATASET, out_dir=args.work_dir or tmp, profile="quick", device="cpu", steps=args.steps,
                           seed=args.seed, checkpoint_every=250, progress=False)
    info = {"dataset": DATASET, "seed": args.seed, "images": run.steps_done * run.cfg.batch_size,
            "seconds": round(run.history.seconds, 1), "threads": args.threads, "torch": str(torch.__version__),
            "machine": platform.machine(), "command": command}
    print(require(measure_model(NAME, run.G_ema.eval(), "gan")).report())  # refuses to write a model that fails
    state = pretrained_run_state(NAME, run, info)
    out = Path(args.out)
    save_shipped(state, out)  # atomic: a crash never leaves half a file
    print(f"{NAME}: {run.steps_done} steps in {run.history.seconds:.0f} s; wrote {out}")


if __name__ == "__main__":
    main()
