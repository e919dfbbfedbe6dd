"""Helpers of ``benchmarks/simulate_scale.py``: cost measurement, placement, the simulator."""
