"""Loss functions as composites (PyTorch's ``torch.nn.functional`` losses; MindSpore's ``ops.*`` of the same
names): each is a few primitives, so gradients, GRAPH_MODE, devices and sharding come from those.

Every loss takes ``reduction`` in {'mean', 'sum', 'none'} (default 'mean'). Where PyTorch only warns about an input
and a target of different shapes and broadcasts them (mse_loss, l1_loss, ...), these raise a ValueError naming both
shapes. Class-index targets are checked for shape and dtype only (their values are not known while a graph is
compiled): a target outside [0, C) that is not ``ignore_index`` counts as ignored instead of raising.
"""
import math
import numbers

import numpy as np

from ...errors import where
from .._api import as_tensor
from ..prims.array_ops import broadcast_to, expand_dims, reshape
from ..prims.index_ops import one_hot
from ..prims.logic_ops import cast, equal, greater, less, not_equal, select
from ..prims.math_ops import (abs as _abs, add, div, exp, log, maximum, minimum, mul, neg, pow as _pow, relu,
                              softplus, sqrt, square, sub)
from ..prims.nn_ops import log_softmax
from ..prims.reduce_ops import amax, mean as _mean, sum as _sum

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "nll_loss", "cross_entropy", "kl_div", "cosine_similarity",
           "pairwise_distance", "triplet_margin_loss", "margin_ranking_loss", "soft_margin_loss",
           "hinge_embedding_loss", "poisson_nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------- shared checks
def _number(op, name, value):
    """A real Python number argument as a float (TypeError naming the op otherwise)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number, got {value!r} ({type(value).__name__}).{where()}")
    return float(value)


def _check_reduction(op, reduction, allowed=_REDUCTIONS):
    if not isinstance(reduction, str) or reduction not in allowed:
        raise ValueError(f"{op}: reduction must be one of {', '.join(repr(r) for r in allowed)}, got "
                         f"{reduction!r}.{where()}")


def _reduce(loss, reduction):
    if reduction == "mean":
        return _mean(loss)
    if reduction == "sum":
        return _sum(loss)
    return loss


def _same_shape(op, a, b, names=("input", "target")):
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"{op}: {names[0]} and {names[1]} must have the same shape, got {list(a.shape)} and "
                         f"{list(b.shape)}.{where()}")


def _broadcast_shape(op, names, *tensors):
    try:
        return tuple(np.broadcast_shapes(*[tuple(t.shape) for t in tensors]))
    except ValueError:
        shapes = " and ".join(str(list(t.shape)) for t in tensors)
        raise ValueError(f"{op}: {names} must broadcast together, got shapes {shapes}.{where()}") from None


def _rescaled(op, name, loss, weight):
    """``loss * weight``, where ``weight`` must broadcast to the loss's shape (not enlarge it)."""
    if weight is None:
        return loss
    w = as_tensor(weight)
    try:
        fits = np.broadcast_shapes(tuple(w.shape), tuple(loss.shape)) == tuple(loss.shape)
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"{op}: {name} of shape {list(w.shape)} does not broadcast to the input's shape "
                         f"{list(loss.shape)}.{where()}")
    return mul(loss, w)


def _pair(op, input, target, reduction):
    _check_reduction(op, reduction)
    x, t = as_tensor(input), as_tensor(target)
    _same_shape(op, x, t)
    return x, t


# ---------------------------------------------------------------- regression losses
def mse_loss(input, target, reduction="mean"):
    """``(input - target) ** 2``, reduced. torch.nn.functional.mse_loss; MindSpore's ops.mse_loss. Shapes must match
    (PyTorch broadcasts with a warning; this raises)."""
    x, t = _pair("mse_loss", input, target, reduction)
    return _reduce(square(sub(x, t)), reduction)


def l1_loss(input, target, reduction="mean"):
    """``|input - target|``, reduced. torch.nn.functional.l1_loss; MindSpore's ops.l1_loss."""
    x, t = _pair("l1_loss", input, target, reduction)
    return _reduce(_abs(sub(x, t)), reduction)


