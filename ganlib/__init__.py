"""ganlib: the shared library of the GAN course.

Modules, each importable on its own:

- :mod:`ganlib.aliasing` why pointwise nonlinearities alias and StyleGAN3's filtered remedy, with ideal filters
- :mod:`ganlib.config`  run profiles (smoke / quick / full), device choice, seeding
- :mod:`ganlib.data`    toy 2-D mixtures, the bundled MNIST subset, torchvision datasets, batches
- :mod:`ganlib.domains` unpaired image domains for CycleGAN: handwritten vs typeset digits, thin vs thick, the photo sets
- :mod:`ganlib.losses`  GAN losses as pure functions of logits
- :mod:`ganlib.models`  one file per GAN family (``models.mlp``, ``models.dcgan``, ``models.conditional``, ``models.cyclegan``; ``models.patchgan`` for both image-to-image families), and the VAE and DDPM of notebook 09 (``models.vae``, ``models.diffusion``)
- :mod:`ganlib.likelihood` log-likelihoods of 8-bit images (discretised Gaussian), Gaussian KL, bits per dimension
- :mod:`ganlib.theory`  the optimal discriminator and the divergences, numerically in 1-D; gradient play on x y
- :mod:`ganlib.training` the generic loop (:func:`~ganlib.training.fit`), one task per GAN family, checkpoints, history
- :mod:`ganlib.train`   ``train(G, D, batches, cfg)``: the G-against-D game of notebooks 02-05 (unconditional, class-conditional, pix2pix)
- :mod:`ganlib.recipes` one registry of the named models of the CLI and notebook 07 (``recipes.train(name, dataset)``),
  the runs they return, and :func:`ganlib.load_run`, which reopens any run for ``run.sample(n)``
- :mod:`ganlib.sampling` drawing from any network: sample, translate, truncated normal, every family's draw
- :mod:`ganlib.viz`     grids, curves, 2-D plots, animations, widgets
- :mod:`ganlib.metrics` Fréchet distance, IS, KID, precision/recall, torch-fidelity's FID Inception-v3 features
- :mod:`ganlib.evaluate` those metrics for a trained run or a folder of images: ``python -m ganlib evaluate``
- :mod:`ganlib.compare` GANs beside VAEs and diffusion: one way to sample, time and score the three families
- :mod:`ganlib.forensics` telling real from fake: spectra, a fake detector, a watermark, class balance
- :mod:`ganlib.classifier` the shipped MNIST classifier, an offline feature extractor for metrics
- :mod:`ganlib.checks`  one-line checks students run after an exercise
- :mod:`ganlib.shipped` reading the weights shipped in ``ganlib/assets``, with clear errors
- :mod:`ganlib.course`  instructor tooling behind the ``course`` extra, reached from the CLI only (not imported here):
  ``course.notebooks`` (build student notebooks, Colab cell and badges), ``course.run`` (papermill), ``course.grade``
"""

from ganlib import (checks, classifier, compare, config, data, domains, evaluate, forensics, likelihood, losses, metrics,
                    models, recipes, sampling, theory, train, training, viz)
from ganlib.config import get_device, pick, resolve_profile, seed_everything
from ganlib.recipes.runs import Run, load_run
from ganlib.train import History, TrainConfig

__version__ = "0.1.0"

__all__ = [
    "checks", "classifier", "compare", "config", "data", "domains", "evaluate", "forensics", "likelihood", "losses", "metrics",
    "models", "recipes", "sampling", "theory", "train", "training", "viz",
    "get_device", "pick", "resolve_profile", "seed_everything", "History", "TrainConfig", "Run", "load_run",
]
