"""The generic training loop: one loop for every GAN family, the family's game in a task.

The loop owns what cuts across families; a *task* (``ganlib.training.gan``, ``.cyclegan``) owns its
named networks and optimisers and writes one iteration as its paper does::

    fit(task, batches, cfg):
        run = _Session(...)            # placement: the device plan; modules on the device (channels_last
                                       # for 16-bit convolutions), compiled; optimisers (fused Adam on CUDA)
        run.restore_or_start(resume)   # a checkpoint's modules, optimisers, streams and history, or step 0
        for each iteration: run.iteration()
            metrics = task.step(ctx, batches)          # the game: D phase(s), G phase, regularisers
            EMA copies <- lerp towards their modules   # half-life in images
            every log_every:        check every metric is finite, append to the History
            every snapshot_every:   run.snapshot()     # task.snapshot(), e.g. G_ema(z_fixed)
            every checkpoint_every: run.checkpoint()   # every weight finite; written atomically, with the run's
                                                       # record (what made it: ganlib.load_run rebuilds it)

``ctx`` (:class:`Context`) gives the step what it needs without globals: the :class:`Progress`
(steps done, real images consumed; schedules are pure functions of it), the modules to call
(compiled where allowed), the optimisers, the autocast context, the seeded noise stream, and
:meth:`Context.optimize`, the one place that does zero_grad, backward, gradient norm and step.

Everything random in a run (noise, mini-batches, a task's own generators) has its state in the
checkpoint, so a resumed run continues exactly where the interrupted one stopped.

Under torchrun the same loop trains data-parallel on several processes (gradients averaged at each
optimiser step, rank 0 writing): see :mod:`ganlib.training.distributed`. Tasks do not see it.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import os
import time
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Iterable, Protocol

import torch
from torch import nn

from ganlib.models.architecture import describe
from ganlib.progress import progress_bar
from ganlib.training import distributed
from ganlib.training.checkpoint import (
    CHECKPOINT_NAME,
    RESERVED_KEYS,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from ganlib.training.history import History
from ganlib.training.plan import DevicePlan, device_plan

__all__ = [
    "LoopConfig", "Progress", "Context", "Task", "Batches", "NonFiniteLossError", "fit",
    "optimizer_step", "grad_norm", "frozen", "ema_update", "ema_beta", "run_record", "RUN_FORMAT",
]


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss or weight; the last good checkpoint is left untouched."""


class Batches(Protocol):
    """What the loop reads real data from: an endless iterator with a restorable state.

    A task whose batch size varies (ProGAN) also needs ``take(n) -> batch of n``; see ``_LoopBatches``.
    """

    def __next__(self) -> torch.Tensor | tuple[torch.Tensor, ...]: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


@dataclass
class LoopConfig:
    """Settings of the loop itself, shared by every task; a task's config extends it."""

    steps: int = 2000  # iterations in total, counting resumed ones
    batch_size: int = 128  # real samples per batch (the batch iterator must match); sets the EMA's per-step decay
    log_every: int = 10  # record the history (and check the metrics are finite) every N steps
    snapshot_every: int = 0  # keep the task's snapshot every N steps; 0 = only at the start and the end
    n_snapshot: int = 64  # samples per snapshot
    checkpoint_every: int = 0  # write a checkpoint every N steps; 0 = only at the end
    seed: int = 0  # seeds the noise stream (and the task's fixed snapshot inputs)
    ema_half_life: float = 10_000.0  # images after which an old weight counts half in an EMA copy (Karras et al. 2020)
    # "auto" (the device plan: bf16 on GPUs of compute capability >= 8.0, fp16 with loss scaling on a T4 or V100,
    # fp32 on the CPU), or "bf16", "fp16", "fp32" on any device: see ganlib.training.plan
    precision: str = "auto"
    channels_last: bool = True  # allow NHWC memory layout for image models (the plan uses it with 16-bit on CUDA)
    compile: bool = False  # torch.compile the task's modules (except those it keeps eager), where the plan allows


#: Settings that may change between a run and its resumption without a warning.
_FREE_ON_RESUME = ("steps", "log_every", "snapshot_every", "checkpoint_every")


