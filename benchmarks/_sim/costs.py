"""The simulator's cost model, measured on this machine.

Notes
-----
Two measurements feed :class:`CostModel`:

1. :func:`measure_mpi` launches ``_sim/mpi_probe.py`` on 2 ranks with the
   ``mpiexec`` next to ``sys.executable``: one-way latency of a small message,
   bandwidth, the receiver's cost per ``Results`` message (improbe + recv +
   unpickle) and the sender's cost per ``Assign`` (isend + pickle), as
   functions of the number of tasks k a message carries.
2. :func:`measure_master` times (CPU seconds, the best of a few repeats)
   hpcmicro's real :meth:`Master._handle` on a
   real :class:`ResultStore` (a temporary HDF5 file): ``Results`` of k tasks
   (``record_done`` + ``policy.on_results``), ``MoreWork`` (the policy's
   ``on_more_work``; the reply's isend is charged from the probe), and
   :meth:`ResultStore.commit` as a function of the dirty 4096-task blocks.

Every per-message cost is fitted as ``a + b * k`` by least squares.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
#: Bytes per task of a message carrying ids and costs (int64 + float64).
BYTES_ASSIGN = 16
#: Bytes per task of a Results message (id, start, stop, stolen, 2 float fields).
BYTES_RESULT = 41


@dataclass(frozen=True)
class CostModel:
    """Seconds per event; ``*0`` per message, ``*1`` per task in the message."""

    latency: float            # one-way, small message
    bandwidth: float          # bytes/s beyond the latency
    recv0: float              # master intake per message (improbe + recv + unpickle)
    recv1: float
    send0: float              # sender per message (pickle + isend)
    send1: float
    results0: float           # Master._handle(Results): record_done + on_results
    results1: float
    request: float            # Master._handle(MoreWork) without the reply's isend
    commit0: float            # ResultStore.commit: fixed part, per task of the job
    commit_block: float       # ... per dirty 4096-task block
    write0: float = 0.0       # one h5py slice write: fixed part (for coalesced commits)
    write1: float = 0.0       # ... per task (all 8 per-task datasets together)
    source: str = ""

    def results_cost(self, k: int) -> float:
        """Master CPU for one Results message of k tasks."""
        return self.recv0 + self.results0 + (self.recv1 + self.results1) * k

    def recv_cost(self, k: int) -> float:
        """Intake of a message of k tasks (a sub-master that only aggregates)."""
        return self.recv0 + self.recv1 * k

    def send_cost(self, k: int) -> float:
        """Sender CPU for a message carrying k task ids."""
        return self.send0 + self.send1 * k

    def transfer(self, nbytes: int) -> float:
        """Time from send to arrival of a message of ``nbytes`` payload."""
        return self.latency + nbytes / self.bandwidth

    def commit_cost(self, n_tasks: int, blocks: int, runs: int | None = None) -> float:
        """One commit of ``blocks`` dirty blocks in a job of ``n_tasks``.

        With ``runs`` (the number of contiguous runs of dirty blocks), the
        cost of the proposed coalesced commit: 8 slice writes per run (one per
        per-task dataset) plus the bytes, instead of 8 writes per block.
        """
        if runs is None:
            return self.commit0 * n_tasks + self.commit_block * blocks
        return self.commit0 * n_tasks + 8 * self.write0 * runs + self.write1 * 4096 * blocks

    def with_overrides(self, latency=None, msg_cost=None) -> "CostModel":
        """Command-line overrides: latency, and the master's fixed cost per message."""
        c, notes = self, []
        if latency is not None:
            c = replace(c, latency=latency)
            notes.append(f"latency {latency:g} s")
        if msg_cost is not None:
            c = replace(c, recv0=msg_cost, results0=0.0, request=0.0, send0=msg_cost)
            notes.append(f"fixed per-message cost {msg_cost:g} s")
        if notes:
            c = replace(c, source=c.source + "; overridden on the command line: " + ", ".join(notes))
        return c

    def to_json(self) -> dict:
        return asdict(self)


def zero_costs() -> CostModel:
    """No latency, no master cost: the ideal machine."""
    return CostModel(latency=0.0, bandwidth=float("inf"), recv0=0.0, recv1=0.0, send0=0.0,
                     send1=0.0, results0=0.0, results1=0.0, request=0.0, commit0=0.0,
                     commit_block=0.0, source="zero (ideal machine)")


def fit(points: dict) -> tuple[float, float]:
    """Least-squares ``a + b*k`` through {k: seconds}, with a, b >= 0."""
    k = np.array([float(x) for x in points])
    t = np.array(list(points.values()), dtype=float)
    b, a = np.polyfit(k, t, 1)
    b = max(b, 0.0)
    a = max(float(np.min(t - b * k)) if a < 0 else a, 0.0)
    return float(a), float(b)


