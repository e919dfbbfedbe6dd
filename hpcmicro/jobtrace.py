"""The job record of an output file, and the metrics computed from it.

Reads the root attributes and ``/tasks`` of any output (:func:`open_output`,
:func:`read_trace`) and derives what :mod:`hpcmicro.report` prints and
:mod:`hpcmicro.report_plots` draws: per-worker busy/overhead/idle time,
makespan efficiency, utilisation over time, and summaries of the weather and
align results.  It never writes.

Notes
-----
Times in ``/tasks`` are seconds since the job began (a resumed job continues
the clock).  For every worker the *job span* ``[T0, T1]`` runs from the first
task start to the last task stop of the whole job; inside it each worker's
time is split into

* **busy**: inside one of its tasks (the union of its task intervals);
* **overhead**: gaps between two consecutive tasks of the worker shorter
  than a threshold (:data:`GAP_THRESHOLD_S`, ``--gap-ms``): the cost of
  handing over results and fetching the next task;
* **idle**: longer gaps between consecutive tasks, and the time before the
  worker's first task and after its last one (waiting for work, halos or
  the end of the job).

The makespan efficiency is ``(sum of task durations / W) / (T1 - T0)`` with
``W`` the number of workers; its ideal bound for this set of tasks is
``(sum / W) / max(sum / W, longest task)``: no schedule can finish before
its longest task does.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np

from .errors import HpcmicroError
from .store import DONE, FAILED, PENDING, TASK_FIELDS

#: Gaps between consecutive tasks on a worker shorter than this count as
#: scheduling overhead, longer ones as idle.  One millisecond is well above
#: the in-memory hand-over between queued tasks (microseconds) and a
#: master-worker round trip on one node (about 0.1 ms), and well below the
#: waits that mean "no work to do" (a steal back-off of 0.5-5 ms, a round
#: waiting for its halos, a static partition that ran dry).
GAP_THRESHOLD_S = 1e-3
#: Queries and hits per query listed in the align summary table.
TOP_QUERIES, TOP_HITS = 20, 3
#: At most this many output times are drawn as maps (evenly spaced).
MAX_MAPS = 12


@dataclasses.dataclass
class JobTrace:
    """The job record of an output file: root attributes and ``/tasks``.

    Attributes
    ----------
    path : pathlib.Path
        The output file.
    attrs : dict
        Root attributes (strings decoded).
    status, worker, start, stop, attempts, stolen : numpy.ndarray
        ``/tasks`` datasets, indexed by task id.
    errors : dict
        Task id -> error text, for failed tasks.
    """

    path: Path
    attrs: dict
    status: np.ndarray
    worker: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    attempts: np.ndarray
    stolen: np.ndarray
    errors: dict

    @property
    def workload(self) -> str:
        """Name of the workload (the HDF5 group of its results)."""
        return str(self.attrs.get("workload", "?"))

    @property
    def n_workers(self) -> int:
        """Workers of the (last) run: the ``n_workers`` attribute, else the ranks seen."""
        n = int(self.attrs.get("n_workers", 0) or 0)
        return max(n, len(self.workers))

    @property
    def ran(self) -> np.ndarray:
        """Mask of tasks with a recorded final run (done or failed)."""
        return (self.worker >= 0) & (self.status != PENDING)

    @property
    def workers(self) -> np.ndarray:
        """Ranks that worked, with the ranks ``1..n_workers`` of the last run."""
        seen = np.unique(self.worker[self.worker >= 0])
        n = int(self.attrs.get("n_workers", 0) or 0)
        return np.union1d(seen, np.arange(1, n + 1)).astype(int)


def _text(v: Any) -> str:
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def open_output(path):
    """Open an hpcmicro output read-only, with a clear error if it is not one.

    Parameters
    ----------
    path : str or pathlib.Path
        The HDF5 output file of a job.

    Returns
    -------
    h5py.File
        Opened without HDF5's file lock (a running job can be read).

    Raises
    ------
    HpcmicroError
        The file does not exist, is not HDF5, or is not an hpcmicro output.
    """
    import h5py
    p = Path(path)
    if not p.exists():
        raise HpcmicroError(f"cannot report on {p}: no such file")
    if p.is_dir():
        raise HpcmicroError(f"cannot report on {p}: it is a directory; give an output .h5 file")
    try:
        f = h5py.File(p, "r", locking=False)
    except OSError as e:
        raise HpcmicroError(f"cannot report on {p}: it is not a readable HDF5 file ({e}); "
                            "give the output file of an hpcmicro job") from None
    missing = [k for k in ("workload", "status") if k not in f.attrs]
    if "tasks" not in f or not isinstance(f["tasks"], h5py.Group):
        missing.append("/tasks")
    else:
        missing += [f"/tasks/{k}" for k in TASK_FIELDS if k not in f["tasks"]]
    if missing:
        f.close()
        raise HpcmicroError(f"cannot report on {p}: it is an HDF5 file but not an hpcmicro "
                            f"output (missing {', '.join(missing)})")
    return f


def read_trace(f, path) -> JobTrace:
    """Read the job record from an open output file.

    Parameters
    ----------
    f : h5py.File
        From :func:`open_output`.
    path : str or pathlib.Path
        Its path (for messages).

    Returns
    -------
    JobTrace
    """
    t = f["tasks"]
    try:
        cols = {k: t[k][...] for k in TASK_FIELDS}
    except (OSError, KeyError) as e:
        raise HpcmicroError(f"cannot report on {path}: /tasks is damaged ({e})") from None
    n = len(cols["status"])
    if any(len(v) != n for v in cols.values()):
        raise HpcmicroError(f"cannot report on {path}: the /tasks datasets differ in length")
    errors = {}
    bad = np.flatnonzero(cols["status"] == FAILED)
    if len(bad) and "error" in t:
        for tid in bad[:1000]:
            try:
                errors[int(tid)] = _text(t["error"][tid])
            except (OSError, ValueError) as e:    # a damaged heap: say so, go on
                errors[int(tid)] = f"(error text unreadable: {e})"
    attrs = {k: (_text(v) if isinstance(v, (bytes, str)) else v) for k, v in f.attrs.items()}
    return JobTrace(Path(path), attrs, cols["status"], cols["worker"].astype(np.int64),
                    cols["start"].astype(np.float64), cols["stop"].astype(np.float64),
                    cols["attempts"], cols["stolen"].astype(bool), errors)


# -- job metrics --------------------------------------------------------------
def merged_intervals(start: np.ndarray, stop: np.ndarray,
                     gap: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Union of intervals ``[start, stop]`` as sorted, disjoint intervals.

    Parameters
    ----------
    start, stop : numpy.ndarray
        Interval ends (any order; ``stop >= start``).
    gap : float
        Also merge intervals separated by less than this (0: only overlaps
        and touching intervals).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Starts and stops of the merged intervals, sorted.
    """
    if len(start) == 0:
        return np.empty(0), np.empty(0)
    order = np.argsort(start, kind="stable")
    s, e = start[order], np.maximum.accumulate(stop[order])
    new = np.ones(len(s), bool)
    new[1:] = (s[1:] - e[:-1] >= gap) if gap > 0 else (s[1:] > e[:-1])
    first = np.flatnonzero(new)
    last = np.r_[first[1:] - 1, len(s) - 1]
    return s[first], e[last]


