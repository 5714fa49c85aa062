"""What happened during training: every metric a task reports, as a series keyed by its name."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Sequence

import torch

from ganlib.training.checkpoint import atomic_write_text

__all__ = ["History", "GAN_SERIES"]

#: The series of a G-against-D game (notebooks 02-05), present in every such history even when a step
#: does not report one of them (then NaN): the four every step reports, the health figures, pix2pix's L1.
GAN_METRICS = ("d_loss", "g_loss", "d_real", "d_fake")
GAN_HEALTH = ("d_acc_real", "d_acc_fake", "w_estimate", "d_grad_norm", "g_grad_norm")
GAN_TASK = ("l1",)
GAN_SERIES = GAN_METRICS + GAN_HEALTH + GAN_TASK

_RESERVED = ("step", "snapshot_steps", "snapshots", "series", "seconds", "plans")


class History:
    """Metrics logged every few steps, and sample snapshots, of one training run.

    Every name a task's step returns becomes a series ``history.NAME`` (a list of floats aligned
    with ``history.step``); a series first reported later is back-filled with NaN, and a logged step
    that does not report a known series gets NaN there. Series named in ``names`` exist from the
    start, so plots and JSON files of one kind of run always have the same keys.

    ``seconds`` is the wall-clock time the run spent training, summed over every resumed part (0 in
    checkpoints written before it was kept); it travels in checkpoints, not in the JSON file.

    For a G-against-D game (the default ``names``), ``d_real`` and ``d_fake`` are the mean of D's
    probabilities sigmoid(logit) on real and fake samples: at the game's equilibrium both are 1/2.

    Args:
        names: the series to declare up front; default :data:`GAN_SERIES`.
    """

    METRICS = GAN_METRICS  # every alternating step reports these
    HEALTH = GAN_HEALTH  # NaN when a step does not report them
    TASK = GAN_TASK  # reported only by task-specific steps (pix2pix's reconstruction term); NaN otherwise

    def __init__(self, names: Sequence[str] | None = None):
        self.step: list[int] = []
        self.series: dict[str, list[float]] = {}
        self.snapshot_steps: list[int] = []
        self.snapshots: list[torch.Tensor] = []  # each (n_snapshot, *data_shape) on the CPU
        self.seconds: float = 0.0  # wall-clock time spent in training steps, summed over every resumed part
        # the device plans of the run: {"step": where it started, **DevicePlan.to_dict()}, a new entry when a resumed
        # part runs on another plan (device or precision)
        self.plans: list[dict] = []
        for name in GAN_SERIES if names is None else names:
            self._add(name)

    def _add(self, name: str) -> list[float]:
        if name in _RESERVED or not name.isidentifier():
            raise ValueError(f"{name!r} cannot name a metric: use an identifier other than {', '.join(_RESERVED)}")
        return self.series.setdefault(name, [math.nan] * len(self.step))

    def __getattr__(self, name: str) -> list[float]:
        series = self.__dict__.get("series", {})
        if name in series:
            return series[name]
        raise AttributeError(f"History has no series {name!r}; it has: {', '.join(series) or 'none'}")

    @property
    def names(self) -> list[str]:
        """The series' names, in the order they appeared."""
        return list(self.series)

    def record(self, step: int, metrics: dict[str, float]) -> None:
        """Append one logged step: a value for every series (NaN where ``metrics`` has none)."""
        for name in metrics:
            self._add(name)
        self.step.append(int(step))
        for name, values in self.series.items():
            values.append(float(metrics.get(name, math.nan)))

    def to_dict(self) -> dict[str, list]:
        """The logged numbers (not the snapshots), ready for ``json.dump`` (NaN becomes None)."""
        clean = lambda values: [None if isinstance(v, float) and math.isnan(v) else v for v in values]
        return {"step": list(self.step), **{name: clean(values) for name, values in self.series.items()}}

    def state_dict(self) -> dict:
        """Numbers and snapshots, in a form ``torch.load(weights_only=True)`` accepts."""
        return {**self.to_dict(), "snapshot_steps": list(self.snapshot_steps), "snapshots": list(self.snapshots),
                "seconds": float(self.seconds), "plans": [dict(p) for p in self.plans]}

    @classmethod
    def from_state_dict(cls, state: dict) -> "History":
        """Rebuild a History from :meth:`state_dict` or :meth:`to_dict` (JSON nulls become NaN)."""
        history = cls(names=())
        history.step = [int(s) for s in state.get("step", [])]
        for name, values in state.items():
            if name not in _RESERVED:
                history.series[name] = [math.nan if v is None else float(v) for v in values]
        history.snapshot_steps = list(state.get("snapshot_steps", []))
        history.snapshots = list(state.get("snapshots", []))
        history.seconds = float(state.get("seconds", 0.0))
        history.plans = [dict(p) for p in state.get("plans", [])]  # absent in files written before the device plan
        return history

    def save_json(self, path: str | os.PathLike) -> None:
        """Write :meth:`to_dict` and the device plans as JSON, atomically."""
        atomic_write_text(Path(path), json.dumps({**self.to_dict(), "plans": self.plans}, indent=1))

    def __repr__(self) -> str:
        return f"History({len(self.step)} logged steps, series {self.names}, {len(self.snapshots)} snapshots)"
