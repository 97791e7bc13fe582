"""Softmax family: fused numba row kernels over the last axis, with numpy where numpy is faster.

The row kernels do one pass per stage (max, exp-and-sum, scale) instead of numpy's separate max / subtract / exp /
sum / divide calls, which wins on small inputs (measured 2x on (128, 10)). numba has no vectorised ``exp`` here (no
SVML), so above ``FUSED_MAX_SIZE`` elements numpy's SIMD ``exp`` wins (5x on (32, 1000)) and the entry points below
use numpy; the exp-free softmax backward is always faster fused. Other axes use numpy. Sums accumulate in float64.
"""
import numpy as np
from numba import njit

FUSED_MAX_SIZE = 4096   # above this, numpy's vectorised exp beats a scalar-exp fused kernel (measured)
_FM = {"reassoc", "contract"}   # lets LLVM vectorise the row sums; keeps inf/NaN semantics


@njit(cache=True)
def _softmax_rows(x, log):
    """softmax (log_softmax when ``log``) of each row of a 2-D array, max-shifted for stability."""
    rows, n = x.shape
    out = np.empty_like(x)
    for r in range(rows):
        m = -np.inf
        for k in range(n):
            m = max(m, x[r, k])
        s = 0.0
        for k in range(n):
            e = np.exp(x[r, k] - m)
            s += e
            if not log:
                out[r, k] = e
        if log:
            lse = m + np.log(s)
            for k in range(n):
                out[r, k] = x[r, k] - lse
        else:
            inv = 1.0 / s
            for k in range(n):
                out[r, k] *= inv
    return out


@njit(cache=True, fastmath=_FM)
def _softmax_grad_rows(y, dy, log):
    """Input gradient of softmax from its output ``y``: ``y * (dy - sum(dy * y))`` per row; of log_softmax (``y``
    is then the log-probabilities): ``dy - exp(y) * sum(dy)``."""
    rows, n = y.shape
    dx = np.empty_like(dy)
    for r in range(rows):
        s = 0.0
        if log:
            for k in range(n):
                s += dy[r, k]
            for k in range(n):
                dx[r, k] = dy[r, k] - np.exp(y[r, k]) * s
        else:
            for k in range(n):
                s += dy[r, k] * y[r, k]
            for k in range(n):
                dx[r, k] = y[r, k] * (dy[r, k] - s)
    return dx


@njit(cache=True)
def _bad_label(labels, c):
    """Index of the first label outside [0, c), or -1."""
    for k in range(labels.shape[0]):
        if labels[k] < 0 or labels[k] >= c:
            return k
    return -1


@njit(cache=True)
def _sparse_xent_rows(logits, labels, grad):
    """Cross entropy of (N, C) logits against integer labels, fused: per-row ``logsumexp(z) - z[label]`` (shape
    (N,)), or with ``grad`` its gradient ``softmax(z) - onehot(label)`` (shape (N, C)). Returns (result, index of
    the first label out of [0, C), or -1); nothing is computed when a label is bad."""
    n, c = logits.shape
    out = np.empty((n, c) if grad else (n, 1), logits.dtype)
    bad = _bad_label(labels, c)
    if bad >= 0:
        return out, bad
    for r in range(n):
        m = -np.inf
        for k in range(c):
            m = max(m, logits[r, k])
        s = 0.0
        for k in range(c):
            e = np.exp(logits[r, k] - m)
            s += e
            if grad:
                out[r, k] = e
        if grad:
            inv = 1.0 / s
            for k in range(c):
                out[r, k] *= inv
            out[r, labels[r]] -= 1.0
        else:
            out[r, 0] = m + np.log(s) - logits[r, labels[r]]
    return out, -1


# ---------------------------------------------------------------- entry points
def _rows(x, axis):
    """x as a contiguous (rows, n) array when the op runs along its last axis, else None."""
    if axis % x.ndim != x.ndim - 1 or x.size == 0:
        return None
    return np.ascontiguousarray(x).reshape(-1, x.shape[-1])


def softmax(x, axis, log):
    """softmax (log_softmax when ``log``) of ``x`` along ``axis``, max-shifted for stability."""
    if x.size == 0:   # an empty axis (or batch): nothing to normalise, and numpy's max has no identity
        return np.empty_like(x)
    rows = _rows(x, axis) if x.size <= FUSED_MAX_SIZE else None
    if rows is not None:
        return _softmax_rows(rows, log).reshape(x.shape)
    s = x - x.max(axis, keepdims=True)
    if log:
        return s - np.log(np.exp(s).sum(axis, keepdims=True))
    np.exp(s, out=s)
    s /= s.sum(axis, keepdims=True)
    return s


def softmax_grad(y, dy, axis, log):
    """Input gradient of softmax (log_softmax when ``log``) from its output ``y`` and output gradient ``dy``."""
    if y.size == 0:
        return np.empty_like(y)
    rows = _rows(y, axis) if (not log or y.size <= FUSED_MAX_SIZE) else None
    if rows is not None:
        return _softmax_grad_rows(rows, _rows(dy, axis), log).reshape(y.shape)
    if log:
        return dy - np.exp(y) * dy.sum(axis, keepdims=True)
    return y * (dy - (dy * y).sum(axis, keepdims=True))


def sparse_xent(logits, labels, grad):
    """Cross entropy of (N, C) ``logits`` against integer ``labels``: the per-row loss (N,), or with ``grad`` its
    gradient softmax - onehot (N, C). Returns (result, index of the first label out of [0, C), or -1)."""
    if labels.dtype != np.int32 and labels.dtype != np.int64:
        labels = labels.astype(np.int64)
    n, c = logits.shape
    if logits.size <= FUSED_MAX_SIZE:
        out, bad = _sparse_xent_rows(np.ascontiguousarray(logits), np.ascontiguousarray(labels), grad)
        return (out if grad else out.reshape(n)), bad
    outside = (labels < 0) | (labels >= c)
    if outside.any():
        return None, int(np.argmax(outside))
    s = logits - logits.max(1, keepdims=True)
    rows = np.arange(n)
    if grad:
        np.exp(s, out=s)
        s /= s.sum(1, keepdims=True)
        s[rows, labels] -= 1
        return s, -1
    return np.log(np.exp(s).sum(1)) - s[rows, labels], -1
