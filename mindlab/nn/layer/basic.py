"""Basic layers: Dense, Flatten, Dropout."""
import math

from ... import dtype as mdt
from ... import ops
from ...ops.operations import MatMul
from ...common.initializer import initializer, HeUniform, Uniform
from ...errors import where
from ...tensor import Parameter
from ..cell import Cell
from .activation import get_activation
from ._validate import positive_int, real_in

__all__ = ["Dense", "Flatten", "Dropout"]


class Dense(Cell):
    """Fully connected layer: ``activation(x @ weight.T + bias)``.

    ``weight`` has shape (out_channels, in_channels) and defaults to HeUniform(sqrt(5)), i.e. U(±1/sqrt(in));
    ``bias`` (when ``has_bias``) has shape (out_channels,) and defaults to U(±1/sqrt(in)). ``activation`` is a name
    (``"relu"``...) or a Cell. Inputs of rank > 2 are treated as a batch of rows over their last dimension.
    """

    def __init__(self, in_channels, out_channels, weight_init=None, bias_init=None, has_bias=True, activation=None,
                 dtype=mdt.float32):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels", "Dense")
        self.out_channels = positive_int(out_channels, "out_channels", "Dense")
        self.has_bias = bool(has_bias)
        if weight_init is None:
            weight_init = HeUniform(math.sqrt(5))
        self.weight = Parameter(initializer(weight_init, (self.out_channels, self.in_channels), dtype),
                                name="weight")
        self.bias = None
        if self.has_bias:
            if bias_init is None:
                bias_init = Uniform(1.0 / math.sqrt(self.in_channels))
            self.bias = Parameter(initializer(bias_init, (self.out_channels,), dtype), name="bias")
        self.activation = get_activation(activation) if isinstance(activation, str) else activation
        if self.activation is not None and not isinstance(self.activation, Cell) and not callable(self.activation):
            raise TypeError(f"For 'Dense', 'activation' must be a name, a Cell or None, but got "
                            f"{type(activation).__name__}.{where()}")
        self.activation_flag = self.activation is not None
        self.matmul = MatMul(transpose_b=True)

    def construct(self, x):
        shape = x.shape
        if not shape or shape[-1] != self.in_channels:
            raise ValueError(f"Dense: expected an input whose last dimension is in_channels={self.in_channels}, "
                             f"got {x.dtype}{list(shape)} (weight {self.weight.dtype}{list(self.weight.shape)})."
                             f"{where()}")
        if len(shape) != 2:
            x = ops.reshape(x, (-1, self.in_channels))
        x = self.matmul(x, self.weight)
        if self.has_bias:
            x = x + self.bias
        if self.activation_flag:
            x = self.activation(x)
        if len(shape) != 2:
            x = ops.reshape(x, shape[:-1] + (self.out_channels,))
        return x

    def extend_repr(self):
        s = f"input_channels={self.in_channels}, output_channels={self.out_channels}, has_bias={self.has_bias}"
        if self.activation_flag:
            s += f", activation={self.activation}"
        return s


class Flatten(Cell):
    """Flattens dims ``start_dim`` .. ``end_dim`` (default: all but the batch dim) into one."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def construct(self, x):
        nd = x.ndim
        s = self.start_dim + nd if self.start_dim < 0 else self.start_dim
        e = self.end_dim + nd if self.end_dim < 0 else self.end_dim
        if nd == 0 or not 0 <= s <= e < nd:
            raise ValueError(f"Flatten: start_dim={self.start_dim}, end_dim={self.end_dim} do not fit an input of "
                             f"shape {list(x.shape)}.{where()}")
        n = 1
        for d in x.shape[s:e + 1]:
            n *= d
        return ops.reshape(x, x.shape[:s] + (n,) + x.shape[e + 1:])

    def extend_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Cell):
    """Zeroes each element with probability ``p`` while training and scales the rest by 1/(1-p); the identity in
    evaluation (``set_train(False)``). Give ``p`` (drop probability) or the older ``keep_prob`` = 1 - p; default
    p = 0.5."""

    def __init__(self, keep_prob=None, p=None, dtype=mdt.float32):
        super().__init__()
        if keep_prob is not None and p is not None:
            raise ValueError(f"For 'Dropout', give 'keep_prob' or 'p', not both.{where()}")
        if p is not None:
            self.p = real_in(p, "p", "Dropout", 0.0, 1.0, high_closed=False)
        elif keep_prob is not None:
            self.p = 1.0 - real_in(keep_prob, "keep_prob", "Dropout", 0.0, 1.0, low_closed=False)
        else:
            self.p = 0.5
        self.keep_prob = 1.0 - self.p

    def construct(self, x):
        if not self.training or self.p == 0.0:
            return x
        return ops.dropout(x, p=self.p, training=True)

    def extend_repr(self):
        return f"p={self.p}"
