"""The scheduler at scale, by simulation: 64 to 16,384 workers, 10^5 to 10^7 tasks.

Run ``python benchmarks/simulate_scale.py [--quick] [--latency S] [--msg-cost S]``.

A discrete-event simulator (``benchmarks/_sim/engine.py``) drives hpcmicro's
real ``steal`` and ``dynamic`` policy classes exactly as ``hpcmicro/master.py``
and ``hpcmicro/worker.py`` do, with a per-worker task thread and agent, and a
single master that handles one message at a time at a measured CPU cost.  It
also simulates ``steal+hier``, a proposed design with one sub-master per node
of 32 workers.  The costs (message latency, the master's per-message and
per-task costs, commit costs, the real first placement) are measured on this
machine at the start of the run (``_sim/costs.py``), or overridden on the
command line.  Results go to ``benchmarks/results/scale{,_quick}.{md,json,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
OUT = HERE / "results"

from _sim import costs as sim_costs      # noqa: E402
from _sim.engine import SimConfig, simulate  # noqa: E402
from _sim.placement import PlacementCost  # noqa: E402

POLICIES = ("steal", "dynamic", "steal+hier")
WORKERS = (64, 256, 1024, 4096, 16384)
TASKS = (100_000, 1_000_000, 10_000_000)
#: Batch round trips of ``dynamic`` cost the simulator ~10 us each; 10^7 tasks
#: would be ~10^6 of them on a master that is already saturated at 10^6.
DYNAMIC_MAX_TASKS = 1_000_000
MEAN_MS = 5.0

ASSUMPTIONS = [
    "Time starts when the master begins its first placement (all workers ready, start-up "
    "and Hello messages not simulated); the job ends when the master has recorded the last "
    "result and made the final commit. Efficiency = (sum of durations / workers) / that "
    "makespan. 'task span' efficiency uses first start to last stop instead.",
    "Task durations and estimates are those of the synthetic workload "
    "(hpcmicro.workloads.synthetic: mean 5 ms, lognormal sigma 1 or Pareto alpha 1.5, "
    "random order, exact estimates or none = all equal); tasks never fail; every worker "
    "runs at the same speed; the task thread runs the queue back to back.",
    "A message takes latency + bytes / bandwidth (measured intra-node over MPICH shared "
    "memory with 2 ranks; a network adds little to Python's pickle/unpickle cost, which "
    "dominates). No contention on the network: only the master's CPU is a shared resource.",
    "Worker agents are modelled by their timing, not their CPU: a message is noticed at the "
    "next poll of MPITransport's back-off (20 us doubling to 2 ms after the last send or "
    "receive), local changes (queue at the low-water mark, idle, results due) at the next "
    "2 ms agent tick; the agent's CPU competes with nobody.",
    "The master (and each sub-master) handles one message at a time, in arrival order, "
    "noticing new ones after its policy's poll back-off (steal: 10 ms; dynamic: 0.2-2 ms). "
    "Per message it costs: intake (improbe+recv+unpickle, fitted a+b*k from an MPI burst), "
    "handling (hpcmicro's real Master._handle with record_done on a real ResultStore, "
    "fitted a+b*k), and the isend of any reply (fitted a+b*k). Commits every 1 s when its "
    "queue is empty (as master.py), costing the measured ResultStore.commit per dirty 4096-"
    "task block; under saturation commits wait, as in the real loop.",
    "The first placement is charged at the CPU time of the real StealMaster.initial / "
    "DynamicMaster.initial call, then one isend per worker. Where n x W > 2e9 the real "
    "lpt_placement (O(n x W)) is too slow to run here: its plan comes from an identical "
    "O(n log n) version and its time is extrapolated from a fit to timed real calls "
    "(marked 'extrapolated').",
    "Steal victims: the real StealWorker up to 256 workers; above, a subclass whose "
    "want_work picks the random untried victim by rejection (O(1), same distribution) "
    "instead of listing all untried peers (O(W) per attempt); everything else is the real "
    "class. Peer lists are an O(1)-memory view of ranks 1..W.",
    "Once no task is queued anywhere and none is in flight (steal), no steal can succeed: "
    "idle thieves are then not simulated and their empty requests are counted at the real "
    "back-off's rate (4 per 5 ms + 4 round trips); they are in 'messages/task' only.",
    "steal+hier (the proposed fix, not in hpcmicro): one sub-master rank per node of 32 "
    "workers (an extra core per node, not counted in 'workers'); workers send results to it; "
    "it records them at the master's measured per-message/per-task cost, appends them to a "
    "per-node shard (8 slice writes + bytes, measured) and forwards only a count, at most "
    "every 0.2 s or 10 ms after a worker reported idle; the master deals task ids over "
    "nodes with a stride (no sort) and each sub-master runs the real lpt_placement for its "
    "node in parallel; steals stay peer to peer across the whole job.",
]


def cases(quick: bool, workers=None, tasks=None) -> list[dict]:
    """The grid: (distribution, estimates, n, W, policy)."""
    ws = workers or ((64, 1024, 16384) if quick else WORKERS)
    ns = tasks or ((100_000,) if quick else TASKS)
    out = []
    for n in ns:
        for w in ws:
            for pol in POLICIES:
                if pol == "dynamic" and n > DYNAMIC_MAX_TASKS:
                    continue
                out.append({"dist": "lognormal", "est": "exact", "n": n, "W": w, "policy": pol})
    if not quick and tasks is None:
        for dist, est in (("pareto", "exact"), ("lognormal", "none"), ("pareto", "none")):
            for w in (64, 1024, 16384):
                for pol in POLICIES:
                    out.append({"dist": dist, "est": est, "n": 1_000_000, "W": w,
                                "policy": pol})
    return out


def workload(dist: str, est: str, n: int, seed: int):
    """Durations and estimates from hpcmicro's synthetic workload."""
    from hpcmicro.workloads.synthetic import SyntheticParams, durations, estimates
    p = SyntheticParams(n_tasks=n, distribution=dist, mean_ms=MEAN_MS, sigma=1.0, alpha=1.5,
                        cost_noise=0.0 if est == "exact" else "none")
    d = durations(p, seed)
    return d, estimates(p, d, seed)


