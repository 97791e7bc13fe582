"""GPU kernels of the elementwise primitives: cupy's ufuncs (one CUDA kernel each; numpy under the simulator).

Semantics follow the CPU kernels (``mindlab/ops/prims/math_ops.py``): transcendental functions of integers compute
in float32, ``reciprocal`` is a true 1/x, ``gelu`` has its erf and tanh forms, ``softplus`` its beta/threshold.
Graph mode fuses chains of these into one numba-cuda kernel instead (``kernels/cuda/fused.py``).
"""
import math

import numpy as np

from .runtime import xp, special

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_K = math.sqrt(2.0 / math.pi)
_C = 0.044715


def _as_float(a):
    return a if a.dtype.kind == "f" else a.astype(np.float32)


def _ufunc(name):
    def k(*arrays):
        return getattr(xp(), name)(*arrays)
    k.__name__ = name
    return k


def _float_ufunc(name):
    def k(x):
        return getattr(xp(), name)(_as_float(x))
    k.__name__ = name
    return k


def _sigmoid(x):
    return special().expit(_as_float(x))


def _rsqrt(x):
    return 1 / xp().sqrt(_as_float(x))


def _reciprocal(x):
    x = _as_float(x)
    return xp().reciprocal(x)


def _relu(x):
    return xp().maximum(x, x.dtype.type(0))


def _gelu(x, approximate):
    m = xp()
    x = _as_float(x)
    if approximate == "tanh":
        t = m.tanh(x * (x * x * _C + 1) * _K)
    else:
        t = special().erf(x * _SQRT_HALF)
    return (t + 1) * x * 0.5


def _gelu_grad(dout, x, approximate):
    m = xp()
    x = _as_float(x)
    x2 = x * x
    if approximate == "tanh":
        t = m.tanh(x * (x2 * _C + 1) * _K)
        d = (x2 * (3 * _C) + 1) * _K * x * 0.5 * (1 - t * t)
    else:
        d = m.exp(x2 * -0.5) * x * _INV_SQRT_2PI
        t = special().erf(x * _SQRT_HALF)
    return ((t + 1) * 0.5 + d) * dout


def _softplus(x, beta, threshold):
    m = xp()
    x = _as_float(x)
    bx = x * beta if beta != 1 else x
    out = m.logaddexp(x.dtype.type(0), bx)
    if beta != 1:
        out = out / beta
    return m.where(bx > threshold, x, out)


def _cast(x, dtype):
    return x.astype(dtype.np, copy=False)


def _round(x):
    return xp().round(x) if x.dtype.kind == "f" else x   # integers are rounded already (cupy rejects bools)


def _select(cond, x, y):
    return xp().where(cond, x, y)


KERNELS = {
    "add": _ufunc("add"), "sub": _ufunc("subtract"), "mul": _ufunc("multiply"), "div": _ufunc("true_divide"),
    "neg": _ufunc("negative"), "pow": _ufunc("power"), "floor_div": _ufunc("floor_divide"),
    "floor_mod": _ufunc("remainder"), "square": _ufunc("square"), "maximum": _ufunc("maximum"),
    "minimum": _ufunc("minimum"), "abs": _ufunc("absolute"), "sign": _ufunc("sign"), "floor": _ufunc("floor"),
    "exp": _float_ufunc("exp"), "log": _float_ufunc("log"), "sqrt": _float_ufunc("sqrt"),
    "tanh": _float_ufunc("tanh"), "sigmoid": _sigmoid, "rsqrt": _rsqrt, "reciprocal": _reciprocal,
    "relu": _relu, "gelu": _gelu, "gelu_grad": _gelu_grad, "softplus": _softplus,
    "equal": _ufunc("equal"), "not_equal": _ufunc("not_equal"), "less": _ufunc("less"),
    "less_equal": _ufunc("less_equal"), "greater": _ufunc("greater"), "greater_equal": _ufunc("greater_equal"),
    "logical_and": _ufunc("logical_and"), "logical_or": _ufunc("logical_or"),
    "logical_not": _ufunc("logical_not"), "select": _select, "cast": _cast,
    "sin": _float_ufunc("sin"), "cos": _float_ufunc("cos"), "tan": _float_ufunc("tan"),
    "atan": _float_ufunc("arctan"), "sinh": _float_ufunc("sinh"), "cosh": _float_ufunc("cosh"),
    "log1p": _float_ufunc("log1p"), "expm1": _float_ufunc("expm1"), "erf": lambda x: special().erf(_as_float(x)),
    "atan2": lambda y, x: xp().arctan2(_as_float(y), _as_float(x)), "ceil": _ufunc("ceil"), "round": _round,
}
