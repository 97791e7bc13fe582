"""Reductions: sum mean max min prod argmax argmin all any, with axis / keep_dims; and ``sum_to`` for broadcast grads.

Axis arguments: None or () reduce every axis; an int or a tuple/list of ints (negative counts from the end) reduce
those. Python's builtins ``sum``/``max``/``min``/``all``/``any`` are shadowed in this module by the ops of the same
name; use ``builtins.*`` for the Python ones.
"""
import builtins

import numpy as np

from ... import dtype as mdt
from ...errors import DTypeError, ShapeError
from ..abstract import AbstractTensor, norm_axes, norm_axis
from ..registry import defprim, Cost, not_differentiable
from ..shard import ShardSpec, reduction_rule, reduction_spec, keep_rule
from ..dispatch import bind
from .._api import Primitive, as_tensor, static_axis
from . import native_rules as _native

__all__ = ["sum", "reduce_sum", "sum_to", "mean", "reduce_mean", "amax", "amin", "max", "min", "reduce_max",
           "reduce_min", "prod", "reduce_prod", "argmax", "argmin", "all", "any", "reduce_all", "reduce_any"]
__operations__ = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceAll", "ReduceAny",
                  "Argmax", "Argmin", "ArgMaxWithValue", "ArgMinWithValue"]


def reduce_infer(x, axis, keep_dims):
    axes = norm_axes(axis, x.ndim)
    shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape)) if keep_dims else \
        tuple(s for i, s in enumerate(x.shape) if i not in axes)
    return AbstractTensor(shape, x.dtype), axes


def _same_dtype_reduce_infer(x, axis, keep_dims):
    """A reduction whose output keeps the input's dtype (max, min, prod)."""
    return reduce_infer(x, axis, keep_dims)[0]


def reduce_cost(x, *rest, **attrs):
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


_AXES = {}


def _axes(axis, ndim):
    """norm_axes for kernels, cached: the infer rule has already validated ``axis`` for this rank."""
    try:
        return _AXES[axis, ndim]
    except KeyError:
        if len(_AXES) > 4096:
            _AXES.clear()
        out = _AXES[axis, ndim] = norm_axes(axis, ndim)
        return out


def _keep(keep_dims, alias):
    """The keep-dims flag from MindSpore's two spellings (``keep_dims`` for ops, ``keepdims`` for Tensor methods)."""
    return bool(keep_dims if alias is None else alias)


# ---------------------------------------------------------------- sum
def _sum_infer(x, axis, keep_dims):
    out, _ = reduce_infer(x, axis, keep_dims)
    return AbstractTensor(out.shape, x.dtype if x.dtype.kind in "fi" and x.dtype is not mdt.uint8 else mdt.int64)


def _sum_cpu(x, axis, keep_dims):
    # ufunc reduce skips np.sum's Python wrapper; bool / uint8 sum in int64 (the inferred dtype)
    return np.add.reduce(x, axis=_axes(axis, x.ndim), keepdims=keep_dims,
                         dtype=np.int64 if x.dtype.kind in "bu" else None)


sum_p = defprim(
    "sum", infer=_sum_infer, cpu=_sum_cpu, cost=reduce_cost, shard=reduction_rule("sum"), native=_native.reduce_sum,
    bprop=lambda inputs, out, dout, axis, keep_dims: (_bcast_back(dout, inputs[0].shape, axis, keep_dims),))


def sum(input, axis=None, keep_dims=False, *, dtype=None, keepdims=None):
    """Sum of ``input`` over ``axis`` (None or () = all axes; int or tuple), keeping reduced dims if asked
    (``keepdims`` is the Tensor-method spelling); ``dtype`` casts the input first."""
    x = as_tensor(input)
    if dtype is not None:
        x = x.astype(dtype)
    return bind(sum_p, x, axis=static_axis(axis), keep_dims=_keep(keep_dims, keepdims))


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


# ---------------------------------------------------------------- mean
def _mean_infer(x, axis, keep_dims):
    out, _ = reduce_infer(x, axis, keep_dims)
    return AbstractTensor(out.shape, x.dtype if x.dtype.kind == "f" else mdt.float32)


def _mean_cpu(x, axis, keep_dims):
    axes = _axes(axis, x.ndim)
    n = 1
    for a in axes:
        n *= x.shape[a]
    wide = x.dtype.kind == "f" and x.dtype.itemsize > 2   # float16 and integers accumulate in float32
    return np.true_divide(np.add.reduce(x, axis=axes, keepdims=keep_dims, dtype=None if wide else np.float32), n)


