"""Named training recipes: every model the course trains by name, in one registry, and one way to train it.

:data:`RECIPES` holds a :class:`Recipe` per name (vanilla, dcgan, wgan, wgan-gp, cgan, cyclegan, progan,
stylegan, vae, ddpm): what it is, the datasets it takes, its default steps per profile, the function that
builds its modules, data and task and runs the loop, and the curves it plots. ``python -m ganlib train``
builds its choices, help text and panels from it, and :func:`train` trains any of them::

    run = recipes.train("dcgan", "mnist-5k", out_dir=config.run_dir("dcgan-mnist-5k-quick"), profile="quick")
    images = run.sample(64, seed=0)

Every run is a :class:`ganlib.runs.Run`, and its checkpoint records the recipe, the dataset, the image
shape and the networks' architectures, so :func:`ganlib.load_run` reopens it later. With
``resume="auto"`` a finished run in ``out_dir`` is loaded instead of retrained, because the loop has
nothing left to do. A run too costly for a notebook's short profiles is shipped in ``ganlib/assets``
instead (:data:`PRETRAINED_RUNS`, :func:`load_pretrained_run`).
"""

from __future__ import annotations

import copy
import functools
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ganlib import config, data
from ganlib.shipped import load_shipped
from ganlib.training import distributed
from ganlib.runs import Run
from ganlib.training.gan import AlternatingTask, TrainConfig
from ganlib.training.history import History
from ganlib.training.loop import fit

__all__ = ["Recipe", "RECIPES", "recipe", "train", "COMMON_OPTIONS", "ModelRecipe", "MODELS", "check_choice", "build_models", "load_training_data", "train_recipe",
           "PRETRAINED_RUNS", "PRETRAINED_RUN_FORMAT", "PretrainedRun", "load_pretrained_run", "pretrained_run_state",
           "CYCLEGAN", "CYCLEGAN_STEPS", "train_cyclegan", "GROWING", "train_progan", "train_stylegan",
           "LIKELIHOOD", "train_vae", "train_ddpm",
           "COMPARISON_FILE", "COMPARISON_RECIPES", "ComparisonModel", "train_comparison_run", "comparison_run_state",
           "load_comparison_runs", "build_likelihood_model"]


@dataclass(frozen=True)
class ModelRecipe:
    """How one model is built and trained by name: architecture, objective and defaults."""

    description: str
    family: str  # architecture for image datasets: "mlp", "dcgan" or "conditional" (toy 2-D data always uses "mlp")
    objective: str  # a name of ganlib.losses.OBJECTIVES
    steps: dict[str, int]  # default generator steps per profile
    batch_size: int = 64
    lr: float = 2e-4  # Adam learning rate of G and D
    betas: tuple[float, float] = (0.5, 0.999)  # Adam betas
    k: int = 1  # D (critic) steps per G step: WGAN's n_critic
    d_overrides: tuple[tuple[str, object], ...] = ()  # changes to the discriminator's config


# The models a user can pick by name (CLI, notebook 07).
MODELS: dict[str, ModelRecipe] = {
    "vanilla": ModelRecipe(
        description="MLP generator and discriminator, the original GAN (Goodfellow et al. 2014)",
        family="mlp", objective="gan", steps={"smoke": 40, "quick": 6000, "colab": 30000, "full": 30000},
    ),
    "dcgan": ModelRecipe(
        description="convolutional GAN with the DCGAN rules (Radford et al. 2016)",
        family="dcgan", objective="gan", steps={"smoke": 10, "quick": 1500, "colab": 20000, "full": 20000},
    ),
    "wgan": ModelRecipe(
        description="Wasserstein GAN, critic weights clipped to 0.01, 5 critic steps (Arjovsky et al. 2017)",
        family="dcgan", objective="wgan", steps={"smoke": 5, "quick": 600, "colab": 10000, "full": 20000},
        lr=5e-5, k=5,
    ),
    "wgan-gp": ModelRecipe(
        description="Wasserstein GAN with gradient penalty (Gulrajani et al. 2017): Adam(1e-4, 0, 0.9), "
                    "5 critic steps, no batch norm in the critic",
        family="dcgan", objective="wgan-gp", steps={"smoke": 5, "quick": 600, "colab": 10000, "full": 20000},
        lr=1e-4, betas=(0.0, 0.9), k=5, d_overrides=(("d_batchnorm", False),),
    ),
    "cgan": ModelRecipe(
        description="class-conditional DCGAN with a projection discriminator (Mirza and Osindero 2014; "
                    "Miyato and Koyama 2018); image datasets with labels only",
        family="conditional", objective="gan", steps={"smoke": 10, "quick": 1500, "colab": 20000, "full": 20000},
    ),
}


