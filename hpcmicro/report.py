"""``hpcmicro report OUT.h5``: figures and a Markdown summary of any output file.

The report reads the job record (root attributes and ``/tasks``) and, when it
knows the workload, its results (``/weather``, ``/align``), and writes PNG
figures plus ``summary.md`` into one directory.  It never changes the output
file and reads it without HDF5's lock, so a running or stopped
(``incomplete``) job can be reported on; what is missing is said in the
summary.  The figures are drawn by :mod:`hpcmicro.report_plots`.

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


# -- the report -------------------------------------------------------------------
def _md(text: str) -> str:
    """Text safe inside a Markdown table cell (sequence ids contain '|')."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|")


def _fmt_s(x: float) -> str:
    if not np.isfinite(x):
        return "n/a"
    if abs(x) >= 1:
        return f"{x:.2f} s"
    return f"{x * 1e3:.3g} ms"


def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:.1f} %"


@dataclasses.dataclass
class Report:
    """What :func:`make_report` wrote.

    Attributes
    ----------
    summary : pathlib.Path
        The Markdown summary.
    figures : list of (str, str)
        File name and caption of each figure written.
    missing : list of str
        What the output file lacks (pending or failed tasks, unwritten times).
    """

    summary: Path
    figures: list
    missing: list


class _Report:
    """Collects figures and summary lines while the report is made."""

    def __init__(self, outdir: Path):
        self.outdir = outdir
        self.figures: list[tuple[str, str]] = []
        self.lines: list[str] = []
        self.missing: list[str] = []

    def fig(self, name: str, caption: str, draw, *args, **kw) -> None:
        """Draw one figure with ``draw(path, *args, **kw)``; list it unless it returns False."""
        path = self.outdir / name
        if draw(path, *args, **kw) is not False:
            self.figures.append((name, caption))

    def add(self, *lines: str) -> None:
        """Append lines to the summary."""
        self.lines.extend(lines)


