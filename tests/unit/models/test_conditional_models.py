"""Tests of ganlib.models.conditional: class-conditional G and Ds, and the pix2pix U-Net / PatchGAN."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganlib.models.conditional import (
    CONDITIONAL_PRESETS,
    ConcatDiscriminator,
    ConditionalConfig,
    ConditionalGenerator,
    PatchDiscriminator,
    ProjectionDiscriminator,
    UNetGenerator,
    build_conditional_gan,
    patch_map_size,
    receptive_field,
)
from ganlib.models.patchgan import patch_footprint

B = 4
D_CLASSES = (ConcatDiscriminator, ProjectionDiscriminator)


def _small(**overrides) -> ConditionalConfig:
    """A tiny config, so that each test builds in milliseconds."""
    return ConditionalConfig(**{"latent_dim": 8, "n_classes": 5, "embed_dim": 3, "g_width": 4, "d_width": 4,
                                **overrides})


def _labels(cfg: ConditionalConfig, n: int = B) -> torch.Tensor:
    return torch.arange(n) % cfg.n_classes  # int64


# --------------------------------------------------------------------------- class-conditional GAN


@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("D_class", D_CLASSES)
def test_shapes(image_size, channels, D_class):
    cfg = _small(image_size=image_size, channels=channels)
    G, D = ConditionalGenerator(cfg), D_class(cfg)
    y = _labels(cfg)
    x = G(torch.randn(B, cfg.latent_dim), y)
    assert x.shape == (B, channels, image_size, image_size)
    assert x.abs().max() <= 1.0
    assert D(x, y).shape == (B,)


@pytest.mark.parametrize("preset", list(CONDITIONAL_PRESETS))
@pytest.mark.parametrize("discriminator", ["projection", "concat"])
def test_presets_build_and_run(preset, discriminator):
    G, D = build_conditional_gan(preset, discriminator=discriminator)
    cfg = CONDITIONAL_PRESETS[preset]
    assert isinstance(D, ProjectionDiscriminator if discriminator == "projection" else ConcatDiscriminator)
    y = _labels(cfg, 2)
    x = G(torch.randn(2, cfg.latent_dim), y)
    assert x.shape == (2, cfg.channels, cfg.image_size, cfg.image_size)
    assert D(x, y).shape == (2,)


def test_build_applies_overrides_and_leaves_presets_untouched():
    before = CONDITIONAL_PRESETS["mnist32"]
    G, D = build_conditional_gan("mnist32", discriminator="concat", embed_dim=5, spectral_norm=True)
    assert G.cfg.embed_dim == 5 and D.cfg.spectral_norm
    assert G.embed.embedding_dim == 5
    assert CONDITIONAL_PRESETS["mnist32"] is before and before.embed_dim == 16 and not before.spectral_norm


def test_unknown_preset_and_discriminator_raise_listing_valid_names():
    with pytest.raises(ValueError, match="mnist32"):
        build_conditional_gan("imagenet")
    with pytest.raises(ValueError, match="projection, concat"):
        build_conditional_gan("mnist32", discriminator="auxiliary")
    with pytest.raises(ValueError, match="image_size"):
        _small(image_size=28)


@pytest.mark.parametrize("D_class", D_CLASSES)
def test_discriminators_return_logits_without_sigmoid(D_class):
    cfg = _small()
    D = D_class(cfg).eval()
    assert not any(isinstance(m, (nn.Sigmoid, nn.Tanh)) for m in D.modules())
    # Nothing squashes the last layer: its bias passes straight through to the logit.
    last = D.psi if D_class is ProjectionDiscriminator else D.net[-1]
    x, y = torch.randn(B, cfg.channels, 32, 32), _labels(cfg)
    with torch.no_grad():
        before = D(x, y)
        last.bias.fill_(-7.0)
        torch.testing.assert_close(D(x, y), before - 7.0)


def test_generator_depends_on_label_and_on_z():
    cfg = _small()
    # Train mode: batch statistics (at init, eval-mode BN with running stats (0, 1) shrinks images to ~1e-5).
    G = ConditionalGenerator(cfg).train()
    z = torch.randn(B, cfg.latent_dim)
    y = torch.tensor([0, 1, 2, 3])
    with torch.no_grad():
        x = G(z, y)
        x_other_label = G(z, torch.tensor([4, 0, 1, 2]))
        x_other_z = G(torch.randn(B, cfg.latent_dim), y)
        x_again = G(z, y)
    assert torch.equal(x, x_again)
    scale = x.abs().amax(dim=(1, 2, 3))  # (B,)
    assert ((x - x_other_label).abs().amax(dim=(1, 2, 3)) > 0.05 * scale).all()  # every sample moves with y
    assert ((x - x_other_z).abs().amax(dim=(1, 2, 3)) > 0.05 * scale).all()


def test_concat_discriminator_depends_on_label():
    cfg = _small()
    D = ConcatDiscriminator(cfg).eval()
    x = torch.rand(B, cfg.channels, 32, 32) * 2 - 1
    y = torch.zeros(B, dtype=torch.long)
    with torch.no_grad():
        assert (D(x, y) - D(x, y + 1)).abs().min() > 0


@pytest.mark.parametrize("overrides", [{}, {"spectral_norm": True}, {"d_batchnorm": False}])
def test_projection_term_in_closed_form(overrides):
    """Miyato & Koyama Eq. 3: D(x, y1) - D(x, y2) = <V[y1] - V[y2], phi(x)>, psi's term cancelling."""
    cfg = _small(**overrides)
    D = ProjectionDiscriminator(cfg).double().eval()  # eval: fixed BN statistics and spectral-norm weights
    x = torch.randn(B, cfg.channels, 32, 32, dtype=torch.float64)
    y1 = torch.tensor([0, 1, 2, 3])
    y2 = torch.tensor([4, 4, 0, 1])
    with torch.no_grad():
        phi = D.features(x)
        V = D.embed.weight  # with spectral norm: the normalised weight
        assert phi.shape == (B, cfg.feature_dim) and V.shape == (cfg.n_classes, cfg.feature_dim)
        lhs = D(x, y1) - D(x, y2)
        rhs = ((V[y1] - V[y2]) * phi).sum(dim=1)
        # and the full logit: psi(phi) + <V[y], phi>
        full = D.psi(phi).squeeze(1) + (V[y1] * phi).sum(dim=1)
    torch.testing.assert_close(lhs, rhs, rtol=0, atol=1e-12)
    torch.testing.assert_close(D(x, y1).detach(), full, rtol=0, atol=1e-12)
    assert lhs.abs().min() > 0


