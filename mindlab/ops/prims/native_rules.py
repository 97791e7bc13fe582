"""``native`` rules: how a primitive's value is computed inside a whole-program native kernel (runtime/native.py).

A rule is ``rule(emit, args, avals, out, **attrs)``: ``args`` are the operands' names in the generated numba
source (0-d values are scalars there, everything else C-contiguous arrays), ``avals`` their abstract values and
``out`` the node's; ``emit.node_id`` is what a failing check reports. It returns the expression of the node's value — calling compiled kernels it makes callable
with ``emit.use`` (kernels/cpu/native.py) — or None when it does not take these operands; the graph then runs
through the executor. Rules only accept cases whose result dtype is the inferred one without a cast.

The primitives name their rule in their ``defprim`` (``native=native_rules.binary("+")`` ...); this module holds
the rule makers several families share, so each primitive's entry stays one line.
"""
import numpy as np

from ...kernels.cpu import native as _k
from ...kernels.cpu import mkl as _mkl
from ...kernels.cpu import pool as _pool
from ...kernels.cpu import softmax as _softmax

__all__ = ["binary", "select", "reduce_sum", "reduce_mean", "matmul", "product", "xent", "momentum", "assign", "reshape",
           "transpose", "softmax", "softmax_grad", "conv2d", "conv2d_backprop_input", "conv2d_backprop_filter",
           "max_pool", "max_pool_grad"]

_FLOATS = frozenset("fd")


def _same_dtype(avals, out):
    return all(a.dtype is out.dtype for a in avals)


def binary(symbol):
    """``a <symbol> b`` with numpy broadcasting, all of one dtype: an explicit loop (``_binary_loop``) where one
    operand is full-shape and the other 0-d, full or varying along one block of axes (a bias), else numba's
    broadcasting array expression."""
    def rule(emit, args, avals, out):
        if not _same_dtype(avals, out) or out.dtype.kind == "b":
            return None
        return _binary_loop(emit, symbol, args, avals, out) or f"({args[0]} {symbol} {args[1]})"
    return rule


def _block(shape, full):
    """(outer, mid, inner) when an operand of ``shape`` broadcast to ``full`` varies along one contiguous block of
    axes only (``full`` = outer x mid x inner, the operand = mid elements), else None."""
    shape = (1,) * (len(full) - len(shape)) + tuple(shape)
    varying = [k for k, (d, f) in enumerate(zip(shape, full)) if d == f and f != 1]
    if any(d not in (1, f) for d, f in zip(shape, full)):
        return None
    lo, hi = (varying[0], varying[-1] + 1) if varying else (0, 0)
    if any(shape[k] == 1 and full[k] != 1 for k in range(lo, hi)):
        return None
    size = lambda dims: int(np.prod(dims, dtype=np.int64))
    return size(full[:lo]), size(full[lo:hi]), size(full[hi:])


def _binary_loop(emit, symbol, args, avals, out):
    """The loop for ``binary``, or None. Why not numba's array expression: it checks every axis of each operand for
    broadcasting at run time, and LLVM unswitches the loop nest on those checks — 2^k copies, each vectorised and
    unrolled. A LeNet-5 train step's program came to 8.7 MB of IR and 45-60 s of compile time from four bias
    adds; these loops index each operand directly."""
    shape = tuple(out.shape)
    if shape == () or 0 in shape:
        return None
    kinds = []
    for aval in avals:
        if tuple(aval.shape) == shape:
            kinds.append("full")
        elif aval.shape == ():
            kinds.append("scalar")
        else:
            kinds.append(_block(tuple(aval.shape), shape))
    if "full" not in kinds or any(k is None for k in kinds):
        return None
    t = emit.fresh()
    dt = f"np.{out.dtype.np.name}"
    blocks = [k for k in kinds if isinstance(k, tuple)]
    outer, mid, inner = blocks[0] if blocks else (1, 1, int(np.prod(shape, dtype=np.int64)))
    grid = (outer, mid, inner)
    emit.line(f"{t} = np.empty({shape!r}, {dt})")
    emit.line(f"{t}_g = {t}.reshape({grid!r})")
    terms = []
    for k, (a, kind) in enumerate(zip(args, kinds)):
        if kind == "full":
            emit.line(f"{t}_{k} = {a}.reshape({grid!r})")
            terms.append(f"{t}_{k}[_i0, _i1, _i2]")
        elif kind == "scalar":
            terms.append(a)
        else:
            emit.line(f"{t}_{k} = {a}.reshape(({mid},))")
            terms.append(f"{t}_{k}[_i1]")
    emit.line(f"for _i0 in range({outer}):")
    emit.line(f"    for _i1 in range({mid}):")
    emit.line(f"        for _i2 in range({inner}):")
    emit.line(f"            {t}_g[_i0, _i1, _i2] = {terms[0]} {symbol} {terms[1]}")
    return t


