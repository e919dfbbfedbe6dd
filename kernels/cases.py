"""Initial conditions of the shallow-water test cases.

Each case returns a :class:`Case`: the initial state ``(nfields, ny, nx)``,
the :class:`~hpcmicro.kernels.shallow_water.Params` (``dt`` from the CFL
number), the topography (or None) and a dict of case facts.  The time step
is ``dt = cfl * min(dx, dy) / (sqrt(g H) + u_max)``.

=============  =========================================================
name           what it is
=============  =========================================================
wave           linear inertia-gravity eigenmode of the discrete f-plane
jet            steady nonlinear geostrophic jet, doubly periodic f-plane
unstable_jet   Galewsky-style jet in a beta-plane channel, optional bump
moist_jet      unstable_jet carrying moisture near saturation (it rains)
=============  =========================================================
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .physics import q_sat
from .shallow_water import F_H, F_Q, F_U, F_V, Params, N_DRY, N_MOIST, coriolis

__all__ = ["Case", "CASES", "make_case", "wave", "jet", "unstable_jet", "moist_jet",
           "add_moisture", "real_channel", "cfl_dt"]

G = 9.81
_GALEWSKY_BAND = 3.0 * math.pi / 14.0   # pi/2 - 2 pi/7, radians


class Case(NamedTuple):
    """An initial state and everything needed to run it."""

    state: np.ndarray
    params: Params
    b: np.ndarray | None
    info: dict[str, Any]


def cfl_dt(cfl: float, dx: float, dy: float, g: float, H: float, umax: float) -> float:
    """``cfl * min(dx, dy) / (sqrt(g H) + umax)``."""
    return cfl * min(dx, dy) / (math.sqrt(g * H) + umax)


def wave(n: int = 32, L: float = 3.2e6, H: float = 1000.0, f0: float = 1.0e-4,
         mode: tuple[int, int] = (2, 1), amplitude: float = 0.01,
         cfl: float = 0.2) -> Case:
    """A single inertia-gravity eigenmode of the linearised C-grid model.

    The fields are ``Re(a * xhat * exp(i (k x + l y)))`` evaluated at each
    field's own position, with ``xhat`` the eigenvector of the 3x3 discrete
    system.  ``info["omega"]`` is the C-grid frequency (Arakawa & Lamb 1977)
    and ``info["k"], info["l"]`` the wavenumbers; the complex projection of
    ``h`` on ``exp(i (k x + l y))`` turns as ``exp(-i omega t)``.
    """
    dx = dy = L / n
    k = 2.0 * math.pi * mode[0] / L
    l = 2.0 * math.pi * mode[1] / L
    sx, cx = math.sin(k * dx / 2), math.cos(k * dx / 2)
    sy, cy = math.sin(l * dy / 2), math.cos(l * dy / 2)
    dxo = 2j * sx / dx
    dyo = 2j * sy / dy
    M = np.array([[0.0, -H * dxo, -H * dyo],
                  [-G * dxo, 0.0, f0 * cx * cy],
                  [-G * dyo, -f0 * cx * cy, 0.0]])
    lam, vec = np.linalg.eig(M)
    pick = int(np.argmin(lam.imag))          # lambda = -i omega, omega > 0
    omega = -lam[pick].imag
    xh = vec[:, pick] / vec[0, pick] * amplitude
    omega_exact = math.sqrt(f0 ** 2 * cx ** 2 * cy ** 2 + 4 * G * H * sx ** 2 / dx ** 2
                            + 4 * G * H * sy ** 2 / dy ** 2)
    xc = (np.arange(n) + 0.5) * dx
    xf = np.arange(n) * dx
    yc = (np.arange(n) + 0.5) * dy
    yf = np.arange(n) * dy
    state = np.zeros((N_DRY, n, n))
    state[F_H] = H + np.real(xh[0] * np.exp(1j * (k * xc[None, :] + l * yc[:, None])))
    state[F_U] = np.real(xh[1] * np.exp(1j * (k * xf[None, :] + l * yc[:, None])))
    state[F_V] = np.real(xh[2] * np.exp(1j * (k * xc[None, :] + l * yf[:, None])))
    dt = cfl_dt(cfl, dx, dy, G, H, 0.0)
    params = Params(nx=n, ny=n, dx=dx, dy=dy, dt=dt, g=G, f0=f0, beta=0.0)
    return Case(state, params, None, {"H": H, "omega": omega_exact,
                                      "omega_eig": omega, "k": k, "l": l})


def jet(n: int = 64, L: float = 5.0e6, H: float = 1000.0, U: float = 20.0,
        f0: float = 1.0e-4, cfl: float = 0.2) -> Case:
    """Steady geostrophic jet ``u = U sin(2 pi y/L)``, doubly periodic f-plane.

    ``h = H + f U L / (2 pi g) cos(2 pi y / L)`` is an exact steady solution
    of the continuous equations; the discrete model departs from it at
    second order in the grid size.
    """
    dx = dy = L / n
    y = (np.arange(n) + 0.5) * dy
    state = np.zeros((N_DRY, n, n))
    state[F_U] = (U * np.sin(2 * math.pi * y / L))[:, None]
    state[F_H] = (H + f0 * U * L / (2 * math.pi * G) * np.cos(2 * math.pi * y / L))[:, None]
    dt = cfl_dt(cfl, dx, dy, G, H, U)
    params = Params(nx=n, ny=n, dx=dx, dy=dy, dt=dt, g=G, f0=f0, beta=0.0)
    return Case(state, params, None, {"H": H, "U": U, "L": L})


def _balanced_depth(u, f, hs, dy, g):
    """Depths making a zonal flow exactly steady in the discrete model.

    ``u`` and the result are per row (j = 0..ny-1), ``f`` at corner rows.
    Solves the discrete meridional momentum balance row by row, starting
    from ``hs`` in row 0 (a fixed-point iteration per row).
    """
    ny = u.size
    h = np.empty(ny)
    h[0] = hs
    for j in range(1, ny):
        zeta = -(u[j] - u[j - 1]) / dy
        hj = h[j - 1]
        for _ in range(100):
            flux = (f[j] + zeta) * 0.5 * (h[j - 1] * u[j - 1] + hj * u[j]) / (0.5 * (h[j - 1] + hj))
            new = h[j - 1] + (0.5 * u[j - 1] ** 2 - 0.5 * u[j] ** 2 - dy * flux) / g
            if new == hj:
                break
            hj = new
        h[j] = hj
    return h


def unstable_jet(nx: int = 128, ny: int = 64, Lx: float = 8.0e6, Ly: float = 4.0e6,
                 H: float = 10000.0, umax: float = 80.0, width: float = 3.0e6,
                 f0: float = 1.0e-4, beta: float = 1.6e-11, bump: float = 0.1,
                 cfl: float = 0.2) -> Case:
    """A Galewsky-style barotropically unstable jet in a beta-plane channel.

    Galewsky et al. (2004) with latitude replaced by ``y``: with
    ``s = (y - y0) / width`` between ``y0, y1 = Ly/2 -+ width/2``,
    ``u = umax exp(1 / (D**2 s (s - 1)) + 4 / D**2)`` (zero outside), where
    ``D = 3 pi / 14`` is Galewsky's band width in radians (so the profile
    has his shape).  The depth
    is balanced *discretely* (steady to rounding error, mean ``H``).  A
    vortical bump, a Gaussian streamfunction of peak speed ``~bump`` m/s
    (``Lx/16`` by ``width/4`` e-folding), on the jet axis at ``x = Lx/2``,
    triggers the roll-up (``bump=0``: none).
    """
    dx, dy = Lx / nx, Ly / ny
    y = (np.arange(ny) + 0.5) * dy
    y0, y1 = Ly / 2 - width / 2, Ly / 2 + width / 2
    inside = (y > y0) & (y < y1)
    s = (y[inside] - y0) / width
    u = np.zeros(ny)
    u[inside] = umax * np.exp(1.0 / (_GALEWSKY_BAND ** 2 * s * (s - 1.0))
                              + 4.0 / _GALEWSKY_BAND ** 2)
    params = Params(nx=nx, ny=ny, dx=dx, dy=dy, dt=cfl_dt(cfl, dx, dy, G, H, umax),
                    g=G, f0=f0, beta=beta, walls=True)
    hs = H
    for _ in range(3):   # shift the start row so that the mean depth is H
        h = _balanced_depth(u, coriolis(params), hs, dy, G)
        hs += H - h.mean()
    state = np.zeros((N_DRY, ny, nx))
    state[F_U] = u[:, None]
    state[F_H] = h[:, None]
    if bump:
        # streamfunction at the corners; u = -d(psi)/dy, v = d(psi)/dx are
        # discretely non-divergent, so the bump is vortical, not a gravity wave
        xc = np.arange(nx) * dx
        yc = np.arange(ny) * dy
        xd = (xc - Lx / 2) / (Lx / 16)
        yd = (yc - Ly / 2) / (width / 4)
        psi = bump * (width / 4) * np.exp(-yd ** 2)[:, None] * np.exp(-xd ** 2)[None, :]
        state[F_U] -= (np.roll(psi, -1, axis=0) - psi) / dy
        vv = (np.roll(psi, -1, axis=1) - psi) / dx
        vv[0] = 0.0
        state[F_V] += vv
    return Case(state, params, None, {"H": H, "umax": umax, "y_jet": Ly / 2})


def add_moisture(base: Case, rh_jet: float = 0.995, rh_far: float = 0.8,
                 qs0: float = 0.02, gamma: float = 4.0, y_band: float | None = None,
                 width: float = 2.0e6, h_ref: float | None = None) -> Case:
    """Any dry case plus moisture near saturation in a band (moist physics on).

    ``q_v`` is ``rh * q_sat(h)`` with relative humidity ``rh_jet`` in a band
    around ``y_band`` (default: the middle of the domain) and ``rh_far``
    outside, with a smooth transition; ``h_ref`` defaults to the mean depth.
    """
    p0 = base.params
    H = float(base.state[F_H].mean()) if h_ref is None else h_ref
    params = Params(**{**p0.__dict__, "moist": True, "qs0": qs0, "h_ref": H,
                       "gamma": gamma})
    y = (np.arange(p0.ny) + 0.5) * p0.dy
    yc = p0.ny * p0.dy / 2 if y_band is None else y_band
    band = np.exp(-((y - yc) / (0.6 * width)) ** 4)
    rh = rh_far + (rh_jet - rh_far) * band
    state = np.zeros((N_MOIST, p0.ny, p0.nx))
    state[:N_DRY] = base.state
    h = state[F_H]
    state[F_Q] = h * (rh[:, None] * q_sat(h, qs0, H))
    return Case(state, params, base.b, {**base.info, "rh": rh})


def moist_jet(nx: int = 128, ny: int = 64, rh_jet: float = 0.995, rh_far: float = 0.8,
              qs0: float = 0.02, gamma: float = 4.0, **kw: Any) -> Case:
    """The unstable jet carrying moisture; rain forms where the layer thins.

    ``q_v`` is ``rh * q_sat(h)`` with relative humidity ``rh_jet`` in the jet
    band and ``rh_far`` outside (smooth transition).  ``q_sat`` grows with
    ``h`` (``h_ref = H``), so cells condense where the flow thins the layer:
    in the lows of the rolled-up vortices, which carry the rain along.
    """
    base = unstable_jet(nx=nx, ny=ny, **kw)
    return add_moisture(base, rh_jet, rh_far, qs0, gamma, y_band=base.info["y_jet"],
                        width=kw.get("width", 2.0e6), h_ref=base.info["H"])


OMEGA = 7.292e-5     # Earth's rotation rate (s-1)
RADIUS = 6.371e6     # Earth's mean radius (m)


def _bilinear(field, lat, lon, plat, plon):
    """Bilinear interpolation of ``field[lat, lon]`` (regular, ascending axes,
    longitude periodic) at the points ``plat, plon`` (degrees)."""
    dlat, dlon = lat[1] - lat[0], lon[1] - lon[0]
    fy = (plat - lat[0]) / dlat
    j = np.clip(np.floor(fy).astype(np.int64), 0, len(lat) - 2)
    wy = fy - j
    fx = ((plon - lon[0]) % 360.0) / dlon
    i = np.floor(fx).astype(np.int64) % len(lon)
    wx = fx - np.floor(fx)
    i1 = (i + 1) % len(lon)
    return ((1 - wy) * ((1 - wx) * field[j, i] + wx * field[j, i1])
            + wy * ((1 - wx) * field[j + 1, i] + wx * field[j + 1, i1]))


def real_channel(z500, lat, lon, elev, elat, elon, nx: int = 256, ny: int = 64,
                 lat_south: float = 30.0, lat_north: float = 70.0, topo_scale: float = 0.5,
                 min_depth: float = 1000.0, cfl: float = 0.2) -> Case:
    """A mid-latitude beta-plane channel initialised from real data.

    Parameters
    ----------
    z500, lat, lon : numpy.ndarray
        500 hPa geopotential height (m) on a regular latitude-longitude grid.
    elev, elat, elon : numpy.ndarray
        Surface elevation (m, negative under the sea) on its own grid.
    nx, ny : int
        Cells around the latitude circle and across the channel.
    lat_south, lat_north : float
        Latitudes of the channel walls (degrees); ``f0`` and ``beta`` are
        taken at the middle latitude.
    topo_scale : float
        Land elevation is scaled by this factor (oceans are flat at 0), and
        capped so the layer is at least ``min_depth`` deep.

    Notes
    -----
    The free surface ``h + b`` is the 500 hPa height, ``b`` the scaled
    topography; ``u`` and ``v`` are geostrophic, ``u = -(g/f) d(h+b)/dy`` and
    ``v = (g/f) d(h+b)/dx`` by centred differences at the C-grid points, with
    ``v = 0`` on the walls.
    """
    phi0 = math.radians(0.5 * (lat_south + lat_north))
    Lx = 2 * math.pi * RADIUS * math.cos(phi0)
    Ly = RADIUS * math.radians(lat_north - lat_south)
    dx, dy = Lx / nx, Ly / ny
    f0, beta = 2 * OMEGA * math.sin(phi0), 2 * OMEGA * math.cos(phi0) / RADIUS
    yc = (np.arange(ny) + 0.5) * dy
    xc = (np.arange(nx) + 0.5) * dx
    plat = lat_south + np.degrees(yc / RADIUS)
    plon = np.degrees(xc / (RADIUS * math.cos(phi0)))
    LAT, LON = np.meshgrid(plat, plon, indexing="ij")
    eta = _bilinear(np.asarray(z500, np.float64), lat, lon, LAT, LON)
    b = np.maximum(_bilinear(np.asarray(elev, np.float64), elat, elon, LAT, LON), 0.0)
    b = np.minimum(topo_scale * b, eta - min_depth)
    params = Params(nx=nx, ny=ny, dx=dx, dy=dy, dt=1.0, g=G, f0=f0, beta=beta, walls=True)
    f_corner = coriolis(params)                        # f at y = j dy (u and v rows use it)
    f_centre = f0 + beta * (yc - 0.5 * ny * dy)
    state = np.zeros((N_DRY, ny, nx))
    state[F_H] = eta - b
    # u at west faces (centre rows): -(g/f) d(eta)/dy, centred over two rows
    deta_dy = (np.roll(eta, -1, axis=0) - np.roll(eta, 1, axis=0)) / (2 * dy)
    deta_dy[0] = (eta[1] - eta[0]) / dy
    deta_dy[-1] = (eta[-1] - eta[-2]) / dy
    etau = 0.5 * (deta_dy + np.roll(deta_dy, 1, axis=1))
    state[F_U] = -G / f_centre[:, None] * etau
    # v at south faces (corner rows): (g/f) d(eta)/dx, zero on the walls
    deta_dx = (eta - np.roll(eta, 1, axis=1)) / dx
    etav = 0.5 * (deta_dx + np.roll(deta_dx, -1, axis=1))
    etav = 0.5 * (etav + np.roll(etav, 1, axis=0))
    state[F_V] = G / f_corner[:, None] * etav
    state[F_V][0] = 0.0
    umax = float(np.abs(state[F_U:F_V + 1]).max())
    dt = cfl_dt(cfl, dx, dy, G, float(state[F_H].max()), umax)
    params = Params(**{**params.__dict__, "dt": dt})
    return Case(state, params, b, {"H": float(state[F_H].mean()), "lat_south": lat_south,
                                   "lat_north": lat_north, "f0": f0, "beta": beta})


CASES = {"wave": wave, "jet": jet, "unstable_jet": unstable_jet, "moist_jet": moist_jet}


def make_case(name: str, **kwargs: Any) -> Case:
    """Build the case ``name`` with keyword overrides."""
    try:
        fn = CASES[name]
    except KeyError:
        raise ValueError(f"unknown case {name!r}; choose from "
                         f"{', '.join(sorted(CASES))}") from None
    return fn(**kwargs)
