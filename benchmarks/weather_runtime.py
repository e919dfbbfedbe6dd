"""The weather workload through the runtime, beside the bare kernel.

Run ``python benchmarks/weather_runtime.py [--quick] [--repeats 3]``.  In one run:

1. **End-to-end rate, physics off, 2 cores.**  ``hpcmicro run`` with two
   workers (``mpiexec -n 3``; rank 0 only coordinates) against the kernel's
   own 2-core rate: two processes each running the serial tiled driver (the
   same tiles, the same halo work) at the same time.  Rate = cell-updates/s
   over the time from the first task's start to the last task's stop.
2. **Load balance, physics on.**  The ``real`` case (rain from the first
   step, its cost moving with the weather) under ``steal`` and ``static``:
   makespan against an ideal split of the measured per-tile costs, i.e. the
   sum over rounds of max(sum of the round's task times / workers, longest
   task of the round), on 1024x256 and (full run) 1024x512 cells; also
   against all task time / workers, which ignores that a round needs the
   one before (rounds overlap under ``steal`` and ``static``).
3. **Bytes through rank 0 per step**, from the runtime's counters, beside the
   size of one model state.

Results go to ``benchmarks/results/weather_runtime.{md,json,png}``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

OUT = Path(__file__).resolve().parent / "results"


def job_text(out: str, scheduler: str, **weather) -> str:
    """A weather job file."""
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in weather.items())
    return (f'[job]\nworkload = "weather"\noutput = "{out}"\nscheduler = "{scheduler}"\n'
            f"commit_interval = 5.0\n\n[weather]\n{body}\n")


def run_job(tmp: str, scheduler: str, ranks: int, **weather) -> dict:
    """Run one job under mpiexec; return timings and counters from its file."""
    from hpcmicro.cli import find_mpiexec
    out = f"{tmp}/w-{scheduler}-{time.monotonic_ns()}.h5"
    job = Path(f"{tmp}/job.toml")
    job.write_text(job_text(out, scheduler, **weather))
    subprocess.run([find_mpiexec(), "-n", str(ranks), sys.executable, "-m", "hpcmicro", "run",
                    str(job), "-q"], check=True, timeout=1800)
    with h5py.File(out, "r") as f:
        t = f["tasks"]
        st, sp, w = t["start"][...], t["stop"][...], t["worker"][...]
        a = dict(f.attrs)
        per = int(np.prod([len(f["weather/y"]), len(f["weather/x"])]))
    os.unlink(out)
    return {"start": st, "stop": sp, "worker": w, "span": float(sp.max() - st.min()),
            "bytes": int(a["coordinator_bytes_in"] + a["coordinator_bytes_out"]),
            "busy": float(a["coordinator_busy_seconds"]), "cells": per}


def _kernel_worker(args):
    """One process of the bare 2-core measurement: the serial tiled driver."""
    params_d, steps, tile, k, barrier_time = args
    from hpcmicro.kernels.shallow_water import run_tiled
    from hpcmicro.workloads.weather import WeatherParams, build_case
    case = build_case(WeatherParams(**params_d))
    run_tiled(case.state, case.params, k, tile, k, b=case.b)      # load the compiled code
    while time.time() < barrier_time:
        time.sleep(0.001)
    t0 = time.perf_counter()
    run_tiled(case.state, case.params, steps, tile, k, b=case.b)
    return time.perf_counter() - t0


def kernel_two_core(params_d: dict) -> float:
    """Cell-updates/s of two concurrent serial tiled runs (the kernel's 2-core rate)."""
    steps, tile, k = params_d["steps"], params_d["tile"], params_d["steps_per_task"]
    start = time.time() + 5.0
    with mp.get_context("spawn").Pool(2) as pool:
        times = pool.map(_kernel_worker, [(params_d, steps, tile, k, start)] * 2)
    return 2 * params_d["nx"] * params_d["ny"] * steps / max(times)


def ideal_rounds(res: dict, rounds: int, workers: int) -> np.ndarray:
    """Per round: max(total task time / workers, longest task)."""
    d = (res["stop"] - res["start"]).reshape(rounds, -1)
    return np.maximum(d.sum(axis=1) / workers, d.max(axis=1))


def ideal_split(res: dict, rounds: int, workers: int) -> float:
    """Sum over rounds of :func:`ideal_rounds`."""
    return float(np.sum(ideal_rounds(res, rounds, workers)))


def round_stats(res: dict, rounds: int, workers: int) -> dict:
    """Median ideal round length and median gap between rounds (first task of
    a round minus last task of the one before, seconds; negative: the rounds
    overlap), and the makespan against the total task time / workers (a
    bound that ignores that a round needs the last one)."""
    st, sp = res["start"].reshape(rounds, -1), res["stop"].reshape(rounds, -1)
    ideal = ideal_rounds(res, rounds, workers)
    gap = st[1:].min(axis=1) - sp[:-1].max(axis=1)
    busy = float((res["stop"] - res["start"]).sum()) / workers
    return {"round": float(np.median(ideal)), "gap": float(np.median(gap)),
            "vs_busy": res["span"] / busy}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=None)
    a = ap.parse_args(argv)
    reps = a.repeats or (1 if a.quick else 3)
    n = 256 if a.quick else 1024
    dry = {"case": "jet", "nx": n, "ny": n, "tile": 128, "steps_per_task": 4,
           "steps": 16 if a.quick else 80, "output_every": 16 if a.quick else 80,
           "physics": False}
    moist = {"case": "real", "nx": 256 if a.quick else 1024, "ny": 64 if a.quick else 256,
             "tile": 32 if a.quick else 64, "steps_per_task": 4, "steps": 40 if a.quick else 200,
             "output_every": 40 if a.quick else 200, "physics": True}
    # the same at twice the rows: rounds twice as long, the same fixed cost per round
    moists = [moist] if a.quick else [moist, {**moist, "ny": 512}]
    rows = {"kernel 2-core": [], "hpcmicro steal": [], "hpcmicro static": []}
    bal = {f"{c['nx']}x{c['ny']} {s}": [] for c in moists for s in ("steal", "static")}
    rstats = {k: [] for k in bal}
    traffic = []
    with tempfile.TemporaryDirectory() as tmp:
        run_job(tmp, "steal", 3, **{**dry, "steps": 4, "output_every": 4})   # warm the caches
        for _ in range(reps):
            rows["kernel 2-core"].append(kernel_two_core(dry))
            for s in ("steal", "static"):
                r = run_job(tmp, s, 3, **dry)
                rows[f"hpcmicro {s}"].append(r["cells"] * dry["steps"] / r["span"])
                traffic.append(r["bytes"] / dry["steps"])
            for c in moists:
                rounds = c["steps"] // c["steps_per_task"]
                for s in ("steal", "static"):
                    r = run_job(tmp, s, 3, **c)
                    key = f"{c['nx']}x{c['ny']} {s}"
                    bal[key].append(r["span"] / ideal_split(r, rounds, 2))
                    rstats[key].append(round_stats(r, rounds, 2))
    med = {k: float(np.median(v)) for k, v in rows.items()}
    mbal = {k: float(np.median(v)) for k, v in bal.items()}
    mst = {k: {f: float(np.median([x[f] for x in v])) for f in ("round", "gap", "vs_busy")}
           for k, v in rstats.items()}
    state_bytes = 6 * n * n * 8
    lines = [f"## Weather through the runtime ({'quick' if a.quick else 'full'} run, "
             f"medians of {reps})", "",
             f"Physics off, {n}x{n} jet, tiles of 128, 4 steps per task, {dry['steps']} steps, "
             "2 workers on 2 cores (rank 0 only coordinates):", "",
             "| | cell-updates/s | of the kernel's 2-core rate |", "|---|---:|---:|"]
    for k, v in med.items():
        lines.append(f"| {k} | {v:.3g} | {v / med['kernel 2-core']:.2f} |")
    lines += ["", f"Physics on (`real` case, tiles of {moist['tile']}, {moist['steps_per_task']} "
              f"steps per task, {moist['steps']} steps, 2 workers): makespan / ideal split of "
              "the measured per-tile costs (per round: max(sum of task times / 2, longest "
              "task)); beside it the makespan / (all task time / 2), a bound that ignores "
              "that a round needs the last one, the ideal round length, and the gap between "
              "rounds (first task of a round minus last task of the round before; negative: "
              "under `steal` and `static` rounds flow into each other, with no barrier), "
              "medians:", "",
              "| grid, scheduler | makespan / ideal | makespan / (task time / 2) | ideal round "
              "| gap between rounds |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {k} | {v:.3f} | {mst[k]['vs_busy']:.3f} | {1e3 * mst[k]['round']:.1f} ms | "
              f"{1e3 * mst[k]['gap']:.2f} ms |" for k, v in mbal.items()]
    lines += ["", f"Bytes through rank 0 per step (physics off run, median, incl. the final "
              f"output gather): {np.median(traffic):,.0f} B; one model state is "
              f"{state_bytes:,} B.", ""]
    md = "\n".join(lines)
    OUT.mkdir(parents=True, exist_ok=True)
    tag = "_quick" if a.quick else ""
    (OUT / f"weather_runtime{tag}.md").write_text(md + "\n")
    (OUT / f"weather_runtime{tag}.json").write_text(json.dumps(
        {"rates": rows, "balance": bal, "round_stats": rstats, "bytes_per_step": traffic,
         "state_bytes": state_bytes},
        indent=1))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.bar(list(med), list(med.values()), color=["grey", "tab:blue", "tab:orange"])
    a1.set_ylabel("cell-updates per second")
    a1.set_title(f"Physics off, {n}² grid, 2 cores")
    a2.bar([k.replace(" ", "\n") for k in mbal], list(mbal.values()),
           color=["tab:blue", "tab:orange"] * (len(mbal) // 2))
    a2.axhline(1.1, color="k", ls="--", lw=1, label="target 1.1")
    a2.set_ylim(0, 1.3 * max(1.1, *mbal.values()))
    a2.set_ylabel("makespan / ideal split")
    a2.set_title("Physics on (real case), 2 workers")
    a2.legend(loc="upper center", ncols=1, frameon=False)
    fig.tight_layout()
    fig.savefig(OUT / f"weather_runtime{tag}.png", dpi=110)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
