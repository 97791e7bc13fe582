"""Optimizer updates on the GPU: one numba-cuda kernel per update, in place on the parameter and its state.

Hyper-parameters (learning rate, momentum, beta powers...) are read *inside* the kernel from one-element device
arrays, so a learning rate that lives on the device (a Parameter, a schedule) is never read back to the host:
the update needs no transfer. Momentum and SGD are ``kernels/cpu/optim.py``'s per-element spans compiled as device
functions (one source for both devices); the Adam formulas are the CPU kernels' too, written here with ``math``.
"""
import math

import numpy as np
from numba import cuda

from ... import device as _device
from ..cpu import optim as _cpu_optim
from .runtime import xp, launch, SIM


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


# Momentum and SGD: the CPU kernels' per-element spans (kernels/cpu/optim.py), compiled here as device functions —
# one source for both devices; a kernel reads its hyper-parameters once, then updates element i as the span over
# [i, i + 1). Adam's spans call np.sqrt, which numba-cuda (0.68, on an H100) refuses in device code (KeyError
# <ufunc 'sqrt'>; the simulator runs it), so the two Adam kernels keep their own loop with math.sqrt, the moment
# update shared between them.
_momentum_span = cuda.jit(device=True, inline=True)(_cpu_optim._momentum_span.py_func)
_sgd_span = cuda.jit(device=True, inline=True)(_cpu_optim._sgd_span.py_func)


@cuda.jit
def _momentum_kernel(var, accum, grad, lr, momentum, nesterov, n):
    lr0, mom = lr[0], momentum[0]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        _momentum_span(var, accum, grad, lr0, mom, nesterov, i, i + 1)


@cuda.jit
def _sgd_kernel(param, accum, stat, grad, lr, momentum, dampening, weight_decay, nesterov, n):
    lr0, mom = lr[0], momentum[0]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        _sgd_span(param, grad, accum, stat, lr0, mom, dampening, weight_decay, nesterov, i, i + 1)


@cuda.jit(device=True, inline=True)
def _moments(m, v, g, i, b1, b2):
    """Adam's moving averages of the gradient and its square at element i, updated; returns them."""
    mi = m[i] + (g - m[i]) * (1.0 - b1)
    vi = v[i] + (g * g - v[i]) * (1.0 - b2)
    m[i] = mi
    v[i] = vi
    return mi, vi


@cuda.jit
def _adam_kernel(var, m, v, grad, b1p, b2p, lr, beta1, beta2, eps, nesterov, n):
    b1, b2, e = beta1[0], beta2[0], eps[0]
    lr_t = lr[0] * math.sqrt(1.0 - b2p[0]) / (1.0 - b1p[0])
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        g = grad[i]
        mi, vi = _moments(m, v, g, i, b1, b2)
        if nesterov:
            var[i] -= lr_t * (mi * b1 + (1.0 - b1) * g) / (math.sqrt(vi) + e)
        else:
            var[i] -= lr_t * mi / (math.sqrt(vi) + e)


@cuda.jit
def _adamw_kernel(var, m, v, grad, lr, beta1, beta2, eps, decay, n):
    lr0, b1, b2, e, d = lr[0], beta1[0], beta2[0], eps[0], decay[0]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        mi, vi = _moments(m, v, grad[i], i, b1, b2)
        var[i] -= lr0 * (mi / (math.sqrt(vi) + e) + d * var[i])


def _update(kernel, state, gradient, hyper=(), flags=()):
    """Run an update kernel in place on the ``state`` arrays (the parameter first):
    ``kernel(*state, grad, *hyper as one-element device arrays, *flags, n)``."""
    flats, wb = _work(state)
    p = flats[0]
    launch(kernel, p.size, *flats, _grad(gradient, p), *(_s(h, p.dtype) for h in hyper), *flags, p.size)
    _finish(wb)


def _assign(variable, value):
    if _device.is_device_array(variable):
        variable[...] = value
        return variable
    return xp().array(xp().broadcast_to(value, variable.shape), dtype=variable.dtype)


def _apply_momentum(variable, accumulation, learning_rate, gradient, momentum, use_nesterov):
    _update(_momentum_kernel, (variable, accumulation), gradient, (learning_rate, momentum), (bool(use_nesterov),))
    return variable


def _sgd(parameters, gradient, learning_rate, accum, momentum, stat, dampening, weight_decay, nesterov):
    _update(_sgd_kernel, (parameters, accum, stat), gradient, (learning_rate, momentum),
            (float(dampening), float(weight_decay), bool(nesterov)))
    return parameters


def _adam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, gradient, use_locking, use_nesterov):
    _update(_adam_kernel, (var, m, v), gradient, (beta1_power, beta2_power, lr, beta1, beta2, epsilon),
            (bool(use_nesterov),))
    return var, m, v


def _adam_wd(var, m, v, lr, beta1, beta2, epsilon, decay, gradient, use_locking):
    _update(_adamw_kernel, (var, m, v), gradient, (lr, beta1, beta2, epsilon, decay))
    return var, m, v


KERNELS = {"assign": _assign, "apply_momentum": _apply_momentum, "sgd": _sgd, "adam": _adam,
           "adam_weight_decay": _adam_wd}


@cuda.jit
def _descend_kernel(var, step, lr, n):
    lr0 = lr[0]
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        var[i] -= lr0 * step[i]


def matmul_apply_momentum(variable, accumulation, learning_rate, a, b, momentum, transpose_a, transpose_b):
    """The ``matmul+apply_momentum`` node of ``passes/gemm_update.py`` on the GPU: ``accumulation = op(a) @ op(b) +
    momentum * accumulation`` as one cuBLAS GEMM (alpha and beta read from device memory, so nothing is read back),
    then ``variable -= lr * accumulation``. Other operands (non-contiguous state, mixed dtypes) and the simulator
    take the matmul and the Momentum kernel separately."""
    dt = a.dtype
    if (not SIM and dt.char in "fd" and b.dtype == dt and variable.dtype == dt and accumulation.dtype == dt
            and variable.flags.c_contiguous and accumulation.flags.c_contiguous):
        from cupy import cublas
        cublas.gemm("T" if transpose_a else "N", "T" if transpose_b else "N", a, b, out=accumulation,
                    alpha=_s(1.0, dt).reshape(()), beta=_s(momentum, dt).reshape(()))
        n = variable.size
        launch(_descend_kernel, n, variable.reshape(-1), accumulation.reshape(-1), _s(learning_rate, dt), n)
        return variable
    m = xp()
    gradient = m.matmul(a.T if transpose_a else a, b.T if transpose_b else b)
    return _apply_momentum(variable, accumulation, learning_rate, gradient, momentum, False)
