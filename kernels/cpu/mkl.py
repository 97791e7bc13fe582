"""Intel MKL's GEMM (``cblas_?gemm`` and ``cblas_?gemm_batch_strided``) through ctypes, when the ``mkl`` wheel is
installed.

numpy's wheels carry OpenBLAS. On the small and mid-sized products of a training step (batch 128, widths 512-784)
OpenBLAS is 1.05-1.4x slower than MKL, the BLAS PyTorch uses (docs/benchmarks.md), and a GRAPH_MODE step is mostly
those products. The ``mkl`` wheel from PyPI installs ``libmkl_rt`` into ``<prefix>/lib``; this module loads it with
ctypes and calls its GEMMs on the numpy arrays' memory, with transposition expressed through the BLAS flags rather
than copies. Threads: MKL's GNU OpenMP layer when ``libgomp`` is present (the thread count follows
``threadpoolctl`` limits like any BLAS), otherwise its sequential layer. A product below ``blas.SMALL_FLOPS`` runs
on one thread (``mkl_set_num_threads_local`` around the call, a thread-local setting that costs well under a µs):
on a 2-core machine shared with other processes MKL's two threads made every small GEMM of a LeNet step take
1.5-2 ms instead of 0.05-0.3 (the same starvation blas.py describes for OpenBLAS).

``gemm(a, b)`` returns ``a @ b`` or ``None`` when MKL is absent or the operands are not a case it takes (dtypes other
than float32/float64, empty dimensions, batch strides that do not collapse to one, or fewer than ``MIN_FLOPS``
flops in all): the caller then uses numpy. A call through ctypes costs 25-30 µs of Python on this 2-core VM
(``ndarray.ctypes.data`` alone is 3 µs) and MKL's own small-product path is slower than OpenBLAS's, so tiny
products go to numpy (measured: 128x512 @ 512x10, 75 µs numpy vs 109 µs here; 32x400 @ 400x120, 118 vs 197 µs).
``MINDLAB_BLAS=numpy`` turns MKL off.
"""
import ctypes
import glob
import os
import sys

import numpy as np

__all__ = ["available", "gemm", "gemm_into", "jit_callers", "library_path"]

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_THREADING_SEQUENTIAL, _THREADING_GNU = 1, 3
_state = {"lib": False, "path": None, "jit": None}   # lib: False = not tried yet, None = unavailable;
#                                                     jit: kernels/cpu/mkl_jit once bound to the library
_FN = {}                                  # (dtype char, "gemm" | "gemm_batch_strided") -> the typed ctypes routine


def _candidates():
    dirs = [os.path.join(sys.prefix, "lib"), os.path.join(sys.base_prefix, "lib")]
    try:
        import site
        dirs.append(os.path.join(site.getuserbase(), "lib"))
    except Exception:
        pass
    for d in dirs:
        yield from sorted(glob.glob(os.path.join(d, "libmkl_rt.so*")), reverse=True)


def _load():
    if os.environ.get("MINDLAB_BLAS", "").lower() == "numpy" or not sys.platform.startswith("linux"):
        return None
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
        except OSError:
            continue
        layer = _THREADING_SEQUENTIAL
        try:
            ctypes.CDLL("libgomp.so.1", mode=ctypes.RTLD_GLOBAL)
            layer = _THREADING_GNU
        except OSError:
            pass
        lib.MKL_Set_Threading_Layer.argtypes = [ctypes.c_int]
        lib.MKL_Set_Threading_Layer(layer)
        lib.MKL_Set_Num_Threads_Local.argtypes = [ctypes.c_int]
        lib.MKL_Set_Num_Threads_Local.restype = ctypes.c_int
        ints, ptr = [ctypes.c_int] * 6, ctypes.c_void_p
        for char, name, real in (("f", "s", ctypes.c_float), ("d", "d", ctypes.c_double)):
            f = _FN[char, "gemm"] = getattr(lib, f"cblas_{name}gemm")
            f.restype = None
            f.argtypes = ints + [real, ptr, ctypes.c_int, ptr, ctypes.c_int, real, ptr, ctypes.c_int]
            f = _FN[char, "gemm_batch_strided"] = getattr(lib, f"cblas_{name}gemm_batch_strided")
            f.restype = None
            f.argtypes = ints + [real, ptr, ctypes.c_int, ctypes.c_longlong, ptr, ctypes.c_int, ctypes.c_longlong,
                                 real, ptr, ctypes.c_int, ctypes.c_longlong, ctypes.c_int]
        _state["path"] = path
        _bind_jit(path)
        return lib
    return None


def _bind_jit(path):
    """Make the numba-compiled callers (kernels/cpu/mkl_jit.py) usable; without numba's JIT they stay off."""
    try:
        from . import mkl_jit
        mkl_jit.bind(path)
        _state["jit"] = mkl_jit
    except Exception:   # noqa: BLE001 (an llvmlite that cannot load the library: the ctypes route serves)
        _state["jit"] = None


def _lib():
    if _state["lib"] is False:
        _state["lib"] = _load()
    return _state["lib"]


def jit_callers():
    """kernels/cpu/mkl_jit once MKL is loaded and bound to it (its compiled callers), else None."""
    _lib()
    return _state["jit"]


def available():
    """True when MKL's GEMM is loaded and used for float32/float64 products."""
    return _lib() is not None


def library_path():
    """The ``libmkl_rt`` file in use, or None."""
    _lib()
    return _state["path"]