#: The unpaired-translation model the CLI trains by name; it has its own recipe, :func:`train_cyclegan`.
CYCLEGAN = "cyclegan"
CYCLEGAN_DESCRIPTION = ("CycleGAN, unpaired translation X <-> Y with cycle consistency (Zhu et al. 2017); "
                        "datasets: mnist-typeset (default), mnist-thick, horse2zebra, apple2orange, "
                        "summer2winter_yosemite, monet2photo")
#: CycleGAN's default steps per profile (one step = one update of G and F and one of D_X and D_Y).
CYCLEGAN_STEPS = {"smoke": 6, "quick": 600, "colab": 10000, "full": 20000}


#: The high-resolution families with a task of their own (notebook 08): name -> description.
GROWING = {
    "progan": "progressive growing 4 -> 8 -> 16 -> 32 px with fade-ins, equalised learning rate, pixel norm and "
              "minibatch std (Karras et al. 2018); image datasets",
    "stylegan": "StyleGAN2: mapping network, modulated convolutions with demodulation, noise inputs, style mixing, "
                "lazy R1 and path length regularisation (Karras et al. 2019, 2020); image datasets",
}


#: The likelihood-based models of notebook 09, trained by the same loop: name -> description.
LIKELIHOOD = {
    "vae": "convolutional variational autoencoder, ELBO with a discretised Gaussian decoder (Kingma and Welling "
           "2014); image datasets",
    "ddpm": "denoising diffusion probabilistic model, U-Net noise prediction, T = 1000 (Ho et al. 2020), "
            "sampled ancestrally or with DDIM; image datasets",
}


def _recipe(name: str) -> ModelRecipe:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join([*MODELS, *GROWING, CYCLEGAN, *LIKELIHOOD])}")
    return MODELS[name]


def check_choice(name: str, dataset: str) -> ModelRecipe | None:
    """The recipe called ``name``, after checking that it can train on ``dataset`` (None for
    ``"cyclegan"``, whose datasets are the domain pairs of :mod:`ganlib.domains`).

    Raises:
        ValueError: an unknown model or dataset (the message lists the valid ones), or a
            conditional model on a toy dataset, which has no labels.
    """
    if name == CYCLEGAN:
        from ganlib import domains

        if dataset not in domains.DOMAIN_PAIRS:
            raise ValueError(f"cyclegan trains on a pair of image domains, not {dataset!r}; choose one of: "
                             f"{', '.join(domains.DOMAIN_PAIRS)}")
        return None
    if name in GROWING or name in LIKELIHOOD:
        if dataset not in data.IMAGE_DATASETS:
            raise ValueError(f"{name} trains on images; choose one of: {', '.join(data.IMAGE_DATASETS)}, not {dataset!r}")
        return None
    recipe = _recipe(name)
    if dataset not in data.dataset_names():
        raise ValueError(f"unknown dataset {dataset!r}; choose one of: {', '.join(data.dataset_names())}")
    if recipe.family == "conditional" and dataset in data.TOY_DATASETS:
        raise ValueError(f"model {name!r} needs class labels; choose an image dataset, not {dataset!r}")
    return recipe


