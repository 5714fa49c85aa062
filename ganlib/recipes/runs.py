"""A trained run, whatever made it: :class:`Run`, and :func:`load_run` to reopen one from its folder.

Every checkpoint ``fit`` writes says what made it (``"run"``, :func:`ganlib.training.loop.run_record`)::

    {"format": "ganlib-run-1", "task": "gan",                      # the loop's task
     "recipe": "dcgan", "dataset": "mnist-5k", "image_shape": [1, 32, 32],   # when a recipe trained it
     "modules": {"G": {"class": "ganlib.models.dcgan.DCGANGenerator", "config": {...}}, "D": ..., "G_ema": ...}}

plain data, read with ``weights_only=True``. :func:`load_run` rebuilds every recorded network
(:func:`ganlib.models.architecture.rebuild`), loads its weights and returns the same :class:`Run` that
:func:`ganlib.recipes.train` returns, with one way to draw from any kind of run::

    run = ganlib.load_run("runs/cgan-mnist-5k")
    images = run.sample(8, seed=0)                             # G_ema(z); a cgan: classes 0, 1, ..., 7
    digits = run.sample(8, labels=torch.full((8,), 3))         # a cgan: eights of class 3
    zebras = ganlib.load_run("runs/cyclegan").sample(8, inputs=horses)   # a translation: G(inputs)

Checkpoints written before runs described themselves have no record; :func:`legacy_record` finds the
architecture of those by trying the recipes' builders, for the unconditional image models only.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ganlib import domains, sampling
from ganlib.models.architecture import ArchitectureError, describe, rebuild
from ganlib.models.dcgan import DCGAN_PRESETS, build_dcgan
from ganlib.models.diffusion import DDPM, DiffusionConfig
from ganlib.models.mlp import build_mlp_gan
from ganlib.models.progan import upsample
from ganlib.models.vae import VAE, VAEConfig
from ganlib.training.checkpoint import CHECKPOINT_NAME, load_checkpoint
from ganlib.training.cyclegan import CycleGANTrainConfig
from ganlib.training.diffusion import DDPMTrainConfig
from ganlib.training.gan import TrainConfig
from ganlib.training.history import History
from ganlib.training.progan import ProGANTrainConfig, phase
from ganlib.training.stylegan import StyleGANTrainConfig
from ganlib.training.vae import VAETrainConfig

__all__ = ["Run", "RunError", "load_run", "legacy_record", "KINDS"]

#: What a run draws, by its kind: "gan" G(z); "conditional" G(z, y); "translation" G(x) (pix2pix, CycleGAN);
#: "progan" G(z) at the phase the run reached; "vae" and "ddpm" their own samplers.
KINDS = ("gan", "conditional", "translation", "progan", "vae", "ddpm")
#: The settings class of each task, to read a checkpoint's ``config`` back.
_CONFIGS = {"gan": TrainConfig, "cyclegan": CycleGANTrainConfig, "progan": ProGANTrainConfig,
            "stylegan": StyleGANTrainConfig, "vae": VAETrainConfig, "ddpm": DDPMTrainConfig}
#: The module that draws, by task, in order of preference (the moving averages first).
_SAMPLERS = {"gan": ("G_ema", "G"), "progan": ("G_ema", "G"), "stylegan": ("G_ema", "G"), "cyclegan": ("G",),
             "vae": ("vae",), "ddpm": ("model_ema", "model")}


class RunError(ValueError):
    """A folder that holds no run, or a run that cannot be rebuilt or drawn from as asked."""


@dataclass
class Run:
    """A trained run: its networks, settings and history, and what made it (``record``).

    ``python -m ganlib train``, :func:`ganlib.recipes.train` and :func:`load_run` all give one. The networks are
    in ``modules`` under the task's names (``G``, ``D``, ``G_ema``; CycleGAN's ``G``, ``F``, ``D_X``, ``D_Y``; the
    VAE's ``vae``; the DDPM's ``model`` and ``model_ema``); the properties name the usual ones.
    """

    modules: dict[str, nn.Module]
    history: History
    cfg: object  # the task's settings: TrainConfig, CycleGANTrainConfig, ProGANTrainConfig, ...
    record: dict  # the checkpoint's "run": task, recipe, dataset, image shape, the networks' architectures
    out_dir: Path | None = None
    steps_done: int = 0  # the step the run ended at (cfg.steps unless training stopped early)
    task_state: dict = field(default_factory=dict)  # the task's own state (ProGAN: the images seen)
    pair: object = None  # CycleGAN: the DomainPair it trained on (its test images are the default inputs)

    @property
    def task(self) -> str:
        return self.record.get("task", "gan")

    def _get(self, name: str) -> nn.Module:
        if name not in self.modules:
            raise AttributeError(f"this {self.task} run has no {name!r}; its networks: {', '.join(self.modules)}")
        return self.modules[name]

    G = property(lambda self: self._get("G"))
    D = property(lambda self: self._get("D"))
    F = property(lambda self: self._get("F"))  # CycleGAN's Y -> X
    nets = property(lambda self: self.modules)  # CycleGAN's four networks by name
    model = property(lambda self: self.modules.get("vae") or self._get("model"))  # the VAE, or the DDPM trained

    @property
    def G_ema(self) -> nn.Module:
        """The moving average of G's weights (G itself for a run trained without one)."""
        return self.modules.get("G_ema") or self._get("G")

    @property
    def sampler(self) -> nn.Module:
        """The network that draws: G_ema (else G), CycleGAN's G, the VAE, the DDPM's EMA copy."""
        for name in _SAMPLERS.get(self.task, ("G_ema", "G")):
            if name in self.modules:
                return self.modules[name]
        raise RunError(f"this {self.task} run holds none of {', '.join(_SAMPLERS[self.task])}")

    @property
    def kind(self) -> str:
        """What the run draws: one of :data:`KINDS` (StyleGAN draws as "gan")."""
        if self.task in ("vae", "ddpm", "progan"):
            return self.task
        if self.task == "cyclegan" or sampling.is_translator(self.sampler):
            return "translation"
        return "conditional" if sampling.n_classes_of(self.sampler) is not None else "gan"

    def sample(self, n: int, *, seed: int = 0, labels: torch.Tensor | None = None, inputs: torch.Tensor | None = None,
               direction: str = "x2y", batch_size: int = 100, sampling_steps: int | None = 50,
               progress: bool = False) -> torch.Tensor:
        """``n`` samples (n, C, H, W) on the CPU, float32, the same for the same seed on any device.

        Args:
            n: how many.
            seed: seeds the latents (and every other draw: the DDPM's steps, StyleGAN's noise inputs).
            labels: a conditional run's classes (n,); default 0, 1, ..., K-1, 0, 1, ...
            inputs: a translation run's input images (N, C, H, W) in [-1, 1]; the first n are translated.
                A CycleGAN run defaults to the test images of the domain it translates from.
            direction: CycleGAN: ``"x2y"`` (G) or ``"y2x"`` (F).
            batch_size: images per forward pass.
            sampling_steps: a DDPM's network evaluations per image (DDIM; None: all T, ancestral).
            progress: show a progress bar.

        Raises:
            RunError: labels for a run that takes none, inputs missing for a pix2pix run, an unknown direction.
        """
        kind = self.kind
        if labels is not None and kind != "conditional":
            raise RunError(f"labels= is for a class-conditional run; this one is {kind}")
        if inputs is not None and kind != "translation":
            raise RunError(f"inputs= is for a translation run (cyclegan, pix2pix); this one is {kind}")
        with torch.random.fork_rng(devices=[]):  # draws without a generator (noise inputs) are seeded too
            torch.manual_seed(seed)
            generator = torch.Generator().manual_seed(seed)
            if kind == "translation":
                return self._translate(n, inputs, direction, batch_size)
            if kind == "conditional":
                return self._conditional(n, labels, generator, batch_size)
            if kind == "progan":
                return self._progan(n, generator, batch_size)
            return sampling.draw(self.sampler, n, generator=generator, steps=sampling_steps, batch_size=batch_size,
                                 progress=progress)

    def _conditional(self, n: int, labels: torch.Tensor | None, generator: torch.Generator, batch_size: int):
        G = self.sampler
        if labels is None:
            labels = torch.arange(n) % sampling.n_classes_of(G)  # (n,)
        if tuple(labels.shape) != (n,):
            raise RunError(f"labels must have shape ({n},), got {tuple(labels.shape)}")
        z = torch.randn(n, G.cfg.latent_dim, generator=generator)  # (n, latent_dim)
        return torch.cat([sampling.sample(G, 0, z=z[i:i + batch_size], labels=labels[i:i + batch_size])
                          for i in range(0, n, batch_size)])

    def _progan(self, n: int, generator: torch.Generator, batch_size: int) -> torch.Tensor:
        """G_ema at the phase the run reached, enlarged (nearest) to the final size, as its snapshots are."""
        G, cfg = self.sampler, self.cfg
        resolution, alpha = phase(int(self.task_state.get("images", 0)), cfg)
        z = torch.randn(n, G.cfg.latent_dim, generator=generator)  # (n, latent_dim)
        device, out = next(G.parameters()).device, []
        with torch.no_grad():
            for i in range(0, n, batch_size):
                images = G.eval()(z[i:i + batch_size].to(device), resolution, alpha).float().cpu()  # (b, C, r, r)
                out.append(upsample(images, cfg.final_resolution // resolution))
        return torch.cat(out)

    def _translate(self, n: int, inputs: torch.Tensor | None, direction: str, batch_size: int) -> torch.Tensor:
        if direction not in ("x2y", "y2x"):
            raise RunError(f"direction must be 'x2y' or 'y2x', got {direction!r}")
        cyclegan = self.task == "cyclegan"
        if direction == "y2x" and not cyclegan:
            raise RunError("direction='y2x' is for a CycleGAN run; pix2pix translates one way")
        if inputs is None:
            if not cyclegan:
                raise RunError("a pix2pix run translates given images: run.sample(n, inputs=conditions)")
            inputs = self._test_images(direction)
        G = self.modules["F"] if direction == "y2x" else self.sampler
        inputs = inputs[:n]
        return torch.cat([sampling.translate(G, inputs[i:i + batch_size]) for i in range(0, len(inputs), batch_size)])

    def _test_images(self, direction: str) -> torch.Tensor:
        """The test images of the domain a CycleGAN run translates from (its pair, else reloaded by name)."""
        if self.pair is None:
            size = self.record.get("image_shape", [None, None, None])[-1]
            self.pair = domains.load_domains(self.record["dataset"], size=size, seed=int(getattr(self.cfg, "seed", 0)))
        return (self.pair.test_x if direction == "x2y" else self.pair.test_y).images


def _settings(task: str, saved: dict):
    """The run's settings object from the checkpoint's ``config`` (fields this version lacks are skipped)."""
    cls = _CONFIGS.get(task)
    if cls is None:
        return dict(saved)
    known = {f.name: f for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) and str(known[k].type).startswith("tuple") else v
                  for k, v in saved.items() if k in known})


