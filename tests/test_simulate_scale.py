"""The scale simulator (benchmarks/simulate_scale.py) with tiny parameters."""

from __future__ import annotations

import heapq
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _sim.costs import CostModel, zero_costs  # noqa: E402
from _sim.engine import Others, SimConfig, simulate, poll_time  # noqa: E402
from _sim.placement import fast_lpt_placement  # noqa: E402
from hpcmicro.scheduling import StealWorker  # noqa: E402
from hpcmicro.scheduling.base import lpt_placement  # noqa: E402
from hpcmicro.workloads.synthetic import SyntheticParams, durations, estimates  # noqa: E402

#: Costs of the order measured on a workstation (seconds).
COSTS = CostModel(latency=1e-5, bandwidth=3e8, recv0=3e-5, recv1=1e-8, send0=1.5e-5,
                  send1=1e-8, results0=2e-5, results1=1e-7, request=3e-6, commit0=1e-8,
                  commit_block=1e-3, write0=1e-4, write1=1e-8, source="test")


def work(n, dist="lognormal", est="exact", seed=3):
    p = SyntheticParams(n_tasks=n, distribution=dist, cost_noise=0.0 if est == "exact" else "none")
    d = durations(p, seed)
    return d, estimates(p, d, seed)


def lpt_makespan(d, w):
    free = [0.0] * w
    for x in np.sort(d)[::-1]:
        heapq.heappush(free, heapq.heappop(free) + x)
    return max(free)


@pytest.mark.parametrize("policy", ["steal", "dynamic", "steal+hier"])
@pytest.mark.parametrize("dist,est", [("lognormal", "exact"), ("pareto", "none")])
def test_every_task_once(policy, dist, est):
    d, e = work(3000, dist, est)
    r = simulate(SimConfig(policy, COSTS, node=4), d, e, 16)
    assert r["missing"] == 0 and r["duplicates"] == 0
    assert 0 < r["efficiency"] <= r["efficiency_tasks"] <= 1 + 1e-9
    assert r["efficiency_tasks"] <= r["bound"] + 1e-9
    assert 0 < r["master_util"] <= 1 + 1e-9


def test_steal_ideal_machine_is_near_lpt():
    d, e = work(2000)
    w = 16
    lpt = d.sum() / w / lpt_makespan(d, w)
    r = simulate(SimConfig("steal", zero_costs(), ideal_agent=True), d, e, w)
    assert r["efficiency"] >= 0.97 * lpt, (r["efficiency"], lpt)


def test_expensive_master_saturates_dynamic_not_steal():
    """2 ms per message on the master: dynamic's round trips queue behind each
    other; steal only sends results every 0.2 s per worker."""
    d, e = work(6000)
    slow = replace(COSTS, recv0=2e-3)
    dyn = simulate(SimConfig("dynamic", slow), d, e, 64)
    st = simulate(SimConfig("steal", slow), d, e, 64)
    fast_dyn = simulate(SimConfig("dynamic", COSTS), d, e, 64)
    assert dyn["master_util"] > 0.9
    assert dyn["efficiency"] < 0.6 * fast_dyn["efficiency"]
    assert st["master_util"] < 0.8
    assert st["efficiency"] > 1.5 * dyn["efficiency"]


def test_fast_placement_is_identical():
    rng = np.random.default_rng(0)
    for n, w in ((500, 7), (250_000, 33)):
        c = rng.random(n)
        c[::5] = 0.5
        a = lpt_placement(np.arange(n), c, list(range(1, w + 1)))
        b = fast_lpt_placement(np.arange(n), c, list(range(1, w + 1)))
        assert a.keys() == b.keys()
        for k in a:
            assert np.array_equal(a[k][0], b[k][0]) and np.array_equal(a[k][1], b[k][1])


def test_others_is_the_peer_list():
    for me in (1, 5, 9):
        o = Others(me, 9)
        ref = [p for p in range(1, 10) if p != me]
        assert list(o) == ref and len(o) == len(ref)
        assert [o[i] for i in range(len(o))] == ref
        assert all((p in o) == (p in ref) for p in range(0, 11))


def test_fast_victim_choice_matches_real_rules():
    real, fast = StealWorker(3, range(1, 9), 0), StealWorker(3, (), 0)
    fast.peers = Others(3, 8)
    for pol in (real, fast):
        pol.on_batch(1)
        seen = []
        for _ in range(4):                       # a round: 4 distinct victims, never itself
            act = pol.want_work(0, 0.0)
            assert act.victim != 3 and act.victim not in seen
            seen.append(act.victim)
            pol.on_reply(act.req_id, 0, 0.0)
        assert pol.not_before > 0 and pol.want_work(0, 0.0) is None   # backed off
    counts = np.zeros(9)
    f = StealWorker(1, (), 1)
    f.peers = Others(1, 8)
    f.on_batch(1)
    for _ in range(4000):
        act = f.want_work(0, 1e9)
        counts[act.victim] += 1
        f.on_reply(act.req_id, 1, 1e9)           # a hit: tried cleared, no back-off
    assert counts[1] == 0 and counts[0] == 0
    assert counts[2:].min() > 400                # uniform over the 7 peers


def test_poll_time():
    assert poll_time(1.0, 1.0, 20e-6, 2e-3) == 1.0
    assert poll_time(1.0 + 10e-6, 1.0, 20e-6, 2e-3) == pytest.approx(1.0 + 20e-6)
    assert poll_time(1.0 + 30e-6, 1.0, 20e-6, 2e-3) == pytest.approx(1.0 + 60e-6)
    late = poll_time(1.1, 1.0, 20e-6, 2e-3)
    assert 1.1 <= late < 1.1 + 2e-3 + 1e-12
    assert poll_time(1.005, 1.0, 1e-2, 1e-2) == pytest.approx(1.01)
