"""The worker: a task thread that runs tasks, and an agent that talks.

Notes
-----
A worker rank has two threads.  The *task thread* pops the head of the local
queue, runs ``workload.run_task`` and appends the result; it never touches
the transport.  The *agent* (the rank's main thread, so signal handlers run
promptly) owns all messaging: it answers steal requests even while a long
task runs, asks for work before the queue is empty, sends results in batches,
and notices a task that outlives ``task_timeout``.  A wedged task cannot be
killed in-process, so the agent reports it, hands its queue back and takes no
more work; the master aborts the job once the output file is safe.
"""

from __future__ import annotations

import collections
import math
import os
import threading
import time
import traceback

import numpy as np

from . import messages as m, signals
from .dataflow import Flow
from .scheduling import AskMaster, AskPeer
from .scheduling.base import remaining_cost

#: Agent wake-up when nothing arrives; bounds how late it notices a drained
#: queue or a finished task (the task thread never waits for the agent).
AGENT_TICK = 0.002
#: Polling back-off (seconds) of a worker of a round-based workload: its
#: next tasks wait on pieces from its peers, so it polls at most every 0.5 ms
#: instead of the transport's 2 ms.
ROUND_POLL = (20e-6, 5e-4)
#: Send results when the oldest unsent one is this old...
RESULT_FLUSH_SECONDS = 0.2
#: ...or when this many are waiting (one message of ~100 KB).
RESULT_BATCH_MAX = 4096
#: After a stop signal, exit if the master gives no instruction for this long.
ORPHAN_TIMEOUT = 60.0


