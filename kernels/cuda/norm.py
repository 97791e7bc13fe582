"""Layer norm and batch norm on the GPU. Layer norm's forward is a numba-cuda row kernel (one thread per row,
two-pass float64 statistics) when gamma covers the normalised dims, as in a Transformer; the other forms and the
backward passes are cupy reductions and elementwise kernels with the CPU kernels' formulas
(``kernels/cpu/norm.py``): biased variances, the cotangents of the mean / variance outputs folded in, and sums in
float64 as there."""
import math

import numpy as np
from numba import cuda

from ..cpu import norm as _cpu_norm
from .runtime import xp, launch

ROW_KERNEL_MAX = 4096


# a row's (mean, biased variance), two passes: the CPU kernel's own helper, compiled as a device function
_row_stats = cuda.jit(device=True, inline=True)(_cpu_norm._row_stats.py_func)


@cuda.jit
def _layer_norm_rows(x, gamma, beta, eps, y, mean, var, rows, d):
    for r in range(cuda.grid(1), rows, cuda.gridsize(1)):
        mu, v = _row_stats(x, r, d)
        rstd = 1.0 / math.sqrt(v + eps)
        for k in range(d):
            y[r, k] = (x[r, k] - mu) * rstd * gamma[k] + beta[k]
        mean[r] = mu
        var[r] = v


def layer_norm(x, gamma, beta, begin_norm_axis, begin_params_axis, epsilon):
    """(y, mean, var) with statistics shaped x.shape[:begin_norm_axis] + (1,) * rest."""
    m = xp()
    stat = x.shape[:begin_norm_axis] + (1,) * (x.ndim - begin_norm_axis)
    if x.size == 0:
        return m.empty_like(x), m.full(stat, np.nan, x.dtype), m.full(stat, np.nan, x.dtype)
    rows = int(np.prod(x.shape[:begin_norm_axis]))
    d = x.size // rows
    if gamma.size == d and d <= ROW_KERNEL_MAX:
        x2 = m.ascontiguousarray(x).reshape(rows, d)
        y = m.empty_like(x2)
        mean = m.empty(rows, x.dtype)
        var = m.empty(rows, x.dtype)
        launch(_layer_norm_rows, rows, x2, m.ascontiguousarray(gamma).reshape(-1),
               m.ascontiguousarray(beta).reshape(-1), float(epsilon), y, mean, var, rows, d)
        return y.reshape(x.shape), mean.reshape(stat), var.reshape(stat)
    axes = tuple(range(begin_norm_axis, x.ndim))
    wide = x.astype(np.float64)
    mu = m.mean(wide, axis=axes, keepdims=True)
    v = m.mean((wide - mu) ** 2, axis=axes, keepdims=True)
    xhat = (wide - mu) / m.sqrt(v + epsilon)
    pshape = x.shape[begin_params_axis:]
    y = xhat * gamma.reshape(pshape) + beta.reshape(pshape)
    return y.astype(x.dtype), mu.astype(x.dtype), v.astype(x.dtype)


def layer_norm_grad(x, dy, dmean, dvar, gamma, begin_norm_axis, begin_params_axis, epsilon):
    m = xp()
    if x.size == 0:
        return m.zeros_like(x), m.zeros_like(gamma), m.zeros_like(gamma)
    axes = tuple(range(begin_norm_axis, x.ndim))
    d = int(np.prod(x.shape[begin_norm_axis:]))
    pshape = x.shape[begin_params_axis:]
    # float64 statistics, as in the CPU kernel (a row of nearly equal values is ill-conditioned)
    dtype, x, dy = x.dtype, x.astype(np.float64), dy.astype(np.float64)
    mu = m.mean(x, axis=axes, keepdims=True)
    xc = x - mu
    v = m.mean(xc * xc, axis=axes, keepdims=True)
    rstd = 1.0 / m.sqrt(v + epsilon)
    xh = xc * rstd
    h = dy * gamma.reshape(pshape)
    mh = m.mean(h, axis=axes, keepdims=True)
    mhx = m.mean(h * xh, axis=axes, keepdims=True)
    dx = rstd * (h - mh - xh * mhx) + dmean.reshape(mu.shape) / d + (2.0 / d) * dvar.reshape(mu.shape) * xc
    lead = tuple(range(begin_params_axis))
    dg = m.sum(dy * xh, axis=lead).reshape(gamma.shape)
    db = m.sum(dy, axis=lead).reshape(gamma.shape)
    return dx.astype(dtype), dg.astype(dtype), db.astype(dtype)


def _ncl(x):
    return x.reshape(x.shape[0], x.shape[1], -1)


def batch_norm(x, weight, bias, epsilon):
    m = xp()
    c = x.shape[1]
    if x.size == 0:
        return m.empty_like(x), m.full(c, np.nan, x.dtype), m.full(c, np.nan, x.dtype)
    x3 = _ncl(x)
    mu = m.mean(x3, axis=(0, 2), dtype=np.float64)
    xc = x3 - mu.astype(x.dtype)[None, :, None]
    v = m.mean(m.square(xc, dtype=np.float64), axis=(0, 2))
    scale = weight / m.sqrt(v + epsilon)
    shift = bias - mu * scale
    y = x3 * scale.astype(x.dtype)[None, :, None] + shift.astype(x.dtype)[None, :, None]
    return y.reshape(x.shape), mu.astype(x.dtype), v.astype(x.dtype)


def batch_norm_grad(x, dy, dmean, dvar, weight, epsilon):
    m = xp()
    if x.size == 0:
        return m.zeros_like(x), m.zeros_like(weight), m.zeros_like(weight)
    dtype = x.dtype
    x3, dy3 = _ncl(x).astype(np.float64), _ncl(dy).astype(np.float64)   # float64 sums, as the CPU kernel
    cnt = x3.shape[0] * x3.shape[2]
    mu = m.mean(x3, axis=(0, 2), keepdims=True)
    xc = x3 - mu
    rstd = 1.0 / m.sqrt(m.mean(xc * xc, axis=(0, 2), keepdims=True) + epsilon)
    sdy = m.sum(dy3, axis=(0, 2), keepdims=True)
    sdyx = m.sum(dy3 * xc, axis=(0, 2), keepdims=True) * rstd
    w = weight.reshape(1, -1, 1)
    mh = w * sdy / cnt
    mhx = w * sdyx / cnt
    a = dmean.reshape(1, -1, 1) / cnt
    bb = 2.0 * dvar.reshape(1, -1, 1) / cnt
    dx = rstd * (dy3 * w - mh - xc * rstd * mhx) + a + bb * xc
    return dx.reshape(x.shape).astype(dtype), sdyx.reshape(-1).astype(dtype), sdy.reshape(-1).astype(dtype)


def batch_norm_infer(x, weight, bias, mean, var, epsilon):
    m = xp()
    if x.size == 0:
        return m.empty_like(x)
    scale = weight / m.sqrt(var + epsilon)
    shift = bias - mean * scale
    x3 = _ncl(x)
    return (x3 * scale[None, :, None] + shift[None, :, None]).reshape(x.shape)