def find_mpiexec() -> str:
    here = Path(sys.executable).parent / "mpiexec"
    if here.exists():
        return str(here)
    from hpcmicro.cli import find_mpiexec as f
    return f()


def measure_mpi(timeout: float = 120.0, quick: bool = False) -> dict:
    """Run the 2-rank probe; returns its JSON (see ``mpi_probe.py``)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "probe.json"
        env = dict(os.environ)
        root = str(HERE.parents[1])
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        subprocess.run([find_mpiexec(), "-n", "2", sys.executable, str(HERE / "mpi_probe.py"),
                        str(out), "quick" if quick else "full"], check=True, timeout=timeout, env=env,
                       stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


class _NullTransport:
    rank, size = 0, 2

    def send(self, dest, msg):      # the reply's isend is charged from the MPI probe
        pass


def _results(k: int, n: int, rng) -> object:
    from hpcmicro import messages as m
    ids = rng.choice(n, k, replace=False)
    return m.Results(ids=ids, start=rng.random(k), stop=rng.random(k),
                     stolen=np.zeros(k, np.uint8),
                     values={"duration": rng.random(k), "planned": rng.random(k)}, busy=0.01 * k)


def _best(fn, reps: int) -> float:
    out = []
    for _ in range(reps):
        t = time.process_time()
        fn()
        out.append(time.process_time() - t)
    return min(out)


def measure_master(n: int = 1_000_000, reps: int = 5) -> dict:
    """Time hpcmicro's real Master._handle and ResultStore.commit (see module Notes)."""
    from hpcmicro import messages as m
    from hpcmicro.master import Master
    from hpcmicro.scheduling import DynamicMaster
    from hpcmicro.store import BLOCK, ResultStore
    wl = SimpleNamespace(name="synthetic", prepare_output=lambda g: None,
                         result_fields=lambda: {"duration": ((), "f8"), "planned": ((), "f8")})
    rng = np.random.default_rng(0)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = ResultStore.create(Path(tmp) / "m.h5", workload=wl, n_tasks=n, attrs={})
        pol = DynamicMaster(list(range(1, 65)))
        pol.initial(np.arange(n), rng.random(n))
        ms = Master(_NullTransport(), pol, store, np.ones(n))
        ms.left, ms.n_done, ms.n_failed = n, 0, 0
        res = {}
        for k in (1, 64, 1024, 4096):
            msgs = [_results(k, n, rng) for _ in range(reps * 20)]
            it = iter(msgs)
            res[k] = _best(lambda: [ms._handle(1, next(it)) for _ in range(20)], reps) / 20
            store.tasks["status"][:] = 0
            store.dirty[:] = False
        out["results"] = res
        out["request"] = _best(lambda: [ms._handle(1, m.MoreWork(1)) for _ in range(200)],
                               reps) / 200
        com = {}
        for b in (1, 16, min(128, n // BLOCK)):
            def one():
                ids = (rng.choice(n // BLOCK, b, replace=False) * BLOCK)
                store.record_done(ids, 1, np.zeros(b), np.zeros(b), np.zeros(b, np.uint8),
                                  {"duration": np.zeros(b), "planned": np.zeros(b)})
                store.commit()
            com[b] = _best(one, reps)
        out["commit"] = com
        out["commit_n"] = n
        ds = store.group["duration"]
        arr = np.zeros(n)
        wr = {}
        for k in (BLOCK, 64 * BLOCK):
            wr[k] = _best(lambda: ds.__setitem__(slice(0, k), arr[:k]), reps)
        out["write"] = wr
        store.h5.close()
    return out


def measure(quick: bool = False) -> CostModel:
    """Measure everything on this machine (about 30 s; 10 s quick) and fit the model."""
    load = os.getloadavg()[0]
    mpi = measure_mpi(quick=quick)
    hm = measure_master(200_000 if quick else 1_000_000, reps=2 if quick else 5)
    recv0, recv1 = fit({int(k): v for k, v in mpi["recv"].items()})
    send0, send1 = fit({int(k): v for k, v in mpi["send"].items()})
    res0, res1 = fit(hm["results"])
    cb0, cb1 = fit(hm["commit"])
    w0, w1 = fit(hm["write"])
    src = (f"measured on {os.uname().nodename} ({os.cpu_count()} cores, load average "
           f"{load:.1f} at the start), {mpi['mpi_library']}, intra-node shared memory")
    return CostModel(latency=mpi["latency"], bandwidth=mpi["bandwidth"], recv0=recv0,
                     recv1=recv1, send0=send0, send1=send1, results0=res0, results1=res1,
                     request=hm["request"], commit0=cb0 / hm["commit_n"], commit_block=cb1,
                     write0=w0, write1=w1 * 41 / 8, source=src)
