"""Shape and data-movement primitives: identity, reshape, transpose, broadcast, expand/squeeze/flatten,
concat/stack/split, tile, fills. Indexing, gathering and scattering are the ``index_ops`` family."""
import operator

import numpy as np

from ... import dtype as mdt
from ...errors import ShapeError, DTypeError, MindlabError, where
from ...tensor import Tensor
from ..abstract import AbstractTensor, norm_axis, broadcast_shapes
from ..registry import defprim, memory_cost, not_differentiable, Cost
from ..shard import ShardSpec, same_rule
from ..dispatch import bind, describe
from .._api import Primitive, as_tensor, static_axis
from . import reduce_ops as _R
from . import native_rules as _native

__all__ = ["identity", "stop_gradient", "zeros_like", "ones_like", "reshape", "broadcast_to", "transpose", "expand_dims", "squeeze", "flatten", "concat", "cat", "stack", "split", "unstack", "tile", "fill", "full", "zeros", "ones"]
__operations__ = ["Identity", "StopGradient", "ZerosLike", "OnesLike", "Reshape", "BroadcastTo", "Transpose", "ExpandDims", "Squeeze", "Flatten", "Concat", "Stack", "Split", "Unstack", "Tile", "Fill", "Zeros", "Ones"]


def _same(x, **attrs):
    return AbstractTensor(x.shape, x.dtype)


def _error(op, message, tensors, kind=ValueError):
    """A user error raised outside an infer rule, worded like the dispatcher's: op, message, inputs, user line."""
    return kind(f"{op}: {message}. Inputs: ({describe(tensors)}).{where()}")


def _moved_cost(infer):
    """Cost of a data-movement op: read and write its output once, plus read its integer (index) inputs."""
    def cost(*avals, **attrs):
        out = infer(*avals, **attrs)
        index_bytes = sum(a.nbytes for a in avals if a.dtype.kind != "f")
        return Cost(0, 2 * out.nbytes + index_bytes)
    return cost


def _check_int(what, a):
    if a.dtype.kind != "i":
        raise DTypeError(f"{what} must be an integer tensor, got {a.dtype}")


# ---------------------------------------------------------------- identity
identity_p = defprim(
    "identity", infer=_same, shard=same_rule, cpu=lambda x: x, cost=memory_cost,
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
    "stop_gradient", infer=_same, shard=same_rule, cpu=lambda x: x, cost=memory_cost,
    bprop=not_differentiable("stop_gradient blocks gradients by definition"))


def stop_gradient(x):
    """Returns ``x``, cutting it out of gradient computation."""
    return bind(stop_gradient_p, as_tensor(x))


class StopGradient(Primitive):
    def __call__(self, x):
        return stop_gradient(x)


# ---------------------------------------------------------------- zeros_like / ones_like
zeros_like_p = defprim(
    "zeros_like", infer=_same, shard=same_rule, cpu=np.zeros_like, cost=lambda x: Cost(0, x.nbytes),
    bprop=not_differentiable("the output does not depend on the input's values"))
