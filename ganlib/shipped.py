"""Reading (and, for the scripts in ``scripts/``, writing) the weights shipped in ``ganlib/assets``, with clear errors.

Nothing here trains or builds a model: :func:`ganlib.models.stylegan.load_pretrained` and
:func:`ganlib.recipes.load_pretrained_run` read their files through :func:`load_shipped` and build the networks.
"""

from __future__ import annotations

import importlib.resources
import io

import torch

__all__ = ["load_shipped", "save_shipped"]


def load_shipped(file: str, fmt: str, remake: str, *, same: dict | None = None) -> dict:
    """The dict saved in ``ganlib/assets/<file>``, loaded on the CPU with ``weights_only=True``.

    Args:
        file: the file's name in ``ganlib/assets``.
        fmt: the ``"format"`` entry the file must carry.
        remake: how to make the file again, for the error messages ("recreate it with ...").
        same: more entries the file must carry, e.g. ``{"recipe": "wgan-gp"}``.

    Raises:
        FileNotFoundError: the file is missing.
        RuntimeError: the file is corrupt, not a torch file, or not a ``fmt`` file (with ``same``'s entries).
    """
    resource = importlib.resources.files("ganlib") / "assets" / file
    if not resource.is_file():
        raise FileNotFoundError(f"ganlib/assets/{file} is missing; {remake}")
    try:
        state = torch.load(io.BytesIO(resource.read_bytes()), map_location="cpu", weights_only=True)
    except Exception as err:  # truncated or not a torch file
        reason = (str(err).strip().splitlines() or [""])[0]
        raise RuntimeError(f"ganlib/assets/{file} cannot be read ({type(err).__name__}: {reason}); {remake}") from None
    same = same or {}
    if not isinstance(state, dict) or state.get("format") != fmt or any(state.get(k) != v for k, v in same.items()):
        of = "".join(f" of {v!r}" for v in same.values())
        raise RuntimeError(f"ganlib/assets/{file} is not a {fmt} file{of}; {remake}")
    return state


def save_shipped(state: dict, path) -> None:
    """Write ``state`` to ``path`` atomically (a temporary file, then a rename): a crash never leaves half a file."""
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    tmp.replace(path)