def select(emit, args, avals, out):
    cond, x, y = avals
    if cond.dtype.kind != "b" or not (x.dtype is y.dtype is out.dtype):
        return None
    shape = out.shape
    if cond.shape != shape:
        return None
    if shape == ():                       # 0-d values are scalars in a native program
        return f"({args[1]} if {args[0]} else {args[2]})"
    if x.shape == shape and y.shape == shape:
        return f"{emit.use(_k.select_aa)}({', '.join(args)})"
    if x.shape == shape and y.shape == ():
        return f"{emit.use(_k.select_as)}({', '.join(args)})"
    if x.shape == () and y.shape == shape:
        return f"{emit.use(_k.select_sa)}({', '.join(args)})"
    return None


def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(a % ndim for a in ((axis,) if isinstance(axis, int) else axis)))


def reduce_sum(emit, args, avals, out, axis, keep_dims):
    x = avals[0]
    if x.dtype.np.char not in _FLOATS or out.dtype is not x.dtype or x.size == 0:
        return None
    if x.shape == ():                           # a 0-d value is a scalar in a native program: its own sum
        return args[0]
    axes = _axes(axis, len(x.shape))
    if keep_dims and not (x.ndim == 4 and axes == (0, 2, 3)):
        return None
    if x.ndim == 2 and axes == (0,) and not keep_dims:
        return f"{emit.use(_k.colsum)}({args[0]})"
    if x.ndim == 4 and axes == (0, 2, 3):      # a convolution's bias gradient
        value = f"{emit.use(_k.chansum)}({args[0]})"
        return f"{value}.reshape({tuple(out.shape)!r})" if keep_dims else value
    if axes == tuple(range(x.ndim)):
        return f"{emit.use(_k.sum_all)}({args[0]})"
    return None


def reduce_mean(emit, args, avals, out, axis, keep_dims):
    x = avals[0]
    if keep_dims or x.dtype.np.char not in _FLOATS or out.dtype is not x.dtype or x.size == 0 or x.shape == ():
        return None
    if _axes(axis, len(x.shape)) != tuple(range(x.ndim)):
        return None
    return f"{emit.use(_k.mean_all)}({args[0]})"


def matmul(emit, args, avals, out, transpose_a, transpose_b):
    a, b = avals
    if a.ndim != 2 or b.ndim != 2 or a.dtype.np.char not in _FLOATS or not _same_dtype(avals, out):
        return None
    x, y = product(args, transpose_a, transpose_b)
    return f"{emit.use(_k.matmul)}({x}, {y}, {_mkl.SMALL_FLOPS})"


def product(args, transpose_a, transpose_b):
    """The two operands of a matmul as the GEMM takes them: transposes as views (MKL reads them in place)."""
    return f"{args[0]}.T" if transpose_a else args[0], f"{args[1]}.T" if transpose_b else args[1]


def xent(grad):
    """sparse_softmax_cross_entropy (``grad``: its gradient): a bad label stops the native call."""
    def rule(emit, args, avals, out):
        logits, labels = avals
        if logits.ndim != 2 or logits.dtype.np.char not in _FLOATS or labels.dtype.np.char not in "il":
            return None
        fn = _k.xent_grad if grad else _k.xent
        return f"{emit.use(fn)}({args[0]}, {args[1]}, {int(emit.node_id)})"
    return rule


def momentum(emit, args, avals, out, use_nesterov):
    var, acc, lr, grad, mom = avals
    if (var.dtype.np.char not in _FLOATS or not (acc.dtype is grad.dtype is var.dtype) or acc.shape != var.shape
            or grad.shape != var.shape or lr.shape != () or mom.shape != ()):
        return None
    return f"{emit.use(_k.momentum)}({', '.join(args)}, {bool(use_nesterov)})"


def assign(emit, args, avals, out):
    var, value = avals
    if value.dtype is not var.dtype or not (value.shape == var.shape or value.size == 1):
        return None
    return f"{emit.use(_k.assign)}({args[0]}, {args[1]})"


