"""The HDF5 result store: commits that survive SIGKILL, resume, and a lock file.

Notes
-----
Only the master writes.  It keeps an in-memory mirror of every per-task
dataset and, at each commit, writes the blocks that changed:

1. the workload's result datasets, then ``flush``;
2. the ``/tasks`` bookkeeping (the ``status`` marks last), then ``flush``.

Every per-task dataset is allocated in full when the file is created
(contiguous layout, early allocation), so a commit rewrites raw bytes in
place and never touches HDF5's metadata; a kill during a commit can at worst
leave results without their done marks, which a resume simply recomputes.
A new file is built under a temporary name and renamed into place, so the
output path never names a half-made file.  HDF5's own file locking is often
disabled on cluster file systems, so concurrent jobs are kept apart by our
own lock file, ``OUTPUT.lock``, and the writer opens the file without HDF5's
lock, so that a running job can be inspected (``h5ls``, ``hpcmicro report``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import mmap
import os
import re
import socket
import time
from pathlib import Path

import h5py
import numpy as np

from .errors import EXIT_RESUMABLE, OutputError

#: Per-task bookkeeping datasets under ``/tasks`` and their dtypes.
TASK_FIELDS = {
    "status": np.uint8,     # 0 pending, 1 done, 2 failed
    "worker": np.int32,     # rank that ran it (-1: never ran)
    "start": np.float64,    # seconds since the job began
    "stop": np.float64,
    "attempts": np.uint16,
    "stolen": np.uint8,     # 1 if the task moved between workers
}
PENDING, DONE, FAILED = 0, 1, 2
#: Commits write whole aligned blocks of this many tasks that contain a change.
BLOCK = 4096


#: Free space a commit must find before it writes anything that makes the file
#: grow (error texts and string attributes go to HDF5's heap, and a heap write
#: cut short by a full disk can leave metadata that no longer opens).  Writes
#: of results and marks go to space allocated when the file was made.
MIN_FREE_BYTES = 1 << 20


class StoreWriteError(OutputError):
    """A commit could not be written (a full disk, a lost file system).

    The file keeps its last complete commit, so the job ends resumable.
    """

    exit_code = EXIT_RESUMABLE


def _dcpl():
    p = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    p.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    return p


def config_sha256(config: dict) -> str:
    """Hash of the effective configuration, as canonical JSON."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def _zombie(pid: int) -> bool:
    """True if ``pid`` has exited but was not reaped yet (Linux; else False)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


class Lock:
    """An exclusive lock file next to the output, naming its holder.

    A lock left by a dead process on this host, or by an earlier run of the
    same Slurm job (a requeue), is taken over; any other lock is refused.
    """

    def __init__(self, output: Path):
        self.path = Path(str(output) + ".lock")
        self.held = False

    def _me(self) -> dict:
        return {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time(),
                "slurm_job": os.environ.get("SLURM_JOB_ID")}

    def acquire(self) -> None:
        """Take the lock or raise :class:`OutputError` naming the holder."""
        for _ in range(2):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._stale():
                    self.path.unlink(missing_ok=True)
                    continue
                raise OutputError(self._held_message()) from None
            except OSError as e:
                raise OutputError(f"cannot create the lock file {self.path}: {e}. Check that "
                                  "the output directory is writable.") from None
            try:
                with os.fdopen(fd, "w") as fh:
                    json.dump(self._me(), fh)
            except OSError as e:        # e.g. a full disk: leave no half-written lock
                self.path.unlink(missing_ok=True)
                raise OutputError(f"cannot write the lock file {self.path}: {e}. Free some "
                                  "space in the output directory and try again.") from None
            self.held = True
            return
        raise OutputError(self._held_message())

    def _holder(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}

    def _stale(self) -> bool:
        h = self._holder()
        if not h:
            # Unreadable: a crash between create and write; old enough to be dead.
            try:
                return time.time() - self.path.stat().st_mtime > 5.0
            except OSError:
                return True
        if h.get("slurm_job") and h.get("slurm_job") == os.environ.get("SLURM_JOB_ID"):
            return True
        if h.get("host") == socket.gethostname():
            try:
                os.kill(int(h["pid"]), 0)
            except ProcessLookupError:
                return True
            except (PermissionError, ValueError, KeyError):
                return False
            return _zombie(int(h["pid"]))      # killed, not yet reaped: dead all the same
        return False

    def _held_message(self) -> str:
        h = self._holder()
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(h.get("since", 0)))
        return (f"output {str(self.path)[:-5]} is in use by another job (pid {h.get('pid')} on "
                f"{h.get('host')} since {since}); two jobs must not write one file. Wait for it, "
                f"choose another output with -o, or delete {self.path} if that job is dead.")

    def release(self) -> None:
        """Remove the lock file if we hold it."""
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False


class ResultStore:
    """The job's HDF5 record, with in-memory mirrors of the per-task datasets."""

    def __init__(self, path: Path, h5: h5py.File, group: str, fields: dict):
        self.path, self.h5, self.group_name = Path(path), h5, group
        self.fields = fields
        self.tasks = {k: self.h5["tasks"][k][...] for k in TASK_FIELDS}
        g = self.h5[group]
        self.values = {k: g[k][...] for k in fields}
        # Dataset handles stay open: a handle closed after each write would flush
        # HDF5's buffers in a destructor, where a failed write cannot be caught.
        self._dsets = {k: g[k] for k in fields}
        self._tdsets = {k: self.h5["tasks"][k] for k in (*TASK_FIELDS, "error")}
        self.n_tasks = len(self.tasks["status"])
        self.dirty = np.zeros(self.n_tasks, bool)
        self.errors: dict[int, str] = {}
        #: Why writing failed (a full disk...); once set, nothing more is written.
        self.broken: str | None = None
        self.committed_done = int(np.count_nonzero(self.tasks["status"] == DONE))

    @property
    def group(self) -> h5py.Group:
        """The workload's HDF5 group."""
        return self.h5[self.group_name]

    # -- creating and reopening -------------------------------------------
    @classmethod
    def create(cls, path, *, workload, n_tasks: int, attrs: dict) -> "ResultStore":
        """Build a new output file atomically and open it for the run."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part-{os.getpid()}")
        fields = dict(workload.result_fields())
        try:
            with h5py.File(tmp, "w") as f:
                for k, v in attrs.items():
                    f.attrs[k] = v
                f.attrs["status"] = "incomplete"
                t = f.create_group("tasks")
                for k, dt in TASK_FIELDS.items():
                    fill = -1 if k == "worker" else 0
                    t.create_dataset(k, (n_tasks,), dt, dcpl=_dcpl(), fillvalue=fill)
                t.create_dataset("error", (n_tasks,), h5py.string_dtype())
                g = f.create_group(workload.name)
                for k, (shape, dt) in fields.items():
                    g.create_dataset(k, (n_tasks, *shape), dt, dcpl=_dcpl())
                workload.prepare_output(g)
            os.replace(tmp, path)
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            raise OutputError(f"cannot create output {path}: {e}. Check the directory exists, "
                              "is writable and has free space.") from None
        return cls(path, h5py.File(path, "r+", locking=False), workload.name, fields)

    @classmethod
    def reopen(cls, path, *, workload, sha: str, n_tasks: int) -> "ResultStore":
        """Open an existing output for ``--resume``, refusing any mismatch."""
        path = Path(path)
        if not path.exists():
            raise OutputError(f"cannot resume: {path} does not exist. Run without --resume "
                              "to start the job.")
        try:
            f = h5py.File(path, "r+", locking=False)
        except OSError as e:
            raise OutputError(f"cannot resume from {path}: the file is corrupted or truncated "
                              f"({e}). It was left untouched; move it away to start over.") from None
        try:
            old = f.attrs.get("config_sha256")
            if old is None or "tasks" not in f or workload.name not in f:
                raise OutputError(f"cannot resume from {path}: it is not an hpcmicro output of "
                                  f"the {workload.name!r} workload. It was left untouched.")
            if old != sha:
                raise OutputError(
                    f"cannot resume from {path}: the job configuration changed since it was "
                    f"written (config_sha256 {old[:12]}... there, {sha[:12]}... now). Restore the "
                    "job file as it was, or write to a new output with -o.")
            if f["tasks/status"].shape != (n_tasks,):
                raise OutputError(f"cannot resume from {path}: it holds "
                                  f"{f['tasks/status'].shape[0]} tasks, the job has {n_tasks}.")
            repair_errors(f, path)
            return cls(path, f, workload.name, dict(workload.result_fields()))
        except OutputError:
            f.close()
            raise
        except (OSError, KeyError) as e:
            f.close()
            raise OutputError(f"cannot resume from {path}: the file is damaged ({e}). "
                              "It was left untouched; move it away to start over.") from None

    # -- recording -----------------------------------------------------------
    def record_done(self, ids, worker: int, start, stop, stolen, values: dict) -> None:
        """Mirror a batch of finished tasks (written at the next commit)."""
        t = self.tasks
        t["status"][ids] = DONE
        t["worker"][ids] = worker
        t["start"][ids] = start
        t["stop"][ids] = stop
        t["stolen"][ids] = stolen
        t["attempts"][ids] += 1
        for k, v in values.items():
            self.values[k][ids] = v
        self.dirty[ids] = True

    def record_failure(self, tid: int, worker: int, start: float, stop: float,
                       message: str, final: bool) -> int:
        """Count a failed attempt; mark the task failed if ``final``.  Returns attempts."""
        t = self.tasks
        t["attempts"][tid] += 1
        t["worker"][tid] = worker
        t["start"][tid], t["stop"][tid] = start, stop
        if final:
            t["status"][tid] = FAILED
        self.errors[tid] = message
        self.dirty[tid] = True
        return int(t["attempts"][tid])

    def reset_from(self, first_id: int) -> None:
        """Mark tasks ``first_id`` onwards pending again (round-based resume:
        they are recomputed from the last checkpoint, bit for bit)."""
        t = self.tasks
        later = slice(first_id, self.n_tasks)
        t["status"][later] = PENDING
        t["worker"][later] = -1
        t["attempts"][later] = 0
        self.dirty[later] = True

    def commit(self) -> int:
        """Write every changed block: results, flush, then marks, flush.  Returns tasks written.

        Raises
        ------
        StoreWriteError
            When the file system refuses a write (e.g. ``ENOSPC``).  The results
            are written and flushed before the done marks, so the file keeps
            its previous commit; after this error the store writes nothing more.
        """
        if self.broken:
            return 0
        idx = np.flatnonzero(self.dirty)
        if not len(idx):
            return 0
        if self.errors:
            self._check_space(sum(len(m) for m in self.errors.values()))
        try:
            self._write_blocks(idx)
        except (OSError, RuntimeError) as e:
            self._fail(e)
        return len(idx)

    def _fail(self, e: BaseException) -> None:
        """Freeze the file at its last commit and raise a clear :class:`StoreWriteError`."""
        self._freeze()
        code = getattr(e, "errno", None)
        found = re.search(r"errno = (\d+)", str(e))
        if not code and found:
            code = int(found.group(1))
        reason = os.strerror(code) if code else (str(e).strip().splitlines() or [repr(e)])[0]
        if isinstance(e, OSError) and e.strerror and code:
            reason = e.strerror
        self.broken = (f"cannot write to {self.path}: {reason}. The file keeps its last commit "
                       f"({self.committed_done} tasks done); nothing committed is lost. Free "
                       "some space (or repair the file system), then run the job again with "
                       "--resume.")
        raise StoreWriteError(self.broken) from None

    def _check_space(self, grow: int) -> None:
        """Refuse (cleanly, before writing) a commit that would grow the file
        by ``grow`` bytes on a nearly full file system (see MIN_FREE_BYTES)."""
        try:
            st = os.statvfs(self.path.parent)
        except OSError:
            return
        free = st.f_bavail * st.f_frsize
        if free < MIN_FREE_BYTES + 2 * grow:
            self._fail(OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} ({free} bytes free, "
                                             f"a commit needs {MIN_FREE_BYTES + 2 * grow})"))

    def _freeze(self) -> None:
        """Send every later write of HDF5 (cache flushes, close) to /dev/null.

        After a refused write, HDF5 still holds dirty buffers that it would try
        to flush on every later call and at close, failing again, printing
        tracebacks from destructors, and risking a half-written metadata block.
        Pointing the file's descriptor at /dev/null leaves the file on disk
        exactly as the last successful flush left it.
        """
        try:
            fd = self.h5.id.get_vfd_handle()
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, fd)
            os.close(null)
        except Exception:       # another driver: nothing to redirect, errors stay loud
            pass

    def _runs(self, idx: np.ndarray) -> list[slice]:
        """The changed blocks, adjacent ones merged into one slice each."""
        blocks = np.unique(idx // BLOCK)
        breaks = np.flatnonzero(np.diff(blocks) > 1) + 1
        return [slice(int(run[0]) * BLOCK, min((int(run[-1]) + 1) * BLOCK, self.n_tasks))
                for run in np.split(blocks, breaks)]

    def _write_blocks(self, idx: np.ndarray) -> None:
        runs = self._runs(idx)
        g = self._dsets
        for name, arr in self.values.items():
            for s in runs:
                g[name][s] = arr[s]
        self.h5.flush()
        t = self._tdsets
        for name in list(TASK_FIELDS)[::-1]:       # "status" last
            for s in runs:
                t[name][s] = self.tasks[name][s]
        self.h5.flush()
        self.dirty[:] = False
        self.committed_done = int(np.count_nonzero(self.tasks["status"] == DONE))
        # Error texts last: they grow the file (HDF5's heap), the one write that
        # can be cut short in a way that damages them (see repair_errors).
        if self.errors:
            for tid, msg in self.errors.items():
                t["error"][tid] = msg
            self.errors.clear()
            self.h5.flush()

    def set_attrs(self, **attrs) -> None:
        """Set root attributes and flush (nothing once a write has failed)."""
        if self.broken:
            return
        self._check_space(sum(len(v) for v in attrs.values() if isinstance(v, str)))
        try:
            for k, v in attrs.items():
                self.h5.attrs[k] = v
            self.h5.flush()
        except (OSError, RuntimeError) as e:
            self._fail(e)

    def close(self) -> None:
        """Close the file (a failed close after a failed write is not reported twice)."""
        if self.h5:
            try:
                self.h5.close()
            except (OSError, RuntimeError):
                if not self.broken:
                    raise


def repair_errors(f: h5py.File, path, log=None) -> int:
    """Make ``/tasks/error`` readable again after a commit cut short by a full disk.

    The error texts are the only data a commit writes into new file space; if
    the file system refused that write, some texts point at heap space that
    was never written.  Results and done marks are not affected (they are
    flushed before).  The readable texts are kept, each lost one is replaced by
    a note, and the dataset is rebuilt.  Returns how many texts were lost.
    """
    import sys
    ds = f["tasks/error"]
    try:
        ds[...]
        return 0
    except (OSError, RuntimeError):
        pass
    texts, lost = [], 0
    for i in range(ds.shape[0]):
        try:
            v = ds[i]
            texts.append(v.decode() if isinstance(v, bytes) else str(v))
        except (OSError, RuntimeError):
            texts.append("(this error text was lost: the disk was full when it was written)")
            lost += 1
    del f["tasks/error"]
    f["tasks"].create_dataset("error", data=np.array(texts, dtype=object),
                              dtype=h5py.string_dtype())
    f.flush()
    print(f"hpcmicro: {path}: {lost} error text(s) of failed attempts were lost to a full disk "
          "and replaced by a note; results and done marks are intact", file=log or sys.stderr)
    return lost


# -- crashed tasks -----------------------------------------------------------
def inflight_dir(output) -> Path:
    """The folder of per-rank in-flight records of ``output`` (``OUTPUT.inflight``)."""
    return Path(str(output) + ".inflight")


class InFlight:
    """This rank's record of the task it is running, for crash quarantine.

    Notes
    -----
    A task that kills its process (a segfault in a kernel) takes the whole MPI
    job with it, master included, so nothing in memory survives to say which
    task did it.  Each worker therefore keeps two small files in
    ``OUTPUT.inflight/``:

    * ``rank-R.json``: fixed-width JSON naming the task running now (-1: none).
      The file is memory-mapped and the task thread stores the id's 20 digits
      into the map before each task: no system call, well under a
      microsecond, and no fsync is needed because a crashed *process* loses
      nothing that is already in the kernel's page cache;
    * ``HOST-PID.crash``: where :mod:`faulthandler` writes if the process dies
      of SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT.  A SIGKILL (MPI tearing
      the job down, Slurm's KillWait) leaves it empty, so a healthy task that
      was merely running when the job died is not blamed.

    On ``--resume`` the master reads them (:func:`collect_crashes`) before any
    worker starts: each task named by a rank whose process crashed is charged
    one attempt, and is marked failed (quarantined) after ``max_attempts``.
    """

    def __init__(self, output, rank: int):
        d = inflight_dir(output)
        host = "".join(c if c.isalnum() or c in "-." else "_" for c in socket.gethostname())
        self._map = None
        self._crash = None
        head = json.dumps({"rank": rank, "host": socket.gethostname(), "pid": os.getpid(),
                           "crash": f"{host}-{os.getpid()}.crash"})[:-1] + ', "task": '
        record = (head + "%20d}\n" % -1).encode()
        self._at = slice(len(head.encode()), len(head.encode()) + 20)
        try:
            d.mkdir(parents=True, exist_ok=True)
            self._crash = open(d / f"{host}-{os.getpid()}.crash", "w")
            with open(d / f"rank-{rank}.json", "w+b") as fh:
                fh.write(record)
                fh.flush()
                self._map = mmap.mmap(fh.fileno(), len(record))
        except (OSError, ValueError):   # e.g. a full disk: run without crash quarantine
            self.close()
            return
        import faulthandler
        faulthandler.enable(file=self._crash, all_threads=True)

    def mark(self, task_id: int) -> None:
        """Record that ``task_id`` runs now (-1: nothing runs)."""
        if self._map is not None:
            self._map[self._at] = b"%20d" % task_id

    def close(self) -> None:
        """Stop recording (the files stay for the master to read or remove)."""
        if self._map is not None:
            self._map.close()
            self._map = None
        if self._crash is not None:
            import faulthandler
            faulthandler.disable()
            self._crash.close()
            self._crash = None


def collect_crashes(output) -> list[dict]:
    """Tasks that were running in a process that crashed, from ``OUTPUT.inflight``.

    Returns one dict per such task: ``task``, ``rank``, ``host``, ``pid`` and
    ``dump`` (the faulthandler text).  Unreadable records are ignored: they
    are only ever our own JSON, and are never executed or unpickled.
    """
    found = []
    d = inflight_dir(output)
    if not d.is_dir():
        return found
    for rec in sorted(d.glob("rank-*.json")):
        try:
            r = json.loads(rec.read_text())
            task, crash = int(r["task"]), Path(r["crash"]).name
        except (OSError, ValueError, KeyError, TypeError):
            continue
        try:
            dump = (d / crash).read_text(errors="replace").strip()
        except OSError:
            dump = ""
        if task >= 0 and dump:
            found.append({"task": task, "rank": r.get("rank"), "host": r.get("host"),
                          "pid": r.get("pid"), "dump": dump})
    return found


def clear_inflight(output) -> None:
    """Remove ``OUTPUT.inflight`` (its records were read, or the job is over)."""
    d = inflight_dir(output)
    if d.is_dir():
        for f in d.iterdir():
            f.unlink(missing_ok=True)
        try:
            d.rmdir()
        except OSError:
            pass
