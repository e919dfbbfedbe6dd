"""The messages between ranks: small typed records, no loose tuples.

Task ids and costs travel as NumPy arrays so that a batch of ten thousand
tiny tasks is one message, not ten thousand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _ids(x=()) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def _costs(x=()) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


@dataclass
class Assign:
    """Master to worker: append these tasks to your queue."""

    ids: np.ndarray
    costs: np.ndarray


@dataclass
class MoreWork:
    """Worker to master (``dynamic`` only): my queue is running low."""

    req_id: int


@dataclass
class StealRequest:
    """Thief to victim: give me work.  ``queued`` is the thief's own queued cost."""

    req_id: int
    queued: float


@dataclass
class StealReply:
    """Victim (or master) to thief, answering ``req_id``; ``ids`` may be empty.

    ``payloads`` carries the resident data of each task for workloads that
    keep data on the worker that owns a task (see :class:`Round`).
    """

    req_id: int
    ids: np.ndarray
    costs: np.ndarray
    payloads: list | None = None


@dataclass
class Round:
    """Master to every worker: the placement of round ``r`` (round-based workloads).

    ``runners[j]`` is the rank that runs (and from then on holds) item ``j``;
    ``costs[j]`` its estimated cost.  ``first``: the first round of this run,
    whose inputs every worker builds from the initial state.  ``barrier``:
    later rounds wait for their own placement (``dynamic``); otherwise this
    is the only one, and items stay where they run (see :mod:`hpcmicro.dataflow`).
    """

    r: int
    runners: np.ndarray
    costs: np.ndarray
    first: bool = False
    barrier: bool = False


@dataclass
class Data:
    """Worker to worker: pieces of resident data, ``(round, item, key, piece)``."""

    entries: list


@dataclass
class Failure:
    """One failed attempt of a task, with the original traceback text."""

    task_id: int
    kind: str          # "error" or "timeout"
    message: str
    start: float
    stop: float


@dataclass
class Results:
    """Worker to master: a batch of finished tasks.

    ``values`` maps each result field to an array whose first axis runs over
    ``ids``.  ``start``/``stop`` are seconds since the job began.
    """

    ids: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    stolen: np.ndarray
    values: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    extras: list = field(default_factory=list)   # (task id, {name: array}) too big to mirror
    busy: float = 0.0          # seconds spent inside tasks since the last batch


@dataclass
class GiveBack:
    """Worker to master: tasks I will not run (I am draining or wedged)."""

    ids: np.ndarray
    costs: np.ndarray
    wedged: bool = False       # True: a task hangs on this rank; send it nothing more


@dataclass
class SignalSeen:
    """Worker to master: I received a stop signal; please drain the job."""

    signum: int


@dataclass
class Drain:
    """Master to worker: finish the running task, give the queue back, report."""


@dataclass
class Drained:
    """Worker to master: drain finished; all my results were sent before this."""


@dataclass
class Stop:
    """Master to worker: the job is over; exit."""


@dataclass
class Bye:
    """Worker to master, the worker's last message: nothing more will come from me."""


@dataclass
class Fatal:
    """Any rank to master: an error in the runtime itself; abort the job."""

    message: str


@dataclass
class Hello:
    """Worker to master at start: the worker is ready (host name for reports)."""

    host: str
