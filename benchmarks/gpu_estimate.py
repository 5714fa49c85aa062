"""How long each notebook takes on a GPU, estimated on a CPU: operations and FLOPs counted, then a cost model.

    python benchmarks/gpu_estimate.py --gpu t4 --profile colab              # every notebook; a table
    python benchmarks/gpu_estimate.py --gpu t4 --profile full --notebooks 08b 09 --json out.json

No GPU is needed. Each solution notebook runs here on the CPU at the asked profile, with two changes made by a
cell put in after its parameters cell:

- every training run (:func:`ganlib.training.fit`) is cut short: after one warm-up step it counts a few steps
  (enough to cover StyleGAN's lazy regularisers; for progressive growing a few steps at every resolution and
  fade-in) and stops. It records how many steps the notebook asked for, so the run's cost is that many steps at
  the counted cost per step (ProGAN: per phase of its real schedule). The counted steps run under the plan the
  GPU would get (:mod:`ganlib.training.plan`): fp16 autocast with loss scaling on a T4 (fp32 for a task that is
  not fp16-safe), bf16 on sm >= 8.0, and fused Adam, so the casts, the scaler's and the optimiser's
  operations are those of the GPU run;
- everything else the notebook does (sampling, scores, plots) runs as written and is counted once; in the
  notebooks of ``FIRST_BATCH_ONLY`` (09, whose colab profile draws 5,000 samples from each of nine models, the
  DDPM's at 50 network evaluations each, and bounds 1,000 digits per model) ``sampling.draw`` and
  ``compare.bits_per_dim`` run their first batch only and count it once per batch the full call would run (their
  batches are alike: same model, same batch size); draw returns that batch repeated to the asked size, so the
  cells after it run on as many images as they would (their scores are meaningless, their cost is not).

What is counted: every PyTorch operation dispatched (on a GPU, each launches at least one kernel) and the FLOPs
of the operations :mod:`torch.utils.flop_counter` has formulas for (matrix products and convolutions, forward
and backward), split by the dtype they ran in. The cost model, for a block of work with ``ops`` operations and
``flops16`` / ``flops32`` FLOPs::

    seconds = max(ops * t_op, flops16 / (peak16 * eff) + flops32 / (peak32 * eff))

Small models on a GPU are bound by launching kernels, not by arithmetic (the two overlap, hence the max).
``t_op`` is 10 µs (low) to 20 µs (high) per operation, the range of PyTorch's eager overhead per operation on
a GPU; ``eff`` is the fraction of the data-sheet peak a kernel reaches: 0.5 (low) to 0.25 (high). The
peaks are dense tensor-core (fp16 / bf16) and fp32 FLOP/s from NVIDIA's data sheets (without sparsity). Not
modelled: reading data, copying to the GPU, Python work between operations (matplotlib, numpy), and
downloads. So the result is an estimate to plan a session with, marked as one wherever it is quoted;
``gpu_check.py`` measures the real thing on a GPU and prints this prediction beside it.

Datasets that need a download are replaced by the bundled ``mnist-5k`` (same image size, so the same cost
per step); the Inception network needs its weights, so offline a notebook's FID with Inception features is
skipped and is not in the estimate (the table says so).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

REPO = Path(__file__).resolve().parent.parent

# name: (label, compute capability, dense fp16/bf16 tensor TFLOP/s, fp32 TFLOP/s), NVIDIA data sheets.
GPUS = {
    "t4": ("Tesla T4", (7, 5), 65.0, 8.1),
    "l4": ("L4", (8, 9), 121.0, 30.3),
    "a100": ("A100", (8, 0), 312.0, 19.5),
    "h100": ("H100 SXM", (9, 0), 989.4, 66.9),
}
T_OP = (10e-6, 20e-6)  # seconds per dispatched operation: low, high
EFFICIENCY = (0.5, 0.25)  # fraction of peak FLOP/s: low estimate, high estimate
WARMUP_STEPS = 1
COUNT_STEPS = 4  # counted steps per run (more where a task has an interval, e.g. StyleGAN's lazy R1)
OFFLINE = {"08a": {"DATASET": "mnist-5k"}}  # parameters that stand in for a download (same cost per step)
FIRST_BATCH_ONLY = {"09"}  # notebooks whose sampling and bounds are counted on their first batch (docstring)
HALF = (torch.float16, torch.bfloat16)


# --------------------------------------------------------------------------- counting (runs inside the kernel)


class Counter(TorchDispatchMode):
    """Counts dispatched operations and FLOPs into ``self.bucket`` (a dict), or nowhere while ``bucket is None``."""

    def __init__(self):
        super().__init__()
        self.bucket: dict | None = None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        bucket = self.bucket
        if bucket is not None:
            bucket["ops"] += 1
            count = flop_registry.get(func._overloadpacket)
            if count is not None:
                first = out[0] if isinstance(out, (tuple, list)) and out else out
                half = isinstance(first, torch.Tensor) and first.dtype in HALF
                bucket["flops16" if half else "flops32"] += count(*args, **kwargs, out_val=out)
        return out


def _zero() -> dict:
    return {"ops": 0, "flops16": 0, "flops32": 0}


class Recorder:
    """Installed in a notebook's kernel by :func:`install`: cuts training runs short and counts everything."""

    def __init__(self, gpu: str, path: str):
        self.gpu, self.path = gpu, path
        self.other = _zero()  # everything outside training steps
        self.runs: list[dict] = []
        # a checkpoint a cut-short run wrote (by its content, so a copy made by ganlib.training.stages is found too)
        # -> (the steps the notebook had asked for, the step the cut-short run really stopped at)
        self.left: dict[str, tuple[int, int]] = {}
        self.counter = Counter()
        self.counter.bucket = self.other

    @staticmethod
    def checkpoint_key(out_dir) -> str | None:
        """A digest of ``out_dir``'s checkpoint, or None when there is none."""
        import hashlib

        from ganlib.training import CHECKPOINT_NAME

        path = Path(out_dir) / CHECKPOINT_NAME if out_dir is not None else None
        return hashlib.sha256(path.read_bytes()).hexdigest() if path is not None and path.is_file() else None

    def plan(self, real_plan, fp16_safe: bool):
        """The plan the GPU would get, made for the CPU: same precision, fused Adam."""
        from ganlib.training import plan as plan_module

        def stand_in(device="auto", *, precision="auto", fp16_safe=True, **kw):
            if precision == "auto":
                precision, _ = plan_module._auto_precision(GPUS[self.gpu][1], fp16_safe)
            chosen = real_plan(device, precision=precision, fp16_safe=fp16_safe, **kw)
            return dataclasses.replace(chosen, fused_optimizers=True)

        return stand_in

    def fit(self, real_fit):
        recorder = self

        def counting_fit(task, batches, cfg, *, out_dir=None, resume=False, **kw):
            from ganlib.training import loop

            key = recorder.checkpoint_key(out_dir)  # the run's checkpoint as this recorder left it, or None
            resumes = key is not None and (resume is True or resume == "auto")
            before, done_before = recorder.left.get(key, (0, 0)) if resumes else (0, 0)
            asked = max(0, cfg.steps - before)
            cfg_steps_asked = cfg.steps
            intervals = [getattr(cfg, name, 0) or 0 for name in ("r1_interval", "pl_interval", "critic_every")]
            count = max([COUNT_STEPS, *intervals])
            run = {"task": task.name, "steps": asked, "batch_size": getattr(cfg, "batch_size", None),
                   "fp16_safe": getattr(task, "fp16_safe", True), "phases": {}}
            schedule = None
            if hasattr(cfg, "images_per_phase"):  # progressive growing: count a few steps at every phase
                from ganlib.training import progan

                real_cfg, small = cfg, dataclasses.replace(cfg, images_per_phase=2 * progan.batch_size_at(4, cfg))
                cfg = small
                schedule = (progan, real_cfg, before)
                count = progan.steps_for_images(7 * small.images_per_phase, small) + 2
            cfg = dataclasses.replace(cfg, steps=done_before + WARMUP_STEPS + count, checkpoint_every=0,
                                      log_every=max(1, WARMUP_STEPS + count))
            calls = {"n": 0}
            step = task.step
            ema = loop.ema_update
            previous_bucket = recorder.counter.bucket

            def phase_key(ctx):
                if schedule is None:
                    return "step"
                res, alpha = schedule[0].phase(ctx.progress.images, cfg)
                return f"{res}px" + (" fade-in" if alpha < 1 else "")

            def counted_step(ctx, batches_):
                calls["n"] += 1
                if calls["n"] <= WARMUP_STEPS:
                    recorder.counter.bucket = None
                    return step(ctx, batches_)
                name = phase_key(ctx)
                bucket = run["phases"].setdefault(name, {**_zero(), "steps": 0})
                recorder.counter.bucket = bucket
                try:
                    return step(ctx, batches_)
                finally:
                    bucket["steps"] += 1
                    recorder.counter.bucket = None

            def counted_ema(target, source, beta):  # after the step: same bucket as the step it follows
                if calls["n"] > WARMUP_STEPS and run["phases"]:
                    recorder.counter.bucket = run["phases"][list(run["phases"])[-1]]
                try:
                    return ema(target, source, beta)
                finally:
                    recorder.counter.bucket = None

            task.step = counted_step
            loop.ema_update, real_plan = counted_ema, loop.device_plan
            loop.device_plan = recorder.plan(real_plan, run["fp16_safe"])
            recorder.counter.bucket = None
            started = time.perf_counter()
            try:
                history = real_fit(task, batches, cfg, out_dir=out_dir, resume=resume, **kw)
            finally:
                loop.ema_update, loop.device_plan = ema, real_plan
                del task.step
                recorder.counter.bucket = previous_bucket
            after = recorder.checkpoint_key(out_dir)
            if after is not None:
                recorder.left[after] = (max(before, cfg_steps_asked), cfg.steps)
            run["cpu_seconds"] = time.perf_counter() - started
            if history.plans:
                run["precision"] = history.plans[-1]["precision"]
            if schedule is not None:
                run["phase_steps"] = _progan_phase_steps(*schedule, asked)
            recorder.runs.append(run)
            recorder.dump()
            return history

        return counting_fit

    @contextlib.contextmanager
    def counting_into(self, bucket: dict | None):
        """Within the block, count into ``bucket`` (None: count nothing); the previous bucket again afterwards."""
        previous, self.counter.bucket = self.counter.bucket, bucket
        try:
            yield
        finally:
            self.counter.bucket = previous

    def first_batch(self, size: int, batch_size: int, run_first):
        """Run ``run_first()`` (the first of ``ceil(size / batch_size)`` alike batches) into a bucket of its own and
        add it to the current bucket once per batch of the full call (the last, partial one as its share)."""
        previous, own = self.counter.bucket, _zero()
        with self.counting_into(own):
            out = run_first()
        if previous is not None:
            for key in own:
                previous[key] += own[key] * size / batch_size
        return out

    def draw(self, real_draw):
        recorder = self

        def counting_draw(model, n, *, batch_size=500, **kw):
            if n <= batch_size:
                return real_draw(model, n, batch_size=batch_size, **kw)
            first = recorder.first_batch(n, batch_size,
                                         lambda: real_draw(model, batch_size, batch_size=batch_size, **kw))
            with recorder.counting_into(None):  # the copies are not the GPU's work
                return first.repeat(math.ceil(n / batch_size), *([1] * (first.ndim - 1)))[:n]

        return counting_draw

    def bits_per_dim(self, real_bits_per_dim):
        recorder = self

        def counting_bits_per_dim(model, images, *, batch_size=250, **kw):
            if len(images) <= batch_size:
                return real_bits_per_dim(model, images, batch_size=batch_size, **kw)
            return recorder.first_batch(len(images), batch_size,
                                        lambda: real_bits_per_dim(model, images[:batch_size], batch_size=batch_size,
                                                                  **kw))

        return counting_bits_per_dim

    def dump(self) -> None:
        Path(self.path).write_text(json.dumps({"runs": self.runs, "other": self.other}, indent=1))


