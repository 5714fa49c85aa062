"""Tests of conditional training in ganlib.train: class-conditional G(z, y) and image-to-image
G(x) (pix2pix) run through the same loop as the unconditional GAN.

The key checks are equivalences: a conditional model that ignores its label must train exactly
like the unconditional model it wraps, and the pix2pix generator update must equal the gradient of
g_loss + lambda * L1 computed by hand.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from ganlib import losses
from ganlib.data import InMemoryBatches, ToyBatches, make_batches, ring8
from ganlib.models.conditional import PatchDiscriminator, UNetGenerator, build_conditional_gan
from ganlib.models.mlp import build_mlp_gan
from ganlib.train import (
    CHECKPOINT_NAME,
    Conditioned,
    TrainConfig,
    conditional_train_step,
    generator_step,
    pix2pix_step,
    sample,
    train,
    train_step,
    translate,
)

pytestmark = pytest.mark.usefixtures("one_thread_per_module")  # see tests/conftest.py


def _state_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class _IgnoresLabel(nn.Module):
    """A conditional interface around an unconditional model: f(x, y) = model(x), y recorded."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.cfg = model.cfg
        self.seen: list[torch.Tensor] = []

    def forward(self, x, y):
        self.seen.append(y.clone())
        return self.model(x)


class _LabelledRing:
    """ring8 points with labels 0..7 (arbitrary but deterministic), as (x, y) batches."""

    def __init__(self, seed: int):
        self.points = ToyBatches(ring8(), 32, generator=torch.Generator().manual_seed(seed))
        self.count = 0

    def __next__(self):
        x = next(self.points)
        y = (torch.arange(len(x)) + self.count) % 8
        self.count += 1
        return x, y


def _optimisers(G, D):
    return torch.optim.Adam(G.parameters(), lr=1e-3, betas=(0.5, 0.999)), \
        torch.optim.Adam(D.parameters(), lr=1e-3, betas=(0.5, 0.999))


def test_a_label_blind_conditional_gan_trains_exactly_like_the_unconditional_one():
    torch.manual_seed(0)
    G, D = build_mlp_gan("toy2d", g_hidden=(16,), d_hidden=(16,))
    G2, D2 = copy.deepcopy(G), copy.deepcopy(D)
    opt_g, opt_d = _optimisers(G, D)
    cG, cD = _IgnoresLabel(G2), _IgnoresLabel(D2)
    opt_g2, opt_d2 = _optimisers(cG, cD)
    z_a, z_b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    plain, labelled = ToyBatches(ring8(), 32, generator=torch.Generator().manual_seed(2)), _LabelledRing(2)
    label_gen = torch.Generator().manual_seed(3)
    for _ in range(5):
        m1 = train_step(G, D, opt_g, opt_d, plain, lambda n: torch.randn(n, 2, generator=z_a), k=2)
        m2 = conditional_train_step(cG, cD, opt_g2, opt_d2, labelled, lambda n: torch.randn(n, 2, generator=z_b),
                                    sample_labels=lambda n: torch.randint(8, (n,), generator=label_gen), k=2)
    assert _state_equal(G.state_dict(), G2.state_dict()) and _state_equal(D.state_dict(), D2.state_dict())
    assert m1.keys() == m2.keys() and all(torch.equal(m1[k], m2[k]) for k in m1)


def test_fakes_in_the_d_step_carry_the_real_labels_and_the_g_step_draws_fresh_ones():
    torch.manual_seed(0)
    G, D = build_mlp_gan("toy2d", g_hidden=(8,), d_hidden=(8,))
    cG, cD = _IgnoresLabel(G), _IgnoresLabel(D)
    opt_g, opt_d = _optimisers(cG, cD)
    drawn = torch.tensor([7, 7, 7, 7] * 8)
    conditional_train_step(cG, cD, opt_g, opt_d, _LabelledRing(0), lambda n: torch.randn(n, 2),
                           sample_labels=lambda n: drawn[:n], k=1)
    real_y = (torch.arange(32)) % 8
    # D step: G(z, y) with the real labels, then D(real, y) and D(fake, y); G step: fresh labels for both
    assert [y.tolist() for y in cG.seen] == [real_y.tolist(), drawn.tolist()]
    assert [y.tolist() for y in cD.seen] == [real_y.tolist(), real_y.tolist(), drawn.tolist()]


