"""Normalisation primitives: layer norm and batch norm with their fused backward primitives (numba kernels in
``mindlab.kernels.cpu.norm``). ``layer_norm -> layer_norm_grad`` and ``batch_norm -> batch_norm_grad``; their
second order is composite (``_norm_grad_bprop``), written with mindlab ops, so gradients of any order work."""
import numpy as np

from ...errors import ShapeError, DTypeError, where
from ..abstract import AbstractTensor, norm_axis
from ..registry import defprim, Cost
from ..shard import ShardSpec
from ..dispatch import bind
from .._api import Primitive, as_tensor
from .math_ops import add, sub, mul, div, neg
from .reduce_ops import sum as _sum, sum_to
from .array_ops import reshape, zeros_like, ones_like
from .logic_ops import cast
from ...kernels.cpu import norm as _knorm
from .nn_ops import _float_same, _kernel

__all__ = ["layer_norm", "batch_norm"]
__operations__ = ["LayerNorm", "BatchNorm"]


# ---------------------------------------------------------------- normalisation: second-order rule shared by LN / BN
def _norm_grad_bprop(fwd, grad, x, dy, dvar, gamma, cot, mean_of, param_b, param_sum, stat_b, stat_sum, n):
    """bprop of a fused normalisation backward ``(dx, dgamma, dbeta) = grad(x, dy, dmean, dvar, gamma)`` where

        dx = r * (h - mean(h) - xhat * mean(h * xhat)) + dmean / n + 2 / n * dvar * (x - mu),  h = dy * gamma
        dgamma = sum(dy * xhat), dbeta = sum(dy)          (r = 1 / sqrt(var + eps), xhat = (x - mu) * r)

    with cotangents ``cot = (a, b, c)``. With J v = r * (v - mean(v) - xhat * mean(v * xhat)) (symmetric in v):
    d/d dy = gamma * J a + b * xhat + c, d/d gamma = sum(dy * J a), d/d dmean = sum(a) / n,
    d/d dvar = 2 / n * sum(a * (x - mu)), and d/dx = J (b * dy) + 2 / n * dvar * (a - mean(a))
    + r^2 * (3 mean(a xhat) mean(h xhat) xhat - (mean(a h) - mean(a) mean(h)) xhat - (a - mean(a)) mean(h xhat)
    - (h - mean(h)) mean(a xhat)). ``fwd`` / ``grad`` apply the forward / backward primitive with the op's attrs;
    the helpers say how parameters and statistics broadcast against x and reduce back."""
    a, b, c = cot
    ones, zeros = ones_like(gamma), zeros_like(gamma)
    xhat, mu, var = fwd(x, ones, zeros)                            # the normalised input and its statistics
    zs = zeros_like(var)

    def J(v):
        return grad(x, v, zs, zs, ones)[0]

    g = param_b(gamma)
    h = mul(dy, g)
    ja = J(a)
    bdy = mul(param_b(b), dy)
    d_dy = add(add(mul(g, ja), mul(param_b(b), xhat)), param_b(c))
    d_gamma = param_sum(mul(dy, ja))
    d_dmean = mul(stat_sum(a), 1.0 / n)
    xc = sub(x, stat_b(mu))
    d_dvar = mul(stat_sum(mul(a, xc)), 2.0 / n)
    ma, mh, ma_x, mh_x = mean_of(a), mean_of(h), mean_of(mul(a, xhat)), mean_of(mul(h, xhat))
    a0, h0 = sub(a, ma), sub(h, mh)
    inner = sub(mul(mul(ma_x, mh_x), 3.0), sub(mean_of(mul(a, h)), mul(ma, mh)))
    t = sub(sub(mul(inner, xhat), mul(a0, mh_x)), mul(h0, ma_x))
    r2 = div(1.0, add(stat_b(var), fwd.eps))
    d_x = add(add(mul(r2, t), J(bdy)), mul(mul(stat_b(dvar), a0), 2.0 / n))
    return d_x, d_dy, d_dmean, d_dvar, d_gamma


class _Fwd:
    """A forward normalisation primitive with its attrs bound (callable), carrying its epsilon."""

    def __init__(self, prim, attrs, eps):
        self.prim, self.attrs, self.eps = prim, attrs, eps

    def __call__(self, *args):
        return bind(self.prim, *args, **self.attrs)


