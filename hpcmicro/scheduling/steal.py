"""``steal``: cost-aware first placement, then randomised work stealing.

Notes
-----
The master places every task once, longest estimated cost first onto the
least-loaded worker (LPT), and is then off the task path: it only receives
batched results and counts them to detect termination.  Each worker runs its
queue from the head (largest first).  When its queue is nearly empty, it asks
a randomly chosen peer for work with a :class:`~hpcmicro.messages.StealRequest`
carrying a fresh request id and its own load.  The victim hands over tasks
from the tail of its queue (the smallest) until the two loads are as even as
they can be made ("steal half the imbalance"), and answers with a
:class:`~hpcmicro.messages.StealReply` carrying the same id.  A reply whose id
is not the one outstanding is stale: its tasks are kept (work is never
dropped) but it does not change the thief's state.  After
:data:`VICTIMS_PER_ROUND` empty replies in a row the thief backs off
exponentially, so a nearly finished job is not flooded with requests.
"""

from __future__ import annotations

import random

from .base import AskPeer, MasterPolicy, WorkerPolicy, lpt_placement

#: Ask for work when at most this many tasks are queued behind the running
#: one: one queued task hides the steal round trip behind its execution.
LOW_WATER = 1
#: Empty replies before backing off.  Random victims find a loaded one in a
#: few tries while at least a quarter of the peers have work; more tries per
#: round only add messages when almost everyone is idle.
VICTIMS_PER_ROUND = 4
#: First and largest back-off between rounds (seconds).  The first is about
#: one steal round trip here.  The cap bounds how late an idle worker notices
#: a victim that has work again: at about one short task (5 ms) it keeps the
#: end game tight while an idle worker sends at most ~200 requests a second.
BACKOFF_MIN = 0.0005
BACKOFF_MAX = 0.005
#: After this many empty rounds in a row the job is in its tail (every peer
#: is down to its last task); the cap then rises to BACKOFF_IDLE so that
#: thousands of idle thieves do not flood the few busy workers (about 10
#: requests a second each instead of 200).
IDLE_ROUNDS = 8
BACKOFF_IDLE = 0.1
#: Seconds between a victim's reply and the thief starting the tasks (the
#: thief's poll interval plus the transfer; about 1-3 ms measured here).  The
#: victim counts the thief's load as at least this, so that in the end game
#: it keeps a short task it would finish itself before an idle thief could
#: start it.
STEAL_LAG = 0.002


class StealMaster(MasterPolicy):
    """Place tasks once by LPT; the workers balance the rest among themselves."""

    name = "steal"

    def initial(self, ids, costs):
        """Longest-estimate-first placement (LPT) on the workers."""
        return lpt_placement(ids, costs, self.workers)


def tasks_to_give(tail_costs, queued: float, running: float, thief_load: float) -> int:
    """How many tail tasks a victim hands to a thief.

    ``tail_costs`` iterates the victim's queued costs from the tail; ``queued``
    is their sum; ``running`` is the running task's :func:`remaining_cost`.
    Tasks are given from the tail while the thief, after taking the next one,
    would still hold no more than the victim keeps (queue plus running).
    This moves about half the imbalance, costs time in proportion to the tasks
    given (not the queue), and can never make the pair swap roles, so tasks
    do not ping-pong between two workers.
    """
    mine = queued + running
    given = 0.0
    n = 0
    for c in tail_costs:
        if thief_load + given + c > mine - given - c:
            break
        given += c
        n += 1
    return n


class StealWorker(WorkerPolicy):
    """Steal from random peers when the local queue runs dry."""

    name = "steal"

    def __init__(self, rank, peers, seed=0):
        super().__init__(rank, peers, seed)
        self.rng = random.Random(seed * 1_000_003 + rank)
        self.misses = 0
        self.not_before = 0.0
        self.tried: set[int] = set()
        self.asked_with = 0              # tasks queued here when the last request left

    def want_work(self, queued, now):
        """Ask a random untried peer when the queue is nearly empty and not backing off."""
        if (not self.started or self.outstanding is not None or not self.peers
                or queued > LOW_WATER):
            return None
        if now < self.not_before:
            return None
        # Draw until the victim is untried: `tried` holds at most a round's
        # few peers, so this is O(1) even with thousands of peers.
        victim = self.peers[self.rng.randrange(len(self.peers))]
        if len(self.tried) < len(self.peers):
            while victim in self.tried:
                victim = self.peers[self.rng.randrange(len(self.peers))]
        self.tried.add(victim)
        self.asked_with = queued
        return AskPeer(victim, self._new_request())

    def on_reply(self, req_id, n_got, now):
        """Reset on success; after a round of empty replies, back off exponentially."""
        if not super().on_reply(req_id, n_got, now):
            return False
        if n_got:
            self.misses, self.not_before = 0, 0.0
            self.tried.clear()
        elif self.asked_with:
            # Asked ahead, with work still queued: a refusal says the victim
            # has no more than this worker, not that work has run out, so it
            # is no miss and must not grow the back-off (that grew to the idle
            # 0.1 s within one round and left the worker waiting once dry).
            self.not_before = now + BACKOFF_MIN
            if len(self.tried) >= len(self.peers):
                self.tried.clear()
        else:
            self.misses += 1
            if self.misses % VICTIMS_PER_ROUND == 0 or len(self.tried) >= len(self.peers):
                rounds = self.misses // VICTIMS_PER_ROUND
                cap = BACKOFF_MAX if rounds < IDLE_ROUNDS else BACKOFF_IDLE
                self.not_before = now + min(cap, BACKOFF_MIN * 2 ** rounds)
                self.tried.clear()
        return True

    def on_batch(self, n):
        """New work (a round's tasks, a stolen batch) ends any back-off: the
        empty replies that led to it said nothing about the new work."""
        super().on_batch(n)
        if n:
            self.misses, self.not_before = 0, 0.0
            self.tried.clear()

    def share(self, tail_costs, queued, running, thief_load, rate=0.0):
        """How many tail tasks to hand a thief (see :func:`tasks_to_give`).

        The thief can start what it gets once its own work is done, but not
        before the reply reaches it: its load counts as at least
        :data:`STEAL_LAG` seconds (at ``rate``).  A thief that asked early,
        with work still queued, hides the lag behind that work.
        """
        return tasks_to_give(tail_costs, queued, running, max(thief_load, rate * STEAL_LAG))
