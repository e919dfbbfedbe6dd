"""Numba kernels of hpcmicro, installed as ``hpcmicro.kernels``.

Kernels take and return NumPy arrays and scalars only; they import numpy and
numba, never the runtime.
"""
