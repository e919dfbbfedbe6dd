"""``hpcmicro sbatch``: a readable Slurm batch script for a job file, and its submission.

The script asks Slurm for ``SIGUSR1`` ``grace`` seconds before the time limit
(``--signal=B:USR1@grace``), starts the ranks with ``srun --mpi=pmi2`` (or
``mpiexec``) in the background and waits for them, so that bash runs its
trap while they still run.  The trap forwards the signal to the launcher;
every rank drains (stops dispatching, commits, marks the output
``incomplete``) and the job ends resumable.  With ``--requeue`` the script
then requeues itself (``scontrol requeue``) and the next run continues with
``--resume``, until the output's ``status`` attribute says ``complete`` or
``failed``, or ``--max-restarts`` requeues were spent.

Notes
-----
Completion is read from the output file, never from the launcher's exit
status: ``srun`` and ``mpiexec`` report the worst rank's status, which says
little about the file.  Only a time-limit warning (``SIGUSR1``) or a crash
leads to a requeue; ``scancel`` (``SIGTERM``) and bad input (exit status 2)
never do, and a crash is bounded by the crash quarantine of
:class:`hpcmicro.store.InFlight` and by ``--max-restarts``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from . import __version__
from .errors import EXIT_USAGE, HpcmicroError

#: First line after the shebang of every script we write; a file without it
#: was written by someone else and is never overwritten without ``--force``.
MARKER = "# Written by `hpcmicro sbatch`"
#: Default warning time before the limit.  Slurm delivers ``--signal`` up to
#: 60 s early (its timer resolution) and a drain needs up to the master's
#: DRAIN_TIMEOUT (20 s) plus a commit, so two minutes leave room for both.
DEFAULT_GRACE = 120
#: Requeues after which the script gives up (a job that makes no progress
#: between time limits must not loop for ever).
DEFAULT_MAX_RESTARTS = 10

_TIME = re.compile(r"^(?:(?P<d>\d+)-(?P<dh>\d+)(?::(?P<dm>\d+)(?::(?P<ds>\d+))?)?"
                   r"|(?P<a>\d+)(?::(?P<b>\d+)(?::(?P<c>\d+))?)?)$")


def parse_time(text: str) -> int:
    """Seconds in a Slurm time limit (``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH[:MM[:SS]]``).

    Raises
    ------
    HpcmicroError
        For anything else, or a limit of zero.
    """
    m = _TIME.match(text.strip())
    if not m:
        raise HpcmicroError(f"--time {text!r} is not a Slurm time limit; use minutes, MM:SS, "
                            "HH:MM:SS or D-HH:MM:SS (for example --time 02:00:00)")
    g = {k: int(v) if v else 0 for k, v in m.groupdict().items()}
    if m.group("d") is not None:
        secs = ((g["d"] * 24 + g["dh"]) * 60 + g["dm"]) * 60 + g["ds"]
    elif m.group("c") is not None:
        secs = (g["a"] * 60 + g["b"]) * 60 + g["c"]
    else:
        secs = g["a"] * 60 + g["b"]
    if secs <= 0:
        raise HpcmicroError(f"--time {text!r} is zero; give the job's wall-time limit")
    return secs


def _shown(path: Path) -> str:
    """``path`` relative to the current directory when inside it, else absolute."""
    p = Path(os.path.abspath(path))
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def render(*, job: str, output: str, python: str, nodes: int, ntasks_per_node: int,
           time_limit: str, grace: int, requeue: bool, max_restarts: int,
           launcher: str = "srun", mpiexec: str = "mpiexec", partition: str | None = None,
           account: str | None = None, sets: tuple[str, ...] = (),
           numba_cache: str = "node", name: str = "hpcmicro") -> str:
    """The text of the batch script (see the module docstring)."""
    q = shlex.quote
    sbatch = [f"--job-name={name}", f"--nodes={nodes}", f"--ntasks-per-node={ntasks_per_node}",
              f"--time={time_limit}"]
    if partition:
        sbatch.append(f"--partition={partition}")
    if account:
        sbatch.append(f"--account={account}")
    sbatch += [f"--signal=B:USR1@{grace}", "--requeue" if requeue else "--no-requeue",
               "--open-mode=append", f"--output={Path(output).parent / (name + '-%j.out')}"]
    if launcher == "srun":
        # pmi2 works with the PyPI MPICH wheel (pmix does not); a rank that dies
        # (a crash) takes the step down instead of leaving the others waiting.
        launch = 'srun --mpi=pmi2 --kill-on-bad-exit=1 "$PYTHON" -m hpcmicro run'
        tool = None
    else:
        launch = '"$MPIEXEC" -n "$SLURM_NTASKS" "$PYTHON" -m hpcmicro run'
        tool = f"MPIEXEC={q(mpiexec)}"
    if numba_cache == "job":
        cache = '"${TMPDIR:-/tmp}/hpcmicro-numba-${SLURM_JOB_ID}"'
        cache_note = "per job, on each node's local disk"
    elif numba_cache == "node":
        cache = '"${TMPDIR:-/tmp}/hpcmicro-numba-$(id -un)"'
        cache_note = "per node (its local disk), reused by later jobs there"
    else:
        cache = q(numba_cache)
        cache_note = "a directory you chose"
    extra = " ".join(f"--set {q(s)}" for s in sets)
    lines = [
        "#!/bin/bash",
        f"{MARKER} {__version__} from {job}; edit freely.",
        "# Submit it from the directory it names its paths from:",
        f"#     sbatch {q(_shown(Path(job).with_suffix('.sbatch')))}",
        *(f"#SBATCH {o}" for o in sbatch),
        "",
        "# -- what to run (relative paths: from the directory sbatch was run in) --",
        f"JOB={q(job)}",
        f"OUTPUT={q(output)}",
        f"PYTHON={q(python)}",
        *([tool] if tool else []),
        f"HPCMICRO_ARGS=({extra})",
        f"REQUEUE={1 if requeue else 0}          # 1: requeue at the time limit until the job is done",
        f"MAX_RESTARTS={max_restarts}     # ...but at most this many times",
        "",
        f"# Numba's compiled kernels: {cache_note},",
        "# so that ranks never race on (or fill) a shared home directory.",
        f"export NUMBA_CACHE_DIR={cache}",
        "",
        _BODY.replace("@LAUNCH@", launch),
    ]
    return "\n".join(lines)


_BODY = r'''set -u
say() { echo "hpcmicro-sbatch[$(date +%H:%M:%S)]: $*" >&2; }
# The output's status attribute: complete | incomplete | failed | missing | unreadable.
status() { "$PYTHON" -m hpcmicro.slurm status "$OUTPUT"; }

if [ ! -f "$JOB" ]; then
    say "job file $JOB not found from $PWD; submit this script from the directory it was written for"
    exit 2
fi
restarts=${SLURM_RESTART_COUNT:-0}
say "job ${SLURM_JOB_ID:-?} on ${SLURM_JOB_NODELIST:-?}, ${SLURM_NTASKS:-?} ranks, restart $restarts (at most $MAX_RESTARTS)"

resume=()
case "$(status)" in
    complete) say "$OUTPUT is already complete"; exit 0 ;;
    failed) say "$OUTPUT is finished, with failed tasks (see its /tasks/error)"; exit 3 ;;
    missing) ;;
    *) resume=(--resume) ;;     # incomplete; an unreadable file gets hpcmicro's clear error
esac

# Signals: Slurm sends USR1 "grace" seconds before the limit (to this shell only:
# the B: in --signal); scancel and the limit itself send TERM.  Forward them to
# the launcher, which passes them to every rank: the ranks drain and exit.
got=""
forward() {
    got="$got $1"
    say "got SIG$1; asking hpcmicro to drain (stop, commit, exit resumable)"
    if [ -n "${pid:-}" ]; then kill -s "$1" "$pid" 2>/dev/null || true; fi
}
trap 'forward USR1' USR1
trap 'forward TERM' TERM
trap 'forward INT' INT

# Launch in the background and wait: bash runs a trap only between commands,
# and "wait" returns as soon as a trapped signal arrives.
@LAUNCH@ "$JOB" -o "$OUTPUT" "${resume[@]}" "${HPCMICRO_ARGS[@]}" &
pid=$!
while :; do
    wait "$pid"; rc=$?
    kill -0 "$pid" 2>/dev/null || break      # still running: a trap interrupted the wait
done

st=$(status)
say "the launcher exited with status $rc; $OUTPUT is $st"
case "$st" in
    complete) exit 0 ;;
    failed) exit 3 ;;
esac
# Incomplete.  Requeue after a time-limit warning (USR1) or a crash, never after
# scancel (TERM), bad input (status 2) or MAX_RESTARTS requeues.
if [ "$REQUEUE" = 1 ] && [ "$rc" != 2 ] && [[ "$got" != *TERM* && "$got" != *INT* ]]; then
    if [ "$restarts" -ge "$MAX_RESTARTS" ]; then
        say "not requeueing: $MAX_RESTARTS restarts spent; resume by submitting this script again"
        exit 75
    fi
    say "requeueing job $SLURM_JOB_ID (restart $((restarts + 1)) of at most $MAX_RESTARTS)"
    scontrol requeue "$SLURM_JOB_ID" && exit 0
    say "scontrol requeue failed; resume by submitting this script again"
fi
say "stopped early; $OUTPUT is resumable: submit this script again to continue"
exit 75
'''


def output_status(path: str) -> str:
    """The output's ``status`` attribute, or ``missing`` / ``unreadable``."""
    if not os.path.exists(path):
        return "missing"
    try:
        import h5py
        with h5py.File(path, "r", locking=False) as f:
            return str(f.attrs.get("status", "unreadable"))
    except (OSError, KeyError):
        return "unreadable"


