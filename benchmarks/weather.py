"""Benchmark of the shallow-water step: NumPy, Numba, roofline, temporal blocking.

Usage::

    NUMBA_NUM_THREADS=1 python benchmarks/weather.py            # 2048^2
    NUMBA_NUM_THREADS=1 python benchmarks/weather.py --quick    # 512^2, < 30 s

Prints a markdown table and writes ``benchmarks/results/weather.png``.
A cell-update is one cell advanced by one step.  The roofline is the
STREAM-triad bandwidth divided by 96 bytes per cell-update (h, u, v and
their three previous tendencies: 6 float64 arrays read and 6 written, in
place).  Every figure is the median of several repetitions, on one core.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np                                          # noqa: E402
from numba import njit                                      # noqa: E402

from hpcmicro.kernels import shallow_water as sw            # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import reference_shallow_water as ref                       # noqa: E402

BYTES_PER_UPDATE = 96
CACHE_LINE = 64
#: offset between consecutive arrays in the shared buffer, in cache lines;
#: a few lines is enough to keep same-size arrays from aliasing in L1/L2
STAGGER_LINES = 5


@njit(cache=True)
def _triad(a, b, c, s):
    for i in range(a.size):
        a[i] = b[i] + s * c[i]


@njit(cache=True)
def _wrap(arrs):
    """Periodic halo of width 1 for each array in a tuple (in place)."""
    for a in arrs:
        ny, nx = a.shape[0] - 2, a.shape[1] - 2
        for j in range(1, ny + 1):
            a[j, 0] = a[j, nx]
            a[j, nx + 1] = a[j, 1]
        for i in range(nx + 2):
            a[0, i] = a[ny, i]
            a[ny + 1, i] = a[1, i]


def median_time(fn, reps):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def stream_triad(n, reps):
    """Bytes per second of ``a = b + s c`` (24 bytes counted per element)."""
    a, b, c = np.zeros(n), np.ones(n), np.full(n, 2.0)
    _triad(a, b, c, 3.0)
    return 24.0 * n / median_time(lambda: _triad(a, b, c, 3.0), reps)


def fields(n, stagger):
    """Six (n+2)^2 arrays, h = 1000 + noise, u, v noise, tendencies small."""
    N = n + 2
    rng = np.random.default_rng(0)
    if stagger:
        step = N * N + STAGGER_LINES * CACHE_LINE // 8
        buf = np.zeros(6 * step + CACHE_LINE)
        arrs = [buf[k * step:k * step + N * N].reshape(N, N) for k in range(6)]
    else:
        arrs = [np.zeros((N, N)) for _ in range(6)]
    arrs[0][:] = 1000.0 + rng.random((N, N))
    arrs[1][:] = rng.random((N, N))
    arrs[2][:] = rng.random((N, N))
    return arrs


def numba_step_rate(n, reps, stagger):
    h, u, v, fh, fu, fv = fields(n, stagger)
    fq = np.full(n + 2, 1.0e-4)
    b = np.zeros((1, 1))
    big = 1 << 40

    def step():
        _wrap((h, u, v))
        sw._dyn_rows(h, u, v, fh, fu, fv, b, False, fq, 1, n + 1, 1, n + 1,
                     -big, big, 1.0e-5, 1.0e-5, 9.81, 1.6, 0.6)

    step()
    return n * n / median_time(step, reps)


def numpy_step_rate(n, reps):
    rng = np.random.default_rng(0)
    state = np.zeros((6, n, n))
    state[0] = 1000.0 + rng.random((n, n))
    state[1:3] = rng.random((2, n, n))

    def step():
        ref.run(state, 1, 1.0e5, 1.0e5, 10.0, 9.81, 1.0e-4, 0.0, False, step0=1)

    return n * n / median_time(step, reps)


def blocked_rate(tile, k, reps):
    """Useful cell-updates/s of k steps on one in-cache padded tile."""
    p = sw.Params(nx=tile, ny=tile, dx=1.0e5, dy=1.0e5, dt=10.0)
    rng = np.random.default_rng(0)
    base = np.zeros((6, tile + 2 * k, tile + 2 * k))
    base[0] = 1000.0 + rng.random(base.shape[1:])
    base[1:3] = rng.random((2,) + base.shape[1:])
    work = base.copy()
    fq = sw.coriolis(p)[np.arange(tile + 2 * k) % tile]
    b = np.zeros((1, 1))
    it = np.zeros((1, 1), dtype=np.int64)
    big = 1 << 40

    def run():
        work[...] = base
        sw._advance(work, b, False, fq, k, 1, -big, big, 1.0e-5, 1.0e-5, 9.81,
                    10.0, 0.1, False, 0.02, 1.0e-3, 4.0, 1.0e-10, 200, it)

    run()
    copy = median_time(lambda: work.__setitem__(Ellipsis, base), reps)
    t = median_time(run, reps) - copy
    redundant = sum((tile + 2 * (k - s)) ** 2 for s in range(1, k + 1)) / (k * tile * tile) - 1
    return tile * tile * k / t, redundant


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="512^2 grid, fewer repetitions")
    ap.add_argument("--n", type=int, default=None, help="grid side (default 2048)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "weather.png"))
    args = ap.parse_args(argv)
    n = args.n or (512 if args.quick else 2048)
    reps = 3 if args.quick else 7
    rows = []
    bw = stream_triad(1 << (22 if args.quick else 25), reps)
    roof = bw / BYTES_PER_UPDATE
    numpy_rate = numpy_step_rate(n, 1 if args.quick else 3)
    nb = numba_step_rate(n, reps, stagger=True)
    nb_plain = numba_step_rate(n, reps, stagger=False)
    rows.append(("NumPy reference", n, numpy_rate))
    rows.append(("Numba, separate arrays", n, nb_plain))
    rows.append(("Numba, staggered buffer", n, nb))
    blocked = []
    for k in (4, 8):
        r, red = blocked_rate(128, k, reps * 3)
        blocked.append((k, r, red))
        rows.append((f"Numba, 128^2 tile, k={k} (halo work {100 * red:.0f}%)", 128, r))
    print(f"STREAM triad (Numba, 1 core): {bw / 1e9:.2f} GB/s; "
          f"roofline {roof:.3g} cell-updates/s ({BYTES_PER_UPDATE} B each)\n")
    print("| variant | grid | cell-updates/s | of roofline | vs NumPy |")
    print("|---|---|---|---|---|")
    for name, grid, rate in rows:
        print(f"| {name} | {grid}^2 | {rate:.3g} | {100 * rate / roof:.0f}% | "
              f"{rate / numpy_rate:.1f}x |")
    _plot(rows, roof, args.out)
    return rows, bw


def _plot(rows, roof, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    names = [r[0].replace(" (", "\n(") for r in rows]
    ax.barh(names, [r[2] for r in rows], color="tab:blue")
    ax.axvline(roof, color="tab:red", ls="--", label="one-step roofline (triad / 96 B)")
    ax.set_xscale("log")
    ax.set_xlabel("cell-updates per second (one core)")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main()
