"""2-D max / average pooling on NCHW arrays, forward and backward, in numba.

Windows are ``kernel (kh, kw)`` moved by ``stride (sh, sw)`` over the input padded by ``pt`` rows on top and ``pl``
columns on the left (bottom / right padding is implied by the output size ``oh, ow``). Padding is implicit: a
window is clipped to the real input, so max pooling never picks a padded cell. The kernels are serial: on the
2-core machines this targets, a parallel loop over planes won ~2x only on an idle machine and lost up to 10x when
other processes held the cores (threads wait for each other at the end of every parallel region).
"""
import numpy as np
from numba import njit


@njit(inline="always")
def _rows(y, kh, sh, pt, h):
    """Input rows [h0, h1) of output row y's window, clipped to the input."""
    h0 = y * sh - pt
    return max(h0, 0), min(h0 + kh, h)


@njit(inline="always")
def _argmax(xp, h0, h1, w0, w1):
    """(row, col) of the first maximum of a window of the plane ``xp``; a NaN wins (and propagates) like numpy's max."""
    bi, bj = h0, w0
    m = xp[h0, w0]
    for i in range(h0, h1):
        for j in range(w0, w1):
            v = xp[i, j]
            if v > m or v != v:
                if m != m:
                    continue
                m, bi, bj = v, i, j
    return bi, bj


# Loops run over (sample, channel) planes: indexing 2-D plane views measured ~2x faster than 4-D indexing, and
# window bounds inlined in the loops beat a bounds helper returning a 4-tuple.
@njit(cache=True)
def max_pool(x, kh, kw, sh, sw, pt, pl, oh, ow):
    n, c, h, w = x.shape
    out = np.empty((n, c, oh, ow), x.dtype)
    for b in range(n):
        for ch in range(c):
            xp, op = x[b, ch], out[b, ch]
            for y in range(oh):
                h0, h1 = _rows(y, kh, sh, pt, h)
                for z in range(ow):
                    w0, w1 = _rows(z, kw, sw, pl, w)
                    m = xp[h0, w0]
                    for i in range(h0, h1):
                        for j in range(w0, w1):
                            v = xp[i, j]
                            if v > m or v != v:
                                if m != m:
                                    continue
                                m = v
                    op[y, z] = m
    return out


@njit(cache=True)
def max_pool_grad(x, dout, kh, kw, sh, sw, pt, pl):
    """dx: each window's gradient goes to the input cell that was its maximum."""
    n, c, h, w = x.shape
    oh, ow = dout.shape[2], dout.shape[3]
    dx = np.zeros_like(x)
    for b in range(n):
        for ch in range(c):
            xp, dp, gp = x[b, ch], dout[b, ch], dx[b, ch]
            for y in range(oh):
                h0, h1 = _rows(y, kh, sh, pt, h)
                for z in range(ow):
                    w0, w1 = _rows(z, kw, sw, pl, w)
                    i, j = _argmax(xp, h0, h1, w0, w1)
                    gp[i, j] += dp[y, z]
    return dx


@njit(cache=True)
def max_pool_gather(x, g, kh, kw, sh, sw, pt, pl, oh, ow):
    """The adjoint of ``max_pool_grad`` in ``dout``: each window reads ``g`` at the input cell that was its maximum."""
    n, c, h, w = x.shape
    out = np.empty((n, c, oh, ow), g.dtype)
    for b in range(n):
        for ch in range(c):
            xp, gp, op = x[b, ch], g[b, ch], out[b, ch]
            for y in range(oh):
                h0, h1 = _rows(y, kh, sh, pt, h)
                for z in range(ow):
                    w0, w1 = _rows(z, kw, sw, pl, w)
                    i, j = _argmax(xp, h0, h1, w0, w1)
                    op[y, z] = gp[i, j]
    return out


@njit(cache=True)
def avg_pool(x, kh, kw, sh, sw, pt, pl, oh, ow, count_include_pad):
    """Window means; the divisor is kh*kw when padding counts, else the number of real input cells."""
    n, c, h, w = x.shape
    out = np.empty((n, c, oh, ow), x.dtype)
    for b in range(n):
        for ch in range(c):
            xp, op = x[b, ch], out[b, ch]
            for y in range(oh):
                h0, h1 = _rows(y, kh, sh, pt, h)
                for z in range(ow):
                    w0, w1 = _rows(z, kw, sw, pl, w)
                    s = 0.0
                    for i in range(h0, h1):
                        for j in range(w0, w1):
                            s += xp[i, j]
                    op[y, z] = s / (kh * kw if count_include_pad else (h1 - h0) * (w1 - w0))
    return out


@njit(cache=True)
def avg_pool_grad(dout, h, w, kh, kw, sh, sw, pt, pl, count_include_pad):
    """The adjoint of ``avg_pool``: each window spreads its gradient evenly over the cells it averaged."""
    n, c, oh, ow = dout.shape
    dx = np.zeros((n, c, h, w), dout.dtype)
    for b in range(n):
        for ch in range(c):
            dp, gp = dout[b, ch], dx[b, ch]
            for y in range(oh):
                h0, h1 = _rows(y, kh, sh, pt, h)
                for z in range(ow):
                    w0, w1 = _rows(z, kw, sw, pl, w)
                    g = dp[y, z] / (kh * kw if count_include_pad else (h1 - h0) * (w1 - w0))
                    for i in range(h0, h1):
                        for j in range(w0, w1):
                            gp[i, j] += g
    return dx
