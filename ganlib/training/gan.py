"""The G-against-D game of notebooks 02-05 as a task: unconditional, class-conditional, pix2pix.

The lecture's algorithm (Goodfellow et al. 2014, Algorithm 1), one iteration of which is one *step*:

    k times:  sample x ~ p_data, z ~ p_z;  update D to increase log D(x) + log(1 - D(G(z)))
    once:     sample z ~ p_z;              update G with the chosen generator loss

The same step trains three kinds of generator, told apart by what G is:

- unconditional, G(z) (``G.cfg.latent_dim``): batches yield images x, see :func:`train_step`;
- class-conditional, G(z, y) and D(x, y) (``G.cfg.n_classes``; Mirza and Osindero 2014): batches
  yield ``(x, y)``, see :func:`conditional_train_step`;
- image-to-image, G(x) and D(y, x) (no ``G.cfg.latent_dim``, e.g. the pix2pix U-Net; Isola et al.
  2017): batches yield ``(condition, target)`` pairs, see :func:`pix2pix_step`.

The step functions share one keyword signature, so a notebook can hand its own to the task
(``step_fn=``); :class:`AlternatingTask` plugs them into the generic loop
(:func:`ganlib.training.loop.fit`), and :func:`ganlib.train.train` is the short wrapper notebooks call.
"""

from __future__ import annotations

import contextlib
import inspect
from dataclasses import dataclass
from typing import Callable, ContextManager

import torch
from torch import nn

from ganlib import losses
from ganlib.sampling import is_translator, n_classes_of, sample, translate
from ganlib.training.history import GAN_SERIES
from ganlib.training.loop import Batches, Context, LoopConfig, frozen, optimizer_step

__all__ = [
    "TrainConfig", "AlternatingTask", "discriminator_step", "generator_step", "train_step", "Conditioned",
    "conditional_train_step", "pix2pix_step",
]


#: The optimisers a :class:`TrainConfig` can name (both players use the same kind).
OPTIMIZERS = ("adam", "rmsprop")


@dataclass
class TrainConfig(LoopConfig):
    """Settings of a G-against-D run (see :func:`ganlib.train.train`); defaults suit the toy 2-D data.

    One step is one generator update (the outer iteration); ``batch_size`` is the number of real and
    fake samples per update. The loop's own settings are those of :class:`LoopConfig`.
    """

    k: int = 1  # discriminator updates per generator update (the lecture's k)
    objective: str = "gan"  # "gan", "wgan", "wgan-gp", "hinge" or "lsgan" (losses.OBJECTIVES)
    g_loss: str = "non-saturating"  # for objective "gan": "non-saturating" or "saturating"
    lr_g: float = 2e-4  # learning rate of G's optimiser
    lr_d: float = 2e-4  # learning rate of D's optimiser
    betas: tuple[float, float] = (0.5, 0.999)  # Adam betas; beta1 = 0.5 as in DCGAN
    # "adam", or "rmsprop" (torch's defaults, no momentum; betas unused) for WGAN with weight clipping:
    # Arjovsky et al. 2017 (Alg. 1: RMSProp, lr 5e-5) found that momentum-based optimisers such as Adam destabilise it
    optimizer: str = "adam"
    l1_weight: float = 100.0  # image-to-image only: weight of the L1 distance to the target (pix2pix's lambda)


