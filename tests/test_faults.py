"""Kills, signals, hangs and concurrent jobs against real runs.

Pass condition everywhere: every rank exits within a bound, and nothing that
was committed is lost or duplicated (all attempts == 1 after a resume means
no committed task ran again).
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import expected_planned, hpcmicro, mpiexec, read_tasks, synthetic_job
from hpcmicro.cli import find_mpiexec
from hpcmicro.errors import EXIT_RESUMABLE

pytestmark = pytest.mark.faults


def _ranks_of(job: Path) -> dict:
    """pid of each MPI rank running ``job``, read from /proc."""
    found = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().split(b"\0")
            env = (d / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(job).encode() in cmd and b"-m" in cmd and sys.executable.encode() in cmd[0]:
            for e in env:
                if e.startswith(b"PMI_RANK="):
                    found[int(e[9:])] = int(d.name)
    return found


def _start(n, job, *extra):
    argv = [find_mpiexec(), "-n", str(n), sys.executable, "-m", "hpcmicro", "run", str(job),
            "-q", *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _done_count(path) -> int:
    try:
        with h5py.File(path, "r", locking=False) as f:
            return int((f["tasks/status"][...] == 1).sum())
    except (OSError, KeyError):
        return 0


def _wait_for_progress(proc, path, at_least=5, timeout=60):
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        if proc.poll() is not None:
            pytest.fail(f"job ended early: {proc.communicate()}")
        if Path(path).exists() and _done_count(path) >= at_least:
            return
        time.sleep(0.05)
    pytest.fail("no progress")


def _assert_clean_equal(job, out):
    t = read_tasks(out)
    assert t["attrs"]["status"] == "complete"
    assert np.all(t["status"] == 1), "no task lost"
    assert np.all(t["attempts"] == 1), "no committed task ran twice"
    assert np.array_equal(t["planned"], expected_planned(job)), "results equal a clean run"
    return t


def test_sigkill_a_worker_then_resume(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=150, mean_ms=20.0, distribution="constant")
    out = tmp_path / "job.h5"
    p = _start(3, job)
    _wait_for_progress(p, out, 10)
    os.kill(_ranks_of(job)[2], signal.SIGKILL)
    p.communicate(timeout=60)
    assert p.returncode != 0
    t = read_tasks(out)
    assert t["attrs"]["status"] == "incomplete" and 0 < (t["status"] == 1).sum() < 150
    r = mpiexec(3, "run", job, "--resume", "-q")
    assert r.returncode == 0, r.stderr
    t = _assert_clean_equal(job, out)
    assert t["attrs"]["restarts"] == 1


@pytest.mark.parametrize("times", [1, 3])
def test_sigterm_drains_resumable_then_resume(tmp_path, times):
    job = synthetic_job(tmp_path, n_tasks=150, mean_ms=20.0, distribution="constant")
    out = tmp_path / "job.h5"
    p = _start(3, job)
    _wait_for_progress(p, out, 10)
    for _ in range(times):          # MPICH's mpiexec under Slurm delivers it three times
        p.send_signal(signal.SIGTERM)
        time.sleep(0.02)
    t0 = time.monotonic()
    _, err = p.communicate(timeout=60)
    assert time.monotonic() - t0 < 30, "drain is bounded"
    assert "draining" in err
    t = read_tasks(out)
    assert t["attrs"]["status"] == "incomplete"
    left = (t["status"] == 0).sum()
    assert left > 0
    r = hpcmicro("run", job, "--resume", "-n", 3, "-q")
    assert r.returncode == 0, r.stderr
    _assert_clean_equal(job, out)


def test_exit_status_of_dash_n_is_resumable_after_sigterm(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=200, mean_ms=20.0, distribution="constant")
    out = tmp_path / "job.h5"
    p = subprocess.Popen([sys.executable, "-m", "hpcmicro", "run", str(job), "-n", "3", "-q"],
                         stderr=subprocess.PIPE, text=True)
    _wait_for_progress(p, out, 10)
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=60)
    assert p.returncode == EXIT_RESUMABLE


def test_sigkill_master_at_random_moments_file_always_usable(tmp_path):
    rng = random.Random(5)
    job = synthetic_job(tmp_path, n_tasks=2000, mean_ms=2.0)
    job.write_text(job.read_text().replace("commit_interval = 0.05", "commit_interval = 0.01"))
    out = tmp_path / "job.h5"
    planned = expected_planned(job)
    kills = 0
    for trial in range(12):
        p = subprocess.Popen([sys.executable, "-m", "hpcmicro", "run", str(job), "-q"]
                             + (["--resume"] if out.exists() else []),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.3, 1.2))
        if p.poll() is None:
            p.kill()
            kills += 1
        p.communicate(timeout=30)
        if not out.exists():
            continue
        with h5py.File(out, "r") as f:        # it always opens
            st = f["tasks/status"][...]
            got = f["synthetic/planned"][...]
        done = st == 1
        assert np.array_equal(got[done], planned[done]), "every task marked done has its result"
        if done.all():
            break
    assert kills >= 3
    r = hpcmicro("run", job, "--resume", "-q")
    assert r.returncode == 0, r.stderr
    t = read_tasks(out)
    assert np.all(t["status"] == 1) and np.array_equal(t["planned"], planned)


def test_hanging_task_times_out_and_job_ends(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=40, hang_tasks=[3])
    job.write_text(job.read_text().replace("seed = 3", "seed = 3\ntask_timeout = 1.0"))
    t0 = time.monotonic()
    r = mpiexec(3, "run", job, "-q", timeout=90)
    assert time.monotonic() - t0 < 60
    assert r.returncode != 0
    t = read_tasks(tmp_path / "job.h5")
    assert t["attrs"]["status"] == "failed"
    assert t["status"][3] == 2 and "ran longer than task_timeout = 1 s" in t["error"][3].decode()
    assert np.all(np.delete(t["status"], 3) == 1)


def test_second_job_on_same_output_is_refused(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=600, mean_ms=20.0, distribution="constant")
    out = tmp_path / "job.h5"
    p = _start(2, job)
    _wait_for_progress(p, out, 3)
    for env in ({}, {"HDF5_USE_FILE_LOCKING": "FALSE"}):
        r = hpcmicro("run", job, "--resume", "-q", env=env)
        assert p.poll() is None, "the first job must still be running for this test to mean anything"
        assert r.returncode == 2
        assert "is in use by another job" in r.stderr and "pid" in r.stderr
    p.communicate(timeout=60)
    assert p.returncode == 0
    _assert_clean_equal(job, out)


def test_resume_with_changed_job_file_is_refused(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=10)
    assert hpcmicro("run", job, "-q").returncode == 0
    before = (tmp_path / "job.h5").read_bytes()
    job.write_text(job.read_text().replace("mean_ms = 2.0", "mean_ms = 3.0"))
    r = hpcmicro("run", job, "--resume", "-q")
    assert r.returncode == 2 and "configuration changed" in r.stderr
    assert (tmp_path / "job.h5").read_bytes() == before


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupted_output_on_resume_is_a_clear_error(tmp_path, damage):
    job = synthetic_job(tmp_path, n_tasks=10)
    out = tmp_path / "job.h5"
    assert hpcmicro("run", job, "-q").returncode == 0
    data = out.read_bytes()
    out.write_bytes(data[: len(data) // 3] if damage == "truncate" else b"\0junk" * 500)
    broken = out.read_bytes()
    t0 = time.monotonic()
    r = hpcmicro("run", job, "--resume", "-q", timeout=30)
    assert time.monotonic() - t0 < 10
    assert r.returncode == 2 and "corrupted or truncated" in r.stderr
    assert "Traceback" not in r.stderr
    assert out.read_bytes() == broken, "never overwritten"
