"""Activation functions as composites (PyTorch's ``torch.nn.functional`` activations; MindSpore's ``ops.*`` of the
same names): each is a few primitives, so gradients, GRAPH_MODE, devices and sharding come from those.

Piecewise functions pick their pieces with ``select``, so the gradient of each piece flows only where it is chosen;
the exponential pieces (elu, selu, celu) take ``exp`` of ``min(x, 0)``, so the piece that is not chosen can never
overflow (an ``inf`` there would turn its zero gradient into NaN).
"""
import numbers

from ...errors import where
from .._api import as_tensor
from ..prims.array_ops import reshape, split
from ..prims.logic_ops import select, greater, greater_equal, less, less_equal
from ..prims.transcendental_ops import expm1
from ..prims.math_ops import (abs as _abs, add, div, minimum, mul, neg, sigmoid, softplus, sub, tanh)

__all__ = ["leaky_relu", "elu", "selu", "celu", "silu", "swish", "mish", "hardswish", "hardsigmoid", "hardtanh",
           "relu6", "softsign", "logsigmoid", "prelu", "glu", "tanhshrink", "softshrink", "hardshrink", "threshold"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _number(op, name, value):
    """A real Python number argument as a float (TypeError naming the op otherwise)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {value!r} ({type(value).__name__}).{where()}")
    return float(value)


def _expm1_neg_part(x, scale=1.0):
    """``expm1(min(x, 0) * scale)``: finite wherever it is not used (x > 0), so its masked gradient stays 0, and
    accurate near 0."""
    m = minimum(x, 0)
    return expm1(m if scale == 1.0 else mul(m, scale))


# ---------------------------------------------------------------- rectifier family
def leaky_relu(input, negative_slope=0.01):
    """``x`` where ``x > 0``, else ``negative_slope * x``. torch.nn.functional.leaky_relu; MindSpore's
    ops.leaky_relu (``alpha``)."""
    slope = _number("leaky_relu", "negative_slope", negative_slope)
    x = as_tensor(input)
    return select(greater(x, 0), x, mul(x, slope))


def elu(input, alpha=1.0):
    """``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``. torch.nn.functional.elu; MindSpore's ops.elu."""
    a = _number("elu", "alpha", alpha)
    x = as_tensor(input)
    return select(greater(x, 0), x, mul(_expm1_neg_part(x), a))


def selu(input):
    """``scale * elu(x, alpha)`` with the self-normalising constants alpha = 1.6732632..., scale = 1.0507009...
    torch.nn.functional.selu; MindSpore's ops.selu."""
    x = as_tensor(input)
    return mul(select(greater(x, 0), x, mul(_expm1_neg_part(x), _SELU_ALPHA)), _SELU_SCALE)


def celu(input, alpha=1.0):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``; ``alpha`` must not be 0. torch.nn.functional.celu;
    MindSpore's ops.celu."""
    a = _number("celu", "alpha", alpha)
    if a == 0:
        raise ValueError(f"celu: alpha must not be 0, got {alpha!r}.{where()}")
    x = as_tensor(input)
    return select(greater(x, 0), x, mul(_expm1_neg_part(x, 1.0 / a), a))


def hardtanh(input, min_val=-1.0, max_val=1.0):
    """``x`` clamped to ``[min_val, max_val]`` (gradient 1 strictly inside, else 0); ``max_val`` must not be below
    ``min_val``. torch.nn.functional.hardtanh; MindSpore's ops.hardtanh."""
    lo = _number("hardtanh", "min_val", min_val)
    hi = _number("hardtanh", "max_val", max_val)
    if hi < lo:
        raise ValueError(f"hardtanh: max_val must not be less than min_val, got min_val={min_val!r}, "
                         f"max_val={max_val!r}.{where()}")
    x = as_tensor(input)
    # the bounds themselves get a zero gradient, as in PyTorch; NaN passes through
    return select(less_equal(x, lo), lo, select(greater_equal(x, hi), hi, x))


def relu6(input):
    """``min(max(x, 0), 6)``. torch.nn.functional.relu6; MindSpore's ops.relu6."""
    return hardtanh(input, 0.0, 6.0)


def prelu(input, weight):
    """``x`` where ``x > 0``, else ``weight * x``. ``weight`` is a 1-D tensor of 1 element (shared) or of C elements,
    one per channel on axis 1 of ``input`` (the only axis of a 1-D input counts as one channel).
    torch.nn.functional.prelu; MindSpore's ops.prelu."""
    x, w = as_tensor(input), as_tensor(weight)
    if w.ndim > 1:
        raise ValueError(f"prelu: weight must be a scalar or 1-D tensor, got shape {list(w.shape)}.{where()}")
    if w.size == 1:
        w = reshape(w, ())
    else:
        channels = x.shape[1] if x.ndim >= 2 else 1
        if x.ndim == 0 or w.size != channels:
            raise ValueError(f"prelu: weight has {w.size} elements but input of shape {list(x.shape)} has "
                             f"{channels if x.ndim else 0} channels (axis 1); give 1 or that many.{where()}")
        w = reshape(w, (channels,) + (1,) * (x.ndim - 2))
    return select(greater(x, 0), x, mul(w, x))


def threshold(input, threshold, value):
    """``x`` where ``x > threshold``, else ``value``. torch.nn.functional.threshold; MindSpore's ops.threshold."""
    t = _number("threshold", "threshold", threshold)
    v = _number("threshold", "value", value)
    x = as_tensor(input)
    return select(greater(x, t), x, v)


# ---------------------------------------------------------------- smooth gates
def silu(input):
    """``x * sigmoid(x)``. torch.nn.functional.silu; MindSpore's ops.silu (``swish`` is the same function)."""
    x = as_tensor(input)
    return mul(x, sigmoid(x))


swish = silu


def mish(input):
    """``x * tanh(softplus(x))``. torch.nn.functional.mish; MindSpore's ops.mish."""
    x = as_tensor(input)
    return mul(x, tanh(softplus(x)))


def hardsigmoid(input):
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, linear between. torch.nn.functional.hardsigmoid; MindSpore's
    ops.hardsigmoid."""
    x = as_tensor(input)
    return div(relu6(add(x, 3)), 6)


def hardswish(input):
    """``x * relu6(x + 3) / 6``. torch.nn.functional.hardswish; MindSpore's ops.hardswish."""
    x = as_tensor(input)
    return mul(x, hardsigmoid(x))


def softsign(input):
    """``x / (1 + |x|)``. torch.nn.functional.softsign; MindSpore's ops.softsign."""
    x = as_tensor(input)
    return div(x, add(_abs(x), 1))


def logsigmoid(input):
    """``log(sigmoid(x)) = -softplus(-x)``, computed in that stable form. torch.nn.functional.logsigmoid;
    MindSpore's ops.logsigmoid."""
    return neg(softplus(neg(as_tensor(input))))


def glu(input, axis=-1):
    """Gated linear unit: ``a * sigmoid(b)`` where ``a`` and ``b`` are the two halves of ``input`` along ``axis``
    (whose size must be even). torch.nn.functional.glu (``dim``); MindSpore's ops.glu."""
    x = as_tensor(input)
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"glu: axis must be an int, got {axis!r}.{where()}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"glu: axis {axis} is out of range for input of shape {list(x.shape)}.{where()}")
    n = x.shape[axis]
    if n % 2:
        raise ValueError(f"glu: the halved axis {axis} must have even size, got {n} (input shape "
                         f"{list(x.shape)}).{where()}")
    a, b = split(x, n // 2, int(axis) % x.ndim)
    return mul(a, sigmoid(b))


# ---------------------------------------------------------------- shrinkage
def tanhshrink(input):
    """``x - tanh(x)``. torch.nn.functional.tanhshrink; MindSpore's ops.tanhshrink."""
    x = as_tensor(input)
    return sub(x, tanh(x))


def softshrink(input, lambd=0.5):
    """``x - lambd`` where ``x > lambd``, ``x + lambd`` where ``x < -lambd``, else 0; ``lambd >= 0``.
    torch.nn.functional.softshrink; MindSpore's ops.softshrink."""
    lam = _number("softshrink", "lambd", lambd)
    if lam < 0:
        raise ValueError(f"softshrink: lambd must be >= 0, got {lambd!r}.{where()}")
    x = as_tensor(input)
    return select(greater(x, lam), sub(x, lam), select(less(x, -lam), add(x, lam), 0))


def hardshrink(input, lambd=0.5):
    """``x`` where ``|x| > lambd``, else 0. torch.nn.functional.hardshrink; MindSpore's ops.hardshrink."""
    lam = _number("hardshrink", "lambd", lambd)
    x = as_tensor(input)
    return select(greater(_abs(x), lam), x, 0)
