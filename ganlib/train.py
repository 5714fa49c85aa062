"""The alternating GAN training loop, with history, snapshots and exact-resume checkpoints.

The loop is the lecture's algorithm (Goodfellow et al. 2014, Algorithm 1):

    for each iteration:
        k times:  sample x ~ p_data, z ~ p_z;  update D to increase log D(x) + log(1 - D(G(z)))
        once:     sample z ~ p_z;              update G with the chosen generator loss

One *step* is one iteration of the outer loop, i.e. one generator update. The same loop trains
three kinds of generator, told apart by what G is:

- unconditional, G(z) (``G.cfg.latent_dim``): batches yield images x;
- class-conditional, G(z, y) and D(x, y) (``G.cfg.n_classes``; Mirza and Osindero 2014): batches
  yield ``(x, y)``, see :func:`conditional_train_step`;
- image-to-image, G(x) and D(y, x) (no ``G.cfg``, e.g. the pix2pix U-Net; Isola et al. 2017):
  batches yield ``(condition, target)`` pairs, see :func:`pix2pix_step`.
 Everything random in a
run (noise, mini-batches) comes from generators whose state is saved in the checkpoint, so a
resumed run continues exactly where the interrupted one stopped.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager, Protocol

import torch
from torch import nn
from tqdm.auto import tqdm

from ganlib import losses
from ganlib.config import get_device

__all__ = [
    "TrainConfig",
    "History",
    "CheckpointError",
    "NonFiniteLossError",
    "discriminator_step",
    "generator_step",
    "train_step",
    "Conditioned",
    "conditional_train_step",
    "pix2pix_step",
    "ema_update",
    "ema_beta",
    "train",
    "sample",
    "translate",
    "save_checkpoint",
    "load_checkpoint",
    "CHECKPOINT_NAME",
]

CHECKPOINT_NAME = "checkpoint.pt"
_FORMAT = "ganlib-checkpoint-v1"


class Batches(Protocol):
    """What ``train`` reads real data from: an endless iterator with a restorable state."""

    def __next__(self) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


@dataclass
class TrainConfig:
    """Settings of one training run (see :func:`train`); defaults suit the toy 2-D data."""

    steps: int = 2000  # generator updates (outer iterations) in total, counting resumed ones
    batch_size: int = 128  # real and fake samples per update (the batch iterator must match)
    k: int = 1  # discriminator updates per generator update (the lecture's k)
    objective: str = "gan"  # "gan", "wgan", "wgan-gp", "hinge" or "lsgan" (losses.OBJECTIVES)
    g_loss: str = "non-saturating"  # for objective "gan": "non-saturating" or "saturating"
    lr_g: float = 2e-4  # Adam learning rate of G
    lr_d: float = 2e-4  # Adam learning rate of D
    betas: tuple[float, float] = (0.5, 0.999)  # Adam betas; beta1 = 0.5 as in DCGAN
    log_every: int = 10  # record the history (and check losses are finite) every N steps
    snapshot_every: int = 0  # keep G's samples of a fixed z every N steps; 0 = only at the end
    n_snapshot: int = 64  # samples per snapshot
    checkpoint_every: int = 0  # write a checkpoint every N steps; 0 = only at the end
    seed: int = 0  # seeds the noise, the snapshot latents and the models' initialisation
    ema_half_life: float = 10_000.0  # images after which an old G weight counts half in G_ema (Karras et al. 2020)
    amp: bool = True  # on CUDA: bf16 autocast for the forward passes (no loss scaler needed); ignored elsewhere
    channels_last: bool = True  # on CUDA: NHWC memory layout for image models, faster convolutions
    compile: bool = False  # torch.compile G (and D, unless a gradient penalty needs its double backward)
    l1_weight: float = 100.0  # image-to-image only: weight of the L1 distance to the target (pix2pix's lambda)


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss; the last good checkpoint is left untouched."""


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, or not a ganlib checkpoint."""


@dataclass
class History:
    """What happened during training, one entry per logged step.

    ``d_real`` and ``d_fake`` are the mean of D's probabilities sigmoid(logit) on real and fake
    samples: at the game's equilibrium both are 1/2.
    """

    step: list[int] = field(default_factory=list)
    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    d_real: list[float] = field(default_factory=list)
    d_fake: list[float] = field(default_factory=list)
    d_acc_real: list[float] = field(default_factory=list)  # fraction of real samples with a positive logit
    d_acc_fake: list[float] = field(default_factory=list)  # fraction of fakes with a negative logit
    w_estimate: list[float] = field(default_factory=list)  # mean score on real - on fake (Wasserstein estimate for critics)
    d_grad_norm: list[float] = field(default_factory=list)  # L2 norm of D's gradient in its last update
    g_grad_norm: list[float] = field(default_factory=list)  # L2 norm of G's gradient in its update
    l1: list[float] = field(default_factory=list)  # image-to-image: mean |target - G(condition)| (pix2pix)
    snapshot_steps: list[int] = field(default_factory=list)
    snapshots: list[torch.Tensor] = field(default_factory=list)  # each (n_snapshot, *data_shape), CPU

    METRICS = ("d_loss", "g_loss", "d_real", "d_fake")  # every step function reports these
    HEALTH = ("d_acc_real", "d_acc_fake", "w_estimate", "d_grad_norm", "g_grad_norm")  # NaN when a step does not
    TASK = ("l1",)  # reported only by task-specific steps (pix2pix's reconstruction term); NaN otherwise

    def record(self, step: int, metrics: dict[str, float]) -> None:
        self.step.append(step)
        for name in self.METRICS:
            getattr(self, name).append(float(metrics[name]))
        for name in self.HEALTH + self.TASK:
            getattr(self, name).append(float(metrics.get(name, math.nan)))

    def to_dict(self) -> dict[str, list]:
        """The logged numbers (not the snapshots), ready for ``json.dump`` (NaN becomes None)."""
        clean = lambda values: [None if isinstance(v, float) and math.isnan(v) else v for v in values]
        return {"step": list(self.step),
                **{name: clean(getattr(self, name)) for name in self.METRICS + self.HEALTH + self.TASK}}

    def state_dict(self) -> dict:
        """Numbers and snapshots, in a form ``torch.load(weights_only=True)`` accepts."""
        return {**self.to_dict(), "snapshot_steps": list(self.snapshot_steps), "snapshots": list(self.snapshots)}

    @classmethod
    def from_state_dict(cls, state: dict) -> "History":
        history = cls(**{f.name: list(state.get(f.name, [])) for f in dataclasses.fields(cls)})
        for name in cls.METRICS + cls.HEALTH + cls.TASK:  # None (a JSON null) back to NaN
            setattr(history, name, [math.nan if v is None else v for v in getattr(history, name)])
        return history

    def save_json(self, path: str | os.PathLike) -> None:
        _atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1))


# ---------------------------------------------------------------------------------------------
# One training step, in named phases
# ---------------------------------------------------------------------------------------------


def _grad_norm(module: nn.Module) -> torch.Tensor:
    """L2 norm of all of a module's gradients together (no sync: stays a tensor)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))


