"""Edge-shape samples for the gradient checks of tests/ops/test_edge_shapes.py.

* ``derived(samples)``: zero-size and size-1 variants of every primitive's regular samples (samples_<family>.py),
  made by setting one axis of the floating inputs to 0 or 1 — one input at a time, or all of them at the same
  right-aligned axis — and keeping the variants that the primitive's infer rule accepts. Where one input shrinks to
  size 1 against others of full size, the variant broadcasts.
* ``ZERO``: hand-written zero-size cases for primitives whose attributes fix their shapes (reshape, split, ...).
* ``LARGE``: one large case (>= 64k elements) per family, checked along a random direction.
* ``REJECTS_ZERO_SIZE``: primitives that refuse zero-size input, with the reason; their error must name the op and
  the shapes.
"""
import numpy as np

from .samples import Case, rand, positive
from mindlab.ops import REGISTRY
from mindlab.ops.abstract import AbstractTensor
from mindlab import dtype as mdt


def _with_axis(shape, axis, size):
    return shape[:axis] + (size,) + shape[axis + 1:]


def _accepts(name, inputs, attrs):
    try:
        REGISTRY[name].infer(*[AbstractTensor(a.shape, mdt.from_np(a.dtype)) for a in inputs], **attrs)
    except Exception:
        return False
    if any(a.dtype.kind in "iu" for a in inputs):   # index inputs: a shrunk axis may leave indices out of range,
        from mindlab import Tensor                 # which the kernel refuses clearly (not an edge case to keep)
        from mindlab.errors import MindlabError
        from mindlab.ops import bind
        try:
            bind(REGISTRY[name], *[Tensor(a) for a in inputs], **attrs)
        except MindlabError as exc:
            return "out of range" not in str(exc)
    return True


def _variants(case, size):
    """Inputs with one floating axis set to ``size``: each input alone, then all at the same right-aligned axis."""
    fl = [k for k, a in enumerate(case.inputs) if a.dtype.kind == "f" and a.ndim >= 1 and
          (case.wrt is None or k in case.wrt)]
    out = []
    for k in fl:
        for ax in range(case.inputs[k].ndim):
            if case.inputs[k].shape[ax] == size:
                continue
            ins = list(case.inputs)
            ins[k] = np.resize(ins[k], _with_axis(ins[k].shape, ax, size))
            out.append(tuple(ins))
    if len(fl) > 1:
        for back in range(1, max(case.inputs[k].ndim for k in fl) + 1):
            ins = list(case.inputs)
            for k in fl:
                if ins[k].ndim >= back:
                    ins[k] = np.resize(ins[k], _with_axis(ins[k].shape, ins[k].ndim - back, size))
            out.append(tuple(ins))
    return out


def derived(samples, size, per_prim=2):
    """name -> up to ``per_prim`` Cases whose floating inputs have an axis of ``size`` (0 or 1)."""
    table = {}
    for name, cases in sorted(samples.items()):
        p = REGISTRY[name]
        if not p.differentiable:
            continue
        found = []
        for case in cases:
            if not case.grad:
                continue
            for ins in _variants(case, size):
                if len(found) >= per_prim:
                    break
                if _accepts(name, ins, case.attrs) and not any(
                        all(a.shape == b.shape for a, b in zip(ins, f.inputs)) for f in found):
                    found.append(Case(ins, case.attrs, True, case.wrt, case.rtol))
        if found:
            table[name] = found
    return table


_int = np.array
Z = lambda *shape: np.zeros(shape)   # noqa: E731  (a zero-size float input)

# primitives whose attributes fix the shapes: zero-size cases by hand
ZERO = {
    "reshape": [Case((Z(0, 4),), dict(shape=(4, 0))), Case((Z(2, 0, 3),), dict(shape=(-1, 3)))],
    "broadcast_to": [Case((Z(0, 1),), dict(shape=(2, 0, 4)))],
    "split": [Case((Z(0, 4),), dict(axis=1, sizes=(1, 3))), Case((Z(3, 0),), dict(axis=0, sizes=(1, 2)))],
    "squeeze": [Case((Z(0, 1, 4),), dict(axis=(1,)))],
    "tile": [Case((Z(0, 3),), dict(dims=(2, 2)))],
    "tensor_getitem": [Case((Z(0, 4),), dict(index=((None, None, None), 1)))],
    "gather": [Case((rand(5, 3), np.zeros((0,), np.int64)), dict(axis=0)), Case((Z(2, 0), _int([1, 0])), dict(axis=0))],
    "gather_nd": [Case((rand(3, 4), np.zeros((0, 2), np.int64)))],
    "unsorted_segment_sum": [Case((Z(0, 3), np.zeros((0,), np.int64)), dict(num_segments=4))],
    "scatter_nd": [Case((np.zeros((0, 2), np.int64), Z(0)), dict(shape=(3, 4)))],
    "tensor_scatter_update": [Case((rand(3, 4), np.zeros((0, 2), np.int64), Z(0)))],
    "one_hot": [Case((np.zeros((0,), np.int64), np.array(1.5), np.array(-0.5)), dict(depth=3, axis=-1))],
    "sparse_softmax_cross_entropy": [Case((Z(0, 5), np.zeros((0,), np.int32)))],
    "sparse_softmax_cross_entropy_grad": [Case((Z(0, 5), np.zeros((0,), np.int32)))],
    "tensor_getitem_grad": [Case((Z(0, 4),), dict(shape=(0, 4), index=((None, None, None),)))],
    "conv2d_backprop_input": [Case((Z(0, 3, 3, 3), rand(3, 2, 2, 2, seed=1)),
                                   dict(input_size=(0, 2, 4, 4), stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1),
                                        groups=1))],
    "avg_pool_grad": [Case((Z(0, 2, 2, 2),), dict(input_size=(0, 2, 4, 4), count_include_pad=True, kernel=(2, 2),
                                                  stride=(2, 2), pad=(0, 0, 0, 0)))],
    "dropout": [Case((Z(0, 4), Z(0, 4)), dict(keep_prob=0.5), wrt=(0,))],
    "strided_slice": [Case((Z(0, 4),), dict(begin=(0, 1), end=(0, 3), strides=(1, 1), masks=(1, 0, 0, 0, 0)))],
}

