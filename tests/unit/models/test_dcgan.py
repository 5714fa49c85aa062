"""Tests of ganlib.models.dcgan: shapes, the DCGAN rules, init, spectral norm, parameter counts."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganlib.data import pad_to
from ganlib.models import dcgan
from ganlib.models.dcgan import (
    DCGAN_PRESETS,
    DCGANConfig,
    DCGANDiscriminator,
    DCGANGenerator,
    build_dcgan,
)

CONVS = (nn.Conv2d, nn.ConvTranspose2d)


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _small(**overrides) -> DCGANConfig:
    """A tiny config, so that each test builds in milliseconds."""
    return DCGANConfig(**{"latent_dim": 8, "g_width": 4, "d_width": 4, **overrides})


def _layers(module: nn.Module) -> list[nn.Module]:
    """The layers of G or D in forward order (their ``net`` is a flat Sequential)."""
    return list(module.net)


def _expected_counts(cfg: DCGANConfig) -> tuple[int, int]:
    """Parameters of G and D from the layer shapes, written out independently of the model code.

    G: latent -> top (4x4), halving the width up to w, then w -> C. Every layer but the last is
    followed by BN (2 parameters per channel) and then has no bias; without BN it has a bias.
    D: C -> w (bias, no BN), doubling the width up to top (BN, no bias), then top -> 1 (bias).
    """
    n = {32: 3, 64: 4}[cfg.image_size]
    k2_g = 4 * 4
    g_widths = [cfg.g_width * 2 ** (n - 1 - i) for i in range(n)]  # e.g. [4w, 2w, w]
    g = cfg.latent_dim * g_widths[0] * k2_g + (2 if cfg.g_batchnorm else 1) * g_widths[0]
    for a, b in zip(g_widths[:-1], g_widths[1:]):
        g += a * b * k2_g + (2 if cfg.g_batchnorm else 1) * b
    g += g_widths[-1] * cfg.channels * k2_g + cfg.channels

    k2_d = 4 * 4 if cfg.downsample == "stride" else 3 * 3
    bn = cfg.d_batchnorm and not cfg.spectral_norm
    d_widths = [cfg.d_width * 2 ** i for i in range(n)]  # e.g. [w, 2w, 4w]
    d = cfg.channels * d_widths[0] * k2_d + d_widths[0]
    for a, b in zip(d_widths[:-1], d_widths[1:]):
        d += a * b * k2_d + (2 if bn else 1) * b
    d += d_widths[-1] * 1 * 4 * 4 + 1
    return g, d


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("width", [2, 8])
def test_shapes(image_size, channels, width):
    torch.manual_seed(0)
    G, D = build_dcgan(_small(image_size=image_size, channels=channels, g_width=width, d_width=width + 1))
    z = torch.randn(3, 8)
    x = G(z)
    assert x.shape == (3, channels, image_size, image_size)
    assert D(x).shape == (3,)  # one logit per image, no trailing dimensions


@pytest.mark.parametrize("preset", list(DCGAN_PRESETS))
def test_presets_build_and_run(preset):
    torch.manual_seed(0)
    G, D = build_dcgan(preset)
    cfg = DCGAN_PRESETS[preset]
    assert G.cfg == cfg and D.cfg == cfg  # the training loop reads G.cfg.latent_dim
    with torch.no_grad():
        x = G(torch.randn(2, cfg.latent_dim))
        assert x.shape == (2, cfg.channels, cfg.image_size, cfg.image_size)
        assert D(x).shape == (2,)


def test_latent_as_a_4d_tensor_gives_the_same_images():
    torch.manual_seed(0)
    G = DCGANGenerator(_small()).eval()
    z = torch.randn(4, 8)
    assert torch.equal(G(z), G(z[:, :, None, None]))


def test_generator_output_is_in_tanh_range():
    torch.manual_seed(0)
    G = DCGANGenerator(_small(channels=3))
    x = G(torch.randn(16, 8))
    assert x.min() >= -1 and x.max() <= 1
    with torch.no_grad():
        _layers(G)[-2].weight.mul_(1e4)  # a huge output layer saturates the Tanh, never exceeds it
    x = G(torch.randn(16, 8))
    assert x.min() >= -1 and x.max() <= 1
    assert (x.abs() > 0.99).float().mean() > 0.5


def test_build_leaves_presets_untouched_and_applies_overrides():
    before = DCGAN_PRESETS["mnist32"]
    G, D = build_dcgan("mnist32", latent_dim=16, d_batchnorm=False)
    assert G.cfg.latent_dim == 16 and not D.cfg.d_batchnorm
    assert DCGAN_PRESETS["mnist32"] == before and DCGAN_PRESETS["mnist32"].latent_dim == 100


# --------------------------------------------------------------------------- the DCGAN rules


@pytest.mark.parametrize("image_size", [32, 64])
def test_discriminator_ends_in_a_conv_to_one_logit_without_sigmoid(image_size):
    G, D = build_dcgan(_small(image_size=image_size))
    for net in (G, D):
        assert not any(isinstance(m, nn.Sigmoid) for m in net.modules())
    last = _layers(D)[-1]
    assert isinstance(last, nn.Conv2d) and last.out_channels == 1
    assert last.kernel_size == (4, 4) and last.stride == (1, 1) and last.padding == (0, 0)  # 4x4 -> 1x1
    torch.manual_seed(0)
    out = D(10 * torch.randn(32, 1, image_size, image_size))
    assert (out < 0).any() or (out > 1).any()  # unbounded logits


@pytest.mark.parametrize("image_size", [32, 64])
def test_no_linear_and_no_pooling_in_the_stride_variant(image_size):
    G, D = build_dcgan(_small(image_size=image_size))
    for net in (G, D):
        for m in net.modules():
            assert not isinstance(m, (nn.Linear, nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d))
    first = _layers(G)[0]
    assert isinstance(first, nn.ConvTranspose2d) and first.in_channels == 8 and first.kernel_size == (4, 4)
    assert all(m.stride == (2, 2) for m in _layers(G)[1:] if isinstance(m, nn.ConvTranspose2d))
    assert all(m.stride == (2, 2) for m in _layers(D)[:-1] if isinstance(m, nn.Conv2d))


def test_pool_variant_uses_stride_one_convs_and_average_pooling():
    cfg = _small(downsample="pool")
    D = DCGANDiscriminator(cfg)
    pools = [m for m in D.modules() if isinstance(m, nn.AvgPool2d)]
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert len(pools) == 3 and len(convs) == 4
    assert all(c.stride == (1, 1) for c in convs)
    assert not any(isinstance(m, nn.Linear) for m in D.modules())
    assert D(torch.randn(2, 1, 32, 32)).shape == (2,)


def test_activations_relu_in_g_leaky_relu_in_d():
    G, D = build_dcgan(_small())
    assert any(isinstance(m, nn.ReLU) for m in G.modules())
    assert not any(isinstance(m, nn.LeakyReLU) for m in G.modules())
    assert isinstance(_layers(G)[-1], nn.Tanh)
    leaky = [m for m in D.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(leaky) == 3 and all(m.negative_slope == 0.2 for m in leaky)
    assert not any(isinstance(m, nn.ReLU) for m in D.modules())


@pytest.mark.parametrize("image_size", [32, 64])
def test_no_batch_norm_at_g_output_or_d_input(image_size):
    G, D = build_dcgan(_small(image_size=image_size))
    g_layers = _layers(G)
    last_conv = max(i for i, m in enumerate(g_layers) if isinstance(m, nn.ConvTranspose2d))
    assert [type(m) for m in g_layers[last_conv + 1:]] == [nn.Tanh]  # conv -> Tanh, no BN
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g_layers) == G.cfg.n_doublings  # all hidden layers

    d_layers = _layers(D)
    assert isinstance(d_layers[0], nn.Conv2d)
    assert isinstance(d_layers[1], nn.LeakyReLU)  # the input layer: conv -> LeakyReLU, no BN
    second_conv = next(i for i, m in enumerate(d_layers) if i > 0 and isinstance(m, nn.Conv2d))
    assert isinstance(d_layers[second_conv + 1], nn.BatchNorm2d)  # the hidden layers have BN
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d_layers) == D.cfg.n_doublings - 1
    assert not isinstance(d_layers[-1], nn.BatchNorm2d)


@pytest.mark.parametrize("overrides", [{"d_batchnorm": False}, {"spectral_norm": True},
                                       {"spectral_norm": True, "downsample": "pool"}])
def test_no_batch_norm_anywhere_in_d_when_switched_off(overrides):
    G, D = build_dcgan(_small(**overrides))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in G.modules())  # G keeps its own


def test_generator_without_batch_norm():
    G = DCGANGenerator(_small(g_batchnorm=False))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in G.modules())
    assert all(m.bias is not None for m in G.modules() if isinstance(m, nn.ConvTranspose2d))


# --------------------------------------------------------------------------- init


def _pooled(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().flatten() for t in tensors])


@pytest.mark.parametrize("overrides", [{}, {"spectral_norm": True}])
def test_init_statistics(overrides):
    torch.manual_seed(0)
    G, D = build_dcgan("cifar32", **overrides)
    for net in (G, D):
        weights, biases, bn_weights = [], [], []
        for m in net.modules():
            if isinstance(m, CONVS):
                # with spectral norm the stored weight is the original, before division by sigma
                w = m.parametrizations.weight.original if parametrize.is_parametrized(m) else m.weight
                weights.append(w)
                if m.bias is not None:
                    biases.append(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                bn_weights.append(m.weight)
                biases.append(m.bias)
        for w in weights:
            n = w.numel()
            # sample mean ~ N(0, 0.02^2 / n), sample std ~ 0.02 (1 +- 1/sqrt(2n)): 5 standard errors
            assert abs(w.mean().item()) < 5 * 0.02 / math.sqrt(n), n
            assert abs(w.std().item() / 0.02 - 1) < 5 / math.sqrt(2 * n), n
        assert all((b == 0).all() for b in biases)
        if bn_weights:
            g = _pooled(bn_weights)
            assert abs(g.mean().item() - 1) < 5 * 0.02 / math.sqrt(g.numel())
            assert abs(g.std().item() / 0.02 - 1) < 5 / math.sqrt(2 * g.numel())


def test_init_by_type_helper_reinitialises_a_layer():
    layer = nn.Conv2d(16, 16, 3)
    nn.init.constant_(layer.weight, 5.0)
    nn.init.constant_(layer.bias, 5.0)
    dcgan.init_dcgan_weights_(layer)
    assert layer.weight.abs().max() < 0.2 and (layer.bias == 0).all()


# --------------------------------------------------------------------------- spectral norm


@pytest.mark.parametrize("downsample", ["stride", "pool"])
def test_spectral_norm_parametrizes_every_d_conv_and_normalises_it(downsample):
    torch.manual_seed(0)
    D = DCGANDiscriminator(DCGANConfig(d_width=16, downsample=downsample, spectral_norm=True)).train()
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4
    assert all(parametrize.is_parametrized(c, "weight") for c in convs)
    x = torch.randn(1, 1, 32, 32)
    # Each training-mode forward runs one power iteration per layer. A random Gaussian matrix has
    # nearly equal top singular values, so the iteration is slow: after 15 (at construction) + 30
    # the error was at most 0.03 over 40 seeds; after 100 more it is below 0.006.
    for _ in range(30):
        D(x)
    D.eval()  # read the weights without a further iteration
    for c in convs:
        w = c.weight.detach().reshape(c.out_channels, -1)  # (out, in * k * k), Miyato et al.'s matrix
        sigma = torch.linalg.matrix_norm(w, ord=2).item()
        # the power iteration underestimates sigma(W), so W / estimate has norm >= 1
        assert 1 - 1e-4 < sigma < 1.05, sigma
    # the plain D is not normalised: its weights are N(0, 0.02), far from unit spectral norm
    plain = DCGANDiscriminator(DCGANConfig(d_width=16))
    assert not any(parametrize.is_parametrized(m) for m in plain.modules())


def test_spectral_norm_discriminator_trains():
    torch.manual_seed(0)
    D = DCGANDiscriminator(_small(spectral_norm=True))
    D(torch.randn(2, 1, 32, 32)).sum().backward()
    originals = [m.parametrizations.weight.original for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in originals)


# --------------------------------------------------------------------------- parameter counts


def test_parameter_counts_of_mnist32_written_out():
    G, D = build_dcgan("mnist32")  # latent 100, width 32, 1 channel
    g = (100 * 128 * 16 + 2 * 128) + (128 * 64 * 16 + 2 * 64) + (64 * 32 * 16 + 2 * 32) + (32 * 1 * 16 + 1)
    d = (1 * 32 * 16 + 32) + (32 * 64 * 16 + 2 * 64) + (64 * 128 * 16 + 2 * 128) + (128 * 1 * 16 + 1)
    assert (_n_params(G), _n_params(D)) == (g, d) == (369_601, 166_817)


@pytest.mark.parametrize("overrides", [
    {}, {"image_size": 64, "channels": 3}, {"g_batchnorm": False, "d_batchnorm": False},
    {"spectral_norm": True}, {"downsample": "pool"}, {"g_width": 3, "d_width": 5, "latent_dim": 7},
])
def test_parameter_counts_match_the_closed_form(overrides):
    cfg = _small(**overrides)
    G, D = build_dcgan(cfg)
    assert (_n_params(G), _n_params(D)) == _expected_counts(cfg)


# --------------------------------------------------------------------------- contracts


def test_wrong_input_shapes_raise_naming_the_expected_shape():
    G, D = build_dcgan("mnist32")
    with pytest.raises(AssertionError, match=r"\(B, 1, 32, 32\)"):
        D(torch.randn(2, 1, 28, 28))  # MNIST not padded
    with pytest.raises(AssertionError, match=r"\(B, 1, 32, 32\)"):
        D(torch.randn(1, 32, 32))  # missing batch dimension
    with pytest.raises(AssertionError, match=r"\(B, 100\)"):
        G(torch.randn(2, 64))
    with pytest.raises(AssertionError, match=r"\(B, 100\)"):
        G(torch.randn(2, 100, 2, 2))


def test_unknown_preset_raises_listing_presets():
    with pytest.raises(ValueError, match="mnist28") as info:
        build_dcgan("mnist28")
    for name in DCGAN_PRESETS:
        assert name in str(info.value)


@pytest.mark.parametrize("overrides", [{"image_size": 28}, {"downsample": "max"}, {"g_width": 0}])
def test_invalid_configs_raise(overrides):
    with pytest.raises(ValueError):
        DCGANConfig(**overrides)


def test_constructors_stay_on_the_cpu_in_float32():
    G, D = build_dcgan(_small())
    for p in [*G.parameters(), *D.parameters()]:
        assert p.device.type == "cpu" and p.dtype == torch.float32


# --------------------------------------------------------------------------- pad_to


def test_pad_to_keeps_the_centre_and_fills_the_background():
    x = torch.rand(2, 1, 28, 28) * 2 - 1
    y = pad_to(x, 32)
    assert y.shape == (2, 1, 32, 32)
    assert torch.equal(y[:, :, 2:30, 2:30], x)
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert (y[:, :, border] == -1).all()


def test_pad_to_single_image_odd_margin_and_custom_value():
    x = torch.zeros(3, 29, 30)
    y = pad_to(x, 32, value=0.5)
    assert y.shape == (3, 32, 32)
    assert torch.equal(y[:, 1:30, 1:31], x)  # margins 1 + 2 rows, 1 + 1 columns
    assert (y[:, 0] == 0.5).all() and (y[:, 30:] == 0.5).all() and (y[:, :, 0] == 0.5).all()
    with pytest.raises(AssertionError):
        pad_to(torch.zeros(1, 1, 33, 33), 32)


def test_padded_mnist_feeds_the_discriminator():
    G, D = build_dcgan(_small())
    assert D(pad_to(torch.rand(4, 1, 28, 28) * 2 - 1)).shape == (4,)