ones_like_p = defprim(
    "ones_like", infer=_same, shard=same_rule, cpu=np.ones_like, cost=lambda x: Cost(0, x.nbytes),
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


def _reshape_shard(x, shape):
    """Dims are paired into groups of equal element counts ((8, 6) -> (48,): one group); the first dim of a group
    in the input and in the output split alike (a contiguous run of rows stays contiguous), the others stay whole."""
    out = _reshape_infer(x, shape).shape
    ins, outs = [None] * x.ndim, [None] * len(out)
    i = j = k = 0
    while x.size and i < x.ndim and j < len(out):
        if x.shape[i] == 1 or out[j] == 1:
            i, j = (i + 1, j) if x.shape[i] == 1 else (i, j + 1)
            continue
        ins[i] = outs[j] = f"g{k}"
        pi, pj, i, j, k = x.shape[i], out[j], i + 1, j + 1, k + 1
        while pi != pj:
            if pi < pj:
                pi, i = pi * x.shape[i], i + 1
            else:
                pj, j = pj * out[j], j + 1
    why = {(0, d): "only the first dim of a group of merged/split dims keeps its pieces contiguous"
           for d in range(x.ndim) if ins[d] is None}
    return ShardSpec((ins,), (outs,), localize=lambda i_, o_, s_: {"shape": o_[0]}, why=why)


reshape_p = defprim(
    "reshape", infer=_reshape_infer, shard=_reshape_shard, cpu=lambda x, shape: x.reshape(shape),
    native=_native.reshape,
    cost=lambda x, shape: Cost(0, 0),
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
    return (_R.sum_to(dout, inputs[0].shape),)


def _broadcast_to_shard(x, shape):
    """Kept dims split alike; broadcast (new or size-1) dims are made by each device for its own piece."""
    out = _broadcast_to_infer(x, shape).shape
    labels = tuple(f"d{j}" for j in range(len(out)))
    off = len(out) - x.ndim
    ins = tuple(labels[off + i] if x.shape[i] == out[off + i] else None for i in range(x.ndim))
    return ShardSpec((ins,), (labels,), localize=lambda i_, o_, s_: {"shape": o_[0]},
                     why={(0, i): "a broadcast (size-1) dim is read whole" for i in range(x.ndim) if ins[i] is None})


broadcast_to_p = defprim(
    "broadcast_to", infer=_broadcast_to_infer, shard=_broadcast_to_shard, cost=memory_cost, bprop=_sum_to_bprop,
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


# ---------------------------------------------------------------- transpose
def _transpose_infer(x, perm):
    if len(perm) != x.ndim or sorted(norm_axis(p, x.ndim, "perm entry") for p in perm) != list(range(x.ndim)):
        raise ShapeError(f"perm {tuple(perm)} is not a permutation of the {x.ndim} axes of shape {list(x.shape)}")
    return AbstractTensor(tuple(x.shape[p] for p in perm), x.dtype)


def _transpose_bprop(inputs, out, dout, perm):
    n = len(perm)
    return (transpose(dout, tuple(int(i) for i in np.argsort([p % n for p in perm]))),)


def _transpose_shard(x, perm):
    labels = tuple(f"d{i}" for i in range(x.ndim))
    return ShardSpec((labels,), (tuple(labels[p % x.ndim] for p in perm),))


transpose_p = defprim("transpose", infer=_transpose_infer, shard=_transpose_shard,
                      cpu=lambda x, perm: np.transpose(x, perm), cost=memory_cost, bprop=_transpose_bprop,
                      native=_native.transpose)


def transpose(input, input_perm=None, *more):
    """``input`` with its axes permuted by ``input_perm`` (a tuple; None reverses the axes). As a Tensor method
    the axes may also be given one by one: ``x.transpose(1, 0)``."""
    x = as_tensor(input)
    if more:
        perm = (input_perm,) + more
    elif input_perm is None:
        perm = tuple(range(x.ndim - 1, -1, -1))
    else:
        perm = static_axis(input_perm)
        if perm.__class__ is int:
            perm = (perm,)
    return bind(transpose_p, x, perm=perm)


class Transpose(Primitive):
    """``P.Transpose()(x, perm)``."""

    def __call__(self, x, perm):
        return transpose(x, perm)


# ---------------------------------------------------------------- expand_dims / squeeze / flatten
def _expand_dims_infer(x, axis):
    if not isinstance(axis, int) or not -x.ndim - 1 <= axis <= x.ndim:
        raise ShapeError(f"axis {axis!r} is out of range [{-x.ndim - 1}, {x.ndim}] for a tensor of rank {x.ndim}")
    a = axis % (x.ndim + 1)
    return AbstractTensor(x.shape[:a] + (1,) + x.shape[a:], x.dtype)


def _back_to_input_shape(inputs, out, dout, **attrs):
    return (reshape(dout, inputs[0].shape),)


def _expand_dims_shard(x, axis):
    labels = tuple(f"d{i}" for i in range(x.ndim))
    a = axis % (x.ndim + 1)
    return ShardSpec((labels,), (labels[:a] + (None,) + labels[a:],))


expand_dims_p = defprim("expand_dims", infer=_expand_dims_infer, shard=_expand_dims_shard,
                        cpu=lambda x, axis: np.expand_dims(x, axis), cost=lambda x, axis: Cost(0, 0),
                        bprop=_back_to_input_shape)


def expand_dims(input_x, axis):
    """``input_x`` with a new axis of size 1 inserted at ``axis`` (in [-rank-1, rank])."""
    return bind(expand_dims_p, as_tensor(input_x), axis=static_axis(axis))


class ExpandDims(Primitive):
    """``P.ExpandDims()(x, axis)``."""

    def __call__(self, x, axis):
        return expand_dims(x, axis)


def _squeeze_infer(x, axis):
    axes = set()
    for a in axis:
        a = norm_axis(a, x.ndim)
        if x.shape[a] != 1:
            raise ShapeError(f"cannot squeeze axis {a} of shape {list(x.shape)}: its size is {x.shape[a]}, not 1")
        axes.add(a)
    if not axis:
        axes = {i for i, s in enumerate(x.shape) if s == 1}
    return AbstractTensor(tuple(s for i, s in enumerate(x.shape) if i not in axes), x.dtype)


def _squeeze_shard(x, axis):
    gone = {norm_axis(a, x.ndim) for a in axis} if axis else {i for i, s in enumerate(x.shape) if s == 1}
    ins = tuple(None if i in gone else f"d{i}" for i in range(x.ndim))
    # axis=() squeezes every size-1 dim: name them, so a piece with a dim split down to 1 keeps it
    return ShardSpec((ins,), (tuple(lab for lab in ins if lab is not None),),
                     localize=lambda i_, o_, s_: {"axis": tuple(sorted(gone))})


squeeze_p = defprim("squeeze", infer=_squeeze_infer, shard=_squeeze_shard, cost=lambda x, axis: Cost(0, 0),
                    bprop=_back_to_input_shape,
                    cpu=lambda x, axis: np.squeeze(x, axis=axis if axis else None))


def squeeze(input, axis=None):
    """``input`` without the size-1 axes named by ``axis`` (None: all size-1 axes; an int or tuple)."""
    axis = static_axis(axis)
    if axis is None:
        axis = ()
    elif axis.__class__ is int:
        axis = (axis,)
    return bind(squeeze_p, as_tensor(input), axis=axis)


class Squeeze(Primitive):
    """``P.Squeeze(axis=())(x)``."""

    def __init__(self, axis=()):
        super().__init__()
        self.axis = axis

    def __call__(self, x):
        return squeeze(x, self.axis)


def flatten(input, order="C", *, start_dim=1, end_dim=-1):
    """``input`` with dims ``start_dim``..``end_dim`` merged into one (by default every dim but the first); rank 0
    and 1 inputs become 1-D. ``order='F'`` merges them column-major. A reshape (plus a transpose for 'F')."""
    x = as_tensor(input)
    r = x.ndim
    if order not in ("C", "F"):
        raise _error("flatten", f"order must be 'C' or 'F', got {order!r}", [x])
    if r <= 1:
        return reshape(x, (-1,))
    try:
        s, e = norm_axis(start_dim, r, "start_dim"), norm_axis(end_dim, r, "end_dim")
    except MindlabError as exc:
        raise _error("flatten", exc, [x]) from None
    if s > e:
        raise _error("flatten", f"start_dim {start_dim} comes after end_dim {end_dim}", [x])
    if order == "F" and e > s:   # column-major: the first merged dim varies fastest
        x = transpose(x, tuple(range(s)) + tuple(range(e, s - 1, -1)) + tuple(range(e + 1, r)))
    n = 1
    for d in x.shape[s:e + 1]:
        n *= d
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1:])


class Flatten(Primitive):
    """``P.Flatten()(x)``: keeps dim 0 and merges the rest, (N, ...) -> (N, -1)."""

    def __call__(self, x):
        x = as_tensor(x)
        if x.ndim == 0:
            raise _error("Flatten", "the input must have rank >= 1", [x])
        return reshape(x, (x.shape[0], -1))


# ---------------------------------------------------------------- concat / stack / split / unstack
def _axis_slice(axis, piece):
    """Normalised index selecting ``piece`` (an int or a (start, stop, step) tuple) along ``axis``."""
    return ((None, None, None),) * axis + (piece,)


def _concat_infer(*avals, axis):
    if not avals:
        raise ShapeError("needs at least one tensor")
    first = avals[0]
    a = norm_axis(axis, first.ndim)
    for k, t in enumerate(avals[1:], 1):
        if t.dtype is not first.dtype:
            raise DTypeError(f"all tensors must have the same dtype: tensor 0 is {first.dtype}, tensor {k} is "
                             f"{t.dtype}")
        if t.ndim != first.ndim or any(s != f for i, (s, f) in enumerate(zip(t.shape, first.shape)) if i != a):
            raise ShapeError(f"tensor {k} of shape {list(t.shape)} does not match tensor 0 of shape "
                             f"{list(first.shape)} outside axis {axis}")
    return AbstractTensor(first.shape[:a] + (sum(t.shape[a] for t in avals),) + first.shape[a + 1:], first.dtype)


def _concat_bprop(inputs, out, dout, axis):
    a = axis % dout.ndim
    grads, start = [], 0
    for t in inputs:
        n = t.shape[a]
        grads.append(bind(tensor_getitem_p, dout, index=_axis_slice(a, (start, start + n, 1))))
        start += n
    return tuple(grads)


def _concat_shard(*avals, axis):
    a = norm_axis(axis, avals[0].ndim)
    dims = tuple(None if i == a else f"d{i}" for i in range(avals[0].ndim))
    return ShardSpec((dims,) * len(avals), (dims,),
                     why={(k, a): "the concatenation axis: pieces would interleave" for k in range(len(avals))})


concat_p = defprim("concat", infer=_concat_infer, shard=_concat_shard,
                   cpu=lambda *xs, axis: np.concatenate(xs, axis=axis), cost=memory_cost, bprop=_concat_bprop)


def concat(tensors, axis=0):
    """The tensors joined along the existing ``axis`` (same dtype; equal sizes in the other dims)."""
    return bind(concat_p, *[t if t.__class__ is Tensor else as_tensor(t) for t in tensors], axis=int(axis))


cat = concat


class Concat(Primitive):
    """``P.Concat(axis=0)(tensors)``."""

    def __init__(self, axis=0):
        super().__init__()
        self.axis = int(axis)

    def __call__(self, input_x):
        return concat(input_x, self.axis)


def _stack_infer(*avals, axis):
    if not avals:
        raise ShapeError("needs at least one tensor")
    first = avals[0]
    if not isinstance(axis, int) or not -first.ndim - 1 <= axis <= first.ndim:
        raise ShapeError(f"axis {axis!r} is out of range [{-first.ndim - 1}, {first.ndim}] for stacking tensors "
                         f"of rank {first.ndim}")
    for k, t in enumerate(avals[1:], 1):
        if t.shape != first.shape or t.dtype is not first.dtype:
            raise ShapeError(f"all tensors must have the same shape and dtype: tensor 0 is {first}, tensor {k} is "
                             f"{t}")
    a = axis % (first.ndim + 1)
    return AbstractTensor(first.shape[:a] + (len(avals),) + first.shape[a:], first.dtype)


def _stack_shard(*avals, axis):
    dims = tuple(f"d{i}" for i in range(avals[0].ndim))
    a = axis % (avals[0].ndim + 1)
    return ShardSpec((dims,) * len(avals), (dims[:a] + (None,) + dims[a:],))


stack_p = defprim(
    "stack", infer=_stack_infer, shard=_stack_shard, cpu=lambda *xs, axis: np.stack(xs, axis=axis), cost=memory_cost,
    bprop=lambda inputs, out, dout, axis: tuple(
        bind(tensor_getitem_p, dout, index=_axis_slice(axis % dout.ndim, i)) for i in range(len(inputs))))


def stack(tensors, axis=0):
    """The tensors (same shape and dtype) stacked along a new ``axis``."""
    return bind(stack_p, *[t if t.__class__ is Tensor else as_tensor(t) for t in tensors], axis=int(axis))


class Stack(Primitive):
    """``P.Stack(axis=0)(tensors)``."""

    def __init__(self, axis=0):
        super().__init__()
        self.axis = int(axis)

    def __call__(self, input_x):
        return stack(input_x, self.axis)


def _split_axis(op, x, axis):
    try:
        return norm_axis(axis, x.ndim)
    except MindlabError as exc:
        raise _error(op, exc, [x]) from None


def _split_infer(x, axis, sizes):
    a = norm_axis(axis, x.ndim)
    if sum(sizes) != x.shape[a] or any(v < 0 for v in sizes):
        raise ShapeError(f"sections {list(sizes)} do not add up to the size {x.shape[a]} of axis {axis}")
    return tuple(AbstractTensor(x.shape[:a] + (v,) + x.shape[a + 1:], x.dtype) for v in sizes)


def _split_cpu(x, axis, sizes):
    bounds = np.cumsum(sizes)[:-1]
    return tuple(np.ascontiguousarray(p) for p in np.split(x, bounds, axis=axis))


def _split_bprop(inputs, out, dout, axis, sizes):
    return (concat(tuple(dout), axis),)


def _split_shard(x, axis, sizes):
    a = norm_axis(axis, x.ndim)
    dims = tuple(None if i == a else f"d{i}" for i in range(x.ndim))
    return ShardSpec((dims,), (dims,) * len(sizes), why={(0, a): "the axis being cut into sections"})


split_p = defprim(
    "split", infer=_split_infer, shard=_split_shard, cpu=_split_cpu, bprop=_split_bprop, cost=memory_cost, outputs=None,
    doc="Cuts a tensor along an axis into pieces of the given sizes (as many outputs as sizes).")


def split(tensor, split_size_or_sections, axis=0):
    """``tensor`` cut along ``axis`` into a tuple of pieces: of ``split_size_or_sections`` each (an int; the last
    piece may be smaller), or of the sizes listed."""
    x = as_tensor(tensor)
    a = _split_axis("split", x, axis)
    n = x.shape[a]
    s = split_size_or_sections
    if isinstance(s, (int, np.integer)):
        if s <= 0:
            raise _error("split", f"split_size_or_sections must be positive, got {s}", [x])
        sizes = [int(s)] * (n // s) + ([n % s] if n % s else [])
    else:
        sizes = [int(v) for v in s]
    return bind(split_p, x, axis=a, sizes=tuple(sizes))


class Split(Primitive):
    """``P.Split(axis=0, output_num=1)(x)``: ``output_num`` equal pieces along ``axis``."""

    def __init__(self, axis=0, output_num=1):
        super().__init__()
        self.axis, self.output_num = int(axis), int(output_num)

    def __call__(self, x):
        x = as_tensor(x)
        a = _split_axis("Split", x, self.axis)
        if self.output_num <= 0 or x.shape[a] % self.output_num:
            raise _error("Split", f"axis {self.axis} of size {x.shape[a]} cannot be split into {self.output_num} "
                         f"equal pieces", [x])
        return split(x, x.shape[a] // self.output_num, a)


def unstack(input_x, axis=0):
    """The slices of ``input_x`` along ``axis``, as a tuple (each without that axis)."""
    x = as_tensor(input_x)
    a = _split_axis("unstack", x, axis)
    return tuple(bind(tensor_getitem_p, x, index=_axis_slice(a, i)) for i in range(x.shape[a]))


class Unstack(Primitive):
    """``P.Unstack(axis=0, num=None)(x)``."""

    def __init__(self, axis=0, num=None):
        super().__init__()
        self.axis = int(axis)

    def __call__(self, x):
        return unstack(x, self.axis)


# ---------------------------------------------------------------- tile
def _tile_shapes(shape, dims):
    """(input shape, reps) padded with leading 1s to the same rank (numpy.tile)."""
    r = max(len(shape), len(dims))
    return (1,) * (r - len(shape)) + tuple(shape), (1,) * (r - len(dims)) + tuple(dims)


def _tile_infer(x, dims):
    if any(not isinstance(d, int) or d < 0 for d in dims):
        raise ShapeError(f"dims {tuple(dims)} must be non-negative ints")
    xs, reps = _tile_shapes(x.shape, dims)
    return AbstractTensor(tuple(s * d for s, d in zip(xs, reps)), x.dtype)


def _tile_bprop(inputs, out, dout, dims):
    """Sum the tiles: view the output as (rep0, size0, rep1, size1, ...) and sum the rep axes."""
    x = inputs[0]
    xs, reps = _tile_shapes(x.shape, dims)
    split = reshape(dout, tuple(v for pair in zip(reps, xs) for v in pair))
    return (reshape(_R.sum(split, tuple(range(0, 2 * len(xs), 2))), x.shape),)


def _tile_shard(x, dims):
    """A dim not repeated splits alike in input and output; a size-1 dim repeated is made piecewise (each device
    repeats it for its own piece); a dim of size > 1 repeated stays whole."""
    xs, reps = _tile_shapes(x.shape, dims)
    off = len(xs) - x.ndim
    outs = tuple(f"d{d}" if reps[d] == 1 or xs[d] == 1 else None for d in range(len(xs)))
    ins = tuple(outs[off + i] if reps[off + i] == 1 else None for i in range(x.ndim))
    why = {(0, i): "a repeated dim: each piece would repeat only itself" for i in range(x.ndim)
           if ins[i] is None and xs[off + i] != 1}
    return ShardSpec((ins,), (outs,), why=why,
                     localize=lambda i_, o_, s_: {"dims": tuple(
                         o // max(n, 1) for o, n in zip(o_[0], _tile_shapes(i_[0], dims)[0]))})


tile_p = defprim("tile", infer=_tile_infer, shard=_tile_shard, cpu=lambda x, dims: np.tile(x, dims),
                 cost=_moved_cost(_tile_infer), bprop=_tile_bprop)


def tile(input, dims):
    """``input`` repeated ``dims[i]`` times along each dim (numpy.tile: the shorter of the two is padded with
    leading 1s). The gradient sums the tiles."""
    return bind(tile_p, as_tensor(input), dims=tuple(int(d) for d in static_axis(tuple(dims))))


class Tile(Primitive):
    """``P.Tile()(input_x, multiples)``."""

    def __call__(self, input_x, multiples):
        return tile(input_x, multiples)


# ---------------------------------------------------------------- fill / zeros / ones / full (no tensor inputs)
def _fill_infer(*, dtype, shape, value):
    if any(not isinstance(s, int) or s < 0 for s in shape):
        raise ShapeError(f"shape {list(shape)} must hold non-negative ints")
    return AbstractTensor(shape, dtype)


fill_p = defprim(
    "fill", infer=_fill_infer, cpu=lambda dtype, shape, value: np.full(shape, value, dtype=dtype.np),
    # no inputs: each device fills its own piece of the output
    shard=lambda *, dtype, shape, value: ShardSpec((), (tuple(f"d{i}" for i in range(len(shape))),),
                                                   localize=lambda i_, o_, s_: {"shape": o_[0]}),
    cost=lambda dtype, shape, value: Cost(0, _fill_infer(dtype=dtype, shape=shape, value=value).nbytes),
    bprop=not_differentiable("a creation op with no tensor inputs"),
    doc="A new tensor of `shape` and `dtype` filled with the scalar `value` (a primitive with no inputs).")


def _shape_attr(op, shape):
    if isinstance(shape, Tensor):
        shape = shape.asnumpy().tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    try:
        return tuple(operator.index(s) for s in shape)
    except TypeError:
        raise TypeError(f"{op}: shape must be an int or a tuple of ints, got {shape!r}.{where()}") from None


def _scalar_attr(op, value):
    if isinstance(value, Tensor):
        if value.size != 1:
            raise ValueError(f"{op}: the fill value must be a scalar, got a tensor of shape {list(value.shape)}."
                             f"{where()}")
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    if not isinstance(value, (bool, int, float)):
        raise TypeError(f"{op}: the fill value must be a number, got {type(value).__name__}.{where()}")
    return value


def fill(type, shape, value):
    """A tensor of ``shape`` and dtype ``type`` filled with the number ``value``."""
    return bind(fill_p, dtype=mdt.to_type(type), shape=_shape_attr("fill", shape), value=_scalar_attr("fill", value))


def full(size, fill_value, *, dtype=None):
    """A tensor of shape ``size`` filled with ``fill_value`` (dtype: ``dtype``, else the value's own: bool, int64
    or float32)."""
    v = _scalar_attr("full", fill_value)
    dt = mdt.dtype_of_scalar(v) if dtype is None else mdt.to_type(dtype)
    return bind(fill_p, dtype=dt, shape=_shape_attr("full", size), value=v)


def zeros(size, dtype=None):
    """A tensor of zeros of shape ``size`` (dtype float32 unless given)."""
    return bind(fill_p, dtype=mdt.float32 if dtype is None else mdt.to_type(dtype),
                shape=_shape_attr("zeros", size), value=0)


def ones(shape, dtype=None):
    """A tensor of ones of shape ``shape`` (dtype float32 unless given)."""
    return bind(fill_p, dtype=mdt.float32 if dtype is None else mdt.to_type(dtype),
                shape=_shape_attr("ones", shape), value=1)


class Fill(Primitive):
    """``P.Fill()(type, shape, value)``."""

    def __call__(self, type, shape, value):
        return fill(type, shape, value)


class Zeros(Primitive):
    """``P.Zeros()(size, type)``."""

    def __call__(self, size, type=None):
        return zeros(size, type)


class Ones(Primitive):
    """``P.Ones()(shape, type)``."""

    def __call__(self, shape, type=None):
        return ones(shape, type)


# the indexing family builds on the helpers above (and concat/stack/unstack's bprops slice with tensor_getitem)
from .index_ops import tensor_getitem_p  # noqa: E402