def test_conditioned_binds_the_condition_and_shares_parameters():
    torch.manual_seed(0)
    _, D = build_conditional_gan("mnist32", "projection", g_width=8, d_width=8, embed_dim=4)
    x, y = torch.randn(3, 1, 32, 32), torch.tensor([0, 4, 9])
    bound = Conditioned(D, y)
    assert torch.equal(bound(x), D(x, y))
    assert [p is q for p, q in zip(bound.parameters(), D.parameters())] == [True] * len(list(D.parameters()))


def _small_cgan(seed: int):
    torch.manual_seed(seed)
    return build_conditional_gan("mnist32", "projection", g_width=8, d_width=8, embed_dim=4, latent_dim=8)


IMAGES = torch.rand(48, 1, 32, 32, generator=torch.Generator().manual_seed(5)) * 2 - 1
LABELS = torch.arange(48) % 10


def test_conditional_training_resumes_exactly(tmp_path):
    cfg = TrainConfig(steps=8, batch_size=16, log_every=2, checkpoint_every=4, n_snapshot=20)
    G_a, D_a = _small_cgan(0)
    h_a = train(G_a, D_a, InMemoryBatches(IMAGES, 16, targets=LABELS, generator=torch.Generator().manual_seed(1)),
                cfg, out_dir=tmp_path / "A", progress=False)
    G_b, D_b = _small_cgan(0)
    train(G_b, D_b, InMemoryBatches(IMAGES, 16, targets=LABELS, generator=torch.Generator().manual_seed(1)),
          TrainConfig(**{**cfg.__dict__, "steps": 4}), out_dir=tmp_path / "B", progress=False)
    G_c, D_c = _small_cgan(9)
    h_c = train(G_c, D_c, InMemoryBatches(IMAGES, 16, targets=LABELS, generator=torch.Generator().manual_seed(7)),
                cfg, out_dir=tmp_path / "B", resume="auto", progress=False)
    assert h_a.step == h_c.step and h_a.d_loss == h_c.d_loss and h_a.g_loss == h_c.g_loss
    assert _state_equal(G_a.state_dict(), G_c.state_dict())
    assert h_a.snapshots[-1].shape == (20, 1, 32, 32)  # labels 0..9, 0..9 under the fixed z


def test_resume_auto_starts_afresh_without_a_checkpoint_and_rejects_other_values(tmp_path):
    G, D = _small_cgan(0)
    batches = InMemoryBatches(IMAGES, 16, targets=LABELS)
    h = train(G, D, batches, TrainConfig(steps=2, batch_size=16, log_every=1), out_dir=tmp_path, resume="auto",
              progress=False)
    assert h.step == [1, 2] and (tmp_path / CHECKPOINT_NAME).is_file()
    with pytest.raises(ValueError, match="resume must be True, False or 'auto'"):
        train(G, D, batches, TrainConfig(steps=2, batch_size=16), out_dir=tmp_path, resume="yes", progress=False)


def test_sample_draws_the_requested_classes_and_refuses_labels_for_unconditional_g():
    G, _ = _small_cgan(0)
    z = torch.randn(4, 8)
    assert torch.equal(sample(G, 0, z=z), sample(G, 0, z=z, labels=torch.tensor([0, 1, 2, 3])))
    assert not torch.equal(sample(G, 0, z=z), sample(G, 0, z=z, labels=torch.tensor([5, 5, 5, 5])))
    with pytest.raises(ValueError, match="labels must have shape"):
        sample(G, 0, z=z, labels=torch.tensor([1, 2]))
    G_plain, _ = build_mlp_gan("toy2d")
    with pytest.raises(ValueError, match="unconditional"):
        sample(G_plain, 3, labels=torch.tensor([0, 1, 2]))


# --------------------------------------------------------------------------- pix2pix


