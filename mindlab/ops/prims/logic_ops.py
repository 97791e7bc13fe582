"""Elementwise primitives with boolean sides: comparisons (bool out, not differentiable), logical and/or/not, select
(``where``) and cast. Dtype rules as in ``math_ops``: comparisons broadcast and compare after promotion; logical
ops take bool only; select promotes its two branches; cast's gradient is cast back (floating inputs only)."""
import numpy as np

from ... import dtype as mdt
from ...errors import DTypeError, where as _where
from ...tensor import Tensor
from ..abstract import AbstractTensor, broadcast_shapes, same_dtype
from ..registry import defprim, elementwise_cost, memory_cost, not_differentiable
from ..shard import elementwise
from ..dispatch import bind, describe
from .._api import Primitive, tensor_pair, as_tensor
from .reduce_ops import sum_to
from ...kernels.cpu import select as _select_cpu
from . import native_rules as _native

__all__ = ["equal", "not_equal", "ne", "less", "lt", "less_equal", "le", "greater", "gt", "greater_equal", "ge",
           "logical_and", "logical_or", "logical_not", "select", "where", "cast"]
__operations__ = ["Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual",
                  "LogicalAnd", "LogicalOr", "LogicalNot", "Select", "Cast"]


def compare_infer(x, y):
    """Comparisons: broadcast shapes (values compared after promotion), bool out."""
    return AbstractTensor(broadcast_shapes(x.shape, y.shape), mdt.bool_)


def _is_float(t):
    return t.dtype.kind == "f"


# ---------------------------------------------------------------- comparisons (bool out, not differentiable)
_CMP = "comparisons have a boolean output"
equal_p = defprim("equal", shard=elementwise, infer=compare_infer, cpu=np.equal, cost=elementwise_cost(1),
                fuse="{0} == {1}",
                  bprop=not_differentiable(_CMP))
not_equal_p = defprim("not_equal", shard=elementwise, infer=compare_infer, cpu=np.not_equal, cost=elementwise_cost(1),
                    fuse="{0} != {1}",
                      bprop=not_differentiable(_CMP))
less_p = defprim("less", shard=elementwise, infer=compare_infer, cpu=np.less, cost=elementwise_cost(1),
               fuse="{0} < {1}",
                 bprop=not_differentiable(_CMP))
less_equal_p = defprim("less_equal", shard=elementwise, infer=compare_infer, cpu=np.less_equal,
                       cost=elementwise_cost(1),
                     fuse="{0} <= {1}",
                       bprop=not_differentiable(_CMP))
greater_p = defprim("greater", shard=elementwise, infer=compare_infer, cpu=np.greater, cost=elementwise_cost(1),
                  fuse="{0} > {1}",
                    bprop=not_differentiable(_CMP))
greater_equal_p = defprim("greater_equal", shard=elementwise, infer=compare_infer, cpu=np.greater_equal,
                          cost=elementwise_cost(1),
                        fuse="{0} >= {1}",
                          bprop=not_differentiable(_CMP))


def equal(input, other):
    """``input == other``, elementwise with broadcasting; a bool tensor."""
    return bind(equal_p, *tensor_pair(input, other))


def not_equal(input, other):
    """``input != other``, elementwise with broadcasting; a bool tensor."""
    return bind(not_equal_p, *tensor_pair(input, other))


def less(input, other):
    """``input < other``, elementwise with broadcasting; a bool tensor."""
    return bind(less_p, *tensor_pair(input, other))


def less_equal(input, other):
    """``input <= other``, elementwise with broadcasting; a bool tensor."""
    return bind(less_equal_p, *tensor_pair(input, other))


def greater(input, other):
    """``input > other``, elementwise with broadcasting; a bool tensor."""
    return bind(greater_p, *tensor_pair(input, other))


def greater_equal(input, other):
    """``input >= other``, elementwise with broadcasting; a bool tensor."""
    return bind(greater_equal_p, *tensor_pair(input, other))


ne, lt, le, gt, ge = not_equal, less, less_equal, greater, greater_equal


class Equal(Primitive):
    def __call__(self, x, y):
        return equal(x, y)


class NotEqual(Primitive):
    def __call__(self, x, y):
        return not_equal(x, y)


class Less(Primitive):
    def __call__(self, x, y):
        return less(x, y)


class LessEqual(Primitive):
    def __call__(self, x, y):
        return less_equal(x, y)


class Greater(Primitive):
    def __call__(self, x, y):
        return greater(x, y)


class GreaterEqual(Primitive):
    def __call__(self, x, y):
        return greater_equal(x, y)


# ---------------------------------------------------------------- logical_and / logical_or / logical_not
def _logical_infer(*avals):
    for a in avals:
        if a.dtype.kind != "b":
            raise DTypeError(f"inputs must be bool, got {', '.join(str(v.dtype) for v in avals)}")
    return AbstractTensor(broadcast_shapes(*(a.shape for a in avals)), mdt.bool_)


