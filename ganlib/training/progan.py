"""Progressive growing as a task (Karras et al. 2018): G and D grow from 4x4 to the final resolution.

The schedule (their Sec. 2 and Appendix A) counts real images shown to D::

    stabilise 4x4 for images_per_phase images
    fade in 8x8 (alpha 0 -> 1) for images_per_phase, stabilise 8x8 for images_per_phase
    fade in 16x16 ...                                 ... stabilise at the final resolution until the end

:func:`phase` maps the images seen so far to ``(resolution, alpha)``, a pure function of
``ctx.progress.images``, so a resumed run lands in the same phase. One iteration:

    the real batch: ``batch_sizes[resolution]`` images, average-pooled to the resolution and, during a
        fade-in, blended with their coarser version exactly as G's output is (:func:`fade_reals`);
    Phase 1, D: one update on reals against G(z) (detached), at (resolution, alpha);
    Phase 2, G: one update through D (frozen), on fresh z.

The batch size may change with the resolution (the paper lowers it as the images grow to fit the
GPU memory), so the step asks the batches for ``take(n)`` images (:meth:`ganlib.data.InMemoryBatches.take`).
Adam holds every parameter from the start: a layer that the current phase does not run has no
gradient (``zero_grad(set_to_none=True)``), so Adam skips it and its state starts when the layer
first contributes, and the state of the layers that keep working carries across a resolution change.

G_ema, the average of G's weights, gives the snapshots; the loop updates it with a per-step decay
``0.5 ** (batch_size / ema_half_life)`` computed from ``cfg.batch_size``, like the paper's 0.999 per
mini-batch whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ganlib import losses
from ganlib.models.progan import ProGANDiscriminator, ProGANGenerator, fade_reals, resolutions, upsample
from ganlib.training.loop import Batches, Context, LoopConfig, frozen

__all__ = ["ProGANTrainConfig", "ProGANTask", "phase", "schedule", "batch_size_at", "steps_for_images", "images_after"]

_OBJECTIVES = ("wgan-gp", "gan", "lsgan")


@dataclass
class ProGANTrainConfig(LoopConfig):
    """Settings of a progressive run; the loop's own settings are those of :class:`LoopConfig`.

    ``steps`` is still the number of iterations (one D and one G update each); the schedule counts
    images, so a run reaches its final resolution after ``2 (levels - 1) images_per_phase`` images
    whatever the batch sizes (:func:`steps_for_images` converts). The defaults are the course's
    quick MNIST run (``PROGAN_PRESETS["mnist32"]`` on mnist-5k padded to 32 px): 64 steps at 4 px,
    128 at 8 px, 256 at 16 px, a 128-step fade-in of 32 px that ends at step 576, then 224 steps at
    32 px; recognisable digits in about three minutes on two CPU cores. The paper's values are in
    the comments.
    """

    start_resolution: int = 4  # the first resolution trained (paper: 4)
    final_resolution: int = 32  # where growth stops; must equal G.cfg.resolution
    images_per_phase: int = 4096  # real images in each stabilise and each fade-in phase (paper: 800k)
    batch_sizes: dict[int, int] = field(default_factory=lambda: {4: 64, 8: 64, 16: 32, 32: 32})  # per resolution (paper: 16 from 128 px up)
    batch_size: int = 32  # for resolutions missing from batch_sizes; also sets the EMA's per-step decay (module docstring)
    steps: int = 800  # iterations in total
    # Adam learning rate of G and D. The paper's 0.001 moves every (equalised) weight by about 0.1 %
    # of its size a step, right for its ~50k steps a phase; with ~100 steps a phase it left no digit
    # after 800 steps (digit FID 250-360 with any loss), where 0.01 gave clean digits (FID 60-110).
    lr: float = 1e-2
    betas: tuple[float, float] = (0.0, 0.99)  # Adam betas (paper: beta1 = 0, beta2 = 0.99)
    # The loss: "lsgan", "gan" (non-saturating) or "wgan-gp" (the paper's, with the drift term
    # below). Measured on the quick run above (4000 images a phase, 812 steps, lr 0.01; digit FID of
    # G_ema on 1000 samples, seeds 0 and 1): lsgan 81 and 63, gan 70 and 108, wgan-gp 155 (seed 0) at
    # about twice the time a step (its gradient penalty is a double backward); at lr 0.003 lsgan still
    # made digits (153) where gan collapsed (477). So least squares: the steadiest, and as fast as any.
    objective: str = "lsgan"
    eps_drift: float = 1e-3  # wgan-gp only: weight of eps_drift E[D(x)^2], which keeps the critic near 0 (Sec. A.1)
    ema_half_life: float = 2_000.0  # images (about 60 steps); the paper's 0.999 a step of 16 is about 11k, too slow here
    fade_in: bool = True  # False: a new resolution starts at alpha = 1 (no blend), on the same schedule, to see why it fades


def batch_size_at(resolution: int, cfg: ProGANTrainConfig) -> int:
    """The batch size of the phases at ``resolution``: ``cfg.batch_sizes`` or else ``cfg.batch_size``."""
    return int(cfg.batch_sizes.get(resolution, cfg.batch_size))


def phase(images_seen: int, cfg: ProGANTrainConfig) -> tuple[int, float]:
    """The resolution and fade-in of the step that starts after ``images_seen`` real images.

    Phase p = images_seen // images_per_phase: p = 0 stabilises the start resolution; then odd p
    fade in the next resolution (alpha = the fraction of the phase done) and even p stabilise it
    (alpha = 1); after the last fade-in the final resolution stays, alpha = 1. With
    ``cfg.fade_in = False`` every phase has alpha = 1: each new block takes over at once.

    Returns:
        ``(resolution, alpha)``, alpha in [0, 1].
    """
    if images_seen < 0 or cfg.images_per_phase < 1:
        raise ValueError(f"need images_seen >= 0 and images_per_phase >= 1, got {images_seen} and {cfg.images_per_phase}")
    levels = resolutions(cfg.start_resolution, cfg.final_resolution)
    p = images_seen // cfg.images_per_phase
    if p >= 2 * (len(levels) - 1):
        return levels[-1], 1.0  # grown: stabilise at the final resolution until the end
    resolution = levels[(p + 1) // 2]
    if p % 2 == 0:
        return resolution, 1.0  # stabilise
    if not cfg.fade_in:
        return resolution, 1.0  # the new block takes over at once
    return resolution, (images_seen - p * cfg.images_per_phase) / cfg.images_per_phase  # fade in, linear in images


def schedule(cfg: ProGANTrainConfig) -> list[tuple[int, int, str]]:
    """The phases as a table: ``(first image, resolution, "stabilise" or "fade-in")``, in order."""
    levels = resolutions(cfg.start_resolution, cfg.final_resolution)
    rows = [(0, levels[0], "stabilise")]
    for i, resolution in enumerate(levels[1:]):
        rows.append(((2 * i + 1) * cfg.images_per_phase, resolution, "fade-in"))
        rows.append(((2 * i + 2) * cfg.images_per_phase, resolution, "stabilise"))
    return rows


def steps_for_images(images: int, cfg: ProGANTrainConfig) -> int:
    """The number of steps after which at least ``images`` real images have been shown, with the
    batch size changing as :func:`phase` and :func:`batch_size_at` say (to choose ``cfg.steps``)."""
    seen = steps = 0
    while seen < images:
        seen += batch_size_at(phase(seen, cfg)[0], cfg)
        steps += 1
    return steps


def images_after(steps: int, cfg: ProGANTrainConfig) -> int:
    """The real images shown in the first ``steps`` steps (the inverse of :func:`steps_for_images`)."""
    seen = 0
    for _ in range(steps):
        seen += batch_size_at(phase(seen, cfg)[0], cfg)
    return seen


class ProGANTask:
    """Progressive G against D, for :func:`ganlib.training.fit`.

    Batches yield real images (B, C, R, R) at the final resolution R and must offer ``take(n)``
    (:class:`ganlib.data.InMemoryBatches`). The loop adds ``G_ema`` (a copy of G) if not given.

    Args:
        G, D: a :class:`ProGANGenerator` and :class:`ProGANDiscriminator` of one config
            (``ganlib.models.progan.build_progan``).
        cfg: the :class:`ProGANTrainConfig`.
        G_ema: optional starting copy of G for the average.

    The history has ``resolution``, ``alpha`` and ``batch_size`` of each step besides the losses, the
    mean D scores ``real_score`` and ``fake_score``, the gradient norms, and for ``"wgan-gp"`` the
    penalty ``gp`` and the drift ``drift``.
    """

    name = "progan"
    # Never compiled: the graph changes with the resolution, and alpha (a Python float) with every step.
    eager = ("G", "D")
    metric_names = ("d_loss", "g_loss", "resolution", "alpha", "batch_size", "real_score", "fake_score",
                    "d_grad_norm", "g_grad_norm")

    def __init__(self, G: ProGANGenerator, D: ProGANDiscriminator, cfg: ProGANTrainConfig, *,
                 G_ema: nn.Module | None = None):
        if G.cfg != D.cfg:
            raise ValueError(f"G and D must share one config, got {G.cfg} and {D.cfg}")
        if cfg.final_resolution != G.cfg.resolution:
            raise ValueError(f"final_resolution {cfg.final_resolution} must equal the networks' resolution "
                             f"{G.cfg.resolution}")
        levels = resolutions(cfg.start_resolution, cfg.final_resolution)  # raises on bad resolutions
        if cfg.images_per_phase < 1:
            raise ValueError(f"images_per_phase must be >= 1, got {cfg.images_per_phase}")
        if cfg.objective not in _OBJECTIVES:
            raise ValueError(f"ProGAN trains with objective {' or '.join(map(repr, _OBJECTIVES))}, got {cfg.objective!r}")
        group = G.cfg.mbstd_group
        for resolution in levels:
            n = batch_size_at(resolution, cfg)
            if n < 1 or (n > group and n % group):
                raise ValueError(f"the batch size at {resolution} px ({n}) must be positive and a multiple of the "
                                 f"minibatch-std group size {group} (or at most {group})")
        self.cfg = cfg
        self.objective = losses.objective(cfg.objective)
        self.modules = {"G": G, "D": D, **({"G_ema": G_ema} if G_ema is not None else {})}
        self.ema = {"G_ema": "G"}
        self.images = 0  # real images seen after the latest step: the phase a snapshot shows
        # The snapshot latents are fixed for the whole run, so snapshots show one z growing over time.
        self.z_fixed = torch.randn(cfg.n_snapshot, G.cfg.latent_dim, generator=torch.Generator().manual_seed(cfg.seed + 1))

    def optimizers(self, *, fused: bool) -> dict[str, torch.optim.Optimizer]:
        # Every parameter from the start: layers not yet (or no longer) used have no gradient and are skipped.
        adam = dict(lr=self.cfg.lr, betas=self.cfg.betas, **({"fused": True} if fused else {}))
        return {"g": torch.optim.Adam(self.modules["G"].parameters(), **adam),
                "d": torch.optim.Adam(self.modules["D"].parameters(), **adam)}

    def step(self, ctx: Context, batches: Batches) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        G, D = ctx.modules["G"], ctx.modules["D"]
        latent_dim = self.modules["G"].cfg.latent_dim
        seen = ctx.progress.images  # real images shown before this step
        resolution, alpha = phase(seen, cfg)  # the schedule, a function of the progress
        n = batch_size_at(resolution, cfg)  # the batch of this phase (under torchrun: of all processes together)
        real = batches.take(n)  # (b, C, R, R) at the final resolution; b = n, or n / N in each of N processes
        assert real.ndim == 4 and real.shape[-1] == cfg.final_resolution, (
            f"ProGAN batches must be images (B, C, {cfg.final_resolution}, {cfg.final_resolution}), got {tuple(real.shape)}")
        real = fade_reals(real, resolution, alpha)  # (b, C, r, r): downsampled and, in a fade-in, blended as G's output
        self.images = seen + n  # n of all processes together, as the loop counts
        b = real.shape[0]

        # ---- Phase 1: D, G fixed: tell reals from G(z) at (resolution, alpha) ----
        with torch.no_grad(), ctx.autocast():
            fake = G(ctx.randn(b, latent_dim), resolution, alpha)  # (b, C, r, r), no graph back into G
        with ctx.autocast():
            real_scores = D(real, resolution, alpha).float()  # (b,)
            fake_scores = D(fake, resolution, alpha).float()  # (b,)
        d_loss = self.objective.d_loss(real_scores, fake_scores)
        metrics = {}
        if cfg.objective == "wgan-gp":
            # Gulrajani et al. 2017, Eq. 3, outside autocast; D's minibatch std couples the samples, as in the paper
            gp = losses.gradient_penalty(lambda x: D(x, resolution, alpha), real, fake, generator=ctx.noise)  # (b,)
            drift = real_scores.pow(2).mean()  # Karras et al. 2018, Sec. A.1: eps_drift E[D(x)^2]
            d_loss = d_loss + self.objective.gp_weight * gp.mean() + cfg.eps_drift * drift
            metrics.update(gp=gp.detach().mean(), drift=drift.detach())
        d_norm = ctx.optimize("d", d_loss)

        # ---- Phase 2: G, D fixed (frozen, gradients pass through): make D score G(z) as real ----
        with frozen(D):
            with ctx.autocast():
                fake_scores_g = D(G(ctx.randn(b, latent_dim), resolution, alpha), resolution, alpha).float()  # (b,)
            g_loss = self.objective.g_loss(fake_scores_g)
            g_norm = ctx.optimize("g", g_loss)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "resolution": torch.tensor(float(resolution)),
                "alpha": torch.tensor(float(alpha)), "batch_size": torch.tensor(float(n)),
                "real_score": real_scores.detach().mean(), "fake_score": fake_scores.detach().mean(),
                "d_grad_norm": d_norm, "g_grad_norm": g_norm, **metrics}

    @torch.no_grad()
    def snapshot(self) -> torch.Tensor:
        """G_ema on the fixed z at the current phase, upsampled (nearest) to the final size:
        (n_snapshot, C, R, R) on the CPU, so snapshots of every resolution stack."""
        G = self.modules.get("G_ema", self.modules["G"])
        resolution, alpha = phase(self.images, self.cfg)
        device = next(G.parameters()).device
        images = G(self.z_fixed.to(device), resolution, alpha).float().cpu()  # (N, C, r, r)
        return upsample(images, self.cfg.final_resolution // resolution)  # (N, C, R, R)

    def state_dict(self) -> dict:
        return {"images": self.images}

    def load_state_dict(self, state: dict) -> None:
        self.images = int(state.get("images", 0))