def cmd_sbatch(args) -> int:
    """``hpcmicro sbatch JOB.toml ...``: write the script, and submit it with ``--submit``."""
    from .cli import find_mpiexec
    from .config import load_job
    for flag, v in (("--nodes", args.nodes), ("--ntasks-per-node", args.ntasks_per_node)):
        if v < 1:
            raise HpcmicroError(f"{flag} {v} must be at least 1")
    limit = parse_time(args.time)
    if not 0 < args.grace < limit:
        raise HpcmicroError(f"--grace {args.grace} s must be positive and shorter than the "
                            f"time limit ({limit} s from --time {args.time}): the signal to "
                            "stop comes that many seconds before the limit")
    if args.max_restarts < 0:
        raise HpcmicroError(f"--max-restarts {args.max_restarts} must be 0 or more")
    cfg = load_job(args.job, overrides=tuple(args.set or ()), output=args.output)
    job = Path(args.job)
    script = Path(args.script) if args.script else job.with_suffix(".sbatch")
    if script.exists() and not args.force and MARKER not in script.read_text(errors="replace"):
        raise HpcmicroError(f"{script} exists and was not written by hpcmicro sbatch; it was "
                            "left alone. Move it away, choose another name with --script, "
                            "or add --force.")
    mpiexec = ""
    if args.launcher == "mpiexec":
        mpiexec = _shown(Path(find_mpiexec()))
    text = render(job=_shown(job), output=_shown(Path(cfg.job.output)),
                  python=_shown(Path(sys.executable)), nodes=args.nodes,
                  ntasks_per_node=args.ntasks_per_node, time_limit=args.time, grace=args.grace,
                  requeue=args.requeue, max_restarts=args.max_restarts,
                  launcher=args.launcher, mpiexec=mpiexec, partition=args.partition,
                  account=args.account, sets=tuple(args.set or ()),
                  numba_cache=args.numba_cache, name=f"hpcmicro-{job.stem}")
    # Slurm writes its log there before the script runs: the folder must exist.
    Path(cfg.job.output).parent.mkdir(parents=True, exist_ok=True)
    script.write_text(text)
    os.chmod(script, 0o755)
    print(f"hpcmicro: wrote {script}", file=sys.stderr)
    if not args.submit:
        print(f"hpcmicro: submit it with: sbatch {script}", file=sys.stderr)
        return 0
    print(submit(script))
    return 0


