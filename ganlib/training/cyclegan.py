"""CycleGAN as a task: two generators, two discriminators, two image pools (Zhu et al. 2017).

Unpaired translation between domains X and Y: G maps X -> Y, F maps Y -> X, D_Y tells real y from
G(x), D_X real x from F(y). The full objective (their Eq. 3) is

    L(G, F, D_X, D_Y) = L_GAN(G, D_Y, X, Y) + L_GAN(F, D_X, Y, X) + lambda_cyc L_cyc(G, F)

with the cycle-consistency loss (Eq. 2) L_cyc = E_x ||F(G(x)) - x||_1 + E_y ||G(F(y)) - y||_1, and
optionally the identity loss lambda_id L_id, L_id = E_y ||G(y) - y||_1 + E_x ||F(x) - x||_1 (their
Sec. 5.2, with lambda_id = 0.5 lambda_cyc). Without L_cyc the problem is under-constrained: any G
that maps X onto the distribution of Y fools D_Y, whichever y it picks for a given x.

One iteration, as in the authors' training code:

    Phase 1, generators: G and F descend  lambda_gan (L_GAN of G + of F) + lambda_cyc L_cyc + lambda_id L_id,
             with D_X and D_Y fixed (one optimiser over G and F together);
    Phase 2, discriminators: D_Y on y vs a fake from the pool of past G(x); D_X on x vs the pool of
             past F(y); each D's loss halved (Sec. 7.1, "slows down the rate at which D learns").

The GAN loss is least squares by default (Sec. 4, after Mao et al. 2017): G minimises
E_x[(D_Y(G(x)) - 1)^2] (:func:`lsgan_generator_term`) and D_Y minimises
1/2 (E_y[(D_Y(y) - 1)^2] + E_x[D_Y(G(x))^2]) (``losses.least_squares_discriminator_loss``, which
carries the 1/2). The learning rate stays
constant, then decays linearly to zero (Sec. 7.1: 100 epochs, then 100 more with decay), a pure
function of the progress. Each discriminator sees fakes through an :class:`ImagePool` of the last 50
generated images (Shrivastava et al. 2017), which is part of the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganlib import losses
from ganlib.training.gan import translate
from ganlib.training.loop import Batches, Context, LoopConfig, frozen

__all__ = ["CycleGANTrainConfig", "ImagePool", "CycleGANTask", "GeneratorTerms", "generator_objective",
           "lsgan_generator_term", "learning_rate_factor"]


@dataclass
class CycleGANTrainConfig(LoopConfig):
    """Settings of a CycleGAN run; the loop's own settings are those of :class:`LoopConfig`.

    One step is one update of the generators and one of the discriminators, on a batch of x and
    a batch of y (``batch_size`` each; the paper uses 1, we use small batches for speed).
    """

    lambda_cyc: float = 10.0  # weight of the cycle-consistency loss (Eq. 3; the paper's lambda = 10)
    lambda_id: float = 0.5  # identity loss weight, *relative to lambda_cyc* (Sec. 5.2: 0.5 lambda); 0 = off
    lambda_gan: float = 1.0  # weight of the two adversarial terms; 0 trains the generators on the cycle alone
    objective: str = "lsgan"  # GAN loss: "lsgan" as in the paper, or "gan" (non-saturating, BCE for D)
    pool_size: int = 50  # past fakes each D sees (Shrivastava et al. 2017); 0 = only the latest batch
    lr: float = 2e-4  # Adam learning rate of all four networks
    betas: tuple[float, float] = (0.5, 0.999)  # Adam betas
    decay_start: float = 0.5  # fraction of the steps after which the learning rate falls linearly to 0
    batch_size: int = 16  # images of each domain per step


def learning_rate_factor(step: int, steps: int, decay_start: float) -> float:
    """The learning-rate multiplier at ``step``: 1 until ``decay_start * steps``, then linear to 0
    at ``steps`` (Zhu et al. 2017, Sec. 7.1)."""
    start = int(decay_start * steps)
    if step < start or steps <= start:
        return 1.0
    return max(0.0, 1.0 - (step - start) / (steps - start))


class ImagePool:
    """A buffer of generated images that a discriminator is shown instead of only the newest ones.

    :meth:`query` takes a batch of fresh fakes and returns a batch of the same size. While the pool
    holds fewer than ``size`` images, each fresh image is stored and returned as is. Once it is
    full, each fresh image is, with probability 1/2, returned as is; otherwise a uniformly chosen
    stored image is returned in its place and the fresh one is stored where it was (Shrivastava et
    al. 2017, Sec. 2.3; Zhu et al. 2017, Sec. 4). D so keeps seeing what G used to produce, which
    damps the oscillation of the two players. The pool and its random stream are checkpointed.

    Args:
        size: how many past fakes to keep; 0 returns every batch unchanged.
        seed: seeds the pool's own random stream.
    """

    def __init__(self, size: int = 50, seed: int = 0):
        if size < 0:
            raise ValueError(f"pool size must be >= 0, got {size}")
        self.size = size
        self.images: list[torch.Tensor] = []  # each (C, H, W), detached
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.images)

    @torch.no_grad()
    def query(self, fakes: torch.Tensor) -> torch.Tensor:
        """Fresh fakes (B, C, H, W) -> the batch to show D (B, C, H, W), detached."""
        fakes = fakes.detach()
        if self.size == 0:
            return fakes
        out = []
        for image in fakes:  # (C, H, W)
            if len(self.images) < self.size:  # filling up: store and return the fresh image
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.generator) < 0.5:  # p = 1/2: an old fake instead
                i = int(torch.randint(self.size, (), generator=self.generator))
                out.append(self.images[i].to(fakes.device))  # a resumed pool was read onto the CPU
                self.images[i] = image.clone()
            else:  # p = 1/2: the fresh one
                out.append(image)
        return torch.stack(out)  # (B, C, H, W)

    def state_dict(self) -> dict:
        stacked = torch.stack(self.images) if self.images else torch.zeros(0)
        return {"size": self.size, "images": stacked, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        if int(state["size"]) != self.size:
            raise ValueError(f"the pool state holds up to {int(state['size'])} images, this pool {self.size}")
        self.images = [image.clone() for image in state["images"]] if state["images"].ndim == 4 else []
        self.generator.set_state(state["generator"].cpu())


def lsgan_generator_term(fake_logits: torch.Tensor) -> torch.Tensor:
    """E[(D(G(x)) - 1)^2]: CycleGAN's least-squares adversarial term for a generator (Sec. 4), averaged
    over the batch and the patch map. Twice ``losses.least_squares_generator_loss``, which keeps Mao et
    al.'s 1/2: with this form, lambda_cyc = 10 weighs the cycle as the paper does."""
    return (fake_logits - 1).pow(2).mean()  # (B, 1, h, w) -> scalar


