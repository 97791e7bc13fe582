"""Matrix products: matmul (2-D, with transpose flags) and batch_matmul. numpy/BLAS on CPU."""
import numpy as np

from ...errors import ShapeError, DTypeError
from ..abstract import AbstractTensor, broadcast_shapes, same_dtype
from ..registry import defprim, Cost
from ..shard import ShardSpec
from ..dispatch import bind
from .._api import Primitive, as_tensor
from .reduce_ops import sum_to
from ...kernels.cpu import blas as _blas
from . import native_rules as _native

__all__ = ["matmul", "batch_matmul"]
__operations__ = ["MatMul", "BatchMatMul"]


def _check_dtypes(x, y):
    if x.dtype is not y.dtype:
        raise DTypeError(f"both inputs must have the same dtype, got {x.dtype} and {y.dtype}")
    if x.dtype.kind == "b":
        raise DTypeError("bool inputs are not supported")


# ---------------------------------------------------------------- matmul
def _matmul_infer(x, y, transpose_a, transpose_b):
    if x.ndim != 2 or y.ndim != 2:
        raise ShapeError(f"inputs must be 2-D, got shapes {list(x.shape)} and {list(y.shape)} "
                         f"(use batch_matmul or ops.matmul for batched inputs)")
    _check_dtypes(x, y)
    m, k = x.shape[::-1] if transpose_a else x.shape
    k2, n = y.shape[::-1] if transpose_b else y.shape
    if k != k2:
        raise ShapeError(f"inner dimensions differ: {list(x.shape)}{'ᵀ' if transpose_a else ''} @ "
                         f"{list(y.shape)}{'ᵀ' if transpose_b else ''} contracts {k} with {k2}")
    return AbstractTensor((m, n), x.dtype)


def _matmul_cpu(x, y, transpose_a, transpose_b):
    return _blas.matmul(x.T if transpose_a else x, y.T if transpose_b else y)


def _matmul_cost(x, y, transpose_a, transpose_b):
    m, k = x.shape[::-1] if transpose_a else x.shape
    n = y.shape[0] if transpose_b else y.shape[1]
    return Cost(2 * m * n * k, x.nbytes + y.nbytes + m * n * x.dtype.np.itemsize)


def _matmul_bprop(inputs, out, dout, transpose_a, transpose_b, needs=None):
    x, y = inputs
    dx = dy = None
    if needs is None or needs[0]:
        if transpose_a:
            dx = matmul(y, dout, transpose_a=transpose_b, transpose_b=True)
        else:
            dx = matmul(dout, y, transpose_a=False, transpose_b=not transpose_b)
    if needs is None or needs[1]:
        if transpose_b:
            dy = matmul(dout, x, transpose_a=True, transpose_b=transpose_a)
        else:
            dy = matmul(x, dout, transpose_a=not transpose_a, transpose_b=False)
    return dx, dy


def _matmul_shard(x, y, transpose_a, transpose_b):
    """x (m, k) @ y (k, n): m and n split the output; a split k leaves partial sums (AllReduce after)."""
    return ShardSpec((("k", "m") if transpose_a else ("m", "k"), ("n", "k") if transpose_b else ("k", "n")),
                     (("m", "n"),), reduce={"k": "sum"})


matmul_p = defprim("matmul", infer=_matmul_infer, cpu=_matmul_cpu, cost=_matmul_cost, bprop=_matmul_bprop,
                   shard=_matmul_shard, native=_native.matmul)


# ---------------------------------------------------------------- batch_matmul
def _batch_matmul_infer(x, y, transpose_a, transpose_b):
    if x.ndim < 2 or y.ndim < 2:
        raise ShapeError(f"inputs must have rank >= 2, got shapes {list(x.shape)} and {list(y.shape)}")
    _check_dtypes(x, y)
    m, k = x.shape[-1:-3:-1] if transpose_a else x.shape[-2:]
    k2, n = y.shape[-1:-3:-1] if transpose_b else y.shape[-2:]
    if k != k2:
        raise ShapeError(f"inner dimensions differ: contracting {k} with {k2} "
                         f"(shapes {list(x.shape)} and {list(y.shape)}, transpose_a={transpose_a}, "
                         f"transpose_b={transpose_b})")
    batch = broadcast_shapes(x.shape[:-2], y.shape[:-2])
    return AbstractTensor(batch + (m, n), x.dtype)


