"""Command line: ``python -m ganlib train ...`` and ``python -m ganlib course ...``.

Examples::

    python -m ganlib train vanilla --dataset mnist-5k --out runs/vanilla
    python -m ganlib train vanilla --dataset ring8 --out runs/ring8 --steps 3000
    python -m ganlib train vanilla --dataset mnist-5k --out runs/vanilla --steps 12000 --resume
    python -m ganlib train dcgan --dataset mnist-5k --out runs/dcgan
    python -m ganlib train wgan-gp --dataset cifar10 --device cuda --profile full
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
    """How the CLI builds and trains one model by name: architecture, objective and defaults."""

    description: str
    image_family: str  # architecture for image datasets: "mlp" or "dcgan" (toy 2-D data always uses "mlp")
    objective: str  # a name of ganlib.losses.OBJECTIVES
    steps: dict[str, int]  # default generator steps per profile
    batch_size: int = 64
    lr: float = 2e-4  # Adam learning rate of G and D
    betas: tuple[float, float] = (0.5, 0.999)  # Adam betas
    k: int = 1  # D (critic) steps per G step: WGAN's n_critic
    d_overrides: tuple[tuple[str, object], ...] = ()  # changes to the discriminator's config


# The models a user can pick by name on the command line.
MODELS: dict[str, ModelRecipe] = {
    "vanilla": ModelRecipe(
        description="MLP generator and discriminator, the original GAN (Goodfellow et al. 2014)",
        image_family="mlp", objective="gan", steps={"smoke": 40, "quick": 6000, "full": 30000},
    ),
    "dcgan": ModelRecipe(
        description="convolutional GAN with the DCGAN rules (Radford et al. 2016)",
        image_family="dcgan", objective="gan", steps={"smoke": 10, "quick": 1500, "full": 20000},
    ),
    "wgan": ModelRecipe(
        description="Wasserstein GAN, critic weights clipped to 0.01, 5 critic steps (Arjovsky et al. 2017)",
        image_family="dcgan", objective="wgan", steps={"smoke": 5, "quick": 600, "full": 20000},
        lr=5e-5, k=5,
    ),
    "wgan-gp": ModelRecipe(
        description="Wasserstein GAN with gradient penalty (Gulrajani et al. 2017): Adam(1e-4, 0, 0.9), "
                    "5 critic steps, no batch norm in the critic",
        image_family="dcgan", objective="wgan-gp", steps={"smoke": 5, "quick": 600, "full": 20000},
        lr=1e-4, betas=(0.0, 0.9), k=5, d_overrides=(("d_batchnorm", False),),
    ),
}


def _build(recipe: ModelRecipe, toy: bool, data_shape: tuple[int, ...]):
    """(G, D) for a recipe and the shape of one sample."""
    from ganlib.models.dcgan import DCGAN_PRESETS, build_dcgan
    from ganlib.models.mlp import build_mlp_gan

    overrides = dict(recipe.d_overrides)
    if toy or recipe.image_family == "mlp":
        overrides.pop("d_batchnorm", None)  # the MLP discriminator has no batch norm anyway
        return build_mlp_gan("toy2d" if toy else "mnist", data_shape=data_shape, **overrides)
    channels, size = data_shape[0], max(data_shape[1:])
    preset = "mnist32" if channels == 1 else "cifar32"
    return build_dcgan(DCGAN_PRESETS[preset], channels=channels, image_size=32 if size <= 32 else 64, **overrides)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ganlib", description="The GAN course's command line.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a GAN and write samples, curves, history and a checkpoint")
    t.add_argument("model", help="; ".join(f"{name}: {r.description}" for name, r in MODELS.items()))
    t.add_argument("--dataset", default="mnist-5k", help=f"one of: {', '.join(data.dataset_names())} (default mnist-5k, bundled)")
    t.add_argument("--out", default=None, help="output folder (default runs/MODEL-DATASET)")
    t.add_argument("--steps", type=int, default=None, help="generator steps in total (default: by profile)")
    t.add_argument("--profile", default="auto", help="smoke, quick, full or auto (default auto: GANLIB_PROFILE, else full on CUDA, quick elsewhere)")
    t.add_argument("--device", default="auto", help="auto, cuda, mps or cpu (default auto)")
    t.add_argument("--k", type=int, default=None, help="discriminator (critic) steps per generator step (default: by model)")
    t.add_argument("--g-loss", default="non-saturating", choices=["non-saturating", "saturating"],
                   help="generator loss of the vanilla and dcgan models (default non-saturating)")
    t.add_argument("--ema-half-life", type=float, default=10_000.0,
                   help="half-life in images of the EMA generator that draws the samples (default 10000; 0 = no averaging)")
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
    import copy

    import torch

    from ganlib import train as training
    from ganlib import viz
    from ganlib.models.dcgan import pad_to
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
        batch_size=batch_size, k=args.k if args.k is not None else recipe.k, objective=recipe.objective, g_loss=args.g_loss,
        lr_g=recipe.lr, lr_d=recipe.lr, betas=recipe.betas, ema_half_life=args.ema_half_life,
        checkpoint_every=args.checkpoint_every, snapshot_every=0, seed=args.seed,
    )
    generator = config.seed_everything(args.seed)
    toy = args.dataset in data.TOY_DATASETS
    if toy:
        mixture = data.TOY_DATASETS[args.dataset]()
        G, D = _build(recipe, True, (mixture.dim,))
    else:
        images = data.load_images(args.dataset).images  # (N, C, H, W) in [-1, 1]
        if recipe.image_family == "dcgan" and images.shape[-1] == 28:
            images = pad_to(images, 32)  # DCGAN doubles 4 -> 8 -> 16 -> 32: pad MNIST's 28 px with background
        G, D = _build(recipe, False, tuple(images.shape[1:]))
    G_ema = copy.deepcopy(G).eval()  # the samples come from the moving average of G's weights
    batches = (data.ToyBatches(mixture, batch_size, device=device, generator=generator) if toy
               else data.InMemoryBatches(images, batch_size, device=device, generator=generator))
    print(f"training {args.model} on {args.dataset}: {cfg.steps} steps, profile {profile}, device {device}, out {out}")
    history = training.train(G, D, batches, cfg, device=device, out_dir=out, resume=args.resume,
                             progress=not args.no_progress, G_ema=G_ema)

    history.save_json(out / "history.json")
    fig = viz.plot_history(history, title=f"{args.model} on {args.dataset}")
    fig.savefig(out / "losses.png", dpi=100)
    samples = training.sample(G_ema, 2000 if toy else 64, generator=torch.Generator().manual_seed(args.seed))
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