def discriminator_step(
    G: nn.Module,
    D: nn.Module,
    opt_d: torch.optim.Optimizer,
    real: torch.Tensor,
    z: torch.Tensor,
    *,
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = losses.discriminator_loss,
    gp_weight: float = 0.0,
    clip: float | None = None,
    autocast: Callable[[], ContextManager] = contextlib.nullcontext,
) -> dict[str, torch.Tensor]:
    """One update of D with G held fixed: by default, ascend log D(x) + log(1 - D(G(z))).

    Args:
        G, D, opt_d: the generator, the discriminator (or critic) and D's optimiser.
        real: a real mini-batch (B, *data_shape).
        z: a latent batch (B, latent_dim).
        d_loss: D's loss of (real_logits, fake_logits), e.g. ``losses.wasserstein_critic_loss``.
        gp_weight: weight of the gradient penalty (WGAN-GP's lambda); 0 for none.
        clip: clip D's weights to [-clip, clip] after the update (the original WGAN); None for none.
        autocast: a context-manager factory for the forward passes (bf16 autocast on CUDA).

    Returns:
        Detached scalars: d_loss, d_real and d_fake (mean sigmoid of the logits), d_acc_real and
        d_acc_fake (fraction classified correctly), w_estimate (mean real - mean fake score),
        d_grad_norm, and gp (mean penalty) when a penalty is used.
    """
    with torch.no_grad(), autocast():
        fake = G(z)  # (B, *data_shape), no graph back into G: only D learns here
    with autocast():
        real_logits, fake_logits = D(real).float(), D(fake).float()  # (B,), (B,): losses in fp32
    loss = d_loss(real_logits, fake_logits)
    metrics = {}
    if gp_weight > 0:
        # Outside autocast: the penalty's double backward runs in fp32 (Gulrajani et al. 2017, Eq. 3)
        gp = losses.gradient_penalty(D, real, fake)  # (B,): per-sample, weighted here
        loss = loss + gp_weight * gp.mean()
        metrics["gp"] = gp.detach().mean()
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    metrics["d_grad_norm"] = _grad_norm(D)
    opt_d.step()
    if clip is not None:
        losses.clip_weights_(D, clip)  # WGAN's crude Lipschitz constraint (Arjovsky et al. 2017, Alg. 1)
    real_logits, fake_logits = real_logits.detach(), fake_logits.detach()
    return {
        "d_loss": loss.detach(),
        "d_real": torch.sigmoid(real_logits).mean(),
        "d_fake": torch.sigmoid(fake_logits).mean(),
        "d_acc_real": (real_logits > 0).float().mean(),
        "d_acc_fake": (fake_logits < 0).float().mean(),
        "w_estimate": real_logits.mean() - fake_logits.mean(),
        **metrics,
    }


