"""The scheduling policies as plain Python: no MPI, no threads."""

import numpy as np
import pytest

from hpcmicro.errors import ConfigError
from hpcmicro.scheduling import AskMaster, AskPeer, get_policy
from hpcmicro.scheduling.base import block_placement, lpt_placement, round_robin
from hpcmicro.scheduling.dynamic import FIRST_BATCH, DynamicMaster, DynamicWorker
from hpcmicro.scheduling.steal import VICTIMS_PER_ROUND, StealWorker, tasks_to_give


def _loads(plan, costs):
    return {r: costs[ids].sum() for r, (ids, _) in plan.items()}


def _covers(plan, n):
    ids = np.concatenate([p[0] for p in plan.values()])
    return np.array_equal(np.sort(ids), np.arange(n))


def test_lpt_is_a_partition_and_balanced():
    rng = np.random.default_rng(0)
    costs = rng.lognormal(0, 1, 500)
    ids = np.arange(500)
    plan = lpt_placement(ids, costs, [1, 2, 3, 4])
    assert _covers(plan, 500)
    loads = np.array(list(_loads(plan, costs).values()))
    # Graham: LPT is within max task cost of the mean load.
    assert loads.max() - loads.mean() <= costs.max()
    for ids_w, c in plan.values():
        assert np.all(np.diff(c) <= 0), "each queue runs largest first"


def test_lpt_snake_path_for_huge_inputs(monkeypatch):
    import hpcmicro.scheduling.base as base
    monkeypatch.setattr(base, "LPT_HEAP_LIMIT", 10)
    costs = np.random.default_rng(1).uniform(1, 2, 1000)
    plan = lpt_placement(np.arange(1000), costs, [1, 2, 3])
    assert _covers(plan, 1000)
    loads = np.array(list(_loads(plan, costs).values()))
    assert loads.max() / loads.min() < 1.01


def test_block_placement_equal_cost_contiguous():
    costs = np.r_[np.full(10, 10.0), np.ones(100)]
    plan = block_placement(np.arange(110), costs, [1, 2])
    assert _covers(plan, 110)
    a, b = plan[1][0], plan[2][0]
    assert np.all(np.diff(a) == 1) and a[-1] + 1 == b[0]
    assert abs(costs[a].sum() - costs[b].sum()) <= 10.0


def test_block_placement_without_estimates_splits_counts():
    plan = block_placement(np.arange(9), np.zeros(9), [1, 2, 3])
    assert [len(v[0]) for v in plan.values()] == [3, 3, 3]


def test_round_robin_skips_empty():
    plan = round_robin(np.arange(2), np.ones(2), [5, 6, 7])
    assert set(plan) == {5, 6}


def _give(q, running, thief_load):
    return tasks_to_give(reversed(q), sum(q), running, thief_load)


def test_tasks_to_give_halves_imbalance_and_never_swaps_roles():
    assert _give([1.0] * 10, running=1.0, thief_load=0.0) == 5
    # A single queued task goes to an idle thief while the victim is busy...
    assert _give([3.0], running=3.0, thief_load=0.0) == 1
    # ...but not to a thief that would then hold more than the victim keeps.
    assert _give([3.0], running=0.0, thief_load=0.0) == 0
    assert _give([1.0, 1.0], running=0.0, thief_load=2.0) == 0
    for _ in range(200):
        rng = np.random.default_rng(_)
        q = list(rng.uniform(0.1, 3, rng.integers(0, 12)))
        run, thief = rng.uniform(0, 3), rng.uniform(0, 6)
        n = _give(q, run, thief)
        if n:
            given = sum(q[len(q) - n:])
            assert thief + given <= sum(q) + run - given + 1e-12
        if n < len(q):  # taking one more would have overshot
            nxt = q[len(q) - n - 1]
            given = sum(q[len(q) - n:]) if n else 0.0
            assert thief + given + nxt > sum(q) + run - given - nxt


def test_steal_worker_requests_ids_backoff_and_stale_replies():
    w = StealWorker(rank=1, peers=[1, 2, 3, 4, 5], seed=0)
    assert w.want_work(queued=0, now=0.0) is None, "no stealing before the first placement"
    w.on_batch(0)
    assert w.want_work(queued=5, now=0.0) is None          # enough queued
    a = w.want_work(queued=0, now=0.0)
    assert isinstance(a, AskPeer) and a.victim != 1
    assert w.want_work(queued=0, now=0.0) is None          # one request in flight
    assert w.on_reply(a.req_id + 99, 3, now=0.0) is False  # stale: ignored
    assert w.outstanding == a.req_id
    victims = {a.victim}
    assert w.on_reply(a.req_id, 0, now=0.0)
    for _ in range(VICTIMS_PER_ROUND - 1):
        b = w.want_work(queued=0, now=0.0)
        assert b is not None and b.victim not in victims, "a round tries distinct peers"
        victims.add(b.victim)
        w.on_reply(b.req_id, 0, now=0.0)
    assert w.want_work(queued=0, now=0.0) is None, "backs off after a round of misses"
    c = w.want_work(queued=0, now=1.0)
    assert c is not None
    w.on_reply(c.req_id, 4, now=1.0)
    assert w.misses == 0 and w.not_before == 0.0


