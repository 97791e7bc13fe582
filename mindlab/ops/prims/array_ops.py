"""Shape and data-movement primitives: reshape, transpose, broadcast, concat/split, slicing, gathering, fills."""
import numpy as np

from ... import dtype as mdt
from ...errors import ShapeError, DTypeError
from ..abstract import AbstractTensor, norm_axis, norm_axes, broadcast_shapes
from ..registry import defprim, memory_cost, not_differentiable, Cost
from ..dispatch import bind
from .._api import Primitive, as_tensor, static_axis

__all__ = ["identity", "stop_gradient", "zeros_like", "ones_like", "reshape", "broadcast_to"]
__operations__ = ["Identity", "StopGradient", "ZerosLike", "OnesLike", "Reshape", "BroadcastTo"]


def _same(x, **attrs):
    return AbstractTensor(x.shape, x.dtype)


# ---------------------------------------------------------------- identity
identity_p = defprim(
    "identity", infer=_same, cpu=lambda x: x, cost=memory_cost,
    bprop=lambda inputs, out, dout: (dout,),
    doc="Returns its input unchanged; the tape uses it to link nested gradient levels.")


def identity(x):
    """Returns ``x`` unchanged (a new Tensor sharing its data)."""
    return bind(identity_p, as_tensor(x))


class Identity(Primitive):
    def __call__(self, x):
        return identity(x)


# ---------------------------------------------------------------- stop_gradient
stop_gradient_p = defprim(
    "stop_gradient", infer=_same, cpu=lambda x: x, cost=memory_cost,
    bprop=not_differentiable("stop_gradient blocks gradients by definition"))


def stop_gradient(x):
    """Returns ``x``, cutting it out of gradient computation."""
    return bind(stop_gradient_p, as_tensor(x))


class StopGradient(Primitive):
    def __call__(self, x):
        return stop_gradient(x)


# ---------------------------------------------------------------- zeros_like / ones_like
zeros_like_p = defprim(
    "zeros_like", infer=_same, cpu=np.zeros_like, cost=lambda x: Cost(0, x.nbytes),
    bprop=not_differentiable("the output does not depend on the input's values"))
ones_like_p = defprim(
    "ones_like", infer=_same, cpu=np.ones_like, cost=lambda x: Cost(0, x.nbytes),
    bprop=not_differentiable("the output does not depend on the input's values"))


def zeros_like(input, dtype=None):
    """A tensor of zeros with ``input``'s shape (and dtype unless ``dtype`` is given)."""
    out = bind(zeros_like_p, as_tensor(input))
    return out if dtype is None else out.astype(dtype)


def ones_like(input, dtype=None):
    """A tensor of ones with ``input``'s shape (and dtype unless ``dtype`` is given)."""
    out = bind(ones_like_p, as_tensor(input))
    return out if dtype is None else out.astype(dtype)


class ZerosLike(Primitive):
    def __call__(self, x):
        return zeros_like(x)


class OnesLike(Primitive):
    def __call__(self, x):
        return ones_like(x)


# ---------------------------------------------------------------- reshape
def _reshape_infer(x, shape):
    shape = tuple(shape)
    if sum(1 for s in shape if s == -1) > 1:
        raise ShapeError(f"shape {list(shape)} has more than one -1")
    if any((s < -1) for s in shape):
        raise ShapeError(f"shape {list(shape)} has a negative size")
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if -1 in shape:
        if known == 0 or x.size % known:
            raise ShapeError(f"cannot reshape {x.size} elements into {list(shape)}")
        shape = tuple(x.size // known if s == -1 else s for s in shape)
    elif known != x.size:
        raise ShapeError(f"cannot reshape a tensor of shape {list(x.shape)} ({x.size} elements) into "
                         f"{list(shape)} ({known} elements)")
    return AbstractTensor(shape, x.dtype)


reshape_p = defprim(
    "reshape", infer=_reshape_infer, cpu=lambda x, shape: x.reshape(shape), cost=lambda x, shape: Cost(0, 0),
    bprop=lambda inputs, out, dout, shape: (reshape(dout, inputs[0].shape),))


def reshape(input, shape):
    """``input`` with a new ``shape`` (one entry may be -1)."""
    return bind(reshape_p, as_tensor(input), shape=tuple(int(s) for s in static_axis(tuple(shape))))


class Reshape(Primitive):
    def __call__(self, x, shape):
        return reshape(x, shape)


# ---------------------------------------------------------------- broadcast_to
def _broadcast_to_infer(x, shape):
    shape = tuple(x.shape[i - (len(shape) - x.ndim)] if s == -1 and i >= len(shape) - x.ndim else s
                  for i, s in enumerate(shape))
    if len(shape) < x.ndim or broadcast_shapes(x.shape, shape) != shape:
        raise ShapeError(f"cannot broadcast shape {list(x.shape)} to {list(shape)}")
    return AbstractTensor(shape, x.dtype)


def _sum_to_bprop(inputs, out, dout, shape):
    from .reduce_ops import sum_to
    return (sum_to(dout, inputs[0].shape),)


broadcast_to_p = defprim(
    "broadcast_to", infer=_broadcast_to_infer, cost=memory_cost, bprop=_sum_to_bprop,
    cpu=lambda x, shape: np.array(np.broadcast_to(x, _broadcast_to_infer(
        AbstractTensor(x.shape, mdt.from_np(x.dtype)), shape).shape)))


def broadcast_to(input, shape):
    """``input`` broadcast to ``shape`` (numpy rules; -1 keeps the input's size in that dim)."""
    return bind(broadcast_to_p, as_tensor(input), shape=tuple(int(s) for s in shape))


class BroadcastTo(Primitive):
    """``P.BroadcastTo(shape)(x)``."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def __call__(self, x):
        return broadcast_to(x, self.shape)
