"""Reduction composites: variance and standard deviation, log-sum-exp, counting and cumulative sums."""
import numpy as np

from ... import dtype as mdt
from ...errors import where
from ...tensor import Tensor
from .._api import as_tensor, static_axis
from ..prims.math_ops import sub, mul, div, exp, log, sqrt, add
from ..prims.logic_ops import select, not_equal, cast, equal
from ..prims.reduce_ops import sum, mean, amax
from ..prims.array_ops import stop_gradient, transpose, squeeze, reshape
from ..prims.linalg_ops import matmul

__all__ = ["var", "std", "var_mean", "std_mean", "logsumexp", "count_nonzero", "cumsum"]


def _axes(x, axis, op):
    """``axis`` (None, an int or a tuple; negative allowed) as a sorted tuple of non-negative axes of ``x``."""
    axis = static_axis(axis)
    if axis is None or axis == ():
        return tuple(range(x.ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -max(x.ndim, 1) <= a < max(x.ndim, 1):
            raise ValueError(f"{op}: axis {axis!r} is out of range for an input of shape {list(x.shape)}.{where()}")
        out.append(int(a) % max(x.ndim, 1))
    return tuple(sorted(set(out)))


def _ddof(ddof, correction, unbiased, op):
    """The degrees-of-freedom correction from MindSpore's ``ddof`` or PyTorch's ``correction`` / ``unbiased``."""
    if correction is not None:
        ddof = correction
    elif unbiased is not None:
        ddof = 1 if unbiased else 0
    if isinstance(ddof, bool) or not isinstance(ddof, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: ddof must be a number, got {ddof!r}.{where()}")
    return ddof


def _variance(input, axis, ddof, keepdims, correction, unbiased, dim, keepdim, op):
    """(variance, input, reduced axes, keep) for ``op``'s arguments (see ``var``)."""
    x = as_tensor(input)
    axes = _axes(x, axis if dim is None else dim, op)
    keep = bool(keepdims if keepdim is None else keepdim)
    d = _ddof(ddof, correction, unbiased, op)
    n = int(np.prod([x.shape[a] for a in axes])) if x.ndim else 1
    centered = sub(x, mean(x, axes, keep_dims=True))
    v = div(sum(mul(centered, centered), axes, keep_dims=keep), float(n - d) if n - d > 0 else float("nan"))
    return v, x, axes, keep


def var(input, axis=None, ddof=0, keepdims=False, *, correction=None, unbiased=None, dim=None, keepdim=None):
    """Variance over ``axis`` (None: all): ``sum((x - mean)**2) / (N - ddof)``. ``ddof=0`` as in MindSpore and
    numpy; PyTorch's spellings work too (``correction=1`` / ``unbiased=True``, ``dim``, ``keepdim``)."""
    return _variance(input, axis, ddof, keepdims, correction, unbiased, dim, keepdim, "var")[0]


def std(input, axis=None, ddof=0, keepdims=False, *, correction=None, unbiased=None, dim=None, keepdim=None):
    """Standard deviation over ``axis``: ``sqrt(var(...))`` (see ``var`` for ``ddof`` and the PyTorch spellings)."""
    return sqrt(_variance(input, axis, ddof, keepdims, correction, unbiased, dim, keepdim, "std")[0])


def var_mean(input, axis=None, ddof=0, keepdims=False, *, correction=None, unbiased=None, dim=None, keepdim=None):
    """``(var, mean)`` over ``axis`` (see ``var``)."""
    v, x, axes, keep = _variance(input, axis, ddof, keepdims, correction, unbiased, dim, keepdim, "var_mean")
    return v, mean(x, axes, keep_dims=keep)


def std_mean(input, axis=None, ddof=0, keepdims=False, *, correction=None, unbiased=None, dim=None, keepdim=None):
    """``(std, mean)`` over ``axis`` (see ``var``)."""
    v, x, axes, keep = _variance(input, axis, ddof, keepdims, correction, unbiased, dim, keepdim, "std_mean")
    return sqrt(v), mean(x, axes, keep_dims=keep)


def logsumexp(input, axis=None, keepdims=False, *, dim=None, keepdim=None):
    """``log(sum(exp(input), axis))`` without overflow: the maximum is taken out first (``-inf`` rows give
    ``-inf``). Its gradient is ``softmax(input)`` along ``axis``."""
    x = as_tensor(input)
    if x.dtype.kind != "f":
        raise TypeError(f"logsumexp: the input must be floating point, got {x.dtype}{list(x.shape)}.{where()}")
    axes = _axes(x, axis if dim is None else dim, "logsumexp")
    keep = bool(keepdims if keepdim is None else keepdim)
    m = stop_gradient(amax(x, axes, keepdims=True))
    m = select(equal(m, -np.inf), 0.0, m)                    # an all -inf slice: exp(-inf - 0) = 0, log 0 = -inf
    out = add(log(sum(exp(sub(x, m)), axes, keep_dims=True)), m)
    return out if keep else squeeze(out, axes) if axes else out


def count_nonzero(input, axis=None, keepdims=False, *, dim=None):
    """The number of non-zero elements over ``axis`` (int64)."""
    x = as_tensor(input)
    axes = _axes(x, axis if dim is None else dim, "count_nonzero")
    return sum(cast(not_equal(x, 0), mdt.int64), axes, keep_dims=keepdims)


def cumsum(input, axis=None, dtype=None, *, dim=None):
    """Cumulative sum along ``axis`` (PyTorch's ``dim``): ``out[..., j, ...] = sum(input[..., :j+1, ...])``. Computed
    as one matrix product with a triangular matrix of ones (BLAS / cuBLAS; O(n^2) in the axis length); the gradient
    is the reversed cumulative sum. ``dtype`` casts the input first; integers and bools sum in int64."""
    x = as_tensor(input)
    axis = axis if dim is None else dim
    if axis is None:
        raise ValueError(f"cumsum: give the axis to accumulate along (axis= or dim=), got None.{where()}")
    if x.ndim == 0:
        return x
    (a,) = _axes(x, int(axis) if isinstance(axis, (int, np.integer)) else axis, "cumsum")
    if dtype is not None:
        x = cast(x, dtype)
    elif x.dtype.kind in "biu":
        x = cast(x, mdt.int64)
    n = x.shape[a]
    tri = Tensor(np.triu(np.ones((n, n), dtype=x.dtype.np)))        # tri[i, j] = 1 where i <= j
    perm = tuple(k for k in range(x.ndim) if k != a) + (a,)
    back = tuple(int(np.argsort(perm)[k]) for k in range(x.ndim))
    xt = transpose(x, perm)
    if x.size == 0:
        return x
    out = reshape(matmul(reshape(xt, (-1, n)), tri), xt.shape)
    return transpose(out, back)
