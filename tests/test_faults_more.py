"""More faults and bad input: crashing tasks, odd signals, a drain cut short,
a full disk, output paths, hostile names and planted pickles.

Pass condition everywhere (as in test_faults.py): every rank exits within a
bound, and nothing that was committed is lost or duplicated.
"""

import os
import pickle
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import expected_planned, hpcmicro, mpiexec, read_tasks, synthetic_job
from hpcmicro.errors import EXIT_RESUMABLE, EXIT_TASKS_FAILED
from test_faults import _assert_clean_equal, _ranks_of, _start, _wait_for_progress

pytestmark = pytest.mark.faults
REPO = Path(__file__).resolve().parents[1]


def _run_until_final(argv_of, out, max_runs=6):
    """Run (then resume) until the file is final; returns the exit statuses."""
    codes = []
    for _ in range(max_runs):
        r = argv_of(["--resume"] if out.exists() else [])
        codes.append(r.returncode)
        with h5py.File(out, "r") as f:
            if f.attrs["status"] != "incomplete":
                return codes, r
    pytest.fail(f"not final after {max_runs} runs: {codes}")


# -- a task that segfaults ----------------------------------------------------
@pytest.mark.parametrize("ranks", [1, 3])
def test_segfaulting_task_is_quarantined_after_max_attempts(tmp_path, ranks):
    job = synthetic_job(tmp_path, n_tasks=40, mean_ms=5.0, distribution="constant",
                        segfault_tasks=[17])
    out = tmp_path / "job.h5"

    def run(extra):
        if ranks == 1:
            return hpcmicro("run", job, "-q", *extra, timeout=60)
        return mpiexec(ranks, "run", job, "-q", *extra, timeout=60)
    codes, last = _run_until_final(run, out)
    # max_attempts = 3: three runs crash, the fourth finds the task quarantined.
    assert len(codes) == 4 and all(c not in (0, EXIT_TASKS_FAILED) for c in codes[:3]), codes
    assert codes[3] == EXIT_TASKS_FAILED
    assert "task 17 crashed rank" in last.stderr and "quarantined" in last.stderr
    t = read_tasks(out)
    assert t["attrs"]["status"] == "failed" and t["attrs"]["restarts"] == 3
    assert t["status"][17] == 2 and t["attempts"][17] == 3
    err = t["error"][17].decode()
    assert "the process crashed while running it" in err and "Segmentation fault" in err
    ok = np.arange(40) != 17
    assert np.all(t["status"][ok] == 1), "no other task lost"
    assert np.all(t["attempts"][ok] == 1), "no other task charged or run twice"
    assert np.array_equal(t["planned"][ok], expected_planned(job)[ok])
    assert not (tmp_path / "job.h5.inflight").exists(), "records are removed once final"


def test_sigkill_of_the_job_charges_no_attempt(tmp_path):
    """Tasks merely running when the job is SIGKILLed are not crash suspects."""
    job = synthetic_job(tmp_path, n_tasks=60, mean_ms=100.0, distribution="constant")
    out = tmp_path / "job.h5"
    p = _start(3, job)
    _wait_for_progress(p, out, 6)
    for pid in _ranks_of(job).values():
        os.kill(pid, signal.SIGKILL)
    p.communicate(timeout=60)
    r = mpiexec(3, "run", job, "--resume", "-q")
    assert r.returncode == 0, r.stderr
    assert "crashed" not in r.stderr
    _assert_clean_equal(job, out)


# -- signals -------------------------------------------------------------------
def test_sigcont_is_harmless(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=80, mean_ms=20.0, distribution="constant")
    out = tmp_path / "job.h5"
    p = _start(3, job)
    _wait_for_progress(p, out, 5)
    for _ in range(3):          # scancel sends SIGCONT before SIGTERM; so may a user
        for pid in [p.pid, *_ranks_of(job).values()]:
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "draining" not in err
    _assert_clean_equal(job, out)


def _drained_once_then_resumes(p, err, job, out):
    """One drain, exit 75, some work left; a resume then finishes the job cleanly."""
    assert p.returncode == EXIT_RESUMABLE, err
    assert err.count("draining") == 1, err
    t = read_tasks(out)
    assert t["attrs"]["status"] == "incomplete" and (t["status"] == 0).any()
    r = mpiexec(3, "run", job, "--resume", "-q")
    assert r.returncode == 0, r.stderr
    return _assert_clean_equal(job, out)


