"""GPU kernels of the reductions: cupy's reduction kernels (CUB-backed), numpy under the simulator.

Accumulation dtypes follow the CPU kernels: bool/uint8 sums in int64, means of float16/integers in float32.

A float sum over the *leading* axes of a contiguous array (a bias gradient: ``sum(dout, axis=0)`` of a (batch,
features) array) is a matrix-vector product ``ones(rows) @ x`` through cuBLAS: cupy's reduction kernel reads such
a column-wise sum at a fraction of the memory bandwidth (issue 7's profile: 0.24 ms for the MLP step's bias
gradients, where reading the two 64 MB arrays once takes under 0.05 ms), while cuBLAS's matrix-vector kernel reads
the array once, coalesced, at close to the bandwidth.
"""
import numpy as np

from ...ops.prims.reduce_ops import _axes, _reduced_count, keep_dims_shape
from ...ops.abstract import norm_axes
from .runtime import xp


COLUMN_SUM_MIN = 1 << 14    # elements: below this a sum is one short launch either way
_ONES = {}


def _ones(n, dtype):
    """A cached device vector of ``n`` ones (the column sum's other operand)."""
    key = (n, np.dtype(dtype).str)
    v = _ONES.get(key)
    if v is None:
        if len(_ONES) > 64:
            _ONES.clear()
        v = _ONES[key] = xp().ones(n, dtype=dtype)
    return v


def column_sum(x, axes, keep_dims):
    """``x.sum(axes)`` as ``ones(rows) @ x.reshape(rows, cols)`` when ``axes`` are the leading axes of a C-contiguous
    float32/float64 array of at least ``COLUMN_SUM_MIN`` elements; else None."""
    k = len(axes)
    if (x.dtype.kind != "f" or x.dtype.itemsize < 4 or x.size < COLUMN_SUM_MIN or not 0 < k < x.ndim
            or axes != tuple(range(k)) or not x.flags.c_contiguous):
        return None
    rows = 1
    for d in x.shape[:k]:
        rows *= d
    if rows < 2:
        return None
    out = xp().matmul(_ones(rows, x.dtype), x.reshape(rows, x.size // rows))
    return out.reshape(keep_dims_shape(x.shape, axes) if keep_dims else x.shape[k:])


def _sum(x, axis, keep_dims):
    axes = _axes(axis, x.ndim)
    out = column_sum(x, axes, keep_dims)
    if out is not None:
        return out
    return xp().sum(x, axis=axes, keepdims=keep_dims,
                    dtype=np.int64 if x.dtype.kind in "bu" else None)


def _mean(x, axis, keep_dims):
    axes = _axes(axis, x.ndim)
    n = _reduced_count(x.shape, axes)
    out = column_sum(x, axes, keep_dims)
    if out is not None:
        return out / n
    wide = x.dtype.kind == "f" and x.dtype.itemsize > 2
    return xp().sum(x, axis=axes, keepdims=keep_dims, dtype=None if wide else np.float32) / n


def _max(x, axis, keep_dims):
    return xp().max(x, axis=_axes(axis, x.ndim), keepdims=keep_dims)


def _min(x, axis, keep_dims):
    return xp().min(x, axis=_axes(axis, x.ndim), keepdims=keep_dims)


def _prod(x, axis, keep_dims):
    return xp().prod(x, axis=_axes(axis, x.ndim), keepdims=keep_dims)


def _all(x, axis, keep_dims):
    return xp().all(x, axis=_axes(axis, x.ndim), keepdims=keep_dims)


def _any(x, axis, keep_dims):
    return xp().any(x, axis=_axes(axis, x.ndim), keepdims=keep_dims)


def _extremum_mask(x, out, axis, keep_dims):
    m = xp()
    axes = _axes(axis, x.ndim)
    if not keep_dims:
        out = out.reshape(keep_dims_shape(x.shape, axes))
    hit = x == out
    count = m.sum(hit, axis=axes, keepdims=True)
    dt = x.dtype if x.dtype.kind == "f" else np.float32
    return hit.astype(dt) / count.astype(dt)


def _prod_except_self(x, axis):
    m = xp()
    axes = norm_axes(axis, x.ndim)
    if x.size == 0:
        return m.ones_like(x)
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    moved = m.transpose(x, rest + axes)
    groups = moved.reshape(-1, _reduced_count(x.shape, axes))
    k = groups.shape[1]
    out = m.ones_like(groups)
    if k > 1:
        out[:, 1:] = m.cumprod(groups[:, :-1], axis=1)
        out[:, :-1] *= m.ascontiguousarray(m.cumprod(groups[:, :0:-1], axis=1)[:, ::-1])
    return m.transpose(out.reshape(moved.shape), tuple(int(i) for i in np.argsort(rest + axes)))


def _arg(name):
    def kernel(x, axis, keep_dims, output_type):
        fn = getattr(xp(), name)
        if axis is None:
            return fn(x).astype(output_type.np)
        if x.ndim == 0:
            return fn(x).astype(output_type.np)
        out = fn(x, axis=axis)
        if keep_dims:
            out = xp().expand_dims(out, axis % x.ndim)
        return out.astype(output_type.np)
    return kernel


KERNELS = {"sum": _sum, "mean": _mean, "max": _max, "min": _min, "prod": _prod, "all": _all, "any": _any,
           "extremum_mask": _extremum_mask, "prod_except_self": _prod_except_self,
           "argmax": _arg("argmax"), "argmin": _arg("argmin")}
