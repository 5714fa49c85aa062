"""The VAE's training as a task of the generic loop: one step ascends the ELBO on a batch (notebook 09).

    step:  eps ~ N(0, I) from the run's noise stream
           mu, logvar = encoder(x);  z = mu + exp(logvar / 2) * eps        (reparameterisation trick)
           loss = [KL(q(z | x) || N(0, I)) - log p(x | z)] / D             (the negative ELBO, nats per dimension)

No adversary and no EMA: a VAE is trained by plain maximum likelihood (of a bound). The history keeps
the negative ELBO in bits per dimension, a bound on -log2 p(x) / D of the training batches, and its two
terms. Snapshots decode fixed z from the prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ganlib.models.vae import VAE, elbo_terms
from ganlib.training.loop import Batches, Context, LoopConfig

__all__ = ["VAETrainConfig", "VAETask"]


@dataclass
class VAETrainConfig(LoopConfig):
    """Settings of a VAE run; the loop's own settings are those of :class:`LoopConfig`."""

    lr: float = 1e-3  # Adam learning rate
    batch_size: int = 64


class VAETask:
    """The ELBO as a task: modules ``{"vae"}``."""

    name = "vae"
    ema: dict[str, str] = {}
    eager: tuple[str, ...] = ()
    metric_names = ("loss", "bits_per_dim", "recon", "kl", "grad_norm")

    def __init__(self, vae: VAE, cfg: VAETrainConfig):
        self.cfg = cfg
        self.modules = {"vae": vae}
        self.z_fixed = torch.randn(cfg.n_snapshot, vae.cfg.latent_dim, generator=torch.Generator().manual_seed(cfg.seed + 1))

    def optimizers(self, *, fused: bool) -> dict[str, torch.optim.Optimizer]:
        return {"vae": torch.optim.Adam(self.modules["vae"].parameters(), lr=self.cfg.lr,
                                        **({"fused": True} if fused else {}))}

    def step(self, ctx: Context, batches: Batches) -> dict[str, torch.Tensor]:
        batch = next(batches)
        x = batch if isinstance(batch, torch.Tensor) else batch[0]  # (B, C, H, W); labels, if any, unused
        vae = ctx.modules["vae"]
        eps = ctx.randn(x.shape[0], self.modules["vae"].cfg.latent_dim)  # (B, latent_dim)
        with ctx.autocast():
            mean, mu, logvar = vae(x, eps)
        recon, kl = elbo_terms(x, mean.float(), self.modules["vae"].log_scale, mu.float(), logvar.float())  # (B,) each
        dims = x[0].numel()
        loss = (kl - recon).mean() / dims  # negative ELBO in nats per dimension
        grad_norm = ctx.optimize("vae", loss)
        return {"loss": loss.detach(), "bits_per_dim": loss.detach() / math.log(2.0), "recon": recon.detach().mean(),
                "kl": kl.detach().mean(), "grad_norm": grad_norm}

    @torch.no_grad()
    def snapshot(self) -> torch.Tensor:
        vae = self.modules["vae"]
        was_training = vae.training
        vae.eval()  # batch norm with running statistics, and no update of them
        images = vae.decode(self.z_fixed.to(vae.log_scale.device)).clamp(-1, 1).float().cpu()  # (n, C, H, W)
        vae.train(was_training)
        return images

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass
