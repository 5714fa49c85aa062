"""The quality gate of a model the course ships: measured before its asset script writes it, and in a test after.

A shipped generator is what a notebook's readings rest on (08b's path length, 09's mode coverage), so it has to
be a working model of the digits, not just a file. The gate draws ``n`` samples with a seed of its own and reads
them with the course's MNIST classifier (:mod:`ganlib.metrics.digits`):

- **class histogram**: every digit's share of the samples within ``[min_share, max_share]`` (4 % to 20 % of
  2,000 for a GAN or a DDPM: a uniform 10 % with room for a model's bias; a collapsed model that draws no zeros
  fails it);
- **recall** of the classifier's features (k = 3 manifolds) at least ``min_recall``: the samples cover the
  real digits;
- **FID** in the classifier's features at most ``max_fid``.

A VAE gets bounds of its own: its blur is the lesson of notebook 09, so its FID bound is looser, while its
classes must still all be there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ganlib.metrics.digits import digit_scores, predict_digits
from ganlib.sampling import draw as draw_samples

__all__ = ["Gate", "GateFailed", "GateResult", "GATES", "DDPM_GATE_STEPS", "measure", "measure_model", "require"]

DDPM_GATE_STEPS = 20  # DDIM steps of a DDPM's gate draws: what notebook 09's quick profile samples with


class GateFailed(RuntimeError):
    """A model failed its quality gate: it is not written (or, in a test, the shipped file is not good enough)."""


@dataclass(frozen=True)
class Gate:
    """Bounds a shipped model must meet on ``n`` samples drawn with ``seed``."""

    min_share: float = 0.04
    max_share: float = 0.20
    min_recall: float = 0.5
    max_fid: float = 100.0
    n: int = 2000
    seed: int = 20_000  # the gate's own seed, not one a notebook draws with

    def describe(self) -> str:
        return (f"every digit {100 * self.min_share:g}-{100 * self.max_share:g} % of {self.n} samples, "
                f"recall >= {self.min_recall:g}, FID (classifier) <= {self.max_fid:g}")


# The gate of each model the course ships (ganlib/assets), by family. The bounds are set from what a working
# model of these digits does, not from the shipped files: mnist-5k's own digits, 2,000 drawn with the gate's
# seed, read 9.3-10.8 % per class, recall 0.94 and FID 0.5 against all 5,000; the shipped WGAN-GP of notebook
# 04 reads 7.0-15.6 %, recall 0.82, FID 36.
GATES = {
    "gan": Gate(min_recall=0.5, max_fid=100.0),  # notebook 04's WGAN-GP, 09's DCGANs, 08b's StyleGANs
    "ddpm": Gate(min_recall=0.5, max_fid=100.0),  # sampled with DDPM_GATE_STEPS DDIM steps
    # A VAE's samples are blurred by its Gaussian likelihood (notebook 09's lesson), so its FID bound is loose;
    # every digit must still be there, and the blur that reads as a thin 1 must not take a third of the draws.
    "vae": Gate(min_share=0.02, max_share=0.30, min_recall=0.25, max_fid=500.0),
}


@dataclass(frozen=True)
class GateResult:
    """What the gate measured, and which bounds failed (none: it passed)."""

    name: str
    gate: Gate
    shares: tuple[float, ...]  # fraction of the samples the classifier reads as each digit 0-9
    recall: float
    precision: float
    fid: float
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    def histogram(self) -> str:
        """One line: the share of each digit, in per cent."""
        return "  ".join(f"{digit}: {100 * share:4.1f}%" for digit, share in enumerate(self.shares))

    def report(self) -> str:
        verdict = "passed" if self.passed else "FAILED: " + "; ".join(self.failures)
        return (f"{self.name}: {verdict}\n  classes {self.histogram()}\n  recall {self.recall:.3f}, precision "
                f"{self.precision:.3f}, FID (classifier) {self.fid:.1f}; gate: {self.gate.describe()}")


def measure(name: str, draw: Callable[[int, torch.Generator], torch.Tensor], gate: Gate | None = None,
            device: str | torch.device = "cpu") -> GateResult:
    """Draw ``gate.n`` samples with ``draw(n, generator)`` and measure them against the gate's bounds.

    Args:
        name: the model, for the report (e.g. ``"stylegan2"``).
        draw: returns ``n`` images (n, 1, 28 or 32, 28 or 32) in [-1, 1] drawn with the CPU ``generator``;
            e.g. ``lambda n, g: sampling.draw(G, n, generator=g)``.
        gate: the bounds; default :data:`GATES` ``["gan"]``.
        device: where the classifier runs.
    """
    gate = gate or GATES["gan"]
    images = draw(gate.n, torch.Generator().manual_seed(gate.seed))
    if images.shape[0] != gate.n or not torch.isfinite(images).all():
        raise ValueError(f"{name}: the draw returned {tuple(images.shape)} images (finite: "
                         f"{bool(torch.isfinite(images).all())}); the gate needs {gate.n} finite images")
    counts = torch.bincount(predict_digits(images, device=device), minlength=10).double()
    shares = tuple(float(s) for s in counts / counts.sum())
    scores = digit_scores(images, device=device)
    failures = [f"digit {d} is {100 * s:.1f} % of the samples (bounds {100 * gate.min_share:g}-"
                f"{100 * gate.max_share:g} %)" for d, s in enumerate(shares) if not gate.min_share <= s <= gate.max_share]
    if not scores.recall >= gate.min_recall:
        failures.append(f"recall {scores.recall:.3f} is under {gate.min_recall:g}")
    if not scores.fid <= gate.max_fid:
        failures.append(f"FID (classifier) {scores.fid:.1f} is over {gate.max_fid:g}")
    return GateResult(name, gate, shares, scores.recall, scores.precision, scores.fid, tuple(failures))


def measure_model(name: str, model: nn.Module, family: str, device: str | torch.device = "cpu") -> GateResult:
    """The gate of :data:`GATES` ``[family]`` (``gan``, ``vae`` or ``ddpm``) on a network :func:`ganlib.sampling.draw`
    samples: a generator G(z), a VAE, or a DDPM (with :data:`DDPM_GATE_STEPS` DDIM steps)."""
    if family not in GATES:
        raise ValueError(f"no gate for family {family!r}; the gates: {', '.join(GATES)}")
    steps = DDPM_GATE_STEPS if family == "ddpm" else None
    return measure(name, lambda n, g: draw_samples(model, n, generator=g, steps=steps), GATES[family], device)


def require(result: GateResult) -> GateResult:
    """``result`` if it passed; else :class:`GateFailed` with what failed, so an asset script writes nothing."""
    if not result.passed:
        raise GateFailed(f"{result.report()}\nnot written: train longer, or change the recipe, until it passes")
    return result
