"""Tests of ganlib.data: toy mixtures, mode counting, image loading, batch iterators.

CPU-only and offline: the torchvision path is exercised on tiny made-up files in the formats
torchvision reads, and network access is patched to fail.
"""

from __future__ import annotations

import io
import math
import pickle
import socket
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from ganlib import data as gd
from ganlib.data import (
    DatasetUnavailableError,
    GaussianMixture,
    ImageDataset,
    InMemoryBatches,
    ToyBatches,
    count_modes,
    data_root,
    dataset_names,
    grid25,
    load_images,
    load_mnist_5k,
    make_batches,
    mixture1d,
    ring8,
)


# --------------------------------------------------------------------------- data_root


def test_data_root_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("GANLIB_DATA", str(tmp_path / "cache"))
    assert data_root() == tmp_path / "cache"
    assert data_root(tmp_path / "explicit") == tmp_path / "explicit"  # an argument wins


def test_data_root_default_is_data_in_cwd(monkeypatch, tmp_path):
    monkeypatch.delenv("GANLIB_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    assert data_root() == tmp_path / "data"


# --------------------------------------------------------------------------- toy mixtures


def test_ring8_means_on_circle_45_degrees_apart():
    mix = ring8(radius=3.0, std=0.1)
    assert (mix.n_modes, mix.dim, mix.std, mix.name) == (8, 2, 0.1, "ring8")
    means = mix.means.double()
    assert mix.means.dtype == torch.float32
    torch.testing.assert_close(means.norm(dim=1), torch.full((8,), 3.0, dtype=torch.float64))
    angles = torch.atan2(means[:, 1], means[:, 0]).rad2deg().remainder(360).sort().values
    torch.testing.assert_close(angles, torch.arange(8, dtype=torch.float64) * 45.0, atol=1e-4, rtol=0)
    assert torch.cdist(means, means).add(torch.eye(8) * 100).min() > 1.0  # 8 distinct points


def test_grid25_means():
    mix = grid25()
    assert (mix.n_modes, mix.dim) == (25, 2)
    coords = {(float(x), float(y)) for x, y in mix.means}
    assert coords == {(x, y) for x in (-4.0, -2.0, 0.0, 2.0, 4.0) for y in (-4.0, -2.0, 0.0, 2.0, 4.0)}
    torch.testing.assert_close(mix.means.mean(0), torch.zeros(2))


def test_mixture_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"\(K, d\)"):
        GaussianMixture(torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="std"):
        GaussianMixture(torch.zeros(3, 2), 0.0)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        ring8().pdf(np.zeros((4, 3)))


