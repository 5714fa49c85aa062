"""Sample-quality metrics of a generator, computed from features in float64.

Every metric here is three steps (DESIGN.md rule 10):

1. features: an extractor maps images to vectors, ``(N, d)``, or to class probabilities, ``(N, K)``.
   :func:`inception_v3_features` is torch-fidelity's FID Inception-v3, the network of published FID,
   IS and KID (2048-d pool features, 1008 logits); the shipped MNIST classifier (:func:`digit_scores`)
   is the offline stand-in for digits. Everything in steps 2 and 3 takes their output, as a
   ``torch.Tensor`` or a NumPy array, so the formulas are ganlib's own (and agree with torch-fidelity's).
2. statistics: :func:`gaussian_stats` fits a Gaussian ``(mu, Sigma)`` to a feature set.
3. a closed-form distance: :func:`frechet_distance` (FID, Heusel et al. 2017),
   :func:`inception_score` (IS, Salimans et al. 2016), :func:`kernel_inception_distance`
   (KID, Binkowski et al. 2018) and :func:`precision_recall` (Kynkaanniemi et al. 2019).

All arithmetic is in float64: FID subtracts traces of size ~1e3 to get answers of size ~1, and
float32 loses the answer in round-off. Too few samples are refused (``ValueError``) or flagged
(``warnings.warn``) rather than silently turned into a number that looks fine.
"""

from __future__ import annotations

import io
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

__all__ = [
    "perceptual_path_length",
    "slerp",
    "TranslationScores",
    "translation_scores",
    "gaussian_stats",
    "frechet_distance",
    "inception_score",
    "kernel_inception_distance",
    "precision_recall",
    "inception_v3_features",
    "inception_weights_path",
    "InceptionWeightsUnavailable",
    "INCEPTION_WEIGHTS_FILE",
    "INCEPTION_POOL_DIM",
    "INCEPTION_LOGITS_DIM",
    "extract_features",
    "real_statistics",
    "DigitScores",
    "digit_scores",
    "predict_digits",
]


def _as_float64(x: torch.Tensor | np.ndarray, name: str, ndim: int) -> np.ndarray:
    """A float64 NumPy copy of ``x`` with ``ndim`` dimensions, or a clear error."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


# ----------------------------------------------------------------------------------------------
# Step 2: features -> (mu, Sigma)
# ----------------------------------------------------------------------------------------------

def gaussian_stats(features: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a feature set, the Gaussian that FID compares.

    Args:
        features: ``(N, d)`` features, one row per sample (tensor or array, any float dtype).

    Returns:
        ``(mu, sigma)``: float64 arrays of shapes ``(d,)`` and ``(d, d)``; ``sigma`` is the
        unbiased sample covariance (divides by ``N - 1``).

    Raises:
        ValueError: fewer than 2 samples (no covariance exists), or a wrong shape.

    Warns:
        UserWarning: ``N <= d``. The covariance then has rank at most ``N - 1 < d``, i.e. it is
        singular, and FID estimated from it is strongly biased; at least ``d + 1`` samples are
        needed for a full-rank estimate (and the usual practice is 10k-50k for ``d = 2048``).
    """
    x = _as_float64(features, "features", ndim=2)  # (N, d)
    n, d = x.shape
    if n < 2:
        raise ValueError(f"gaussian_stats needs at least 2 samples to estimate a covariance, got {n}")
    if n <= d:
        warnings.warn(
            f"gaussian_stats: only {n} samples for {d}-dimensional features, so the covariance is "
            f"singular (rank <= {n - 1} < {d}) and FID from it is unreliable; use at least {d + 1} "
            f"samples (10k or more is usual for d=2048)",
            UserWarning,
            stacklevel=2,
        )
    mu = x.mean(axis=0)  # (d,)
    sigma = np.cov(x, rowvar=False)  # (d, d), unbiased
    return mu, np.atleast_2d(sigma)


# ----------------------------------------------------------------------------------------------
# Step 3: closed-form distances
# ----------------------------------------------------------------------------------------------

