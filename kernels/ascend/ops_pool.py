"""Pooling on Ascend, forward and backward, from gathers and row kernels (no scatter).

A window gather (MTE; the index map comes from the tiling function, -1 where the window leaves the input) lays
every output position's window out as a row; the forward is a row ReduceMax / ReduceSum. The backward spreads
each window's gradient over a row (a one-hot at the window's ArgMax for max pooling, 1/count for average
pooling; Vector) and sums, for every input cell, the row entries that came from it — col2im as a gather through
the inverse index map followed by a row ReduceSum, so overlapping windows add up without a scatter.
"""
import functools

import numpy as np

from .k_move import gather, broadcast
from .k_rows import reduce_rows
from .k_vector import elementwise
from .sim import op_scope

__all__ = ["max_pool", "avg_pool", "max_pool_grad", "max_pool_grad_grad", "avg_pool_grad", "inverse_map"]


@functools.lru_cache(maxsize=128)
def _windows(n, c, h, w, kernel, stride, pad):
    kh, kw = kernel
    oh = (h + pad[0] + pad[1] - kh) // stride[0] + 1
    ow = (w + pad[2] + pad[3] - kw) // stride[1] + 1
    N, C, OH, OW, I, J = np.ix_(np.arange(n), np.arange(c), np.arange(oh), np.arange(ow), np.arange(kh),
                                np.arange(kw))
    ih, iw = OH * stride[0] - pad[0] + I, OW * stride[1] - pad[2] + J
    ok = (ih >= 0) & (ih < h) & (iw >= 0) & (iw < w)
    idx = np.where(ok, ((N * c + C) * h + ih) * w + iw, -1).reshape(-1, kh * kw)
    return idx, (oh, ow)


def inverse_map(fwd, size):
    """For each of ``size`` targets, the flat positions p with fwd.flat[p] == target (-1 padded): (size, kmax)."""
    f = np.asarray(fwd).reshape(-1)
    src = np.nonzero(f >= 0)[0]
    tgt = f[src]
    order = np.argsort(tgt, kind="stable")
    tgt, src = tgt[order], src[order]
    counts = np.bincount(tgt, minlength=size)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    inv = np.full((size, max(int(counts.max()) if counts.size else 1, 1)), -1, np.int64)
    inv[tgt, np.arange(tgt.size) - starts[tgt]] = src
    return inv


@functools.lru_cache(maxsize=128)
def _inverse(n, c, h, w, kernel, stride, pad):
    idx, _ = _windows(n, c, h, w, kernel, stride, pad)
    return inverse_map(idx, n * c * h * w)


def _geo(x_shape, kernel, stride, pad):
    return tuple(x_shape), tuple(kernel), tuple(stride), tuple(pad)


def max_pool(x, kernel, stride, pad):
    (n, c, h, w), kernel, stride, pad = _geo(x.shape, kernel, stride, pad)
    idx, (oh, ow) = _windows(n, c, h, w, kernel, stride, pad)
    with op_scope("max_pool"):
        win = gather("Img2Col(window)", [x], idx, idx.shape, fill=-np.inf)
        return reduce_rows(win, "max").reshape(n, c, oh, ow)


def _counts(idx, kernel, count_include_pad, dtype):
    """Window divisors (tiling data: they depend on shapes only)."""
    if count_include_pad:
        return np.full(idx.shape[0], kernel[0] * kernel[1], dtype)
    return np.maximum((idx >= 0).sum(1), 1).astype(dtype)


def avg_pool(x, kernel, stride, pad, count_include_pad):
    (n, c, h, w), kernel, stride, pad = _geo(x.shape, kernel, stride, pad)
    idx, (oh, ow) = _windows(n, c, h, w, kernel, stride, pad)
    with op_scope("avg_pool"):
        win = gather("Img2Col(window)", [x], idx, idx.shape)
        s = reduce_rows(win, "sum")
        out = elementwise("Div", np.divide, [s, _counts(idx, kernel, count_include_pad, x.dtype)],
                          ["full", "full"], [x.dtype], s.shape, 4)
        return out.reshape(n, c, oh, ow)


def _onehot_rows(values, am, k, dtype):
    """(rows, k): values[r] at column am[r], 0 elsewhere (Vector: compare a column iota with each row's index)."""
    rows = values.size
    v = broadcast(np.ascontiguousarray(values, dtype).reshape(rows, 1), (rows, k))
    a = broadcast(np.ascontiguousarray(am, np.int32).reshape(rows, 1), (rows, k))
    return elementwise("Select(OneHot)", lambda vv, aa, i: np.where(aa == i, vv, 0).astype(dtype),
                       [v, a, np.arange(k, dtype=np.int32)], ["full", "full", "row"], [np.dtype(dtype)], (rows, k),
                       2, row=k)


def _col2im(contrib, n, c, h, w, kernel, stride, pad, dtype):
    inv = _inverse(n, c, h, w, kernel, stride, pad)
    g = gather("Col2Img(gather)", [contrib], inv, inv.shape, dtype=dtype)
    return reduce_rows(g, "sum").reshape(n, c, h, w)


def max_pool_grad(x, dout, kernel, stride, pad):
    (n, c, h, w), kernel, stride, pad = _geo(x.shape, kernel, stride, pad)
    idx, _ = _windows(n, c, h, w, kernel, stride, pad)
    k = idx.shape[1]
    with op_scope("max_pool_grad"):
        win = gather("Img2Col(window)", [x], idx, idx.shape, fill=-np.inf)
        am = reduce_rows(win, "argmax", np.int32)
        contrib = _onehot_rows(dout.reshape(-1), am, k, dout.dtype)
        return _col2im(contrib, n, c, h, w, kernel, stride, pad, dout.dtype)


def max_pool_grad_grad(x, g, kernel, stride, pad):
    (n, c, h, w), kernel, stride, pad = _geo(x.shape, kernel, stride, pad)
    idx, (oh, ow) = _windows(n, c, h, w, kernel, stride, pad)
    k = idx.shape[1]
    with op_scope("max_pool_grad_grad"):
        am = reduce_rows(gather("Img2Col(window)", [x], idx, idx.shape, fill=-np.inf), "argmax", np.int32)
        gw = gather("Img2Col(window)", [g], idx, idx.shape)
        a = broadcast(am.reshape(-1, 1), idx.shape)
        picked = elementwise("Select(OneHot)", lambda v, aa, i: np.where(aa == i, v, 0).astype(g.dtype),
                             [gw, a, np.arange(k, dtype=np.int32)], ["full", "full", "row"], [g.dtype], idx.shape,
                             2, row=k)
        return reduce_rows(picked, "sum").reshape(n, c, oh, ow)


def avg_pool_grad(dout, input_size, kernel, stride, pad, count_include_pad):
    (n, c, h, w), kernel, stride, pad = _geo(input_size, kernel, stride, pad)
    idx, _ = _windows(n, c, h, w, kernel, stride, pad)
    k = idx.shape[1]
    with op_scope("avg_pool_grad"):
        per = elementwise("Div", np.divide, [np.ascontiguousarray(dout).reshape(-1),
                                             _counts(idx, kernel, count_include_pad, dout.dtype)],
                          ["full", "full"], [dout.dtype], (idx.shape[0],), 4)
        contrib = broadcast(per.reshape(-1, 1), idx.shape)
        return _col2im(contrib, n, c, h, w, kernel, stride, pad, dout.dtype)
