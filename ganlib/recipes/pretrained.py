"""Runs trained ahead of time and shipped in ``ganlib/assets``: the WGAN-GP of notebook 07 and the nine runs of
notebook 09's comparison (a DCGAN, a VAE and a DDPM, three seeds each)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import torch
from torch import nn

from ganlib.recipes.common import MNIST32_SHAPE
from ganlib.recipes.families import build_likelihood_model, train_ddpm, train_vae
from ganlib.recipes.gan import build_models, train_recipe
from ganlib.recipes.runs import Run
from ganlib.shipped import load_shipped
from ganlib.training.gan import TrainConfig


# ---------------------------------------------------------------------------------------------
# Runs trained ahead of time and shipped in ganlib/assets
# ---------------------------------------------------------------------------------------------

#: Recipes with a run shipped in ``ganlib/assets`` (made by ``scripts/train_wgan_gp_asset.py``): name -> file.
PRETRAINED_RUNS: dict[str, str] = {"wgan-gp": "wgan_gp_mnist32.pt"}
PRETRAINED_RUN_FORMAT = "ganlib-pretrained-run-1"


@dataclass
class PretrainedRun:
    """What :func:`load_pretrained_run` returns: a recipe's G and G_ema trained ahead of time, and its record.

    It has the attributes of a :class:`~ganlib.recipes.runs.Run` that sampling needs (``G``, ``G_ema``, ``cfg``,
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
        G, _ = build_models(name, MNIST32_SHAPE)
        G.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state[key].items()})
        nets.append(G.requires_grad_(False).to(device).eval())
    info = dict(state["info"])
    known = {field.name for field in dataclasses.fields(TrainConfig)}  # settings unknown to this version are skipped
    cfg = TrainConfig(**{k: v for k, v in state["train_config"].items() if k in known})
    return PretrainedRun(G=nets[0], G_ema=nets[1], cfg=cfg, steps_done=int(info["steps"]), info=info)


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