def test_steal_worker_alone_never_asks():
    w = StealWorker(rank=1, peers=[1])
    w.on_batch(3)
    assert w.want_work(0, 0.0) is None


def test_dynamic_batches_adapt_to_task_time_and_guided_tail():
    m = DynamicMaster([1, 2], seed=0)
    costs = np.arange(100, dtype=float)
    plan = m.initial(np.arange(100), costs)
    assert all(len(v[0]) == FIRST_BATCH for v in plan.values())
    assert plan[1][1][0] == 99.0, "largest estimated cost first"
    m.on_results(1, 10, busy=10 * 1e-6)                     # 1 us tasks
    big = m.on_more_work(1)
    assert len(big[0]) == int(np.ceil(96 / 4)), "guided cap: remaining / (2 * workers)"
    m2 = DynamicMaster([1], seed=0)
    m2.initial(np.arange(10_000), np.ones(10_000))
    m2.on_results(1, 1, busy=1.0)                           # 1 s tasks
    assert len(m2.on_more_work(1)[0]) == 1
    while m.on_more_work(2) is not None:
        pass
    assert m.pending() == 0


def test_dynamic_worker_prefetches_at_half_batch():
    w = DynamicWorker(1, [1, 2])
    assert w.want_work(queued=0, now=0) is None, "not before the first batch"
    w.on_batch(10)
    assert w.want_work(queued=6, now=0) is None
    a = w.want_work(queued=5, now=0)
    assert isinstance(a, AskMaster)
    w.on_reply(a.req_id, 0, now=0)
    assert w.exhausted and w.want_work(0, 0) is None


def test_unknown_scheduler_message():
    with pytest.raises(ConfigError, match="unknown scheduler 'fifo'; choose from steal, dynamic, static"):
        get_policy("fifo")


def test_usable_costs_floor_zero_estimates():
    from hpcmicro.scheduling.base import usable_costs
    assert np.array_equal(usable_costs(np.zeros(3)), np.ones(3))
    assert np.array_equal(usable_costs(np.array([0.0, 2.0, 4.0])), [2.0, 2.0, 4.0])
    with pytest.raises(ValueError):
        usable_costs(np.array([1.0, np.nan]))


def test_remaining_cost_within_and_past_the_estimate():
    from hpcmicro.scheduling.base import remaining_cost
    # no finished task yet: the estimate is all there is
    assert remaining_cost(4.0, 10.0, 0.0) == 4.0
    # 1 unit/s: after 1 s of a 4-unit task, 3 are left; at its estimate, none
    assert remaining_cost(4.0, 1.0, 1.0) == 3.0
    assert remaining_cost(4.0, 4.0, 1.0) == 0.0
    # past its estimate a task is assumed to run as long again
    assert remaining_cost(4.0, 6.0, 1.0) == 6.0
    assert remaining_cost(1.0, 30.0, 0.2) == 6.0


def test_a_worker_stuck_in_a_long_task_gives_its_whole_queue():
    # No estimates (every task costs 1).  While the running task is young the
    # victim keeps half; once it has run 10x the mean it counts as 10 units
    # and hands all three queued tasks to an idle thief.
    from hpcmicro.scheduling.base import remaining_cost
    q = [1.0, 1.0, 1.0]
    assert _give(q, remaining_cost(1.0, 0.1, 1.0), 0.0) == 1
    assert _give(q, remaining_cost(1.0, 10.0, 1.0), 0.0) == 3


def test_steal_lag_keeps_a_short_last_task_at_home():
    from hpcmicro.scheduling.steal import STEAL_LAG
    w = StealWorker(1, [1, 2])
    # a 1 ms task behind a 2 ms one: the thief would start it only after the
    # victim had finished both, so the victim keeps it ...
    rate = 1.0 / 1e-3                               # 1 unit = 1 ms here
    assert STEAL_LAG * rate >= 1.0
    assert w.share(iter([1.0]), 1.0, 2.0, 0.0, rate) == 0
    # ... while without a known rate (no task finished yet) it goes
    assert w.share(iter([1.0]), 1.0, 2.0, 0.0, 0.0) == 1
    # and long tasks still move: the lag is small beside them
    assert w.share(iter([50.0]), 50.0, 100.0, 0.0, rate) == 1
    # a thief that asked early (3 units still queued) hides the lag behind
    # its own work: it is counted at its load, not at load + lag
    assert w.share(iter([2.0, 2.0]), 4.0, 4.0, 3.0, rate) == 1
    assert tasks_to_give(iter([2.0, 2.0]), 4.0, 4.0, 3.0 + STEAL_LAG * rate) == 0


def test_refusals_while_work_is_queued_are_not_misses():
    # A worker asks ahead (one task queued); a peer with no more than it says
    # no.  Many such refusals must not push it into the idle back-off, or it
    # sits out the rest of a round once its queue runs dry.
    w = StealWorker(rank=1, peers=[1, 2])
    w.on_batch(5)
    now = 0.0
    for _ in range(10 * VICTIMS_PER_ROUND):
        a = w.want_work(queued=1, now=now)
        assert a is not None
        w.on_reply(a.req_id, 0, now=now)
        now += 1e-3
    assert w.misses == 0
    assert w.want_work(queued=0, now=now) is not None, "asks at once when dry"

