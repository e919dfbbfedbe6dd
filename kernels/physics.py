"""Moist physics for the shallow-water model: moisture transport and condensation.

A moisture tracer is carried as ``Q = h * q_v`` (moisture mass per unit
area), advected in flux form with first-order upwind face values and the
model's mass fluxes (:func:`_tracer_rows`, called by the step driver of
:mod:`hpcmicro.kernels.shallow_water`), so total moisture is conserved.
After every dynamics step each cell is checked against saturation; a
supersaturated cell condenses, the condensate rains out at once, and the
latent heat released thickens the layer (a source on ``h``).  This is in
the spirit of the moist shallow-water test bed of Zerroukat & Allen
(2015, J. Comput. Phys. 290), reduced to one pointwise process.

The condensed amount ``P`` solves the implicit balance

    Q - P = (h + gamma P) * q_sat(h + gamma P),

because the heating raises ``h`` and with it the saturation value.  It is
found by a fixed-point iteration to an absolute tolerance, so the number
of iterations grows with the supersaturation and with the local rate of
contraction ``gamma * d(h q_sat)/dh``: dry cells cost one check, raining
cells tens of iterations.  The per-cell iteration count is returned so the
runtime can measure (and balance) the cost, which moves with the weather.

``q_sat`` is a polynomial, ``q_sat(h) = qs0 * (h / h_ref)**4``: no
transcendental functions, so the Numba kernel and the NumPy reference agree
bit for bit (NumPy's SIMD ``exp`` and libm's need not).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["q_sat", "saturation_adjust"]

#: Safety cap on the fixed-point iteration.  Its contraction rate is
#: ``gamma * qs0 * 5 * (h / h_ref)**4``: 0.4 at h = h_ref with the defaults
#: (gamma = 4, qs0 = 0.02) and below 0.6 up to h = 1.1 h_ref, so about 40
#: iterations reach 1e-10 m from any supersaturation under a metre.
MAX_ITER = 200


@njit(cache=True, error_model="numpy", inline="always")
def _qsat(h, qs0, inv_href):
    x = h * inv_href
    x2 = x * x
    return qs0 * (x2 * x2)


def q_sat(h, qs0, h_ref):
    """Saturation value of ``q_v`` for layer depth ``h`` (NumPy, any shape).

    Parameters
    ----------
    h : array_like
        Layer depth in metres.
    qs0 : float
        Saturation value at ``h == h_ref``.
    h_ref : float
        Reference depth in metres.

    Returns
    -------
    numpy.ndarray
        ``qs0 * (h / h_ref)**4``, evaluated as the kernel does.
    """
    x = np.asarray(h, dtype=np.float64) * (1.0 / h_ref)
    x2 = x * x
    return qs0 * (x2 * x2)


@njit(cache=True, error_model="numpy")
def _adjust_region(h, Q, rain, iters, j0, j1, i0, i1, qs0, inv_href,
                   gamma, tol, max_iter):
    """Saturation adjustment in place on rows j0:j1, columns i0:i1.

    Returns the total number of fixed-point iterations (dry cells add 0).
    """
    total = 0
    for j in range(j0, j1):
        for i in range(i0, i1):
            hh = h[j, i]
            qq = Q[j, i]
            s = qq - hh * _qsat(hh, qs0, inv_href)
            if s <= 0.0:
                continue
            p = s
            m = 0
            while m < max_iter:
                m += 1
                hn = hh + gamma * p
                pn = qq - hn * _qsat(hn, qs0, inv_href)
                d = pn - p
                p = pn
                if abs(d) <= tol:
                    break
            h[j, i] = hh + gamma * p
            Q[j, i] = qq - p
            rain[j, i] = rain[j, i] + p
            iters[j, i] = iters[j, i] + m
            total += m
    return total


@njit(cache=True, error_model="numpy")
def _tracer_rows(h, u, v, Q, fQ, j0, j1, i0, i1, jd0, jd1, rdx, rdy, c1, c2):
    """One AB2 step of the moisture mass Q in place, rows j0:j1, cols i0:i1.

    Flux form with first-order upwind ``q_v`` at the faces and the model's
    mass fluxes ``U = avg_x(h) u``, ``V = avg_y(h) v`` (zero on wall rows
    ``jd0, jd1``), so total moisture is conserved.  Uses the old h, u, v:
    it runs before the dynamics update of the same step.
    """
    nx = h.shape[1]
    qa = np.empty(nx); qb = np.empty(nx)      # q_v rows j, j+1
    Fya = np.empty(nx); Fyb = np.empty(nx)    # y-fluxes rows j, j+1
    Fx = np.empty(nx)
    j = j0 - 1
    for i in range(i0 - 1, i1 + 1):
        qa[i] = Q[j0, i] / h[j0, i]
    for i in range(i0, i1):
        if j0 == jd0:
            V = 0.0
        else:
            V = 0.5 * (h[j, i] + h[j0, i]) * v[j0, i]
        Fya[i] = V * (Q[j, i] / h[j, i]) if V > 0.0 else V * qa[i]
    for j in range(j0, j1):
        jn = j + 1
        for i in range(i0 - 1, i1 + 1):
            qb[i] = Q[jn, i] / h[jn, i]
        for i in range(i0, i1):
            if jn == jd1:
                V = 0.0
            else:
                V = 0.5 * (h[j, i] + h[jn, i]) * v[jn, i]
            Fyb[i] = V * qa[i] if V > 0.0 else V * qb[i]
        for i in range(i0, i1 + 1):
            U = 0.5 * (h[j, i - 1] + h[j, i]) * u[j, i]
            Fx[i] = U * qa[i - 1] if U > 0.0 else U * qa[i]
        for i in range(i0, i1):
            t = -((Fx[i + 1] - Fx[i]) * rdx + (Fyb[i] - Fya[i]) * rdy)
            Q[j, i] = Q[j, i] + (c1 * t - c2 * fQ[j, i])
            fQ[j, i] = t
        qa, qb = qb, qa
        Fya, Fyb = Fyb, Fya


def saturation_adjust(h, Q, rain, iters, qs0, h_ref, gamma, tol,
                      max_iter=MAX_ITER):
    """Condense supersaturated cells in place (whole arrays).

    Parameters
    ----------
    h, Q, rain : numpy.ndarray
        Float64 arrays of one shape: depth, moisture mass ``h q_v`` and
        accumulated precipitation (updated in place).
    iters : numpy.ndarray
        Int64 array of the same shape; each cell's iteration count is added.
    qs0, h_ref : float
        Saturation curve, see :func:`q_sat`.
    gamma : float
        Metres of depth gained per metre of condensate (latent heating).
    tol : float
        Absolute tolerance on the condensed amount, in metres.
    max_iter : int
        Iteration cap per cell.

    Returns
    -------
    int
        Total iterations over all cells.
    """
    arrays = (h, Q, rain)
    for a in arrays:
        if a.dtype != np.float64 or a.shape != h.shape or a.ndim != 2:
            raise ValueError("h, Q and rain must be 2-d float64 arrays of one shape")
    if iters.dtype != np.int64 or iters.shape != h.shape:
        raise ValueError("iters must be an int64 array shaped like h")
    ny, nx = h.shape
    return int(_adjust_region(h, Q, rain, iters, 0, ny, 0, nx, float(qs0),
                              1.0 / float(h_ref), float(gamma), float(tol),
                              int(max_iter)))