# ---------------------------------------------------------------- layer_norm
def _ln_shapes(x, gamma, beta, begin_norm_axis, begin_params_axis):
    if x.ndim == 0:
        raise ShapeError("input must have at least one dimension")
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p.shape != x.shape[begin_params_axis:]:
            raise ShapeError(f"{name} must have shape {list(x.shape[begin_params_axis:])} (the input's dims from "
                             f"begin_params_axis={begin_params_axis}), got {list(p.shape)}")
    return x.shape[:begin_norm_axis] + (1,) * (x.ndim - begin_norm_axis)


def _ln_infer(x, gamma, beta, begin_norm_axis, begin_params_axis, epsilon):
    _float_same(x, gamma, beta)
    stat = AbstractTensor(_ln_shapes(x, gamma, beta, begin_norm_axis, begin_params_axis), x.dtype)
    return AbstractTensor(x.shape, x.dtype), stat, stat


def _ln_2d(x, begin_norm_axis):
    m = int(np.prod(x.shape[:begin_norm_axis]))
    return x.reshape(m, -1)


def _ln_cpu(x, gamma, beta, begin_norm_axis, begin_params_axis, epsilon):
    stat = x.shape[:begin_norm_axis] + (1,) * (x.ndim - begin_norm_axis)
    if x.size == 0:
        return np.empty_like(x), np.full(stat, np.nan, x.dtype), np.full(stat, np.nan, x.dtype)
    y, mean, var = _knorm.layer_norm(_ln_2d(x, begin_norm_axis), gamma.reshape(-1), beta.reshape(-1),
                                     epsilon)
    return y.reshape(x.shape), mean.reshape(stat), var.reshape(stat)


def _ln_bprop(inputs, out, dout, begin_norm_axis, begin_params_axis, epsilon):
    x, gamma, beta = inputs
    dy, dmean, dvar = dout
    return bind(layer_norm_grad_p, x, dy, dmean, dvar, gamma, begin_norm_axis=begin_norm_axis,
                begin_params_axis=begin_params_axis, epsilon=epsilon)


def _ln_shard(x, *params, begin_norm_axis, begin_params_axis, epsilon, grad=False):
    """Dims before begin_norm_axis split alike in x, y and the statistics; normalised dims stay whole. gamma/beta
    cover x's dims from begin_params_axis and split with them. In the backward, dgamma/dbeta sum over the dims
    before begin_params_axis: split, they are partial sums (the data-parallel AllReduce of their gradients)."""
    xs = tuple(f"d{i}" if i < begin_norm_axis else None for i in range(x.ndim))
    gs = xs[begin_params_axis:]
    why = {(0, i): "a normalised dim: the mean and variance need all of it" for i in range(begin_norm_axis, x.ndim)}
    if not grad:
        return ShardSpec((xs, gs, gs), (xs, xs, xs), why=why)
    reduce = {lab: "sum" for lab in xs[:begin_params_axis] if lab is not None and lab not in gs}
    why.update({(1, i): why[(0, i)] for i in range(begin_norm_axis, x.ndim)})
    return ShardSpec((xs, xs, xs, xs, gs), (xs, gs, gs), reduce=reduce, why=why)


layer_norm_p = defprim(
    "layer_norm", shard=_ln_shard, infer=_ln_infer, cpu=_kernel(_ln_cpu), bprop=_ln_bprop, outputs=3,
    cost=lambda x, gamma, beta, **a: Cost(8 * x.size, 2 * x.nbytes + gamma.nbytes + beta.nbytes),
    doc="Layer normalisation over the dims from begin_norm_axis, affine over the dims from begin_params_axis; "
        "returns (y, mean, variance) with the statistics' reduced dims kept as 1.")


