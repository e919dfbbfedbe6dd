"""What every scheduling policy shares: placements and the policy interfaces.

A policy is plain Python: events in, decisions out.  It never touches MPI,
so it is unit-tested directly and driven by the discrete-event simulator.
The master holds one :class:`MasterPolicy`; every worker holds one
:class:`WorkerPolicy`.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: Above this many tasks, LPT placement by heap (n log W in Python) is replaced
#: by a vectorised "snake" deal of the cost-sorted tasks, which is within a
#: task or two of LPT when every worker gets hundreds of tasks.
LPT_HEAP_LIMIT = 200_000


@dataclass(frozen=True)
class AskMaster:
    """Decision: send :class:`~hpcmicro.messages.MoreWork` to the master."""

    req_id: int


@dataclass(frozen=True)
class AskPeer:
    """Decision: send :class:`~hpcmicro.messages.StealRequest` to ``victim``."""

    victim: int
    req_id: int


Plan = dict  # rank -> (ids, costs) arrays


def usable_costs(costs: np.ndarray) -> np.ndarray:
    """Costs the policies can balance with: finite and strictly positive.

    Zero estimates (say, empty tasks) would let "steal half the imbalance"
    hand over a whole queue at once, so they are raised to the smallest
    positive estimate, or all set to 1 when no estimate is positive.
    """
    costs = np.asarray(costs, dtype=np.float64)
    if not np.all(np.isfinite(costs)) or np.any(costs < 0):
        raise ValueError("task cost estimates must be finite and >= 0")
    pos = costs[costs > 0]
    if not len(pos):
        return np.ones_like(costs)
    return np.maximum(costs, pos.min())


def informative(costs: np.ndarray) -> bool:
    """True when the cost estimates distinguish tasks (not all equal)."""
    return costs.size > 1 and bool(np.ptp(costs) > 0)


def lpt_placement(ids: np.ndarray, costs: np.ndarray, workers: Sequence[int]) -> Plan:
    """Longest-processing-time-first placement.

    Tasks are taken by decreasing estimated cost and each goes to the worker
    with the least estimated load so far.  Every worker's list stays in
    decreasing cost order, so it runs big tasks first and thieves take the
    small ones from its tail.  Equal costs keep id order (round robin).
    """
    order = np.argsort(-costs, kind="stable")
    n_w = len(workers)
    owner = np.empty(len(ids), dtype=np.int64)
    if len(ids) <= LPT_HEAP_LIMIT:
        heap = [(0.0, k) for k in range(n_w)]
        for pos, task in enumerate(order):
            load, k = heapq.heappop(heap)
            owner[pos] = k
            heapq.heappush(heap, (load + float(costs[task]), k))
    else:
        rnd, col = np.divmod(np.arange(len(ids)), n_w)
        owner[:] = np.where(rnd % 2 == 0, col, n_w - 1 - col)
    # Group by owner with one stable sort: O(n log n), not O(n * workers).
    by = order[np.argsort(owner, kind="stable")]
    edges = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=n_w))])
    return {rank: (ids[by[edges[k]:edges[k + 1]]], costs[by[edges[k]:edges[k + 1]]])
            for k, rank in enumerate(workers)}


def block_placement(ids: np.ndarray, costs: np.ndarray, workers: Sequence[int]) -> Plan:
    """Contiguous blocks (in id order) of roughly equal total estimated cost."""
    orig = costs
    n_w = len(workers)
    if not len(costs) or costs.sum() <= 0:
        costs = np.ones(len(ids))       # no usable estimates: equal counts
    csum = np.cumsum(costs)
    total = csum[-1]
    cuts = np.searchsorted(csum, total * np.arange(1, n_w) / n_w, side="right")
    bounds = np.concatenate([[0], cuts, [len(ids)]])
    return {rank: (ids[bounds[k]:bounds[k + 1]], orig[bounds[k]:bounds[k + 1]])
            for k, rank in enumerate(workers)}


def affinity_placement(ids: np.ndarray, costs: np.ndarray, holders: np.ndarray,
                       workers: Sequence[int]) -> Plan:
    """Each task stays with the worker holding its data (owner computes),
    largest estimated cost first in every queue."""
    plan = {}
    for rank in workers:
        sel = np.flatnonzero(holders == rank)
        sel = sel[np.argsort(-costs[sel], kind="stable")]
        plan[rank] = (ids[sel], costs[sel])
    return plan


def round_robin(ids: np.ndarray, costs: np.ndarray, workers: Sequence[int], start: int = 0) -> Plan:
    """Deal tasks one by one to ``workers``, starting at index ``start``."""
    n_w = len(workers)
    plan = {}
    for k, rank in enumerate(workers):
        sel = slice((k - start) % n_w, None, n_w)
        plan[rank] = (ids[sel], costs[sel])
    return {r: v for r, v in plan.items() if len(v[0])}


def remaining_cost(cost: float, elapsed: float, rate: float) -> float:
    """Expected remaining cost of a task that has run ``elapsed`` seconds.

    ``rate`` is the worker's observed cost units per second over its finished
    tasks (0 before the first one: the estimate is all there is).  Within its
    estimate the task has ``cost - elapsed * rate`` left.  A task that has run
    past its estimate is assumed to run about as long again: for the
    heavy-tailed durations this runtime is for (lognormal, Pareto), the
    expected residual time grows with the time already spent.  This is what
    makes "no estimates" (every task the same cost) work: a worker stuck in
    a long task counts as loaded and gives its whole queue to thieves,
    instead of keeping tasks behind it as the same-cost arithmetic would.
    """
    if rate <= 0.0:
        return cost
    done = elapsed * rate
    return cost - done if done <= cost else done


class MasterPolicy:
    """The master's half of a policy.

    Parameters
    ----------
    workers
        Ranks of the working ranks.
    seed
        Seed for any randomness, so runs are repeatable.
    """

    name = "base"
    #: The master's polling back-off range (seconds).  Under ``static`` and
    #: ``steal`` nothing the master receives is urgent (results only need to
    #: be committed), so it wakes every 10 ms: each wake-up of a sleeping
    #: process costs tens of microseconds of CPU on a loaded node.
    poll = (1e-2, 1e-2)
    #: Round-based workloads: True if each round waits for the master's
    #: placement of it (made from the last round's measured costs); False if
    #: items stay where they run and rounds flow into each other.
    barrier = False

    def __init__(self, workers: Sequence[int], seed: int = 0):
        self.workers = list(workers)
        self.seed = seed
        self._rr = 0

    def initial(self, ids: np.ndarray, costs: np.ndarray) -> Plan:
        """Return the first placement of ``ids`` (with their costs) on workers."""
        raise NotImplementedError

    def place_round(self, ids: np.ndarray, costs: np.ndarray, holders: np.ndarray | None) -> Plan:
        """Place every task of a round (round-based workloads).

        The first round is placed longest-first; later rounds stay where their
        data is (``holders``), and stealing evens out the measured costs.
        """
        if holders is None:
            return lpt_placement(ids, costs, self.workers)
        return affinity_placement(ids, costs, holders, self.workers)

    def on_more_work(self, worker: int) -> tuple[np.ndarray, np.ndarray] | None:
        """A worker asked for work; return a batch or None."""
        return None

    def on_results(self, worker: int, n_done: int, busy: float) -> None:
        """A batch of ``n_done`` results took ``busy`` seconds on ``worker``."""

    def remove_worker(self, worker: int) -> None:
        """``worker`` is wedged or gone: never plan work for it again."""
        if worker in self.workers:
            self.workers.remove(worker)

    def reassign(self, ids: np.ndarray, costs: np.ndarray, avoid: int | None = None) -> Plan:
        """Place tasks that came back (retries, drained or wedged queues)."""
        targets = [w for w in self.workers if w != avoid] or self.workers
        if not targets:
            return {}
        plan = round_robin(ids, costs, targets, self._rr)
        self._rr = (self._rr + len(ids)) % len(targets)
        return plan

    def pending(self) -> int:
        """Tasks the master still holds (not yet sent to any worker)."""
        return 0


class WorkerPolicy:
    """A worker's half of a policy: when to ask for work and what to give away."""

    name = "base"

    def __init__(self, rank: int, peers: Sequence[int], seed: int = 0):
        self.rank = rank
        self.peers = [p for p in peers if p != rank]
        self._next_id = 0
        self.outstanding: int | None = None   # req_id of the request in flight
        self.started = False                  # the first placement has arrived

    def _new_request(self) -> int:
        self._next_id += 1
        self.outstanding = self._next_id
        return self._next_id

    def want_work(self, queued: int, now: float) -> AskMaster | AskPeer | None:
        """Called whenever the queue changes; ``queued`` is its length."""
        return None

    def on_reply(self, req_id: int, n_got: int, now: float) -> bool:
        """A reply to ``req_id`` brought ``n_got`` tasks.  False if it was stale."""
        if req_id != self.outstanding:
            return False
        self.outstanding = None
        return True

    def on_batch(self, n: int) -> None:
        """The master sent a batch of ``n`` tasks (the first one starts the worker)."""
        self.started = True

    def share(self, tail_costs, queued: float, running: float, thief_load: float,
              rate: float = 0.0) -> int:
        """How many tasks to hand a thief from the tail of the queue (0: none).

        ``tail_costs`` iterates queued costs from the tail; ``queued`` is their
        sum; ``running`` is what is left of the running task; ``rate`` is this
        worker's observed cost units per second (0: not known yet).
        """
        return 0
