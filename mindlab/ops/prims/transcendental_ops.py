"""Elementwise transcendental and rounding primitives: trigonometric and hyperbolic functions, erf, log1p / expm1
(accurate near 0, where ``log(1 + x)`` and ``exp(x) - 1`` lose every digit), atan2, ceil and round.

Integer inputs compute in float32 (``float_unary_infer``), as the other transcendental ops; gradients flow to floating
inputs only. They carry no fused-kernel expression yet: a GRAPH_MODE chain through them is split there.
"""
import math

import numpy as np
from scipy.special import erf as _erf

from ..registry import defprim, elementwise_cost, not_differentiable
from ..shard import elementwise
from ..dispatch import bind
from .._api import Primitive, tensor_pair, as_tensor
from .math_ops import (add, mul, div, exp, neg, square, float_unary_infer, unary_infer, binary_infer, _as_float,
                       _grad_to)
from .logic_ops import _is_float

__all__ = ["sin", "cos", "tan", "atan", "arctan", "sinh", "cosh", "erf", "log1p", "expm1", "atan2", "arctan2",
           "ceil", "round"]
__operations__ = ["Sin", "Cos", "Tan", "Atan", "Sinh", "Cosh", "Erf", "Log1p", "Expm1", "Atan2", "Ceil", "Round"]


def _float(fn):
    """A CPU kernel computing in the input's float type (integers: float32, as ``float_unary_infer`` says)."""
    def k(x):
        return fn(_as_float(x))
    k.__name__ = getattr(fn, "__name__", "kernel")
    return k


def _unary(name, fn, cost, bprop):
    return defprim(name, shard=elementwise, infer=float_unary_infer, cpu=_float(fn), cost=elementwise_cost(cost),
                   bprop=lambda inputs, out, dout: (bprop(inputs[0], out, dout) if _is_float(inputs[0]) else None,))


sin_p = _unary("sin", np.sin, 10, lambda x, out, dout: mul(dout, cos(x)))
cos_p = _unary("cos", np.cos, 10, lambda x, out, dout: neg(mul(dout, sin(x))))
tan_p = _unary("tan", np.tan, 12, lambda x, out, dout: mul(dout, add(square(out), 1.0)))
atan_p = _unary("atan", np.arctan, 12, lambda x, out, dout: div(dout, add(square(x), 1.0)))
sinh_p = _unary("sinh", np.sinh, 10, lambda x, out, dout: mul(dout, cosh(x)))
cosh_p = _unary("cosh", np.cosh, 10, lambda x, out, dout: mul(dout, sinh(x)))
erf_p = _unary("erf", _erf, 20, lambda x, out, dout: mul(dout, mul(exp(neg(square(x))), 2.0 / math.sqrt(math.pi))))
log1p_p = _unary("log1p", np.log1p, 10, lambda x, out, dout: div(dout, add(x, 1.0)))
expm1_p = _unary("expm1", np.expm1, 10, lambda x, out, dout: mul(dout, add(out, 1.0)))


def _atan2_infer(y, x):
    out = binary_infer(y, x)
    return float_unary_infer(out)


def _atan2_cpu(y, x):
    return np.arctan2(_as_float(y), _as_float(x))


def _atan2_bprop(inputs, out, dout):
    y, x = inputs
    r2 = add(square(x), square(y))
    return (_grad_to(div(mul(dout, x), r2), y), _grad_to(neg(div(mul(dout, y), r2)), x))


atan2_p = defprim("atan2", shard=elementwise, infer=_atan2_infer, cpu=_atan2_cpu, cost=elementwise_cost(20),
                  bprop=_atan2_bprop)

ceil_p = defprim(   # integer (and bool) inputs stay as they are, as with floor
    "ceil", shard=elementwise, infer=unary_infer, cpu=np.ceil, cost=elementwise_cost(1),
    bprop=not_differentiable("ceil is a step function: its gradient is 0 almost everywhere"))

round_p = defprim(   # halves to even, as numpy, PyTorch and MindSpore
    "round", shard=elementwise, infer=unary_infer, cpu=np.round, cost=elementwise_cost(1),
    bprop=not_differentiable("round is a step function: its gradient is 0 almost everywhere"))


def sin(input):
    """Sine (radians), elementwise."""
    return bind(sin_p, as_tensor(input))


def cos(input):
    """Cosine (radians), elementwise."""
    return bind(cos_p, as_tensor(input))


def tan(input):
    """Tangent (radians), elementwise."""
    return bind(tan_p, as_tensor(input))


def atan(input):
    """Inverse tangent, elementwise, in (-pi/2, pi/2)."""
    return bind(atan_p, as_tensor(input))


arctan = atan


def sinh(input):
    """Hyperbolic sine, elementwise."""
    return bind(sinh_p, as_tensor(input))


def cosh(input):
    """Hyperbolic cosine, elementwise."""
    return bind(cosh_p, as_tensor(input))


def erf(input):
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``, elementwise."""
    return bind(erf_p, as_tensor(input))


def log1p(input):
    """``log(1 + input)``, accurate for ``|input|`` near 0."""
    return bind(log1p_p, as_tensor(input))


def expm1(input):
    """``exp(input) - 1``, accurate for ``|input|`` near 0."""
    return bind(expm1_p, as_tensor(input))


def atan2(input, other):
    """The angle of the point ``(other, input)``: ``atan(input / other)`` in the right quadrant, in [-pi, pi]
    (numpy's ``arctan2(y, x)`` with ``y = input``). Broadcasts."""
    return bind(atan2_p, *tensor_pair(input, other))


arctan2 = atan2


def ceil(input):
    """The smallest integer not less than ``input``, elementwise (same dtype). Not differentiable."""
    return bind(ceil_p, as_tensor(input))


def round(input):
    """``input`` rounded to the nearest integer, halves to even, elementwise (same dtype). Not differentiable."""
    return bind(round_p, as_tensor(input))


def _op_class(fn):
    return type(fn.__name__.capitalize(), (Primitive,), {"__call__": lambda self, *args: fn(*args),
                                                         "__doc__": fn.__doc__})


Sin, Cos, Tan, Atan, Sinh, Cosh, Erf, Log1p, Expm1, Atan2, Ceil, Round = (
    _op_class(f) for f in (sin, cos, tan, atan, sinh, cosh, erf, log1p, expm1, atan2, ceil, round))