def load_run(run_dir: str | os.PathLike, device: str | torch.device = "cpu") -> Run:
    """Reopen the run in ``run_dir`` (its ``checkpoint.pt``): networks rebuilt from the checkpoint's record and
    loaded, in eval mode without gradients, on ``device``.

    Raises:
        RunError: no checkpoint, or one whose networks cannot be rebuilt (the message says what to do).
        ganlib.train.CheckpointError: the checkpoint is corrupt or not a ganlib checkpoint.
    """
    path = Path(run_dir) / CHECKPOINT_NAME
    if not path.is_file():
        raise RunError(f"{run_dir} holds no {CHECKPOINT_NAME}: pass a run folder written by `python -m ganlib train`, "
                       "ganlib.recipes.train or ganlib.train.train with out_dir")
    state = load_checkpoint(path)
    record = state.get("run") or legacy_record(state, path)
    modules = {}
    for name, architecture in record.get("modules", {}).items():
        if not isinstance(state.get(name), dict):
            continue
        try:
            net = rebuild(architecture)
            net.load_state_dict(state[name])
        except (ArchitectureError, RuntimeError) as e:  # a record of another ganlib, or weights that do not fit
            raise RunError(f"{path}: cannot rebuild {name!r} ({str(e)[:300]})") from e
        modules[name] = net.requires_grad_(False).to(device).eval()
    task = record.get("task", "gan")
    if not any(name in modules for name in _SAMPLERS.get(task, ("G",))):
        raise RunError(f"{path} is a {task} run whose networks are not ganlib.models networks (a network of your "
                       "own?): rebuild it yourself and load the checkpoint's weights into it")
    own = state["processes"][0] if "processes" in state else state
    history = History.from_state_dict(state["history"]) if "history" in state else History()
    return Run(modules=modules, history=history,
               cfg=_settings(task, state.get("config", {})), record=record, out_dir=Path(run_dir),
               steps_done=int(state.get("step", 0)), task_state=dict(own.get("task", {}).get("state", {})))


