"""A round-based toy workload for the runtime's tests (named as 'ringtoy:Ring').

P values on a ring; each round, x_j <- 0.5 x_j + 0.25 (x_{j-1} + x_{j+1}) + r.
Values stay on the worker that computed them; a task's value goes to the
holders of its two neighbours and of itself.  Task j of a round sleeps
(j % 3) ms, so the steal policy moves tasks (and their data).
"""

import dataclasses
import time

import numpy as np

from hpcmicro.workloads import Workload, option


@dataclasses.dataclass(frozen=True)
class RingParams:
    n: int = option(12, help="values on the ring", min=3)
    rounds: int = option(5, help="rounds", min=1)
    sleep_ms: float = option(1.0, help="sleep per task = (j % 3) * sleep_ms", min=0)


def serial(n, rounds):
    """The same computation in one loop (the oracle)."""
    x = np.arange(n, dtype=float)
    out = []
    for r in range(rounds):
        x = 0.5 * x + 0.25 * (np.roll(x, 1) + np.roll(x, -1)) + r
        out.append(x.copy())
    return np.concatenate(out)


class Ring(Workload):
    name = "ring"
    Params = RingParams
    resident = True

    def rounds(self):
        return self.params.rounds

    def make_tasks(self):
        # The same estimate (seconds) for every task: the first placement
        # deals them round robin, blind to the sleeps, so workers must steal.
        return np.full(self.params.n * self.params.rounds, 1e-3)

    def result_fields(self):
        return {"value": ((), "f8")}

    def setup_worker(self):
        pass

    def needs(self, j):
        n = self.params.n
        return {(j - 1) % n, j, (j + 1) % n}

    def initial_inputs(self, r, items):
        n = self.params.n
        return {j: {k % n: float(k % n) for k in (j - 1, j, j + 1)} for j in items}

    def run_resident(self, task_id, inputs):
        from hpcmicro.dataflow import INITIAL
        n = self.params.n
        r, j = divmod(task_id, n)
        v = inputs.get(INITIAL, inputs)
        time.sleep((j % 3) * self.params.sleep_ms / 1000)
        x = 0.5 * v[j] + 0.25 * (v[(j - 1) % n] + v[(j + 1) % n]) + r
        pieces = [(k % n, j, x) for k in (j - 1, j, j + 1)] if r + 1 < self.rounds() else []
        return {"value": x}, pieces


class Broken(Ring):
    """A workload whose set-up raises on rank 2 only: an error outside any task."""

    def setup_worker(self):
        import os
        super().setup_worker()
        if os.environ.get("PMI_RANK") == "2":
            raise RuntimeError("broken set-up on rank 2")


class Flaky(Ring):
    """Task 2 * n + 5 fails on its first attempt on each rank: its retry must
    find its inputs again."""

    failed = False

    def run_resident(self, task_id, inputs):
        if task_id == 2 * self.params.n + 5 and not self.failed:
            self.failed = True
            raise RuntimeError("flaky task, first attempt")
        return super().run_resident(task_id, inputs)


class Doomed(Ring):
    """Task 2 * n + 5 always fails: later rounds can never run."""

    def run_resident(self, task_id, inputs):
        if task_id == 2 * self.params.n + 5:
            raise RuntimeError("doomed task")
        return super().run_resident(task_id, inputs)
