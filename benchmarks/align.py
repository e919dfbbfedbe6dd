"""Single-core Smith-Waterman throughput: hpcmicro's kernel vs parasail and Biopython.

Run ``python benchmarks/align.py [--quick] [--repeats 3] [--end-to-end]``.
Queries are drawn (fixed seed) from Debian's mmseqs2-examples QUERY.fasta.gz
and searched against DB.fasta.gz (install with scripts/install_align_data.sh)
with BLOSUM62, gap_open 11, gap_extend 1.  In one run, side by side:

1. hpcmicro's ``search`` (8-bit inter-sequence SIMD, exact rescoring), on
   the whole score matrix, database packing included;
2. parasail's ``sw_striped_profile_sat`` (8-bit, retried in 16-bit on
   overflow) and ``sw_striped_profile_16``, one profile per query (its
   construction timed), the best instruction set parasail dispatches to;
3. Biopython's ``PairwiseAligner`` (local, score only) on a small subset;
4. the traceback of each query's top 10 hits (coordinates and CIGARs):
   all of a query's hits side by side in lanes vs one pair at a time.

Tools take turns on blocks of 10 queries within each repeat, so load from
other processes, which comes and goes, hits all of them alike.  GCUPS = sum
of query lengths x sum of database residues / CPU seconds
(``time.process_time``), the median of ``--repeats`` runs.  Every score of every pair of every run is compared with parasail's:
any difference aborts the benchmark.  ``--end-to-end`` also times
``hpcmicro run`` of the same search with 2 workers (3 ranks) against the
search alone on 2 cores (2 threads taking query blocks), taking turns;
``--whole`` does the same for the whole search of ``jobs/align_uniprot.toml``
(all 500 queries, 2 runs each).  Results go to
``benchmarks/results/align.{md,json,png}`` (``align_quick.*`` with --quick).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

DATA = Path("/usr/share/doc/mmseqs2/example-data")
HERE = Path(__file__).resolve().parent
OUT = HERE / "results"
JOB = HERE.parent / "jobs" / "align_uniprot.toml"
LETTERS = "ARNDCQEGHILKMFPSTWYVBZX*"
GO, GE = 11, 1
#: Biopython is ~1000x slower: this many queries x targets of the sample.
BIO_QUERIES, BIO_TARGETS = 2, 40
#: End-to-end criterion: a 2-worker run within this factor of the search alone on 2 cores.
E2E_TARGET = 1.3


def cpu(fn):
    """Return (CPU seconds, result) of fn()."""
    t = time.process_time()
    out = fn()
    return time.process_time() - t, out


def load(n_q: int | None, n_t: int | None, seed: int) -> dict:
    """Draw the query and database sample and encode it every way the tools need."""
    from hpcmicro.seqio import read_fasta
    db = read_fasta(DATA / "DB.fasta.gz", "protein")
    qs = read_fasta(DATA / "QUERY.fasta.gz", "protein")
    rng = np.random.default_rng(seed)
    n_q = len(qs) if n_q is None else n_q
    qi = np.sort(rng.choice(len(qs), n_q, replace=False)) if n_q < len(qs) else np.arange(n_q)
    n_t = len(db) if n_t is None else n_t
    ti = np.sort(rng.choice(len(db), n_t, replace=False)) if n_t < len(db) else np.arange(len(db))
    qcodes = [qs.get(i) for i in qi]
    tcodes = [db.get(i) for i in ti]
    return {
        "qids": [qs.ids[i] for i in qi], "tids": [db.ids[i] for i in ti],
        "n_t": n_t, "all_db": n_t == len(db),
        "qstr": ["".join(LETTERS[c] for c in s) for s in qcodes],
        "tstr": ["".join(LETTERS[c] for c in s) for s in tcodes],
        "qcat": np.concatenate(qcodes), "tcat": np.concatenate(tcodes),
        "qoff": np.concatenate([[0], np.cumsum([len(s) for s in qcodes])]).astype(np.int64),
        "toff": np.concatenate([[0], np.cumsum([len(s) for s in tcodes])]).astype(np.int64),
    }


#: Queries per turn: the tools take turns on blocks of this many queries, so
#: that load from other jobs, which comes and goes over seconds, hits each
#: tool alike (whole 50-query turns, 13-55 s each, let it favour one tool).
TURN_QUERIES = 10


def search_block(d: dict, mat: np.ndarray, packed, a: int, b: int) -> np.ndarray:
    """hpcmicro's search of queries a..b-1 against the packed database."""
    from hpcmicro.kernels import smith_waterman as sw
    qoff = d["qoff"]
    return sw.search(d["qcat"][qoff[a]:qoff[b]], qoff[a:b + 1] - qoff[a], d["tcat"], d["toff"],
                     mat, GO, GE, packed=packed)