# The image shapes the recipes trained on before checkpoints described themselves: the MNISTs (raw for
# the MLP, padded to 32 px for the convolutional families) and CIFAR-10.
_LEGACY_SHAPES = ((1, 28, 28), (1, 32, 32), (3, 32, 32))
_LEGACY_RECIPES = {"gan": "dcgan", "wgan": "wgan", "wgan-gp": "wgan-gp"}  # objective -> the DCGAN recipe


def _legacy_candidates(task: str, objective: str):
    """(what the record says, the module name the weights are under, a fresh network) for every architecture the
    recipes built before checkpoints recorded it."""
    if task in ("vae", "ddpm"):
        for channels in (1, 3):
            net = VAE(VAEConfig(channels=channels)) if task == "vae" else DDPM(DiffusionConfig(channels=channels))
            yield {"recipe": task, "image_shape": [channels, 32, 32]}, "vae" if task == "vae" else "model", net
        return
    for shape in _LEGACY_SHAPES:
        if objective == "gan":
            yield {"recipe": "vanilla", "image_shape": list(shape)}, "G", build_mlp_gan("mnist", data_shape=shape)[0]
        if shape[-1] != 32:
            continue  # the convolutional recipes pad MNIST to 32 px
        preset = DCGAN_PRESETS["mnist32" if shape[0] == 1 else "cifar32"]
        G = build_dcgan(preset, channels=shape[0], image_size=32)[0]
        yield {"recipe": _LEGACY_RECIPES.get(objective, "dcgan"), "image_shape": list(shape)}, "G", G


