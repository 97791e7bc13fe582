"""GEMM through numpy's BLAS, with the BLAS thread count chosen by problem size.

OpenBLAS starts its worker threads for any GEMM above a tiny size and busy-waits them between calls. For the small
GEMMs of a training step (a LeNet-5 layer, a bias-sized matmul) the threads cost more than they give, and when
another process keeps a core busy they are catastrophic: measured here with one other busy process on 2 cores, a
LeNet-5 train step (batch 32) took 62 ms with OpenBLAS's 2 threads against 12 ms with 1 (4.4 ms per small GEMM
instead of ~0.1 ms). So a GEMM whose per-matrix work is below ``SMALL_FLOPS`` runs with one BLAS thread and a
larger one with the count BLAS had before (what ``OPENBLAS_NUM_THREADS``, ``threadpool_limits`` or the default
set). The count is changed only when the regime changes (a few µs through threadpoolctl), so a run of small GEMMs
pays nothing. ``MINDLAB_BLAS_SMALL_FLOPS=0`` turns the policy off.

When the ``mkl`` wheel is installed, float32/float64 products go to MKL's GEMM instead (kernels/cpu/mkl.py: the
BLAS PyTorch uses, 1.05-1.4x faster than OpenBLAS on a training step's shapes), with the same size policy: a
product below ``SMALL_FLOPS`` runs on one MKL thread.
"""
import numpy as np

from . import mkl as _mkl

__all__ = ["matmul", "SMALL_FLOPS"]

SMALL_FLOPS = _mkl.SMALL_FLOPS    # 33.5 MFLOP per matrix product (MINDLAB_BLAS_SMALL_FLOPS); MKL uses it too

_state = {"libs": None, "saved": None}   # saved: the thread counts to restore after a run of small GEMMs


def _libs():
    if _state["libs"] is None:
        try:
            from threadpoolctl import ThreadpoolController
            # numpy's BLAS only: MKL (kernels/cpu/mkl.py) sets one thread per call itself, and a global limit put
            # on it here stayed for good (big products go to MKL, so numpy never saw one to restore the count)
            libs = [c for c in ThreadpoolController().lib_controllers
                    if c.user_api == "blas" and c.internal_api != "mkl"]
        except Exception:   # no threadpoolctl, or a BLAS it cannot drive: leave the threads alone
            libs = []
        _state["libs"] = libs
    return _state["libs"]


def _single():
    """One BLAS thread from now on, remembering the counts to restore (whatever the user or a limit set)."""
    libs = _libs()
    _state["saved"] = [c.get_num_threads() for c in libs]
    for c in libs:
        c.set_num_threads(1)


def _restore():
    for c, n in zip(_libs(), _state["saved"]):
        c.set_num_threads(n)
    _state["saved"] = None


def matmul(a, b):
    """``np.matmul(a, b)``: MKL when installed, else numpy with BLAS threads chosen by the per-matrix flops."""
    out = _mkl.gemm(a, b)
    if out is not None:
        return out
    if SMALL_FLOPS > 0 and a.ndim >= 2 and b.ndim >= 2:
        small = 2 * a.shape[-2] * a.shape[-1] * b.shape[-1] < SMALL_FLOPS
        if small is (_state["saved"] is None):   # a change of regime: only then touch the thread pools
            _single() if small else _restore()
    return np.matmul(a, b)
