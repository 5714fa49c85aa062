"""The Inception-v3 feature path, tested with random weights (no download here)."""

import urllib.error

import numpy as np
import pytest
import torch
import torchvision

from ganlib import metrics


@pytest.fixture(scope="module")
def random_inception():
    torch.manual_seed(0)
    return metrics.inception_v3_features(weights=None)


def test_features_have_2048_dims_for_grey_and_colour_images(random_inception):
    with torch.no_grad():
        assert random_inception(torch.rand(2, 3, 32, 32) * 2 - 1).shape == (2, 2048)
        grey = torch.rand(2, 1, 28, 28) * 2 - 1
        torch.testing.assert_close(random_inception(grey), random_inception(grey.expand(-1, 3, -1, -1)))


def test_weights_from_a_user_file_are_loaded(tmp_path, random_inception):
    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    path = tmp_path / "inception.pth"
    torch.save(net.state_dict(), path)
    loaded = metrics.inception_v3_features(weights=path)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        expected = net.eval()
        expected.transform_input, expected.fc = False, torch.nn.Identity()
        want = expected(torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False))
        torch.testing.assert_close(loaded(x), want)


def test_offline_download_says_which_file_to_put_where(monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torchvision.models.Inception_V3_Weights.IMAGENET1K_V1, "get_state_dict", offline,
                        raising=False)
    with pytest.raises(metrics.InceptionWeightsUnavailable) as info:
        metrics.inception_v3_features()
    message = str(info.value)
    assert metrics.INCEPTION_WEIGHTS_FILE in message and "checkpoints" in message and "offline" in message


def test_missing_or_corrupt_weight_file(tmp_path):
    with pytest.raises(metrics.InceptionWeightsUnavailable, match="no Inception-v3 weights"):
        metrics.inception_v3_features(weights=tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(metrics.InceptionWeightsUnavailable, match="not a state dict"):
        metrics.inception_v3_features(weights=bad)


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
