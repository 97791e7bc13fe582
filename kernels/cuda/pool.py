"""2-D max / average pooling on NCHW device arrays as numba-cuda kernels: one thread per pooled output element;
the backward kernels add each window's gradient into the input with atomics. Windows are clipped to the real
input (implicit padding) exactly as the CPU kernels (``kernels/cpu/pool.py``) do; a NaN wins max pooling."""
from numba import cuda

from .runtime import xp, launch


@cuda.jit(device=True, inline=True)
def _window(t, c, oh, ow, kh, kw, sh, sw, pt, pl, h, w):
    z = t % ow
    y = (t // ow) % oh
    plane = t // (ow * oh)
    b = plane // c
    ch = plane - b * c
    h0 = y * sh - pt
    w0 = z * sw - pl
    h1, w1 = h0 + kh, w0 + kw      # (conditionals, not max/min: numba's built-in CUDA target cannot compile those
    return (b, ch, y, z, h0 if h0 > 0 else 0, h if h < h1 else h1,   # in a device function ahead of time)
            w0 if w0 > 0 else 0, w if w < w1 else w1)


@cuda.jit(device=True, inline=True)
def _argmax(x, b, ch, h0, h1, w0, w1):
    bi = h0
    bj = w0
    m = x[b, ch, h0, w0]
    for i in range(h0, h1):
        for j in range(w0, w1):
            v = x[b, ch, i, j]
            if v > m or v != v:
                if m != m:
                    continue
                m = v
                bi = i
                bj = j
    return bi, bj


@cuda.jit
def _max_pool_kernel(x, out, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow, total):
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        b, ch, y, z, h0, h1, w0, w1 = _window(t, c, oh, ow, kh, kw, sh, sw, pt, pl, h, w)
        i, j = _argmax(x, b, ch, h0, h1, w0, w1)
        out[b, ch, y, z] = x[b, ch, i, j]


@cuda.jit
def _max_pool_grad_kernel(x, dout, dx, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow, total):
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        b, ch, y, z, h0, h1, w0, w1 = _window(t, c, oh, ow, kh, kw, sh, sw, pt, pl, h, w)
        i, j = _argmax(x, b, ch, h0, h1, w0, w1)
        cuda.atomic.add(dx, (b, ch, i, j), dout[b, ch, y, z])


@cuda.jit
def _max_pool_gather_kernel(x, g, out, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow, total):
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        b, ch, y, z, h0, h1, w0, w1 = _window(t, c, oh, ow, kh, kw, sh, sw, pt, pl, h, w)
        i, j = _argmax(x, b, ch, h0, h1, w0, w1)
        out[b, ch, y, z] = g[b, ch, i, j]


@cuda.jit
def _avg_pool_kernel(x, out, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow, include_pad, total):
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        b, ch, y, z, h0, h1, w0, w1 = _window(t, c, oh, ow, kh, kw, sh, sw, pt, pl, h, w)
        s = 0.0
        for i in range(h0, h1):
            for j in range(w0, w1):
                s += x[b, ch, i, j]
        out[b, ch, y, z] = s / (kh * kw if include_pad else (h1 - h0) * (w1 - w0))


@cuda.jit
def _avg_pool_grad_kernel(dout, dx, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow, include_pad, total):
    for t in range(cuda.grid(1), total, cuda.gridsize(1)):
        b, ch, y, z, h0, h1, w0, w1 = _window(t, c, oh, ow, kh, kw, sh, sw, pt, pl, h, w)
        g = dout[b, ch, y, z] / (kh * kw if include_pad else (h1 - h0) * (w1 - w0))
        for i in range(h0, h1):
            for j in range(w0, w1):
                cuda.atomic.add(dx, (b, ch, i, j), g)


def max_pool(x, kh, kw, sh, sw, pt, pl, oh, ow):
    n, c, h, w = x.shape
    out = xp().empty((n, c, oh, ow), x.dtype)
    launch(_max_pool_kernel, out.size, x, out, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow, out.size)
    return out


def max_pool_grad(x, dout, kh, kw, sh, sw, pt, pl):
    n, c, h, w = x.shape
    oh, ow = dout.shape[2], dout.shape[3]
    dx = xp().zeros_like(x)
    launch(_max_pool_grad_kernel, dout.size, x, dout, dx, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow, dout.size)
    return dx


def max_pool_gather(x, g, kh, kw, sh, sw, pt, pl, oh, ow):
    n, c, h, w = x.shape
    out = xp().empty((n, c, oh, ow), g.dtype)
    launch(_max_pool_gather_kernel, out.size, x, g, out, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow, out.size)
    return out


def avg_pool(x, kh, kw, sh, sw, pt, pl, oh, ow, count_include_pad):
    n, c, h, w = x.shape
    out = xp().empty((n, c, oh, ow), x.dtype)
    launch(_avg_pool_kernel, out.size, x, out, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow, bool(count_include_pad),
           out.size)
    return out


def avg_pool_grad(dout, h, w, kh, kw, sh, sw, pt, pl, count_include_pad):
    n, c, oh, ow = dout.shape
    dx = xp().zeros((n, c, h, w), dout.dtype)
    launch(_avg_pool_grad_kernel, dout.size, dout, dx, c, h, w, kh, kw, sh, sw, pt, pl, oh, ow,
           bool(count_include_pad), dout.size)
    return dx
