"""Checkpoints: the full state of a run, written atomically and read with ``weights_only=True``.

Layout of a checkpoint (a dict; format ``"ganlib-checkpoint-v1"``)::

    format     "ganlib-checkpoint-v1"
    step       iterations done;  images: real images consumed (absent before the task-based loop)
    task       the task's kind ("gan", "cyclegan", ...) and its own state (image pools, ...)
    G, D, ...  one state_dict per named module and per EMA copy ("G_ema"), at the top level
    opt_g, ... one state_dict per named optimiser, ``opt_<name>``
    scalers    fp16 runs: one GradScaler state per optimiser, by the optimiser's name
    plan       the device plan the part of the run that wrote the file followed (plain data)
    rng        the global torch RNG, the loop's noise stream (and CUDA's), CPU ByteTensors
    batches    the data iterator's position;  history: the History;  config: the settings

Checkpoints written before training became task-based (G, D, opt_g, opt_d, no ``task`` and no
``images``) have the same layout and load unchanged.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch

__all__ = ["CHECKPOINT_NAME", "FORMAT", "RESERVED_KEYS", "CheckpointError", "save_checkpoint", "load_checkpoint",
           "atomic_write_text", "stages"]

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = "ganlib-checkpoint-v1"
#: Top-level keys that are not module names.
RESERVED_KEYS = ("format", "step", "images", "task", "rng", "batches", "history", "config", "world_size", "processes",
                 "plan", "scalers", "run")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, not a ganlib checkpoint, or of another kind of run."""


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file next to ``path``, then rename it over ``path``."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` with ``torch.save`` to a temporary file, fsync it, then rename it over ``path``.

    A crash mid-write leaves the previous checkpoint intact: the rename is atomic.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`, with ``weights_only=True``.

    Raises:
        CheckpointError: the file is missing, truncated, corrupt, or not a ganlib checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train without --resume to start a new run")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch.load on arbitrary bytes can raise almost anything (IndexError on an empty file)
        first_line = (str(e).splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"checkpoint {path} is corrupt or unreadable ({type(e).__name__}: {first_line}); "
            "delete it to start over, or resume from another copy"
        ) from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a ganlib checkpoint (expected format {FORMAT!r})")
    return state


def stages(root: str | os.PathLike, stops: Iterable[int]) -> Iterator[tuple[int, Path]]:
    """The folders of a run trained in stages that end at ``stops``: yields ``(stop, root/step-<stop>)``.

    A notebook that scores a run at several steps trains it to each stop in turn. In one folder the checkpoint
    holds only the latest step, so a re-run of the cell would load the end of the run for every stop. Here each
    stage has its own folder: before a stage whose folder holds no checkpoint, the previous stage's checkpoint
    is copied in (atomically), so training there resumes from it; a stage trained before is loaded as it was,
    and an interrupted stage resumes from its own latest checkpoint.

    Args:
        root: the run's folder, e.g. ``ganlib.config.run_dir("08a-growing")``.
        stops: the steps each stage ends at, increasing.

    Raises:
        ValueError: ``stops`` is not increasing or has a negative step.
    """
    stops = list(stops)
    if any(s < 0 for s in stops) or any(b <= a for a, b in zip(stops, stops[1:])):
        raise ValueError(f"stops must be increasing steps >= 0, got {stops}")
    root, previous = Path(root), None
    for stop in stops:
        folder = root / f"step-{stop}"
        target = folder / CHECKPOINT_NAME
        if previous is not None and not target.is_file() and (previous / CHECKPOINT_NAME).is_file():
            folder.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
            try:
                shutil.copyfile(previous / CHECKPOINT_NAME, tmp)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
        yield stop, folder
        previous = folder