@dataclasses.dataclass
class WorkerTimes:
    """Per-worker time split over the job span (see the module Notes).

    Attributes
    ----------
    ranks : numpy.ndarray
        Worker ranks.
    busy, overhead, idle : numpy.ndarray
        Seconds per worker; they add up to the job span.
    tasks, stolen : numpy.ndarray
        Tasks run and tasks stolen per worker.
    span : tuple of float
        ``(T0, T1)``, first task start and last task stop of the job.
    threshold : float
        The overhead/idle gap threshold in seconds.
    """

    ranks: np.ndarray
    busy: np.ndarray
    overhead: np.ndarray
    idle: np.ndarray
    tasks: np.ndarray
    stolen: np.ndarray
    span: tuple
    threshold: float


def worker_times(trace: JobTrace, threshold: float = GAP_THRESHOLD_S) -> WorkerTimes:
    """Split each worker's time in the job span into busy, overhead and idle.

    Parameters
    ----------
    trace : JobTrace
        The job record.
    threshold : float
        Gaps between consecutive tasks shorter than this (seconds) are
        overhead; longer gaps, and the time before the first and after the
        last task, are idle.

    Returns
    -------
    WorkerTimes
    """
    ran = trace.ran
    ranks = trace.workers
    k = len(ranks)
    busy, over, idle = np.zeros(k), np.zeros(k), np.zeros(k)
    ntask, nstolen = np.zeros(k, int), np.zeros(k, int)
    if not ran.any():
        return WorkerTimes(ranks, busy, over, idle, ntask, nstolen, (0.0, 0.0), threshold)
    t0, t1 = float(trace.start[ran].min()), float(trace.stop[ran].max())
    for i, r in enumerate(ranks):
        m = ran & (trace.worker == r)
        ntask[i], nstolen[i] = int(m.sum()), int((trace.stolen & m).sum())
        s, e = merged_intervals(trace.start[m], trace.stop[m])
        if not len(s):
            idle[i] = t1 - t0
            continue
        busy[i] = float((e - s).sum())
        gaps = s[1:] - e[:-1]
        over[i] = float(gaps[gaps < threshold].sum())
        idle[i] = float(gaps[gaps >= threshold].sum()) + (s[0] - t0) + (t1 - e[-1])
    return WorkerTimes(ranks, busy, over, idle, ntask, nstolen, (t0, t1), threshold)


