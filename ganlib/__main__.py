"""Command line: ``python -m ganlib train ...``, ``python -m ganlib evaluate ...`` and ``python -m ganlib course ...``.

Examples::

    python -m ganlib train vanilla --dataset mnist-5k --out runs/vanilla
    python -m ganlib train vanilla --dataset ring8 --out runs/ring8 --steps 3000
    python -m ganlib train vanilla --dataset mnist-5k --out runs/vanilla --steps 12000 --resume
    python -m ganlib train dcgan --dataset mnist-5k --out runs/dcgan
    python -m ganlib train wgan-gp --dataset cifar10 --device cuda --profile full
    python -m ganlib train cgan --dataset mnist-5k --out runs/cgan
    python -m ganlib train cyclegan --out runs/cyclegan                 # handwritten <-> typeset digits
    python -m ganlib train cyclegan --dataset horse2zebra --device cuda --profile full
    python -m ganlib train progan --out runs/progan                     # 4 -> 8 -> 16 -> 32 px
    python -m ganlib train stylegan --dataset cifar10 --device cuda --profile full
    torchrun --nproc_per_node 4 -m ganlib train dcgan --dataset cifar10 --profile full   # 4 GPUs, one machine
    python -m ganlib evaluate --real mnist-5k --fake runs/dcgan --metrics fid,kid,is,pr --json scores.json
    python -m ganlib evaluate --real cifar10 --fake samples/ --features inception --device cuda
    python -m ganlib course build [--check] [--repository https://github.com/OWNER/REPO --ref v0.1.0]
    python -m ganlib course pack                                       # dist/gan-course.zip for students
    python -m ganlib course run 01 02 --profile smoke --out out/smoke
    python -m ganlib course grade submissions/ --out grades.csv
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from ganlib import config, data, recipes, sampling, viz
from ganlib.metrics import InceptionWeightsUnavailable
from ganlib.recipes import RECIPES
from ganlib.recipes.runs import RunError
from ganlib.training import distributed
from ganlib.training.checkpoint import CHECKPOINT_NAME, CheckpointError
from ganlib.training.loop import NonFiniteLossError
from ganlib.training.plan import PRECISIONS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m ganlib", description="The GAN course's command line.")
    sub = p.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    _evaluate_parser(sub)
    _course_parser(sub)
    return p


#: Options of some recipes only: flag -> (help, type); their default None means "the recipe's own".
_RECIPE_OPTIONS = {
    "k": ("discriminator (critic) steps per generator step (default: by model)", int),
    "g_loss": ("generator loss: non-saturating (default) or saturating", str),
    "ema_half_life": ("half-life in images of the EMA generator that draws the samples (default 10000; "
                      "0 = no averaging)", float),
    "lambda_cyc": ("weight of the cycle loss (default 10)", float),
    "lambda_id": ("weight of the identity loss relative to --lambda-cyc (default 0.5; 0 = off)", float),
    "pool_size": ("past fakes each discriminator sees (default 50)", int),
}


def _train_parser(sub) -> None:
    t = sub.add_parser("train", help="train a GAN and write samples, curves, history and a checkpoint")
    t.add_argument("model", metavar="MODEL",
                   help="; ".join(f"{name}: {r.description}" for name, r in RECIPES.items()))
    t.add_argument("--dataset", default=None, help=f"one of: {', '.join(data.dataset_names())} (default mnist-5k, "
                   "bundled); for cyclegan a domain pair (default mnist-typeset, offline)")
    t.add_argument("--out", default=None, help="output folder (default runs/MODEL-DATASET)")
    t.add_argument("--steps", type=int, default=None, help="generator steps in total (default: by profile)")
    t.add_argument("--profile", default="auto", help="smoke, quick, colab, full or auto (default auto: GANLIB_PROFILE, "
                   "else colab on CUDA, quick elsewhere; full is opt-in)")
    t.add_argument("--device", default="auto", help="auto, cuda, mps or cpu (default auto)")
    t.add_argument("--precision", default="auto", choices=list(PRECISIONS),
                   help="auto (default: the device plan: bf16 on GPUs of compute capability >= 8.0, fp16 with loss "
                        "scaling on a T4 or V100, fp32 on the CPU), bf16, fp16 or fp32")
    t.add_argument("--compile", action="store_true",
                   help="torch.compile the networks a step does not differentiate twice (CUDA sm >= 7.0 or the CPU)")
    t.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default: by model)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    t.add_argument("--checkpoint-every", type=int, default=500, help="write a checkpoint every N steps (default 500)")
    for option, (text, kind) in _RECIPE_OPTIONS.items():
        takers = [name for name, r in RECIPES.items() if option in r.options]
        extra = {"choices": ["non-saturating", "saturating"]} if option == "g_loss" else {}
        t.add_argument("--" + option.replace("_", "-"), type=kind, default=None, **extra,
                       help=f"{', '.join(takers)}: {text}")
    t.add_argument("--sampling-steps", type=int, default=50,
                   help="ddpm: network evaluations per sample in samples.png, DDIM (default 50; 1000 = ancestral)")
    t.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _evaluate_parser(sub) -> None:
    e = sub.add_parser("evaluate", help="FID, KID, IS and precision/recall of a trained run or a folder of images "
                       "against a dataset or a folder; prints a table, writes JSON")
    e.add_argument("--real", required=True, help=f"a dataset ({', '.join(data.IMAGE_DATASETS)}) or a folder of "
                   ".png/.jpg/.jpeg images (searched with its subfolders)")
    e.add_argument("--fake", required=True, help=f"a run folder of `python -m ganlib train` ({', '.join(RECIPES)}: "
                   "rebuilt from its checkpoint and sampled; a cgan's classes in turn, a cyclegan's test images "
                   "translated) or a folder of images")
    e.add_argument("--metrics", default="fid", help="comma-separated, from fid,kid,is,pr (default fid). The real "
                   "set's mean and covariance are cached under data/stats/ ($GANLIB_DATA/stats when set); kid and pr "
                   "need the real features themselves, which are recomputed each time")
    e.add_argument("--n", type=int, default=50_000, help="images to sample from a run or read from --fake (default "
                   "50000); the real side uses at most as many, all of a smaller set")
    e.add_argument("--inception-weights", default=None, metavar="FILE", help="torch-fidelity's FID Inception weights "
                   "(default: its cached file, downloaded when online)")
    e.add_argument("--features", default="auto", choices=["auto", "inception", "digits"], help="auto (default): the "
                   "shipped MNIST classifier for mnist, mnist-5k or grey 28/32 px folders, else Inception-v3")
    e.add_argument("--json", default=None, metavar="OUT", help="write the scores and the settings to this JSON file")
    e.add_argument("--device", default="auto", help="auto, cuda, mps or cpu (default auto)")
    e.add_argument("--batch-size", type=int, default=100, help="images per forward pass (default 100)")
    e.add_argument("--seed", type=int, default=0, help="seeds the sampled latents, KID's subsets and IS's splits")
    e.add_argument("--sampling-steps", type=int, default=50, help="a ddpm run's network evaluations per image, "
                   "DDIM (default 50; 0 = all T, ancestral)")
    e.add_argument("--no-progress", action="store_true", help="hide the progress bars")


def _course_parser(sub) -> None:
    c = sub.add_parser("course", help="course tooling for instructors")
    csub = c.add_subparsers(dest="course_command", required=True)
    b = csub.add_parser("build", help="write notebooks/ (student versions) from solutions/")
    b.add_argument("--check", action="store_true", help="fail if the committed student notebooks differ from a fresh build")
    b.add_argument("--repository", default=None, metavar="URL", help="set [tool.ganlib.colab]'s public repository "
                   "(https://github.com/OWNER/REPO) before building: the setup cells install from it, the badges open it")
    b.add_argument("--ref", default=None, help="with --repository: the tag, branch or commit Colab installs and opens")
    b.add_argument("--root", default=".", help="course repository root (default: current folder)")
    k = csub.add_parser("pack", help="write one zip for students (Drive, an LMS, a USB stick): the student notebooks, "
                        "a wheel of ganlib, the data README and START_HERE.md")
    k.add_argument("--out", default=None, help="the zip to write (default dist/gan-course.zip)")
    k.add_argument("--root", default=".", help="course repository root (default: current folder)")
    r = csub.add_parser("run", help="execute notebooks with papermill into a folder, injecting the profile; "
                        "a failure names the notebook and cell, the others still run")
    r.add_argument("notebooks", nargs="*", help="notebook numbers (02) or paths (default: every solutions/*.ipynb)")
    r.add_argument("--profile", default="auto", help="smoke, quick, colab, full or auto (default auto), injected as PROFILE")
    r.add_argument("--out", default=None, help="folder for the executed notebooks (default out/PROFILE)")
    r.add_argument("--device", default=None, help="injected as DEVICE (default: the notebook's own)")
    r.add_argument("--seed", type=int, default=None, help="injected as SEED (default: the notebook's own)")
    r.add_argument("--seeds", default=None, metavar="0,1",
                   help="run every notebook once per seed (0,1 or 0-2), each into OUT/seed-N, and report each claim "
                   "per seed in OUT/verdicts.md")
    r.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                   help="inject another parameter, e.g. -p DATASET=mnist (repeatable)")
    r.add_argument("--cell-timeout", type=float, default=None, help="seconds one cell may run (default: no limit)")
    r.add_argument("--root", default=".", help="course repository root (default: current folder)")
    _grade_parser(csub)


def _grade_parser(csub) -> None:
    g = csub.add_parser("grade", help="grade student notebooks with the hidden tests, each in a sandbox; "
                        "write a CSV and a JSON report")
    g.add_argument("submissions", nargs="+", help="student notebooks (.ipynb) and folders of them; a notebook is "
                   "recognised by its number NN first or after a separator (02_vanilla_gan.ipynb, bob_02.ipynb); "
                   "the student is the subfolder's name, else the rest of the file name, else the folder's name")
    g.add_argument("--out", default="grades.csv", help="the CSV to write (default grades.csv); the JSON goes next to it")
    g.add_argument("--json", default=None, help="the JSON report to write (default: --out with .json)")
    g.add_argument("--notebook", default=None, help="grade every given file as notebook NN (default: from the file names)")
    g.add_argument("--timeout", type=float, default=120.0, help="wall-clock seconds per submission (default 120)")
    g.add_argument("--test-timeout", type=float, default=30.0, help="seconds per hidden test (default 30)")
    g.add_argument("--memory-mb", type=int, default=4096, help="heap limit per submission, RLIMIT_DATA (default 4096)")
    g.add_argument("--jobs", type=int, default=1, help="submissions graded at the same time (default 1)")
    g.add_argument("--sandbox", default="auto", choices=["auto", "bubblewrap", "user"],
                   help="auto (default): bubblewrap, else an unprivileged user (root only)")
    g.add_argument("--unsafe-no-sandbox", action="store_true", help="as root, grade even when no sandbox works")
    g.add_argument("--root", default=".", help="course repository root (default: current folder)")
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _options(args: argparse.Namespace, chosen) -> dict:
    """The keywords for :func:`ganlib.recipes.train` from the flags; a recipe option given to a recipe that does
    not take it is an error (ValueError naming the ones it takes)."""
    given = {o: getattr(args, o) for o in _RECIPE_OPTIONS if getattr(args, o) is not None}
    ignored = [o for o in given if o not in chosen.options]
    if ignored:
        takes = ", ".join("--" + o.replace("_", "-") for o in chosen.options)
        raise ValueError(f"{', '.join('--' + o.replace('_', '-') for o in ignored)} do not apply to {chosen.name}"
                         + (f"; its options are {takes}" if takes else ""))
    common = {"steps": args.steps, "seed": args.seed, "batch_size": args.batch_size,
              "checkpoint_every": args.checkpoint_every, "progress": not args.no_progress,
              "precision": args.precision, "compile": args.compile}
    return {**{k: v for k, v in common.items() if v is not None}, **given}


def _train(args: argparse.Namespace) -> int:
    chosen = recipes.recipe(args.model)
    args.dataset = args.dataset or chosen.default_dataset
    chosen.check(args.dataset)  # before anything is written
    options = _options(args, chosen)
    profile = config.resolve_profile(args.profile)
    world, device = distributed.init_from_env(args.device)  # several processes under torchrun, else one
    out = Path(args.out or f"runs/{args.model}-{args.dataset}")
    if args.resume and not (out / CHECKPOINT_NAME).exists():
        raise ValueError(f"--resume given but there is no checkpoint at {out / CHECKPOINT_NAME}")
    if not args.resume and (out / CHECKPOINT_NAME).exists():
        raise ValueError(f"{out} already holds a run; add --resume to continue it, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    if world.main:
        on = f"{world.size} processes ({device.type}), batch split over them" if world.distributed else f"device {device}"
        print(f"training {args.model} on {args.dataset}: profile {profile}, {on}, out {out}")
    run = recipes.train(args.model, args.dataset, out_dir=out, profile=profile, device=device, resume=args.resume,
                        **options)
    if world.main:  # rank 0 writes the samples, curves and history
        _write_outputs(args, chosen, run, out)
    return 0


def _write_outputs(args: argparse.Namespace, chosen, run, out: Path) -> None:
    """samples (.png), losses.png and history.json of a finished run; the final values and the files written."""
    history = run.history
    history.save_json(out / "history.json")
    title = f"{args.model} on {args.dataset}"
    fig = viz.plot_history(history, title=title) if chosen.panels is None else viz.plot_series(history, chosen.panels,
                                                                                                title=title)
    fig.savefig(out / "losses.png", dpi=100)
    if run.kind == "translation":
        written = _write_translations(run, out)
    elif args.dataset in data.TOY_DATASETS:
        written = _write_points(args, run, out)
    else:
        n, nrow = (100, 10) if run.kind == "conditional" else (64, 8)  # conditional: one class per column
        started = time.perf_counter()
        samples = run.sample(n, seed=args.seed, sampling_steps=args.sampling_steps)
        how = f", {args.sampling_steps} network evaluations each" if run.kind == "ddpm" else ""
        print(f"sampled {n} images in {time.perf_counter() - started:.1f} s{how}")
        viz.save_image_grid(samples, out / "samples.png", nrow=nrow)
        written = str(out / "samples.png")
    series = next(iter(chosen.panels.values())) if chosen.panels else list(history.METRICS)
    print(f"final {({n: round(getattr(history, n)[-1], 4) for n in series} if history.step else {})}")
    print(f"wrote {written}, {out / 'losses.png'}, {out / 'history.json'}, {out / CHECKPOINT_NAME}")


def _write_points(args: argparse.Namespace, run, out: Path) -> str:
    """A toy run: 2,000 points of G_ema over the real mixture and D's decision surface, and the modes covered."""
    import torch

    mixture = data.TOY_DATASETS[args.dataset]()
    samples = run.sample(2000, seed=args.seed)
    real = mixture.sample(2000, torch.Generator().manual_seed(args.seed))
    coverage = data.count_modes(samples, mixture)
    viz.plot_2d(samples, real, D=run.D, title=f"step {run.cfg.steps}: {coverage}").savefig(out / "samples.png", dpi=100)
    print(f"mode coverage: {coverage}")
    return str(out / "samples.png")


