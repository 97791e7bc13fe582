"""Communicators: one interface (``base.Communicator``), several backends.

- ``sim``: ``SimWorld(n)`` — n virtual devices in this process (list API and threaded SPMD API).
- ``mpi``: ``MPICommunicator`` — mpi4py over real processes (``python -m mindlab.run -n 4 script.py``).
- ``nccl``: ``NCCLCommunicator`` (``nccl.py``, imported on demand: it needs cupy) — GPUs through NCCL.
"""
from .base import Communicator, CommunicationError, REDUCE_OPS, DEFAULT_TIMEOUT
from .sim import SimWorld, SimCommunicator, current_comm
from .mpi import MPICommunicator, mpi_available, launched_by_mpi

__all__ = ["Communicator", "CommunicationError", "REDUCE_OPS", "DEFAULT_TIMEOUT", "SimWorld", "SimCommunicator",
           "current_comm", "MPICommunicator", "mpi_available", "launched_by_mpi"]