def tools(d: dict) -> dict:
    """name -> (setup, run): ``setup()`` returns a context (its CPU time is the
    tool's too), ``run(ctx, a, b)`` the int64 score rows of queries a..b-1."""
    import parasail
    from hpcmicro.kernels import smith_waterman as sw
    mat = sw.load_matrix("BLOSUM62")

    def pack():
        return sw.pack_targets(d["tcat"], d["toff"], mat.shape[0])

    def ours(packed, a, b):
        return search_block(d, mat, packed, a, b)

    def par(name, make):
        fn = getattr(parasail, name)

        def run(_, a, b):
            out = np.zeros((b - a, len(d["tstr"])), np.int64)
            for row, q in zip(out, d["qstr"][a:b]):
                prof = make(q, parasail.blosum62)
                for k, t in enumerate(d["tstr"]):
                    row[k] = fn(prof, t, GO, GE).score
            return out
        return (lambda: None), run

    return {"hpcmicro search (8-bit SIMD + exact rescoring)": (pack, ours),
            "parasail sw_striped_profile_sat": par("sw_striped_profile_sat",
                                                   parasail.profile_create_sat),
            "parasail sw_striped_profile_16": par("sw_striped_profile_16",
                                                  parasail.profile_create_16)}


def one_repeat(d: dict, run: dict) -> tuple[dict, dict]:
    """Every tool on every query, taking turns by blocks; CPU seconds and scores per tool."""
    nq = len(d["qoff"]) - 1
    ctx, secs, scores = {}, {}, {}
    for name, (setup, _) in run.items():
        secs[name], ctx[name] = cpu(setup)
        scores[name] = np.zeros((nq, len(d["tstr"])), np.int64)
    for a in range(0, nq, TURN_QUERIES):
        b = min(nq, a + TURN_QUERIES)
        for name, (_, fn) in run.items():
            dt, rows = cpu(lambda: fn(ctx[name], a, b))
            secs[name] += dt
            scores[name][a:b] = rows
    return secs, scores


def biopython(d: dict, ref: np.ndarray) -> tuple[float, float]:
    """(cells, CPU seconds) of Biopython on the subset; its scores checked against ref."""
    from Bio.Align import PairwiseAligner, substitution_matrices
    al = PairwiseAligner(mode="local", substitution_matrix=substitution_matrices.load("BLOSUM62"),
                         open_gap_score=-GO, extend_gap_score=-GE)
    bq, bt = d["qstr"][:BIO_QUERIES], d["tstr"][:BIO_TARGETS]
    dt, bio = cpu(lambda: np.array([[al.score(q, t) for t in bt] for q in bq]))
    bad = int((bio.astype(np.int64) != ref[:len(bq), :len(bt)]).sum())
    if bad:
        raise SystemExit(f"ERROR: {bad} Biopython scores differ from parasail's")
    return float(sum(map(len, bq))) * float(sum(map(len, bt))), dt


