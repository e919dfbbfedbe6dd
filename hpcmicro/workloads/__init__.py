"""Workloads, one file each, found by name or as ``module:attribute``.

The runtime core never imports a workload by name: it asks :func:`resolve`,
which imports the built-in ones lazily from :data:`BUILTIN` and any other as
``package.module:ClassName`` from the job file.
"""

from __future__ import annotations

import importlib

from ..errors import ConfigError
from .base import Workload, option

BUILTIN = {
    "synthetic": "hpcmicro.workloads.synthetic:Synthetic",
    "align": "hpcmicro.workloads.align:Align",
    "weather": "hpcmicro.workloads.weather:Weather",
}


def resolve(name: str) -> type[Workload]:
    """Return the workload class for a job file's ``workload = name``."""
    target = BUILTIN.get(name, name)
    if ":" not in target:
        raise ConfigError(f"unknown workload {name!r}; choose from {', '.join(BUILTIN)} "
                          "or name your own as 'package.module:ClassName'", key="job.workload")
    mod_name, _, attr = target.partition(":")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise ConfigError(f"cannot import workload module {mod_name!r} ({e}); is it installed "
                          "or on PYTHONPATH?", key="job.workload") from None
    cls = getattr(mod, attr, None)
    if not (isinstance(cls, type) and issubclass(cls, Workload)):
        raise ConfigError(f"{target!r} is not a hpcmicro Workload subclass", key="job.workload")
    return cls


__all__ = ["BUILTIN", "Workload", "option", "resolve"]
