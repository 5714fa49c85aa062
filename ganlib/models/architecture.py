"""What a network is, as plain data, and the network rebuilt from it: how a checkpoint says what made it.

Every network of :mod:`ganlib.models` is built either from one configuration dataclass (``DCGANGenerator(cfg)``,
``StyleGANGenerator(cfg)``, ``DDPM(cfg)`` ...; the network keeps it as ``.cfg``) or from a few numbers
(``ResnetGenerator(in_channels, out_channels, width=...)``; the network keeps them as ``.arguments``).
:func:`describe` writes that down::

    {"class": "ganlib.models.dcgan.DCGANGenerator", "config": {"latent_dim": 100, ...}}    # cfg form
    {"class": "ganlib.models.cyclegan.ResnetGenerator", "arguments": {"in_channels": 1, ...}}  # argument form

only strings, numbers, booleans, lists and dicts, so a checkpoint that holds it still loads with
``torch.load(weights_only=True)``. :func:`rebuild` makes a fresh network of the same architecture from it, ready
for ``load_state_dict``. Only classes of ``ganlib.models`` are rebuilt: a record cannot make the loader import
anything else.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing

from torch import nn

__all__ = ["describe", "rebuild", "ArchitectureError"]

_PACKAGE = "ganlib.models."


class ArchitectureError(ValueError):
    """A record that does not describe a network of ``ganlib.models`` (or names fields it no longer has)."""


def _plain(value):
    """Tuples as lists, recursively: the plain data a checkpoint keeps."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def describe(module: nn.Module) -> dict | None:
    """The plain-data record of a ``ganlib.models`` network, or None for a module that is not one
    (a student's own network, a ``torch.compile`` wrapper, a plain ``nn.Sequential``)."""
    cls = type(module)
    if not cls.__module__.startswith(_PACKAGE):
        return None
    cfg = getattr(module, "cfg", None)
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {"class": f"{cls.__module__}.{cls.__qualname__}", "config": _plain(dataclasses.asdict(cfg))}
    arguments = getattr(module, "arguments", None)
    if isinstance(arguments, dict):
        return {"class": f"{cls.__module__}.{cls.__qualname__}", "arguments": _plain(arguments)}
    return None


def _config_from(cls: type, fields: dict):
    """``cls``'s configuration dataclass (the type of ``__init__``'s first argument) filled from ``fields``;
    lists become tuples where the field is a tuple."""
    hints = typing.get_type_hints(cls.__init__)
    first = next(name for name in hints if name != "return")
    config_type = next(t for t in (hints[first], *typing.get_args(hints[first])) if dataclasses.is_dataclass(t))
    known = {f.name: f for f in dataclasses.fields(config_type)}
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise ArchitectureError(f"{config_type.__name__} has no field {', '.join(unknown)}: the record was written by "
                                "another version of ganlib")
    tuples = {name for name, f in known.items() if str(f.type).startswith("tuple")}
    return config_type(**{k: tuple(v) if k in tuples and isinstance(v, list) else v for k, v in fields.items()})


def rebuild(record: dict) -> nn.Module:
    """A fresh network (CPU, float32, freshly initialised) of the architecture :func:`describe` recorded.

    Raises:
        ArchitectureError: the record names no class of ``ganlib.models``, or fields its class does not take.
    """
    name = record.get("class", "") if isinstance(record, dict) else ""
    if not name.startswith(_PACKAGE) or "." not in name[len(_PACKAGE):]:
        raise ArchitectureError(f"a network record must name a class of ganlib.models, got {name!r}")
    module_name, _, class_name = name.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as e:
        raise ArchitectureError(f"{name} is not in this version of ganlib ({e})") from e
    if "config" in record:
        return cls(_config_from(cls, record["config"]))
    try:
        return cls(**record.get("arguments", {}))
    except TypeError as e:
        raise ArchitectureError(f"{name} does not take the recorded arguments: {e}") from e