@dataclass
class Progress:
    """How far a run is; saved in every checkpoint. Schedules are pure functions of it."""

    step: int = 0  # iterations done
    images: int = 0  # real images consumed (the first tensor of every batch drawn)


class Task(Protocol):
    """One GAN family's game. See :class:`ganlib.training.gan.AlternatingTask` for an example."""

    name: str  # the kind of run, stored in the checkpoint ("gan", "cyclegan", ...)
    modules: dict[str, nn.Module]  # every network, by name; EMA copies are added here by the loop
    ema: dict[str, str]  # EMA copy -> the module it follows, e.g. {"G_ema": "G"}
    eager: tuple[str, ...]  # modules never compiled (a gradient penalty's double backward)
    metric_names: tuple[str, ...]  # series every history of this task has
    # optional: fp16_safe = False where fp16 autocast cannot train the task safely (the device plan then picks fp32)

    def optimizers(self, *, fused: bool) -> dict[str, torch.optim.Optimizer]: ...
    def step(self, ctx: "Context", batches: Batches) -> dict[str, torch.Tensor]: ...
    def snapshot(self) -> torch.Tensor: ...
    def state_dict(self) -> dict: ...
    def load_state_dict(self, state: dict) -> None: ...


# ---------------------------------------------------------------------------------------------
# What every step uses: the optimiser sequence, gradient isolation, EMA
# ---------------------------------------------------------------------------------------------


def grad_norm(params: Iterable[nn.Parameter]) -> torch.Tensor:
    """L2 norm of the gradients of ``params`` together (no sync: stays a tensor).

    One ``_foreach_norm`` over all the gradients (a few kernels, not one per parameter), then the norm of the norms.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)).float())


#: The loss scaler of each optimiser that trains under fp16 autocast; :func:`fit` registers them for its run.
_LOSS_SCALERS: "weakref.WeakKeyDictionary[torch.optim.Optimizer, torch.amp.GradScaler]" = weakref.WeakKeyDictionary()


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor) -> torch.Tensor:
    """zero_grad, backward, gradient norm, step: one update of the parameters ``opt`` holds.

    Under fp16 autocast (the device plan gives ``opt`` a GradScaler) the loss is scaled before backward so small
    fp16 gradients do not underflow, the gradients are unscaled before their norm and the step, and a step whose
    gradients overflowed (inf or NaN) is skipped and the scale halved (Micikevicius et al. 2018, Sec. 3.2).

    Returns:
        The L2 norm of their gradient (a detached tensor), measured before the step; 0 for a step the loss scaler
        skipped (no update was made: its scaled fp16 gradient overflowed, the true one is unknown).
    """
    params = [p for group in opt.param_groups for p in group["params"]]
    opt.zero_grad(set_to_none=True)
    scaler = _LOSS_SCALERS.get(opt)
    if scaler is None:
        loss.backward()
        norm = grad_norm(params)
        opt.step()
        return norm
    scaler.scale(loss).backward()
    scaler.unscale_(opt)  # the true gradients, for the norm and for the step
    norm = grad_norm(params)
    scaler.step(opt)  # skipped if a gradient is inf or NaN
    scaler.update()  # halves the scale after an overflow, doubles it after growth_interval good steps
    return torch.where(torch.isfinite(norm), norm, torch.zeros_like(norm))


@contextlib.contextmanager
def frozen(*modules: nn.Module):
    """Within the block the modules take no gradients (they still pass gradients through), and
    afterwards their ``requires_grad`` is restored, even if the block raised."""
    params = [p for m in modules for p in m.parameters()]
    before = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, before):
            p.requires_grad_(flag)


@torch.no_grad()
def ema_update(G_ema: nn.Module, G: nn.Module, beta: float) -> None:
    """G_ema <- beta * G_ema + (1 - beta) * G for every parameter; buffers are copied.

    One ``_foreach_lerp_`` over all parameters (a few kernels on a GPU instead of one per tensor).
    """
    params_ema, params = list(G_ema.parameters()), list(G.parameters())
    if params:
        torch._foreach_lerp_(params_ema, params, 1.0 - beta)
    buffers_ema, buffers = list(G_ema.buffers()), list(G.buffers())
    if buffers:
        torch._foreach_copy_(buffers_ema, buffers)


def ema_beta(batch_size: int, half_life_images: float) -> float:
    """Per-step decay so that a weight's influence halves after ``half_life_images`` images."""
    return 0.5 ** (batch_size / max(half_life_images, 1e-8))


