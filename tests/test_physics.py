"""Moist physics: saturation adjustment, moisture budget, cost that moves."""

import dataclasses
import math

import numpy as np
import pytest

from hpcmicro.kernels import cases, physics, shallow_water as sw

import reference_shallow_water as ref

QS0, HREF, GAMMA, TOL = 0.02, 1000.0, 4.0, 1e-10


def fields(seed, n=40):
    rng = np.random.default_rng(seed)
    h = 1000.0 + 30.0 * rng.standard_normal((n, n))
    Q = h * physics.q_sat(h, QS0, HREF) * (0.9 + 0.2 * rng.random((n, n)))
    return h, Q


def test_adjustment_equals_numpy_reference():
    h, Q = fields(0)
    a = [h.copy(), Q.copy(), np.zeros_like(h), np.zeros(h.shape, np.int64)]
    b = [h.copy(), Q.copy(), np.zeros_like(h), np.zeros(h.shape, np.int64)]
    w1 = physics.saturation_adjust(*a, QS0, HREF, GAMMA, TOL)
    w2 = ref.saturation_adjust(*b, QS0, HREF, GAMMA, TOL, physics.MAX_ITER)
    assert w1 == w2 > 0
    for x, y in zip(a, b):
        assert np.array_equal(x, y)


def test_adjustment_reaches_saturation_and_budget_closes():
    h, Q = fields(1)
    h1, Q1, rain, it = h.copy(), Q.copy(), np.zeros_like(h), np.zeros(h.shape, np.int64)
    physics.saturation_adjust(h1, Q1, rain, it, QS0, HREF, GAMMA, TOL)
    wet = it > 0
    dry = ~wet
    assert wet.any() and dry.any()
    # dry cells untouched, no work
    assert np.array_equal(h1[dry], h[dry]) and np.array_equal(Q1[dry], Q[dry])
    assert np.all(rain[dry] == 0.0)
    # wet cells end saturated (to the tolerance times the contraction)
    resid = Q1[wet] - h1[wet] * physics.q_sat(h1[wet], QS0, HREF)
    assert np.abs(resid).max() < 10 * TOL
    # moisture goes to rain, heating to depth
    assert np.allclose(Q1 + rain, Q, rtol=0, atol=1e-12)
    assert np.allclose(h1 - h, GAMMA * rain, rtol=0, atol=1e-9)


def test_iterations_grow_with_supersaturation():
    h = np.full((1, 4), 1000.0)
    qs = physics.q_sat(h, QS0, HREF)
    Q = h * qs * np.array([[0.99, 1.0 + 1e-8, 1.0 + 1e-4, 1.05]])
    it = np.zeros(h.shape, np.int64)
    physics.saturation_adjust(h, Q, np.zeros_like(h), it, QS0, HREF, GAMMA, TOL)
    assert it[0, 0] == 0
    assert 0 < it[0, 1] < it[0, 2] < it[0, 3]
    assert it[0, 3] >= 20                       # many-fold the dry cost


def test_input_validation():
    h = np.ones((3, 3))
    with pytest.raises(ValueError, match="int64"):
        physics.saturation_adjust(h, h.copy(), h.copy(), np.zeros((3, 3)), QS0, HREF,
                                  GAMMA, TOL)


def test_moist_jet_rains_conserves_moisture_and_cost_moves():
    c = cases.moist_jet(nx=64, ny=32)
    n = math.ceil(43200.0 / c.params.dt)
    p = dataclasses.replace(c.params, dt=43200.0 / n)
    d0 = sw.diagnostics(c.state, p)
    s, step, maps = c.state, 0, []
    for _ in range(7):                          # 3.5 days, every 12 h
        s, work, it = sw.run(s, p, n, step0=step, return_iters=True)
        step += n
        maps.append(it)
    d1 = sw.diagnostics(s, p)
    assert d1["rain"] > 0
    # moisture is only moved or rained out; depth gains gamma * rain
    assert (d1["moisture"] + d1["rain"] - d0["moisture"]) / d0["moisture"] < 1e-13
    assert d1["mass"] - d0["mass"] == pytest.approx(p.gamma * d1["rain"], rel=1e-9)
    last = maps[-1]
    wet = last > 0
    assert 0.02 < wet.mean() < 0.8               # raining somewhere, not everywhere
    assert last[wet].mean() / n > 3.0            # a wet cell costs many iterations
    # the raining cells move: the cost maps 12 h apart differ substantially
    a, b = (maps[-2] > 0), (maps[-1] > 0)
    assert (a ^ b).sum() > 0.2 * (a | b).sum()
