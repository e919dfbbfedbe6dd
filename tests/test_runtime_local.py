"""The whole protocol in one process: master and worker threads, in-process transport."""

import numpy as np
import pytest

from conftest import expected_planned, read_tasks, synthetic_job
from hpcmicro.config import load_job
from hpcmicro.errors import EXIT_TASKS_FAILED, OutputError
from hpcmicro.runner import run_local


@pytest.mark.parametrize("scheduler", ["steal", "dynamic", "static"])
@pytest.mark.parametrize("n_workers", [1, 3])
def test_every_task_done_once(tmp_path, scheduler, n_workers):
    job = synthetic_job(tmp_path, scheduler=scheduler, n_tasks=80, distribution="pareto",
                        order="ascending")
    assert run_local(load_job(job, environ={}), n_workers=n_workers, quiet=True) == 0
    t = read_tasks(tmp_path / "job.h5")
    assert t["attrs"]["status"] == "complete" and t["attrs"]["n_workers"] == n_workers
    assert np.all(t["status"] == 1) and np.all(t["attempts"] == 1)
    assert np.array_equal(t["planned"], expected_planned(job))
    assert set(np.unique(t["worker"])) <= set(range(1, n_workers + 1))
    assert np.all(t["stop"] >= t["start"]) and np.all(t["duration"] >= 0.0)
    if scheduler != "steal":
        assert not t["stolen"].any()


def test_stealing_happens_when_estimates_are_wrong(tmp_path):
    # All estimates equal but durations skewed and sorted: the worker dealt
    # the long tail must be robbed.
    job = synthetic_job(tmp_path, n_tasks=60, distribution="uniform", mean_ms=4.0,
                        order="descending", cost_noise="none")
    cfg = load_job(job, environ={}, overrides=("job.scheduler=steal",))
    assert run_local(cfg, n_workers=3, quiet=True) == 0
    t = read_tasks(tmp_path / "job.h5")
    assert t["stolen"].sum() > 0
    assert np.all(t["status"] == 1)


def test_failing_task_retried_then_failed_with_traceback(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=20, fail_tasks=[4])
    cfg = load_job(job, environ={}, overrides=("job.max_attempts=2",))
    assert run_local(cfg, n_workers=2, quiet=True) == EXIT_TASKS_FAILED
    t = read_tasks(tmp_path / "job.h5")
    assert t["attrs"]["status"] == "failed"
    assert t["status"][4] == 2 and t["attempts"][4] == 2
    assert np.all(np.delete(t["status"], 4) == 1)
    err = t["error"][4].decode()
    assert "task 4 on rank" in err and "RuntimeError: synthetic failure of task 4" in err
    assert "Traceback" in err


def test_existing_output_is_never_overwritten(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=5)
    cfg = load_job(job, environ={})
    assert run_local(cfg, quiet=True) == 0
    before = (tmp_path / "job.h5").read_bytes()
    with pytest.raises(OutputError, match="already exists; add --resume"):
        run_local(cfg, quiet=True)
    assert (tmp_path / "job.h5").read_bytes() == before
    # Resuming a complete job does nothing and succeeds.
    assert run_local(cfg, resume=True, quiet=True) == 0
    assert read_tasks(tmp_path / "job.h5")["attrs"]["restarts"] == 1


@pytest.mark.parametrize("costs, given", [
    (np.ones(10), [0, 1, 2, 3, 4]),                  # no estimates: what runs next
    (np.arange(10.0, 0.0, -1.0), [4, 5, 6, 7, 8, 9]),  # estimates (largest first): the smallest
])
def test_which_queued_tasks_a_victim_gives(tmp_path, costs, given):
    from hpcmicro import messages as m
    from hpcmicro.scheduling.steal import StealWorker
    from hpcmicro.transport import LocalTransport
    from hpcmicro.worker import Worker
    from hpcmicro.workloads import resolve
    cfg = load_job(synthetic_job(tmp_path, n_tasks=10), environ={})
    wl = resolve(cfg.job.workload)(cfg.params, cfg)
    tps = LocalTransport.group(3)
    w = Worker(tps[1], wl, StealWorker(1, [1, 2]), t0=0.0)
    w._enqueue(np.arange(10), costs, 0)
    w._answer_steal(2, m.StealRequest(req_id=1, queued=0.0))
    _, reply = tps[2].recv(timeout=1.0)
    assert reply.ids.tolist() == given
