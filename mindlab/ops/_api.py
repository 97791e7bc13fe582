"""Helpers shared by the public op surfaces: scalar promotion for functions and the base of ``P.*`` classes."""
import numbers

import numpy as np

from .. import dtype as mdt
from ..errors import where
from ..tensor import Tensor, _wrap


def scalar_tensor(value, like=None):
    """A 0-d Tensor for a Python scalar. Beside a tensor ``like`` the scalar is weakly typed: it takes ``like``'s
    dtype, except a float beside an integer/bool tensor, which becomes float32 (MindSpore's rule)."""
    if like is not None:
        like_dt = like.dtype.np   # (a property: works for symbolic tensors too)
        kind = like_dt.kind
        if isinstance(value, (bool, np.bool_)):
            dt = like_dt
        elif isinstance(value, (int, np.integer)):
            dt = like_dt if kind != "b" else np.dtype(np.int64)
        elif isinstance(value, (float, np.floating)):
            dt = like_dt if kind == "f" else np.dtype(np.float32)
        else:
            raise TypeError(f"expected a Tensor or a number, got {type(value).__name__}.{where()}")
        return _wrap(np.asarray(value, dtype=dt))
    return _wrap(np.asarray(value, dtype=mdt.dtype_of_scalar(value).np))


def as_tensor(x, like=None):
    """``x`` as a Tensor: Tensors pass through, numbers become weakly-typed scalars, arrays/lists become tensors."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (numbers.Number, np.generic)):
        return scalar_tensor(x, like)
    if isinstance(x, (np.ndarray, list, tuple)):
        return Tensor(x)
    raise TypeError(f"expected a Tensor or a number, got {type(x).__name__}.{where()}")


def tensor_pair(x, y):
    """Both operands of a binary op as Tensors, scalars typed after the tensor beside them."""
    if isinstance(x, Tensor):
        return x, (y if isinstance(y, Tensor) else as_tensor(y, x))
    if isinstance(y, Tensor):
        return as_tensor(x, y), y
    return as_tensor(x), as_tensor(y)


def static_axis(axis):
    """An axis argument as a hashable static attribute (lists become tuples; Tensors become ints/tuples)."""
    if isinstance(axis, Tensor):
        axis = axis.asnumpy().tolist()
    if isinstance(axis, list):
        return tuple(int(a) for a in axis)
    if isinstance(axis, tuple):
        return tuple(int(a) for a in axis)
    if isinstance(axis, np.integer):
        return int(axis)
    return axis


class Primitive:
    """Base of the MindSpore-style op classes (``P.Mul()``, ``P.MatMul(transpose_b=True)``): constructor
    arguments are the op's attributes; calling the instance applies the op."""

    def __init__(self, name=None):
        self.name = name or type(self).__name__
        self.attrs = {}

    def add_prim_attr(self, name, value):
        self.attrs[name] = value
        return self

    def __repr__(self):
        return f"Prim[{self.name}]"
