"""Helpers shared by the public op surfaces: scalar promotion for functions and the base of ``P.*`` classes."""
import numbers
import sys

import numpy as np

from .. import dtype as mdt
from ..errors import where
from ..tensor import Tensor, _wrap


def _op_name():
    """The op whose public function was called: the first frame outside this module (error messages only)."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename == __file__:
        f = f.f_back
    name = f.f_code.co_name if f is not None else "?"
    return name.lstrip("_") or "?"


def _not_a_tensor(value):
    return TypeError(f"{_op_name()}: expected a Tensor or a number, got {type(value).__name__} ({value!r:.60})."
                     f"{where()}")


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
            raise _not_a_tensor(value)
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
    raise _not_a_tensor(x)


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

    def shard(self, in_strategy, out_strategy=None):
        """MindSpore's ``Primitive.shard``: how auto-parallel should split this op, as a strategy with one tuple
        per input giving the pieces per dim (``P.MatMul().shard(((2, 1), (1, 4)))``: rows of x in 2, columns of
        y in 4). In GRAPH_MODE the graph node this call builds carries it (``mindlab.ops.shard``); the planner
        (semi_auto_parallel / sharding_propagation) keeps it and propagates from it, and raises a clear error when
        the op cannot run that way. ``out_strategy`` is accepted for MindSpore compatibility and must be None.
        Returns self."""
        from .shard import shard_scope
        if out_strategy is not None:
            raise ValueError(f"{self.name}.shard: out_strategy is not supported (the output layout follows from the "
                             f"input strategy); got {out_strategy!r}.{where()}")
        try:
            strategy = tuple(tuple(int(v) for v in dims) for dims in in_strategy)
        except (TypeError, ValueError):
            strategy = None
        if strategy is None or any(v < 1 for dims in strategy for v in dims):
            raise ValueError(f"{self.name}.shard: in_strategy must hold one tuple of positive ints per input, e.g. "
                             f"((2, 1), (1, 4)); got {in_strategy!r}.{where()}")
        self.in_strategy = strategy
        cls = type(self)
        if not getattr(cls, "_shard_scoped", False):
            self.__class__ = _scoped_class(cls, shard_scope)
        return self

    def __repr__(self):
        return f"Prim[{self.name}]"


_SCOPED = {}


def _scoped_class(cls, shard_scope):
    """``cls`` whose calls run inside ``shard_scope(self.in_strategy)`` (made once per class; only instances given
    a strategy get it, so unsharded calls pay nothing)."""
    sub = _SCOPED.get(cls)
    if sub is None:
        call = cls.__call__

        def __call__(self, *args, **kwargs):
            with shard_scope(self.in_strategy):
                return call(self, *args, **kwargs)
        sub = _SCOPED[cls] = type(cls.__name__, (cls,), {"__call__": __call__, "_shard_scoped": True,
                                                          "__module__": cls.__module__,
                                                          "__qualname__": cls.__qualname__, "__doc__": cls.__doc__})
    return sub
