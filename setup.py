"""Packaging for hpcmicro.

``kernels/`` is installed as ``hpcmicro.kernels`` (never as a top-level
``kernels`` package: a different project of that name exists on PyPI).
"""
from setuptools import setup

PACKAGES = [
    "hpcmicro",
    "hpcmicro.scheduling",
    "hpcmicro.workloads",
    "hpcmicro.kernels",
]

setup(
    name="hpcmicro",
    version="0.1.0",
    description="Microtasks over MPI with work stealing, Numba kernels and crash-safe HDF5 results",
    python_requires=">=3.10",
    packages=PACKAGES,
    package_dir={"hpcmicro.kernels": "kernels"},
    package_data={"hpcmicro.kernels": ["data/*.json"], "hpcmicro": ["py.typed"]},
    install_requires=[
        "numpy>=1.24",
        "numba>=0.58",
        "mpi4py>=3.1",
        "mpich; platform_system == 'Linux'",
        "h5py>=3.8",
        "matplotlib>=3.7",
        "scipy>=1.8",          # netCDF-3 reader for the weather workload's real data
        "tomli>=2.0; python_version < '3.11'",
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-timeout", "wheel", "setuptools>=64", "parasail>=1.3", "biopython>=1.80", "h5netcdf", "xarray"],
        "bench": ["parasail>=1.3", "biopython>=1.80"],
    },
    entry_points={"console_scripts": ["hpcmicro = hpcmicro.cli:main"]},
)
