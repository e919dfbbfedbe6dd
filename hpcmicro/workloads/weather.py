"""``weather``: a shallow-water dynamical core on tiles that stay on their workers.

Notes
-----
The grid is cut into tiles (:class:`hpcmicro.kernels.tiling.TileGrid`).  A
round advances every tile by ``steps_per_task`` steps: task ``r * n_tiles +
t`` is tile ``t`` in round ``r``.  Tiles are resident (owner computes): when
a task ends, it cuts from its tile the halo strips its eight neighbours need
next round (corners included, width = steps in that round), and the worker
sends them to the ranks holding those neighbours (:mod:`hpcmicro.dataflow`);
a tile runs as soon as its strips are in, with no barrier between rounds,
and its interior moves only when it is stolen or placed elsewhere.  A padded
tile advances with the same kernel as the serial model and keeps only its
interior, so a distributed run equals the serial run bit for bit for any
tile size, ``steps_per_task``, rank count and scheduler.

Rank 0 never carries the grid between outputs: it sends each worker the
first placement (two small arrays; under ``dynamic`` one per round) and
receives per-task costs.  At
output steps the tiles' full states come to rank 0, which writes ``h``,
``u``, ``v`` (and ``q``) as netCDF-4 compatible datasets, computes the
diagnostics in a fixed order, and writes a double-buffered checkpoint from
which ``--resume`` restarts.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import h5py
import numpy as np

from ..errors import ConfigError
from .base import Workload, option

#: Largest Courant number (dt (sqrt(gH) + |u|max) / min(dx, dy)) accepted; the
#: AB2 scheme with eps = 0.1 was seen to blow up at 0.25 on the unstable jet.
MAX_COURANT = 0.24
CASES = ("wave", "jet", "unstable_jet", "real")
#: First-round cost estimate: about 1e8 cell-steps a second on one core
#: (physics off); later rounds use the measured seconds.
SECONDS_PER_CELL_STEP = 1e-8
#: Debian's libncarg-data and ferret-datasets (scripts/install_weather_data.sh).
HEIGHTS = "/usr/share/ncarg/data/cdf/hgt.nc"
TOPOGRAPHY = "/usr/share/ferret-vis/data/etopo20.cdf"


@dataclasses.dataclass(frozen=True)
class WeatherParams:
    """Parameters of the ``[weather]`` table."""

    case: str = option("unstable_jet", help="initial state", choices=CASES)
    nx: int = option(256, help="cells along x", min=4)
    ny: int = option(128, help="cells along y", min=4)
    tile: int = option(64, help="tile side in cells (edge tiles may be smaller)", min=2)
    steps_per_task: int = option(4, help="steps per task (the halo width)", min=1)
    steps: int = option(400, help="time steps to run", min=1)
    output_every: int = option(100, help="steps between outputs (multiple of steps_per_task)",
                               min=1)
    physics: bool = option(False, help="moist physics (condensation, rain, latent heating)")
    cfl: float = option(0.2, help="Courant number that sets dt when dt = 0", min=0,
                        min_exclusive=True)
    dt: float = option(0.0, help="time step in seconds (0: from cfl)", min=0)
    heights_file: str = option(HEIGHTS, help="real case: netCDF-3 file of 500 hPa heights "
                               "(HGT, lat, lon)")
    month: int = option(0, help="real case: time index in heights_file", min=0)
    topo_file: str = option(TOPOGRAPHY, help="real case: netCDF-3 ETOPO relief file")
    topo_scale: float = option(0.5, help="real case: factor on land elevation", min=0)


def read_latlon_grid(path: str, key: str, var: str | None = None):
    """``(field, lat, lon)`` from a netCDF-3 file, finding the axes by units.

    ``field`` is ``var`` or the file's variable of highest rank; latitude and
    longitude are the 1-D variables whose units are degrees_north/east.
    """
    from pathlib import Path
    if not Path(path).exists():
        raise ConfigError(f"{path} does not exist; install the real data with "
                          "'sudo scripts/install_weather_data.sh' (Debian packages "
                          "libncarg-data and ferret-datasets) or set weather.{key}", key=key)
    try:
        from scipy.io import netcdf_file
        with netcdf_file(path, "r", mmap=False) as f:
            units = {n: getattr(v, "units", b"").decode().lower() for n, v in f.variables.items()}
            lat = [n for n, u in units.items() if u == "degrees_north"]
            lon = [n for n, u in units.items() if u == "degrees_east"]
            name = var or max(f.variables, key=lambda n: len(f.variables[n].shape))
            if not lat or not lon or name not in f.variables:
                raise ConfigError(f"{path} is not a latitude-longitude grid (variables "
                                  f"{sorted(f.variables)})", key=key)
            return tuple(np.array(f.variables[n][:], dtype=np.float64)
                         for n in (name, lat[0], lon[0]))
    except (OSError, ValueError, TypeError) as e:
        raise ConfigError(f"cannot read {path} as netCDF-3: {e}", key=key) from None


def _real_case(p: "WeatherParams"):
    from ..kernels import cases
    z, lat, lon = read_latlon_grid(p.heights_file, "heights_file", "HGT")
    if p.month >= z.shape[0]:
        raise ConfigError(f"month = {p.month} but {p.heights_file} holds {z.shape[0]} "
                          f"times (0..{z.shape[0] - 1})", key="month")
    elev, elat, elon = read_latlon_grid(p.topo_file, "topo_file")
    return cases.real_channel(z[p.month], lat, lon, elev, elat, elon, nx=p.nx, ny=p.ny,
                              topo_scale=p.topo_scale, cfl=p.cfl)


def build_case(p: WeatherParams):
    """The initial :class:`~hpcmicro.kernels.cases.Case` of the job (numba-free)."""
    from ..kernels import cases
    if p.case == "real":
        case = _real_case(p)
    elif p.case in ("wave", "jet"):
        case = cases.make_case(p.case, n=p.nx, cfl=p.cfl)
    else:
        case = cases.make_case(p.case, nx=p.nx, ny=p.ny, cfl=p.cfl)
    if p.physics:
        case = cases.add_moisture(case)
    if p.dt > 0:
        case = case._replace(params=dataclasses.replace(case.params, dt=p.dt))
    return case


def courant(case) -> float:
    """The run's Courant number from the fastest wave and flow speeds."""
    pr, st = case.params, case.state
    speed = math.sqrt(pr.g * float(st[0].max())) + float(np.abs(st[1:3]).max())
    return pr.dt * speed / min(pr.dx, pr.dy)


