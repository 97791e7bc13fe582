"""Elementwise primitives: arithmetic, unary math and activations (comparisons, logic, select and cast: logic_ops).

Dtype rules: binary ops broadcast and promote MindSpore's way (``same_dtype``); transcendental ops turn integer
inputs into float32 (``float_unary_infer``); bool arithmetic follows numpy (``square``/``pow``/``floor_div``/
``floor_mod`` of bools give int8; ``neg``/``sub``/``sign``/``relu`` reject bools). Gradients flow to floating
inputs only: an integer or bool input gets ``None``.

Each elementwise primitive also carries its scalar expression (``fuse=``, see ``ops.registry``) for the fused
kernels GRAPH_MODE generates (``passes.fusion``); ``floor_div``/``floor_mod`` (integer division by zero raises in
numba), the erf form of ``gelu``, ``gelu_grad`` and ``softplus`` have none and stay unfused.
"""
import math

import numpy as np
from scipy.special import erf as _erf, expit as _expit

from ... import dtype as mdt
from ...errors import DTypeError, ShapeError
from ..abstract import AbstractTensor, broadcast_shapes, same_dtype
from ..registry import defprim, elementwise_cost, not_differentiable
from ..shard import elementwise
from ..dispatch import bind
from .._api import Primitive, tensor_pair, as_tensor
from .reduce_ops import sum_to
from .logic_ops import greater, greater_equal, less_equal, select, _is_float
from . import native_rules as _native

__all__ = ["add", "sub", "mul", "div", "neg", "negative", "exp", "tensor_add", "tensor_sub", "tensor_mul",
           "tensor_div",
           "pow", "floor_div", "floor_divide", "floor_mod", "square", "maximum", "minimum",
           "log", "sqrt", "rsqrt", "abs", "absolute", "sign", "reciprocal", "floor",
           "tanh", "sigmoid", "relu", "gelu", "softplus"]
__operations__ = ["Add", "Sub", "Mul", "Div", "RealDiv", "Neg", "Exp",
                  "Pow", "FloorDiv", "FloorMod", "Square", "Maximum", "Minimum",
                  "Log", "Sqrt", "Rsqrt", "Abs", "Sign", "Reciprocal", "Floor",
                  "Tanh", "Sigmoid", "ReLU", "GeLU", "Softplus"]


# ---------------------------------------------------------------- shared infer rules
def binary_infer(x, y):
    """Broadcast shapes, promote dtypes."""
    return AbstractTensor(broadcast_shapes(x.shape, y.shape), same_dtype(x, y))


def float_binary_infer(x, y):
    """Like binary_infer, but integer inputs give float32 (true division)."""
    out = binary_infer(x, y)
    return out if out.dtype.kind == "f" else AbstractTensor(out.shape, mdt.float32)


def int8_bool_binary_infer(x, y):
    """Like binary_infer, but bool with bool gives int8, as numpy's power/floor_divide/remainder do."""
    out = binary_infer(x, y)
    return out if out.dtype.kind != "b" else AbstractTensor(out.shape, mdt.int8)


def no_bool_binary_infer(x, y):
    """Like binary_infer, for ops numpy does not define on bools (subtraction)."""
    if x.dtype.kind == "b" and y.dtype.kind == "b":
        raise DTypeError("bool inputs are not supported (cast them to an integer or float type first)")
    return binary_infer(x, y)


def unary_infer(x):
    return AbstractTensor(x.shape, x.dtype)


def no_bool_unary_infer(x):
    if x.dtype.kind == "b":
        raise DTypeError("bool input is not supported (cast it to an integer or float type first)")
    return AbstractTensor(x.shape, x.dtype)


def float_unary_infer(x):
    """Transcendental functions: float in, same float out; integers become float32."""
    return AbstractTensor(x.shape, x.dtype if x.dtype.kind == "f" else mdt.float32)