def _ln_grad_infer(x, dy, dmean, dvar, gamma, begin_norm_axis, begin_params_axis, epsilon):
    _float_same(x, dy, dmean, dvar, gamma)
    stat = _ln_shapes(x, gamma, gamma, begin_norm_axis, begin_params_axis)
    if dy.shape != x.shape or dmean.shape != stat or dvar.shape != stat:
        raise ShapeError(f"dy must have the input's shape {list(x.shape)} and dmean / dvar the statistics' shape "
                         f"{list(stat)}, got {list(dy.shape)}, {list(dmean.shape)}, {list(dvar.shape)}")
    return AbstractTensor(x.shape, x.dtype), AbstractTensor(gamma.shape, x.dtype), AbstractTensor(gamma.shape, x.dtype)


def _ln_grad_cpu(x, dy, dmean, dvar, gamma, begin_norm_axis, begin_params_axis, epsilon):
    if x.size == 0:
        return np.zeros_like(x), np.zeros_like(gamma), np.zeros_like(gamma)
    dx, dg, db = _knorm.layer_norm_grad(_ln_2d(x, begin_norm_axis), _ln_2d(dy, begin_norm_axis),
                                        dmean.reshape(-1), dvar.reshape(-1), gamma.reshape(-1),
                                        epsilon)
    return dx.reshape(x.shape), dg.reshape(gamma.shape), db.reshape(gamma.shape)


def _ln_grad_bprop(inputs, out, cot, begin_norm_axis, begin_params_axis, epsilon):
    x, dy, dmean, dvar, gamma = inputs
    attrs = dict(begin_norm_axis=begin_norm_axis, begin_params_axis=begin_params_axis, epsilon=epsilon)
    axes = tuple(range(begin_norm_axis, x.ndim))
    n = int(np.prod(x.shape[begin_norm_axis:]))
    d_x, d_dy, d_dmean, d_dvar, d_gamma = _norm_grad_bprop(
        _Fwd(layer_norm_p, attrs, epsilon), lambda *args: bind(layer_norm_grad_p, *args, **attrs),
        x, dy, dvar, gamma, cot,
        mean_of=lambda v: mul(_sum(v, axes, keep_dims=True), 1.0 / n),
        param_b=lambda p: p, param_sum=lambda v: sum_to(v, gamma.shape),
        stat_b=lambda s: s, stat_sum=lambda v: _sum(v, axes, keep_dims=True), n=n)
    return d_x, d_dy, d_dmean, d_dvar, d_gamma


layer_norm_grad_p = defprim(
    "layer_norm_grad", infer=_ln_grad_infer, shard=lambda *avals, **attrs: _ln_shard(*avals, **attrs, grad=True),
    cpu=_kernel(_ln_grad_cpu), bprop=_ln_grad_bprop, outputs=3,
    cost=lambda x, dy, dmean, dvar, gamma, **a: Cost(14 * x.size, 3 * x.nbytes + 3 * gamma.nbytes),
    doc="Fused backward of layer_norm: (dx, dgamma, dbeta) from the cotangents (dy, dmean, dvar) of its outputs.")


def _ln_attrs(ndim, begin_norm_axis, begin_params_axis, epsilon, op):
    try:
        return dict(begin_norm_axis=norm_axis(begin_norm_axis, ndim, "begin_norm_axis"),
                    begin_params_axis=norm_axis(begin_params_axis, ndim, "begin_params_axis"),
                    epsilon=float(epsilon))
    except (ShapeError, DTypeError) as exc:
        raise type(exc)(f"{op}: {exc} (input rank {ndim}).{where()}") from None


def layer_norm(input, gamma, beta, begin_norm_axis=-1, begin_params_axis=-1, epsilon=1e-7):
    """Layer normalisation: ``(x - mean) / sqrt(var + epsilon) * gamma + beta`` with mean and (biased) variance
    over the dims from ``begin_norm_axis`` on; ``gamma`` / ``beta`` have the input's shape from
    ``begin_params_axis`` on. Returns the normalised tensor only (``P.LayerNorm`` also returns the statistics)."""
    x = as_tensor(input)
    return bind(layer_norm_p, x, as_tensor(gamma), as_tensor(beta),
                **_ln_attrs(x.ndim, begin_norm_axis, begin_params_axis, epsilon, "layer_norm"))[0]


