"""Scatter-like primitives on Ascend without a scatter: each output element gathers the inputs that land on it
(the inverse index map, built by the host/Scalar unit from the indices) and a row ReduceSum adds duplicates; plus
one-hot and the max/min tie mask as Vector kernels.
"""
import numpy as np

from .k_move import gather, broadcast
from .k_rows import reduce_rows
from .k_vector import elementwise
from .ops_pool import inverse_map
from .sim import op_scope

__all__ = ["unsorted_segment_sum", "scatter_nd", "one_hot", "extremum_mask"]


def _scatter_add_rows(name, data2, target_rows, num_rows):
    """(num_rows, d): out[s] = sum of data2[i] over i with target_rows[i] == s."""
    n, d = data2.shape
    inv = inverse_map(target_rows, num_rows)                               # (num_rows, kmax) row positions
    idx = np.where(inv[:, None, :] >= 0, inv[:, None, :] * d + np.arange(d)[None, :, None], -1)
    g = gather(f"{name}(gather)", [data2], idx.reshape(num_rows * d, -1), (num_rows * d, idx.shape[-1]))
    return reduce_rows(g, "sum").reshape(num_rows, d)


def unsorted_segment_sum(data, ids, num_segments):
    from mindlab.ops.prims.index_ops import _check_index_range
    _check_index_range("unsorted_segment_sum", ids, num_segments, "segment id")
    rest = data.shape[ids.ndim:]
    d = int(np.prod(rest, dtype=np.int64))
    with op_scope("unsorted_segment_sum"):
        out = _scatter_add_rows("UnsortedSegmentSum", np.ascontiguousarray(data).reshape(ids.size, d),
                                ids.reshape(-1).astype(np.int64), num_segments)
    return out.reshape((num_segments,) + rest)


def scatter_nd(indices, updates, shape):
    from mindlab.ops.prims.index_ops import _nd_positions
    shape = tuple(shape)
    cols = _nd_positions("scatter_nd", indices, shape)
    k = len(cols)
    lead, rest = shape[:k], shape[k:]
    flat = np.ravel_multi_index(cols, lead) if k else np.zeros(indices.shape[:-1], np.int64)
    d = int(np.prod(rest, dtype=np.int64))
    with op_scope("scatter_nd"):
        out = _scatter_add_rows("ScatterNd", np.ascontiguousarray(updates).reshape(flat.size, d),
                                flat.reshape(-1).astype(np.int64), int(np.prod(lead, dtype=np.int64)))
    return out.reshape(shape)


def one_hot(indices, on_value, off_value, depth, axis):
    """Vector: compare each index (broadcast along a row of ``depth``) with a column iota, select on/off."""
    dt = np.result_type(on_value, off_value)
    n = indices.size
    with op_scope("one_hot"):
        idx = broadcast(indices.astype(np.int32).reshape(n, 1), (n, depth))
        rows = elementwise("Select(OneHot)", lambda i, c, on, off: np.where(i == c, on, off).astype(dt),
                           [idx, np.arange(depth, dtype=np.int32), np.asarray(on_value, dt).reshape(1),
                            np.asarray(off_value, dt).reshape(1)], ["full", "row", "scalar", "scalar"], [dt],
                           (n, depth), 2, row=depth)
        a = indices.ndim if axis == -1 else axis
        out_shape = indices.shape[:a] + (depth,) + indices.shape[a:]
        if a == indices.ndim:
            return rows.reshape(out_shape)
        src = np.arange(rows.size, dtype=np.int64).reshape(indices.shape + (depth,))
        return gather("Transpose", [rows], np.moveaxis(src, -1, a), out_shape)


def extremum_mask(x, out, axis, keep_dims, reduce_sum):
    """hit = (x == max) as x's float type, divided by the number of hits in its reduced group: Vector compare,
    the registry's Ascend sum (keep dims), Vector divide."""
    from mindlab.ops.abstract import norm_axes
    axes = norm_axes(axis, x.ndim)
    kshape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
    dt = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    with op_scope("extremum_mask"):
        ob = broadcast(np.asarray(out).reshape(kshape), x.shape)
        hit = elementwise("Compare(eq)", lambda a, b: (a == b).astype(dt), [np.ascontiguousarray(x), ob],
                          ["full", "full"], [dt], x.shape, 2)
        count = reduce_sum(hit, axis=axes, keep_dims=True)
        return elementwise("Div", np.divide, [hit, broadcast(count, x.shape)], ["full", "full"], [dt], x.shape, 4)
