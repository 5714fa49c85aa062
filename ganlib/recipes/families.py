"""The recipes with a task of their own: CycleGAN, progressive growing, StyleGAN, the VAE and the DDPM."""

from __future__ import annotations

import dataclasses
import os

import torch
from torch import nn

from ganlib import config, domains
from ganlib.models.cyclegan import build_cyclegan
from ganlib.models.diffusion import DDPM, DiffusionConfig
from ganlib.models.progan import build_progan, resolutions
from ganlib.models.stylegan import build_stylegan
from ganlib.models.vae import VAE, VAEConfig
from ganlib.recipes.common import (CYCLEGAN, CYCLEGAN_STEPS, MNIST32_SHAPE, _fit_on_images, _images_32, _record, _run,
                                   check_choice)
from ganlib.recipes.gan import build_models
from ganlib.recipes.runs import Run
from ganlib.training import distributed
from ganlib.training.cyclegan import CycleGANTask, CycleGANTrainConfig
from ganlib.training.diffusion import DDPMTask, DDPMTrainConfig
from ganlib.training.loop import fit
from ganlib.training.progan import ProGANTask, ProGANTrainConfig, steps_for_images
from ganlib.training.stylegan import StyleGANTask, StyleGANTrainConfig
from ganlib.training.vae import VAETask, VAETrainConfig


# ---------------------------------------------------------------------------------------------
# CycleGAN: four networks on a pair of domains
# ---------------------------------------------------------------------------------------------


def train_cyclegan(
    dataset: str = "mnist-typeset",
    *,
    out_dir: str | os.PathLike | None = None,
    profile: str = "auto",
    device: str | torch.device = "auto",
    resume: bool | str = "auto",
    steps: int | None = None,
    seed: int = 0,
    batch_size: int | None = None,
    lambda_cyc: float = 10.0,
    lambda_id: float = 0.5,
    lambda_gan: float = 1.0,
    pool_size: int = 50,
    size: int | None = None,
    pair: "domains.DomainPair | None" = None,
    checkpoint_every: int = 500,
    progress: bool = True,
    precision: str = "auto",
    compile: bool = False,
) -> Run:
    """Build CycleGAN for a domain pair and train it; a finished run in ``out_dir`` is just loaded.

    The networks are the ``"digits"`` preset of :mod:`ganlib.models.cyclegan` for the 28 px digit
    pairs, ``"resnet_6blocks"`` at 128 px and ``"resnet_9blocks"`` at 256 px for the photo sets.

    Args:
        dataset: a name of :data:`ganlib.domains.DOMAIN_PAIRS`.
        out_dir: where the checkpoint lives; None trains in memory only.
        profile: picks the default number of steps (:data:`CYCLEGAN_STEPS`).
        device: where to train.
        resume: ``"auto"`` continues (or loads) a run in ``out_dir`` when there is one.
        steps: override the profile's steps.
        seed: seeds the splits, the networks' initialisation, the batches and the pools.
        batch_size: images per domain per step (default 16 for digits, 1 for photos as in the paper).
        lambda_cyc, lambda_id, lambda_gan: the objective's weights (:class:`CycleGANTrainConfig`);
            0 turns a term off (the notebook's ablations).
        pool_size: past fakes each discriminator sees.
        size: image size (digits: 28 or 32; photos: 128 by default).
        pair: the :class:`~ganlib.domains.DomainPair` if already loaded (saves reloading it).
        checkpoint_every: write a checkpoint every N steps (and at the end).
        progress: show a progress bar.
        precision: ``"auto"``, ``"bf16"``, ``"fp16"`` or ``"fp32"`` (:func:`ganlib.training.device_plan`).
        compile: ``torch.compile`` the four networks.

    Returns:
        A :class:`~ganlib.recipes.runs.Run` (its ``pair``: the domains it trained on).
    """

    check_choice(CYCLEGAN, dataset)
    profile = config.resolve_profile(profile)
    device = config.get_device(device)
    pair = pair if pair is not None else domains.load_domains(dataset, size=size, seed=seed)
    channels, image_size = pair.train_x.images.shape[1], pair.train_x.images.shape[-1]
    photos = dataset in domains.CYCLEGAN_SETS
    cfg = CycleGANTrainConfig(
        steps=steps if steps is not None else CYCLEGAN_STEPS[profile], batch_size=batch_size or (1 if photos else 16),
        lambda_cyc=lambda_cyc, lambda_id=lambda_id, lambda_gan=lambda_gan, pool_size=pool_size, seed=seed,
        checkpoint_every=checkpoint_every, n_snapshot=8, log_every=10, precision=precision, compile=compile,
    )
    generator = config.seed_everything(seed)
    preset = "digits" if not photos else "resnet_6blocks" if image_size <= 128 else "resnet_9blocks"
    nets = build_cyclegan(preset, channels=channels, image_size=image_size)
    batches = domains.UnpairedBatches(distributed.shard(pair.train_x.images), distributed.shard(pair.train_y.images),
                                      distributed.local_batch_size(cfg.batch_size), device=device,
                                      generator=distributed.rank_generator(generator, seed))
    task = CycleGANTask(nets["G"], nets["F"], nets["D_X"], nets["D_Y"], cfg,
                        snapshot_inputs=(pair.test_x.images[:8], pair.test_y.images[:8]))
    record = _record(CYCLEGAN, dataset, tuple(pair.train_x.images.shape[1:]))
    history = fit(task, batches, cfg, device=device, out_dir=out_dir, resume=resume, progress=progress,
                  description=f"cyclegan on {dataset}", record=record)
    run = _run(nets, history, cfg, out_dir, task.name, record)
    run.pair = pair
    return run


