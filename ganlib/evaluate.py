"""``python -m ganlib evaluate``: FID, KID, IS and precision/recall of a trained run or a folder of images.

The three steps of :mod:`ganlib.metrics` (DESIGN.md rule 10), on whole image sets:

1. images: the real set is a dataset name (``mnist-5k`` is bundled) or a folder of images; the fake
   set is a folder of images or a run folder written by ``python -m ganlib train`` (any of its models), rebuilt
   from ``checkpoint.pt`` by :func:`ganlib.load_run` and drawn from with a seed (a cgan's classes in turn, a
   cyclegan's test images translated).
2. features: torch-fidelity's FID Inception-v3 (:func:`ganlib.metrics.inception_v3_features`, the
   network of published scores) or, for digits, the shipped MNIST classifier (offline; its FID and
   IS are comparable between models of this course only).
3. ganlib's closed forms: FID from (mu, Sigma), KID and precision/recall from the features, IS from
   the class probabilities of the fakes.

The real set's (mu, Sigma) are cached under ``<data root>/stats/`` (see :func:`ganlib.data.data_root`),
one file per source, image size, number of images and extractor (the extractor's weights are
hashed into the name). KID and precision/recall need the real features themselves: they are
recomputed on every call that asks for those metrics (a cache of 50,000 x 2048 features would
weigh 400 MB).

Example::

    python -m ganlib evaluate --real mnist-5k --fake runs/dcgan-mnist-5k --metrics fid,kid,is,pr --json scores.json
    python -m ganlib evaluate --real cifar10 --fake runs/wgan-gp-cifar10 --features inception --device cuda
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.resources
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganlib import config, data
from ganlib.classifier import WEIGHTS_NAME, load_mnist_classifier
from ganlib.metrics import (
    INCEPTION_LOGITS_DIM,
    INCEPTION_POOL_DIM,
    extract_features,
    frechet_distance,
    gaussian_stats,
    inception_score,
    inception_v3_features,
    kernel_inception_distance,
    precision_recall,
    real_statistics,
)
from ganlib.metrics.digits import _crop_to_28
from ganlib.recipes.runs import load_run

__all__ = ["METRICS", "FEATURES", "IMAGE_SUFFIXES", "EvaluationError", "Evaluation", "read_image_folder", "evaluate",
           "main_evaluate"]

#: The scores ``evaluate`` computes, by their CLI names (``pr`` gives two rows: precision and recall).
METRICS = ("fid", "kid", "is", "pr")
#: Feature extractors: ``auto`` picks ``digits`` for grey MNIST-like real images, else ``inception``.
FEATURES = ("auto", "inception", "digits")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
_PIL_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr")  # 8-bit modes, read as L or RGB
_DIGIT_DATASETS = ("mnist", "mnist-5k")
_DIGIT_SIZES = (28, 32)  # MNIST, and MNIST padded to 32 px as the convolutional recipes train on it
_REAL_SUBSET_SEED = 0  # which real images a smaller --n keeps: fixed, so the cached statistics are reused
_RUN_FILES = ("checkpoint.pt", "history.json")  # a folder holding either is a run (its samples.png is not a fake set)


class EvaluationError(ValueError):
    """Input that ``evaluate`` cannot use: an unknown source, a folder without images, a run it cannot rebuild."""


# ---------------------------------------------------------------------------------------------
# Images: a trained run, a folder, a dataset
# ---------------------------------------------------------------------------------------------

def read_image_folder(folder: str | os.PathLike, limit: int | None = None) -> torch.Tensor:
    """The images of a folder and its subfolders (.png, .jpg, .jpeg), in sorted path order, in [-1, 1].

    Grey images stay one channel; RGB images whose three channels are equal (digits saved by
    ``torchvision.utils.save_image``) become grey; alpha is dropped; a folder mixing grey and colour
    images is read as colour.

    Args:
        folder: the folder.
        limit: read the first ``limit`` images only (None: all).

    Returns:
        (N, 1 or 3, H, W) float32 in [-1, 1].

    Raises:
        EvaluationError: no images, an unreadable image, or images of different sizes.
    """
    from PIL import Image

    root = Path(folder)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise EvaluationError(f"no {'/'.join(IMAGE_SUFFIXES)} images in {root} (searched with its subfolders)")
    images = []
    for path in files[:limit]:
        try:
            with Image.open(path) as image:
                if image.mode not in _PIL_MODES:  # 16-bit and float images: no 0..255 pixels to read
                    raise EvaluationError(f"{path} has {image.mode!r} pixels; evaluate reads 8-bit images")
                grey = image.mode in ("1", "L", "LA")
                pixels = np.asarray(image.convert("L" if grey else "RGB"))  # (H, W) or (H, W, 3) uint8; no alpha
        except OSError as e:  # PIL's UnidentifiedImageError and truncated files
            raise EvaluationError(f"cannot read the image {path} ({type(e).__name__}: {str(e)[:200]})") from e
        images.append(torch.from_numpy(pixels.copy()).reshape(*pixels.shape[:2], -1).permute(2, 0, 1))  # (C, H, W)
    sizes = sorted({tuple(x.shape[1:]) for x in images})
    if len(sizes) > 1:
        raise EvaluationError(f"the images in {root} have different sizes ({sizes[0]}, {sizes[1]}, ...): resize them "
                              "to one size first")
    channels = max(x.shape[0] for x in images)
    pixels = torch.stack([x.expand(channels, -1, -1) for x in images])  # (N, C, H, W) uint8
    if channels == 3 and bool((pixels == pixels[:, :1]).all()):
        pixels = pixels[:, :1]  # grey saved as RGB
    return pixels.float() / 127.5 - 1.0


def _source_key(source: str, kind: str) -> str:
    """A file-name-safe key of a real source: the dataset name, or a folder's name and a hash of its path."""
    if kind != "folder":
        return kind
    resolved = str(Path(source).resolve())
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(resolved).name)[:40]
    return f"folder-{slug}-{hashlib.sha256(resolved.encode()).hexdigest()[:8]}"