def generator_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    z: torch.Tensor,
    g_loss: Callable[[torch.Tensor], torch.Tensor],
    *,
    target: torch.Tensor | None = None,
    l1_weight: float = 0.0,
    autocast: Callable[[], ContextManager] = contextlib.nullcontext,
) -> dict[str, torch.Tensor]:
    """One update of G: descend ``g_loss(D(G(z)))`` with D held fixed.

    With a ``target`` (image-to-image), ``z`` is the condition image and G also descends
    ``l1_weight * mean |target - G(z)|``, pix2pix's reconstruction term (Isola et al. 2017, Eq. 4);
    the returned metrics then include ``l1``, the unweighted mean distance.
    """
    D.requires_grad_(False)  # gradients flow *through* D into G, but D's weights take none
    metrics = {}
    try:
        with autocast():
            fake = G(z)  # (B, *data_shape)
            fake_logits = D(fake).float()  # (B,), or (B, 1, h, w) for a patch discriminator
        loss = g_loss(fake_logits)
        if target is not None:
            l1 = (target.float() - fake.float()).abs().mean()  # Eq. 3: E ||y - G(x, z)||_1
            loss = loss + l1_weight * l1  # Eq. 4: G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G)
            metrics["l1"] = l1.detach()
        opt_g.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = _grad_norm(G)
        opt_g.step()
    finally:
        D.requires_grad_(True)
    return {"g_loss": loss.detach(), "g_grad_norm": grad_norm, **metrics}


def train_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    batches: Batches,
    sample_z: Callable[[int], torch.Tensor],
    *,
    k: int = 1,
    g_loss: Callable[[torch.Tensor], torch.Tensor] = losses.generator_loss_nonsaturating,
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = losses.discriminator_loss,
    gp_weight: float = 0.0,
    clip: float | None = None,
    autocast: Callable[[], ContextManager] = contextlib.nullcontext,
) -> dict[str, torch.Tensor]:
    """One iteration of the lecture's algorithm: k discriminator updates, then one generator update.

    With a Wasserstein objective, D is the critic and k is WGAN's n_critic.

    Args:
        G, D: the generator and the discriminator (D returns logits).
        opt_g, opt_d: their optimisers.
        batches: endless iterator of real mini-batches (B, *data_shape) on the training device.
        sample_z: ``sample_z(B)`` returns a latent batch (B, latent_dim) on the training device.
        k: discriminator updates per generator update.
        g_loss: generator loss of fake logits, e.g. ``losses.generator_loss_nonsaturating``.
        d_loss, gp_weight, clip, autocast: passed to :func:`discriminator_step`.

    Returns:
        Detached scalar tensors: the last D update's metrics (see :func:`discriminator_step`),
        ``g_loss`` and ``g_grad_norm``.
    """
    # ---- Phase 1: k discriminator (critic) updates, G fixed ----
    for _ in range(k):
        real = next(batches)
        d_metrics = discriminator_step(G, D, opt_d, real, sample_z(real.shape[0]), d_loss=d_loss,
                                       gp_weight=gp_weight, clip=clip, autocast=autocast)
    # ---- Phase 2: one generator update, D fixed: make D(G(z)) look real ----
    g_metrics = generator_step(G, D, opt_g, sample_z(real.shape[0]), g_loss, autocast=autocast)
    return {**d_metrics, **g_metrics}