def smooth_l1_loss(input, target, beta=1.0, reduction="mean"):
    """With ``d = |input - target|``: ``0.5 d**2 / beta`` where ``d < beta``, else ``d - 0.5 beta`` (``beta >= 0``;
    ``beta = 0`` is l1_loss). torch.nn.functional.smooth_l1_loss; MindSpore's ops.smooth_l1_loss."""
    b = _number("smooth_l1_loss", "beta", beta)
    if b < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta!r}.{where()}")
    x, t = _pair("smooth_l1_loss", input, target, reduction)
    diff = sub(x, t)
    d = _abs(diff)
    if b == 0:
        return _reduce(d, reduction)
    return _reduce(select(less(d, b), mul(square(diff), 0.5 / b), sub(d, 0.5 * b)), reduction)


def huber_loss(input, target, delta=1.0, reduction="mean"):
    """With ``d = |input - target|``: ``0.5 d**2`` where ``d < delta``, else ``delta (d - 0.5 delta)``
    (``delta > 0``; ``delta * smooth_l1_loss(beta=delta)``). torch.nn.functional.huber_loss."""
    dl = _number("huber_loss", "delta", delta)
    if dl <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta!r}.{where()}")
    x, t = _pair("huber_loss", input, target, reduction)
    diff = sub(x, t)
    d = _abs(diff)
    return _reduce(select(less(d, dl), mul(square(diff), 0.5), mul(sub(d, 0.5 * dl), dl)), reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    """Negative log-likelihood of ``target`` under a Poisson of rate ``exp(input)`` (``log_input=True``:
    ``exp(input) - target * input``) or of rate ``input`` (``input - target * log(input + eps)``), without the
    constant ``log(target!)`` unless ``full``, which adds its Stirling approximation ``target log(target) - target
    + 0.5 log(2 pi target)`` where ``target > 1``. torch.nn.functional.poisson_nll_loss."""
    e = _number("poisson_nll_loss", "eps", eps)
    x, t = _pair("poisson_nll_loss", input, target, reduction)
    if log_input:
        loss = sub(exp(x), mul(t, x))
    else:
        loss = sub(x, mul(t, log(add(x, e))))
    if full:
        big = greater(t, 1)
        ts = select(big, t, 1)   # log sees 1 where the term is masked out
        stirling = add(sub(mul(ts, log(ts)), ts), mul(log(mul(ts, 2 * math.pi)), 0.5))
        loss = add(loss, select(big, stirling, 0))
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- binary classification
def _clamped_log(v):
    """``max(log(v), -100)`` as PyTorch's binary_cross_entropy takes it; 0 (and the clamped region) gets a zero
    gradient instead of NaN."""
    pos = greater(v, 0)
    return select(pos, maximum(log(select(pos, v, 1)), -100), -100)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """``-weight * (target log(input) + (1 - target) log(1 - input))`` for probabilities ``input``, each log clamped
    to >= -100 as PyTorch does; ``weight`` broadcasts to the input's shape. torch.nn.functional.binary_cross_entropy;
    MindSpore's ops.binary_cross_entropy."""
    op = "binary_cross_entropy"
    x, t = _pair(op, input, target, reduction)
    loss = neg(add(mul(t, _clamped_log(x)), mul(sub(1, t), _clamped_log(sub(1, x)))))
    return _reduce(_rescaled(op, "weight", loss, weight), reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction="mean"):
    """``binary_cross_entropy(sigmoid(input), target)`` in the stable form ``(1 - target) softplus(input) +
    pos_weight * target * softplus(-input)``; ``weight`` broadcasts to the input's shape, ``pos_weight`` (the
    positive-class weight, usually one per class on the last axis) too. torch.nn.functional.
    binary_cross_entropy_with_logits; MindSpore's ops.binary_cross_entropy_with_logits (``logits, label``)."""
    op = "binary_cross_entropy_with_logits"
    x, t = _pair(op, input, target, reduction)
    pos = mul(t, softplus(neg(x)))
    pos = _rescaled(op, "pos_weight", pos, pos_weight)
    loss = add(mul(sub(1, t), softplus(x)), pos)
    return _reduce(_rescaled(op, "weight", loss, weight), reduction)


def soft_margin_loss(input, target, reduction="mean"):
    """``log(1 + exp(-target * input))`` for targets in {-1, 1}, reduced. torch.nn.functional.soft_margin_loss;
    MindSpore's ops.soft_margin_loss."""
    x, t = _pair("soft_margin_loss", input, target, reduction)
    return _reduce(softplus(neg(mul(t, x))), reduction)


def hinge_embedding_loss(input, target, margin=1.0, reduction="mean"):
    """``input`` where ``target == 1``, ``max(0, margin - input)`` where ``target == -1`` (targets in {-1, 1}).
    torch.nn.functional.hinge_embedding_loss; MindSpore's ops.hinge_embedding_loss."""
    m = _number("hinge_embedding_loss", "margin", margin)
    x, t = _pair("hinge_embedding_loss", input, target, reduction)
    loss = add(select(not_equal(t, 1), relu(sub(m, x)), 0), select(not_equal(t, -1), x, 0))
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction="mean"):
    """``max(0, -target * (input1 - input2) + margin)`` for targets in {-1, 1}; the three must have one shape.
    torch.nn.functional.margin_ranking_loss; MindSpore's ops.margin_ranking_loss."""
    op = "margin_ranking_loss"
    m = _number(op, "margin", margin)
    _check_reduction(op, reduction)
    x1, x2, t = as_tensor(input1), as_tensor(input2), as_tensor(target)
    _same_shape(op, x1, x2, ("input1", "input2"))
    _same_shape(op, x1, t, ("input1", "target"))
    return _reduce(relu(add(mul(neg(t), sub(x1, x2)), m)), reduction)


