"""Run every benchmark and collect the results in ``benchmarks/RESULTS.md``.

Run ``python benchmarks/run_all.py [--quick] [--only NAME ...]``.

Each benchmark script runs as a subprocess through its own command line
(``scheduler.py``, ``align.py``, ``weather.py``, ``simulate_scale.py``, each
with ``--quick`` in a quick run).  A script writes its results under
``benchmarks/results/`` (``<name>.md/.json/.png``); one that only prints its
markdown table gets its standard output saved as ``<name>.md``.  Then
``RESULTS.md`` is written: the machine, OS and package versions, the date, and
each benchmark's markdown section with its plot.

``--quick`` is a smoke check (under 2 minutes, asserts no speed): its results go
to ``RESULTS_quick.md`` and ``results/*_quick.*``, and any full-run file a
script overwrote in a quick run (e.g. ``align.png``) is put back, so the
committed full results are never replaced by quick ones.  The exit status is
non-zero if any benchmark failed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

#: name -> (script, extra environment).  Names are the results' file stems.
BENCHMARKS = {
    "scheduler": ("scheduler.py", {}),
    "align": ("align.py", {"OMP_NUM_THREADS": "1"}),
    "weather": ("weather.py", {"NUMBA_NUM_THREADS": "1"}),
    "weather_runtime": ("weather_runtime.py", {}),
    "scale": ("simulate_scale.py", {}),
}
TITLES = {"scheduler": "Scheduler", "align": "Alignment (Smith-Waterman)",
          "weather": "Weather (shallow-water step)",
          "weather_runtime": "Weather through the runtime",
          "scale": "Scheduler at scale (simulated)"}
#: Extra arguments of the full (not --quick) runs.
FULL_ARGS = {"align": ["--end-to-end", "--whole"]}
#: Per-script wall-clock limits (seconds).
TIMEOUT = {True: 300, False: 4 * 3600}


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> list[str]:
    """Header lines: machine, OS, Python and package versions, date."""
    cpu = re.search(r"model name\s*:\s*(.+)", _read("/proc/cpuinfo"))
    mem = re.search(r"MemTotal:\s*(\d+) kB", _read("/proc/meminfo"))
    osr = re.search(r'PRETTY_NAME="?([^"\n]+)', _read("/etc/os-release"))
    probe = (
        "import importlib, sys\n"
        "for m in ('numpy', 'numba', 'mpi4py', 'h5py', 'parasail', 'matplotlib'):\n"
        "    try:\n"
        "        v = importlib.import_module(m).__version__\n"
        "    except Exception as e:\n"
        "        v = f'not available ({type(e).__name__})'\n"
        "    print(f'{m}={v}')\n"
        "try:\n"
        "    import h5py; print(f'HDF5={h5py.version.hdf5_version}')\n"
        "except Exception:\n"
        "    pass\n"
        "try:\n"
        "    from mpi4py import MPI\n"
        "    print('MPI library=' + MPI.Get_library_version().strip().splitlines()[0])\n"
        "except Exception as e:\n"
        "    print(f'MPI library=not available ({type(e).__name__})')\n")
    try:
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             timeout=60, env=_env({})).stdout
    except subprocess.SubprocessError:
        out = ""
    pkgs = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    lines = [
        f"* Machine: {cpu.group(1).strip() if cpu else platform.processor() or '?'}, "
        f"{os.cpu_count()} logical cores, "
        f"{int(mem.group(1)) / 2**20:.1f} GiB memory" if mem else "?",
        f"* OS: {osr.group(1) if osr else platform.system()} ({platform.platform()}), "
        f"load average at the start {os.getloadavg()[0]:.1f}",
        f"* Python {platform.python_version()} ({platform.python_implementation()})",
        "* Packages: " + ", ".join(f"{k} {v}" for k, v in pkgs.items() if k != "MPI library"),
        f"* MPI library: {pkgs.get('MPI library', '?')}",
        f"* Date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
    ]
    return lines


def _env(extra: dict) -> dict:
    env = dict(os.environ)
    env.update(extra)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _snapshot() -> dict:
    """Contents of the full-run result files (not *_quick*)."""
    if not RESULTS.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in RESULTS.iterdir()
            if p.is_file() and "_quick" not in p.name}


def _quick_name(name: str) -> str:
    stem, dot, ext = name.partition(".")
    return f"{stem}_quick{dot}{ext}"


def _protect(before: dict) -> list[str]:
    """After a quick run: move full-run files a script rewrote to *_quick names and
    put the originals back.  Returns the names moved."""
    moved = []
    for name, data in _snapshot().items():
        if before.get(name) == data:
            continue
        (RESULTS / _quick_name(name)).write_bytes(data)
        if name in before:
            (RESULTS / name).write_bytes(before[name])
        else:
            (RESULTS / name).unlink()
        moved.append(name)
    return moved


def run_one(name: str, quick: bool, log=sys.stderr) -> dict:
    """Run one benchmark script; returns its status, time and markdown."""
    script, extra = BENCHMARKS[name]
    suffix = "_quick" if quick else ""
    cmd = [sys.executable, str(HERE / script)] + (["--quick"] if quick else
                                                   FULL_ARGS.get(name, []))
    RESULTS.mkdir(parents=True, exist_ok=True)
    before = _snapshot() if quick else {}
    start = time.time()
    print(f"== {name}: {' '.join(cmd[1:])}", file=log, flush=True)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=_env(extra),
                           timeout=TIMEOUT[quick])
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = 124, e.stdout or "", (e.stderr or "") + f"\ntimed out after {e.timeout} s"
        out = out.decode() if isinstance(out, bytes) else out
        err = err.decode() if isinstance(err, bytes) else err
    wall = time.time() - start
    moved = _protect(before) if quick else []
    md_path = RESULTS / f"{name}{suffix}.md"
    fresh = md_path.exists() and md_path.stat().st_mtime >= start - 1
    if rc == 0 and not fresh and out.strip():
        md_path.write_text(out.strip() + "\n")      # the script printed its markdown
        fresh = True
    print(f"   {name}: exit {rc} in {wall:.0f} s" + (f"; kept full-run files {moved}"
                                                     if moved else ""), file=log, flush=True)
    if rc != 0:
        print(err[-3000:], file=log)
    return {"name": name, "rc": rc, "wall": wall, "md": md_path.read_text() if fresh else "",
            "err": err[-2000:]}


def section(res: dict, quick: bool) -> str:
    """A benchmark's markdown, its headings demoted under RESULTS.md's, images linked."""
    name, suffix = res["name"], "_quick" if quick else ""
    head = f"## {TITLES[name]}\n\n"
    if res["rc"] != 0:
        return head + (f"**Failed** (exit status {res['rc']}, {res['wall']:.0f} s):\n\n"
                       "```\n" + res["err"].strip() + "\n```\n")
    md = res["md"]
    md = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", md, flags=re.M)
    md = re.sub(r"!\[([^\]]*)\]\((?!https?:|/|results/)([^)]+)\)", r"![\1](results/\2)", md)
    png = RESULTS / f"{name}{suffix}.png"
    if "![" not in md and png.exists():
        md += f"\n![{name}](results/{png.name})\n"
    took = f"\n\n_{res['wall']:.0f} s._\n" if res["wall"] == res["wall"] else "\n"
    return head + md.strip() + took


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke check, under 2 minutes")
    ap.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these")
    ap.add_argument("--collect", action="store_true", help="run nothing: rebuild RESULTS.md "
                    "from the result files the scripts wrote earlier (their times unknown)")
    a = ap.parse_args(argv)
    t0 = time.time()
    header = machine()
    if a.collect:
        suffix = "_quick" if a.quick else ""
        results = [{"name": n, "rc": 0, "wall": float("nan"),
                    "md": _read(str(RESULTS / f"{n}{suffix}.md"))} for n in (a.only or BENCHMARKS)]
    else:
        results = [run_one(n, a.quick) for n in (a.only or BENCHMARKS)]
    total = time.time() - t0
    failed = [r["name"] for r in results if r["rc"] != 0]
    kind = "quick smoke run, no speed asserted" if a.quick else "full run"
    doc = [f"# hpcmicro benchmark results ({kind})", "",
           f"Written by `python benchmarks/run_all.py{' --quick' if a.quick else ''}` in "
           f"{total:.0f} s. Each hpcmicro figure is shown beside the peer measured in the "
           "same run.", ""] + header + [""]
    if failed:
        doc += [f"**Failed benchmarks: {', '.join(failed)}**", ""]
    doc += [section(r, a.quick) for r in results]
    out = HERE / ("RESULTS_quick.md" if a.quick else "RESULTS.md")
    out.write_text("\n".join(doc))
    print(f"wrote {out} in {total:.0f} s" + (f"; FAILED: {', '.join(failed)}" if failed else ""),
          file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