# ---------------------------------------------------------------------------------------------
# The context a step receives
# ---------------------------------------------------------------------------------------------


@dataclass
class Context:
    """What a task's step may use. Built by :func:`fit`; a test can build one by hand.

    Attributes:
        progress: steps done and images consumed *before* this iteration.
        device: where the modules and batches live.
        modules: the task's modules as the step should call them (compiled where allowed).
        optimizers: the task's optimisers, by name.
        noise: the run's seeded noise stream, on ``device``; its state is checkpointed.
        autocast: a context-manager factory for forward passes (the device plan's bf16 or fp16 autocast, or a no-op).
    """

    progress: Progress
    device: torch.device
    modules: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    noise: torch.Generator
    autocast: Callable[[], ContextManager] = contextlib.nullcontext

    def randn(self, *shape: int) -> torch.Tensor:
        """Standard normal noise of ``shape`` on the device, from the run's noise stream."""
        return torch.randn(*shape, device=self.device, generator=self.noise)

    def optimize(self, name: str, loss: torch.Tensor) -> torch.Tensor:
        """zero_grad, backward, gradient norm and step of the optimiser ``name``; returns the norm."""
        return optimizer_step(self.optimizers[name], loss)


# ---------------------------------------------------------------------------------------------
# Batches as the loop hands them on
# ---------------------------------------------------------------------------------------------


class _LoopBatches:
    """The user's batches, counted (real images consumed) and, on CUDA, in NHWC layout.

    A step reads ``next(batches)``; a task whose batch size changes during the run (ProGAN's per
    resolution) reads ``batches.take(n)`` instead, which the user's batches must then offer
    (:meth:`ganlib.data.InMemoryBatches.take`). Either way the images are counted into the progress.
    """

    def __init__(self, batches: Batches, progress: Progress, channels_last: bool,
                 world: distributed.World = distributed.World()):
        self.batches, self.progress, self.channels_last, self.world = batches, progress, channels_last, world

    def __iter__(self):
        return self

    def __next__(self) -> torch.Tensor | tuple[torch.Tensor, ...]:
        return self._deliver(next(self.batches))

    def take(self, n: int) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """The next ``n`` samples (a batch of any size), counted like a batch from ``next``.

        ``n`` is the batch of all processes together: each of N processes takes ``n / N`` of its shard.
        """
        take = getattr(self.batches, "take", None)
        if take is None:
            raise TypeError(f"this task asks for batches of varying size, which {type(self.batches).__name__} "
                            "cannot deliver: it has no take(n); use ganlib.data.InMemoryBatches")
        return self._deliver(take(distributed.local_batch_size(n, self.world)))

    def _deliver(self, batch: torch.Tensor | tuple[torch.Tensor, ...]) -> torch.Tensor | tuple[torch.Tensor, ...]:
        first = batch if isinstance(batch, torch.Tensor) else batch[0]
        self.progress.images += int(first.shape[0]) * self.world.size  # every process drew as many
        if not self.channels_last:
            return batch
        nhwc = lambda t: t.contiguous(memory_format=torch.channels_last) if t.ndim == 4 else t
        return nhwc(batch) if isinstance(batch, torch.Tensor) else tuple(nhwc(t) for t in batch)

    def state_dict(self) -> dict:
        return self.batches.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.batches.load_state_dict(state)


# ---------------------------------------------------------------------------------------------
# RNG state
# ---------------------------------------------------------------------------------------------


