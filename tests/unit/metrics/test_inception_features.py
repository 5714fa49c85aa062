"""ganlib's FID Inception path against torch-fidelity's, with weights the test makes itself (no download).

The features must equal torch-fidelity's, and the same images must give the same FID, IS and KID
through ganlib (its features, then its own closed forms) and through ``torch_fidelity.calculate_metrics``.
"""

import math
import socket
import threading
import urllib.error
import warnings

import numpy as np
import pytest
import torch
import torch_fidelity
import torch_fidelity.feature_extractor_inceptionv3 as tfi
from _inception_weights import FEATURES, make_inception_weights, smooth_images, to_uint8

from ganlib import metrics

N = 16  # images per set: each costs ~0.2 s per forward pass on one core, and every image is seen 3 times
SPLITS = 4  # IS splits of 4 images


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    return make_inception_weights(tmp_path_factory.mktemp("inception") / "inception.pth")


@pytest.fixture(scope="module")
def two_sets():
    """Two sets of N colour images (N, 3, 32, 32) from different distributions (the second brighter)."""
    return smooth_images(N, seed=1), smooth_images(N, shift=0.5, seed=2)


@pytest.fixture(scope="module")
def ours(weights_file, two_sets):
    """ganlib's pool features and logits of both sets: [(pool (N, 2048), logits (N, 1008))] * 2, float64."""
    inception = metrics.inception_v3_features(weights=weights_file, output="both")
    both = [metrics.extract_features(inception, x, batch_size=8) for x in two_sets]  # (N, 3056) each
    return [(f[:, :metrics.INCEPTION_POOL_DIM], f[:, metrics.INCEPTION_POOL_DIM:]) for f in both]


class _Uint8Images(torch.utils.data.Dataset):
    """What torch-fidelity takes: a Dataset of uint8 (3, H, W) tensors."""

    def __init__(self, images):
        self.images = to_uint8(images)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


@pytest.fixture(scope="module")
def theirs(weights_file, two_sets):
    """torch-fidelity's FID, IS (of the first set) and KID of the same images, with the same weights."""
    return torch_fidelity.calculate_metrics(
        input1=_Uint8Images(two_sets[0]), input2=_Uint8Images(two_sets[1]), fid=True, isc=True, kid=True,
        feature_extractor_weights_path=str(weights_file), cuda=False, batch_size=8, cache=False, verbose=False,
        save_cpu_ram=True,  # no DataLoader worker processes
        isc_splits=SPLITS, samples_shuffle=False,  # contiguous splits, as ganlib's inception_score
        kid_subsets=1, kid_subset_size=N,  # one subset holding every sample: no random draw to match
    )


def test_self_made_weights_give_features_that_differ_between_images(ours):
    for pool, logits in ours:
        for feats in (pool, logits):
            spread = feats.std(dim=0)  # (d,) across images
            assert torch.isfinite(feats).all() and spread.mean() > 0.05, spread.mean()
        probs = torch.softmax(logits, dim=1)
        top = probs.max(dim=1).values  # (N,) neither one-hot nor uniform:
        assert top.max() < 0.9 and top.min() > 2 / metrics.INCEPTION_LOGITS_DIM