class LayerNorm(Primitive):
    """``P.LayerNorm(begin_norm_axis=1, begin_params_axis=1, epsilon=1e-7)(x, gamma, beta)`` -> (y, mean,
    variance); mean and variance keep the normalised dims as size 1."""

    def __init__(self, begin_norm_axis=1, begin_params_axis=1, epsilon=1e-7):
        super().__init__()
        self.begin_norm_axis, self.begin_params_axis, self.epsilon = begin_norm_axis, begin_params_axis, epsilon

    def __call__(self, x, gamma, beta):
        x = as_tensor(x)
        return bind(layer_norm_p, x, as_tensor(gamma), as_tensor(beta),
                    **_ln_attrs(x.ndim, self.begin_norm_axis, self.begin_params_axis, self.epsilon, self.name))


# ---------------------------------------------------------------- batch_norm
# Channels are axis 1 of an (N, C, ...) input; statistics are over every other axis. Training mode ("batch_norm")
# normalises with the batch statistics and returns them; inference ("batch_norm_infer") takes the statistics.
def _bn_check(x, *params):
    if x.ndim < 2:
        raise ShapeError(f"input must be (N, C) or (N, C, ...), got shape {list(x.shape)}")
    for name, p in params:
        if p.shape != (x.shape[1],):
            raise ShapeError(f"{name} must have shape [{x.shape[1]}] (one value per channel), got {list(p.shape)}")


def _bn_batch_check(x):
    if x.shape[1] and x.size == 0:
        raise ShapeError(f"batch statistics need at least one value per channel; input shape {list(x.shape)} has "
                         f"none (zero-size batch or spatial dims)")


def _bn_infer(x, weight, bias, epsilon):
    _float_same(x, weight, bias)
    _bn_check(x, ("weight", weight), ("bias", bias))
    _bn_batch_check(x)
    stat = AbstractTensor((x.shape[1],), x.dtype)
    return AbstractTensor(x.shape, x.dtype), stat, stat


def _ncl(x):
    return x.reshape(x.shape[0], x.shape[1], -1)


def _bn_cpu(x, weight, bias, epsilon):
    if x.size == 0:
        return np.empty_like(x), np.full(x.shape[1], np.nan, x.dtype), np.full(x.shape[1], np.nan, x.dtype)
    y, mean, var = _knorm.batch_norm(_ncl(x), weight, bias, epsilon)
    return y.reshape(x.shape), mean, var


def _bn_bprop(inputs, out, dout, epsilon):
    x, weight, bias = inputs
    dy, dmean, dvar = dout
    return bind(batch_norm_grad_p, x, dy, dmean, dvar, weight, epsilon=epsilon)


_BN_WHY = "batch statistics are taken over it (a synchronized batch norm would all-reduce them)"


def _bn_shard(x, *rest, epsilon, grad=False):
    """Training batch norm: only channels split (statistics are over every other dim)."""
    xs = (None, "c") + (None,) * (x.ndim - 2)
    why = {(i, d): _BN_WHY for i in ((0, 1) if grad else (0,)) for d in range(x.ndim) if d != 1}
    if grad:     # (x, dy, dmean, dvar, weight) -> (dx, dweight, dbias)
        return ShardSpec((xs, xs, ("c",), ("c",), ("c",)), (xs, ("c",), ("c",)), why=why)
    return ShardSpec((xs, ("c",), ("c",)), (xs, ("c",), ("c",)), why=why)


def _bn_infer_shard(x, weight, bias, mean, var, epsilon):
    """Inference batch norm is elementwise per channel: every dim splits."""
    xs = ("n", "c") + tuple(f"s{i}" for i in range(x.ndim - 2))
    return ShardSpec((xs,) + (("c",),) * 4, (xs,))


batch_norm_p = defprim(
    "batch_norm", shard=_bn_shard, infer=_bn_infer, cpu=_kernel(_bn_cpu), bprop=_bn_bprop, outputs=3,
    cost=lambda x, weight, bias, epsilon: Cost(8 * x.size, 2 * x.nbytes + 4 * weight.nbytes),
    doc="Training-mode batch normalisation with batch statistics over all axes but 1; returns (y, mean, biased "
        "variance). The running-statistics update is not part of it (ops.batch_norm does it, outside the tape).")


