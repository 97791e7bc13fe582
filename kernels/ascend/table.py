"""How every registry primitive runs on Ascend: its kernel, or its decomposition into Ascend kernels.

``ROUTES[name] = (route, how)``; ``install()`` sets ``prim.impl["Ascend"]`` for every primitive in the registry
from it, and raises if a primitive has no route (``tests/ascend/test_registry_ascend.py`` walks the registry).
Routes:

* ``vector``   — an elementwise Vector kernel (CopyIn -> Compute -> CopyOut, double-buffered; ``k_vector``);
* ``inplace``  — a Vector kernel updating parameters/state in place in GM (optimizers, assign);
* ``rows``     — a row-wise Vector kernel after moving the reduced axis last (``k_rows``);
* ``cube``     — the Cube matmul with fractal tiling (``k_cube``); conv via img2col + Cube (``k_conv``);
* ``mte``      — an MTE gather (transpose, slicing, concat, gather...; ``k_move``);
* ``view``     — a reshape of the same bytes: no kernel;
* ``aicpu``    — an AI CPU task (irregular, data-dependent ops), priced as scalar work per element.
"""
import numpy as np

from . import ops_basic as B
from . import ops_pool as P
from . import ops_scatter as S
from .k_cube import matmul, batch_matmul
from .k_conv import conv2d, conv2d_backprop_input, conv2d_backprop_filter
from .sim import op_scope

__all__ = ["ROUTES", "install", "route_table"]

# vector passes per element of the elementwise ops that take more than one simple instruction
_PASSES = {"div": 4, "exp": 4, "log": 4, "sqrt": 4, "rsqrt": 5, "reciprocal": 4, "pow": 9, "tanh": 8,
           "sigmoid": 8, "gelu": 20, "gelu_grad": 24, "softplus": 12, "floor_div": 6, "floor_mod": 7, "sign": 2,
           "select": 1, "dropout": 2, "extremum_mask": 3,
           "sin": 8, "cos": 8, "tan": 10, "atan": 10, "sinh": 8, "cosh": 8, "erf": 12, "log1p": 5, "expm1": 5,
           "atan2": 14, "ceil": 1, "round": 1}

_VECTOR = ["add", "sub", "mul", "div", "neg", "exp", "pow", "floor_div", "floor_mod", "square", "maximum", "minimum",
           "log", "sqrt", "rsqrt", "reciprocal", "abs", "sign", "floor", "tanh", "sigmoid", "relu", "gelu",
           "gelu_grad", "softplus", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
           "logical_and", "logical_or", "logical_not", "select", "cast", "dropout",
           "sin", "cos", "tan", "atan", "sinh", "cosh", "erf", "log1p", "expm1", "atan2", "ceil", "round"]
_REDUCE = {"sum": "sum", "mean": "mean", "max": "max", "min": "min", "prod": "prod", "all": "all", "any": "any",
           "argmax": "argmax", "argmin": "argmin"}
_MTE = {"broadcast_to": (0,), "transpose": (0,), "tensor_getitem": (0,), "strided_slice": (0,), "concat": None,
        "stack": None, "split": (0,), "gather": (0,), "gather_nd": (0,), "tile": (0,),
        # writes without accumulation are gathers too: the index map says which input each output element keeps
        "tensor_getitem_grad": (0,), "tensor_setitem": (0, 1), "tensor_scatter_update": (0, 2)}
_VIEW = ["reshape", "expand_dims", "squeeze", "identity", "stop_gradient"]
_AICPU = {
    "dropout_gen_mask": "random bits from the seeded generator (DropOutGenMask is an AI CPU op in CANN)",
}
_INPLACE = {"assign": ((0,), 1), "apply_momentum": ((0, 1), 1), "sgd": ((0, 3, 5), 1), "adam": ((0, 1, 2), 3),
            "adam_weight_decay": ((0, 1, 2), 3)}


def _matmul(x, y, transpose_a=False, transpose_b=False):
    return matmul(x, y, transpose_a, transpose_b, out_dtype=np.result_type(x.dtype, y.dtype), name="MatMul")


def _batch_matmul(x, y, transpose_a=False, transpose_b=False):
    return batch_matmul(x, y, transpose_a, transpose_b, out_dtype=np.result_type(x.dtype, y.dtype))


def _fill_value(kind):
    def value_of(*arrays, **attrs):
        if kind == "fill":
            return tuple(attrs["shape"]), attrs["dtype"].np, attrs["value"]
        x = np.asarray(arrays[0])
        return x.shape, x.dtype, 0 if kind == "zeros_like" else 1
    return value_of