def _t(a):
    return np.swapaxes(a, -1, -2)


def _batch_matmul_cpu(x, y, transpose_a, transpose_b):
    return _blas.matmul(_t(x) if transpose_a else x, _t(y) if transpose_b else y)


def _batch_matmul_cost(x, y, transpose_a, transpose_b):
    out = _batch_matmul_infer(x, y, transpose_a, transpose_b)
    k = x.shape[-2] if transpose_a else x.shape[-1]
    return Cost(2 * out.size * k, x.nbytes + y.nbytes + out.nbytes)


def _batch_matmul_bprop(inputs, out, dout, transpose_a, transpose_b, needs=None):
    x, y = inputs
    dx = dy = None
    if needs is None or needs[0]:
        if transpose_a:
            dx = batch_matmul(y, dout, transpose_a=transpose_b, transpose_b=True)
        else:
            dx = batch_matmul(dout, y, transpose_a=False, transpose_b=not transpose_b)
        dx = sum_to(dx, x.shape)
    if needs is None or needs[1]:
        if transpose_b:
            dy = batch_matmul(dout, x, transpose_a=True, transpose_b=transpose_a)
        else:
            dy = batch_matmul(x, dout, transpose_a=not transpose_a, transpose_b=False)
        dy = sum_to(dy, y.shape)
    return dx, dy


def _batch_matmul_shard(x, y, transpose_a, transpose_b):
    """Batch dims split alike (a broadcast size-1 batch dim is read whole); m, n, k as for matmul."""
    nb = _batch_matmul_infer(x, y, transpose_a, transpose_b).ndim - 2
    out_b = tuple(f"b{i}" for i in range(nb))
    full = broadcast_shapes(x.shape[:-2], y.shape[:-2])

    def batch(a):
        off = nb - (a.ndim - 2)
        return tuple(out_b[off + i] if a.shape[i] == full[off + i] else None for i in range(a.ndim - 2))
    return ShardSpec((batch(x) + (("k", "m") if transpose_a else ("m", "k")),
                      batch(y) + (("n", "k") if transpose_b else ("k", "n"))),
                     (out_b + ("m", "n"),), reduce={"k": "sum"})


batch_matmul_p = defprim("batch_matmul", infer=_batch_matmul_infer, cpu=_batch_matmul_cpu,
                         cost=_batch_matmul_cost, bprop=_batch_matmul_bprop, shard=_batch_matmul_shard)


def matmul(input, other, transpose_a=False, transpose_b=False):
    """Matrix product. 2-D inputs use the ``matmul`` primitive (``transpose_a/b`` transpose an operand first);
    higher-rank inputs broadcast over leading batch dims via ``batch_matmul``."""
    x, y = as_tensor(input), as_tensor(other)
    p = matmul_p if (x.ndim == 2 and y.ndim == 2) else batch_matmul_p
    return bind(p, x, y, transpose_a=bool(transpose_a), transpose_b=bool(transpose_b))


def batch_matmul(x, y, transpose_a=False, transpose_b=False):
    """Batched matrix product over leading (broadcast) dims of rank >= 2 inputs."""
    return bind(batch_matmul_p, as_tensor(x), as_tensor(y), transpose_a=bool(transpose_a),
                transpose_b=bool(transpose_b))


class MatMul(Primitive):
    """``P.MatMul(transpose_a=False, transpose_b=False)(x, y)`` on 2-D tensors."""

    def __init__(self, transpose_a=False, transpose_b=False):
        super().__init__()
        self.transpose_a, self.transpose_b = bool(transpose_a), bool(transpose_b)

    def __call__(self, x, y):
        return bind(matmul_p, as_tensor(x), as_tensor(y), transpose_a=self.transpose_a, transpose_b=self.transpose_b)


class BatchMatMul(MatMul):
    """``P.BatchMatMul(transpose_a=False, transpose_b=False)(x, y)``."""

    def __call__(self, x, y):
        return batch_matmul(x, y, self.transpose_a, self.transpose_b)
