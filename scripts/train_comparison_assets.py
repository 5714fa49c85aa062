"""Train the nine runs notebook 09 compares: a DCGAN, a VAE and a DDPM, three seeds each, on mnist-5k.

``ganlib/assets/comparison_mnist32.pt`` holds, for each family and each seed 0, 1, 2, the network that draws the
samples (the DCGAN's EMA generator, the VAE, the DDPM's EMA network) in float16, its configuration and its record
(steps, batch, training seconds). Every run goes through the same recipes as ``python -m ganlib train``:

- ``dcgan``: the recipe of notebooks 03 and 07, its quick profile (1500 steps of 64 images);
- ``vae``: ``train_vae``, 1500 steps of 64 images;
- ``ddpm``: ``train_ddpm`` with a narrower U-Net (width 16 instead of 32, so that three seeds train on one CPU
  thread in minutes) and T = 1000, 3000 steps of 32 images.

Notebook 09's quick profile cannot train nine models in its twelve minutes, so it loads them with
``ganlib.recipes.load_comparison_runs()`` (its full profile trains its own). On a CPU the result is
deterministic for a given torch version and thread count (``--threads``, default 1).

    python scripts/train_comparison_assets.py [--threads 1] [--out ganlib/assets/comparison_mnist32.pt]
                                              [--work-dir DIR] [--steps N]

Each run passes the quality gate of :mod:`ganlib.metrics.gate` (class histogram, recall, FID read by the course's
classifier; the VAE has bounds of its own) right after it trains; the first that fails stops the script and
nothing is written.

``--work-dir`` keeps each run's checkpoint (default: a temporary folder), so an interrupted script continues
where it stopped, with the same result.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from ganlib import recipes
from ganlib.metrics.gate import measure_model, require
from ganlib.shipped import save_shipped

SEEDS = (0, 1, 2)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1, help="torch threads (the result depends on it)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "ganlib" / "assets" / recipes.COMPARISON_FILE))
    p.add_argument("--work-dir", default=None, help="keep each run's checkpoint here, to continue after a stop")
    p.add_argument("--steps", type=int, default=None, help="train every run this many steps instead (a dry run)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work_dir or tmp)
        runs: dict[str, list[dict]] = {name: [] for name in recipes.COMPARISON_RECIPES}
        for seed in SEEDS:
            for name in recipes.COMPARISON_RECIPES:
                steps = {"steps": args.steps} if args.steps else {}
                run = recipes.train_comparison_run(name, seed, out_dir=work / f"{name}-{seed}", device="cpu",
                                                   progress=False, **steps)
                sampler = (run.G_ema if name == "dcgan" else run.sampler).eval()
                gated = require(measure_model(f"{name} seed {seed}", sampler, "gan" if name == "dcgan" else name))
                print(gated.report(), flush=True)  # a run that fails its gate stops the script: nothing is written
                runs[name].append(recipes.comparison_run_state(name, run, seed))
                print(f"{name} seed {seed}: {runs[name][-1]['info']['steps']} steps in "
                      f"{runs[name][-1]['info']['seconds']:.0f} s", flush=True)
    state = {"format": recipes.COMPARISON_FORMAT, "runs": runs,
             "info": {"dataset": "mnist-5k", "threads": args.threads, "torch": str(torch.__version__),
                      "machine": platform.machine(), "total_seconds": round(time.perf_counter() - started),
                      "command": f"python scripts/train_comparison_assets.py --threads {args.threads}"
                                 + (f" --steps {args.steps}" if args.steps else "")}}
    out = Path(args.out)
    save_shipped(state, out)  # atomic: a crash never leaves half a file
    print(f"wrote {out} in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
