"""Ascend implementations of registry primitives, by family: the host-side wrappers that pick a tiling, move
axes, and call the kernels (``k_vector``, ``k_rows``, ``k_cube``, ``k_conv``, ``k_move``). ``table.py`` says which
primitive uses which; each wrapper runs inside ``op_scope(op)`` so its kernels form one profile record.
"""
import numpy as np

from .k_vector import elementwise
from .k_move import gather, index_map, broadcast, scalar_kernel
from .k_rows import (reduce_rows, reduce_cols, prod_except_self_rows, softmax_rows, log_softmax_rows, softmax_grad_rows, log_softmax_grad_rows,
                     layer_norm_rows, layer_norm_grad_rows, rows_fit, _pad_value)
from .sim import op_scope

__all__ = ["elementwise_op", "inplace_update", "reduction", "softmax_family", "movement", "view", "aicpu",
           "duplicate", "layer_norm", "layer_norm_grad", "xent", "xent_grad", "move_axis_last", "batch_norm",
           "batch_norm_grad", "batch_norm_infer"]

ROW_CHUNK = 8192        # a reduced row longer than this is reduced in two stages


def _kinds(arrays, shape):
    """Per input: how the Vector kernel reads it ("full" / "scalar" / "row"), materialising other broadcasts in
    GM with a gather; returns (arrays, kinds, row length)."""
    n = int(np.prod(shape, dtype=np.int64))
    kinds, outs, row = [], [], 1
    for a in arrays:
        if a.size == n:
            kinds.append("full")
            outs.append(np.ascontiguousarray(a))
            continue
        if a.size == 1:
            kinds.append("scalar")
            outs.append(np.ascontiguousarray(a).reshape(1))
            continue
        core = a.shape
        while core and core[0] == 1:
            core = core[1:]
        if core and tuple(shape[-len(core):]) == tuple(core) and row in (1, a.size):
            kinds.append("row")
            row = a.size
            outs.append(np.ascontiguousarray(a).reshape(-1))
            continue
        kinds.append("full")
        outs.append(broadcast(a, shape))
    return outs, kinds, row


def elementwise_op(prim, passes):
    """A Vector kernel applying the primitive's own elementwise function to UB tiles."""
    cpu = prim.impl["CPU"]
    name = prim.name

    def impl(*arrays, **attrs):
        arrays = [np.asarray(a) for a in arrays]
        shape = np.broadcast_shapes(*[a.shape for a in arrays]) if arrays else ()
        with op_scope(name):
            ins, kinds, row = _kinds(arrays, shape)
            probe = np.asarray(cpu(*[a.reshape(-1)[:1] for a in ins], **attrs))

            def fn(*xs):
                return cpu(*xs, **attrs)
            return elementwise(name, fn, ins, kinds, [probe.dtype], shape, passes, row=row)
    impl.__name__ = f"ascend_{name}"
    return impl


def duplicate(value_of):
    """Fill kernels (zeros_like, ones_like, fill): Vector Duplicate streamed out through MTE3."""
    def impl(*arrays, **attrs):
        shape, dtype, value = value_of(*arrays, **attrs)
        with op_scope("Duplicate"):
            return elementwise("Duplicate", lambda: np.asarray(value, dtype), [], [], [dtype], shape, 1)
    return impl


def inplace_update(prim, inplace, returns, passes):
    """Optimizer updates and assign: a Vector kernel over the parameter's elements that runs the update on UB
    tiles and writes the ``inplace`` inputs back to GM."""
    cpu = prim.impl["CPU"]

    def impl(*arrays, **attrs):
        arrays = [np.asarray(a) for a in arrays]
        var = arrays[inplace[0]]
        if not all(arrays[k].flags.c_contiguous and arrays[k].flags.writeable for k in inplace):
            return scalar_kernel(f"AICPU:{prim.name}", lambda: cpu(*arrays, **attrs), arrays)
        with op_scope(prim.name):
            ins, kinds, row = _kinds(arrays, var.shape)

            def fn(*xs):
                if prim.name == "assign":
                    return np.broadcast_to(xs[1], xs[0].shape).astype(xs[0].dtype)
                cpu(*xs, **attrs)
                return tuple(xs[k] for k in inplace) if len(inplace) > 1 else xs[inplace[0]]
            outs = elementwise(prim.name, fn, ins, kinds, [arrays[k].dtype for k in inplace], var.shape, passes,
                               row=row, inplace={j: k for j, k in enumerate(inplace)})
        outs = outs if isinstance(outs, tuple) else (outs,)
        return outs[0] if returns == 1 else tuple(outs[:returns])
    return impl