def build_models(name: str, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """(G, D) of a recipe for samples of shape ``data_shape``: (2,) points, or (C, H, W) images.

    Raises:
        ValueError: for an unknown name, or a conditional recipe on 2-D points.
    """
    from ganlib.models.conditional import build_conditional_gan
    from ganlib.models.dcgan import DCGAN_PRESETS, build_dcgan
    from ganlib.models.mlp import build_mlp_gan

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
        A :class:`~ganlib.runs.Run`.
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


# ---------------------------------------------------------------------------------------------
# Runs trained ahead of time and shipped in ganlib/assets
# ---------------------------------------------------------------------------------------------

#: Recipes with a run shipped in ``ganlib/assets`` (made by ``scripts/train_wgan_gp_asset.py``): name -> file.
PRETRAINED_RUNS: dict[str, str] = {"wgan-gp": "wgan_gp_mnist32.pt"}
PRETRAINED_RUN_FORMAT = "ganlib-pretrained-run-1"
_PRETRAINED_DATA_SHAPE = (1, 32, 32)  # mnist-5k padded to 32 px, what the DCGAN-family recipes train on


@dataclass
class PretrainedRun:
    """What :func:`load_pretrained_run` returns: a recipe's G and G_ema trained ahead of time, and its record.

    It has the attributes of a :class:`~ganlib.runs.Run` that sampling needs (``G``, ``G_ema``, ``cfg``,
    ``steps_done``); the discriminator and the optimisers are not shipped, so it cannot be resumed.
    """

    G: nn.Module  # eval mode, no gradients
    G_ema: nn.Module  # the moving average of G's weights, eval mode, no gradients
    cfg: TrainConfig  # the settings it was trained with
    steps_done: int
    info: dict  # recipe, dataset, steps, seed, images, training seconds, threads, torch version, the command


def _half(module: nn.Module) -> dict[str, torch.Tensor]:
    """A state dict in float16 (half the file); integer buffers such as batch-norm counts stay as they are."""
    return {k: v.detach().cpu().half() if v.is_floating_point() else v.detach().cpu().clone()
            for k, v in module.state_dict().items()}


def pretrained_run_state(name: str, run: Run, info: dict) -> dict:
    """The content of a shipped run file for ``run`` of recipe ``name``: G and G_ema in float16, the settings
    and ``info``; :func:`load_pretrained_run` reads it back (in float32).

    Args:
        name: a key of :data:`PRETRAINED_RUNS`.
        run: a finished :func:`train_recipe` run of that recipe on 32 px grey images.
        info: its record (seed, seconds, command, ...); ``steps`` is added from ``run``.

    Returns:
        A dict to ``torch.save`` (only tensors, numbers, strings, lists and dicts: loadable with ``weights_only``).
    """
    if name not in PRETRAINED_RUNS:
        raise ValueError(f"no shipped run for {name!r}; the recipes with one: {', '.join(PRETRAINED_RUNS)}")

    return {"format": PRETRAINED_RUN_FORMAT, "recipe": name, "train_config": dataclasses.asdict(run.cfg),
            "G": _half(run.G), "G_ema": _half(run.G_ema), "info": {**info, "steps": run.steps_done}}


def load_pretrained_run(name: str, device: str | torch.device = "cpu") -> PretrainedRun:
    """The shipped run of recipe ``name`` (trained on mnist-5k padded to 32 px), ready to sample from.

    ``scripts/train_wgan_gp_asset.py`` made the file; its record (``info``) holds the steps, seed, training
    seconds, thread count, torch version and the command. The weights are stored in float16 and loaded in
    float32.

    Args:
        name: a key of :data:`PRETRAINED_RUNS` ("wgan-gp").
        device: where to put the generators.

    Returns:
        A :class:`PretrainedRun`.

    Raises:
        ValueError: a recipe without a shipped run.
        FileNotFoundError: the file is missing (the message says how to make it).
        RuntimeError: the file is corrupt or not this kind of file.
    """
    if name not in PRETRAINED_RUNS:
        raise ValueError(f"no shipped run for {name!r}; the recipes with one: {', '.join(PRETRAINED_RUNS)}")
    file = PRETRAINED_RUNS[name]
    remake = f"recreate it with `python scripts/train_{name.replace('-', '_')}_asset.py`"
    state = load_shipped(file, PRETRAINED_RUN_FORMAT, remake, same={"recipe": name})
    nets = []
    for key in ("G", "G_ema"):
        G, _ = build_models(name, _PRETRAINED_DATA_SHAPE)
        G.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state[key].items()})
        nets.append(G.requires_grad_(False).to(device).eval())
    info = dict(state["info"])
    known = {field.name for field in dataclasses.fields(TrainConfig)}  # settings unknown to this version are skipped
    cfg = TrainConfig(**{k: v for k, v in state["train_config"].items() if k in known})
    return PretrainedRun(G=nets[0], G_ema=nets[1], cfg=cfg, steps_done=int(info["steps"]), info=info)


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
        A :class:`~ganlib.runs.Run` (its ``pair``: the domains it trained on).
    """
    from ganlib import domains
    from ganlib.models.cyclegan import build_cyclegan
    from ganlib.training.cyclegan import CycleGANTask, CycleGANTrainConfig

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


# ---------------------------------------------------------------------------------------------
# Progressive growing and StyleGAN: tasks of their own
# ---------------------------------------------------------------------------------------------


def _images_32(dataset: str, root: str | os.PathLike | None = None) -> torch.Tensor:
    """A dataset's images padded to 32 px (the digits' 28 px with background), (N, C, 32, 32)."""
    images = data.load_images(dataset, root).images
    return data.pad_to(images, 32) if images.shape[-1] == 28 else images


def _record(name: str, dataset: str, shape: tuple[int, ...]) -> dict:
    """What a checkpoint keeps of the recipe that made it (with the networks' architectures, added by fit)."""
    return {"recipe": name, "dataset": dataset, "image_shape": list(shape)}


def _run(modules: dict, history: History, cfg, out_dir, task: str, record: dict, task_state: dict | None = None) -> Run:
    return Run(modules=modules, history=history, cfg=cfg, record={"task": task, **record},
               out_dir=Path(out_dir) if out_dir is not None else None,
               steps_done=history.step[-1] if history.step else 0, task_state=task_state or {})


def _fit_on_images(name: str, dataset: str, task, images: torch.Tensor, cfg, generator: torch.Generator, *, device,
                   out_dir, resume, progress, description: str) -> Run:
    """Train a task (ProGAN, StyleGAN, the VAE, the DDPM) on in-memory images with the loop (under torchrun: on
    this process's shard); the run it returns."""
    batches = data.InMemoryBatches(distributed.shard(images), distributed.local_batch_size(cfg.batch_size),
                                   device=device, generator=distributed.rank_generator(generator, cfg.seed))
    record = _record(name, dataset, tuple(images.shape[1:]))
    history = fit(task, batches, cfg, device=device, out_dir=out_dir, resume=resume, progress=progress,
                  description=description, record=record)
    return _run(task.modules, history, cfg, out_dir, task.name, record, task.state_dict())


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
    from ganlib.models.progan import build_progan, resolutions
    from ganlib.training.progan import ProGANTask, ProGANTrainConfig, steps_for_images

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
    from ganlib.models.stylegan import build_stylegan
    from ganlib.training.stylegan import StyleGANTask, StyleGANTrainConfig

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


def _likelihood_run(name: str, task_cls, cfg_cls, dataset: str, *, out_dir, profile, device, resume, steps,
                    seed, checkpoint_every, progress, model: dict | None, settings: dict) -> Run:
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


def train_vae(dataset: str = "mnist-5k", *, out_dir: str | os.PathLike | None = None, profile: str = "auto",
              device: str | torch.device = "auto", resume: bool | str = "auto", steps: int | None = None, seed: int = 0,
              checkpoint_every: int = 500, progress: bool = True, model: dict | None = None, **settings) -> Run:
    """The VAE of :mod:`ganlib.models.vae` on an image dataset padded to 32 px, through the loop.

    ``settings`` override fields of :class:`~ganlib.training.vae.VAETrainConfig`, ``model`` fields of
    :class:`~ganlib.models.vae.VAEConfig`; a finished run in ``out_dir`` is loaded, not retrained.
    """
    from ganlib.training.vae import VAETask, VAETrainConfig

    return _likelihood_run("vae", VAETask, VAETrainConfig, dataset,
                           out_dir=out_dir, profile=profile, device=device, resume=resume, steps=steps, seed=seed,
                           checkpoint_every=checkpoint_every, progress=progress, model=model, settings=settings)


def train_ddpm(dataset: str = "mnist-5k", *, out_dir: str | os.PathLike | None = None, profile: str = "auto",
               device: str | torch.device = "auto", resume: bool | str = "auto", steps: int | None = None, seed: int = 0,
               checkpoint_every: int = 500, progress: bool = True, model: dict | None = None, **settings) -> Run:
    """The DDPM of :mod:`ganlib.models.diffusion` on an image dataset padded to 32 px, through the loop.

    ``settings`` override fields of :class:`~ganlib.training.diffusion.DDPMTrainConfig`, ``model`` fields of
    :class:`~ganlib.models.diffusion.DiffusionConfig`; a finished run in ``out_dir`` is loaded, not retrained.
    """
    from ganlib.training.diffusion import DDPMTask, DDPMTrainConfig

    return _likelihood_run("ddpm", DDPMTask, DDPMTrainConfig, dataset,
                           out_dir=out_dir, profile=profile, device=device, resume=resume, steps=steps, seed=seed,
                           checkpoint_every=checkpoint_every, progress=progress, model=model, settings=settings)


# ---------------------------------------------------------------------------------------------
# Notebook 09's comparison: a DCGAN, a VAE and a DDPM, three seeds each, trained ahead of time
# ---------------------------------------------------------------------------------------------

COMPARISON_FILE = "comparison_mnist32.pt"  # made by scripts/train_comparison_assets.py
COMPARISON_FORMAT = "ganlib-comparison-runs-1"
#: How each family of the comparison is trained on mnist-5k (scripts/train_comparison_assets.py documents why).
COMPARISON_RECIPES: dict[str, dict] = {
    "dcgan": {"steps": 1500},
    "vae": {"steps": 1500},
    "ddpm": {"steps": 3000, "batch_size": 32, "model": {"width": 16}},
}


@dataclass
class ComparisonModel:
    """One of notebook 09's shipped runs: the network that samples (eval mode, no gradients) and its record."""

    family: str  # "dcgan", "vae" or "ddpm"
    seed: int
    sampler: nn.Module  # the DCGAN's G_ema, the VAE, the DDPM's EMA network
    info: dict  # steps, batch size, training seconds, the model's configuration


def train_comparison_run(family: str, seed: int, *, out_dir: str | os.PathLike | None = None,
                         device: str | torch.device = "cpu", progress: bool = False, **overrides):
    """Train one run of the comparison as :data:`COMPARISON_RECIPES` says (``overrides`` change its settings)."""
    if family not in COMPARISON_RECIPES:
        raise ValueError(f"unknown family {family!r}; choose one of: {', '.join(COMPARISON_RECIPES)}")
    settings = {**COMPARISON_RECIPES[family], **overrides}
    common = dict(out_dir=out_dir, profile="quick", device=device, seed=seed, progress=progress, checkpoint_every=250)
    if family == "dcgan":
        return train_recipe("dcgan", "mnist-5k", **common, **settings)
    return (train_vae if family == "vae" else train_ddpm)("mnist-5k", **common, **settings)


def comparison_run_state(family: str, run, seed: int) -> dict:
    """What the comparison file keeps of a finished :func:`train_comparison_run`: the sampler in float16 and a record."""
    sampler = run.G_ema if family == "dcgan" else run.sampler
    model_cfg = {} if family == "dcgan" else {k: list(v) if isinstance(v, tuple) else v
                                              for k, v in dataclasses.asdict(sampler.cfg).items()}
    info = {"steps": run.steps_done, "batch_size": run.cfg.batch_size, "seconds": round(run.history.seconds, 1),
            "model": model_cfg}
    return {"seed": seed, "sampler": _half(sampler), "info": info}


def build_likelihood_model(family: str, model_cfg: dict | None = None) -> nn.Module:
    """A fresh network of notebook 09's comparison: ``"dcgan"`` (its generator), ``"vae"`` or ``"ddpm"``, from the
    fields of its configuration (lists where the dataclass has tuples are accepted, as JSON and checkpoints keep them)."""
    model_cfg = model_cfg or {}
    if family == "dcgan":
        return build_models("dcgan", _PRETRAINED_DATA_SHAPE)[0]
    if family == "vae":
        from ganlib.models.vae import VAE, VAEConfig

        return VAE(VAEConfig(**model_cfg))
    from ganlib.models.diffusion import DDPM, DiffusionConfig

    return DDPM(DiffusionConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in model_cfg.items()}))