ROUTES = {}
for _n in _VECTOR:
    ROUTES[_n] = ("vector", "elementwise Vector kernel")
for _n, _op in _REDUCE.items():
    ROUTES[_n] = ("rows", f"reduced axes moved last (MTE transpose if needed), row {_op} on the Vector unit")
for _n in _MTE:
    ROUTES[_n] = ("mte", "MTE gather with the op's index map")
for _n in _VIEW:
    ROUTES[_n] = ("view", "same GM bytes, new shape: no kernel")
for _n, _why in _AICPU.items():
    ROUTES[_n] = ("aicpu", _why)
for _n in _INPLACE:
    ROUTES[_n] = ("inplace", "Vector kernel updating the parameter and its state in GM")
ROUTES.update({
    "zeros_like": ("vector", "Vector Duplicate"), "ones_like": ("vector", "Vector Duplicate"),
    "fill": ("vector", "Vector Duplicate"),
    "matmul": ("cube", "Cube: ND2NZ -> L1, LoadData -> L0A/L0B, Mmad -> L0C, Fixpipe -> UB -> GM (fp16 in, fp32 acc)"),
    "batch_matmul": ("cube", "Cube matmul over the broadcast batch (tiles of all batches spread over the cores)"),
    "conv2d": ("cube", "Cast + TransData(NC1HWC0) + Conv2D kernel (image in L1, Load3D img2col into L0A, Mmad) "
                       "+ TransData(NCHW); img2col gather in GM + Cube matmul when an image does not fit L1"),
    "conv2d_backprop_input": ("cube", "the Conv2D kernel over dout with the transposed Load3D map and the weight "
                                      "seen from dout's side (GM fallback: Cube + col2im as gather + ReduceSum)"),
    "conv2d_backprop_filter": ("cube", "Conv2DBackpropFilter kernel: dout^T from L1 x patches Load3D'd into L0B, "
                                       "partial sums per sample group + column ReduceSum (GM img2col fallback)"),
    "softmax": ("rows", "SoftmaxV2 row kernel: ReduceMax, Sub, Exp, ReduceSum, Div in UB (rows too long for the "
                        "UB: two-stage ReduceMax/ReduceSum + Vector Exp/Div kernels)"),
    "log_softmax": ("rows", "LogSoftmaxV2 row kernel"),
    "softmax_grad": ("rows", "SoftmaxGrad row kernel"),
    "log_softmax_grad": ("rows", "LogSoftmaxGrad row kernel"),
    "sparse_softmax_cross_entropy": ("rows", "LogSoftmax row kernel + label gather (MTE) + Neg (Vector)"),
    "sparse_softmax_cross_entropy_grad": ("rows", "Softmax row kernel + one-hot subtraction (Vector)"),
    "layer_norm": ("rows", "LayerNorm row kernel: mean, variance, rsqrt, affine in UB (AI CPU when gamma spans "
                           "non-normalised dims, begin_params_axis < begin_norm_axis, or a row overflows the UB)"),
    "layer_norm_grad": ("rows", "LayerNormGrad row kernel + column ReduceSum for dgamma/dbeta (AI CPU when "
                                "begin_params_axis < begin_norm_axis)"),
    "max_pool": ("rows", "window gather (MTE, pad = -inf) + row ReduceMax"),
    "batch_norm": ("rows", "channels as rows (MTE transpose) + LayerNorm row kernel + per-channel affine (Vector) "
                           "+ transpose back (AI CPU when one channel overflows the UB)"),
    "batch_norm_grad": ("rows", "channels as rows + LayerNormGrad row kernel with the weight per row + row "
                                "ReduceSums for dweight/dbias"),
    "batch_norm_infer": ("vector", "per-channel scale/shift (a C-element Vector kernel) + one affine pass"),
    "avg_pool": ("rows", "window gather (MTE) + row ReduceSum + Div by the window count"),
    "max_pool_grad": ("rows", "window gather + row ArgMax + one-hot rows (Vector) + col2im as gather + ReduceSum"),
    "max_pool_grad_grad": ("rows", "window gathers of x and g + row ArgMax + one-hot select + row ReduceSum"),
    "avg_pool_grad": ("rows", "Div by the window count + broadcast rows + col2im as gather + ReduceSum"),
    "unsorted_segment_sum": ("rows", "inverse map of the ids (Scalar unit) + gather + row ReduceSum: no scatter"),
    "scatter_nd": ("rows", "inverse map of the indices (Scalar unit) + gather + row ReduceSum: no scatter"),
    "one_hot": ("vector", "broadcast indices + Vector compare with a column iota + select (+ MTE transpose)"),
    "prod_except_self": ("rows", "group axes moved last + exclusive prefix/suffix product scans on the Vector unit "
                                 "(AI CPU when a group overflows the UB)"),
    "extremum_mask": ("vector", "Vector compare with the broadcast max/min + Ascend sum (keep dims) + Vector Div"),
})


