"""Discrete-event simulation of one hpcmicro job driven by the real policies.

Notes
-----
Entities and what each models (``hpcmicro/worker.py`` and ``master.py``):

* **Worker** (one per working rank).  The task thread runs the queue from
  the head back to back; the simulator does not make an event per task: a
  worker's queue is three arrays (ids, estimates, true durations) with the
  cumulative durations, so "what has finished by time t" is one binary search.
  The agent wakes (a) when a message arrives, after the poll back-off of
  :class:`~hpcmicro.transport.MPITransport` (20 us doubling to 2 ms since
  its last send or receive), or (b) at the next ``AGENT_TICK`` (2 ms) after a
  local change it must notice: the queue reaching the policy's low-water mark,
  the worker going idle, results due (``RESULT_FLUSH_SECONDS`` after the
  oldest unsent one, at once when idle, or ``RESULT_BATCH_MAX`` rows), or the
  end of a steal back-off.  At a wake it handles every message that has
  arrived (``Assign``, ``StealRequest`` answered with ``policy.share`` from the
  tail, ``StealReply`` with ``on_batch``/``on_reply``) and then runs
  ``_tick`` (results, then ``policy.want_work``), as ``Worker.run`` does.
* **Master**: one server, one message at a time, FIFO, each costing the
  measured CPU of :class:`~._sim.costs.CostModel`; its replies leave when the
  handling ends.  It notices a message after its policy's poll back-off.
  When its queue is empty it commits if ``commit_interval`` has passed (cost:
  the measured commit per dirty 4096-task block).  The job ends when the
  master has recorded the last result and made the final commit.
* **Sub-master** (``steal+hier`` only; one extra rank per node of ``node``
  workers, the proposed design): receives its workers' results and records
  them itself (the master's measured per-message and per-task cost), appends
  them to a per-node shard file before forwarding (cost: 8 slice writes plus
  the bytes, measured), and forwards only the count to the master, at most
  every ``RESULT_FLUSH_SECONDS`` or ``hier_gap`` after one of its workers
  reported itself idle (so the end of the job is seen quickly).  It also runs
  the real ``lpt_placement`` for its node's share of the first placement
  (the master only deals task ids over nodes, see ``node_split``), in
  parallel with the others.
  The master then only counts (``recv0 + results0`` per count message) and
  commits nothing per task.

Messages take ``latency + bytes / bandwidth``; the sender's CPU is charged
to the master and sub-masters only (worker agents are assumed to have the
CPU they need).  When no task is queued anywhere and none is in flight
(``steal``), no steal request can succeed any more; from then on idle
thieves are not simulated and their empty requests are counted analytically
at the rate of the real back-off once idle (``VICTIMS_PER_ROUND`` requests per
``BACKOFF_IDLE`` plus their round trips).
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from hpcmicro import worker as hw
from hpcmicro.scheduling import AskMaster, AskPeer, DynamicMaster, DynamicWorker, StealMaster
from hpcmicro.scheduling import StealWorker, steal as hsteal
from hpcmicro.store import BLOCK
from hpcmicro.transport import POLL_MAX, POLL_MIN

from .costs import BYTES_ASSIGN, BYTES_RESULT, CostModel
from .placement import PlacementCost, node_split, timed_lpt

INF = float("inf")
EPS = 1e-12
ARRIVE, WAKE, SRV, TIMER = 0, 1, 2, 3
ASSIGN, MOREWORK, SREQ, SREPLY, RESULTS, FWD, NODEASSIGN, FLUSH = range(8)
KIND_NAMES = ["Assign", "MoreWork", "StealRequest", "StealReply", "Results", "Forward",
              "NodeAssign", "flush"]
HEADER = 64          # bytes of a message besides its task arrays
EMPTY_I = np.empty(0, np.int64)
EMPTY_F = np.empty(0)
ZERO1 = np.zeros(1)


@dataclass
class SimConfig:
    """One simulated job's policy and machine (see the module Notes)."""

    policy: str                          # steal | dynamic | steal+hier
    costs: CostModel
    node: int = 32                       # workers per sub-master (steal+hier)
    flush: float = hw.RESULT_FLUSH_SECONDS
    hier_gap: float = 0.01               # sub-master: forward this soon after an idle report
    commit_interval: float = 1.0
    ideal_agent: bool = False            # no poll back-off, no tick: react at once
    seed: int = 0
    placement: PlacementCost = field(default_factory=PlacementCost)


