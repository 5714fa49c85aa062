"""One command that measures a GPU: training speed against the reference, every CLI model, one full evaluation.

Run through ``benchmarks/gpu_check.sh`` (which bounds it to nine minutes) from the repository root::

    bash benchmarks/gpu_check.sh                       # CUDA: the whole check, about 5-8 minutes
    python benchmarks/gpu_check.py --device cpu --steps 3 --warmup 1 --models vanilla --eval-n 64   # a dry run

It writes ``benchmarks/results/gpu-check-YYYY-MM-DD-HHMM.md`` (and prints it):

1. the CUDA row of ``train_speed.py``: ganlib against the pytorch/examples-style reference, same DCGAN and
   batch, in one run (target: at least 3x);
2. for every model of ``python -m ganlib train``, a few hundred steps after a warm-up, through the same
   recipes as the CLI: images per second (real images the loop consumed), peak GPU memory, and the model
   FLOP/s reached as a fraction of the GPU's peak dense bf16 FLOP/s. FLOPs are counted with the formulas of
   ``torch.utils.flop_counter`` over two extra steps (matrix multiplications and convolutions, forward and
   backward, double backward included; element-wise work is not counted, so the fraction is a lower bound);
3. the time of one full evaluation: 50,000 samples of a trained generator through the Inception network
   (FID, KID, IS, precision/recall against 50,000 real images' features), as ``python -m ganlib evaluate``
   does it. The weights of the Inception network do not change its speed; without the real file (offline)
   the check times it with stand-in weights of the same architecture and says so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
import shutil

sys.path.insert(0, str(Path(__file__).parent))
import gpu_estimate  # noqa: E402  (the benchmarks next to this file)
import train_speed  # noqa: E402

from ganlib import config, recipes  # noqa: E402
from ganlib.training.checkpoint import CHECKPOINT_NAME, load_checkpoint  # noqa: E402

# Dense bf16 tensor-core peak, TFLOP/s, from NVIDIA's data sheets (without sparsity). A GPU not listed here
# needs --peak-tflops; the fraction column then says "unknown peak".
PEAK_BF16_TFLOPS = {
    "H200": 989.4, "H100 SXM": 989.4, "H100 80GB HBM3": 989.4, "H100 NVL": 835.5, "H100 PCIe": 756.0,
    "A100": 312.0, "L40S": 362.1, "L4": 121.0, "A10G": 70.0, "A10": 125.0,
}

MODELS = ("vanilla", "dcgan", "wgan", "wgan-gp", "cgan", "cyclegan", "progan", "stylegan", "vae", "ddpm")


def peak_flops(device: torch.device, override_tflops: float | None) -> tuple[float | None, str]:
    """The device's peak dense bf16 FLOP/s and where that number came from."""
    if override_tflops:
        return override_tflops * 1e12, "--peak-tflops"
    if device.type != "cuda":
        return None, "no peak for a CPU"
    name = torch.cuda.get_device_name(device)
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):  # the most specific name first
        if key in name:
            return PEAK_BF16_TFLOPS[key] * 1e12, f"{key} data sheet, dense bf16"
    return None, f"unknown peak for {name}: pass --peak-tflops"


def _trainer(name: str):
    """The recipe call the CLI makes for ``name``, as a function of (steps, out_dir, resume, device)."""
    if name == "cyclegan":
        return lambda **kw: recipes.train_cyclegan("mnist-typeset", **kw)
    if name == "progan":  # short phases so that the timed steps run at the final 32 px, not at 4 px
        return lambda **kw: recipes.train_progan("mnist-5k", images_per_phase=256, **kw)
    if name == "stylegan":
        return lambda **kw: recipes.train_stylegan("mnist-5k", **kw)
    if name in ("vae", "ddpm"):
        train = recipes.train_vae if name == "vae" else recipes.train_ddpm
        return lambda **kw: train("mnist-5k", **kw)
    return lambda **kw: recipes.train_recipe(name, "mnist-5k", **kw)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_model(name: str, device: torch.device, warmup: int, steps: int, folder: Path) -> dict:
    """Warm up, then time ``steps`` steps (resumed from the warm-up's checkpoint), then count two steps' FLOPs."""
    train = _trainer(name)
    common = dict(device=device, progress=False, checkpoint_every=0, profile="full", out_dir=folder / name)
    warm = train(steps=warmup, resume=False, **common)
    images_before = load_checkpoint(folder / name / CHECKPOINT_NAME)["images"]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)
    timed = train(steps=warmup + steps, resume=True, **common)
    seconds = timed.history.seconds - warm.history.seconds  # the loop's own time: no model building, no file I/O
    peak_memory = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    images = load_checkpoint(folder / name / CHECKPOINT_NAME)["images"] - images_before
    per_step = count_steps(train, folder / name, warmup + steps, common)
    return {"model": name, "steps": steps, "seconds": seconds, "images_per_s": images / seconds,
            "steps_per_s": steps / seconds, "peak_memory_gib": peak_memory / 2**30 if peak_memory is not None else None,
            "ops_per_step": per_step["ops"], "flops_per_step": per_step["flops16"] + per_step["flops32"],
            "counts": per_step}


