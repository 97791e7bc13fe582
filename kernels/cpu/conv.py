"""2-D convolution helpers for the CPU: im2col / col2im in numba; the GEMMs run in numpy (BLAS).

Layout: ``x`` is NCHW. ``cols[n, (c * kh + i) * kw + j, oh * OW + ow]`` holds the input value the kernel tap
``(i, j)`` of channel ``c`` sees at output position ``(oh, ow)`` (zero in the padding), so a convolution is
``w.reshape(C_out, -1) @ cols[n]`` and channel groups are contiguous row blocks of ``cols``.
Padding is implicit (no padded copy of the input): out-of-range taps read as zero / are dropped.
Serial on purpose: a parallel loop over the batch won ~2x on an idle 2-core machine but lost up to 10x whenever
other processes held the cores, and the per-sample GEMMs (numpy.matmul on stacked matrices) beat one large GEMM
on a transposed (K, N*L) layout for LeNet-sized inputs (measured).
"""
import numpy as np
from numba import njit


@njit(cache=True)
def im2col(x, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    """(N, C, H, W) -> (N, C*kh*kw, oh*ow) patches; taps that fall in the padding are zero."""
    n, c, h, w = x.shape
    cols = np.empty((n, c * kh * kw, oh * ow), x.dtype)
    for b in range(n):
        for ci in range(c):
            for i in range(kh):
                for j in range(kw):
                    row = (ci * kh + i) * kw + j
                    for y in range(oh):
                        ih = y * sh - pt + i * dh
                        base = y * ow
                        if ih < 0 or ih >= h:
                            for z in range(ow):
                                cols[b, row, base + z] = 0
                            continue
                        for z in range(ow):
                            iw = z * sw - pl + j * dw
                            if 0 <= iw < w:
                                cols[b, row, base + z] = x[b, ci, ih, iw]
                            else:
                                cols[b, row, base + z] = 0
    return cols


@njit(cache=True)
def col2im(cols, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    """The adjoint of ``im2col``: scatter-add (N, C*kh*kw, oh*ow) patches back into an (N, C, H, W) image."""
    n = cols.shape[0]
    x = np.zeros((n, c, h, w), cols.dtype)
    for b in range(n):
        for ci in range(c):
            for i in range(kh):
                for j in range(kw):
                    row = (ci * kh + i) * kw + j
                    for y in range(oh):
                        ih = y * sh - pt + i * dh
                        if ih < 0 or ih >= h:
                            continue
                        base = y * ow
                        for z in range(ow):
                            iw = z * sw - pl + j * dw
                            if 0 <= iw < w:
                                x[b, ci, ih, iw] += cols[b, row, base + z]
    return x
