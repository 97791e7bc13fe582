"""Parameter initializers with MindSpore's names: ``initializer(init, shape, dtype)`` and the ``Initializer`` classes.

Random initializers draw from the global generator of ``mindlab.common.seed`` (``mindlab.set_seed(n)`` makes every
initialization reproducible). An ``Initializer`` fills a numpy array in place (``init(arr)``); ``initializer(...)``
returns a new Tensor filled by it.

>>> from mindlab.common.initializer import initializer, HeUniform
>>> w = initializer(HeUniform(), (4, 3), mindlab.float32)
>>> b = initializer("zeros", 4)
"""
import math
import numbers

import numpy as np

from .. import dtype as mdt
from .seed import rng

__all__ = ["Initializer", "initializer", "Zero", "One", "Constant", "Normal", "Uniform", "TruncatedNormal",
           "XavierUniform", "XavierNormal", "HeUniform", "HeNormal", "Identity"]

_ALIAS = {}


def _register(*aliases):
    """Register an Initializer class under its lower-case class name and the given aliases."""
    def reg(cls):
        for name in (cls.__name__.lower(),) + aliases:
            _ALIAS.setdefault(name.lower(), cls)
        return cls
    return reg


class Initializer:
    """Base of the initializers: ``init(arr)`` fills the numpy array ``arr`` in place."""

    def __init__(self, **kwargs):
        self._kwargs = kwargs

    def _initialize(self, arr):
        raise NotImplementedError(f"{type(self).__name__} must implement _initialize(arr)")

    def __call__(self, arr):
        self._initialize(arr)
        return arr

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._kwargs.items())
        return f"{type(self).__name__}({args})"


def _assign(arr, values):
    """Write ``values`` (float64 draws) into ``arr`` with ``arr``'s dtype."""
    arr[...] = values


def _fan_in_and_fan_out(shape):
    """(fan_in, fan_out) of a weight shape: dims 0/1 are output/input channels, the rest the receptive field."""
    if len(shape) < 2:
        raise ValueError(f"'fan_in' and 'fan_out' can not be computed for a tensor with fewer than 2 dimensions, "
                         f"but got shape {list(shape)}")
    receptive = 1
    for s in shape[2:]:
        receptive *= s
    return shape[1] * receptive, shape[0] * receptive


def _correct_fan(shape, mode):
    mode = str(mode).lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', but got {mode!r}")
    fan_in, fan_out = _fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


