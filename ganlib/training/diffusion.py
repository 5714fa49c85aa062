"""The DDPM's training as a task of the generic loop (Ho et al. 2020, Algorithm 1), for notebook 09.

    step:  t ~ Uniform{0 .. T-1}, eps ~ N(0, I)           (from the run's noise stream)
           x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps
           loss = || eps - eps_theta(x_t, t) ||^2          (L_simple, Eq. 14)

An EMA copy of the network (``model_ema``) draws the samples, as in the paper (decay 0.9999 per step
there; here a half-life in images, :class:`~ganlib.training.loop.LoopConfig`). Snapshots are DDIM
samples of the EMA model from fixed noise, so they show the same draws improving. Ho et al. also clip
gradients to norm 1 and warm the learning rate up over 5000 steps; at the course's batch sizes and
step counts plain Adam at 2e-4 trains, so this task does neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ganlib.models.diffusion import DDPM, simple_loss
from ganlib.training.loop import Batches, Context, LoopConfig

__all__ = ["DDPMTrainConfig", "DDPMTask"]


@dataclass
class DDPMTrainConfig(LoopConfig):
    """Settings of a DDPM run; the loop's own settings are those of :class:`LoopConfig`."""

    lr: float = 2e-4  # Adam learning rate (Ho et al.: 2e-4 on CIFAR-10)
    batch_size: int = 64  # Ho et al.: 128
    snapshot_steps: int = 20  # DDIM steps of each snapshot


class DDPMTask:
    """L_simple as a task: modules ``{"model", "model_ema"}``."""

    name = "ddpm"
    ema = {"model_ema": "model"}
    eager: tuple[str, ...] = ()
    metric_names = ("loss", "grad_norm")

    def __init__(self, model: DDPM, cfg: DDPMTrainConfig):
        self.cfg = cfg
        self.modules = {"model": model}
        self.seed = cfg.seed + 1  # the snapshots' fixed noise

    def optimizers(self, *, fused: bool) -> dict[str, torch.optim.Optimizer]:
        return {"model": torch.optim.Adam(self.modules["model"].parameters(), lr=self.cfg.lr,
                                          **({"fused": True} if fused else {}))}

    def step(self, ctx: Context, batches: Batches) -> dict[str, torch.Tensor]:
        batch = next(batches)
        x0 = batch if isinstance(batch, torch.Tensor) else batch[0]  # (B, C, H, W)
        model = self.modules["model"]
        t = torch.randint(0, model.cfg.timesteps, (x0.shape[0],), device=ctx.device, generator=ctx.noise)  # (B,)
        noise = ctx.randn(*x0.shape)  # eps, (B, C, H, W)
        with ctx.autocast():
            loss = simple_loss(ctx.modules["model"], x0, t, noise, model.schedule.alpha_bar).float().mean()
        grad_norm = ctx.optimize("model", loss)
        return {"loss": loss.detach(), "grad_norm": grad_norm}

    @torch.no_grad()
    def snapshot(self) -> torch.Tensor:
        model = self.modules["model_ema"]
        generator = torch.Generator().manual_seed(self.seed)
        return model.sample(self.cfg.n_snapshot, self.cfg.snapshot_steps, generator=generator).float().cpu()

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

