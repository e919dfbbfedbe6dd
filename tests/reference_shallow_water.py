"""Slow, obvious NumPy reference of the shallow-water model and its physics.

Whole arrays and ``np.roll``; no halos, no row buffers.  Every expression
has the same operand order as the Numba kernels, so results agree bit for
bit.  Index convention as in ``hpcmicro.kernels.shallow_water``: ``h[j, i]``
cell centre, ``u`` west face, ``v`` south face, ``q`` south-west corner.
In a channel ``v[0]`` is the wall (south, and north by periodic wrap).
"""

import numpy as np


def _w(a):   # value at i-1
    return np.roll(a, 1, axis=1)


def _e(a):   # value at i+1
    return np.roll(a, -1, axis=1)


def _s(a):   # value at j-1
    return np.roll(a, 1, axis=0)


def _n(a):   # value at j+1
    return np.roll(a, -1, axis=0)


def coriolis(ny, dy, f0, beta):
    y = np.arange(ny, dtype=np.float64) * dy
    return f0 + beta * (y - 0.5 * ny * dy)


def tendencies(h, u, v, b, f, g, dx, dy, walls):
    """Return (Fh, Fu, Fv, U, V) for the state (h, u, v)."""
    rdx = 1.0 / dx
    rdy = 1.0 / dy
    U = 0.5 * (_w(h) + h) * u
    V = 0.5 * (_s(h) + h) * v
    if walls:
        V[0, :] = 0.0
    zeta = (v - _w(v)) * rdx - (u - _s(u)) * rdy
    hq = 0.25 * (((_s(_w(h)) + _s(h)) + _w(h)) + h)
    q = (f[:, None] + zeta) / hq
    qV = q * (0.5 * (_w(V) + V))
    if walls:
        qV[0, :] = 0.0
    qU = q * (0.5 * (_s(U) + U))
    if b is None:
        gh = g * h
    else:
        gh = g * (h + b)
    B = gh + 0.25 * (((u * u + _e(u) * _e(u)) + v * v) + _n(v) * _n(v))
    Fh = -((_e(U) - U) * rdx + (_n(V) - V) * rdy)
    Fu = 0.5 * (qV + _n(qV)) - (B - _w(B)) * rdx
    Fv = -(0.5 * (qU + _e(qU))) - (B - _s(B)) * rdy
    if walls:
        Fv[0, :] = 0.0
    return Fh, Fu, Fv, U, V


def tracer_tendency(h, Q, U, V, dx, dy):
    """Upwind flux-form tendency of the moisture mass Q."""
    qv = Q / h
    Fx = np.where(U > 0.0, U * _w(qv), U * qv)
    Fy = np.where(V > 0.0, V * _s(qv), V * qv)
    return -((_e(Fx) - Fx) * (1.0 / dx) + (_n(Fy) - Fy) * (1.0 / dy))


def saturation_adjust(h, Q, rain, iters, qs0, h_ref, gamma, tol, max_iter):
    """Fixed-point condensation, vectorised over the still-iterating cells."""
    inv = 1.0 / h_ref

    def qsat(x):
        r = x * inv
        r2 = r * r
        return qs0 * (r2 * r2)

    s = Q - h * qsat(h)
    wet = s > 0.0
    hh = h[wet]
    qq = Q[wet]
    p = s[wet]
    m = np.zeros(p.shape, dtype=np.int64)
    active = np.ones(p.shape, dtype=bool)
    while active.any():
        a = np.flatnonzero(active & (m < max_iter))
        if a.size == 0:
            break
        m[a] += 1
        hn = hh[a] + gamma * p[a]
        pn = qq[a] - hn * qsat(hn)
        d = pn - p[a]
        p[a] = pn
        active[a[np.abs(d) <= tol]] = False
    h[wet] = hh + gamma * p
    Q[wet] = qq - p
    rain[wet] = rain[wet] + p
    iters[wet] += m
    return int(m.sum())


def run(state, nsteps, dx, dy, dt, g, f0, beta, walls, eps=0.1, b=None,
        step0=0, moist=False, qs0=0.02, h_ref=1000.0, gamma=4.0, tol=1e-10,
        max_iter=200):
    """Advance ``state`` (fields h, u, v, fh, fu, fv[, Q, fQ, rain])."""
    st = [a.copy() for a in state]
    h, u, v, fh, fu, fv = st[:6]
    ny = h.shape[0]
    f = coriolis(ny, dy, f0, beta)
    iters = np.zeros(h.shape, dtype=np.int64)
    work = 0
    for n in range(step0, step0 + nsteps):
        if n == 0:
            c1, c2 = dt, 0.0
        else:
            c1, c2 = dt * (1.5 + eps), dt * (0.5 + eps)
        Fh, Fu, Fv, U, V = tendencies(h, u, v, b, f, g, dx, dy, walls)
        if moist:
            Q, fQ, rain = st[6:9]
            FQ = tracer_tendency(h, Q, U, V, dx, dy)
            Q[...] = Q + (c1 * FQ - c2 * fQ)
            fQ[...] = FQ
        h[...] = h + (c1 * Fh - c2 * fh)
        u[...] = u + (c1 * Fu - c2 * fu)
        v[...] = v + (c1 * Fv - c2 * fv)
        fh[...] = Fh
        fu[...] = Fu
        fv[...] = Fv
        if moist:
            work += saturation_adjust(h, Q, rain, iters, qs0, h_ref, gamma,
                                      tol, max_iter)
    return np.array(st), work, iters
