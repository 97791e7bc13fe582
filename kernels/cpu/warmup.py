"""Start numba's CPU target when mindlab is imported, so a program's first compiled call does not pay for it.

numba sets up its CPU target (typing and lowering registries, the NRT, a BLAS probe that imports scipy.linalg) the
first time any jitted function is compiled or loaded from its cache: about 0.35-0.6 s on this machine, every
process. A GRAPH_MODE step calls numba kernels (fused elementwise chains, optimizer updates, softmax), so without
this its first call would be mostly numba's set-up rather than mindlab parsing and compiling the program. ``start``
loads one tiny cached kernel, which does the set-up; ``mindlab/__init__.py`` calls it at import (measured in
docs/benchmarks.md: import time and first-call time are reported separately). ``MINDLAB_NUMBA_WARMUP=0`` skips it
(for processes that never run a kernel, such as the ``mindlab.run`` launcher's parent). It also runs one tiny MKL
GEMM when MKL is installed (kernels/cpu/mkl.py), big enough to start MKL's thread pool: MKL picks and loads its
CPU-specific kernels and threading library on its first call, and a GRAPH_MODE MLP step's first GEMMs took 35 ms
without this.
"""
import os
import time

import numba
import numpy as np

__all__ = ["start", "SECONDS"]

SECONDS = [None]        # how long the set-up took in this process (None: not run)


@numba.njit(cache=True, nogil=True)
def _tiny(x):
    return x + 1


def start():
    """Do numba's one-time CPU target set-up now (idempotent; a no-op with MINDLAB_NUMBA_WARMUP=0)."""
    if SECONDS[0] is not None or os.environ.get("MINDLAB_NUMBA_WARMUP", "1") in ("0", ""):
        return
    t = time.perf_counter()
    try:
        _tiny(np.int64(1))
    except Exception:       # an unusable numba cache directory: numba compiles in memory on first real use
        pass
    from . import blas, mkl
    if mkl.available():   # one product big enough for MKL and for its thread pool (blas.SMALL_FLOPS)
        side = int(round((max(blas.SMALL_FLOPS, mkl.MIN_FLOPS) / 2) ** (1 / 3))) + 8
        one = np.ones((side, side), np.float32)
        mkl.gemm(one, one)
    SECONDS[0] = time.perf_counter() - t