_LOGIC = "logical ops have boolean inputs and output"
logical_and_p = defprim("logical_and", shard=elementwise, infer=_logical_infer, cpu=np.logical_and,
                        cost=elementwise_cost(1),
                        fuse="{0} & {1}",
                        bprop=not_differentiable(_LOGIC))
logical_or_p = defprim("logical_or", shard=elementwise, infer=_logical_infer, cpu=np.logical_or,
                       cost=elementwise_cost(1),
                       fuse="{0} | {1}",
                       bprop=not_differentiable(_LOGIC))
logical_not_p = defprim("logical_not", shard=elementwise, infer=_logical_infer, cpu=np.logical_not,
                        cost=elementwise_cost(1),
                        fuse="not {0}",
                        bprop=not_differentiable(_LOGIC))


def logical_and(input, other):
    """``input AND other`` for bool tensors, elementwise with broadcasting."""
    return bind(logical_and_p, *tensor_pair(input, other))


def logical_or(input, other):
    """``input OR other`` for bool tensors, elementwise with broadcasting."""
    return bind(logical_or_p, *tensor_pair(input, other))


def logical_not(input):
    """``NOT input`` for a bool tensor, elementwise."""
    return bind(logical_not_p, as_tensor(input))


class LogicalAnd(Primitive):
    def __call__(self, x, y):
        return logical_and(x, y)


class LogicalOr(Primitive):
    def __call__(self, x, y):
        return logical_or(x, y)


class LogicalNot(Primitive):
    def __call__(self, x):
        return logical_not(x)


# ---------------------------------------------------------------- select / where
def _select_infer(cond, x, y):
    if cond.dtype.kind != "b":
        raise DTypeError(f"the condition must be a bool tensor, got {cond.dtype}")
    return AbstractTensor(broadcast_shapes(cond.shape, x.shape, y.shape), same_dtype(x, y))


def _select_bprop(inputs, out, dout):
    cond, x, y = inputs
    return (None,
            sum_to(select(cond, dout, 0), x.shape) if _is_float(x) else None,
            sum_to(select(cond, 0, dout), y.shape) if _is_float(y) else None)


select_p = defprim("select", shard=elementwise, infer=_select_infer, cpu=_select_cpu.select, cost=elementwise_cost(1),
                   bprop=_select_bprop, native=_native.select,
                   fuse="{out}({1}) if {0} else {out}({2})")


def select(cond, x, y):
    """``x`` where ``cond`` is True, else ``y``, elementwise; the three broadcast together, ``cond`` must be bool
    and ``x``/``y`` may be Python numbers. Gradients go to ``x`` and ``y`` through the mask, none to ``cond``."""
    return bind(select_p, as_tensor(cond), *tensor_pair(x, y))


def where(condition, x, y):
    """``x`` where ``condition`` is True, else ``y`` (the same primitive as ``select``)."""
    return bind(select_p, as_tensor(condition), *tensor_pair(x, y))


class Select(Primitive):
    """``P.Select()(cond, x, y)``."""

    def __call__(self, cond, x, y):
        return select(cond, x, y)


# ---------------------------------------------------------------- cast
def _cast_infer(x, dtype):
    return AbstractTensor(x.shape, dtype)


def _cast_cpu(x, dtype):
    return x.astype(dtype.np, copy=False)


def _cast_bprop(inputs, out, dout, dtype):
    x = inputs[0]
    return (cast(dout, x.dtype) if _is_float(x) else None,)


def _fuse_cast(x, out, dtype):
    return f"{x} != 0" if out == "bool_" else f"{out}({x})"


cast_p = defprim("cast", shard=elementwise, infer=_cast_infer, cpu=_cast_cpu, cost=memory_cost, bprop=_cast_bprop,
                 fuse=_fuse_cast)


def _as_type(dtype, x):
    if dtype.__class__ is mdt.Type:
        return dtype
    try:
        return mdt.to_type(dtype)
    except (TypeError, KeyError):
        args = describe([x]) if isinstance(x, Tensor) else repr(x)
        raise TypeError(f"cast: dtype must be a mindlab dtype (e.g. mindlab.float32), got {dtype!r}. "
                        f"Inputs: ({args}).{_where()}") from None


def cast(input, dtype):
    """``input`` converted to ``dtype`` (a mindlab dtype, numpy dtype or name). The gradient is cast back to the
    input's dtype (floating inputs only)."""
    return bind(cast_p, as_tensor(input), dtype=_as_type(dtype, input))


class Cast(Primitive):
    """``P.Cast()(input_x, type_)``."""

    def __call__(self, input_x, type_):
        return cast(input_x, type_)
