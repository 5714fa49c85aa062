"""The device plan: every decision about precision, memory layout, optimisers and compilation, made once.

:func:`device_plan` reads the device (and, on CUDA, its compute capability and name through
``torch.cuda.get_device_capability`` and ``torch.cuda.get_device_name``) and returns a :class:`DevicePlan`, a
plain value that :func:`ganlib.training.fit` follows, prints at the start of a run and records in the
checkpoint and the history. A test stands in for any GPU by patching those two functions.

The rules, and why:

- **Precision.** ``auto`` picks bf16 autocast where the GPU computes bf16 natively (compute capability >= 8.0:
  A100, L4, H100), which needs no loss scaler. Below 8.0 bf16 is emulated and cuDNN takes no bf16
  convolutions (every convolution falls back to a slow kernel), so a T4 or V100 (7.x, tensor cores for fp16)
  gets fp16 autocast with a :class:`torch.amp.GradScaler` per optimiser; a GPU without tensor cores (< 7.0,
  e.g. a P100) gets fp32. A task whose networks fp16 cannot hold safely declares ``fp16_safe = False`` and
  gets fp32 instead of fp16 (StyleGAN2's modulated convolutions: its authors run fp16 only in the top layers,
  with clamping). On the CPU and MPS ``auto`` is fp32, deterministic. ``precision="bf16" | "fp16" | "fp32"``
  overrides the choice on any device; the CPU runs bf16 and fp16 autocast too, so the tests cover every mode.
- **Penalties** that differentiate through a gradient (WGAN-GP, R1, path length) are computed by the tasks
  outside autocast, in fp32; under loss scaling their inner gradient is unscaled because the scale is applied
  only to the final loss, at ``backward``.
- **channels_last** (NHWC) only with 16-bit precision on CUDA, for models with convolutions: tensor-core
  convolutions want NHWC; in fp32 the layout buys little and costs transposes.
- **Fused optimisers** on CUDA (one kernel per optimiser step instead of several per parameter).
- **torch.compile** only when asked for (``compile=True``), on CUDA with compute capability >= 7.0 (Triton's
  minimum) or the CPU, and never around a module that takes a double backward (the task lists those in
  ``eager``).
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Callable, ContextManager

import torch

from ganlib.config import get_device

__all__ = ["PRECISIONS", "DevicePlan", "device_plan"]

#: The values of the ``precision`` setting (LoopConfig.precision, ``--precision``).
PRECISIONS = ("auto", "bf16", "fp16", "fp32")

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
_WORDS = {"bf16": "bf16 autocast", "fp16": "fp16 autocast with loss scaling", "fp32": "fp32"}


@dataclass(frozen=True)
class DevicePlan:
    """How a run uses its device; made by :func:`device_plan`, followed by :func:`ganlib.training.fit`.

    Attributes:
        device: where the modules and batches live, e.g. ``"cuda:0"`` or ``"cpu"``.
        name: the device's name (``"Tesla T4"``; ``"cpu"``).
        capability: CUDA compute capability (major, minor); None elsewhere.
        precision: ``"bf16"`` or ``"fp16"`` (autocast of the forward passes) or ``"fp32"``.
        loss_scaling: fp16 only: each optimiser gets a GradScaler (a step whose gradient overflowed is skipped).
        channels_last: image batches and convolutional modules in NHWC layout.
        fused_optimizers: Adam's fused kernel.
        compile: ``torch.compile`` the modules a task allows.
        cudnn_benchmark: let cuDNN time its kernels once for the run's fixed shapes.
        reason: why this precision, in a few words (printed with the plan).
    """

    device: str
    name: str
    capability: tuple[int, int] | None
    precision: str
    loss_scaling: bool
    channels_last: bool
    fused_optimizers: bool
    compile: bool
    cudnn_benchmark: bool
    reason: str = ""

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.device)

    def autocast(self) -> Callable[[], ContextManager]:
        """A factory of the context manager the forward passes run under (a no-op in fp32)."""
        if self.precision == "fp32":
            return contextlib.nullcontext
        device_type, dtype = self.torch_device.type, _DTYPES[self.precision]
        return lambda: torch.autocast(device_type, dtype=dtype)

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        """A new loss scaler for one optimiser under fp16, else None."""
        return torch.amp.GradScaler(self.torch_device.type) if self.loss_scaling else None

    def describe(self) -> str:
        """One line, e.g. ``cuda: Tesla T4 (sm 7.5): fp16 autocast with loss scaling, channels_last``."""
        where = self.torch_device.type
        if self.capability is not None:
            where += f": {self.name} (sm {self.capability[0]}.{self.capability[1]})"
        parts = [_WORDS[self.precision] + (f" ({self.reason})" if self.reason else "")]
        parts += [word for word, on in (("channels_last", self.channels_last), ("fused Adam", self.fused_optimizers),
                                        ("torch.compile", self.compile)) if on]
        return f"{where}: {', '.join(parts)}"

    def to_dict(self) -> dict:
        """Plain data for the checkpoint and the history (``weights_only=True`` loads it)."""
        state = asdict(self)
        state["capability"] = list(self.capability) if self.capability is not None else None
        return state


def _auto_precision(capability: tuple[int, int] | None, fp16_safe: bool) -> tuple[str, str]:
    if capability is None:
        return "fp32", ""
    if capability >= (8, 0):
        return "bf16", "native bf16"
    if capability < (7, 0):
        return "fp32", "no tensor cores"
    if not fp16_safe:
        return "fp32", "this task is not fp16-safe; bf16 is emulated below sm 8.0"
    return "fp16", "bf16 is emulated below sm 8.0"


def device_plan(device: str | torch.device = "auto", *, precision: str = "auto", channels_last: bool = True,
                compile: bool = False, convolutional: bool = True, fp16_safe: bool = True) -> DevicePlan:
    """Decide precision, layout, optimisers and compilation for ``device``.

    Args:
        device: ``"auto"``, a device name or a ``torch.device``. A ``torch.device`` is taken as given (a test
            may pass ``torch.device("cuda")`` with the CUDA queries patched).
        precision: ``"auto"`` (the rules of this module), or ``"bf16"``, ``"fp16"``, ``"fp32"`` on any device.
        channels_last: allow the NHWC layout (used only with 16-bit precision on CUDA).
        compile: ask for ``torch.compile`` (granted on CUDA sm >= 7.0 and the CPU).
        convolutional: whether the models have convolutions (channels_last concerns only those).
        fp16_safe: False for a task that fp16 cannot train safely: ``auto`` then never picks fp16.

    Raises:
        ValueError: for an unknown precision, naming the valid ones.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of: {', '.join(PRECISIONS)}")
    dev = get_device(device)
    cuda = dev.type == "cuda"
    capability = tuple(torch.cuda.get_device_capability(dev)) if cuda else None
    name = torch.cuda.get_device_name(dev) if cuda else dev.type
    if precision == "auto":
        chosen, reason = _auto_precision(capability, fp16_safe)
    else:
        chosen, reason = precision, "asked for"
    if dev.type == "cpu" and precision == "auto":
        reason = ""
    half = chosen != "fp32"
    return DevicePlan(
        device=str(dev), name=name, capability=capability, precision=chosen, loss_scaling=chosen == "fp16",
        channels_last=cuda and half and channels_last and convolutional, fused_optimizers=cuda,
        compile=compile and ((cuda and capability >= (7, 0)) or dev.type == "cpu"), cudnn_benchmark=cuda,
        reason=reason,
    )
