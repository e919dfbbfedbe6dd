"""Shallow-water kernel: reference equality, tiling, conservation, accuracy.

CI-sized grids; the whole file runs in well under a minute once Numba's
cache is warm.  Targets and measured values are in the README section of
the weather kernels.
"""

import dataclasses
import math
import platform
import re

import numba
import numpy as np
import pytest

from hpcmicro.kernels import cases, shallow_water as sw

import reference_shallow_water as ref

DAY = 86400.0


def random_state(params, seed, amp_h=10.0, amp_u=5.0):
    """A smooth-ish random state (walls respected), old tendencies random too."""
    rng = np.random.default_rng(seed)
    ny, nx = params.ny, params.nx
    s = np.zeros((sw.n_fields(params), ny, nx))

    def smooth(a):
        out = np.zeros_like(a)
        for dj in (-1, 0, 1):
            for di in (-1, 0, 1):
                out += np.roll(np.roll(a, dj, 0), di, 1) / 9.0
        return out

    s[sw.F_H] = 1000.0 + amp_h * smooth(rng.standard_normal((ny, nx)))
    s[sw.F_U] = amp_u * smooth(rng.standard_normal((ny, nx)))
    s[sw.F_V] = amp_u * smooth(rng.standard_normal((ny, nx)))
    s[sw.F_FH:sw.F_FV + 1] = 1e-3 * rng.standard_normal((3, ny, nx))
    if params.walls:
        s[sw.F_V, 0] = 0.0
        s[sw.F_FV, 0] = 0.0
    if params.moist:
        qs = params.qs0 * (s[sw.F_H] / params.h_ref) ** 4
        s[sw.F_Q] = s[sw.F_H] * qs * (0.97 + 0.05 * rng.random((ny, nx)))
    return s


def make_params(walls, moist, ny=24, nx=20):
    return sw.Params(nx=nx, ny=ny, dx=1.0e5, dy=9.0e4, dt=100.0, f0=1.0e-4,
                     beta=1.6e-11 if walls else 0.0, walls=walls, moist=moist)


def reference(state, p, nsteps, b=None, step0=0):
    return ref.run(state, nsteps, p.dx, p.dy, p.dt, p.g, p.f0, p.beta, p.walls,
                   eps=p.eps, b=b, step0=step0, moist=p.moist, qs0=p.qs0,
                   h_ref=p.h_ref, gamma=p.gamma, tol=p.tol, max_iter=p.max_iter)


# ---------------------------------------------------------------- 1. reference
@pytest.mark.parametrize("walls", [False, True], ids=["periodic", "channel"])
@pytest.mark.parametrize("moist", [False, True], ids=["dry", "moist"])
@pytest.mark.parametrize("topo", [False, True], ids=["flat", "topo"])
def test_kernel_equals_numpy_reference(walls, moist, topo):
    p = make_params(walls, moist)
    s = random_state(p, seed=1)
    b = 50.0 * np.random.default_rng(2).random((p.ny, p.nx)) if topo else None
    got, work, iters = sw.run(s, p, 6, b=b, return_iters=True)
    want, want_work, want_iters = reference(s, p, 6, b=b)
    assert np.array_equal(got, want)
    assert work == want_work and np.array_equal(iters, want_iters)
    if moist:
        assert work > 0
    # restart in the middle (AB2 uses the stored tendencies, no Euler step)
    mid, _ = sw.run(s, p, 3, b=b)
    end, _ = sw.run(mid, p, 3, step0=3, b=b)
    assert np.array_equal(end, got)


def test_channel_keeps_wall_velocity_zero():
    p = make_params(True, False)
    out, _ = sw.run(random_state(p, 3), p, 20)
    assert np.all(out[sw.F_V, 0] == 0.0)


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="reads x86-64 assembly")
@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="needs the JIT")
def test_fused_row_loop_is_vectorised():
    """The one-pass row loop compiles to packed (SIMD) double arithmetic.

    It silently falls back to scalar code, about 2.5x slower, if a change
    adds arrays, branches around computed values or writes the state
    through other slices than it reads (Notes of ``kernels/shallow_water_step.py``).
    """
    from hpcmicro.kernels import shallow_water_step

    row = numba.njit(error_model="numpy")(shallow_water_step._dyn_row.py_func)
    m = 12
    rows = [np.ones(m) for _ in range(7)]
    tend = [np.zeros(m - 2) for _ in range(3)]
    bufs = [np.ones(m) for _ in range(5)]
    row(*rows, True, *tend, *bufs, 1e-4, False, False, 1e-5, 1e-5, 9.81, 1.6, 0.6)
    asm = row.inspect_asm(row.signatures[0])
    assert re.search(r"\bv?divpd\b", asm), "shallow_water_step._dyn_row: row loop not vectorised"