def _as_float(a):
    """A kernel's input as floating point (integer/bool arrays become float32, as float_unary_infer says)."""
    return a if a.dtype.kind == "f" else a.astype(np.float32)


def _grad_to(g, x):
    """``g`` summed down to input ``x``'s shape (undoing broadcasting), or None when ``x`` is not floating."""
    return sum_to(g, x.shape) if x.dtype.kind == "f" else None


# ---------------------------------------------------------------- add / sub / mul / div
# ---------------------------------------------------------------- scalar expressions for fused kernels
def _fuse_float_unary(fn):
    """fuse rule of a float function: integer/bool operands are converted to the float output type first."""
    return f"{fn}({{out}}({{0}}))"


def _fuse_pow(x, y, out):
    """x ** y; a constant integer exponent 1, 2, 3 or -1 becomes multiplications or a division (what numpy's
    power computes too), other exponents call pow. Integer/bool powers stay unfused (negative exponents raise)."""
    if not out.startswith("float"):
        return None
    if y.const is not None:
        c = float(y.const)
        if c == 1:
            return f"{out}({x})"
        if c == 2:
            return f"{out}({x}) * {out}({x})"
        if c == 3:
            return f"{out}({x}) * {out}({x}) * {out}({x})"
        if c == -1:
            return f"{out}(1) / {out}({x})"
    return f"{out}({x}) ** {out}({y})"


def _fuse_no_bool(template):
    """A template for numeric operands; bool operands leave the node unfused (numba's bool arithmetic differs)."""
    def rule(*args, out):
        if any(a.dtype.kind == "b" for a in args):
            return None
        return template.format(*args, out=out)
    return rule


add_p = defprim(
    "add", shard=elementwise, infer=binary_infer, cpu=np.add, cost=elementwise_cost(1), fuse="{0} + {1}",
    native=_native.binary("+"),
    bprop=lambda inputs, out, dout: (sum_to(dout, inputs[0].shape), sum_to(dout, inputs[1].shape)))

sub_p = defprim(
    "sub", shard=elementwise, infer=no_bool_binary_infer, cpu=np.subtract, cost=elementwise_cost(1), fuse="{0} - {1}",
    native=_native.binary("-"),
    bprop=lambda inputs, out, dout: (sum_to(dout, inputs[0].shape), sum_to(neg(dout), inputs[1].shape)))

mul_p = defprim(
    "mul", shard=elementwise, infer=binary_infer, cpu=np.multiply, cost=elementwise_cost(1), fuse="{0} * {1}",
    native=_native.binary("*"),
    bprop=lambda inputs, out, dout: (sum_to(mul(dout, inputs[1]), inputs[0].shape),
                                     sum_to(mul(dout, inputs[0]), inputs[1].shape)))

div_p = defprim(
    "div", shard=elementwise, infer=float_binary_infer, cpu=np.true_divide, cost=elementwise_cost(1), fuse="{0} / {1}",
    native=_native.binary("/"),
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
    "neg", shard=elementwise, infer=no_bool_unary_infer, cpu=np.negative, cost=elementwise_cost(1), fuse="-{0}",
    bprop=lambda inputs, out, dout: (neg(dout),))

exp_p = defprim(
    "exp", shard=elementwise, infer=float_unary_infer, cpu=np.exp, cost=elementwise_cost(10),
    fuse=_fuse_float_unary("fexp"),
    bprop=lambda inputs, out, dout: (mul(dout, out),))


def neg(input):
    """``-input``."""
    return bind(neg_p, as_tensor(input))


negative = neg


def exp(input):
    """``e ** input``."""
    return bind(exp_p, as_tensor(input))


class Neg(Primitive):
    def __call__(self, x):
        return neg(x)


class Exp(Primitive):
    def __call__(self, x):
        return exp(x)