def _bn_grad_infer(x, dy, dmean, dvar, weight, epsilon):
    _float_same(x, dy, dmean, dvar, weight)
    _bn_check(x, ("dmean", dmean), ("dvar", dvar), ("weight", weight))
    _bn_batch_check(x)
    if dy.shape != x.shape:
        raise ShapeError(f"dy must have the input's shape {list(x.shape)}, got {list(dy.shape)}")
    p = AbstractTensor(weight.shape, x.dtype)
    return AbstractTensor(x.shape, x.dtype), p, p


def _bn_grad_cpu(x, dy, dmean, dvar, weight, epsilon):
    if x.size == 0:
        return np.zeros_like(x), np.zeros_like(weight), np.zeros_like(weight)
    dx, dw, db = _knorm.batch_norm_grad(_ncl(x), _ncl(dy), dmean, dvar, weight, epsilon)
    return dx.reshape(x.shape), dw, db


def _bn_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _bn_grad_bprop(inputs, out, cot, epsilon):
    x, dy, dmean, dvar, weight = inputs
    axes, c = _bn_axes(x), x.shape[1]
    n = max(x.size // max(c, 1), 1)   # c == 0: every tensor is empty (c > 0 with no values is refused by infer)
    bshape = (1, c) + (1,) * (x.ndim - 2)
    return _norm_grad_bprop(
        _Fwd(batch_norm_p, dict(epsilon=epsilon), epsilon),
        lambda *args: bind(batch_norm_grad_p, *args, epsilon=epsilon),
        x, dy, dvar, weight, cot,
        mean_of=lambda v: mul(_sum(v, axes, keep_dims=True), 1.0 / n),
        param_b=lambda p: reshape(p, bshape), param_sum=lambda v: _sum(v, axes),
        stat_b=lambda s: reshape(s, bshape), stat_sum=lambda v: _sum(v, axes), n=n)


batch_norm_grad_p = defprim(
    "batch_norm_grad", infer=_bn_grad_infer, shard=lambda *a, epsilon: _bn_shard(*a, epsilon=epsilon, grad=True),
    cpu=_kernel(_bn_grad_cpu), bprop=_bn_grad_bprop, outputs=3,
    cost=lambda x, dy, dmean, dvar, weight, epsilon: Cost(14 * x.size, 3 * x.nbytes + 5 * weight.nbytes),
    doc="Fused backward of batch_norm: (dx, dweight, dbias) from the cotangents (dy, dmean, dvar) of its outputs.")


def _bn_infer_infer(x, weight, bias, mean, var, epsilon):
    _float_same(x, weight, bias, mean, var)
    _bn_check(x, ("weight", weight), ("bias", bias), ("mean", mean), ("variance", var))
    return AbstractTensor(x.shape, x.dtype)


def _bn_infer_cpu(x, weight, bias, mean, var, epsilon):
    if x.size == 0:
        return np.empty_like(x)
    return _knorm.batch_norm_infer(_ncl(x), weight, bias, mean, var, epsilon).reshape(x.shape)


def _bn_infer_bprop(inputs, out, dout, epsilon):
    # y = (x - mean) * weight * r + bias, r = 1 / sqrt(var + eps). dx = dout * weight * r is the same op applied to
    # dout with zero mean and bias; xhat = (x - mean) * r is the op with unit weight.
    x, weight, bias, mean, var = inputs
    axes, c = _bn_axes(x), x.shape[1]
    bshape = (1, c) + (1,) * (x.ndim - 2)
    zeros, ones = zeros_like(mean), ones_like(weight)
    dx = bind(batch_norm_infer_p, dout, weight, zeros, zeros, var, epsilon=epsilon)
    xhat = bind(batch_norm_infer_p, x, ones, zeros, mean, var, epsilon=epsilon)
    dweight = _sum(mul(dout, xhat), axes)
    dbias = _sum(dout, axes)
    dmean = neg(_sum(dx, axes))
    # d/dvar of (x - mean) * weight * r is -(x - mean) * weight * r^3 / 2 = -weight * xhat / (2 (var + eps))
    dvar = div(mul(_sum(mul(dout, xhat), axes), mul(weight, -0.5)), add(var, epsilon))
    return dx, dweight, dbias, dmean, dvar


batch_norm_infer_p = defprim(
    "batch_norm_infer", infer=_bn_infer_infer, shard=_bn_infer_shard, cpu=_kernel(_bn_infer_cpu), bprop=_bn_infer_bprop,
    cost=lambda x, *params, epsilon: Cost(2 * x.size, 2 * x.nbytes + sum(p.nbytes for p in params)),
    doc="Inference-mode batch normalisation with given per-channel mean and variance.")


def _update_running(running, batch_stat, momentum, scale=1.0):
    """running = (1 - momentum) * running + momentum * batch_stat, replacing the tensor's data (not recorded)."""
    if running is None:
        return
    if batch_stat._data is None:   # compiling a graph: the update becomes an assign node
        from .optim_ops import assign
        assign(running, add(mul(running, 1.0 - momentum), mul(batch_stat, momentum * scale)))
        return
    new = (1.0 - momentum) * running._data + (momentum * scale) * batch_stat._data
    running._data = new.astype(running._data.dtype, copy=False)


def _batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps):
    x = as_tensor(x)
    if weight is None:
        weight = ones_like(running_mean if running_mean is not None else _channel_like(x))
    if bias is None:
        bias = zeros_like(weight)
    weight, bias = as_tensor(weight), as_tensor(bias)
    if training:
        y, bmean, bvar = bind(batch_norm_p, x, weight, bias, epsilon=float(eps))
        n = x.size // max(x.shape[1], 1) if x.ndim >= 2 else 1
        _update_running(running_mean, bmean, momentum)
        _update_running(running_var, bvar, momentum, n / max(n - 1, 1))   # unbiased variance for the running stat
        return y, bmean, bvar
    if running_mean is None or running_var is None:
        raise ValueError(f"batch_norm: inference (training=False) needs running_mean and running_var.{where()}")
    mean, var = as_tensor(running_mean), as_tensor(running_var)
    if mean.dtype is not x.dtype and weight.dtype is x.dtype:   # float16 compute (amp O3), float32 statistics
        mean, var = cast(mean, x.dtype), cast(var, x.dtype)
    y = bind(batch_norm_infer_p, x, weight, bias, mean, var, epsilon=float(eps))
    return y, running_mean, running_var