def run_grid(grid, costs, seed=1, log=sys.stderr) -> list[dict]:
    """Simulate every case; returns one row per case."""
    rows, cache = [], {}
    placement = PlacementCost()
    for case in grid:
        key = (case["dist"], case["est"], case["n"])
        if key not in cache:
            cache.clear()
            cache[key] = workload(case["dist"], case["est"], case["n"], seed)
        d, est = cache[key]
        cfg = SimConfig(case["policy"], costs, seed=seed, placement=placement)
        t = time.perf_counter()
        r = simulate(cfg, d, est, case["W"])
        r.update(case, sim_seconds=time.perf_counter() - t)
        rows.append(r)
        print(f"  {case['dist']:9s} {case['est']:5s} n={case['n']:>8,} W={case['W']:>5} "
              f"{case['policy']:10s} eff {r['efficiency']:.3f} master {r['master_util']:.2f} "
              f"msgs/task {r['messages_per_task']:.3f} ({r['sim_seconds']:.1f} s)",
              file=log, flush=True)
    return rows


def saturation(rows, policy, dist="lognormal", est="exact", level=0.9) -> dict:
    """Smallest W per n at which the master is busy >= ``level`` of the makespan."""
    out = {}
    for r in rows:
        if (r["policy"], r["dist"], r["est"]) != (policy, dist, est):
            continue
        if r["master_util"] >= level:
            out[r["n"]] = min(out.get(r["n"], 1 << 30), r["W"])
    return out


def breakdown(r, c) -> dict:
    """The master's busy seconds split into first placement (with its isends),
    commits and messages (derived from the row and the cost model)."""
    mk = r["makespan"]
    sends = c.send0 * (r["counts"].get("Assign", 0) if r["policy"] != "steal+hier"
                       else r["counts"].get("NodeAssign", 0)) + c.send1 * r["tasks"]
    place = r["placement_s"] + sends
    commit = r["master_commit_util"] * mk
    return {"placement": place, "commits": commit,
            "messages": max(0.0, r["master_util"] * mk - place - commit)}


def fmt_n(n):
    return f"1e{int(round(np.log10(n)))}" if n >= 10 else str(n)


