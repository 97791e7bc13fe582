"""Compiled kernels that a whole-program native kernel (mindlab/runtime/native.py) calls between the fused loops:
each is an ``@njit(cache=True)`` function of arrays (0-d values are scalars there), importable by name so the
generated program can be cached on disk. Only the cases the primitives' ``native`` rules hand them: the rules
check shapes and dtypes when the program is generated.

A failing check at run time (a label out of range) raises ``NativeStop`` with the node's id; the program's
wrapper then runs the same step through the Python executor, which raises the full error.
"""
import numpy as np
from numba import njit

from . import conv_tiled as _tiled
from . import optim as _optim
from . import select as _select
from . import softmax as _softmax
from .mkl_jit import _gemm

__all__ = ["matmul", "colsum", "sum_all", "mean_all", "select_aa", "select_as", "select_sa", "xent", "xent_grad",
           "momentum", "gemm_momentum", "assign", "chansum", "pad_zero", "conv2d", "conv2d_backprop_input",
           "conv2d_backprop_filter"]


@njit(cache=True, nogil=True)
def matmul(a, b, small_flops):
    """a @ b for 2-D float operands of one dtype (transposes come in as views)."""
    c = np.empty((a.shape[0], b.shape[1]), a.dtype)
    if not _gemm(a, b, c, 0.0, small_flops, 0):     # an empty dimension or strides MKL cannot take
        c[:, :] = np.dot(np.ascontiguousarray(a), np.ascontiguousarray(b))
    return c


@njit(cache=True, nogil=True)
def colsum(x):
    """x.sum(axis=0) of a 2-D array, accumulated row by row in x's dtype (numpy's order for this reduction)."""
    out = np.zeros(x.shape[1], x.dtype)
    for i in range(x.shape[0]):
        row = x[i]
        for j in range(x.shape[1]):
            out[j] += row[j]
    return out


@njit(cache=True, nogil=True)
def sum_all(x):
    s = x.dtype.type(0)
    for v in x.ravel():
        s += v
    return s


@njit(cache=True, nogil=True)
def mean_all(x):
    """The mean of all elements, accumulated in float64 and returned in x's (float) dtype."""
    s = 0.0
    for v in x.ravel():
        s += v
    return x.dtype.type(s / x.size)


@njit(cache=True, nogil=True)
def select_aa(c, x, y):
    out = np.empty(x.shape, x.dtype)
    _select._select_aa(c.ravel(), x.ravel(), y.ravel(), out.ravel())
    return out


@njit(cache=True, nogil=True)
def select_as(c, x, y):
    out = np.empty(x.shape, x.dtype)
    _select._select_as(c.ravel(), x.ravel(), y, out.ravel())
    return out


@njit(cache=True, nogil=True)
def select_sa(c, x, y):
    out = np.empty(y.shape, y.dtype)
    _select._select_sa(c.ravel(), x, y.ravel(), out.ravel())
    return out


@njit(cache=True, nogil=True)
def xent(logits, labels, node):
    out, bad = _softmax._sparse_xent_rows(np.ascontiguousarray(logits), labels, False)
    if bad >= 0:
        raise ValueError("NativeStop", node)
    return out.reshape(logits.shape[0])


@njit(cache=True, nogil=True)
def xent_grad(logits, labels, node):
    out, bad = _softmax._sparse_xent_rows(np.ascontiguousarray(logits), labels, True)
    if bad >= 0:
        raise ValueError("NativeStop", node)
    return out


@njit(cache=True, nogil=True)
def momentum(var, acc, lr, grad, mom, nesterov):
    """apply_momentum in place on C-contiguous var / acc (the wrapper checks them) and a same-shaped gradient."""
    _optim._momentum_serial(var.reshape(-1), acc.reshape(-1), np.ascontiguousarray(grad).reshape(-1), lr, mom,
                            nesterov)
    return var


@njit(cache=True, nogil=True)
def gemm_momentum(var, acc, lr, a, b, mom, small_flops):
    """acc = a @ b + mom * acc in one GEMM, then var -= lr * acc (matmul+apply_momentum)."""
    if not _gemm(a, b, acc, mom, small_flops, 0):
        acc[:, :] = np.dot(np.ascontiguousarray(a), np.ascontiguousarray(b)) + mom * acc
    _optim.descend(var.reshape(-1), acc.reshape(-1), lr)
    return var


@njit(cache=True, nogil=True)
def assign(var, value):
    """var[...] = value (same shape, or a scalar), cast to var's dtype; returns var."""
    flat = var.reshape(-1)
    src = np.asarray(value).ravel()
    if src.size == 1:
        v = src[0]
        for i in range(flat.size):
            flat[i] = v
    else:
        for i in range(flat.size):
            flat[i] = src[i]
    return var


@njit(cache=True, nogil=True)
def chansum(x):
    """x.sum(axis=(0, 2, 3)) of an NCHW array (a convolution's bias gradient), in x's dtype."""
    n, c, h, w = x.shape
    out = np.zeros(c, x.dtype)
    for b in range(n):
        for ci in range(c):
            s = x.dtype.type(0)
            for v in x[b, ci].ravel():
                s += v
            out[ci] += s
    return out


@njit(cache=True, nogil=True)
def pad_zero(x, pt, pb, pl, pr):
    """x (N, C, H, W) with zero rows / columns around its planes."""
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + pt + pb, w + pl + pr), x.dtype)
    out[:, :, pt:pt + h, pl:pl + w] = x
    return out


@njit(cache=True, nogil=True)
def conv2d(x, w, oh, ow, pt, pb, pl, pr, dh, dw):
    """Stride-1, one-group convolution (kernels/cpu/conv_tiled.py) of NCHW x, padding applied here."""
    xp = pad_zero(x, pt, pb, pl, pr) if pt + pb + pl + pr else x
    co = w.shape[0]
    out = np.empty((x.shape[0], co, oh, ow), x.dtype)
    _tiled._forward(xp, w.reshape(co, -1), out, w.shape[2], w.shape[3], dh, dw)
    return out


@njit(cache=True, nogil=True)
def conv2d_backprop_input(dout, w, n, c, h, wd, pt, pb, pl, pr, dh, dw, node):
    """The input gradient; a non-finite weight (whose garbage columns would spread NaN) stops the native call."""
    if not np.isfinite(w).all():
        raise ValueError("NativeStop", node)
    co = w.shape[0]
    dxp = np.zeros((n, c, h + pt + pb, wd + pl + pr), dout.dtype)
    _tiled._input_grad(dout, w.reshape(co, -1), dxp, w.shape[2], w.shape[3], dh, dw)
    if pt + pb + pl + pr:
        return dxp[:, :, pt:pt + h, pl:pl + wd].copy()
    return dxp


@njit(cache=True, nogil=True)
def conv2d_backprop_filter(dout, x, co, c, kh, kw, pt, pb, pl, pr, dh, dw, node):
    """The filter gradient; a non-finite input stops the native call."""
    if not np.isfinite(x).all():
        raise ValueError("NativeStop", node)
    xp = pad_zero(x, pt, pb, pl, pr) if pt + pb + pl + pr else x
    dwm = np.empty((co, c * kh * kw), x.dtype)
    _tiled._filter_grad(dout, xp, dwm, kh, kw, dh, dw)
    return dwm.reshape((co, c, kh, kw))
