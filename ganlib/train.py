"""Train a generator against a discriminator: ``train(G, D, batches, cfg)``, as notebooks 02-05 do.

A short wrapper around the generic loop: it puts G and D into an
:class:`~ganlib.training.gan.AlternatingTask` (the lecture's alternating algorithm, for G(z),
G(z, y) or an image-to-image G(x)) and runs :func:`ganlib.training.loop.fit`. Everything else here
is re-exported from :mod:`ganlib.training` (the loop, the tasks, the checkpoints) and :mod:`ganlib.sampling`,
so a notebook imports what it trains and draws with from one place:
``from ganlib.train import TrainConfig, train, train_step, sample``.
"""

from __future__ import annotations

import os
from typing import Callable

import torch
from torch import nn

from ganlib import losses  # noqa: F401  (ganlib.train.losses: the step functions' default losses)
from ganlib.training.checkpoint import CHECKPOINT_NAME, CheckpointError, load_checkpoint, save_checkpoint
from ganlib.training.gan import (
    AlternatingTask,
    Conditioned,
    TrainConfig,
    conditional_train_step,
    discriminator_step,
    generator_step,
    pix2pix_step,
    train_step,
)
from ganlib.sampling import sample, translate, truncated_normal
from ganlib.training.history import History
from ganlib.training.loop import Batches, NonFiniteLossError, ema_beta, ema_update, fit

__all__ = [
    "TrainConfig", "History", "CheckpointError", "NonFiniteLossError", "discriminator_step", "generator_step",
    "train_step", "Conditioned", "conditional_train_step", "pix2pix_step", "ema_update", "ema_beta", "train",
    "sample", "truncated_normal", "translate", "save_checkpoint", "load_checkpoint", "CHECKPOINT_NAME",
]


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
    g_regularizer: Callable[[nn.Module], torch.Tensor] | None = None,
    record: dict | None = None,
) -> History:
    """Train G against D with the alternating algorithm and return the :class:`History`.

    Args:
        G, D: generator and discriminator returning logits; moved to ``device`` here. Initialise
            them (e.g. under a seed) before calling. G(z) with ``G.cfg.latent_dim``; G(z, y) with
            ``G.cfg.n_classes`` as well (then D(x, y)); or an image-to-image G(x) without a latent
            size (then D(image, condition)).
        batches: endless iterator on ``device`` with ``state_dict()``: images (B, ...) for G(z),
            ``(images, labels)`` for G(z, y), ``(condition, target)`` pairs for G(x).
        cfg: the :class:`TrainConfig`.
        device: where to train.
        out_dir: if given, ``checkpoint.pt`` is written there every ``cfg.checkpoint_every`` steps
            and at the end, atomically.
        resume: True to continue from ``out_dir/checkpoint.pt`` exactly as if the run had never
            stopped (``cfg.steps`` is the total to reach); ``"auto"`` resumes when that checkpoint
            exists and starts afresh otherwise.
        progress: show a tqdm progress bar.
        step_fn: one training iteration; by default :func:`train_step`, :func:`conditional_train_step`
            or :func:`pix2pix_step` by the kind of G (see :class:`~ganlib.training.gan.AlternatingTask`).
        G_ema: optional copy of G (``copy.deepcopy(G)``) kept as an exponential moving average of
            G's weights with half-life ``cfg.ema_half_life`` images; snapshots then come from it.
        snapshot_inputs: image-to-image only (and required there): the fixed conditions
            (N, C_in, H, W) whose translations the snapshots show.
        g_regularizer: optional penalty on G's weights, ``g_regularizer(G) -> scalar``, added to G's
            loss in every generator update and logged as ``g_reg`` (BigGAN's orthogonal regulariser).
        record: what made the run (a recipe's name, dataset, image shape), kept in the checkpoint
            (:func:`ganlib.training.fit`, :func:`ganlib.load_run`).

    Returns:
        The History, with losses every ``cfg.log_every`` steps and sample snapshots.

    Raises:
        NonFiniteLossError: a loss became NaN or infinite; checkpoints written so far are kept.
        CheckpointError: ``resume`` was asked for and the checkpoint is missing or unreadable.
    """
    cfg = cfg or TrainConfig()
    task = AlternatingTask(G, D, cfg, step_fn=step_fn, G_ema=G_ema, snapshot_inputs=snapshot_inputs,
                           g_regularizer=g_regularizer)
    return fit(task, batches, cfg, device=device, out_dir=out_dir, resume=resume, progress=progress,
               description=task.describe(), record=record)