class Weather(Workload):
    """Rotating shallow water (+ optional moist physics) on resident tiles."""

    name = "weather"
    Params = WeatherParams
    resident = True

    def __init__(self, params, job):
        super().__init__(params, job)
        self._case = None
        self._grid = None

    # -- set-up ------------------------------------------------------------
    @property
    def case(self):
        """The initial state and model parameters (built once)."""
        if self._case is None:
            self._case = build_case(self.params)
        return self._case

    @property
    def grid(self):
        """The tile grid."""
        if self._grid is None:
            from ..kernels.tiling import TileGrid
            self._grid = TileGrid.build(self.params.ny, self.params.nx, self.params.tile)
        return self._grid

    def check(self) -> None:
        """Refuse grids, tiles, halos, output steps and time steps that cannot run."""
        p = self.params
        if p.case in ("wave", "jet") and p.nx != p.ny:
            raise ConfigError(f"case {p.case!r} is a square domain: set ny = nx "
                              f"(got nx = {p.nx}, ny = {p.ny})", key="ny")
        if p.tile > min(p.nx, p.ny):
            raise ConfigError(f"tile = {p.tile} is larger than the grid ({p.nx} x {p.ny}); "
                              "use a tile no larger than the smaller side", key="tile")
        if p.steps_per_task > self.grid.min_extent:
            raise ConfigError(f"steps_per_task = {p.steps_per_task} needs a halo wider than "
                              f"the smallest tile ({self.grid.min_extent} cells); take fewer "
                              "steps per task or larger tiles", key="steps_per_task")
        if p.output_every % p.steps_per_task:
            raise ConfigError(f"output_every = {p.output_every} is not a multiple of "
                              f"steps_per_task = {p.steps_per_task}", key="output_every")
        c = courant(self.case)
        if not c <= MAX_COURANT:
            raise ConfigError(f"the time step {self.case.params.dt:.4g} s gives a Courant "
                              f"number of {c:.3f}, above the stable limit {MAX_COURANT}; use "
                              "a smaller dt (or cfl)", key="dt" if p.dt > 0 else "cfl")

    # -- layout ------------------------------------------------------------
    def rounds(self) -> int:
        """One round per ``steps_per_task`` steps (the last may be shorter)."""
        return math.ceil(self.params.steps / self.params.steps_per_task)

    def steps_in(self, r: int) -> int:
        """Steps taken in round ``r`` (the last one may be shorter)."""
        k = self.params.steps_per_task
        return min(k, self.params.steps - r * k)

    def out_times(self) -> list[int]:
        """Steps at which the state is written."""
        p = self.params
        steps = list(range(0, p.steps + 1, p.output_every))
        return steps if steps[-1] == p.steps else steps + [p.steps]

    def out_index(self, r: int) -> int | None:
        """Output index written at the end of round ``r``, if any."""
        end = r * self.params.steps_per_task + self.steps_in(r)
        times = self.out_times()
        return times.index(end) if end in times else None

    def make_tasks(self) -> np.ndarray:
        """Initial cost estimates in seconds: the cell-steps of each tile, every
        round, at :data:`SECONDS_PER_CELL_STEP`."""
        g = self.grid
        cells = np.array([(b[1] - b[0]) * (b[3] - b[2]) for b in map(g.bounds, range(g.n_tiles))],
                         dtype=np.float64)
        steps = np.repeat([self.steps_in(r) for r in range(self.rounds())], g.n_tiles)
        return np.tile(cells, self.rounds()) * steps * SECONDS_PER_CELL_STEP

    def result_fields(self):
        """Physics iterations of each task (its measured cost)."""
        return {"cost": ((), "i8")}       # physics iterations (halo work included)

    # -- master: output file -------------------------------------------------
    def prepare_output(self, group) -> None:
        """Create the netCDF-compatible layout and write the initial state."""
        create_layout(group, self)
        self._write_state(group, 0, self.case.state, cost=0)

    def store_extras(self, group, task_id, extras) -> None:
        """Write a tile of an output step and keep it for the checkpoint."""
        r, t = divmod(task_id, self.grid.n_tiles)
        k = self.out_index(r)
        if k is None or "state" not in extras:
            return
        write_tile(group, k, self.grid.bounds(t), extras["state"], self.params.physics)
        buf = self.__dict__.setdefault("_ckpt", {})
        buf.setdefault(r, {})[t] = extras["state"]

    def end_round(self, group, r: int) -> None:
        """At an output step: diagnostics and the checkpoint of the whole state."""
        k = self.out_index(r)
        if k is None:
            return
        from ..kernels.tiling import insert
        tiles = self.__dict__.get("_ckpt", {}).pop(r)
        state = np.empty_like(self.case.state)
        for t, tile in tiles.items():
            insert(state, tile, self.grid.bounds(t))
        per = self.grid.n_tiles
        prev = self.out_times()[k - 1]
        r0 = prev // self.params.steps_per_task
        costs = group["cost"][r0 * per:(r + 1) * per]
        self._write_state(group, k, state, cost=int(costs.sum()), checkpoint_round=r)

    def _write_state(self, group, k, state, cost, checkpoint_round=None) -> None:
        from ..kernels.shallow_water import diagnostics
        if checkpoint_round is None:
            write_tile(group, k, (0, self.params.ny, 0, self.params.nx), state, self.params.physics)
        d = diagnostics(state, self.case.params, self.case.b)
        write_diagnostics(group, k, d, cost)
        if checkpoint_round is not None:
            write_checkpoint(group, state, checkpoint_round)

    def first_round(self, group, status) -> int:
        """The round after the last checkpoint."""
        return int(group["checkpoint"].attrs["round"]) + 1

    # -- worker --------------------------------------------------------------
    def setup_worker(self) -> None:
        """Start from the checkpoint (resume) or the initial state; load the kernel."""
        self._bpad: dict = {}
        # The master made the output before the workers start; on --resume it
        # holds a checkpoint, and the master writes nothing until all are set up.
        self.start = read_checkpoint(self.job.job.output)
        if self.start is None:
            self.start = self.case.state
        self._warm_up()

    def _warm_up(self) -> None:
        """Load the compiled kernel now, before the clock starts, not in a task."""
        from ..kernels import tiling
        from ..kernels.shallow_water import advance_tile
        padded = tiling.extract_padded(self.start, self.grid.bounds(0), 1)
        advance_tile(padded, self.case.params, 1, 1, 1, self.grid.bounds(0)[0],
                     self._padded_b(0, 1))

    def needs(self, t):
        """The tile itself and a halo strip from each of its 8 sides."""
        from ..kernels.tiling import DIRECTIONS
        return ("self",) + tuple(DIRECTIONS)

    def initial_inputs(self, r, tiles):
        """Padded tiles cut from the initial state (or the checkpoint), which is
        then dropped: nothing else on a worker needs the whole grid."""
        from ..kernels.tiling import extract_padded
        ks = self.steps_in(r)
        out = {t: extract_padded(self.start, self.grid.bounds(t), ks) for t in tiles}
        self.start = None
        return out

    def _padded_b(self, t: int, ks: int):
        if self.case.b is None:
            return None
        from ..kernels.tiling import extract_padded
        key = (t, ks)
        if key not in self._bpad:
            self._bpad[key] = extract_padded(self.case.b, self.grid.bounds(t), ks)
        return self._bpad[key]

    def run_resident(self, task_id, inputs):
        """Advance one padded tile; return it and the strips its neighbours need next."""
        from ..dataflow import INITIAL
        from ..kernels import tiling
        from ..kernels.shallow_water import advance_tile
        g = self.grid
        r, t = divmod(task_id, g.n_tiles)
        ks = self.steps_in(r)
        padded = inputs.get(INITIAL)
        if padded is None:
            strips = {k: v for k, v in inputs.items() if k != "self"}
            padded = tiling.assemble(inputs["self"], strips, ks)
        bounds = g.bounds(t)
        tile, work, _ = advance_tile(padded, self.case.params, ks, ks,
                                     r * self.params.steps_per_task, bounds[0],
                                     self._padded_b(t, ks))
        pieces = []
        if r + 1 < self.rounds():
            # Cut here, in the task, so that the agent only sends.
            strips = tiling.halo_strips(tile, self.steps_in(r + 1))
            pieces = [(n, tiling.OPPOSITE[d], strips[d]) for d, n in g.neighbours(t).items()]
            pieces.append((t, "self", tile))
        out: dict[str, Any] = {"cost": work}
        if self.out_index(r) is not None:
            out["state"] = tile
        return out, pieces