# ---------------------------------------------------------------- pow
def _pow_bprop(inputs, out, dout):
    x, y = inputs
    # d/dx x**y = y * x**(y-1)  (written with pow, not out/x, so it holds at x == 0)
    dx = sum_to(mul(dout, mul(y, pow(x, sub(y, 1)))), x.shape) if _is_float(x) else None
    dy = None
    if _is_float(y):
        # d/dy x**y = x**y * log(x), defined for x > 0 only; elsewhere the gradient is 0. log sees 1 where x <= 0,
        # so no NaN is ever produced (NaN * 0 would still be NaN) and the mask keeps higher orders clean too.
        pos = greater(x, 0)
        log_x = select(pos, log(select(pos, x, 1)), 0)
        dy = sum_to(mul(dout, mul(out, log_x)), y.shape)
    return dx, dy


pow_p = defprim("pow", shard=elementwise, infer=int8_bool_binary_infer, cpu=np.power, cost=elementwise_cost(10),
                bprop=_pow_bprop, fuse=_fuse_pow)


def pow(input, exponent):
    """``input ** exponent``, elementwise with broadcasting; either may be a Python number. Differentiable in both
    the base and the exponent (the exponent's gradient ``out * log(input)`` is taken as 0 where ``input <= 0``)."""
    return bind(pow_p, *tensor_pair(input, exponent))


class Pow(Primitive):
    """``P.Pow()(x, y)``: ``x ** y``."""

    def __call__(self, x, y):
        return pow(x, y)


# ---------------------------------------------------------------- floor_div / floor_mod
floor_div_p = defprim(
    "floor_div", shard=elementwise, infer=int8_bool_binary_infer, cpu=np.floor_divide, cost=elementwise_cost(2),
    bprop=not_differentiable("floor division is a step function: its gradient is 0 almost everywhere"))


def floor_div(x, y):
    """``floor(x / y)``, elementwise with broadcasting (Python's ``//``); integer inputs stay integers."""
    return bind(floor_div_p, *tensor_pair(x, y))


floor_divide = floor_div


class FloorDiv(Primitive):
    """``P.FloorDiv()(x, y)``: ``floor(x / y)``."""

    def __call__(self, x, y):
        return floor_div(x, y)


def _floor_mod_bprop(inputs, out, dout):
    x, y = inputs
    # x mod y = x - floor(x / y) * y, with floor's derivative 0 almost everywhere
    dx = sum_to(dout, x.shape) if _is_float(x) else None
    dy = sum_to(neg(mul(dout, floor(div(x, y)))), y.shape) if _is_float(y) else None
    return dx, dy


floor_mod_p = defprim("floor_mod", shard=elementwise, infer=int8_bool_binary_infer, cpu=np.mod,
                      cost=elementwise_cost(3), bprop=_floor_mod_bprop)


def floor_mod(x, y):
    """``x - floor(x / y) * y`` (Python's ``%``: the result has the sign of ``y``), elementwise with broadcasting.
    Gradients: ``dx = dout``, ``dy = -dout * floor(x / y)``."""
    return bind(floor_mod_p, *tensor_pair(x, y))


class FloorMod(Primitive):
    """``P.FloorMod()(x, y)``: ``x - floor(x / y) * y``."""

    def __call__(self, x, y):
        return floor_mod(x, y)


# ---------------------------------------------------------------- square
def _square_infer(x):
    return AbstractTensor(x.shape, mdt.int8 if x.dtype.kind == "b" else x.dtype)   # numpy: square(bool) is int8


square_p = defprim(
    "square", shard=elementwise, infer=_square_infer, cpu=np.square, cost=elementwise_cost(1),
    fuse=_fuse_no_bool("{0} * {0}"),
    bprop=lambda inputs, out, dout: (mul(dout, mul(inputs[0], 2)) if _is_float(inputs[0]) else None,))


def square(input):
    """``input * input``, elementwise."""
    return bind(square_p, as_tensor(input))


class Square(Primitive):
    def __call__(self, x):
        return square(x)


