"""Softmax family on the GPU. Along the last axis with rows up to ``ROW_KERNEL_MAX`` long: numba-cuda row kernels
(one thread per row: max, exp-and-sum, scale in one pass each, float64 sums); longer rows and other axes use cupy
reductions. Sparse cross entropy (loss and fused gradient) is a row kernel too."""
import math

import numpy as np
from numba import cuda

from .runtime import xp, launch

ROW_KERNEL_MAX = 1024


@cuda.jit(device=True, inline=True)
def _max_expsum(x, out, r, n, store):
    """(max, sum of exp(x - max)) of row ``r`` — the shared first two passes of softmax and cross entropy; with
    ``store``, ``out[r, k] = exp(x[r, k] - max)``."""
    m = -math.inf
    for k in range(n):
        v = x[r, k]
        if v > m:           # max(m, v), written out (see kernels/cuda/pool.py's _window)
            m = v
    s = 0.0
    for k in range(n):
        e = math.exp(x[r, k] - m)
        s += e
        if store:
            out[r, k] = e
    return m, s


@cuda.jit(device=True, inline=True)
def _scale_row(out, r, n, f):
    for k in range(n):
        out[r, k] = out[r, k] * f


@cuda.jit
def _softmax_rows(x, out, rows, n, log):
    for r in range(cuda.grid(1), rows, cuda.gridsize(1)):
        m, s = _max_expsum(x, out, r, n, not log)
        if log:
            lse = m + math.log(s)
            for k in range(n):
                out[r, k] = x[r, k] - lse
        else:
            _scale_row(out, r, n, 1.0 / s)


@cuda.jit
def _softmax_grad_rows(y, dy, dx, rows, n, log):
    for r in range(cuda.grid(1), rows, cuda.gridsize(1)):
        s = 0.0
        if log:
            for k in range(n):
                s += dy[r, k]
            for k in range(n):
                dx[r, k] = dy[r, k] - math.exp(y[r, k]) * s
        else:
            for k in range(n):
                s += dy[r, k] * y[r, k]
            for k in range(n):
                dx[r, k] = y[r, k] * (dy[r, k] - s)


@cuda.jit
def _xent_rows(logits, labels, out, rows, c, grad):
    for r in range(cuda.grid(1), rows, cuda.gridsize(1)):
        m, s = _max_expsum(logits, out, r, c, grad)
        lab = labels[r]
        if grad:
            _scale_row(out, r, c, 1.0 / s)
            out[r, lab] -= 1.0
        else:
            out[r, 0] = m + math.log(s) - logits[r, lab]


def _rows(x, axis):
    if axis % x.ndim != x.ndim - 1 or x.size == 0 or x.shape[-1] > ROW_KERNEL_MAX:
        return None
    return xp().ascontiguousarray(x).reshape(-1, x.shape[-1])


def softmax(x, axis, log):
    if x.size == 0:          # an empty axis or batch: nothing to normalise (cupy's max has no identity)
        return xp().empty_like(x)
    rows = _rows(x, axis)
    if rows is not None:
        out = xp().empty_like(rows)
        launch(_softmax_rows, rows.shape[0], rows, out, rows.shape[0], rows.shape[1], log)
        return out.reshape(x.shape)
    m = xp()
    s = x - m.max(x, axis=axis, keepdims=True)
    if log:
        return s - m.log(m.sum(m.exp(s), axis=axis, keepdims=True))
    e = m.exp(s)
    return e / m.sum(e, axis=axis, keepdims=True)


def softmax_grad(y, dy, axis, log):
    if y.size == 0:
        return xp().empty_like(y)
    rows = _rows(y, axis)
    if rows is not None:
        d = xp().ascontiguousarray(dy).reshape(rows.shape)
        out = xp().empty_like(d)
        launch(_softmax_grad_rows, rows.shape[0], rows, d, out, rows.shape[0], rows.shape[1], log)
        return out.reshape(y.shape)
    m = xp()
    if log:
        return dy - m.exp(y) * m.sum(dy, axis=axis, keepdims=True)
    return y * (dy - m.sum(dy * y, axis=axis, keepdims=True))


def sparse_xent(logits, labels, grad):
    """Per-row cross entropy (N,), or with ``grad`` softmax - onehot (N, C); labels are range-checked by the
    caller."""
    m = xp()
    n, c = logits.shape
    if labels.dtype != np.int32 and labels.dtype != np.int64:
        labels = labels.astype(np.int64)
    logits = m.ascontiguousarray(logits)
    if c <= ROW_KERNEL_MAX:
        out = m.empty((n, c) if grad else (n, 1), logits.dtype)
        launch(_xent_rows, n, logits, m.ascontiguousarray(labels), out, n, c, grad)
        return out if grad else out.reshape(n)
    s = logits - m.max(logits, axis=1, keepdims=True)
    rows = m.arange(n)
    if grad:
        e = m.exp(s)
        e /= m.sum(e, axis=1, keepdims=True)
        e[rows, labels] -= 1
        return e
    return m.log(m.sum(m.exp(s), axis=1)) - s[rows, labels]