# ---------------------------------------------------------------- classification over classes
def _class_axis(op, x, t):
    """The class axis of ``x`` for integer class targets ``t``: (N, C, d1, ...) with t (N, d1, ...), or (C,) with
    a 0-d t."""
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: class targets must be integers, got dtype {t.dtype}.{where()}")
    if x.ndim == 0:
        raise ValueError(f"{op}: input must have a class axis, got a 0-d input.{where()}")
    expected = () if x.ndim == 1 else tuple(x.shape[:1]) + tuple(x.shape[2:])
    if tuple(t.shape) != expected:
        raise ValueError(f"{op}: input of shape {list(x.shape)} needs class targets of shape {list(expected)} (the "
                         f"input without its class axis 1), got target shape {list(t.shape)}.{where()}")
    return 0 if x.ndim == 1 else 1


def _class_weight(op, weight, x, axis):
    """A (C,) weight shaped to broadcast along the class axis of ``x``."""
    if weight is None:
        return None
    w = as_tensor(weight)
    c = x.shape[axis]
    if tuple(w.shape) != (c,):
        raise ValueError(f"{op}: weight must have shape [{c}] (one per class of input shape {list(x.shape)}), got "
                         f"{list(w.shape)}.{where()}")
    return reshape(w, (c,) + (1,) * (x.ndim - axis - 1))


def _picked(op, x, t, axis, ignore_index):
    """One-hot rows of the targets in ``x``'s dtype, all-zero where the target is ``ignore_index`` (or outside
    [0, C)), and the 0/1 per-sample mask of the kept ones (shaped for broadcasting along the class axis)."""
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, numbers.Integral):
        raise TypeError(f"{op}: ignore_index must be an int, got {ignore_index!r}.{where()}")
    hot = one_hot(t, x.shape[axis], as_tensor(1.0, x), as_tensor(0.0, x), axis=axis if x.ndim > 1 else -1)
    hot = mul(hot, expand_dims(cast(not_equal(t, int(ignore_index)), x.dtype), axis))
    return hot, _sum(hot, axis, keep_dims=True)


