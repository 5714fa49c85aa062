"""Where downloaded data lives: :func:`data_root`, the folder torchvision datasets are read from."""

from __future__ import annotations

import os
import pathlib

__all__ = ["data_root"]


def data_root(root: str | os.PathLike | None = None) -> pathlib.Path:
    """The folder that torchvision datasets are downloaded to and read from.

    Args:
        root: an explicit folder. If ``None``, the environment variable ``GANLIB_DATA`` is used
            when set, else ``./data`` relative to the current working directory.

    Returns:
        The folder as an absolute path (it need not exist yet).
    """
    if root is None:
        root = os.environ.get("GANLIB_DATA") or "data"
    return pathlib.Path(root).expanduser().absolute()