def submit(script: Path) -> str:
    """Run ``sbatch --parsable SCRIPT``; return the job id."""
    exe = shutil.which("sbatch")
    if not exe:
        raise HpcmicroError(f"--submit needs Slurm's sbatch, which is not on PATH here. The "
                            f"script is written: run 'sbatch {script}' on a login node.")
    r = subprocess.run([exe, "--parsable", str(script)], capture_output=True, text=True)
    if r.returncode != 0:
        raise HpcmicroError(f"sbatch refused {script} (exit status {r.returncode}): "
                            f"{r.stderr.strip() or r.stdout.strip()}. Fix the options it "
                            "names (partition, account, limits) and run again.")
    return r.stdout.strip().split(";")[0]


def add_command(subparsers) -> None:
    """Add ``hpcmicro sbatch`` to the command line (called by :mod:`hpcmicro.cli`)."""
    p = subparsers.add_parser(
        "sbatch", help="write a Slurm batch script for a job file (and submit it)",
        description="Write JOB.sbatch next to the job file: ranks started by srun (or "
        "mpiexec), a drain signal before the time limit, optional requeue until done.")
    p.add_argument("job", help="TOML job file")
    p.add_argument("--nodes", type=int, required=True, help="nodes to ask for")
    p.add_argument("--ntasks-per-node", type=int, required=True,
                   help="ranks per node (rank 0 coordinates, the others work)")
    p.add_argument("--time", required=True, metavar="HH:MM:SS",
                   help="wall-time limit (any Slurm form: MM, HH:MM:SS, D-HH:MM:SS)")
    p.add_argument("--partition", help="Slurm partition")
    p.add_argument("--account", help="Slurm account to charge")
    p.add_argument("--requeue", action="store_true",
                   help="at the time limit, requeue and resume until the job is complete")
    p.add_argument("--max-restarts", type=int, default=DEFAULT_MAX_RESTARTS,
                   help=f"requeues at most (default {DEFAULT_MAX_RESTARTS})")
    p.add_argument("--grace", type=int, default=DEFAULT_GRACE, metavar="SECONDS",
                   help=f"signal this long before the limit (default {DEFAULT_GRACE})")
    p.add_argument("--launcher", choices=("srun", "mpiexec"), default="srun",
                   help="start the ranks with srun --mpi=pmi2 (default) or mpiexec")
    p.add_argument("--numba-cache", default="node", metavar="node|job|DIR",
                   help="NUMBA_CACHE_DIR: per node (default), per job, or this directory")
    p.add_argument("-o", "--output", help="output HDF5 file (overrides [job] output)")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                   help="override a job-file setting (repeatable; written into the script)")
    p.add_argument("--script", help="where to write the script (default: JOB.sbatch)")
    p.add_argument("--force", action="store_true", help="overwrite a script we did not write")
    p.add_argument("--submit", action="store_true", help="submit it; print the job id")
    p.set_defaults(func=cmd_sbatch)


def main(argv=None) -> int:
    """``python -m hpcmicro.slurm status OUT.h5`` (used by the batch scripts)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] != "status":
        print("usage: python -m hpcmicro.slurm status OUTPUT.h5", file=sys.stderr)
        return EXIT_USAGE
    print(output_status(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
