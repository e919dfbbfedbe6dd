"""``synthetic``: tasks that sleep or spin for a drawn duration.

For tests and benchmarks of the scheduler.  Each task's result is its
measured duration, stored as ``/synthetic/duration``, and the duration it was
asked to take, ``/synthetic/planned`` (a pure function of the job file, so
runs can be compared exactly).  The scheduler's cost
estimates are the true durations, the durations times lognormal noise
(``cost_noise = sigma``), or all equal (``cost_noise = "none"``).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..errors import ConfigError
from .base import Workload, option


@dataclasses.dataclass(frozen=True)
class SyntheticParams:
    """Parameters of the ``[synthetic]`` table."""

    n_tasks: int = option(2000, help="number of tasks", min=1)
    distribution: str = option("lognormal", help="task duration distribution",
                               choices=("constant", "uniform", "lognormal", "pareto"))
    mean_ms: float = option(5.0, help="mean task duration in milliseconds", min=0)
    sigma: float = option(1.0, help="lognormal shape", min=0)
    alpha: float = option(1.5, help="Pareto shape (> 1 so the mean exists)", min=1,
                          min_exclusive=True)
    order: str = option("random", help="order of the durations by task id",
                        choices=("random", "ascending", "descending"))
    mode: str = option("sleep", help="sleep (no CPU) or spin (busy CPU)", choices=("sleep", "spin"))
    cost_noise: float = option(0.0, help="0: exact estimates; > 0: lognormal noise of that "
                               "sigma; 'none': all estimates equal", min=0, also=("none",))
    fail_tasks: list = option([], help="task ids that raise (for fault tests)")
    fail_times: int = option(1_000_000, help="how many attempts of each fail_tasks task raise",
                             min=0)
    hang_tasks: list = option([], help="task ids that hang (for fault tests)")
    segfault_tasks: list = option([], help="task ids that crash their process with a real "
                                  "segmentation fault (for fault tests)")


def durations(p: SyntheticParams, seed: int) -> np.ndarray:
    """Task durations in seconds, a pure function of the parameters and seed."""
    rng = np.random.default_rng(seed)
    n, mean = p.n_tasks, p.mean_ms / 1000.0
    if p.distribution == "constant":
        d = np.full(n, mean)
    elif p.distribution == "uniform":
        d = rng.uniform(0.0, 2.0 * mean, n)
    elif p.distribution == "lognormal":
        d = rng.lognormal(np.log(mean) - p.sigma ** 2 / 2, p.sigma, n) if mean > 0 else np.zeros(n)
    else:  # Pareto with x_m chosen so the mean is `mean`
        xm = mean * (p.alpha - 1) / p.alpha
        d = xm * (1.0 + rng.pareto(p.alpha, n))
    if p.order == "ascending":
        d = np.sort(d)
    elif p.order == "descending":
        d = np.sort(d)[::-1].copy()
    return d


def estimates(p: SyntheticParams, d: np.ndarray, seed: int) -> np.ndarray:
    """The cost estimates the scheduler sees (see the module docstring)."""
    if p.cost_noise == "none":
        return np.ones_like(d)
    if p.cost_noise == 0:
        return d.copy()
    rng = np.random.default_rng(seed + 7919)
    return d * rng.lognormal(0.0, p.cost_noise, len(d))


class Synthetic(Workload):
    """Sleep or spin tasks with a chosen duration distribution."""

    name = "synthetic"
    Params = SyntheticParams

    def __init__(self, params, job):
        super().__init__(params, job)
        self.seed = job.job.seed if hasattr(job, "job") else 0
        self._d = None
        self._failed: dict[int, int] = {}

    def check(self):
        """Fault-test task ids must be valid task ids."""
        for key in ("fail_tasks", "hang_tasks", "segfault_tasks"):
            ids = getattr(self.params, key)
            if not all(isinstance(i, int) and 0 <= i < self.params.n_tasks for i in ids):
                raise ConfigError(f"{key} must list task ids between 0 and n_tasks-1, got {ids}",
                                  key=f"synthetic.{key}")

    @property
    def d(self) -> np.ndarray:
        """The drawn task durations (seconds)."""
        if self._d is None:
            self._d = durations(self.params, self.seed)
        return self._d

    def make_tasks(self):
        """The cost estimates the scheduler sees."""
        return estimates(self.params, self.d, self.seed)

    def result_fields(self):
        """Measured and planned duration of each task (seconds)."""
        return {"duration": ((), "f8"), "planned": ((), "f8")}

    def setup_worker(self):
        """Draw the durations once per rank."""
        _ = self.d

    def run_task(self, task_id):
        """Sleep or spin for the task's duration (or fail/hang for fault tests)."""
        p = self.params
        if task_id in p.segfault_tasks:
            import ctypes
            ctypes.string_at(0)        # reads address 0: SIGSEGV, as a broken kernel would
        if task_id in p.hang_tasks:
            while True:
                time.sleep(1.0)
        if task_id in p.fail_tasks:
            k = self._failed.get(task_id, 0)
            if k < p.fail_times:
                self._failed[task_id] = k + 1
                raise RuntimeError(f"synthetic failure of task {task_id}")
        want = float(self.d[task_id])
        t = time.perf_counter()
        if want > 0:
            if p.mode == "sleep":
                time.sleep(want)
            else:
                while time.perf_counter() - t < want:
                    pass
        return {"duration": time.perf_counter() - t, "planned": want}