def test_features_equal_torch_fidelitys_for_colour_and_grey_images(weights_file):
    reference = tfi.FeatureExtractorInceptionV3("inception-v3-compat", FEATURES,
                                                feature_extractor_weights_path=str(weights_file))
    nets = {out: metrics.inception_v3_features(weights=weights_file, output=out) for out in ("pool", "logits", "both")}
    for images in (smooth_images(3, seed=5), smooth_images(3, channels=1, size=28, seed=6)):
        pool, logits = reference(to_uint8(images))  # (3, 2048), (3, 1008); grey repeated to RGB
        with torch.no_grad():
            got = {out: net(images) for out, net in nets.items()}
        # Same network, same uint8 input, same float32 operations: equal up to float32 round-off at most.
        torch.testing.assert_close(got["pool"], pool, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(got["logits"], logits, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(got["both"], torch.cat([pool, logits], dim=1), rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="output must be one of"):
        metrics.inception_v3_features(weights=weights_file, output="pool3")


def _fid_exact_low_rank(x: np.ndarray, y: np.ndarray) -> float:
    """FID of feature sets x (n1, d), y (n2, d) with n << d, without any d x d eigenproblem.

    With centred features A, S = A^T A / (n - 1); the nonzero eigenvalues of S1 S2 are those of
    M M^T with M = A1 A2^T / sqrt((n1 - 1)(n2 - 1)), an n1 x n2 matrix, so
    Tr((S1 S2)^{1/2}) = sum of the singular values of M, accurate to ~1e-15 relative.
    """
    a1, a2 = x - x.mean(0), y - y.mean(0)
    diff = x.mean(0) - y.mean(0)
    c1, c2 = len(x) - 1, len(y) - 1
    tr_sqrt = np.linalg.svd(a1 @ a2.T, compute_uv=False).sum() / math.sqrt(c1 * c2)
    return float(diff @ diff + (a1 ** 2).sum() / c1 + (a2 ** 2).sum() / c2 - 2 * tr_sqrt)


def test_fid_through_ganlib_equals_torch_fidelitys(ours, theirs):
    (pool1, _), (pool2, _) = ours
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # N <= d: singular covariances, expected here
        fid = metrics.frechet_distance(*metrics.gaussian_stats(pool1), *metrics.gaussian_stats(pool2))
    exact = _fid_exact_low_rank(pool1.numpy(), pool2.numpy())
    # N = 16 < d = 2048, so both covariances have rank 15 and S1 S2 has ~2030 zero eigenvalues. ganlib
    # sets the round-off ones to 0 and matches the exact low-rank value tightly. torch-fidelity takes
    # the complex square root of every eigenvalue of the non-symmetric S1 S2, so each round-off
    # eigenvalue (~1e-16 of the largest) adds ~1e-8 of scale, and its means are float32 (~1e-7
    # relative): about 1e-6 of the FID in all (measured: 9e-7). rel=1e-5 allows for another LAPACK;
    # a real disagreement (a missing term, a wrong normalisation) is orders of magnitude larger.
    assert fid == pytest.approx(exact, rel=1e-9)
    assert theirs["frechet_inception_distance"] == pytest.approx(fid, rel=1e-5)
    assert fid > 1.0  # the two sets differ: a test of equal numbers, not of two zeros


def test_inception_score_through_ganlib_equals_torch_fidelitys(ours, theirs):
    (_, logits1), _ = ours
    probs = torch.softmax(logits1, dim=1)  # (N, 1008), float64, as torch-fidelity's softmax of logits_unbiased
    mean, std = metrics.inception_score(probs, splits=SPLITS)
    # Both in float64 from the same float32 logits; only log(softmax) vs log_softmax differ (~1e-16).
    assert mean == pytest.approx(theirs["inception_score_mean"], rel=1e-9)
    assert std == pytest.approx(theirs["inception_score_std"], rel=1e-6, abs=1e-9)
    assert mean > 1.05  # the logits discriminate between images: IS is not its minimum 1


def test_kid_through_ganlib_equals_torch_fidelitys(ours, theirs):
    (pool1, _), (pool2, _) = ours
    mean, std = metrics.kernel_inception_distance(pool1, pool2, subsets=1, subset_size=N)
    # torch-fidelity evaluates the polynomial kernel in float32 on float32 features: each 2048-term
    # dot product carries ~sqrt(2048) * 6e-8 ~ 3e-6 relative round-off (measured on the KID: 2e-7).
    assert mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5)
    assert std == 0.0 and theirs["kernel_inception_distance_std"] == 0.0  # one subset
    assert mean > 1.0


# ---------------------------------------------------------------------------------------------
# Weights that are missing, unreadable or cannot be downloaded: one clear error
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """torch.hub's folder moved to an empty temporary one: no cached weights."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints"


def _assert_one_clear_message(message: str, folder) -> None:
    assert metrics.INCEPTION_WEIGHTS_FILE in message and str(folder) in message
    assert "--inception-weights FILE" in message and "--features digits" in message and "ganlib.classifier" in message
    assert "\n" not in message


def test_offline_and_not_cached_says_which_file_to_put_where(empty_hub, monkeypatch):
    seen = []

    def offline(url, dst, *args, **kwargs):
        seen.append((url, dst, socket.getdefaulttimeout()))
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    before = socket.getdefaulttimeout()
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(metrics.InceptionWeightsUnavailable) as info:
        metrics.inception_v3_features()
    _assert_one_clear_message(str(info.value), empty_hub)
    assert "the download failed (URLError" in str(info.value)
    (url, dst, timeout), = seen
    assert url == tfi.URL_INCEPTION_V3 and url.endswith("/" + metrics.INCEPTION_WEIGHTS_FILE)
    assert dst == str(empty_hub / metrics.INCEPTION_WEIGHTS_FILE) == str(metrics.inception_weights_path())
    assert timeout is not None and timeout > 0 and socket.getdefaulttimeout() == before  # set, then restored


def test_a_download_that_cannot_connect_or_gets_no_answer_fails_fast(empty_hub, monkeypatch):
    """torch.hub's real download path, against local sockets: refused at once, or silent (a dead network)."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        refused_port = closed.getsockname()[1]  # nothing listens there once closed
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections in the kernel's backlog, never answers
    monkeypatch.setattr(metrics.inception, "_DOWNLOAD_TIMEOUT_S", 0.5)
    try:
        for port in (refused_port, silent.getsockname()[1]):
            monkeypatch.setattr(tfi, "URL_INCEPTION_V3", f"http://127.0.0.1:{port}/{metrics.INCEPTION_WEIGHTS_FILE}")
            result = {}
            worker = threading.Thread(target=lambda: result.update(error=_error_of(metrics.inception_v3_features)),
                                      daemon=True)  # a hanging download must not keep pytest from exiting
            worker.start()
            worker.join(timeout=20)
            assert not worker.is_alive(), "the download hangs"
            assert isinstance(result["error"], metrics.InceptionWeightsUnavailable), result["error"]
            _assert_one_clear_message(str(result["error"]), empty_hub)
        assert not list(empty_hub.glob("*")), "no partial file is left behind"
    finally:
        silent.close()


def _error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - returned for the assertions
        return e
    return None


def test_cached_weights_are_used_without_a_download(empty_hub, weights_file, monkeypatch):
    empty_hub.mkdir(parents=True)
    (empty_hub / metrics.INCEPTION_WEIGHTS_FILE).symlink_to(weights_file)
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("downloaded"))
    images = smooth_images(2, seed=7)
    with torch.no_grad():
        cached = metrics.inception_v3_features()(images)
        named = metrics.inception_v3_features(weights=weights_file)(images)
    torch.testing.assert_close(cached, named, rtol=0, atol=0)