def _fp32(logits: torch.Tensor) -> torch.Tensor:
    """Logits in at least fp32 for the loss (bf16 under autocast becomes fp32; fp64 stays fp64)."""
    return logits.to(torch.promote_types(logits.dtype, torch.float32))


@dataclass
class GeneratorTerms:
    """The generators' objective and its parts, from :func:`generator_objective`."""

    total: torch.Tensor  # lambda_gan gan + lambda_cyc cycle + lambda_id lambda_cyc identity, scalar
    gan: torch.Tensor  # L_GAN of G (against D_Y) + L_GAN of F (against D_X)
    cycle: torch.Tensor  # L_cyc, Eq. 2
    identity: torch.Tensor  # L_id (0 when lambda_id = 0: not computed)
    fake_y: torch.Tensor  # G(x), (B, C, H, W): what D_Y is shown next
    fake_x: torch.Tensor  # F(y), (B, C, H, W): what D_X is shown next


def generator_objective(G: nn.Module, F: nn.Module, D_X: nn.Module, D_Y: nn.Module, x: torch.Tensor,
                        y: torch.Tensor, *, g_loss=lsgan_generator_term, lambda_gan: float = 1.0,
                        lambda_cyc: float = 10.0, lambda_id: float = 0.5) -> GeneratorTerms:
    """CycleGAN's objective for G and F on a batch x (B, C, H, W) of X and y of Y (Zhu et al. 2017, Eq. 3).

    Args:
        G, F: the generators X -> Y and Y -> X.
        D_X, D_Y: the discriminators of X and Y (logit maps); gradients pass through them.
        x, y: unpaired batches of the two domains.
        g_loss: a generator's adversarial loss of fake logits; the paper's least squares by default.
        lambda_gan, lambda_cyc: weights of the adversarial terms and of L_cyc.
        lambda_id: weight of L_id relative to lambda_cyc (0.5 in the paper); 0 skips it.

    Returns:
        The :class:`GeneratorTerms`.
    """
    assert x.ndim == 4 and y.ndim == 4, f"x and y must be (B, C, H, W), got {tuple(x.shape)} and {tuple(y.shape)}"
    fake_y, fake_x = G(x), F(y)  # (B, C, H, W): translations
    gan = g_loss(_fp32(D_Y(fake_y))) + g_loss(_fp32(D_X(fake_x)))  # fool D_Y with G(x), D_X with F(y)
    cycle = losses.cycle_consistency_loss(x, F(fake_y), y, G(fake_x))  # Eq. 2: x -> G -> F ~ x, y -> F -> G ~ y
    identity = losses.identity_loss(x, F(x), y, G(y)) if lambda_id > 0 else torch.zeros((), device=x.device)
    total = lambda_gan * gan + lambda_cyc * cycle + lambda_id * lambda_cyc * identity  # Eq. 3 (+ Sec. 5.2)
    return GeneratorTerms(total, gan, cycle, identity, fake_y, fake_x)


