"""Compute kernels by device, installed as ``mindlab.kernels`` (cpu: numba; cuda: numba-cuda; ascend: Da Vinci simulator)."""
