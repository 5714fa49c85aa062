"""Tests of ganlib.models.mlp: shapes, parameter counts in closed form, contracts."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ganlib.models import mlp
from ganlib.models.mlp import MLP_PRESETS, MLPConfig, MLPDiscriminator, MLPGenerator, build_mlp_gan


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _linear_params(widths: list[int]) -> int:
    """sum over layers of (in * out + out): weights and biases of a chain of Linear layers."""
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


@pytest.mark.parametrize("preset", list(MLP_PRESETS))
def test_shapes(preset):
    torch.manual_seed(0)
    G, D = build_mlp_gan(preset)
    cfg = MLP_PRESETS[preset]
    z = torch.randn(5, cfg.latent_dim)
    x = G(z)
    assert x.shape == (5, *cfg.data_shape)
    logits = D(x)
    assert logits.shape == (5,)  # one logit per example, no trailing 1


def test_preset_shapes_are_the_documented_ones():
    assert MLP_PRESETS["toy2d"].data_shape == (2,)
    assert MLP_PRESETS["mnist"].data_shape == (1, 28, 28)


@pytest.mark.parametrize("preset", list(MLP_PRESETS))
def test_discriminator_ends_in_a_linear_layer_without_sigmoid(preset):
    _, D = build_mlp_gan(preset)
    assert not any(isinstance(m, nn.Sigmoid) for m in D.modules())
    last = [m for m in D.modules() if not isinstance(m, (nn.Sequential, MLPDiscriminator))][-1]
    assert isinstance(last, nn.Linear) and last.out_features == 1
    # logits are unbounded: a large input gives values outside (0, 1)
    torch.manual_seed(0)
    out = D(100 * torch.randn(64, *D.cfg.data_shape))
    assert (out < 0).any() or (out > 1).any()


@pytest.mark.parametrize("preset", list(MLP_PRESETS))
def test_parameter_counts_in_closed_form(preset):
    cfg = MLP_PRESETS[preset]
    G, D = build_mlp_gan(preset)
    n_out = math.prod(cfg.data_shape)
    g_widths = [cfg.latent_dim, *cfg.g_hidden, n_out]
    g_expected = _linear_params(g_widths) + (2 * sum(cfg.g_hidden) if cfg.g_batchnorm else 0)  # BN: gamma, beta
    d_expected = _linear_params([n_out, *cfg.d_hidden, 1])
    assert _n_params(G) == g_expected
    assert _n_params(D) == d_expected


def test_parameter_counts_by_hand_for_toy2d():
    # G: 2->128->128->128->2 ; D: 2->128->128->128->1
    g = (2 * 128 + 128) + 2 * (128 * 128 + 128) + (128 * 2 + 2)
    d = (2 * 128 + 128) + 2 * (128 * 128 + 128) + (128 * 1 + 1)
    G, D = build_mlp_gan("toy2d")
    assert (_n_params(G), _n_params(D)) == (g, d)


def test_batchnorm_only_where_asked():
    G, D = build_mlp_gan("mnist")
    assert sum(isinstance(m, nn.BatchNorm1d) for m in G.modules()) == len(MLP_PRESETS["mnist"].g_hidden)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in D.modules())
    G, _ = build_mlp_gan("toy2d")
    assert not any(isinstance(m, nn.BatchNorm1d) for m in G.modules())


def test_generator_rejects_wrong_latent_shape():
    G, _ = build_mlp_gan("toy2d", latent_dim=3)
    with pytest.raises(AssertionError, match=r"\(B, 3\)"):
        G(torch.randn(4, 2))
    with pytest.raises(AssertionError, match=r"\(B, 3\)"):
        G(torch.randn(4, 3, 1))


def test_discriminator_rejects_wrong_sample_shape():
    _, D = build_mlp_gan("mnist", data_shape=(1, 8, 8))
    with pytest.raises(AssertionError, match=r"\(B, 1, 8, 8\)"):
        D(torch.randn(4, 64))  # flattened images are not accepted
    _, D2 = build_mlp_gan("toy2d")
    with pytest.raises(AssertionError, match=r"\(B, 2\)"):
        D2(torch.randn(4, 3))


def test_build_overrides_fields_and_leaves_presets_alone():
    before = MLPConfig(**MLP_PRESETS["mnist"].__dict__)
    G, D = build_mlp_gan("mnist", data_shape=(1, 8, 8), g_hidden=(16,), d_hidden=(16,), latent_dim=4)
    assert G.cfg.latent_dim == 4 and G.cfg.data_shape == (1, 8, 8)
    assert G.cfg.g_batchnorm and G.cfg.tanh_output  # untouched fields come from the preset
    assert _n_params(G) == _linear_params([4, 16, 64]) + 2 * 16
    assert _n_params(D) == _linear_params([64, 16, 1])
    assert G(torch.randn(3, 4)).shape == (3, 1, 8, 8)
    assert MLP_PRESETS["mnist"] == before  # overrides did not leak into the shared preset


def test_build_from_a_config_object():
    cfg = MLPConfig(latent_dim=5, data_shape=(3,), g_hidden=(7,), d_hidden=(9, 4))
    G, D = build_mlp_gan(cfg, leaky_slope=0.1)
    assert isinstance(G, MLPGenerator) and isinstance(D, MLPDiscriminator)
    assert G.cfg.latent_dim == 5 and D.cfg.leaky_slope == 0.1
    assert cfg.leaky_slope == 0.2  # the caller's config object is not modified
    assert _n_params(D) == _linear_params([3, 9, 4, 1])


def test_unknown_preset_raises_listing_presets():
    with pytest.raises(ValueError, match="cifar") as info:
        build_mlp_gan("cifar")
    for name in MLP_PRESETS:
        assert name in str(info.value)


def test_unknown_override_is_an_error():
    with pytest.raises(TypeError):
        build_mlp_gan("toy2d", hidden=(3,))


def test_tanh_output_bounds_samples():
    torch.manual_seed(0)
    G, _ = build_mlp_gan("mnist", data_shape=(1, 8, 8), g_hidden=(16,), d_hidden=(16,), latent_dim=4)
    with torch.no_grad():
        for p in G.parameters():  # large weights: pre-activations far outside [-1, 1]
            p.mul_(50)
        x = G(10 * torch.randn(32, 4))
    assert x.min() >= -1 and x.max() <= 1
    assert x.abs().max() > 0.99  # really saturating, so the bound is what the test checks


def test_toy_generator_is_unbounded():
    torch.manual_seed(0)
    G, _ = build_mlp_gan("toy2d")
    with torch.no_grad():
        for p in G.parameters():
            p.mul_(10)
        x = G(torch.randn(32, 2))
    assert x.abs().max() > 1


def test_models_hold_no_device_calls_and_start_on_cpu():
    G, D = build_mlp_gan("toy2d")
    assert all(p.device.type == "cpu" for p in [*G.parameters(), *D.parameters()])


def test_module_exports_exist():
    from ganlib import models

    from ganlib.models import conditional, cyclegan, dcgan, patchgan

    families = (mlp, dcgan, conditional, patchgan, cyclegan)
    for name in models.__all__:  # every export exists and comes from one family's file
        assert hasattr(models, name) and any(hasattr(family, name) for family in families)