def test_projection_features_are_a_global_sum_over_space():
    cfg = _small()
    D = ProjectionDiscriminator(cfg).eval()
    x = torch.randn(B, cfg.channels, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(D.features(x), D.trunk(x).sum(dim=(2, 3)))
    assert isinstance(D.psi, nn.Linear) and D.psi.out_features == 1


@pytest.mark.parametrize("D_class", D_CLASSES)
def test_spectral_norm_parametrizes_every_layer_of_d(D_class):
    D = D_class(_small(spectral_norm=True))
    weighted = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding))]
    assert len(weighted) >= 4
    assert all(parametrize.is_parametrized(m, "weight") for m in weighted)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    # in eval mode each weight, as a matrix, has spectral norm 1 (after a few training-mode passes)
    D.train()
    x, y = torch.randn(B, 1, 32, 32), _labels(D.cfg)
    for _ in range(30):
        D(x, y)
    D.eval()
    for m in weighted:
        w = m.weight.detach()
        sigma = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), ord=2)
        assert sigma == pytest.approx(1.0, abs=0.05)
    plain = D_class(_small())
    assert not any(parametrize.is_parametrized(m) for m in plain.modules())


@pytest.mark.parametrize("overrides", [{}, {"spectral_norm": True}])
def test_init_statistics(overrides):
    torch.manual_seed(0)
    cfg = ConditionalConfig(**overrides)
    G, D = build_conditional_gan(cfg, discriminator="concat")
    for net in (G, D):
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                w = m.parametrizations.weight.original if parametrize.is_parametrized(m) else m.weight
                if w.numel() >= 1000:
                    assert w.mean().item() == pytest.approx(0.0, abs=0.003)
                    assert w.std().item() == pytest.approx(0.02, rel=0.1)
                if m.bias is not None:
                    assert torch.all(m.bias == 0)
            elif isinstance(m, nn.BatchNorm2d):
                assert m.weight.mean().item() == pytest.approx(1.0, abs=0.02)
                assert torch.all(m.bias == 0)
    # the label embedding of G sits beside z ~ N(0, I): unit scale
    assert G.embed.weight.std().item() == pytest.approx(1.0, rel=0.35)