def report(rows, costs, quick, wall) -> str:
    c = costs
    lines = [f"## Scheduler at scale, simulated ({'quick' if quick else 'full'} run)", "",
             f"Simulated with hpcmicro's real `steal` and `dynamic` policy classes "
             f"(`benchmarks/simulate_scale.py`, {wall:.0f} s on {platform.node()}). "
             "Mean task 5 ms.", "",
             "### Costs used (" + c.source + ")", "",
             "| quantity | value |", "|---|---:|",
             f"| one-way message latency (small message) | {c.latency * 1e6:.1f} us |",
             f"| bandwidth beyond the latency | {c.bandwidth / 1e6:.0f} MB/s |",
             f"| master intake per message (improbe+recv+unpickle) | {c.recv0 * 1e6:.1f} us + "
             f"{c.recv1 * 1e9:.1f} ns/task |",
             f"| master handling of Results (record_done + on_results) | {c.results0 * 1e6:.1f} "
             f"us + {c.results1 * 1e9:.1f} ns/task |",
             f"| => master CPU per Results message of 1 / 40 / 1000 tasks | "
             f"{c.results_cost(1) * 1e6:.1f} / {c.results_cost(40) * 1e6:.1f} / "
             f"{c.results_cost(1000) * 1e6:.1f} us |",
             f"| master handling of MoreWork (on_more_work) | {c.request * 1e6:.1f} us |",
             f"| isend of a message (pickle) | {c.send0 * 1e6:.1f} us + {c.send1 * 1e9:.1f} "
             "ns/task |",
             f"| commit (ResultStore.commit) | {c.commit0 * 1e9:.1f} ns x job size + "
             f"{c.commit_block * 1e3:.2f} ms per dirty 4096-task block |",
             f"| one h5py slice write (shard append, steal+hier) | {c.write0 * 1e6:.0f} us + "
             f"{c.write1 * 1e9:.1f} ns/task |", ""]
    for (dist, est) in dict.fromkeys((r["dist"], r["est"]) for r in rows):
        sel = [r for r in rows if (r["dist"], r["est"]) == (dist, est)]
        lines += [f"### {dist}, estimates {est}", "",
                  "eff = makespan efficiency (bound: largest task / perfect balance); master = "
                  "busy / makespan (of which commits); msgs/task: all messages incl. steals "
                  "(master's own in brackets); place = first placement on the master (s).", "",
                  "| tasks | workers | bound | " + " | ".join(
                      f"{p} eff | {p} master | {p} msgs/task" for p in POLICIES) +
                  " | steal place |", "|---:|---:|---:|" + "---:|" * (3 * len(POLICIES) + 1)]
        for n in sorted({r["n"] for r in sel}):
            for w in sorted({r["W"] for r in sel if r["n"] == n}):
                by = {r["policy"]: r for r in sel if r["n"] == n and r["W"] == w}
                cells = []
                for p in POLICIES:
                    r = by.get(p)
                    if r is None:
                        cells += ["-", "-", "-"]
                        continue
                    cells += [f"{r['efficiency']:.3f}",
                              f"{r['master_util']:.2f} ({r['master_commit_util']:.2f})",
                              f"{r['messages_per_task']:.3g} ({r['master_messages_per_task']:.3g})"]
                b = next(iter(by.values()))["bound"]
                st = by.get("steal")
                place = (f"{st['placement_s']:.2f}" + ("*" if st["placement"] == "extrapolated"
                                                        else "")) if st else "-"
                lines.append(f"| {fmt_n(n)} | {w:,} | {b:.3f} | " + " | ".join(cells) +
                             f" | {place} |")
        lines.append("")
    lines += ["\\* extrapolated from timed real calls (too slow to run here).", ""]
    dyn, st = saturation(rows, "dynamic"), saturation(rows, "steal")
    hier = saturation(rows, "steal+hier")
    lines += ["### Where the single master saturates (busy >= 90% of the makespan, lognormal, "
              "exact estimates)", "",
              "| tasks | dynamic | steal | steal+hier |", "|---:|---:|---:|---:|"]
    main = [r for r in rows if r["dist"] == "lognormal" and r["est"] == "exact"]

    def cell(sat, pol, n):
        if n not in sat:
            return "not within the grid"
        r = next(r for r in main if r["policy"] == pol and r["n"] == n and r["W"] == sat[n])
        b = breakdown(r, c)
        return f"{sat[n]:,} workers ({max(b, key=b.get)})"
    for n in sorted({r["n"] for r in main}):
        lines.append(f"| {fmt_n(n)} | "
                     f"{cell(dyn, 'dynamic', n) if n <= DYNAMIC_MAX_TASKS else 'not run'} | "
                     f"{cell(st, 'steal', n)} | {cell(hier, 'steal+hier', n)} |")
    lines += ["", "In brackets: what the master spent most of its time on.", "",
              "### The master's busy time, by cause (lognormal, exact estimates)", "",
              "Seconds of master CPU: first placement (the policy's `initial` plus one isend "
              "per worker or node) / commits / message handling, against the makespan and the "
              "ideal makespan (sum of durations / workers).", "",
              "| tasks | workers | ideal (s) | " + " | ".join(
                  f"{p}: makespan (s) | {p}: place / commit / msgs (s)" for p in POLICIES) + " |",
              "|---:|---:|---:|" + "---:|" * (2 * len(POLICIES))]
    for n in sorted({r["n"] for r in main}):
        for w in sorted({r["W"] for r in main if r["n"] == n}):
            by = {r["policy"]: r for r in main if r["n"] == n and r["W"] == w}
            ideal = n * MEAN_MS / 1e3 / w
            cells = []
            for p in POLICIES:
                if p not in by:
                    cells += ["-", "-"]
                    continue
                b = breakdown(by[p], c)
                cells += [f"{by[p]['makespan']:.2f}", f"{b['placement']:.2f} / "
                          f"{b['commits']:.2f} / {b['messages']:.2f}"]
            lines.append(f"| {fmt_n(n)} | {w:,} | {ideal:.2f} | " + " | ".join(cells) + " |")
    lines += ["", "### Modelling assumptions", ""] + [f"* {a}" for a in ASSUMPTIONS] + [""]
    return "\n".join(lines)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sel = [r for r in rows if r["dist"] == "lognormal" and r["est"] == "exact"]
    ns = sorted({r["n"] for r in sel})
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    colors = {"steal": "tab:blue", "dynamic": "tab:red", "steal+hier": "tab:green"}
    styles = ["-", "--", ":"]
    for k, n in enumerate(ns):
        for p in POLICIES:
            rr = sorted((r for r in sel if r["n"] == n and r["policy"] == p), key=lambda r: r["W"])
            if not rr:
                continue
            ws = [r["W"] for r in rr]
            kw = dict(color=colors[p], ls=styles[k % 3], marker="o", ms=4,
                      label=f"{p}, {fmt_n(n)} tasks")
            axes[0].plot(ws, [r["efficiency"] for r in rr], **kw)
            axes[1].plot(ws, [r["master_util"] for r in rr], **kw)
            axes[2].plot(ws, [max(r["master_messages_per_task"], 1e-5) for r in rr], **kw)
        bound = sorted({(r["W"], r["bound"]) for r in sel if r["n"] == n})
        axes[0].plot([b[0] for b in bound], [b[1] for b in bound], color="gray",
                     ls=styles[k % 3], lw=1, label=f"bound, {fmt_n(n)} tasks")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("simulated workers")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("makespan efficiency")
    axes[0].set_ylim(0, 1.05)
    axes[0].set_title("Efficiency (lognormal, exact estimates)")
    axes[1].set_ylabel("master busy time / makespan")
    axes[1].set_ylim(0, 1.05)
    axes[1].set_title("Master utilisation")
    axes[2].set_yscale("log")
    axes[2].set_ylabel("messages to/from the master per task (log)")
    axes[2].set_title("Master traffic")
    axes[0].legend(fontsize=6, ncol=2, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 scales, 10^5 tasks (< 60 s)")
    ap.add_argument("--latency", type=float, help="one-way message latency in seconds "
                    "(default: measured)")
    ap.add_argument("--msg-cost", type=float, help="the master's fixed CPU cost per message "
                    "in seconds, intake + handling (default: measured)")
    ap.add_argument("--costs", help="read the cost model from this JSON (a 'costs' entry of "
                    "an earlier scale.json) instead of measuring")
    ap.add_argument("--workers", type=int, nargs="+", help="worker counts (default grid)")
    ap.add_argument("--tasks", type=int, nargs="+", help="task counts (default grid)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--from-json", help="rewrite the report and plot from this scale.json "
                    "without simulating again")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    if a.from_json:
        data = json.loads(Path(a.from_json).read_text())
        costs = sim_costs.CostModel(**data["costs"])
        return write(data["rows"], costs, a.quick, data["wall_seconds"])
    if a.costs:
        data = json.loads(Path(a.costs).read_text())
        costs = sim_costs.CostModel(**data.get("costs", data))
    else:
        print("measuring latency and master costs on this machine ...", file=sys.stderr)
        costs = sim_costs.measure(quick=a.quick)
    costs = costs.with_overrides(a.latency, a.msg_cost)
    grid = cases(a.quick, a.workers, a.tasks)
    rows = run_grid(grid, costs, a.seed)
    return write(rows, costs, a.quick, time.perf_counter() - t0)


def write(rows, costs, quick, wall) -> int:
    """Write scale{,_quick}.{md,json,png} and print the markdown."""
    md = report(rows, costs, quick, wall)
    suffix = "_quick" if quick else ""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"scale{suffix}.md").write_text(md + f"\n![scale](scale{suffix}.png)\n")
    (OUT / f"scale{suffix}.json").write_text(json.dumps(
        {"costs": costs.to_json(), "assumptions": ASSUMPTIONS, "wall_seconds": wall,
         "machine": {"node": platform.node(), "cores": os.cpu_count()}, "rows": rows},
        indent=1, default=float))
    plot(rows, OUT / f"scale{suffix}.png")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