# ---------------------------------------------------------------------------------------------
# Features: one network, images -> (B, d + K): d features, then K class logits
# ---------------------------------------------------------------------------------------------

@dataclass
class _Extractor:
    name: str  # "inception" or "digits"
    net: nn.Module  # images (B, C, H, W) in [-1, 1] -> (B, dim + classes): features, then logits
    dim: int  # feature size d; the K logits of IS follow
    key: str  # the cache's name of the extractor: its kind and a hash of its weights
    description: str


class _FirstColumns(nn.Module):
    """The first ``d`` outputs of a network: its features without the logits, (B, d)."""

    def __init__(self, net: nn.Module, d: int):
        super().__init__()
        self.net, self.d = net, d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)[:, :self.d]


class _DigitFeatures(nn.Module):
    """The shipped MNIST classifier on grey 28 or 32 px digits: (B, 64) hidden features, then (B, 10) logits."""

    def __init__(self, classifier: nn.Module):
        super().__init__()
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.classifier.features(_crop_to_28(x))  # (B, 64)
        return torch.cat([feats, self.classifier.head(feats)], dim=1)  # (B, 64 + 10)


def _extractor(kind: str, weights: str | os.PathLike | None, device: torch.device) -> _Extractor:
    if kind == "digits":
        classifier, _ = load_mnist_classifier(device)
        asset = importlib.resources.files("ganlib") / "assets" / WEIGHTS_NAME
        digest = hashlib.sha256(asset.read_bytes()).hexdigest()[:8]
        return _Extractor("digits", _DigitFeatures(classifier), classifier.feature_dim, f"digits-{digest}",
                          f"digits: the shipped MNIST classifier ({classifier.feature_dim}-d features, 10 classes)")
    net = inception_v3_features(weights, device=device, output="both")  # raises InceptionWeightsUnavailable
    digest = net.weights_sha256[:8]
    return _Extractor("inception", net, INCEPTION_POOL_DIM, f"inception-{digest}",
                      f"inception: torch-fidelity's FID Inception-v3 ({INCEPTION_POOL_DIM}-d pool, "
                      f"{INCEPTION_LOGITS_DIM} logits), weights {digest}")


def _is_digits(images: torch.Tensor) -> bool:
    return images.shape[1] == 1 and images.shape[2] == images.shape[3] and images.shape[2] in _DIGIT_SIZES


# ---------------------------------------------------------------------------------------------
# The evaluation
# ---------------------------------------------------------------------------------------------