def test_invalid_labels_raise_clear_errors():
    cfg = _small()
    G, D = ConditionalGenerator(cfg), ProjectionDiscriminator(cfg)
    Dc = ConcatDiscriminator(cfg)
    z = torch.randn(B, cfg.latent_dim)
    x = torch.randn(B, cfg.channels, 32, 32)
    good = _labels(cfg)
    for net, first in ((G, z), (D, x), (Dc, x)):
        with pytest.raises(AssertionError, match=r"labels in \[0, 5\)"):
            net(first, good + cfg.n_classes)
        with pytest.raises(AssertionError, match=r"labels in \[0, 5\)"):
            net(first, good - 1)
        with pytest.raises(AssertionError, match=r"shape \(4,\)"):
            net(first, good[:3])
        with pytest.raises(AssertionError, match=r"shape \(4,\)"):
            net(first, good[:, None])
        with pytest.raises(AssertionError, match="int64"):
            net(first, good.float())
    with pytest.raises(AssertionError, match=r"z of shape \(B, 8\)"):
        G(torch.randn(B, 7), good)
    with pytest.raises(AssertionError, match=r"images of shape \(B, 1, 32, 32\)"):
        D(torch.randn(B, 3, 32, 32), good)


def test_both_players_train_a_step():
    cfg = _small()
    G, D = build_conditional_gan(cfg, discriminator="projection")
    y = _labels(cfg)
    loss = nn.functional.softplus(-D(G(torch.randn(B, cfg.latent_dim), y), y)).mean()
    loss.backward()
    assert G.embed.weight.grad is not None and G.embed.weight.grad.abs().sum() > 0
    assert D.embed.weight.grad is not None and D.psi.weight.grad is not None


# --------------------------------------------------------------------------- pix2pix U-Net


@pytest.mark.parametrize("size", [32, 64])
@pytest.mark.parametrize("channels", [(1, 3), (3, 3), (3, 1)])
def test_unet_shapes_and_range(size, channels):
    c_in, c_out = channels
    U = UNetGenerator(c_in, c_out, width=4, depth=5)
    x = torch.randn(B, c_in, size, size) * 3
    y = U(x)
    assert y.shape == (B, c_out, size, size)
    assert y.abs().max() <= 1.0
    assert isinstance(U.out[-1], nn.Tanh)


def test_unet_layers_follow_the_paper():
    U = UNetGenerator(1, 1, width=4, depth=5, n_dropout=3)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in U.down[0])  # no BN on C64
    assert all(any(isinstance(m, nn.LeakyReLU) for m in b) for b in U.down)
    assert all(any(isinstance(m, nn.ReLU) for m in b) for b in U.up)
    dropout_per_up = [sum(isinstance(m, nn.Dropout) and m.p == 0.5 for m in b) for b in U.up]
    assert dropout_per_up == [1, 1, 1, 0]  # the three innermost decoder layers
    # dropout is the noise: two train-mode passes differ, eval-mode ones agree
    x = torch.randn(2, 1, 32, 32)
    assert not torch.equal(U.train()(x), U(x))
    U.eval()
    assert torch.equal(U(x), U(x))


def test_unet_parameter_count_of_the_paper_generator():
    # depth 8 at width 64 is the paper's 256x256 U-Net: 54,414,531 parameters with 3 -> 3 channels,
    # the count of the authors' PyTorch unet_256 (built on the meta device: no memory, no time).
    with torch.device("meta"):
        U = UNetGenerator(3, 3, width=64, depth=8)
    assert sum(p.numel() for p in U.parameters()) == 54_414_531
    with torch.device("meta"):
        P = PatchDiscriminator(6, width=64, n_layers=3)
    assert sum(p.numel() for p in P.parameters()) == 2_768_705  # the authors' basic 70x70 D


def test_unet_parameter_count_closed_form():
    # the layer arithmetic written out, at depth 5 and width 8
    w, c = 8, 3
    e = [w * min(2 ** i, 8) for i in range(5)]
    enc = c * e[0] * 16 + e[0]  # first conv with bias, no BN
    enc += sum(e[i - 1] * e[i] * 16 + 2 * e[i] for i in (1, 2, 3))  # conv without bias + BN
    enc += e[3] * e[4] * 16 + e[4]  # innermost conv with bias, no BN
    dec = e[4] * e[3] * 16 + 2 * e[3]  # from the bottleneck
    dec += sum(2 * e[i] * e[i - 1] * 16 + 2 * e[i - 1] for i in (3, 2, 1))
    dec += 2 * e[0] * c * 16 + c
    U = UNetGenerator(c, c, width=w, depth=5)
    assert sum(p.numel() for p in U.parameters()) == enc + dec