def reshape(emit, args, avals, out, shape):
    if avals[0].shape == () or out.shape == ():
        return None
    return f"{args[0]}.reshape({tuple(out.shape)!r})"


def transpose(emit, args, avals, out, perm):
    if avals[0].ndim < 2 or out.dtype is not avals[0].dtype:
        return None
    return f"np.ascontiguousarray(np.transpose({args[0]}, {tuple(int(p) for p in perm)!r}))"


def _rows_ok(x, out, axis, limit):
    """Along the last axis of a float tensor that the CPU kernel takes as rows (the same numerics as it)."""
    return (x.ndim >= 1 and x.size > 0 and x.dtype.np.char in _FLOATS and out.dtype is x.dtype
            and axis % x.ndim == x.ndim - 1 and x.size <= limit)


def softmax(log):
    """softmax / log_softmax along the last axis, for tensors the CPU kernel runs as rows (kernels/cpu/softmax.py)."""
    def rule(emit, args, avals, out, axis):
        x = avals[0]
        if not _rows_ok(x, out, axis, _softmax.FUSED_MAX_SIZE):
            return None
        rows = f"{args[0]}.reshape((-1, {x.shape[-1]}))"
        return f"{emit.use(_softmax._softmax_rows)}({rows}, {bool(log)}).reshape({tuple(x.shape)!r})"
    return rule


def softmax_grad(log):
    def rule(emit, args, avals, out, axis):
        y = avals[0]
        if avals[1].shape != y.shape or not _rows_ok(y, out, axis, _softmax.FUSED_MAX_SIZE if log else y.size):
            return None
        n = y.shape[-1]
        return (f"{emit.use(_softmax._softmax_grad_rows)}({args[0]}.reshape((-1, {n})), {args[1]}.reshape((-1, {n})), "
                f"{bool(log)}).reshape({tuple(y.shape)!r})")
    return rule


def _conv_ok(avals, out, stride, groups):
    return (tuple(stride) == (1, 1) and groups == 1 and avals[0].dtype.np.char in _FLOATS
            and _same_dtype(avals, out) and all(a.ndim == 4 for a in avals))


def conv2d(emit, args, avals, out, stride, pad, dilation, groups):
    """Stride-1, one-group convolutions: per sample through MKL (kernels/cpu/conv_tiled.py)."""
    if not _conv_ok(avals, out, stride, groups):
        return None
    oh, ow = out.shape[2:]
    return f"{emit.use(_k.conv2d)}({args[0]}, {args[1]}, {oh}, {ow}, {_lit(pad)}, {_lit(dilation)})"


def conv2d_backprop_input(emit, args, avals, out, input_size, stride, pad, dilation, groups):
    if not _conv_ok(avals, out, stride, groups):
        return None
    return (f"{emit.use(_k.conv2d_backprop_input)}({args[0]}, {args[1]}, {_lit(input_size)}, {_lit(pad)}, "
            f"{_lit(dilation)}, {int(emit.node_id)})")


def conv2d_backprop_filter(emit, args, avals, out, filter_size, stride, pad, dilation, groups):
    if not _conv_ok(avals, out, stride, groups):
        return None
    return (f"{emit.use(_k.conv2d_backprop_filter)}({args[0]}, {args[1]}, {_lit(filter_size)}, {_lit(pad)}, "
            f"{_lit(dilation)}, {int(emit.node_id)})")


def _lit(values):
    """Integers spread as call arguments."""
    return ", ".join(str(int(v)) for v in values)


def _pool_geo(kernel, stride, pad):
    return f"{_lit(kernel)}, {_lit(stride)}, {int(pad[0])}, {int(pad[2])}"


def max_pool(emit, args, avals, out, kernel, stride, pad):
    x = avals[0]
    if x.ndim != 4 or x.dtype.np.char not in _FLOATS or out.dtype is not x.dtype:
        return None
    oh, ow = out.shape[2:]
    return f"{emit.use(_pool.max_pool)}({args[0]}, {_pool_geo(kernel, stride, pad)}, {oh}, {ow})"


def max_pool_grad(emit, args, avals, out, kernel, stride, pad):
    x, dout = avals
    if x.ndim != 4 or x.dtype.np.char not in _FLOATS or not _same_dtype(avals, out):
        return None
    return f"{emit.use(_pool.max_pool_grad)}({args[0]}, {args[1]}, {_pool_geo(kernel, stride, pad)})"
