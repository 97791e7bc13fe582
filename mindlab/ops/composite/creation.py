"""creation composites (see package docstring): tensors made from arguments (``arange``, ``linspace``, ``eye``,
``full_like``, ``meshgrid``) and from the diagonal structure of a tensor (``tril``, ``triu``, ``diag``,
``diagonal``, ``trace``). Constant masks and index arrays are built with numpy from shapes only, so every op
compiles in GRAPH_MODE; the ones that read a tensor differentiate through ``select`` / ``gather``."""
import math
import numbers

import numpy as np

from ... import dtype as mdt
from ...errors import ShapeError, where
from ...tensor import Tensor
from ..abstract import broadcast_shapes
from ..dispatch import describe
from .._api import as_tensor
from ..prims.array_ops import reshape, transpose, concat, broadcast_to, zeros_like, full, zeros
from ..prims.index_ops import gather
from ..prims.logic_ops import select
from ..prims.reduce_ops import sum as _sum

__all__ = ["arange", "linspace", "eye", "full_like", "tril", "triu", "diag", "diagonal", "meshgrid", "trace"]


# ---------------------------------------------------------------- helpers shared by the composite modules
def _error(op, message, tensors=(), kind=ValueError):
    """A user error worded like the dispatcher's: op, message, the input tensors (if any), the user's line."""
    inputs = f" Inputs: ({describe(tensors)})." if tensors else ""
    return kind(f"{op}: {message}.{inputs}{where()}")


def _is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _int_arg(op, name, v, tensors=(), minimum=None):
    """``v`` as a Python int; TypeError when it is not an int, ValueError when below ``minimum``."""
    if not _is_int(v):
        raise _error(op, f"{name} must be an int, got {type(v).__name__} ({v!r:.60})", tensors, TypeError)
    if minimum is not None and v < minimum:
        raise _error(op, f"{name} must be >= {minimum}, got {v}", tensors)
    return int(v)


def _axis(op, axis, ndim, tensors, name="dim"):
    """One axis normalised into [0, ndim) (a 0-d tensor takes -1 and 0, like PyTorch); clear errors otherwise."""
    if not _is_int(axis):
        raise _error(op, f"{name} must be an int, got {type(axis).__name__} ({axis!r:.60})", tensors, TypeError)
    hi = max(ndim, 1)
    if not -hi <= axis < hi:
        raise _error(op, f"{name} {axis} is out of range [{-hi}, {hi - 1}] for a tensor of rank {ndim}", tensors)
    return int(axis) % hi


def _axes(op, axes, ndim, tensors, name="dims"):
    """An int or a sequence of ints as a tuple of distinct normalised axes (in the order given)."""
    seq = (axes,) if _is_int(axes) else axes
    if not isinstance(seq, (tuple, list)):
        raise _error(op, f"{name} must be an int or a tuple of ints, got {type(axes).__name__} ({axes!r:.60})",
                     tensors, TypeError)
    out = tuple(_axis(op, a, ndim, tensors, name) for a in seq)
    if len(set(out)) != len(out):
        raise _error(op, f"{name} {tuple(seq)} repeats an axis", tensors)
    return out


def _broadcast(*shapes):
    """The numpy broadcast of ``shapes``, or None when they do not broadcast (no try/except in the public
    functions: ``ms.jit`` parses them when given one directly)."""
    try:
        return broadcast_shapes(*shapes)
    except ShapeError:
        return None


def _constant(make, *args, **kwargs):
    """``Tensor(make(*args, **kwargs))``: a constant built with numpy. (numpy's Python functions are called here,
    inside mindlab, not from a public function's body, which ``ms.jit`` parses when given the function itself.)"""
    return Tensor(np.asarray(make(*args, **kwargs)))


def _permuted(x, perm):
    """``transpose(x, perm)``, skipped when ``perm`` keeps every axis in place."""
    perm = tuple(perm)
    return x if perm == tuple(range(x.ndim)) else transpose(x, perm)


def _dtype(op, dtype, default):
    if dtype is None:
        return default
    try:
        return mdt.to_type(dtype)
    except (TypeError, KeyError):
        raise _error(op, f"dtype must be a mindlab dtype (e.g. mindlab.float32), got {dtype!r}",
                     kind=TypeError) from None


