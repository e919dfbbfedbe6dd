"""Real mpiexec at 1, 2 and 4 ranks, every scheduler, each under a timeout."""

import numpy as np
import pytest

from conftest import expected_planned, hpcmicro, mpiexec, read_tasks, synthetic_job

pytestmark = pytest.mark.mpi


@pytest.mark.parametrize("n", [1, 2, 4])
@pytest.mark.parametrize("scheduler", ["steal", "dynamic", "static"])
def test_mpiexec_all_schedulers(tmp_path, n, scheduler):
    job = synthetic_job(tmp_path, scheduler=scheduler, n_tasks=120, distribution="pareto",
                        order="random")
    r = mpiexec(n, "run", job, "-q", timeout=90)
    assert r.returncode == 0, r.stderr
    t = read_tasks(tmp_path / "job.h5")
    assert t["attrs"]["status"] == "complete"
    assert t["attrs"]["n_workers"] == max(1, n - 1)
    assert np.all(t["status"] == 1) and np.all(t["attempts"] == 1)
    assert np.array_equal(t["planned"], expected_planned(job))
    workers = set(np.unique(t["worker"]))
    assert workers == ({1} if n == 1 else set(range(1, n)))


def test_dash_n_launches_mpiexec_and_reads_status_from_file(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=50)
    r = hpcmicro("run", job, "-n", 3, "-q")
    assert r.returncode == 0, r.stderr
    t = read_tasks(tmp_path / "job.h5")
    assert t["attrs"]["n_workers"] == 2 and np.all(t["status"] == 1)


def test_plain_run_without_mpiexec_prints_progress(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=30)
    r = hpcmicro("run", job)
    assert r.returncode == 0, r.stderr
    assert "30/30 tasks (100.0%)" in r.stderr and "complete: 30 done" in r.stderr


def test_bad_job_file_every_rank_exits_with_message(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=10)
    job.write_text(job.read_text().replace('"steal"', '"fifo"'))
    r = mpiexec(3, "run", job, timeout=60)
    assert r.returncode == 2
    assert f"{job}:4: [job.scheduler]" in r.stderr
    assert "scheduler = 'fifo' is not allowed; choose from steal, dynamic, static" in r.stderr
    assert r.stderr.count("hpcmicro:") == 1, "only rank 0 reports"
    assert "Traceback" not in r.stderr


def test_one_rank_world_under_multi_task_slurm_step_is_refused(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=10)
    import os
    env = dict(os.environ, SLURM_NTASKS="2")
    r = mpiexec(1, "run", job, env=env, timeout=60)
    assert r.returncode == 2
    assert "separate one-rank jobs" in r.stderr
    assert not (tmp_path / "job.h5").exists()
