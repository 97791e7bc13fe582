"""Reductions: sum mean max min prod argmax argmin, with axis / keep_dims; and ``sum_to`` for broadcast grads."""
import numpy as np

from ... import dtype as mdt
from ..abstract import AbstractTensor, norm_axes
from ..registry import defprim, Cost
from ..dispatch import bind
from .._api import Primitive, as_tensor, static_axis

__all__ = ["sum", "reduce_sum", "sum_to"]
__operations__ = ["ReduceSum"]


def reduce_infer(x, axis, keep_dims):
    axes = norm_axes(axis, x.ndim)
    shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape)) if keep_dims else \
        tuple(s for i, s in enumerate(x.shape) if i not in axes)
    return AbstractTensor(shape, x.dtype), axes


def reduce_cost(x, **attrs):
    return Cost(x.size, x.nbytes)


def keep_dims_shape(shape, axis):
    """The shape a reduction over ``axis`` has with keep_dims=True."""
    axes = norm_axes(axis, len(shape))
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _bcast_back(dout, x_shape, axis, keep_dims):
    """Broadcast a reduction's gradient back to the input's shape."""
    from .array_ops import reshape, broadcast_to
    if not keep_dims:
        dout = reshape(dout, keep_dims_shape(x_shape, axis))
    return broadcast_to(dout, x_shape)


# ---------------------------------------------------------------- sum
def _sum_infer(x, axis, keep_dims):
    out, _ = reduce_infer(x, axis, keep_dims)
    return AbstractTensor(out.shape, x.dtype if x.dtype.kind in "fi" and x.dtype is not mdt.uint8 else mdt.int64)


def _sum_cpu(x, axis, keep_dims):
    axes = norm_axes(axis, x.ndim)
    return np.sum(x, axis=axes, keepdims=keep_dims)


sum_p = defprim(
    "sum", infer=_sum_infer, cpu=_sum_cpu, cost=reduce_cost,
    bprop=lambda inputs, out, dout, axis, keep_dims: (_bcast_back(dout, inputs[0].shape, axis, keep_dims),))


def sum(input, axis=None, keep_dims=False):
    """Sum of ``input`` over ``axis`` (None or () = all axes; int or tuple), keeping reduced dims if asked."""
    return bind(sum_p, as_tensor(input), axis=static_axis(axis), keep_dims=bool(keep_dims))


reduce_sum = sum


class ReduceSum(Primitive):
    """``P.ReduceSum(keep_dims=False)(x, axis=())``."""

    def __init__(self, keep_dims=False):
        super().__init__()
        self.keep_dims = keep_dims

    def __call__(self, x, axis=()):
        return sum(x, axis, self.keep_dims)


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the inverse of broadcasting ``shape`` up to ``x.shape``): used by the bprops
    of broadcasting ops."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    from .array_ops import reshape
    lead = x.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
    return reshape(sum(x, axes, keep_dims=False), shape) if axes else reshape(x, shape)