def _trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((S1 S2)^{1/2}) for symmetric positive semi-definite ``S1``, ``S2``, without ``sqrtm``.

    The trace of a square root is the sum of the square roots of the eigenvalues, and ``S1 S2``
    has the same eigenvalues as any matrix similar to it. With the Cholesky factor
    ``S1 = L L^T``,  ``L^{-1} (S1 S2) L = L^T S2 L``, which is symmetric PSD. So

        Tr((S1 S2)^{1/2}) = sum_i sqrt(lambda_i(L^T S2 L)).

    Why this route:

    - ``eigvalsh`` of a symmetric matrix returns real eigenvalues by construction, and it is
      backward stable; ``eigvals(S1 @ S2)`` works on a non-symmetric matrix, returns complex
      numbers with round-off imaginary parts and costs a full non-symmetric eigensolve.
      ``scipy.linalg.sqrtm`` (the old pytorch-fid route) is slower still, gave wrong complex
      results in SciPy 1.11.2-1.11.3, and its ``disp`` argument is gone in SciPy 1.18.
    - Cholesky costs d^3/3 flops, against ~4 d^3 for the eigendecomposition of ``S1`` in the
      equivalent form ``sqrt(S1) S2 sqrt(S1)``. On 2048-d statistics (2-core CPU,
      ``benchmarks/fid_speed.py``) it took 1.7 s against 3.5 s for that form, 4.3 s for
      ``eigvals(S1 @ S2)`` and 14.7 s for ``sqrtm``, all agreeing to ~1e-14 relative.
    - A singular ``S1`` (fewer samples than dimensions) can make Cholesky fail; then ``sqrt(S1)``
      is built from ``eigh(S1)`` with round-off negative eigenvalues clipped to 0, which is
      always defined: ``U diag(sqrt l) U^T S2 U diag(sqrt l) U^T`` is similar to
      ``diag(sqrt l) (U^T S2 U) diag(sqrt l)``, the matrix used below.

    Eigenvalues below d * eps * the largest (round-off, both signs) are set to 0 before the square
    root: on a rank-deficient covariance (features that never fire) this keeps the result within
    ~1e-14 of a 40-digit reference instead of ~1e-8 to 1e-6.
    """
    try:
        chol = np.linalg.cholesky(sigma1)  # (d, d) lower triangular, S1 = L L^T
        m = chol.T @ sigma2 @ chol  # (d, d) symmetric PSD, similar to S1 S2
    except np.linalg.LinAlgError:
        lam, u = np.linalg.eigh(sigma1)  # S1 = U diag(lam) U^T
        r = np.sqrt(np.where(lam > _numerical_zero(lam), lam, 0.0))  # (d,)
        m = (u.T @ sigma2 @ u) * r[:, None] * r[None, :]  # (d, d) similar to sqrt(S1) S2 sqrt(S1)
    m = 0.5 * (m + m.T)  # exact symmetry for eigvalsh (round-off only)
    eigenvalues = np.linalg.eigvalsh(m)  # (d,) real
    # Eigenvalues within round-off of 0 are 0: the square root would turn a spurious 1e-16 into a
    # 1e-8 per dimension, which over a rank-deficient covariance (dead features) adds up.
    return float(np.sqrt(np.where(eigenvalues > _numerical_zero(eigenvalues), eigenvalues, 0.0)).sum())


def _numerical_zero(eigenvalues: np.ndarray) -> float:
    """The size below which eigenvalues of a symmetric PSD matrix are round-off: d * eps * largest."""
    return len(eigenvalues) * np.finfo(np.float64).eps * max(float(np.abs(eigenvalues).max(initial=0.0)), 0.0)


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Fréchet (2-Wasserstein) distance squared between two Gaussians: the FID formula.

        d^2 = ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^{1/2})      (Heusel et al. 2017, eq. 6)

    computed in float64 without a matrix square root (see :func:`_trace_sqrt_product`), so it
    runs on any SciPy and does not need SciPy at all.

    Args:
        mu1: ``(d,)`` mean of the first feature set (a scalar is read as ``d = 1``).
        sigma1: ``(d, d)`` covariance of the first set, symmetric positive semi-definite
            (a scalar is read as a 1x1 variance).
        mu2: ``(d,)`` mean of the second set.
        sigma2: ``(d, d)`` covariance of the second set.

    Returns:
        The distance squared, a Python float >= 0 (round-off negatives are clipped to 0).
        FID is this number for Inception pool features, usually from :func:`gaussian_stats`.

    Raises:
        ValueError: mismatched or non-square shapes, or non-finite values.
    """
    mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, dtype=np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, dtype=np.float64))
    if mu1.ndim != 1 or mu1.shape != mu2.shape:
        raise ValueError(f"means must be vectors of the same length, got {mu1.shape} and {mu2.shape}")
    d = mu1.shape[0]
    for name, s in (("sigma1", sigma1), ("sigma2", sigma2)):
        if s.shape != (d, d):
            raise ValueError(f"{name} must have shape ({d}, {d}) to match the means, got {s.shape}")
    for name, a in (("mu1", mu1), ("mu2", mu2), ("sigma1", sigma1), ("sigma2", sigma2)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} contains NaN or infinite values")

    diff = mu1 - mu2  # (d,)
    tr_covmean = _trace_sqrt_product(sigma1, sigma2)  # Tr((S1 S2)^{1/2})
    fid = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean
    return float(max(fid, 0.0))