_S = (None, None, None)
# primitives whose shapes are fixed by attributes, or whose floating inputs are scalars: size-1 cases by hand
ONE = {
    "avg_pool_grad": [Case((rand(1, 1, 2, 2),), dict(input_size=(1, 1, 4, 4), count_include_pad=True, kernel=(2, 2),
                                                     stride=(2, 2), pad=(0, 0, 0, 0)))],
    "conv2d_backprop_input": [Case((rand(1, 1, 3, 3), rand(1, 1, 2, 2, seed=1)),
                                   dict(input_size=(1, 1, 4, 4), stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1),
                                        groups=1))],
    "dropout": [Case((rand(1, 4), np.ones((1, 4))), dict(keep_prob=0.5), wrt=(0,))],
    "one_hot": [Case((_int([0]), np.array(1.5), np.array(-0.5)), dict(depth=1, axis=-1))],
    "scatter_nd": [Case((_int([[0]]), rand(1, 1)), dict(shape=(1, 1)))],
    "sparse_softmax_cross_entropy": [Case((rand(1, 5), _int([2], np.int32))),
                                     Case((rand(4, 1), np.zeros(4, np.int32)))],
    "sparse_softmax_cross_entropy_grad": [Case((rand(1, 5), _int([2], np.int32))),
                                          Case((rand(4, 1), np.zeros(4, np.int32)))],
    "tensor_getitem_grad": [Case((rand(1, 4),), dict(shape=(1, 4), index=(_S,)))],
}

# one large case per family (>= 64k elements: chunked / threaded kernels), checked along a random direction
LARGE = {
    "math": [("add", Case((rand(256, 300), rand(300)))), ("mul", Case((rand(256, 300), rand(256, 1)))),
             ("tanh", Case((rand(400, 200),))), ("div", Case((rand(300, 256), positive(256))))],
    "reduce": [("sum", Case((rand(64, 40, 30),), dict(axis=(0, 2), keep_dims=False))),
               ("max", Case((rand(300, 256),), dict(axis=-1, keep_dims=True)))],
    "array": [("transpose", Case((rand(40, 50, 40),), dict(perm=(2, 0, 1)))),
              ("concat", Case((rand(200, 300), rand(100, 300)), dict(axis=0)))],
    "linalg": [("matmul", Case((rand(256, 256), rand(256, 300)), dict(transpose_a=False, transpose_b=False))),
               ("batch_matmul", Case((rand(8, 96, 96), rand(8, 96, 96)), dict(transpose_a=False,
                                                                            transpose_b=False)))],
    "nn": [("softmax", Case((rand(256, 300),), dict(axis=-1))),
           ("layer_norm", Case((rand(256, 300), positive(300), rand(300)),
                               dict(begin_norm_axis=1, begin_params_axis=1, epsilon=1e-5)))],
}

# primitives that refuse zero-size inputs (the reason), checked to raise a clear error
REJECTS_ZERO_SIZE = {
    # max / min over an empty axis: no identity element (a zero-size input reduced over a non-empty axis is fine)
    "max": Case((Z(0, 3),), dict(axis=0, keep_dims=False)),
    "min": Case((Z(2, 0),), dict(axis=None, keep_dims=True)),
    # training batch norm: the batch statistics of an empty batch do not exist (mean of nothing)
    "batch_norm": Case((Z(0, 2, 3, 3), rand(2), rand(2)), dict(epsilon=1e-5)),
    "batch_norm_grad": Case((Z(0, 2, 3), Z(0, 2, 3), rand(2), rand(2), rand(2)), dict(epsilon=1e-5)),
}