def _progan_phase_steps(progan, cfg, start: int, steps: int) -> dict[str, int]:
    """How many of the real run's steps ``start .. start + steps`` fall in each phase (4px, 8px fade-in ...)."""
    counts: dict[str, int] = {}
    images = progan.images_after(start, cfg)
    for _ in range(steps):
        res, alpha = progan.phase(images, cfg)
        name = f"{res}px" + (" fade-in" if alpha < 1 else "")
        counts[name] = counts.get(name, 0) + 1
        images += progan.batch_size_at(res, cfg)
    return counts


def _loop():
    from ganlib.training import loop

    return loop


def fit_holders() -> list:
    """Every loaded module that holds the loop's ``fit`` under that name (``ganlib.training``, ``ganlib.train``, the
    recipes ...), so patching them all counts every run whichever way a notebook starts it."""
    import ganlib  # noqa: F401  (loads every module that imports fit)

    fit = _loop().fit
    return [m for m in list(sys.modules.values()) if m is not None and getattr(m, "fit", None) is fit]


def install(gpu: str, path: str, first_batch_only: bool = False) -> Recorder:
    """Called by the cell this script puts into a notebook: patch ``fit`` everywhere it is imported (and, with
    ``first_batch_only``, ``sampling.draw`` and ``compare.bits_per_dim`` as the notebook calls them), start counting."""
    from ganlib import compare, sampling

    recorder = Recorder(gpu, path)
    counting = recorder.fit(_loop().fit)
    for module in fit_holders():
        module.fit = counting
    if first_batch_only:
        sampling.draw = recorder.draw(sampling.draw)
        compare.bits_per_dim = recorder.bits_per_dim(compare.bits_per_dim)
    recorder.counter.__enter__()  # stays on for the rest of the kernel's life (cells run on one thread)
    return recorder