def _rng_state(noise: torch.Generator) -> dict:
    """The run's random states, every one a CPU ByteTensor (the noise stream's too, even on CUDA)."""
    state = {"torch": torch.get_rng_state(), "noise": noise.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict, noise: torch.Generator) -> None:
    """Restore :func:`_rng_state`'s states. ``torch.set_rng_state``, ``Generator.set_state`` and
    ``torch.cuda.set_rng_state_all`` take CPU ByteTensors only, so every state is brought to the CPU first:
    a checkpoint read with ``map_location="cuda"`` would otherwise make every resume on a GPU crash."""
    cpu = lambda t: t.to("cpu", torch.uint8)
    torch.set_rng_state(cpu(state["torch"]))
    noise.set_state(cpu(state["noise"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([cpu(t) for t in state["cuda"]])


def _plain(value):
    """Config values as plain Python types (tuples become lists) for the checkpoint."""
    return list(value) if isinstance(value, tuple) else value


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------


def _check_metrics(metrics: dict[str, float], step: int, last_good: int, checkpoint: Path | None) -> None:
    bad = [name for name, value in metrics.items() if not math.isfinite(value)]
    if bad:
        where = f"the last good checkpoint is {checkpoint} (step {last_good})" if checkpoint else "no checkpoint was written"
        raise NonFiniteLossError(
            f"{' and '.join(bad)} became non-finite ({', '.join(f'{n}={metrics[n]}' for n in bad)}) "
            f"at or before step {step}; {where}. Lower the learning rates or check the data for NaNs."
        )


def _check_weights(modules: dict[str, nn.Module], step: int, last_good: int, checkpoint: Path) -> None:
    # A finite loss can still be followed by an update that blew the weights up: never save those.
    bad = [name for name, module in modules.items()
           if not all(bool(torch.isfinite(p).all()) for p in module.parameters())]
    if bad:
        where = f"the last good checkpoint is {checkpoint} (step {last_good})" if last_good else "no checkpoint was written"
        raise NonFiniteLossError(f"{' and '.join(bad)} weights became non-finite at or before step {step}; "
                                 f"{where}. Lower the learning rates.")


def _prepare(task: Task) -> None:
    """Check the task's module names and make its EMA copies (deep copies of what they follow)."""
    clash = [name for name in task.modules if name in RESERVED_KEYS or name.startswith("opt_")]
    if clash:
        raise ValueError(f"module names {clash} clash with checkpoint keys {RESERVED_KEYS} (or opt_*); rename them")
    for ema_name, source in task.ema.items():
        if ema_name not in task.modules:
            task.modules[ema_name] = copy.deepcopy(task.modules[source])
        task.modules[ema_name].requires_grad_(False)  # an average, never optimised


def _place(task: Task, cfg: LoopConfig, device: str | torch.device, world: distributed.World) -> DevicePlan:
    """Decide the device plan and put the task's modules on the device in the plan's layout."""
    modules = task.modules
    convolutional = any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for net in modules.values() for m in net.modules())
    plan = device_plan(device, precision=cfg.precision, channels_last=cfg.channels_last, compile=cfg.compile,
                       convolutional=convolutional, fp16_safe=getattr(task, "fp16_safe", True))
    if world.distributed and plan.torch_device.type == "cuda":
        for name in [n for n in modules if n not in task.ema]:  # global-batch statistics (EMA copies stay in eval)
            modules[name] = distributed.sync_batchnorm(modules[name])
    layout = {"memory_format": torch.channels_last} if plan.channels_last else {}
    for module in modules.values():
        module.to(plan.torch_device, **layout)
    if plan.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick the fastest kernels
    return plan


def _restore(path: Path, task: Task, cfg: LoopConfig, optimizers: dict[str, torch.optim.Optimizer],
             scalers: dict[str, torch.amp.GradScaler], batches: Batches, noise: torch.Generator, state: Progress,
             world: distributed.World) -> History:
    """Load ``path`` into the run (modules, optimisers, loss scalers, task, batches, random streams, progress)
    and return its history.

    The checkpoint is read onto the CPU: ``load_state_dict`` copies weights and optimiser states to their
    parameters' device, and random states must stay CPU ByteTensors.
    """
    saved = load_checkpoint(path, map_location="cpu")
    kind = saved.get("task", {}).get("name", "gan")  # checkpoints from before tasks were all G against D
    if kind != task.name:
        raise CheckpointError(f"{path} holds a {kind!r} run, not a {task.name!r} one: "
                              "choose another out_dir, or delete it to start over")
    saved_world = int(saved.get("world_size", 1))
    if saved_world != world.size:
        raise CheckpointError(f"{path} was written by {saved_world} training process(es) and this run has "
                              f"{world.size}: resume with the same number (torchrun --nproc_per_node "
                              f"{saved_world} ... --resume{'' if saved_world > 1 else ', or without torchrun'}), "
                              "since every process's data order and noise are in the checkpoint")
    missing = [name for name in [*task.modules, *(f"opt_{n}" for n in optimizers)] if name not in saved]
    if missing:
        raise CheckpointError(f"{path} holds no {', '.join(missing)}: resume with the same modules "
                              "(and EMA copies) as the run that wrote it, or start a new run")
    for name, module in task.modules.items():
        module.load_state_dict(saved[name])
    for name, opt in optimizers.items():
        opt.load_state_dict(saved[f"opt_{name}"])
    for name, scaler in scalers.items():  # a run that was fp32 or bf16 before starts its scalers afresh
        if name in saved.get("scalers", {}):
            scaler.load_state_dict(saved["scalers"][name])
    own = saved["processes"][world.rank] if world.distributed else saved  # this process's own streams
    task.load_state_dict(own.get("task", {}).get("state", {}))
    batches.load_state_dict(own["batches"])
    _set_rng_state(own["rng"], noise)
    state.step = int(saved["step"])
    state.images = int(saved.get("images", state.step * cfg.batch_size))  # older files: one batch a step
    changed = {k: (v, getattr(cfg, k)) for k, v in saved["config"].items()
               if k not in _FREE_ON_RESUME and hasattr(cfg, k) and _plain(getattr(cfg, k)) != _plain(v)}
    if changed:
        warnings.warn(f"resuming with settings that differ from the checkpoint's: {changed}", stacklevel=3)
    return History.from_state_dict(saved["history"])


def fit(
    task: Task,
    batches: Batches,
    cfg: LoopConfig,
    *,
    device: str | torch.device = "cpu",
    out_dir: str | os.PathLike | None = None,
    resume: bool | str = False,
    progress: bool = True,
    description: str | None = None,
    record: dict | None = None,
) -> History:
    """Run ``task`` for ``cfg.steps`` iterations and return the :class:`History`.

    Args:
        task: the game (:class:`Task`); its modules are moved to ``device`` here. Initialise them
            (e.g. under a seed) before calling. EMA copies named in ``task.ema`` that are not yet in
            ``task.modules`` are made here (a deep copy of the module they follow).
        batches: endless iterator on ``device`` with ``state_dict()``; what it yields is the task's
            business (images, ``(images, labels)``, ``(x, y)`` pairs ...).
        cfg: a :class:`LoopConfig` (or a task's config that extends it).
        device: where to train.
        out_dir: if given, ``checkpoint.pt`` is written there every ``cfg.checkpoint_every`` steps
            and at the end, atomically.
        resume: True to continue from ``out_dir/checkpoint.pt``: modules, optimisers (and their loss
            scalers), EMA copies, the task's state, progress, history, random states and the batch
            iterator's position are restored, so the run goes on exactly as if it had never stopped;
            ``cfg.steps`` is the total to reach. ``"auto"`` resumes when that checkpoint exists and
            starts afresh otherwise, so re-running a notebook cell (after a Colab disconnect) picks up the run.
        progress: show the device plan and progress: a tqdm bar in a terminal or notebook, else a plain
            line every 5 % (:class:`ganlib.progress.PlainProgress`), so a log file gets no carriage-return redraws.
        description: the progress bar's label (default: the task's name).
        record: what made the run, as plain data (a recipe's name, dataset and image shape: see
            :mod:`ganlib.recipes.runs`); the checkpoint keeps it under ``"run"`` with the architecture of every
            module (:func:`ganlib.models.architecture.describe`), so :func:`ganlib.load_run` can rebuild it.

    The device plan (:func:`ganlib.training.plan.device_plan`, from ``device``, ``cfg.precision``,
    ``cfg.channels_last`` and ``cfg.compile``) decides precision (bf16, fp16 with loss scaling, or fp32),
    layout, fused optimisers and compilation; it is printed at the start, recorded in the checkpoint
    (``plan``) and in ``History.plans``. On the CPU by default everything is fp32 and deterministic.

    When ``torch.distributed`` is initialised (torchrun), each process trains on the batches it was
    given (its shard) and the replicas stay equal: :mod:`ganlib.training.distributed`.

    Raises:
        NonFiniteLossError: a metric or a weight became NaN or infinite; checkpoints written so far are kept.
        CheckpointError: ``resume`` was asked for and the checkpoint is missing, unreadable, or of
            another kind of run.
    """
    if cfg.steps < 0 or cfg.log_every < 1:
        raise ValueError(f"need steps >= 0 and log_every >= 1, got {cfg}")
    if resume not in (True, False, "auto"):
        raise ValueError(f"resume must be True, False or 'auto', got {resume!r}")
    _prepare(task)
    run = _Session(task, batches, cfg, device, out_dir, record)  # placement: the device plan, chosen once
    try:
        run.restore_or_start(resume)
        if progress and run.world.main:
            print(run.plan.describe(), flush=True)
        start = run.state.step
        bar = progress_bar(range(start, cfg.steps), initial=start, total=cfg.steps,
                           enabled=progress and run.world.main,
                           desc=(description or task.name) + (f" from {start}" if start else ""))
        try:
            for _ in bar:
                values = run.iteration()
                if values is not None:
                    bar.set_postfix({name: f"{v:.3f}" for name, v in list(values.items())[:4]})
        finally:
            bar.close()
    finally:
        run.close()
    return run.history


class _Session:
    """One call of :func:`fit`: the placed modules, optimisers, loss scalers, streams and progress, with
    the four things the loop does to them (restore, iterate, checkpoint, snapshot) as methods."""

    def __init__(self, task: Task, batches: Batches, cfg: LoopConfig, device, out_dir, record: dict | None):
        self.task, self.batches, self.cfg, self.record = task, batches, cfg, record
        self.world = world = distributed.current()  # several processes under torchrun, else one
        self.plan = plan = _place(task, cfg, device, world)
        self.modules = task.modules
        self.optimizers = task.optimizers(fused=plan.fused_optimizers)
        self.scalers = {name: plan.grad_scaler() for name in self.optimizers} if plan.loss_scaling else {}
        _LOSS_SCALERS.update({self.optimizers[name]: scaler for name, scaler in self.scalers.items()})
        self.hooks = ([opt.register_step_pre_hook(_average_gradients) for opt in self.optimizers.values()]
                      if world.distributed else [])
        trained = {name: m for name, m in self.modules.items() if name not in task.ema}
        run_modules = {name: torch.compile(m) if plan.compile and name not in task.eager else m
                       for name, m in trained.items()}
        rank_seed = cfg.seed + world.rank * distributed.RANK_SEED_STRIDE  # one process: cfg.seed
        self.noise = torch.Generator(device=plan.torch_device).manual_seed(rank_seed)
        if world.rank:
            torch.manual_seed(rank_seed)  # the processes' other random draws differ too; the models are broadcast
        self.state = Progress()
        self.ctx = Context(progress=self.state, device=plan.torch_device, modules=run_modules,
                           optimizers=self.optimizers, noise=self.noise, autocast=plan.autocast())
        self.loop_batches = _LoopBatches(batches, self.state, plan.channels_last, world)
        self.beta = ema_beta(cfg.batch_size, cfg.ema_half_life)
        self.path = Path(out_dir) / CHECKPOINT_NAME if out_dir is not None else None
        self.history = History(names=task.metric_names)
        self.last_good = 0

    def restore_or_start(self, resume: bool | str) -> None:
        """Load the checkpoint (``resume``), make the replicas equal, note the plan, start the clock."""
        if resume == "auto":
            resume = self.path is not None and self.path.is_file()
        if resume:
            if self.path is None:
                raise CheckpointError("resume=True needs out_dir, the folder that holds checkpoint.pt")
            self.history = _restore(self.path, self.task, self.cfg, self.optimizers, self.scalers, self.batches,
                                    self.noise, self.state, self.world)
        distributed.broadcast([t for m in self.modules.values() for t in (*m.parameters(), *m.buffers())])
        plans, plan = self.history.plans, self.plan.to_dict()
        if not plans or {k: v for k, v in plans[-1].items() if k != "step"} != plan:
            plans.append({"step": self.state.step, **plan})  # a part of the run on another plan
        self.last_good = self.state.step
        self.started, self.seconds_before = time.perf_counter(), self.history.seconds  # across resumes
        if self.state.step == 0:
            self.snapshot()
            if self.cfg.steps == 0:
                self.checkpoint()  # a run of no steps keeps its starting point: the first stage of a staged run

    def iteration(self) -> dict[str, float] | None:
        """One step of the task, the EMA updates and what falls due at this step; the logged values, if logged."""
        cfg, state, task = self.cfg, self.state, self.task
        metrics = task.step(self.ctx, self.loop_batches)
        if self.world.distributed:  # running statistics and other buffers follow rank 0's (DDP's broadcast_buffers)
            distributed.broadcast([b for name, m in self.modules.items() if name not in task.ema for b in m.buffers()])
        for ema_name, source in task.ema.items():
            ema_update(self.modules[ema_name], self.modules[source], self.beta)
        state.step += 1
        done, values = state.step, None
        self.history.seconds = self.seconds_before + time.perf_counter() - self.started
        is_log = done % cfg.log_every == 0 or done == cfg.steps
        is_ckpt = cfg.checkpoint_every > 0 and done % cfg.checkpoint_every == 0
        if is_log or is_ckpt:  # .item() waits for the GPU, so only at these steps
            values = distributed.mean_over_processes({name: float(v) for name, v in metrics.items()})
            _check_metrics(values, done, self.last_good, self.path if self.last_good else None)
            if is_log:
                self.history.record(done, values)
        if (cfg.snapshot_every and done % cfg.snapshot_every == 0) or done == cfg.steps:
            self.snapshot()
        if is_ckpt or done == cfg.steps:
            self.checkpoint()
        return values if is_log else None

    def checkpoint(self) -> None:
        """Check every weight is finite and write ``checkpoint.pt`` atomically (rank 0, with every process's streams)."""
        if self.path is None:
            return
        _check_weights(self.modules, self.state.step, self.last_good, self.path)
        own = {"task": {"name": self.task.name, "state": self.task.state_dict()}, "rng": _rng_state(self.noise),
               "batches": self.batches.state_dict()}
        processes = distributed.gather_objects(own)  # every process's streams; rank 0 writes them all
        if self.world.main:
            save_checkpoint(self.path, {
                "step": self.state.step, "images": self.state.images,
                **own,
                **{name: module.state_dict() for name, module in self.modules.items()},
                **{f"opt_{name}": opt.state_dict() for name, opt in self.optimizers.items()},
                **({"scalers": {name: s.state_dict() for name, s in self.scalers.items()}} if self.scalers else {}),
                "plan": self.plan.to_dict(),
                "history": self.history.state_dict(),
                "config": {k: _plain(v) for k, v in dataclasses.asdict(self.cfg).items()},
                "run": run_record(self.task, self.record),
                **({"world_size": self.world.size, "processes": processes} if self.world.distributed else {}),
            })
        self.last_good = self.state.step

    def snapshot(self) -> None:
        history, step = self.history, self.state.step
        if not history.snapshot_steps or history.snapshot_steps[-1] != step:
            history.snapshot_steps.append(step)
            history.snapshots.append(self.task.snapshot())

    def close(self) -> None:
        for hook in self.hooks:
            hook.remove()
        for opt in self.optimizers.values():
            _LOSS_SCALERS.pop(opt, None)


#: The version of the ``"run"`` record in a checkpoint (:func:`run_record`).
RUN_FORMAT = "ganlib-run-1"


def run_record(task: Task, record: dict | None = None) -> dict:
    """What a checkpoint says made it: the format, the task's name, ``record`` (a recipe's name, dataset, image
    shape ...) and the architecture of every module that is a ``ganlib.models`` network (plain data)."""
    modules = {name: describe(module) for name, module in task.modules.items()}
    return {"format": RUN_FORMAT, "task": task.name, **(record or {}),
            "modules": {name: arch for name, arch in modules.items() if arch is not None}}


def _average_gradients(opt: torch.optim.Optimizer, args, kwargs) -> None:
    """Optimiser step pre-hook under torchrun: each gradient becomes its mean over the processes."""
    distributed.average_gradients(p for group in opt.param_groups for p in group["params"])