def train_progan(
    dataset: str = "mnist-5k",
    *,
    out_dir: str | os.PathLike | None = None,
    profile: str = "auto",
    device: str | torch.device = "auto",
    resume: bool | str = "auto",
    steps: int | None = None,
    seed: int = 0,
    checkpoint_every: int = 500,
    progress: bool = True,
    model: dict | None = None,
    **settings,
) -> Run:
    """Progressive growing (``models.progan``, ``training.progan``) on an image dataset padded to 32 px.

    The profile sets the images per phase (smoke: a few batches; quick: the course's CPU run; full:
    ten times more); ``steps`` defaults to the whole schedule plus one final stabilise phase.
    ``settings`` override fields of :class:`~ganlib.training.progan.ProGANTrainConfig` (e.g.
    ``images_per_phase=``, ``objective=``, ``fade_in=False``) and ``model`` fields of the networks'
    :class:`~ganlib.models.progan.ProGANConfig` (e.g. ``{"minibatch_std": False}``); a finished run
    in ``out_dir`` is loaded, not retrained.
    """

    check_choice("progan", dataset)
    profile = config.resolve_profile(profile)
    device = config.get_device(device)
    images = _images_32(dataset)
    per_phase = config.pick(profile, smoke=256, quick=ProGANTrainConfig.images_per_phase,
                            colab=5 * ProGANTrainConfig.images_per_phase, full=10 * ProGANTrainConfig.images_per_phase)
    cfg = ProGANTrainConfig(seed=seed, checkpoint_every=checkpoint_every, **{"images_per_phase": per_phase, **settings})
    if steps is None and profile == "quick":
        steps = cfg.steps  # the course's measured CPU run: grown by step 576, then 224 steps at 32 px
    elif steps is None:
        levels = len(resolutions(cfg.start_resolution, cfg.final_resolution))  # 4, 8, 16, 32: 4 levels
        steps = steps_for_images((2 * (levels - 1) + 1) * cfg.images_per_phase, cfg)  # grow, then stabilise once more
    cfg = dataclasses.replace(cfg, steps=steps)
    generator = config.seed_everything(seed)
    preset = "mnist32" if images.shape[1] == 1 else "cifar32"
    G, D = build_progan(preset, **{"resolution": cfg.final_resolution, **(model or {})})
    return _fit_on_images("progan", dataset, ProGANTask(G, D, cfg), images, cfg, generator, device=device,
                          out_dir=out_dir, resume=resume, progress=progress, description=f"progan on {dataset}")


#: StyleGAN's default steps per profile.
STYLEGAN_STEPS = {"smoke": 4, "quick": 1500, "colab": 8000, "full": 30000}


