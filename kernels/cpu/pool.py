"""2-D max / average pooling on NCHW arrays, forward and backward, in numba.

Windows are ``kernel (kh, kw)`` moved by ``stride (sh, sw)`` over the input padded by ``pt`` rows on top and ``pl``
columns on the left (bottom / right padding is implied by the output size ``oh, ow``). Padding is implicit: a
window is clipped to the real input, so max pooling never picks a padded cell. The kernels are serial: on the
2-core machines this targets, a parallel loop over planes won ~2x only on an idle machine and lost up to 10x when
other processes held the cores (threads wait for each other at the end of every parallel region).

Fast paths (same results, NaN and tie rules included): windows that need no clipping (no top / left padding and the
last window inside the input) run without bounds arithmetic, and the 2x2 stride-2 case (LeNet's, VGG's, ...) has
kernels of its own whose compares are selects rather than branches (random data mispredicts a branchy argmax about
half the time). The max / argmax rule is ``_mx`` / ``_hit``: the first of equal values wins, a NaN wins and stays.
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


@njit(inline="always")
def _mx(m, v):
    """max(m, v) keeping m on ties; a NaN (in m or in v) wins and stays. Bitwise ops: no branch."""
    return m if ((m >= v) | (m != m)) else v


@njit(inline="always")
def _hit(a, m):
    """Whether ``a`` is the window maximum ``m`` (a NaN is, when a NaN won)."""
    return (a == m) | (a != a)


@njit(inline="always")
def _unclipped(h, w, kh, kw, sh, sw, pt, pl, oh, ow):
    """No window needs clipping: no top / left padding and the last window ends inside the input."""
    return pt == 0 and pl == 0 and (oh - 1) * sh + kh <= h and (ow - 1) * sw + kw <= w


@njit(inline="always")
def _is22(kh, kw, sh, sw):
    return kh == 2 and kw == 2 and sh == 2 and sw == 2


@njit(cache=True)
def _max_pool_22(x, oh, ow):
    n, c, h, w = x.shape
    out = np.empty((n, c, oh, ow), x.dtype)
    for b in range(n):
        for ch in range(c):
            xp, op = x[b, ch], out[b, ch]
            for y in range(oh):
                r0, r1, orow = xp[2 * y], xp[2 * y + 1], op[y]
                for z in range(ow):
                    orow[z] = _mx(_mx(_mx(r0[2 * z], r0[2 * z + 1]), r1[2 * z]), r1[2 * z + 1])
    return out


@njit(cache=True)
def _max_pool_unclipped(x, kh, kw, sh, sw, oh, ow):
    n, c, h, w = x.shape
    out = np.empty((n, c, oh, ow), x.dtype)
    for b in range(n):
        for ch in range(c):
            xp, op = x[b, ch], out[b, ch]
            for y in range(oh):
                orow = op[y]
                for z in range(ow):
                    m = xp[y * sh, z * sw]
                    for i in range(kh):
                        r = xp[y * sh + i]
                        for j in range(kw):
                            m = _mx(m, r[z * sw + j])
                    orow[z] = m
    return out


@njit(cache=True)
def _max_pool_grad_22(x, dout):
    """dx of 2x2 stride-2 windows: each window writes all four cells (its gradient at the first maximum, zero
    elsewhere), so dx needs no zero fill except the input's uncovered last row / column. Per pair of input rows,
    one loop finds each window's argmax and two loops write the rows (the split loops vectorise; one loop doing
    all three ran 2x slower)."""
    n, c, h, w = x.shape
    oh, ow = dout.shape[2], dout.shape[3]
    dx = np.empty_like(x)
    zero = x.dtype.type(0)
    k = np.empty(ow, np.int32)
    for b in range(n):
        for ch in range(c):
            xp, dp, gp = x[b, ch], dout[b, ch], dx[b, ch]
            for y in range(oh):
                r0, r1, g0, g1, d = xp[2 * y], xp[2 * y + 1], gp[2 * y], gp[2 * y + 1], dp[y]
                for z in range(ow):
                    a0, a1, a2, a3 = r0[2 * z], r0[2 * z + 1], r1[2 * z], r1[2 * z + 1]
                    m = _mx(_mx(_mx(a0, a1), a2), a3)
                    kk = np.int32(3)
                    kk = np.int32(2) if _hit(a2, m) else kk
                    kk = np.int32(1) if _hit(a1, m) else kk
                    k[z] = np.int32(0) if _hit(a0, m) else kk
                for z in range(ow):
                    g, kk = d[z], k[z]
                    g0[2 * z] = g if kk == 0 else zero
                    g0[2 * z + 1] = g if kk == 1 else zero
                for z in range(ow):
                    g, kk = d[z], k[z]
                    g1[2 * z] = g if kk == 2 else zero
                    g1[2 * z + 1] = g if kk == 3 else zero
                for z in range(2 * ow, w):
                    g0[z] = zero
                    g1[z] = zero
            for y in range(2 * oh, h):
                for z in range(w):
                    gp[y, z] = zero
    return dx


@njit(cache=True)
def _max_pool_gather_22(x, g, oh, ow):
    n, c, h, w = x.shape
    out = np.empty((n, c, oh, ow), g.dtype)
    for b in range(n):
        for ch in range(c):
            xp, gp, op = x[b, ch], g[b, ch], out[b, ch]
            for y in range(oh):
                r0, r1, q0, q1, orow = xp[2 * y], xp[2 * y + 1], gp[2 * y], gp[2 * y + 1], op[y]
                for z in range(ow):
                    a0, a1, a2, a3 = r0[2 * z], r0[2 * z + 1], r1[2 * z], r1[2 * z + 1]
                    m = _mx(_mx(_mx(a0, a1), a2), a3)
                    v = q1[2 * z + 1]
                    v = q1[2 * z] if _hit(a2, m) else v
                    v = q0[2 * z + 1] if _hit(a1, m) else v
                    orow[z] = q0[2 * z] if _hit(a0, m) else v
    return out


# Loops run over (sample, channel) planes: indexing 2-D plane views measured ~2x faster than 4-D indexing, and
# window bounds inlined in the loops beat a bounds helper returning a 4-tuple.
@njit(cache=True)
def max_pool(x, kh, kw, sh, sw, pt, pl, oh, ow):
    n, c, h, w = x.shape
    if _unclipped(h, w, kh, kw, sh, sw, pt, pl, oh, ow):
        return _max_pool_22(x, oh, ow) if _is22(kh, kw, sh, sw) else _max_pool_unclipped(x, kh, kw, sh, sw, oh, ow)
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
    if _is22(kh, kw, sh, sw) and _unclipped(h, w, kh, kw, sh, sw, pt, pl, oh, ow):
        return _max_pool_grad_22(x, dout)
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
    if _is22(kh, kw, sh, sw) and _unclipped(h, w, kh, kw, sh, sw, pt, pl, oh, ow):
        return _max_pool_gather_22(x, g, oh, ow)
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
