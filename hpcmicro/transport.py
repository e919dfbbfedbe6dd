"""Point-to-point messaging: the only module that imports mpi4py.

Two transports share one small interface (``rank``, ``size``, ``send``,
``recv``, ``bcast``, ``abort``):

* :class:`MPITransport` over a communicator.  Sends are non-blocking
  (``isend``), so two ranks sending to each other can never deadlock, and
  receives poll with ``improbe`` plus a sleep that backs off, because MPICH's
  blocking receive spins and would burn a core that a worker needs.
* :class:`LocalTransport`, a set of in-process mailboxes, so the master and
  workers run as threads of one process: for ``-n 1``, plain ``hpcmicro run``,
  and unit tests of the whole protocol without ``mpiexec``.
"""

from __future__ import annotations

import os
import pickle
import queue
import select
import sys
import time
from typing import Any

#: Launcher variables that say "this process was started by an MPI launcher".
MPI_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "PMI_FD", "PMIX_RANK",
                     "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "HYDRA_CONTROL_FD")

#: Polling back-off while waiting for a message (seconds).  The interval drops
#: to the minimum whenever a message is sent or received, so a busy exchange
#: stays fast, and doubles while nothing arrives, up to the cap, which keeps an
#: idle rank well under 5% of a core (one improbe + wake-up costs ~10 us).
POLL_MIN = 20e-6
POLL_MAX = 2e-3
#: Seconds between flushing a dying rank's output and MPI_Abort (see ``abort``).
ABORT_GRACE = 0.5


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def under_mpi_launcher(environ=os.environ) -> bool:
    """True when an MPI launcher (mpiexec, srun --mpi=...) started this process."""
    return any(v in environ for v in MPI_LAUNCHER_VARS)


class MPITransport:
    """Messaging over an mpi4py communicator (``COMM_WORLD`` by default)."""

    kind = "mpi"

    def __init__(self, comm=None):
        from mpi4py import MPI
        self.MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self._pending: list = []
        self._status = MPI.Status()
        self.poll_min, self.poll_max = POLL_MIN, POLL_MAX
        self.bytes_in = 0           # payload bytes received (from the probes' status)
        self.bytes_out = 0          # payload bytes sent, counted only if count_out
        self.count_out = False
        self._delay = POLL_MIN      # current poll interval; grows while nothing arrives

    def send(self, dest: int, msg: Any) -> None:
        """Send ``msg`` to ``dest`` without blocking (a reply is likely: poll fast)."""
        self._delay = self.poll_min
        if self.count_out:          # the master's few messages: pickling twice is cheap
            self.bytes_out += len(pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL))
        self._pending.append(self.comm.isend(msg, dest=dest, tag=1))
        if len(self._pending) > 64:
            self._reap()

    def _reap(self) -> None:
        self._pending = [r for r in self._pending if not r.Test()]

    def recv(self, timeout: float = 0.0, wake: int | None = None):
        """Return ``(source, msg)``, or None if nothing arrives within ``timeout``.

        ``wake`` is the read end of a pipe: a byte written to it by another
        thread ends the wait at once (the sleep is a ``select`` on it).
        """
        deadline = time.monotonic() + timeout
        status = self._status
        while True:
            m = self.comm.improbe(source=self.MPI.ANY_SOURCE, tag=1, status=status)
            if m is not None:
                self._delay = self.poll_min
                self.bytes_in += status.Get_count(self.MPI.BYTE)
                return status.Get_source(), m.recv()
            if self._pending:
                self._reap()
            now = time.monotonic()
            if now >= deadline:
                return None
            pause = min(self._delay, deadline - now)
            if wake is None:
                time.sleep(pause)
            elif select.select([wake], [], [], pause)[0]:
                _drain(wake)
                self._delay = self.poll_min
                return None
            self._delay = min(self._delay * 2, self.poll_max)

    def set_poll(self, lo: float, hi: float) -> None:
        """Set the polling back-off range (seconds) of :meth:`recv`."""
        self.poll_min, self.poll_max = lo, hi
        self._delay = lo

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait (polling, not spinning) until every send has completed."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            self._reap()
            time.sleep(POLL_MIN * 10)
        return not self._pending

    def bcast(self, obj: Any, root: int = 0) -> Any:
        """Broadcast ``obj`` from ``root`` (at start-up), waiting without spinning.

        MPICH's blocking broadcast spins: ranks that wait in it while the
        root reads its input would burn the cores the root needs.  So every
        rank first enters a non-blocking barrier and polls it with the
        back-off sleep of :meth:`recv`; once it completes, the root has
        reached the broadcast, which then finishes at once.
        """
        req = self.comm.Ibarrier()
        delay = self.poll_min
        while not req.Test():
            time.sleep(delay)
            delay = min(delay * 2, self.poll_max)
        return self.comm.bcast(obj, root=root)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Quiesce before MPI_Finalize, receiving and dropping late messages
        (stale steal requests, halos sent ahead) all along, and never spinning.

        First this rank's own sends complete: a large one completes only once
        its receiver takes it, so two ranks that each waited for the other
        without receiving (a plain :meth:`flush`) would wait for ever.  Then a
        non-blocking barrier: once every rank is in it, every send has been
        taken, and no rank finalizes with unmatched messages.
        """
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            self.recv(timeout=POLL_MAX)          # reaps our sends as it waits
        req = self.comm.Ibarrier()
        while not req.Test():
            if time.monotonic() > deadline:
                return
            if self.recv(timeout=POLL_MAX) is None:
                continue
        while self.recv(timeout=0.01) is not None:
            pass

    def abort(self, code: int) -> None:
        """Kill every rank of the job (for runtime errors, never a hang)."""
        sys.stdout.flush()
        sys.stderr.flush()
        # The message just written sits in the pipe to MPICH's process manager,
        # which kills the job on Abort and may exit before forwarding it (CI
        # once saw a run fail with an empty stderr): give it a moment first.
        time.sleep(ABORT_GRACE)
        self.comm.Abort(code)

    def library(self) -> str:
        """The MPI library's version string (first line)."""
        return self.MPI.Get_library_version().strip().splitlines()[0]

    def processor_name(self) -> str:
        """This rank's host name as MPI reports it."""
        return self.MPI.Get_processor_name()


