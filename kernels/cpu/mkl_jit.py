"""numba-compiled callers of MKL's ``cblas_?gemm``: the 2-D GEMM of kernels/cpu/mkl.py without ctypes' per-call
Python.

Calling ``cblas_sgemm`` through ctypes costs 25-30 µs of Python per product on this 2-core VM: reading each
array's address (``ndarray.ctypes.data`` is 3 µs), working out transposition flags and leading dimensions, and
converting fourteen arguments. A training step makes eight such products, so that was ~5 % of a GRAPH_MODE MLP
step. Here the whole call — flags from the strides, the output allocation, the one-thread switch for small
products, the GEMM — is one ``@njit`` function: a call costs the dispatch of its arguments (~1.5 µs).

The routines are bound by name (``numba.types.ExternalFunction``) after ``bind`` has loaded ``libmkl_rt`` into the
process (everything here compiles lazily, after ``bind``; kernels/cpu/native.py calls ``_gemm`` too) (``llvmlite``'s ``load_library_permanently``), so numba can cache the machine code on disk like any other
kernel (a ctypes function pointer would be a constant baked into the code, which numba refuses to cache): a new
process loads them in milliseconds. Each function has one explicit signature per dtype with ``A``-layout operands,
so a transposed view, a slice and a contiguous array share one compiled body; ``c`` must be C-contiguous and
writeable. A call the signatures do not take (another dtype, a read-only operand) raises numba's ``TypeError``;
kernels/cpu/mkl.py then uses its ctypes route.
"""
import llvmlite.binding as _llvm
import numpy as np
from numba import njit, types

__all__ = ["bind", "matmul", "gemm_into", "raw_gemm", "one_thread", "restore_threads"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_i32, _f32, _f64, _ptr = types.int32, types.float32, types.float64, types.voidptr
_sgemm = types.ExternalFunction("cblas_sgemm", types.void(_i32, _i32, _i32, _i32, _i32, _i32, _f32, _ptr, _i32,
                                                          _ptr, _i32, _f32, _ptr, _i32))
_dgemm = types.ExternalFunction("cblas_dgemm", types.void(_i32, _i32, _i32, _i32, _i32, _i32, _f64, _ptr, _i32,
                                                          _ptr, _i32, _f64, _ptr, _i32))
_set_threads = types.ExternalFunction("MKL_Set_Num_Threads_Local", _i32(_i32))


def bind(path):
    """Load ``libmkl_rt`` at ``path`` into the process so the compiled callers resolve its symbols, then compile
    (or load from the cache) ``matmul`` and ``gemm_into`` for their signatures. Nothing here may be compiled or
    loaded before: code referring to a symbol LLVM cannot resolve aborts the process."""
    _llvm.load_library_permanently(path)
    for fn, sigs in ((matmul, _MATMUL_SIGS), (gemm_into, _GEMM_INTO_SIGS)):
        for sig in sigs:
            fn.compile(sig)
        fn.disable_compile()    # one body for every layout: other layouts convert to the 'A' signature


@njit(cache=True, nogil=True)
def raw_gemm(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, itemsize):
    """Row-major ``c = op(a) @ op(b) + beta * c`` on raw addresses (``arr.ctypes.data``), for compiled kernels
    that run many small products (kernels/cpu/conv_tiled.py); ``itemsize`` 4 is float32, else float64."""
    if itemsize == 4:
        _sgemm(_ROW_MAJOR, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc)
    else:
        _dgemm(_ROW_MAJOR, ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc)


@njit(cache=True, nogil=True)
def one_thread():
    """Run this thread's MKL calls on one thread from now on; returns the setting for ``restore_threads``."""
    return _set_threads(1)


@njit(cache=True, nogil=True)
def restore_threads(saved):
    _set_threads(saved)


@njit(cache=True, nogil=True)
def _layout(x):
    """(trans flag, leading dimension) describing ``x`` in place, or (0, 0) when its strides need a copy."""
    isz = x.itemsize
    s0, s1 = x.strides[0], x.strides[1]
    r, c = x.shape
    if (s1 == isz or c == 1) and s0 % isz == 0 and s0 // isz >= max(c, 1):
        return _NO_TRANS, max(s0 // isz, c, 1)
    if (s0 == isz or r == 1) and s1 % isz == 0 and s1 // isz >= max(r, 1):
        return _TRANS, max(s1 // isz, r, 1)
    return 0, 0


@njit(cache=True, nogil=True)
def _gemm(a, b, c, beta, small_flops, min_flops):
    """``c = a @ b + beta * c``; False (nothing done) when a layout needs a copy, a dimension is empty, the shapes do
    not chain or the product is below ``min_flops``."""
    m, k = a.shape
    n = b.shape[1]
    if m == 0 or n == 0 or k == 0 or b.shape[0] != k or c.shape[0] != m or c.shape[1] != n:
        return False
    flops = 2 * m * n * k
    if flops < min_flops or m > 2 ** 31 - 1 or n > 2 ** 31 - 1 or k > 2 ** 31 - 1:
        return False
    ta, lda = _layout(a)
    tb, ldb = _layout(b)
    if ta == 0 or tb == 0 or max(lda, ldb, n) > 2 ** 31 - 1:
        return False
    saved = 0
    if flops < small_flops:
        saved = _set_threads(1)
    if a.itemsize == 4:
        _sgemm(_ROW_MAJOR, ta, tb, m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb, beta, c.ctypes.data, n)
    else:
        _dgemm(_ROW_MAJOR, ta, tb, m, n, k, 1.0, a.ctypes.data, lda, b.ctypes.data, ldb, beta, c.ctypes.data, n)
    if flops < small_flops:
        _set_threads(saved)
    return True


@njit(cache=True, nogil=True)
def matmul(a, b, small_flops, min_flops):
    """(done, ``a @ b``) for 2-D float32/float64 operands; ``done`` is False when the product is not one this takes
    (see ``_gemm``) and the caller computes it another way."""
    c = np.empty((a.shape[0], b.shape[1]), a.dtype)
    return _gemm(a, b, c, 0.0, small_flops, min_flops), c


@njit(cache=True, nogil=True)
def gemm_into(a, b, c, beta, small_flops, min_flops):
    """``c = a @ b + beta * c`` in place; False (nothing done) when not a product this takes (see ``_gemm``)."""
    return _gemm(a, b, c, beta, small_flops, min_flops)


_MATMUL_SIGS = [types.Tuple((types.boolean, types.Array(r, 2, "C")))(types.Array(r, 2, "A"), types.Array(r, 2, "A"),
                                                                     types.int64, types.int64) for r in (_f32, _f64)]
_GEMM_INTO_SIGS = [types.boolean(types.Array(r, 2, "A"), types.Array(r, 2, "A"), types.Array(r, 2, "C"),
                                 types.float64, types.int64, types.int64) for r in (_f32, _f64)]
