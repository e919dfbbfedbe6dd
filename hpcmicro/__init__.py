"""hpcmicro: microtasks over MPI with work stealing and crash-safe HDF5 results."""

__version__ = "0.1.0"