def legacy_record(state: dict, path: Path) -> dict:
    """The record of a checkpoint written before runs described themselves, found by trial: the architectures
    the recipes built, for every image shape they trained on, until one fills the weights exactly.

    Only the unconditional image recipes (vanilla, dcgan, wgan, wgan-gp) and the VAE and DDPM at their default
    sizes can be found this way; other old runs raise :class:`RunError`.
    """
    task = state.get("task", {}).get("name", "gan")
    objective = state.get("config", {}).get("objective", "gan")
    if task in ("gan", "vae", "ddpm"):
        for info, name, net in _legacy_candidates(task, objective):
            weights = next((state[key] for key in (name, f"{name}_ema", "G_ema") if isinstance(state.get(key), dict)), {})
            try:
                net.load_state_dict(weights)
            except RuntimeError:  # missing or unexpected keys, other shapes: not this architecture
                continue
            names = [key for key in ("G", "G_ema", "vae", "model", "model_ema") if isinstance(state.get(key), dict)]
            return {"format": "legacy", "task": task, **info, "modules": {key: describe(net) for key in names}}
    raise RunError(f"{path} was written before checkpoints recorded their run: it is a {task} run, and none of "
                   f"{', '.join(('vanilla', *_LEGACY_RECIPES.values()))}, vae, ddpm builds its networks (a conditional, "
                   "CycleGAN, ProGAN, StyleGAN or toy run?): retrain it with this version, or sample it yourself, save "
                   "the images to a folder and pass --fake FOLDER")
