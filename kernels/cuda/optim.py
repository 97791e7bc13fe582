"""Optimizer updates on the GPU: one numba-cuda kernel per update, in place on the parameter and its state.

Hyper-parameters (learning rate, momentum, beta powers...) are read *inside* the kernel from one-element device
arrays, so a learning rate that lives on the device (a Parameter, a schedule) is never read back to the host:
the update needs no transfer. Formulas as in ``kernels/cpu/optim.py``.
"""
import math

import numpy as np
from numba import cuda

from ... import device as _device
from .runtime import xp, launch


_CONSTANTS = {}     # (value, dtype) -> one-element device array: a host hyper-parameter is moved once, not per step


def _s(a, dtype):
    """A hyper-parameter as a one-element device array (a host value is moved once, counted, then reused)."""
    if _device.is_device_array(a):
        return a.reshape(1) if a.dtype == dtype else a.reshape(1).astype(dtype)
    v = np.asarray(a, dtype).reshape(1)
    key = (v.tobytes(), v.dtype.str)
    d = _CONSTANTS.get(key)
    if d is None:
        if len(_CONSTANTS) > 1024:
            _CONSTANTS.clear()
        d = _CONSTANTS[key] = _device.to_device(v)
    return d


def _work(arrays):
    """Flat device views updated in place, plus write-backs for arrays that cannot be (float16, non-contiguous)."""
    m = xp()
    flats, writebacks = [], []
    for a in arrays:
        if a.dtype.kind == "f" and a.dtype.itemsize >= 4 and a.flags.c_contiguous:
            flats.append(a.reshape(-1))
        else:
            w = m.ascontiguousarray(a, dtype=np.float32 if a.dtype.itemsize < 4 else a.dtype).reshape(-1)
            flats.append(w)
            writebacks.append((a, w))
    return flats, writebacks


def _finish(writebacks):
    for a, w in writebacks:
        a[...] = w.reshape(a.shape).astype(a.dtype)


def _grad(g, like):
    return xp().ascontiguousarray(g, dtype=like.dtype).reshape(-1)


@cuda.jit
def _momentum_kernel(var, accum, grad, lr, momentum, nesterov, n):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        a = accum[i] * momentum[0] + grad[i]
        accum[i] = a
        if nesterov:
            var[i] -= lr[0] * (grad[i] + a * momentum[0])
        else:
            var[i] -= lr[0] * a


@cuda.jit
def _sgd_kernel(param, grad, accum, stat, lr, momentum, dampening, weight_decay, nesterov, n):
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        g = grad[i]
        if weight_decay > 0.0:
            g += weight_decay * param[i]
        mom = momentum[0]
        if mom > 0.0:
            if stat[i] > 0:
                a = g
                stat[i] = 0
            else:
                a = accum[i] * mom + (1.0 - dampening) * g
            accum[i] = a
            if nesterov:
                g = g + a * mom
            else:
                g = a
        param[i] -= lr[0] * g


@cuda.jit
def _adam_kernel(var, m, v, grad, b1p, b2p, lr, beta1, beta2, eps, nesterov, n):
    b1 = beta1[0]
    b2 = beta2[0]
    lr_t = lr[0] * math.sqrt(1.0 - b2p[0]) / (1.0 - b1p[0])
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        g = grad[i]
        mi = m[i] + (g - m[i]) * (1.0 - b1)
        vi = v[i] + (g * g - v[i]) * (1.0 - b2)
        m[i] = mi
        v[i] = vi
        if nesterov:
            var[i] -= lr_t * (mi * b1 + (1.0 - b1) * g) / (math.sqrt(vi) + eps[0])
        else:
            var[i] -= lr_t * mi / (math.sqrt(vi) + eps[0])


@cuda.jit
def _adamw_kernel(var, m, v, grad, lr, beta1, beta2, eps, decay, n):
    b1 = beta1[0]
    b2 = beta2[0]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        g = grad[i]
        mi = m[i] + (g - m[i]) * (1.0 - b1)
        vi = v[i] + (g * g - v[i]) * (1.0 - b2)
        m[i] = mi
        v[i] = vi
        var[i] -= lr[0] * (mi / (math.sqrt(vi) + eps[0]) + decay[0] * var[i])


def _assign(variable, value):
    if _device.is_device_array(variable):
        variable[...] = value
        return variable
    return xp().array(xp().broadcast_to(value, variable.shape), dtype=variable.dtype)


def _apply_momentum(variable, accumulation, learning_rate, gradient, momentum, use_nesterov):
    (var, acc), wb = _work((variable, accumulation))
    dt = var.dtype
    launch(_momentum_kernel, var.size, var, acc, _grad(gradient, var), _s(learning_rate, dt), _s(momentum, dt),
           bool(use_nesterov), var.size)
    _finish(wb)
    return variable


def _sgd(parameters, gradient, learning_rate, accum, momentum, stat, dampening, weight_decay, nesterov):
    (p, acc, st), wb = _work((parameters, accum, stat))
    dt = p.dtype
    launch(_sgd_kernel, p.size, p, _grad(gradient, p), acc, st, _s(learning_rate, dt), _s(momentum, dt),
           float(dampening), float(weight_decay), bool(nesterov), p.size)
    _finish(wb)
    return parameters


def _adam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, gradient, use_locking, use_nesterov):
    (w, mm, vv), wb = _work((var, m, v))
    dt = w.dtype
    launch(_adam_kernel, w.size, w, mm, vv, _grad(gradient, w), _s(beta1_power, dt), _s(beta2_power, dt),
           _s(lr, dt), _s(beta1, dt), _s(beta2, dt), _s(epsilon, dt), bool(use_nesterov), w.size)
    _finish(wb)
    return var, m, v


def _adam_wd(var, m, v, lr, beta1, beta2, epsilon, decay, gradient, use_locking):
    (w, mm, vv), wb = _work((var, m, v))
    dt = w.dtype
    launch(_adamw_kernel, w.size, w, mm, vv, _grad(gradient, w), _s(lr, dt), _s(beta1, dt), _s(beta2, dt),
           _s(epsilon, dt), _s(decay, dt), w.size)
    _finish(wb)
    return var, m, v


KERNELS = {"assign": _assign, "apply_momentum": _apply_momentum, "sgd": _sgd, "adam": _adam,
           "adam_weight_decay": _adam_wd}
