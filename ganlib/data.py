"""Data for the course: toy 2-D mixtures, the bundled MNIST subset, torchvision image sets.

Three kinds of data, one batch protocol:

- **Toy mixtures** (:class:`GaussianMixture`): equal-weight isotropic Gaussian mixtures with a
  known density, so a notebook can plot the true ``p_data``, the optimal discriminator, and count
  how many modes a generator covers (:func:`count_modes`). ``ring8`` and ``grid25`` are the two
  classic mode-collapse benchmarks; ``mixture1d`` is the 1-D example of the theory notebook.
- **Images** (:func:`load_images`): ``mnist-5k`` ships inside the package (no download, works
  offline); ``mnist``, ``fashion-mnist`` and ``cifar10`` come from torchvision into
  :func:`data_root`. All become an :class:`ImageDataset` of float32 images in [-1, 1].
- **Batches** (:class:`InMemoryBatches`, :class:`ToyBatches`, :func:`make_batches`): infinite
  iterators of mini-batches whose ``state_dict()`` lets a resumed run draw bitwise-identical
  batches.

See ``data/README.md`` for the provenance and licence of every dataset.
"""

from __future__ import annotations

import io
import math
import os
import pathlib
from dataclasses import dataclass
from importlib import resources
from typing import Callable, Iterator

import numpy as np
import torch
from scipy.special import logsumexp

ArrayLike = np.ndarray | torch.Tensor


# ---------------------------------------------------------------------------------------------
# Where downloaded data lives
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Toy distributions with a known density
# ---------------------------------------------------------------------------------------------