def _pix2pix(seed: int):
    torch.manual_seed(seed)
    return UNetGenerator(1, 1, width=8, depth=4, n_dropout=0), PatchDiscriminator(2, width=8, n_layers=1)


def test_generator_step_with_a_target_descends_g_loss_plus_lambda_l1():
    G, D = _pix2pix(0)
    cond, target = torch.rand(4, 1, 16, 16) * 2 - 1, torch.rand(4, 1, 16, 16) * 2 - 1
    G_ref = copy.deepcopy(G)
    # reference gradient by hand
    fake = G_ref(cond)
    loss = losses.generator_loss_nonsaturating(D(fake, cond)) + 100.0 * (target - fake).abs().mean()
    grads = torch.autograd.grad(loss, list(G_ref.parameters()))
    D.zero_grad(set_to_none=True)
    opt = torch.optim.SGD(G.parameters(), lr=1.0)
    before = [p.detach().clone() for p in G.parameters()]
    metrics = generator_step(G, Conditioned(D, cond), opt, cond, losses.generator_loss_nonsaturating,
                             target=target, l1_weight=100.0)
    for p0, p1, g in zip(before, G.parameters(), grads):
        torch.testing.assert_close(p0 - p1, g, rtol=1e-5, atol=1e-6)  # SGD with lr 1: the step is the gradient
    assert abs(metrics["l1"].item() - (target - fake).abs().mean().item()) < 1e-6
    assert all(p.grad is None for p in D.parameters())  # D takes no gradient in G's step


def test_pix2pix_learns_a_simple_translation_and_its_l1_falls():
    G, D = _pix2pix(0)
    target = torch.rand(64, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    cond = -target  # learn to invert the image
    cfg = TrainConfig(steps=100, batch_size=16, log_every=10, lr_g=2e-3, lr_d=2e-4)
    h = train(G, D, InMemoryBatches(cond, 16, targets=target, generator=torch.Generator().manual_seed(1)), cfg,
              snapshot_inputs=cond[:4], progress=False)
    assert h.l1[-1] < 0.5 * h.l1[0], h.l1
    assert h.snapshots[-1].shape == (4, 1, 16, 16)
    assert (translate(G, cond[:8]) - target[:8]).abs().mean() < h.l1[0]


def test_pix2pix_step_reports_l1_and_needs_snapshot_inputs_in_train():
    G, D = _pix2pix(0)
    pairs = InMemoryBatches(torch.zeros(8, 1, 16, 16), 4, targets=torch.ones(8, 1, 16, 16))
    opt_g, opt_d = _optimisers(G, D)
    m = pix2pix_step(G, D, opt_g, opt_d, pairs, l1_weight=0.0)
    assert {"d_loss", "g_loss", "l1", "d_real", "d_fake"} <= set(m)
    with pytest.raises(ValueError, match="snapshot_inputs"):
        train(G, D, pairs, TrainConfig(steps=1, batch_size=4), progress=False)


# --------------------------------------------------------------------------- labelled batches


def test_in_memory_batches_with_targets_keep_pairs_aligned_and_resume():
    data = torch.arange(30.0).reshape(30, 1)
    batches = InMemoryBatches(data, 7, targets=torch.arange(30) * 10, generator=torch.Generator().manual_seed(0))
    for _ in range(3):
        x, y = next(batches)
        assert torch.equal(x[:, 0].long() * 10, y)
    state = batches.state_dict()
    after = [next(batches) for _ in range(5)]
    batches.load_state_dict(state)
    again = [next(batches) for _ in range(5)]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(after, again))
    with pytest.raises(ValueError, match="one item per data item"):
        InMemoryBatches(data, 7, targets=torch.arange(29))


def test_make_batches_with_labels_gives_digit_labels_and_refuses_toy_data():
    x, y = next(make_batches("mnist-5k", 50, labels=True))
    assert x.shape == (50, 1, 28, 28) and y.shape == (50,) and y.dtype == torch.int64
    assert 0 <= int(y.min()) and int(y.max()) <= 9
    with pytest.raises(ValueError, match="no class labels"):
        make_batches("ring8", 8, labels=True)
