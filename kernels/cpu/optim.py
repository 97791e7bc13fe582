"""Fused optimizer updates: one pass over memory per parameter, updating the parameter and its state arrays in place.

Each update is written once as a ``_*_span(lo, hi)`` loop over flat (1-D, contiguous) arrays; a serial driver runs
it over the whole array and, for large parameters, a ``parallel=True`` driver runs chunks of it on all cores.
Scalars (learning rate, betas, ...) are Python floats. The formulas are MindSpore's (ApplyMomentum, SGD, Adam,
AdamWeightDecay CPU kernels).
"""
import numpy as np
from numba import njit, prange

_PARALLEL_MIN = 1 << 22    # below this many elements threads cost more than they save (measured: at 400K
                           # elements the serial loop takes 0.25 ms, the 2-thread one 0.7 ms on a busy 2-core box)
_CHUNK = 1 << 14


def _drive(serial, parallel, n):
    return parallel if n >= _PARALLEL_MIN else serial


# ---------------------------------------------------------------- ApplyMomentum
@njit(cache=True, inline="always")
def _momentum_span(var, accum, grad, lr, momentum, nesterov, lo, hi):
    for i in range(lo, hi):
        a = accum[i] * momentum + grad[i]
        accum[i] = a
        if nesterov:
            var[i] -= lr * (grad[i] + a * momentum)
        else:
            var[i] -= lr * a


@njit(cache=True)
def _momentum_serial(var, accum, grad, lr, momentum, nesterov):
    _momentum_span(var, accum, grad, lr, momentum, nesterov, 0, var.size)


@njit(cache=True, parallel=True)
def _momentum_parallel(var, accum, grad, lr, momentum, nesterov):
    n = var.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        _momentum_span(var, accum, grad, lr, momentum, nesterov, c * _CHUNK, min(n, (c + 1) * _CHUNK))


def apply_momentum(var, accum, grad, lr, momentum, nesterov):
    """accum = momentum * accum + grad; var -= lr * accum (nesterov: var -= lr * (grad + momentum * accum))."""
    _drive(_momentum_serial, _momentum_parallel, var.size)(var, accum, grad, lr, momentum, nesterov)


@njit(cache=True, nogil=True)
def descend(var, step, lr):
    """var -= lr * step over flat arrays (the second half of a Momentum update whose accumulator is already new)."""
    for i in range(var.size):
        var[i] -= lr * step[i]


# ---------------------------------------------------------------- SGD (with dampening, weight decay, nesterov)
@njit(cache=True, inline="always")
def _sgd_span(param, grad, accum, stat, lr, momentum, dampening, weight_decay, nesterov, lo, hi):
    for i in range(lo, hi):
        g = grad[i]
        if weight_decay > 0.0:
            g += weight_decay * param[i]
        if momentum > 0.0:
            if stat[i] > 0:          # first step: the accumulator starts at the gradient
                a = g
                stat[i] = 0
            else:
                a = accum[i] * momentum + (1.0 - dampening) * g
            accum[i] = a
            if nesterov:
                g = g + a * momentum
            else:
                g = a
        param[i] -= lr * g


@njit(cache=True)
def _sgd_serial(param, grad, accum, stat, lr, momentum, dampening, weight_decay, nesterov):
    _sgd_span(param, grad, accum, stat, lr, momentum, dampening, weight_decay, nesterov, 0, param.size)


@njit(cache=True, parallel=True)
def _sgd_parallel(param, grad, accum, stat, lr, momentum, dampening, weight_decay, nesterov):
    n = param.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        _sgd_span(param, grad, accum, stat, lr, momentum, dampening, weight_decay, nesterov,
                  c * _CHUNK, min(n, (c + 1) * _CHUNK))


def sgd(param, grad, accum, stat, lr, momentum, dampening, weight_decay, nesterov):
    """MindSpore's SGD update (``stat`` > 0 marks the first step of each element)."""
    _drive(_sgd_serial, _sgd_parallel, param.size)(param, grad, accum, stat, lr, momentum, dampening,
                                                   weight_decay, nesterov)


# ---------------------------------------------------------------- Adam
@njit(cache=True, inline="always")
def _adam_span(var, m, v, grad, lr_t, beta1, beta2, eps, nesterov, lo, hi):
    for i in range(lo, hi):
        g = grad[i]
        mi = m[i] + (g - m[i]) * (1.0 - beta1)
        vi = v[i] + (g * g - v[i]) * (1.0 - beta2)
        m[i] = mi
        v[i] = vi
        if nesterov:
            var[i] -= lr_t * (mi * beta1 + (1.0 - beta1) * g) / (np.sqrt(vi) + eps)
        else:
            var[i] -= lr_t * mi / (np.sqrt(vi) + eps)


@njit(cache=True)
def _adam_serial(var, m, v, grad, lr_t, beta1, beta2, eps, nesterov):
    _adam_span(var, m, v, grad, lr_t, beta1, beta2, eps, nesterov, 0, var.size)


@njit(cache=True, parallel=True)
def _adam_parallel(var, m, v, grad, lr_t, beta1, beta2, eps, nesterov):
    n = var.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        _adam_span(var, m, v, grad, lr_t, beta1, beta2, eps, nesterov, c * _CHUNK, min(n, (c + 1) * _CHUNK))


def adam(var, m, v, grad, lr_t, beta1, beta2, eps, nesterov):
    """m, v moving averages of grad and grad²; var -= lr_t * m / (sqrt(v) + eps). ``lr_t`` is the bias-corrected
    learning rate lr * sqrt(1 - beta2^t) / (1 - beta1^t)."""
    _drive(_adam_serial, _adam_parallel, var.size)(var, m, v, grad, lr_t, beta1, beta2, eps, nesterov)


# ---------------------------------------------------------------- AdamWeightDecay (decoupled weight decay)
@njit(cache=True, inline="always")
def _adamw_span(var, m, v, grad, lr, beta1, beta2, eps, decay, lo, hi):
    for i in range(lo, hi):
        g = grad[i]
        mi = m[i] + (g - m[i]) * (1.0 - beta1)
        vi = v[i] + (g * g - v[i]) * (1.0 - beta2)
        m[i] = mi
        v[i] = vi
        var[i] -= lr * (mi / (np.sqrt(vi) + eps) + decay * var[i])


@njit(cache=True)
def _adamw_serial(var, m, v, grad, lr, beta1, beta2, eps, decay):
    _adamw_span(var, m, v, grad, lr, beta1, beta2, eps, decay, 0, var.size)


@njit(cache=True, parallel=True)
def _adamw_parallel(var, m, v, grad, lr, beta1, beta2, eps, decay):
    n = var.size
    for c in prange((n + _CHUNK - 1) // _CHUNK):
        _adamw_span(var, m, v, grad, lr, beta1, beta2, eps, decay, c * _CHUNK, min(n, (c + 1) * _CHUNK))


def adam_weight_decay(var, m, v, grad, lr, beta1, beta2, eps, decay):
    """Adam without bias correction and with decoupled weight decay: var -= lr * (m / (sqrt(v) + eps) + decay*var)."""
    _drive(_adamw_serial, _adamw_parallel, var.size)(var, m, v, grad, lr, beta1, beta2, eps, decay)
