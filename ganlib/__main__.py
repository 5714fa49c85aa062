"""Command line: ``python -m ganlib train ...`` and ``python -m ganlib course ...``.

Examples::

    python -m ganlib train vanilla --dataset mnist-5k --out runs/vanilla
    python -m ganlib train vanilla --dataset ring8 --out runs/ring8 --steps 3000
    python -m ganlib train vanilla --dataset mnist-5k --out runs/vanilla --steps 6000 --resume
    python -m ganlib course build [--check]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from ganlib import config, data
from ganlib.train import CheckpointError, NonFiniteLossError


@dataclass(frozen=True)
class ModelRecipe:
    """How the CLI builds and trains one model family, per kind of dataset and profile."""

    description: str
    toy_preset: str
    image_preset: str
    steps: dict[str, int]  # default steps per profile
    batch_size: int
    lr: float


# The models a user can pick by name on the command line.
MODELS: dict[str, ModelRecipe] = {
    "vanilla": ModelRecipe(
        description="MLP generator and discriminator, the original GAN (Goodfellow et al. 2014)",
        toy_preset="toy2d",
        image_preset="mnist",
        steps={"smoke": 40, "quick": 6000, "full": 30000},
        batch_size=64,
        lr=2e-4,
    ),
}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ganlib", description="The GAN course's command line.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN and write samples, curves, history and a checkpoint")
    t.add_argument("model", help=f"model family: {', '.join(MODELS)}")
    t.add_argument("--dataset", default="mnist-5k", help=f"one of: {', '.join(data.dataset_names())} (default mnist-5k, bundled)")
    t.add_argument("--out", default=None, help="output folder (default runs/MODEL-DATASET)")
    t.add_argument("--steps", type=int, default=None, help="generator steps in total (default: by profile)")
    t.add_argument("--profile", default="auto", help="smoke, quick, full or auto (default auto: GANLIB_PROFILE, else full on CUDA, quick elsewhere)")
    t.add_argument("--device", default="auto", help="auto, cuda, mps or cpu (default auto)")
    t.add_argument("--k", type=int, default=1, help="discriminator steps per generator step (default 1)")
    t.add_argument("--g-loss", default="non-saturating", choices=["non-saturating", "saturating"],
                   help="generator loss (default non-saturating)")
    t.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default: by model)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    t.add_argument("--checkpoint-every", type=int, default=500, help="write a checkpoint every N steps (default 500)")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    c = sub.add_parser("course", help="course tooling for instructors")
    csub = c.add_subparsers(dest="course_command", required=True)
    b = csub.add_parser("build", help="write notebooks/ (student versions) from solutions/")
    b.add_argument("--check", action="store_true", help="fail if the committed student notebooks differ from a fresh build")
    b.add_argument("--root", default=".", help="course repository root (default: current folder)")
    return p


def _train(args: argparse.Namespace) -> int:
    import torch

    from ganlib import train as training
    from ganlib import viz
    from ganlib.models.mlp import build_mlp_gan

    if args.model not in MODELS:
        raise ValueError(f"unknown model {args.model!r}; choose one of: {', '.join(MODELS)}")
    if args.dataset not in data.dataset_names():
        raise ValueError(f"unknown dataset {args.dataset!r}; choose one of: {', '.join(data.dataset_names())}")
    recipe = MODELS[args.model]
    profile = config.resolve_profile(args.profile)
    device = config.get_device(args.device)
    out = Path(args.out or f"runs/{args.model}-{args.dataset}")
    if args.resume and not (out / training.CHECKPOINT_NAME).exists():
        raise ValueError(f"--resume given but there is no checkpoint at {out / training.CHECKPOINT_NAME}")
    if not args.resume and (out / training.CHECKPOINT_NAME).exists():
        raise ValueError(f"{out} already holds a run; add --resume to continue it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)

    batch_size = args.batch_size or recipe.batch_size
    cfg = training.TrainConfig(
        steps=args.steps if args.steps is not None else recipe.steps[profile],
        batch_size=batch_size, k=args.k, g_loss=args.g_loss, lr_g=recipe.lr, lr_d=recipe.lr,
        checkpoint_every=args.checkpoint_every, snapshot_every=0, seed=args.seed,
    )
    generator = config.seed_everything(args.seed)
    toy = args.dataset in data.TOY_DATASETS
    if toy:
        mixture = data.TOY_DATASETS[args.dataset]()
        G, D = build_mlp_gan(recipe.toy_preset, data_shape=(mixture.dim,))
    else:
        images = data.load_images(args.dataset).images  # (N, C, H, W) in [-1, 1]
        G, D = build_mlp_gan(recipe.image_preset, data_shape=tuple(images.shape[1:]))
    batches = (data.ToyBatches(mixture, batch_size, device=device, generator=generator) if toy
               else data.InMemoryBatches(images, batch_size, device=device, generator=generator))
    print(f"training {args.model} on {args.dataset}: {cfg.steps} steps, profile {profile}, device {device}, out {out}")
    history = training.train(G, D, batches, cfg, device=device, out_dir=out, resume=args.resume,
                             progress=not args.no_progress)

    history.save_json(out / "history.json")
    fig = viz.plot_history(history, title=f"{args.model} on {args.dataset}")
    fig.savefig(out / "losses.png", dpi=100)
    samples = training.sample(G, 2000 if toy else 64, generator=torch.Generator().manual_seed(args.seed))
    if toy:
        real = mixture.sample(2000, torch.Generator().manual_seed(args.seed))
        coverage = data.count_modes(samples, mixture)
        fig = viz.plot_2d(samples, real, D=D, title=f"step {cfg.steps}: {coverage}")
        fig.savefig(out / "samples.png", dpi=100)
        print(f"mode coverage: {coverage}")
    else:
        viz.save_image_grid(samples, out / "samples.png", nrow=8)
    last = {name: round(getattr(history, name)[-1], 4) for name in history.METRICS} if history.step else {}
    print(f"final {last}")
    print(f"wrote {out / 'samples.png'}, {out / 'losses.png'}, {out / 'history.json'}, {out / training.CHECKPOINT_NAME}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "course":
            from ganlib import course  # the CLI is the one place that reaches the course tooling

            return course.main_build(Path(args.root), check=args.check)
    except (ValueError, data.DatasetUnavailableError, CheckpointError, NonFiniteLossError) as e:
        # ganlib's own errors say what went wrong and what to do: print that, not a traceback
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