# ---------------------------------------------------------------- maximum / minimum
def _pick_bprop(first_wins):
    """bprop of maximum/minimum: the gradient goes to the input that was picked. ``first_wins(x, y)`` is the bool
    mask where the first input is picked; it includes ties, so a tie sends the whole gradient to the first input
    (MindSpore's MaximumGrad/MinimumGrad do the same)."""
    def bprop(inputs, out, dout):
        x, y = inputs
        mask = first_wins(x, y)
        dx = sum_to(select(mask, dout, 0), x.shape) if _is_float(x) else None
        dy = sum_to(select(mask, 0, dout), y.shape) if _is_float(y) else None
        return dx, dy
    return bprop


maximum_p = defprim("maximum", shard=elementwise, infer=binary_infer, cpu=np.maximum, cost=elementwise_cost(1),
                    fuse="fmaximum({0}, {1})",
                    bprop=_pick_bprop(lambda x, y: greater_equal(x, y)))
minimum_p = defprim("minimum", shard=elementwise, infer=binary_infer, cpu=np.minimum, cost=elementwise_cost(1),
                    fuse="fminimum({0}, {1})",
                    bprop=_pick_bprop(lambda x, y: less_equal(x, y)))


def maximum(input, other):
    """The elementwise larger of ``input`` and ``other`` (broadcast, promoted; NaN propagates). The gradient goes to
    the larger input; on a tie all of it goes to ``input`` (the first)."""
    return bind(maximum_p, *tensor_pair(input, other))


def minimum(input, other):
    """The elementwise smaller of ``input`` and ``other`` (broadcast, promoted; NaN propagates). The gradient goes to
    the smaller input; on a tie all of it goes to ``input`` (the first)."""
    return bind(minimum_p, *tensor_pair(input, other))


class Maximum(Primitive):
    def __call__(self, x, y):
        return maximum(x, y)


class Minimum(Primitive):
    def __call__(self, x, y):
        return minimum(x, y)


# ---------------------------------------------------------------- log / sqrt / rsqrt / reciprocal
log_p = defprim(
    "log", shard=elementwise, infer=float_unary_infer, cpu=np.log, cost=elementwise_cost(10),
    fuse=_fuse_float_unary("flog"),
    bprop=lambda inputs, out, dout: (div(dout, inputs[0]) if _is_float(inputs[0]) else None,))

sqrt_p = defprim(
    "sqrt", shard=elementwise, infer=float_unary_infer, cpu=np.sqrt, cost=elementwise_cost(4),
    fuse=_fuse_float_unary("fsqrt"),
    bprop=lambda inputs, out, dout: (mul(dout, div(0.5, out)) if _is_float(inputs[0]) else None,))


def _rsqrt_cpu(x):
    out = np.sqrt(_as_float(x))
    return np.reciprocal(out, out=out) if out.ndim else np.reciprocal(out)   # (a 0-d result is a numpy scalar)


rsqrt_p = defprim(   # d/dx x**-0.5 = -0.5 * x**-1.5 = -0.5 * out**3
    "rsqrt", shard=elementwise, infer=float_unary_infer, cpu=_rsqrt_cpu, cost=elementwise_cost(5),
    fuse="{out}(1) / fsqrt({out}({0}))",
    bprop=lambda inputs, out, dout: (mul(dout, mul(mul(out, mul(out, out)), -0.5)) if _is_float(inputs[0])
                                     else None,))


def _reciprocal_cpu(x):
    return np.reciprocal(_as_float(x))   # true 1/x: integers become float32 first (numpy's would truncate)


reciprocal_p = defprim(
    "reciprocal", shard=elementwise, infer=float_unary_infer, cpu=_reciprocal_cpu, cost=elementwise_cost(1),
    fuse="{out}(1) / {out}({0})",
    bprop=lambda inputs, out, dout: (neg(mul(dout, mul(out, out))) if _is_float(inputs[0]) else None,))


