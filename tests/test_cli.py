"""The command line: info, version, export errors, module layout."""

import subprocess
import sys

from conftest import hpcmicro, synthetic_job


def test_info_lists_versions_mpi_cores_and_threading_layer():
    r = hpcmicro("info", timeout=120)
    assert r.returncode == 0, r.stderr
    for key in ("hpcmicro", "numpy", "numba", "mpi4py", "h5py", "MPI library", "cores (affinity)",
                "numba threading layer"):
        assert key in r.stdout


def test_version_and_python_dash_m():
    r = hpcmicro("--version")
    assert r.returncode == 0 and r.stdout.startswith("hpcmicro ")


def test_runtime_imports_neither_numba_nor_mpi_until_needed():
    code = ("import sys, hpcmicro.cli, hpcmicro.runner, hpcmicro.workloads.synthetic; "
            "print('numba' in sys.modules, 'mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.split() == ["False", "False"]


def test_wheel_installs_kernels_as_hpcmicro_kernels_not_top_level(tmp_path):
    import zipfile
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(tmp_path), str(root)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    (wheel,) = tmp_path.glob("hpcmicro-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "hpcmicro/kernels/__init__.py" in names
    assert "hpcmicro/kernels/shallow_water.py" in names
    assert not any(n.startswith("kernels/") for n in names), "no top-level 'kernels' package"


def test_export_without_workload_export_is_a_clear_error(tmp_path):
    job = synthetic_job(tmp_path, n_tasks=3)
    assert hpcmicro("run", job, "-q").returncode == 0
    r = hpcmicro("export", tmp_path / "job.h5")
    assert r.returncode == 1 and "has no export" in r.stderr


def test_missing_job_file(tmp_path):
    r = hpcmicro("run", tmp_path / "nope.toml")
    assert r.returncode == 2 and "does not exist" in r.stderr and "Traceback" not in r.stderr
