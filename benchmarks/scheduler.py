"""Scheduler benchmark: hpcmicro's three schedulers beside mpi4py.futures.

Run ``python benchmarks/scheduler.py [--quick] [--repeats 5]``.  In one run it
measures, side by side:

1. empty-task throughput (tasks/s) with 3 workers;
2. makespan efficiency with 8 workers on sleep tasks (lognormal and Pareto,
   random/ascending/descending order, 400 and 2,000 tasks, mean 5 ms), for
   ``steal`` with exact, noisy (sigma 0.5) and no estimates, ``dynamic`` and
   ``static`` with exact estimates, and mpi4py.futures with ``chunksize=1``;
   next to each: a zero-overhead first-come simulation, offline
   longest-first (LPT) with exact costs, and static blocks;
3. the coordinator's CPU use while the workers are busy.

Efficiency = (sum of task durations / workers) / (last stop - first start).
Figures are medians over ``--repeats`` runs.  Tasks sleep, so the 2-core
machine measures the scheduler, not CPU contention.  Results go to
``benchmarks/results/scheduler.{md,json,png}``.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results"
WORKERS = 8
THROUGHPUT_WORKERS = 3


# -- cases -------------------------------------------------------------------
def cases(quick: bool) -> list[dict]:
    """Workloads of the makespan benchmark."""
    sizes = [400] if quick else [400, 2000]
    dists = [("lognormal", {"sigma": 1.0})] + ([] if quick else [("pareto", {"alpha": 1.5})])
    orders = ["random"] if quick else ["random", "ascending", "descending"]
    out = []
    for n in sizes:
        for dist, shape in dists:
            for order in orders:
                out.append({"n_tasks": n, "distribution": dist, "order": order, "mean_ms": 5.0,
                            **shape})
    return out


CONFIGS = [("steal", 0.0), ("steal", 0.5), ("steal", "none"), ("dynamic", 0.0), ("static", 0.0)]


def label(case: dict) -> str:
    """Short name of a case."""
    return f"{case['distribution'][:4]}-{case['order'][:4]}-{case['n_tasks']}"


def job_text(case: dict, scheduler: str, noise, out: str, seed: int) -> str:
    """A synthetic job file for one case."""
    noise_s = '"none"' if noise == "none" else repr(float(noise))
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in case.items())
    return (f'[job]\nworkload = "synthetic"\noutput = "{out}"\nscheduler = "{scheduler}"\n'
            f"seed = {seed}\ncommit_interval = 1.0\n\n[synthetic]\n{body}\n"
            f"mode = \"sleep\"\ncost_noise = {noise_s}\n")


# -- simulations (zero overhead) ---------------------------------------------
def sim_first_come(d: np.ndarray, w: int) -> float:
    """Makespan when each task, in order, goes to the first free worker."""
    free = [0.0] * w
    for x in d:
        t = heapq.heappop(free)
        heapq.heappush(free, t + x)
    return max(free)


def sim_lpt(d: np.ndarray, w: int) -> float:
    """Makespan of offline longest-first placement with exact costs."""
    return sim_first_come(np.sort(d)[::-1], w)


def sim_static(d: np.ndarray, est: np.ndarray, w: int) -> float:
    """Makespan of contiguous blocks of equal estimated cost."""
    csum = np.cumsum(est)
    cuts = np.searchsorted(csum, csum[-1] * np.arange(1, w) / w, side="right")
    return max(b.sum() for b in np.split(d, cuts))


def efficiency(d, start, stop, w) -> float:
    """(sum of durations / workers) / (last stop - first start)."""
    return float(d.sum() / w / (stop.max() - start.min()))


# -- the hpcmicro world (runs under mpiexec) ---------------------------------
def world_hpcmicro(spec_path: str, out_path: str) -> None:
    """Run every job of the spec in one MPI world; rank 0 writes the timings."""
    import h5py
    from hpcmicro.config import load_job
    from hpcmicro.runner import run_master, run_worker
    from hpcmicro.transport import MPITransport
    tp = MPITransport()
    workers = list(range(1, tp.size))
    if tp.rank != 0:
        while True:
            cfg = tp.bcast(None)
            if cfg is None:
                break
            start = tp.bcast(None)
            run_worker(tp, cfg, start[0], workers, handle_signals=False)
            tp.shutdown()
        return
    spec = json.loads(Path(spec_path).read_text())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, job in enumerate(spec):
            out = f"{tmp}/job{k}.h5"
            cfg = load_job(None, text=job_text(job["case"], job["scheduler"], job["noise"], out,
                                               job["seed"]), environ={})
            tp.bcast(cfg)
            ru0, w0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            run_master(tp, cfg, resume=False, workers=workers, quiet=True,
                       go=lambda p: tp.bcast(p))
            wall = time.perf_counter() - w0
            ru1 = resource.getrusage(resource.RUSAGE_SELF)
            tp.shutdown()
            cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
            with h5py.File(out, "r") as f:
                loop_cpu = float(f.attrs["coordinator_cpu_seconds"])
                loop_wall = float(f.attrs["coordinator_busy_seconds"])
                t = f["tasks"]
                d, st, sp = f["synthetic/duration"][...], t["start"][...], t["stop"][...]
                stolen = int(t["stolen"][...].sum())
            rows.append({**job, "eff": efficiency(d, st, sp, len(workers)), "wall": wall,
                         "span": float(sp.max() - st.min()), "cpu": cpu, "stolen": stolen,
                         "loop_cpu": loop_cpu, "loop_wall": loop_wall,
                         "n": len(d)})
            os.unlink(out)
    tp.bcast(None)
    Path(out_path).write_text(json.dumps(rows))


# -- the mpi4py.futures world (runs under mpiexec -m mpi4py.futures) ----------
def _sleep_task(x: float):
    t0 = time.time()
    if x > 0:
        time.sleep(x)
    return t0, time.time()


def _empty_task(x):
    return x


def world_futures(spec_path: str, out_path: str) -> None:
    """Run the spec through MPIPoolExecutor; write the timings."""
    from mpi4py.futures import MPIPoolExecutor
    from hpcmicro.workloads.synthetic import SyntheticParams, durations
    spec = json.loads(Path(spec_path).read_text())
    rows = []
    with MPIPoolExecutor() as ex:
        w = ex.num_workers
        list(ex.map(_empty_task, range(100)))      # warm the pool
        for job in spec:
            if job["kind"] == "throughput":
                n, chunk = job["n"], job["chunksize"]
                t0 = time.perf_counter()
                for _ in ex.map(_empty_task, range(n), chunksize=chunk):
                    pass
                rows.append({**job, "rate": n / (time.perf_counter() - t0)})
                continue
            p = SyntheticParams(**job["case"])
            d = durations(p, job["seed"])
            t0 = time.time()
            stamps = np.array(list(ex.map(_sleep_task, d.tolist(), chunksize=1)))
            rows.append({**job, "eff": efficiency(d, stamps[:, 0], stamps[:, 1], w),
                         "wall": time.time() - t0})
    Path(out_path).write_text(json.dumps(rows))


# -- driver ------------------------------------------------------------------
def mpirun(n: int, args: list[str], futures=False) -> None:
    """Launch this script under mpiexec with ``n`` ranks."""
    from hpcmicro.cli import find_mpiexec
    mod = ["-m", "mpi4py.futures"] if futures else []
    cmd = [find_mpiexec(), "-n", str(n), sys.executable, *mod, str(Path(__file__).resolve()), *args]
    subprocess.run(cmd, check=True, timeout=3600)


def run_world(n: int, spec: list, kind: str) -> list:
    """Run ``spec`` in a world of ``n`` ranks; returns its rows."""
    with tempfile.TemporaryDirectory() as tmp:
        sp, op = f"{tmp}/spec.json", f"{tmp}/out.json"
        Path(sp).write_text(json.dumps(spec))
        mpirun(n, [f"--_world={kind}", sp, op], futures=(kind == "futures"))
        return json.loads(Path(op).read_text())


def med(rows, key="eff"):
    """Median of ``key`` over rows."""
    return float(np.median([r[key] for r in rows])) if rows else float("nan")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small smoke run (under 2 minutes)")
    ap.add_argument("--repeats", type=int, default=None, help="runs per figure (default 5; "
                    "1 with --quick)")
    ap.add_argument("--replot", action="store_true",
                    help="redraw the table and plot from results/scheduler.json (no runs)")
    ap.add_argument("--_world", help=argparse.SUPPRESS)
    ap.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._world == "hpcmicro":
        world_hpcmicro(*a.paths)
        return 0
    if a._world == "futures":
        world_futures(*a.paths)
        return 0
    reps = a.repeats or (1 if a.quick else 5)
    if a.replot:
        d = json.loads((OUT / f"scheduler{'_quick' if a.quick else ''}.json").read_text())
        print(write_report(d["throughput"], d["makespan"], d["ratios"], d["cpu"],
                           d["cpu_whole"], reps, a.quick))
        return 0
    cs = cases(a.quick)
    OUT.mkdir(parents=True, exist_ok=True)
    from hpcmicro.workloads.synthetic import SyntheticParams, durations, estimates

    # 1. throughput with 3 workers
    n_empty = 50_000 if a.quick else 300_000
    tspec = [{"case": {"n_tasks": n_empty, "distribution": "constant", "mean_ms": 0.0},
              "scheduler": s, "noise": 0.0, "seed": r} for r in range(reps)
             for s in ("steal", "dynamic", "static")]
    trows = run_world(THROUGHPUT_WORKERS + 1, tspec, "hpcmicro")
    n_f1 = 5_000 if a.quick else 20_000
    fspec = [{"kind": "throughput", "n": n_f1, "chunksize": 1, "seed": r} for r in range(reps)]
    fspec += [{"kind": "throughput", "n": n_empty, "chunksize": n_empty // THROUGHPUT_WORKERS,
               "seed": r} for r in range(reps)]
    frows = run_world(THROUGHPUT_WORKERS + 1, fspec, "futures")
    thr = {f"hpcmicro {s}": float(np.median([r["n"] / r["wall"] for r in trows
                                             if r["scheduler"] == s])) for s in ("steal", "dynamic", "static")}
    thr["mpi4py.futures chunksize=1"] = med([r for r in frows if r["chunksize"] == 1], "rate")
    thr["mpi4py.futures chunksize=N/workers"] = med([r for r in frows if r["chunksize"] > 1], "rate")

    # 2. makespan efficiency with 8 workers
    mspec = [{"case": c, "scheduler": s, "noise": nz, "seed": 100 + r}
             for r in range(reps) for c in cs for s, nz in CONFIGS]
    mrows = run_world(WORKERS + 1, mspec, "hpcmicro")
    fm = run_world(WORKERS + 1, [{"kind": "makespan", "case": c, "seed": 100 + r}
                                 for r in range(reps) for c in cs], "futures")
    table, ratios = [], []
    seeds = [100 + r for r in range(reps)]
    for c in cs:
        lab = label(c)
        p = SyntheticParams(**c)
        sims = {}                          # seed -> the simulations of those durations
        for seed in seeds:
            d = durations(p, seed)
            ideal = d.sum() / WORKERS
            sims[seed] = {"sim first-come": ideal / sim_first_come(d, WORKERS),
                          "sim LPT exact": ideal / sim_lpt(d, WORKERS),
                          "sim static blocks": ideal / sim_static(d, estimates(p, d, seed),
                                                                  WORKERS)}
        row = {"case": lab}
        for k in ("sim first-come", "sim LPT exact", "sim static blocks"):
            row[k] = float(np.median([sims[sd][k] for sd in seeds]))
        fut = {r["seed"]: r["eff"] for r in fm if label(r["case"]) == lab}
        row["futures cs=1"] = float(np.median(list(fut.values())))
        runs = {}
        for s_, nz in CONFIGS:
            sel = {r["seed"]: r["eff"] for r in mrows if label(r["case"]) == lab
                   and r["scheduler"] == s_ and r["noise"] == nz}
            runs[(s_, nz)] = sel
            row[f"{s_} est={nz}"] = float(np.median(list(sel.values())))
        table.append(row)
        # Targets compare each run with the simulation of its own durations.
        ratios.append({"case": lab,
                       "steal exact / LPT": float(np.median(
                           [runs[("steal", 0.0)][sd] / sims[sd]["sim LPT exact"] for sd in seeds])),
                       "steal sigma0.5 / LPT": float(np.median(
                           [runs[("steal", 0.5)][sd] / sims[sd]["sim LPT exact"] for sd in seeds])),
                       "steal none / first-come": float(np.median(
                           [runs[("steal", "none")][sd] / sims[sd]["sim first-come"] for sd in seeds])),
                       "(worst run)": float(min(
                           runs[("steal", "none")][sd] / sims[sd]["sim first-come"] for sd in seeds)),
                       "steal exact / futures": float(np.median(
                           [runs[("steal", 0.0)][sd] / fut[sd] for sd in seeds]))})
    big = max(c["n_tasks"] for c in cs)
    cpu = {s: float(np.median([r["loop_cpu"] / r["loop_wall"] for r in mrows
                               if r["scheduler"] == s and r["case"]["n_tasks"] == big]))
           for s in ("steal", "dynamic", "static")}
    whole = float(np.median([r["cpu"] / r["wall"] for r in mrows if r["case"]["n_tasks"] == big]))
    report = write_report(thr, table, ratios, cpu, whole, reps, a.quick)
    print(report)
    return 0


def write_report(thr, table, ratios, cpu, whole, reps, quick) -> str:
    """Write scheduler.md/json/png and return the markdown."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    lines = [f"## Scheduler ({'quick' if quick else 'full'} run, medians of {reps})", "",
             f"Machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}",
             "", f"### Empty-task throughput, {THROUGHPUT_WORKERS} workers", "",
             "| scheduler | tasks/s |", "|---|---:|"]
    lines += [f"| {k} | {v:,.0f} |" for k, v in thr.items()]
    cols = list(table[0])[1:]
    lines += ["", f"### Makespan efficiency, {WORKERS} workers (sleep tasks, mean 5 ms)", "",
              "| case | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols)]
    for row in table:
        lines.append(f"| {row['case']} | " + " | ".join(f"{row[c]:.3f}" for c in cols) + " |")
    rcols = list(ratios[0])[1:]
    lines += ["", "Per-run ratios (each run against the simulation of its own durations; "
              "medians over the repeats; '(worst run)' is the lowest single run of the column "
              "before it). 'sim LPT exact' is also the bound set by the largest task, which no "
              "schedule beats.", "",
              "| case | " + " | ".join(rcols) + " |", "|---|" + "---:|" * len(rcols)]
    for row in ratios:
        lines.append(f"| {row['case']} | " + " | ".join(f"{row[c]:.3f}" for c in rcols) + " |")
    lines += ["", "Worst case over the table: " + ", ".join(
        f"{c} {min(r[c] for r in ratios):.3f}" for c in rcols), "",
              "Coordinator CPU while the workers are busy (rank 0's process CPU time / wall "
              "time of its loop), median: " + ", ".join(f"{s} {100 * v:.2f}%" for s, v in cpu.items())
              + f" of a core; whole run including file creation and close: {100 * whole:.2f}%", ""]
    md = "\n".join(lines)
    (OUT / f"scheduler{'_quick' if quick else ''}.md").write_text(md + "\n")
    (OUT / f"scheduler{'_quick' if quick else ''}.json").write_text(
        json.dumps({"throughput": thr, "makespan": table, "ratios": ratios, "cpu": cpu,
                    "cpu_whole": whole}, indent=1))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [1, 3]})
    a1.bar(range(len(thr)), list(thr.values()), color="tab:blue")
    a1.set_xticks(range(len(thr)), [k.replace("mpi4py.futures", "futures").replace(" chunk", "\nchunk")
                                     for k in thr], rotation=45, ha="right", fontsize=8)
    a1.set_yscale("log")
    a1.set_ylabel("empty tasks per second (log)")
    a1.set_title(f"Throughput, {THROUGHPUT_WORKERS} workers")
    show = ["futures cs=1", "static est=0.0", "dynamic est=0.0", "steal est=none", "steal est=0.5",
            "steal est=0.0", "sim LPT exact"]
    x = np.arange(len(table))
    wdt = 0.8 / len(show)
    for k, c in enumerate(show):
        a2.bar(x + k * wdt, [r[c] for r in table], wdt, label=c)
    a2.set_xticks(x + 0.4 - wdt / 2, [r["case"] for r in table], rotation=45, ha="right", fontsize=8)
    a2.set_ylim(0, 1.05)
    a2.set_ylabel("makespan efficiency")
    a2.set_title(f"Makespan efficiency, {WORKERS} workers, sleep tasks")
    a2.legend(fontsize=8, ncol=len(show), loc="upper center", bbox_to_anchor=(0.5, -0.3),
              frameon=False)
    fig.tight_layout()
    fig.savefig(OUT / f"scheduler{'_quick' if quick else ''}.png", dpi=110)
    return md


if __name__ == "__main__":
    sys.exit(main())
