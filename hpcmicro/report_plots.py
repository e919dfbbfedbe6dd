"""The figures of ``hpcmicro report`` (matplotlib, Agg canvas, no display).

Each function draws one PNG from data that :mod:`hpcmicro.report` computed
and returns False when there is nothing to draw.  Figures are made with
:class:`matplotlib.figure.Figure` on an Agg canvas, never through
``pyplot``, so the report changes no global matplotlib state and needs no
display.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, ListedColormap, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator

#: Resolution of every PNG.  100 dpi keeps a 10 x 5 inch figure at
#: 1000 x 500 pixels: readable, and well under 200 kB.
DPI = 100
#: Up to this many tasks the Gantt chart draws every task (consecutive tasks
#: in alternating shades); above it, bars closer than one pixel are merged (a 10^6-task job draws
#: in seconds, and looks the same).
GANTT_EXACT = 2000
#: Horizontal pixels the Gantt chart's time axis resolves when merging.
GANTT_PIXELS = 2000
COLOURS = {"task": "#1f77b4", "stolen": "#ff7f0e", "failed": "#d62728", "idle": "#ececec",
           "busy": "#1f77b4", "overhead": "#ff7f0e"}
SHADES = {"task": ("#1f77b4", "#6aaee0"), "stolen": ("#ff7f0e", "#ffbb78"),
          "failed": ("#d62728", "#ff9896")}


def _figure(width: float, height: float, layout: str = "constrained") -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path, trim: bool = False) -> None:
    # Maps ("compressed" layout) are trimmed: fixed-aspect panels leave
    # margins in a figure whose size was only estimated.  Trimming draws the
    # figure twice, so the other figures are not trimmed.
    extra = {"bbox_inches": "tight", "pad_inches": 0.12} if trim else {}
    fig.savefig(Path(path), dpi=DPI, **extra)


def _hist_range(x: np.ndarray) -> tuple[float, float]:
    """A histogram range that is never narrower than rounding noise."""
    lo, hi = float(np.min(x)), float(np.max(x))
    pad = max(abs(hi), 1.0) * 1e-6
    if hi - lo < pad:
        pad = max(abs(hi) * 0.05, 0.5 if abs(hi) >= 1 else 1e-6)
        return lo - pad, hi + pad
    return lo, hi


def _num(v: float) -> str:
    """A number for a label: no exponent below a million, 3 significant digits."""
    return f"{v:.0f}" if 100 <= abs(v) < 1e6 else f"{v:.3g}"


def _dur(seconds: float) -> str:
    """A duration for a label, in ms, s or h."""
    scale, unit = _time_unit(seconds)
    return f"{_num(seconds / scale)} {unit}"


def _time_unit(seconds: float) -> tuple[float, str]:
    """A divisor and unit name that make ``seconds`` read well."""
    if not np.isfinite(seconds) or seconds < 1:
        return 1e-3, "ms"
    if seconds < 2 * 3600:
        return 1.0, "s"
    if seconds < 3 * 86400:
        return 3600.0, "h"
    return 86400.0, "days"


# -- job figures ----------------------------------------------------------------
def _rank_ticks(axis, ranks: np.ndarray) -> None:
    """Ticks at every rank when there are few, else about 20 integer ticks."""
    if len(ranks) <= 24:
        axis.set_major_locator(FixedLocator(ranks))
    else:
        axis.set_major_locator(MaxNLocator(integer=True, nbins=20))


def gantt(path, trace, title: str) -> bool:
    """Gantt chart: one row per worker, one bar per task, stolen tasks marked.

    Parameters
    ----------
    path : str or pathlib.Path
        The PNG to write.
    trace : hpcmicro.jobtrace.JobTrace
        The job record.
    title : str
        Figure title.

    Returns
    -------
    bool
        False if no task has run.
    """
    from .report import merged_intervals
    ran = trace.ran
    if not ran.any():
        return False
    ranks = trace.workers
    t0, t1 = float(trace.start[ran].min()), float(trace.stop[ran].max())
    span = max(t1 - t0, 1e-9)
    exact = ran.sum() <= GANTT_EXACT
    gap = 0.0 if exact else span / GANTT_PIXELS
    fig = _figure(10, float(np.clip(1.6 + 0.32 * len(ranks), 3.2, 9.0)))
    ax = fig.add_subplot()
    failed = trace.status == 2
    cats = {"task": ran & ~trace.stolen & ~failed, "stolen": ran & trace.stolen & ~failed,
            "failed": ran & failed}
    h = 0.8 if len(ranks) < 60 else 1.0
    for r in ranks:
        ax.broken_barh([(t0, span)], (r - h / 2, h), facecolor=COLOURS["idle"], linewidth=0)
        on = np.flatnonzero(ran & (trace.worker == r))
        on = on[np.argsort(trace.start[on], kind="stable")]
        # Consecutive tasks alternate between two shades, so that task
        # boundaries show without outlines (which would hide short tasks).
        shade = np.arange(len(on)) % 2 if exact else np.zeros(len(on), int)
        for name, m in cats.items():
            for k in (0, 1):
                ids = on[m[on] & (shade == k)]
                bs, be = merged_intervals(trace.start[ids], trace.stop[ids], gap)
                if len(bs):
                    ax.broken_barh(np.column_stack([bs, be - bs]), (r - h / 2, h),
                                   facecolor=SHADES[name][k],
                                   linewidth=0)
    ax.set_xlim(t0 - 0.01 * span, t1 + 0.01 * span)
    if cats["failed"].any():   # failures are often instant: mark them, not only bar them
        ax.plot(trace.start[cats["failed"]], trace.worker[cats["failed"]], "x",
                color=COLOURS["failed"], markersize=7, markeredgewidth=1.5)
    ax.set_ylim(ranks.min() - 0.7, ranks.max() + 0.7)
    _rank_ticks(ax.yaxis, ranks)
    ax.invert_yaxis()
    ax.set_xlabel("time since the job began (s)")
    ax.set_ylabel("worker (MPI rank)")
    handles = [Patch(facecolor=COLOURS["task"], label=f"task ({int(cats['task'].sum())})"),
               Patch(facecolor=COLOURS["stolen"],
                     label=f"stolen task ({int(cats['stolen'].sum())})"),
               Patch(facecolor=COLOURS["idle"], edgecolor="0.6", linewidth=0.5,
                     label="no task running")]
    if cats["failed"].any():
        handles.insert(2, Line2D([], [], color=COLOURS["failed"], marker="x", markersize=7,
                                 markeredgewidth=1.5, linewidth=4,
                                 label=f"failed task ({int(cats['failed'].sum())})"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    fig.suptitle(f"Tasks per worker: {title}")
    _save(fig, path)
    return True


def utilisation_plot(path, edges: np.ndarray, frac: np.ndarray, mean: float, title: str) -> bool:
    """Fraction of workers busy against time.

    Parameters
    ----------
    path : str or pathlib.Path
        The PNG to write.
    edges, frac : numpy.ndarray
        Bin edges (s) and busy fraction per bin, from
        :func:`hpcmicro.report.utilisation`.
    mean : float
        The makespan efficiency (drawn as a line).
    title : str
        Figure title.

    Returns
    -------
    bool
        False if there is no time span.
    """
    if len(edges) < 2 or edges[-1] <= edges[0]:
        return False
    fig = _figure(10, 3.8)
    ax = fig.add_subplot()
    width = edges[1] - edges[0]
    ax.stairs(frac, edges, fill=True, color=COLOURS["busy"], alpha=0.35, linewidth=0)
    ax.stairs(frac, edges, color=COLOURS["busy"], linewidth=1.0,
              label=f"busy fraction (mean over {_dur(width)} bins)")
    if np.isfinite(mean):
        ax.axhline(mean, color="k", linestyle="--", linewidth=1.0,
                   label=f"makespan efficiency {100 * mean:.1f} %")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel("time since the job began (s)")
    ax.set_ylabel("fraction of workers busy")
    fig.legend(loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(f"Utilisation: {title}")
    _save(fig, path)
    return True


def worker_bars(path, wt, title: str) -> bool:
    """Stacked bars of busy, overhead and idle seconds per worker.

    Parameters
    ----------
    path : str or pathlib.Path
        The PNG to write.
    wt : hpcmicro.jobtrace.WorkerTimes
        The per-worker split.
    title : str
        Figure title.

    Returns
    -------
    bool
        False if there are no workers.
    """
    if not len(wt.ranks):
        return False
    fig = _figure(max(6.0, min(12.0, 3 + 0.25 * len(wt.ranks))), 4.2)
    ax = fig.add_subplot()
    x = wt.ranks
    w = 0.8 if len(x) < 80 else 1.0
    ax.bar(x, wt.busy, w, color=COLOURS["busy"], label="busy (in tasks)")
    ax.bar(x, wt.overhead, w, bottom=wt.busy, color=COLOURS["overhead"],
           label=f"overhead (gaps < {wt.threshold * 1e3:g} ms)")
    ax.bar(x, wt.idle, w, bottom=wt.busy + wt.overhead, color="#b0b0b0",
           label="idle (longer gaps, before first / after last task)")
    _rank_ticks(ax.xaxis, x)
    ax.set_xlim(x.min() - 0.7, x.max() + 0.7)
    ax.set_xlabel("worker (MPI rank)")
    ax.set_ylabel("time in the job span (s)")
    fig.legend(loc="outside lower center", ncols=3 if len(x) > 6 else 1, frameon=False)
    fig.suptitle(f"Time per worker: {title}")
    _save(fig, path)
    return True


def durations_hist(path, d: np.ndarray, title: str) -> bool:
    """Histogram of task durations (logarithmic bins when they span decades).

    Parameters
    ----------
    path : str or pathlib.Path
        The PNG to write.
    d : numpy.ndarray
        Task durations in seconds.
    title : str
        Figure title.

    Returns
    -------
    bool
        False if there are no durations.
    """
    d = d[np.isfinite(d) & (d >= 0)]
    if not len(d):
        return False
    scale, unit = _time_unit(float(np.median(d)))
    x = d / scale
    fig = _figure(7, 4)
    ax = fig.add_subplot()
    pos = x[x > 0]
    if len(pos) and pos.max() / pos.min() > 30:
        bins = np.geomspace(pos.min(), pos.max() * 1.0001, 40)
        ax.set_xscale("log")
        ax.hist(pos, bins=bins, color=COLOURS["task"])
    else:
        ax.hist(x, bins=min(40, max(5, len(x) // 5)), range=_hist_range(x),
                color=COLOURS["task"])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(f"task duration ({unit})")
    ax.set_ylabel("tasks")
    ax.set_title(f"{len(d)} tasks, median {_num(np.median(x))} {unit}, max {_num(x.max())} {unit}",
                 fontsize="medium")
    fig.suptitle(f"Task durations: {title}")
    _save(fig, path)
    return True


# -- weather figures ------------------------------------------------------------
#: The largest map drawn at full resolution; bigger grids are subsampled.
MAX_MAP_CELLS = 512 * 512
MAP_STYLE = {  # name: (colour map, colour-bar label, scale, symmetric)
    "h": ("viridis", "layer depth h (m)", 1.0, False),
    "zeta": ("RdBu_r", "relative vorticity (10$^{-5}$ s$^{-1}$)", 1e5, True),
    "q": ("Blues", "column water vapour q (m)", 1.0, False),
}


@dataclasses.dataclass
class WeatherFields:
    """Maps of h, vorticity and moisture at selected output times.

    Attributes
    ----------
    times : numpy.ndarray
        Model times of the maps (s).
    data : dict
        ``"h"``, ``"zeta"`` and (with physics) ``"q"``: lists of 2-D arrays.
    extent : dict
        Name -> ``(x0, x1, y0, y1)`` of the maps in km.
    stride : int
        Subsampling of the maps (1: every cell).
    """

    times: np.ndarray
    data: dict
    extent: dict
    stride: int

    @classmethod
    def read(cls, g, sel: list, walls: bool) -> "WeatherFields":
        """Read the maps at output indices ``sel`` from the ``/weather`` group.

        Parameters
        ----------
        g : h5py.Group
            ``/weather``.
        sel : list of int
            Output indices to read (fully written ones).
        walls : bool
            Channel with walls in y (vorticity undefined on the wall row).

        Returns
        -------
        WeatherFields
        """
        from .jobtrace import vorticity
        x, y = g["x"][...], g["y"][...]
        dx = float(x[1] - x[0]) if len(x) > 1 else 1.0
        dy = float(y[1] - y[0]) if len(y) > 1 else 1.0
        ny, nx = g["h"].shape[1:]
        k = max(1, math.ceil(math.sqrt(ny * nx / MAX_MAP_CELLS)))
        data: dict = {"h": [], "zeta": []}
        if "q" in g:
            data["q"] = []
        for i in sel:
            data["h"].append(g["h"][i, ::k, ::k])
            data["zeta"].append(vorticity(g["u"][i], g["v"][i], dx, dy, walls)[::k, ::k])
            if "q" in g:
                data["q"].append(g["q"][i, ::k, ::k])
        km = 1e-3
        centre = (0, nx * dx * km, 0, ny * dy * km)
        corner = (-0.5 * dx * km, (nx - 0.5) * dx * km, -0.5 * dy * km, (ny - 0.5) * dy * km)
        return cls(g["time"][...][sel], data, {"h": centre, "q": centre, "zeta": corner}, k)


def weather_maps(path, fields: WeatherFields, name: str) -> bool:
    """Small multiples of one field at the output times, one colour bar.

    Parameters
    ----------
    path : str or pathlib.Path
        The PNG to write.
    fields : WeatherFields
        The maps.
    name : str
        ``"h"``, ``"zeta"`` or ``"q"``.

    Returns
    -------
    bool
        False if there is no map.
    """
    maps = fields.data.get(name, [])
    if not maps:
        return False
    cmap, label, scale, symmetric = MAP_STYLE[name]
    x0, x1, y0, y1 = fields.extent[name]
    aspect = (x1 - x0) / (y1 - y0)
    n = len(maps)
    # One row up to 4 maps; else 3 or 4 columns, whichever leaves fewer empty slots.
    ncols = n if n <= 4 else min((4, 3), key=lambda c: -(-n // c) * c - n)
    nrows = math.ceil(n / ncols)
    pw = 3.6 if aspect >= 1.5 else 3.0
    fig = _figure(pw * ncols + 1.3, (pw / aspect + 0.8) * nrows + 0.5, "compressed")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    vals = np.concatenate([m[np.isfinite(m)].ravel() for m in maps]) * scale
    if symmetric:
        lim = float(np.percentile(np.abs(vals), 99.5)) if len(vals) else 1.0
        norm = Normalize(-lim or -1, lim or 1)
    else:
        lo, hi = (float(vals.min()), float(vals.max())) if len(vals) else (0.0, 1.0)
        norm = Normalize(lo, hi if hi > lo else lo + 1)
    tscale, tunit = _time_unit(float(np.max(fields.times)) if len(fields.times) else 0.0)
    if tunit == "ms":
        tscale, tunit = 1.0, "s"
    im = None
    for idx, ax in enumerate(axes.flat):
        if idx >= n:
            ax.set_visible(False)
            continue
        row, col = divmod(idx, ncols)
        im = ax.imshow(maps[idx] * scale, origin="lower", extent=fields.extent[name],
                       cmap=cmap, norm=norm, interpolation="nearest", aspect="equal")
        ax.set_title(f"t = {_num(fields.times[idx] / tscale)} {tunit}", fontsize="medium")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        below = idx + ncols < n
        ax.tick_params(labelbottom=not below, labelleft=col == 0, labelsize="small")
        if not below:
            ax.set_xlabel("x (km)")
        if col == 0:
            ax.set_ylabel("y (km)")
    fig.colorbar(im, ax=[a for a in axes.flat if a.get_visible()], label=label,
                 shrink=0.9 if nrows > 1 else 1.0, extend="both" if symmetric else "neither")
    sub = "" if fields.stride == 1 else f" (every {fields.stride}th cell)"
    fig.suptitle(f"{label.split(' (')[0].capitalize()}{sub}")
    _save(fig, path, trim=True)
    return True


def weather_diagnostics(path, diag: dict, physics: bool) -> bool:
    """Mass, energy and enstrophy as relative change from t = 0; physics cost.

    Parameters
    ----------
    path : str or pathlib.Path
        The PNG to write.
    diag : dict
        Arrays ``time`` (s), ``mass``, ``energy``, ``enstrophy``,
        ``physics_cost`` (NaN where not written yet).
    physics : bool
        Whether the run has moist physics.

    Returns
    -------
    bool
        False if no diagnostics are written.
    """
    t = diag["time"]
    ok = np.isfinite(diag["mass"])
    if not ok.any():
        return False
    tscale, tunit = _time_unit(float(t[ok].max()))
    if tunit == "ms":
        tscale, tunit = 1.0, "s"
    first = np.flatnonzero(ok)[0]
    fig = _figure(8, 8.5)
    axes = fig.subplots(4, 1, sharex=True)
    for ax, k, colour in zip(axes, ("mass", "energy", "enstrophy"), ("C0", "C1", "C2")):
        ref = diag[k][first]
        rel = (diag[k][ok] - ref) / ref if ref else np.full(ok.sum(), np.nan)
        ax.plot(t[ok] / tscale, rel, "o-", color=colour, markersize=4)
        ax.axhline(0, color="0.5", linewidth=0.6)
        ax.set_ylabel(f"{k}: relative\nchange (1)")
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3), useMathText=True)
        ax.grid(alpha=0.3)
    ax = axes[3]
    cost = diag.get("physics_cost", np.full(len(t), np.nan))
    c_ok = ok & np.isfinite(cost)
    if physics:
        ax.plot(t[c_ok] / tscale, cost[c_ok], "s-", color="C3", markersize=4)
    else:
        ax.text(0.5, 0.5, "no moist physics in this run", transform=ax.transAxes,
                ha="center", va="center", color="0.4")
    ax.set_ylabel("physics iterations\nsince last output")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4), useMathText=True)
    ax.grid(alpha=0.3)
    ax.set_xlabel(f"model time ({tunit})")
    missing = int((~ok).sum())
    note = f"; {missing} output time(s) not written yet" if missing else ""
    fig.suptitle(f"Weather diagnostics (relative to t = {_num(t[first] / tscale)} {tunit}){note}")
    _save(fig, path)
    return True


def _tile_panel(fig, ax, grid, values, dx, dy, cmap, norm, label, fmt, ticks=None):
    xe = np.asarray(grid.col_edges) * dx / 1e3
    ye = np.asarray(grid.row_edges) * dy / 1e3
    v = np.ma.masked_invalid(np.asarray(values, float).reshape(grid.shape))
    mesh = ax.pcolormesh(xe, ye, v, cmap=cmap, norm=norm, edgecolors="w", linewidth=0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("x (km)")
    ax.set_ylabel("y (km)")
    cb = fig.colorbar(mesh, ax=ax, label=label, ticks=ticks)
    if grid.n_tiles <= 64:
        size = "small" if grid.shape[1] <= 8 else "x-small"
        for tj in range(grid.shape[0]):
            for ti in range(grid.shape[1]):
                val = v[tj, ti]
                if np.ma.is_masked(val):
                    continue
                r, g, b, _ = mesh.cmap(mesh.norm(val))
                ax.text((xe[ti] + xe[ti + 1]) / 2, (ye[tj] + ye[tj + 1]) / 2, fmt(val),
                        ha="center", va="center", fontsize=size,
                        color="k" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "w")
    return cb


def weather_tiles(path, tiles: dict, dx: float, dy: float, physics: bool) -> bool:
    """Maps over the tile grid: physics cost, compute time and worker per tile.

    Parameters
    ----------
    path : str or pathlib.Path
        The PNG to write.
    tiles : dict
        From :func:`hpcmicro.report.tile_summary`.
    dx, dy : float
        Cell size (m).
    physics : bool
        Whether the run has moist physics (else the cost panel is left out).

    Returns
    -------
    bool
        False if no round has finished.
    """
    grid = tiles["grid"]
    if tiles["round"] < 0:
        return False
    aspect = (grid.nx * dx) / (grid.ny * dy)
    n = 3 if physics else 2
    if aspect >= 1.2:
        fig = _figure(8.5, n * (7.0 / aspect + 0.8) + 0.3, "compressed")
        axes = fig.subplots(n, 1)
    else:
        fig = _figure(n * 4.2 + 0.5, 4.2 / aspect + 1.2, "compressed")
        axes = fig.subplots(1, n)
    axes = list(np.atleast_1d(axes))
    done = f"{tiles['rounds_done']} of {tiles['rounds']} rounds"
    if physics:
        ax = axes.pop(0)
        c = tiles["cost"]
        _tile_panel(fig, ax, grid, c, dx, dy, "magma_r", Normalize(0, max(c.max(), 1)),
                    "physics iterations (1)", lambda v: f"{v:.3g}")
        none = " (no condensation: 0 everywhere)" if not c.any() else ""
        ax.set_title(f"Physics cost per tile, summed over {done}{none}", fontsize="medium")
    ax = axes.pop(0)
    s = tiles["seconds"]
    scale, unit = _time_unit(float(s.max()))
    _tile_panel(fig, ax, grid, s / scale, dx, dy, "viridis",
                Normalize(0, max(float(s.max()) / scale, 1e-12)), f"compute time ({unit})",
                lambda v: f"{v:.3g}")
    ax.set_title(f"Compute time per tile, summed over {done}", fontsize="medium")
    ax = axes.pop(0)
    w = tiles["worker"]
    ranks = np.unique(w[np.isfinite(w)]).astype(int)
    if len(ranks) and len(ranks) <= 20:
        # One colour per rank in use: tiles carry the index of their rank.
        idx = np.where(np.isfinite(w), np.searchsorted(ranks, np.nan_to_num(w)), np.nan)
        cmap = ListedColormap(_tab(len(ranks)))
        norm = BoundaryNorm(np.arange(len(ranks) + 1) - 0.5, cmap.N)
        cb = _tile_panel(fig, ax, grid, idx, dx, dy, cmap, norm, "worker (MPI rank)",
                         lambda v: f"{ranks[int(v)]}", ticks=np.arange(len(ranks)))
        cb.set_ticklabels([str(r) for r in ranks])
    else:
        lo, hi = (float(np.nanmin(w)), float(np.nanmax(w))) if len(ranks) else (0, 1)
        _tile_panel(fig, ax, grid, w, dx, dy, "viridis", Normalize(lo, max(hi, lo + 1)),
                    "worker (MPI rank)", lambda v: f"{int(v)}")
    ax.set_title(f"Worker of each tile in round {tiles['round']} (last finished)",
                 fontsize="medium")
    fig.suptitle(f"Tiles: {grid.shape[1]} x {grid.shape[0]}")
    _save(fig, path, trim=True)
    return True


def _tab(n: int) -> list:
    from matplotlib import colormaps
    src = colormaps["tab10" if n <= 10 else "tab20"]
    return [src(i) for i in range(n)]


# -- align figures ----------------------------------------------------------------
def align_distributions(path, score: np.ndarray, evalue: np.ndarray, note: str) -> bool:
    """Histograms of raw alignment scores and of E-values (log axis).

    Parameters
    ----------
    path : str or pathlib.Path
        The PNG to write.
    score, evalue : numpy.ndarray
        One entry per reported hit.
    note : str
        Why E-values are unknown (NaN), if they are.

    Returns
    -------
    bool
        False if there are no hits.
    """
    if not len(score):
        return False
    fig = _figure(11, 4.2)
    a1, a2 = fig.subplots(1, 2)
    a1.hist(score, bins=min(50, max(5, len(score) // 3)), range=_hist_range(score),
            color="C0")
    a1.set_xlabel("raw alignment score (substitution-matrix units)")
    a1.set_ylabel("hits")
    a1.yaxis.set_major_locator(MaxNLocator(integer=True))
    a1.set_title(f"Scores of {len(score)} hits", fontsize="medium")
    e = evalue[np.isfinite(evalue)]
    pos = e[e > 0]
    if len(pos):
        lo, hi = np.log10(pos.min()), np.log10(pos.max())
        bins = np.logspace(lo - 0.5, hi + 0.5, int(min(50, max(8, (hi - lo) * 2))))
        a2.hist(pos, bins=bins, color="C2")
        a2.set_xscale("log")
        # Ticks on round decades (10^-300 ... 10^0), at most about 7 of them.
        span = max(hi - lo + 1, 1)
        step = next(k for k in (1, 2, 5, 10, 20, 25, 50, 100, 1000) if span / k <= 7)
        dec = np.arange(math.floor((lo - 0.5) / step) * step, hi + 0.5 + step, step)
        a2.xaxis.set_major_locator(FixedLocator(10.0 ** dec))
        a2.xaxis.set_minor_locator(NullLocator())
        a2.set_xlim(bins[0], max(bins[-1], 10.0))   # E = 1 stays in view
        a2.set_xlabel("E-value (expected chance hits)")
        a2.set_ylabel("hits")
        a2.yaxis.set_major_locator(MaxNLocator(integer=True))
        zero = len(e) - len(pos)
        extra = f"; {zero} with E = 0 not shown" if zero else ""
        a2.set_title(f"E-values of {len(pos)} hits{extra}", fontsize="medium")
    else:
        a2.text(0.5, 0.5, "E-values unknown for this scoring scheme" if note or not len(e)
                else "no positive E-value", transform=a2.transAxes, ha="center", va="center",
                wrap=True, color="0.4")
        a2.set_xlabel("E-value")
        a2.set_ylabel("hits")
    fig.suptitle("Align hits")
    _save(fig, path)
    return True


__all__ = ["WeatherFields", "align_distributions", "durations_hist", "gantt",
           "utilisation_plot", "weather_diagnostics", "weather_maps", "weather_tiles",
           "worker_bars"]
