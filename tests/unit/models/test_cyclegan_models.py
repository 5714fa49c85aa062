"""Tests of ganlib.models.cyclegan (ResNet generators, PatchGAN Ds) and of the shared ganlib.models.patchgan."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from ganlib import models
from ganlib.models import conditional, patchgan
from ganlib.models.cyclegan import (
    CYCLEGAN_PRESETS,
    CycleGANConfig,
    ResidualBlock,
    ResnetGenerator,
    build_cyclegan,
)
from ganlib.models.patchgan import PatchDiscriminator, patch_map_size

pytestmark = pytest.mark.usefixtures("one_thread_per_module")


def _images(b: int, c: int, size: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, c, size, size, generator=g) * 2 - 1  # (B, C, S, S) in [-1, 1]


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _g_params(c_in: int, c_out: int, w: int, n_down: int, n_blocks: int) -> int:
    """G's parameter count in closed form: no bias before instance norm, one on the output layer."""
    hidden = [w * 2 ** i for i in range(n_down + 1)]  # w, 2w, ..., bottleneck
    sampling = sum(9 * a * b for a, b in zip(hidden[:-1], hidden[1:]))  # the dk (and, as many, uk) 3x3 kernels
    return 49 * c_in * w + 2 * sampling + n_blocks * 2 * 9 * hidden[-1] ** 2 + 49 * w * c_out + c_out


# --------------------------------------------------------------------------- shapes


def test_digits_preset_maps_28px_digits_and_scores_a_5x5_patch_map():
    nets = build_cyclegan("digits")
    x, y = _images(4, 1, 28), _images(4, 1, 28, seed=1)
    with torch.no_grad():
        assert nets["G"](x).shape == (4, 1, 28, 28)  # 28 -> 14 -> 7 -> 14 -> 28
        assert nets["F"](y).shape == (4, 1, 28, 28)
        assert nets["D_X"](x).shape == nets["D_Y"](y).shape == (4, 1, 5, 5)
    assert CYCLEGAN_PRESETS["digits"].patch_map == patch_map_size(28, 2) == 5


def test_the_generator_is_fully_convolutional_at_32px():
    nets = build_cyclegan("digits", image_size=32)
    x = _images(2, 1, 32)
    with torch.no_grad():
        assert nets["G"](x).shape == (2, 1, 32, 32)
        assert nets["D_Y"](x).shape == (2, 1, 6, 6) == (2, 1, patch_map_size(32, 2), patch_map_size(32, 2))
    # the same digits network, built for 28 px, also runs at 32 px and at a non-square size
    G = build_cyclegan("digits")["G"]
    with torch.no_grad():
        assert G(_images(1, 1, 32)).shape == (1, 1, 32, 32)
        assert G(torch.zeros(1, 1, 28, 36)).shape == (1, 1, 28, 36)


def test_resnet_6blocks_runs_one_image_at_128px():
    cfg = CYCLEGAN_PRESETS["resnet_6blocks"]
    assert (cfg.channels, cfg.image_size, cfg.width, cfg.n_blocks, cfg.d_width, cfg.d_layers) == (3, 128, 64, 6, 64, 3)
    nets = build_cyclegan("resnet_6blocks")
    x = _images(1, 3, 128)
    with torch.no_grad():
        out = nets["G"](x)
        logits = nets["D_Y"](out)
    assert out.shape == (1, 3, 128, 128)
    assert logits.shape == (1, 1, 14, 14) == (1, 1, cfg.patch_map, cfg.patch_map)


def test_resnet_9blocks_is_the_papers_256px_network():
    cfg = CYCLEGAN_PRESETS["resnet_9blocks"]
    assert (cfg.channels, cfg.image_size, cfg.width, cfg.n_down, cfg.n_blocks) == (3, 256, 64, 2, 9)
    assert cfg.patch_map == 30  # the 70x70 PatchGAN's 30x30 map at 256 px
    nets = build_cyclegan("resnet_9blocks")  # built, not run: a forward at 256 px costs seconds
    G, D = nets["G"], nets["D_X"]
    assert sum(isinstance(m, ResidualBlock) for m in G.modules()) == 9
    # c7s1-64, d128, d256, R256 x 9, u128, u64, c7s1-3. The authors' code reports 11.378 M: the same
    # network plus 5,248 biases in front of instance norm, where they cancel.
    assert _n_params(G) == _g_params(3, 3, 64, 2, 9) == 11_372_931
    assert _n_params(G) + (64 + 128 + 256 + 9 * 2 * 256 + 128 + 64) == 11_378_179
    # C64-C128-C256-C512 and a 1-channel conv: 2,764,737 parameters (the authors' 2.765 M)
    assert _n_params(D) == 2_764_737