# ---------------------------------------------------------------- 2. tiling
@pytest.mark.parametrize("walls", [False, True], ids=["periodic", "channel"])
@pytest.mark.parametrize("moist", [False, True], ids=["dry", "moist"])
@pytest.mark.parametrize("shape,tile,k", [((37, 29), 8, 3), ((37, 29), 16, 4),
                                          ((32, 32), 16, 8), ((32, 32), 13, 1),
                                          ((20, 45), (20, 12), 5), ((30, 22), 100, 2)])
def test_tiled_driver_equals_whole_grid(walls, moist, shape, tile, k):
    ny, nx = shape
    p = make_params(walls, moist, ny=ny, nx=nx)
    s = random_state(p, seed=4)
    b = 30.0 * np.random.default_rng(5).random((ny, nx))
    nsteps = 11                                  # not a multiple of k
    whole, work, iters = sw.run(s, p, nsteps, b=b, return_iters=True)
    tiled, twork, titers = sw.run_tiled(s, p, nsteps, tile, k, b=b)
    assert np.array_equal(whole, tiled)
    assert np.array_equal(iters, titers)
    assert twork.sum() >= work                   # redundant halo work only adds
    if k == 1:
        assert twork.sum() == work
    assert sw.diagnostics(whole, p, b) == sw.diagnostics(tiled, p, b)


def test_tiled_driver_refuses_halo_wider_than_tile():
    p = make_params(False, False, ny=30, nx=30)
    with pytest.raises(ValueError, match="halo of 9 cells exceeds the smallest tile extent 7"):
        sw.run_tiled(random_state(p, 0), p, 10, 8, 9)


def test_advance_padded_rejects_short_halo():
    p = make_params(False, False)
    with pytest.raises(ValueError, match="need a halo"):
        sw.advance_padded(np.zeros((6, 10, 10)), p, 5, 0, 0)


# ---------------------------------------------------------------- 3. conservation
def test_mass_conserved_over_ten_thousand_steps():
    c = cases.unstable_jet(nx=32, ny=32, Lx=4.0e6, Ly=4.0e6, bump=5.0)
    m0 = sw.diagnostics(c.state, c.params)["mass"]
    out, _ = sw.run(c.state, c.params, 10_000)
    m1 = sw.diagnostics(out, c.params)["mass"]
    assert abs(m1 - m0) / m0 <= 1e-13
    assert np.abs(out[sw.F_V]).max() > 10.0          # the flow did something


def _energy_drift(cfl, eps):
    c = cases.unstable_jet(nx=32, ny=32, Lx=4.0e6, Ly=4.0e6, bump=5.0, cfl=cfl)
    n = math.ceil(2 * DAY / c.params.dt)
    p = dataclasses.replace(c.params, dt=2 * DAY / n, eps=eps)
    e0 = sw.diagnostics(c.state, p)["energy"]
    out, _ = sw.run(c.state, p, n)
    return (sw.diagnostics(out, p)["energy"] - e0) / e0


def test_energy_drift_is_time_truncation():
    # eps = 0.1 damps at O(eps dt): a small loss that halves with dt
    d1, d2 = _energy_drift(0.2, 0.1), _energy_drift(0.1, 0.1)
    assert -2e-5 < d1 < 0 and -2e-5 < d2 < 0
    assert 1.7 < d1 / d2 < 2.3
    # plain AB2 (eps = 0, stable at this CFL) loses at least second order
    e1, e2 = _energy_drift(0.1, 0.0), _energy_drift(0.05, 0.0)
    assert abs(e1) < 1e-7 and abs(e1) / abs(e2) > 3.5