def inception_score(probs: torch.Tensor | np.ndarray, splits: int = 10) -> tuple[float, float]:
    """Inception Score: exp(E_x KL(p(y|x) || p(y))), mean and std over ``splits`` chunks.

        IS = exp( E_x [ sum_y p(y|x) (log p(y|x) - log p(y)) ] ),  p(y) = E_x p(y|x)
                                                                   (Salimans et al. 2016)

    High when each image is classified confidently (low entropy of p(y|x)) and the classes are
    varied (high entropy of p(y)); it lies in [1, K]. It never looks at real data and is blind to
    collapse within a class: one image per class, repeated, scores K.

    Args:
        probs: ``(N, K)`` class probabilities (softmax outputs, not logits), rows summing to 1.
        splits: the samples are cut into this many contiguous chunks (as in the original code);
            the score is computed on each.

    Returns:
        ``(mean, std)`` of the per-chunk scores (std with ``ddof=0``, as usually reported).

    Raises:
        ValueError: negative probabilities, rows not summing to 1, or fewer samples than splits.
    """
    p = _as_float64(probs, "probs", ndim=2)  # (N, K)
    n = p.shape[0]
    if not isinstance(splits, int) or splits < 1:
        raise ValueError(f"splits must be a positive integer, got {splits!r}")
    if n < splits:
        raise ValueError(f"inception_score needs at least one sample per split: {n} samples, {splits} splits")
    if np.any(p < 0) or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("probs must be class probabilities with rows summing to 1 (apply softmax to logits)")

    scores = []
    for part in np.array_split(p, splits, axis=0):  # (n_i, K) each
        p_y = part.mean(axis=0, keepdims=True)  # (1, K) marginal p(y)
        # xlogy-style: terms with p(y|x) = 0 contribute 0, and p(y) > 0 wherever p(y|x) > 0.
        pos = part > 0
        log_ratio = np.zeros_like(part)
        log_ratio[pos] = np.log(part[pos]) - np.log(np.broadcast_to(p_y, part.shape)[pos])
        kl = (part * log_ratio).sum(axis=1)  # (n_i,) KL(p(y|x) || p(y))
        scores.append(math.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def _mmd2_unbiased_polynomial(x: torch.Tensor, y: torch.Tensor, degree: int, gamma: float,
                              coef0: float) -> float:
    """Unbiased MMD^2 with k(a, b) = (gamma <a, b> + coef0)^degree, for equal-size x, y (m, d)."""
    m = x.shape[0]
    k_xx = (gamma * (x @ x.T) + coef0) ** degree  # (m, m)
    k_yy = (gamma * (y @ y.T) + coef0) ** degree  # (m, m)
    k_xy = (gamma * (x @ y.T) + coef0) ** degree  # (m, m)
    # Binkowski et al. 2018, eq. 2 (unbiased): the diagonals of K_xx and K_yy are left out.
    sum_xx = k_xx.sum() - k_xx.diagonal().sum()
    sum_yy = k_yy.sum() - k_yy.diagonal().sum()
    return float((sum_xx + sum_yy) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(
    feats1: torch.Tensor | np.ndarray,
    feats2: torch.Tensor | np.ndarray,
    subsets: int = 100,
    subset_size: int = 1000,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """Kernel Inception Distance: unbiased MMD^2 with a polynomial kernel, over random subsets.

        k(x, y) = (gamma <x, y> + coef0)^degree,   gamma = 1/d by default  (Binkowski et al. 2018)

    Unlike FID, the estimator is unbiased, so small sample sizes do not inflate it and values
    from different N are comparable; it can be slightly negative when the sets match.

    Args:
        feats1: ``(N1, d)`` features of the first set (e.g. real).
        feats2: ``(N2, d)`` features of the second set (e.g. generated).
        subsets: number of random subsets averaged over.
        subset_size: samples drawn (without replacement) from each set per subset; clipped to
            ``min(N1, N2)``.
        degree: kernel degree (3 in the paper).
        gamma: kernel scale; ``None`` means ``1 / d``.
        coef0: kernel offset (1 in the paper).
        generator: a CPU ``torch.Generator`` for the subset draws (global RNG when ``None``).

    Returns:
        ``(mean, std)`` of MMD^2 over the subsets (std with ``ddof=0``).

    Raises:
        ValueError: feature dimensions differ, fewer than 2 samples, or non-positive counts.
    """
    x = torch.from_numpy(_as_float64(feats1, "feats1", ndim=2))  # (N1, d) float64
    y = torch.from_numpy(_as_float64(feats2, "feats2", ndim=2))  # (N2, d) float64
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"feature dimensions differ: {x.shape[1]} and {y.shape[1]}")
    if subsets < 1 or subset_size < 2:
        raise ValueError(f"need subsets >= 1 and subset_size >= 2, got {subsets} and {subset_size}")
    m = min(subset_size, x.shape[0], y.shape[0])
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples in each set, got {x.shape[0]} and {y.shape[0]}")
    g = 1.0 / x.shape[1] if gamma is None else float(gamma)

    values = []
    for _ in range(subsets):
        ix = torch.randperm(x.shape[0], generator=generator)[:m]
        iy = torch.randperm(y.shape[0], generator=generator)[:m]
        values.append(_mmd2_unbiased_polynomial(x[ix], y[iy], degree, g, coef0))
    return float(np.mean(values)), float(np.std(values))


def _knn_radii(feats: torch.Tensor, k: int, batch_size: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row, (N,), computed in row batches."""
    radii = []
    for start in range(0, feats.shape[0], batch_size):
        dist = torch.cdist(feats[start:start + batch_size], feats)  # (B, N)
        # The k+1 smallest include the point itself at distance 0.
        radii.append(dist.topk(k + 1, dim=1, largest=False).values[:, k])  # (B,)
    return torch.cat(radii)


def _fraction_inside(queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor,
                     batch_size: int) -> float:
    """Fraction of queries inside at least one ball (centre_j, radius_j)."""
    inside = 0
    for start in range(0, queries.shape[0], batch_size):
        dist = torch.cdist(queries[start:start + batch_size], centres)  # (B, N)
        inside += int((dist <= radii[None, :]).any(dim=1).sum())
    return inside / queries.shape[0]


def precision_recall(
    real_feats: torch.Tensor | np.ndarray,
    fake_feats: torch.Tensor | np.ndarray,
    k: int = 3,
    batch_size: int = 1000,
) -> tuple[float, float]:
    """Improved precision and recall of a generator (Kynkaanniemi et al. 2019).

    Each set's manifold is the union of balls around its samples, each ball reaching to that
    sample's k-th nearest neighbour in the same set. Precision is the fraction of fake samples
    inside the real manifold (fidelity); recall is the fraction of real samples inside the fake
    manifold (coverage). Mode collapse keeps precision high and drives recall down.

    Distances are computed in float64 in batches of ``batch_size`` rows with ``torch.cdist``, so
    memory is O(batch_size * N): 10k x 10k sets need about 80 MB per batch, not 800 MB.

    Args:
        real_feats: ``(N_r, d)`` features of real samples.
        fake_feats: ``(N_f, d)`` features of generated samples.
        k: neighbourhood size (3 in the paper); needs ``k < N`` for both sets.
        batch_size: rows per distance batch.

    Returns:
        ``(precision, recall)``, each in [0, 1].

    Raises:
        ValueError: bad ``k``, mismatched feature dimensions, or too few samples.
    """
    real = torch.from_numpy(_as_float64(real_feats, "real_feats", ndim=2))  # (N_r, d)
    fake = torch.from_numpy(_as_float64(fake_feats, "fake_feats", ndim=2))  # (N_f, d)
    if real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature dimensions differ: {real.shape[1]} and {fake.shape[1]}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    n_min = min(real.shape[0], fake.shape[0])
    if k >= n_min:
        raise ValueError(f"k={k} needs more than k samples in each set, got {real.shape[0]} real "
                         f"and {fake.shape[0]} fake")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")

    real_radii = _knn_radii(real, k, batch_size)  # (N_r,)
    fake_radii = _knn_radii(fake, k, batch_size)  # (N_f,)
    precision = _fraction_inside(fake, real, real_radii, batch_size)  # fakes on the real manifold
    recall = _fraction_inside(real, fake, fake_radii, batch_size)  # reals on the fake manifold
    return precision, recall


# ---------------------------------------------------------------------------------------------
# Feature extractors
# ---------------------------------------------------------------------------------------------

#: torch-fidelity's FID Inception-v3: Google's 2015-12-05 TensorFlow graph, the network behind published
#: FID, IS and KID (the graph pytorch-fid ports too), converted to a PyTorch state dict.
INCEPTION_WEIGHTS_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_POOL_DIM = 2048  # pool features: FID, KID, precision/recall
INCEPTION_LOGITS_DIM = 1008  # logits (1000 ImageNet classes and 8 unused): IS
_INCEPTION_OUTPUTS = ("pool", "logits", "both")
_DOWNLOAD_TIMEOUT_S = 30.0  # per network operation; torch.hub's urlopen has none, so a dead network could hang


class InceptionWeightsUnavailable(RuntimeError):
    """The FID Inception-v3 weights could not be found, downloaded or read."""


def inception_weights_path() -> Path:
    """Where torch-fidelity keeps its Inception weights: ``<torch hub dir>/checkpoints/INCEPTION_WEIGHTS_FILE``.

    The folder is torch.hub's (``$TORCH_HOME/hub/checkpoints``, by default ``~/.cache/torch/hub/checkpoints``),
    shared with torch-fidelity itself, so a file downloaded by either is found by both.
    """
    return Path(torch.hub.get_dir()) / "checkpoints" / INCEPTION_WEIGHTS_FILE


def _weights_unavailable(reason: str) -> InceptionWeightsUnavailable:
    """The one message for every way the Inception weights can be missing: what, where, and the offline alternative."""
    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    return InceptionWeightsUnavailable(
        f"the FID Inception-v3 weights are unavailable: {reason}. Scores comparable with papers need torch-fidelity's "
        f"file {INCEPTION_WEIGHTS_FILE} ({URL_INCEPTION_V3}): put it in {inception_weights_path().parent} (it is "
        "downloaded there automatically when online), or pass its path with --inception-weights FILE "
        "(weights=FILE in Python). Digits need no download: --features digits uses the bundled MNIST classifier "
        "(ganlib.classifier, metrics.digit_scores)."
    )


def _inception_weights_file(weights: str | os.PathLike | None) -> Path:
    """The weights file to read: ``weights`` itself, else torch-fidelity's cached file, downloaded when missing."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise _weights_unavailable(f"there is no file {path}")
        return path
    path = inception_weights_path()
    if path.is_file():
        return path
    import socket

    from torch_fidelity.feature_extractor_inceptionv3 import URL_INCEPTION_V3

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)  # offline: fail within seconds instead of hanging
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # ~95 MB with a progress bar; written to a .partial file, renamed when complete
        torch.hub.download_url_to_file(URL_INCEPTION_V3, str(path), progress=True)
    except Exception as e:  # URLError, timeouts, SSL and permission errors: all mean "no file"
        raise _weights_unavailable(f"they are not in {path.parent} and the download failed "
                                   f"({type(e).__name__}: {str(e)[:200]})") from e
    finally:
        socket.setdefaulttimeout(previous)
    return path


def inception_v3_features(weights: str | os.PathLike | None = None, device: str | torch.device = "cpu",
                          output: str = "pool") -> torch.nn.Module:
    """The FID Inception-v3 of torch-fidelity as a feature extractor for images in [-1, 1].

    The network and its resizing are torch-fidelity's ``FeatureExtractorInceptionV3``
    (``"inception-v3-compat"``): the TensorFlow graph that published FID, IS and KID use, resizing
    to 299 x 299 exactly as TensorFlow 1.x did. Only the input convention is ganlib's: images
    ``(B, 1 or 3, H, W)`` in [-1, 1] become the uint8 pixels the graph was fed,
    ``round((x + 1) * 127.5)`` clamped to 0..255, grey repeated to three channels.

    Args:
        weights: ``None`` reads torch-fidelity's file from :func:`inception_weights_path`, downloading
            it once when missing (needs internet); a path reads that file (a state dict of
            ``FeatureExtractorInceptionV3``). Either is loaded with ``weights_only=True``.
        device: where the network runs.
        output: ``"pool"``: the (B, 2048) pool features (FID, KID, precision/recall);
            ``"logits"``: the (B, 1008) logits without bias (torch-fidelity's ``logits_unbiased``,
            whose softmax IS uses); ``"both"``: their concatenation (B, 2048 + 1008), pool first,
            from one forward pass.

    Returns:
        A module in eval mode without gradients; its ``weights_sha256`` is the SHA-256 of the weights
        file (to name caches of features by the weights that made them).

    Raises:
        InceptionWeightsUnavailable: offline and not cached, or the file is missing, corrupt or not
            this network's; the message names the file, the folder to put it in, ``--inception-weights``
            and the digit classifier as the offline alternative.
    """
    if output not in _INCEPTION_OUTPUTS:
        raise ValueError(f"output must be one of {', '.join(_INCEPTION_OUTPUTS)}, got {output!r}")
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    import hashlib

    path = _inception_weights_file(weights)
    raw = path.read_bytes()  # ~95 MB, read once: hashed and loaded
    try:
        state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        # torch-fidelity reads its file with weights_only=False; it gets the tensors just read, re-serialised in
        # memory, so no pickled code from the file ever runs.
        buffer = io.BytesIO()
        torch.save(state, buffer)
        buffer.seek(0)
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                          feature_extractor_weights_path=buffer)
    except Exception as e:  # unpickling errors on a corrupt file, missing keys or shapes of another network
        first_line = (str(e).splitlines() or [""])[0][:200]
        raise _weights_unavailable(f"{path} is corrupt or not a state dict of torch-fidelity's "
                                   f"FeatureExtractorInceptionV3 ({type(e).__name__}: {first_line})") from e
    return _InceptionFeatures(net, output, hashlib.sha256(raw).hexdigest()).to(device).eval()


class _InceptionFeatures(torch.nn.Module):
    """Images in [-1, 1] -> torch-fidelity's uint8 input -> pool features, logits or both."""

    def __init__(self, net: torch.nn.Module, output: str, weights_sha256: str):
        super().__init__()
        self.net, self.output, self.weights_sha256 = net, output, weights_sha256

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.ndim == 4 and x.shape[1] in (1, 3) and x.is_floating_point(), (
            f"expected float images (B, 1 or 3, H, W) in [-1, 1], got {x.dtype} {tuple(x.shape)}")
        pixels = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)  # (B, C, H, W) 0..255
        pool, logits = self.net(pixels.expand(-1, 3, -1, -1))  # grey -> RGB; (B, 2048), (B, 1008)
        if self.output == "pool":
            return pool
        return logits if self.output == "logits" else torch.cat([pool, logits], dim=1)  # (B, 3056)