# ---------------------------------------------------------------------------------------------
# One training step, in named phases
# ---------------------------------------------------------------------------------------------


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
    metrics["d_grad_norm"] = optimizer_step(opt_d, loss)  # zero_grad, backward, norm, step
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
    regularizer: Callable[[], torch.Tensor] | None = None,
    autocast: Callable[[], ContextManager] = contextlib.nullcontext,
) -> dict[str, torch.Tensor]:
    """One update of G: descend ``g_loss(D(G(z)))`` with D held fixed.

    With a ``regularizer`` (a function of no arguments returning a scalar computed from G's weights,
    e.g. BigGAN's orthogonal regulariser), G descends ``g_loss + regularizer()`` and the metrics
    include ``g_reg``, its value.

    With a ``target`` (image-to-image), ``z`` is the condition image and G also descends
    ``l1_weight * mean |target - G(z)|``, pix2pix's reconstruction term (Isola et al. 2017, Eq. 4);
    the returned metrics then include ``l1``, the unweighted mean distance.
    """
    metrics = {}
    with frozen(D):  # gradients flow *through* D into G, but D's weights take none
        with autocast():
            fake = G(z)  # (B, *data_shape)
            fake_logits = D(fake).float()  # (B,), or (B, 1, h, w) for a patch discriminator
        loss = g_loss(fake_logits)
        if target is not None:
            l1 = (target.float() - fake.float()).abs().mean()  # Eq. 3: E ||y - G(x, z)||_1
            loss = loss + l1_weight * l1  # Eq. 4: G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G)
            metrics["l1"] = l1.detach()
        if regularizer is not None:
            reg = regularizer()  # a penalty on G's weights, already weighted (e.g. beta ||W W^T (1 - I)||^2)
            loss = loss + reg
            metrics["g_reg"] = reg.detach()
        grad_norm = optimizer_step(opt_g, loss)
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
    g_regularizer: Callable[[], torch.Tensor] | None = None,
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
        g_regularizer: passed to :func:`generator_step` as its ``regularizer`` (a penalty on G's weights).

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
    g_metrics = generator_step(G, D, opt_g, sample_z(real.shape[0]), g_loss, regularizer=g_regularizer,
                               autocast=autocast)
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
    g_regularizer: Callable[[], torch.Tensor] | None = None,
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
                               regularizer=g_regularizer, autocast=autocast)
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
    g_regularizer: Callable[[], torch.Tensor] | None = None,
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
                               l1_weight=l1_weight, regularizer=g_regularizer, autocast=autocast)
    return {**d_metrics, **g_metrics}



# ---------------------------------------------------------------------------------------------
# The task: G against D in the generic loop
# ---------------------------------------------------------------------------------------------


