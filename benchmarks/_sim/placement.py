"""The steal master's first placement: the real one, its cost, and the proposed fix.

Notes
-----
:func:`hpcmicro.scheduling.base.lpt_placement` decides the owner of every task
in O(n log W) (a heap) or O(n) (the snake deal), but then builds the plan with
``order[owner == k]`` for each of the W workers: O(n * W) on the master before
the first task is dispatched (about 7.5 s for 10^6 tasks on 4,096 workers
here).  :func:`fast_lpt_placement` is the proposed fix: the same owners, then
one stable argsort of the owners, O(n log n); it returns the identical plan.

The simulator charges the master the real function's wall time.  Where
n * W is too large to run it within the benchmark's time (the
``real_max`` argument), the plan comes from the fix (identical) and the
charge is extrapolated from a fit ``a * n + b * n * W`` (``a * n log W + b *
n * W`` on the heap path) to timed real calls, and the output says so.
Times are CPU seconds (``process_time``), so other processes on a shared
machine disturb them little.
"""

from __future__ import annotations

import time

import numpy as np
from hpcmicro.scheduling.base import LPT_HEAP_LIMIT, lpt_placement


def fast_lpt_placement(ids, costs, workers):
    """The real :func:`lpt_placement` (it now groups by owner in O(n log n))."""
    return lpt_placement(ids, costs, workers)


class PlacementCost:
    """Times real placements and extrapolates the ones too slow to run."""

    def __init__(self, real_max: float = 2e9):
        self.real_max = real_max
        self.samples = {True: [], False: []}    # heap path? -> [(n, W, seconds)]

    def calibrate(self, heap_pts=((20_000, 256), (20_000, 1024)),
                  snake_pts=((400_000, 64), (400_000, 512))):
        """A few real calls on random costs (about 5 s)."""
        rng = np.random.default_rng(0)
        for n, w in (*heap_pts, *snake_pts):
            c = rng.random(n)
            t = time.process_time()
            lpt_placement(np.arange(n), c, list(range(1, w + 1)))
            self._add(n, w, time.process_time() - t)

    def _add(self, n, w, sec):
        self.samples[n <= LPT_HEAP_LIMIT].append((n, w, sec))

    def estimate(self, n: int, w: int) -> float:
        """Fitted CPU time of the real lpt_placement(n tasks, w workers)."""
        if len(self.samples[n <= LPT_HEAP_LIMIT]) < 2:
            self.calibrate()
        pts = self.samples[n <= LPT_HEAP_LIMIT]
        a = np.array([[p[0] * (np.log2(p[1]) if n <= LPT_HEAP_LIMIT else 1.0), p[0] * p[1]]
                      for p in pts], float)
        y = np.array([p[2] for p in pts])
        coef, *_ = np.linalg.lstsq(a, y, rcond=None)
        coef = np.maximum(coef, 0)
        x = np.array([n * (np.log2(w) if n <= LPT_HEAP_LIMIT else 1.0), n * w])
        return float(x @ coef)

    def place(self, master, ids, costs):
        """(plan, seconds, how): the real StealMaster.initial where affordable."""
        n, w = len(ids), len(master.workers)
        if n * w <= self.real_max:
            t = time.process_time()
            plan = master.initial(ids, costs)
            sec = time.process_time() - t
            self._add(n, w, sec)
            return plan, sec, "timed"
        plan = fast_lpt_placement(ids, costs, master.workers)
        return plan, self.estimate(n, w), "extrapolated"


def node_split(ids, costs, n_nodes: int):
    """The master's half of the hierarchical placement (``steal+hier``).

    Task ids are dealt over the nodes with a stride (node k gets ids k,
    k + N, k + 2N, ...): views, no sort, so the master's cost does not grow
    with n log n; each node gets the same count of tasks, and with hundreds of
    tasks per node their total costs differ by a few percent, which stealing
    evens out.  Returns ([(ids, costs) per node], CPU seconds).  Each
    sub-master then runs the real :func:`lpt_placement` on its share over its
    own workers (largest first), all in parallel.
    """
    t = time.process_time()
    parts = [(ids[k::n_nodes], costs[k::n_nodes]) for k in range(n_nodes)]
    return parts, time.process_time() - t


def timed_lpt(ids, costs, workers):
    """(plan, CPU seconds) of the real :func:`lpt_placement` (a sub-master's share)."""
    t = time.process_time()
    plan = lpt_placement(ids, costs, workers)
    return plan, time.process_time() - t
