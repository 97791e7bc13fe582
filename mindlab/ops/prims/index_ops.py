"""Indexing, gathering and scattering primitives.

``tensor_getitem`` (``Tensor.__getitem__``) takes numpy's basic indices (ints, slices with steps, None, Ellipsis) as
one primitive whose ``index`` attribute is a hashable normalised tuple: an ``int``, ``None``, ``Ellipsis``, or a
``(start, stop, step)`` tuple for each slice. Integer Tensor / list / ndarray indices go through ``gather`` (one
index array: gather along its axis; anything else, including bool masks: gather from the flattened tensor at the
positions numpy's indexing would pick), so gradients scatter-add back. ``tensor_setitem`` (``Tensor.__setitem__``)
returns a new tensor with the update. ``strided_slice``, ``gather_nd``, ``scatter_nd``, ``tensor_scatter_update``,
``unsorted_segment_sum`` and ``one_hot`` complete the family.
"""
import operator

import numpy as np

from ... import device as _device
from ...errors import ShapeError, DTypeError, MindlabError, where
from ...tensor import Tensor, _wrap
from ..abstract import AbstractTensor, norm_axis, broadcast_shapes
from ..registry import defprim, Cost
from ..shard import ShardSpec
from ..dispatch import bind
from .._api import Primitive, as_tensor, static_axis, tensor_pair
from . import reduce_ops as _R
from .array_ops import _check_int, _error, _moved_cost, broadcast_to, reshape, transpose, zeros_like

__all__ = ["strided_slice", "tensor_getitem", "tensor_setitem", "gather", "unsorted_segment_sum", "gather_nd",
           "scatter_nd", "tensor_scatter_update", "one_hot"]
__operations__ = ["StridedSlice", "Gather", "UnsortedSegmentSum", "GatherNd", "ScatterNd", "TensorScatterUpdate",
                  "OneHot"]


# ---------------------------------------------------------------- basic indexing: tensor_getitem, strided_slice
_ANY = np.empty((), dtype=np.int8)   # broadcast to any shape (no memory) to let numpy work out indexed shapes
_NP_INDEX = {}


def _np_index(index):
    """numpy index (slices rebuilt) for a normalised index; 0-d results stay arrays (a trailing Ellipsis)."""
    try:
        return _NP_INDEX[index]
    except KeyError:
        out = tuple(slice(*e) if e.__class__ is tuple else e for e in index)
        if Ellipsis not in out:
            out += (Ellipsis,)
        if len(_NP_INDEX) > 4096:
            _NP_INDEX.clear()
        _NP_INDEX[index] = out
        return out