# -- the output file (netCDF-4 compatible HDF5) -----------------------------
def _dcpl():
    p = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    p.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
    return p


def _coord(group, name, values, units, long_name, axis=None):
    ds = group.create_dataset(name, data=np.asarray(values, dtype=np.float64))
    ds.attrs.update({"units": units, "long_name": long_name})
    if axis:
        ds.attrs["axis"] = axis
    ds.make_scale(name)
    return ds


VARIABLES = {  # name: (y coordinate, x coordinate, units, long name, field index)
    "h": ("y", "x", "m", "fluid layer depth", 0),
    "u": ("y", "x_u", "m s-1", "eastward velocity", 1),
    "v": ("y_v", "x", "m s-1", "northward velocity", 2),
    "q": ("y", "x", "m", "column water vapour (h times specific humidity)", 6),
}


def create_layout(group, wl: Weather) -> None:
    """Coordinates, the (time, y, x) variables chunked by tile, diagnostics and
    the double-buffered checkpoint, all allocated up front."""
    p, cp = wl.params, wl.case.params
    times = np.array(wl.out_times(), dtype=np.float64) * cp.dt
    group.attrs.update({"Conventions": "CF-1.8", "title": f"hpcmicro weather: {p.case}",
                        "dt_seconds": cp.dt, "steps": p.steps, "tile": p.tile,
                        "steps_per_task": p.steps_per_task, "domain":
                        "beta-plane channel, walls in y" if cp.walls else "doubly periodic"})
    _coord(group, "time", times, "s", "model time since the start", "T")
    _coord(group, "x", (np.arange(p.nx) + 0.5) * cp.dx, "m", "x of cell centres", "X")
    _coord(group, "x_u", np.arange(p.nx) * cp.dx, "m", "x of west cell faces (u points)", "X")
    _coord(group, "y", (np.arange(p.ny) + 0.5) * cp.dy, "m", "y of cell centres", "Y")
    _coord(group, "y_v", np.arange(p.ny) * cp.dy, "m", "y of south cell faces (v points)", "Y")
    chunks = (1, min(p.tile, p.ny), min(p.tile, p.nx))
    for name, (yc, xc, units, long_name, _) in VARIABLES.items():
        if name == "q" and not p.physics:
            continue
        ds = group.create_dataset(name, (len(times), p.ny, p.nx), "f8", chunks=chunks,
                                  fillvalue=np.nan, dcpl=_dcpl())
        ds.attrs.update({"units": units, "long_name": long_name})
        for axis, coord in enumerate(("time", yc, xc)):
            ds.dims[axis].attach_scale(group[coord])
    d = group.create_group("diagnostics")
    _coord(d, "time", times, "s", "model time since the start", "T")
    for name, units, long_name in (
            ("mass", "m3", "total fluid volume"),
            ("energy", "m5 s-2", "Sadourny total energy (per unit density)"),
            ("enstrophy", "m s-2", "potential enstrophy"),
            ("physics_cost", "1", "physics iterations since the previous output")):
        ds = d.create_dataset(name, (len(times),), "f8", fillvalue=np.nan, dcpl=_dcpl())
        ds.attrs.update({"units": units, "long_name": long_name})
        ds.dims[0].attach_scale(d["time"])
    n_tasks = group["cost"].shape[0]
    _coord(group, "task", np.arange(n_tasks), "1", "task id = round * n_tiles + tile")
    group["cost"].attrs.update({"units": "1", "long_name": "physics iterations of the task "
                                "(halo cells included)"})
    group["cost"].dims[0].attach_scale(group["task"])
    c = group.create_group("checkpoint")
    c.create_dataset("state", (2,) + wl.case.state.shape, "f8", dcpl=_dcpl())
    c.attrs.update({"round": -1, "slot": 0, "about": "full model state incl. AB2 tendencies "
                    "at the end of round 'round', in state[slot]"})