def test_unet_skip_connections_carry_local_detail():
    torch.manual_seed(0)
    # Train mode (batch statistics; at init eval-mode BN all but silences the deep path), no dropout.
    U = UNetGenerator(1, 1, width=8, depth=5, n_dropout=0).train()
    x = torch.randn(2, 1, 32, 32)
    x_poked = x.clone()
    x_poked[..., :2, :2] += 3.0  # the top-left corner
    with torch.no_grad():
        change = (U(x_poked) - U(x)).abs()[0, 0]
    near, far = change[:4, :4].mean(), change[-4:, -4:].mean()
    assert near > 0
    assert near > 3 * far  # the shallow skips carry the change locally (15x here; 6x-35x over seeds)
    # Cut the bottleneck (the innermost encoder conv outputs 0 whatever the input) and use eval mode,
    # where BN no longer couples positions through batch statistics.
    U.eval()
    with torch.no_grad():
        inner = U.down[-1][0]
        inner.weight.zero_()
        inner.bias.zero_()
        change = (U(x_poked) - U(x)).abs()[0, 0]
    assert change[:4, :4].mean() > 0  # the input still reaches the output, only through the skips
    assert change[-4:, -4:].max() < 1e-6  # and only locally: the far corner no longer hears of it


def test_unet_rejects_bad_inputs():
    U = UNetGenerator(3, 3, width=4, depth=5)
    with pytest.raises(AssertionError, match="multiples of 32"):
        U(torch.randn(1, 3, 48, 48))
    with pytest.raises(AssertionError, match=r"\(B, 3, H, W\)"):
        U(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="n_dropout"):
        UNetGenerator(3, 3, depth=3, n_dropout=3)


# --------------------------------------------------------------------------- PatchGAN


def test_receptive_field_closed_form():
    assert receptive_field(3) == 70
    assert [receptive_field(n) for n in (1, 2, 3, 5)] == [16, 34, 70, 286]
    for n in range(1, 7):  # the layer-by-layer walk back, r -> (r - 1) * s + k
        r = 1
        for s in [1, 1] + [2] * n:
            r = (r - 1) * s + 4
        assert receptive_field(n) == r
    with pytest.raises(ValueError):
        receptive_field(0)


@pytest.mark.parametrize(("size", "n_layers"), [(s, n) for s in (32, 48, 70, 97) for n in (1, 2, 3)] + [(256, 3)])
def test_patch_map_size_matches_the_network(size, n_layers):
    D = PatchDiscriminator(2, width=2, n_layers=n_layers).eval()
    with torch.no_grad():
        out = D(torch.randn(1, 1, size, size), torch.randn(1, 1, size, size))
    # k=4, p=1: stride 2 maps s -> floor((s - 2) / 2) + 1; stride 1 maps s -> s - 1
    s = size
    for _ in range(n_layers):
        s = (s + 2 - 4) // 2 + 1
    s = s - 1 - 1
    assert out.shape == (1, 1, s, s) == (1, 1, patch_map_size(size, n_layers), patch_map_size(size, n_layers))
    if size == 256 and n_layers == 3:
        assert s == 30  # the paper's 30x30 map of 70x70 patches


def test_receptive_field_numerically():
    """The gradient of one interior logit is nonzero exactly on a 70x70 window of a 128 px input."""
    torch.manual_seed(0)
    D = PatchDiscriminator(3, width=4, n_layers=3).double().eval()
    x = torch.randn(1, 3, 128, 128, dtype=torch.float64, requires_grad=True)
    out = D(x)  # (1, 1, 14, 14)
    assert out.shape == (1, 1, 14, 14)
    out[0, 0, 7, 7].backward()
    rows = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 3)) > 0).flatten()
    cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2)) > 0).flatten()
    assert rows.max() - rows.min() + 1 == receptive_field(3) == 70
    assert cols.max() - cols.min() + 1 == 70
    assert len(rows) == len(cols) == 70  # a full window, no holes


def test_receptive_field_and_map_of_a_d_that_does_not_downsample():
    assert [receptive_field(n, stride=1) for n in (1, 2, 3)] == [10, 13, 16]
    for n in range(1, 5):  # the walk back, r -> (r - 1) * s + k, with every stride 1
        assert receptive_field(n, stride=1) == 1 + 3 * (n + 2)
    assert receptive_field(2, stride=2) == receptive_field(2) == 34  # the default is the paper's D
    with pytest.raises(ValueError, match="stride"):
        receptive_field(2, stride=3)
    with pytest.raises(ValueError, match="stride"):
        PatchDiscriminator(2, n_layers=1, stride=4)
    for size, n in [(32, 1), (32, 2), (20, 3)]:
        D = PatchDiscriminator(2, width=2, n_layers=n, stride=1).eval()
        assert [c.stride[0] for c in D.modules() if isinstance(c, nn.Conv2d)] == [1] * (n + 2)
        with torch.no_grad():
            out = D(torch.randn(1, 1, size, size), torch.randn(1, 1, size, size))
        side = size - (n + 2)  # every k=4, p=1, stride-1 convolution takes one pixel off
        assert out.shape == (1, 1, side, side) == (1, 1, patch_map_size(size, n, stride=1), patch_map_size(size, n, 1))