def _as_points(x: ArrayLike, dim: int, what: str) -> np.ndarray:
    """Turn ``x`` into a float64 array of shape (N, dim); (N,) is accepted when dim == 1."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1 and dim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != dim:
        expected = "(N, 1) or (N,)" if dim == 1 else f"(N, {dim})"
        raise ValueError(f"{what} must have shape {expected} for a {dim}-D mixture, got {tuple(x.shape)}")
    return x  # (N, d)


@dataclass(frozen=True, eq=False)  # eq=False: tensor fields cannot be compared with ==
class GaussianMixture:
    """An equal-weight mixture of isotropic Gaussians in ``d`` dimensions:

    p(x) = 1/K * sum_k N(x; mu_k, std^2 I)

    Attributes:
        means: (K, d) float32 mode centres (stored on the CPU).
        std: the standard deviation of every component, in every direction.
        name: a label for plots and logs.
    """

    means: torch.Tensor  # (K, d)
    std: float
    name: str = "mixture"

    def __post_init__(self) -> None:
        means = torch.as_tensor(self.means).detach().to("cpu", torch.float32).contiguous()
        if means.ndim != 2 or means.shape[0] < 1 or means.shape[1] < 1:
            raise ValueError(f"means must have shape (K, d) with K, d >= 1, got {tuple(means.shape)}; "
                             "for a 1-D mixture pass shape (K, 1)")
        if not (math.isfinite(self.std) and self.std > 0):
            raise ValueError(f"std must be a positive number, got {self.std}")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "std", float(self.std))

    @property
    def dim(self) -> int:
        """The dimension ``d`` of a sample."""
        return self.means.shape[1]

    @property
    def n_modes(self) -> int:
        """The number of components ``K``."""
        return self.means.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` points.

        Args:
            n: how many points.
            generator: a CPU ``torch.Generator``, the only source of randomness used (the global
                generator when ``None``).

        Returns:
            (n, d) float32 tensor on the CPU.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        modes = torch.randint(self.n_modes, (n,), generator=generator)  # (n,)
        noise = torch.randn(n, self.dim, generator=generator)  # (n, d)
        return self.means[modes] + self.std * noise  # (n, d)

    def pdf(self, x: ArrayLike) -> np.ndarray:
        """The density p(x), computed in float64 with a log-sum-exp (no underflow near modes).

        Args:
            x: points, shape (N, d), or (N,) when d == 1; a numpy array or a tensor.

        Returns:
            (N,) float64 array of densities.
        """
        x = _as_points(x, self.dim, "x")  # (N, d)
        means = self.means.numpy().astype(np.float64)  # (K, d)
        var = self.std ** 2
        log_norm = -0.5 * self.dim * math.log(2 * math.pi * var)
        # log N(x; mu_k, var I), one mode at a time to keep memory at (N, K)
        log_comp = np.stack([-0.5 * ((x - mu) ** 2).sum(axis=1) / var for mu in means], axis=1)  # (N, K)
        return np.exp(logsumexp(log_comp, axis=1) - math.log(self.n_modes) + log_norm)  # (N,)


def ring8(radius: float = 2.0, std: float = 0.02) -> GaussianMixture:
    """Eight modes evenly spaced on a circle (the mode-collapse benchmark of Metz et al. 2017).

    Args:
        radius: radius of the circle.
        std: standard deviation of each mode.

    Returns:
        A 2-D :class:`GaussianMixture` named ``"ring8"``; mode k sits at angle k * 45 degrees.
    """
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)  # (8,)
    means = radius * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)  # (8, 2)
    return GaussianMixture(means.float(), std, "ring8")


def grid25(spacing: float = 2.0, std: float = 0.05) -> GaussianMixture:
    """A 5 x 5 grid of modes centred at the origin (coordinates -2..2 times ``spacing``).

    Args:
        spacing: distance between neighbouring modes.
        std: standard deviation of each mode.

    Returns:
        A 2-D :class:`GaussianMixture` named ``"grid25"``.
    """
    coords = torch.arange(-2, 3, dtype=torch.float32) * spacing  # (5,)
    xs, ys = torch.meshgrid(coords, coords, indexing="ij")
    means = torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1)  # (25, 2)
    return GaussianMixture(means, std, "grid25")


def mixture1d(means: tuple[float, ...] = (-2.0, 1.0, 3.0), std: float = 0.5) -> GaussianMixture:
    """The 1-D mixture of the theory notebook (optimal discriminator, divergences).

    Args:
        means: the mode centres.
        std: standard deviation of each mode.

    Returns:
        A 1-D :class:`GaussianMixture` named ``"mixture1d"`` (``means`` has shape (K, 1)).
    """
    return GaussianMixture(torch.tensor(means, dtype=torch.float32).reshape(-1, 1), std, "mixture1d")


@dataclass(frozen=True, eq=False)  # eq=False: an ndarray field cannot be compared with ==
class ModeCoverage:
    """How well a set of samples covers the modes of a mixture (see :func:`count_modes`).

    Attributes:
        n_modes: modes that received at least ``min_count`` high-quality samples.
        total_modes: the number of modes of the mixture.
        high_quality: fraction of samples within ``n_std * std`` of their nearest mode.
        counts: (K,) high-quality samples assigned to each mode (its nearest mode).
    """

    n_modes: int
    total_modes: int
    high_quality: float
    counts: np.ndarray  # (K,)

    def __str__(self) -> str:
        return f"{self.n_modes}/{self.total_modes} modes, {self.high_quality:.0%} high-quality samples"


def count_modes(
    samples: ArrayLike,
    mixture: GaussianMixture,
    n_std: float = 3.0,
    min_count: int | None = None,
) -> ModeCoverage:
    """Count the modes a generator covers, by the protocol of Unrolled GAN / VEEGAN.

    Each sample is assigned to its nearest mode. It is *high quality* if it lies within
    ``n_std * std`` (Euclidean distance) of that mode; 3 std is the threshold of Metz et al.
    (2017) and Srivastava et al. (2017). A mode is *covered* if it received at least ``min_count``
    high-quality samples. By default that is 20% of a mode's fair share,
    ``max(1, round(0.2 * N / K))``: a handful of stray samples does not count as covering a mode,
    but a mode that gets a fifth of what the true distribution would give it does.

    Note: in d dimensions a true sample lies within 3 std of its mode with probability
    P(chi2_d <= 9), which is 98.9% for d = 2; expect slightly under 100% even for real data.

    Args:
        samples: (N, d) points (numpy or tensor); (N,) when d == 1.
        mixture: the target distribution.
        n_std: the distance threshold in units of ``mixture.std``.
        min_count: high-quality samples a mode needs to count as covered (default above).

    Returns:
        A :class:`ModeCoverage`; ``str()`` of it reads e.g. ``"7/8 modes, 93% high-quality samples"``.
    """
    x = _as_points(samples, mixture.dim, "samples")  # (N, d)
    n, k = len(x), mixture.n_modes
    if n == 0:
        raise ValueError("samples is empty; pass at least one sample")
    if min_count is None:
        min_count = max(1, round(0.2 * n / k))
    means = mixture.means.numpy().astype(np.float64)  # (K, d)
    sq_dist = np.stack([((x - mu) ** 2).sum(axis=1) for mu in means], axis=1)  # (N, K)
    nearest = sq_dist.argmin(axis=1)  # (N,)
    near_enough = np.sqrt(sq_dist[np.arange(n), nearest]) <= n_std * mixture.std  # (N,)
    counts = np.bincount(nearest[near_enough], minlength=k)  # (K,)
    return ModeCoverage(
        n_modes=int((counts >= min_count).sum()),
        total_modes=k,
        high_quality=float(near_enough.mean()),
        counts=counts,
    )


# ---------------------------------------------------------------------------------------------
# Image datasets
# ---------------------------------------------------------------------------------------------


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


#: name -> factory of the toy 2-D datasets that :func:`make_batches` knows.
TOY_DATASETS: dict[str, Callable[[], GaussianMixture]] = {"ring8": ring8, "grid25": grid25}
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


# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------


def _make_generator(generator: torch.Generator | None) -> torch.Generator:
    """The caller's CPU generator, or a fresh one seeded from ``torch.initial_seed()``."""
    if generator is None:
        return torch.Generator().manual_seed(torch.initial_seed())
    if generator.device.type != "cpu":
        raise ValueError(f"generator must be a CPU torch.Generator, got one on {generator.device}; "
                         "batches are shuffled and sampled on the CPU")
    return generator


