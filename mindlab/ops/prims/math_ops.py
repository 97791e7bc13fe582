"""Elementwise primitives: arithmetic, unary math, activations, comparisons, logic, select and cast."""
import numpy as np

from ... import dtype as mdt
from ...errors import DTypeError
from ..abstract import AbstractTensor, broadcast_shapes, same_dtype
from ..registry import defprim, elementwise_cost, not_differentiable
from ..dispatch import bind
from .._api import Primitive, tensor_pair, as_tensor
from .reduce_ops import sum_to

__all__ = ["add", "sub", "mul", "div", "neg", "exp", "tensor_add", "tensor_sub", "tensor_mul", "tensor_div"]
__operations__ = ["Add", "Sub", "Mul", "Div", "RealDiv", "Neg", "Exp"]


# ---------------------------------------------------------------- shared infer rules
def binary_infer(x, y):
    """Broadcast shapes, promote dtypes."""
    return AbstractTensor(broadcast_shapes(x.shape, y.shape), same_dtype(x, y))


def float_binary_infer(x, y):
    """Like binary_infer, but integer inputs give float32 (true division)."""
    out = binary_infer(x, y)
    return out if out.dtype.kind == "f" else AbstractTensor(out.shape, mdt.float32)


def unary_infer(x):
    return AbstractTensor(x.shape, x.dtype)


def float_unary_infer(x):
    """Transcendental functions: float in, same float out; integers become float32."""
    return AbstractTensor(x.shape, x.dtype if x.dtype.kind == "f" else mdt.float32)


# ---------------------------------------------------------------- add / sub / mul / div
add_p = defprim(
    "add", infer=binary_infer, cpu=np.add, cost=elementwise_cost(1),
    bprop=lambda inputs, out, dout: (sum_to(dout, inputs[0].shape), sum_to(dout, inputs[1].shape)))

sub_p = defprim(
    "sub", infer=binary_infer, cpu=np.subtract, cost=elementwise_cost(1),
    bprop=lambda inputs, out, dout: (sum_to(dout, inputs[0].shape), sum_to(neg(dout), inputs[1].shape)))

mul_p = defprim(
    "mul", infer=binary_infer, cpu=np.multiply, cost=elementwise_cost(1),
    bprop=lambda inputs, out, dout: (sum_to(mul(dout, inputs[1]), inputs[0].shape),
                                     sum_to(mul(dout, inputs[0]), inputs[1].shape)))

div_p = defprim(
    "div", infer=float_binary_infer, cpu=np.true_divide, cost=elementwise_cost(1),
    bprop=lambda inputs, out, dout: (sum_to(div(dout, inputs[1]), inputs[0].shape),
                                     sum_to(neg(mul(dout, div(out, inputs[1]))), inputs[1].shape)))


def add(input, other):
    """``input + other``, elementwise with broadcasting."""
    return bind(add_p, *tensor_pair(input, other))


def sub(input, other):
    """``input - other``, elementwise with broadcasting."""
    return bind(sub_p, *tensor_pair(input, other))


def mul(input, other):
    """``input * other``, elementwise with broadcasting."""
    return bind(mul_p, *tensor_pair(input, other))


def div(input, other):
    """``input / other`` (true division; integer inputs give float32), elementwise with broadcasting."""
    return bind(div_p, *tensor_pair(input, other))


tensor_add, tensor_sub, tensor_mul, tensor_div = add, sub, mul, div


class Add(Primitive):
    def __call__(self, x, y):
        return add(x, y)


class Sub(Primitive):
    def __call__(self, x, y):
        return sub(x, y)


class Mul(Primitive):
    def __call__(self, x, y):
        return mul(x, y)


class Div(Primitive):
    def __call__(self, x, y):
        return div(x, y)


RealDiv = Div


# ---------------------------------------------------------------- neg / exp
neg_p = defprim(
    "neg", infer=unary_infer, cpu=np.negative, cost=elementwise_cost(1),
    bprop=lambda inputs, out, dout: (neg(dout),))

exp_p = defprim(
    "exp", infer=float_unary_infer, cpu=np.exp, cost=elementwise_cost(10),
    bprop=lambda inputs, out, dout: (mul(dout, out),))


def neg(input):
    """``-input``."""
    return bind(neg_p, as_tensor(input))


def exp(input):
    """``e ** input``."""
    return bind(exp_p, as_tensor(input))


class Neg(Primitive):
    def __call__(self, x):
        return neg(x)


class Exp(Primitive):
    def __call__(self, x):
        return exp(x)