@pytest.mark.parametrize("preset", list(CYCLEGAN_PRESETS))
def test_parameter_counts_match_the_closed_form(preset):
    cfg = CYCLEGAN_PRESETS[preset]
    G = build_cyclegan(preset)["G"]
    assert _n_params(G) == _g_params(cfg.channels, cfg.channels, cfg.width, cfg.n_down, cfg.n_blocks)


def test_domains_may_differ_in_channels():
    nets = build_cyclegan("digits", channels=1, channels_y=3)
    x, y = _images(2, 1, 28), _images(2, 3, 28)
    with torch.no_grad():
        assert nets["G"](x).shape == (2, 3, 28, 28) and nets["F"](y).shape == (2, 1, 28, 28)
        assert nets["D_X"](x).shape == nets["D_Y"](y).shape == (2, 1, 5, 5)
    assert CycleGANConfig(channels=3).domain_channels == (3, 3)


# --------------------------------------------------------------------------- architecture


def test_generator_layers_follow_the_paper():
    G = ResnetGenerator(1, 1, width=8, n_down=2, n_blocks=3)
    layers = list(G.net)
    # c7s1-8: reflection pad 3, 7x7 conv, IN, ReLU
    assert isinstance(layers[0], nn.ReflectionPad2d) and layers[0].padding == (3, 3, 3, 3)
    assert isinstance(layers[1], nn.Conv2d) and layers[1].kernel_size == (7, 7) and layers[1].stride == (1, 1)
    assert isinstance(layers[2], nn.InstanceNorm2d) and isinstance(layers[3], nn.ReLU)
    downs = [m for m in layers if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.padding) for m in downs] == [
        (8, 16, (3, 3), (1, 1)), (16, 32, (3, 3), (1, 1))]
    ups = [m for m in layers if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels) for m in ups] == [(32, 16), (16, 8)]
    for m in ups:  # fractionally strided, exactly doubling
        assert (m.kernel_size, m.stride, m.padding, m.output_padding) == ((3, 3), (2, 2), (1, 1), (1, 1))
    # c7s1-1 with tanh, no norm
    assert isinstance(layers[-3], nn.ReflectionPad2d) and layers[-2].kernel_size == (7, 7)
    assert layers[-2].out_channels == 1 and layers[-2].bias is not None and isinstance(layers[-1], nn.Tanh)


def test_reflection_padding_and_instance_norm_without_affine():
    cfg = CYCLEGAN_PRESETS["digits"]
    nets = build_cyclegan("digits")
    G = nets["G"]
    pads = [m for m in G.modules() if isinstance(m, nn.ReflectionPad2d)]
    norms = [m for m in G.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(pads) == 2 + 2 * cfg.n_blocks  # the two c7s1 layers, two per residual block
    assert len(norms) == 1 + 2 * cfg.n_down + 2 * cfg.n_blocks  # every layer but the output
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.ZeroPad2d)) for m in G.modules())
    for m in norms:
        assert not m.affine and not m.track_running_stats
    # convolutions feeding instance norm carry no bias (it would cancel); 3x3 ones in blocks have no zero padding
    for block in (m for m in G.modules() if isinstance(m, ResidualBlock)):
        for conv in (m for m in block.modules() if isinstance(m, nn.Conv2d)):
            assert conv.bias is None and conv.padding == (0, 0)
    for D in (nets["D_X"], nets["D_Y"]):
        assert any(isinstance(m, nn.InstanceNorm2d) for m in D.modules())
        assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())


def test_instance_norm_makes_train_and_eval_agree():
    G = build_cyclegan("digits")["G"]
    x = _images(3, 1, 28)
    with torch.no_grad():
        assert torch.equal(G.train()(x), G.eval()(x))  # no running statistics, no dropout


def test_residual_block_is_identity_plus_f():
    torch.manual_seed(0)
    block = ResidualBlock(4)
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        assert torch.allclose(block(x), x + block.f(x), rtol=0, atol=1e-6)
        last_conv = [m for m in block.f if isinstance(m, nn.Conv2d)][-1]
        last_conv.weight.zero_()  # f(x) = IN(0) = 0, so the block passes x through unchanged
        assert torch.equal(block(x), x)


