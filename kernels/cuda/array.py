"""GPU kernels of the array primitives (shape changes, indexing, gather / scatter): cupy, numpy under the simulator.

Index checks (gather, gather_nd, scatter_nd, tensor_scatter_update, unsorted_segment_sum) read the min / max index
back — one counted sync — so a bad index raises a clear error, as on the CPU, instead of reading out of bounds.
Scatter-adds run as a numba-cuda kernel with atomic adds (``scatter.py``).
"""
import numpy as np

from ... import dtype as mdt
from ...ops.abstract import AbstractTensor
from ...ops.prims.array_ops import _broadcast_to_infer
from ...ops.prims.index_ops import _np_index, _ss_index, _fit_value_shape
from .runtime import xp, check_range
from .scatter import segment_sum


def _broadcast_to(x, shape):
    out = _broadcast_to_infer(AbstractTensor(x.shape, mdt.from_np(x.dtype)), shape).shape
    return xp().array(xp().broadcast_to(x, out))


def _getitem(x, index):
    return x[_np_index(index)]


def _getitem_grad(dout, shape, index):
    out = xp().zeros(shape, dtype=dout.dtype)
    out[_np_index(index)] = dout
    return out


def _setitem(x, value, index):
    out = x.copy()
    target = out[_np_index(index)]
    if isinstance(value, np.generic):     # a scalar taken by value
        target[...] = value
    else:
        target[...] = value.reshape(_fit_value_shape(value.shape, target.shape, index))
    return out


def _strided_slice(x, begin, end, strides, masks):
    return x[_np_index(_ss_index(begin, end, strides, masks))]


def _split(x, axis, sizes):
    m = xp()
    bounds = [int(b) for b in np.cumsum(sizes)[:-1]]
    return tuple(m.ascontiguousarray(p) for p in m.split(x, bounds, axis=axis))


def _gather(params, indices, axis):
    a = axis % params.ndim
    check_range("gather", indices, params.shape[a], f"an index into axis {a} of input_params with shape "
                                                     f"{list(params.shape)}:")
    return xp().take(params, indices, axis=a)


def _segment(data, ids, num_segments):
    check_range("unsorted_segment_sum", ids, num_segments, "segment id")
    rest = data.shape[ids.ndim:]
    width = int(np.prod(rest))
    out = segment_sum(data.reshape(ids.size, width), ids.reshape(-1), num_segments)
    return out.reshape((num_segments,) + rest)


def _positions(op, indices, shape):
    k = indices.shape[-1]
    cols = tuple(xp().moveaxis(indices, -1, 0)) if k else ()
    for j, c in enumerate(cols):
        check_range(op, c, shape[j], f"an index into dim {j} of shape {list(shape)}:")
    return cols


def _gather_nd(x, indices):
    cols = _positions("gather_nd", indices, x.shape)
    if not cols:
        return xp().array(xp().broadcast_to(x, indices.shape[:-1] + x.shape))
    return x[cols]


def _scatter_nd(indices, updates, shape):
    m = xp()
    cols = _positions("scatter_nd", indices, shape)
    k = len(cols)
    lead, rest = shape[:k], shape[k:]
    if k:
        flat = m.zeros(indices.shape[:-1], np.int64)
        for c, n in zip(cols, lead):
            flat = flat * n + c.astype(np.int64)
    else:
        flat = m.zeros(indices.shape[:-1], np.int64)
    width = int(np.prod(rest))
    out = segment_sum(updates.reshape(flat.size, width), flat.reshape(-1), int(np.prod(lead)))
    return out.reshape(shape)


def _scatter_update(x, indices, updates):
    out = x.copy()
    cols = _positions("tensor_scatter_update", indices, x.shape)
    out[cols if cols else (Ellipsis,)] = updates
    return out


def _one_hot(indices, on_value, off_value, depth, axis):
    m = xp()
    a = indices.ndim if axis == -1 else axis
    hot = m.expand_dims(indices, a) == m.arange(depth).reshape((depth,) + (1,) * (indices.ndim - a))
    return m.where(hot, on_value, off_value)


def _fill(dtype, shape, value):
    return xp().full(shape, value, dtype=dtype.np)


KERNELS = {
    "identity": lambda x: x, "stop_gradient": lambda x: x,
    "zeros_like": lambda x: xp().zeros_like(x), "ones_like": lambda x: xp().ones_like(x),
    "reshape": lambda x, shape: x.reshape(shape), "broadcast_to": _broadcast_to,
    "transpose": lambda x, perm: xp().transpose(x, perm),
    "expand_dims": lambda x, axis: xp().expand_dims(x, axis),
    "squeeze": lambda x, axis: xp().squeeze(x, axis=axis if axis else None),
    "tensor_getitem": _getitem, "tensor_getitem_grad": _getitem_grad, "tensor_setitem": _setitem,
    "strided_slice": _strided_slice,
    "concat": lambda *xs, axis: xp().concatenate(xs, axis=axis),
    "stack": lambda *xs, axis: xp().stack(xs, axis=axis),
    "split": _split, "gather": _gather, "unsorted_segment_sum": _segment, "gather_nd": _gather_nd,
    "scatter_nd": _scatter_nd, "tensor_scatter_update": _scatter_update, "one_hot": _one_hot,
    "tile": lambda x, dims: xp().tile(x, dims), "fill": _fill,
}