def test_usr1_then_term_drains_once(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=150, mean_ms=20.0, distribution="constant")
    out = tmp_path / "job.h5"
    # hpcmicro run -n 3 (it reads the exit status from the file; mpiexec's is not trusted)
    p = subprocess.Popen([sys.executable, "-m", "hpcmicro", "run", str(job), "-n", "3", "-q"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for_progress(p, out, 10)
    ranks = _ranks_of(job)
    os.kill(ranks[2], signal.SIGUSR1)     # Slurm's warning reaches one worker first...
    time.sleep(0.1)
    p.send_signal(signal.SIGTERM)         # ...then the limit's TERM reaches the launcher
    t0 = time.monotonic()
    _, err = p.communicate(timeout=60)
    assert time.monotonic() - t0 < 30, "drain is bounded"
    _drained_once_then_resumes(p, err, job, out)


def _catches(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler for ``sig`` (Linux: /proc SigCgt)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    except OSError:
        pass
    return False


def test_usr1_during_start_up_drains_instead_of_killing(tmp_path):
    """Slurm may send its warning up to a minute early, so with a short limit
    it can land while the ranks are still importing.  Each rank must then open
    its output and drain (exit resumable), not die of SIGUSR1."""
    job = synthetic_job(tmp_path, n_tasks=200, mean_ms=20.0, distribution="constant")
    out = tmp_path / "job.h5"
    p = _start(3, job)
    t0, ranks = time.monotonic(), {}
    while not (len(ranks) == 3 and all(_catches(r, signal.SIGUSR1) for r in ranks.values())):
        assert p.poll() is None and time.monotonic() - t0 < 30, p.communicate()
        ranks = _ranks_of(job)
        time.sleep(0.002)
    early = not out.exists()        # the output opens only once start-up is over
    for pid in ranks.values():
        os.kill(pid, signal.SIGUSR1)
    _, err = p.communicate(timeout=60)
    assert early, "the signal was meant to arrive during start-up"
    assert _drained_once_then_resumes(p, err, job, out)["attrs"]["restarts"] == 1


def test_drain_longer_than_killwait_leaves_a_consistent_file(tmp_path):
    """Slurm sends TERM, waits KillWait, then SIGKILLs: here the running tasks
    outlast that wait, so the drain is cut short mid-way."""
    job = synthetic_job(tmp_path, n_tasks=16, mean_ms=2500.0, distribution="constant")
    out = tmp_path / "job.h5"
    p = _start(3, job)
    _wait_for_progress(p, out, 2, timeout=60)
    ranks = _ranks_of(job)
    time.sleep(0.5)                       # the workers are inside their next tasks
    for pid in ranks.values():
        os.kill(pid, signal.SIGTERM)
    time.sleep(1.0)                       # "KillWait": shorter than the 2.5 s tasks
    for pid in [*ranks.values(), p.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.communicate(timeout=30)
    with h5py.File(out, "r") as f:        # it opens; every task marked done has its result
        st, got = f["tasks/status"][...], f["synthetic/planned"][...]
        assert f.attrs["status"] == "incomplete"
    done = st == 1
    assert done.sum() >= 2 and not done.all()
    assert np.array_equal(got[done], expected_planned(job)[done])
    r = mpiexec(3, "run", job, "--resume", "-q", timeout=90)
    assert r.returncode == 0, r.stderr
    _assert_clean_equal(job, out)


# -- a full disk -----------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (needs root and mount permission; skips with the reason)."""
    d = tmp_path / "disk"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up ({r.stderr.strip() or r.returncode}); "
                    "needs root with mount permission")
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


def _fill(directory: Path) -> Path:
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError:         # ENOSPC: the disk is full now
            pass
    return filler


def test_full_disk_ends_cleanly_and_resumes_once_space_is_freed(tmp_path, small_disk):
    # Failing tasks make every commit grow the file (their error texts), so the
    # first commit after the disk fills up is refused by the file system.
    fails = list(range(100, 600, 7))
    job = synthetic_job(tmp_path, n_tasks=600, mean_ms=8.0, distribution="constant",
                        fail_tasks=fails, fail_times=1)
    # (fail_times counts per worker process, so a resume fails them again: allow that)
    job.write_text(job.read_text().replace("seed = 3", "seed = 3\nmax_attempts = 20"))
    out = small_disk / "job.h5"
    p = _start(3, job, "-o", str(out))
    _wait_for_progress(p, out, 40)
    filler = _fill(small_disk)
    t0 = time.monotonic()
    _, err = p.communicate(timeout=60)
    assert time.monotonic() - t0 < 40, "ends within a bound"
    assert p.returncode == EXIT_RESUMABLE, err
    assert "No space left on device" in err or "errno = 28" in err, err
    assert "--resume" in err and "Traceback" not in err
    with h5py.File(out, "r") as f:        # the last commit is intact
        st, got = f["tasks/status"][...], f["synthetic/planned"][...]
        assert f.attrs["status"] == "incomplete"
    done = st == 1
    assert 0 < done.sum() < 600
    assert np.array_equal(got[done], expected_planned(job)[done])
    filler.unlink()
    r = mpiexec(3, "run", job, "-o", out, "--resume", "-q", timeout=90)
    assert r.returncode == 0, r.stderr
    t = read_tasks(out)
    assert t["attrs"]["status"] == "complete" and np.all(t["status"] == 1)
    once = np.setdiff1d(np.arange(600), fails)
    assert np.all(t["attempts"][once] == 1), "nothing committed ran twice"
    assert np.array_equal(t["planned"], expected_planned(job))


def test_full_disk_at_start_is_a_clean_error(tmp_path, small_disk):
    job = synthetic_job(tmp_path, n_tasks=20)
    _fill(small_disk)
    r = hpcmicro("run", job, "-o", small_disk / "job.h5", "-q", timeout=30)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "space" in r.stderr, r.stderr
    assert not (small_disk / "job.h5").exists()


# -- output paths and hostile names --------------------------------------------
@pytest.mark.parametrize("output", ["/etc/hpcmicro-test.h5", "/proc/self/x.h5", "/x.h5",
                                    "../../../../../../../../usr/lib/hpcmicro-x.h5"])
def test_output_in_a_system_directory_is_refused(tmp_path, output):
    job = synthetic_job(tmp_path, n_tasks=5)
    r = hpcmicro("run", job, "-o", output, "-q", cwd=tmp_path)
    assert r.returncode == 2 and "system directory" in r.stderr and "Traceback" not in r.stderr
    assert not Path(output).exists() and not (tmp_path / output).resolve().exists()


def test_output_that_is_a_directory_is_refused(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=5)
    r = hpcmicro("run", job, "-o", tmp_path, "-q")
    assert r.returncode == 2 and "is a directory" in r.stderr


def test_output_outside_the_run_directory_goes_exactly_where_it_says(tmp_path):
    """Allowed (scratch often lives elsewhere), resolved, and nothing else is made."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    job = synthetic_job(run_dir, n_tasks=5)
    before = set(tmp_path.rglob("*"))
    r = hpcmicro("run", job, "-o", "../elsewhere/x.h5", "-q", cwd=run_dir)
    assert r.returncode == 0, r.stderr
    made = set(tmp_path.rglob("*")) - before
    assert made == {tmp_path / "elsewhere", tmp_path / "elsewhere" / "x.h5"}


def test_fasta_ids_that_look_like_paths_stay_names(tmp_path):
    tag = uuid.uuid4().hex[:8]
    evil_q = f"../../hpcmicro-escape-{tag}"
    evil_t = f"../../../tmp/hpcmicro-escape-{tag}-t"
    (tmp_path / "q.fasta").write_text(f">{evil_q} query\nMKTAYIAKQRQISFVKSHFSRQ\n>ok\nMKVLAAGIVG\n")
    (tmp_path / "db.fasta").write_text(f">{evil_t}\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n"
                                       ">/etc/passwd\nMKVLAAGIVGLLLAQ\n")
    job = tmp_path / "a.toml"
    job.write_text(f'[job]\nworkload = "align"\noutput = "{tmp_path / "a.h5"}"\n\n'
                   '[align]\nqueries = "q.fasta"\ndatabase = "db.fasta"\n'
                   'queries_per_task = 1\ndb_chunks = 1\ntop_k = 5\n')
    before = set(tmp_path.parent.parent.iterdir())
    r = hpcmicro("run", job, "-q", cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    e = hpcmicro("export", tmp_path / "a.h5", "--format", "tsv", cwd=tmp_path)
    assert e.returncode == 0, e.stderr
    rows = [line.split("\t") for line in e.stdout.splitlines() if not line.startswith("#")]
    assert [evil_q, evil_t] in [row[:2] for row in rows], "names kept verbatim"
    assert ["ok", "/etc/passwd"] in [row[:2] for row in rows]
    with h5py.File(tmp_path / "a.h5", "r") as f:
        names = [n.decode() for n in f["align/query_names"][...]]
        assert names == [evil_q, "ok"]
        every = []
        f.visit(every.append)
    assert not any(tag in n or "passwd" in n for n in every), "never an HDF5 path"
    assert set(tmp_path.parent.parent.iterdir()) == before, "nothing made outside"
    assert not Path(f"/tmp/hpcmicro-escape-{tag}-t").exists()
    assert {p.name for p in tmp_path.iterdir()} == {"q.fasta", "db.fasta", "a.toml", "a.h5"}


# -- planted pickles ---------------------------------------------------------------
class _Payload:
    """Unpickling this runs ``touch MARKER``; nothing in hpcmicro may ever do it."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_planted_pickles_are_never_loaded(tmp_path):
    marker = tmp_path / "PWNED"
    bomb = pickle.dumps(_Payload(marker))
    # 1. as the job file
    (tmp_path / "bomb.toml").write_bytes(bomb)
    r = hpcmicro("run", tmp_path / "bomb.toml", "-q")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    # 2. as a FASTA input
    (tmp_path / "q.fasta").write_bytes(bomb)
    (tmp_path / "db.fasta").write_bytes(b">x\nMKV\n")
    (tmp_path / "a.toml").write_text('[job]\nworkload = "align"\n[align]\nqueries = "q.fasta"\n'
                                     'database = "db.fasta"\n')
    r = hpcmicro("run", tmp_path / "a.toml", "-o", tmp_path / "a.h5", "-q", timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    # 3. as the output file of a resume, and as a file to export
    job = synthetic_job(tmp_path, n_tasks=5)
    (tmp_path / "job.h5").write_bytes(bomb)
    r = hpcmicro("run", job, "--resume", "-q")
    assert r.returncode == 2 and "corrupted or truncated" in r.stderr
    assert (tmp_path / "job.h5").read_bytes() == bomb, "left untouched"
    r = hpcmicro("export", tmp_path / "job.h5")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    # 4. as the lock file and as crash records (old enough to count as stale)
    (tmp_path / "job.h5").unlink()
    (tmp_path / "job.h5.lock").write_bytes(bomb)
    os.utime(tmp_path / "job.h5.lock", (time.time() - 60, time.time() - 60))
    (tmp_path / "job.h5.inflight").mkdir()
    (tmp_path / "job.h5.inflight" / "rank-1.json").write_bytes(bomb)
    assert hpcmicro("run", job, "-q").returncode == 0
    (tmp_path / "job.h5.inflight").mkdir()
    (tmp_path / "job.h5.inflight" / "rank-1.json").write_bytes(bomb)
    r = hpcmicro("run", job, "--resume", "-q")
    assert r.returncode == 0, r.stderr
    assert not marker.exists(), "a pickle was executed"


def test_the_package_never_unpickles_files():
    """Static check: no file-reading deserializer that can run code."""
    banned = ("pickle.load", "pickle.Unpickler", "cPickle", "marshal.load", "shelve",
              "allow_pickle=True", "dill", "joblib.load", "np.load(", "numpy.load(",
              "torch.load", "yaml.load(")
    offenders = []
    for src in list((REPO / "hpcmicro").rglob("*.py")) + list((REPO / "kernels").rglob("*.py")):
        text = src.read_text()
        offenders += [f"{src.relative_to(REPO)}: {b}" for b in banned if b in text]
    assert not offenders, offenders