# --------------------------------------------------------------------------- the cost model


def seconds(block: dict, gpu: str, which: int) -> float:
    """The cost model (module docstring) for one block of counted work; ``which``: 0 low, 1 high."""
    _, _, peak16, peak32 = GPUS[gpu]
    eff = EFFICIENCY[which]
    arithmetic = block["flops16"] / (peak16 * 1e12 * eff) + block["flops32"] / (peak32 * 1e12 * eff)
    return max(block["ops"] * T_OP[which], arithmetic)


def run_seconds(run: dict, gpu: str, which: int) -> float:
    """A training run: its steps at the counted cost per step (ProGAN: per phase)."""
    per_step = {name: {k: b[k] / max(1, b["steps"]) for k in ("ops", "flops16", "flops32")}
                for name, b in run["phases"].items()}
    if not per_step:
        return 0.0
    steps = run.get("phase_steps") or {"step": run["steps"]}
    fallback = next(iter(per_step.values()))
    return sum(n * seconds(per_step.get(name, fallback), gpu, which) for name, n in steps.items())


def summarise(counts: dict, gpu: str) -> dict:
    """Seconds (low, high) for the training runs and for the rest."""
    training = [sum(run_seconds(r, gpu, w) for r in counts["runs"]) for w in (0, 1)]
    other = [seconds(counts["other"], gpu, w) for w in (0, 1)]
    return {"training_s": training, "other_s": other, "total_s": [t + o for t, o in zip(training, other)],
            "runs": [{"task": r["task"], "steps": r["steps"], "precision": r.get("precision"),
                      "seconds": [run_seconds(r, gpu, w) for w in (0, 1)]} for r in counts["runs"]]}