def train_stylegan(
    dataset: str = "mnist-5k",
    *,
    out_dir: str | os.PathLike | None = None,
    profile: str = "auto",
    device: str | torch.device = "auto",
    resume: bool | str = "auto",
    steps: int | None = None,
    seed: int = 0,
    architecture: str = "stylegan2",
    checkpoint_every: int = 500,
    progress: bool = True,
    **settings,
) -> Run:
    """StyleGAN (``architecture="stylegan1"``: AdaIN) or StyleGAN2 (modulated convolutions) on an image
    dataset padded to 32 px, with lazy R1 and path length regularisation (``training.stylegan``).

    ``settings`` override fields of :class:`~ganlib.training.stylegan.StyleGANTrainConfig`; a
    finished run in ``out_dir`` is loaded, not retrained.
    """

    check_choice("stylegan", dataset)
    profile = config.resolve_profile(profile)
    device = config.get_device(device)
    images = _images_32(dataset)
    cfg = StyleGANTrainConfig(steps=steps if steps is not None else STYLEGAN_STEPS[profile], seed=seed,
                              checkpoint_every=checkpoint_every, **settings)
    generator = config.seed_everything(seed)
    preset = "mnist32" if images.shape[1] == 1 else "cifar32"
    G, D = build_stylegan(preset, architecture=architecture, image_size=images.shape[-1])
    return _fit_on_images("stylegan", dataset, StyleGANTask(G, D, cfg), images, cfg, generator, device=device,
                          out_dir=out_dir, resume=resume, progress=progress, description=f"{architecture} on {dataset}")


# ---------------------------------------------------------------------------------------------
# Likelihood-based models beside the GANs (notebook 09): the VAE and the DDPM, same loop
# ---------------------------------------------------------------------------------------------

#: Default steps per profile of the VAE and the DDPM.
LIKELIHOOD_STEPS = {"vae": {"smoke": 4, "quick": 1500, "colab": 15000, "full": 30000},
                    "ddpm": {"smoke": 4, "quick": 3000, "colab": 30000, "full": 100000}}


def _likelihood_run(name: str, task_cls, cfg_cls, dataset: str, *, out_dir: str | os.PathLike | None = None,
                    profile: str = "auto", device: str | torch.device = "auto", resume: bool | str = "auto",
                    steps: int | None = None, seed: int = 0, checkpoint_every: int = 500, progress: bool = True,
                    model: dict | None = None, **settings) -> Run:
    check_choice(name, dataset)
    profile = config.resolve_profile(profile)
    device = config.get_device(device)
    images = _images_32(dataset)
    cfg = cfg_cls(steps=steps if steps is not None else LIKELIHOOD_STEPS[name][profile], seed=seed,
                  checkpoint_every=checkpoint_every, **{"n_snapshot": 16, **settings})
    generator = config.seed_everything(seed)
    net = build_likelihood_model(name, {"channels": images.shape[1], **(model or {})})
    task = task_cls(net, cfg)
    run = _fit_on_images(name, dataset, task, images, cfg, generator, device=device, out_dir=out_dir, resume=resume,
                         progress=progress, description=f"{name} on {dataset}")
    run.sampler.eval()
    return run


def train_vae(dataset: str = "mnist-5k", **options) -> Run:
    """The VAE of :mod:`ganlib.models.vae` on an image dataset padded to 32 px, through the loop.

    ``options``: ``out_dir``, ``profile``, ``device``, ``resume`` (default ``"auto"``: a finished run in ``out_dir``
    is loaded, not retrained), ``steps``, ``seed``, ``checkpoint_every``, ``progress``, ``model`` (fields of
    :class:`~ganlib.models.vae.VAEConfig`), and fields of :class:`~ganlib.training.vae.VAETrainConfig`.
    """
    return _likelihood_run("vae", VAETask, VAETrainConfig, dataset, **options)


def train_ddpm(dataset: str = "mnist-5k", **options) -> Run:
    """The DDPM of :mod:`ganlib.models.diffusion` on an image dataset padded to 32 px, through the loop.

    ``options``: as :func:`train_vae`'s, with ``model`` fields of :class:`~ganlib.models.diffusion.DiffusionConfig`
    and the others fields of :class:`~ganlib.training.diffusion.DDPMTrainConfig`.
    """
    return _likelihood_run("ddpm", DDPMTask, DDPMTrainConfig, dataset, **options)


def build_likelihood_model(family: str, model_cfg: dict | None = None) -> nn.Module:
    """A fresh network of notebook 09's comparison: ``"dcgan"`` (its generator), ``"vae"`` or ``"ddpm"``, from the
    fields of its configuration (lists where the dataclass has tuples are accepted, as JSON and checkpoints keep them)."""
    model_cfg = model_cfg or {}
    if family == "dcgan":
        return build_models("dcgan", MNIST32_SHAPE)[0]
    if family == "vae":

        return VAE(VAEConfig(**model_cfg))

    return DDPM(DiffusionConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in model_cfg.items()}))