def _matrix(x):
    """(trans flag, leading dimension) describing the last two dims of ``x`` in place (the first matrix of a batch),
    or None when its strides need a copy."""
    isz = x.itemsize
    s0, s1 = x.strides[-2:]
    r, c = x.shape[-2:]
    if (s1 == isz or c == 1) and s0 % isz == 0 and s0 // isz >= max(c, 1):
        return _NO_TRANS, max(s0 // isz, c, 1)
    if (s0 == isz or r == 1) and s1 % isz == 0 and s1 // isz >= max(r, 1):
        return _TRANS, max(s1 // isz, r, 1)
    return None


def _batch_stride(x, batch):
    """One element stride stepping through ``x``'s batch dims broadcast to ``batch``, or None if they do not collapse."""
    extra = len(batch) - (x.ndim - 2)
    shape, strides = (1,) * extra + x.shape[:-2], (0,) * extra + x.strides[:-2]
    dims = [(n, 0 if xn == 1 else st) for n, xn, st in zip(batch, shape, strides) if n != 1]
    if not dims:
        return 0
    for (_, st), (n2, st2) in zip(dims[:-1], dims[1:]):
        if st != st2 * n2:
            return None
    step = dims[-1][1]
    return None if step % x.itemsize else step // x.itemsize


def _operands(a, b):
    """(m, n, k, flags/leading dims of a, of b, dtype char) for ``a @ b``, or None when MKL is absent
    or does not take these operands (dtypes other than float32/float64, empty dims, strides needing a copy)."""
    if (_lib() is None or a.ndim < 2 or b.ndim < 2 or a.dtype != b.dtype or a.dtype.char not in "fd"
            or not a.dtype.isnative):
        return None
    m, k = a.shape[-2:]
    n = b.shape[-1]
    if m == 0 or n == 0 or k == 0 or b.shape[-2] != k:
        return None
    ma, mb = _matrix(a), _matrix(b)
    if ma is None or mb is None:
        return None
    return m, n, k, ma, mb, a.dtype.char


MIN_FLOPS = int(os.environ.get("MINDLAB_MKL_MIN_FLOPS", 1 << 22))   # 4.2 MFLOP: smaller products go to numpy
# Per-matrix flops below which a product runs on one thread: the size policy of kernels/cpu/blas.py (which
# re-exports it), kept here because blas imports this module. MINDLAB_BLAS_SMALL_FLOPS=0 turns it off.
SMALL_FLOPS = int(os.environ.get("MINDLAB_BLAS_SMALL_FLOPS", 1 << 25))   # 33.5 MFLOP


def _call(small, fn, *args):
    """``fn(*args)``, on one MKL thread when ``small``."""
    if not small:
        return fn(*args)
    lib = _lib()
    saved = lib.MKL_Set_Num_Threads_Local(1)
    try:
        return fn(*args)
    finally:
        lib.MKL_Set_Num_Threads_Local(saved)


def _gemm2d(ops, a, b, c, beta):
    m, n, k, ma, mb, char = ops
    _call(2 * m * n * k < SMALL_FLOPS, _FN[char, "gemm"],
          _ROW_MAJOR, ma[0], mb[0], m, n, k, 1.0, a.ctypes.data, ma[1], b.ctypes.data, mb[1], beta, c.ctypes.data, n)


def _jit_call(fn, *args):
    """``fn(*args)`` from kernels/cpu/mkl_jit, or None when its signatures do not take these
    arguments (another dtype, a read-only operand, a non-contiguous output): the ctypes route decides then."""
    try:
        return fn(*args)
    except TypeError:
        return None


def gemm(a, b):
    """``a @ b`` through MKL, or None when MKL is absent or does not take these operands (see the module doc)."""
    jit = _state["jit"]
    if jit is not None and a.ndim == 2 and b.ndim == 2 and a.dtype is b.dtype:
        res = _jit_call(jit.matmul, a, b, SMALL_FLOPS, MIN_FLOPS)
        if res is not None:   # the ctypes route would refuse the 2-D products this refuses
            return res[1] if res[0] else None
    ops = _operands(a, b)
    if ops is None:
        return None
    m, n, k, ma, mb, char = ops
    if 2 * m * n * k * max(a.size // (m * k), b.size // (k * n)) < MIN_FLOPS:
        return None
    if a.ndim == 2 and b.ndim == 2:
        out = np.empty((m, n), a.dtype)
        _gemm2d(ops, a, b, out, 0.0)
        return out
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        return None
    sa, sb = _batch_stride(a, batch), _batch_stride(b, batch)
    count = int(np.prod(batch, dtype=np.int64))
    if sa is None or sb is None or count == 0 or count > 2 ** 31 - 1:
        return None
    out = np.empty(batch + (m, n), a.dtype)
    _call(2 * m * n * k < SMALL_FLOPS, _FN[char, "gemm_batch_strided"],
          _ROW_MAJOR, ma[0], mb[0], m, n, k, 1.0, a.ctypes.data, ma[1], sa, b.ctypes.data, mb[1], sb,
          0.0, out.ctypes.data, n, m * n, count)
    return out


def gemm_into(a, b, c, beta):
    """``c = a @ b + beta * c`` in place for 2-D operands (``c`` C-contiguous, writeable, of their dtype) through
    one MKL call: an optimizer's accumulator update folded into the GEMM producing the gradient. Returns False, doing
    nothing, when MKL is absent or does not take these operands."""
    jit = _state["jit"]
    if jit is not None and a.ndim == 2 and b.ndim == 2 and a.dtype is b.dtype is c.dtype:
        res = _jit_call(jit.gemm_into, a, b, c, float(beta), SMALL_FLOPS, 0)
        if res is not None:
            return res
    ops = _operands(a, b) if a.ndim == 2 and b.ndim == 2 else None
    if (ops is None or c.dtype != a.dtype or c.shape != (ops[0], ops[1]) or not c.flags.c_contiguous
            or not c.flags.writeable):
        return False
    _gemm2d(ops, a, b, c, beta)
    return True