class Conditioned(nn.Module):
    """A conditional model with its condition held fixed: ``Conditioned(D, y)(x) == D(x, y)``.

    Its parameters are the wrapped model's, so the unconditional steps (optimiser, gradient
    norms, ``requires_grad_``, the gradient penalty with respect to x) apply unchanged.
    """

    def __init__(self, model: nn.Module, condition: torch.Tensor):
        super().__init__()
        self.model = model
        self.condition = condition  # (B,) labels or (B, C, H, W) condition images

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, self.condition)


def conditional_train_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    batches: Batches,
    sample_z: Callable[[int], torch.Tensor],
    *,
    sample_labels: Callable[[int], torch.Tensor],
    k: int = 1,
    g_loss: Callable[[torch.Tensor], torch.Tensor] = losses.generator_loss_nonsaturating,
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = losses.discriminator_loss,
    gp_weight: float = 0.0,
    clip: float | None = None,
    autocast: Callable[[], ContextManager] = contextlib.nullcontext,
) -> dict[str, torch.Tensor]:
    """One iteration of the conditional GAN (Mirza and Osindero 2014): both players see the label y.

        min_G max_D  E_{x,y}[log D(x | y)] + E_{z,y}[log(1 - D(G(z | y) | y))]

    D judges real pairs (x, y) against fake pairs (G(z, y), y) made with the *same* labels, so
    a fake can only pass by looking like its class; G is then updated on labels drawn afresh.

    Args:
        G, D: ``G(z, y)`` and ``D(x, y)`` with y int64 labels of shape (B,).
        batches: endless iterator of ``(images (B, C, H, W), labels (B,))`` on the training device.
        sample_labels: ``sample_labels(B)`` returns labels (B,) for the generator update.
        Others: as in :func:`train_step`.

    Returns:
        The same metrics as :func:`train_step`.
    """
    # ---- Phase 1: k discriminator updates on (x, y) vs (G(z, y), y), G fixed ----
    for _ in range(k):
        real, y = next(batches)  # (B, C, H, W), (B,)
        d_metrics = discriminator_step(Conditioned(G, y), Conditioned(D, y), opt_d, real, sample_z(real.shape[0]),
                                       d_loss=d_loss, gp_weight=gp_weight, clip=clip, autocast=autocast)
    # ---- Phase 2: one generator update on fresh labels, D fixed ----
    y_g = sample_labels(real.shape[0])  # (B,)
    g_metrics = generator_step(Conditioned(G, y_g), Conditioned(D, y_g), opt_g, sample_z(real.shape[0]), g_loss,
                               autocast=autocast)
    return {**d_metrics, **g_metrics}


def pix2pix_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    batches: Batches,
    sample_z: Callable[[int], torch.Tensor] | None = None,
    *,
    l1_weight: float = 100.0,
    k: int = 1,
    g_loss: Callable[[torch.Tensor], torch.Tensor] = losses.generator_loss_nonsaturating,
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = losses.discriminator_loss,
    gp_weight: float = 0.0,
    clip: float | None = None,
    autocast: Callable[[], ContextManager] = contextlib.nullcontext,
) -> dict[str, torch.Tensor]:
    """One iteration of pix2pix (Isola et al. 2017): a conditional GAN on paired images plus L1.

        G* = arg min_G max_D  E[log D(x, y)] + E[log(1 - D(x, G(x)))] + lambda E ||y - G(x)||_1

    x is the condition (e.g. an edge map), y the target image. G has no z: dropout is its noise.
    D is a patch discriminator ``D(image, condition)`` returning a map of logits, each judging one
    patch; the losses average over the map.

    Args:
        G: maps conditions (B, C_in, H, W) to images (B, C_out, H, W).
        D: ``D(image, condition)`` -> logits (B, 1, h, w).
        batches: endless iterator of ``(condition, target)`` pairs on the training device.
        sample_z: unused (G draws its noise from dropout); kept for the common step signature.
        l1_weight: lambda, the weight of the L1 term (paper: 100); 0 gives a cGAN alone.
        Others: as in :func:`train_step`.

    Returns:
        The metrics of :func:`train_step` and ``l1``, the mean |y - G(x)| of the G update.
    """
    # ---- Phase 1: k discriminator updates on (y, x) vs (G(x), x), G fixed ----
    for _ in range(k):
        condition, target = next(batches)  # (B, C_in, H, W), (B, C_out, H, W)
        d_metrics = discriminator_step(G, Conditioned(D, condition), opt_d, target, condition, d_loss=d_loss,
                                       gp_weight=gp_weight, clip=clip, autocast=autocast)
    # ---- Phase 2: one generator update: fool D and stay within L1 of the target ----
    g_metrics = generator_step(G, Conditioned(D, condition), opt_g, condition, g_loss, target=target,
                               l1_weight=l1_weight, autocast=autocast)
    return {**d_metrics, **g_metrics}