def efficiency(trace: JobTrace) -> dict:
    """Makespan efficiency of the job and its ideal bound.

    Parameters
    ----------
    trace : JobTrace
        The job record.

    Returns
    -------
    dict
        ``work`` (sum of task durations, s), ``workers`` (W), ``span``
        (last stop - first start, s), ``longest`` (s), ``efficiency``
        (work / W / span), ``bound`` ((work / W) / max(work / W, longest)),
        ``of_bound`` (efficiency / bound) and ``wall_efficiency`` (work / W
        over the wall time, start-up included); NaN where undefined.
    """
    ran = trace.ran
    d = (trace.stop - trace.start)[ran]
    w = trace.n_workers
    out = {"work": float(d.sum()), "workers": w, "tasks": int(ran.sum()),
           "longest": float(d.max()) if len(d) else math.nan,
           "span": math.nan, "efficiency": math.nan, "bound": math.nan,
           "of_bound": math.nan, "wall_efficiency": math.nan,
           "first_start": math.nan, "last_stop": math.nan}
    if not len(d) or w < 1:
        return out
    out["first_start"] = float(trace.start[ran].min())
    out["last_stop"] = float(trace.stop[ran].max())
    span = out["last_stop"] - out["first_start"]
    per = out["work"] / w
    out["span"] = span
    if span > 0:
        out["efficiency"] = per / span
    if max(per, out["longest"]) > 0:
        out["bound"] = per / max(per, out["longest"])
    if out["bound"] > 0:
        out["of_bound"] = out["efficiency"] / out["bound"]
    wall = float(trace.attrs.get("wall_seconds", 0.0) or 0.0)
    if wall > 0:
        out["wall_efficiency"] = per / wall
    return out