def log(input):
    """Natural logarithm, elementwise (integer inputs give float32)."""
    return bind(log_p, as_tensor(input))


def sqrt(x):
    """Square root, elementwise (integer inputs give float32)."""
    return bind(sqrt_p, as_tensor(x))


def rsqrt(input):
    """``1 / sqrt(input)``, elementwise (integer inputs give float32)."""
    return bind(rsqrt_p, as_tensor(input))


def reciprocal(input):
    """``1 / input``, elementwise (integer inputs give float32)."""
    return bind(reciprocal_p, as_tensor(input))


class Log(Primitive):
    def __call__(self, x):
        return log(x)


class Sqrt(Primitive):
    def __call__(self, x):
        return sqrt(x)


class Rsqrt(Primitive):
    def __call__(self, x):
        return rsqrt(x)


class Reciprocal(Primitive):
    def __call__(self, x):
        return reciprocal(x)


# ---------------------------------------------------------------- abs / sign / floor
abs_p = defprim(   # the gradient at 0 is sign(0) = 0
    "abs", shard=elementwise, infer=unary_infer, cpu=np.abs, cost=elementwise_cost(1), fuse=_fuse_no_bool("abs({0})"),
    bprop=lambda inputs, out, dout: (mul(dout, sign(inputs[0])) if _is_float(inputs[0]) else None,))

sign_p = defprim(
    "sign", shard=elementwise, infer=no_bool_unary_infer, cpu=np.sign, cost=elementwise_cost(1), fuse="np.sign({0})",
    bprop=not_differentiable("sign is piecewise constant: its gradient is 0 almost everywhere"))

floor_p = defprim(   # numpy keeps integer (and bool) inputs as they are
    "floor", shard=elementwise, infer=unary_infer, cpu=np.floor, cost=elementwise_cost(1),
    fuse=_fuse_no_bool("np.floor({0})"),
    bprop=not_differentiable("floor is a step function: its gradient is 0 almost everywhere"))


def abs(input):
    """``|input|``, elementwise. Its gradient is ``sign(input)`` (0 at 0)."""
    return bind(abs_p, as_tensor(input))


absolute = abs


def sign(input):
    """-1, 0 or 1 by the sign of ``input``, elementwise (same dtype). Not differentiable: zero gradient."""
    return bind(sign_p, as_tensor(input))


def floor(input):
    """The largest integer not greater than ``input``, elementwise (same dtype). Not differentiable."""
    return bind(floor_p, as_tensor(input))


class Abs(Primitive):
    def __call__(self, x):
        return abs(x)


class Sign(Primitive):
    def __call__(self, x):
        return sign(x)


class Floor(Primitive):
    def __call__(self, x):
        return floor(x)


# ---------------------------------------------------------------- tanh / sigmoid / relu
tanh_p = defprim(
    "tanh", shard=elementwise, infer=float_unary_infer, cpu=np.tanh, cost=elementwise_cost(10),
    fuse=_fuse_float_unary("ftanh"),
    bprop=lambda inputs, out, dout: (mul(dout, sub(1, mul(out, out))) if _is_float(inputs[0]) else None,))

sigmoid_p = defprim(   # expit is the overflow-free logistic function
    "sigmoid", shard=elementwise, infer=float_unary_infer, cpu=_expit, cost=elementwise_cost(10),
    fuse=_fuse_float_unary("fsigmoid"),
    bprop=lambda inputs, out, dout: (mul(dout, mul(out, sub(1, out))) if _is_float(inputs[0]) else None,))


def _relu_cpu(x):
    return np.maximum(x, 0)


relu_p = defprim(   # relu_grad: dout where the output is positive (the gradient at 0 is 0)
    "relu", shard=elementwise, infer=no_bool_unary_infer, cpu=_relu_cpu, cost=elementwise_cost(1),
    fuse="fmaximum({0}, {out}(0))",
    bprop=lambda inputs, out, dout: (select(greater(out, 0), dout, 0) if _is_float(inputs[0]) else None,))