class AlternatingTask:
    """G against D, one iteration = ``step_fn`` (k D updates, then one G update).

    Args:
        G, D: generator and discriminator returning logits. G(z) with ``G.cfg.latent_dim``; G(z, y)
            with ``G.cfg.n_classes`` as well (then D(x, y)); or an image-to-image G(x) without a
            latent size (then D(image, condition)).
        cfg: the :class:`TrainConfig`.
        step_fn: one iteration; by default :func:`train_step`, :func:`conditional_train_step` or
            :func:`pix2pix_step` by the kind of G (same signatures). It is called with ``k`` and
            ``g_loss``, plus ``d_loss``, ``gp_weight``, ``clip`` for objectives other than "gan",
            ``autocast`` when mixed precision is on (CUDA), ``sample_labels`` for a conditional G
            and ``l1_weight`` for an image-to-image G.
        G_ema: optional copy of G kept as an exponential moving average of G (the loop updates it);
            snapshots then come from it.
        snapshot_inputs: image-to-image only (and required there): the fixed conditions
            (N, C_in, H, W) whose translations the snapshots show.
        g_regularizer: optional penalty on G's weights, ``g_regularizer(G) -> scalar``, added to G's loss
            (e.g. ``functools.partial(losses.orthogonal_regularization_of, beta=1e-4)``, BigGAN); the
            step function receives it as ``g_regularizer=`` (:func:`train_step` supports it).
    """

    name = "gan"
    metric_names = GAN_SERIES

    def __init__(self, G: nn.Module, D: nn.Module, cfg: TrainConfig, *, step_fn: Callable[..., dict] | None = None,
                 G_ema: nn.Module | None = None, snapshot_inputs: torch.Tensor | None = None,
                 g_regularizer: Callable[[nn.Module], torch.Tensor] | None = None):
        if cfg.k < 1:
            raise ValueError(f"need k >= 1, got {cfg}")
        if cfg.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose one of: {', '.join(OPTIMIZERS)}")
        self.cfg = cfg
        self.translator, self.n_classes = is_translator(G), n_classes_of(G)
        if self.translator and snapshot_inputs is None:
            raise ValueError("an image-to-image G needs snapshot_inputs=, a fixed batch of conditions (N, C_in, H, W) "
                             "whose translations the snapshots show")
        self.step_fn = step_fn or (pix2pix_step if self.translator
                                   else conditional_train_step if self.n_classes is not None else train_step)
        self.step_takes_autocast = _accepts(self.step_fn, "autocast")  # a student's step may not: it runs in fp32
        self.objective = losses.objective(cfg.objective)
        self.g_loss = losses.generator_loss(cfg.g_loss) if cfg.objective == "gan" else self.objective.g_loss
        self.modules = {"G": G, "D": D, **({"G_ema": G_ema} if G_ema is not None else {})}
        self.ema = {"G_ema": "G"} if G_ema is not None else {}
        # torch.compile cannot differentiate twice, which the gradient penalty does through D: keep D eager then.
        self.eager = ("D",) if self.objective.gp_weight > 0 else ()
        self.snapshot_inputs = snapshot_inputs
        self.g_regularizer = g_regularizer
        self.options = self._options()  # decided once: a step is never handed a keyword its setting does not use
        refused = [name for name in (*self.options, *(("sample_labels",) if self.n_classes is not None else ()))
                   if not _accepts(self.step_fn, name)]
        if refused:
            raise ValueError(f"the step function {getattr(self.step_fn, '__name__', self.step_fn)!r} takes no "
                             f"{', '.join(refused)}, which this run passes it (objective {cfg.objective!r}"
                             f"{', a G regulariser' if g_regularizer is not None else ''}); add the keyword(s) to it, "
                             "or train without the setting that needs them")
        if not self.translator:
            # The snapshot latents are fixed for the whole run, so snapshots show one z moving over time.
            self.z_fixed = torch.randn(cfg.n_snapshot, G.cfg.latent_dim,
                                       generator=torch.Generator().manual_seed(cfg.seed + 1))

    def describe(self) -> str:
        cfg = self.cfg
        return f"training ({cfg.g_loss if cfg.objective == 'gan' else cfg.objective}, k={cfg.k})"

    def optimizers(self, *, fused: bool) -> dict[str, torch.optim.Optimizer]:
        G, D = self.modules["G"], self.modules["D"]
        if self.cfg.optimizer == "rmsprop":  # WGAN with clipping (Arjovsky et al. 2017, Alg. 1)
            return {"g": torch.optim.RMSprop(G.parameters(), lr=self.cfg.lr_g),
                    "d": torch.optim.RMSprop(D.parameters(), lr=self.cfg.lr_d)}
        adam = dict(betas=self.cfg.betas, fused=True) if fused else dict(betas=self.cfg.betas)
        return {"g": torch.optim.Adam(G.parameters(), lr=self.cfg.lr_g, **adam),
                "d": torch.optim.Adam(D.parameters(), lr=self.cfg.lr_d, **adam)}

    def _options(self) -> dict:
        """The keywords this run's step function is called with every step (besides ``autocast`` and
        ``sample_labels``, which need the loop's context): only the ones its setting uses."""
        cfg, options = self.cfg, {"k": self.cfg.k, "g_loss": self.g_loss}
        if cfg.objective != "gan":
            options.update(d_loss=self.objective.d_loss, gp_weight=self.objective.gp_weight, clip=self.objective.clip)
        if self.translator:
            options["l1_weight"] = cfg.l1_weight
        if self.g_regularizer is not None:
            G, regularizer = self.modules["G"], self.g_regularizer
            options["g_regularizer"] = lambda: regularizer(G)
        return options

    def step(self, ctx: Context, batches: Batches) -> dict[str, torch.Tensor]:
        extras = {}
        if ctx.autocast is not contextlib.nullcontext and self.step_takes_autocast:
            extras["autocast"] = ctx.autocast
        sample_z = None
        if not self.translator:
            latent_dim = self.modules["G"].cfg.latent_dim
            sample_z = lambda n: ctx.randn(n, latent_dim)  # (n, latent_dim)
        if self.n_classes is not None:
            # (n,) uniform classes, from the same noise stream
            extras["sample_labels"] = lambda n: torch.randint(self.n_classes, (n,), device=ctx.device,
                                                              generator=ctx.noise)
        return self.step_fn(ctx.modules["G"], ctx.modules["D"], ctx.optimizers["g"], ctx.optimizers["d"], batches,
                            sample_z, **self.options, **extras)

    def snapshot(self) -> torch.Tensor:
        model = self.modules.get("G_ema", self.modules["G"])
        if self.translator:
            return translate(model, self.snapshot_inputs[:self.cfg.n_snapshot])
        return sample(model, 0, z=self.z_fixed)

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def _accepts(fn: Callable, name: str) -> bool:
    """Whether ``fn`` takes a keyword argument ``name`` (by name or through ``**kwargs``)."""
    params = inspect.signature(fn).parameters.values()
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
