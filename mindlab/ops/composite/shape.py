"""shape composites (see package docstring): PyTorch's view/reorder functions (``unsqueeze``, ``permute``,
``movedim``, ``flip``, ``roll``, ``narrow``, ``chunk``, ``repeat_interleave``, ``unflatten``...) and element-wise
gathering (``gather_elements`` / ``take_along_axis``, ``masked_fill``), each a few reshapes, transposes, slices,
concats or one gather from the flattened tensor at constant-plus-index positions."""
import math

import numpy as np

from ... import dtype as mdt
from ...tensor import Tensor
from .._api import as_tensor
from ..prims.array_ops import reshape, expand_dims, concat, broadcast_to, split
from ..prims.index_ops import gather, tensor_getitem, _lo_hi
from ..prims.logic_ops import select, less, cast
from ..prims.math_ops import add, mul
from .creation import _error, _is_int, _int_arg, _axis, _axes, _permuted, _broadcast, _constant

__all__ = ["unsqueeze", "permute", "swapaxes", "swapdims", "movedim", "flip", "roll", "narrow", "chunk",
           "repeat_interleave", "unflatten", "view_as", "reshape_as", "expand_as", "gather_elements",
           "take_along_axis", "masked_fill"]


def _slice_along(x, axis, start, stop, step=1):
    """``x[..., start:stop:step, ...]`` with the slice at ``axis``."""
    return tensor_getitem(x, (slice(None),) * axis + (slice(start, stop, step),))


# ---------------------------------------------------------------- unsqueeze / permute / swapaxes / movedim
def unsqueeze(input, dim):
    """``input`` with a new dim of size 1 at ``dim`` (in [-rank-1, rank]) (``torch.unsqueeze`` /
    ``mindspore.ops.unsqueeze``; ``expand_dims``)."""
    x = as_tensor(input)
    if not _is_int(dim):
        raise _error("unsqueeze", f"dim must be an int, got {type(dim).__name__} ({dim!r:.60})", [x], TypeError)
    if not -x.ndim - 1 <= dim <= x.ndim:
        raise _error("unsqueeze", f"dim {dim} is out of range [{-x.ndim - 1}, {x.ndim}] for a tensor of rank "
                     f"{x.ndim}", [x])
    return expand_dims(x, int(dim))


def permute(input, *dims):
    """``input`` with its dims reordered: output dim i is input dim ``dims[i]``; the dims may be given one by one
    or as one tuple (``torch.permute`` / ``mindspore.ops.permute``; ``transpose``)."""
    x = as_tensor(input)
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    perm = _axes("permute", dims, x.ndim, [x])
    if len(perm) != x.ndim:
        raise _error("permute", f"dims {tuple(dims)} must name each of the {x.ndim} dims of a tensor of shape "
                     f"{list(x.shape)} once", [x])
    return _permuted(x, perm)


def swapaxes(input, axis0, axis1):
    """``input`` with dims ``axis0`` and ``axis1`` exchanged (``torch.swapaxes`` / ``torch.swapdims`` /
    ``mindspore.ops.swapaxes``)."""
    x = as_tensor(input)
    a, b = _axis("swapaxes", axis0, x.ndim, [x], "axis0"), _axis("swapaxes", axis1, x.ndim, [x], "axis1")
    perm = list(range(x.ndim))
    perm[a], perm[b] = b, a
    return _permuted(x, perm)


swapdims = swapaxes