def _reduced_count(shape, axis):
    n = 1
    for a in norm_axes(axis, len(shape)):
        n *= shape[a]
    return n


def _mean_bprop(inputs, out, dout, axis, keep_dims):
    from .math_ops import mul
    x = inputs[0]
    n = _reduced_count(x.shape, axis)
    return (mul(_bcast_back(dout, x.shape, axis, keep_dims), 1.0 / builtins.max(n, 1)),)


mean_p = defprim("mean", infer=_mean_infer, cpu=_mean_cpu, cost=reduce_cost, bprop=_mean_bprop,
                 native=_native.reduce_mean,
                 shard=reduction_rule("mean"))   # equal pieces: the mean of the pieces' means


def mean(x, axis=None, keep_dims=False, *, keepdims=None):
    """Mean of ``x`` over ``axis`` (None or () = all axes; int or tuple), keeping reduced dims if asked. Integer
    inputs give float32."""
    return bind(mean_p, as_tensor(x), axis=static_axis(axis), keep_dims=_keep(keep_dims, keepdims))


reduce_mean = mean


class ReduceMean(Primitive):
    """``P.ReduceMean(keep_dims=False)(x, axis=())``."""

    def __init__(self, keep_dims=False):
        super().__init__()
        self.keep_dims = keep_dims

    def __call__(self, x, axis=()):
        return mean(x, axis, self.keep_dims)


# ---------------------------------------------------------------- max / min (values), and their tie mask
def _extremum_mask_infer(x, out, axis, keep_dims):
    expect = reduce_infer(x, axis, keep_dims)[0].shape
    if out.shape != expect:
        raise ShapeError(f"the reduced values have shape {list(out.shape)}, expected {list(expect)}")
    return AbstractTensor(x.shape, x.dtype if x.dtype.kind == "f" else mdt.float32)


def _extremum_mask_cpu(x, out, axis, keep_dims):
    axes = _axes(axis, x.ndim)
    if not keep_dims:
        out = out.reshape(keep_dims_shape(x.shape, axes))
    hit = x == out
    count = np.sum(hit, axis=axes, keepdims=True)
    dt = x.dtype if x.dtype.kind == "f" else np.float32
    return np.divide(hit, count, dtype=dt)


def _extremum_mask_shard(x, out, axis, keep_dims):
    """Ties are counted over the whole reduced group, so reduced dims stay whole; kept dims split alike in x, the
    reduced values and the mask."""
    axes = norm_axes(axis, x.ndim)
    dims = tuple(None if i in axes else f"d{i}" for i in range(x.ndim))
    kept = tuple(None if i in axes else f"d{i}" for i in range(x.ndim) if keep_dims or i not in axes)
    why = {(0, i): "the ties of a max/min are counted over the whole reduced axis" for i in axes}
    return ShardSpec((dims, kept), (dims,), why=why)


extremum_mask_p = defprim(
    "extremum_mask", shard=_extremum_mask_shard, infer=_extremum_mask_infer, cpu=_extremum_mask_cpu,
    cost=lambda x, out, **a: Cost(
        2 * x.size, x.nbytes * 2 + out.nbytes),
    bprop=not_differentiable("a piecewise-constant selection mask (its derivative is zero almost everywhere)"),
    doc="Where x equals its reduced max/min, 1/(number of ties) there and 0 elsewhere: the max/min gradient.")


def extremum_mask(x, out, axis, keep_dims):
    """Where ``x`` equals the reduced extremum ``out`` (over ``axis``), ``1 / number of ties``, else 0: the weights
    that route a max/min gradient to the extreme element(s), split evenly among ties."""
    return bind(extremum_mask_p, x, out, axis=axis, keep_dims=keep_dims)


def _extremum_bprop(inputs, out, dout, axis, keep_dims):
    from .math_ops import mul
    x = inputs[0]
    return (mul(extremum_mask(x, out, axis, keep_dims), _bcast_back(dout, x.shape, axis, keep_dims)),)


def _max_cpu(x, axis, keep_dims):
    return np.maximum.reduce(x, axis=_axes(axis, x.ndim), keepdims=keep_dims)


def _min_cpu(x, axis, keep_dims):
    return np.minimum.reduce(x, axis=_axes(axis, x.ndim), keepdims=keep_dims)


