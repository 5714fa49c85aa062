"""Train the two small StyleGAN generators that notebook 08b ships: ``ganlib/assets/stylegan_mnist32.pt``.

Both are the ``mnist32`` preset on the bundled mnist-5k digits padded to 32 px, trained by
``ganlib.recipes.train_stylegan`` (the same as ``python -m ganlib train stylegan``) with one seed:
StyleGAN (``stylegan1``: AdaIN) and StyleGAN2 (``stylegan2``: modulated convolutions with
demodulation). The file keeps each one's ``G_ema`` weights, its config, and its record: steps, seed,
images, training seconds, torch version and this command. Deterministic on a CPU for a given torch
version and thread count (``--threads``, default 1).

    python scripts/train_stylegan_assets.py [--steps 4000] [--seed 0] [--threads 1] [--out ganlib/assets/stylegan_mnist32.pt]

Each G_ema passes the quality gate of :mod:`ganlib.metrics.gate` (class histogram, recall, FID read by the
course's classifier) before the file is written; if either fails, nothing is written.

Notebook 08b reads the file with ``ganlib.models.stylegan.load_pretrained``; in its full profile it
trains its own generators instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import sys
import tempfile
from pathlib import Path

import torch

from ganlib.metrics.gate import measure_model, require
from ganlib.models.stylegan import PRETRAINED_FORMAT
from ganlib.recipes import train_stylegan
from ganlib.training.checkpoint import save_checkpoint

EMA_HALF_LIFE = 2_000.0  # images: the default 10k lags behind the spread of digits that appears after ~2500 steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads (the result depends on it)")
    p.add_argument("--architectures", default="stylegan1,stylegan2")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "ganlib" / "assets" / "stylegan_mnist32.pt"))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    command = "python scripts/train_stylegan_assets.py " + " ".join(sys.argv[1:])
    state = {"format": PRETRAINED_FORMAT}
    for architecture in args.architectures.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            run = train_stylegan("mnist-5k", out_dir=tmp, profile="quick", device="cpu", steps=args.steps, seed=args.seed,
                                 architecture=architecture, ema_half_life=EMA_HALF_LIFE, checkpoint_every=500)
        G = run.G_ema.eval()
        print(require(measure_model(architecture, G, "gan")).report(), flush=True)  # a failing G is not written
        state[architecture] = {
            "config": dataclasses.asdict(G.cfg),
            "G_ema": {k: v.detach().cpu().clone() for k, v in G.state_dict().items()},
            "info": {"steps": run.steps_done, "seed": args.seed, "images": run.steps_done * run.cfg.batch_size,
                     "seconds": round(run.history.seconds, 1), "threads": args.threads, "ema_half_life": EMA_HALF_LIFE,
                     "torch": str(torch.__version__), "machine": platform.machine(), "command": command},
        }
        print(f"{architecture}: {run.steps_done} steps in {run.history.seconds:.0f} s", flush=True)
    save_checkpoint(Path(args.out), state)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