def load_comparison_runs(device: str | torch.device = "cpu") -> dict[str, list[ComparisonModel]]:
    """Notebook 09's shipped runs: family -> the three seeds' :class:`ComparisonModel`, weights in float32.

    Raises:
        FileNotFoundError, RuntimeError: the file is missing or unreadable (the message says how to remake it).
    """
    state = load_shipped(COMPARISON_FILE, COMPARISON_FORMAT, "recreate it with `python scripts/train_comparison_assets.py`")
    out: dict[str, list[ComparisonModel]] = {}
    for family, runs in state["runs"].items():
        out[family] = []
        for run in runs:
            net = build_likelihood_model(family, run["info"]["model"])
            net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in run["sampler"].items()})
            out[family].append(ComparisonModel(family, int(run["seed"]), net.requires_grad_(False).to(device).eval(),
                                               {**run["info"], **state["info"]}))
    return out


# ---------------------------------------------------------------------------------------------
# The registry: every model the CLI trains by name, and one way to train any of them
# ---------------------------------------------------------------------------------------------

#: The CLI options every recipe takes (the names of :func:`train`'s keywords).
COMMON_OPTIONS = ("steps", "seed", "batch_size", "checkpoint_every", "progress", "precision", "compile")


@dataclass(frozen=True)
class Recipe:
    """One model the CLI trains by name: what it is, what it trains on, how long, and how.

    ``trainer(dataset, *, out_dir, profile, device, resume, **options)`` builds the modules, the data and the
    task and runs the loop, returning a :class:`~ganlib.runs.Run`; what the run draws is its ``kind``
    (:data:`ganlib.runs.KINDS`).
    """

    name: str
    description: str
    kind: str  # what its runs draw: "gan", "conditional", "translation", "progan", "vae", "ddpm"
    datasets: tuple[str, ...]  # the dataset names it takes
    default_dataset: str
    steps: dict[str, int] | None  # default steps per profile (None: the length of ProGAN's schedule)
    trainer: Callable[..., Run]
    panels: dict[str, list[str]] | None  # losses.png: panel title -> history series (None: the GAN losses plot)
    options: tuple[str, ...] = ()  # the keywords it takes beyond COMMON_OPTIONS

    def check(self, dataset: str) -> None:
        """Raise ValueError, naming the valid choices, for a dataset this recipe cannot train on."""
        check_choice(self.name, dataset)


