"""The master: first placement, results, commits, retries, drain, termination.

Notes
-----
The master sends the first placement chosen by its policy, then mostly
listens.  It detects termination by counting: the job is over when every task
of this run is done or finally failed, which needs no distributed
termination protocol because every result reaches the master (in batches).
Results are committed to the store every ``commit_interval`` seconds.  A stop
signal (SIGTERM, SIGINT, SIGUSR1, on any rank) starts a drain: workers finish
their running task, hand their queues back and report; the master commits,
marks the file ``incomplete`` and the job exits resumable.
"""

from __future__ import annotations

import signal
import sys
import time

import numpy as np

from . import messages as m, signals
from .errors import EXIT_RESUMABLE, EXIT_TASKS_FAILED
from .store import DONE, FAILED, PENDING, StoreWriteError

#: How long a drain may wait for running tasks before the master commits
#: anyway and ends the job (Slurm's KillWait defaults to 30 s).
DRAIN_TIMEOUT = 20.0
#: How long workers may take to set up (e.g. read a database) before the
#: master gives up on them.
STARTUP_TIMEOUT = 900.0
#: Polling back-off of the master for round-based workloads with a barrier
#: (``dynamic``): every round ends with the master noticing the last result,
#: so it reacts within half a millisecond (about 2,000 wake-ups a second while
#: a round runs: ~2% of a core).  Without a barrier nothing it gets is urgent.
RESIDENT_POLL = (1e-4, 5e-4)
#: Master wait per loop when idle; it sleeps (never spins) between polls.
MASTER_TICK = 0.02