@pytest.mark.parametrize(("n_layers", "stride"), [(1, 1), (2, 1), (1, 2), (2, 2)])
def test_patch_footprint_is_the_receptive_field_window(n_layers, stride):
    torch.manual_seed(0)
    D = PatchDiscriminator(2, width=4, n_layers=n_layers, stride=stride)  # pix2pix: edge map + image
    size, r = 64, receptive_field(n_layers, stride)
    side = patch_map_size(size, n_layers, stride)
    i = side // 2
    mask = patch_footprint(D, size, i, i, condition_channels=1)
    assert mask.shape == (size, size) and mask.dtype == torch.bool and D.training  # train mode restored
    rows, cols = torch.nonzero(mask.any(dim=1)).flatten(), torch.nonzero(mask.any(dim=0)).flatten()
    # walking back, a stride-1 layer maps a window start x -> x - 1, a stride-s one x -> s x - 1 (padding 1)
    jump, pad = stride ** n_layers, 2 * stride ** n_layers + sum(stride ** k for k in range(n_layers))
    assert rows.min().item() == cols.min().item() == i * jump - pad  # the window starts where the walk back says
    assert len(rows) == len(cols) == r and int(mask.sum()) == r * r  # a full r x r window, no holes
    corner = patch_footprint(D, size, 0, 0, condition_channels=1)  # partly on the zero padding
    assert int(corner.sum()) == (r - pad) ** 2


def test_patch_footprint_of_an_unconditional_d_and_a_nearly_global_one():
    D = PatchDiscriminator(3, width=4, n_layers=2).eval()  # unconditional: D(image)
    mask = patch_footprint(D, 32, 3, 3)  # a central logit of the 6 x 6 map
    assert not D.training
    assert int(mask.sum()) == 31 * 31  # the 34 px window sticks out of a 32 px image: nearly global
    assert int(patch_footprint(D, 32, 0, 0).sum()) == 23 * 23
    D_cycle = PatchDiscriminator(3, width=4, n_layers=1, norm="instance")  # CycleGAN's D_Y(y)
    assert int(patch_footprint(D_cycle, 32, 7, 7).sum()) == 32 * 32  # instance norm: map statistics mix every pixel


def test_patch_discriminator_layers_and_logits():
    D = PatchDiscriminator(6, width=4, n_layers=3)
    assert not any(isinstance(m, nn.Sigmoid) for m in D.modules())
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    assert [c.out_channels for c in convs] == [4, 8, 16, 32, 1]
    assert isinstance(D.net[-1], nn.Conv2d) and D.net[-1].bias is not None
    assert not isinstance(D.net[1], nn.BatchNorm2d)  # no norm on the input layer


def test_patch_discriminator_conditional_and_unconditional_inputs():
    cond, img = torch.randn(B, 1, 64, 64), torch.randn(B, 3, 64, 64)
    D = PatchDiscriminator(4, width=4)
    assert D(img, cond).shape == (B, 1, 6, 6)
    torch.testing.assert_close(D.eval()(img, cond), D(torch.cat([cond, img], dim=1)))  # condition first
    with pytest.raises(AssertionError, match="4 input channels"):
        D(img)
    D_cycle = PatchDiscriminator(3, width=4, norm="instance")  # CycleGAN: the image alone
    assert D_cycle(img).shape == (B, 1, 6, 6)
    assert any(isinstance(m, nn.InstanceNorm2d) for m in D_cycle.modules())
    with pytest.raises(ValueError, match="batch, instance"):
        PatchDiscriminator(3, norm="layer")
    with pytest.raises(AssertionError, match="larger input"):
        D(torch.randn(1, 3, 16, 16), torch.randn(1, 1, 16, 16))


@pytest.mark.parametrize("net", ["unet", "patch"])
def test_pix2pix_init_statistics(net):
    torch.manual_seed(0)
    module = UNetGenerator(3, 3, width=16) if net == "unet" else PatchDiscriminator(6, width=16)
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.weight.numel() >= 1000:
            assert m.weight.mean().item() == pytest.approx(0.0, abs=0.003)
            assert m.weight.std().item() == pytest.approx(0.02, rel=0.1)
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.bias is not None:
            assert torch.all(m.bias == 0)
