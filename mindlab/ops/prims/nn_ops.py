"""Neural-network primitives: softmax / log_softmax, sparse softmax cross entropy and dropout, with their backward
primitives; and the checks and window geometry shared with the convolution (``conv_ops``), pooling (``pool_ops``)
and normalisation (``norm_ops``) families.

Kernels are numba (``mindlab.kernels.cpu.softmax``). Every fused backward is a primitive of its own whose bprop is
written with mindlab ops, so gradients of any order work:
softmax -> softmax_grad, log_softmax -> log_softmax_grad, sparse_softmax_cross_entropy -> ..._grad.

Padding modes are resolved to explicit (top, bottom, left, right) pads in the public functions (shapes are static),
so the convolution and pooling primitives carry only explicit geometry.
"""
import numpy as np

from ...errors import ShapeError, DTypeError, MindlabError, where
from ...common import seed as _seed
from ..abstract import AbstractTensor, norm_axis
from ..registry import defprim, not_differentiable, elementwise_cost, Cost
from ..shard import ShardSpec, same_rule, keep_rule, axis_of
from ..dispatch import bind
from .._api import Primitive, as_tensor
from .math_ops import sub, mul, neg, exp
from .reduce_ops import sum as _sum
from .array_ops import reshape, zeros_like
from ...kernels.cpu import softmax as _ksm
from . import native_rules as _native

__all__ = ["softmax", "log_softmax", "sparse_softmax_cross_entropy", "dropout"]
__operations__ = ["Softmax", "LogSoftmax", "SparseSoftmaxCrossEntropyWithLogits", "Dropout"]


class LabelError(MindlabError, ValueError):
    """A class label outside [0, num_classes)."""


# ---------------------------------------------------------------- shared checks and geometry
def _float_same(*avals):
    """Floating inputs of one dtype (the kernels compute in the input dtype)."""
    for a in avals:
        if a.dtype.kind != "f":
            raise DTypeError(f"inputs must be floating point, got {', '.join(str(b.dtype) for b in avals)}")
    for a in avals[1:]:
        if a.dtype is not avals[0].dtype:
            raise DTypeError(f"inputs must have the same dtype, got {', '.join(str(b.dtype) for b in avals)}")


def _kernel(fn):
    """A CPU impl fed contiguous arrays; float16 is computed in float32 (numba has no float16 arithmetic) and the
    dispatcher casts the result back to the inferred dtype."""
    def impl(*arrays, **attrs):
        return fn(*[np.ascontiguousarray(a, np.float32) if a.dtype == np.float16 else np.ascontiguousarray(a)
                    for a in arrays], **attrs)
    impl.__name__ = impl.__qualname__ = getattr(fn, "__name__", "impl")
    return impl


def _nchw(x, what="input"):
    if x.ndim != 4:
        raise ShapeError(f"{what} must be 4-D (N, C, H, W), got shape {list(x.shape)}")


def _hw(value, what, op):
    """An int, a pair, or MindSpore's 4-tuple (1, 1, h, w) as a pair of positive ints (h, w)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    value = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(value) == 4:
        value = value[2:]
    if len(value) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
                                  for v in value):
        raise ValueError(f"{op}: {what} must be a positive int or a tuple of 2 positive ints, got {value!r}.{where()}")
    return int(value[0]), int(value[1])


def _same_pads(size, k, s, d=1):
    """TF / MindSpore 'same' padding of one dim: output ceil(size / s), extra padding at the end."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def _pads(pad_mode, padding, hw, khw, stride, dilation, op):
    """Explicit (top, bottom, left, right) pads from a pad mode and a padding argument."""
    mode = pad_mode.lower() if isinstance(pad_mode, str) else pad_mode
    if mode == "same":
        if padding not in (0, (0, 0, 0, 0)):
            raise ValueError(f"{op}: padding must be 0 when pad_mode='same', got {padding!r}.{where()}")
        return _same_pads(hw[0], khw[0], stride[0], dilation[0]) + _same_pads(hw[1], khw[1], stride[1], dilation[1])
    if mode in ("valid", "pad"):
        if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
            pads = (int(padding),) * 4
        elif isinstance(padding, (tuple, list)) and len(padding) == 2:
            pads = (int(padding[0]),) * 2 + (int(padding[1]),) * 2
        elif isinstance(padding, (tuple, list)) and len(padding) == 4:
            pads = tuple(int(p) for p in padding)
        else:
            raise ValueError(f"{op}: padding must be an int or a tuple of 2 or 4 ints, got {padding!r}.{where()}")
        if min(pads) < 0:
            raise ValueError(f"{op}: padding must be non-negative, got {padding!r}.{where()}")
        if mode == "valid" and any(pads) and op == "conv2d":
            raise ValueError(f"{op}: padding {padding!r} needs pad_mode='pad' (pad_mode='valid' means no "
                             f"padding).{where()}")
        return pads
    raise ValueError(f"{op}: pad_mode must be 'same', 'valid' or 'pad', got {pad_mode!r}.{where()}")


