"""Scheduling policies, swappable by name: ``steal`` (default), ``dynamic``, ``static``.

Each policy is a pair of plain-Python classes, one for the master and one
for each worker; see :mod:`hpcmicro.scheduling.base`.
"""

from __future__ import annotations

from ..errors import ConfigError
from .base import AskMaster, AskPeer, MasterPolicy, WorkerPolicy
from .dynamic import DynamicMaster, DynamicWorker
from .static import StaticMaster, StaticWorker
from .steal import StealMaster, StealWorker

POLICIES = {
    "steal": (StealMaster, StealWorker),
    "dynamic": (DynamicMaster, DynamicWorker),
    "static": (StaticMaster, StaticWorker),
}


def get_policy(name: str) -> tuple[type[MasterPolicy], type[WorkerPolicy]]:
    """Return the (master, worker) policy classes registered as ``name``."""
    try:
        return POLICIES[name]
    except KeyError:
        raise ConfigError(f"unknown scheduler {name!r}; choose from {', '.join(POLICIES)}",
                          key="job.scheduler") from None


__all__ = ["AskMaster", "AskPeer", "MasterPolicy", "WorkerPolicy", "POLICIES", "get_policy"]
