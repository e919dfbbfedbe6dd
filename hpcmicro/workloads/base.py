"""The contract between the runtime and a workload.

A workload is one file that subclasses :class:`Workload`.  The runtime calls
it in this order::

    # rank 0 (the master), once
    wl = MyWorkload(params, job)          # params: an instance of MyWorkload.Params
    costs = wl.make_tasks()               # float64 array, one estimated cost per task id
    fields = wl.result_fields()           # per-task result datasets
    wl.prepare_output(h5group)            # optional: extra datasets/attributes
    ...
    wl.finalize(h5group, done)            # optional: when every task has finished

    # every worker rank, once
    wl = MyWorkload(params, job)
    wl.setup_worker()                     # e.g. read the database once
    result = wl.run_task(task_id)         # many times; returns {field: value}

    # round-based workloads (resident = True) instead
    wl.needs(j)                           # keys of the pieces item j's tasks wait for
    inputs = wl.initial_inputs(r, items)  # once: {j: input} of the first round
    result, pieces = wl.run_resident(task_id, inputs)   # pieces: [(item, key, piece)]

Task ids are ``0 .. n_tasks-1``.  Results are stored under the HDF5 group
named after the workload, one dataset per entry of :meth:`result_fields`,
indexed by task id, so writing the same task twice gives the same file.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Collection, Mapping

import numpy as np


def option(default: Any, *, help: str, choices: tuple | None = None,
           min: float | None = None, max: float | None = None,
           min_exclusive: bool = False, also: tuple = ()) -> Any:
    """Declare one job-file parameter of a workload's ``Params`` dataclass.

    Parameters
    ----------
    default
        The value used when the job file leaves the key out.
    help
        One line for error messages and ``hpcmicro info``.
    choices
        The allowed values, if the parameter is an enumeration.
    min, max
        Numeric bounds, inclusive unless ``min_exclusive``.
    also
        Literal values accepted besides the default's type (e.g. ``("none",)``).
    """
    meta = {"help": help, "choices": choices, "min": min, "max": max,
            "min_exclusive": min_exclusive, "also": also}
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: default, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class NoParams:
    """A workload without parameters."""


class Workload:
    """Base class of all workloads.

    Subclasses set :attr:`name` (also the HDF5 group and the job-file table)
    and :attr:`Params`, a frozen dataclass whose fields are declared with
    :func:`option`.  Cross-field checks go in :meth:`check`, which raises
    :class:`hpcmicro.errors.ConfigError` naming the key at fault.
    """

    name: ClassVar[str] = "workload"
    Params: ClassVar[type] = NoParams

    def __init__(self, params: Any, job: Any):
        self.params = params
        self.job = job

    # -- validation -------------------------------------------------------
    def check(self) -> None:
        """Raise ConfigError for parameter combinations that cannot run."""

    # -- master side ------------------------------------------------------
    def make_tasks(self) -> np.ndarray:
        """Return the estimated cost of every task, indexed by task id."""
        raise NotImplementedError

    def result_fields(self) -> Mapping[str, tuple[tuple[int, ...], str]]:
        """Return ``{name: (shape_per_task, dtype)}`` of the per-task results."""
        return {}

    def prepare_output(self, group) -> None:
        """Create extra datasets or attributes in the workload's group."""

    def finalize(self, group, done: np.ndarray) -> None:
        """Aggregate once every task has finished (``done`` is a bool mask)."""

    def store_extras(self, group, task_id: int, extras: Mapping[str, Any]) -> None:
        """Write results that are not per-task fields (e.g. map tiles) at once.

        Called on the master when a result arrives, before its done mark is
        committed; writing the same task twice must give the same file.
        """

    # -- rounds (optional) ---------------------------------------------------
    #: True: tasks run in rounds and keep data resident on workers.  Task
    #: ``r * P + j`` advances item ``j`` in round ``r`` (``P = n_tasks //
    #: rounds()``).  The worker that runs it keeps the item (owner computes);
    #: only the *pieces* that :meth:`run_resident` returns move between ranks,
    #: and a whole item moves only when it is stolen or placed elsewhere.
    #: There is no barrier between rounds: a task runs once its pieces are in
    #: (see :mod:`hpcmicro.dataflow`).  Costs are estimated seconds; from the
    #: second round on, the seconds the item's last task took.
    resident: ClassVar[bool] = False

    def rounds(self) -> int:
        """Number of rounds (1: all tasks are independent)."""
        return 1

    def first_round(self, group, status: np.ndarray) -> int:
        """On resume, the round to restart from (tasks of later rounds rerun)."""
        return 0

    def end_round(self, group, r: int) -> None:
        """Master: every task of round ``r`` is done (e.g. write a checkpoint)."""

    def needs(self, j: int) -> Collection:
        """Worker: the keys of the pieces a task of item ``j`` waits for (round
        ``r - 1``'s outputs of ``j`` and its neighbours)."""
        raise NotImplementedError

    def initial_inputs(self, r: int, items: list) -> dict:
        """Worker: ``{j: input}``, the whole input of each of ``items`` in round
        ``r``, the first round of this run, from the initial state or the
        checkpoint (called once per run)."""
        raise NotImplementedError

    def run_resident(self, task_id: int, inputs: dict) -> tuple[Mapping[str, Any], list]:
        """Worker: run a resident task on ``inputs`` (``{key: piece}``, or
        ``{"initial": input}``).  Return its result (as :meth:`run_task`) and
        the pieces of the next round, a list of ``(item, key, piece)``; an
        empty list after the last round."""
        raise NotImplementedError

    # -- worker side ------------------------------------------------------
    def prepare_worker(self) -> None:
        """Load what does not depend on the output file (inputs, compiled kernels).

        Called once per worker, in a background thread from the moment the job's
        configuration is known, while rank 0 is still reading its input and
        creating the output; :meth:`setup_worker` follows once the job starts.
        An error raised here aborts the job like one from :meth:`setup_worker`.
        """

    def setup_worker(self) -> None:
        """Load what every task on this rank needs (called once per rank)."""

    def run_task(self, task_id: int) -> Mapping[str, Any]:
        """Run one task and return ``{field: value}`` for :meth:`result_fields`."""
        raise NotImplementedError
