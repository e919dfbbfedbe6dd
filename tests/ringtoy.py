"""A round-based toy workload for the runtime's tests (named as 'ringtoy:Ring').

P values on a ring; each round, x_j <- 0.5 x_j + 0.25 (x_{j-1} + x_{j+1}) + r.
Values stay on the worker that computed them; each round a worker sends each
held value to the runners of its two neighbours and of itself.  Task j of a
round sleeps (j % 3) ms, so the steal policy moves tasks (and their data).
"""

import dataclasses
import time
from collections import defaultdict

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
        return np.ones(self.params.n * self.params.rounds)

    def result_fields(self):
        return {"value": ((), "f8")}

    def setup_worker(self):
        self.held = {}                            # j -> value after the last round run here
        self.inputs = defaultdict(dict)           # (r, j) -> {k: value}
        self.mine = set()

    def begin_round(self, r, first_id, holders, runners, rank):
        n = self.params.n
        self.mine = {j for j in range(n) if runners[j] == rank}
        if r == 0 or holders[0] < 0:
            for j in self.mine:
                for k in (j - 1, j, j + 1):
                    self.inputs[(r, j)][k % n] = float(k % n)
            return {}
        out = defaultdict(list)
        for j, v in self.held.items():
            for k in (j - 1, j, j + 1):
                out[int(runners[k % n])].append((k % n, j, v))
        self.held = {}
        return dict(out)

    def receive(self, r, src, payload):
        for target, j, v in payload:
            self.inputs[(r, target)][j] = v

    def round_ready(self, r):
        return all(len(self.inputs[(r, j)]) == 3 for j in self.mine)

    def export_task(self, task_id):
        r, j = divmod(task_id, self.params.n)
        return self.inputs.pop((r, j))

    def import_task(self, task_id, payload):
        r, j = divmod(task_id, self.params.n)
        self.inputs[(r, j)] = payload

    def run_task(self, task_id):
        n = self.params.n
        r, j = divmod(task_id, n)
        v = self.inputs.pop((r, j))
        time.sleep((j % 3) * self.params.sleep_ms / 1000)
        x = 0.5 * v[j] + 0.25 * (v[(j - 1) % n] + v[(j + 1) % n]) + r
        self.held[j] = x
        return {"value": x}


class Broken(Ring):
    """A workload whose set-up raises on rank 2 only: an error outside any task."""

    def setup_worker(self):
        import os
        super().setup_worker()
        if os.environ.get("PMI_RANK") == "2":
            raise RuntimeError("broken set-up on rank 2")