def test_pdf_1d_matches_scipy_and_integrates_to_one():
    mix = mixture1d()
    assert (mix.dim, mix.n_modes) == (1, 3)
    x = np.linspace(-8, 9, 20001)
    p = mix.pdf(x)  # (N,) input is accepted for d == 1
    assert p.dtype == np.float64 and p.shape == x.shape
    expected = np.mean([stats.norm.pdf(x, loc=m, scale=0.5) for m in (-2.0, 1.0, 3.0)], axis=0)
    np.testing.assert_allclose(p, expected, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(mix.pdf(torch.from_numpy(x).float()[:, None]), mix.pdf(x.astype(np.float32)))
    assert integrate.trapezoid(p, x) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("factory, half_width, step", [(ring8, 2.3, 0.0125), (grid25, 4.6, 0.025)])
def test_pdf_2d_integrates_to_one(factory, half_width, step):
    mix = factory()
    axis = np.arange(-half_width, half_width + step / 2, step)
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    p = mix.pdf(np.stack([xs.ravel(), ys.ravel()], axis=1)).reshape(xs.shape)
    assert p.sum() * step**2 == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("mix", [ring8(std=0.1), grid25(), mixture1d()], ids=lambda m: m.name)
def test_sample_statistics_match_mixture(mix):
    gen = torch.Generator().manual_seed(0)
    x = mix.sample(200_000, generator=gen).double()
    assert x.shape == (200_000, mix.dim)
    means = mix.means.double()
    # mean = average of the modes; covariance = std^2 I + covariance of the modes (equal weights)
    centred = means - means.mean(0)
    cov = mix.std**2 * torch.eye(mix.dim, dtype=torch.float64) + centred.T @ centred / mix.n_modes
    scale = cov.diagonal().sqrt()
    torch.testing.assert_close(x.mean(0), means.mean(0), atol=float(5 * scale.max() / math.sqrt(len(x))), rtol=0)
    torch.testing.assert_close(torch.cov(x.T).reshape(mix.dim, mix.dim), cov, atol=0.02 * float(cov.diagonal().max()), rtol=0)


def test_sample_uses_only_the_generator():
    mix = ring8()
    a = mix.sample(50, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(123)  # the global generator must not matter
    b = mix.sample(50, generator=torch.Generator().manual_seed(3))
    assert a.dtype == torch.float32 and a.device.type == "cpu"
    assert torch.equal(a, b)


# --------------------------------------------------------------------------- count_modes


def test_count_modes_true_samples_cover_everything():
    for mix in (ring8(), grid25()):
        cov = count_modes(mix.sample(10_000, generator=torch.Generator().manual_seed(1)), mix)
        assert (cov.n_modes, cov.total_modes) == (mix.n_modes, mix.n_modes)
        assert cov.high_quality > 0.97  # P(chi2_2 <= 9) = 0.989
        assert cov.counts.shape == (mix.n_modes,) and cov.counts.sum() == round(cov.high_quality * 10_000)


def test_count_modes_three_modes():
    mix = ring8()
    only3 = GaussianMixture(mix.means[[0, 2, 5]], mix.std)
    cov = count_modes(only3.sample(3_000, generator=torch.Generator().manual_seed(2)).numpy(), mix)
    assert cov.n_modes == 3
    assert set(np.flatnonzero(cov.counts)) == {0, 2, 5}
    assert str(cov) == f"3/8 modes, {cov.high_quality:.0%} high-quality samples"


def test_count_modes_far_samples_are_not_high_quality():
    cov = count_modes(torch.full((500, 2), 50.0), ring8())
    assert (cov.n_modes, cov.high_quality) == (0, 0.0)
    assert str(cov) == "0/8 modes, 0% high-quality samples"


def test_count_modes_min_count_default_is_a_fifth_of_fair_share():
    mix = mixture1d()
    # 100 samples, fair share 33.3 -> min_count 7: a mode with 6 samples is not covered, 7 is
    x = torch.tensor([-2.0] * 87 + [1.0] * 6 + [3.0] * 7)  # (N,) accepted for d == 1
    cov = count_modes(x, mix)
    assert cov.counts.tolist() == [87, 6, 7] and cov.n_modes == 2
    assert count_modes(x, mix, min_count=1).n_modes == 3


# --------------------------------------------------------------------------- names


def test_dataset_names():
    assert dataset_names() == ["ring8", "grid25", "mnist-5k", "mnist", "fashion-mnist", "cifar10"]


@pytest.mark.parametrize("call", [lambda: load_images("mnist5"), lambda: make_batches("mnist5", 8)])
def test_unknown_name_lists_valid_names(call):
    with pytest.raises(ValueError) as err:
        call()
    message = str(err.value)
    for name in dataset_names():
        assert name in message
    assert "'mnist5'" in message and "not images" in message


def test_toy_name_is_not_an_image_dataset():
    with pytest.raises(ValueError, match="toy 2-D point set"):
        load_images("ring8")


# --------------------------------------------------------------------------- bundled MNIST


def test_bundled_mnist_5k(monkeypatch):
    calls = []
    real_files = gd.images.resources.files

    def spy(package):
        calls.append(package)
        return real_files(package)

    monkeypatch.setattr(gd.images.resources, "files", spy)
    ds = load_images("mnist-5k")
    assert calls == ["ganlib"]  # read through importlib.resources, not a path next to the source
    assert isinstance(ds, ImageDataset) and ds.name == "mnist-5k" and len(ds) == 5000
    assert ds.images.shape == (5000, 1, 28, 28) and ds.images.dtype == torch.float32
    assert ds.images.min().item() == -1.0 and ds.images.max().item() == 1.0
    assert ds.labels.dtype == torch.int64
    assert torch.bincount(ds.labels).tolist() == [500] * 10
    assert ds.classes == tuple("0123456789")
    assert torch.equal(load_mnist_5k().images, ds.images)
    with np.load(io.BytesIO((real_files("ganlib") / "assets" / "mnist_5k.npz").read_bytes())) as npz:
        raw = torch.from_numpy(npz["images"])
    assert torch.equal(ds.images[:, 0], raw.float() / 127.5 - 1)
    with pytest.raises(ValueError, match="no test split"):
        load_images("mnist-5k", train=False)


def test_make_batches_by_name():
    torch.manual_seed(0)
    images = make_batches("mnist-5k", 32)
    assert isinstance(images, InMemoryBatches) and next(images).shape == (32, 1, 28, 28)
    points = make_batches("grid25", 16)
    assert isinstance(points, ToyBatches) and next(points).shape == (16, 2)


# --------------------------------------------------------------------------- torchvision path


def _write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array in the IDX format of the MNIST files (magic 0x08 = unsigned byte)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _fake_mnist(root: Path, folder: str, resources: list) -> tuple[np.ndarray, np.ndarray]:
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    pixels[0] = 0
    pixels[1] = 255
    labels = np.arange(12, dtype=np.uint8) % 10
    for gz_name, _md5 in resources:  # e.g. "train-images-idx3-ubyte.gz"
        name = gz_name.removesuffix(".gz")
        _write_idx(raw / name, pixels if "images" in name else labels)
    return pixels, labels


@pytest.mark.parametrize("name, cls_name, folder", [("mnist", "MNIST", "MNIST"),
                                                    ("fashion-mnist", "FashionMNIST", "FashionMNIST")])
def test_torchvision_mnist_path_on_tiny_files(tmp_path, name, cls_name, folder):
    import torchvision.datasets

    pixels, labels = _fake_mnist(tmp_path, folder, getattr(torchvision.datasets, cls_name).resources)
    for train in (True, False):
        ds = load_images(name, root=tmp_path, train=train, download=False)
        assert ds.name == name and ds.images.shape == (12, 1, 28, 28) and ds.images.dtype == torch.float32
        assert torch.equal(ds.images[:, 0], torch.from_numpy(pixels).float() / 127.5 - 1)
        assert ds.images.min().item() == -1.0 and ds.images.max().item() == 1.0
        assert ds.labels.dtype == torch.int64 and ds.labels.tolist() == labels.tolist()
        assert len(ds.classes) == 10


def test_torchvision_cifar10_path_on_tiny_files(tmp_path, monkeypatch):
    import torchvision.datasets.cifar as tv_cifar

    # the real files are checked against fixed MD5 sums; accept our tiny ones by existence
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda path, md5=None: Path(path).is_file())
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    chw = rng.integers(0, 256, size=(6, 3, 32, 32), dtype=np.uint8)  # CIFAR stores rows as C*H*W
    labels = [3, 1, 4, 1, 5, 9]
    for batch in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(folder / batch, "wb") as f:
            pickle.dump({"data": chw.reshape(6, -1), "labels": labels}, f)
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": names}, f)

    ds = load_images("cifar10", root=tmp_path, train=False, download=False)
    assert ds.images.shape == (6, 3, 32, 32)
    assert torch.equal(ds.images, torch.from_numpy(chw).float() / 127.5 - 1)  # HWC -> CHW undone
    assert ds.labels.tolist() == labels and ds.classes == tuple(names)
    assert len(load_images("cifar10", root=tmp_path, train=True, download=False)) == 30


@pytest.fixture
def offline(monkeypatch):
    """Make every network access fail, the way it does on an offline machine."""

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("offline")

    def no_socket(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_socket)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10"])
def test_offline_download_raises_helpful_error(offline, tmp_path, name):
    with pytest.raises(DatasetUnavailableError) as err:
        load_images(name, root=tmp_path)
    message = str(err.value)
    assert isinstance(err.value, RuntimeError)
    assert f"'{name}'" in message and str(tmp_path) in message
    assert "offline" in message and "mnist-5k" in message and "GANLIB_DATA" in message
    assert err.value.__cause__ is not None


def test_missing_files_without_download(tmp_path):
    with pytest.raises(DatasetUnavailableError, match="download=False") as err:
        load_images("mnist", root=tmp_path, download=False)
    assert "mnist-5k" in str(err.value) and str(tmp_path) in str(err.value)


# --------------------------------------------------------------------------- batches


def _roundtrip(state: dict) -> dict:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def test_in_memory_batches_cover_each_element_once_per_epoch():
    batches = InMemoryBatches(torch.arange(100), 10, generator=torch.Generator().manual_seed(0))
    assert batches.batches_per_epoch == 10
    epochs = [torch.cat([next(batches) for _ in range(10)]) for _ in range(3)]
    for epoch in epochs:
        assert torch.equal(epoch.sort().values, torch.arange(100))
    assert not torch.equal(epochs[0], epochs[1])  # a fresh permutation per epoch
    assert batches.epoch == 3


def test_in_memory_batches_drop_last_and_keep_shape():
    data = torch.arange(103 * 4, dtype=torch.float32).reshape(103, 1, 2, 2)  # (N, C, H, W)
    batches = InMemoryBatches(data, 10, generator=torch.Generator().manual_seed(0))
    epoch = torch.cat([next(batches) for _ in range(10)])  # 10 full batches, 3 items dropped
    assert epoch.shape == (100, 1, 2, 2)
    ids = epoch[:, 0, 0, 0].long() // 4
    assert len(set(ids.tolist())) == 100
    assert batches.state_dict()["pos"] == 100
    next(batches)
    assert batches.epoch == 2 and batches.state_dict()["pos"] == 10


def test_in_memory_batches_rejects_batch_larger_than_data():
    with pytest.raises(ValueError, match="larger than the dataset"):
        InMemoryBatches(torch.zeros(5, 3), 6)
    with pytest.raises(ValueError, match="positive"):
        InMemoryBatches(torch.zeros(5, 3), 0)


@pytest.mark.parametrize("consumed", [0, 7, 10, 23])
def test_in_memory_batches_resume_bitwise(consumed):
    data = torch.randn(50, 3, 4, 4, generator=torch.Generator().manual_seed(5))
    first = InMemoryBatches(data, 8, generator=torch.Generator().manual_seed(1))
    for _ in range(consumed):
        next(first)
    state = first.state_dict()
    assert all(isinstance(v, (torch.Tensor, int)) for v in state.values())
    expected = [next(first) for _ in range(20)]  # crosses several epoch boundaries

    for loaded in (state, _roundtrip(state)):
        resumed = InMemoryBatches(data, 8, generator=torch.Generator().manual_seed(999))
        resumed.load_state_dict(loaded)
        for want in expected:
            assert torch.equal(next(resumed), want)


def test_in_memory_batches_state_must_match():
    state = InMemoryBatches(torch.zeros(50), 8).state_dict()
    with pytest.raises(ValueError, match="same data and batch_size"):
        InMemoryBatches(torch.zeros(40), 8).load_state_dict(state)
    with pytest.raises(ValueError, match="same data and batch_size"):
        InMemoryBatches(torch.zeros(50), 4).load_state_dict(state)


def test_default_generator_follows_torch_seed():
    torch.manual_seed(42)
    a = [next(InMemoryBatches(torch.arange(30), 5)) for _ in range(1)]
    b = next(ToyBatches(ring8(), 5))
    torch.manual_seed(42)
    assert torch.equal(a[0], next(InMemoryBatches(torch.arange(30), 5)))
    assert torch.equal(b, next(ToyBatches(ring8(), 5)))


def test_toy_batches_resume_bitwise():
    first = ToyBatches(grid25(), 64, generator=torch.Generator().manual_seed(1))
    for _ in range(3):
        next(first)
    state = first.state_dict()
    expected = [next(first) for _ in range(5)]
    assert expected[0].shape == (64, 2) and expected[0].dtype == torch.float32
    for loaded in (state, _roundtrip(state)):
        resumed = ToyBatches(grid25(), 64)
        resumed.load_state_dict(loaded)
        for want in expected:
            assert torch.equal(next(resumed), want)