def _job_section(rep: _Report, trace: JobTrace, threshold: float) -> None:
    from . import report_plots as rp
    a, c = trace.attrs, counts(trace)
    eff, wt = efficiency(trace), worker_times(trace, threshold)
    rep.add("## Job", "",
            f"- workload `{trace.workload}`, scheduler `{a.get('scheduler', '?')}`, "
            f"{trace.n_workers} worker(s), status **{a.get('status', '?')}**",
            f"- tasks: {c['n']} in all, {c['done']} done, {c['failed']} failed, "
            f"{c['pending']} pending",
            f"- wall time {_fmt_s(float(a.get('wall_seconds', 0.0) or math.nan))}, "
            f"restarts {a.get('restarts', 0)}, started {a.get('started', '?')}",
            f"- coordinator: {_fmt_s(float(a.get('coordinator_cpu_seconds', math.nan)))} CPU, "
            f"{_fmt_s(float(a.get('coordinator_busy_seconds', math.nan)))} busy",
            "")
    if c["pending"]:
        rep.missing.append(f"{c['pending']} of {c['n']} tasks are pending (not finished)")
    if c["failed"]:
        rep.missing.append(f"{c['failed']} of {c['n']} tasks failed (see below)")
    if Path(f"{trace.path}.lock").exists():
        rep.missing.append(f"a job holds {trace.path.name}.lock: it is probably still running, "
                           "and this report is a snapshot")
    elif a.get("status") == "incomplete":
        rep.missing.append("the job stopped early (status incomplete); `hpcmicro run JOB "
                           "--resume` finishes it")
    if not c["done"] and not c["failed"]:
        rep.add("No task has finished yet: no timing figures.", "")
        return
    rep.add("### Efficiency", "",
            "| measure | value |", "|---|---:|",
            f"| sum of task durations | {_fmt_s(eff['work'])} |",
            f"| workers W | {eff['workers']} |",
            f"| longest task | {_fmt_s(eff['longest'])} |",
            f"| first task start, last task stop | {_fmt_s(eff['first_start'])}, "
            f"{_fmt_s(eff['last_stop'])} |",
            f"| makespan efficiency (sum / W) / (last stop - first start) | "
            f"**{_pct(eff['efficiency'])}** |",
            f"| ideal bound (sum / W) / max(sum / W, longest task) | {_pct(eff['bound'])} |",
            f"| efficiency / ideal bound | {_pct(eff['of_bound'])} |",
            f"| (sum / W) / wall time (start-up included) | {_pct(eff['wall_efficiency'])} |",
            "")
    if int(a.get("restarts", 0) or 0):
        rep.add(f"The job was resumed {a.get('restarts')} time(s): times continue across runs, "
                "and W is the worker count of the last run.", "")
    rep.add("### Workers", "",
            "Over the job span (first task start to last task stop, "
            f"{_fmt_s(wt.span[1] - wt.span[0])}), "
            "each worker's time is **busy** (inside its tasks), **overhead** (gaps shorter than "
            f"{wt.threshold * 1e3:g} ms between two consecutive tasks: handing over results and "
            "getting the next task) or **idle** (longer gaps, and the time before its first and "
            "after its last task: waiting for work).", "",
            "| worker (rank) | tasks | stolen | busy | overhead | idle | busy share |",
            "|---:|---:|---:|---:|---:|---:|---:|")
    span = wt.span[1] - wt.span[0]
    k = len(wt.ranks)
    show = np.arange(k) if k <= 32 else np.r_[0:16, k - 16:k]
    for i in show:
        rep.add(f"| {wt.ranks[i]} | {wt.tasks[i]} | {wt.stolen[i]} | {_fmt_s(wt.busy[i])} | "
                f"{_fmt_s(wt.overhead[i])} | {_fmt_s(wt.idle[i])} | "
                f"{_pct(wt.busy[i] / span if span > 0 else math.nan)} |")
    if len(show) < len(wt.ranks):
        rep.add(f"\n({len(wt.ranks) - len(show)} workers in the middle left out; all are in "
                "the figure.)")
    rep.add("", f"Totals: busy {_fmt_s(wt.busy.sum())}, overhead {_fmt_s(wt.overhead.sum())}, "
            f"idle {_fmt_s(wt.idle.sum())}; {int(trace.stolen[trace.ran].sum())} task(s) "
            "stolen.", "")
    if trace.errors:
        rep.add("### Failed tasks", "")
        for tid, err in list(trace.errors.items())[:10]:
            last = [ln for ln in err.strip().splitlines() if ln.strip()][-1:] or ["(no message)"]
            rep.add(f"- task {tid} (worker {trace.worker[tid]}, {trace.attempts[tid]} attempts): "
                    f"`{last[0].strip()}`")
        if len(trace.errors) > 10:
            rep.add(f"- ... and {len(trace.errors) - 10} more (`/tasks/error` has each traceback)")
        rep.add("")
    w = trace.n_workers
    title = f"{trace.workload}, {a.get('scheduler', '?')} scheduler, {w} worker{'s' * (w != 1)}"
    rep.fig("job_gantt.png", "Tasks per worker over time (stolen and failed tasks marked; grey "
            "is idle)", rp.gantt, trace, title)
    edges, frac = utilisation(trace)
    rep.fig("job_utilisation.png", "Fraction of workers busy over time", rp.utilisation_plot,
            edges, frac, eff["efficiency"], title)
    rep.fig("job_workers.png", "Busy, overhead and idle time per worker", rp.worker_bars,
            wt, title)
    rep.fig("job_durations.png", "Distribution of task durations", rp.durations_hist,
            (trace.stop - trace.start)[trace.ran], title)


