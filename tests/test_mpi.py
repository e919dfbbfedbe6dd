"""Real mpiexec at 1, 2 and 4 ranks, every scheduler, each under a timeout."""

import numpy as np
import pytest

from conftest import (env_with_path, expected_planned, hpcmicro, mpiexec, read_tasks,
                      synthetic_job)

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


# ------------------------------------------------------------------ early worker preparation
PREP_MODULE = '''
import os, time
from hpcmicro.workloads.synthetic import Synthetic

class SlowPrep(Synthetic):
    """prepare_worker takes a while, and records that it ran."""
    def prepare_worker(self):
        time.sleep(1.0)
        self.prepared = True

    def setup_worker(self):
        assert self.prepared
        super().setup_worker()

class BadPrep(Synthetic):
    """prepare_worker raises on rank 2 only."""
    def prepare_worker(self):
        if os.environ.get("PMI_RANK") == "2":
            raise RuntimeError("broken preparation on rank 2")
'''


def _prep_job(tmp_path, cls):
    (tmp_path / "preptoy.py").write_text(PREP_MODULE)
    job = synthetic_job(tmp_path, n_tasks=20)
    job.write_text(job.read_text().replace('workload = "synthetic"',
                                           f'workload = "preptoy:{cls}"'))
    return job, env_with_path(tmp_path)


def test_prepare_worker_runs_before_setup(tmp_path):
    job, env = _prep_job(tmp_path, "SlowPrep")
    r = mpiexec(3, "run", job, "-q", env=env, timeout=90)
    assert r.returncode == 0, r.stderr
    assert np.all(read_tasks(tmp_path / "job.h5")["status"] == 1)


def test_prepare_worker_error_surfaces_after_go_and_aborts(tmp_path):
    import time
    job, env = _prep_job(tmp_path, "BadPrep")
    t0 = time.monotonic()
    r = mpiexec(3, "run", job, "-q", env=env, timeout=90)
    assert time.monotonic() - t0 < 60, "no hang"
    assert r.returncode != 0
    assert "internal error on rank 2 of 3" in r.stderr
    assert "broken preparation on rank 2" in r.stderr
    assert (tmp_path / "job.h5").exists(), "raised once the master had said go"


def test_master_failing_before_go_while_workers_prepare(tmp_path):
    job, env = _prep_job(tmp_path, "SlowPrep")
    (tmp_path / "job.h5").write_bytes(b"not ours")
    r = mpiexec(3, "run", job, env=env, timeout=60)
    assert r.returncode == 2
    assert "already exists" in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.count("hpcmicro:") == 1
    assert (tmp_path / "job.h5").read_bytes() == b"not ours"


def test_align_under_mpiexec_equals_one_process(tmp_path):
    rng = np.random.default_rng(5)
    letters = np.array(list("ACDEFGHIKLMNPQRSTVWY"))
    seqs = ["".join(rng.choice(letters, rng.integers(20, 120))) for _ in range(60)]
    (tmp_path / "q.fa").write_text("".join(f">q{k}\n{s[5:70]}\n" for k, s in enumerate(seqs[:6])))
    (tmp_path / "d.fa").write_text("".join(f">d{k}\n{s}\n" for k, s in enumerate(seqs)))
    tables = []
    for n in (1, 3):
        job = tmp_path / f"a{n}.toml"
        job.write_text(f'[job]\nworkload = "align"\noutput = "{tmp_path}/a{n}.h5"\n\n'
                       '[align]\nqueries = "q.fa"\ndatabase = "d.fa"\ntop_k = 3\n'
                       'queries_per_task = 2\ndb_chunks = 3\n')
        r = mpiexec(n, "run", job, "-q", timeout=120)
        assert r.returncode == 0, r.stderr
        import h5py
        with h5py.File(tmp_path / f"a{n}.h5", "r") as f:
            g = f["align"]
            tables.append({k: g[k][...] for k in ("query", "target", "score", "cigar")})
    for k in tables[0]:
        assert np.array_equal(tables[0][k], tables[1][k]), k
    assert len(tables[0]["query"]) == 18