class CycleGANTask:
    """G: X -> Y and F: Y -> X against D_Y and D_X, for :func:`ganlib.training.fit`.

    Batches yield unpaired ``(x, y)``: (B, C, H, W) of each domain (``ganlib.domains.UnpairedBatches``).

    Args:
        G, F, D_X, D_Y: the four networks (``ganlib.models.cyclegan.build_cyclegan``).
        cfg: the :class:`CycleGANTrainConfig`.
        snapshot_inputs: fixed ``(x, y)`` batches (N, C, H, W) each; a snapshot is the (6N, C, H, W)
            stack of x, G(x), F(G(x)), y, F(y), G(F(y)): six rows of N in a grid with ``nrow=N``.
    """

    name = "cyclegan"
    eager = ()
    metric_names = ("g_loss", "g_gan", "cycle", "identity", "d_loss", "d_x_loss", "d_y_loss", "d_y_real",
                    "d_y_fake", "g_grad_norm", "d_grad_norm", "lr")

    def __init__(self, G: nn.Module, F: nn.Module, D_X: nn.Module, D_Y: nn.Module, cfg: CycleGANTrainConfig,
                 *, snapshot_inputs: tuple[torch.Tensor, torch.Tensor]):
        for name, value in (("lambda_cyc", cfg.lambda_cyc), ("lambda_id", cfg.lambda_id),
                            ("lambda_gan", cfg.lambda_gan)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not 0 <= cfg.decay_start <= 1:
            raise ValueError(f"decay_start is a fraction of the steps in [0, 1], got {cfg.decay_start}")
        x_fixed, y_fixed = snapshot_inputs
        if x_fixed.ndim != 4 or y_fixed.ndim != 4:
            raise ValueError("snapshot_inputs must be two image batches (N, C, H, W), "
                             f"got {tuple(x_fixed.shape)} and {tuple(y_fixed.shape)}")
        self.cfg = cfg
        if cfg.objective not in ("lsgan", "gan"):
            raise ValueError(f"CycleGAN trains with objective 'lsgan' (the paper) or 'gan', got {cfg.objective!r}")
        self.objective = losses.objective(cfg.objective)
        self.g_loss = lsgan_generator_term if cfg.objective == "lsgan" else losses.generator_loss_nonsaturating
        self.modules = {"G": G, "F": F, "D_X": D_X, "D_Y": D_Y}
        self.ema: dict[str, str] = {}
        self.snapshot_inputs = (x_fixed, y_fixed)
        self.pool_x, self.pool_y = ImagePool(cfg.pool_size, seed=cfg.seed + 2), ImagePool(cfg.pool_size, seed=cfg.seed + 3)

    def optimizers(self, *, fused: bool) -> dict[str, torch.optim.Optimizer]:
        adam = dict(lr=self.cfg.lr, betas=self.cfg.betas, **({"fused": True} if fused else {}))
        G, F, D_X, D_Y = (self.modules[n] for n in ("G", "F", "D_X", "D_Y"))
        return {"g": torch.optim.Adam([*G.parameters(), *F.parameters()], **adam),  # one optimiser, as in the paper's code
                "d": torch.optim.Adam([*D_X.parameters(), *D_Y.parameters()], **adam)}

    def step(self, ctx: Context, batches: Batches) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        G, F, D_X, D_Y = (ctx.modules[n] for n in ("G", "F", "D_X", "D_Y"))
        lr = cfg.lr * learning_rate_factor(ctx.progress.step, cfg.steps, cfg.decay_start)  # a function of progress
        for opt in ctx.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = lr
        x, y = next(batches)  # (B, C, H, W) each, unpaired

        # ---- Phase 1: generators G and F, discriminators fixed: fool D_Y and D_X, close both cycles ----
        with frozen(D_X, D_Y), ctx.autocast():
            terms = generator_objective(G, F, D_X, D_Y, x, y, g_loss=self.g_loss, lambda_gan=cfg.lambda_gan,
                                        lambda_cyc=cfg.lambda_cyc, lambda_id=cfg.lambda_id)
        g_norm = ctx.optimize("g", terms.total)
        metrics = {"g_loss": terms.total.detach(), "g_gan": terms.gan.detach(), "cycle": terms.cycle.detach(),
                   "identity": terms.identity.detach(), "g_grad_norm": g_norm, "lr": torch.tensor(lr)}
        if cfg.lambda_gan == 0:  # no adversarial term: nothing reads the discriminators, skip their update
            return metrics

        # ---- Phase 2: discriminators, on real images vs fakes from the pools (G and F fixed: fakes detached) ----
        fake_y, fake_x = self.pool_y.query(terms.fake_y), self.pool_x.query(terms.fake_x)  # (B, C, H, W), detached
        with ctx.autocast():
            real_y_logits, fake_y_logits = _fp32(D_Y(y)), _fp32(D_Y(fake_y))  # (B, 1, h, w) patch logits
            real_x_logits, fake_x_logits = _fp32(D_X(x)), _fp32(D_X(fake_x))
        # lsgan: 1/2 (E[(D(real) - 1)^2] + E[D(fake)^2]), halved as in Sec. 7.1: D learns more slowly than G
        d_y = self.objective.d_loss(real_y_logits, fake_y_logits)
        d_x = self.objective.d_loss(real_x_logits, fake_x_logits)
        d_loss = d_x + d_y  # disjoint parameters: one backward of the sum is one per discriminator
        d_norm = ctx.optimize("d", d_loss)
        return {**metrics, "d_loss": d_loss.detach(), "d_x_loss": d_x.detach(), "d_y_loss": d_y.detach(),
                "d_y_real": real_y_logits.detach().mean(), "d_y_fake": fake_y_logits.detach().mean(),
                "d_grad_norm": d_norm}

    @torch.no_grad()
    def snapshot(self) -> torch.Tensor:
        x, y = (t[:self.cfg.n_snapshot] for t in self.snapshot_inputs)
        G, F = self.modules["G"], self.modules["F"]
        fake_y, fake_x = translate(G, x), translate(F, y)
        return torch.cat([x.float().cpu(), fake_y, translate(F, fake_y), y.float().cpu(), fake_x, translate(G, fake_x)])

    def state_dict(self) -> dict:
        return {"pool_x": self.pool_x.state_dict(), "pool_y": self.pool_y.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.pool_x.load_state_dict(state["pool_x"])
        self.pool_y.load_state_dict(state["pool_y"])
