"""Activation cells: ReLU, GELU, Sigmoid, Tanh, Softmax, LogSoftmax, and ``get_activation(name)``."""
from ... import ops
from ...errors import where
from ..cell import Cell

__all__ = ["ReLU", "GELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "get_activation"]


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


_ACTIVATIONS = {"relu": ReLU, "gelu": GELU, "sigmoid": Sigmoid, "tanh": Tanh, "softmax": Softmax,
                "logsoftmax": LogSoftmax}


def get_activation(name):
    """The activation cell for a name (``"relu"``, ``"gelu"``, ``"sigmoid"``, ``"tanh"``, ``"softmax"``,
    ``"logsoftmax"``); None gives None."""
    if name is None:
        return None
    if not isinstance(name, str) or name.lower() not in _ACTIVATIONS:
        raise KeyError(f"get_activation: unknown activation {name!r}; known: {sorted(_ACTIVATIONS)}.{where()}")
    return _ACTIVATIONS[name.lower()]()
