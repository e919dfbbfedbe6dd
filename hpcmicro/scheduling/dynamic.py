"""``dynamic``: master-worker self-scheduling with prefetch and adaptive batches.

Notes
-----
The master keeps every task and deals batches on request, like
mpi4py.futures, but (a) largest estimated cost first when estimates are
informative, (b) each worker asks for its next batch while it still holds half
of the previous one, so it never idles on a round trip, and (c) the batch size
adapts to the measured task time: a batch lasts about
:data:`TARGET_BATCH_SECONDS`, and never more than ``1/GUIDED_DIVISOR`` of the
remaining tasks per worker (guided self-scheduling), so the tail stays fine.
Every task passes through the master, which saturates it first at scale.
For round-based workloads (data resident on workers) ``dynamic`` instead
repartitions each round on the master by the measured costs; each round
then waits for its placement (a barrier), where ``steal`` and ``static``
let rounds flow into each other.
"""

from __future__ import annotations

import math

import numpy as np

from .base import AskMaster, MasterPolicy, WorkerPolicy, informative, lpt_placement

#: A batch should keep a worker busy this long: long enough that the round
#: trip is hidden and the master handles few messages (its CPU stays near 5%
#: with 8 workers of 5 ms tasks), short enough to balance; the guided cap
#: keeps the batches of the last tasks small.
TARGET_BATCH_SECONDS = 0.05
#: Guided self-scheduling: at most remaining / (GUIDED_DIVISOR * workers).
GUIDED_DIVISOR = 2
#: Before any task time is measured, send this many tasks per batch.
FIRST_BATCH = 2
#: Weight of the newest measurement in the running mean task time.
EWMA_WEIGHT = 0.3


class DynamicMaster(MasterPolicy):
    """Hold the queue on the master and deal adaptive batches on request."""

    name = "dynamic"
    barrier = True
    #: Every batch is a round trip through the master, so it polls fast.
    poll = (2e-4, 2e-3)

    def __init__(self, workers, seed=0):
        super().__init__(workers, seed)
        self._ids = np.empty(0, np.int64)
        self._costs = np.empty(0)
        self._head = 0
        self.mean_task_seconds: float | None = None

    def initial(self, ids, costs):
        """Hold every task (largest estimate first) and send each worker a first small batch."""
        order = np.argsort(-costs, kind="stable") if informative(costs) else np.arange(len(ids))
        self._ids, self._costs, self._head = ids[order], costs[order], 0
        plan = {}
        for w in self.workers:
            batch = self._take(FIRST_BATCH)
            if len(batch[0]):
                plan[w] = batch
        return plan

    def place_round(self, ids, costs, holders):
        """Round-based workloads: repartition every round on the master by
        the costs measured in the previous round (tasks migrate with their
        data at the round boundary); nothing is requested within a round."""
        return lpt_placement(ids, costs, self.workers)

    def _take(self, n):
        lo, hi = self._head, min(self._head + n, len(self._ids))
        self._head = hi
        return self._ids[lo:hi], self._costs[lo:hi]

    def batch_size(self) -> int:
        """The size of the next batch (see the module Notes)."""
        left = len(self._ids) - self._head
        guided = math.ceil(left / (GUIDED_DIVISOR * max(1, len(self.workers))))
        if self.mean_task_seconds is None:
            want = FIRST_BATCH
        else:
            want = math.ceil(TARGET_BATCH_SECONDS / max(self.mean_task_seconds, 1e-7))
        return max(1, min(want, guided))

    def on_more_work(self, worker):
        """The next batch for a worker that asked, or None when nothing is left."""
        if self._head >= len(self._ids):
            return None
        return self._take(self.batch_size())

    def on_results(self, worker, n_done, busy):
        """Update the running mean task time from a batch of results."""
        if n_done <= 0:
            return
        m = busy / n_done
        old = self.mean_task_seconds
        self.mean_task_seconds = m if old is None else (1 - EWMA_WEIGHT) * old + EWMA_WEIGHT * m

    def pending(self):
        """Tasks not yet sent to any worker."""
        return len(self._ids) - self._head


class DynamicWorker(WorkerPolicy):
    """Ask the master for the next batch while half of the last one remains."""

    name = "dynamic"

    def __init__(self, rank, peers, seed=0):
        super().__init__(rank, peers, seed)
        self.last_batch = 1
        self.exhausted = False  # the master said it has nothing left

    def on_batch(self, n):
        """Remember the size of the last batch (the next request comes at half of it)."""
        super().on_batch(n)
        self.last_batch = max(1, n)

    def want_work(self, queued, now):
        """Ask the master while at most half of the last batch is queued."""
        if not self.started or self.outstanding is not None or self.exhausted:
            return None
        if queued <= self.last_batch // 2:
            return AskMaster(self._new_request())
        return None

    def on_reply(self, req_id, n_got, now):
        """An empty reply means the master has nothing left: stop asking."""
        fresh = super().on_reply(req_id, n_got, now)
        if fresh and n_got == 0:
            self.exhausted = True
        return fresh