def _check_batch_size(batch_size: int) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return batch_size


def _require_keys(state: dict, keys: tuple[str, ...], owner: str) -> None:
    missing = [key for key in keys if key not in state]
    if missing:
        raise KeyError(f"{owner} state is missing {missing}; pass a dict from {owner}.state_dict()")


class InMemoryBatches:
    """An infinite iterator of shuffled mini-batches from a tensor that fits in memory.

    Every epoch draws a fresh permutation ``torch.randperm(N, generator=generator)`` and yields
    ``N // batch_size`` batches; the last incomplete batch is dropped. On CUDA the whole tensor
    is moved to the GPU when it uses under half of the free GPU memory; otherwise it stays on the
    CPU and each batch is gathered into pinned memory and copied asynchronously.

    With ``targets`` (a second tensor of N items: class labels, or the paired target images of
    image-to-image translation) each batch is a pair ``(data[idx], targets[idx])``.

    ``state_dict()`` / ``load_state_dict()`` capture the generator, the current permutation and
    the position in it, so a resumed run gets bitwise-identical batches.

    Example::

        batches = InMemoryBatches(dataset.images, 64, device=device)
        real = next(batches)  # (64, C, H, W) on device
        labelled = InMemoryBatches(dataset.images, 64, targets=dataset.labels)
        real, y = next(labelled)  # (64, C, H, W), (64,)
    """

    def __init__(
        self,
        data: torch.Tensor,
        batch_size: int,
        *,
        targets: torch.Tensor | None = None,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> None:
        """Args:
            data: (N, ...) tensor, e.g. (N, C, H, W) images; batches index its first dimension.
            batch_size: items per batch, at most N.
            targets: optional (N, ...) tensor delivered alongside, e.g. labels (N,).
            device: where batches are delivered.
            generator: a CPU generator for the shuffling; ``None`` makes one seeded from
                ``torch.initial_seed()``.
        """
        if not isinstance(data, torch.Tensor) or data.ndim < 1:
            raise ValueError("data must be a tensor of shape (N, ...)")
        n = len(data)
        if _check_batch_size(batch_size) > n:
            raise ValueError(f"batch_size {batch_size} is larger than the dataset ({n} items); "
                             f"use batch_size <= {n}")
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.generator = _make_generator(generator)
        if targets is not None and (not isinstance(targets, torch.Tensor) or targets.ndim < 1 or len(targets) != n):
            raise ValueError(f"targets must be a tensor with one item per data item ({n}), got "
                             f"{tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__}")
        self.data = data.detach()
        self.targets = targets.detach() if targets is not None else None
        # Keep the whole tensor on the device when it is CUDA and fits comfortably; else on the CPU.
        self.on_device = self.data.device == self.device or self.device.type == "cpu"
        if not self.on_device and self.device.type == "cuda":
            free_bytes, _ = torch.cuda.mem_get_info(self.device)
            size = sum(t.numel() * t.element_size() for t in (self.data, self.targets) if t is not None)
            self.on_device = size < 0.5 * free_bytes
        home = self.device if self.on_device else "cpu"
        self.data = self.data.to(home)
        self.targets = self.targets.to(home) if self.targets is not None else None
        self._perm = torch.empty(0, dtype=torch.int64)  # (N,) this epoch's order; empty: not started
        self._perm_on_device = self._perm
        self._pos = 0  # index into self._perm of the next batch's first item
        self._epoch = 0  # permutations drawn so far

    @property
    def batches_per_epoch(self) -> int:
        """``N // batch_size``: the batches in one epoch (the iterator itself never ends)."""
        return len(self.data) // self.batch_size

    @property
    def epoch(self) -> int:
        """The number of epochs started so far (1 during the first epoch)."""
        return self._epoch

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self

    def __next__(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The next batch, (B, ...) on ``device``; a pair ``(data, targets)`` when there are targets."""
        return self.take(self.batch_size)

    def take(self, n: int) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """The next ``n`` items of the current permutation, for a batch size that changes during a run
        (ProGAN's per-resolution batch sizes); ``next(batches)`` is ``take(batch_size)``.

        When fewer than ``n`` items are left in the epoch, they are skipped and a new epoch starts,
        as the dropped incomplete batch of :meth:`__next__`. The position is part of
        :meth:`state_dict`, so a resumed run takes the same items.

        Args:
            n: items to take, 1 <= n <= N.

        Returns:
            (n, ...) on ``device``; a pair ``(data, targets)`` when there are targets.
        """
        size = len(self.data)
        if _check_batch_size(n) > size:
            raise ValueError(f"cannot take {n} items from a dataset of {size}")
        if len(self._perm) == 0 or self._pos + n > size:  # start a new epoch
            self._set_perm(torch.randperm(size, generator=self.generator))
            self._pos = 0
            self._epoch += 1
        idx = self._perm_on_device[self._pos:self._pos + n]  # (n,)
        self._pos += n
        if self.targets is None:
            return self._gather(self.data, idx)  # (n, ...)
        return self._gather(self.data, idx), self._gather(self.targets, idx)  # (n, ...), (n, ...)

    def _gather(self, tensor: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        if self.on_device:
            return tensor[idx]  # (B, ...)
        if self.device.type != "cuda":
            return tensor[idx].to(self.device)  # (B, ...)
        # Gather into pinned memory (PyTorch's caching host allocator keeps the block alive until
        # the copy is done) so the host-to-device copy can overlap with compute.
        pinned = torch.empty((len(idx), *tensor.shape[1:]), dtype=tensor.dtype, pin_memory=True)
        torch.index_select(tensor, 0, idx, out=pinned)  # (B, ...)
        return pinned.to(self.device, non_blocking=True)  # (B, ...)

    def _set_perm(self, perm: torch.Tensor) -> None:
        self._perm = perm
        self._perm_on_device = perm.to(self.data.device)

    def state_dict(self) -> dict:
        """Everything needed to continue identically; only tensors and ints (safe for
        ``torch.load(..., weights_only=True)``).

        Returns:
            ``{"generator": ByteTensor, "perm": LongTensor (N,) or empty, "pos": int,
            "epoch": int, "n": int, "batch_size": int}``.
        """
        return {
            "generator": self.generator.get_state(),
            "perm": self._perm.clone(),
            "pos": self._pos,
            "epoch": self._epoch,
            "n": len(self.data),
            "batch_size": self.batch_size,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from a :meth:`state_dict` taken on an iterator over the same data.

        Args:
            state: the dict returned by :meth:`state_dict`.

        Raises:
            ValueError: if the state belongs to a dataset of another size or another batch size.
        """
        _require_keys(state, ("generator", "perm", "pos", "n", "batch_size"), "InMemoryBatches")
        n = len(self.data)
        if int(state["n"]) != n or int(state["batch_size"]) != self.batch_size:
            raise ValueError(f"the state is for {int(state['n'])} items in batches of {int(state['batch_size'])}, "
                             f"but this iterator has {n} items in batches of {self.batch_size}; "
                             "rebuild it with the same data and batch_size before loading")
        self.generator.set_state(state["generator"].cpu())
        self._set_perm(state["perm"].to("cpu", torch.int64).clone())
        self._pos = int(state["pos"])
        self._epoch = int(state.get("epoch", 0))


class ToyBatches:
    """An infinite iterator of fresh samples from a :class:`GaussianMixture`, same protocol as
    :class:`InMemoryBatches`.

    Example::

        batches = ToyBatches(ring8(), 256, device=device)
        real = next(batches)  # (256, 2) on device
    """

    def __init__(
        self,
        mixture: GaussianMixture,
        batch_size: int,
        *,
        device: torch.device | str = "cpu",
        generator: torch.Generator | None = None,
    ) -> None:
        """Args:
            mixture: the distribution to sample.
            batch_size: points per batch.
            device: where batches are delivered.
            generator: a CPU generator for the sampling; ``None`` makes one seeded from
                ``torch.initial_seed()``.
        """
        self.mixture = mixture
        self.batch_size = _check_batch_size(batch_size)
        self.device = torch.device(device)
        self.generator = _make_generator(generator)

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self

    def __next__(self) -> torch.Tensor:
        """The next batch, (B, d) on ``device``."""
        return self.mixture.sample(self.batch_size, generator=self.generator).to(self.device)  # (B, d)

    def state_dict(self) -> dict:
        """``{"generator": ByteTensor}``: the state needed to continue identically."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a :meth:`state_dict`.

        Args:
            state: the dict returned by :meth:`state_dict`.
        """
        _require_keys(state, ("generator",), "ToyBatches")
        self.generator.set_state(state["generator"].cpu())


def make_batches(
    name: str,
    batch_size: int,
    *,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
    root: str | os.PathLike | None = None,
    labels: bool = False,
) -> InMemoryBatches | ToyBatches:
    """Batches of a dataset chosen by name (the CLI and the notebooks' parameter cell use this).

    Args:
        name: a toy name (:data:`TOY_DATASETS`) or an image name (:data:`IMAGE_DATASETS`).
        batch_size: items per batch.
        device: where batches are delivered.
        generator: a CPU generator; ``None`` makes one seeded from ``torch.initial_seed()``.
        root: the download folder for image datasets; see :func:`data_root`.
        labels: image datasets only: yield ``(images, labels)`` pairs, for class-conditional GANs.

    Returns:
        :class:`ToyBatches` of (B, 2) points for a toy name, :class:`InMemoryBatches` of
        (B, C, H, W) images in [-1, 1] for an image name.

    Raises:
        ValueError: for an unknown name; the message lists the valid ones.
        DatasetUnavailableError: when an image dataset cannot be downloaded.
    """
    key = _normalise_name(name)
    if key in TOY_DATASETS:
        if labels:
            raise ValueError(f"the toy dataset {name!r} has no class labels; labels=True needs an image dataset")
        return ToyBatches(TOY_DATASETS[key](), batch_size, device=device, generator=generator)
    if key in IMAGE_DATASETS:
        dataset = load_images(key, root)
        return InMemoryBatches(dataset.images, batch_size, targets=dataset.labels if labels else None,
                               device=device, generator=generator)
    raise ValueError(f"unknown dataset {name!r}; {_valid_names_text()}")