def tanh(input):
    """Hyperbolic tangent, elementwise (integer inputs give float32)."""
    return bind(tanh_p, as_tensor(input))


def sigmoid(input):
    """``1 / (1 + exp(-input))``, elementwise (integer inputs give float32)."""
    return bind(sigmoid_p, as_tensor(input))


def relu(input):
    """``max(input, 0)``, elementwise (same dtype; the gradient at 0 is 0)."""
    return bind(relu_p, as_tensor(input))


class Tanh(Primitive):
    def __call__(self, x):
        return tanh(x)


class Sigmoid(Primitive):
    def __call__(self, x):
        return sigmoid(x)


class ReLU(Primitive):
    def __call__(self, x):
        return relu(x)


# ---------------------------------------------------------------- gelu (+ its fused gradient gelu_grad)
_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_K = math.sqrt(2.0 / math.pi)   # tanh form: gelu(x) = 0.5 x (1 + tanh(K (x + C x^3)))
_C = 0.044715


def _gelu_infer(x, approximate):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return float_unary_infer(x)


def _gelu_cpu(x, approximate):
    x = _as_float(x)
    if x.ndim == 0:   # 0-d arithmetic gives numpy scalars, which the in-place ufuncs below cannot write into
        return _gelu_cpu(x.reshape(1), approximate).reshape(())
    if approximate == "tanh":
        t = x * x
        t *= _C
        t += 1
        t *= x
        t *= _K
        np.tanh(t, out=t)
    else:
        t = x * _SQRT_HALF
        _erf(t, out=t)
    t += 1
    t *= x
    t *= 0.5
    return t


def _gelu_grad_infer(dout, x, approximate):
    if dout.shape != x.shape:
        raise ShapeError(f"dout shape {list(dout.shape)} differs from x shape {list(x.shape)}")
    _gelu_infer(x, approximate)
    return float_binary_infer(dout, x)


def _gelu_grad_cpu(dout, x, approximate):
    """``dout * gelu'(x)``: exact ``Phi(x) + x phi(x)``; tanh form ``0.5 (1 + t) + 0.5 x (1 - t^2) u'``."""
    x = _as_float(x)
    if x.ndim == 0:   # see _gelu_cpu
        return _gelu_grad_cpu(np.reshape(dout, (1,)), x.reshape(1), approximate).reshape(())
    x2 = x * x
    if approximate == "tanh":
        t = x2 * _C
        t += 1
        t *= x
        t *= _K
        np.tanh(t, out=t)                                   # t = tanh(u)
        d = x2 * (3 * _C)
        d += 1
        d *= _K                                             # d = u' = K (1 + 3 C x^2)
        d *= x
        d *= 0.5
        d *= 1 - t * t                                      # d = 0.5 x (1 - t^2) u'
    else:
        d = x2 * -0.5
        np.exp(d, out=d)
        d *= x
        d *= _INV_SQRT_2PI                                  # d = x phi(x)
        t = x * _SQRT_HALF
        _erf(t, out=t)                                      # t = erf(x / sqrt 2); Phi = 0.5 (1 + t)
    t += 1
    t *= 0.5
    t += d
    t *= dout
    return t


def _gelu_second(x, approximate):
    """gelu''(x) with mindlab ops (so gelu_grad's own bprop is differentiable again)."""
    x2 = mul(x, x)
    if approximate == "tanh":
        # gelu'' = (1 - t^2) (u' - x t u'^2 + 0.5 x u''), u' = K (1 + 3 C x^2), 0.5 x u'' = 3 K C x^2
        du = mul(add(mul(x2, 3 * _C), 1), _K)
        t = tanh(mul(mul(add(mul(x2, _C), 1), x), _K))
        inner = sub(add(du, mul(x2, 3 * _K * _C)), mul(mul(x, t), mul(du, du)))
        return mul(sub(1, mul(t, t)), inner)
    # exact: gelu'' = phi(x) (2 - x^2), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    return mul(mul(exp(mul(x2, -0.5)), _INV_SQRT_2PI), sub(2, x2))