def movedim(input, source, destination):
    """``input`` with the dims ``source`` (an int or a tuple) moved to positions ``destination`` (the same
    length), the other dims keeping their order (``torch.movedim`` / ``mindspore.ops.movedim``;
    ``numpy.moveaxis``)."""
    x = as_tensor(input)
    src = _axes("movedim", source, x.ndim, [x], "source")
    dst = _axes("movedim", destination, x.ndim, [x], "destination")
    if len(src) != len(dst):
        raise _error("movedim", f"source {source} and destination {destination} must have the same length", [x])
    order = [a for a in range(x.ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return _permuted(x, order)


# ---------------------------------------------------------------- flip / roll / narrow / chunk
def flip(input, dims):
    """``input`` with the order of its entries reversed along each of ``dims`` (an int or a tuple; None: every
    dim) (``torch.flip`` / ``mindspore.ops.flip``; ``numpy.flip``)."""
    x = as_tensor(input)
    axes = tuple(range(x.ndim)) if dims is None else _axes("flip", dims, x.ndim, [x])
    if x.ndim == 0 or not axes:
        return x
    return tensor_getitem(x, tuple(slice(None, None, -1) if a in axes else slice(None) for a in range(x.ndim)))


def roll(input, shifts, dims=None):
    """``input`` with its entries shifted by ``shifts`` along ``dims`` (ints or tuples of equal length), those
    pushed past the end coming back at the start; with ``dims=None`` the tensor is rolled flattened and keeps its
    shape (``torch.roll`` / ``mindspore.ops.roll``; ``numpy.roll``)."""
    x = as_tensor(input)
    sh = (shifts,) if _is_int(shifts) else shifts
    if not isinstance(sh, (tuple, list)) or not all(_is_int(s) for s in sh):
        raise _error("roll", f"shifts must be an int or a tuple of ints, got {shifts!r:.60}", [x], TypeError)
    if dims is None:
        if len(sh) != 1:
            raise _error("roll", f"with dims=None shifts must be one int, got {tuple(sh)}", [x])
        return reshape(roll(reshape(x, (-1,)), sh, 0), x.shape)
    ds = (dims,) if _is_int(dims) else dims
    if not isinstance(ds, (tuple, list)):
        raise _error("roll", f"dims must be an int or a tuple of ints, got {dims!r:.60}", [x], TypeError)
    ds = [_axis("roll", d, x.ndim, [x]) for d in ds]
    if len(ds) != len(sh):
        raise _error("roll", f"shifts {tuple(sh)} and dims {tuple(ds)} must have the same "
                     f"length", [x])
    if x.ndim == 0:
        return x
    for s, d in zip(sh, ds):
        n = x.shape[d]
        s = int(s) % n if n else 0
        if s:
            x = concat((_slice_along(x, d, n - s, n), _slice_along(x, d, 0, n - s)), d)
    return x


def narrow(input, dim, start, length):
    """The ``length`` entries of ``input`` from ``start`` along ``dim`` (``start`` < 0 counts from the end)
    (``torch.narrow`` / ``mindspore.ops.narrow``)."""
    x = as_tensor(input)
    if x.ndim == 0:
        raise _error("narrow", "the input must have rank >= 1", [x])
    d = _axis("narrow", dim, x.ndim, [x])
    n = x.shape[d]
    start = _int_arg("narrow", "start", start, [x])
    length = _int_arg("narrow", "length", length, [x], minimum=0)
    if not -n <= start <= n:
        raise _error("narrow", f"start {start} is out of range [{-n}, {n}] for dim {dim} of size {n}", [x])
    if start < 0:
        start += n
    if start + length > n:
        raise _error("narrow", f"start {start} + length {length} exceeds the size {n} of dim {dim}", [x])
    return _slice_along(x, d, start, start + length)


def chunk(input, chunks, dim=0):
    """``input`` cut along ``dim`` into pieces of ``ceil(size / chunks)`` entries, the last one possibly smaller
    (so there may be fewer than ``chunks`` pieces), as a tuple (``torch.chunk`` / ``mindspore.ops.chunk``)."""
    x = as_tensor(input)
    if x.ndim == 0:
        raise _error("chunk", "the input must have rank >= 1", [x])
    chunks = _int_arg("chunk", "chunks", chunks, [x], minimum=1)
    d = _axis("chunk", dim, x.ndim, [x])
    n = x.shape[d]
    if n == 0:
        return tuple(split(x, [0] * chunks, d))
    return tuple(split(x, -(-n // chunks), d))


def repeat_interleave(input, repeats, dim=None):
    """Each entry of ``input`` along ``dim`` repeated ``repeats`` times in a row (an int, or one int per entry);
    ``dim=None`` works on the flattened tensor (``torch.repeat_interleave`` / ``mindspore.ops.repeat_interleave``;
    ``numpy.repeat``). The gradient sums the copies."""
    x = as_tensor(input)
    if dim is None:
        x, d = reshape(x, (-1,)), 0
    else:
        d = _axis("repeat_interleave", dim, x.ndim, [x])
        if x.ndim == 0:
            x = reshape(x, (1,))
    n = x.shape[d]
    if _is_int(repeats):
        r = _int_arg("repeat_interleave", "repeats", repeats, [x], minimum=0)
        y = broadcast_to(expand_dims(x, d + 1), x.shape[:d + 1] + (r,) + x.shape[d + 1:])
        return reshape(y, x.shape[:d] + (n * r,) + x.shape[d + 1:])
    if isinstance(repeats, Tensor) or not isinstance(repeats, (tuple, list)) or \
            not all(_is_int(r) for r in repeats):
        raise _error("repeat_interleave", f"repeats must be an int or a tuple of ints (the output shape depends on "
                     f"them), got {type(repeats).__name__}", [x], TypeError)
    if len(repeats) != n or any(r < 0 for r in repeats):
        raise _error("repeat_interleave", f"repeats {tuple(repeats)} must hold {n} non-negative ints, one per entry "
                     f"of dim {d} of size {n}", [x])
    return gather(x, _constant(np.repeat, np.arange(n, dtype=np.int64), repeats), d)


# ---------------------------------------------------------------- unflatten / view_as / reshape_as / expand_as
def unflatten(input, dim, sizes):
    """``input`` with dim ``dim`` split into dims of ``sizes`` (a tuple of ints whose product is that dim's size;
    one may be -1) (``torch.unflatten`` / ``mindspore.ops.unflatten``)."""
    x = as_tensor(input)
    d = _axis("unflatten", dim, x.ndim, [x])
    if not isinstance(sizes, (tuple, list)) or not sizes or not all(_is_int(s) for s in sizes):
        raise _error("unflatten", f"sizes must be a non-empty tuple of ints, got {sizes!r:.60}", [x], TypeError)
    sizes = tuple(int(s) for s in sizes)
    n = x.shape[d]
    known = math.prod(s for s in sizes if s != -1)
    free = sizes.count(-1)
    if free > 1 or any(s < -1 for s in sizes) or (known != n if not free else (known == 0 or n % known)):
        raise _error("unflatten", f"sizes {sizes} do not split dim {dim} of size {n}", [x])
    if free:
        sizes = tuple(n // known if s == -1 else s for s in sizes)
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def _shape_of(op, other, x):
    if not hasattr(other, "shape"):
        raise _error(op, f"other must be a Tensor, got {type(other).__name__}", [x], TypeError)
    return tuple(other.shape)


def view_as(input, other):
    """``input`` reshaped to ``other``'s shape (the same number of entries) (``Tensor.view_as``)."""
    x = as_tensor(input)
    shape = _shape_of("view_as", other, x)
    if math.prod(shape) != x.size:
        raise _error("view_as", f"cannot view a tensor of shape {list(x.shape)} as shape {list(shape)}", [x])
    return reshape(x, shape)


def reshape_as(input, other):
    """``input`` reshaped to ``other``'s shape (``Tensor.reshape_as``)."""
    x = as_tensor(input)
    shape = _shape_of("reshape_as", other, x)
    if math.prod(shape) != x.size:
        raise _error("reshape_as", f"cannot reshape a tensor of shape {list(x.shape)} into shape {list(shape)}",
                     [x])
    return reshape(x, shape)


def expand_as(input, other):
    """``input`` broadcast to ``other``'s shape (``torch.Tensor.expand_as`` / ``mindspore.ops.expand_as``); the
    gradient sums over the broadcast dims."""
    x = as_tensor(input)
    shape = _shape_of("expand_as", other, x)
    if len(shape) < x.ndim or _broadcast(x.shape, shape) != shape:
        raise _error("expand_as", f"cannot broadcast shape {list(x.shape)} to {list(shape)}", [x])
    return broadcast_to(x, shape)


# ---------------------------------------------------------------- gather_elements / take_along_axis / masked_fill
def _gather_elements(op, x, d, idx):
    """``out[i...] = x[i... with dim d replaced by idx[i...]]`` as one gather from the flattened ``x``."""
    n = x.shape[d]
    if idx._data is not None and idx.size:   # (known values: PyNative, or a constant while compiling)
        lo, hi = _lo_hi(idx._data)
        if lo < -n or hi >= n:
            raise _error(op, f"index {lo if lo < -n else hi} is out of range [{-n}, {n}) for dim {d} of size {n}",
                         [x, idx])
    if idx.dtype.np.itemsize < 4 or x.size >= 2 ** 31:   # room for flat positions
        idx = cast(idx, mdt.int64)
    strides = [math.prod(x.shape[a + 1:]) for a in range(x.ndim)]
    grid = np.indices(idx.shape, dtype=idx.dtype.np)
    offsets = np.zeros(idx.shape, dtype=idx.dtype.np)
    for a in range(x.ndim):
        if a != d:
            offsets = offsets + grid[a] * strides[a]
    wrapped = select(less(idx, 0), add(idx, n), idx)
    flat = add(mul(wrapped, strides[d]), Tensor(offsets))
    return gather(reshape(x, (-1,)), flat, 0)


def gather_elements(input, dim, index):
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` for ``dim`` = 0 (and likewise for the other dims): entries
    of ``input`` picked along ``dim`` by the integer tensor ``index`` (same rank; no larger than ``input`` in the
    other dims; negative indices count from the end); the output has ``index``'s shape (``torch.gather`` /
    ``mindspore.ops.gather_elements``). The gradient scatter-adds into ``input``."""
    x = as_tensor(input)
    idx = index if isinstance(index, Tensor) else Tensor(np.asarray(index))
    if idx.dtype.kind != "i":
        raise _error("gather_elements", f"index must be an integer tensor, got {idx.dtype}", [x, idx], TypeError)
    d = _axis("gather_elements", dim, x.ndim, [x, idx])
    if x.ndim == 0 and idx.ndim == 0:   # a 0-d input and index: as 1-element vectors
        return reshape(_gather_elements("gather_elements", reshape(x, (1,)), 0, reshape(idx, (1,))), ())
    if idx.ndim != x.ndim or any(i > s for a, (i, s) in enumerate(zip(idx.shape, x.shape)) if a != d):
        raise _error("gather_elements", f"index of shape {list(idx.shape)} must have the rank of input "
                     f"{list(x.shape)} and be no larger outside dim {dim}", [x, idx])
    return _gather_elements("gather_elements", x, d, idx)


def take_along_axis(arr, indices, axis):
    """``numpy.take_along_axis``: entries of ``arr`` picked along ``axis`` by the integer tensor ``indices`` of
    the same rank, whose other dims broadcast with ``arr``'s (``axis=None``: the flattened ``arr`` and 1-D
    ``indices``). ``gather_elements`` with numpy's argument order and broadcasting."""
    x = as_tensor(arr)
    idx = indices if isinstance(indices, Tensor) else Tensor(np.asarray(indices))
    if idx.dtype.kind != "i":
        raise _error("take_along_axis", f"indices must be an integer tensor, got {idx.dtype}", [x, idx], TypeError)
    if axis is None:
        if idx.ndim != 1:
            raise _error("take_along_axis", f"with axis=None indices must be 1-D, got shape {list(idx.shape)}",
                         [x, idx])
        return _gather_elements("take_along_axis", reshape(x, (-1,)), 0, idx)
    if x.ndim == 0 or idx.ndim != x.ndim:
        raise _error("take_along_axis", f"indices of shape {list(idx.shape)} must have the rank of arr "
                     f"{list(x.shape)} (>= 1)", [x, idx])
    d = _axis("take_along_axis", axis, x.ndim, [x, idx], "axis")
    out = _broadcast(tuple(1 if a == d else s for a, s in enumerate(x.shape)),
                     tuple(1 if a == d else s for a, s in enumerate(idx.shape)))
    if out is None:
        raise _error("take_along_axis", f"the shapes of arr {list(x.shape)} and indices {list(idx.shape)} do not "
                     f"broadcast outside axis {axis}", [x, idx])
    xs, ids = list(out), list(out)
    xs[d], ids[d] = x.shape[d], idx.shape[d]
    if tuple(xs) != x.shape:
        x = broadcast_to(x, tuple(xs))
    if tuple(ids) != idx.shape:
        idx = broadcast_to(idx, tuple(ids))
    return _gather_elements("take_along_axis", x, d, idx)


def masked_fill(input, mask, value):
    """``input`` with ``value`` (a number or a 0-d tensor, cast to ``input``'s dtype) where the bool ``mask``
    (broadcast to ``input``'s shape) is True (``torch.masked_fill`` / ``mindspore.ops.masked_fill``). Gradients
    flow to ``input`` where the mask is False and to a tensor ``value`` where it is True."""
    x = as_tensor(input)
    m = mask if isinstance(mask, Tensor) else Tensor(np.asarray(mask))
    if m.dtype.kind != "b":
        raise _error("masked_fill", f"mask must be a bool tensor, got {m.dtype}", [x, m], TypeError)
    if _broadcast(m.shape, x.shape) != tuple(x.shape):
        raise _error("masked_fill", f"mask of shape {list(m.shape)} does not broadcast to the input's shape "
                     f"{list(x.shape)}", [x, m])
    v = value if isinstance(value, Tensor) else as_tensor(value, x)
    if v.ndim != 0:
        raise _error("masked_fill", f"value must be a number or a 0-d tensor, got shape {list(v.shape)}", [x, v])
    if v.dtype != x.dtype:
        v = cast(v, x.dtype)
    return select(m, v, x)