def _write_translations(run, out: Path) -> str:
    """CycleGAN: for each direction, 8 test images, their translations and the translations back."""
    import torch

    n = 8
    x, y = run.pair.test_x.images[:n], run.pair.test_y.images[:n]
    for name, real, there, back in (("x2y", x, run.G, run.F), ("y2x", y, run.F, run.G)):
        translated = sampling.translate(there, real)
        rows = torch.cat([real, translated, sampling.translate(back, translated)])  # real, translated, cycled
        viz.save_image_grid(rows, out / f"samples_{name}.png", nrow=n)
    return f"{out / 'samples_x2y.png'} (rows: x, G(x), F(G(x))), {out / 'samples_y2x.png'} (y, F(y), G(F(y)))"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            try:
                code = _train(args)
            except BaseException:
                distributed.shutdown(wait=False)
                raise
            distributed.shutdown()
            return code
        if args.command == "evaluate":
            from ganlib.evaluate import main_evaluate

            return main_evaluate(args)
        if args.command == "course":
            try:  # the CLI is the one place that reaches the course tooling (its own extra)
                from ganlib.course import grade, notebooks, pack, run
            except ImportError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
            if args.course_command == "run":
                return run.main_run(args.notebooks, args.profile, args.out, device=args.device, seed=args.seed,
                                    params=args.param, cell_timeout=args.cell_timeout, root=args.root,
                                    seeds=args.seeds)
            if args.course_command == "grade":
                return grade.main_grade(args)
            if args.course_command == "pack":
                return pack.main_pack(Path(args.root), args.out)
            return notebooks.main_build(Path(args.root), check=args.check, repository=args.repository, ref=args.ref)
    except (ValueError, data.DatasetUnavailableError, CheckpointError, NonFiniteLossError,
            InceptionWeightsUnavailable, RunError) as e:
        # ganlib's own errors say what went wrong and what to do: print that, not a traceback (once under torchrun)
        if os.environ.get("RANK", "0") == "0":
            print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
