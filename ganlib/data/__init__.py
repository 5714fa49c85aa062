"""Data for the course: toy 2-D mixtures, the bundled MNIST subset, torchvision image sets.

Three kinds of data, one batch protocol, one concern per file:

- ``toy.py``      **toy mixtures** (:class:`GaussianMixture`): equal-weight isotropic Gaussian mixtures with a
  known density, so a notebook can plot the true ``p_data``, the optimal discriminator, and count how many
  modes a generator covers (:func:`count_modes`). ``ring8`` and ``grid25`` are the two classic mode-collapse
  benchmarks (:data:`TOY_DATASETS`); ``mixture1d`` is the 1-D example of the theory notebook.
- ``images.py``   **images** (:func:`load_images`): ``mnist-5k`` ships inside the package (no download, works
  offline); ``mnist``, ``fashion-mnist`` and ``cifar10`` come from torchvision. All become an
  :class:`ImageDataset` of float32 images in [-1, 1]; :func:`pad_to` pads them to a size (28 -> 32 px).
  The dataset names (:func:`dataset_names`) are checked here.
- ``batches.py``  **batches** (:class:`InMemoryBatches`, :class:`ToyBatches`, :func:`make_batches`): infinite
  iterators of mini-batches whose ``state_dict()`` lets a resumed run draw bitwise-identical batches.
- ``paths.py``    :func:`data_root`, the folder torchvision datasets are downloaded to and read from.

See ``data/README.md`` for the provenance and licence of every dataset.
"""

from ganlib.data.batches import InMemoryBatches, ToyBatches, make_batches
from ganlib.data.images import (
    IMAGE_DATASETS,
    DatasetUnavailableError,
    ImageDataset,
    dataset_names,
    load_images,
    load_mnist_5k,
    pad_to,
)
from ganlib.data.paths import data_root
from ganlib.data.toy import TOY_DATASETS, ArrayLike, GaussianMixture, ModeCoverage, count_modes, grid25, mixture1d, ring8

# Not public, but imported from ganlib.data since before the split: ganlib.domains builds its batches with them.
from ganlib.data.batches import _make_generator, _require_keys  # noqa: F401

__all__ = [
    "data_root",
    "ArrayLike", "GaussianMixture", "ring8", "grid25", "mixture1d", "ModeCoverage", "count_modes", "TOY_DATASETS",
    "ImageDataset", "DatasetUnavailableError", "IMAGE_DATASETS", "dataset_names", "load_mnist_5k", "load_images",
    "pad_to",
    "InMemoryBatches", "ToyBatches", "make_batches",
]
