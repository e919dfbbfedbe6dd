"""``hpcmicro report OUT.h5``: figures and a Markdown summary of any output file.

The report reads the job record (root attributes and ``/tasks``) and, when it
knows the workload, its results (``/weather``, ``/align``), and writes PNG
figures plus ``summary.md`` into one directory.  It never changes the output
file and reads it without HDF5's lock, so a running or stopped
(``incomplete``) job can be reported on; what is missing is said in the
summary.  The figures are drawn by :mod:`hpcmicro.report_plots`.

The job record and the metrics come from :mod:`hpcmicro.jobtrace`.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from .errors import HpcmicroError
from .jobtrace import (GAP_THRESHOLD_S, TOP_QUERIES, TOP_HITS, MAX_MAPS, JobTrace, _text,
                       open_output, read_trace, merged_intervals, WorkerTimes, worker_times,
                       efficiency, utilisation, counts, vorticity, tile_summary, top_hits_table)

# -- the report -------------------------------------------------------------------
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