def count_steps(train, run: Path, done: int, common: dict, n: int = 2) -> dict:
    """Operations and FLOPs (by precision) of ``n`` steps after ``done``, per step, as gpu_estimate counts them.

    Two copies of the run resume from its checkpoint, one for ``n`` steps and one for ``2 n``: the difference
    holds the steps alone (building the models and reading the checkpoint cost the same in both).
    """
    totals = []
    for k in (1, 2):
        copy = run.with_name(f"{run.name}-count{k}")
        shutil.copytree(run, copy, dirs_exist_ok=True)
        counter = gpu_estimate.Counter()
        counter.bucket = gpu_estimate._zero()
        with counter:
            train(steps=done + k * n, resume=True, **{**common, "out_dir": copy})
        totals.append(counter.bucket)
    return {key: (totals[1][key] - totals[0][key]) / n for key in totals[0]}


def estimator_gpu(device: torch.device) -> str | None:
    """The name of this GPU in gpu_estimate.GPUS (H200: the H100's, the same chip), or None."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, words in (("t4", ("T4",)), ("l4", ("L4",)), ("a100", ("A100",)), ("h100", ("H100", "H200"))):
        if any(w in name for w in words) and not (key == "l4" and "L40" in name):
            return key
    return None


def measure_evaluation(device: torch.device, n: int, folder: Path) -> dict:
    """Time ``python -m ganlib evaluate`` on the dcgan run: n samples and the real digits through the FID Inception.

    FID, KID and IS (precision/recall on 50,000 x 2048-d features runs on the CPU in float64 and is left out).
    Without torch-fidelity's weights file (offline) the network gets stand-in weights of the same architecture
    (``tests/support/_inception_weights.py``): the time does not depend on the weights' values.
    """
    from ganlib import evaluate, metrics

    weights, kind = None, "torch-fidelity's FID Inception weights"
    if not metrics.inception_weights_path().is_file():
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
        from _inception_weights import make_inception_weights

        weights, kind = make_inception_weights(folder / "inception-standin.pt"), "stand-in weights (offline)"
    _sync(device)
    started = time.perf_counter()
    result = evaluate.evaluate("mnist-5k", folder / "dcgan", metrics="fid,kid,is", n=n, features="inception",
                               inception_weights=weights, device=device, progress=False)
    _sync(device)
    seconds = time.perf_counter() - started
    n_real = min(n, 5000)
    return {"what": f"FID, KID and IS of {n} samples of the dcgan run against {n_real} real digits (mnist-5k), "
                    "Inception-v3 features, as `python -m ganlib evaluate --features inception --metrics fid,kid,is`",
            "weights": kind, "seconds": f"{seconds:.1f}",
            "images through Inception per second": f"{(n + n_real) / seconds:.0f}",
            "FID (meaningless with stand-in weights)" if weights else "FID": f"{result.value('fid'):.2f}"}


def _gpu_label(key: str | None) -> str:
    return gpu_estimate.GPUS[key][0] if key else "no GPU the estimator knows (n/a)"


def _fmt(x: float | None, spec: str, missing: str = "n/a") -> str:
    return missing if x is None else format(x, spec)


def report(args: argparse.Namespace, device: torch.device, speed: dict | None, rows: list[dict], evaluation: dict | None,
           skipped: list[str], started: float) -> str:
    peak, peak_source = peak_flops(device, args.peak_tflops)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    lines = [f"# GPU check, {dt.datetime.now():%Y-%m-%d %H:%M}", "",
             f"- machine: {gpu}; torch {torch.__version__}, CUDA {torch.version.cuda}, Python {platform.python_version()}",
             f"- command: `{' '.join(['python', *sys.argv])}`",
             f"- peak dense bf16: {_fmt(peak and peak / 1e12, '.1f')} TFLOP/s ({peak_source})",
             f"- total time: {time.perf_counter() - started:.0f} s", ""]
    if speed:
        (ref_name, ref), (ours_name, ours) = speed["images_per_s"].items()
        verdict = "met" if speed["ratio"] >= 3 else "NOT met"
        lines += ["## DCGAN training speed against the reference (`benchmarks/train_speed.py`)", "",
                  f"{speed['preset']} preset, batch {speed['batch_size']}, {speed['steps']} timed steps after "
                  f"{speed['warmup']} warm-up steps, on {speed['machine']}", "",
                  "| side | images/s |", "|---|---|", f"| {ref_name} | {ref:.0f} |", f"| {ours_name} | {ours:.0f} |", "",
                  f"ratio ganlib / reference: **{speed['ratio']:.2f}x** (target at least 3x: {verdict})", ""]
    if rows:
        key = estimator_gpu(device)
        lines += [f"## Every CLI model: {args.steps} steps after {args.warmup} warm-up steps, bundled digits", "",
                  "| model | images/s | steps/s | peak memory (GiB) | GFLOP per step | fraction of peak bf16 "
                  "| operations per step | ms per step | estimate (ms) | µs per operation |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            achieved = r["flops_per_step"] * r["steps_per_s"]
            fraction = _fmt(peak and achieved / peak, ".2%", "unknown peak")
            estimate = (f"{gpu_estimate.seconds(r['counts'], key, 0) * 1e3:.2f}-"
                        f"{gpu_estimate.seconds(r['counts'], key, 1) * 1e3:.2f}") if key else "n/a"
            ms = 1e3 / r["steps_per_s"]
            lines.append(f"| {r['model']} | {r['images_per_s']:.0f} | {r['steps_per_s']:.1f} | "
                         f"{_fmt(r['peak_memory_gib'], '.2f')} | {r['flops_per_step'] / 1e9:.2f} | {fraction} | "
                         f"{r['ops_per_step']:.0f} | {ms:.2f} | {estimate} | {1e3 * ms / max(r['ops_per_step'], 1):.1f} |")
        lines += ["", "Images/s counts the real images the loop consumed (CycleGAN: images of domain X). FLOPs are "
                  "matrix multiplications and convolutions, forward and backward, as torch.utils.flop_counter counts them. "
                  "Operations per step are the PyTorch operations one step dispatches (benchmarks/gpu_estimate.py's "
                  f"counter); the estimate is that script's cost model for {_gpu_label(key)}, low-high; µs per operation "
                  "is the measured step time over its operations, the launch overhead per operation where a step "
                  "is launch-bound (the model assumes 10-20 µs).", ""]
    if evaluation:
        lines += ["## One full evaluation", "", *[f"- {k}: {v}" for k, v in evaluation.items()], ""]
    if skipped:
        lines += ["## Not measured", "", *[f"- {s}" for s in skipped], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated (default: all of {', '.join(MODELS)})")
    p.add_argument("--steps", type=int, default=300, help="timed steps per model (default 300)")
    p.add_argument("--warmup", type=int, default=80, help="untimed steps first (default 80; ProGAN grows to 32 px)")
    p.add_argument("--speed-steps", type=int, default=None, help="train_speed.py's timed steps (default: its own)")
    p.add_argument("--eval-n", type=int, default=50_000, help="images per side in the full evaluation (default 50000)")
    p.add_argument("--skip", default="", help="comma-separated parts to leave out: speed, models, evaluation")
    p.add_argument("--budget", type=float, default=500.0, help="seconds after which the remaining parts are skipped")
    p.add_argument("--peak-tflops", type=float, default=None, help="the GPU's peak dense bf16 TFLOP/s if not in the table")
    p.add_argument("--out", default=str(Path(__file__).parent / "results"), help="folder of the report")
    args = p.parse_args(argv)
    started = time.perf_counter()
    device = config.get_device(args.device)
    skip = {s for s in args.skip.split(",") if s}
    unknown = [m for m in args.models.split(",") if m not in MODELS]
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    over = lambda: time.perf_counter() - started > args.budget
    skipped: list[str] = []
    speed = None
    if "speed" not in skip:
        speed = train_speed.measure(device, steps=args.speed_steps, workers=2)
        print(f"train_speed: ratio {speed['ratio']:.2f}x", flush=True)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.models.split(",") if "models" not in skip else []:
            if over():
                skipped.append(f"{name}: the {args.budget:.0f} s budget was spent")
                continue
            rows.append(measure_model(name, device, args.warmup, args.steps, folder))
            print(f"{name}: {rows[-1]['images_per_s']:.0f} images/s", flush=True)
        evaluation = None
        if "evaluation" not in skip:
            if over() or "dcgan" not in [r["model"] for r in rows]:
                skipped.append("full evaluation: " + ("the budget was spent" if over() else "needs the dcgan run"))
            else:
                evaluation = measure_evaluation(device, args.eval_n, folder)
    text = report(args, device, speed, rows, evaluation, skipped, started)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"gpu-check-{dt.datetime.now():%Y-%m-%d-%H%M}.md"
    path.write_text(text + "\n")
    print(text)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