def _weather_section(rep: _Report, f, trace: JobTrace) -> None:
    from . import report_plots as rp
    g = f["weather"]
    if "h" not in g or "time" not in g:
        rep.missing.append("/weather has no h or time dataset: no weather figures")
        return
    times = g["time"][...]
    h = g["h"]
    valid = [k for k in range(len(times)) if not np.isnan(h[k]).any()]
    gone = [k for k in range(len(times)) if k not in valid]
    rep.add("## Weather", "", f"- {g.attrs.get('title', '')}; {g.attrs.get('domain', '')}; "
            f"grid {h.shape[2]} x {h.shape[1]} cells, tile {g.attrs.get('tile', '?')}, "
            f"{g.attrs.get('steps_per_task', '?')} steps per task, "
            f"dt {float(g.attrs.get('dt_seconds', math.nan)):.4g} s",
            f"- output times: {len(times)}, written: {len(valid)}")
    if gone:
        msg = (f"{len(gone)} of {len(times)} weather output times are not written yet (NaN): "
               f"t = {', '.join(f'{times[k]:.0f}' for k in gone)} s; they are skipped in the maps "
               "and the diagnostics")
        rep.missing.append(msg)
        rep.add(f"- missing: {msg}")
    rep.add("")
    walls = "walls" in _text(g.attrs.get("domain", ""))
    sel = valid if len(valid) <= MAX_MAPS else [valid[int(round(i))] for i in
                                                np.linspace(0, len(valid) - 1, MAX_MAPS)]
    if len(sel) < len(valid):
        rep.add(f"The maps show {len(sel)} of the {len(valid)} output times, evenly spaced.", "")
    if sel:
        fields = rp.WeatherFields.read(g, sel, walls)
        rep.fig("weather_h.png", "Layer depth h at the output times", rp.weather_maps,
                fields, "h")
        rep.fig("weather_vorticity.png", "Relative vorticity at the output times",
                rp.weather_maps, fields, "zeta")
        if "q" in g:
            rep.fig("weather_moisture.png", "Column water vapour at the output times",
                    rp.weather_maps, fields, "q")
    if "diagnostics" in g:
        d = g["diagnostics"]
        diag = {k: d[k][...] for k in ("time", "mass", "energy", "enstrophy", "physics_cost")
                if k in d}
        ok = np.isfinite(diag.get("mass", np.zeros(0)))
        if ok.sum() >= 1:
            first = np.flatnonzero(ok)[0]
            rows = ["| quantity | relative change at the last output |", "|---|---:|"]
            last = np.flatnonzero(ok)[-1]
            for k in ("mass", "energy", "enstrophy"):
                if k in diag and diag[k][first] != 0:
                    rel = (diag[k][last] - diag[k][first]) / diag[k][first]
                    rows.append(f"| {k} | {rel:.3e} |")
            rep.add(f"Conservation from t = {diag['time'][first]:.0f} s to "
                    f"t = {diag['time'][last]:.0f} s:", "", *rows, "")
            rep.fig("weather_diagnostics.png", "Mass, energy and enstrophy (relative change "
                    "from t = 0) and physics cost", rp.weather_diagnostics, diag,
                    "q" in g)
    tiles = tile_summary(f, trace)
    if tiles is not None:
        rep.add(f"Tiles: {tiles['grid'].n_tiles} ({tiles['grid'].shape[1]} x "
                f"{tiles['grid'].shape[0]}), {tiles['rounds']} rounds, "
                f"{tiles['rounds_done']} finished.", "")
        dx = float(g["x"][1] - g["x"][0]) if len(g["x"]) > 1 else 1.0
        dy = float(g["y"][1] - g["y"][0]) if len(g["y"]) > 1 else 1.0
        rep.fig("weather_tiles.png", "Per-tile physics cost and compute time, and the worker "
                "of each tile", rp.weather_tiles, tiles, dx, dy, "q" in g)


def _align_section(rep: _Report, f, trace: JobTrace) -> None:
    from . import report_plots as rp
    g = f["align"]
    rep.add("## Align", "")
    if "query" not in g:
        rep.missing.append("the align hits table is not written yet (it is made when every "
                           "task has finished): no hit figures or table")
        rep.add("The hits table is missing: the job has not finished. "
                "`hpcmicro run JOB --resume` completes it.", "")
        return
    n_hits, nq = len(g["query"]), len(g["query_names"])
    rep.add(f"- scheme {_text(g.attrs.get('scheme', '?'))}; {nq} queries, "
            f"{len(g['target_names'])} database sequences, {n_hits} hits "
            f"(top {g.attrs.get('top_k', '?')} per query)")
    note = _text(g.attrs.get("evalue_note", ""))
    if note:
        rep.add(f"- E-values: {note}")
    inc = int(g.attrs.get("queries_incomplete", 0) or 0)
    if inc:
        rep.missing.append(f"{inc} queries have hits from only part of the database "
                           "(tasks failed)")
        rep.add(f"- {inc} queries lack some database chunks (failed tasks)")
    rep.add("", f"Top {TOP_HITS} hits of the first {min(TOP_QUERIES, nq)} queries:", "",
            *top_hits_table(g), "")
    if n_hits:
        rep.fig("align_scores.png", "Distributions of alignment scores and E-values",
                rp.align_distributions, g["score"][...], g["evalue"][...], note)


