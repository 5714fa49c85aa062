"""The quality gate of shipped models (ganlib.metrics.gate): what it passes and refuses, and the shipped files.

The gate reads samples with the course's MNIST classifier. Real digits pass it; a collapsed model (only a few
digits), noise, and broken draws fail it with a message per failed bound. Then every model in ganlib/assets is
measured as its asset script measures it before writing.
"""

from __future__ import annotations

import pytest
import torch

from ganlib.data import load_mnist_5k, pad_to
from ganlib.metrics.gate import Gate, GateFailed, measure, measure_model, require
from ganlib.models.stylegan import load_pretrained
from ganlib.recipes.pretrained import load_comparison_runs, load_pretrained_run

SMALL = Gate(n=500)  # the gan bounds on fewer samples: these tests are about the gate's logic


@pytest.fixture(scope="module")
def digits():
    data = load_mnist_5k()
    return pad_to(data.images, 32), data.labels


def _resampled(images):
    return lambda n, g: images[torch.randint(0, len(images), (n,), generator=g)]


def test_real_digits_pass_the_gate(digits):
    images, _ = digits
    result = require(measure("real digits", _resampled(images), SMALL))
    assert result.passed and result.failures == ()
    assert all(0.04 <= share <= 0.20 for share in result.shares) and abs(sum(result.shares) - 1) < 1e-9
    assert result.recall > 0.8 and result.fid < 5


def test_a_collapsed_model_fails_on_its_class_histogram_and_recall(digits):
    images, labels = digits
    collapsed = images[(labels == 3) | (labels == 8)]  # 49 % eights and 31 % threes, as the old StyleGAN drew
    result = measure("collapsed", _resampled(collapsed), SMALL)
    assert not result.passed
    missing = {f"digit {d} is 0.0 % of the samples (bounds 4-20 %)" for d in (0, 1, 2, 6, 7)}
    assert missing <= set(result.failures)
    assert any(f.startswith("recall ") and f.endswith("is under 0.5") for f in result.failures)
    assert "0:  0.0%" in result.histogram() and "FAILED" in result.report()
    with pytest.raises(GateFailed, match="not written: train longer"):
        require(result)


def test_noise_fails_on_fid(digits):
    noise = lambda n, g: torch.rand(n, 1, 32, 32, generator=g) * 2 - 1  # noqa: E731
    result = measure("noise", noise, SMALL)
    assert any(f.startswith("FID (classifier)") and f.endswith("is over 100") for f in result.failures)


def test_the_gate_draws_with_its_own_seed_so_it_repeats(digits):
    images, _ = digits
    first, second = (measure("real", _resampled(images), SMALL) for _ in range(2))
    assert first == second


def test_an_unknown_family_has_no_gate():
    with pytest.raises(ValueError, match="no gate for family 'gann'; the gates: gan, ddpm, vae"):
        measure_model("x", torch.nn.Identity(), "gann")


@pytest.mark.parametrize("draw, message", [
    (lambda n, g: torch.zeros(n - 1, 1, 32, 32), "the gate needs 500 finite images"),
    (lambda n, g: torch.full((n, 1, 32, 32), float("nan")), "finite: False"),
])
def test_a_draw_that_returns_the_wrong_images_is_refused(draw, message):
    with pytest.raises(ValueError, match=message):
        measure("broken", draw, SMALL)


# --------------------------------------------------------------------------- the shipped files

def _shipped():
    """(name, family, draw) of every model in ganlib/assets that a notebook samples from."""
    models = [("wgan-gp", "gan", lambda: load_pretrained_run("wgan-gp").G_ema)]
    models += [(arch, "gan", lambda a=arch: load_pretrained(a)[0]) for arch in ("stylegan1", "stylegan2")]
    for family in ("dcgan", "vae", "ddpm"):
        models += [(f"09 {family} seed {seed}", "gan" if family == "dcgan" else family,
                    lambda f=family, s=seed: load_comparison_runs()[f][s].sampler) for seed in range(3)]
    return models


# Shipped models known to fail their gate, to be retrained (issue 22). Strict: once one is retrained and passes,
# its entry here makes the test fail until it is removed. The DDPMs' draws (2,000 samples of 20 DDIM steps each)
# take minutes on a CPU, so while they are known to fail they are not run (their measured failures, 2026-12:
# FID 117 and digit 1 at 3.5 % for seed 0).
KNOWN_FAILING = {"stylegan1", "stylegan2", "09 dcgan seed 1", "09 dcgan seed 2", "09 vae seed 0", "09 vae seed 1",
                 "09 vae seed 2", "09 ddpm seed 0", "09 ddpm seed 1", "09 ddpm seed 2"}


@pytest.mark.slow
@pytest.mark.parametrize("name, family, load", [
    pytest.param(name, family, load, id=name.replace(" ", "-"),
                 marks=[pytest.mark.xfail(strict=True, run=family != "ddpm", reason="fails its gate; retraining pending")]
                 if name in KNOWN_FAILING else [])
    for name, family, load in _shipped()])
def test_every_shipped_model_passes_its_gate(name, family, load):
    result = measure_model(name, load(), family)  # as its asset script measures it before writing
    print(result.report())
    assert result.passed, result.report()
