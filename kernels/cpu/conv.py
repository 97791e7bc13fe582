"""2-D convolution helpers for the CPU: im2col / col2im in numba; the GEMMs run in numpy (BLAS).

Layout: ``x`` is NCHW. ``cols[n, (c * kh + i) * kw + j, oh * OW + ow]`` holds the input value the kernel tap
``(i, j)`` of channel ``c`` sees at output position ``(oh, ow)`` (zero in the padding), so a convolution is
``w.reshape(C_out, -1) @ cols[n]`` and channel groups are contiguous row blocks of ``cols``.
Padding is implicit (no padded copy of the input): out-of-range taps read as zero / are dropped.
Serial on purpose: a parallel loop over the batch won ~2x on an idle 2-core machine but lost up to 10x whenever
other processes held the cores, and the per-sample GEMMs (numpy.matmul on stacked matrices) beat one large GEMM
on a transposed (K, N*L) layout for LeNet-sized inputs (measured) -- for the general path below.

Stride 1 (any dilation, padding applied by the caller) takes the *row* layout instead: ``im2col_rows`` gives
``cols[(c * kh + i) * kw + j, n, p]`` = ``x[n, c].flat[p + i * dh * W + j * dw]`` for ``p`` in ``[0, oh * W)``, i.e.
output rows computed at the input's full width W: columns ``z >= ow`` of each row are *garbage* (real input values
or zero) that the callers drop (forward), multiply by zero (filter gradient) or that are zero (input gradient).
Each tap is then one contiguous run per sample (memcpy speed, no per-element bounds test) instead of ``oh`` runs of
``ow``; the GEMMs grow by W / ow. Loop indices start at 0 on views: numba adds a negative-index wraparound test to
``a[off + p]`` with a signed ``off``, which stops LLVM vectorising the copy (measured 8x slower).
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


@njit(cache=True)
def im2col_rows(x, kh, kw, dh, dw, oh):
    """(N, C, H, W) -> (C*kh*kw, N, oh*W): the stride-1 row layout (see the module doc); x is already padded."""
    n, c, h, w = x.shape
    length, hw = oh * w, h * w
    cols = np.empty((c * kh * kw, n, length), x.dtype)
    xf = x.reshape(n, c, hw)
    zero = x.dtype.type(0)
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                row = (ci * kh + i) * kw + j
                off = i * dh * w + j * dw
                m = min(length, hw - off)           # the last output row's garbage may run past the plane
                for b in range(n):
                    src, dst = xf[b, ci, off:], cols[row, b]
                    for p in range(m):
                        dst[p] = src[p]
                    tail = dst[m:]
                    for p in range(length - m):
                        tail[p] = zero
    return cols


@njit(cache=True)
def col2im_rows(dcols, n, c, h, w, kh, kw, dh, dw, oh):
    """The adjoint of ``im2col_rows``: (C*kh*kw, N, oh*W) -> (N, C, H, W); garbage columns must hold zeros."""
    length, hw = oh * w, h * w
    x = np.zeros((n, c, hw), dcols.dtype)
    for b in range(n):
        for ci in range(c):
            for i in range(kh):
                for j in range(kw):
                    off = i * dh * w + j * dw
                    m = min(length, hw - off)
                    src, dst = dcols[(ci * kh + i) * kw + j, b], x[b, ci, off:]
                    for p in range(m):
                        dst[p] += src[p]
    return x.reshape(n, c, h, w)


@njit(cache=True, fastmath={"reassoc", "contract"})   # reassociation lets LLVM vectorise the dot products
def filter_grad_rows(de, x, kh, kw, dh, dw, oh):
    """conv2d's filter gradient as direct dot products in the row layout, without patches: ``dw[o, c, i, j]`` =
    sum over samples of ``de[n, o] . x[n, c].flat[i*dh*W + j*dw:]``, with ``de`` (N, Co, oh*W) zero in the garbage
    columns and ``x`` (N, C, H, W) padded and finite. For small filters (C*kh*kw*Co <= 512) this beats
    materialising the patches for a GEMM (1.3-1.8x measured); it loses 2x at LeNet's second layer (2400)."""
    n, c, h, w = x.shape
    co = de.shape[1]
    length, hw = oh * w, h * w
    out = np.zeros((co, c, kh, kw), x.dtype)
    xf = x.reshape(n, c, hw)
    zero = x.dtype.type(0)
    for b in range(n):
        for o in range(co):
            d = de[b, o]
            for ci in range(c):
                for i in range(kh):
                    for j in range(kw):
                        off = i * dh * w + j * dw
                        m = min(length, hw - off)
                        src = xf[b, ci, off:]
                        s = zero
                        for p in range(m):
                            s += d[p] * src[p]
                        out[o, ci, i, j] += s
    return out
