"""Benchmark of the shallow-water step: roofline, NumPy, Numba, temporal blocking.

Usage::

    python benchmarks/weather.py            # 2048^2 grid, about 3 minutes
    python benchmarks/weather.py --quick    # 512^2 grid, under 30 s

Everything runs on one core (``NUMBA_NUM_THREADS=1`` is set before Numba is
imported).  Results go to ``benchmarks/results/weather{,_quick}.{md,json,png}``.

What is measured
----------------
A *cell-update* is one cell advanced by one step (dry, flat bottom).

* **STREAM triad** ``a = b + s c`` in Numba on arrays far larger than the
  last-level cache, reported in STREAM's own convention, 24 bytes per
  element (each array read or written once; the write-allocate read of
  ``a`` is not counted), and also at 32 bytes per element, the traffic on
  the memory bus (Numba emits no streaming stores, so storing ``a`` first
  reads its line).
* **Roofline** of one step (the headline) = triad bandwidth at 24 B /
  96 bytes per cell-update: ``h, u, v`` and their previous tendencies are
  read once and written once (6 + 6 float64), each written byte counted
  once, the convention of STREAM's 24 B.  Two other views are reported
  beside it: write-allocate counted on both sides (32 B triad bandwidth /
  144 B, i.e. 96 B plus a write-allocate read of the 6 written arrays, as
  if the step wrote fresh arrays), 11% lower; and the bus traffic of this
  in-place kernel (32 B triad bandwidth / 96 B: every written line was
  read in the same step, so the kernel causes no write-allocate traffic),
  one third higher.
* **NumPy reference** (``tests/reference_shallow_water.py``), one step.
* **Numba, one step**: the path of :func:`hpcmicro.kernels.shallow_water.run`
  (periodic halo refresh, then :func:`advance_padded`), on one
  ``(6, n+2, n+2)`` array.
* **Temporal blocking**: ``k`` steps on one ``tile^2`` padded tile that
  stays in cache.  *tile kernel* times only :func:`advance_padded` on a
  tile (the copy that restores the tile is timed apart and subtracted);
  *full sweep* advances the whole grid by ``k`` steps tile by tile,
  copying each padded tile out of the global state and its interior back,
  so it includes all the memory traffic.  Both count useful updates only
  (``tile^2 k``), so the redundant halo work is a cost.

Each figure is the median over rounds; in each round every variant runs
once, interleaved, so a change of machine load hits them all alike.  Wall
clock is the headline; process CPU time is recorded too, since other
users of a shared machine take whole time slices from a wall-clock
measurement but not from CPU time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ["NUMBA_NUM_THREADS"] = "1"

import numpy as np                                          # noqa: E402
from numba import njit                                      # noqa: E402

from hpcmicro.kernels import shallow_water as sw            # noqa: E402
from hpcmicro.kernels import tiling                         # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
import reference_shallow_water as ref                       # noqa: E402

#: bytes per cell-update of one step: 6 float64 fields read, 6 written
BYTES_PER_UPDATE = 96
#: the same with a write-allocate read counted for each of the 6 written fields
BYTES_PER_UPDATE_WA = 144
#: bytes per triad element as STREAM counts them: read b, c; write a (no write-allocate)
TRIAD_BYTES_STREAM = 24
#: bytes per triad element on the bus: STREAM's 24 plus the write-allocate read of a
TRIAD_BYTES = 32
#: (tile side, steps per tile) of the temporal-blocking runs; 6 fields of a
#: padded 128^2 tile are 0.9 MB (L2-sized), 256^2 tiles are 3.3 MB (L3)
BLOCKING = [(128, 4), (128, 8), (256, 4), (256, 8)]
#: targets of the benchmark (fractions of the roofline, multiples of NumPy)
TARGET_ROOFLINE = 0.80
TARGET_VS_NUMPY = 20.0


@njit(cache=True)
def _triad(a, b, c, s):
    for i in range(a.size):
        a[i] = b[i] + s * c[i]


class Timer:
    """Repeated timings of one callable: wall and process CPU seconds per call."""

    def __init__(self, fn, calls=1):
        self.fn = fn
        self.calls = calls
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def once(self):
        w, c = time.perf_counter(), time.process_time()
        for _ in range(self.calls):
            self.fn()
        self.wall.append((time.perf_counter() - w) / self.calls)
        self.cpu.append((time.process_time() - c) / self.calls)

    def median(self, cpu=False):
        return statistics.median(self.cpu if cpu else self.wall)

    def best(self):
        return min(self.wall)


def calls_for(fn, seconds):
    """How many calls of ``fn`` (already compiled) take about ``seconds``."""
    t = time.perf_counter()
    fn()
    dt = max(time.perf_counter() - t, 1e-6)
    return max(1, round(seconds / dt))


def random_state(n, halo):
    """``(6, n + 2 halo, n + 2 halo)``: h = 1000 + noise, u and v noise."""
    rng = np.random.default_rng(0)
    s = np.zeros((6, n + 2 * halo, n + 2 * halo))
    s[0] = 1000.0 + rng.random(s.shape[1:])
    s[1:3] = rng.random((2,) + s.shape[1:])
    s[3:] = 1e-4 * rng.random((3,) + s.shape[1:])
    return s


def params(n):
    return sw.Params(nx=n, ny=n, dx=1.0e5, dy=1.0e5, dt=10.0)


# -- the variants --------------------------------------------------------------
def make_triad(n):
    a, b, c = np.zeros(n), np.ones(n), np.full(n, 2.0)
    _triad(a, b, c, 3.0)
    return lambda: _triad(a, b, c, 3.0)


def make_numpy_step(n):
    state = random_state(n, 0)
    p = params(n)
    return lambda: ref.run(state, 1, p.dx, p.dy, p.dt, p.g, p.f0, p.beta, False,
                           step0=1)


def make_numba_step(n):
    P = random_state(n, 1)
    p = params(n)

    def step():
        sw._wrap_halo(P, 1)
        sw.advance_padded(P, p, 1, 1, -1)

    step()
    return step


def make_tile_kernel(tile, k):
    """k steps on one padded tile; returns (run, restore) callables."""
    base = random_state(tile, k)
    work = base.copy()
    p = params(tile)

    def restore():
        work[...] = base

    def run():
        restore()
        sw.advance_padded(work, p, k, 1, -k)

    run()
    return run, restore


def make_sweep(n, tile, k):
    """Advance a whole n^2 grid by k steps, tile by tile (copies included)."""
    state = random_state(n, 0)
    out = np.empty_like(state)
    p = params(n)
    grid = tiling.TileGrid.build(n, n, tile)
    bounds = [grid.bounds(t) for t in range(grid.n_tiles)]

    def padded(bd):
        j0, j1, i0, i1 = bd
        if j0 >= k and i0 >= k and j1 + k <= n and i1 + k <= n:
            return np.ascontiguousarray(state[:, j0 - k:j1 + k, i0 - k:i1 + k])
        return tiling.extract_padded(state, bd, k)        # wraps periodically

    def sweep():
        for bd in bounds:
            t = padded(bd)
            sw.advance_padded(t, p, k, 1, bd[0] - k)
            out[:, bd[0]:bd[1], bd[2]:bd[3]] = t[:, k:-k, k:-k]
        return out

    return sweep, state


def check_sweep(n=48, tile=16, k=4):
    """The blocked sweep gives the bits of k whole-grid steps (sanity)."""
    sweep, state = make_sweep(n, tile, k)
    want, _ = sw.run(state, params(n), k, step0=1)
    if not np.array_equal(sweep(), want):
        raise AssertionError("blocked sweep differs from shallow_water.run")


# -- driver --------------------------------------------------------------------
def measure(quick):
    n = 512 if quick else 2048
    rounds = 3 if quick else 7
    target_s = 0.05 if quick else 0.25          # seconds per timed repetition
    triad_n = 1 << (23 if quick else 25)        # 64 MiB / 256 MiB per array
    t0 = time.perf_counter()
    check_sweep()
    timers = {"triad": Timer(make_triad(triad_n), 3)}
    timers["numba"] = Timer(make_numba_step(n))
    timers["numba"].calls = calls_for(timers["numba"].fn, target_s)
    blocks = {}
    for tile, k in BLOCKING:
        run, restore = make_tile_kernel(tile, k)
        calls = calls_for(run, target_s / 2)
        timers[f"tile{tile}k{k}"] = Timer(run, calls)
        timers[f"copy{tile}k{k}"] = Timer(restore, calls)
        sweep, _ = make_sweep(n, tile, k)
        sweep()
        timers[f"sweep{tile}k{k}"] = Timer(sweep)
        blocks[(tile, k)] = None
    numpy_timer = Timer(make_numpy_step(n))
    load = [os.getloadavg()]
    for r in range(rounds):
        for t in timers.values():
            t.once()
        if r < (1 if quick else 3):               # about 2 s a call at 2048^2
            numpy_timer.once()
    load.append(os.getloadavg())
    return n, rounds, timers, numpy_timer, load, time.perf_counter() - t0


def summarise(n, rounds, timers, numpy_timer, load, elapsed, triad_n):
    res = {"grid": n, "rounds": rounds, "elapsed_s": elapsed,
           "loadavg_start": load[0], "loadavg_end": load[1]}
    tr = timers["triad"]
    # headline: STREAM's 24 B per element; the 32 B (bus) figures beside it
    res["triad_GBps"] = TRIAD_BYTES_STREAM * triad_n / tr.median() / 1e9
    res["triad_GBps_cpu"] = TRIAD_BYTES_STREAM * triad_n / tr.median(cpu=True) / 1e9
    res["triad_GBps_best"] = TRIAD_BYTES_STREAM * triad_n / tr.best() / 1e9
    res["triad_GBps_32B"] = TRIAD_BYTES * triad_n / tr.median() / 1e9
    res["triad_GBps_32B_best"] = TRIAD_BYTES * triad_n / tr.best() / 1e9
    roof = res["triad_GBps"] * 1e9 / BYTES_PER_UPDATE
    roof_cpu = res["triad_GBps_cpu"] * 1e9 / BYTES_PER_UPDATE
    res["roofline"] = roof
    res["roofline_cpu"] = roof_cpu
    # write-allocate on both sides, as if the step wrote fresh arrays
    res["roofline_wa"] = res["triad_GBps_32B"] * 1e9 / BYTES_PER_UPDATE_WA
    # bus traffic of the in-place kernel (no write-allocate): an upper bound
    res["roofline_bus"] = res["triad_GBps_32B"] * 1e9 / BYTES_PER_UPDATE
    cells = n * n
    numpy_rate = cells / numpy_timer.median()
    rows = [{"variant": "NumPy reference, one step", "grid": n, "rate": numpy_rate,
             "rate_cpu": cells / numpy_timer.median(cpu=True), "reps": len(numpy_timer.wall)}]
    t = timers["numba"]
    rows.append({"variant": "Numba, one step", "grid": n, "rate": cells / t.median(),
                 "rate_cpu": cells / t.median(cpu=True), "reps": len(t.wall)})
    for tile, k in BLOCKING:
        kern, copy = timers[f"tile{tile}k{k}"], timers[f"copy{tile}k{k}"]
        useful = tile * tile * k
        halo = sum((tile + 2 * (k - s)) ** 2 for s in range(1, k + 1)) / useful - 1
        rows.append({"variant": f"tile kernel {tile}^2, k={k}", "grid": tile,
                     "rate": useful / (kern.median() - copy.median()),
                     "rate_cpu": useful / (kern.median(cpu=True) - copy.median(cpu=True)),
                     "reps": len(kern.wall), "halo_work": halo})
        sw_t = timers[f"sweep{tile}k{k}"]
        rows.append({"variant": f"full sweep {tile}^2 tiles, k={k}", "grid": n,
                     "rate": cells * k / sw_t.median(),
                     "rate_cpu": cells * k / sw_t.median(cpu=True),
                     "reps": len(sw_t.wall), "halo_work": halo})
    for r in rows:
        r["of_roofline"] = r["rate"] / roof
        r["of_roofline_bus"] = r["rate"] / res["roofline_bus"]
        r["of_roofline_cpu"] = r["rate_cpu"] / roof_cpu
        r["vs_numpy"] = r["rate"] / numpy_rate
        r["GBps_equiv"] = r["rate"] * BYTES_PER_UPDATE / 1e9
    res["rows"] = rows
    one = rows[1]
    numpy_cpu = rows[0]["rate_cpu"]

    def best(prefix, key):
        return max(r[key] for r in rows[2:] if r["variant"].startswith(prefix))

    values = {   # name: (wall-clock value, CPU-time value, goal)
        "one_step_of_roofline": (one["of_roofline"], one["of_roofline_cpu"], TARGET_ROOFLINE),
        "one_step_vs_numpy": (one["vs_numpy"], one["rate_cpu"] / numpy_cpu, TARGET_VS_NUMPY),
        "one_step_of_bus_roofline": (one["of_roofline_bus"],
                                     one["rate_cpu"] / res["roofline_bus"], TARGET_ROOFLINE),
        "tile_kernel_over_roofline": (best("tile", "of_roofline"),
                                      best("tile", "of_roofline_cpu"), 1.0),
        "full_sweep_over_roofline": (best("full", "of_roofline"),
                                     best("full", "of_roofline_cpu"), 1.0),
    }
    res["targets"] = {k: {"value": w, "value_cpu": c, "target": g, "met": w >= g,
                          "met_cpu": c >= g} for k, (w, c, g) in values.items()}
    return res


def machine():
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numba
    return {"cpu": model, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__}


def markdown(res, mach, quick):
    L = [f"## Shallow-water step, {res['grid']}^2 float64, one core"
         f"{' (quick)' if quick else ''}", "",
         f"Machine: {mach['cpu']}, {mach['cores']} cores; Python {mach['python']}, "
         f"NumPy {mach['numpy']}, Numba {mach['numba']}.  Load average "
         f"{res['loadavg_start'][0]:.2f} at the start, {res['loadavg_end'][0]:.2f} "
         f"at the end (1-min).  Medians of {res['rounds']} interleaved rounds "
         f"(NumPy: {res['rows'][0]['reps']}); run took {res['elapsed_s']:.0f} s.", "",
         f"STREAM triad (Numba, 1 thread): **{res['triad_GBps']:.2f} GB/s** at STREAM's "
         f"{TRIAD_BYTES_STREAM} B/element (best rep {res['triad_GBps_best']:.2f}; CPU-time "
         f"{res['triad_GBps_cpu']:.2f}); {res['triad_GBps_32B']:.2f} GB/s counting the "
         f"{TRIAD_BYTES} B/element that cross the bus (write-allocate read of `a` included; "
         f"best rep {res['triad_GBps_32B_best']:.2f}).", "",
         "| one-step roofline | triad bandwidth | bytes per cell-update | cell-updates/s |",
         "|---|---:|---:|---:|",
         f"| **headline**: each written byte once (STREAM, and the issue's 96 B) | "
         f"{res['triad_GBps']:.2f} GB/s at {TRIAD_BYTES_STREAM} B | {BYTES_PER_UPDATE} | "
         f"**{res['roofline']:.3g}** |",
         f"| write-allocate counted on both sides (as if writing fresh arrays) | "
         f"{res['triad_GBps_32B']:.2f} GB/s at "
         f"{TRIAD_BYTES} B | {BYTES_PER_UPDATE_WA} | {res['roofline_wa']:.3g} |",
         f"| bus traffic of this in-place kernel | {res['triad_GBps_32B']:.2f} "
         f"GB/s at {TRIAD_BYTES} B | {BYTES_PER_UPDATE} | {res['roofline_bus']:.3g} |", "",
         "The headline divides STREAM's 24 B/element bandwidth by 96 B per cell-update, "
         "both counting each written byte once; counting write-allocate on both sides "
         "(32 B and 96 + 48 B, as if the step wrote fresh arrays) gives 11% less.  The "
         "step updates its 6 arrays in place, so the lines it writes were read in the "
         "same step and the bus carries only 96 B per cell-update: against the 32 B bus "
         "bandwidth (last row) the bound is one third higher than the headline, shown "
         "in the 'of bus roofline' column.", "",
         "| variant | grid | cell-updates/s | of roofline | of bus roofline | vs NumPy | "
         "GB/s at 96 B | CPU-time rate | CPU-time of roofline | halo work |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in res["rows"]:
        halo = f"{100 * r['halo_work']:.1f}%" if "halo_work" in r else ""
        L.append(f"| {r['variant']} | {r['grid']}^2 | {r['rate']:.3g} | "
                 f"{100 * r['of_roofline']:.0f}% | {100 * r['of_roofline_bus']:.0f}% | "
                 f"{r['vs_numpy']:.1f}x | "
                 f"{r['GBps_equiv']:.1f} | {r['rate_cpu']:.3g} | "
                 f"{100 * r['of_roofline_cpu']:.0f}% | {halo} |")
    L += ["", "| target | wall clock | CPU time | goal | met (wall / CPU) |",
          "|---|---:|---:|---:|---|"]
    names = {"one_step_of_roofline": ("Numba one step, of roofline", "{:.0%}"),
             "one_step_of_bus_roofline": ("Numba one step, of bus roofline (32 B / 96 B)",
                                          "{:.0%}"),
             "one_step_vs_numpy": ("Numba one step, x NumPy", "{:.1f}x"),
             "tile_kernel_over_roofline": ("best tile kernel, of one-step roofline", "{:.0%}"),
             "full_sweep_over_roofline": ("best full blocked sweep, of roofline", "{:.0%}")}
    for key, (label, fmt) in names.items():
        t = res["targets"][key]
        L.append(f"| {label} | {fmt.format(t['value'])} | {fmt.format(t['value_cpu'])} | "
                 f"{fmt.format(t['target'])} | {'yes' if t['met'] else 'no'} / "
                 f"{'yes' if t['met_cpu'] else 'no'} |")
    L += ["", "Tile kernel: k steps on one in-cache padded tile (restoring copy "
          "subtracted).  Full sweep: the whole grid advanced k steps tile by tile, "
          "tile copies in and out included.  Rates count useful updates "
          "(tile^2 k); halo work is the redundant fraction on top.  'GB/s at 96 B' "
          "is the bandwidth a one-step kernel would need for that rate."]
    return "\n".join(L) + "\n"


def plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = res["rows"]
    fig, ax = plt.subplots(figsize=(9, 4.8))
    names = [f"{r['variant']} ({r['grid']}^2)" if r["variant"].startswith(("NumPy", "Numba"))
             else r["variant"] for r in rows]
    colors = ["tab:gray", "tab:blue"] + [
        "tab:green" if r["variant"].startswith("full") else "tab:olive" for r in rows[2:]]
    y = np.arange(len(rows))
    ax.barh(y, [r["rate"] for r in rows], color=colors)
    for yi, r in zip(y, rows):
        ax.text(r["rate"] * 1.05, yi, f"{r['rate']:.3g} ({100 * r['of_roofline']:.0f}%)",
                va="center", fontsize=8)
    ax.axvline(res["roofline"], color="tab:red", ls="--",
               label=f"one-step roofline: triad {res['triad_GBps']:.1f} GB/s (24 B) / 96 B")
    ax.axvline(res["roofline_bus"], color="tab:purple", ls="-.",
               label=f"bus bound: triad {res['triad_GBps_32B']:.1f} GB/s (32 B) / 96 B")
    ax.axvline(TARGET_ROOFLINE * res["roofline"], color="tab:red", ls=":",
               label=f"{TARGET_ROOFLINE:.0%} of roofline")
    ax.set_yticks(y, names, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(right=max(r["rate"] for r in rows) * 4)
    ax.set_xlabel("cell-updates per second, one core (log scale; median wall clock)")
    ax.set_title(f"Shallow-water step, float64; load average "
                 f"{res['loadavg_start'][0]:.1f} to {res['loadavg_end'][0]:.1f} on "
                 f"{os.cpu_count()} cores", fontsize=10)
    ax.invert_yaxis()
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="512^2 grid, 3 rounds (< 30 s)")
    ap.add_argument("--out", default=str(HERE / "results"), help="results directory")
    args = ap.parse_args(argv)
    n, rounds, timers, numpy_timer, load, elapsed = measure(args.quick)
    triad_n = 1 << (23 if args.quick else 25)
    res = summarise(n, rounds, timers, numpy_timer, load, elapsed, triad_n)
    mach = machine()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "weather_quick" if args.quick else "weather"
    text = markdown(res, mach, args.quick)
    (out / f"{stem}.md").write_text(text)
    raw = {name: {"wall_s": t.wall, "cpu_s": t.cpu, "calls": t.calls}
           for name, t in list(timers.items()) + [("numpy", numpy_timer)]}
    (out / f"{stem}.json").write_text(json.dumps(
        {"machine": mach, "results": res, "raw": raw,
         "conventions": {"bytes_per_update": BYTES_PER_UPDATE,
                         "bytes_per_update_write_allocate": BYTES_PER_UPDATE_WA,
                         "triad_bytes": TRIAD_BYTES_STREAM, "triad_bytes_bus": TRIAD_BYTES,
                         "blocking": BLOCKING}}, indent=1))
    plot(res, out / f"{stem}.png")
    print(text)
    return res


if __name__ == "__main__":
    main()