def move_axis_last(x, axes, name="Transpose"):
    """(x with ``axes`` moved last, as a (rows, cols) array, the kept shape)."""
    keep = [i for i in range(x.ndim) if i not in axes]
    perm = keep + list(axes)
    rows = int(np.prod([x.shape[i] for i in keep], dtype=np.int64))
    cols = int(np.prod([x.shape[i] for i in axes], dtype=np.int64))
    if perm == list(range(x.ndim)):
        return np.ascontiguousarray(x).reshape(rows, cols), [x.shape[i] for i in keep]
    idx = np.arange(x.size, dtype=np.int64).reshape(x.shape).transpose(perm)
    return gather(name, [x], idx, idx.shape).reshape(rows, cols), [x.shape[i] for i in keep]


def _reduce_2d(x2, op, out_dtype):
    rows, cols = x2.shape
    if cols > ROW_CHUNK and op not in ("argmax", "argmin"):
        k = -(-cols // ROW_CHUNK)
        idx = np.full((rows, k * ROW_CHUNK), -1, np.int64)
        idx[:, :cols] = np.arange(x2.size, dtype=np.int64).reshape(rows, cols)
        padded = gather("PadRows", [x2], idx, (rows * k, ROW_CHUNK), fill=_pad_value(op, x2.dtype))
        first = "sum" if op == "mean" else op
        part = reduce_rows(padded, first, out_dtype).reshape(rows, k)
        out = _reduce_2d(part, first, out_dtype)
        return out if op != "mean" else elementwise("Muls", lambda v: v * out_dtype.type(1.0 / cols), [out],
                                                    ["full"], [out_dtype], out.shape)
    return reduce_rows(x2, op, out_dtype)


def reduction(prim, op):
    """sum / mean / max / min / prod / all / any / argmax / argmin over any axes: reduced axes moved last
    (a transpose gather when needed), then the row-reduction kernel (two stages for long rows)."""
    cpu = prim.impl["CPU"]

    def impl(x, axis=None, keep_dims=False, **attrs):
        x = np.asarray(x)
        probe = np.asarray(cpu(np.zeros((1,) * x.ndim, x.dtype), axis=axis, keep_dims=keep_dims, **attrs))
        out_dtype = probe.dtype
        if op in ("argmax", "argmin"):
            if axis is None:     # over the flattened input; keep_dims ignored
                axes, keep_dims = tuple(range(x.ndim)), False
            else:
                axes = (axis % x.ndim,) if x.ndim else ()
        else:
            from mindlab.ops.abstract import norm_axes
            axes = norm_axes(axis, x.ndim)
        with op_scope(prim.name):
            lead = tuple(range(len(axes)))
            if x.ndim and axes == lead and len(axes) < x.ndim and op not in ("argmax", "argmin") \
                    and x.dtype == out_dtype:
                # leading axes (a bias gradient's batch): accumulate rows into a UB vector, no transpose
                rows = int(np.prod(x.shape[:len(axes)], dtype=np.int64))
                red = reduce_cols(np.ascontiguousarray(x).reshape(rows, -1), op, out_dtype)
                return red.reshape(_reduced_shape(x.shape, axes, keep_dims)).astype(out_dtype, copy=False)
            if x.ndim == 0 or not axes:
                src = x.reshape(-1, 1)
            else:
                src, _ = move_axis_last(x, axes)
            if src.dtype.kind == "b" and op in ("sum", "mean", "prod"):
                src = elementwise("Cast", lambda v: v.astype(out_dtype), [src], ["full"], [out_dtype], src.shape)
            elif op in ("mean",) and src.dtype != out_dtype:
                src = elementwise("Cast", lambda v: v.astype(out_dtype), [src], ["full"], [out_dtype], src.shape)
            red = _reduce_2d(np.ascontiguousarray(src), op, out_dtype)
        return red.reshape(_reduced_shape(x.shape, axes, keep_dims)).astype(out_dtype, copy=False)
    return impl


def _reduced_shape(shape, axes, keep_dims):
    if keep_dims:
        return tuple(1 if i in axes else s for i, s in enumerate(shape))
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _row_bcast(v, shape):
    return broadcast(v.reshape(-1, 1), shape)


def _softmax_long(x2, log):
    """Rows too long for the UB: max and sum by two-stage reductions, exp and the division as Vector kernels."""
    dt = x2.dtype
    m = _row_bcast(_reduce_2d(x2, "max", dt), x2.shape)
    e = elementwise("SubExp", lambda a, b: np.exp(a - b), [x2, m], ["full", "full"], [dt], x2.shape, 5)
    s = _row_bcast(_reduce_2d(e, "sum", dt), x2.shape)
    if log:
        return elementwise("SubLog", lambda a, b, c: a - b - np.log(c), [x2, m, s], ["full"] * 3, [dt], x2.shape, 6)
    return elementwise("Div", np.divide, [e, s], ["full", "full"], [dt], x2.shape, 4)


def _softmax_grad_long(y2, dy2, log):
    dt = y2.dtype
    if log:
        s = _row_bcast(_reduce_2d(dy2, "sum", dt), y2.shape)
        return elementwise("LogSoftmaxGrad", lambda y, d, t: d - np.exp(y) * t, [y2, dy2, s], ["full"] * 3, [dt],
                           y2.shape, 6)
    p = elementwise("Mul", np.multiply, [y2, dy2], ["full", "full"], [dt], y2.shape)
    s = _row_bcast(_reduce_2d(p, "sum", dt), y2.shape)
    return elementwise("SoftmaxGrad", lambda y, d, t: y * (d - t), [y2, dy2, s], ["full"] * 3, [dt], y2.shape, 2)


def softmax_family(kind):
    fns = {"softmax": (softmax_rows, 1), "log_softmax": (log_softmax_rows, 1),
           "softmax_grad": (softmax_grad_rows, 2), "log_softmax_grad": (log_softmax_grad_rows, 2)}
    kernel, n_in = fns[kind]
    long = {"softmax": lambda x: _softmax_long(x, False), "log_softmax": lambda x: _softmax_long(x, True),
            "softmax_grad": lambda y, d: _softmax_grad_long(y, d, False),
            "log_softmax_grad": lambda y, d: _softmax_grad_long(y, d, True)}[kind]

    def impl(*arrays, axis):
        arrays = [np.asarray(a) for a in arrays]
        x = arrays[0]
        ax = axis % x.ndim
        with op_scope(kind):
            twos = [move_axis_last(a, (ax,)) for a in arrays]
            fits = rows_fit(x.shape[ax], x.dtype.itemsize, 2 * n_in + 2)
            out2 = (kernel if fits else long)(*[t[0] for t in twos])
            if ax == x.ndim - 1:
                return out2.reshape(x.shape)
            keep = [i for i in range(x.ndim) if i != ax]
            inv = np.argsort(keep + [ax])
            moved = out2.reshape([x.shape[i] for i in keep] + [x.shape[ax]])
            idx = np.arange(moved.size, dtype=np.int64).reshape(moved.shape).transpose(inv)
            return gather("Transpose", [moved], idx, x.shape)
    return impl


def movement(prim, data_positions=None):
    """Ops whose outputs are copies of input elements: an MTE gather with the index map found by running the CPU
    kernel on element indices."""
    cpu = prim.impl["CPU"]

    def impl(*arrays, **attrs):
        arrays = [np.asarray(a) for a in arrays]
        pos = data_positions if data_positions is not None else tuple(range(len(arrays)))
        maps = index_map(cpu, arrays, pos, attrs)
        srcs = [arrays[k] for k in pos]
        dtype = np.result_type(*[s.dtype for s in srcs]) if srcs else None
        with op_scope(prim.name):
            outs = [gather(prim.name, srcs, m, m.shape, dtype=dtype) for m in maps]
        return outs[0] if (prim.outputs == 1) else tuple(outs)
    return impl


def view(prim):
    """Reshape-like ops: a new view of the same GM bytes, no kernel."""
    return prim.impl["CPU"]


def aicpu(prim):
    """Irregular ops (data-dependent scatter, random masks): an AI CPU task, priced as scalar work per element."""
    cpu = prim.impl["CPU"]

    def impl(*arrays, **attrs):
        return scalar_kernel(f"AICPU:{prim.name}", lambda: cpu(*arrays, **attrs), arrays)
    return impl


aicpu_layer_norm = [None, None]     # set by table.install: the AI CPU fallbacks for gamma wider than a row


def _params_full(gamma, d):
    g = np.asarray(gamma).reshape(-1)
    if g.size == d:
        return g
    return gather("Tile(gamma)", [g], np.tile(np.arange(g.size, dtype=np.int64), d // g.size), (d,))


def layer_norm(x, gamma, beta, begin_norm_axis, begin_params_axis, epsilon):
    d = int(np.prod(x.shape[begin_norm_axis:], dtype=np.int64))
    if begin_params_axis < begin_norm_axis or not rows_fit(d, x.dtype.itemsize, 5):
        # gamma varies along non-normalised dims too, or a row does not fit the UB
        return aicpu_layer_norm[0](x, gamma, beta, begin_norm_axis=begin_norm_axis,
                                   begin_params_axis=begin_params_axis, epsilon=epsilon)
    stat = x.shape[:begin_norm_axis] + (1,) * (x.ndim - begin_norm_axis)
    m = int(np.prod(x.shape[:begin_norm_axis], dtype=np.int64))
    d = x.size // max(m, 1)
    with op_scope("layer_norm"):
        y, mean, var = layer_norm_rows(np.ascontiguousarray(x).reshape(m, d), _params_full(gamma, d),
                                       _params_full(beta, d), epsilon)
    return y.reshape(x.shape), mean.reshape(stat), var.reshape(stat)


def layer_norm_grad(x, dy, dmean, dvar, gamma, begin_norm_axis, begin_params_axis, epsilon):
    d = int(np.prod(x.shape[begin_norm_axis:], dtype=np.int64))
    if begin_params_axis < begin_norm_axis or not rows_fit(d, x.dtype.itemsize, 8):
        return aicpu_layer_norm[1](x, dy, dmean, dvar, gamma, begin_norm_axis=begin_norm_axis,
                                   begin_params_axis=begin_params_axis, epsilon=epsilon)
    m = int(np.prod(x.shape[:begin_norm_axis], dtype=np.int64))
    d = x.size // max(m, 1)
    g = gamma.size
    with op_scope("layer_norm_grad"):
        dx, dyxh = layer_norm_grad_rows(np.ascontiguousarray(x).reshape(m, d), np.ascontiguousarray(dy).reshape(m, d),
                                        np.ascontiguousarray(dmean), np.ascontiguousarray(dvar),
                                        _params_full(gamma, d), epsilon)
        dgamma = reduce_cols(dyxh.reshape(-1, g), "sum")
        dbeta = reduce_cols(np.ascontiguousarray(dy).reshape(-1, g), "sum")
    return dx.reshape(x.shape), dgamma.reshape(gamma.shape), dbeta.reshape(gamma.shape)


def _check_labels(logits, labels):
    bad = np.nonzero((labels < 0) | (labels >= logits.shape[1]))[0]
    if bad.size:
        from mindlab.ops.prims.nn_ops import LabelError
        from mindlab.errors import where
        k = int(bad[0])
        raise LabelError(f"sparse_softmax_cross_entropy: label {labels[k]} (at index {k}) is out of range "
                         f"[0, {logits.shape[1]}) for logits of shape {list(logits.shape)}.{where()}")


def xent(logits, labels):
    """loss_n = -log_softmax(z_n)[label_n]: the LogSoftmax row kernel, a gather of the label entries (address per
    row from the label, on the Scalar unit), a Vector negation."""
    _check_labels(logits, labels)
    n, c = logits.shape
    with op_scope("sparse_softmax_cross_entropy"):
        x2 = np.ascontiguousarray(logits)
        ls = log_softmax_rows(x2) if rows_fit(c, x2.dtype.itemsize, 4) else _softmax_long(x2, True)
        picked = gather("GatherLabel", [ls], np.arange(n, dtype=np.int64) * c + labels.astype(np.int64), (n,))
        return elementwise("Neg", np.negative, [picked], ["full"], [picked.dtype], (n,))


def xent_grad(logits, labels):
    """softmax(z) - onehot(label): the Softmax row kernel, then one Vector pass comparing a column iota with each
    row's label."""
    _check_labels(logits, labels)
    n, c = logits.shape
    with op_scope("sparse_softmax_cross_entropy_grad"):
        x2 = np.ascontiguousarray(logits)
        sm = softmax_rows(x2) if rows_fit(c, x2.dtype.itemsize, 4) else _softmax_long(x2, False)
        lab = broadcast(labels.astype(np.int32).reshape(n, 1), (n, c))
        iota = np.arange(c, dtype=np.int32)
        return elementwise("SubOneHot", lambda s, l, i: s - (l == i).astype(s.dtype), [sm, lab, iota],
                           ["full", "full", "row"], [sm.dtype], (n, c), 2, row=c)


# ------------------------------------------------------------------------------------------ batch norm
def _channels_as_rows(x):
    """(N, C, ...) -> (C, N*S) rows (an MTE transpose), plus the inverse index map."""
    n, c = x.shape[:2]
    x3 = np.ascontiguousarray(x).reshape(n, c, -1)
    idx = np.arange(x3.size, dtype=np.int64).reshape(x3.shape).transpose(1, 0, 2)
    rows = gather("Transpose(NC->CN)", [x3], idx, (c, x3.size // c))
    inv = np.arange(x3.size, dtype=np.int64).reshape(c, n, -1).transpose(1, 0, 2)
    return rows, inv


def _channel_affine(rows, scale, shift, name):
    """rows (C, D) * scale[c] + shift[c] on the Vector unit (per-row scalars broadcast in GM)."""
    c, d = rows.shape
    return elementwise(name, lambda v, s, t: v * s + t,
                       [rows, _row_bcast(np.ascontiguousarray(scale, rows.dtype), rows.shape),
                        _row_bcast(np.ascontiguousarray(shift, rows.dtype), rows.shape)],
                       ["full"] * 3, [rows.dtype], rows.shape, 2)


def batch_norm(x, weight, bias, epsilon):
    """Channels become rows (MTE transpose); the LayerNorm row kernel gives mean, variance and x-hat per channel;
    a Vector kernel applies the per-channel affine; a transpose brings NCHW back."""
    d = x.size // max(x.shape[1], 1)
    if x.size == 0 or not rows_fit(d, x.dtype.itemsize, 5):
        return aicpu_bn[0](x, weight, bias, epsilon=epsilon)
    with op_scope("batch_norm"):
        rows, inv = _channels_as_rows(x)
        ones, zeros = np.ones(d, x.dtype), np.zeros(d, x.dtype)
        xh, mean, var = layer_norm_rows(rows, ones, zeros, epsilon)
        y = _channel_affine(xh, weight, bias, "Affine(channel)")
        return gather("Transpose(CN->NC)", [y], inv, x.shape), mean, var


def batch_norm_grad(x, dy, dmean, dvar, weight, epsilon):
    d = x.size // max(x.shape[1], 1)
    if x.size == 0 or not rows_fit(d, x.dtype.itemsize, 8):
        return aicpu_bn[1](x, dy, dmean, dvar, weight, epsilon=epsilon)
    with op_scope("batch_norm_grad"):
        xr, inv = _channels_as_rows(x)
        dyr, _ = _channels_as_rows(dy)
        dx, dyxh = layer_norm_grad_rows(xr, dyr, np.ascontiguousarray(dmean), np.ascontiguousarray(dvar),
                                        np.ones(d, x.dtype), epsilon, row_gamma=weight)
        dw = _reduce_2d(dyxh, "sum", x.dtype)
        db = _reduce_2d(dyr, "sum", x.dtype)
        return gather("Transpose(CN->NC)", [dx], inv, x.shape), dw, db


def batch_norm_infer(x, weight, bias, mean, var, epsilon):
    """scale = weight / sqrt(var + eps), shift = bias - mean * scale (a C-element Vector kernel), then one Vector
    pass over x with the per-channel scale and shift."""
    with op_scope("batch_norm_infer"):
        c = x.shape[1]
        scale = elementwise("Rsqrt*Mul", lambda w, v: w / np.sqrt(v + x.dtype.type(epsilon)), [weight, var],
                            ["full", "full"], [x.dtype], (c,), 6)
        shift = elementwise("Sub(Mul)", lambda b, m, s: b - m * s, [bias, mean, scale], ["full"] * 3, [x.dtype],
                            (c,), 2)
        rows, inv = _channels_as_rows(x)
        y = _channel_affine(rows, scale, shift, "Affine(channel)")
        return gather("Transpose(CN->NC)", [y], inv, x.shape)


aicpu_bn = [None, None]     # set by table.install: AI CPU fallbacks for channels too long for the UB


def prod_except_self(x, axis):
    """Group axes moved last (MTE transpose when needed), the two-way exclusive scan row kernel, transposed back.
    Rows too long for the UB run as an AI CPU task."""
    from mindlab.ops.abstract import norm_axes
    axes = norm_axes(axis, x.ndim)
    if x.size == 0:
        return np.ones_like(x)
    rows2, kept = move_axis_last(x, axes)
    if not rows_fit(rows2.shape[1], x.dtype.itemsize, 2):
        return aicpu_pes[0](x, axis=axis)
    with op_scope("prod_except_self"):
        out2 = prod_except_self_rows(np.ascontiguousarray(rows2))
        perm = [i for i in range(x.ndim) if i not in axes] + list(axes)
        if perm == list(range(x.ndim)):
            return out2.reshape(x.shape)
        moved = out2.reshape([x.shape[i] for i in perm])
        idx = np.arange(moved.size, dtype=np.int64).reshape(moved.shape).transpose(np.argsort(perm))
        return gather("Transpose", [moved], idx, x.shape)


aicpu_pes = [None]
