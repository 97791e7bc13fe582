"""Layer norm and batch norm in numba: fused forward (statistics + normalise + affine in one kernel) and fused
backward (the two reductions the input gradient needs, the parameter gradients, and the input gradient).

Statistics accumulate in float64 and use two passes (mean, then squared deviations) for accuracy. The forward
returns the biased variance, as MindSpore's LayerNorm / BatchNorm do.

The backward kernels also take the cotangents of the mean and variance outputs (``dmean``, ``dvar``), so a
program that uses those outputs gets their gradient without extra passes:
``dx += dmean / D + dvar * 2 (x - mean) / D`` where D is the number of values each statistic averages.
"""
import numpy as np
from numba import njit

_FM = {"reassoc", "contract"}   # lets LLVM vectorise the sums; keeps inf/NaN semantics


# ---------------------------------------------------------------- layer norm: x is (M, D), one statistic per row
# gamma / beta are flat (G,) and cover the trailing dims from begin_params_axis: element f of the flattened input
# uses parameter f % G. In the usual case G == D that is the column; the loops test it once per row so LLVM can
# vectorise that path (a running index with wrap-around measured 2-3x slower).
@njit(inline="always")
def _row_stats(x, r, d):
    s = 0.0
    for k in range(d):
        s += x[r, k]
    mu = s / d
    s = 0.0
    for k in range(d):
        t = x[r, k] - mu
        s += t * t
    return mu, s / d


@njit(cache=True, fastmath=_FM)
def layer_norm(x, gamma, beta, eps):
    m, d = x.shape
    g = gamma.shape[0]
    y = np.empty_like(x)
    mean = np.empty(m, x.dtype)
    var = np.empty(m, x.dtype)
    for r in range(m):
        mu, v = _row_stats(x, r, d)
        rstd = 1.0 / np.sqrt(v + eps)
        if g == d:
            for k in range(d):
                y[r, k] = (x[r, k] - mu) * rstd * gamma[k] + beta[k]
        else:
            p0 = (r * d) % g
            for k in range(d):
                p = (p0 + k) % g
                y[r, k] = (x[r, k] - mu) * rstd * gamma[p] + beta[p]
        mean[r] = mu
        var[r] = v
    return y, mean, var


@njit(cache=True, fastmath=_FM)
def layer_norm_grad(x, dy, dmean, dvar, gamma, eps):
    """(dx, dgamma, dbeta) of layer_norm's (y, mean, var) outputs with cotangents (dy, dmean, dvar)."""
    m, d = x.shape
    g = gamma.shape[0]
    dx = np.empty_like(x)
    dgamma = np.zeros(g)
    dbeta = np.zeros(g)
    for r in range(m):
        mu, v = _row_stats(x, r, d)
        rstd = 1.0 / np.sqrt(v + eps)
        # h = dy * gamma is the gradient w.r.t. the normalised input xhat; dx needs mean(h) and mean(h * xhat)
        p0 = (r * d) % g
        sh = 0.0
        shx = 0.0
        if g == d:
            for k in range(d):
                xh = (x[r, k] - mu) * rstd
                h = dy[r, k] * gamma[k]
                sh += h
                shx += h * xh
                dgamma[k] += dy[r, k] * xh
                dbeta[k] += dy[r, k]
        else:
            for k in range(d):
                p = (p0 + k) % g
                xh = (x[r, k] - mu) * rstd
                h = dy[r, k] * gamma[p]
                sh += h
                shx += h * xh
                dgamma[p] += dy[r, k] * xh
                dbeta[p] += dy[r, k]
        mh = sh / d
        mhx = shx / d
        a = dmean[r] / d
        b = 2.0 * dvar[r] / d
        for k in range(d):
            p = k if g == d else (p0 + k) % g
            xc = x[r, k] - mu
            dx[r, k] = rstd * (dy[r, k] * gamma[p] - mh - xc * rstd * mhx) + a + b * xc
    return dx, dgamma.astype(x.dtype), dbeta.astype(x.dtype)


# ---------------------------------------------------------------- batch norm: x is (N, C, L), statistics per channel
@njit(cache=True, fastmath=_FM)
def batch_norm(x, weight, bias, eps):
    """Training-mode batch norm: (y, batch mean (C,), biased batch variance (C,))."""
    n, c, l = x.shape
    y = np.empty_like(x)
    mean = np.empty(c, x.dtype)
    var = np.empty(c, x.dtype)
    cnt = n * l
    for ch in range(c):
        s = 0.0
        for b in range(n):
            for k in range(l):
                s += x[b, ch, k]
        mu = s / cnt
        s = 0.0
        for b in range(n):
            for k in range(l):
                t = x[b, ch, k] - mu
                s += t * t
        v = s / cnt
        scale = weight[ch] / np.sqrt(v + eps)
        shift = bias[ch] - mu * scale
        for b in range(n):
            for k in range(l):
                y[b, ch, k] = x[b, ch, k] * scale + shift
        mean[ch] = mu
        var[ch] = v
    return y, mean, var


@njit(cache=True, fastmath=_FM)
def batch_norm_grad(x, dy, dmean, dvar, weight, eps):
    """(dx, dweight, dbias) of batch_norm's (y, mean, var) outputs with cotangents (dy, dmean, dvar)."""
    n, c, l = x.shape
    dx = np.empty_like(x)
    dw = np.empty(c, x.dtype)
    db = np.empty(c, x.dtype)
    cnt = n * l
    for ch in range(c):
        s = 0.0
        for b in range(n):
            for k in range(l):
                s += x[b, ch, k]
        mu = s / cnt
        s = 0.0
        for b in range(n):
            for k in range(l):
                t = x[b, ch, k] - mu
                s += t * t
        rstd = 1.0 / np.sqrt(s / cnt + eps)
        sdy = 0.0
        sdyx = 0.0
        for b in range(n):
            for k in range(l):
                sdy += dy[b, ch, k]
                sdyx += dy[b, ch, k] * (x[b, ch, k] - mu)
        sdyx *= rstd                      # sum(dy * xhat)
        w = weight[ch]
        mh = w * sdy / cnt                # mean(h), h = dy * w
        mhx = w * sdyx / cnt              # mean(h * xhat)
        a = dmean[ch] / cnt
        bb = 2.0 * dvar[ch] / cnt
        for b in range(n):
            for k in range(l):
                xc = x[b, ch, k] - mu
                dx[b, ch, k] = rstd * (dy[b, ch, k] * w - mh - xc * rstd * mhx) + a + bb * xc
        dw[ch] = sdyx
        db[ch] = sdy
    return dx, dw, db


@njit(cache=True)
def batch_norm_infer(x, weight, bias, mean, var, eps):
    """Inference-mode batch norm with given statistics: one fused scale-and-shift pass."""
    n, c, l = x.shape
    y = np.empty_like(x)
    for ch in range(c):
        scale = weight[ch] / np.sqrt(var[ch] + eps)
        shift = bias[ch] - mean[ch] * scale
        for b in range(n):
            for k in range(l):
                y[b, ch, k] = x[b, ch, k] * scale + shift
    return y
