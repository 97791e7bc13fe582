"""CPU kernels: numba where numpy would make extra passes or Python loops."""
