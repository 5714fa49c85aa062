"""Operations per training step for every model of ``python -m ganlib train``, beside a per-tensor reference.

    python benchmarks/launch_count.py                     # every CLI model; a table
    python benchmarks/launch_count.py --models dcgan stylegan --json counts.json

On a GPU these small models are bound by launching kernels, not by arithmetic: each PyTorch operation
dispatched launches at least one kernel (10-20 µs of eager overhead each). So this counts the operations one
training step dispatches, on the CPU, with a ``TorchDispatchMode`` (``gpu_estimate.Counter``), for each CLI
model through the recipe the CLI calls (``gpu_check._trainer``), cut short after one warm-up step
(``gpu_estimate.Recorder``; StyleGAN's count covers its lazy R1 and path-length intervals, ProGAN's is the final
32 px phase). Four sides, each in the same run:

- ``reference``: the same networks, losses and step, with the per-tensor work a plain training script does:
  fp32, ``torch.optim.Adam`` as PyTorch picks it on CUDA (``foreach``, not fused), the EMA of G as a loop of
  ``lerp_`` over its tensors, the gradient norm as one ``norm`` per tensor;
- ``ganlib fp32``: ganlib's step in fp32 (fused Adam, one ``_foreach_lerp_`` for the EMA, ``_foreach_norm``);
- ``ganlib T4``: the plan a T4 gets (fp16 autocast with loss scaling where the task is fp16-safe, else fp32);
- ``ganlib A100``: the plan of a GPU of compute capability >= 8.0 (bf16 autocast, no loss scaling).

For DCGAN the pytorch/examples recipe (``train_speed.reference_train``: fp32, DataLoader, Sigmoid + BCELoss, the
G step reusing the D step's fakes, Adam with PyTorch's CUDA default) is counted too. The counts are properties of
the code, not of the machine, so they are the same on any CPU; a dispatched ``_foreach_*`` or fused operation
counts as one (on a GPU it launches one kernel per chunk of tensors, a few at most).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_check  # noqa: E402
import gpu_estimate  # noqa: E402
import train_speed  # noqa: E402

MODELS = ("vanilla", "dcgan", "wgan", "wgan-gp", "cgan", "cyclegan", "progan", "stylegan", "vae", "ddpm")
SIDES = ("reference", "ganlib fp32", "ganlib T4", "ganlib A100")
ASKED_STEPS = 1000  # what each run asks for; the recorder cuts it to one warm-up and a few counted steps


class _ForeachAdam(torch.optim.Adam):
    """Adam as PyTorch picks it for CUDA tensors by default: the foreach implementation, not the fused one."""

    def __init__(self, params, *args, **kwargs):
        kwargs.pop("fused", None)
        super().__init__(params, *args, **{"foreach": True, **kwargs})


def per_tensor_ema(G_ema: torch.nn.Module, G: torch.nn.Module, beta: float) -> None:
    """The EMA of G as plain scripts write it: one ``lerp_`` per parameter, one ``copy_`` per buffer."""
    with torch.no_grad():
        for p_ema, p in zip(G_ema.parameters(), G.parameters()):
            p_ema.lerp_(p, 1.0 - beta)
        for b_ema, b in zip(G_ema.buffers(), G.buffers()):
            b_ema.copy_(b)


def per_tensor_grad_norm(params) -> torch.Tensor:
    """The gradient norm as plain scripts write it: one ``norm`` per tensor, then the norm of the norms."""
    norms = [p.grad.norm() for p in params if p.grad is not None]
    return torch.stack(norms).norm() if norms else torch.zeros(())


class _Side(gpu_estimate.Recorder):
    """A recorder whose plan is one of :data:`SIDES` (gpu_estimate's own recorder always takes fused Adam)."""

    def __init__(self, side: str, path: str):
        super().__init__({"ganlib T4": "t4", "ganlib A100": "a100"}.get(side, "t4"), path)
        self.side = side

    def plan(self, real_plan, fp16_safe: bool):
        if self.side in ("ganlib T4", "ganlib A100"):
            return super().plan(real_plan, fp16_safe)
        fused = self.side == "ganlib fp32"

        def stand_in(device="auto", *, precision="auto", fp16_safe=True, **kw):
            return dataclasses.replace(real_plan(device, precision="fp32", fp16_safe=fp16_safe, **kw),
                                       fused_optimizers=fused)

        return stand_in


@contextlib.contextmanager
def _patched(side: _Side):
    """fit counted by ``side`` everywhere it is imported; for the reference, its per-tensor pieces too."""
    from ganlib.training import loop

    holders = gpu_estimate.fit_holders()  # every module that imported fit, the recipes' too
    saved = {(m, "fit"): m.fit for m in holders}
    if side.side == "reference":
        saved.update({(loop, "ema_update"): loop.ema_update, (loop, "grad_norm"): loop.grad_norm,
                      (torch.optim, "Adam"): torch.optim.Adam})
        loop.ema_update, loop.grad_norm, torch.optim.Adam = per_tensor_ema, per_tensor_grad_norm, _ForeachAdam
    counting = side.fit(loop.fit)
    for module in holders:
        module.fit = counting
    try:
        with side.counter:
            yield
    finally:
        for (module, name), value in saved.items():
            setattr(module, name, value)


def ops_per_step(model: str, side: str, folder: Path) -> dict:
    """Operations (and FLOPs) per step of ``model``'s CLI recipe on ``side``: the mean over the counted steps."""
    recorder = _Side(side, str(folder / "counts.json"))
    with _patched(recorder):
        gpu_check._trainer(model)(steps=ASKED_STEPS, out_dir=folder / f"{model}-{side}", resume=False,
                                  device="cpu", progress=False, profile="full")
    (run,) = recorder.runs
    phase = "32px" if "32px" in run["phases"] else next(iter(run["phases"]))
    counted = run["phases"][phase]
    return {"ops": counted["ops"] / counted["steps"], "flops": (counted["flops16"] + counted["flops32"]) / counted["steps"],
            "steps_counted": counted["steps"], "phase": phase, "precision": run.get("precision")}


def examples_dcgan_ops(steps: int = 4) -> float:
    """Operations per step of the pytorch/examples DCGAN recipe (train_speed.reference_train), after one warm-up."""
    from ganlib import config, data
    from ganlib.data import pad_to
    from ganlib.models.dcgan import build_dcgan

    config.seed_everything(0)
    G, D = build_dcgan("mnist32")
    images = pad_to(data.load_images("mnist-5k").images, 32)[:512]
    counter, saved = gpu_estimate.Counter(), torch.optim.Adam
    torch.optim.Adam = _ForeachAdam  # PyTorch's default for CUDA tensors
    try:
        train_speed.reference_train(G, D, images, 64, 1, torch.device("cpu"), 0)  # warm-up
        counter.bucket = gpu_estimate._zero()
        with counter:
            train_speed.reference_train(G, D, images, 64, steps, torch.device("cpu"), 0)
    finally:
        torch.optim.Adam = saved
    return counter.bucket["ops"] / steps


def table(result: dict) -> str:
    lines = ["Operations dispatched per training step (CPU count; each launches at least one kernel on a GPU)", "",
             f"{'model':9s} " + " ".join(f"{s:>12s}" for s in SIDES) + f" {'T4 / ref':>9s}  notes"]
    for model, sides in result["models"].items():
        ref, t4 = sides["reference"]["ops"], sides["ganlib T4"]["ops"]
        notes = [f"T4 plan {sides['ganlib T4']['precision']}"]
        if sides["reference"]["phase"] != "step":
            notes.append(f"phase {sides['reference']['phase']}")
        if model == "dcgan" and "examples_dcgan" in result:
            notes.append(f"pytorch/examples recipe {result['examples_dcgan']:.0f}")
        lines.append(f"{model:9s} " + " ".join(f"{sides[s]['ops']:>12.0f}" for s in SIDES)
                     + f" {t4 / ref:>8.2f}x  {'; '.join(notes)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS)
    parser.add_argument("--json", type=Path, help="also write the counts here")
    args = parser.parse_args(argv)
    result = {"torch": torch.__version__, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            result["models"][model] = {side: ops_per_step(model, side, Path(tmp)) for side in SIDES}
            print(f"{model}: counted", file=sys.stderr, flush=True)
    if "dcgan" in args.models:
        result["examples_dcgan"] = examples_dcgan_ops()
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    print(table(result))
    return result


if __name__ == "__main__":
    main()