class Others:
    """Ranks 1..W except ``me``, as a read-only sequence in O(1) memory.

    Replaces the per-worker ``peers`` list (W ranks each: 2 GB for 16,384
    workers in one process); it iterates, indexes and measures the same.
    """

    __slots__ = ("me", "w")

    def __init__(self, me: int, w: int):
        self.me, self.w = me, w

    def __len__(self):
        return self.w - 1

    def __getitem__(self, i):
        if not 0 <= i < self.w - 1:
            raise IndexError(i)
        return i + 1 if i + 1 < self.me else i + 2

    def __iter__(self):
        return itertools.chain(range(1, self.me), range(self.me + 1, self.w + 1))

    def __contains__(self, r):
        return 1 <= r <= self.w and r != self.me


def poll_time(t: float, last: float, lo: float, hi: float) -> float:
    """When a receiver whose poll interval restarted at ``last`` (doubling from
    ``lo`` to ``hi``) first probes at or after ``t``."""
    e = t - last
    if e <= 0 or lo <= 0:
        return t
    ramp_n = max(0, math.ceil(math.log2(hi / lo))) if hi > lo else 0
    ramp = lo * (2 ** ramp_n - 1)
    if e <= ramp:
        k = math.ceil(math.log2(e / lo + 1) - 1e-12)
        return last + lo * (2 ** k - 1)
    return last + ramp + math.ceil((e - ramp) / hi - 1e-12) * hi


def _tail(est, lo, hi):
    """Queued estimates from the tail, in chunks (what ``share`` iterates)."""
    j, step = hi, 16
    while j > lo:
        a = max(lo, j - step)
        yield from est[a:j][::-1].tolist()
        j, step = a, step * 4


class Worker:
    """A working rank: the task thread's queue and the agent's state."""

    __slots__ = ("rank", "pol", "parent", "ids", "est", "C", "E", "lo", "hi", "run_t0",
                 "unsent", "n_unsent", "first_unsent", "busy", "inbox", "wake_at",
                 "last_wake", "last_act", "quiet", "req_t", "first_start", "nd")

    def __init__(self, rank, pol, parent):
        self.rank, self.pol, self.parent = rank, pol, parent
        self.ids, self.est, self.C, self.E = EMPTY_I, EMPTY_F, ZERO1, ZERO1
        self.lo = self.hi = 0
        self.run_t0 = 0.0
        self.unsent, self.n_unsent, self.first_unsent, self.busy = [], 0, None, 0.0
        self.inbox = []
        self.wake_at, self.last_wake, self.last_act = INF, 0.0, 0.0
        self.quiet = None
        self.req_t = 0.0
        self.first_start = INF
        self.nd = INF            # when the running task ends (INF: idle)


class Server:
    """The master or a sub-master: one message at a time."""

    __slots__ = ("name", "fifo", "active", "busy", "busy_commit", "last_act", "poll",
                 "kids", "p_ids", "p_n", "p_busy", "p_first", "p_idle", "last_fwd", "timer_at",
                 "handled")

    def __init__(self, name, poll):
        self.name, self.poll = name, poll
        self.fifo = deque()
        self.active = False
        self.busy = self.busy_commit = 0.0
        self.last_act = 0.0
        self.kids = []
        self.p_ids, self.p_n, self.p_busy, self.p_first, self.p_idle = [], 0, 0.0, None, False
        self.last_fwd = -INF
        self.timer_at = INF
        self.handled = 0