def _out_size(size, k, s, p0, p1, d=1):
    return (size + p0 + p1 - d * (k - 1) - 1) // s + 1


def _pooled_hw(shape, kernel, stride, pad):
    """Output (height, width) of pooling an (N, C, H, W) shape."""
    return (_out_size(shape[2], kernel[0], stride[0], pad[0], pad[1]),
            _out_size(shape[3], kernel[1], stride[1], pad[2], pad[3]))


def _geo(kernel, stride, pad):
    """Pooling geometry as the CPU / GPU kernels take it: kh, kw, sh, sw, pad top, pad left."""
    return kernel[0], kernel[1], stride[0], stride[1], pad[0], pad[2]


# ---------------------------------------------------------------- softmax / log_softmax
def _softmax_infer(x, axis):
    _float_same(x)
    norm_axis(axis, x.ndim)
    if x.ndim == 0:
        raise ShapeError("input must have at least one dimension")
    return AbstractTensor(x.shape, x.dtype)


def _softmax_grad_infer(y, dy, axis):
    _float_same(y, dy)
    if y.shape != dy.shape:
        raise ShapeError(f"y and dy must have the same shape, got {list(y.shape)} and {list(dy.shape)}")
    return _softmax_infer(y, axis)


def _softmax_grad_bprop(inputs, out, g, axis):
    # dx = y * (dy - sum(dy * y)); d/d dy = y * (g - sum(g * y)) = softmax_grad(y, g);
    # d/dy = dy * (g - sum(g * y)) - g * sum(dy * y)
    y, dy = inputs
    gy = _sum(mul(g, y), axis, keep_dims=True)
    return (sub(mul(dy, sub(g, gy)), mul(g, _sum(mul(dy, y), axis, keep_dims=True))),
            bind(softmax_grad_p, y, g, axis=axis))


def _log_softmax_grad_bprop(inputs, out, g, axis):
    # dx = dy - exp(y) * sum(dy); d/d dy = g - sum(g * exp(y)); d/dy = -g * exp(y) * sum(dy)
    y, dy = inputs
    ey = exp(y)
    return (neg(mul(mul(g, ey), _sum(dy, axis, keep_dims=True))),
            sub(g, _sum(mul(g, ey), axis, keep_dims=True)))


_SOFTMAX_SHARD = keep_rule(axis_of, "the softmax axis: each element needs the whole axis (gather it first)")
softmax_p = defprim(
    "softmax", infer=_softmax_infer, cost=elementwise_cost(12), shard=_SOFTMAX_SHARD,
    cpu=_kernel(lambda x, axis: _ksm.softmax(x, axis, False)), native=_native.softmax(log=False),
    bprop=lambda inputs, out, dout, axis: (bind(softmax_grad_p, out, dout, axis=axis),))
softmax_grad_p = defprim(
    "softmax_grad", infer=_softmax_grad_infer, cost=elementwise_cost(4), shard=_SOFTMAX_SHARD,
    cpu=_kernel(lambda y, dy, axis: _ksm.softmax_grad(y, dy, axis, False)), bprop=_softmax_grad_bprop,
    native=_native.softmax_grad(log=False),
    doc="softmax's input gradient from its output y: y * (dy - sum(dy * y, axis)).")
log_softmax_p = defprim(
    "log_softmax", infer=_softmax_infer, cost=elementwise_cost(12), shard=_SOFTMAX_SHARD,
    cpu=_kernel(lambda x, axis: _ksm.softmax(x, axis, True)), native=_native.softmax(log=True),
    bprop=lambda inputs, out, dout, axis: (bind(log_softmax_grad_p, out, dout, axis=axis),))
log_softmax_grad_p = defprim(
    "log_softmax_grad", infer=_softmax_grad_infer, cost=elementwise_cost(12), shard=_SOFTMAX_SHARD,
    cpu=_kernel(lambda y, dy, axis: _ksm.softmax_grad(y, dy, axis, True)), bprop=_log_softmax_grad_bprop,
    native=_native.softmax_grad(log=True),
    doc="log_softmax's input gradient from its output y: dy - exp(y) * sum(dy, axis).")


