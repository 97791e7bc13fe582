"""Activation cells: ReLU, GELU, Sigmoid, Tanh, Softmax, LogSoftmax, the ``ops`` composite activations as cells
(LeakyReLU, ELU, SiLU, Mish, HSwish, ... with MindSpore's names and defaults; PReLU learns its slopes), and
``get_activation(name)``."""
import numpy as np

from ... import ops
from ...errors import where
from ...tensor import Parameter, Tensor
from ..cell import Cell

__all__ = ["ReLU", "GELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "LeakyReLU", "ELU", "SeLU", "CELU", "SiLU",
           "Mish", "HSwish", "HSigmoid", "Hardtanh", "ReLU6", "Softsign", "LogSigmoid", "GLU", "Tanhshrink",
           "SoftShrink", "HShrink", "Threshold", "PReLU", "get_activation"]


class ReLU(Cell):
    """max(x, 0), elementwise."""

    def construct(self, x):
        return ops.relu(x)


class GELU(Cell):
    """Gaussian error linear unit; ``approximate=True`` (the default) uses the tanh approximation."""

    def __init__(self, approximate=True):
        super().__init__()
        self.approximate = bool(approximate)
        self._mode = "tanh" if self.approximate else "none"

    def construct(self, x):
        return ops.gelu(x, approximate=self._mode)

    def extend_repr(self):
        return f"approximate={self.approximate}"


class Sigmoid(Cell):
    """1 / (1 + exp(-x)), elementwise."""

    def construct(self, x):
        return ops.sigmoid(x)


class Tanh(Cell):
    """tanh(x), elementwise."""

    def construct(self, x):
        return ops.tanh(x)


class Softmax(Cell):
    """Softmax along ``axis`` (default -1)."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def construct(self, x):
        return ops.softmax(x, self.axis)

    def extend_repr(self):
        return f"axis={self.axis}"


class LogSoftmax(Cell):
    """log(softmax(x)) along ``axis`` (default -1), computed stably."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = axis

    def construct(self, x):
        return ops.log_softmax(x, self.axis)

    def extend_repr(self):
        return f"axis={self.axis}"


class _Elementwise(Cell):
    """An activation cell: ``construct(x)`` is ``fn(x, **kwargs)`` with the ``ops`` function ``fn`` (see each
    subclass for the formula; the arguments show in its repr)."""
    fn = None

    def __init__(self, **kwargs):
        super().__init__()
        self.kwargs = kwargs

    def construct(self, x):
        return self.fn(x, **self.kwargs)

    def extend_repr(self):
        return ", ".join(f"{k}={v}" for k, v in self.kwargs.items())


class LeakyReLU(_Elementwise):
    """``x`` for ``x > 0``, else ``alpha * x`` (MindSpore's default ``alpha=0.2``)."""
    fn = staticmethod(ops.leaky_relu)

    def __init__(self, alpha=0.2):
        super().__init__(negative_slope=alpha)


class ELU(_Elementwise):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    fn = staticmethod(ops.elu)

    def __init__(self, alpha=1.0):
        super().__init__(alpha=alpha)


class SeLU(_Elementwise):
    """Self-normalising ``scale * elu(x, alpha)``."""
    fn = staticmethod(ops.selu)


class CELU(_Elementwise):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    fn = staticmethod(ops.celu)

    def __init__(self, alpha=1.0):
        super().__init__(alpha=alpha)


class SiLU(_Elementwise):
    """``x * sigmoid(x)`` (swish)."""
    fn = staticmethod(ops.silu)


class Mish(_Elementwise):
    """``x * tanh(softplus(x))``."""
    fn = staticmethod(ops.mish)


class HSwish(_Elementwise):
    """Hard swish ``x * relu6(x + 3) / 6``."""
    fn = staticmethod(ops.hardswish)


class HSigmoid(_Elementwise):
    """Hard sigmoid ``relu6(x + 3) / 6``."""
    fn = staticmethod(ops.hardsigmoid)