def _gain(nonlinearity, negative_slope):
    """The recommended gain of a nonlinearity (as in MindSpore / PyTorch)."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
              "sigmoid")
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real):
            raise ValueError(f"negative_slope must be a number, but got {negative_slope!r}")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    raise ValueError(f"nonlinearity must be one of 'linear', 'conv2d', 'sigmoid', 'tanh', 'relu', 'leaky_relu', "
                     f"but got {nonlinearity!r}")


@_register("zeros")
class Zero(Initializer):
    """Fills with 0."""

    def _initialize(self, arr):
        arr.fill(0)


@_register("ones")
class One(Initializer):
    """Fills with 1."""

    def _initialize(self, arr):
        arr.fill(1)


class Constant(Initializer):
    """Fills with ``value`` (a number, or an array broadcastable to the shape)."""

    def __init__(self, value):
        super().__init__(value=value)
        self.value = value

    def _initialize(self, arr):
        arr[...] = np.asarray(self.value.asnumpy() if hasattr(self.value, "asnumpy") else self.value)


@_register()
class Normal(Initializer):
    """Draws from N(mean, sigma^2)."""

    def __init__(self, sigma=0.01, mean=0.0):
        super().__init__(sigma=sigma, mean=mean)
        if sigma < 0:
            raise ValueError(f"Normal: sigma must be >= 0, but got {sigma}")
        self.sigma, self.mean = sigma, mean

    def _initialize(self, arr):
        _assign(arr, rng().normal(self.mean, self.sigma, arr.shape))


@_register()
class Uniform(Initializer):
    """Draws from U(-scale, scale)."""

    def __init__(self, scale=0.07):
        super().__init__(scale=scale)
        self.scale = scale

    def _initialize(self, arr):
        _assign(arr, rng().uniform(-self.scale, self.scale, arr.shape))


@_register("truncatedNormal", "truncated_normal")
class TruncatedNormal(Initializer):
    """Draws from N(mean, sigma^2) restricted to [a, b] (rejection sampling; the bounds are absolute values)."""

    def __init__(self, sigma=0.01, mean=0.0, a=-2.0, b=2.0):
        super().__init__(sigma=sigma, mean=mean, a=a, b=b)
        if sigma < 0:
            raise ValueError(f"TruncatedNormal: sigma must be >= 0, but got {sigma}")
        if not a < b:
            raise ValueError(f"TruncatedNormal: need a < b, but got a={a}, b={b}")
        self.sigma, self.mean, self.a, self.b = sigma, mean, a, b

    def _initialize(self, arr):
        g = rng()
        n = arr.size
        out = np.empty(n)
        filled = 0
        while filled < n:   # redraw the rejected values; converges fast unless [a, b] is far in a tail
            draw = g.normal(self.mean, self.sigma, max(2 * (n - filled), 16))
            draw = draw[(draw >= self.a) & (draw <= self.b)][:n - filled]
            out[filled:filled + draw.size] = draw
            filled += draw.size
        _assign(arr, out.reshape(arr.shape))


@_register("xavier_uniform")
class XavierUniform(Initializer):
    """Draws from U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out)) (Glorot)."""

    def __init__(self, gain=1):
        super().__init__(gain=gain)
        self.gain = gain

    def _initialize(self, arr):
        fan_in, fan_out = _fan_in_and_fan_out(arr.shape)
        bound = self.gain * math.sqrt(6.0 / (fan_in + fan_out))
        _assign(arr, rng().uniform(-bound, bound, arr.shape))


@_register("xavier_normal")
class XavierNormal(Initializer):
    """Draws from N(0, sigma^2) with sigma = gain * sqrt(2 / (fan_in + fan_out))."""

    def __init__(self, gain=1):
        super().__init__(gain=gain)
        self.gain = gain

    def _initialize(self, arr):
        fan_in, fan_out = _fan_in_and_fan_out(arr.shape)
        _assign(arr, rng().normal(0.0, self.gain * math.sqrt(2.0 / (fan_in + fan_out)), arr.shape))


@_register("he_uniform")
class HeUniform(Initializer):
    """Draws from U(-bound, bound) with bound = gain * sqrt(3 / fan) (Kaiming); ``negative_slope=sqrt(5)`` gives
    bound = 1/sqrt(fan_in), the default of Dense and Conv2d weights."""

    def __init__(self, negative_slope=0, mode="fan_in", nonlinearity="leaky_relu"):
        super().__init__(negative_slope=negative_slope, mode=mode, nonlinearity=nonlinearity)
        self.negative_slope, self.mode, self.nonlinearity = negative_slope, mode, nonlinearity

    def _initialize(self, arr):
        fan = _correct_fan(arr.shape, self.mode)
        bound = math.sqrt(3.0) * _gain(self.nonlinearity, self.negative_slope) / math.sqrt(fan)
        _assign(arr, rng().uniform(-bound, bound, arr.shape))


@_register("he_normal")
class HeNormal(Initializer):
    """Draws from N(0, sigma^2) with sigma = gain / sqrt(fan) (Kaiming)."""

    def __init__(self, negative_slope=0, mode="fan_in", nonlinearity="leaky_relu"):
        super().__init__(negative_slope=negative_slope, mode=mode, nonlinearity=nonlinearity)
        self.negative_slope, self.mode, self.nonlinearity = negative_slope, mode, nonlinearity

    def _initialize(self, arr):
        fan = _correct_fan(arr.shape, self.mode)
        _assign(arr, rng().normal(0.0, _gain(self.nonlinearity, self.negative_slope) / math.sqrt(fan), arr.shape))


@_register()
class Identity(Initializer):
    """A 2-D identity matrix (ones on the main diagonal)."""

    def _initialize(self, arr):
        if arr.ndim != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape, but got {list(arr.shape)}")
        _assign(arr, np.eye(*arr.shape))


def _as_shape(shape):
    if shape is None:
        raise ValueError("initializer: 'shape' is required unless 'init' is a Tensor")
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"initializer: 'shape' must be an int, tuple or list, but got {type(shape).__name__}")
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, (numbers.Integral, np.integer)) or s <= 0:
            raise ValueError(f"initializer: every entry of 'shape' must be a positive int, but got {list(shape)}")
    return tuple(int(s) for s in shape)


def initializer(init, shape=None, dtype=mdt.float32):
    """A new Tensor of ``shape`` and ``dtype`` filled by ``init``.

    ``init``: an ``Initializer`` instance; a name (``"zeros"``, ``"ones"``, ``"normal"``, ``"uniform"``,
    ``"xavier_uniform"``, ``"he_uniform"``, ``"he_normal"``, ``"truncatedNormal"``, ...); a number (a constant);
    or a Tensor (returned as is after checking its shape).
    """
    from ..tensor import Tensor, _wrap
    if isinstance(init, Tensor):
        if shape is not None and tuple(init.shape) != (() if shape == () else _as_shape(shape)):
            raise ValueError(f"initializer: the shape of the 'init' Tensor {list(init.shape)} differs from the "
                             f"argument 'shape' {list(shape) if isinstance(shape, (tuple, list)) else [shape]}")
        return init
    if isinstance(init, str):
        cls = _ALIAS.get(init.lower())
        if cls is None:
            raise ValueError(f"initializer: unknown initializer name {init!r}; known names: {sorted(_ALIAS)}")
        init = cls()
    elif isinstance(init, (numbers.Number, np.generic)) and not isinstance(init, bool):
        init = Constant(init)
    elif not isinstance(init, Initializer):
        raise TypeError(f"initializer: 'init' must be a Tensor, number, string or Initializer, but got "
                        f"{type(init).__name__}")
    shape = () if shape == () else _as_shape(shape)
    arr = np.empty(shape, dtype=mdt.to_np(dtype))
    init(arr)
    return _wrap(arr)
