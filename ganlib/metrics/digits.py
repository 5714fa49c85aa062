"""Offline scores of generated digits, measured with the shipped MNIST classifier (:mod:`ganlib.classifier`).

Its hidden layer (64-d) stands in for Inception's pool features, its 10-class softmax for Inception's
class probabilities, so FID, IS and precision/recall of digits need no download (and are not comparable
with papers' Inception scores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ganlib.classifier import load_mnist_classifier
from ganlib.config import get_device
from ganlib.data import load_mnist_5k
from ganlib.metrics.distances import frechet_distance, gaussian_stats, inception_score, precision_recall
from ganlib.metrics.features import extract_features

__all__ = ["DigitScores", "digit_scores", "predict_digits", "TranslationScores", "translation_scores"]


def _classify(images: torch.Tensor, batch_size: int, device: str | torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The shipped classifier on 28 px digits: features (N, 64) and softmax p(y | x) (N, 10), float64 on the CPU."""
    device = get_device(device)
    model, _ = load_mnist_classifier(device)
    feats = extract_features(model.features, images, batch_size, device=device)  # (N, 64) float64, CPU
    with torch.no_grad():
        probs = torch.softmax(model.head(feats.float().to(device)), dim=1).double().cpu()  # (N, 10)
    return feats, probs


def predict_digits(images: torch.Tensor, batch_size: int = 500, device: str | torch.device = "auto") -> torch.Tensor:
    """The digit (0-9) the shipped MNIST classifier reads in each image (N, 1, 28 or 32, 28 or 32): (N,) int64, CPU."""
    _, probs = _classify(_crop_to_28(images.detach().float().cpu()), batch_size, device)
    return probs.argmax(dim=1)


@dataclass(frozen=True)
class DigitScores:
    """Sample quality of generated digits, measured with the shipped MNIST classifier.

    ``fid`` is a Fréchet distance in the classifier's 64-d feature space (not comparable with
    Inception FIDs of papers); ``inception_score`` uses its 10-class softmax, so it lies in [1, 10];
    ``accuracy`` is the fraction of samples classified as the label they were drawn for (NaN
    without labels); ``precision`` and ``recall`` use k=3 nearest-neighbour manifolds.
    """

    fid: float
    inception_score: float
    inception_score_std: float
    accuracy: float
    precision: float
    recall: float
    n: int  # generated samples measured

    def as_row(self) -> dict[str, float]:
        """The scores as a flat dict, ready for a table (e.g. ``pandas.DataFrame([...])``)."""
        return {"FID (classifier)": self.fid, "IS (classifier)": self.inception_score, "accuracy": self.accuracy,
                "precision": self.precision, "recall": self.recall, "n": self.n}


def _crop_to_28(images: torch.Tensor) -> torch.Tensor:
    """(N, 1, S, S) with S >= 28 -> the central (N, 1, 28, 28): undoes ``ganlib.data.pad_to(32)``."""
    if images.ndim != 4 or images.shape[1] != 1 or images.shape[2] != images.shape[3] or images.shape[2] < 28:
        raise ValueError(f"digit scores need grey square images (N, 1, S, S) with S >= 28, got {tuple(images.shape)}")
    top = (images.shape[2] - 28) // 2
    return images[:, :, top:top + 28, top:top + 28]