class LocalTransport:
    """In-process mailboxes; ``LocalTransport.group(n)`` makes ``n`` endpoints."""

    kind = "local"

    def __init__(self, rank: int, boxes: list):
        self.rank = rank
        self.size = len(boxes)
        self._boxes = boxes

    @classmethod
    def group(cls, n: int) -> list["LocalTransport"]:
        """Endpoints for ranks ``0 .. n-1`` that can message each other."""
        boxes = [queue.SimpleQueue() for _ in range(n)]
        return [cls(r, boxes) for r in range(n)]

    bytes_in = bytes_out = 0        # nothing is serialised in-process
    count_out = False

    def send(self, dest: int, msg: Any) -> None:
        """Deliver ``msg`` to ``dest``'s mailbox."""
        self._boxes[dest].put((self.rank, msg))

    def recv(self, timeout: float = 0.0, wake: int | None = None):
        """Return ``(source, msg)`` or None after ``timeout`` seconds (``wake`` unused)."""
        try:
            if timeout <= 0:
                return self._boxes[self.rank].get_nowait()
            return self._boxes[self.rank].get(timeout=timeout)
        except queue.Empty:
            return None

    def flush(self, timeout: float = 0.0) -> bool:
        """Local sends complete at once."""
        return True

    def shutdown(self, timeout: float = 0.0) -> None:
        """Nothing to quiesce in-process."""

    def set_poll(self, lo: float, hi: float) -> None:
        """In-process receives block on a queue; nothing to tune."""

    def bcast(self, obj: Any, root: int = 0) -> Any:
        """Nothing to broadcast within one process."""
        return obj

    def abort(self, code: int) -> None:
        """End the whole process: every 'rank' lives in it."""
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    def library(self) -> str:
        """No MPI library is used by the in-process transport."""
        return "none (in-process)"

    def processor_name(self) -> str:
        """The host name."""
        return os.uname().nodename
