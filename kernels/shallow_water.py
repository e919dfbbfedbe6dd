"""Nonlinear rotating shallow-water model on an Arakawa C-grid.

Vector-invariant form with Sadourny's (1975) energy-conserving PV flux,
kinetic energy plus ``g (h + b)`` as the Bernoulli function, and modified
Adams-Bashforth 2 in time (``eps = 0.1``), started with one forward step.
Optional moisture tracer and saturation adjustment (:mod:`.physics`).

Grid and storage
----------------
Arrays are indexed ``[j, i]`` (row ``j`` along y, column ``i`` along x).
With cell size ``dx, dy``: ``h[j, i]`` sits at the cell centre
``((i+1/2) dx, (j+1/2) dy)``, ``u[j, i]`` on the west face ``(i dx, (j+1/2) dy)``,
``v[j, i]`` on the south face ``((i+1/2) dx, j dy)`` and the PV ``q[j, i]`` at
the south-west corner ``(i dx, j dy)``.  A model state is one float64 array
``(nfields, ny, nx)`` whose fields are ``h, u, v`` and their previous
tendencies ``fh, fu, fv``; moist states add ``Q = h q_v``, its tendency
``fQ`` and accumulated rain (see the ``F_*`` constants).

The domain is periodic in x.  In y it is periodic too, or a channel with
walls at ``y = 0`` and ``y = ny dy``: row 0 of ``v`` is the south wall and,
by periodic identification, also the north one, so ``v[0] = 0`` closes both.
The wall rules are: zero mass flux and zero PV flux through the wall rows,
and no tendency for ``v[0]`` (free slip).

Notes
-----
Every update goes through :func:`_advance`, which advances a *padded* state
in place, one fused row-streaming pass per step (:mod:`.shallow_water_step`): with a halo of ``k`` cells it can take ``k`` steps, the valid
region shrinking by one cell (the stencil radius of one full step,
including PV, kinetic energy, mass and tracer fluxes) on every side per
step.  Previous tendencies are pointwise, so they need no extra halo.
The whole-grid run is the same call with a halo of one, refreshed
periodically before every step; a tile run (:mod:`.tiling`) extracts a
halo of ``k`` once.  Both execute the same floating-point operations on the
same inputs, which is why tiled and whole-grid runs agree bit for bit.
Channel walls are located by their row in the padded array (``jd0, jd1``);
rows beyond a wall are never computed and only read where the result is
discarded, except ``v`` on the north wall row, which stays zero.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numba import njit

from .physics import MAX_ITER, _adjust_region, _tracer_rows
from .shallow_water_step import _dyn_rows

__all__ = [
    "F_H", "F_U", "F_V", "F_FH", "F_FU", "F_FV", "F_Q", "F_FQ", "F_RAIN",
    "Params", "n_fields", "coriolis", "run", "advance_padded", "advance_tile",
    "run_tiled", "diagnostics",
]

F_H, F_U, F_V, F_FH, F_FU, F_FV, F_Q, F_FQ, F_RAIN = range(9)
N_DRY, N_MOIST = 6, 9
_NO_WALL = 1 << 40  # a wall row index that no array reaches


@dataclasses.dataclass(frozen=True)
class Params:
    """Grid, physical and numerical parameters of a shallow-water run.

    Parameters
    ----------
    nx, ny : int
        Cells along x and y.
    dx, dy, dt : float
        Cell size (m) and time step (s).
    g : float
        Gravity (m s-2).
    f0, beta : float
        Coriolis parameter ``f = f0 + beta (y - ny dy / 2)`` (s-1, m-1 s-1).
    walls : bool
        True for a channel with walls in y, False for doubly periodic.
    eps : float
        Adams-Bashforth 2 modification: weights ``3/2+eps, -(1/2+eps)``.
    moist : bool
        Carry the moisture tracer and call the saturation adjustment.
    qs0, h_ref, gamma, tol, max_iter
        Moist physics, see :mod:`hpcmicro.kernels.physics`.
    """

    nx: int
    ny: int
    dx: float
    dy: float
    dt: float
    g: float = 9.81
    f0: float = 1.0e-4
    beta: float = 0.0
    walls: bool = False
    eps: float = 0.1
    moist: bool = False
    qs0: float = 0.02
    h_ref: float = 1000.0
    gamma: float = 4.0
    tol: float = 1.0e-10
    max_iter: int = MAX_ITER

    def __post_init__(self):
        if self.nx < 2 or self.ny < 2:
            raise ValueError(f"grid must be at least 2x2 cells, got {self.ny}x{self.nx}")
        for name in ("dx", "dy", "dt", "g", "h_ref", "tol"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")


def n_fields(params: Params) -> int:
    """Number of fields in a state array: 6 dry, 9 moist."""
    return N_MOIST if params.moist else N_DRY


def coriolis(params: Params) -> np.ndarray:
    """Coriolis parameter at the corner rows ``y = j dy``, shape ``(ny,)``."""
    y = np.arange(params.ny, dtype=np.float64) * params.dy
    return params.f0 + params.beta * (y - 0.5 * params.ny * params.dy)


# --------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------
@njit(cache=True, error_model="numpy", nogil=True)
def _advance(P, b, has_b, fq, nsteps, step0, jd0, jd1, rdx, rdy, g, dt, eps,
             moist, qs0, inv_href, gamma, tol, max_iter, iters):
    """Advance a padded state ``P`` (nfields, NY, NX) by ``nsteps`` in place.

    Step ``s`` (1-based) updates rows ``max(s, jd0):min(NY-s, jd1)`` and
    columns ``s:NX-s``.  Returns the physics iteration count (all cells
    computed, halo included); per-cell counts are added to ``iters``.
    """
    NY = P.shape[1]
    NX = P.shape[2]
    total = 0
    for s in range(1, nsteps + 1):
        if step0 + s - 1 == 0:
            c1 = dt
            c2 = 0.0
        else:
            c1 = dt * (1.5 + eps)
            c2 = dt * (0.5 + eps)
        j0 = max(s, jd0)
        j1 = min(NY - s, jd1)
        i0 = s
        i1 = NX - s
        if moist:
            _tracer_rows(P[0], P[1], P[2], P[6], P[7], j0, j1, i0, i1,
                         jd0, jd1, rdx, rdy, c1, c2)
        _dyn_rows(P[0], P[1], P[2], P[3], P[4], P[5], b, has_b, fq,
                  j0, j1, i0, i1, jd0, jd1, rdx, rdy, g, c1, c2)
        if moist:
            total += _adjust_region(P[0], P[6], P[8], iters, j0, j1, i0, i1,
                                    qs0, inv_href, gamma, tol, max_iter)
    return total


@njit(cache=True)
def _wrap_halo(P, halo):
    """Fill a halo of width ``halo`` periodically from the interior."""
    nf, NY, NX = P.shape
    ny = NY - 2 * halo
    nx = NX - 2 * halo
    for f in range(nf):
        for j in range(halo, NY - halo):
            for i in range(halo):
                P[f, j, i] = P[f, j, i + nx]
                P[f, j, NX - halo + i] = P[f, j, halo + i]
        for j in range(halo):
            for i in range(NX):
                P[f, j, i] = P[f, j + ny, i]
                P[f, NY - halo + j, i] = P[f, halo + j, i]


# --------------------------------------------------------------------------
# Python entry points
# --------------------------------------------------------------------------
def _check_state(state, params):
    nf = n_fields(params)
    if not isinstance(state, np.ndarray) or state.dtype != np.float64:
        raise TypeError("state must be a float64 numpy array")
    if state.shape != (nf, params.ny, params.nx):
        raise ValueError(f"state has shape {state.shape}, expected "
                         f"{(nf, params.ny, params.nx)} for this Params")


def advance_padded(padded, params, nsteps, step0, row0, b_padded=None,
                   iters=None):
    """Advance a padded tile in place by ``nsteps`` steps.

    Parameters
    ----------
    padded : numpy.ndarray
        C-contiguous float64 ``(nfields, NY, NX)``: a tile with a halo of at
        least ``nsteps`` cells on every side (corners included).
    params : Params
        Model parameters.
    nsteps : int
        Steps to take; afterwards only cells at least ``nsteps`` from the
        edge are valid.
    step0 : int
        Global index of the first step (0 means forward Euler start).
    row0 : int
        Global row of ``padded[:, 0]`` (may be negative); sets the Coriolis
        parameter and, in a channel, where the walls are.
    b_padded : numpy.ndarray, optional
        Topography with the same halo, ``(NY, NX)``.
    iters : numpy.ndarray, optional
        Int64 ``(NY, NX)`` to which per-cell physics iterations are added.

    Returns
    -------
    int
        Physics iterations executed (redundant halo work included).
    """
    nf, NY, NX = padded.shape
    if nf != n_fields(params) or padded.dtype != np.float64:
        raise ValueError(f"padded tile must be float64 with {n_fields(params)} fields")
    if not padded.flags.c_contiguous:
        raise ValueError("padded tile must be C-contiguous")
    if nsteps < 0 or 2 * nsteps >= min(NY, NX):
        raise ValueError(f"{nsteps} steps need a halo of {nsteps} and an interior; "
                         f"tile is {NY}x{NX}")
    fglob = coriolis(params)
    fq = fglob[(np.arange(NY) + row0) % params.ny]
    if params.walls:
        jd0, jd1 = -row0, params.ny - row0
    else:
        jd0, jd1 = -_NO_WALL, _NO_WALL
    has_b = b_padded is not None
    b = b_padded if has_b else np.zeros((1, 1))
    if has_b and b.shape != (NY, NX):
        raise ValueError(f"b_padded has shape {b.shape}, expected {(NY, NX)}")
    if iters is None:
        iters = np.zeros((NY, NX) if params.moist else (1, 1), dtype=np.int64)
    return int(_advance(padded, b, has_b, fq, int(nsteps), int(step0), jd0, jd1,
                        1.0 / params.dx, 1.0 / params.dy, params.g, params.dt,
                        params.eps, params.moist, params.qs0, 1.0 / params.h_ref,
                        params.gamma, params.tol, params.max_iter, iters))


def run(state, params, nsteps, step0=0, b=None, return_iters=False):
    """Advance a whole-grid state by ``nsteps`` (the serial reference run).

    Parameters
    ----------
    state : numpy.ndarray
        ``(nfields, ny, nx)`` float64; not modified.
    params : Params
        Model parameters.
    nsteps : int
        Number of steps.
    step0 : int
        Global index of the first step (0: start with forward Euler).
    b : numpy.ndarray, optional
        Bottom topography ``(ny, nx)``.
    return_iters : bool
        Also return the per-cell physics iteration counts.

    Returns
    -------
    state : numpy.ndarray
        The new state.
    work : int
        Physics iterations (0 for a dry run).
    iters : numpy.ndarray
        ``(ny, nx)`` int64, only if ``return_iters``.
    """
    _check_state(state, params)
    ny, nx = params.ny, params.nx
    P = np.zeros((state.shape[0], ny + 2, nx + 2))
    P[:, 1:-1, 1:-1] = state
    bp = None
    if b is not None:
        if b.shape != (ny, nx):
            raise ValueError(f"b has shape {b.shape}, expected {(ny, nx)}")
        bp = np.zeros((1, ny + 2, nx + 2))
        bp[0, 1:-1, 1:-1] = b
        _wrap_halo(bp, 1)
        bp = bp[0]
    iters = np.zeros((ny + 2, nx + 2), dtype=np.int64)
    work = 0
    for s in range(nsteps):
        _wrap_halo(P, 1)
        work += advance_padded(P, params, 1, step0 + s, -1, bp, iters)
    out = np.ascontiguousarray(P[:, 1:-1, 1:-1])
    if return_iters:
        return out, work, iters[1:-1, 1:-1].copy()
    return out, work


@njit(cache=True, error_model="numpy")
def _diag_rows(h, u, v, b, fq, g, walls, rdx, rdy):
    """Per-row sums of mass, energy and potential enstrophy (sequential)."""
    ny, nx = h.shape
    out = np.zeros((3, ny))
    for j in range(ny):
        jn = (j + 1) % ny
        js = j - 1
        m = 0.0
        e = 0.0
        z = 0.0
        for i in range(nx):
            ie = (i + 1) % nx
            iw = i - 1
            ke = 0.25 * (((u[j, i] * u[j, i] + u[j, ie] * u[j, ie])
                          + v[j, i] * v[j, i]) + v[jn, i] * v[jn, i])
            m += h[j, i]
            e += h[j, i] * ke + g * h[j, i] * (0.5 * h[j, i] + b[j, i])
            if not (walls and j == 0):
                zeta = (v[j, i] - v[j, iw]) * rdx - (u[j, i] - u[js, i]) * rdy
                hq = 0.25 * (((h[js, iw] + h[js, i]) + h[j, iw]) + h[j, i])
                q = (fq[j] + zeta) / hq
                z += 0.5 * hq * q * q
        out[0, j] = m
        out[1, j] = e
        out[2, j] = z
    return out


def diagnostics(state, params, b=None):
    """Mass, Sadourny energy and potential enstrophy of a whole-grid state.

    Reductions run in a fixed order (each row left to right, then the rows
    bottom to top), so a state reached by any tiling gives identical bits.
    They never feed back into the model.

    Returns
    -------
    dict
        ``mass`` (m^3), ``energy`` (m^5 s^-2, i.e. per unit density),
        ``enstrophy`` (m^-1 s^-2 m^2), plus ``moisture`` and ``rain`` (m^3)
        for moist states.
    """
    _check_state(state, params)
    h, u, v = state[F_H], state[F_U], state[F_V]
    bb = np.zeros_like(h) if b is None else np.asarray(b, dtype=np.float64)
    rows = _diag_rows(h, u, v, bb, coriolis(params), params.g, params.walls,
                      1.0 / params.dx, 1.0 / params.dy)
    area = params.dx * params.dy
    out = {"mass": _ordered_sum(rows[0]) * area,
           "energy": _ordered_sum(rows[1]) * area,
           "enstrophy": _ordered_sum(rows[2]) * area}
    if params.moist:
        out["moisture"] = _ordered_sum(state[F_Q].sum(axis=1)) * area
        out["rain"] = _ordered_sum(state[F_RAIN].sum(axis=1)) * area
    return out


def _ordered_sum(x):
    total = 0.0
    for value in np.asarray(x, dtype=np.float64).tolist():
        total += value
    return total


# --------------------------------------------------------------------------
# tiles
# --------------------------------------------------------------------------
def advance_tile(padded, params, halo, nsteps, step0, j0, b_padded=None):
    """Advance one padded tile and return its interior.

    Parameters
    ----------
    padded : numpy.ndarray
        ``(nfields, ty + 2 halo, tx + 2 halo)``, e.g. from
        :func:`hpcmicro.kernels.tiling.assemble`; overwritten.
    params : Params
        Model parameters.
    halo : int
        Halo width of ``padded``.
    nsteps : int
        Steps to take, ``1 <= nsteps <= halo``.
    step0 : int
        Global index of the first step.
    j0 : int
        Global row of the first interior row (``bounds[0]``).
    b_padded : numpy.ndarray, optional
        Topography with the same halo.

    Returns
    -------
    tile : numpy.ndarray
        New interior ``(nfields, ty, tx)``.
    work : int
        Physics iterations executed, redundant halo cells included.
    iters : numpy.ndarray
        Int64 ``(ty, tx)`` physics iterations per interior cell.
    """
    if not 1 <= nsteps <= halo:
        raise ValueError(f"need 1 <= nsteps <= halo, got nsteps={nsteps}, halo={halo}")
    iters = np.zeros(padded.shape[1:], dtype=np.int64)
    work = advance_padded(padded, params, nsteps, step0, j0 - halo, b_padded, iters)
    return (np.ascontiguousarray(padded[:, halo:-halo, halo:-halo]), work,
            iters[halo:-halo, halo:-halo].copy())


def run_tiled(state, params, nsteps, tile, k, step0=0, b=None):
    """Serial tiled driver: tiles exchange halo strips every ``k`` steps.

    Equal bit for bit to :func:`run`; this is the loop the distributed
    weather workload spreads over workers.

    Parameters
    ----------
    state : numpy.ndarray
        Whole-grid state ``(nfields, ny, nx)``; not modified.
    params : Params
        Model parameters.
    nsteps : int
        Number of steps.
    tile : int or tuple of int
        Largest tile side (see :meth:`TileGrid.build`).
    k : int
        Steps per exchange (halo width); the last round may be shorter.
    step0 : int
        Global index of the first step.
    b : numpy.ndarray, optional
        Topography ``(ny, nx)``.

    Returns
    -------
    state : numpy.ndarray
        The new whole-grid state.
    work : numpy.ndarray
        Int64 physics iterations per tile (halo work included).
    iters : numpy.ndarray
        Int64 ``(ny, nx)`` physics iterations per cell.
    """
    from . import tiling

    _check_state(state, params)
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    grid = tiling.TileGrid.build(params.ny, params.nx, tile)
    grid.check_halo(k)
    bounds = [grid.bounds(t) for t in range(grid.n_tiles)]
    tiles = [tiling.extract_padded(state, bd, 0) for bd in bounds]
    work = np.zeros(grid.n_tiles, dtype=np.int64)
    iters = np.zeros((params.ny, params.nx), dtype=np.int64)
    bpad = {}
    done = 0
    while done < nsteps:
        ks = min(k, nsteps - done)
        if b is not None and ks not in bpad:
            bpad[ks] = [tiling.extract_padded(b, bd, ks) for bd in bounds]
        strips = [tiling.halo_strips(t, ks) for t in tiles]
        new = []
        for tid, bd in enumerate(bounds):
            nb = grid.neighbours(tid)
            recv = {d: strips[nb[d]][tiling.OPPOSITE[d]] for d in tiling.DIRECTIONS}
            padded = tiling.assemble(tiles[tid], recv, ks)
            bp = None if b is None else bpad[ks][tid]
            t, w, it = advance_tile(padded, params, ks, ks, step0 + done, bd[0], bp)
            new.append(t)
            work[tid] += w
            iters[bd[0]:bd[1], bd[2]:bd[3]] += it
        tiles = new
        done += ks
    out = np.empty_like(state)
    for t, bd in zip(tiles, bounds):
        tiling.insert(out, t, bd)
    return out, work, iters