def _nonempty_reduce_infer(x, axis, keep_dims):
    out, axes = reduce_infer(x, axis, keep_dims)
    if builtins.any(x.shape[a] == 0 for a in axes):
        raise ShapeError("cannot take the max/min over an axis of size 0")
    return out


max_p = defprim("max", infer=_nonempty_reduce_infer, cpu=_max_cpu, cost=reduce_cost, bprop=_extremum_bprop,
                shard=reduction_rule("max"))
min_p = defprim("min", infer=_nonempty_reduce_infer, cpu=_min_cpu, cost=reduce_cost, bprop=_extremum_bprop,
                shard=reduction_rule("min"))


def amax(input, axis=None, keepdims=False, *, keep_dims=None):
    """Maximum of ``input`` over ``axis`` (None or () = all axes; int or tuple). The gradient goes to the maximal
    element(s), split evenly among ties."""
    return bind(max_p, as_tensor(input), axis=static_axis(axis), keep_dims=_keep(keepdims, keep_dims))


def amin(input, axis=None, keepdims=False, *, keep_dims=None):
    """Minimum of ``input`` over ``axis`` (None or () = all axes; int or tuple). The gradient goes to the minimal
    element(s), split evenly among ties."""
    return bind(min_p, as_tensor(input), axis=static_axis(axis), keep_dims=_keep(keepdims, keep_dims))


def max(input, axis=None, keepdims=False, *, return_indices=False, keep_dims=None):
    """Maximum values of ``input`` over ``axis`` (``Tensor.max`` semantics: values only). With
    ``return_indices=True`` returns ``(values, indices)`` like MindSpore's ``ops.max`` (``axis`` an int or None;
    None gives the index into the flattened input)."""
    values = amax(input, axis, keepdims, keep_dims=keep_dims)
    if not return_indices:
        return values
    return values, argmax(input, axis, _keep(keepdims, keep_dims))


def min(input, axis=None, keepdims=False, *, return_indices=False, keep_dims=None):
    """Minimum values of ``input`` over ``axis`` (``Tensor.min`` semantics: values only). With
    ``return_indices=True`` returns ``(values, indices)`` like MindSpore's ``ops.min``."""
    values = amin(input, axis, keepdims, keep_dims=keep_dims)
    if not return_indices:
        return values
    return values, argmin(input, axis, _keep(keepdims, keep_dims))


def reduce_max(x, axis=None, keep_dims=False):
    """``amax`` with the ReduceMax argument names."""
    return amax(x, axis, keep_dims)


def reduce_min(x, axis=None, keep_dims=False):
    """``amin`` with the ReduceMin argument names."""
    return amin(x, axis, keep_dims)


class ReduceMax(Primitive):
    """``P.ReduceMax(keep_dims=False)(x, axis=())``."""

    def __init__(self, keep_dims=False):
        super().__init__()
        self.keep_dims = keep_dims

    def __call__(self, x, axis=()):
        return amax(x, axis, self.keep_dims)


class ReduceMin(ReduceMax):
    """``P.ReduceMin(keep_dims=False)(x, axis=())``."""

    def __call__(self, x, axis=()):
        return amin(x, axis, self.keep_dims)


# ---------------------------------------------------------------- prod, and the product of the other elements
def _prod_except_self_infer(x, axis):
    norm_axes(axis, x.ndim)
    return AbstractTensor(x.shape, x.dtype)


def _prod_except_self_cpu(x, axis):
    """For each element, the product of the other elements in its reduction group, without dividing (exact with
    zeros): exclusive cumulative products from the left and from the right, multiplied."""
    axes = norm_axes(axis, x.ndim)
    if x.size == 0:
        return np.ones_like(x)
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    moved = np.transpose(x, rest + axes)
    groups = moved.reshape(-1, _reduced_count(x.shape, axes))
    k = groups.shape[1]
    out = np.ones_like(groups)
    if k > 1:
        out[:, 1:] = np.cumprod(groups[:, :-1], axis=1)                     # product of those to the left
        out[:, :-1] *= np.cumprod(groups[:, :0:-1], axis=1)[:, ::-1]         # times those to the right
    return np.transpose(out.reshape(moved.shape), np.argsort(rest + axes))