def _class_loss(loss, denom, reduction):
    """'mean' divides by the total weight of the kept targets, as PyTorch's nll_loss does."""
    if reduction == "mean":
        return div(_sum(loss), _sum(denom))
    return _reduce(loss, reduction)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """``-weight[t] * input[n, t]`` for log-probabilities ``input`` (N, C) (or (N, C, d1, ...), or (C,)) and integer
    class targets ``target`` (N,) (or (N, d1, ...), or 0-d); samples whose target is ``ignore_index`` give 0 and,
    with 'mean', the sum is divided by the total weight of the other targets. torch.nn.functional.nll_loss;
    MindSpore's ops.nll_loss."""
    op = "nll_loss"
    _check_reduction(op, reduction)
    x, t = as_tensor(input), as_tensor(target)
    axis = _class_axis(op, x, t)
    w = _class_weight(op, weight, x, axis)
    hot, _ = _picked(op, x, t, axis, ignore_index)
    hw = hot if w is None else mul(hot, w)
    return _class_loss(neg(_sum(mul(hw, x), axis)), hw, reduction)


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax cross entropy of logits ``input`` (N, C) (or (N, C, d1, ...), or (C,)), class axis 1. Against integer
    class targets (N,) it is ``nll_loss(log_softmax(input), target, weight, ignore_index)``; against float class
    probabilities shaped like ``input`` it is ``-sum_c weight_c target_c log_softmax(input)_c``, 'mean' over the
    samples (``ignore_index`` must then stay negative). ``label_smoothing`` in [0, 1] mixes the targets with the
    uniform distribution over the C classes, as PyTorch does. torch.nn.functional.cross_entropy; MindSpore's
    ops.cross_entropy."""
    op = "cross_entropy"
    _check_reduction(op, reduction)
    ls = _number(op, "label_smoothing", label_smoothing)
    if not 0.0 <= ls <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing!r}.{where()}")
    x, t = as_tensor(input), as_tensor(target)
    if t.dtype.kind == "f":   # class probabilities
        if x.ndim == 0:
            raise ValueError(f"{op}: input must have a class axis, got a 0-d input.{where()}")
        _same_shape(op, x, t, ("input", "probability target"))
        if isinstance(ignore_index, numbers.Integral) and ignore_index >= 0:
            raise ValueError(f"{op}: ignore_index is not supported with probability (float) targets, got "
                             f"ignore_index={ignore_index!r}.{where()}")
        axis = 0 if x.ndim == 1 else 1
        c = x.shape[axis]
        w = _class_weight(op, weight, x, axis)
        if ls > 0:
            t = add(mul(t, 1.0 - ls), ls / c)
        prod = mul(log_softmax(x, axis), t)
        return _reduce(neg(_sum(prod if w is None else mul(prod, w), axis)), reduction)
    axis = _class_axis(op, x, t)
    c = x.shape[axis]
    w = _class_weight(op, weight, x, axis)
    logp = log_softmax(x, axis)
    hot, kept = _picked(op, x, t, axis, ignore_index)
    hw = hot if w is None else mul(hot, w)
    loss = neg(_sum(mul(hw, logp), axis))
    if ls > 0:
        smooth = neg(_sum(mul(logp if w is None else mul(logp, w), kept), axis))
        loss = add(mul(loss, 1.0 - ls), mul(smooth, ls / c))
    return _class_loss(loss, hw, reduction)


def kl_div(input, target, reduction="mean", log_target=False):
    """PyTorch's KL divergence: ``target * (log(target) - input)`` with log-probabilities ``input`` (0 where
    ``target == 0``), or ``exp(target) * (target - input)`` with ``log_target``. reduction 'batchmean' divides the
    sum by the batch size (axis 0), the true KL divergence per sample; 'mean' averages over all elements.
    torch.nn.functional.kl_div; MindSpore's ops.kl_div. Shapes must match."""
    op = "kl_div"
    _check_reduction(op, reduction, _REDUCTIONS + ("batchmean",))
    x, t = as_tensor(input), as_tensor(target)
    _same_shape(op, x, t)
    if log_target:
        loss = mul(exp(t), sub(t, x))
    else:
        zero = equal(t, 0)
        loss = sub(select(zero, 0, mul(t, log(select(zero, 1, t)))), mul(t, x))
    if reduction == "batchmean":
        total = _sum(loss)
        return div(total, x.shape[0]) if x.ndim else total
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- distances and embeddings
def _axis_arg(op, axis, ndim):
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}.{where()}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for inputs of rank {ndim}.{where()}")
    return int(axis) % ndim