def _axis_attr(axis, op):
    if isinstance(axis, (tuple, list)) and len(axis) == 1:   # MindSpore's Softmax takes a 1-tuple too
        axis = axis[0]
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}.{where()}")
    return int(axis)


def softmax(input, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, computed max-shifted so large inputs do not overflow."""
    return bind(softmax_p, as_tensor(input), axis=_axis_attr(axis, "softmax"))


def log_softmax(logits, axis=-1):
    """``x - logsumexp(x)`` along ``axis``, numerically stable."""
    return bind(log_softmax_p, as_tensor(logits), axis=_axis_attr(axis, "log_softmax"))


class Softmax(Primitive):
    """``P.Softmax(axis=-1)(x)``."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = _axis_attr(axis, self.name)

    def __call__(self, x):
        return bind(softmax_p, as_tensor(x), axis=self.axis)


class LogSoftmax(Softmax):
    """``P.LogSoftmax(axis=-1)(logits)``."""

    def __call__(self, x):
        return bind(log_softmax_p, as_tensor(x), axis=self.axis)


# ---------------------------------------------------------------- sparse softmax cross entropy
def _xent_infer(logits, labels):
    if logits.dtype.kind != "f":
        raise DTypeError(f"logits must be floating point, got {logits.dtype}")
    if labels.dtype.kind not in "iu":
        raise DTypeError(f"labels must be integers (int32 / int64), got {labels.dtype}")
    if logits.ndim != 2 or labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        raise ShapeError(f"logits must be (N, C) and labels (N,), got {list(logits.shape)} and {list(labels.shape)}")
    return logits.shape[0]


def _xent_run(logits, labels, grad):
    out, bad = _ksm.sparse_xent(logits, labels, grad)
    if bad >= 0:
        raise LabelError(f"sparse_softmax_cross_entropy: label {labels[bad]} (at index {bad}) is out of range "
                         f"[0, {logits.shape[1]}) for logits of shape {list(logits.shape)}.{where()}")
    return out


_XENT_WHY = {(0, 1): "the class axis: each sample's loss needs all its logits (logsumexp)"}
sparse_softmax_cross_entropy_p = defprim(
    "sparse_softmax_cross_entropy",
    shard=lambda logits, labels: ShardSpec((("n", None), ("n",)), (("n",),), why=_XENT_WHY),
    infer=lambda logits, labels: AbstractTensor((_xent_infer(logits, labels),), logits.dtype),
    cpu=_kernel(lambda logits, labels: _xent_run(logits, labels, False)), native=_native.xent(grad=False),
    cost=lambda logits, labels: Cost(12 * logits.size, logits.nbytes + labels.nbytes),
    # d loss_n / d logits_n = softmax(logits_n) - onehot(label_n), scaled by each sample's cotangent
    bprop=lambda inputs, out, dout: (
        mul(bind(sparse_softmax_cross_entropy_grad_p, *inputs), reshape(dout, (-1, 1))), None),
    doc="Per-sample cross entropy of (N, C) logits against integer labels: logsumexp(z) - z[label].")


def _xent_grad_infer(logits, labels):
    _xent_infer(logits, labels)
    return AbstractTensor(logits.shape, logits.dtype)


sparse_softmax_cross_entropy_grad_p = defprim(
    "sparse_softmax_cross_entropy_grad", infer=_xent_grad_infer,
    shard=lambda logits, labels: ShardSpec((("n", None), ("n",)), (("n", None),), why=_XENT_WHY),
    cpu=_kernel(lambda logits, labels: _xent_run(logits, labels, True)), native=_native.xent(grad=True),
    cost=lambda logits, labels: Cost(12 * logits.size, 2 * logits.nbytes + labels.nbytes),
    bprop=lambda inputs, out, g: (bind(softmax_grad_p, bind(softmax_p, inputs[0], axis=-1), g, axis=-1), None),
    doc="softmax(logits) - onehot(labels), fused: the gradient of sparse_softmax_cross_entropy.")


def sparse_softmax_cross_entropy(logits, labels):
    """Per-sample softmax cross entropy (N,) of ``logits`` (N, C) against integer class ``labels`` (N,), fused
    and numerically stable. A label outside [0, C) raises a ValueError naming it."""
    return bind(sparse_softmax_cross_entropy_p, as_tensor(logits), as_tensor(labels))


class SparseSoftmaxCrossEntropyWithLogits(Primitive):
    """``P.SparseSoftmaxCrossEntropyWithLogits(is_grad=False)(logits, labels)``: the mean loss over the batch (a
    scalar) as in MindSpore; with ``is_grad=True`` its gradient w.r.t. the logits, (softmax - onehot) / N."""

    def __init__(self, is_grad=False):
        super().__init__()
        self.is_grad = bool(is_grad)

    def __call__(self, logits, labels):
        logits, labels = as_tensor(logits), as_tensor(labels)
        if self.is_grad:
            g = bind(sparse_softmax_cross_entropy_grad_p, logits, labels)
            return mul(g, 1.0 / max(logits.shape[0], 1))
        loss = bind(sparse_softmax_cross_entropy_p, logits, labels)
        return mul(_sum(loss), 1.0 / max(logits.shape[0], 1))


# ---------------------------------------------------------------- dropout
# Two primitives, as MindSpore's DropoutGenMask / DropoutDoMask: the mask is drawn by a kernel (so a compiled graph
# draws a fresh mask every run) from mindlab's seeded generator, and applying it is a deterministic, differentiable op.
_op_generators = {}   # op-level seed -> (the global generator it was derived under, its own generator)


def _generator(seed):
    """The global generator (``mindlab.set_seed``), or for an op-level ``seed`` a generator of its own that
    advances call by call and restarts when ``set_seed`` is called."""
    glob = _seed.rng()
    if seed is None:
        return glob
    entry = _op_generators.get(seed)
    if entry is None or entry[0] is not glob:
        entry = (glob, np.random.default_rng([_seed.get_seed() or 0, seed]))
        _op_generators[seed] = entry
    return entry[1]


def _gen_mask_infer(x, keep_prob, seed):
    _float_same(x)
    return AbstractTensor(x.shape, x.dtype)


def _gen_mask_cpu(x, keep_prob, seed):
    return (_generator(seed).random(x.shape, dtype=np.float32) < keep_prob).astype(x.dtype)


dropout_gen_mask_p = defprim(
    "dropout_gen_mask", infer=_gen_mask_infer, shard=same_rule,   # each device draws the mask of its own piece
    cpu=_gen_mask_cpu, cost=elementwise_cost(2), random=True,
    bprop=not_differentiable("a random 0/1 mask does not depend on the input's values"),
    doc="A random 0/1 mask shaped like x, each element 1 with probability keep_prob (seeded by mindlab.set_seed).")


def _dropout_infer(x, mask, keep_prob):
    _float_same(x, mask)
    if x.shape != mask.shape:
        raise ShapeError(f"the mask has shape {list(mask.shape)} but the input has shape {list(x.shape)}")
    return AbstractTensor(x.shape, x.dtype)


def _dropout_cpu(x, mask, keep_prob):
    out = x * mask
    out *= 1.0 / keep_prob
    return out


dropout_p = defprim(
    "dropout", infer=_dropout_infer, shard=same_rule, cpu=_dropout_cpu, cost=elementwise_cost(2),
    # linear in x with a fixed mask; the mask is random, not a function of anything to differentiate
    bprop=lambda inputs, out, dout, keep_prob: (bind(dropout_p, dout, inputs[1], keep_prob=keep_prob), None),
    doc="x * mask / keep_prob: inverted dropout with a given 0/1 mask.")


def _dropout(x, keep_prob, seed):
    mask = bind(dropout_gen_mask_p, x, keep_prob=keep_prob, seed=seed)
    return bind(dropout_p, x, mask, keep_prob=keep_prob), mask


def dropout(input, p=0.5, training=True, seed=None):
    """Zeroes each element of ``input`` with probability ``p`` and scales the rest by 1 / (1 - p), so the expected
    value is unchanged. Masks come from the generator seeded by ``mindlab.set_seed`` (or an op-level ``seed``).
    ``training=False`` or ``p=0`` returns ``input`` unchanged."""
    x = as_tensor(input)
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p!r}.{where()}")
    if not training or p == 0:
        return x
    if p == 1:
        return zeros_like(x)
    return _dropout(x, 1.0 - float(p), None if seed is None else int(seed))[0]


class Dropout(Primitive):
    """``P.Dropout(keep_prob=0.5, Seed0=0, Seed1=0)(x)`` -> (output, mask); the mask has x's shape and dtype (0/1
    values, as on MindSpore's CPU / GPU). Non-zero seeds give the op its own reproducible random stream."""

    def __init__(self, keep_prob=0.5, Seed0=0, Seed1=0):
        super().__init__()
        if not 0 < keep_prob <= 1:
            raise ValueError(f"Dropout: keep_prob must be in (0, 1], got {keep_prob!r}.{where()}")
        self.keep_prob = float(keep_prob)
        self.seed = (int(Seed0) << 32) + int(Seed1) if (Seed0 or Seed1) else None

    def __call__(self, x):
        return _dropout(as_tensor(x), self.keep_prob, self.seed)