@torch.no_grad()
def ema_update(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    """G_ema <- beta * G_ema + (1 - beta) * G, parameter by parameter; buffers are copied."""
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.lerp_(p, 1.0 - beta)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)


def ema_beta(batch_size: int, half_life_images: float) -> float:
    """Per-step decay so that a weight's influence halves after ``half_life_images`` images."""
    return 0.5 ** (batch_size / max(half_life_images, 1e-8))


class _ChannelsLast:
    """Batches in NHWC layout (channels_last) for faster convolutions on CUDA; state passes through."""

    def __init__(self, batches: Batches):
        self.batches = batches

    def __iter__(self):
        return self

    def __next__(self) -> torch.Tensor | tuple[torch.Tensor, ...]:
        batch = next(self.batches)
        if isinstance(batch, torch.Tensor):
            return batch.contiguous(memory_format=torch.channels_last)  # (B, C, H, W), NHWC
        # (images, labels) or (condition, target): every 4-D tensor goes NHWC, labels pass through
        return tuple(t.contiguous(memory_format=torch.channels_last) if t.ndim == 4 else t for t in batch)

    def state_dict(self) -> dict:
        return self.batches.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.batches.load_state_dict(state)


# ---------------------------------------------------------------------------------------------
# Checkpoints: full state, written atomically, read with weights_only=True
# ---------------------------------------------------------------------------------------------


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_checkpoint(path: str | os.PathLike, state: dict) -> Path:
    """Write ``state`` with ``torch.save`` to a temporary file, fsync it, then rename it over ``path``.

    A crash mid-write leaves the previous checkpoint intact: the rename is atomic.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save({"format": _FORMAT, **state}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`, with ``weights_only=True``.

    Raises:
        CheckpointError: the file is missing, truncated, corrupt, or not a ganlib checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train without --resume to start a new run")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch.load on arbitrary bytes can raise almost anything (IndexError on an empty file)
        first_line = (str(e).splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"checkpoint {path} is corrupt or unreadable ({type(e).__name__}: {first_line}); "
            "delete it to start over, or resume from another copy"
        ) from e
    if not isinstance(state, dict) or state.get("format") != _FORMAT:
        raise CheckpointError(f"{path} is not a ganlib checkpoint (expected format {_FORMAT!r})")
    return state


def _rng_state(noise_gen: torch.Generator) -> dict:
    state = {"torch": torch.get_rng_state(), "noise": noise_gen.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict, noise_gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    noise_gen.set_state(state["noise"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------


def _n_classes(G: nn.Module) -> int | None:
    """The number of classes of a class-conditional G(z, y), None for an unconditional one."""
    return getattr(getattr(G, "cfg", None), "n_classes", None)


def _is_translator(G: nn.Module) -> bool:
    """True for an image-to-image G(x) such as the pix2pix U-Net: it has no latent size."""
    return getattr(getattr(G, "cfg", None), "latent_dim", None) is None


@torch.no_grad()
def _eval_forward(G: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
    device = next(G.parameters()).device
    was_training = G.training
    G.eval()
    try:
        return G(*(t.to(device) for t in inputs)).float().cpu()
    finally:
        G.train(was_training)


def sample(G: nn.Module, n: int, *, generator: torch.Generator | None = None, z: torch.Tensor | None = None,
           labels: torch.Tensor | None = None) -> torch.Tensor:
    """Draw ``n`` samples from G in eval mode, returned on the CPU as (n, *data_shape).

    Args:
        G: a generator with ``G.cfg.latent_dim``; unconditional G(z) or class-conditional G(z, y).
        n: how many samples (ignored when ``z`` is given).
        generator: CPU random generator for z.
        z: latent codes (n, latent_dim) to use instead of fresh ones.
        labels: class labels (n,) for a conditional G; by default 0, 1, ..., n_classes - 1, 0, 1, ...
            so that a grid with ``nrow=n_classes`` shows one class per column.
    """
    if z is None:
        z = torch.randn(n, G.cfg.latent_dim, generator=generator)  # (n, latent_dim), CPU generator
    n_classes = _n_classes(G)
    if n_classes is None:
        if labels is not None:
            raise ValueError("labels were given but G is unconditional (its config has no n_classes)")
        return _eval_forward(G, z)
    if labels is None:
        labels = torch.arange(len(z)) % n_classes  # (n,)
    if labels.shape != (len(z),):
        raise ValueError(f"labels must have shape ({len(z)},) like z's batch, got {tuple(labels.shape)}")
    return _eval_forward(G, z, labels.long())


def translate(G: nn.Module, conditions: torch.Tensor) -> torch.Tensor:
    """An image-to-image G applied in eval mode (dropout off, batch norm's running statistics):
    conditions (B, C_in, H, W) -> images (B, C_out, H, W) on the CPU."""
    return _eval_forward(G, conditions)


def _check_finite(metrics: dict[str, float], step: int, last_good: int, checkpoint: Path | None) -> None:
    bad = [name for name in ("d_loss", "g_loss") if not math.isfinite(metrics[name])]
    if bad:
        where = f"the last good checkpoint is {checkpoint} (step {last_good})" if checkpoint else "no checkpoint was written"
        raise NonFiniteLossError(
            f"{' and '.join(bad)} became non-finite ({', '.join(f'{n}={metrics[n]}' for n in bad)}) "
            f"at or before step {step}; {where}. Lower the learning rates or check the data for NaNs."
        )


def train(
    G: nn.Module,
    D: nn.Module,
    batches: Batches,
    cfg: TrainConfig | None = None,
    *,
    device: str | torch.device = "cpu",
    out_dir: str | os.PathLike | None = None,
    resume: bool | str = False,
    progress: bool = True,
    step_fn: Callable[..., dict[str, torch.Tensor]] | None = None,
    G_ema: nn.Module | None = None,
    snapshot_inputs: torch.Tensor | None = None,
) -> History:
    """Train G against D with the alternating algorithm and return the :class:`History`.

    Args:
        G, D: generator and discriminator returning logits; moved to ``device`` here. Initialise
            them (e.g. under a seed) before calling. G(z) with ``G.cfg.latent_dim``; G(z, y) with
            ``G.cfg.n_classes`` as well (then D(x, y)); or an image-to-image G(x) without a ``cfg``
            (then D(image, condition)).
        batches: endless iterator on ``device`` with ``state_dict()``: images (B, ...) for G(z),
            ``(images, labels)`` for G(z, y), ``(condition, target)`` pairs for G(x).
        cfg: the :class:`TrainConfig`.
        device: where to train.
        out_dir: if given, ``checkpoint.pt`` is written there every ``cfg.checkpoint_every`` steps
            and at the end, atomically.
        resume: True to continue from ``out_dir/checkpoint.pt``: models, optimisers, step, history,
            random states and the batch iterator's position are restored, so the run goes on
            exactly as if it had never stopped. ``cfg.steps`` is the total to reach. ``"auto"``
            resumes when that checkpoint exists and starts afresh otherwise, so re-running a
            notebook cell (after a Colab disconnect, say) picks up where it stopped.
        progress: show a tqdm progress bar.
        step_fn: one training iteration; by default :func:`train_step`, :func:`conditional_train_step`
            or :func:`pix2pix_step` by the kind of G (same signatures). It is called with ``k`` and
            ``g_loss``, plus ``d_loss``, ``gp_weight``, ``clip`` for objectives other than "gan",
            ``autocast`` when mixed precision is on (CUDA), ``sample_labels`` for a conditional G
            and ``l1_weight`` for an image-to-image G.
        G_ema: optional copy of G (``copy.deepcopy(G)``) kept as an exponential moving average of
            G's weights with half-life ``cfg.ema_half_life`` images; snapshots then come from it.
        snapshot_inputs: image-to-image only (and required there): the fixed conditions
            (N, C_in, H, W) whose translations the snapshots show.

    On CUDA the loop runs at full speed: bf16 autocast (``cfg.amp``), channels_last for image
    models (``cfg.channels_last``), fused Adam, cuDNN autotuning, optionally ``torch.compile``.
    On the CPU everything is fp32 and deterministic.

    Returns:
        The History, with losses every ``cfg.log_every`` steps and sample snapshots.

    Raises:
        NonFiniteLossError: a loss became NaN or infinite; checkpoints written so far are kept.
        CheckpointError: ``resume`` was asked for and the checkpoint is missing or unreadable.
    """
    cfg = cfg or TrainConfig()
    if cfg.k < 1 or cfg.steps < 0 or cfg.log_every < 1:
        raise ValueError(f"need k >= 1, steps >= 0 and log_every >= 1, got {cfg}")
    if resume not in (True, False, "auto"):
        raise ValueError(f"resume must be True, False or 'auto', got {resume!r}")
    translator, n_classes = _is_translator(G), _n_classes(G)
    if translator and snapshot_inputs is None:
        raise ValueError("an image-to-image G needs snapshot_inputs=, a fixed batch of conditions (N, C_in, H, W) "
                         "whose translations the snapshots show")
    if step_fn is None:
        step_fn = pix2pix_step if translator else conditional_train_step if n_classes is not None else train_step
    objective = losses.objective(cfg.objective)
    g_loss = losses.generator_loss(cfg.g_loss) if cfg.objective == "gan" else objective.g_loss
    device = get_device(device)
    cuda = device.type == "cuda"
    convolutional = any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in [*G.modules(), *D.modules()])
    channels_last = cuda and cfg.channels_last and convolutional
    layout = {"memory_format": torch.channels_last} if channels_last else {}
    for model in (G, D, G_ema):
        if model is not None:
            model.to(device, **layout)
    if cuda:
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels
    adam = dict(betas=cfg.betas, fused=True) if cuda else dict(betas=cfg.betas)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, **adam)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, **adam)
    extras: dict = {}
    if cfg.objective != "gan":
        extras.update(d_loss=objective.d_loss, gp_weight=objective.gp_weight, clip=objective.clip)
    if cuda and cfg.amp:
        # bf16 has fp32's exponent range, so no loss scaler is needed (and the penalty needs no unscaling)
        extras["autocast"] = lambda: torch.autocast("cuda", dtype=torch.bfloat16)
    if translator:
        extras["l1_weight"] = cfg.l1_weight
    # torch.compile cannot differentiate twice, which the gradient penalty does through D: keep D eager then.
    G_run = torch.compile(G) if cfg.compile else G
    D_run = torch.compile(D) if cfg.compile and objective.gp_weight == 0 else D
    real_batches = _ChannelsLast(batches) if channels_last else batches
    beta = ema_beta(cfg.batch_size, cfg.ema_half_life)
    noise_gen = torch.Generator(device=device).manual_seed(cfg.seed)
    sample_z = None
    if not translator:
        latent_dim = G.cfg.latent_dim
        # The snapshot latents are fixed for the whole run, so snapshots show one z moving over time.
        z_fixed = torch.randn(cfg.n_snapshot, latent_dim, generator=torch.Generator().manual_seed(cfg.seed + 1))

        def sample_z(n: int) -> torch.Tensor:
            return torch.randn(n, latent_dim, device=device, generator=noise_gen)  # (n, latent_dim)

    if n_classes is not None:
        def sample_labels(n: int) -> torch.Tensor:
            return torch.randint(n_classes, (n,), device=device, generator=noise_gen)  # (n,) uniform classes

        extras["sample_labels"] = sample_labels

    ckpt_path = Path(out_dir) / CHECKPOINT_NAME if out_dir is not None else None
    if resume == "auto":
        resume = ckpt_path is not None and ckpt_path.is_file()
    history, start = History(), 0
    if resume:
        if ckpt_path is None:
            raise CheckpointError("resume=True needs out_dir, the folder that holds checkpoint.pt")
        state = load_checkpoint(ckpt_path, map_location=device)
        G.load_state_dict(state["G"])
        D.load_state_dict(state["D"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        if G_ema is not None:
            if "G_ema" not in state:
                raise CheckpointError(f"{ckpt_path} holds no G_ema: resume without G_ema, or start a new run")
            G_ema.load_state_dict(state["G_ema"])
        batches.load_state_dict(state["batches"])
        _set_rng_state(state["rng"], noise_gen)
        history, start = History.from_state_dict(state["history"]), int(state["step"])
        changed = {k: (v, getattr(cfg, k)) for k, v in state["config"].items()
                   if k not in ("steps", "log_every", "snapshot_every", "checkpoint_every")
                   and hasattr(cfg, k) and _plain(getattr(cfg, k)) != _plain(v)}
        if changed:
            warnings.warn(f"resuming with settings that differ from the checkpoint's: {changed}", stacklevel=2)
    last_good = start

    def checkpoint(step: int) -> None:
        nonlocal last_good
        if ckpt_path is None:
            return
        # A finite loss can still be followed by an update that blew the weights up: never save those.
        bad = [name for name, model in (("G", G), ("D", D))
               if not all(bool(torch.isfinite(p).all()) for p in model.parameters())]
        if bad:
            raise NonFiniteLossError(
                f"{' and '.join(bad)} weights became non-finite at or before step {step}; the last good "
                f"checkpoint is {ckpt_path} (step {last_good}). Lower the learning rates."
                if last_good else f"{' and '.join(bad)} weights became non-finite at or before step {step}; "
                "no checkpoint was written. Lower the learning rates.")
        save_checkpoint(ckpt_path, {
            "step": step,
            "G": G.state_dict(), "D": D.state_dict(),
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
            **({"G_ema": G_ema.state_dict()} if G_ema is not None else {}),
            "rng": _rng_state(noise_gen),
            "batches": batches.state_dict(),
            "history": history.state_dict(),
            "config": {k: _plain(v) for k, v in dataclasses.asdict(cfg).items()},
        })
        last_good = step

    def snapshot(step: int) -> None:
        if not history.snapshot_steps or history.snapshot_steps[-1] != step:
            history.snapshot_steps.append(step)
            model = G if G_ema is None else G_ema
            shots = translate(model, snapshot_inputs[:cfg.n_snapshot]) if translator else sample(model, 0, z=z_fixed)
            history.snapshots.append(shots)

    if start == 0:
        snapshot(0)
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, disable=not progress,
               desc=f"training ({cfg.g_loss if cfg.objective == 'gan' else cfg.objective}, k={cfg.k})"
                    + (f" from {start}" if start else ""),
               unit="step")
    for step in bar:
        metrics = step_fn(G_run, D_run, opt_g, opt_d, real_batches, sample_z, k=cfg.k, g_loss=g_loss, **extras)
        if G_ema is not None:
            ema_update(G_ema, G, beta)
        done = step + 1
        is_log = done % cfg.log_every == 0 or done == cfg.steps
        is_ckpt = cfg.checkpoint_every > 0 and done % cfg.checkpoint_every == 0
        if is_log or is_ckpt:  # .item() waits for the GPU, so only at these steps
            values = {name: float(v) for name, v in metrics.items()}
            _check_finite(values, done, last_good, ckpt_path if last_good else None)
            if is_log:
                history.record(done, values)
                bar.set_postfix(d_loss=f"{values['d_loss']:.3f}", g_loss=f"{values['g_loss']:.3f}",
                                d_real=f"{values['d_real']:.2f}", d_fake=f"{values['d_fake']:.2f}")
        if (cfg.snapshot_every and done % cfg.snapshot_every == 0) or done == cfg.steps:
            snapshot(done)
        if is_ckpt or done == cfg.steps:
            checkpoint(done)
    bar.close()
    return history


def _plain(value):
    """Config values as plain Python types (tuples become lists) for the checkpoint."""
    return list(value) if isinstance(value, tuple) else value