@dataclass
class Evaluation:
    """What :func:`evaluate` returns: one row per score, the settings, and what happened on the way."""

    rows: list[dict]  # metric, value, std (None where there is none), n_real (None for IS), n_fake, features
    settings: dict  # the arguments of the evaluation
    info: list[str] = field(default_factory=list)  # where the images and statistics came from
    notes: list[str] = field(default_factory=list)  # warnings raised while computing (e.g. N <= d)

    def value(self, metric: str) -> float:
        """The value of one row (``"fid"``, ``"kid"``, ``"is"``, ``"precision"``, ``"recall"``)."""
        return next(row["value"] for row in self.rows if row["metric"] == metric)

    def table(self) -> str:
        """The rows as an aligned text table: metric, value (± std), N real, N fake, features."""
        lines = [("metric", "value", "N real", "N fake", "features")]
        for r in self.rows:
            value = f"{r['value']:.6g}" + (f" ± {r['std']:.2g}" if r["std"] is not None else "")
            lines.append((r["metric"], value, "-" if r["n_real"] is None else str(r["n_real"]), str(r["n_fake"]),
                          r["features"]))
        widths = [max(len(line[i]) for line in lines) for i in range(4)]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line[:4], widths)) + "  " + line[4]
                         for line in lines)

    def to_json(self) -> dict:
        """Rows, settings, info and notes as one JSON-ready dict."""
        return {"rows": self.rows, "settings": self.settings, "info": self.info, "notes": self.notes}