def _gelu_grad_bprop(inputs, out, g, approximate):
    dout, x = inputs
    return (gelu_grad(g, x, approximate) if _is_float(dout) else None,
            mul(mul(g, dout), _gelu_second(x, approximate)) if _is_float(x) else None)


def _fuse_gelu(x, out, approximate):
    """The tanh form, in _gelu_cpu's order of operations; the erf form has no vectorisable erf here: unfused."""
    if approximate != "tanh":
        return None
    x = f"{out}({x})"
    u = f"((({x} * {x}) * {out}({_C!r}) + {out}(1)) * {x}) * {out}({_K!r})"
    return f"((ftanh({u}) + {out}(1)) * {x}) * {out}(0.5)"


gelu_p = defprim(
    "gelu", shard=elementwise, infer=_gelu_infer, cpu=_gelu_cpu, cost=elementwise_cost(20), fuse=_fuse_gelu,
    bprop=lambda inputs, out, dout, approximate: (gelu_grad(dout, inputs[0], approximate)
                                                  if _is_float(inputs[0]) else None,))
gelu_grad_p = defprim(
    "gelu_grad", shard=elementwise, infer=_gelu_grad_infer, cpu=_gelu_grad_cpu, cost=elementwise_cost(25),
    bprop=_gelu_grad_bprop,
    doc="dout * gelu'(x): gelu's fused backward kernel (MindSpore's GeLUGrad).")


def gelu(input_x, approximate="none"):
    """Gaussian error linear unit, elementwise: ``approximate='none'`` gives the exact ``0.5 x (1 + erf(x /
    sqrt 2))``, ``'tanh'`` gives ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))``."""
    return bind(gelu_p, as_tensor(input_x), approximate=approximate)


def gelu_grad(dout, x, approximate="none"):
    """``dout * gelu'(x)`` (the backward of ``gelu``; not part of the public ops surface)."""
    return bind(gelu_grad_p, dout, x, approximate=approximate)


class GeLU(Primitive):
    """``P.GeLU()(x)``: the exact (erf) form, as MindSpore's GeLU documents it."""

    def __call__(self, x):
        return gelu(x)


# ---------------------------------------------------------------- softplus
def _softplus_infer(x, beta, threshold):
    if beta == 0:
        raise ValueError("beta must not be 0")
    return float_unary_infer(x)


def _softplus_cpu(x, beta, threshold):
    x = _as_float(x)
    bx = x * beta if beta != 1 else x
    out = np.logaddexp(0, bx)   # log(1 + exp(bx)) without overflow
    if beta != 1:
        out /= beta
    return np.where(bx > threshold, x, out)


def _softplus_bprop(inputs, out, dout, beta, threshold):
    x = inputs[0]
    if not _is_float(x):
        return (None,)
    bx = mul(x, beta) if beta != 1 else x
    return (select(greater(bx, threshold), dout, mul(dout, sigmoid(bx))),)


softplus_p = defprim("softplus", shard=elementwise, infer=_softplus_infer, cpu=_softplus_cpu, cost=elementwise_cost(20),
                     bprop=_softplus_bprop)


def softplus(input, beta=1, threshold=20):
    """``log(1 + exp(beta * input)) / beta``, elementwise; where ``beta * input > threshold`` it is ``input``
    itself (the linear regime, avoiding overflow). Integer inputs give float32."""
    return bind(softplus_p, as_tensor(input), beta=float(beta), threshold=float(threshold))


class Softplus(Primitive):
    """``P.Softplus()(x)``: ``log(1 + exp(x))``."""

    def __call__(self, x):
        return softplus(x)
