"""The ``hpcmicro`` command: run, info, export (and the commands of other modules).

Errors a user can cause print one clear message and exit non-zero; they never
print a traceback.  Exit statuses: 0 complete, 2 bad input, 3 some tasks
failed, 75 stopped early and resumable (``--resume`` finishes it).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from . import __version__, signals
from .errors import EXIT_RESUMABLE, EXIT_TASKS_FAILED, HpcmicroError


def _load(args):
    from .config import load_job
    return load_job(args.job, overrides=tuple(args.set or ()), output=args.output)


def find_mpiexec() -> str:
    """The ``mpiexec`` next to this Python (the mpich wheel's), else on PATH."""
    here = Path(sys.executable).parent / "mpiexec"
    if here.exists():
        return str(here)
    found = shutil.which("mpiexec")
    if not found:
        raise HpcmicroError("-n N needs an MPI launcher, but no mpiexec was found; "
                            "pip install mpich (or load your cluster's MPI module)")
    return found


def status_of(path: str) -> str | None:
    """The ``status`` attribute of an output file, or None if unreadable."""
    try:
        import h5py
        with h5py.File(path, "r") as f:
            return str(f.attrs.get("status"))
    except (OSError, KeyError):
        return None


def _relaunch(args, cfg) -> int:
    """Start ``args.n`` ranks through mpiexec; read completion from the file."""
    argv = [find_mpiexec(), "-n", str(args.n), sys.executable, "-m", "hpcmicro", "run", args.job,
            "-o", cfg.job.output]
    for s in args.set or ():
        argv += ["--set", s]
    if args.resume:
        argv.append("--resume")
    if args.quiet:
        argv.append("--quiet")
    proc = subprocess.Popen(argv)

    def forward(signum, frame):
        proc.send_signal(signum)
    signals.install(forward)
    rc = proc.wait()
    # mpiexec's own status is not trusted (it can be 0 after an early stop).
    status = status_of(cfg.job.output)
    if status == "complete":
        return 0
    if status == "failed":
        return EXIT_TASKS_FAILED
    if status == "incomplete":
        return EXIT_RESUMABLE
    return rc or 1


def cmd_run(args) -> int:
    """``hpcmicro run JOB.toml``."""
    from .runner import launched_by_mpi, run_local, run_mpi
    if launched_by_mpi():
        return run_mpi(lambda: _load(args), resume=args.resume, quiet=args.quiet)
    cfg = _load(args)
    if args.n and args.n > 1:
        return _relaunch(args, cfg)
    return run_local(cfg, resume=args.resume, quiet=args.quiet)


def cmd_info(args) -> int:
    """``hpcmicro info``: versions, MPI library, cores, Numba threading layer."""
    from importlib import metadata
    rows = [("hpcmicro", __version__), ("python", platform.python_version()),
            ("platform", platform.platform())]
    for pkg in ("numpy", "numba", "llvmlite", "mpi4py", "mpich", "h5py", "matplotlib"):
        try:
            rows.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            rows.append((pkg, "not installed"))
    try:
        from mpi4py import MPI
        rows.append(("MPI library", MPI.Get_library_version().strip().splitlines()[0]))
        rows.append(("MPI standard", "%d.%d" % MPI.Get_version()))
    except Exception as e:  # info must work even when MPI cannot start
        rows.append(("MPI library", f"unavailable ({e})"))
    try:
        import h5py
        rows.append(("HDF5", h5py.version.hdf5_version))
    except ImportError:
        pass
    rows.append(("cores (affinity)", str(len(os.sched_getaffinity(0)))))
    try:
        import numba
        from numba.np.ufunc import parallel
        try:
            parallel._launch_threads()
            layer = numba.threading_layer()
        except Exception as e:
            layer = f"unavailable ({e})"
        rows.append(("numba threading layer", str(layer)))
        rows.append(("NUMBA_CACHE_DIR", os.environ.get("NUMBA_CACHE_DIR", "(unset: next to sources)")))
    except ImportError:
        pass
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


def cmd_export(args) -> int:
    """``hpcmicro export OUT.h5 --format tsv``: the workload's own export."""
    import importlib
    import h5py
    from .workloads import resolve
    try:
        f = h5py.File(args.file, "r")
    except OSError as e:
        raise HpcmicroError(f"cannot open {args.file}: {e}") from None
    with f:
        name = str(f.attrs.get("workload", ""))
        cls = resolve(name)
        mod = importlib.import_module(cls.__module__)
        if not hasattr(mod, "export"):
            raise HpcmicroError(f"workload {name!r} has no export; its results are in "
                                f"{args.file}:/{cls.name}")
        if args.out and args.out != "-":
            with open(args.out, "w") as out:
                mod.export(f, args.format, out)
        else:
            mod.export(f, args.format, sys.stdout)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``hpcmicro`` command."""
    p = argparse.ArgumentParser(prog="hpcmicro", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"hpcmicro {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run a job file")
    r.add_argument("job", help="TOML job file")
    r.add_argument("-n", type=int, default=0, help="start N ranks through mpiexec "
                   "(rank 0 coordinates, N-1 work; 1: one process does both)")
    r.add_argument("-o", "--output", help="output HDF5 file (overrides [job] output)")
    r.add_argument("--resume", action="store_true", help="continue a stopped or killed job")
    r.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override a job-file setting (repeatable)")
    r.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    r.set_defaults(func=cmd_run)
    i = sub.add_parser("info", help="versions, MPI library, cores, Numba threading layer")
    i.set_defaults(func=cmd_info)
    e = sub.add_parser("export", help="export results (align: BLAST tabular)")
    e.add_argument("file", help="output HDF5 file of a job")
    e.add_argument("--format", default="tsv", help="tsv (BLAST outfmt 6 for align)")
    e.add_argument("-o", "--out", help="write here instead of standard output")
    e.set_defaults(func=cmd_export)
    for extra in _extra_commands():
        extra(sub)
    return p


def _extra_commands():
    """Sub-commands that live in their own modules (report, sbatch), if present."""
    import importlib
    found = []
    for mod in ("hpcmicro.report", "hpcmicro.slurm"):
        try:
            found.append(importlib.import_module(mod).add_command)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
    return found


def main(argv=None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    if args.func is cmd_run:
        signals.hold()      # a drain signal during start-up must not kill the rank
    try:
        return args.func(args)
    except HpcmicroError as e:
        print(f"hpcmicro: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return EXIT_RESUMABLE
    except BrokenPipeError:        # e.g. `hpcmicro export ... | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