def _metric_names(metrics: str | tuple[str, ...] | list[str]) -> list[str]:
    names = [m.strip().lower() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if unknown or not names:
        raise EvaluationError(f"unknown metric {', '.join(map(repr, unknown)) or '(none given)'}; choose from "
                              f"{','.join(METRICS)}")
    return list(dict.fromkeys(names))


def evaluate(real: str | os.PathLike, fake: str | os.PathLike, *, metrics: str | tuple[str, ...] = ("fid",),
             n: int = 50_000, inception_weights: str | os.PathLike | None = None, features: str = "auto",
             device: str | torch.device = "auto", batch_size: int = 100, seed: int = 0,
             progress: bool = True, sampling_steps: int | None = 50) -> Evaluation:
    """Compare a generator's images with real ones: FID, KID, IS, precision and recall.

    Args:
        real: an image dataset name (:data:`ganlib.data.IMAGE_DATASETS`) or a folder of images.
        fake: a run folder of ``python -m ganlib train`` (any model of :data:`ganlib.recipes.RECIPES`) or a folder
            of images.
        metrics: names from :data:`METRICS`, as a tuple or comma-separated (``"fid,kid"``).
        n: images to sample from a run (or read from a fake folder); the real side uses at most
            ``n`` too, a subset drawn with a fixed seed when the set is larger.
        inception_weights: the FID Inception weights file (None: torch-fidelity's cached file,
            downloaded when missing).
        features: ``"auto"`` (digits for mnist, mnist-5k or grey 28/32 px folders, else Inception),
            ``"inception"`` or ``"digits"``.
        device: where the networks run ("auto": the GPU when there is one).
        batch_size: images per forward pass.
        seed: seeds the generator's latents, the KID subsets and the order of the IS splits.
        progress: show progress bars.
        sampling_steps: a ddpm run's network evaluations per image (DDIM; None: all T, ancestral).

    Returns:
        An :class:`Evaluation`.

    Raises:
        EvaluationError: an unknown metric, source or feature choice, no images, a run it cannot
            rebuild, or images the digit classifier cannot read.
        ganlib.metrics.InceptionWeightsUnavailable: Inception features without the weights.
        ganlib.train.CheckpointError: a corrupt checkpoint.
        ganlib.data.DatasetUnavailableError: a dataset that is not on disk and cannot be downloaded.
    """
    names = _metric_names(metrics)
    if features not in FEATURES:
        raise EvaluationError(f"unknown features {features!r}; choose one of {', '.join(FEATURES)}")
    if n < 2 or batch_size < 1:
        raise EvaluationError(f"need n >= 2 and batch_size >= 1, got n={n} and batch_size={batch_size}")
    device = config.get_device(device)
    settings = {"real": str(real), "fake": str(fake), "metrics": names, "n": n, "features": features,
                "inception_weights": None if inception_weights is None else str(inception_weights),
                "device": str(device), "batch_size": batch_size, "seed": seed, "sampling_steps": sampling_steps}
    info: list[str] = []

    # 1. Real images, and the extractor they call for (built first: missing weights fail before any sampling)
    real_images, kind = _real_images(str(real), n, info)
    if features == "auto":
        digits = kind in _DIGIT_DATASETS or (kind == "folder" and _is_digits(real_images))
        features = "digits" if digits else "inception"
    _check_digits(features, "real", real_images)
    extractor = _extractor(features, inception_weights, device)
    # 2. Fake images
    fake_images = _fake_images(fake, n, batch_size, seed, device, progress, info, sampling_steps)
    info.append(f"features: {extractor.description}")
    _check_digits(features, "fake", fake_images)
    if features == "inception" and _is_digits(real_images) and _is_digits(fake_images):
        if real_images.shape[-1] != fake_images.shape[-1]:  # MNIST's 28 px against a convolutional G's 32 px
            real_images, fake_images = data.pad_to(real_images, 32), data.pad_to(fake_images, 32)
            info.append("inception: the 28 px images padded to 32 px with background, as the convolutional recipes "
                        "train on them")
    # 3. Features, then closed forms
    cache = (data.data_root() / "stats" /
             f"{_source_key(str(real), kind)}-{real_images.shape[-1]}px-n{len(real_images)}-{extractor.key}.npz")
    rows, notes = _scores(names, extractor, real_images, fake_images, cache, batch_size, seed, device, progress, info)
    return Evaluation(rows=rows, settings=settings, info=info, notes=notes)


def _real_images(source: str, n: int, info: list[str]) -> tuple[torch.Tensor, str]:
    """At most ``n`` real images (N, C, H, W) in [-1, 1] of a folder or dataset (a fixed-seed subset if larger)."""
    if Path(source).is_dir():
        images, kind = read_image_folder(source), "folder"
    else:
        kind = source.strip().lower()
        if kind not in data.IMAGE_DATASETS:
            raise EvaluationError(f"--real {source!r} is neither a folder nor an image dataset; datasets: "
                                  f"{', '.join(data.IMAGE_DATASETS)}")
        images = data.load_images(kind).images
    total = len(images)
    if total > n:
        images = images[torch.randperm(total, generator=torch.Generator().manual_seed(_REAL_SUBSET_SEED))[:n]]
    info.append(f"real: {'folder' if kind == 'folder' else 'dataset'} {source}, {len(images)} of {total} images "
                f"{tuple(images.shape[1:])}" + (f" (--n {n} capped by the set's size)" if total < n else ""))
    return images, kind


def _fake_images(fake: str | os.PathLike, n: int, batch_size: int, seed: int, device: torch.device, progress: bool,
                 info: list[str], sampling_steps: int | None = 50) -> torch.Tensor:
    """``n`` images drawn from a run (:meth:`ganlib.recipes.runs.Run.sample`), or the first ``n`` of a folder:
    (N, C, H, W) in [-1, 1]."""
    if not Path(fake).is_dir():
        raise EvaluationError(f"--fake {fake}: no such folder; pass a run folder or a folder of images")
    if not any(Path(fake, name).is_file() for name in _RUN_FILES):
        images = read_image_folder(fake, limit=n)
        info.append(f"fake: folder {fake}, {len(images)} images {tuple(images.shape[1:])}")
        return images
    run = load_run(fake, device)
    if len(run.record.get("image_shape", [0, 0, 0])) != 3:
        raise EvaluationError(f"{fake} is a run on 2-D points ({run.record.get('dataset')}): evaluate scores images")
    images = run.sample(n, seed=seed, batch_size=batch_size, sampling_steps=sampling_steps, progress=progress)
    info.append(f"fake: run {fake} ({run.record.get('recipe', run.task)}, objective {_objective(run)}, step "
                f"{run.steps_done}), {len(images)} images {_how_drawn(run, sampling_steps)} with seed {seed}"
                + (f" (all its {len(images)} test inputs: fewer than --n {n})" if len(images) < n else ""))
    return images


def _objective(run) -> str:
    return {"vae": "ELBO", "ddpm": "L_simple"}.get(run.task) or getattr(run.cfg, "objective", run.task)


def _how_drawn(run, sampling_steps: int | None) -> str:
    return {"vae": "sampled from the VAE's decoder at z ~ N(0, I)",
            "ddpm": f"sampled from the EMA network, {sampling_steps or 'all'} steps" + (" (DDIM)" if sampling_steps else ""),
            "conditional": "sampled from G_ema, classes 0, 1, ..., K-1 in turn",
            "translation": "translated by G from the test images of the domain it maps from",
            "progan": "sampled from G_ema at the phase the run reached"}.get(run.kind, "sampled from G_ema")


def _check_digits(features: str, side: str, images: torch.Tensor) -> None:
    if features == "digits" and not _is_digits(images):
        raise EvaluationError(f"--features digits reads grey 28 or 32 px digits, but the {side} images are "
                              f"{tuple(images.shape[1:])}; use --features inception")


def _scores(names: list[str], extractor: _Extractor, real_images: torch.Tensor, fake_images: torch.Tensor,
            cache: Path, batch_size: int, seed: int, device: torch.device, progress: bool,
            info: list[str]) -> tuple[list[dict], list[str]]:
    """The rows of the requested metrics, and the warnings raised on the way (e.g. fewer samples than dimensions)."""
    d = extractor.dim
    fake_out = extract_features(extractor.net, fake_images, batch_size, device, progress=progress,
                                desc="fake features")  # (N_f, d + K)
    fake_feats = fake_out[:, :d]  # (N_f, d)
    real_feats = None  # (N_r, d), only for KID and precision/recall; FID's statistics may come from the cache
    if "kid" in names or "pr" in names:
        real_feats = extract_features(extractor.net, real_images, batch_size, device, progress=progress,
                                      desc="real features")[:, :d]
    rows: list[dict] = []

    def row(metric: str, value: float, std: float | None = None, n_real: int | None = len(real_images)) -> None:
        rows.append({"metric": metric, "value": value, "std": std, "n_real": n_real, "n_fake": len(fake_images),
                     "features": extractor.name})

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if "fid" in names:
            before = cache.stat().st_mtime_ns if cache.is_file() else None
            mu, sigma = real_statistics(real_images, _FirstColumns(extractor.net, d), cache, batch_size,
                                        features=real_feats, progress=progress)
            reused = before is not None and cache.stat().st_mtime_ns == before
            info.append(f"real statistics: {'reused' if reused else 'written to'} {cache}")
            row("fid", frechet_distance(mu, sigma, *gaussian_stats(fake_feats)))
        if "kid" in names:
            size = min(1000, len(real_feats), len(fake_feats))
            row("kid", *kernel_inception_distance(real_feats, fake_feats, subsets=100, subset_size=size,
                                                  generator=torch.Generator().manual_seed(seed)))
        if "is" in names:
            probs = torch.softmax(fake_out[:, d:], dim=1)  # (N_f, K)
            # IS averages over splits, which assumes a random order: shuffle (a folder may be sorted by class).
            order = torch.randperm(len(probs), generator=torch.Generator().manual_seed(seed))
            row("is", *inception_score(probs[order], splits=min(10, len(probs))), n_real=None)
        if "pr" in names:
            precision, recall = precision_recall(real_feats, fake_feats, k=3)
            row("precision", precision)
            row("recall", recall)
    return rows, list(dict.fromkeys(str(w.message) for w in caught))


def main_evaluate(args: argparse.Namespace) -> int:
    """``python -m ganlib evaluate``: run :func:`evaluate`, print what was compared and the table, write the JSON.

    Args:
        args: the parsed options of the ``evaluate`` subcommand (see ``python -m ganlib evaluate --help``).

    Returns:
        0; errors propagate as exceptions, which the CLI prints as one ``error: ...`` line (exit code 2).
    """
    result = evaluate(args.real, args.fake, metrics=args.metrics, n=args.n, inception_weights=args.inception_weights,
                      features=args.features, device=args.device, batch_size=args.batch_size, seed=args.seed,
                      progress=not args.no_progress, sampling_steps=args.sampling_steps or None)
    for line in result.info:
        print(line)
    for note in result.notes:
        print(f"note: {note}")
    print(result.table())
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result.to_json(), indent=2, allow_nan=True) + "\n")
        print(f"wrote {path}")
    return 0