def test_dropout_sits_inside_the_residual_blocks_only_when_asked():
    assert not any(isinstance(m, nn.Dropout) for m in build_cyclegan("digits")["G"].modules())
    G = build_cyclegan("digits", dropout=0.5)["G"]
    drops = [m for m in G.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == CYCLEGAN_PRESETS["digits"].n_blocks and all(m.p == 0.5 for m in drops)


def test_generator_output_lies_in_minus_one_one():
    G = build_cyclegan("digits")["G"]
    with torch.no_grad():
        for p in G.parameters():
            p.mul_(50)  # drive tanh into saturation
        out = G(_images(4, 1, 28) * 5)
    assert out.abs().max() <= 1.0 and out.abs().max() > 0.99


def test_weights_start_from_normal_0_002():
    G = build_cyclegan("digits")["G"]
    convs = [m for m in G.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    w = torch.cat([m.weight.detach().flatten() for m in convs])  # ~68 k weights
    assert abs(w.mean().item()) < 1e-3
    assert abs(w.std().item() - 0.02) < 1e-3
    assert all(m.bias is None or torch.count_nonzero(m.bias) == 0 for m in convs)
    D = build_cyclegan("resnet_6blocks")["D_Y"]
    wd = torch.cat([m.weight.detach().flatten() for m in D.modules() if isinstance(m, nn.Conv2d)])
    assert abs(wd.std().item() - 0.02) < 1e-3


def test_a_cycle_backpropagates_into_both_generators():
    nets = build_cyclegan("digits")
    x = _images(2, 1, 28)
    (nets["F"](nets["G"](x)) - x).abs().mean().backward()
    for name in ("G", "F"):
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in nets[name].parameters()), name


# --------------------------------------------------------------------------- contracts


def test_build_returns_four_distinct_modules():
    nets = build_cyclegan("digits")
    assert list(nets) == ["G", "F", "D_X", "D_Y"]
    assert len({id(m) for m in nets.values()}) == 4
    params = [{id(p) for p in m.parameters()} for m in nets.values()]
    for i in range(4):
        for j in range(i + 1, 4):
            assert not params[i] & params[j]
    assert isinstance(nets["G"], ResnetGenerator) and isinstance(nets["F"], ResnetGenerator)
    assert isinstance(nets["D_X"], PatchDiscriminator) and isinstance(nets["D_Y"], PatchDiscriminator)
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for m in nets.values() for p in m.parameters())


def test_build_accepts_a_config_and_leaves_presets_untouched():
    before = dataclasses.replace(CYCLEGAN_PRESETS["digits"])
    nets = build_cyclegan(CycleGANConfig(width=4, n_blocks=1, d_width=4), d_layers=1)
    assert sum(isinstance(m, ResidualBlock) for m in nets["G"].modules()) == 1
    assert nets["D_X"].n_layers == 1
    build_cyclegan("digits", width=4)
    assert CYCLEGAN_PRESETS["digits"] == before


def test_unknown_preset_lists_the_valid_ones():
    with pytest.raises(ValueError, match="digits, resnet_6blocks, resnet_9blocks"):
        build_cyclegan("resnet_12blocks")


@pytest.mark.parametrize("bad", [dict(image_size=30), dict(image_size=4), dict(width=0), dict(n_blocks=-1),
                                 dict(dropout=1.0), dict(channels_y=0), dict(image_size=8, d_layers=3)])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        CycleGANConfig(**bad)


def test_generator_rejects_bad_shapes_with_a_clear_message():
    G = build_cyclegan("digits")["G"]
    with pytest.raises(AssertionError, match=r"multiples of 2\*\*n_down = 4.*got 30x30"):
        G(torch.zeros(1, 1, 30, 30))
    with pytest.raises(AssertionError, match=r"expects images of shape \(B, 1, H, W\), got \(1, 3, 28, 28\)"):
        G(torch.zeros(1, 3, 28, 28))
    with pytest.raises(AssertionError, match=r"expects images of shape \(B, 1, H, W\), got \(1, 28, 28\)"):
        G(torch.zeros(1, 28, 28))
    with pytest.raises(AssertionError, match="at least 8"):
        G(torch.zeros(1, 1, 4, 4))  # a 1x1 bottleneck cannot be reflection-padded


# --------------------------------------------------------------------------- the shared PatchGAN file


def test_patchgan_lives_in_its_own_file_and_is_re_exported():
    assert conditional.PatchDiscriminator is patchgan.PatchDiscriminator is models.PatchDiscriminator
    assert conditional.receptive_field is patchgan.receptive_field
    assert conditional.patch_map_size is patchgan.patch_map_size
    assert patchgan.PATCH_NORMS == ("batch", "instance")
    for name in ("PatchDiscriminator", "receptive_field", "patch_map_size"):
        assert name in conditional.__all__ and name in patchgan.__all__