def write_tile(group, k: int, bounds, tile: np.ndarray, moist: bool) -> None:
    """Write one tile's h, u, v (and q) at output index ``k``."""
    j0, j1, i0, i1 = bounds
    for name, (*_, idx) in VARIABLES.items():
        if name == "q" and not moist:
            continue
        group[name][k, j0:j1, i0:i1] = tile[idx]


def write_diagnostics(group, k: int, d: dict, cost: int) -> None:
    """Write the diagnostics at output index ``k``."""
    g = group["diagnostics"]
    for name in ("mass", "energy", "enstrophy"):
        g[name][k] = d[name]
    g["physics_cost"][k] = cost


def write_checkpoint(group, state: np.ndarray, r: int) -> None:
    """Write ``state`` into the spare slot, flush, then point the checkpoint at it."""
    c = group["checkpoint"]
    slot = 1 - int(c.attrs["slot"]) if int(c.attrs["round"]) >= 0 else 0
    c["state"][slot] = state
    group.file.flush()
    c.attrs["slot"] = slot
    c.attrs["round"] = r
    group.file.flush()


def read_checkpoint(path) -> np.ndarray | None:
    """The checkpointed state in an output file, or None if it has none."""
    with h5py.File(path, "r", locking=False) as f:
        c = f["weather/checkpoint"]
        if int(c.attrs["round"]) < 0:
            return None
        return c["state"][int(c.attrs["slot"])]


def open_dataset(path):
    """Open a weather output with xarray (named dimensions, coordinates, units)."""
    import xarray
    return xarray.open_dataset(path, engine="h5netcdf", group="weather")


__all__ = ["Weather", "WeatherParams", "build_case", "courant", "open_dataset"]
