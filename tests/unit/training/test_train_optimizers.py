"""TrainConfig.optimizer: Adam by default, RMSProp for WGAN with weight clipping (Arjovsky et al. 2017, Alg. 1)."""

import pytest
import torch

from ganlib.data import ToyBatches, ring8
from ganlib.models.mlp import build_mlp_gan
from ganlib.train import CHECKPOINT_NAME, TrainConfig, load_checkpoint, train
from ganlib.training.gan import AlternatingTask


def _toy(seed=0):
    torch.manual_seed(seed)
    G, D = build_mlp_gan("toy2d", g_hidden=(16,), d_hidden=(16,))
    return G, D, ToyBatches(ring8(), 32, generator=torch.Generator().manual_seed(seed))


def _cfg(**kw):
    return TrainConfig(**{**dict(steps=8, batch_size=32, log_every=4, n_snapshot=8, checkpoint_every=4), **kw})


def test_adam_is_the_default_with_the_configured_lrs_and_betas():
    G, D, _ = _toy()
    opts = AlternatingTask(G, D, _cfg(lr_g=3e-4, lr_d=1e-4, betas=(0.0, 0.9))).optimizers(fused=False)
    for name, lr in (("g", 3e-4), ("d", 1e-4)):
        assert type(opts[name]) is torch.optim.Adam
        assert opts[name].param_groups[0]["lr"] == lr and opts[name].param_groups[0]["betas"] == (0.0, 0.9)


def test_rmsprop_for_both_players_with_torch_defaults_and_no_momentum():
    G, D, _ = _toy()
    opts = AlternatingTask(G, D, _cfg(optimizer="rmsprop", lr_g=5e-5, lr_d=2e-5)).optimizers(fused=True)
    for name, net, lr in (("g", G, 5e-5), ("d", D, 2e-5)):
        group = opts[name].param_groups[0]
        assert type(opts[name]) is torch.optim.RMSprop
        assert group["lr"] == lr and group["momentum"] == 0 and group["alpha"] == 0.99 and not group["centered"]
        assert [id(p) for p in group["params"]] == [id(p) for p in net.parameters()]


def test_one_rmsprop_update_matches_the_closed_form():
    """RMSProp's first step from zero state: v = (1 - alpha) g^2, so w <- w - lr g / (sqrt(v) + eps)."""
    G, D, _ = _toy()
    opt = AlternatingTask(G, D, _cfg(optimizer="rmsprop", lr_d=5e-5)).optimizers(fused=False)["d"]
    before = [p.detach().clone() for p in D.parameters()]
    grads = [torch.randn(p.shape, generator=torch.Generator().manual_seed(i)) for i, p in enumerate(D.parameters())]
    for p, g in zip(D.parameters(), grads):
        p.grad = g.clone()
    opt.step()
    for p, w0, g in zip(D.parameters(), before, grads):
        assert torch.allclose(p.detach(), w0 - 5e-5 * g / ((0.01 * g * g).sqrt() + 1e-8), rtol=0, atol=1e-7)


def test_an_rmsprop_run_resumes_exactly(tmp_path):
    cfg = _cfg(objective="wgan", optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, k=5)
    G_a, D_a, batches_a = _toy()
    train(G_a, D_a, batches_a, cfg, out_dir=tmp_path / "A", progress=False)
    G_b, D_b, batches_b = _toy()
    train(G_b, D_b, batches_b, _cfg(**{**cfg.__dict__, "steps": 4}), out_dir=tmp_path / "B", progress=False)
    G_c, D_c, batches_c = _toy(seed=7)
    train(G_c, D_c, batches_c, cfg, out_dir=tmp_path / "B", resume=True, progress=False)
    for a, c in ((G_a, G_c), (D_a, D_c)):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), c.state_dict().values()))
    state = load_checkpoint(tmp_path / "B" / CHECKPOINT_NAME)["opt_d"]["state"]
    assert all(set(s) == {"step", "square_avg"} for s in state.values()), "RMSProp's state: no momentum buffer"


def test_an_unknown_optimizer_is_refused():
    G, D, batches = _toy()
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        train(G, D, batches, _cfg(optimizer="sgd"), progress=False)