class Hardtanh(_Elementwise):
    """``x`` clamped to ``[min_val, max_val]``."""
    fn = staticmethod(ops.hardtanh)

    def __init__(self, min_val=-1.0, max_val=1.0):
        super().__init__(min_val=min_val, max_val=max_val)


class ReLU6(_Elementwise):
    """``min(max(x, 0), 6)``."""
    fn = staticmethod(ops.relu6)


class Softsign(_Elementwise):
    """``x / (1 + |x|)``."""
    fn = staticmethod(ops.softsign)


class LogSigmoid(_Elementwise):
    """``log(sigmoid(x))``, computed stably."""
    fn = staticmethod(ops.logsigmoid)


class GLU(_Elementwise):
    """Gated linear unit: the input split in halves ``a, b`` along ``axis``, ``a * sigmoid(b)``."""
    fn = staticmethod(ops.glu)

    def __init__(self, axis=-1):
        super().__init__(axis=axis)


class Tanhshrink(_Elementwise):
    """``x - tanh(x)``."""
    fn = staticmethod(ops.tanhshrink)


class SoftShrink(_Elementwise):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0."""
    fn = staticmethod(ops.softshrink)

    def __init__(self, lambd=0.5):
        super().__init__(lambd=lambd)


class HShrink(_Elementwise):
    """``x`` where ``|x| > lambd``, else 0."""
    fn = staticmethod(ops.hardshrink)

    def __init__(self, lambd=0.5):
        super().__init__(lambd=lambd)


class Threshold(_Elementwise):
    """``x`` where ``x > threshold``, else ``value``."""
    fn = staticmethod(ops.threshold)

    def __init__(self, threshold, value):
        super().__init__(threshold=threshold, value=value)


class PReLU(Cell):
    """``x`` for ``x > 0``, else ``w * x`` with learnt slopes ``w``: one (``channel=1``) or one per channel (axis 1),
    initialised to ``w`` (MindSpore's ``nn.PReLU(channel=1, w=0.25)``)."""

    def __init__(self, channel=1, w=0.25):
        super().__init__()
        if isinstance(channel, bool) or not isinstance(channel, int) or channel < 1:
            raise ValueError(f"PReLU: channel must be a positive int, got {channel!r}.{where()}")
        init = w.asnumpy() if isinstance(w, Tensor) else np.full((channel,), float(w), np.float32)
        self.w = Parameter(Tensor(np.asarray(init, np.float32).reshape(channel)), name="a")

    def construct(self, x):
        return ops.prelu(x, self.w)

    def extend_repr(self):
        return f"channel={self.w.shape[0]}"


_ACTIVATIONS = {"relu": ReLU, "gelu": GELU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax,
                "logsoftmax": LogSoftmax, "leakyrelu": LeakyReLU, "elu": ELU, "selu": SeLU, "celu": CELU,
                "silu": SiLU, "swish": SiLU, "mish": Mish, "hswish": HSwish, "hsigmoid": HSigmoid,
                "hardtanh": Hardtanh, "relu6": ReLU6, "softsign": Softsign, "logsigmoid": LogSigmoid,
                "tanhshrink": Tanhshrink}


def get_activation(name):
    """The activation cell for a name (``"relu"``, ``"gelu"``, ``"sigmoid"``, ``"tanh"``, ``"softmax"``,
    ``"logsoftmax"``, ``"leakyrelu"``, ``"elu"``, ``"silu"``, ``"mish"``, ``"hswish"``, ``"relu6"``, ... with default
    arguments); None gives None."""
    if name is None:
        return None
    if not isinstance(name, str) or name.lower() not in _ACTIVATIONS:
        raise KeyError(f"get_activation: unknown activation {name!r}; known: {sorted(_ACTIVATIONS)}.{where()}")
    return _ACTIVATIONS[name.lower()]()
