"""StyleGAN2's training as a task: non-saturating logistic loss, lazy R1 and path length regularisation,
style mixing, the running average of w, and an EMA generator (Karras et al. 2020; StyleGAN2-ADA's
``loss.py`` and ``training_loop.py``).

One iteration runs four named phases, as the paper's code does:

    Gmain: G descends softplus(-D(G(z)))                                     (non-saturating loss)
    Greg:  every pl_interval steps, G descends pl_interval * pl_weight * E (||J_w^T y|| - a)^2
    Dmain: D descends softplus(-D(x)) + softplus(D(G(z)))                      (fakes detached)
    Dreg:  every r1_interval steps, D descends r1_interval * gamma/2 * E ||grad_x D(x)||^2

**Lazy regularisation** (StyleGAN2, Sec. 3.1 and App. B): the regularisers change slowly, so they are
computed only every ``interval`` iterations and their weight is multiplied by the interval, which
keeps their expected strength. A regularisation phase is a second optimiser step in that
iteration, so G (D) takes interval + 1 steps per interval iterations; the paper's code compensates
by scaling the optimiser, ``c = interval / (interval + 1)``: learning rate ``lr * c`` and Adam's
betas ``beta ** c``. This task does the same. Which iterations regularise is a function of
``ctx.progress.step`` (step 0, interval, 2 interval, ...), so a resumed run regularises on the same
steps. The path-length mean ``a`` starts at 0, as in the paper's code, so during the first few
hundred path-length steps the penalty mostly shrinks ||J_w^T y|| itself.

**Style mixing** (StyleGAN, Sec. 3.1): with probability ``style_mixing_prob`` a batch uses two latents,
z1 for the layers before a random crossover in [1, num_ws) and z2 from there on, which keeps
neighbouring layers' styles from being correlated. **w_avg** (for truncation) moves towards each
batch's mean w with decay ``w_avg_decay`` (0.995), once a step, from the w's of the Dmain fakes
(before mixing), as StyleGAN2-ADA's code does. The path-length running mean ``a`` is task state,
saved in every checkpoint. Snapshots come from the EMA generator ``G_ema`` on fixed z, with each
layer's fixed noise (``noise_mode="const"``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ganlib import losses
from ganlib.training.loop import Batches, Context, LoopConfig, frozen

__all__ = ["StyleGANTrainConfig", "StyleGANTask", "lazy_factor", "mix_styles"]


@dataclass
class StyleGANTrainConfig(LoopConfig):
    """Settings of a StyleGAN(2) run; the loop's own settings are those of :class:`LoopConfig`.

    The defaults follow StyleGAN2 (config F) where they fit small images, and say where they differ.

    Measured on mnist-5k padded to 32 px with the ``"mnist32"`` preset and these defaults: the
    samples of G (and G_ema) first become nearly identical, one digit-like shape that changes every
    few hundred steps (partial mode collapse: the style path from z starts weak, and minibatch std
    is D's only view of variety), and spread over the digit classes only after about 2500 steps
    (two seeds). At 3000 steps G draws varied, recognisable digits; G_ema with the default 10k-image
    half-life lags behind (mostly 8, 9, 3, 0), with ``ema_half_life=2000`` it shows the spread.
    r1_gamma = 0.2 was still collapsed at 3000 steps, and so was fmap_base=128.
    """

    lr_g: float = 2e-3  # Adam learning rate of G (StyleGAN2: 0.002), before the lazy-regularisation factor
    lr_d: float = 2e-3  # Adam learning rate of D (StyleGAN2: 0.002), likewise
    betas: tuple[float, float] = (0.0, 0.99)  # Adam betas (StyleGAN2: 0 and 0.99), before the factor
    r1_gamma: float = 1.0  # R1 weight gamma: 1 for 32 px digits (paper: 10 at 1024 px; ADA: 0.01 on CIFAR-10)
    r1_interval: int = 16  # R1 every N steps, weighted by N (lazy regularisation); 0 = never
    pl_weight: float = 2.0  # path length weight (paper: 2)
    pl_interval: int = 4  # path length every N steps, weighted by N; 0 = never
    pl_decay: float = 0.01  # the running mean a moves this fraction towards each batch's mean length
    pl_batch_shrink: int = 2  # the path-length batch is batch_size // this (paper's code: 2)
    style_mixing_prob: float = 0.9  # probability that a batch mixes two latents (paper: 0.9)
    w_avg_decay: float = 0.995  # decay of the running average of w (StyleGAN's code: 0.995)
    ema_half_life: float = 10_000.0  # G_ema's half-life in images (StyleGAN2: 10k images at batch 32)
    batch_size: int = 32  # real (and fake) images per step (StyleGAN2: 32)


def lazy_factor(interval: int) -> float:
    """c = interval / (interval + 1): the optimiser scaling for a regulariser applied every ``interval``
    steps (1 when there is none, interval 0)."""
    return interval / (interval + 1) if interval > 0 else 1.0


def mix_styles(w1: torch.Tensor, w2: torch.Tensor, crossover: int | torch.Tensor, num_ws: int) -> torch.Tensor:
    """ws (B, num_ws, w_dim) that read w1 (B, w_dim) in layers before ``crossover`` and w2 from there on.

    ``crossover`` in [0, num_ws] (num_ws: no mixing) may be a 0-dim tensor, so a choice drawn on
    the GPU never has to be read back (no ``.item()``).
    """
    later = torch.arange(num_ws, device=w1.device) >= torch.as_tensor(crossover, device=w1.device)  # (num_ws,)
    return torch.where(later[None, :, None], w2.unsqueeze(1), w1.unsqueeze(1))  # (B, num_ws, w_dim)


class StyleGANTask:
    """StyleGAN(2): G against D with lazy R1 and path length regularisation, for :func:`ganlib.training.fit`.

    Batches yield real images (B, C, H, W) in [-1, 1].

    Args:
        G, D: :class:`~ganlib.models.stylegan.StyleGANGenerator` and its discriminator (logits (B,)).
        cfg: the :class:`StyleGANTrainConfig`.
        G_ema: the EMA copy of G (default: a deep copy of G, made here); snapshots come from it.
    """

    name = "stylegan"
    eager = ("G", "D")  # both are differentiated twice (path length through G, R1 through D)
    # Modulated convolutions can exceed fp16's range (StyleGAN2-ADA runs fp16 only in its top layers, clamping
    # their outputs to +-256): the device plan gives this task fp32 where it would otherwise pick fp16.
    fp16_safe = False
    metric_names = ("d_loss", "g_loss", "r1", "pl", "pl_mean", "d_real", "d_fake", "g_grad_norm", "d_grad_norm")

    def __init__(self, G: nn.Module, D: nn.Module, cfg: StyleGANTrainConfig, *, G_ema: nn.Module | None = None):
        for name in ("r1_interval", "pl_interval"):
            if getattr(cfg, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 = never), got {getattr(cfg, name)}")
        if cfg.r1_gamma < 0 or cfg.pl_weight < 0:
            raise ValueError(f"r1_gamma and pl_weight must be >= 0, got {cfg.r1_gamma} and {cfg.pl_weight}")
        if not 0 <= cfg.style_mixing_prob <= 1:
            raise ValueError(f"style_mixing_prob is a probability, got {cfg.style_mixing_prob}")
        if cfg.pl_batch_shrink < 1 or cfg.batch_size // cfg.pl_batch_shrink < 1:
            raise ValueError(f"pl_batch_shrink must be in [1, batch_size], got {cfg.pl_batch_shrink}")
        self.cfg = cfg
        self.modules = {"G": G, "D": D, "G_ema": G_ema if G_ema is not None else copy.deepcopy(G)}
        self.modules["G_ema"].requires_grad_(False)
        self.ema = {"G_ema": "G"}
        self.num_ws, self.latent_dim = G.num_ws, G.cfg.latent_dim
        self.pl_mean = torch.zeros(())  # a, the running mean of path lengths (task state: checkpointed)
        # The snapshot latents are fixed for the whole run, so snapshots show one z moving over time.
        self.z_fixed = torch.randn(cfg.n_snapshot, self.latent_dim, generator=torch.Generator().manual_seed(cfg.seed + 1))

    # ---- which regularisers run on which step: pure functions of the progress ----

    def regularise_r1(self, step: int) -> bool:
        """Whether step ``step`` (0-based) runs Dreg: every r1_interval steps, from step 0."""
        return self.cfg.r1_interval > 0 and self.cfg.r1_gamma > 0 and step % self.cfg.r1_interval == 0

    def regularise_pl(self, step: int) -> bool:
        """Whether step ``step`` runs Greg: every pl_interval steps, from step 0."""
        return self.cfg.pl_interval > 0 and self.cfg.pl_weight > 0 and step % self.cfg.pl_interval == 0

    def optimizers(self, *, fused: bool) -> dict[str, torch.optim.Optimizer]:
        cfg = self.cfg
        # Lazy regularisation takes interval + 1 optimiser steps per interval iterations: scale lr and
        # betas by c = interval / (interval + 1), as StyleGAN2's training loop does (App. B).
        c_g = lazy_factor(cfg.pl_interval if cfg.pl_weight > 0 else 0)
        c_d = lazy_factor(cfg.r1_interval if cfg.r1_gamma > 0 else 0)
        extra = {"fused": True} if fused else {}
        adam = lambda params, lr, c: torch.optim.Adam(params, lr=lr * c, betas=tuple(b ** c for b in cfg.betas),
                                                      eps=1e-8, **extra)
        return {"g": adam(self.modules["G"].parameters(), cfg.lr_g, c_g),
                "d": adam(self.modules["D"].parameters(), cfg.lr_d, c_d)}

    def _mixed_ws(self, G: nn.Module, ctx: Context, n: int, *, update_w_avg: bool = False) -> torch.Tensor:
        """ws (n, num_ws, w_dim) for fresh latents, with style mixing at a random crossover."""
        z = ctx.randn(n, self.latent_dim)  # (n, latent_dim)
        w = G.mapping(z)  # (n, w_dim)
        if update_w_avg:  # once a step, in Dmain as the paper's code does, from the first latent's w's
            G.mapping.update_w_avg(w, self.cfg.w_avg_decay)
        if self.cfg.style_mixing_prob == 0:
            return w.unsqueeze(1).expand(-1, self.num_ws, -1)  # (n, num_ws, w_dim): one w for every layer
        # One crossover per batch, uniform in [1, num_ws); num_ws (no mixing) with probability 1 - p.
        cut = torch.randint(1, self.num_ws, (), device=ctx.device, generator=ctx.noise)
        mix = torch.rand((), device=ctx.device, generator=ctx.noise) < self.cfg.style_mixing_prob
        cut = torch.where(mix, cut, torch.full_like(cut, self.num_ws))
        w2 = G.mapping(ctx.randn(n, self.latent_dim))  # (n, w_dim), from a second latent
        ws = mix_styles(w, w2, cut, self.num_ws)  # (n, num_ws, w_dim)
        return ws

    def step(self, ctx: Context, batches: Batches) -> dict[str, torch.Tensor]:
        cfg, step = self.cfg, ctx.progress.step
        G, D = ctx.modules["G"], ctx.modules["D"]
        real = next(batches)  # (B, C, H, W)
        B = real.shape[0]
        metrics: dict[str, torch.Tensor] = {}

        # ---- Gmain: G makes D(G(z)) look real, D fixed (non-saturating logistic loss) ----
        with frozen(D), ctx.autocast():
            ws = self._mixed_ws(G, ctx, B)
            fake_logits = D(G.synthesis(ws)).float()  # (B,)
        g_loss = losses.generator_loss_nonsaturating(fake_logits)  # softplus(-D(G(z)))
        metrics["g_grad_norm"] = ctx.optimize("g", g_loss)
        metrics["g_loss"] = g_loss.detach()

        # ---- Greg: path length regularisation, lazily (Sec. 3.2; weight times the interval) ----
        if self.regularise_pl(step):
            self.pl_mean = self.pl_mean.to(ctx.device)
            ws = self._mixed_ws(G, ctx, B // cfg.pl_batch_shrink)  # fp32: a double backward through G
            pl, lengths = losses.path_length_penalty(G.synthesis, ws, self.pl_mean, generator=ctx.noise)
            self.pl_mean = losses.update_path_length_mean(self.pl_mean, lengths, cfg.pl_decay)
            ctx.optimize("g", pl.mean() * (cfg.pl_weight * cfg.pl_interval))
            metrics["pl"] = pl.detach().mean()
        metrics["pl_mean"] = self.pl_mean.detach().clone()

        # ---- Dmain: D tells real from fake, G fixed (fakes made without a graph into G) ----
        with torch.no_grad(), ctx.autocast():
            fake = G.synthesis(self._mixed_ws(G, ctx, B, update_w_avg=True))  # (B, C, H, W), detached
        with ctx.autocast():
            real_logits, fake_logits = D(real).float(), D(fake).float()  # (B,), (B,)
        d_loss = losses.discriminator_loss(real_logits, fake_logits)  # softplus(-D(x)) + softplus(D(G(z)))
        metrics["d_grad_norm"] = ctx.optimize("d", d_loss)
        metrics.update(d_loss=d_loss.detach(), d_real=torch.sigmoid(real_logits.detach()).mean(),
                       d_fake=torch.sigmoid(fake_logits.detach()).mean())

        # ---- Dreg: R1 on real data, lazily (Mescheder et al. 2018; weight gamma/2 times the interval) ----
        if self.regularise_r1(step):
            r1 = losses.r1_penalty(D, real)  # (B,), fp32, outside autocast
            ctx.optimize("d", r1.mean() * (cfg.r1_gamma / 2 * cfg.r1_interval))
            metrics["r1"] = r1.detach().mean()
        return metrics

    @torch.no_grad()
    def snapshot(self) -> torch.Tensor:
        G_ema = self.modules["G_ema"]
        device = next(G_ema.parameters()).device
        return G_ema(self.z_fixed.to(device), noise_mode="const").float().cpu()  # (n_snapshot, C, H, W)

    def state_dict(self) -> dict:
        return {"pl_mean": self.pl_mean.detach().clone()}

    def load_state_dict(self, state: dict) -> None:
        self.pl_mean = state["pl_mean"].detach().clone()