class _NotAWeight:
    """A pickled object: loading it would run code, so weights_only refuses it."""


def test_missing_corrupt_foreign_or_unsafe_weight_files(tmp_path):
    folder = metrics.inception_weights_path().parent
    missing = tmp_path / "nope.pth"
    with pytest.raises(metrics.InceptionWeightsUnavailable, match=f"there is no file {missing}") as info:
        metrics.inception_v3_features(weights=missing)
    _assert_one_clear_message(str(info.value), folder)
    corrupt, foreign, unsafe = tmp_path / "corrupt.pth", tmp_path / "foreign.pth", tmp_path / "unsafe.pth"
    corrupt.write_bytes(b"not a checkpoint")
    torch.save({"fc.weight": torch.zeros(10, 64)}, foreign)  # another network's state dict
    torch.save({"fc.weight": _NotAWeight()}, unsafe)
    for path in (corrupt, foreign, unsafe):
        with pytest.raises(metrics.InceptionWeightsUnavailable, match="is corrupt or not a state dict") as info:
            metrics.inception_v3_features(weights=path)
        _assert_one_clear_message(str(info.value), folder)


def test_extract_features_batches_without_gradients():
    lin = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x = torch.randn(10, 1, 2, 2)
    feats = metrics.extract_features(lin, x, batch_size=3)
    assert feats.dtype == torch.float64 and feats.shape == (10, 3) and not feats.requires_grad
    torch.testing.assert_close(feats, lin(x).double().detach())


def test_real_statistics_are_cached_and_invalidated(tmp_path):
    calls = []

    def extractor(x):
        calls.append(len(x))
        return x.flatten(1)[:, :3]  # (B, 3)

    images = torch.randn(50, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    cache = tmp_path / "stats" / "real.npz"
    mu, sigma = metrics.real_statistics(images, extractor, cache, batch_size=20)
    assert calls == [20, 20, 10] and cache.is_file()
    ref_mu, ref_sigma = metrics.gaussian_stats(images.flatten(1)[:, :3])
    np.testing.assert_allclose(mu, ref_mu)
    np.testing.assert_allclose(sigma, ref_sigma)
    mu2, sigma2 = metrics.real_statistics(images, extractor, cache)  # from the cache: no new calls
    assert len(calls) == 3 and np.array_equal(mu, mu2) and np.array_equal(sigma, sigma2)
    with pytest.warns(UserWarning, match="other images"):
        metrics.real_statistics(images + 1, extractor, cache)  # other images: recomputed
    assert len(calls) == 4 and sorted(p.name for p in cache.parent.iterdir()) == ["real.npz"]


def test_real_statistics_from_features_the_caller_has_do_not_run_the_extractor(tmp_path):
    images = torch.randn(30, 1, 2, 2, generator=torch.Generator().manual_seed(1))
    feats = images.flatten(1)[:, :3].double()  # (30, 3)

    def never(x):
        raise AssertionError("the extractor ran although the features were given")

    cache = tmp_path / "real.npz"
    mu, sigma = metrics.real_statistics(images, never, cache, features=feats)
    ref_mu, ref_sigma = metrics.gaussian_stats(feats)
    np.testing.assert_array_equal(mu, ref_mu)
    np.testing.assert_array_equal(sigma, ref_sigma)
    mu2, _ = metrics.real_statistics(images, never, cache)  # written, then read back
    np.testing.assert_array_equal(mu2, ref_mu)
    with pytest.raises(ValueError, match="29 rows for 30 images"):
        metrics.real_statistics(images, never, None, features=feats[:29])