# --------------------------------------------------------------------------- running the notebooks


def notebooks(selection: list[str] | None) -> list[Path]:
    found = sorted((REPO / "solutions").glob("[0-9]*.ipynb"))
    if not selection:
        return found
    chosen = [nb for nb in found if any(nb.name.startswith(s) for s in selection)]
    missing = [s for s in selection if not any(nb.name.startswith(s) for nb in found)]
    if missing:
        raise SystemExit(f"no solution notebook starts with {', '.join(missing)}; have: "
                         f"{', '.join(nb.name.split('_')[0] for nb in found)}")
    return chosen


def count_notebook(path: Path, gpu: str, profile: str, timeout: int, workdir: Path) -> dict:
    """Run one solution notebook on the CPU with the counting cell; return its counts and any cell errors."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    where = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    out = workdir / f"{path.stem}.json"
    number = path.name.split("_")[0]
    params = {"PROFILE": profile, "DEVICE": "cpu", **OFFLINE.get(number, {})}
    source = "\n".join([*(f"{k} = {v!r}" for k, v in params.items()),
                        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})",
                        f"import gpu_estimate; _recorder = gpu_estimate.install({gpu!r}, {str(out)!r}, "
                        f"first_batch_only={number in FIRST_BATCH_ONLY})"])
    nb.cells.insert(where + 1, nbformat.v4.new_code_cell(source))
    nb.cells.append(nbformat.v4.new_code_cell("_recorder.dump()"))
    env_before = dict(os.environ)
    os.environ["GANLIB_RUNS"] = str(workdir / "runs" / path.stem)
    os.environ["MPLBACKEND"] = "Agg"
    started = time.perf_counter()
    try:
        client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(env_before)
    errors = [f"cell {i}: {o.get('ename')}: {o.get('evalue', '')[:160]}" for i, c in enumerate(nb.cells)
              if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    skipped = [f"cell {i}: {line.strip()[:160]}" for i, c in enumerate(nb.cells) if c.cell_type == "code"
               for o in c.get("outputs", []) if o.get("output_type") == "stream"
               for line in o.get("text", "").splitlines() if "not available here, skipped" in line]
    counts = json.loads(out.read_text()) if out.exists() else {"runs": [], "other": _zero()}
    return {**counts, "errors": errors, "skipped": skipped, "cpu_seconds": time.perf_counter() - started}


def minutes(pair: list[float]) -> str:
    low, high = (x / 60 for x in pair)
    if high < 1:
        return "< 1 min"
    return f"{math.floor(low):.0f}-{math.ceil(high):.0f} min"


def table(result: dict) -> str:
    gpu = result["gpu"]
    lines = [f"Estimated time per notebook on {GPUS[gpu][0]}, profile {result['profile']} "
             f"(an estimate: operations and FLOPs counted on a CPU, {T_OP[0] * 1e6:.0f}-{T_OP[1] * 1e6:.0f} µs per "
             f"operation, {EFFICIENCY[1]:.0%}-{EFFICIENCY[0]:.0%} of peak; see benchmarks/gpu_estimate.py)",
             "", f"{'notebook':36s} {'training':>14s} {'the rest':>14s} {'total':>14s}  notes"]
    for name, nb in result["notebooks"].items():
        notes = "; ".join([*(["errors: " + " | ".join(nb["errors"])] if nb["errors"] else []),
                           *(["skipped: " + " | ".join(nb["skipped"])] if nb["skipped"] else [])])
        lines.append(f"{name:36s} {minutes(nb['training_s']):>14s} {minutes(nb['other_s']):>14s} "
                     f"{minutes(nb['total_s']):>14s}  {notes}")
    total = [sum(nb["total_s"][w] for nb in result["notebooks"].values()) for w in (0, 1)]
    lines.append(f"{'the course':36s} {'':>14s} {'':>14s} {minutes(total):>14s}")
    return "\n".join(lines)


def _kept(args) -> dict:
    """The notebooks of an earlier ``--json`` file that ``--update`` keeps, in course order with the new ones."""
    if not args.update:
        return {}
    if args.json is None or not args.json.exists():
        raise SystemExit("--update needs --json FILE naming an earlier result to update")
    earlier = json.loads(args.json.read_text())
    if (earlier.get("gpu"), earlier.get("profile")) != (args.gpu, args.profile):
        raise SystemExit(f"{args.json} holds --gpu {earlier.get('gpu')} --profile {earlier.get('profile')}; "
                         f"--update adds to a result of the same GPU and profile only")
    return earlier["notebooks"]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gpu", choices=sorted(GPUS), default="t4")
    parser.add_argument("--profile", choices=("smoke", "quick", "colab", "full"), default="colab")
    parser.add_argument("--notebooks", nargs="*", help="prefixes such as 03 08b (default: all)")
    parser.add_argument("--json", type=Path, help="also write the counts and the estimate here")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--update", action="store_true",
                        help="keep the other notebooks already in --json (same GPU and profile); replace only these")
    args = parser.parse_args(argv)
    result = {"gpu": args.gpu, "gpu_name": GPUS[args.gpu][0], "profile": args.profile, "torch": torch.__version__,
              "model": {"t_op_s": T_OP, "efficiency": EFFICIENCY, "peak_tflops": GPUS[args.gpu][2:]},
              "notebooks": _kept(args)}
    with tempfile.TemporaryDirectory() as tmp:
        for path in notebooks(args.notebooks):
            counts = count_notebook(path, args.gpu, args.profile, args.timeout, Path(tmp))
            result["notebooks"][path.stem] = {**summarise(counts, args.gpu), "errors": counts["errors"],
                                              "skipped": counts["skipped"], "counts": counts,
                                              "cpu_seconds": counts["cpu_seconds"]}
            print(f"{path.stem}: counted in {counts['cpu_seconds']:.0f} s", file=sys.stderr, flush=True)
            result["notebooks"] = dict(sorted(result["notebooks"].items()))
            if args.json:  # after every notebook, so a long run keeps what it has
                args.json.write_text(json.dumps(result, indent=1))
    print(table(result))
    return result


if __name__ == "__main__":
    main()