def _channel_like(x):
    """A (C,) tensor of x's dtype, to shape default weights."""
    from ...tensor import _wrap
    return _wrap(np.zeros((x.shape[1] if x.ndim >= 2 else 0,), x.dtype.np))


def batch_norm(input_x, running_mean, running_var, weight, bias, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation of an (N, C, ...) input per channel (axis 1). ``training=True`` normalises with the batch
    mean and biased variance and updates ``running_mean`` / ``running_var`` in place (``running = (1 - momentum) *
    running + momentum * batch_stat``, unbiased variance; the update is not differentiated); ``training=False`` uses
    the running statistics. ``weight`` / ``bias`` (C,) scale and shift (None: ones / zeros)."""
    return _batch_norm(input_x, running_mean, running_var, weight, bias, training, momentum, eps)[0]


class BatchNorm(Primitive):
    """``P.BatchNorm(is_training=False, epsilon=1e-5, momentum=0.1, data_format="NCHW")(x, scale, bias, mean,
    variance)`` -> (y, batch_mean, batch_variance, reserve_space_1, reserve_space_2). In training ``mean`` /
    ``variance`` are updated in place (momentum as in ops.batch_norm) and the outputs are (y, batch mean, biased
    batch variance, batch mean, biased batch variance); in inference they are (y, mean, variance, mean, variance).
    (MindSpore's reserve spaces are backend scratch; here they repeat the statistics.)"""

    def __init__(self, is_training=False, epsilon=1e-5, momentum=0.1, data_format="NCHW"):
        super().__init__()
        if data_format != "NCHW":
            raise ValueError(f"{self.name}: only data_format='NCHW' is supported, got {data_format!r}.{where()}")
        self.is_training, self.epsilon, self.momentum = bool(is_training), float(epsilon), float(momentum)

    def __call__(self, x, scale, bias, mean, variance):
        y, m, v = _batch_norm(x, mean, variance, scale, bias, self.is_training, self.momentum, self.epsilon)
        return y, m, v, m, v