def _impl(name, prim):
    route = ROUTES[name][0]
    if name in ("zeros_like", "ones_like", "fill"):
        return B.duplicate(_fill_value(name))
    if name in ("batch_norm_infer", "one_hot", "extremum_mask"):
        return _special(name, prim)
    if route == "vector":
        return B.elementwise_op(prim, _PASSES.get(name, 1))
    if route == "inplace":
        inplace, returns = _INPLACE[name]
        return B.inplace_update(prim, inplace, returns, 12 if name.startswith("adam") else 4)
    if route == "mte":
        return B.movement(prim, _MTE[name])
    if route == "view":
        return B.view(prim)
    if route == "aicpu":
        return B.aicpu(prim)
    if name in _REDUCE:
        return B.reduction(prim, _REDUCE[name])
    return _special(name, prim)


def _registry():
    from mindlab.ops.registry import REGISTRY
    return REGISTRY


def _special(name, prim):
    special = {
        "matmul": _matmul, "batch_matmul": _batch_matmul, "conv2d": conv2d,
        "conv2d_backprop_input": conv2d_backprop_input, "conv2d_backprop_filter": conv2d_backprop_filter,
        "softmax": B.softmax_family("softmax"), "log_softmax": B.softmax_family("log_softmax"),
        "softmax_grad": B.softmax_family("softmax_grad"), "log_softmax_grad": B.softmax_family("log_softmax_grad"),
        "sparse_softmax_cross_entropy": B.xent, "sparse_softmax_cross_entropy_grad": B.xent_grad,
        "layer_norm": B.layer_norm, "layer_norm_grad": B.layer_norm_grad, "batch_norm": B.batch_norm,
        "batch_norm_grad": B.batch_norm_grad, "batch_norm_infer": B.batch_norm_infer,
        "max_pool": P.max_pool, "avg_pool": P.avg_pool, "max_pool_grad": P.max_pool_grad,
        "max_pool_grad_grad": P.max_pool_grad_grad, "avg_pool_grad": P.avg_pool_grad,
        "prod_except_self": B.prod_except_self, "unsorted_segment_sum": S.unsorted_segment_sum, "scatter_nd": S.scatter_nd, "one_hot": S.one_hot,
        "extremum_mask": lambda x, out, axis, keep_dims: S.extremum_mask(
            x, out, axis, keep_dims, B.reduction(_registry()["sum"], "sum")),
    }
    return special[name]


def _scoped(name, fn):
    def impl(*arrays, **attrs):
        with op_scope(name):
            return fn(*arrays, **attrs)
    impl.__name__ = f"ascend_{name}"
    impl.__doc__ = f"{name} on Ascend: {ROUTES[name][1]}"
    impl.route = ROUTES[name]
    return impl


def install(registry=None):
    """Set ``impl["Ascend"]`` on every registered primitive; raises naming the primitives without a route."""
    if registry is None:
        from mindlab.ops.registry import REGISTRY as registry
    missing = sorted(set(registry) - set(ROUTES))
    if missing:
        raise RuntimeError(f"Ascend backend: no kernel or decomposition for primitives {missing}; add them to "
                           f"kernels/ascend/table.py ROUTES")
    B.aicpu_layer_norm[:] = [B.aicpu(registry["layer_norm"]), B.aicpu(registry["layer_norm_grad"])]
    B.aicpu_bn[:] = [B.aicpu(registry["batch_norm"]), B.aicpu(registry["batch_norm_grad"])]
    B.aicpu_pes[:] = [B.aicpu(registry["prod_except_self"])]
    for name, prim in registry.items():
        prim.impl["Ascend"] = _scoped(name, _impl(name, prim))
    return len(registry)


def route_table():
    """Markdown table of every primitive's route (for the docs and the notebook)."""
    rows = ["| primitive | runs as | how |", "|---|---|---|"]
    for name in sorted(ROUTES):
        r, how = ROUTES[name]
        rows.append(f"| `{name}` | {r} | {how} |")
    return "\n".join(rows)