def make_report(path, outdir=None, *, threshold: float = GAP_THRESHOLD_S) -> "Report":
    """Write the figures and ``summary.md`` of one output file.

    Parameters
    ----------
    path : str or pathlib.Path
        An hpcmicro output file (complete, incomplete or failed).
    outdir : str or pathlib.Path, optional
        Where to write; default ``<file stem>_report/`` next to the file.
    threshold : float
        Overhead/idle gap threshold in seconds (see the module Notes).

    Returns
    -------
    Report
        The summary's path, the figures written and what is missing.

    Raises
    ------
    HpcmicroError
        The file does not exist or is not an hpcmicro output, or the
        directory cannot be written.
    """
    path = Path(path)
    out = Path(outdir) if outdir else path.with_name(f"{path.stem}_report")
    with open_output(path) as f:
        trace = read_trace(f, path)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise HpcmicroError(f"cannot create the report directory {out}: {e}") from None
        rep = _Report(out)
        rep.add(f"# Report on `{path.name}`", "",
                f"hpcmicro {trace.attrs.get('hpcmicro_version', '?')} output `{path}`.", "")
        _job_section(rep, trace, threshold)
        if trace.workload == "weather" and "weather" in f:
            _weather_section(rep, f, trace)
        elif trace.workload == "align" and "align" in f:
            _align_section(rep, f, trace)
    head = rep.lines[:4]
    body = rep.lines[4:]
    if rep.missing:
        head += ["## What is missing", ""] + [f"- {m}" for m in rep.missing] + [""]
    else:
        head += ["Nothing is missing: every task finished.", ""]
    figs = ["## Figures", ""] + [f"- [{n}]({n}): {c}" for n, c in rep.figures] + [""]
    summary = out / "summary.md"
    try:
        summary.write_text("\n".join(head + body + figs))
    except OSError as e:
        raise HpcmicroError(f"cannot write {summary}: {e}") from None
    return Report(summary, rep.figures, rep.missing)


def cmd_report(args) -> int:
    """``hpcmicro report OUT.h5 [-o DIR]``: write figures and a summary.

    Parameters
    ----------
    args : argparse.Namespace
        ``file``, ``outdir`` and ``gap_ms``.

    Returns
    -------
    int
        Exit status 0 (errors raise :class:`~hpcmicro.errors.HpcmicroError`).
    """
    if not args.gap_ms > 0:
        raise HpcmicroError(f"--gap-ms must be positive, got {args.gap_ms}")
    rep = make_report(args.file, args.outdir, threshold=args.gap_ms / 1e3)
    pngs = ", ".join(name for name, _ in rep.figures) or "no figures"
    print(f"hpcmicro: report in {rep.summary.parent}/: summary.md, {pngs}")
    for m in rep.missing:
        print(f"hpcmicro: missing: {m}")
    return 0


def add_command(sub) -> None:
    """Register the ``report`` sub-command.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The ``hpcmicro`` command's sub-parsers.
    """
    r = sub.add_parser("report", help="figures and a summary of an output file")
    r.add_argument("file", help="output HDF5 file of a job (complete or not)")
    r.add_argument("-o", "--outdir", help="directory for the figures and summary.md "
                   "(default: <file stem>_report/ next to the file)")
    r.add_argument("--gap-ms", type=float, default=GAP_THRESHOLD_S * 1e3,
                   help="gaps between a worker's tasks shorter than this count as overhead, "
                   "longer ones as idle (default %(default)g ms)")
    r.set_defaults(func=cmd_report)


__all__ = ["JobTrace", "Report", "WorkerTimes", "add_command", "counts", "efficiency",
           "make_report", "merged_intervals", "open_output", "read_trace", "tile_summary",
           "top_hits_table", "utilisation", "vorticity", "worker_times"]
