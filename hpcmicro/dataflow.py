"""Resident data of round-based workloads: who holds each item, which tasks can run.

Notes
-----
A round-based workload has ``n`` items (the weather's tiles); task ``r * n +
j`` advances item ``j`` in round ``r``.  The task needs *pieces*: the outputs
that round ``r - 1`` of some items (``workload.needs(j)``, keyed, e.g. the
halo strip from each side and the tile itself) sent to item ``j``.  An item
is *held* by one worker, the one that runs its next task (owner computes).

There is no barrier between rounds.  When a task finishes, its pieces go at
once to the holders of the items that need them, and a task runs as soon as
all of its own pieces are in: a worker that is done with round ``r`` starts
round ``r + 1`` on items whose neighbours are done, while its peer is still
finishing ``r``.  Only ``dynamic`` rounds (``barrier``) wait for the master's
next placement, which it makes from the costs measured in the last round.

Items move when they are stolen (the pieces already in for later rounds go
with them) or placed elsewhere.  A rank that receives a piece for an item it
no longer holds forwards it to the rank it gave the item to.  Each hop goes
to a rank that held the item later, so a piece reaches the holder; messages
between two ranks stay in order, so it arrives after the item.

Plain Python and no MPI: the worker's agent calls :class:`Flow` and sends
what it returns; the task thread only takes and restores a task's inputs.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

#: The key of a task's whole input (built from the initial state): nothing
#: else is needed.
INITIAL = "initial"


class Flow:
    """One worker's view of the resident data.

    Parameters
    ----------
    n
        Items (tasks per round).
    rounds
        Rounds of the whole job.
    needs
        ``needs[j]``: the keys of the pieces that a task of item ``j`` waits for.
    rank
        This worker's rank.

    Each method that can make tasks runnable or data movable returns
    ``(sends, ready)``: ``sends`` maps a rank to a list of ``(r, j, key,
    piece)`` entries to send it, ``ready`` lists ``(task_id, cost)`` to queue.
    """

    def __init__(self, n: int, rounds: int, needs, rank: int):
        self.n, self.rounds, self.rank = n, rounds, rank
        self.needs = [len(set(k)) for k in needs]
        if len(self.needs) != n:
            raise ValueError(f"needs lists {len(self.needs)} items, the rounds have {n}")
        self.owner = np.full(n, -1, np.int64)   # rank believed to hold each item
        self.held: set[int] = set()
        self.pieces: dict = defaultdict(dict)   # (r, j) -> {key: piece}
        self.cost: dict[int, float] = {}        # j -> estimated cost of its next task
        self.gate = -1                          # last round whose tasks may run
        self.held_back: list = []               # (r, j) complete above the gate
        self.forwarded = 0                      # pieces passed on to a later holder

    # -- from the master ---------------------------------------------------------
    def place(self, r: int, runners, costs, initial=None, barrier: bool = False):
        """Adopt the master's placement of round ``r``.

        ``initial(items)`` builds the inputs ``{j: input}`` of the items placed
        here from the initial state (the first round of a run).  Otherwise
        items placed elsewhere move with all the pieces they have here.
        ``barrier``: tasks of rounds after ``r`` wait for the next placement.
        """
        runners = np.asarray(runners, np.int64)
        sends: dict = defaultdict(list)
        new = set(np.flatnonzero(runners == self.rank).tolist())
        if initial is None:
            for j in self.held - new:
                self._move(j, int(runners[j]), r, sends)
        self.owner[:] = runners
        self.held = new
        self.gate = r if barrier else self.rounds - 1
        for j in new:
            self.cost[j] = float(costs[j])
        ready = []
        if initial is not None:
            for j, value in initial(sorted(new)).items():
                self.pieces[(r, j)] = {INITIAL: value}
                ready.append((r, j))
        # Tasks that completed before this (barrier) placement wait in held_back.
        ready += [(q, j) for q, j in self.held_back if q <= self.gate and j in new]
        self.held_back = [(q, j) for q, j in self.held_back if q > self.gate and j in new]
        return dict(sends), self._tasks(ready)

    def _move(self, j: int, dest: int, r: int, sends) -> None:
        for q in range(r, self.rounds):
            for key, piece in self.pieces.pop((q, j), {}).items():
                sends[dest].append((q, j, key, piece))

    # -- from other workers and from finished tasks ----------------------------
    def add(self, entries):
        """File pieces that arrived (forwarding those of items held elsewhere)."""
        sends: dict = defaultdict(list)
        ready = []
        for e in entries:
            self._file(e, sends, ready)
        return dict(sends), self._tasks(ready)

    def finished(self, task_id: int, outputs, seconds: float):
        """Task ``task_id`` ran here in ``seconds``: route its ``outputs``,
        ``(item, key, piece)`` for the next round, to the items' holders."""
        r, j = divmod(int(task_id), self.n)
        self.cost[j] = seconds
        if r + 1 >= self.rounds:
            return {}, []
        return self.add((r + 1, n, key, piece) for n, key, piece in outputs)

    def _file(self, entry, sends, ready) -> None:
        r, j, key, piece = entry
        if j not in self.held:
            dest = int(self.owner[j])
            if dest == self.rank or dest < 0:
                raise RuntimeError(f"rank {self.rank} got a piece of item {j} (round {r}) "
                                   "that it neither holds nor gave away")
            sends[dest].append(entry)
            self.forwarded += 1
            return
        got = self.pieces[(r, j)]
        if key in got:
            raise RuntimeError(f"rank {self.rank} got piece {key!r} of item {j} (round {r}) "
                               "twice")
        got[key] = piece
        if self._complete(r, j):
            ready.append((r, j))

    def _complete(self, r: int, j: int) -> bool:
        got = self.pieces.get((r, j))
        return bool(got) and (INITIAL in got or len(got) == self.needs[j])

    def _tasks(self, ready):
        out = []
        for r, j in ready:
            if r > self.gate:
                self.held_back.append((r, j))
            else:
                out.append((r * self.n + j, self.cost.get(j, 0.0)))
        return out

    # -- stealing ------------------------------------------------------------------
    def export_task(self, task_id: int, thief: int):
        """A queued task is stolen: hand over its item and every piece here."""
        r, j = divmod(int(task_id), self.n)
        payload = {q: self.pieces.pop((q, j)) for q in range(r, self.rounds)
                   if (q, j) in self.pieces}
        self.held.discard(j)
        self.owner[j] = thief
        self.held_back = [(q, i) for q, i in self.held_back if i != j]
        return payload

    def import_task(self, task_id: int, payload, cost: float):
        """Take over a stolen task's item; return tasks of later rounds it completes."""
        r, j = divmod(int(task_id), self.n)
        self.held.add(j)
        self.owner[j] = self.rank
        self.cost[j] = cost
        ready = []
        for q, got in payload.items():
            self.pieces[(q, j)].update(got)
            if q != r and self._complete(q, j):
                ready.append((q, j))
        return self._tasks(ready)

    # -- the task thread -------------------------------------------------------------
    def take(self, task_id: int) -> dict:
        """The inputs of a task about to run (removed from here)."""
        return self.pieces.pop(divmod(int(task_id), self.n))

    def restore(self, task_id: int, inputs: dict) -> None:
        """Put back the inputs of a task that failed, for its retry."""
        self.pieces[divmod(int(task_id), self.n)] = inputs
