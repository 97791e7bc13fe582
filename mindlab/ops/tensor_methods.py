"""Installs Tensor's operators and methods. They are ops, so they live with the ops: each is a thin call to the
public function of the same meaning. ``METHODS`` is the whole table; a test checks every entry resolves."""
from ..tensor import Tensor
from . import functional as F
from .dispatch import bind
from ._api import tensor_pair

# Tensor attribute -> (ops function name, how the tensor is passed: "self" first, or "rself" as second operand)
METHODS = {
    "__add__": ("add", "self"), "__radd__": ("add", "rself"),
    "__sub__": ("sub", "self"), "__rsub__": ("sub", "rself"),
    "__mul__": ("mul", "self"), "__rmul__": ("mul", "rself"),
    "__truediv__": ("div", "self"), "__rtruediv__": ("div", "rself"),
    "__pow__": ("pow", "self"), "__rpow__": ("pow", "rself"),
    "__matmul__": ("matmul", "self"), "__rmatmul__": ("matmul", "rself"),
    "__floordiv__": ("floor_div", "self"), "__rfloordiv__": ("floor_div", "rself"),
    "__mod__": ("floor_mod", "self"), "__rmod__": ("floor_mod", "rself"),
    "__neg__": ("neg", "self"), "__abs__": ("abs", "self"),
    "__lt__": ("less", "self"), "__le__": ("less_equal", "self"),
    "__gt__": ("greater", "self"), "__ge__": ("greater_equal", "self"),
    "__eq__": ("equal", "self"), "__ne__": ("not_equal", "self"),
    "__and__": ("logical_and", "self"), "__or__": ("logical_or", "self"), "__invert__": ("logical_not", "self"),
    "__getitem__": ("tensor_getitem", "self"),
    "astype": ("cast", "self"), "reshape": ("reshape", "self"), "transpose": ("transpose", "self"),
    "squeeze": ("squeeze", "self"), "expand_dims": ("expand_dims", "self"),
    "broadcast_to": ("broadcast_to", "self"), "sum": ("sum", "self"), "mean": ("mean", "self"),
    "max": ("max", "self"), "min": ("min", "self"), "prod": ("prod", "self"), "argmax": ("argmax", "self"),
    "argmin": ("argmin", "self"), "exp": ("exp", "self"), "log": ("log", "self"), "sqrt": ("sqrt", "self"),
    "abs": ("abs", "self"), "tanh": ("tanh", "self"), "sigmoid": ("sigmoid", "self"), "relu": ("relu", "self"),
    "pow": ("pow", "self"), "matmul": ("matmul", "self"), "add": ("add", "self"), "sub": ("sub", "self"),
    "mul": ("mul", "self"), "div": ("div", "self"), "neg": ("neg", "self"), "sign": ("sign", "self"),
    "all": ("all", "self"), "any": ("any", "self"), "tile": ("tile", "self"), "softmax": ("softmax", "self"),
    "clip": ("clamp", "self"), "clamp": ("clamp", "self"), "var": ("var", "self"), "std": ("std", "self"),
    "cumsum": ("cumsum", "self"), "logsumexp": ("logsumexp", "self"), "isnan": ("isnan", "self"),
    "isinf": ("isinf", "self"), "isfinite": ("isfinite", "self"), "remainder": ("remainder", "self"),
    "fmod": ("fmod", "self"), "trunc": ("trunc", "self"), "lerp": ("lerp", "self"),
    "nan_to_num": ("nan_to_num", "self"), "count_nonzero": ("count_nonzero", "self"),
    "sin": ("sin", "self"), "cos": ("cos", "self"), "tan": ("tan", "self"), "atan": ("atan", "self"),
    "sinh": ("sinh", "self"), "cosh": ("cosh", "self"), "erf": ("erf", "self"), "log1p": ("log1p", "self"),
    "expm1": ("expm1", "self"), "atan2": ("atan2", "self"), "ceil": ("ceil", "self"), "round": ("round", "self"),
    "unsqueeze": ("unsqueeze", "self"), "swapaxes": ("swapaxes", "self"), "movedim": ("movedim", "self"),
    "flip": ("flip", "self"), "roll": ("roll", "self"), "narrow": ("narrow", "self"), "chunk": ("chunk", "self"),
    "repeat_interleave": ("repeat_interleave", "self"), "view_as": ("view_as", "self"),
    "reshape_as": ("reshape_as", "self"), "expand_as": ("expand_as", "self"), "masked_fill": ("masked_fill", "self"),
    "tril": ("tril", "self"), "triu": ("triu", "self"), "diagonal": ("diagonal", "self"), "trace": ("trace", "self"),
    "dot": ("dot", "self"), "outer": ("outer", "self"), "norm": ("norm", "self"),
}


def _method(fn, how):
    if how == "self":
        return lambda self, *args, **kwargs: fn(self, *args, **kwargs)
    return lambda self, other: fn(other, self)


def _install():
    missing = []
    for attr, (name, how) in METHODS.items():
        fn = getattr(F, name, None)
        if fn is None:
            missing.append(name)
            continue
        m = _method(fn, how)
        m.__name__, m.__doc__ = attr, fn.__doc__
        setattr(Tensor, attr, m)
    return missing


MISSING = _install()

# The hottest paths skip the generic wrappers: one bind call when both operands are already Tensors.
from .prims.math_ops import add_p, sub_p, mul_p, div_p  # noqa: E402


def _fast(prim, reflected=False):
    if reflected:
        def op(self, other):
            return bind(prim, *tensor_pair(other, self))
    else:
        def op(self, other):
            if other.__class__ is Tensor:
                return bind(prim, self, other)
            return bind(prim, *tensor_pair(self, other))
    return op


for _attr, _prim in (("add", add_p), ("sub", sub_p), ("mul", mul_p), ("truediv", div_p)):
    setattr(Tensor, f"__{_attr}__", _fast(_prim))
    setattr(Tensor, f"__r{_attr}__", _fast(_prim, reflected=True))


def _pos(self):
    return self


def _setitem(self, index, value):
    """``t[index] = value``: the tensor takes the written data. Under a gradient transform the write is recorded
    (``t`` then stands for the ``tensor_setitem`` node, and what used ``t`` before keeps the old value), so
    gradients match GRAPH_MODE, where the write rebinds ``t`` to a new value."""
    new = F.tensor_setitem(self, index, value)
    self._data, self._node = new._data, new._node


def _flatten(self, order="C", *, start_dim=0, end_dim=-1):
    """MindSpore's ``Tensor.flatten``: dims start_dim..end_dim merged into one (all of them by default, where
    ``ops.flatten`` keeps the batch dim)."""
    return F.flatten(self, order, start_dim=start_dim, end_dim=end_dim)


def _copy(self):
    return Tensor(self.asnumpy())


def _permute(self, *dims):
    """``x.permute(2, 0, 1)`` or ``x.permute((2, 0, 1))``."""
    return F.permute(self, *dims)


def _reshape(self, *shape):
    """``x.reshape((2, 3))`` or, as in PyTorch and numpy, ``x.reshape(2, 3)``."""
    return F.reshape(self, shape[0] if len(shape) == 1 else shape)


Tensor.__pos__ = _pos
Tensor.reshape = _reshape
Tensor.permute = _permute
Tensor.__setitem__ = _setitem
Tensor.copy = _copy
Tensor.flatten = _flatten
Tensor.T = property(lambda self: F.transpose(self, tuple(range(self.ndim))[::-1]))