def traceback(d: dict, scores: np.ndarray, repeats: int, top_k: int = 10) -> dict:
    """CPU time of aligning each query's top hits: lanes (``sw_align_many``, what
    ``hpcmicro run`` does) vs one pair at a time (``sw_align``), taking turns;
    the alignments must be identical."""
    from hpcmicro.kernels import smith_waterman as sw
    from hpcmicro.workloads.align import top_hits
    mat = sw.load_matrix("BLOSUM62")
    qs = [d["qcat"][d["qoff"][i]:d["qoff"][i + 1]] for i in range(len(d["qoff"]) - 1)]
    ts = [d["tcat"][d["toff"][i]:d["toff"][i + 1]] for i in range(len(d["toff"]) - 1)]
    hits = [top_hits(row, top_k) for row in scores]     # as the align workload picks them
    cells = float(sum(len(qs[i]) * sum(len(ts[t]) for t in h) for i, h in enumerate(hits)))
    sw.warm_up(mat, GO, GE, align=True)
    lanes_s, pairs_s = [], []
    for _ in range(repeats):
        dt, many = cpu(lambda: [sw.sw_align_many(qs[i], [ts[t] for t in h], mat, GO, GE)
                                for i, h in enumerate(hits)])
        lanes_s.append(dt)
        dt, one = cpu(lambda: [[sw.sw_align(qs[i], ts[t], mat, GO, GE) for t in h]
                               for i, h in enumerate(hits)])
        pairs_s.append(dt)
        if many != one:
            raise SystemExit("ERROR: sw_align_many and sw_align disagree")
    return {"hits": int(sum(len(h) for h in hits)), "cells": cells, "lanes_cpu_s": lanes_s,
            "pairs_cpu_s": pairs_s, "speedup": statistics.median(pairs_s)
            / statistics.median(lanes_s)}


#: Query residues per kernel call in :func:`kernel_two_cores`: each call keeps
#: a border of 512 bytes per 4 query rows, so about 1 MiB per call (a core's
#: L2).  One call per thread with all 250 queries of the whole search measured
#: 25 GCUPS on the 2 cores, against 34 with the 50-query benchmark.
KERNEL_BLOCK_RESIDUES = 8192


def kernel_two_cores(d: dict) -> float:
    """Wall seconds of the search alone on 2 cores: 2 threads taking query blocks.

    The queries are cut into an even number of blocks of equal residues
    (about :data:`KERNEL_BLOCK_RESIDUES` each) that 2 threads take in turn;
    the database is packed once beforehand (a worker packs each chunk once
    too).  The kernels release the GIL, so the threads run in parallel.
    """
    from concurrent.futures import ThreadPoolExecutor
    from hpcmicro.kernels import smith_waterman as sw
    mat = sw.load_matrix("BLOSUM62")
    packed = sw.pack_targets(d["tcat"], d["toff"], mat.shape[0])
    qoff = d["qoff"]
    nq = len(qoff) - 1
    n_blocks = min(nq, 2 * max(1, round(qoff[-1] / 2 / KERNEL_BLOCK_RESIDUES)))
    cuts = np.searchsorted(qoff, np.arange(1, n_blocks) * qoff[-1] / n_blocks)
    bounds = np.unique(np.concatenate([[0], np.clip(cuts, 1, nq - 1), [nq]]))

    t = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda k: search_block(d, mat, packed, bounds[k], bounds[k + 1]),
                      range(len(bounds) - 1)))
    return time.perf_counter() - t