def digit_scores(images: torch.Tensor, labels: torch.Tensor | None = None, *, real: torch.Tensor | None = None,
                 k: int = 3, batch_size: int = 500, device: str | torch.device = "auto") -> DigitScores:
    """FID, Inception Score, class accuracy and precision/recall of generated digits, offline.

    The shipped classifier (:mod:`ganlib.classifier`, trained on mnist-5k by
    ``scripts/train_mnist_classifier.py``) stands in for Inception-v3: its hidden layer gives the
    features, its softmax the class probabilities.

    Args:
        images: generated digits (N, 1, 28, 28) or padded ones (N, 1, 32, 32), values in [-1, 1].
        labels: optional (N,) labels the digits were generated for (a conditional G): gives ``accuracy``.
        real: the real digits to compare with; default the bundled mnist-5k (5,000 digits).
        k: neighbourhood size of precision and recall.
        batch_size: images per forward pass.
        device: where the classifier runs; "auto" picks the GPU when there is one.

    Returns:
        A :class:`DigitScores`.
    """
    fake = _crop_to_28(images.detach().float().cpu())
    real = _crop_to_28(load_mnist_5k().images if real is None else real.detach().float().cpu())
    if labels is not None and labels.shape != (len(fake),):
        raise ValueError(f"labels must have shape ({len(fake)},), got {tuple(labels.shape)}")
    fake_feats, probs = _classify(fake, batch_size, device)  # (N, 64), (N, 10)
    real_feats, _ = _classify(real, batch_size, device)  # (M, 64)
    fid = frechet_distance(*gaussian_stats(real_feats), *gaussian_stats(fake_feats))
    # IS averages over splits, which assumes the samples come in random order: shuffle them, or a
    # class-sorted batch (a conditional G asked for 0, 0, ..., 9, 9) would put one class in each split.
    order = torch.randperm(len(fake), generator=torch.Generator().manual_seed(0))
    is_mean, is_std = inception_score(probs[order], splits=min(10, len(fake)))
    accuracy = float((probs.argmax(1) == labels.cpu()).double().mean()) if labels is not None else math.nan
    precision, recall = precision_recall(real_feats, fake_feats, k=k)
    return DigitScores(fid=fid, inception_score=is_mean, inception_score_std=is_std, accuracy=accuracy,
                       precision=precision, recall=recall, n=len(fake))


@dataclass(frozen=True)
class TranslationScores:
    """How well an image-to-image G translated digits, measured with the shipped MNIST classifier.

    ``accuracy``: the fraction of G(x) classified as the label of x (does the translation keep the
    digit?); ``confusion[i, j]``: how many x of class i became a G(x) classified as j; ``fid``: the
    classifier-feature Fréchet distance between the G(x) and real images of the target domain;
    ``l1``: mean |G(x) - true translation| where one is known (NaN otherwise); ``predicted``: the
    class read in each G(x).
    """

    accuracy: float
    confusion: torch.Tensor  # (10, 10) int64 counts: row = label of x, column = class of G(x)
    predicted: torch.Tensor  # (N,) int64: the class the classifier reads in each G(x)
    fid: float
    l1: float
    n: int


def translation_scores(translated: torch.Tensor, labels: torch.Tensor, *, real: torch.Tensor,
                       target: torch.Tensor | None = None, batch_size: int = 500,
                       device: str | torch.device = "auto") -> TranslationScores:
    """Score translated digits G(x) against the labels of x, the real target domain and a ground truth.

    Args:
        translated: G(x), (N, 1, 28, 28) or padded (N, 1, 32, 32), in [-1, 1].
        labels: (N,) the digits x showed (held back from training: evaluation only).
        real: real images of the target domain (M, 1, H, W), for the FID.
        target: the true translations of x (N, 1, H, W) where known (e.g. ``thicken(x)``), for the L1.
        batch_size, device: how the classifier runs.

    Returns:
        A :class:`TranslationScores`.
    """
    fake = _crop_to_28(translated.detach().float().cpu())
    if labels.shape != (len(fake),):
        raise ValueError(f"labels must have shape ({len(fake)},), got {tuple(labels.shape)}")
    if target is not None and target.shape != translated.shape:
        raise ValueError(f"target must have the shape of translated {tuple(translated.shape)}, got {tuple(target.shape)}")
    fake_feats, probs = _classify(fake, batch_size, device)
    real_feats, _ = _classify(_crop_to_28(real.detach().float().cpu()), batch_size, device)
    predicted = probs.argmax(dim=1)  # (N,)
    confusion = torch.zeros(10, 10, dtype=torch.int64)
    confusion.index_put_((labels.long().cpu(), predicted), torch.ones(len(fake), dtype=torch.int64), accumulate=True)
    l1 = (translated.detach().float().cpu() - target.float().cpu()).abs().mean().item() if target is not None else math.nan
    return TranslationScores(accuracy=float((predicted == labels.cpu()).double().mean()), confusion=confusion,
                             predicted=predicted, fid=frechet_distance(*gaussian_stats(real_feats), *gaussian_stats(fake_feats)), l1=l1,
                             n=len(fake))
