"""im2col / col2im for the GPU convolution as numba-cuda kernels (the GEMMs run in cuBLAS through cupy).

Layout as on the CPU (``kernels/cpu/conv.py``): ``cols[n, (c*kh + i)*kw + j, y*OW + z]`` is the input value tap
``(i, j)`` of channel ``c`` sees at output ``(y, z)``, zero in the padding. One thread per element of ``cols``;
col2im is its adjoint, one thread per ``cols`` element adding into the image with atomics.
"""
from numba import cuda

from .runtime import xp, launch


@cuda.jit(device=True, inline=True)
def _tap(t, c, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    """For flat index ``t`` of ``cols``: (sample, row, position, channel, input row, input column)."""
    L = oh * ow
    K = c * kh * kw
    b = t // (K * L)
    rem = t - b * K * L
    row = rem // L
    pos = rem - row * L
    ci = row // (kh * kw)
    r2 = row - ci * kh * kw
    i = r2 // kw
    j = r2 - i * kw
    y = pos // ow
    z = pos - y * ow
    return b, row, pos, ci, y * sh - pt + i * dh, z * sw - pl + j * dw


@cuda.jit
def _im2col_kernel(x, cols, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, total):
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for t in range(start, total, stride):
        b, row, pos, ci, ih, iw = _tap(t, c, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)
        if ih >= 0 and ih < h and iw >= 0 and iw < w:
            cols[b, row, pos] = x[b, ci, ih, iw]
        else:
            cols[b, row, pos] = 0


@cuda.jit
def _col2im_kernel(cols, x, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, total):
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for t in range(start, total, stride):
        b, row, pos, ci, ih, iw = _tap(t, c, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)
        if ih >= 0 and ih < h and iw >= 0 and iw < w:
            cuda.atomic.add(x, (b, ci, ih, iw), cols[b, row, pos])


def im2col(x, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    n, c, h, w = x.shape
    cols = xp().empty((n, c * kh * kw, oh * ow), x.dtype)
    x = xp().ascontiguousarray(x)
    launch(_im2col_kernel, cols.size, x, cols, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, cols.size)
    return cols


def col2im(cols, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    n = cols.shape[0]
    x = xp().zeros((n, c, h, w), cols.dtype)
    cols = xp().ascontiguousarray(cols)
    launch(_col2im_kernel, cols.size, cols, x, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow, cols.size)
    return x
