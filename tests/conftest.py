"""Shared helpers: job files in tmp dirs and the CLI run as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

#: Every command a test starts gets this long before it counts as a hang.
CMD_TIMEOUT = 120


def synthetic_job(tmp_path: Path, name="job", scheduler="steal", **params) -> Path:
    """Write a synthetic job file; ``params`` go to the [synthetic] table."""
    p = {"n_tasks": 60, "mean_ms": 2.0, "distribution": "lognormal"}
    p.update(params)
    lines = "\n".join(f"{k} = {_toml(v)}" for k, v in p.items())
    job = tmp_path / f"{name}.toml"
    job.write_text(textwrap.dedent(f"""\
        [job]
        workload = "synthetic"
        output = "{tmp_path / (name + '.h5')}"
        scheduler = "{scheduler}"
        seed = 3
        commit_interval = 0.05

        [synthetic]
        """) + lines + "\n")
    return job


def _toml(v):
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if not isinstance(v, list) else "[" + ", ".join(map(str, v)) + "]"


def hpcmicro(*args, timeout=CMD_TIMEOUT, env=None, cwd=None, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m hpcmicro ARGS``; a hang fails the test instead of CI."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "hpcmicro", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=e, cwd=cwd, **kw)


def mpiexec(n: int, *args, timeout=CMD_TIMEOUT, **kw) -> subprocess.CompletedProcess:
    """Run ``mpiexec -n N python -m hpcmicro ARGS``."""
    from hpcmicro.cli import find_mpiexec
    return subprocess.run([find_mpiexec(), "-n", str(n), sys.executable, "-m", "hpcmicro",
                           *map(str, args)], capture_output=True, text=True, timeout=timeout, **kw)


def env_with_path(path) -> dict:
    """This process's environment with ``path`` first on PYTHONPATH (for
    workloads defined in test helper modules, named as ``module:Class``)."""
    return dict(os.environ, PYTHONPATH=f"{path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


def read_tasks(path) -> dict:
    """All of /tasks and /synthetic plus the root attributes, as arrays."""
    with h5py.File(path, "r") as f:
        out = {k: f["tasks"][k][...] for k in f["tasks"]}
        if "synthetic" in f:
            out.update({k: f["synthetic"][k][...] for k in f["synthetic"]})
        out["attrs"] = dict(f.attrs)
    return out


def expected_planned(job: Path) -> np.ndarray:
    """The durations a synthetic job file asks for, computed without running it."""
    from hpcmicro.config import load_job
    from hpcmicro.workloads.synthetic import durations
    cfg = load_job(job)
    return durations(cfg.params, cfg.job.seed)


@pytest.fixture
def job_factory(tmp_path):
    """``job_factory(**params)`` writes a synthetic job file in a fresh tmp dir."""
    return lambda **kw: synthetic_job(tmp_path, **kw)
