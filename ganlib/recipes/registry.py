"""The registry: every model the CLI trains by name (:data:`RECIPES`), and one way to train any of them."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ganlib import data, domains
from ganlib.recipes.common import (CYCLEGAN, CYCLEGAN_DESCRIPTION, CYCLEGAN_STEPS, GROWING, LIKELIHOOD, MODELS,
                                   check_choice)
from ganlib.recipes.families import (LIKELIHOOD_STEPS, STYLEGAN_STEPS, train_cyclegan, train_ddpm, train_progan,
                                     train_stylegan, train_vae)
from ganlib.recipes.gan import train_recipe
from ganlib.recipes.runs import Run


# ---------------------------------------------------------------------------------------------
# The registry: every model the CLI trains by name, and one way to train any of them
# ---------------------------------------------------------------------------------------------

#: The CLI options every recipe takes (the names of :func:`train`'s keywords).
COMMON_OPTIONS = ("steps", "seed", "batch_size", "checkpoint_every", "progress", "precision", "compile")


@dataclass(frozen=True)
class Recipe:
    """One model the CLI trains by name: what it is, what it trains on, how long, and how.

    ``trainer(dataset, *, out_dir, profile, device, resume, **options)`` builds the modules, the data and the
    task and runs the loop, returning a :class:`~ganlib.recipes.runs.Run`; what the run draws is its ``kind``
    (:data:`ganlib.recipes.runs.KINDS`).
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
