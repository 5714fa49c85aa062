"""Named training recipes: every model the course trains by name, in one registry, and one way to train it.

:data:`RECIPES` holds a :class:`Recipe` per name (vanilla, dcgan, wgan, wgan-gp, cgan, cyclegan, progan,
stylegan, vae, ddpm): what it is, the datasets it takes, its default steps per profile, the function that
builds its modules, data and task and runs the loop, and the curves it plots. ``python -m ganlib train``
builds its choices, help text and panels from it, and :func:`train` trains any of them::

    run = recipes.train("dcgan", "mnist-5k", out_dir=config.run_dir("dcgan-mnist-5k-quick"), profile="quick")
    images = run.sample(64, seed=0)

Every run is a :class:`ganlib.recipes.runs.Run`, and its checkpoint records the recipe, the dataset, the image
shape and the networks' architectures, so :func:`ganlib.load_run` reopens it later. With
``resume="auto"`` a finished run in ``out_dir`` is loaded instead of retrained, because the loop has
nothing left to do. A run too costly for a notebook's short profiles is shipped in ``ganlib/assets``
instead (:data:`PRETRAINED_RUNS`, :func:`load_pretrained_run`).

The package, one concern per file:

- ``registry.py``: :class:`Recipe`, :data:`RECIPES`, :func:`train`: the names, and one way to train any of them;
- ``common.py``: the names each family answers to, the datasets it takes (:func:`check_choice`), and what every
  recipe does after training (the record its checkpoint keeps, the run it returns);
- ``gan.py``: the G-against-D recipes (vanilla, dcgan, wgan, wgan-gp, cgan): :func:`train_recipe`;
- ``families.py``: the recipes with a task of their own (cyclegan, progan, stylegan, vae, ddpm);
- ``pretrained.py``: the runs shipped in ``ganlib/assets`` (notebook 07's WGAN-GP, notebook 09's comparison);
- ``runs.py``: :class:`Run`, what every recipe returns, and :func:`load_run`, which reopens one from its folder.
"""

from ganlib.recipes.common import (CYCLEGAN, CYCLEGAN_DESCRIPTION, CYCLEGAN_STEPS, GROWING, LIKELIHOOD, MODELS,
                                   ModelRecipe, check_choice)
from ganlib.recipes.families import (LIKELIHOOD_STEPS, STYLEGAN_STEPS, build_likelihood_model, train_cyclegan, train_ddpm,
                                     train_progan, train_stylegan, train_vae)
from ganlib.recipes.gan import build_models, load_training_data, train_recipe
from ganlib.recipes.pretrained import (COMPARISON_FILE, COMPARISON_FORMAT, COMPARISON_RECIPES, PRETRAINED_RUN_FORMAT,
                                       PRETRAINED_RUNS,
                                       ComparisonModel, PretrainedRun, comparison_run_state, load_comparison_runs,
                                       load_pretrained_run, pretrained_run_state, train_comparison_run)
from ganlib.recipes.registry import COMMON_OPTIONS, RECIPES, Recipe, recipe, train
from ganlib.recipes.runs import KINDS, Run, RunError, legacy_record, load_run

__all__ = ["Recipe", "RECIPES", "recipe", "train", "COMMON_OPTIONS", "Run", "RunError", "load_run", "legacy_record",
           "KINDS", "ModelRecipe", "MODELS", "check_choice", "build_models", "load_training_data", "train_recipe",
           "PRETRAINED_RUNS", "PRETRAINED_RUN_FORMAT", "PretrainedRun", "load_pretrained_run", "pretrained_run_state",
           "CYCLEGAN", "CYCLEGAN_DESCRIPTION", "CYCLEGAN_STEPS", "GROWING", "train_cyclegan", "train_progan",
           "STYLEGAN_STEPS", "train_stylegan", "LIKELIHOOD", "LIKELIHOOD_STEPS", "train_vae", "train_ddpm",
           "COMPARISON_FILE", "COMPARISON_FORMAT", "COMPARISON_RECIPES", "ComparisonModel", "train_comparison_run", "comparison_run_state",
           "load_comparison_runs", "build_likelihood_model"]