# ---------------------------------------------------------------- 4. wave
def _wave_error(cfl, n=32, periods=3.0):
    c = cases.wave(n=n, cfl=cfl)
    p, info = c.params, c.info
    om = info["omega"]
    x = (np.arange(n) + 0.5) * p.dx
    basis = np.exp(-1j * (info["k"] * x[None, :] + info["l"] * x[:, None]))
    nsteps = int(round(periods * 2 * math.pi / om / p.dt))
    chunk = max(1, nsteps // 60)
    s, step, phase, times = c.state, 0, [], []
    while step < nsteps:
        phase.append(np.angle(((s[sw.F_H] - info["H"]) * basis).sum()))
        times.append(step * p.dt)
        s, _ = sw.run(s, p, chunk, step0=step)
        step += chunk
    t, ph = np.array(times), np.unwrap(phase)
    keep = t > 0.1 * t[-1]                      # skip the Euler start transient
    slope = np.polyfit(t[keep], ph[keep], 1)[0]
    return abs(-slope - om) / om, om * p.dt


def test_wave_case_matches_arakawa_lamb_dispersion():
    c = cases.wave()
    assert c.info["omega_eig"] == pytest.approx(c.info["omega"], rel=1e-12)


def test_inertia_gravity_wave_frequency_second_order():
    errs = []
    for cfl in (0.2, 0.1, 0.05):
        err, theta = _wave_error(cfl)
        assert err <= 0.6 * theta ** 2 + 1e-5
        errs.append(err)
    assert 3.5 < errs[0] / errs[1] < 4.5
    assert 3.5 < errs[1] / errs[2] < 4.5


# ---------------------------------------------------------------- 5. jet
def jet_error(n):
    """||h - h0||_2 / ||h0||_2 after 5 days (dt shortened to land on 5 days)."""
    c = cases.jet(n=n)
    nsteps = math.ceil(5 * DAY / c.params.dt)
    p = dataclasses.replace(c.params, dt=5 * DAY / nsteps)
    out, _ = sw.run(c.state, p, nsteps)
    h0 = c.state[sw.F_H]
    return np.linalg.norm(out[sw.F_H] - h0) / np.linalg.norm(h0)


@pytest.mark.parametrize("n,target", [(32, 8.9e-5), (64, 2.0e-5), (128, 5.3e-6)])
def test_steady_geostrophic_jet_error(n, target):
    assert jet_error(n) == pytest.approx(target, rel=0.10)


# ---------------------------------------------------------------- 6. unstable jet
def _eddy_vorticity(s, p):
    """Vorticity at cell centres minus its zonal mean."""
    u, v = s[sw.F_U], s[sw.F_V]
    z = (v - np.roll(v, 1, 1)) / p.dx - (u - np.roll(u, 1, 0)) / p.dy
    zc = 0.25 * (z + np.roll(z, -1, 1) + np.roll(z, -1, 0) + np.roll(np.roll(z, -1, 0), -1, 1))
    return zc - zc.mean(axis=1, keepdims=True)


def _jet_history(nx, bump, days=3.0, samples=6):
    c = cases.unstable_jet(nx=nx, ny=nx // 2, bump=bump)
    n = math.ceil(DAY / 2 / c.params.dt)
    p = dataclasses.replace(c.params, dt=DAY / 2 / n)
    s, step, zs = c.state, 0, [_eddy_vorticity(c.state, p)]
    for _ in range(samples):
        s, _ = sw.run(s, p, n, step0=step)
        step += n
        zs.append(_eddy_vorticity(s, p))
    return c, s, zs


def test_unperturbed_unstable_jet_stays_steady():
    # balanced discretely and exactly zonal: every column does the same
    # arithmetic, so only rounding accumulates (~steps * 1e-16 * H = 1e-9 m)
    c, s, zs = _jet_history(64, 0.0)
    assert np.abs(s[sw.F_H] - c.state[sw.F_H]).max() < 1e-8
    assert np.abs(s[sw.F_U] - c.state[sw.F_U]).max() < 1e-10
    assert max(np.sqrt((z ** 2).mean()) for z in zs) < 1e-15


def test_perturbed_jet_rolls_up_like_twice_the_resolution():
    rms, fields = {}, {}
    for nx in (64, 128):
        _, _, zs = _jet_history(nx, 0.1)
        rms[nx] = np.array([np.sqrt((z ** 2).mean()) for z in zs])
        fields[nx] = zs
    for nx in (64, 128):
        assert rms[nx][6] / rms[nx][1] > 50.0             # rolls up
    t = np.arange(7) * 0.5
    rate = {nx: np.polyfit(t[2:6], np.log(rms[nx][2:6]), 1)[0] for nx in rms}
    assert rate[64] == pytest.approx(rate[128], rel=0.10)  # growth rate per day
    for i in (2, 4, 5):
        zf = fields[128][i]
        zc = 0.25 * (zf[0::2, 0::2] + zf[1::2, 0::2] + zf[0::2, 1::2] + zf[1::2, 1::2])
        assert np.corrcoef(zc.ravel(), fields[64][i].ravel())[0, 1] > 0.85


# ---------------------------------------------------------------- cases
def test_unknown_case_is_named():
    with pytest.raises(ValueError, match="unknown case 'x'; choose from jet, moist_jet"):
        cases.make_case("x")


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_cases_build(name):
    c = cases.make_case(name, **({"n": 16} if name in ("wave", "jet") else {"nx": 32, "ny": 16}))
    assert c.state.shape == (sw.n_fields(c.params), c.params.ny, c.params.nx)
    assert np.isfinite(c.state).all() and c.params.dt > 0


def test_params_validation():
    with pytest.raises(ValueError, match="dt must be positive"):
        sw.Params(nx=4, ny=4, dx=1.0, dy=1.0, dt=0.0)
    p = make_params(False, False)
    with pytest.raises(ValueError, match=r"expected \(6, 24, 20\)"):
        sw.run(np.zeros((6, 20, 20)), p, 1)
