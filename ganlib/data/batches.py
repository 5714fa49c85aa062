"""Batches: infinite iterators of mini-batches whose ``state_dict()`` lets a resumed run draw
bitwise-identical batches (:class:`InMemoryBatches` of a tensor, :class:`ToyBatches` of a mixture),
and :func:`make_batches`, which picks one by dataset name.
"""

from __future__ import annotations

import os
from typing import Iterator

import torch

from ganlib.data.images import IMAGE_DATASETS, _normalise_name, _valid_names_text, load_images
from ganlib.data.toy import TOY_DATASETS, GaussianMixture

__all__ = ["InMemoryBatches", "ToyBatches", "make_batches"]


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