def _model_recipe(name: str) -> Recipe:
    recipe = MODELS[name]
    conditional = recipe.family == "conditional"
    datasets = tuple(data.IMAGE_DATASETS) if conditional else tuple(data.dataset_names())
    return Recipe(name=name, description=recipe.description, kind="conditional" if conditional else "gan",
                  datasets=datasets, default_dataset="mnist-5k", steps=recipe.steps,
                  trainer=functools.partial(train_recipe, name), panels=None,
                  options=("k", "g_loss", "ema_half_life"))


def _registry() -> dict[str, Recipe]:
    from ganlib import domains

    images = tuple(data.IMAGE_DATASETS)
    return {
        **{name: _model_recipe(name) for name in MODELS},
        CYCLEGAN: Recipe(CYCLEGAN, CYCLEGAN_DESCRIPTION, "translation", tuple(domains.DOMAIN_PAIRS), "mnist-typeset",
                         CYCLEGAN_STEPS, train_cyclegan,
                         {"generators (unweighted terms)": ["g_gan", "cycle", "identity"],
                          "discriminators": ["d_x_loss", "d_y_loss"]},
                         options=("lambda_cyc", "lambda_id", "pool_size")),
        "progan": Recipe("progan", GROWING["progan"], "progan", images, "mnist-5k", None, train_progan,
                         {"losses": ["d_loss", "g_loss"], "resolution": ["resolution"], "fade-in": ["alpha"]}),
        "stylegan": Recipe("stylegan", GROWING["stylegan"], "gan", images, "mnist-5k", STYLEGAN_STEPS, train_stylegan,
                           {"losses": ["d_loss", "g_loss"], "regularisers": ["r1", "pl", "pl_mean"]}),
        "vae": Recipe("vae", LIKELIHOOD["vae"], "vae", images, "mnist-5k", LIKELIHOOD_STEPS["vae"], train_vae,
                      {"negative ELBO (bits/dim)": ["bits_per_dim"], "terms (nats)": ["recon", "kl"]}),
        "ddpm": Recipe("ddpm", LIKELIHOOD["ddpm"], "ddpm", images, "mnist-5k", LIKELIHOOD_STEPS["ddpm"], train_ddpm,
                       {"L_simple": ["loss"]}),
    }