class Master:
    """Rank 0's loop.

    Parameters
    ----------
    transport
        The master's endpoint (rank 0).
    policy
        A :class:`~hpcmicro.scheduling.MasterPolicy` over the worker ranks.
    store
        The open :class:`~hpcmicro.store.ResultStore`.
    costs
        Estimated cost of every task id.
    max_attempts, commit_interval
        From the ``[job]`` table.
    progress
        A :class:`~hpcmicro.progress.Progress` (or None).
    hooks
        The workload (for ``store_extras`` and ``end_round``), or None.
    rounds, first_round
        Round-based workloads: how many rounds, and where this run starts.
    """

    def __init__(self, transport, policy, store, costs, *, max_attempts=3,
                 commit_interval=1.0, progress=None, log=sys.stderr, hooks=None,
                 rounds=1, first_round=0):
        self.tp, self.policy, self.store, self.costs = transport, policy, store, costs
        self.hooks, self.rounds, self.first_round = hooks, rounds, first_round
        self.resident = bool(getattr(hooks, "resident", False))
        self.max_attempts, self.commit_interval = max_attempts, commit_interval
        self.progress, self.log = progress, log
        self.workers = list(policy.workers)
        self.wedged: set[int] = set()
        self.drained: set[int] = set()
        self.hosts: dict[int, str] = {}
        self.signalled: int | None = None
        self.draining = False
        self.drain_started = 0.0
        self.messages_in = 0
        self.fatal: str | None = None
        self.store_error: str | None = None    # the output cannot be written (disk full...)
        self.loop_cpu = self.loop_wall = 0.0   # the coordinator's CPU and wall time while tasks ran
        self.bytes_in = self.bytes_out = 0     # payload bytes through rank 0 while tasks ran

    # -- signals -----------------------------------------------------------
    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT/SIGUSR1 start a drain; repeats are harmless."""
        def handler(signum, frame):
            if self.signalled is None:
                self.signalled = signum
        signals.install(handler)

    # -- main loop -----------------------------------------------------------
    def run(self) -> str:
        """Run the job to the end or to a drain; return the file status to set."""
        st = self.store.tasks["status"]
        self.n_done = int((st == DONE).sum())
        self.n_failed = int((st == FAILED).sum())
        self.tp.count_out = True
        self._wait_for_workers()
        # Rounds with a barrier wait on the master between them: poll fast.
        fast = self.resident and self.policy.barrier
        self.tp.set_poll(*(RESIDENT_POLL if fast else self.policy.poll))
        in0, out0 = self.tp.bytes_in, self.tp.bytes_out
        self._last_commit = time.monotonic()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if not self.resident:
            todo = np.flatnonzero(st == PENDING)
            self.left = len(todo)
            plan = self.policy.initial(todo, self.costs[todo])
            empty = (np.empty(0, np.int64), np.empty(0))
            for rank in self.workers:       # every worker hears from us, even with no tasks
                ids, costs = plan.get(rank, empty)
                self.tp.send(rank, m.Assign(ids, costs))
            self._loop()
        else:
            self._run_rounds()
        self.bytes_in, self.bytes_out = self.tp.bytes_in - in0, self.tp.bytes_out - out0
        self.loop_cpu = time.process_time() - cpu0
        self.loop_wall = time.perf_counter() - wall0
        self._commit()
        if self.progress:
            self.progress.close()
        if (st == PENDING).any() or self.store_error:
            return "incomplete"
        return "failed" if self.n_failed else "complete"

    def _run_rounds(self) -> None:
        """Rounds: place the first round of this run, and (``barrier``
        policies) each next one when the last is done; close rounds in order
        as their results come in (checkpoints).  Otherwise workers go from
        round to round on their own (see :mod:`hpcmicro.dataflow`)."""
        st = self.store.tasks["status"]
        self.per = per = len(st) // self.rounds
        pending = np.flatnonzero(st == PENDING)
        self.round_left = np.bincount(pending // per, minlength=self.rounds)
        self.round_left[:self.first_round] = 0
        self.closed = self.first_round
        self.left = int(self.round_left.sum())
        if self.left:
            self._place_round(self.first_round)
            self._loop()

    def _place_round(self, r: int) -> None:
        """Send every worker the placement of round ``r``."""
        t, per = self.store.tasks, self.per
        ids = np.arange(r * per, (r + 1) * per)
        if r == self.first_round:
            costs, holders = self.costs[ids], None
        else:       # the time the same task took in the previous round
            prev = ids - per
            costs = np.maximum(t["stop"][prev] - t["start"][prev], 1e-9)
            holders = t["worker"][prev].astype(np.int64)
        plan = self.policy.place_round(ids, costs, holders)
        runners = np.full(per, -1, np.int64)
        for rank, (pids, _) in plan.items():
            runners[pids - r * per] = rank
        for rank in self.workers:
            self.tp.send(rank, m.Round(r, runners, costs, first=r == self.first_round,
                                       barrier=self.policy.barrier))

    def _close_rounds(self) -> None:
        """Let the workload close each round whose tasks are all done, in order."""
        while (self.closed < self.rounds and self.round_left[self.closed] == 0
               and not (self.n_failed or self.fatal or self.store_error)):
            r = self.closed
            self.closed += 1
            # No commit here: the periodic commits suffice, because a resume
            # restarts from the last checkpoint and recomputes later rounds.
            if self.hooks is not None:
                try:
                    self.hooks.end_round(self.store.group, r)
                except OSError as e:
                    self._store_failed(f"cannot write the checkpoint of round {r} to "
                                       f"{self.store.path}: {e}. Free some space, then run "
                                       "the job again with --resume.")
                    return
            if self.policy.barrier and r + 1 < self.rounds:
                self._place_round(r + 1)

    def _loop(self) -> None:
        """Receive and commit until this placement's tasks are all final."""
        while self.left > 0 and self.fatal is None:
            got = self.tp.recv(timeout=MASTER_TICK)
            while got is not None:
                self.messages_in += 1
                self._handle(*got)
                got = self.tp.recv(0.0)
            if self.resident:
                self._close_rounds()
                if self.n_failed:
                    print("hpcmicro: the rounds after it need its result, so the job stops "
                          "here; fix the cause, then run it again with --resume (it restarts "
                          "from the last checkpoint)", file=self.log)
                    break
            now = time.monotonic()
            if now - self._last_commit >= self.commit_interval:
                self._commit()
                self._last_commit = now
            if self.store_error:
                break               # nothing more can be saved: stop now, not after a drain
            if self.progress:
                self.progress.update(self.n_done, self.n_failed)
            if self.signalled is not None and not self.draining:
                self._start_drain(f"signal {signal.Signals(self.signalled).name}")
            if self.draining and (self.drained >= self._live() or
                                  now - self.drain_started > DRAIN_TIMEOUT):
                break
            if not self._live() and self.left > 0:
                print(f"hpcmicro: every worker is wedged; {self.left} tasks cannot run",
                      file=self.log)
                break

    def _wait_for_workers(self) -> None:
        """Wait until every worker has said Hello (its set-up is done), so the
        first placement reaches all of them at once and none starts late."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while len(self.hosts) < len(self.workers):
            if time.monotonic() > deadline:
                missing = sorted(set(self.workers) - set(self.hosts))
                raise RuntimeError(f"worker rank(s) {missing} did not start within "
                                   f"{STARTUP_TIMEOUT:g} s")
            got = self.tp.recv(timeout=MASTER_TICK)
            if got is not None:
                self._handle(*got)
            if self.signalled is not None:
                return

    def exit_code(self, status: str) -> int:
        """The process exit status that matches the file status."""
        return {"complete": 0, "failed": EXIT_TASKS_FAILED}.get(status, EXIT_RESUMABLE)

    def stop_workers(self, timeout: float = 10.0) -> None:
        """Tell every worker to exit and wait for each one's last message.

        Messages still in flight (late requests, steal traffic) are received
        and dropped, so no rank reaches MPI_Finalize with unmatched messages.
        Wedged workers are waited for too: their agent still answers.
        """
        for w in self.workers:
            self.tp.send(w, m.Stop())
        waiting = set(self.workers)
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            got = self.tp.recv(timeout=MASTER_TICK)
            if got is not None and isinstance(got[1], m.Bye):
                waiting.discard(got[0])
        self.tp.flush()

    def _commit(self) -> None:
        """Commit; a write the file system refuses ends the job resumable."""
        try:
            self.store.commit()
        except StoreWriteError as e:
            self._store_failed(str(e))

    def _store_failed(self, why: str) -> None:
        if self.store_error is None:
            self.store_error = why
            print(f"\nhpcmicro: {why}", file=self.log)
            if not self.draining:
                self._start_drain("the output cannot be written")

    def _live(self) -> set:
        return set(self.workers) - self.wedged

    def _start_drain(self, why: str) -> None:
        print(f"\nhpcmicro: {why}: draining (finishing running tasks, committing)", file=self.log)
        self.draining = True
        self.drain_started = time.monotonic()
        for w in self._live():
            self.tp.send(w, m.Drain())

    # -- messages ------------------------------------------------------------
    def _handle(self, src: int, msg) -> None:
        if isinstance(msg, m.Results):
            self._results(src, msg)
        elif isinstance(msg, m.MoreWork):
            batch = None if self.draining else self.policy.on_more_work(src)
            ids, costs = batch if batch else (np.empty(0, np.int64), np.empty(0))
            self.tp.send(src, m.StealReply(msg.req_id, ids, costs))
        elif isinstance(msg, m.GiveBack):
            if msg.wedged:
                self.wedged.add(src)
                self.policy.remove_worker(src)
                if self.resident:
                    self.fatal = (f"a task hung on rank {src}; a round-based workload cannot "
                                  "continue without its data")
            if len(msg.ids) and not self.draining and not self.resident:
                self._place(msg.ids, msg.costs, avoid=src)
        elif isinstance(msg, m.SignalSeen):
            if self.signalled is None:
                self.signalled = msg.signum
        elif isinstance(msg, m.Drained):
            self.drained.add(src)
        elif isinstance(msg, m.Hello):
            self.hosts[src] = msg.host
        elif isinstance(msg, m.Fatal):
            self.fatal = f"rank {src}: {msg.message}"

    def _place(self, ids, costs, avoid=None) -> None:
        for rank, (i, c) in self.policy.reassign(ids, costs, avoid=avoid).items():
            self.tp.send(rank, m.Assign(i, c))

    def _results(self, src: int, r: m.Results) -> None:
        st = self.store.tasks["status"]
        if len(r.ids):
            new = st[r.ids] == PENDING
            if self.hooks is not None:
                for tid, extra in r.extras:
                    self.hooks.store_extras(self.store.group, tid, extra)
            self.store.record_done(r.ids, src, r.start, r.stop, r.stolen, r.values)
            k = int(new.sum())
            if self.resident:
                self.round_left -= np.bincount(r.ids[new] // self.per, minlength=self.rounds)
            self.left -= k
            self.n_done += k
            self.policy.on_results(src, len(r.ids), r.busy)
        for f in r.failures:
            if st[f.task_id] != PENDING:
                continue
            attempts = int(self.store.tasks["attempts"][f.task_id]) + 1
            final = f.kind == "timeout" or attempts >= self.max_attempts
            text = (f"task {f.task_id} on rank {src} ({self.hosts.get(src, '?')}), "
                    f"attempt {attempts} of {self.max_attempts}: {f.message}")
            self.store.record_failure(f.task_id, src, f.start, f.stop, text, final)
            if final:
                self.left -= 1
                self.n_failed += 1
                if self.resident:
                    self.round_left[f.task_id // self.per] -= 1
                print(f"\nhpcmicro: task {f.task_id} failed for good ({f.kind}) on rank {src}; "
                      f"last error:\n{f.message.rstrip()}", file=self.log)
            elif self.draining:
                pass
            elif self.resident:     # the task's data lives on that worker: retry there
                self.tp.send(src, m.Assign(np.array([f.task_id]), self.costs[[f.task_id]]))
            else:
                self._place(np.array([f.task_id]), self.costs[[f.task_id]], avoid=src)
