"""Fréchet distance on 2048-d statistics: ganlib vs the scipy.linalg.sqrtm formula, in one run.

Both sides get the same float64 statistics, estimated with ganlib.metrics.gaussian_stats from
random samples of two different Gaussians (4096 samples each by default, the dimension of the
Inception pool features):

(a) reference: the classic pytorch-fid formula,
    ||mu1 - mu2||^2 + Tr(S1) + Tr(S2) - 2 Tr(Re sqrtm(S1 @ S2)), with scipy.linalg.sqrtm (called
    without the `disp` argument that SciPy 1.18 removed).
(b) ganlib.metrics.frechet_distance: Tr((S1 S2)^{1/2}) as the sum of square roots of the
    eigenvalues of the symmetric matrix L^T S2 L, where S1 = L L^T (Cholesky).

Also timed, for the record: the two alternatives the docstring of ganlib.metrics weighs, the
eigenvalues of S1 @ S2 (np.linalg.eigvals, the torchmetrics / clean-fid route) and the symmetric
form sqrt(S1) S2 sqrt(S1) built from eigh(S1).

It prints the best-of-``--repeats`` time of each, the ratios to the reference and the relative
difference of each value from the reference. Run from the repository root:

    python benchmarks/fid_speed.py                 # d = 2048, 4096 samples, 3 repeats
    python benchmarks/fid_speed.py --dim 512       # a quick check
"""

from __future__ import annotations

import argparse
import os
import platform
import timeit

import numpy as np
import scipy
import scipy.linalg

from ganlib import metrics


def reference_fid(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """pytorch-fid's formula with scipy's matrix square root."""
    covmean = scipy.linalg.sqrtm(s1 @ s2).real  # (d, d)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def eigvals_fid(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Alternative: eigenvalues of the non-symmetric product S1 S2 (torchmetrics / clean-fid)."""
    lam = np.linalg.eigvals(s1 @ s2).real  # (d,), round-off imaginary parts dropped
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.sqrt(np.clip(lam, 0, None)).sum())


def eigh_fid(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Alternative: eigenvalues of sqrt(S1) S2 sqrt(S1), with sqrt(S1) from eigh(S1)."""
    lam, u = np.linalg.eigh(s1)
    r = np.sqrt(np.clip(lam, 0, None))
    m = (u.T @ s2 @ u) * r[:, None] * r[None, :]  # similar to sqrt(S1) S2 sqrt(S1)
    ev = np.linalg.eigvalsh(0.5 * (m + m.T))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.sqrt(np.clip(ev, 0, None)).sum())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dim", type=int, default=2048, help="feature dimension d (default 2048)")
    p.add_argument("--samples", type=int, default=4096, help="samples per set for the statistics")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats; the best is reported")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    rng = np.random.default_rng(args.seed)
    d, n = args.dim, args.samples
    x = rng.standard_normal((n, d))  # (n, d)
    y = rng.standard_normal((n, d)) @ (np.eye(d) + 0.3 * rng.standard_normal((d, d)) / np.sqrt(d)) + 0.05
    stats = (*metrics.gaussian_stats(x), *metrics.gaussian_stats(y))

    threads = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                           "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    print(f"d={d}, samples={n}, repeats={args.repeats}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"{platform.processor() or platform.machine()}, env {threads or '{}'}")

    sides = [("scipy sqrtm (reference)", reference_fid), ("ganlib.metrics.frechet_distance", metrics.frechet_distance),
             ("eigvals(S1 @ S2)", eigvals_fid), ("eigh(S1) symmetric form", eigh_fid)]
    results = {}
    for name, fn in sides:
        value = fn(*stats)
        best = min(timeit.repeat(lambda: fn(*stats), number=1, repeat=args.repeats))
        results[name] = (best, value)

    ref_time, ref_value = results[sides[0][0]]
    print(f"{'method':34s} {'best time':>10s} {'speed-up':>9s} {'FID':>22s} {'rel. diff':>10s}")
    for name, (t, v) in results.items():
        rel = abs(v - ref_value) / abs(ref_value)
        print(f"{name:34s} {t:9.3f}s {ref_time / t:8.2f}x {v:22.12f} {rel:10.1e}")


if __name__ == "__main__":
    main()