class Worker:
    """One working rank.

    Parameters
    ----------
    transport
        Endpoint for this rank.
    workload
        The workload object, already set up with ``setup_worker``.
    policy
        This rank's :class:`~hpcmicro.scheduling.WorkerPolicy`.
    t0
        ``time.time()`` at job start, shared by all ranks, for start/stop stamps.
    task_timeout
        Seconds after which a running task is reported as timed out (0: never).
    inflight
        A :class:`~hpcmicro.store.InFlight` record told each task id before the
        task runs (for crash quarantine), or None.
    """

    def __init__(self, transport, workload, policy, t0: float, task_timeout: float = 0.0,
                 master: int = 0, inflight=None):
        self.inflight = inflight
        self.tp, self.wl, self.policy = transport, workload, policy
        self.t0, self.task_timeout, self.master = t0, task_timeout, master
        self.fields = list(workload.result_fields())
        self.resident = workload.resident      # tasks carry their data when stolen
        self.cv = threading.Condition()
        self.queue: collections.deque = collections.deque()   # (id, cost, stolen)
        self.queued_cost = 0.0
        self.current = None          # (id, cost, monotonic start) of the running task
        self.rows: list = []         # finished (id, start, stop, stolen, value-or-Failure)
        self.busy = 0.0
        self.done_cost = self.done_time = 0.0   # finished tasks: estimated cost, seconds
        self.same_cost = None        # the one cost all tasks had so far (NaN: they differ)
        self.first_unsent = None
        self.draining = self.stopping = self.wedged = False
        self.timed_out: int | None = None
        # The task thread writes a byte here when its queue runs dry, so the
        # agent sends the results (and asks for work) at once, not a poll later.
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.flow: Flow | None = None    # round-based workloads: the resident data
        self.finished: collections.deque = collections.deque()  # (id, pieces out, seconds)
        self.early: list = []            # pieces that came before the first placement
        self.halted = False              # drained: queue no more tasks
        self.signal_time: float | None = None
        self.pending_signal: int | None = None

    # -- task thread -----------------------------------------------------
    def _task_loop(self) -> None:
        wl, t0 = self.wl, self.t0
        mark = self.inflight.mark if self.inflight is not None else (lambda tid: None)
        while True:
            with self.cv:
                if not self.queue or self.draining or self.wedged:
                    mark(-1)         # idle: a crash now is no task's fault
                while not self.queue or self.draining or self.wedged:
                    if self.stopping:
                        return
                    self.cv.wait()
                tid, cost, stolen = self.queue.popleft()
                self.queued_cost -= cost
                self.current = (tid, cost, time.monotonic())
            mark(tid)                # one pwrite, before the task can crash the process
            start = time.time() - t0
            inputs = outs = None
            try:
                if self.resident:
                    inputs = self.flow.take(tid)
                    value, outs = wl.run_resident(int(tid), inputs)
                else:
                    value = wl.run_task(int(tid))
            except BaseException:
                value = None
                tb = traceback.format_exc()
                if inputs is not None:
                    self.flow.restore(tid, inputs)      # for the retry
            stop = time.time() - t0
            if value is None:
                value = m.Failure(int(tid), "error", tb, start, stop)
            with self.cv:
                self.current = None
                if tid == self.timed_out:
                    continue         # already reported as timed out
                self.rows.append((tid, start, stop, stolen, value))
                self.busy += stop - start
                self.done_cost += cost
                self.done_time += stop - start
                if self.first_unsent is None:
                    self.first_unsent = time.monotonic()
                dry = len(self.queue) <= 1
                if outs is not None:
                    # The agent routes its pieces at its next wake-up (within
                    # AGENT_TICK).  Waking it after every task made the task
                    # thread wait for the GIL while the agent worked: 0.17 ms
                    # between tasks of 1.5 ms instead of 0.03 ms (measured).
                    # Peers rarely wait: their queues are seldom dry.
                    self.finished.append((tid, outs, stop - start))
            if dry:
                try:
                    os.write(self._wake_w, b"x")
                except BlockingIOError:
                    pass             # the agent has a wake-up pending already

    # -- agent -------------------------------------------------------------
    def run(self) -> None:
        """Run until the master says stop (call from the rank's main thread)."""
        thread = threading.Thread(target=self._task_loop, name="hpcmicro-task", daemon=True)
        thread.start()
        if self.resident:
            self.tp.set_poll(*ROUND_POLL)
        self.tp.send(self.master, m.Hello(self.tp.processor_name()))
        while not self.stopping:
            got = self.tp.recv(timeout=AGENT_TICK, wake=self._wake_r)
            while got is not None:
                self._handle(*got)
                if self.stopping:
                    break
                got = self.tp.recv(0.0)
            if not self.stopping:
                self._tick()
        with self.cv:
            self.cv.notify_all()
        self.tp.send(self.master, m.Bye())      # delivered by the transport's shutdown

    def _tick(self) -> None:
        now = time.monotonic()
        with self.cv:
            idle = self.current is None and not self.queue
            due = self.rows and (idle or len(self.rows) >= RESULT_BATCH_MAX
                                 or now - self.first_unsent >= RESULT_FLUSH_SECONDS)
            n_queued = len(self.queue)
            cur = self.current
        while self.finished:
            # Pieces of finished tasks first: peers may wait for them, the
            # master does not wait for results.
            tid, outs, seconds = self.finished.popleft()
            self._route(*self.flow.finished(tid, outs, seconds))
        if due:
            self._send_results()
        if cur is not None and self.task_timeout > 0 and now - cur[2] > self.task_timeout:
            self._wedge(cur)
        if self.draining:
            if cur is None:
                self._send_results()
                self.tp.send(self.master, m.Drained())
                self.draining = False
                self.signal_time = self.signal_time or now
        elif not self.wedged and not self.halted:
            self._ask(self.policy.want_work(n_queued, now))
        if self.pending_signal is not None:
            self.tp.send(self.master, m.SignalSeen(self.pending_signal))
            self.pending_signal = None
        if self.signal_time is not None and now - self.signal_time > ORPHAN_TIMEOUT:
            self.stopping = True

    def _ask(self, action) -> None:
        if isinstance(action, AskMaster):
            self.tp.send(self.master, m.MoreWork(action.req_id))
        elif isinstance(action, AskPeer):
            with self.cv:
                load = self.queued_cost + self._running_load()
            self.tp.send(action.victim, m.StealRequest(action.req_id, load))

    def _running_load(self) -> float:
        """Expected remaining cost of the running task (call holding ``cv``)."""
        if self.current is None:
            return 0.0
        _, cost, began = self.current
        return remaining_cost(cost, time.monotonic() - began, self._rate())

    def _rate(self) -> float:
        """Cost units per second over this worker's finished tasks (0: none yet)."""
        return self.done_cost / self.done_time if self.done_time > 0 else 0.0

    def _send_results(self) -> None:
        with self.cv:
            rows, self.rows = self.rows, []
            busy, self.busy = self.busy, 0.0
            self.first_unsent = None
        if not rows:
            return
        ok = [r for r in rows if not isinstance(r[4], m.Failure)]
        fails = [r[4] for r in rows if isinstance(r[4], m.Failure)]
        values = {f: np.asarray([r[4][f] for r in ok]) for f in self.fields} if ok else {}
        extras = [(int(r[0]), {k: v for k, v in r[4].items() if k not in values})
                  for r in ok if len(r[4]) > len(self.fields)]
        self.tp.send(self.master, m.Results(
            ids=np.fromiter((r[0] for r in ok), np.int64, len(ok)),
            start=np.fromiter((r[1] for r in ok), np.float64, len(ok)),
            stop=np.fromiter((r[2] for r in ok), np.float64, len(ok)),
            stolen=np.fromiter((r[3] for r in ok), np.uint8, len(ok)),
            values=values, failures=fails, busy=busy, extras=extras))

    def _take_all(self):
        with self.cv:
            items = list(self.queue)
            self.queue.clear()
            self.queued_cost = 0.0
        return (np.array([i[0] for i in items], np.int64), np.array([i[1] for i in items]))

    def _wedge(self, cur) -> None:
        tid, _, began = cur
        with self.cv:
            self.timed_out, self.wedged = tid, True
        now = time.time() - self.t0
        start = now - (time.monotonic() - began)
        self.tp.send(self.master, m.Results(
            ids=np.empty(0, np.int64), start=np.empty(0), stop=np.empty(0),
            stolen=np.empty(0, np.uint8), failures=[m.Failure(
                int(tid), "timeout", f"task {tid} ran longer than task_timeout = "
                f"{self.task_timeout:g} s on rank {self.tp.rank}", start, now)]))
        self._send_results()
        ids, costs = self._take_all()
        self.tp.send(self.master, m.GiveBack(ids, costs, wedged=True))

    def _enqueue(self, ids, costs, stolen: int) -> None:
        if len(costs):
            if self.same_cost is None:
                self.same_cost = float(costs[0])
            if not costs.min() == costs.max() == self.same_cost:
                self.same_cost = math.nan
        with self.cv:
            self.queue.extend(zip(ids.tolist(), costs.tolist(), [stolen] * len(ids)))
            self.queued_cost += float(costs.sum())
            self.cv.notify()

    def _handle(self, src: int, msg) -> None:
        if isinstance(msg, m.Assign):
            self.policy.on_batch(len(msg.ids))
            if self.wedged:
                self.tp.send(self.master, m.GiveBack(msg.ids, msg.costs, wedged=True))
            else:
                self._enqueue(msg.ids, msg.costs, 0)
        elif isinstance(msg, m.StealReply):
            stolen = 1 if src != self.master else 0
            later = []
            if msg.payloads is not None:
                for tid, c, payload in zip(msg.ids.tolist(), msg.costs.tolist(), msg.payloads):
                    later += self.flow.import_task(tid, payload, c)
            if len(msg.ids):
                if self.wedged or self.draining:
                    self.tp.send(self.master, m.GiveBack(msg.ids, msg.costs, self.wedged))
                else:
                    self._enqueue(msg.ids, msg.costs, stolen)
                    self.policy.on_batch(len(msg.ids))
            self._route({}, later)
            self.policy.on_reply(msg.req_id, len(msg.ids), time.monotonic())
        elif isinstance(msg, m.StealRequest):
            self._answer_steal(src, msg)
        elif isinstance(msg, m.Round):
            self._place(msg)
        elif isinstance(msg, m.Data):
            if self.flow is None:
                self.early.append(msg.entries)
            else:
                self._route(*self.flow.add(msg.entries))
        elif isinstance(msg, m.Drain):
            self.draining = self.halted = True
            ids, costs = self._take_all()
            self.tp.send(self.master, m.GiveBack(ids, costs))
        elif isinstance(msg, m.Stop):
            with self.cv:
                self.stopping = True
                self.cv.notify_all()

    def _place(self, msg) -> None:
        """The master's placement of a round: the first one, or (``dynamic``) the next."""
        me = self.tp.rank
        with self.cv:       # the first round's costs are estimates, later ones measured
            self.done_cost = self.done_time = 0.0
        if self.flow is None:
            n = len(msg.runners)
            self.flow = Flow(n, self.wl.rounds(), [self.wl.needs(j) for j in range(n)], me)
        initial = (lambda items: self.wl.initial_inputs(msg.r, items)) if msg.first else None
        self._route(*self.flow.place(msg.r, msg.runners, msg.costs, initial, msg.barrier))
        early, self.early = self.early, []
        for entries in early:
            self._route(*self.flow.add(entries))
        self.policy.on_batch(0)

    def _route(self, sends, ready) -> None:
        """Send pieces to their holders; queue the tasks they made runnable."""
        for dest, entries in sends.items():
            self.tp.send(dest, m.Data(entries))
        if ready and not (self.halted or self.wedged):
            ids, costs = zip(*ready)
            self._enqueue(np.array(ids, np.int64), np.array(costs, np.float64), 0)
            self.policy.on_batch(len(ids))

    def _answer_steal(self, thief: int, req) -> None:
        with self.cv:
            n = 0
            if not (self.draining or self.wedged) and self.queue:
                n = self.policy.share((c for _, c, _ in reversed(self.queue)),
                                      self.queued_cost, self._running_load(), req.queued,
                                      self._rate())
                if self.resident:
                    # A resident task's data travels with it: never give away
                    # the last queued one, whose transfer costs about as much
                    # as running it here.
                    n = min(n, len(self.queue) - 1)
            if self.same_cost is not None and not math.isnan(self.same_cost):
                # No estimates: give the tasks this worker would run next, so
                # tasks start close to their order (first come, first served)
                # and none waits behind a long one.
                taken = [self.queue.popleft() for _ in range(n)]
            else:
                # Estimates: the queue runs largest first; give the smallest.
                taken = [self.queue.pop() for _ in range(n)]
                taken.reverse()
            for _, c, _ in taken:
                self.queued_cost -= c
        payloads = None
        if taken and self.resident:
            payloads = [self.flow.export_task(t[0], thief) for t in taken]
        self.tp.send(thief, m.StealReply(req.req_id, np.array([t[0] for t in taken], np.int64),
                                         np.array([t[1] for t in taken], np.float64), payloads))

    # -- signals -----------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """Forward SIGTERM/SIGINT/SIGUSR1 to the master instead of dying."""
        def handler(signum, frame):
            # Only set flags here; the agent's next tick does the messaging.
            if self.signal_time is None:
                self.signal_time = time.monotonic()
            self.pending_signal = signum
        signals.install(handler)