def run_job(d: dict, whole: bool = False) -> dict:
    """One ``hpcmicro run -n 3`` of the search (``whole``: the job file's own inputs)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["hpcmicro", "run", str(JOB), "-n", "3", "-o", str(Path(tmp) / "out.h5"), "-q"]
        if not whole:
            qfile = Path(tmp) / "queries.fasta"
            qfile.write_text("".join(f">{i}\n{s}\n" for i, s in zip(d["qids"], d["qstr"])))
            dbfile = DATA / "DB.fasta.gz"
            if not d["all_db"]:  # the same sample of the database
                dbfile = Path(tmp) / "db.fasta"
                dbfile.write_text("".join(f">{i}\n{s}\n" for i, s in zip(d["tids"], d["tstr"])))
            cmd += ["--set", f"align.queries={qfile}", "--set", f"align.database={dbfile}"]
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        launched = time.time()
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m"] + cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode:
            raise SystemExit(f"ERROR: {' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
        phases = task_phase(Path(tmp) / "out.h5", launched, launched + wall)
    cmd[cmd.index("-o") + 1] = "OUT.h5"
    return {"command": " ".join(c.replace(tmp, "TMP") for c in cmd), "wall_s": wall,
            "ranks_cpu_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
            **phases}


def end_to_end(d: dict, kernel_cpu: float | None, repeats: int, whole: bool = False) -> dict:
    """``hpcmicro run`` with 2 workers vs the search alone on 2 cores, taking turns.

    Each repeat times the kernel on 2 cores (:func:`kernel_two_cores`) and
    then the run; the ratio is of the medians.  ``kernel_cpu / 2`` (the
    one-core CPU time of the table, halved) is kept beside it.
    """
    kernel, runs = [], []
    for rep in range(repeats):
        kernel.append(kernel_two_cores(d))
        runs.append(run_job(d, whole))
        print(f"  end to end{' (whole search)' if whole else ''}, run {rep + 1}: kernel on 2 "
              f"cores {kernel[-1]:.2f} s, hpcmicro run {runs[-1]['wall_s']:.2f} s",
              file=sys.stderr)
    walls = [r["wall_s"] for r in runs]
    mid = runs[walls.index(sorted(walls)[(len(walls) - 1) // 2])]  # the median run's phases
    k2 = statistics.median(kernel)
    return {**mid, "wall_s": statistics.median(walls), "walls_s": walls,
            "kernel_2_cores_runs_s": kernel, "kernel_2_cores_s": k2,
            "kernel_cpu_s": kernel_cpu,
            "kernel_cpu_half_s": None if kernel_cpu is None else kernel_cpu / 2,
            "ratio": statistics.median(walls) / k2, "target": E2E_TARGET,
            "queries": len(d["qoff"]) - 1, "cells": float(d["qoff"][-1]) * float(d["toff"][-1])}


def task_phase(path: Path, launched: float | None = None, ended: float | None = None) -> dict:
    """From a finished run's file: its phases, the span of its tasks and the busy time.

    Task times are seconds since the run's clock started (t0, when rank 0
    told the workers to go) and ``wall_seconds`` is t0 to the last attributes
    written; the file's modification time (its close, right after) places the
    run's end, hence t0, on the clock of ``launched`` and ``ended`` (the
    command's start and end, ``time.time()``).  Phases, which add up to the
    wall time: ``startup_s`` launch to t0 (interpreters, MPI, the job file,
    rank 0 reading the input and opening the output), ``to_first_task_s`` t0
    to the first task (workers finishing their set-up), ``task_span_s``,
    ``after_tasks_s`` last task to the end of the run (merging, alignment of
    the hits, HDF5), ``exit_s`` the end of the run to the command's exit.
    """
    import h5py
    with h5py.File(path, "r") as f:
        start, stop = f["tasks/start"][...], f["tasks/stop"][...]
        run_wall = float(f.attrs["wall_seconds"])
        out = {"run_wall_s": run_wall,
               "task_span_s": float(stop.max() - start.min()),
               "task_busy_s": float((stop - start).sum()),
               "coordinator_cpu_s": float(f.attrs["coordinator_cpu_seconds"]),
               "to_first_task_s": float(start.min()),
               "after_tasks_s": run_wall - float(stop.max())}
    if launched is not None and ended is not None:
        run_end = os.stat(path).st_mtime
        out["startup_s"] = run_end - run_wall - launched
        out["exit_s"] = ended - run_end
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10 queries x 2,000 proteins, < 60 s")
    ap.add_argument("--queries", type=int, help="number of queries (default 50, quick 10)")
    ap.add_argument("--targets", type=int, help="database proteins (default all, quick 2000)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per tool (median; default 3)")
    ap.add_argument("--end-to-end", action="store_true",
                    help="also time hpcmicro run -n 3 against the search alone on 2 cores")
    ap.add_argument("--whole", action="store_true",
                    help="also time the whole search (all 500 queries, jobs/align_uniprot.toml) "
                         "end to end the same way")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not (DATA / "DB.fasta.gz").exists():
        print(f"{DATA}/DB.fasta.gz not found: run scripts/install_align_data.sh", file=sys.stderr)
        return 1
    n_q = args.queries or (10 if args.quick else 50)
    n_t = args.targets or (2000 if args.quick else None)
    d = load(n_q, n_t, args.seed)
    cells = float(d["qcat"].shape[0]) * float(d["tcat"].shape[0])
    print(f"{n_q} queries ({d['qcat'].shape[0]} residues) x {d['n_t']} proteins "
          f"({d['tcat'].shape[0]} residues) = {cells:.4g} cells, {args.repeats} runs each",
          file=sys.stderr)
    run = tools(d)
    from hpcmicro.kernels import smith_waterman as sw
    for go in (GO, 200):  # load (or compile) the 8-bit and the 16-bit kernels
        sw.search(d["qcat"][:d["qoff"][1]], d["qoff"][:2], d["tcat"][:d["toff"][64]],
                  d["toff"][:65], sw.load_matrix("BLOSUM62"), go, GE)
    times: dict[str, list[float]] = {name: [] for name in run}
    ref = None
    for rep in range(args.repeats):
        secs, results = one_repeat(d, run)
        for name, dt in secs.items():
            times[name].append(dt)
            print(f"  run {rep + 1}: {name}: {dt:.2f} s", file=sys.stderr)
        ref = results["parasail sw_striped_profile_16"]
        for name, scores in results.items():
            bad = int((np.asarray(scores, np.int64) != ref).sum())
            if bad:
                raise SystemExit(f"ERROR: {bad} of {ref.size} scores of {name} differ from "
                                 "parasail sw_striped_profile_16")
    bio_cells, bio_dt = biopython(d, ref)
    rows = [{"tool": name, "cells": cells, "cpu_s": t, "median_s": statistics.median(t),
             "gcups": cells / statistics.median(t) / 1e9} for name, t in times.items()]
    rows.append({"tool": f"Biopython PairwiseAligner ({BIO_QUERIES} x {BIO_TARGETS} subset)",
                 "cells": bio_cells, "cpu_s": [bio_dt], "median_s": bio_dt,
                 "gcups": bio_cells / bio_dt / 1e9})
    summary = {
        "machine": f"{platform.node()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}",
        "queries": n_q, "query_residues": int(d["qcat"].shape[0]), "targets": d["n_t"],
        "whole_database": d["all_db"], "target_residues": int(d["tcat"].shape[0]),
        "cells": cells, "repeats": args.repeats, "seed": args.seed, "scheme": "BLOSUM62 11/1",
        "turn_queries": TURN_QUERIES,
        "pairs_checked": int(ref.size) * args.repeats, "all_scores_identical": True,
        "rows": rows,
    }
    summary["traceback"] = traceback(d, ref, args.repeats)
    if args.end_to_end:
        summary["end_to_end"] = end_to_end(d, rows[0]["median_s"], args.repeats)
    if args.whole:
        whole = load(None, None, args.seed)
        summary["end_to_end_whole"] = end_to_end(whole, None, 2, whole=True)
    report(summary, "_quick" if args.quick else "")
    return 0


def report(s: dict, suffix: str) -> None:
    """Write the table (stdout and .md), the .json and the plot."""
    ours = s["rows"][0]["gcups"]
    sample = ("all" if s["whole_database"] else "a sample of") + f" {s['targets']:,} DB proteins"
    lines = [
        f"## Smith-Waterman, one core{' (quick)' if suffix else ''}", "",
        f"{s['queries']} queries ({s['query_residues']:,} residues, QUERY.fasta.gz, seed "
        f"{s['seed']}) x {sample} ({s['target_residues']:,} residues) = {s['cells']:.4g} "
        f"cells; {s['scheme']}; CPU time, median of {s['repeats']} runs (the tools take turns "
        f"on blocks of {s.get('turn_queries', s['queries'])} queries within each run); "
        f"machine: {s['machine']}, shared with other jobs.", "",
        f"All {s['pairs_checked']:,} scores (every pair, every run) identical to parasail.", "",
        "| tool | GCUPS | CPU s (median) | runs | hpcmicro / tool |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in s["rows"]:
        lines.append(f"| {r['tool']} | {r['gcups']:.2f} | {r['median_s']:.2f} | "
                     f"{len(r['cpu_s'])} | {ours / r['gcups']:.2f}x |")
    if s["whole_database"] and s["queries"] >= 50:  # the workload
        lines += ["", "Targets: hpcmicro >= 2x parasail sw_striped_profile_sat: "
                  + ("met" if ours / s["rows"][1]["gcups"] >= 2 else "NOT met")
                  + "; >= 3x sw_striped_profile_16: "
                  + ("met" if ours / s["rows"][2]["gcups"] >= 3 else "NOT met") + "."]
    tb = s.get("traceback")
    if tb:
        lines += ["", f"Traceback of the top 10 hits of each query ({tb['hits']} alignments, "
                  f"{tb['cells']:.3g} cells), the second pass that gives coordinates and "
                  f"CIGARs: 16 hits side by side in int16 lanes "
                  f"{statistics.median(tb['lanes_cpu_s']):.2f} CPU s, one pair at a time "
                  f"{statistics.median(tb['pairs_cpu_s']):.2f} CPU s (medians of "
                  f"{len(tb['lanes_cpu_s'])}, taking turns): {tb['speedup']:.2f}x; "
                  "identical alignments."]
    for key, title in (("end_to_end", "End to end, same cells"),
                       ("end_to_end_whole", "End to end, the whole search")):
        e = s.get(key)
        if not e:
            continue
        lines += ["", f"{title} ({e['queries']} queries x the {s['targets']:,} proteins, "
                  f"{e['cells']:.3g} cells): `hpcmicro run` with 3 ranks (rank 0 coordinates, 2 "
                  f"work) took {e['wall_s']:.1f} s wall (median of {len(e['walls_s'])}: start-up, "
                  f"FASTA reading, kernel, traceback of the hits, HDF5; {e['ranks_cpu_s']:.1f} CPU "
                  f"s over all ranks in the median run); the search alone on 2 cores (2 threads "
                  f"taking blocks of about {KERNEL_BLOCK_RESIDUES:,} query residues, taking turns "
                  f"with the runs) "
                  f"{e['kernel_2_cores_s']:.1f} s; **ratio {e['ratio']:.2f}** (target <= "
                  f"{e['target']}: {'met' if e['ratio'] <= e['target'] else 'NOT met'})."
                  + (f"  The one-core CPU time of the table / 2 is {e['kernel_cpu_half_s']:.1f} s."
                     if e.get("kernel_cpu_half_s") else "")
                  + f"  Inside the median run the tasks spanned {e['task_span_s']:.1f} s "
                  f"({e['task_busy_s']:.1f} s of task time over the 2 workers; the coordinator "
                  f"used {e['coordinator_cpu_s']:.2f} CPU s).", ""]
        if "startup_s" in e:
            lines += [f"Phases: start-up {e['startup_s']:.2f} s (launch to the run's clock: "
                      f"interpreters, MPI, job file, rank 0 reading the input), "
                      f"{e['to_first_task_s']:.2f} s to the first task (workers finishing their "
                      f"set-up), tasks {e['task_span_s']:.2f} s, after the tasks "
                      f"{e['after_tasks_s']:.2f} s (merge, alignment of the hits, HDF5), exit "
                      f"{e['exit_s']:.2f} s.", ""]
        lines += [f"Command: `{e['command']}`"]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"align{suffix}.md").write_text(text)
    (OUT / f"align{suffix}.json").write_text(json.dumps(s, indent=1) + "\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [r["tool"] for r in s["rows"]][::-1]
    g = [r["gcups"] for r in s["rows"]][::-1]
    fig, ax = plt.subplots(figsize=(10, 3.6))
    bars = ax.barh(names, g, color=["tab:gray"] * (len(g) - 1) + ["tab:blue"])
    for bar, v in zip(bars, g):
        ax.text(v * 1.1, bar.get_y() + bar.get_height() / 2, f"{v:.3g}", va="center")
    ax.set_xscale("log")
    ax.set_xlim(min(g) / 2, max(g) * 4)
    ax.set_xlabel("GCUPS: 10^9 cells per CPU second, one core (log scale)")
    ax.set_ylabel("tool")
    fig.suptitle(f"Smith-Waterman, BLOSUM62 11/1, {s['queries']} queries x {s['targets']:,} "
                 f"proteins ({s['cells']:.3g} cells), median of {s['repeats']} runs", fontsize=10)
    fig.tight_layout()
    fig.savefig(OUT / f"align{suffix}.png", dpi=120)
    plt.close(fig)
    print(f"wrote {OUT}/align{suffix}.md, .json, .png")


if __name__ == "__main__":
    sys.exit(main())