#: Every model by name: the CLI's choices, help text and panels come from here.
RECIPES: dict[str, Recipe] = _registry()


def recipe(name: str) -> Recipe:
    """The :class:`Recipe` called ``name``; ValueError naming the choices for an unknown one."""
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(RECIPES)}")
    return RECIPES[name]


def train(name: str, dataset: str | None = None, *, profile: str = "auto", device: str | torch.device = "auto",
          out_dir: str | os.PathLike | None = None, resume: bool | str = "auto", **overrides) -> Run:
    """Train the model ``name`` of :data:`RECIPES` on ``dataset`` (default: the recipe's); a finished run in
    ``out_dir`` is loaded instead. ``overrides`` are the recipe's own keywords (:data:`COMMON_OPTIONS` and its
    ``options``: ``steps=``, ``seed=``, ``k=``, ``lambda_cyc=`` ...).

    Raises:
        ValueError: an unknown name or dataset, or a keyword the recipe does not take (the message lists them).
    """
    chosen = recipe(name)
    dataset = dataset or chosen.default_dataset
    chosen.check(dataset)
    unknown = sorted(set(overrides) - {*COMMON_OPTIONS, *chosen.options})
    if unknown:
        raise ValueError(f"{', '.join(unknown)} do(es) not apply to {name}; it takes "
                         f"{', '.join([*COMMON_OPTIONS, *chosen.options])}")
    return chosen.trainer(dataset, out_dir=out_dir, profile=profile, device=device, resume=resume, **overrides)
