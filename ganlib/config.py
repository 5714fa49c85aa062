"""Run profiles, device choice and seeding.

Every notebook and the CLI pick one *profile*, which scales how much work a run does:

- ``smoke``: seconds on two CPU cores; proves that every cell runs (CI uses it).
- ``quick``: minutes on a laptop CPU; results a student can recognise.
- ``colab``: one Colab GPU session: each notebook in at most 15 minutes on a T4, Colab's free GPU
  (estimated by ``benchmarks/gpu_estimate.py`` until a GPU measures it).
- ``full``:  long GPU runs (an hour or more per notebook on a T4); the quality the lecture promises. Opt-in.

``auto`` reads the ``GANLIB_PROFILE`` environment variable, else picks ``colab`` when CUDA is
available and ``quick`` elsewhere. Device and profile are chosen once, at the top of a notebook or
in the CLI, and then passed around as values.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

PROFILES = ("smoke", "quick", "colab", "full")
RUNS_ENV = "GANLIB_RUNS"  # folder that holds every run's checkpoints (Colab: a mounted Drive folder)
DEVICES = ("auto", "cuda", "mps", "cpu")

T = TypeVar("T")


def resolve_profile(profile: str = "auto") -> str:
    """Turn ``"auto"`` (or an explicit name) into one of :data:`PROFILES`.

    Args:
        profile: ``"auto"`` or one of :data:`PROFILES`. With ``"auto"`` the environment variable
            ``GANLIB_PROFILE`` wins if set; otherwise ``colab`` on CUDA and ``quick`` elsewhere.

    Returns:
        The profile name.

    Raises:
        ValueError: for a name that is not a profile, listing the valid ones.
    """
    name = profile.strip().lower()
    if name == "auto":
        name = os.environ.get("GANLIB_PROFILE", "").strip().lower()
        if not name or name == "auto":
            return "colab" if torch.cuda.is_available() else "quick"
        source = f"GANLIB_PROFILE={name!r}"
    else:
        source = f"profile {profile!r}"
    if name not in PROFILES:
        raise ValueError(f"unknown {source}; choose one of: auto, {', '.join(PROFILES)}")
    return name


def pick(profile: str, *, smoke: T, quick: T, colab: T, full: T) -> T:
    """Choose a value by profile, e.g. ``steps = pick(PROFILE, smoke=200, quick=3000, colab=8000, full=20000)``."""
    return {"smoke": smoke, "quick": quick, "colab": colab, "full": full}[resolve_profile(profile)]


def get_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve ``"auto"`` to the best available device: cuda, then mps, then cpu.

    Args:
        device: ``"auto"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"`` or a ``torch.device``.

    Raises:
        ValueError: for an unknown name, or for a device this machine does not have.
    """
    if isinstance(device, torch.device):
        return device
    name = device.strip().lower()
    has_mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if has_mps else torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in DEVICES:
        raise ValueError(f"unknown device {device!r}; choose one of: {', '.join(DEVICES)}")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but CUDA is not available here; use 'auto' or 'cpu'")
    if kind == "mps" and not has_mps:
        raise ValueError("device 'mps' was asked for but MPS is not available here; use 'auto' or 'cpu'")
    return torch.device(name)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices) and return a CPU ``torch.Generator`` seeded too.

    The returned generator is what ganlib's samplers take, so that a run's noise and batches can be
    saved in a checkpoint and restored exactly.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def run_dir(name: str) -> Path:
    """The folder where a run called ``name`` keeps its checkpoints: ``$GANLIB_RUNS/name``, else ``runs/name``.

    Notebooks pass it as ``out_dir`` with ``resume="auto"``, so re-running a training cell continues
    from the latest checkpoint instead of starting over. In Colab the setup cell points
    ``GANLIB_RUNS`` at a mounted Google Drive folder, so checkpoints survive a disconnect.

    Args:
        name: a short run name such as ``"05-cgan-projection"``; no path separators.

    Raises:
        ValueError: for an empty name or one with a path separator.
    """
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"a run name must be a plain folder name such as '05-cgan', got {name!r}")
    return Path(os.environ.get(RUNS_ENV) or "runs") / name
