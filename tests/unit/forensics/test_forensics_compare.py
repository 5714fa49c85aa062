"""ganlib.forensics (spectra, detector, watermark, class balance) and ganlib.compare (notebook 09's table)."""

from __future__ import annotations

import math

import pytest
import torch

from ganlib import compare, data, forensics, sampling
from ganlib.data import pad_to
from ganlib.models.dcgan import build_dcgan
from ganlib.models.diffusion import DDPM, DiffusionConfig
from ganlib.models.vae import VAE


def _cosine(k: int, size: int = 32) -> torch.Tensor:
    """An image (1, 1, size, size) that varies as cos(2 pi k x / size) along x."""
    x = torch.arange(size, dtype=torch.float64)
    return torch.cos(2 * math.pi * k * x / size).expand(size, size)[None, None].float()


@pytest.mark.parametrize("k", [1, 5, 16])
def test_a_cosine_puts_all_its_power_in_its_own_ring(k):
    spectrum = forensics.radial_spectrum(_cosine(k))
    assert spectrum.shape == (17,)
    assert spectrum[k] > 0 and torch.allclose(spectrum[torch.arange(17) != k], torch.zeros(16, dtype=torch.float64),
                                              atol=1e-6 * spectrum[k].item())


def test_high_frequency_fraction_of_extremes_and_of_blur():
    assert forensics.high_frequency_fraction(_cosine(16)) == pytest.approx(1.0)  # the checkerboard of columns
    assert forensics.high_frequency_fraction(_cosine(2)) == pytest.approx(0.0, abs=1e-12)
    digits = pad_to(data.load_mnist_5k().images[:200], 32)
    blurred = torch.nn.functional.avg_pool2d(digits, 3, stride=1, padding=1)
    assert forensics.high_frequency_fraction(blurred) < 0.5 * forensics.high_frequency_fraction(digits)


def test_detection_accuracy_is_balanced():
    assert forensics.detection_accuracy(torch.tensor([-1.0, 0.0]), torch.tensor([2.0])) == 1.0
    assert forensics.detection_accuracy(torch.ones(3), torch.ones(300)) == 0.5
    acc = forensics.detection_accuracy(torch.tensor([-1.0, -1.0, -1.0, 1.0]), torch.tensor([1.0, -1.0]))
    assert isinstance(acc, float) and acc == pytest.approx(0.625)


def test_a_detector_separates_what_differs_and_not_what_does_not():
    g = torch.Generator().manual_seed(0)
    real = torch.rand(600, 1, 32, 32, generator=g) * 2 - 1
    shifted = (torch.rand(600, 1, 32, 32, generator=g) * 2 - 1) * 0.5 + 0.3  # other range: easy to tell
    detector = forensics.train_detector(real[:400], shifted[:400], steps=80, seed=0)
    acc = forensics.detection_accuracy(forensics.detector_logits(detector, real[400:]),
                                       forensics.detector_logits(detector, shifted[400:]))
    assert acc > 0.95
    same = forensics.train_detector(real[:200], real[200:400], steps=80, seed=0)  # two halves of one set
    acc_same = forensics.detection_accuracy(forensics.detector_logits(same, real[400:500]),
                                            forensics.detector_logits(same, real[500:]))
    assert abs(acc_same - 0.5) < 0.15


def test_the_watermark_score_is_a_z_statistic():
    g = torch.Generator().manual_seed(1)
    images = torch.rand(4000, 1, 32, 32, generator=g) * 2 - 1  # i.i.d. pixels in [-1, 1]: the score is about N(0, 1)
    scores = forensics.watermark_score(images, key=5)
    assert abs(scores.mean().item()) < 0.06 and scores.std().item() == pytest.approx(1.0, abs=0.05)
    marked = forensics.embed_watermark(images, key=5, strength=0.1)
    expected = 0.1 * math.sqrt(1024) / marked.flatten(1).std(1)  # s sqrt(D) / std, the mark's share of the score
    assert torch.allclose(forensics.watermark_score(marked, key=5).mean(), expected.mean().double(), rtol=0.1)
    assert forensics.watermark_score(marked, key=6).abs().mean() < 1.0  # another key finds nothing
    assert marked.min() >= -1 and marked.max() <= 1
    with pytest.raises(ValueError, match="strength"):
        forensics.embed_watermark(images, key=5, strength=1.5)


def test_class_fractions_of_real_digits_follow_their_labels():
    digits = data.load_mnist_5k()
    fractions = forensics.class_fractions(digits.images[:1000])
    truth = torch.bincount(digits.labels[:1000], minlength=10).double() / 1000
    assert fractions.sum().item() == pytest.approx(1.0) and (fractions - truth).abs().max() < 0.05


@pytest.fixture(scope="module")
def three_families():
    torch.manual_seed(0)
    G, _ = build_dcgan("mnist32")
    return {"gan": G.eval(), "vae": VAE().eval(),
            "ddpm": DDPM(DiffusionConfig(width=8, channel_mult=(1, 2), timesteps=20)).eval()}


def test_draw_gives_images_from_every_family(three_families):
    for family, model in three_families.items():
        assert compare.family_of(model) == family
        images = sampling.draw(model, 7, generator=torch.Generator().manual_seed(0), steps=3, batch_size=4)
        assert images.shape == (7, 1, 32, 32) and images.min() >= -1 and images.max() <= 1, family
        again = sampling.draw(model, 7, generator=torch.Generator().manual_seed(0), steps=3, batch_size=4)
        assert torch.equal(images, again), f"{family}: the same generator seed must give the same images"


def test_only_the_likelihood_models_have_bits_per_dim(three_families):
    x = (torch.randint(0, 256, (6, 1, 32, 32), generator=torch.Generator().manual_seed(0)) / 127.5 - 1).float()
    g = torch.Generator().manual_seed(0)
    assert compare.bits_per_dim(three_families["gan"], x, generator=g) is None
    for family in ("vae", "ddpm"):
        bpd = compare.bits_per_dim(three_families[family], x, generator=g, t_samples=2, batch_size=4)
        assert isinstance(bpd, float) and 0 < bpd < 100, family
    per_image = compare.vae_bits_per_dim(three_families["vae"], x, generator=torch.Generator().manual_seed(3))
    assert per_image.shape == (6,)


def test_score_and_timing(three_families):
    real = pad_to(data.load_mnist_5k().images[:300], 32)
    s = compare.score(real[:150], real[150:])
    assert s.fid < 50 and s.precision > 0.5 and s.recall > 0.5 and 0 < s.sharpness < 1
    assert compare.seconds_per_image(three_families["gan"], n=4) > 0
