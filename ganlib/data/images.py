"""Image datasets in memory, as float32 in [-1, 1], and padding them to a size.

``mnist-5k`` ships inside the package (no download, works offline: :func:`load_mnist_5k`); ``mnist``,
``fashion-mnist`` and ``cifar10`` come from torchvision into :func:`~ganlib.data.paths.data_root`
(:func:`load_images`). All become an :class:`ImageDataset`. :func:`pad_to` pads images to a size, e.g.
MNIST's 28 x 28 to the 32 x 32 that the convolutional models need. The dataset names are checked here
too (:func:`dataset_names`), for the toy sets as well, so a wrong name lists every valid one.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch
import torch.nn.functional as F

from ganlib.data.paths import data_root
from ganlib.data.toy import TOY_DATASETS

__all__ = ["ImageDataset", "DatasetUnavailableError", "IMAGE_DATASETS", "dataset_names", "load_mnist_5k",
           "load_images", "pad_to"]


@dataclass
class ImageDataset:
    """A whole image dataset held in memory.

    Attributes:
        images: (N, C, H, W) float32 in [-1, 1].
        labels: (N,) int64 class indices.
        name: the dataset name, e.g. ``"mnist-5k"``.
        classes: the class names, indexed by label.
    """

    images: torch.Tensor  # (N, C, H, W)
    labels: torch.Tensor  # (N,)
    name: str
    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise ValueError(f"images must have shape (N, C, H, W), got {tuple(self.images.shape)}")
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must have shape ({len(self.images)},), got {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return len(self.images)


class DatasetUnavailableError(RuntimeError):
    """A dataset could not be downloaded or found on disk (offline machine, missing files)."""


#: names of the image datasets that :func:`load_images` knows.
IMAGE_DATASETS: tuple[str, ...] = ("mnist-5k", "mnist", "fashion-mnist", "cifar10")

_MNIST_CLASSES = tuple(str(digit) for digit in range(10))
_IDX_FILES = "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"
# name -> (torchvision class name, which files to put where when offline)
_TORCHVISION = {
    "mnist": ("MNIST", f"MNIST/raw/: {_IDX_FILES} (or the same names with .gz, unpacked when download=True)"),
    "fashion-mnist": ("FashionMNIST", f"FashionMNIST/raw/: {_IDX_FILES} (or the same names with .gz, "
                                      "unpacked when download=True)"),
    "cifar10": ("CIFAR10", "cifar-10-batches-py/ (the unpacked archive), or cifar-10-python.tar.gz "
                           "(unpacked when download=True)"),
}


def dataset_names() -> list[str]:
    """All dataset names: the toy 2-D sets, then the image sets, in declaration order."""
    return [*TOY_DATASETS, *IMAGE_DATASETS]


def _valid_names_text() -> str:
    return (f"image datasets: {', '.join(IMAGE_DATASETS)}; "
            f"toy datasets (2-D point sets, not images): {', '.join(TOY_DATASETS)}")


def _normalise_name(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"a dataset name must be a string, got {type(name).__name__}; {_valid_names_text()}")
    return name.strip().lower()


def _to_unit_range(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 pixels 0..255 -> float32 in [-1, 1]."""
    return pixels.to(torch.float32) / 127.5 - 1.0


def load_mnist_5k() -> ImageDataset:
    """The MNIST subset bundled with ganlib: 5000 digits, 500 per class, no download needed.

    Read through ``importlib.resources``, so it works whether ganlib is installed editable, from
    a wheel, or from a git URL. Provenance and licence: ``data/README.md``.

    Returns:
        An :class:`ImageDataset` with images (5000, 1, 28, 28) in [-1, 1] and labels 0..9.
    """
    resource = resources.files("ganlib") / "assets" / "mnist_5k.npz"
    with np.load(io.BytesIO(resource.read_bytes())) as npz:
        pixels = torch.from_numpy(npz["images"])  # (N, H, W) uint8
        labels = torch.from_numpy(npz["labels"]).long()  # (N,)
    images = _to_unit_range(pixels).unsqueeze(1)  # (N, 1, H, W)
    return ImageDataset(images, labels, "mnist-5k", _MNIST_CLASSES)