def _prod_except_self_bprop(inputs, out, dout, axis):
    """d others_i / d x_j = others_i / x_j for j != i (0 for j == i), so
    dx = (sum over the group of dout * others - dout * others) / x: exact wherever x is nonzero."""
    from .math_ops import mul, sub, div
    x = inputs[0]
    t = mul(dout, out)
    return (div(sub(_bcast_back(sum(t, axis, keep_dims=True), x.shape, axis, True), t), x),)


prod_except_self_p = defprim(
    "prod_except_self", infer=_prod_except_self_infer, cpu=_prod_except_self_cpu,
    cost=lambda x, axis: Cost(3 * x.size, 3 * x.nbytes), bprop=_prod_except_self_bprop,
    shard=keep_rule(lambda x, axis: norm_axes(axis, x.ndim), "each element needs every other element of its group"),
    doc="For each element, the product of the other elements over the reduced axes: the gradient of prod.")


def prod_except_self(x, axis):
    """For each element of ``x``, the product of the other elements in its group over ``axis`` (the gradient of
    ``prod``; exact when some elements are zero)."""
    return bind(prod_except_self_p, x, axis=axis)


def _prod_bprop(inputs, out, dout, axis, keep_dims):
    from .math_ops import mul
    x = inputs[0]
    return (mul(prod_except_self(x, axis), _bcast_back(dout, x.shape, axis, keep_dims)),)


prod_p = defprim("prod", infer=_same_dtype_reduce_infer, cost=reduce_cost, bprop=_prod_bprop,
                 shard=reduction_rule("prod"),
                 cpu=lambda x, axis, keep_dims: np.multiply.reduce(x, axis=_axes(axis, x.ndim), keepdims=keep_dims))


def prod(input, axis=None, keep_dims=False, *, keepdims=None):
    """Product of ``input`` over ``axis`` (None or () = all axes; int or tuple), keeping reduced dims if asked.
    Its gradient is exact for zero inputs too (no division)."""
    return bind(prod_p, as_tensor(input), axis=static_axis(axis), keep_dims=_keep(keep_dims, keepdims))


reduce_prod = prod


class ReduceProd(Primitive):
    """``P.ReduceProd(keep_dims=False)(x, axis=())``."""

    def __init__(self, keep_dims=False):
        super().__init__()
        self.keep_dims = keep_dims

    def __call__(self, x, axis=()):
        return prod(x, axis, self.keep_dims)


# ---------------------------------------------------------------- argmax / argmin
def _arg_infer(x, axis, keep_dims, output_type):
    if output_type not in (mdt.int32, mdt.int64):
        raise DTypeError(f"output_type must be Int32 or Int64, got {output_type}")
    if x.dtype.kind == "b":
        raise DTypeError("argmax/argmin need a numeric input, got Bool")
    if axis is None:   # over the flattened input; keep_dims is ignored (MindSpore)
        if x.size == 0:
            raise ShapeError("cannot take argmax/argmin of an empty tensor")
        return AbstractTensor((), output_type)
    a = norm_axis(axis, x.ndim)
    if x.ndim and x.shape[a] == 0:
        raise ShapeError(f"cannot take argmax/argmin over axis {axis} of size 0")
    shape = tuple(1 if i == a else s for i, s in enumerate(x.shape)) if keep_dims else \
        tuple(s for i, s in enumerate(x.shape) if i != a)
    return AbstractTensor(shape, output_type)


def _arg_cpu(fn):
    def kernel(x, axis, keep_dims, output_type):
        if axis is None:
            return np.asarray(fn(x), dtype=output_type.np)
        out = fn(x, axis=axis if x.ndim else None, keepdims=keep_dims and x.ndim > 0)
        return np.asarray(out, dtype=output_type.np)
    return kernel


def _arg_shard(x, axis, keep_dims, output_type):
    # axis=None: over the flattened input, keep_dims ignored
    return reduction_spec(x, axis, keep_dims and axis is not None, None,
                          "an index over a split axis would need every piece's values and offsets")


argmax_p = defprim("argmax", infer=_arg_infer, cpu=_arg_cpu(np.argmax), cost=reduce_cost,
                   bprop=not_differentiable("argmax returns integer indices"), shard=_arg_shard)
argmin_p = defprim("argmin", infer=_arg_infer, cpu=_arg_cpu(np.argmin), cost=reduce_cost,
                   bprop=not_differentiable("argmin returns integer indices"), shard=_arg_shard)


