"""Wire a job together on every rank: config, transport, master and workers.

Rank 0 validates the job file and broadcasts it; it opens the output and
runs the master; every other rank runs a worker.  With one rank (plain
``hpcmicro run``, or ``mpiexec -n 1``) the master runs in the main thread and
one worker in a second thread over the in-process transport.  An unexpected
error on any rank aborts every rank instead of leaving the others hanging.
"""

from __future__ import annotations

import gc
import os
import socket
import sys
import threading
import time
import traceback
from pathlib import Path

from . import __version__
from .config import JobConfig
from .errors import EXIT_USAGE, HpcmicroError, OutputError
from .master import Master
from .progress import Progress
from .scheduling import get_policy
from .scheduling.base import usable_costs
from .store import (DONE, PENDING, InFlight, Lock, ResultStore, StoreWriteError,
                    clear_inflight, collect_crashes, config_sha256)
from .transport import LocalTransport, MPITransport, under_mpi_launcher
from .worker import Worker
from .workloads import resolve

#: A worker whose job does not start (the master failed before go) waits at
#: most this long for its early preparation (reading inputs) to end before it
#: exits, so it never exits with a thread half way through loading a kernel.
ABANDON_TIMEOUT = 10.0


def open_store(cfg: JobConfig, workload, costs, *, resume: bool, n_workers: int):
    """Create or reopen the output file; returns ``(store, clock_offset)``."""
    out = Path(cfg.job.output)
    sha = config_sha256(cfg.effective())
    if resume:
        store = ResultStore.reopen(out, workload=workload, sha=sha, n_tasks=len(costs))
        offset = float(store.h5.attrs.get("wall_seconds", 0.0))
        store.set_attrs(status="incomplete", n_workers=n_workers,
                        restarts=int(store.h5.attrs.get("restarts", 0)) + 1)
        charge_crashes(store, out, cfg.job.max_attempts)
        return store, offset
    if out.exists():
        raise OutputError(f"output {out} already exists; add --resume to continue that job, "
                          "or choose another output with -o (nothing was changed)")
    clear_inflight(out)         # records of an older job of this name mean nothing now
    attrs = {
        "hpcmicro_version": __version__, "workload": workload.name,
        "scheduler": cfg.job.scheduler, "config": cfg.text, "config_sha256": sha,
        "config_overrides": "; ".join(f"{k} from {v}" for k, v in cfg.sources.items()),
        "n_tasks": len(costs), "n_workers": n_workers, "wall_seconds": 0.0, "restarts": 0,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    return ResultStore.create(out, workload=workload, n_tasks=len(costs), attrs=attrs), 0.0


def charge_crashes(store, out: Path, max_attempts: int, log=sys.stderr) -> int:
    """Charge an attempt to each task that was running when its process crashed.

    A task that has crashed its process ``max_attempts`` times is marked failed
    (quarantined), so a resume does not crash again on it.  Returns how many
    tasks were charged.  See :class:`~hpcmicro.store.InFlight`.
    """
    charged = 0
    t = store.tasks
    for c in collect_crashes(out):
        tid = c["task"]
        if not 0 <= tid < store.n_tasks or t["status"][tid] != PENDING:
            continue
        attempts = int(t["attempts"][tid]) + 1
        final = attempts >= max_attempts
        text = (f"task {tid} on rank {c['rank']} ({c['host']}), attempt {attempts} of "
                f"{max_attempts}: the process crashed while running it:\n{c['dump']}")
        store.record_failure(tid, int(c["rank"] or -1), 0.0, 0.0, text, final)
        charged += 1
        what = ("quarantined: marked failed, it will not run again" if final
                else "it will be retried")
        print(f"hpcmicro: task {tid} crashed rank {c['rank']} ({c['host']}) in the last run "
              f"(attempt {attempts} of {max_attempts}); {what}", file=log)
    clear_inflight(out)
    store.commit()
    return charged


def run_master(tp, cfg: JobConfig, *, resume: bool, workers: list[int], quiet=False,
               go=None) -> int:
    """Everything rank 0 does; returns the exit status.

    ``go(payload)`` tells the workers to start (payload: ``(t0,)``) or to give up
    (payload: None) once the output is open; it must be called exactly once.
    """
    wl = resolve(cfg.job.workload)(cfg.params, cfg)
    lock = Lock(Path(cfg.job.output))
    started = False
    try:
        costs = usable_costs(wl.make_tasks())
        lock.acquire()
        store, offset = open_store(cfg, wl, costs, resume=resume, n_workers=len(workers))
        t0 = time.time() - offset
        go((t0,))
        started = True
        master_cls, _ = get_policy(cfg.job.scheduler)
        policy = master_cls(workers, cfg.job.seed)
        rounds = wl.rounds()
        first = 0
        if wl.resident and resume:
            first = wl.first_round(store.group, store.tasks["status"])
            store.reset_from(first * (len(costs) // rounds))
        todo = int((store.tasks["status"] == 0).sum())
        prog = Progress(todo, enabled=not quiet)
        master = Master(tp, policy, store, costs, max_attempts=cfg.job.max_attempts,
                        commit_interval=cfg.job.commit_interval, progress=prog, hooks=wl,
                        rounds=rounds, first_round=first)
        master.install_signal_handlers()
        if not quiet:
            print(f"hpcmicro {__version__}: {wl.name} job, {len(costs)} tasks "
                  f"({len(costs) - todo} already done), {len(workers)} worker(s), "
                  f"scheduler {cfg.job.scheduler}, output {cfg.job.output}", file=sys.stderr)
        status = master.run()
        try:
            if status in ("complete", "failed"):      # every task is final
                wl.finalize(store.group, store.tasks["status"] == DONE)
            store.set_attrs(status=status, wall_seconds=time.time() - t0,
                            coordinator_cpu_seconds=master.loop_cpu,
                            coordinator_busy_seconds=master.loop_wall,
                            coordinator_messages=master.messages_in,
                            coordinator_bytes_in=master.bytes_in,
                            coordinator_bytes_out=master.bytes_out)
        except (OSError, StoreWriteError) as e:   # e.g. the disk filled up while finalizing
            if not master.store_error:
                master.store_error = str(e)
                print(f"hpcmicro: cannot finish writing {cfg.job.output}: {e}. The task "
                      "results are committed; free some space and run again with --resume.",
                      file=sys.stderr)
            status = "incomplete"
        store.close()
        master.stop_workers()
        if status in ("complete", "failed"):
            clear_inflight(cfg.job.output)
        code = master.exit_code(status)
        if master.fatal:
            print(f"hpcmicro: aborting: {master.fatal}", file=sys.stderr)
            tp.abort(1)
        if not quiet:
            print(f"hpcmicro: {status}: {master.n_done} done, {master.n_failed} failed, "
                  f"{master.left} left; {cfg.job.output}", file=sys.stderr)
        if master.wedged:
            print(f"hpcmicro: rank(s) {sorted(master.wedged)} are stuck in a timed-out task; "
                  "aborting them now that the output is safe", file=sys.stderr)
            lock.release()
            tp.abort(code)
        return code
    finally:
        if not started and go is not None:
            go(None)
        lock.release()


class WorkerSetup:
    """A worker's workload object and its optional ``prepare_worker()``.

    ``prepare_worker`` is a workload method (if it has one) that loads what
    does not depend on the output file: input data, compiled kernels.  With
    ``background``, making the object and preparing it run in a thread from
    the moment the job's configuration is known, while rank 0 reads its
    input and opens the output; :meth:`workload` joins the thread once the
    master says go and raises its error there, on the path an error of
    ``setup_worker`` takes.  Without, :meth:`workload` does it all inline.
    """

    def __init__(self, cfg: JobConfig, background: bool = True):
        self.cfg = cfg
        self._wl = None
        self._error: BaseException | None = None
        self._thread = None
        if background:
            self._thread = threading.Thread(target=self._prepare, name="hpcmicro-prepare",
                                            daemon=True)
            self._thread.start()

    def _make(self):
        wl = resolve(self.cfg.job.workload)(self.cfg.params, self.cfg)
        prepare = getattr(wl, "prepare_worker", None)
        if prepare is not None:
            prepare()
        return wl

    def _prepare(self) -> None:
        try:
            self._wl = self._make()
        except BaseException as e:      # re-raised by workload(), after go
            self._error = e

    def workload(self):
        """Return the prepared workload object; raise the error preparing it raised."""
        if self._thread is None:
            return self._make()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._wl

    def abandon(self, timeout: float = ABANDON_TIMEOUT) -> None:
        """The job will not start: let a running preparation end (bounded), ignore errors."""
        if self._thread is not None:
            self._thread.join(timeout)


def run_worker(tp, cfg: JobConfig, t0: float, workers: list[int], handle_signals=True,
               setup: WorkerSetup | None = None) -> None:
    """Everything a working rank does (``setup``: started early by :func:`run_mpi`)."""
    wl = (setup or WorkerSetup(cfg, background=False)).workload()
    wl.setup_worker()
    _, worker_cls = get_policy(cfg.job.scheduler)
    inflight = InFlight(cfg.job.output, tp.rank)
    worker = Worker(tp, wl, worker_cls(tp.rank, workers, cfg.job.seed), t0,
                    task_timeout=cfg.job.task_timeout, inflight=inflight)
    if handle_signals:
        worker.install_signal_handlers()
    try:
        worker.run()
    finally:
        inflight.close()


def run_local(cfg: JobConfig, *, resume=False, n_workers=1, quiet=False) -> int:
    """Run the job in this process: master in this thread, workers in threads."""
    check_launch(1, step_only=True)
    eps = LocalTransport.group(n_workers + 1)
    workers = list(range(1, n_workers + 1))
    threads = []
    errors = []

    def go(payload):
        if payload is None:
            return
        for ep in eps[1:]:
            def body(ep=ep):
                try:
                    run_worker(ep, cfg, payload[0], workers, handle_signals=False)
                except BaseException:
                    errors.append(traceback.format_exc())
                    os._exit(_internal_error(ep.rank, ep.size, errors[-1]))
            t = threading.Thread(target=body, name=f"hpcmicro-worker-{ep.rank}", daemon=True)
            t.start()
            threads.append(t)

    code = run_master(eps[0], cfg, resume=resume, workers=workers, quiet=quiet, go=go)
    for t in threads:
        t.join(timeout=5.0)
    return code


def _internal_error(rank: int, size: int, tb: str) -> int:
    sys.stderr.write(f"hpcmicro: internal error on rank {rank} of {size} "
                     f"({socket.gethostname()}):\n{tb}")
    sys.stderr.flush()
    return 1


class LaunchError(HpcmicroError):
    """The ranks were started in a way that would run the job several times."""

    exit_code = EXIT_USAGE


def check_launch(size: int, environ=os.environ, step_only: bool = False) -> None:
    """Refuse a launch that would run the job several times over.

    ``step_only``: trust only ``SLURM_STEP_NUM_TASKS`` (set inside an ``srun``
    step), not ``SLURM_NTASKS``, which a batch script also sees: one process
    started by the batch script itself is a legitimate one-rank run.
    """
    ntasks = environ.get("SLURM_STEP_NUM_TASKS")
    if not step_only:
        ntasks = ntasks or environ.get("SLURM_NTASKS")
    if size == 1 and ntasks and ntasks.isdigit() and int(ntasks) > 1:
        raise LaunchError(
            f"this rank sees an MPI world of 1 rank, but Slurm started {ntasks} tasks: the "
            "tasks are separate one-rank jobs (srun --mpi=none, or an mpi4py built against "
            "another MPI), and each would run the whole job. Use srun --mpi=pmi2 with the "
            "PyPI MPICH wheel, or mpiexec; see the README's cluster section.")


def run_mpi(load, *, resume=False, quiet=False) -> int:
    """Entry point on every rank under an MPI launcher.

    ``load()`` reads and validates the job; it runs on rank 0 only and its
    errors reach every rank, which all exit with the same status.  The
    process is expected to exit next.
    """
    try:
        return _run_mpi(load, resume=resume, quiet=quiet)
    finally:
        # The interpreter's last cyclic garbage collection walks every object
        # that Numba, h5py and friends made (0.2 s of each rank's exit); it
        # frees nothing that exiting does not.  Objects stay reference-counted.
        gc.freeze()


def _run_mpi(load, *, resume=False, quiet=False) -> int:
    tp = MPITransport()
    rank, size = tp.rank, tp.size
    try:
        check_launch(size)
    except HpcmicroError as e:
        if rank == 0:
            print(f"hpcmicro: {e}", file=sys.stderr)
        return EXIT_USAGE
    if size == 1:
        return run_local(load(), resume=resume, quiet=quiet)
    try:
        payload = None
        if rank == 0:
            try:
                payload = ("ok", load())
            except HpcmicroError as e:
                payload = ("error", str(e), e.exit_code)
        payload = tp.bcast(payload)
        if payload[0] == "error":
            if rank == 0:
                print(f"hpcmicro: {payload[1]}", file=sys.stderr)
            return payload[2]
        cfg = payload[1]
        workers = list(range(1, size))
        if rank == 0:
            started = []

            def go(p):
                tp.bcast(p)
                started.append(p is not None)
            try:
                code = run_master(tp, cfg, resume=resume, workers=workers, quiet=quiet, go=go)
                tp.shutdown()
                return code
            except HpcmicroError as e:
                print(f"hpcmicro: {e}", file=sys.stderr)
                if any(started):
                    tp.abort(e.exit_code)   # workers are running: never leave them hanging
                return e.exit_code
        setup = WorkerSetup(cfg)        # overlaps rank 0's preparation
        start = tp.bcast(None)
        if start is None:
            setup.abandon()
            return EXIT_USAGE
        run_worker(tp, cfg, start[0], workers, setup=setup)
        tp.shutdown()
        return 0
    except BaseException:
        tp.abort(_internal_error(rank, size, traceback.format_exc()))
        return 1


def launched_by_mpi() -> bool:
    """True when this process should use MPI (an MPI launcher started it)."""
    return under_mpi_launcher()
