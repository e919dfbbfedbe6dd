"""The weather workload: distributed equals serial bit for bit, netCDF output,
bad input, and resume from the checkpoint."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import env_with_path, hpcmicro, mpiexec
from hpcmicro.config import load_job
from hpcmicro.errors import ConfigError
from hpcmicro.kernels.shallow_water import diagnostics, run
from hpcmicro.workloads.weather import WeatherParams, build_case

HERE = Path(__file__).resolve().parent


def _job(tmp_path, name="w", scheduler="steal", **kw):
    p = {"case": "unstable_jet", "nx": 60, "ny": 36, "tile": 16, "steps_per_task": 3,
         "steps": 24, "output_every": 12}
    p.update(kw)
    body = "\n".join(f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}"
                     .replace("'", '"') for k, v in p.items())
    job = tmp_path / f"{name}.toml"
    job.write_text(f'[job]\nworkload = "weather"\noutput = "{tmp_path}/{name}.h5"\n'
                   f'scheduler = "{scheduler}"\ncommit_interval = 0.05\n\n[weather]\n{body}\n')
    return job, WeatherParams(**p)


def _serial(params: WeatherParams):
    """The whole-grid serial model at every output step (the oracle)."""
    case = build_case(params)
    states, s, done = [case.state], case.state, 0
    times = list(range(0, params.steps + 1, params.output_every))
    if times[-1] != params.steps:
        times.append(params.steps)
    for t in times[1:]:
        s, _ = run(s, case.params, t - done, step0=done, b=case.b)
        done = t
        states.append(s)
    return case, states


def _assert_equals_serial(path, params):
    case, states = _serial(params)
    with h5py.File(path, "r") as f:
        g = f["weather"]
        assert f.attrs["status"] == "complete"
        for k, s in enumerate(states):
            for name, idx in (("h", 0), ("u", 1), ("v", 2)) + ((("q", 6),) if params.physics else ()):
                assert np.array_equal(g[name][k], s[idx]), f"{name} at output {k}"
            d = diagnostics(s, case.params, case.b)
            for name in ("mass", "energy", "enstrophy"):
                assert g["diagnostics"][name][k] == d[name], f"{name} at output {k}"
        c = g["checkpoint"]
        assert np.array_equal(c["state"][c.attrs["slot"]], states[-1]), "state incl. AB2 tendencies"


@pytest.mark.parametrize("scheduler", ["steal", "dynamic", "static"])
@pytest.mark.parametrize("n_ranks", [2, 4])
def test_distributed_equals_serial_bit_for_bit(tmp_path, scheduler, n_ranks):
    job, params = _job(tmp_path, scheduler=scheduler)
    r = mpiexec(n_ranks, "run", job, "-q", timeout=120)
    assert r.returncode == 0, r.stderr
    _assert_equals_serial(tmp_path / "w.h5", params)


@pytest.mark.parametrize("scheduler", ["steal", "dynamic"])
def test_migrating_tiles_equal_serial_bit_for_bit(tmp_path, scheduler):
    # Slow tiles make workers steal (steal) or repartition (dynamic), so tiles
    # move with the strips already in for them, and strips sent to a tile's
    # old holder are forwarded.
    job, params = _job(tmp_path, scheduler=scheduler, steps=18)
    job.write_text(job.read_text().replace('workload = "weather"',
                                           'workload = "slowweather:SlowWeather"'))
    r = mpiexec(4, "run", job, "-q", env=env_with_path(HERE), timeout=120)
    assert r.returncode == 0, r.stderr
    with h5py.File(tmp_path / "w.h5", "r") as f:
        worker = f["tasks/worker"][...].reshape(6, -1)
        stolen = int(f["tasks/stolen"][...].sum())
    moved = int((worker[1:] != worker[:-1]).sum())
    # steal: stolen tiles (a steal in round 0 moves tiles without any change
    # of worker between later rounds); dynamic: tiles move between rounds
    assert (stolen if scheduler == "steal" else moved) > 0, (moved, stolen)
    _assert_equals_serial(tmp_path / "w.h5", params)


@pytest.mark.parametrize("kw", [
    {"tile": 12, "steps_per_task": 1, "steps": 10, "output_every": 5},     # last output off-grid
    {"case": "jet", "nx": 32, "ny": 32, "tile": 10, "steps_per_task": 4, "steps": 20,
     "output_every": 8},                                                    # periodic, non-multiple
    {"physics": True, "tile": 20, "steps": 18, "output_every": 9, "steps_per_task": 3},
])
def test_more_tilings_and_physics_equal_serial(tmp_path, kw):
    job, params = _job(tmp_path, **kw)
    r = mpiexec(3, "run", job, "-q", timeout=120)
    assert r.returncode == 0, r.stderr
    _assert_equals_serial(tmp_path / "w.h5", params)


def test_one_process_run_and_xarray_view(tmp_path):
    xr = pytest.importorskip("xarray")
    pytest.importorskip("h5netcdf")
    job, params = _job(tmp_path, physics=True)
    r = hpcmicro("run", job, "-q")
    assert r.returncode == 0, r.stderr
    _assert_equals_serial(tmp_path / "w.h5", params)
    ds = xr.open_dataset(tmp_path / "w.h5", engine="h5netcdf", group="weather")
    assert ds["h"].dims == ("time", "y", "x")
    assert ds["u"].dims == ("time", "y", "x_u") and ds["v"].dims == ("time", "y_v", "x")
    assert ds["q"].dims == ("time", "y", "x")
    assert ds["x"].attrs["units"] == "m" and ds["h"].attrs["units"] == "m"
    assert ds["u"].attrs["units"] == "m s-1"
    assert float(ds["x"][1] - ds["x"][0]) == pytest.approx(8.0e6 / 60)
    assert ds.sizes["time"] == 3
    assert ds.attrs["Conventions"] == "CF-1.8"


@pytest.mark.parametrize("change, message", [
    ({"tile": 100}, "larger than the grid"),
    ({"nx": 0}, ">= 4"),
    ({"dt": 5000.0}, "above the stable limit"),
    ({"cfl": float("nan")}, "not a finite number"),
    ({"output_every": 10}, "not a multiple of steps_per_task"),
    ({"steps_per_task": 20, "tile": 16}, "halo wider than the smallest tile"),
    ({"case": "jet"}, "square domain"),
])
def test_bad_values_are_rejected_with_reason(tmp_path, change, message):
    job = tmp_path / "bad.toml"
    p = {"case": "unstable_jet", "nx": 60, "ny": 36, "tile": 16, "steps_per_task": 3,
         "steps": 24, "output_every": 12, **change}
    body = "\n".join(f"{k} = {v!r}".replace("'", '"').replace("nan", "nan") for k, v in p.items())
    job.write_text(f'[job]\nworkload = "weather"\n\n[weather]\n{body}\n')
    with pytest.raises(ConfigError, match=message) as e:
        load_job(job, environ={})
    assert str(job) in str(e.value)


def test_sigterm_then_resume_equals_clean_run(tmp_path):
    job, params = _job(tmp_path, nx=96, ny=48, tile=16, steps_per_task=2, steps=400,
                       output_every=20, physics=True)
    out = tmp_path / "w.h5"
    from hpcmicro.cli import find_mpiexec
    p = subprocess.Popen([find_mpiexec(), "-n", "3", sys.executable, "-m", "hpcmicro", "run",
                          str(job), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if out.exists():
            with h5py.File(out, "r", locking=False) as f:
                if f["weather/checkpoint"].attrs["round"] >= 20:
                    break
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=60)
    with h5py.File(out, "r") as f:
        assert f.attrs["status"] == "incomplete"
        assert f["weather/checkpoint"].attrs["round"] < 199
    r = mpiexec(3, "run", job, "--resume", "-q", timeout=180)
    assert r.returncode == 0, r.stderr
    _assert_equals_serial(out, params)


def test_real_case_from_debian_data(tmp_path):
    from hpcmicro.workloads.weather import HEIGHTS, TOPOGRAPHY
    if not (os.path.exists(HEIGHTS) and os.path.exists(TOPOGRAPHY)):
        pytest.skip("real data not installed: run scripts/install_weather_data.sh")
    job, params = _job(tmp_path, case="real", nx=64, ny=24, tile=16, steps_per_task=4,
                       steps=16, output_every=8, physics=True)
    r = mpiexec(3, "run", job, "-q", timeout=120)
    assert r.returncode == 0, r.stderr
    _assert_equals_serial(tmp_path / "w.h5", params)
    case = build_case(params)
    assert case.b is not None and case.b.max() > 500, "real topography (m) is used"
    assert 4800 < (case.state[0] + case.b).mean() < 5900, "free surface = 500 hPa height (m)"


def test_real_case_missing_file_is_a_clear_error(tmp_path):
    job = tmp_path / "r.toml"
    job.write_text('[job]\nworkload = "weather"\n\n[weather]\ncase = "real"\n'
                   f'heights_file = "{tmp_path}/nope.nc"\n')
    with pytest.raises(ConfigError, match="install_weather_data.sh"):
        load_job(job, environ={})


def test_a_single_round_job(tmp_path):
    job, params = _job(tmp_path, steps=3, output_every=3)
    r = mpiexec(3, "run", job, "-q", timeout=120)
    assert r.returncode == 0, r.stderr
    _assert_equals_serial(tmp_path / "w.h5", params)