def _number(op, name, v):
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Real, np.integer, np.floating)):
        raise _error(op, f"{name} must be a real number, got {type(v).__name__} ({v!r:.60})", kind=TypeError)
    return v.item() if isinstance(v, np.generic) else v


# ---------------------------------------------------------------- arange / linspace / eye / full_like
def arange(start, end=None, step=1, dtype=None):
    """The numbers ``start, start + step, ...`` up to (not including) ``end``; ``arange(n)`` counts 0..n-1
    (``torch.arange`` / ``mindspore.ops.arange``). ``start``, ``end``, ``step`` are Python numbers; the dtype is
    int64 when all three are ints, float32 otherwise, unless ``dtype`` is given. Not differentiable."""
    if end is None:
        start, end = 0, start
    start, end, step = (_number("arange", n, v) for n, v in (("start", start), ("end", end), ("step", step)))
    if step == 0:
        raise _error("arange", f"step must be nonzero, got start={start}, end={end}, step={step}")
    if (end - start) * step < 0:
        raise _error("arange", f"the sign of step={step} does not lead from start={start} to end={end}")
    is_int = all(_is_int(v) for v in (start, end, step))
    dt = _dtype("arange", dtype, mdt.int64 if is_int else mdt.float32)
    n = max(0, (end - start + step - (1 if step > 0 else -1)) // step) if is_int else \
        max(0, math.ceil((end - start) / step))
    values = start + np.arange(n, dtype=np.int64 if is_int else np.float64) * step
    return Tensor(values.astype(dt.np))


def linspace(start, end, steps, dtype=None):
    """``steps`` evenly spaced numbers from ``start`` to ``end``, both included (``torch.linspace`` /
    ``mindspore.ops.linspace``); float32 unless ``dtype`` is given. Not differentiable."""
    start, end = _number("linspace", "start", start), _number("linspace", "end", end)
    steps = _int_arg("linspace", "steps", steps, minimum=0)
    dt = _dtype("linspace", dtype, mdt.float32)
    return _constant(np.linspace, start, end, steps, dtype=np.float64).astype(dt)


def eye(n, m=None, dtype=None):
    """The ``n`` x ``m`` (default ``n`` x ``n``) matrix with ones on the diagonal and zeros elsewhere
    (``torch.eye`` / ``mindspore.ops.eye``); float32 unless ``dtype`` is given. Not differentiable."""
    n = _int_arg("eye", "n", n, minimum=0)
    m = n if m is None else _int_arg("eye", "m", m, minimum=0)
    return _constant(np.eye, n, m, dtype=_dtype("eye", dtype, mdt.float32).np)


def full_like(input, fill_value, dtype=None):
    """A tensor of ``input``'s shape filled with ``fill_value``, of ``input``'s dtype unless ``dtype`` is given
    (``torch.full_like`` / ``mindspore.ops.full_like``). Not differentiable."""
    x = as_tensor(input)
    return full(x.shape, fill_value, dtype=_dtype("full_like", dtype, x.dtype))


# ---------------------------------------------------------------- tril / triu
def _triangle(op, input, diagonal, lower):
    x = as_tensor(input)
    if x.ndim < 2:
        raise _error(op, f"the input must have rank >= 2 (matrices in its last two dims), got shape "
                     f"{list(x.shape)}", [x])
    k = _int_arg(op, "diagonal", diagonal, [x])
    ones = np.ones(x.shape[-2:], dtype=bool)
    mask = np.tril(ones, k) if lower else np.triu(ones, k)
    return select(Tensor(mask), x, zeros_like(x))


def tril(input, diagonal=0):
    """The lower triangle of the matrices in the last two dims of ``input`` (batched): entries (i, j) with
    ``j - i <= diagonal`` kept, the rest zero (``torch.tril`` / ``mindspore.ops.tril``). Gradients flow to the kept
    entries."""
    return _triangle("tril", input, diagonal, True)


def triu(input, diagonal=0):
    """The upper triangle of the matrices in the last two dims of ``input`` (batched): entries (i, j) with
    ``j - i >= diagonal`` kept, the rest zero (``torch.triu`` / ``mindspore.ops.triu``)."""
    return _triangle("triu", input, diagonal, False)


# ---------------------------------------------------------------- diagonal / diag / trace
def _diagonal(op, x, offset, dim1, dim2):
    if x.ndim < 2:
        raise _error(op, f"the input must have rank >= 2, got shape {list(x.shape)}", [x])
    k = _int_arg(op, "offset", offset, [x])
    d1, d2 = _axis(op, dim1, x.ndim, [x], "dim1"), _axis(op, dim2, x.ndim, [x], "dim2")
    if d1 == d2:
        raise _error(op, f"dim1 and dim2 must be different axes, got {dim1} and {dim2}", [x])
    rest = tuple(a for a in range(x.ndim) if a not in (d1, d2))
    y = _permuted(x, rest + (d1, d2))
    r, c = x.shape[d1], x.shape[d2]
    n = max(0, min(r, c - k) if k >= 0 else min(r + k, c))
    rows = np.arange(n, dtype=np.int64) + max(-k, 0)
    flat = rows * c + rows + k   # position of (row, row + k) in the flattened (r, c) matrix
    return gather(reshape(y, y.shape[:-2] + (r * c,)), Tensor(flat), len(rest))


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of ``input`` in the plane of dims ``dim1``, ``dim2`` (``offset`` > 0: above the main diagonal,
    < 0: below) as a new last dim; the other dims are kept in order (``torch.diagonal`` /
    ``mindspore.ops.diagonal``; numpy's ``diagonal``). Gradients scatter back to the diagonal."""
    return _diagonal("diagonal", as_tensor(input), offset, dim1, dim2)


def diag(input, diagonal=0):
    """A 1-D ``input`` of length n becomes the (n + |diagonal|)-square matrix with it on the ``diagonal``-th
    diagonal (zeros elsewhere); a 2-D ``input`` gives its ``diagonal``-th diagonal as a 1-D tensor
    (``torch.diag`` / numpy's ``diag``). Differentiable both ways."""
    x = as_tensor(input)
    if x.ndim == 2:
        return _diagonal("diag", x, diagonal, 0, 1)
    if x.ndim != 1:
        raise _error("diag", f"the input must be 1-D or 2-D, got shape {list(x.shape)}", [x])
    k = _int_arg("diag", "diagonal", diagonal, [x])
    return gather(concat((x, zeros((1,), x.dtype))), _diag_index(x.shape[0], k), 0)


def _diag_index(n, k):
    """(n + |k|)-square int64 Tensor: i at the i-th entry of diagonal k, n (a zero appended to the vector)
    elsewhere."""
    m = n + abs(k)
    idx = np.full((m, m), n, dtype=np.int64)
    i = np.arange(n)
    idx[i + max(-k, 0), i + max(k, 0)] = i
    return Tensor(idx)


def trace(input):
    """The sum of the main diagonal of a 2-D ``input`` (``torch.trace`` / ``mindspore.ops.trace``), a 0-d
    tensor."""
    x = as_tensor(input)
    if x.ndim != 2:
        raise _error("trace", f"the input must be 2-D, got shape {list(x.shape)}", [x])
    return _sum(_diagonal("trace", x, 0, 0, 1))


# ---------------------------------------------------------------- meshgrid
def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors (given one by one or as one list): output k holds ``tensors[k]`` along
    dim k, broadcast over the grid of shape ``(len(t0), len(t1), ...)`` with ``indexing="ij"``; ``"xy"`` swaps the
    first two dims (``torch.meshgrid`` / ``mindspore.ops.meshgrid``). Returns a tuple; gradients sum over the
    broadcast dims."""
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    ts = [as_tensor(t) for t in tensors]
    if not ts:
        raise _error("meshgrid", "needs at least one tensor", kind=TypeError)
    if indexing not in ("ij", "xy"):
        raise _error("meshgrid", f"indexing must be 'ij' or 'xy', got {indexing!r}", ts)
    if any(t.ndim > 1 for t in ts):
        raise _error("meshgrid", f"every tensor must be 0-D or 1-D, got shapes {[list(t.shape) for t in ts]}", ts)
    ts = [reshape(t, (-1,)) if t.ndim == 0 else t for t in ts]
    dims = list(range(len(ts)))
    if indexing == "xy" and len(ts) > 1:
        dims[0], dims[1] = 1, 0
    shape = [0] * len(ts)
    for t, d in zip(ts, dims):
        shape[d] = t.shape[0]
    out = []
    for t, d in zip(ts, dims):
        view = [1] * len(ts)
        view[d] = -1
        out.append(broadcast_to(reshape(t, tuple(view)), tuple(shape)))
    return tuple(out)