@torch.no_grad()
def extract_features(extractor: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                     batch_size: int = 256, device: str | torch.device | None = None, progress: bool = False,
                     desc: str = "features") -> torch.Tensor:
    """Features of many images, in batches, without gradients: (N, C, H, W) -> (N, d) on the CPU, float64.

    ``device`` defaults to the extractor's (its first parameter's, else the CPU); ``progress`` shows a
    progress bar (plain lines when the output is not a terminal) labelled ``desc``.
    """
    from ganlib.progress import progress_bar

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
    import hashlib

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


# ----------------------------------------------------------------------------------------------
# Offline evaluation of generated digits with the shipped MNIST classifier
# ----------------------------------------------------------------------------------------------

def _classify(images: torch.Tensor, batch_size: int, device: str | torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The shipped classifier on 28 px digits: features (N, 64) and softmax p(y | x) (N, 10), float64 on the CPU."""
    from ganlib.classifier import load_mnist_classifier
    from ganlib.config import get_device

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
    """(N, 1, S, S) with S >= 28 -> the central (N, 1, 28, 28): undoes ``dcgan.pad_to(32)``."""
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
    from ganlib.data import load_mnist_5k

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


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of the rows of ``a`` and ``b`` (B, d) at fractions ``t`` (B,) along the great circle."""
    a_n, b_n = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(dim=1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None]  # (B, 1)
    t = t[:, None]
    return (torch.sin((1 - t) * omega) * a + torch.sin(t * omega) * b) / torch.sin(omega)


@torch.no_grad()
def perceptual_path_length(generate, a: torch.Tensor, b: torch.Tensor, *, space: str = "z", epsilon: float = 1e-4,
                           features=None, t: torch.Tensor | None = None, generator: torch.Generator | None = None,
                           batch_size: int = 250) -> tuple[float, torch.Tensor]:
    """Perceptual path length (Karras et al. 2019, Sec. 4.1, Eqs. 3-4): how much the image changes per
    unit step along an interpolation between two latents.

        l = E_t [ d(G(i(a, b; t)), G(i(a, b; t + epsilon))) / epsilon^2 ],  t ~ U(0, 1)

    with slerp as i in Z (a Gaussian's latents lie near a sphere) and lerp in W. The paper's d is
    LPIPS on VGG features; offline, the default here is the squared distance between the shipped
    MNIST classifier's 64-d features (digits only), so the numbers are comparable between models of
    this course, not with the paper's.

    Args:
        generate: latents (B, d) -> images (B, C, H, W), e.g. ``lambda z: G(z)`` or a synthesis of w.
        a, b: the interpolation's end points (N, d), in the space named by ``space``.
        space: "z" (slerp) or "w" (lerp).
        epsilon: the step (paper: 1e-4).
        features: images -> (B, F) embedding for d; default the digit classifier's features.
        t: the fractions (N,); default uniform from ``generator``.
        batch_size: pairs per forward pass.

    Returns:
        ``(mean, per-pair lengths (N,))``. The paper also drops the 1% tails before averaging; the
        per-pair values let a caller do so.
    """
    if space not in ("z", "w"):
        raise ValueError(f"space must be 'z' (slerp) or 'w' (lerp), got {space!r}")
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"a and b must be (N, d) of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    if features is None:
        from ganlib.classifier import load_mnist_classifier

        model, _ = load_mnist_classifier("cpu")
        features = lambda images: model.features(_crop_to_28(images.detach().float().cpu()))
    if t is None:
        t = torch.rand(len(a), generator=generator, dtype=a.dtype)
    lengths = []
    for i in range(0, len(a), batch_size):
        ai, bi, ti = a[i:i + batch_size], b[i:i + batch_size], t[i:i + batch_size]
        if space == "z":
            p0, p1 = slerp(ai, bi, ti), slerp(ai, bi, ti + epsilon)
        else:
            p0, p1 = torch.lerp(ai, bi, ti[:, None]), torch.lerp(ai, bi, ti[:, None] + epsilon)
        f0, f1 = features(generate(p0)).double(), features(generate(p1)).double()
        lengths.append((f0 - f1).pow(2).sum(dim=1) / epsilon ** 2)
    lengths = torch.cat(lengths)
    return float(lengths.mean()), lengths
