"""Drain signals that arrive while a run is still starting.

Slurm may send the time-limit warning (``--signal=B:USR1@grace``) up to a
minute early, so with a short limit it can reach the ranks while they are still
importing, reading input or compiling.  SIGUSR1's default action kills the
process: the run would end before it opened its output, and the requeued job
would count one resume fewer than requeues.  :func:`hold` records such signals
from the moment the ``run`` command starts; :func:`install` puts the real
handler in place and replays what was held, so the run opens its output and
drains at once.  SIGINT is not held: Ctrl-C during start-up stops at once.
"""

from __future__ import annotations

import signal

#: Signals that ask a run to drain (stop, commit, exit resumable).
DRAIN = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)
#: Signals held from start-up until :func:`install`.
HELD = (signal.SIGTERM, signal.SIGUSR1)

_held: list[int] = []


def _record(signum, frame) -> None:
    _held.append(signum)


def hold() -> None:
    """Record SIGTERM and SIGUSR1 instead of dying; call before any slow import."""
    for s in HELD:
        signal.signal(s, _record)


def install(handler) -> None:
    """Handle the drain signals with ``handler(signum, frame)``; replay held ones."""
    for s in DRAIN:
        signal.signal(s, handler)
    held, _held[:] = list(_held), []
    for s in held:
        handler(s, None)
