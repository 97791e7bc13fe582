"""Stride-1 2-D convolution and its two gradients as one numba loop over the batch: per sample, the row-layout
patches of kernels/cpu/conv.py built in a small buffer and an MKL GEMM on it (called from compiled code,
kernels/cpu/mkl_jit.py), so the patch matrix of the whole batch never goes to memory.

The batch-wide path (kernels/cpu/conv.py, ``im2col_rows``) builds the patches of every sample first and then runs
one big GEMM. On LeNet-sized layers those patch matrices are 2-3 MB, written once and read back once, and the layer
is limited by that memory traffic, not by arithmetic. Here one sample's patches (K x L floats, K = C*kh*kw,
L = oh*W: 60-90 KB on LeNet) stay in the L2 cache between the copy and the GEMM that reads them. The layout is the
row layout: ``cols[(c*kh + i)*kw + j, p] = x[c].flat[p + i*dh*W + j*dw]`` for ``p < oh*W`` of the padded input,
one contiguous run per tap; output columns ``z >= ow`` of each row are garbage the forward drops, that are zero in
the widened ``dout`` of the gradients (so they contribute nothing while inputs and weights are finite — the
callers check).

* forward: ``full (Co, L) = W (Co, K) @ cols``, its first ``ow`` columns of each output row copied out;
* input gradient: ``dcols (K, L) = W^T @ dout_wide``, each tap's run added back into ``dx`` (padded);
* filter gradient: ``dW (Co, K) += dout_wide @ cols^T``: MKL accumulates (beta = 1 after the first sample).

One MKL thread per GEMM (they are small); a call costs a few µs from compiled code. Loops index views from 0:
numba adds a negative-index wraparound test to ``a[off + p]`` with a signed ``off``, which stops LLVM vectorising
the copy.
"""
import numpy as np
from numba import njit

from .mkl_jit import raw_gemm, one_thread, restore_threads

__all__ = ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter"]

_NO_TRANS, _TRANS = 111, 112


@njit(cache=True, nogil=True)
def _patches(xf, cols, kh, kw, dh, dw, w):
    """One sample's row-layout patches: xf is (C, H*W) of the padded input, cols (C*kh*kw, oh*W)."""
    c, hw = xf.shape
    length = cols.shape[1]
    zero = xf.dtype.type(0)
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                off = i * dh * w + j * dw
                m = min(length, hw - off)            # the last output row's garbage may run past the plane
                dst, src = cols[(ci * kh + i) * kw + j], xf[ci, off:]
                for p in range(m):
                    dst[p] = src[p]
                tail = dst[m:]
                for p in range(length - m):
                    tail[p] = zero


@njit(cache=True, nogil=True)
def _widen(d, wide, w):
    """dout of one sample (Co, oh, ow) into the row layout (Co, oh*W); the garbage columns keep their zeros."""
    co, oh, ow = d.shape
    for o in range(co):
        for y in range(oh):
            dst, src = wide[o, y * w:], d[o, y]
            for z in range(ow):
                dst[z] = src[z]


@njit(cache=True, nogil=True)
def _forward(xp, wm, out, kh, kw, dh, dw):
    n, c, h, w = xp.shape
    co, k = wm.shape
    oh, ow = out.shape[2], out.shape[3]
    length = oh * w
    cols = np.empty((k, length), xp.dtype)
    full = np.empty((co, length), xp.dtype)
    saved = one_thread()
    for b in range(n):
        _patches(xp[b].reshape(c, h * w), cols, kh, kw, dh, dw, w)
        raw_gemm(_NO_TRANS, _NO_TRANS, co, length, k, wm.ctypes.data, k, cols.ctypes.data, length, 0.0,
                 full.ctypes.data, length, xp.itemsize)
        for o in range(co):
            for y in range(oh):
                dst, src = out[b, o, y], full[o, y * w:]
                for z in range(ow):
                    dst[z] = src[z]
    restore_threads(saved)


@njit(cache=True, nogil=True)
def _input_grad(dout, wm, dxp, kh, kw, dh, dw):
    n, c, h, w = dxp.shape
    co, k = wm.shape
    oh = dout.shape[2]
    length, hw = oh * w, h * w
    wide = np.zeros((co, length), dout.dtype)
    dcols = np.empty((k, length), dout.dtype)
    saved = one_thread()
    for b in range(n):
        _widen(dout[b], wide, w)
        raw_gemm(_TRANS, _NO_TRANS, k, length, co, wm.ctypes.data, k, wide.ctypes.data, length, 0.0,
                 dcols.ctypes.data, length, dout.itemsize)
        dxf = dxp[b].reshape(c, hw)
        for ci in range(c):
            for i in range(kh):
                for j in range(kw):
                    off = i * dh * w + j * dw
                    m = min(length, hw - off)
                    dst, src = dxf[ci, off:], dcols[(ci * kh + i) * kw + j]
                    for p in range(m):
                        dst[p] += src[p]
    restore_threads(saved)


@njit(cache=True, nogil=True)
def _filter_grad(dout, xp, dwm, kh, kw, dh, dw):
    n, c, h, w = xp.shape
    co, k = dwm.shape
    oh = dout.shape[2]
    length = oh * w
    cols = np.empty((k, length), xp.dtype)
    wide = np.zeros((co, length), xp.dtype)
    saved = one_thread()
    for b in range(n):
        _patches(xp[b].reshape(c, h * w), cols, kh, kw, dh, dw, w)
        _widen(dout[b], wide, w)
        raw_gemm(_NO_TRANS, _TRANS, co, k, length, wide.ctypes.data, length, cols.ctypes.data, length,
                 0.0 if b == 0 else 1.0, dwm.ctypes.data, k, xp.itemsize)
    restore_threads(saved)


def conv2d(xp, w, oh, ow, dilation):
    """Stride-1 convolution of the padded, C-contiguous input ``xp`` (N, C, Hp, Wp) with ``w`` (Co, C, kh, kw)
    -> (N, Co, oh, ow)."""
    co = w.shape[0]
    out = np.empty((xp.shape[0], co, oh, ow), xp.dtype)
    _forward(xp, np.ascontiguousarray(w).reshape(co, -1), out, w.shape[2], w.shape[3], dilation[0], dilation[1])
    return out


def conv2d_backprop_input(dout, w, padded_size, dilation):
    """The gradient with respect to the padded input (N, C, Hp, Wp); the caller crops the padding."""
    co = w.shape[0]
    dxp = np.zeros(padded_size, dout.dtype)
    _input_grad(np.ascontiguousarray(dout), np.ascontiguousarray(w).reshape(co, -1), dxp, w.shape[2], w.shape[3],
                dilation[0], dilation[1])
    return dxp


def conv2d_backprop_filter(dout, xp, filter_size, dilation):
    """The filter gradient (Co, C, kh, kw) from ``dout`` (N, Co, oh, ow) and the padded input ``xp``."""
    co = filter_size[0]
    dwm = np.empty((co, int(np.prod(filter_size[1:]))), xp.dtype)
    _filter_grad(np.ascontiguousarray(dout), xp, dwm, filter_size[2], filter_size[3], dilation[0], dilation[1])
    return dwm.reshape(filter_size)
