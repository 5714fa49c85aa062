"""Tests of MLPConfig.spectral_norm: every linear layer of D divided by its largest singular value."""

import torch
from torch import nn
from torch.nn.utils import parametrize

from ganlib.models.mlp import MLP_PRESETS, build_mlp_gan


def _linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def test_off_by_default_in_every_preset():
    for name, cfg in MLP_PRESETS.items():
        assert cfg.spectral_norm is False, name
        _, D = build_mlp_gan(name)
        assert not any(parametrize.is_parametrized(m) for m in _linears(D)), name


def test_every_linear_layer_of_d_is_normalised_and_g_is_untouched():
    G, D = build_mlp_gan("toy2d", spectral_norm=True)
    linears = _linears(D)
    assert len(linears) == len(MLP_PRESETS["toy2d"].d_hidden) + 1
    assert all(parametrize.is_parametrized(m, "weight") for m in linears)
    assert not any(parametrize.is_parametrized(m) for m in _linears(G))


def test_same_initial_weights_as_without():
    torch.manual_seed(0)
    _, D_plain = build_mlp_gan("toy2d")
    torch.manual_seed(0)
    _, D_sn = build_mlp_gan("toy2d", spectral_norm=True)
    for plain, sn in zip(_linears(D_plain), _linears(D_sn)):
        assert torch.equal(plain.weight, sn.parametrizations.weight.original)
        assert torch.equal(plain.bias, sn.bias)


def test_largest_singular_value_is_one_and_d_is_1_lipschitz():
    torch.manual_seed(0)
    _, D = build_mlp_gan("toy2d", spectral_norm=True, d_hidden=(64, 64))
    x = torch.randn(256, 2)
    for _ in range(200):  # each training-mode forward pass runs one power iteration per layer
        D(x)
    D.eval()
    for layer in _linears(D):
        sigma = torch.linalg.matrix_norm(layer.weight.detach(), ord=2)
        assert abs(sigma.item() - 1.0) < 2e-3, sigma
    x.requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).sum(), x)
    assert grad.norm(dim=1).max() <= 1.0 + 1e-2  # LeakyReLU is 1-Lipschitz: ||grad D|| <= prod sigma = 1


def test_trains_and_round_trips_through_a_state_dict():
    torch.manual_seed(0)
    _, D = build_mlp_gan("mnist", spectral_norm=True)
    opt = torch.optim.Adam(D.parameters(), lr=1e-3)
    x = torch.randn(8, 1, 28, 28)
    loss = D(x).mean()
    loss.backward()
    opt.step()
    assert D(x).shape == (8,)
    _, D2 = build_mlp_gan("mnist", spectral_norm=True)
    D2.load_state_dict(D.state_dict())
    D.eval(), D2.eval()
    assert torch.allclose(D(x), D2(x))