def utilisation(trace: JobTrace, bins: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of workers busy, averaged exactly over time bins.

    Parameters
    ----------
    trace : JobTrace
        The job record.
    bins : int
        Number of equal bins over the job span.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Bin edges (s, ``bins + 1``) and the busy fraction in each bin.
    """
    ran = trace.ran
    if not ran.any():
        return np.zeros(2), np.zeros(1)
    starts, stops = [], []
    for r in trace.workers:           # per-worker union: a worker counts once
        m = ran & (trace.worker == r)
        s, e = merged_intervals(trace.start[m], trace.stop[m])
        starts.append(s)
        stops.append(e)
    s, e = np.concatenate(starts), np.concatenate(stops)
    t = np.concatenate([s, e])
    step = np.concatenate([np.ones(len(s)), -np.ones(len(e))])
    order = np.argsort(t, kind="stable")
    t, busy = t[order], np.cumsum(step[order])
    # B(t): busy worker-seconds up to t, piecewise linear between events.
    cum = np.concatenate([[0.0], np.cumsum(busy[:-1] * np.diff(t))])
    edges = np.linspace(t[0], t[-1], bins + 1)
    if t[-1] <= t[0]:
        return edges, np.zeros(bins)
    b = np.interp(edges, t, cum)
    return edges, np.diff(b) / np.diff(edges) / trace.n_workers


def counts(trace: JobTrace) -> dict:
    """Numbers of tasks done, failed and pending (of ``n``)."""
    s = trace.status
    return {"n": len(s), "done": int((s == DONE).sum()), "failed": int((s == FAILED).sum()),
            "pending": int((s == PENDING).sum())}


# -- weather --------------------------------------------------------------------
def vorticity(u: np.ndarray, v: np.ndarray, dx: float, dy: float, walls: bool) -> np.ndarray:
    """Relative vorticity at the cell corners of the C-grid.

    Parameters
    ----------
    u, v : numpy.ndarray
        ``(ny, nx)``: ``u[j, i]`` on west faces, ``v[j, i]`` on south faces.
    dx, dy : float
        Cell size (m).
    walls : bool
        A channel with walls in y: the wall row (``j = 0``) is NaN.

    Returns
    -------
    numpy.ndarray
        ``zeta[j, i] = (v[j, i] - v[j, i-1]) / dx - (u[j, i] - u[j-1, i]) / dy``
        at the south-west corner ``(i dx, j dy)`` (s-1), periodic wrap, as in
        the model's diagnostics.
    """
    zeta = (v - np.roll(v, 1, axis=1)) / dx - (u - np.roll(u, 1, axis=0)) / dy
    if walls:
        zeta[0] = np.nan
    return zeta


def tile_summary(f, trace: JobTrace) -> dict | None:
    """Per-tile cost, compute time and worker of a weather output.

    Parameters
    ----------
    f : h5py.File
        The output file.
    trace : JobTrace
        Its job record.

    Returns
    -------
    dict or None
        ``grid`` (:class:`~hpcmicro.kernels.tiling.TileGrid`), ``cost`` and
        ``seconds`` (per tile, summed over finished rounds), ``worker`` (per
        tile, in round ``round``), ``rounds_done``, ``rounds``; None if the
        layout cannot be rebuilt.
    """
    from .kernels.tiling import TileGrid
    g = f["weather"]
    ny, nx = g["h"].shape[1:]
    tile = int(g.attrs.get("tile", 0) or 0)
    if tile < 1:
        return None
    grid = TileGrid.build(ny, nx, tile)
    n = len(trace.status)
    if n % grid.n_tiles:
        return None
    rounds = n // grid.n_tiles
    done = (trace.status == DONE).reshape(rounds, grid.n_tiles)
    cost = np.where(done, g["cost"][...].reshape(rounds, grid.n_tiles), 0).sum(axis=0)
    secs = np.where(done, (trace.stop - trace.start).reshape(rounds, grid.n_tiles), 0.0)
    full = np.flatnonzero(done.all(axis=1))
    anyd = np.flatnonzero(done.any(axis=1))
    r = int(full[-1]) if len(full) else (int(anyd[-1]) if len(anyd) else -1)
    worker = (trace.worker.reshape(rounds, grid.n_tiles)[r].astype(float) if r >= 0
              else np.full(grid.n_tiles, np.nan))
    if r >= 0:
        worker[~done[r]] = np.nan
    return {"grid": grid, "cost": cost.astype(float), "seconds": secs.sum(axis=0),
            "worker": worker, "round": r, "rounds": rounds,
            "rounds_done": int(done.all(axis=1).sum())}


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell (sequence ids contain '|')."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|")


# -- align ----------------------------------------------------------------------
def top_hits_table(g, n_queries: int = TOP_QUERIES, per_query: int = TOP_HITS) -> list[str]:
    """Markdown table of the best hits of the first queries of an align output.

    Parameters
    ----------
    g : h5py.Group
        The ``/align`` group with its hits table.
    n_queries, per_query : int
        How many queries (in file order) and hits per query.

    Returns
    -------
    list of str
        Markdown lines.
    """
    qn = [_text(s) for s in g["query_names"][...]]
    tn = g["target_names"]
    q, t = g["query"][...], g["target"][...]
    cols = {k: g[k][...] for k in ("score", "bitscore", "evalue", "pident", "length")}
    lines = ["| query | rank | target | score | bit score | E-value | identity (%) | length |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for qi in range(min(n_queries, len(qn))):
        rows = np.flatnonzero(q == qi)[:per_query]
        if not len(rows):
            lines.append(f"| {_md(qn[qi])} | - | (no hit with a positive score) | | | | | |")
        for rank, r in enumerate(rows, 1):
            e, b = cols["evalue"][r], cols["bitscore"][r]
            lines.append(f"| {_md(qn[qi])} | {rank} | {_md(_text(tn[t[r]]))} | "
                         f"{cols['score'][r]} | "
                         f"{'NA' if math.isnan(b) else f'{b:.1f}'} | "
                         f"{'NA' if math.isnan(e) else f'{e:.2g}'} | "
                         f"{cols['pident'][r]:.1f} | {cols['length'][r]} |")
    return lines
