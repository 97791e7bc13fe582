"""Elementwise composites: clamping, remainders, float classification and interpolation, written with primitives."""
import math

import numpy as np

from ...errors import where
from .._api import as_tensor
from ..prims.math_ops import (add, sub, mul, div, abs, sign, floor, floor_mod, maximum, minimum, exp, log, pow,
                              sqrt)
from ..prims.logic_ops import select, equal, not_equal, less, logical_and, logical_not, logical_or

__all__ = ["clamp", "clip", "clip_by_value", "remainder", "fmod", "trunc", "true_divide", "isnan", "isinf",
           "isfinite", "isposinf", "isneginf", "nan_to_num", "exp2", "log2", "log10", "lerp", "addcmul", "addcdiv",
           "logaddexp", "xlogy", "hypot"]


def clamp(input, min=None, max=None):
    """``input`` limited to ``[min, max]`` (either bound may be None; bounds may be tensors that broadcast). As in
    PyTorch, the gradient passes where ``min <= input <= max`` and ``min > max`` gives ``max`` everywhere."""
    if min is None and max is None:
        raise ValueError(f"clamp: give at least one of min and max.{where()}")
    x = as_tensor(input)
    if min is not None:
        x = maximum(x, min)
    if max is not None:
        x = minimum(x, max)
    return x


clip = clamp


def clip_by_value(x, clip_value_min=None, clip_value_max=None):
    """MindSpore's ``ops.clip_by_value``: ``x`` limited to ``[clip_value_min, clip_value_max]`` (see ``clamp``)."""
    return clamp(x, clip_value_min, clip_value_max)


def remainder(input, other):
    """Python's ``%``: ``input - floor(input / other) * other``, with the sign of ``other`` (``ops.floor_mod``)."""
    return floor_mod(input, other)


def trunc(input):
    """``input`` rounded toward zero, elementwise (zero gradient)."""
    x = as_tensor(input)
    return mul(sign(x), floor(abs(x)))


def fmod(input, other):
    """C's ``fmod``: ``input - trunc(input / other) * other``, with the sign of ``input``. Gradient: 1 for
    ``input``, ``-trunc(input / other)`` for ``other``."""
    x = as_tensor(input)
    return sub(x, mul(trunc(div(x, other)), other))


def true_divide(dividend, divisor):
    """``dividend / divisor`` in floating point (``ops.div``)."""
    return div(dividend, divisor)


def isnan(input):
    """Whether each element is NaN (a bool tensor): the only value not equal to itself."""
    x = as_tensor(input)
    return not_equal(x, x)


def isinf(input):
    """Whether each element is +inf or -inf (a bool tensor)."""
    return equal(abs(as_tensor(input)), math.inf)


def isposinf(input):
    """Whether each element is +inf (a bool tensor)."""
    return equal(as_tensor(input), math.inf)


def isneginf(input):
    """Whether each element is -inf (a bool tensor)."""
    return equal(as_tensor(input), -math.inf)


def isfinite(input):
    """Whether each element is neither inf nor NaN (a bool tensor)."""
    x = as_tensor(input)
    return logical_not(logical_or(isnan(x), isinf(x)))


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """``input`` with NaN replaced by ``nan`` and +/-inf by ``posinf`` / ``neginf`` (default: the dtype's largest /
    lowest finite value). The gradient passes where the value was kept."""
    x = as_tensor(input)
    if x.dtype.kind != "f":
        return x
    info = np.finfo(x.dtype.np)
    x = select(isnan(x), float(nan), x)
    x = select(isposinf(x), float(info.max) if posinf is None else float(posinf), x)
    return select(isneginf(x), float(info.min) if neginf is None else float(neginf), x)


def exp2(input):
    """``2 ** input``, elementwise."""
    return pow(2.0, as_tensor(input))


def log2(input):
    """Base-2 logarithm, elementwise."""
    return div(log(input), math.log(2.0))


def log10(input):
    """Base-10 logarithm, elementwise."""
    return div(log(input), math.log(10.0))


def lerp(input, end, weight):
    """``input + weight * (end - input)``: linear interpolation (``weight`` a number or a tensor)."""
    x = as_tensor(input)
    return add(x, mul(weight, sub(end, x)))


def addcmul(input, tensor1, tensor2, value=1.0):
    """``input + value * tensor1 * tensor2``."""
    return add(input, mul(mul(tensor1, tensor2), value))


def addcdiv(input, tensor1, tensor2, value=1.0):
    """``input + value * tensor1 / tensor2``."""
    return add(input, mul(div(tensor1, tensor2), value))


def logaddexp(input, other):
    """``log(exp(input) + exp(other))`` without overflow: ``max + log(1 + exp(-|input - other|))``."""
    x = as_tensor(input)
    m = maximum(x, other)
    return add(m, log(add(exp(mul(abs(sub(x, other)), -1.0)), 1.0)))


def xlogy(input, other):
    """``input * log(other)``, 0 where ``input`` is 0 (also when ``other`` is 0), as in PyTorch / scipy."""
    x = as_tensor(input)
    zero = equal(x, 0.0)
    safe = select(logical_and(zero, less(other, 1.0)), 1.0, other)   # log(1) = 0 where input == 0
    return select(zero, 0.0, mul(x, log(safe)))


def hypot(input, other):
    """``sqrt(input**2 + other**2)`` without overflow or underflow: scaled by the larger magnitude."""
    a, b = abs(as_tensor(input)), abs(as_tensor(other))
    big, small = maximum(a, b), minimum(a, b)
    safe = select(equal(big, 0.0), 1.0, big)
    ratio = div(small, safe)
    return mul(big, sqrt(add(mul(ratio, ratio), 1.0)))
