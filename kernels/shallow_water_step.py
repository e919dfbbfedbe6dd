"""One dynamics step of the shallow-water model, streamed row by row.

:func:`_dyn_rows` advances ``h, u, v`` (and stores their new tendencies) by
one modified Adams-Bashforth 2 step on a block of rows and columns; the
step driver :func:`hpcmicro.kernels.shallow_water._advance` calls it once
per step.  Grid, staggering and wall conventions are those of
:mod:`hpcmicro.kernels.shallow_water`.

Notes
-----
The step is one pass over the rows.  Row ``j`` of the new state needs the
derived quantities of rows ``j - 1``, ``j`` and ``j + 1`` (mass fluxes
``U``, ``V``, potential vorticity ``q``, PV fluxes ``q avg_x V`` and
``q avg_y U``, Bernoulli function ``B``); those that two consecutive rows
share are kept in five row buffers, one per quantity.  The fused loop of
:func:`_dyn_row` reads, at column ``c``, the *old* buffer entry (the row
below), computes the new one from ``h, u, v`` of rows ``j`` and ``j + 1``
and overwrites it at the same index, so the buffers never need swapping.
Values a cell shares with its west neighbour (``U``, ``q``, ``q avg_y U``
at column ``c``, ``V`` and ``B`` at ``c - 1``) are carried from the
previous iteration in scalars.  Every column of every input row is thus
read once per step from memory, the 6 state arrays are written once,
and each floating-point value is computed exactly once, with the operand
order of the NumPy reference (``tests/reference_shallow_water.py``), so
results agree bit for bit.

The loop vectorises (LLVM, 4 doubles per instruction on AVX2/AVX-512
with Numba's default 256-bit preference) only under three conditions,
each easy to break:

* the state rows are written through the same slices they are read from
  (``hw[k + 1]`` and ``hw[k + 2]``), so LLVM sees constant dependence
  distances instead of needing a run-time overlap check that would fail;
* there are few distinct arrays: 15, so the pairwise run-time overlap
  checks stay under LLVM's limit of 128 (double row buffers, one for the
  row below and one for the new row, would need 154 and stay scalar);
* wall rows are handled by overwriting computed values with zero after
  the fact (a select) rather than by branching around the computation,
  which LLVM rejects in a loop with carried values.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__: list[str] = []


@njit(cache=True, error_model="numpy")
def _dyn_rows(h, u, v, fh, fu, fv, b, has_b, fq, j0, j1, i0, i1, jd0, jd1,
              rdx, rdy, g, c1, c2):
    """One AB2 step of h, u, v in place on rows j0:j1, columns i0:i1.

    Reads rows ``j0-1 .. j1`` and columns ``i0-1 .. i1`` of the old state
    (``b`` too when ``has_b``), writes rows ``j0:j1``, columns ``i0:i1`` of
    the six fields.  ``c1, c2`` are the AB2 weights times ``dt``; ``jd0``,
    ``jd1`` are the wall rows of a channel (never reached if periodic).
    Buffer index ``k`` stands for column ``i0 - 1 + k``.
    """
    m = i1 - i0 + 2
    U = np.zeros(m)       # U = avg_x(h) u          rows j-1 -> j
    V = np.zeros(m)       # V = avg_y(h) v          rows j -> j+1
    q = np.zeros(m)       # PV at corners           rows j -> j+1
    qV = np.zeros(m)      # q avg_x(V) at v points  rows j -> j+1
    B = np.zeros(m)       # g (h + b) + K           rows j-1 -> j
    js = j0 - 1
    _mass_flux_x(U, h[js], u[js], i0, i1)
    if j0 == jd0:
        V[:] = 0.0
    else:
        _mass_flux_y(V, h[js], h[j0], v[j0], i0, i1)
    _pv(q, h[js], h[j0], u[js], u[j0], v[j0], fq[j0], rdx, rdy, i0, i1)
    _pv_flux(qV, q, V, j0 == jd0, i0, i1)
    _bernoulli(B, h[js], u[js], v[js], v[j0], b, has_b, js, g, i0, i1)
    for j in range(j0, j1):
        jn = j + 1
        bw = b[j, i0 - 1:i1 + 1] if has_b else b[0, 0:1]
        _dyn_row(h[j, i0 - 1:i1 + 1], h[jn, i0 - 1:i1 + 1],
                 u[j, i0 - 1:i1 + 1], u[jn, i0 - 1:i1 + 1],
                 v[j, i0 - 1:i1 + 1], v[jn, i0 - 1:i1 + 1], bw, has_b,
                 fh[j, i0:i1], fu[j, i0:i1], fv[j, i0:i1], U, V, q, qV, B,
                 fq[jn], jn == jd1, j == jd0, rdx, rdy, g, c1, c2)


@njit(cache=True, error_model="numpy")
def _dyn_row(hr, hn, ur, un, vr, vn, br, has_b, fhr, fur, fvr, U, V, q, qV, B,
             f, wall_n, wall, rdx, rdy, g, c1, c2):
    """Advance one row ``j`` in place and roll the buffers from row j-1 to j.

    ``hr, ur, vr`` (row j) and ``hn, un, vn`` (row j+1) start at column
    ``i0 - 1``, like the buffers; ``fhr, fur, fvr`` start at ``i0``.
    ``f`` is the Coriolis parameter of corner row j+1; ``wall_n`` says row
    j+1 of ``v`` is a wall, ``wall`` that row j is.
    """
    # carried values: U, q, qU at column i0 and V, B at i0 - 1
    Uw = 0.5 * (hr[0] + hr[1]) * ur[1]
    zeta = (vn[1] - vn[0]) * rdx - (un[1] - ur[1]) * rdy
    hq = 0.25 * (((hr[0] + hr[1]) + hn[0]) + hn[1])
    qw = (f + zeta) / hq
    qUw = q[1] * (0.5 * (U[1] + Uw))
    ke = 0.25 * (((ur[0] * ur[0] + ur[1] * ur[1]) + vr[0] * vr[0]) + vn[0] * vn[0])
    if has_b:
        Bw = g * (hr[0] + br[0]) + ke
    else:
        Bw = g * hr[0] + ke
    Vw = 0.5 * (hr[0] + hn[0]) * vn[0]
    if wall_n:
        Vw = 0.0
    U[1] = Uw
    q[1] = qw
    for k in range(fhr.size):
        # output column c = i0 + k is buffer index k + 1; "e" means c + 1
        hc = hr[k + 1]
        he = hr[k + 2]
        hnc = hn[k + 1]
        hne = hn[k + 2]
        uc = ur[k + 1]
        ue = ur[k + 2]
        vc = vr[k + 1]
        vnc = vn[k + 1]
        Ue = 0.5 * (hc + he) * ue
        zeta = (vn[k + 2] - vnc) * rdx - (un[k + 2] - ue) * rdy
        hq = 0.25 * (((hc + he) + hnc) + hne)
        qe = (f + zeta) / hq
        qUe = q[k + 2] * (0.5 * (U[k + 2] + Ue))
        Vc = 0.5 * (hc + hnc) * vnc
        if wall_n:
            Vc = 0.0
        qVc = qw * (0.5 * (Vw + Vc))
        if wall_n:
            qVc = 0.0
        ke = 0.25 * (((uc * uc + ue * ue) + vc * vc) + vnc * vnc)
        if has_b:
            Bc = g * (hc + br[k + 1]) + ke
        else:
            Bc = g * hc + ke
        th = -((Ue - Uw) * rdx + (Vc - V[k + 1]) * rdy)
        tu = 0.5 * (qV[k + 1] + qVc) - (Bc - Bw) * rdx
        tv = -(0.5 * (qUw + qUe)) - (Bc - B[k + 1]) * rdy
        if wall:
            tv = 0.0
        hr[k + 1] = hc + (c1 * th - c2 * fhr[k])
        ur[k + 1] = uc + (c1 * tu - c2 * fur[k])
        vr[k + 1] = vc + (c1 * tv - c2 * fvr[k])
        fhr[k] = th
        fur[k] = tu
        fvr[k] = tv
        U[k + 2] = Ue
        q[k + 2] = qe
        V[k + 1] = Vc
        qV[k + 1] = qVc
        B[k + 1] = Bc
        Uw = Ue
        qw = qe
        qUw = qUe
        Vw = Vc
        Bw = Bc


# --------------------------------------------------------------------------
# first row: one pass per quantity (once per step, so cost does not matter)
# --------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", inline="always")
def _mass_flux_x(out, hr, ur, i0, i1):
    """U = avg_x(h) u on one row, columns i0..i1 (buffer 1..m-1)."""
    hw = hr[i0 - 1:i1]; hc = hr[i0:i1 + 1]; uc = ur[i0:i1 + 1]
    o = out[1:]
    for k in range(i1 - i0 + 1):
        o[k] = 0.5 * (hw[k] + hc[k]) * uc[k]


@njit(cache=True, error_model="numpy", inline="always")
def _mass_flux_y(out, hs, hn, vr, i0, i1):
    """V = avg_y(h) v on one row of v, columns i0-1..i1-1 (buffer 0..m-2)."""
    a = hs[i0 - 1:i1]; c = hn[i0 - 1:i1]; w = vr[i0 - 1:i1]
    for k in range(i1 - i0 + 1):
        out[k] = 0.5 * (a[k] + c[k]) * w[k]


@njit(cache=True, error_model="numpy", inline="always")
def _pv(out, hs, hn, us, un, vn, f, rdx, rdy, i0, i1):
    """PV on the corner row between rows s and n, columns i0..i1."""
    hsw = hs[i0 - 1:i1]; hse = hs[i0:i1 + 1]; hnw = hn[i0 - 1:i1]; hne = hn[i0:i1 + 1]
    usc = us[i0:i1 + 1]; unc = un[i0:i1 + 1]; vw = vn[i0 - 1:i1]; ve = vn[i0:i1 + 1]
    o = out[1:]
    for k in range(i1 - i0 + 1):
        zeta = (ve[k] - vw[k]) * rdx - (unc[k] - usc[k]) * rdy
        hq = 0.25 * (((hsw[k] + hse[k]) + hnw[k]) + hne[k])
        o[k] = (f + zeta) / hq


@njit(cache=True, error_model="numpy", inline="always")
def _pv_flux(out, q, V, wall, i0, i1):
    """q * avg_x(V) at corners i0..i1-1 (zero on a wall row)."""
    if wall:
        out[:] = 0.0
    else:
        for k in range(1, i1 - i0 + 1):
            out[k] = q[k] * (0.5 * (V[k - 1] + V[k]))


@njit(cache=True, error_model="numpy", inline="always")
def _bernoulli(out, hr, ur, vr, vn, b, has_b, j, g, i0, i1):
    """``g (h + b) + K`` on one row, columns i0-1..i1-1 (buffer 0..m-2)."""
    hc = hr[i0 - 1:i1]; uw = ur[i0 - 1:i1]; ue = ur[i0:i1 + 1]
    vs = vr[i0 - 1:i1]; vnn = vn[i0 - 1:i1]
    if has_b:
        bc = b[j, i0 - 1:i1]
        for k in range(i1 - i0 + 1):
            ke = 0.25 * (((uw[k] * uw[k] + ue[k] * ue[k]) + vs[k] * vs[k]) + vnn[k] * vnn[k])
            out[k] = g * (hc[k] + bc[k]) + ke
    else:
        for k in range(i1 - i0 + 1):
            ke = 0.25 * (((uw[k] * uw[k] + ue[k] * ue[k]) + vs[k] * vs[k]) + vnn[k] * vnn[k])
            out[k] = g * hc[k] + ke