def _arg_axis(dim, axis):
    d = axis if dim is None else dim
    return static_axis(d)


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index (int64) of the maximum of ``input`` along ``dim`` (None: over the flattened input). ``axis`` /
    ``keepdims`` are the Tensor-method spellings of ``dim`` / ``keepdim``."""
    return bind(argmax_p, as_tensor(input), axis=_arg_axis(dim, axis), keep_dims=_keep(keepdim, keepdims),
                output_type=mdt.int64)


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Index (int64) of the minimum of ``input`` along ``dim`` (None: over the flattened input)."""
    return bind(argmin_p, as_tensor(input), axis=_arg_axis(dim, axis), keep_dims=_keep(keepdim, keepdims),
                output_type=mdt.int64)


class Argmax(Primitive):
    """``P.Argmax(axis=-1, output_type=int32)(x)``."""

    def __init__(self, axis=-1, output_type=mdt.int32):
        super().__init__()
        self.axis, self.output_type = static_axis(axis), mdt.to_type(output_type)

    def __call__(self, x):
        return bind(argmax_p, as_tensor(x), axis=self.axis, keep_dims=False, output_type=self.output_type)


class Argmin(Argmax):
    """``P.Argmin(axis=-1, output_type=int32)(x)``."""

    def __call__(self, x):
        return bind(argmin_p, as_tensor(x), axis=self.axis, keep_dims=False, output_type=self.output_type)


class ArgMaxWithValue(Primitive):
    """``P.ArgMaxWithValue(axis=0, keep_dims=False)(x)`` -> ``(index, values)`` (index int32)."""

    def __init__(self, axis=0, keep_dims=False):
        super().__init__()
        self.axis, self.keep_dims = static_axis(axis), bool(keep_dims)

    def __call__(self, x):
        x = as_tensor(x)
        index = bind(argmax_p, x, axis=self.axis, keep_dims=self.keep_dims, output_type=mdt.int32)
        return index, amax(x, self.axis, self.keep_dims)


class ArgMinWithValue(ArgMaxWithValue):
    """``P.ArgMinWithValue(axis=0, keep_dims=False)(x)`` -> ``(index, values)`` (index int32)."""

    def __call__(self, x):
        x = as_tensor(x)
        index = bind(argmin_p, x, axis=self.axis, keep_dims=self.keep_dims, output_type=mdt.int32)
        return index, amin(x, self.axis, self.keep_dims)


# ---------------------------------------------------------------- all / any
def _bool_reduce_infer(x, axis, keep_dims):
    return AbstractTensor(reduce_infer(x, axis, keep_dims)[0].shape, mdt.bool_)


all_p = defprim("all", infer=_bool_reduce_infer, cost=reduce_cost, shard=reduction_rule("min"),   # min: "and"
                cpu=lambda x, axis, keep_dims: np.logical_and.reduce(x, axis=_axes(axis, x.ndim), keepdims=keep_dims),
                bprop=not_differentiable("all returns a bool"))
any_p = defprim("any", infer=_bool_reduce_infer, cost=reduce_cost, shard=reduction_rule("max"),   # max: "or"
                cpu=lambda x, axis, keep_dims: np.logical_or.reduce(x, axis=_axes(axis, x.ndim), keepdims=keep_dims),
                bprop=not_differentiable("any returns a bool"))


def all(input, axis=None, keep_dims=False, *, keepdims=None):
    """Logical AND of ``input``'s elements (nonzero = True) over ``axis`` (None or () = all axes)."""
    return bind(all_p, as_tensor(input), axis=static_axis(axis), keep_dims=_keep(keep_dims, keepdims))


def any(input, axis=None, keep_dims=False, *, keepdims=None):
    """Logical OR of ``input``'s elements (nonzero = True) over ``axis`` (None or () = all axes)."""
    return bind(any_p, as_tensor(input), axis=static_axis(axis), keep_dims=_keep(keep_dims, keepdims))


reduce_all, reduce_any = all, any


class ReduceAll(Primitive):
    """``P.ReduceAll(keep_dims=False)(x, axis=())``."""

    def __init__(self, keep_dims=False):
        super().__init__()
        self.keep_dims = keep_dims

    def __call__(self, x, axis=()):
        return all(x, axis, self.keep_dims)


class ReduceAny(ReduceAll):
    """``P.ReduceAny(keep_dims=False)(x, axis=())``."""

    def __call__(self, x, axis=()):
        return any(x, axis, self.keep_dims)