def cosine_similarity(x1, x2, axis=1, eps=1e-8):
    """``sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps))`` along ``axis``; ``x1`` and ``x2`` broadcast.
    torch.nn.functional.cosine_similarity (``dim``); MindSpore's ops.cosine_similarity (``dim``)."""
    op = "cosine_similarity"
    e = _number(op, "eps", eps)
    a, b = as_tensor(x1), as_tensor(x2)
    shape = _broadcast_shape(op, "x1 and x2", a, b)
    ax = _axis_arg(op, axis, len(shape))
    a, b = broadcast_to(a, shape), broadcast_to(b, shape)
    # max(||v||, eps) = sqrt(max(||v||^2, eps^2)): no sqrt of 0, so no NaN gradient for a zero vector
    na = sqrt(maximum(_sum(square(a), ax), e * e))
    nb = sqrt(maximum(_sum(square(b), ax), e * e))
    return div(_sum(mul(a, b), ax), mul(na, nb))


def _p_norm(op, p):
    pv = _number(op, "p", p)
    if not pv > 0:
        raise ValueError(f"{op}: p must be > 0 (or inf), got {p!r}.{where()}")
    return pv


def _distance(d, p, keepdim):
    """The p-norm of ``d`` over its last axis."""
    if p == 2.0:
        return sqrt(_sum(square(d), -1, keep_dims=keepdim))
    if p == 1.0:
        return _sum(_abs(d), -1, keep_dims=keepdim)
    if math.isinf(p):
        return amax(_abs(d), -1, keepdims=keepdim)
    return _pow(_sum(_pow(_abs(d), p), -1, keep_dims=keepdim), 1.0 / p)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``||x1 - x2 + eps||_p`` over the last axis (``x1`` and ``x2`` broadcast; ``p > 0``, inf allowed).
    torch.nn.functional.pairwise_distance; MindSpore's ops.pairwise_distance."""
    op = "pairwise_distance"
    pv, e = _p_norm(op, p), _number(op, "eps", eps)
    a, b = as_tensor(x1), as_tensor(x2)
    if not _broadcast_shape(op, "x1 and x2", a, b):
        raise ValueError(f"{op}: inputs must have at least one axis, got shapes {list(a.shape)} and "
                         f"{list(b.shape)}.{where()}")
    return _distance(add(sub(a, b), e), pv, bool(keepdim))


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, reduction="mean"):
    """``max(d(anchor, positive) - d(anchor, negative) + margin, 0)`` with ``d = pairwise_distance(., ., p, eps)``;
    with ``swap``, ``d(anchor, negative)`` is replaced by ``min(d(anchor, negative), d(positive, negative))``. The
    three must have one rank (they broadcast). torch.nn.functional.triplet_margin_loss; MindSpore's
    ops.triplet_margin_loss."""
    op = "triplet_margin_loss"
    m = _number(op, "margin", margin)
    _p_norm(op, p)
    _check_reduction(op, reduction)
    a, pos, neg_ = as_tensor(anchor), as_tensor(positive), as_tensor(negative)
    if not a.ndim == pos.ndim == neg_.ndim:
        raise ValueError(f"{op}: anchor, positive and negative must have the same rank, got shapes "
                         f"{list(a.shape)}, {list(pos.shape)} and {list(neg_.shape)}.{where()}")
    d_pos = pairwise_distance(a, pos, p, eps)
    d_neg = pairwise_distance(a, neg_, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(pos, neg_, p, eps))
    return _reduce(relu(add(sub(d_pos, d_neg), m)), reduction)