class Sim:
    """One job: ``Sim(cfg, durations, estimates, workers).run()`` returns metrics."""

    def __init__(self, cfg: SimConfig, d: np.ndarray, est: np.ndarray, n_workers: int):
        self.cfg, self.c = cfg, cfg.costs
        self.d, self.est = np.asarray(d, float), np.asarray(est, float)
        self.n, self.W = len(d), n_workers
        self.kind = cfg.policy
        self.stealing = cfg.policy.startswith("steal")
        self.heap, self.seq = [], itertools.count()
        self.counts = [0] * len(KIND_NAMES)
        ranks = list(range(1, n_workers + 1))
        if self.stealing:
            self.mpol = StealMaster(ranks, cfg.seed)
            wcls = StealWorker
            poll = self.mpol.poll
        else:
            self.mpol = DynamicMaster(ranks, cfg.seed)
            wcls = DynamicWorker
            poll = self.mpol.poll
        self.master = Server("master", poll)
        self.subs = []
        if cfg.policy == "steal+hier":
            n_sub = -(-n_workers // cfg.node)
            self.subs = [Server(f"sub{i}", (POLL_MIN, POLL_MAX)) for i in range(n_sub)]
        self.workers = [None]
        for r in ranks:
            pol = wcls(r, (), cfg.seed)
            pol.peers = Others(r, n_workers)
            parent = self.subs[(r - 1) // cfg.node] if self.subs else self.master
            w = Worker(r, pol, parent)
            self.workers.append(w)
            if self.subs:
                parent.kids.append(w)
        self.low_water = hsteal.LOW_WATER
        self.done = np.zeros(self.n, np.uint8)
        self.dirty = np.zeros(-(-self.n // BLOCK), bool)
        self.left = self.n
        self.uncommitted = 0
        self.last_commit = 0.0
        self.commits = 0
        self.end = None
        self.last_stop = 0.0
        self.last_start = np.full(n_workers + 1, -INF)
        self.inflight = 0
        self.quiescent = False
        self.rtt_sum, self.rtt_n = 0.0, 0
        self.steals = self.stolen = 0
        self.placement = (0.0, "")
        self.sub_placement = 0.0
        self.coalesced_commit = cfg.policy == "steal+hier"

    # -- plumbing ------------------------------------------------------------
    def push(self, t, kind, obj, msg=None):
        heapq.heappush(self.heap, (t, next(self.seq), kind, obj, msg))

    def send(self, src, dest, msg, t, ntasks, per=BYTES_ASSIGN):
        self.counts[msg[0]] += 1
        if src is not None:
            src.last_act = t
        self.push(t + self.c.transfer(HEADER + per * ntasks), ARRIVE, dest, msg)

    # -- workers -------------------------------------------------------------
    def advance(self, w, t):
        if t + EPS < w.nd:
            return
        lo, hi = w.lo, w.hi
        C = w.C
        x = C[lo] + (t - w.run_t0)
        k = min(int(np.searchsorted(C, x + EPS, "right")) - 1, hi)
        if w.first_unsent is None:
            w.first_unsent = w.run_t0 + (C[lo + 1] - C[lo])
        w.unsent.append(w.ids[lo:k])
        w.n_unsent += k - lo
        span = C[k] - C[lo]
        w.busy += span
        w.run_t0 += span
        w.lo = k
        if k == hi:
            w.nd = INF
            if w.run_t0 > self.last_stop:
                self.last_stop = w.run_t0
        else:
            w.nd = w.run_t0 + float(C[k + 1] - C[k])

    def enqueue(self, w, ids, est, t):
        if not len(ids):
            return
        dur = self.d[ids]
        if w.lo == w.hi:
            w.ids, w.est = ids, est
            w.run_t0 = t
            if t < w.first_start:
                w.first_start = t
        else:
            w.ids = np.concatenate([w.ids[w.lo:w.hi], ids])
            w.est = np.concatenate([w.est[w.lo:w.hi], est])
            dur = np.concatenate([self.d[w.ids[:w.hi - w.lo]], dur])
        w.C = np.concatenate([ZERO1, np.cumsum(dur)])
        w.E = np.concatenate([ZERO1, np.cumsum(w.est)])
        w.lo, w.hi = 0, len(w.ids)
        w.nd = w.run_t0 + float(w.C[1])
        self._mark_last(w)

    def _mark_last(self, w):
        if self.stealing:
            self.last_start[w.rank] = (w.run_t0 + float(w.C[w.hi - 1] - w.C[w.lo])
                                       if w.hi > w.lo else -INF)

    def notice(self, w, t):
        if self.cfg.ideal_agent:
            return t
        p = poll_time(t, w.last_act, POLL_MIN, POLL_MAX)
        g = w.last_wake + math.ceil((t - w.last_wake) / hw.AGENT_TICK - 1e-12) * hw.AGENT_TICK
        return max(t, min(p, g))

    def schedule(self, w, at):
        if at < w.wake_at:
            w.wake_at = at
            self.push(at, WAKE, w)

    def wake(self, w, t):
        w.wake_at = INF
        self.advance(w, t)
        if w.inbox:
            inbox, w.inbox = w.inbox, []
            for msg in inbox:
                self.handle_worker(w, msg, t)
            w.last_act = t
        self.tick(w, t)
        w.last_wake = t
        self.hint(w, t)

    def handle_worker(self, w, msg, t):
        kind, pol = msg[0], w.pol
        if kind == ASSIGN:
            pol.on_batch(len(msg[2]))
            self.enqueue(w, msg[2], msg[3], t)
        elif kind == SREPLY:
            ids = msg[3]
            if msg[1] != 0:
                self.inflight -= len(ids)
            if len(ids):
                self.enqueue(w, ids, msg[4], t)
                pol.on_batch(len(ids))
            elif msg[2] == pol.outstanding:
                self.rtt_sum += t - w.req_t
                self.rtt_n += 1
            pol.on_reply(msg[2], len(ids), t)
        elif kind == SREQ:
            n = 0
            lo, hi = w.lo, w.hi
            if hi - lo > 1:
                n = pol.share(_tail(w.est, lo + 1, hi), w.E[hi] - w.E[lo + 1], w.est[lo], msg[3])
            ids, est = w.ids[hi - n:hi], w.est[hi - n:hi]
            if n:
                w.hi = hi - n
                self._mark_last(w)
                self.inflight += n
                self.steals += 1
                self.stolen += n
            self.send(w, self.workers[msg[1]], (SREPLY, w.rank, msg[2], ids, est), t, n)

    def tick(self, w, t):
        idle = w.lo == w.hi
        queued = max(0, w.hi - w.lo - 1)
        if w.n_unsent and (idle or w.n_unsent >= hw.RESULT_BATCH_MAX
                           or t - w.first_unsent >= self.cfg.flush):
            ids = np.concatenate(w.unsent)
            self.send(w, w.parent, (RESULTS, w.rank, ids, w.busy, idle), t, len(ids), BYTES_RESULT)
            w.unsent, w.n_unsent, w.first_unsent, w.busy = [], 0, None, 0.0
        if w.quiet is not None:
            return
        act = w.pol.want_work(queued, t)
        if act is None:
            return
        if isinstance(act, AskMaster):
            self.send(w, self.master, (MOREWORK, w.rank, act.req_id), t, 0)
        elif isinstance(act, AskPeer):
            if not self.quiescent and self.inflight == 0 and self.last_start.max() <= t:
                self.quiescent = True
            if self.quiescent:
                w.quiet = t           # nothing can be stolen any more (see Notes)
                return
            load = (w.E[w.hi] - w.E[w.lo]) if w.hi > w.lo else 0.0
            w.req_t = t
            self.send(w, self.workers[act.victim], (SREQ, w.rank, act.req_id, load), t, 0)

    def hint(self, w, t):
        """Schedule the next tick at which something local may have changed."""
        cand = INF
        pol = w.pol
        lo, hi = w.lo, w.hi
        if hi > lo:
            C = w.C
            base = w.run_t0 - float(C[lo])
            cand = base + float(C[hi])
            if pol.outstanding is None and w.quiet is None:
                thr = self.low_water if self.stealing else pol.last_batch // 2
                j = hi - 1 - thr
                if j > lo:
                    x = base + float(C[j])
                    if t < x < cand:
                        cand = x
            due = (w.first_unsent if w.n_unsent else w.nd) + self.cfg.flush
            if t < due < cand:
                cand = due
            i = lo + hw.RESULT_BATCH_MAX - w.n_unsent - 1
            if i < hi:
                x = base + float(C[i + 1])
                if t < x < cand:
                    cand = x
        if self.stealing and pol.outstanding is None and w.quiet is None and t < pol.not_before < cand:
            cand = pol.not_before
        if cand == INF or cand <= t:
            return
        if self.cfg.ideal_agent:
            cand = max(cand, t + 1e-9)
        else:
            cand = t + max(1, math.ceil((cand - t) / hw.AGENT_TICK - 1e-9)) * hw.AGENT_TICK
        self.schedule(w, cand)

    # -- servers -------------------------------------------------------------
    def arrive_server(self, s, msg, t):
        s.fifo.append(msg)
        if not s.active:
            s.active = True
            at = t if self.cfg.ideal_agent else poll_time(t, s.last_act, *s.poll)
            self.push(at, SRV, s)

    def serve(self, s, t):
        if s.fifo:
            msg = s.fifo.popleft()
            s.handled += 1
            cost = self.handle_master(msg, t) if s is self.master else self.handle_sub(s, msg, t)
            s.busy += cost
            if msg[0] != FLUSH:
                s.last_act = t + cost
            self.push(t + cost, SRV, s)
            return
        if (s is self.master and self.uncommitted
                and t - self.last_commit >= self.cfg.commit_interval):
            cost = self.commit(t)
            s.busy += cost
            self.push(t + cost, SRV, s)
            return
        s.active = False

    def commit(self, t):
        blocks = np.flatnonzero(self.dirty)
        runs = int(1 + np.count_nonzero(np.diff(blocks) != 1)) if len(blocks) else 0
        cost = self.c.commit_cost(self.n, len(blocks), runs if self.coalesced_commit else None)
        self.dirty[:] = False
        self.uncommitted = 0
        self.last_commit = t
        self.commits += 1
        self.master.busy_commit += cost
        return cost

    def handle_master(self, msg, t):
        kind, c = msg[0], self.c
        if kind in (RESULTS, FWD):
            ids = msg[2]
            k = len(ids)
            self.done[ids] += 1
            self.left -= int(np.count_nonzero(self.done[ids] == 1))
            self.mpol.on_results(msg[1], k, msg[3])
            if kind == FWD:          # a count: the sub-master recorded and wrote them
                cost = c.recv0 + c.results0
            else:
                cost = c.results_cost(k)
                self.dirty[ids // BLOCK] = True
                self.uncommitted += k
            if self.left == 0 and self.end is None:
                if self.uncommitted:
                    cost += self.commit(t + cost)
                self.end = t + cost
            return cost
        if kind == MOREWORK:
            batch = self.mpol.on_more_work(msg[1])
            ids, est = batch if batch else (EMPTY_I, EMPTY_F)
            cost = c.recv0 + c.request + c.send_cost(len(ids))
            self.send(self.master, self.workers[msg[1]], (SREPLY, 0, msg[2], ids, est),
                      t + cost, len(ids))
            return cost
        raise AssertionError(f"master got {KIND_NAMES[kind]}")

    def handle_sub(self, s, msg, t):
        kind, c = msg[0], self.c
        if kind == RESULTS:
            ids = msg[2]
            cost = c.results_cost(len(ids))
            if s.p_first is None:
                s.p_first = t
            s.p_ids.append(ids)
            s.p_n += len(ids)
            s.p_busy += msg[3]
            s.p_idle = s.p_idle or msg[4]
            return cost + self.maybe_forward(s, t + cost)
        if kind == FLUSH:
            s.timer_at = INF
            return self.maybe_forward(s, t)
        if kind == NODEASSIGN:
            plan, sec = timed_lpt(msg[2], msg[3], [w.rank for w in s.kids])
            cost = c.recv_cost(len(msg[2])) + sec
            self.sub_placement = max(self.sub_placement, sec)
            for w in s.kids:
                ids, est = plan.get(w.rank, (EMPTY_I, EMPTY_F))
                cost += c.send_cost(len(ids))
                self.send(s, w, (ASSIGN, 0, ids, est), t + cost, len(ids))
            return cost
        raise AssertionError(f"sub-master got {KIND_NAMES[kind]}")

    def maybe_forward(self, s, t):
        if not s.p_n:
            return 0.0
        due = s.p_first + self.cfg.flush
        if s.p_idle:
            due = min(due, s.last_fwd + self.cfg.hier_gap)
        if t + EPS < due:
            if due < s.timer_at:
                s.timer_at = due
                self.push(due, TIMER, s)
            return 0.0
        ids = np.concatenate(s.p_ids)
        cost = 8 * self.c.write0 + self.c.write1 * len(ids) + self.c.send_cost(0)
        self.send(s, self.master, (FWD, s.name, ids, s.p_busy), t + cost, 0)
        s.p_ids, s.p_n, s.p_busy, s.p_first, s.p_idle = [], 0, 0.0, None, False
        s.last_fwd = t + cost
        return cost

    # -- the run -------------------------------------------------------------
    def start(self):
        ids = np.arange(self.n, dtype=np.int64)
        c = self.c
        if self.subs:
            parts, sec = node_split(ids, self.est, len(self.subs))
            self.placement = (sec, "timed (hierarchical: master deals ids over nodes, "
                                   "sub-masters run the real LPT)")
            t = sec
            for s, (pid, pest) in zip(self.subs, parts):
                t += c.send_cost(len(pid))
                self.send(self.master, s, (NODEASSIGN, 0, pid, pest), t, len(pid))
        else:
            if self.kind == "steal":
                plan, sec, how = self.cfg.placement.place(self.mpol, ids, self.est)
            else:
                t0 = time.process_time()
                plan = self.mpol.initial(ids, self.est)
                sec, how = time.process_time() - t0, "timed"
            self.placement = (sec, how)
            t = sec
            for w in self.workers[1:]:
                wid, west = plan.get(w.rank, (EMPTY_I, EMPTY_F))
                t += c.send_cost(len(wid))
                self.send(self.master, w, (ASSIGN, 0, wid, west), t, len(wid))
        self.master.busy += t
        self.master.active = True
        self.master.last_act = t
        self.push(t, SRV, self.master)

    def run(self, max_events: float = INF) -> dict:
        self.start()
        heap, pop = self.heap, heapq.heappop
        events = 0
        while heap and self.end is None:
            t, _, kind, obj, msg = pop(heap)
            events += 1
            if kind == WAKE:
                if t == obj.wake_at:
                    self.wake(obj, t)
            elif kind == ARRIVE:
                if type(obj) is Worker:
                    obj.inbox.append(msg)
                    self.schedule(obj, self.notice(obj, t))
                else:
                    self.arrive_server(obj, msg, t)
            elif kind == SRV:
                self.serve(obj, t)
            elif kind == TIMER:
                if t == obj.timer_at:
                    self.arrive_server(obj, (FLUSH,), t)
            if events > max_events:
                raise RuntimeError(f"more than {max_events} events")
        if self.end is None:
            raise RuntimeError(f"simulation stalled with {self.left} tasks left")
        return self.metrics(events)

    def metrics(self, events) -> dict:
        end, n, W = self.end, self.n, self.W
        ideal = float(self.d.sum()) / W
        rtt = self.rtt_sum / self.rtt_n if self.rtt_n else 2 * self.c.latency + hw.AGENT_TICK
        # An idle thief's request rate once its back-off has reached the idle cap
        # (after IDLE_ROUNDS empty rounds; the short ramp before is neglected).
        rate = hsteal.VICTIMS_PER_ROUND / (hsteal.VICTIMS_PER_ROUND * rtt + hsteal.BACKOFF_IDLE)
        quiet = [end - w.quiet for w in self.workers[1:] if w.quiet is not None]
        analytic = 2 * rate * float(sum(quiet))
        total = sum(self.counts) - self.counts[FLUSH] + analytic
        first = min(w.first_start for w in self.workers[1:])
        to_master = (self.counts[RESULTS] if not self.subs else 0) + self.counts[FWD] + \
            self.counts[MOREWORK]
        from_master = self.counts[ASSIGN] * (not self.subs) + self.counts[NODEASSIGN] + \
            (self.counts[SREPLY] if not self.stealing else 0)
        sub_busy = max((s.busy for s in self.subs), default=0.0)
        return {
            "policy": self.kind, "workers": W, "tasks": n, "makespan": end,
            "efficiency": ideal / end,
            "efficiency_tasks": ideal / max(self.last_stop - first, 1e-300),
            "bound": ideal / max(ideal, float(self.d.max())),
            "messages_per_task": total / n,
            "master_messages_per_task": (to_master + from_master) / n,
            "master_util": self.master.busy / end,
            "master_commit_util": self.master.busy_commit / end,
            "sub_util_max": sub_busy / end,
            "placement_s": self.placement[0], "placement": self.placement[1],
            "sub_placement_s": self.sub_placement,
            "first_start": first, "steals": self.steals, "stolen": self.stolen,
            "empty_steals_analytic": analytic / 2, "commits": self.commits,
            "duplicates": int(np.count_nonzero(self.done > 1)),
            "missing": int(np.count_nonzero(self.done == 0)),
            "counts": {KIND_NAMES[k]: v for k, v in enumerate(self.counts) if v and k != FLUSH},
            "events": events,
        }


def simulate(cfg: SimConfig, d, est, n_workers: int, **kw) -> dict:
    """Run one job; see :class:`Sim`."""
    return Sim(cfg, d, est, n_workers).run(**kw)
