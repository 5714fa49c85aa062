"""Step 1 of every metric, for many images: features in batches, and real statistics cached on disk."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ganlib.metrics.distances import gaussian_stats
from ganlib.progress import progress_bar

__all__ = ["extract_features", "real_statistics"]


@torch.no_grad()
def extract_features(extractor: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                     batch_size: int = 256, device: str | torch.device | None = None, progress: bool = False,
                     desc: str = "features") -> torch.Tensor:
    """Features of many images, in batches, without gradients: (N, C, H, W) -> (N, d) on the CPU, float64.

    ``device`` defaults to the extractor's (its first parameter's, else the CPU); ``progress`` shows a
    progress bar (plain lines when the output is not a terminal) labelled ``desc``.
    """
    if device is None:
        params = list(extractor.parameters()) if isinstance(extractor, torch.nn.Module) else []
        device = params[0].device if params else torch.device("cpu")
    starts = range(0, len(images), batch_size)
    chunks = [extractor(images[i:i + batch_size].to(device)).double().cpu()
              for i in progress_bar(starts, initial=0, total=len(starts), desc=desc, enabled=progress)]
    return torch.cat(chunks)


def real_statistics(images: torch.Tensor, extractor: Callable[[torch.Tensor], torch.Tensor],
                    cache: str | os.PathLike | None = None, batch_size: int = 256, *,
                    features: torch.Tensor | None = None, progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(mu, Sigma) of a real image set's features, computed once and cached to a ``.npz`` file.

    The cache stores a SHA-256 of the images next to the statistics; a cache made from other images
    is recomputed (with a warning), never silently used. It cannot tell extractors apart, so name
    the file after the extractor (``python -m ganlib evaluate`` does).

    Args:
        images: the real images (N, C, H, W) in [-1, 1].
        extractor: maps a batch of images to features (B, d), e.g. ``inception_v3_features()``
            or the MNIST classifier's ``features``.
        cache: the ``.npz`` file to read or write; None to always compute.
        batch_size: images per forward pass.
        features: the images' features (N, d) if the caller has them already (e.g. for KID);
            then the extractor is not run.
        progress: show a progress bar while extracting.

    Returns:
        ``(mu, sigma)`` in float64, shapes (d,) and (d, d).
    """
    digest = hashlib.sha256(images.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
    path = Path(cache) if cache is not None else None
    if path is not None and path.is_file():
        with np.load(path) as saved:
            if str(saved["images_sha256"]) == digest:
                return saved["mu"], saved["sigma"]
        warnings.warn(f"{path} holds statistics of other images; recomputing it", stacklevel=2)
    if features is None:
        features = extract_features(extractor, images, batch_size, progress=progress, desc="real features")
    elif len(features) != len(images):
        raise ValueError(f"features has {len(features)} rows for {len(images)} images")
    mu, sigma = gaussian_stats(features)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}.npz")
        np.savez(tmp, mu=mu, sigma=sigma, images_sha256=np.array(digest))
        os.replace(tmp, path)  # atomic: a crash never leaves half a cache
    return mu, sigma