def _indexed_shape(shape, index):
    """Shape of ``x[index]`` for a normalised basic index; ShapeError / DTypeError for invalid indices."""
    try:
        return np.broadcast_to(_ANY, shape)[_np_index(index)].shape
    except IndexError as exc:
        raise ShapeError(f"index {_show_index(index)} is invalid for shape {list(shape)}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise DTypeError(f"index {_show_index(index)} is invalid: {exc}") from None


def _show_index(index):
    def one(e):
        if e is Ellipsis:
            return "..."
        if e.__class__ is tuple:
            a, b, c = ("" if v is None else v for v in e)
            return f"{a}:{b}" + (f":{c}" if c != "" else "")
        return repr(e)
    return "[" + ", ".join(one(e) for e in index) + "]"


def _getitem_infer(x, index):
    return AbstractTensor(_indexed_shape(x.shape, index), x.dtype)


def _getitem_bprop(inputs, out, dout, index):
    return (tensor_getitem_grad(dout, inputs[0].shape, index),)


def _index_dims(shape, index):
    """(input labels, output labels) of ``x[index]`` for a normalised basic index: a dim taken whole (``:``,
    ``...``, or a slice covering it with step 1) keeps a label ``d<i>``; ints, partial or strided slices leave it
    whole (None); ``None`` entries add unsplit output dims."""
    entries = list(index)
    if Ellipsis not in entries:
        entries.append(Ellipsis)
    consumed = sum(1 for e in entries if e is not None and e is not Ellipsis)
    ins, outs, d = [], [], 0
    for e in entries:
        if e is Ellipsis:
            for _ in range(len(shape) - consumed):
                ins.append(f"d{d}")
                outs.append(f"d{d}")
                d += 1
        elif e is None:
            outs.append(None)
        elif e.__class__ is tuple:
            full = slice(*e).indices(shape[d]) == (0, shape[d], 1)
            ins.append(f"d{d}" if full else None)
            outs.append(f"d{d}" if full else None)
            d += 1
        else:
            ins.append(None)
            d += 1
    return tuple(ins), tuple(outs)


_INDEX_WHY = "an indexed dim (an int, or a slice that does not take it whole with step 1) is read whole"


def _getitem_shard(x, index):
    ins, outs = _index_dims(x.shape, index)
    return ShardSpec((ins,), (outs,), why={(0, i): _INDEX_WHY for i, lab in enumerate(ins) if lab is None})


tensor_getitem_p = defprim(
    "tensor_getitem", infer=_getitem_infer, shard=_getitem_shard, cpu=lambda x, index: x[_np_index(index)],
    cost=_moved_cost(_getitem_infer), bprop=_getitem_bprop,
    doc="x[index] for a basic index (ints, slices, None, Ellipsis) given as a normalised hashable tuple.")


def _getitem_grad_infer(dout, shape, index):
    expect = _indexed_shape(shape, index)
    if dout.shape != expect:
        raise ShapeError(f"the gradient has shape {list(dout.shape)}, but {_show_index(index)} of shape "
                         f"{list(shape)} has shape {list(expect)}")
    return AbstractTensor(shape, dout.dtype)


def _getitem_grad_cpu(dout, shape, index):
    out = np.zeros(shape, dtype=dout.dtype)
    out[_np_index(index)] = dout
    return out


def _getitem_grad_shard(dout, shape, index):
    ins, outs = _index_dims(shape, index)
    return ShardSpec((outs,), (ins,), localize=lambda i_, o_, s_: {"shape": o_[0]},
                     why={(0, i): _INDEX_WHY for i, lab in enumerate(outs) if lab is None})


tensor_getitem_grad_p = defprim(
    "tensor_getitem_grad", infer=_getitem_grad_infer, shard=_getitem_grad_shard, cpu=_getitem_grad_cpu,
    cost=lambda dout, shape, index: Cost(0, 2 * dout.nbytes + int(np.prod(shape)) * dout.dtype.np.itemsize),
    bprop=lambda inputs, out, dout, shape, index: (bind(tensor_getitem_p, dout, index=index),),
    doc="Zeros of `shape` with `dout` written at the basic index `index`: the gradient of tensor_getitem.")


def tensor_getitem_grad(dout, shape, index):
    """Zeros of ``shape`` with ``dout`` written at the normalised basic ``index`` (the gradient of indexing)."""
    return bind(tensor_getitem_grad_p, dout, shape=tuple(shape), index=index)


def _index_int(v):
    """A slice bound as an int (or None); other values are left for numpy to reject with its own message."""
    if v is None or v.__class__ is int:
        return v
    try:
        return operator.index(v)
    except TypeError:
        return v


def _basic_index(index):
    """The normalised hashable form of a basic index, or None when it has an advanced (array / bool) part."""
    cls = index.__class__
    if cls is int:
        return (index,)
    if cls is not tuple:
        index = (index,)
    out = []
    for e in index:
        c = e.__class__
        if c is int or e is None or e is Ellipsis:
            out.append(e)
        elif c is slice:
            out.append((_index_int(e.start), _index_int(e.stop), _index_int(e.step)))
        elif isinstance(e, np.integer):
            out.append(int(e))
        elif isinstance(e, Tensor) and e.ndim == 0 and e.dtype.kind == "i" and e._data is not None:
            out.append(int(e._data))
        else:
            return None
    return tuple(out)


def _fit_value_shape(vshape, target, index):
    """``vshape`` with extra leading size-1 dims dropped (numpy allows them in assignment), checked to broadcast
    to ``target``, the shape of ``x[index]``."""
    drop = 0
    while len(vshape) - drop > len(target) and vshape[drop] == 1:
        drop += 1
    fitted = vshape[drop:]
    try:
        ok = len(fitted) <= len(target) and broadcast_shapes(fitted, target) == tuple(target)
    except ShapeError:
        ok = False
    if not ok:
        where_to = "the indexed elements" if index is None else _show_index(index)
        raise ShapeError(f"a value of shape {list(vshape)} cannot be assigned to {where_to}, which has shape "
                         f"{list(target)}")
    return fitted


def _setitem_infer(x, value, index):
    target = _indexed_shape(x.shape, index)
    _fit_value_shape(value.shape, target, index)
    return AbstractTensor(x.shape, x.dtype)


def _setitem_cpu(x, value, index):
    out = x.copy()
    target = out[_np_index(index)]
    target[...] = value.reshape(_fit_value_shape(value.shape, target.shape, index))
    return out


def _setitem_bprop(inputs, out, dout, index):
    x, value = inputs
    dx = bind(tensor_setitem_p, dout, zeros_like(value), index=index)
    picked = bind(tensor_getitem_p, dout, index=index)
    vshape = _fit_value_shape(value.shape, picked.shape, index)
    return dx, reshape(_R.sum_to(picked, vshape), value.shape)


def _setitem_shard(x, value, index):
    """Dims taken whole by the index split alike in x, the output and the value (where the value is not
    broadcast along them): each device writes its piece of the value into its piece of x."""
    ins, outs = _index_dims(x.shape, index)
    target = _indexed_shape(x.shape, index)
    fitted = _fit_value_shape(value.shape, target, index)
    lead = value.ndim - len(fitted)
    off = len(target) - len(fitted)
    vals = tuple(None if k < lead or fitted[k - lead] != target[off + k - lead] else outs[off + k - lead]
                 for k in range(value.ndim))
    why = {(0, i): _INDEX_WHY for i, lab in enumerate(ins) if lab is None}
    why.update({(1, k): "a broadcast value dim is read whole" for k, lab in enumerate(vals) if lab is None})
    return ShardSpec((ins, vals), (ins,), why=why)


tensor_setitem_p = defprim(
    "tensor_setitem", infer=_setitem_infer, shard=_setitem_shard, cpu=_setitem_cpu, bprop=_setitem_bprop,
    cost=lambda x, value, index: Cost(0, 2 * x.nbytes + value.nbytes),
    doc="A copy of x with `value` (broadcast) written at the basic index `index`.")


def _index_arrays(x, index, op="tensor_getitem"):
    """The entries of an advanced index with arrays as numpy arrays (int or bool); TypeError for others."""
    entries = index if index.__class__ is tuple else (index,)
    out = []
    for e in entries:
        if isinstance(e, Tensor):
            if e._data is None:
                raise _error(op, "indexing with a tensor whose value is unknown while compiling a "
                             "graph supports one integer index tensor (use ops.gather)", [x, e], TypeError)
            e = e._data
        elif isinstance(e, (list, tuple)):
            e = np.asarray(e)
            if e.size == 0:
                e = e.astype(np.int64)
        elif e.__class__ is slice:
            e = slice(_index_int(e.start), _index_int(e.stop), _index_int(e.step))
        if _is_array(e) and e.dtype.kind == "u":
            e = e.astype(np.int64)
        if _is_array(e) and e.dtype.kind not in "ib":
            raise _error(op, f"array indices must be integers or bools, got {e.dtype}", [x],
                         TypeError)
        if not (isinstance(e, (int, slice, bool, np.integer, np.bool_)) or _is_array(e) or e is None or e is Ellipsis):
            raise _error(op, f"only integers, slices, None, Ellipsis, and integer or bool "
                         f"tensors/lists are valid indices, got {type(e).__name__} {e!r}", [x], TypeError)
        out.append(e)
    return out


def _host_entries(entries):
    """The index entries with device (cupy) arrays copied to the host, for numpy's position arithmetic."""
    return [_device.host(e) if _device.is_device_array(e) else e for e in entries]


def _single_array_axis(entries, ndim):
    """(position, axis of the basic-indexed result) when ``entries`` has exactly one array (integer, or 1-D bool)
    and no int/bool scalars (which numpy would treat as array indices too); else None."""
    pos, dims_before, consumed, ellipsis_at = None, 0, 0, None
    for k, e in enumerate(entries):
        if _is_array(e):
            if pos is not None or (e.dtype.kind == "b" and e.ndim != 1):
                return None
            pos, axis = k, dims_before
            consumed += 1
            dims_before += 1
        elif e is Ellipsis:
            ellipsis_at = k
        elif e is None or e.__class__ is slice:
            consumed += e is not None
            dims_before += 1
        else:
            return None
    if pos is None:
        return None
    if ellipsis_at is not None and ellipsis_at < pos:
        axis += ndim - consumed
    return pos, axis


def _advanced_getitem(x, index):
    entries = _index_arrays(x, index)
    found = _single_array_axis(entries, x.ndim)
    if found is not None:   # one index array: basic-index the rest, then gather along that array's axis
        pos, axis = found
        arr = entries[pos]
        rest = tuple(slice(None) if k == pos else e for k, e in enumerate(entries))
        y = x if all(e.__class__ is slice and e == _FULL for e in rest) else \
            bind(tensor_getitem_p, x, index=_basic_index(rest))
        n = y.shape[axis] if axis < y.ndim else 0
        if arr.dtype.kind == "b":
            if arr.shape[0] != n:
                raise _error("tensor_getitem", f"a bool index of length {arr.shape[0]} does not match axis {axis} "
                             f"of size {n}", [x])
            arr = arr.nonzero()[0]
        elif arr.size:
            lo, hi = _lo_hi(arr)
            if lo < -n or hi >= n:
                raise _error("tensor_getitem", f"index {lo if lo < -n else hi} is out of range for axis {axis} "
                             f"with size {n}", [x])
            if lo < 0:   # (array methods only: the indices may be a cupy array)
                arr = arr + (arr < 0).astype(arr.dtype) * n
        return bind(gather_p, y, _wrap(arr), axis=axis)
    # general case: the flat positions numpy's indexing picks, then one gather from the flattened tensor
    try:   # (positions are computed on the host: device index arrays come over, an explicit data-dependent move)
        ids = np.arange(x.size).reshape(x.shape)[tuple(_host_entries(entries))]
    except IndexError as exc:
        raise _error("tensor_getitem", exc, [x]) from None
    return bind(gather_p, reshape(x, (-1,)), _wrap(np.asarray(ids)), axis=0)


_FULL = slice(None)


def tensor_getitem(x, index):
    """``x[index]`` (``Tensor.__getitem__``), numpy semantics: ints, slices with steps, None, Ellipsis; integer
    Tensors / lists / arrays (through gather) and bool masks. Gradients flow back to ``x``."""
    idx = _basic_index(index)
    if idx is not None:
        return bind(tensor_getitem_p, x if x.__class__ is Tensor else as_tensor(x), index=idx)
    x = as_tensor(x)
    if isinstance(index, Tensor) and index._data is None and index.dtype.kind == "i":
        return gather(x, index, 0)   # a symbolic integer index tensor (graph mode): gather along axis 0
    return _advanced_getitem(x, index)


def tensor_setitem(x, index, value):
    """A new tensor: ``x`` with ``value`` (a Tensor or number, broadcast) written at ``index`` (any index
    ``tensor_getitem`` takes). ``Tensor.__setitem__`` stores it back into the tensor."""
    x = as_tensor(x)
    value = value if isinstance(value, Tensor) else as_tensor(value, x)
    idx = _basic_index(index)
    if idx is not None:
        return bind(tensor_setitem_p, x, value, index=idx)
    try:
        ids = np.asarray(np.arange(x.size).reshape(x.shape)[
            tuple(_host_entries(_index_arrays(x, index, "tensor_setitem")))])
    except IndexError as exc:
        raise _error("tensor_setitem", exc, [x]) from None
    try:
        vshape = _fit_value_shape(value.shape, ids.shape, None)
    except ShapeError as exc:
        raise _error("tensor_setitem", exc, [x, value]) from None
    updates = reshape(broadcast_to(reshape(value, vshape), ids.shape), (-1,))
    flat = bind(tensor_scatter_update_p, reshape(x, (-1,)), _wrap(ids.reshape(-1, 1)), updates)
    return reshape(flat, x.shape)


_NO_MASKS = (0, 0, 0, 0, 0)


def _ss_index(begin, end, strides, masks):
    """The normalised basic index that StridedSlice's (begin, end, strides, masks) describe."""
    begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask = masks
    if not len(begin) == len(end) == len(strides):
        raise ShapeError(f"begin, end and strides must have the same length, got {len(begin)}, {len(end)} and "
                         f"{len(strides)}")
    out = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        bit = 1 << i
        if ellipsis_mask & bit:
            out.append(Ellipsis)
        elif new_axis_mask & bit:
            out.append(None)
        elif shrink_axis_mask & bit:
            out.append(b)
        else:
            if s == 0:
                raise ShapeError(f"strides[{i}] is 0")
            out.append((None if begin_mask & bit else b, None if end_mask & bit else e, s))
    return tuple(out)


def _ss_infer(x, begin, end, strides, masks):
    return AbstractTensor(_indexed_shape(x.shape, _ss_index(begin, end, strides, masks)), x.dtype)


def _ss_shard(x, begin, end, strides, masks):
    return _getitem_shard(x, _ss_index(begin, end, strides, masks))


strided_slice_p = defprim(
    "strided_slice", infer=_ss_infer, shard=_ss_shard, cost=_moved_cost(_ss_infer),
    cpu=lambda x, begin, end, strides, masks: x[_np_index(_ss_index(begin, end, strides, masks))],
    bprop=lambda inputs, out, dout, begin, end, strides, masks: (
        tensor_getitem_grad(dout, inputs[0].shape, _ss_index(begin, end, strides, masks)),),
    doc="MindSpore's StridedSlice; masks = (begin, end, ellipsis, new_axis, shrink_axis) bit masks.")


def strided_slice(input_x, begin, end, strides, begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                  shrink_axis_mask=0):
    """``input_x[begin:end:strides]`` per dim (tuples of equal length; dims past them are kept whole), with
    MindSpore's bit masks: bit i of ``begin_mask``/``end_mask`` ignores ``begin[i]``/``end[i]``; of
    ``ellipsis_mask`` makes entry i an Ellipsis; of ``new_axis_mask`` inserts a size-1 axis; of
    ``shrink_axis_mask`` takes the single index ``begin[i]`` and drops that dim."""
    return bind(strided_slice_p, as_tensor(input_x), begin=tuple(int(v) for v in begin),
                end=tuple(int(v) for v in end), strides=tuple(int(v) for v in strides),
                masks=(int(begin_mask), int(end_mask), int(ellipsis_mask), int(new_axis_mask),
                       int(shrink_axis_mask)))


class StridedSlice(Primitive):
    """``P.StridedSlice(begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0)(x, begin,
    end, strides)``."""

    def __init__(self, begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0, shrink_axis_mask=0):
        super().__init__()
        self.masks = (begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask)

    def __call__(self, x, begin, end, strides):
        return strided_slice(x, begin, end, strides, *self.masks)


# ---------------------------------------------------------------- gather / unsorted_segment_sum
def _check_index_range(op, idx, n, what, *what_args):
    """ShapeError (naming ``op``, ``what.format(*what_args)`` and the user's line) when an integer index array
    leaves [0, n). The message is only formatted on error: this runs on every gather."""
    if idx.size:
        lo, hi = _lo_hi(idx)
        if lo < 0 or hi >= n:
            raise ShapeError(f"{op}: {what.format(*what_args)} {lo if lo < 0 else hi} is out of range [0, {n})."
                             f"{where()}")


_min_reduce, _max_reduce = np.minimum.reduce, np.maximum.reduce


def _is_array(e):
    """A numpy array, or a device array (cupy) standing for one: indices live on the tensor's device."""
    return isinstance(e, np.ndarray) or (hasattr(e, "__cuda_array_interface__") and hasattr(e, "dtype"))


def _lo_hi(idx):
    """(min, max) of a non-empty index array as Python ints (one small device-to-host read on a GPU)."""
    if idx.__class__ is np.ndarray:
        return _min_reduce(idx, axis=None), _max_reduce(idx, axis=None)
    return int(idx.min()), int(idx.max())


def _gather_infer(params, indices, axis):
    _check_int("input_indices", indices)
    if params.ndim == 0:
        raise ShapeError("input_params must have rank >= 1")
    a = norm_axis(axis, params.ndim)
    return AbstractTensor(params.shape[:a] + indices.shape + params.shape[a + 1:], params.dtype)


def _gather_cpu(params, indices, axis):
    a = axis % params.ndim
    _check_index_range("gather", indices, params.shape[a], "an index into axis {} of input_params with shape {}:",
                       a, list(params.shape))
    return params.take(indices, axis=a, mode="clip")


def _gather_bprop(inputs, out, dout, axis):
    params, indices = inputs
    a, ni = axis % params.ndim, indices.ndim
    if a:   # bring the index dims to the front, scatter-add, move the gathered axis back
        dout = transpose(dout, tuple(range(a, a + ni)) + tuple(range(a)) + tuple(range(a + ni, dout.ndim)))
    g = unsorted_segment_sum(dout, indices, params.shape[a])
    if a:
        g = transpose(g, tuple(range(1, a + 1)) + (0,) + tuple(range(a + 1, params.ndim)))
    return g, None


def _gather_shard(params, indices, axis):
    """Every dim but the gathered axis of params, and every dim of indices, split alike with the output."""
    a = norm_axis(axis, params.ndim)
    p = tuple(None if i == a else f"p{i}" for i in range(params.ndim))
    ix = tuple(f"i{j}" for j in range(indices.ndim))
    return ShardSpec((p, ix), (p[:a] + ix + p[a + 1:],),
                     why={(0, a): "the gathered axis: an index may point into any piece"})


gather_p = defprim("gather", infer=_gather_infer, shard=_gather_shard, cpu=_gather_cpu, cost=_moved_cost(_gather_infer),
                   bprop=_gather_bprop)


def _batched_gather(params, indices, a, b):
    """gather with ``batch_dims`` = b: fold the batch dims into the gathered axis, offset the indices per batch."""
    r, B = params.ndim, params.shape[:b]
    if indices.shape[:b] != B or b > a:
        raise _error("gather", f"batch_dims={b} needs batch_dims <= axis and equal leading dims, got "
                     f"input_params {list(params.shape)}, input_indices {list(indices.shape)}, axis {a}",
                     [params, indices])
    n = params.shape[a]
    if indices._data is not None:
        _check_index_range("gather", indices._data, n, "an index into axis {} of size {}:", a, n)
    nb = int(np.prod(B))
    mid, tail = params.shape[b:a], params.shape[a + 1:]
    p = transpose(params, tuple(range(b)) + (a,) + tuple(range(b, a)) + tuple(range(a + 1, r)))
    p = reshape(p, (nb * n,) + mid + tail)
    from .math_ops import add
    offsets = np.arange(nb, dtype=indices.dtype.np).reshape(B + (1,) * (indices.ndim - b)) * n
    out = bind(gather_p, p, add(indices, _wrap(offsets)), axis=0)   # B + I' + mid + tail
    ni = indices.ndim - b
    perm = tuple(range(b)) + tuple(range(b + ni, b + ni + len(mid))) + tuple(range(b, b + ni)) + \
        tuple(range(b + ni + len(mid), out.ndim))
    return transpose(out, perm) if perm != tuple(range(out.ndim)) else out


def gather(input_params, input_indices, axis, batch_dims=0):
    """Slices of ``input_params`` along ``axis`` at ``input_indices`` (integers in [0, size)); the output shape is
    ``params.shape[:axis] + indices.shape[batch_dims:] + params.shape[axis+1:]``. With ``batch_dims`` > 0 the
    leading dims of both are batch dims, gathered pairwise. The gradient scatter-adds (unsorted_segment_sum)."""
    p = as_tensor(input_params)
    i = input_indices if isinstance(input_indices, Tensor) else Tensor(np.asarray(input_indices))
    axis = static_axis(axis)
    if not batch_dims:
        return bind(gather_p, p, i, axis=axis)
    try:
        a = norm_axis(axis, p.ndim)
        b = norm_axis(batch_dims, i.ndim + 1, "batch_dims") if batch_dims < 0 else int(batch_dims)
    except MindlabError as exc:
        raise _error("gather", exc, [p, i]) from None
    return _batched_gather(p, i, a, b)


class Gather(Primitive):
    """``P.Gather(batch_dims=0)(input_params, input_indices, axis)``."""

    def __init__(self, batch_dims=0):
        super().__init__()
        self.batch_dims = batch_dims

    def __call__(self, input_params, input_indices, axis):
        return gather(input_params, input_indices, axis, self.batch_dims)


def _segment_infer(data, ids, num_segments):
    _check_int("segment_ids", ids)
    if data.dtype.kind == "b":
        raise DTypeError("input_x must be numeric, got Bool")
    if data.shape[:ids.ndim] != ids.shape:
        raise ShapeError(f"segment_ids of shape {list(ids.shape)} must match the leading dims of input_x "
                         f"{list(data.shape)}")
    if not isinstance(num_segments, int) or num_segments < 0:
        raise ShapeError(f"num_segments must be a non-negative int, got {num_segments!r}")
    return AbstractTensor((num_segments,) + data.shape[ids.ndim:], data.dtype)


def _segment_cpu(data, ids, num_segments):
    from ...kernels.cpu.scatter import segment_sum
    _check_index_range("unsorted_segment_sum", ids, num_segments, "segment id")
    rest = data.shape[ids.ndim:]
    out = segment_sum(data.reshape(ids.size, int(np.prod(rest))), ids.reshape(-1), num_segments)
    return out.reshape((num_segments,) + rest)


def _segment_shard(data, ids, num_segments):
    """Splitting the summed positions gives each device a partial sum of every segment."""
    k = ids.ndim
    lead = tuple(f"s{j}" for j in range(k))
    tail = tuple(f"t{j}" for j in range(k, data.ndim))
    return ShardSpec((lead + tail, lead), ((None,) + tail,), reduce={lab: "sum" for lab in lead})


unsorted_segment_sum_p = defprim(
    "unsorted_segment_sum", infer=_segment_infer, shard=_segment_shard, cpu=_segment_cpu,
    cost=lambda data, ids, num_segments: Cost(data.size, data.nbytes + ids.nbytes + _segment_infer(
        data, ids, num_segments).nbytes),
    bprop=lambda inputs, out, dout, num_segments: (bind(gather_p, dout, inputs[1], axis=0), None))


def unsorted_segment_sum(input_x, segment_ids, num_segments):
    """``out[s] = sum of input_x[i...] over the positions whose segment id is s`` (ids in [0, num_segments); the
    ids' shape is a prefix of input_x's). The scatter-add that is gather's gradient."""
    ids = segment_ids if isinstance(segment_ids, Tensor) else Tensor(np.asarray(segment_ids))
    return bind(unsorted_segment_sum_p, as_tensor(input_x), ids, num_segments=int(num_segments))


class UnsortedSegmentSum(Primitive):
    """``P.UnsortedSegmentSum()(input_x, segment_ids, num_segments)``."""

    def __call__(self, input_x, segment_ids, num_segments):
        return unsorted_segment_sum(input_x, segment_ids, num_segments)


# ---------------------------------------------------------------- gather_nd / scatter_nd / tensor_scatter_update
def _nd_depth(indices, shape, what):
    _check_int("indices", indices)
    if indices.ndim == 0:
        raise ShapeError("indices must have rank >= 1 (the last dim indexes into the leading dims)")
    k = indices.shape[-1]
    if k > len(shape):
        raise ShapeError(f"indices index {k} dims, but {what} has only {len(shape)} (shape {list(shape)})")
    return k


def _nd_positions(op, indices, shape):
    """Range-checked tuple of index arrays, one per indexed dim, for numpy advanced indexing."""
    k = indices.shape[-1]
    cols = tuple(np.moveaxis(indices, -1, 0)) if k else ()
    for j, c in enumerate(cols):
        _check_index_range(op, c, shape[j], "an index into dim {} of shape {}:", j, list(shape))
    return cols


def _gather_nd_infer(x, indices):
    k = _nd_depth(indices, x.shape, "input_x")
    return AbstractTensor(indices.shape[:-1] + x.shape[k:], x.dtype)


def _gather_nd_cpu(x, indices):
    cols = _nd_positions("gather_nd", indices, x.shape)
    if not cols:
        return np.array(np.broadcast_to(x, indices.shape[:-1] + x.shape))
    return x[cols]


def _gather_nd_shard(x, indices):
    k = indices.shape[-1]
    b = tuple(f"b{j}" for j in range(indices.ndim - 1))
    t = tuple(f"t{j}" for j in range(k, x.ndim))
    why = {(0, j): "an indexed dim: an index tuple may point into any piece" for j in range(k)}
    why[(1, indices.ndim - 1)] = "the index-tuple dim"
    return ShardSpec(((None,) * k + t, b + (None,)), (b + t,), why=why)


gather_nd_p = defprim(
    "gather_nd", infer=_gather_nd_infer, shard=_gather_nd_shard, cpu=_gather_nd_cpu, cost=_moved_cost(_gather_nd_infer),
    bprop=lambda inputs, out, dout: (scatter_nd(inputs[1], dout, inputs[0].shape), None))


def gather_nd(input_x, indices):
    """``input_x`` at the index tuples in the last dim of ``indices``: the output shape is
    ``indices.shape[:-1] + input_x.shape[indices.shape[-1]:]``."""
    i = indices if isinstance(indices, Tensor) else Tensor(np.asarray(indices))
    return bind(gather_nd_p, as_tensor(input_x), i)


class GatherNd(Primitive):
    """``P.GatherNd()(input_x, indices)``."""

    def __call__(self, input_x, indices):
        return gather_nd(input_x, indices)


def _scatter_nd_infer(indices, updates, shape):
    k = _nd_depth(indices, shape, "the output")
    expect = indices.shape[:-1] + tuple(shape[k:])
    if updates.shape != expect:
        raise ShapeError(f"updates must have shape indices.shape[:-1] + shape[{k}:] = {list(expect)}, got "
                         f"{list(updates.shape)}")
    if any(s < 0 for s in shape):
        raise ShapeError(f"shape {list(shape)} has a negative size")
    return AbstractTensor(tuple(shape), updates.dtype)


def _scatter_nd_cpu(indices, updates, shape):
    from ...kernels.cpu.scatter import segment_sum
    cols = _nd_positions("scatter_nd", indices, shape)
    k = len(cols)
    lead, rest = shape[:k], shape[k:]
    flat_ids = np.ravel_multi_index(cols, lead) if k else np.zeros(indices.shape[:-1], np.int64)
    n_rows, width = flat_ids.size, int(np.prod(rest))
    out = segment_sum(updates.reshape(n_rows, width), flat_ids.reshape(-1), int(np.prod(lead)))
    return out.reshape(shape)


def _scatter_nd_shard(indices, updates, shape):
    """Splitting the list of updates gives each device a partial sum of the output; trailing dims split alike."""
    k = indices.shape[-1]
    b = tuple(f"b{j}" for j in range(indices.ndim - 1))
    t = tuple(f"t{j}" for j in range(k, len(shape)))
    return ShardSpec((b + (None,), b + t), ((None,) * k + t,), reduce={lab: "sum" for lab in b},
                     localize=lambda i_, o_, s_: {"shape": o_[0]}, why={(0, indices.ndim - 1): "the index-tuple dim"})


scatter_nd_p = defprim(
    "scatter_nd", infer=_scatter_nd_infer, shard=_scatter_nd_shard, cpu=_scatter_nd_cpu,
    cost=lambda indices, updates, shape: Cost(updates.size, indices.nbytes + updates.nbytes + _scatter_nd_infer(
        indices, updates, shape).nbytes),
    bprop=lambda inputs, out, dout, shape: (None, gather_nd(dout, inputs[0])))


def scatter_nd(indices, updates, shape):
    """Zeros of ``shape`` with ``updates`` added at the index tuples in the last dim of ``indices`` (duplicates
    accumulate): the gradient of gather_nd."""
    i = indices if isinstance(indices, Tensor) else Tensor(np.asarray(indices))
    return bind(scatter_nd_p, i, as_tensor(updates), shape=tuple(int(s) for s in shape))


class ScatterNd(Primitive):
    """``P.ScatterNd()(indices, updates, shape)``."""

    def __call__(self, indices, updates, shape):
        return scatter_nd(indices, updates, shape)


def _scatter_update_infer(x, indices, updates):
    k = _nd_depth(indices, x.shape, "input_x")
    expect = indices.shape[:-1] + x.shape[k:]
    if updates.shape != expect:
        raise ShapeError(f"updates must have shape indices.shape[:-1] + input_x.shape[{k}:] = {list(expect)}, got "
                         f"{list(updates.shape)}")
    return AbstractTensor(x.shape, x.dtype)


def _scatter_update_cpu(x, indices, updates):
    out = x.copy()
    cols = _nd_positions("tensor_scatter_update", indices, x.shape)
    out[cols if cols else (Ellipsis,)] = updates
    return out


def _scatter_update_shard(x, indices, updates):
    """Updates overwrite (they do not add), so the list of updates stays whole; trailing dims split alike."""
    k = indices.shape[-1]
    t = tuple(f"t{j}" for j in range(k, x.ndim))
    lead = (None,) * (indices.ndim - 1)
    why = {(0, j): "an indexed dim: an index tuple may point into any piece" for j in range(k)}
    why.update({(1, j): "every device applies every update" for j in range(indices.ndim)})
    return ShardSpec(((None,) * k + t, (None,) * indices.ndim, lead + t), ((None,) * k + t,), why=why)


tensor_scatter_update_p = defprim(
    "tensor_scatter_update", infer=_scatter_update_infer, shard=_scatter_update_shard, cpu=_scatter_update_cpu,
    cost=lambda x, indices, updates: Cost(0, 2 * x.nbytes + indices.nbytes + updates.nbytes),
    bprop=lambda inputs, out, dout: (
        bind(tensor_scatter_update_p, dout, inputs[1], zeros_like(inputs[2])), None, gather_nd(dout, inputs[1])))


def tensor_scatter_update(input_x, indices, updates):
    """A copy of ``input_x`` with ``updates`` written at the index tuples in the last dim of ``indices`` (the
    gradient w.r.t. ``updates`` assumes the index tuples are distinct)."""
    i = indices if isinstance(indices, Tensor) else Tensor(np.asarray(indices))
    return bind(tensor_scatter_update_p, as_tensor(input_x), i, as_tensor(updates))


class TensorScatterUpdate(Primitive):
    """``P.TensorScatterUpdate()(input_x, indices, updates)``."""

    def __call__(self, input_x, indices, updates):
        return tensor_scatter_update(input_x, indices, updates)


# ---------------------------------------------------------------- one_hot
def _one_hot_infer(indices, on_value, off_value, depth, axis):
    _check_int("indices", indices)
    if on_value.shape != () or off_value.shape != ():
        raise ShapeError(f"on_value and off_value must be scalars, got shapes {list(on_value.shape)} and "
                         f"{list(off_value.shape)}")
    if on_value.dtype is not off_value.dtype:
        raise DTypeError(f"on_value and off_value must have the same dtype, got {on_value.dtype} and "
                         f"{off_value.dtype}")
    if not isinstance(depth, int) or depth < 0:
        raise ShapeError(f"depth must be a non-negative int, got {depth!r}")
    if not -1 <= axis <= indices.ndim:
        raise ShapeError(f"axis {axis} is out of range [-1, {indices.ndim}]")
    a = indices.ndim if axis == -1 else axis
    return AbstractTensor(indices.shape[:a] + (depth,) + indices.shape[a:], on_value.dtype)


def _one_hot_cpu(indices, on_value, off_value, depth, axis):
    a = indices.ndim if axis == -1 else axis
    hot = np.expand_dims(indices, a) == np.arange(depth).reshape((depth,) + (1,) * (indices.ndim - a))
    return np.where(hot, on_value, off_value)


def _one_hot_bprop(inputs, out, dout, depth, axis):
    from .math_ops import mul, sub
    indices = inputs[0]
    hot = bind(one_hot_p, indices, as_tensor(1, dout), as_tensor(0, dout), depth=depth, axis=axis)
    d_on = _R.sum(mul(dout, hot))
    return None, d_on, sub(_R.sum(dout), d_on)


def _one_hot_shard(indices, on_value, off_value, depth, axis):
    a = indices.ndim if axis == -1 else axis
    dims = tuple(f"d{i}" for i in range(indices.ndim))
    return ShardSpec((dims, (), ()), (dims[:a] + (None,) + dims[a:],))


one_hot_p = defprim(
    "one_hot", infer=_one_hot_infer, shard=_one_hot_shard, cpu=_one_hot_cpu, bprop=_one_hot_bprop,
    cost=lambda indices, on, off, depth, axis: Cost(indices.size * depth,
                                                    indices.nbytes + indices.size * depth * on.dtype.np.itemsize))


def one_hot(indices, depth, on_value=1, off_value=0, axis=-1):
    """One-hot encoding: a new dim of size ``depth`` at ``axis`` holding ``on_value`` at each index and
    ``off_value`` elsewhere (indices outside [0, depth) give all ``off_value``). Python-number values take the
    dtype of a Tensor given beside them, else int64 / float32. Differentiable w.r.t. on/off values."""
    i = indices if isinstance(indices, Tensor) else Tensor(np.asarray(indices))
    on, off = tensor_pair(on_value, off_value)
    return bind(one_hot_p, i, on, off, depth=int(depth), axis=int(axis))


class OneHot(Primitive):
    """``P.OneHot(axis=-1)(indices, depth, on_value, off_value)``."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = int(axis)

    def __call__(self, indices, depth, on_value, off_value):
        return one_hot(indices, depth, on_value, off_value, self.axis)
