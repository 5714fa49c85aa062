"""The G-against-D recipes (vanilla, dcgan, wgan, wgan-gp, cgan): their networks, their data, their training."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable

import torch
from torch import nn

from ganlib import config, data
from ganlib.models.conditional import build_conditional_gan
from ganlib.models.dcgan import DCGAN_PRESETS, build_dcgan
from ganlib.models.mlp import build_mlp_gan
from ganlib.recipes.common import _recipe, _record, _run, check_choice
from ganlib.recipes.runs import Run
from ganlib.training import distributed
from ganlib.training.gan import AlternatingTask, TrainConfig
from ganlib.training.loop import fit


def build_models(name: str, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """(G, D) of a recipe for samples of shape ``data_shape``: (2,) points, or (C, H, W) images.

    Raises:
        ValueError: for an unknown name, or a conditional recipe on 2-D points.
    """

    recipe = _recipe(name)
    overrides = dict(recipe.d_overrides)
    toy = len(data_shape) == 1
    if toy and recipe.family == "conditional":
        raise ValueError(f"model {name!r} needs class labels; the toy 2-D datasets have none: use an image dataset")
    if toy or recipe.family == "mlp":
        overrides.pop("d_batchnorm", None)  # the MLP discriminator has no batch norm anyway
        return build_mlp_gan("toy2d" if toy else "mnist", data_shape=data_shape, **overrides)
    channels, size = data_shape[0], max(data_shape[1:])
    shape = dict(channels=channels, image_size=32 if size <= 32 else 64)
    if recipe.family == "conditional":
        return build_conditional_gan("mnist32" if channels == 1 else "cifar32", "projection", **shape)
    preset = "mnist32" if channels == 1 else "cifar32"
    return build_dcgan(DCGAN_PRESETS[preset], **shape, **overrides)


def load_training_data(name: str, dataset: str, root: str | os.PathLike | None = None
                       ) -> tuple[data.GaussianMixture | None, data.ImageDataset | None]:
    """The data a recipe trains on: ``(mixture, None)`` for a toy name, ``(None, images)`` for an
    image name, with MNIST's 28 px padded to 32 px for the convolutional families."""
    recipe = check_choice(name, dataset)
    if dataset in data.TOY_DATASETS:
        return data.TOY_DATASETS[dataset](), None
    images = data.load_images(dataset, root)
    if recipe.family != "mlp" and images.images.shape[-1] == 28:
        # DCGAN doubles 4 -> 8 -> 16 -> 32: pad MNIST's 28 px with background
        images = data.ImageDataset(data.pad_to(images.images, 32), images.labels, images.name, images.classes)
    return None, images


def train_recipe(
    name: str,
    dataset: str = "mnist-5k",
    *,
    out_dir: str | os.PathLike | None = None,
    profile: str = "auto",
    device: str | torch.device = "auto",
    resume: bool | str = "auto",
    steps: int | None = None,
    seed: int = 0,
    k: int | None = None,
    g_loss: str = "non-saturating",
    batch_size: int | None = None,
    ema_half_life: float = 10_000.0,
    checkpoint_every: int = 500,
    progress: bool = True,
    g_regularizer: Callable[[nn.Module], torch.Tensor] | None = None,
    images: torch.Tensor | None = None,
    precision: str = "auto",
    compile: bool = False,
) -> Run:
    """Build a recipe's models and data and train them; a finished run in ``out_dir`` is just loaded.

    Args:
        name: a key of :data:`MODELS`.
        dataset: a name of :func:`ganlib.data.dataset_names`.
        out_dir: where the checkpoint lives; None trains in memory only.
        profile: picks the default number of steps.
        device: where to train.
        resume: passed to :func:`ganlib.training.fit`; ``"auto"`` continues (or loads) a run in
            ``out_dir`` when there is one.
        steps, k, batch_size: override the recipe's defaults.
        seed: seeds the models' initialisation, the batches and the noise.
        g_loss: "non-saturating" or "saturating", for the "gan" objective.
        ema_half_life: half-life in images of ``G_ema``.
        checkpoint_every: write a checkpoint every N steps (and at the end).
        progress: show a progress bar.
        g_regularizer: a penalty on G's weights added to its loss, ``g_regularizer(G) -> scalar``
            (e.g. BigGAN's ``functools.partial(losses.orthogonal_regularization_of, beta=1e-4)``).
        images: train on these images (N, C, 32, 32) in [-1, 1] instead of ``dataset``'s, e.g. a class-imbalanced
            subset (notebook 09); unconditional recipes only. ``dataset`` then only names the run.
        precision: ``"auto"`` (the device plan's choice), ``"bf16"``, ``"fp16"`` or ``"fp32"``
            (:func:`ganlib.training.device_plan`).
        compile: ``torch.compile`` G, and D unless a gradient penalty differentiates through it.

    Returns:
        A :class:`~ganlib.recipes.runs.Run`.
    """
    recipe = _recipe(name)
    profile = config.resolve_profile(profile)
    device = config.get_device(device)
    if images is not None:
        if recipe.family == "conditional" or images.ndim != 4:
            raise ValueError(f"images= needs an unconditional image recipe and images (N, C, H, W); got {name!r} and "
                             f"shape {tuple(images.shape)}")
        mixture, images = None, data.ImageDataset(images, torch.zeros(len(images), dtype=torch.long), dataset, ())
    else:
        mixture, images = load_training_data(name, dataset)
    batch_size = batch_size or recipe.batch_size
    cfg = TrainConfig(
        steps=steps if steps is not None else recipe.steps[profile],
        batch_size=batch_size, k=k if k is not None else recipe.k, objective=recipe.objective, g_loss=g_loss,
        lr_g=recipe.lr, lr_d=recipe.lr, betas=recipe.betas, ema_half_life=ema_half_life,
        checkpoint_every=checkpoint_every, snapshot_every=0, seed=seed, precision=precision, compile=compile,
    )
    generator = config.seed_everything(seed)
    G, D = build_models(name, (mixture.dim,) if mixture is not None else tuple(images.images.shape[1:]))
    G_ema = copy.deepcopy(G).eval()  # the samples come from the moving average of G's weights
    # Under torchrun each process draws its share of the batch from its own shard (ganlib.training.distributed).
    local_batch, generator = distributed.local_batch_size(batch_size), distributed.rank_generator(generator, seed)
    if mixture is not None:
        batches = data.ToyBatches(mixture, local_batch, device=device, generator=generator)
    else:
        labels = distributed.shard(images.labels) if recipe.family == "conditional" else None
        batches = data.InMemoryBatches(distributed.shard(images.images), local_batch, targets=labels, device=device,
                                       generator=generator)
    shape = (mixture.dim,) if mixture is not None else tuple(images.images.shape[1:])
    record = _record(name, dataset, shape)
    task = AlternatingTask(G, D, cfg, G_ema=G_ema, g_regularizer=g_regularizer)
    history = fit(task, batches, cfg, device=device, out_dir=out_dir, resume=resume, progress=progress,
                  description=task.describe(), record=record)
    return _run({"G": G, "D": D, "G_ema": G_ema}, history, cfg, out_dir, "gan", record)
