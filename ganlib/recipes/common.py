"""The names the recipes answer to, the datasets each takes, and what every recipe does after training:
the record its checkpoint keeps and the :class:`~ganlib.recipes.runs.Run` it returns."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ganlib import data, domains
from ganlib.recipes.runs import Run
from ganlib.training import distributed
from ganlib.training.history import History
from ganlib.training.loop import fit


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


#: mnist-5k padded to 32 px: the images the DCGAN-family recipes train on, and the shipped runs were made on.
MNIST32_SHAPE = (1, 32, 32)