def load_images(
    name: str,
    root: str | os.PathLike | None = None,
    train: bool = True,
    download: bool = True,
) -> ImageDataset:
    """Load a whole image dataset into memory as float32 in [-1, 1].

    ``"mnist-5k"`` is bundled with the package. ``"mnist"``, ``"fashion-mnist"`` and
    ``"cifar10"`` are read by torchvision from ``data_root(root)``, downloading them first if
    needed. The dataset object's raw uint8 arrays are converted in one go (no per-item
    transforms), so loading takes about a second once the files are there.

    Args:
        name: one of :data:`IMAGE_DATASETS`.
        root: the download folder; see :func:`data_root` for the default.
        train: the training split (``True``) or the test split.
        download: allow torchvision to download missing files.

    Returns:
        An :class:`ImageDataset`: (N, 1, 28, 28) for the MNISTs, (N, 3, 32, 32) for CIFAR-10.

    Raises:
        ValueError: for an unknown name (the message lists all valid ones), a toy dataset name,
            or ``train=False`` with ``mnist-5k``, which has a single split.
        DatasetUnavailableError: when the files are missing and cannot be downloaded.
    """
    key = _normalise_name(name)
    if key in TOY_DATASETS:
        raise ValueError(f"{name!r} is a toy 2-D point set, not an image dataset: get it with "
                         f"TOY_DATASETS[{key!r}]() or make_batches({key!r}, ...); {_valid_names_text()}")
    if key not in IMAGE_DATASETS:
        raise ValueError(f"unknown dataset {name!r}; {_valid_names_text()}")
    if key == "mnist-5k":
        if not train:
            raise ValueError("'mnist-5k' is a single 5000-image subset with no test split; call it with "
                             "train=True and hold out part of it, or use 'mnist' for the real test split")
        return load_mnist_5k()

    import torchvision.datasets  # deferred: only needed for the downloadable sets

    class_name, expected_files = _TORCHVISION[key]
    directory = data_root(root)
    try:
        dataset = getattr(torchvision.datasets, class_name)(str(directory), train=train, download=download)
    except Exception as err:  # network errors, missing or corrupt files: all mean "not available"
        cause = ("downloading it failed; this machine may be offline or the server unreachable"
                 if download else "the files are not there and download=False")
        raise DatasetUnavailableError(
            f"could not load dataset {key!r} from {directory}: {cause} "
            f"({type(err).__name__}: {str(err).strip()}). "
            f"To use it offline, copy the files from a machine that has them into {directory}/"
            f"{expected_files}, or point GANLIB_DATA (or root=) at a folder that holds them; "
            "see data/README.md. The bundled 'mnist-5k' needs no download: load_images('mnist-5k')."
        ) from err

    pixels = torch.as_tensor(np.asarray(dataset.data))  # (N, H, W) MNISTs, (N, H, W, C) CIFAR
    if pixels.ndim == 3:
        pixels = pixels.unsqueeze(1)  # (N, 1, H, W)
    else:
        pixels = pixels.permute(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
    images = _to_unit_range(pixels).contiguous()  # (N, C, H, W)
    labels = torch.as_tensor(np.asarray(dataset.targets), dtype=torch.int64)  # (N,)
    classes = _MNIST_CLASSES if key == "mnist" else tuple(dataset.classes)
    return ImageDataset(images, labels, key, classes)


def pad_to(images: torch.Tensor, size: int = 32, value: float = -1.0) -> torch.Tensor:
    """Pad images evenly on all sides to ``size`` x ``size``, e.g. MNIST 28x28 -> 32x32.

    The fill is the background: -1 for images scaled to [-1, 1] (black MNIST background), so
    the digit stays centred and the border is indistinguishable from the rest of the background.
    An odd margin puts the extra row (column) at the bottom (right).

    Args:
        images: shape (..., H, W), e.g. (B, C, 28, 28) or one image (C, 28, 28); H, W <= size.
        size: the target height and width.
        value: the fill value.

    Returns:
        Shape (..., size, size), same dtype and device.
    """
    assert images.ndim >= 2, f"pad_to expects (..., H, W), got {tuple(images.shape)}"
    h, w = images.shape[-2:]
    assert h <= size and w <= size, f"pad_to cannot pad {h}x{w} images to the smaller {size}x{size}"
    top, left = (size - h) // 2, (size - w) // 2
    return F.pad(images, (left, size - w - left, top, size - h - top), value=value)  # (..., size, size)
