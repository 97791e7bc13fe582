"""GEMM and batched GEMM on the GPU: cupy.matmul, i.e. cuBLAS (cublasGemmEx / strided-batched GEMM)."""
from .runtime import xp


def _t(a):
    return xp().swapaxes(a, -1, -2)


def _matmul(x, y, transpose_a, transpose_b):
    return xp().matmul(x.T if transpose_a else x, y.T if transpose_b else y)


def _batch_matmul(x, y, transpose_a, transpose_b):
    return xp().matmul(_t(x) if transpose_a else x, _t(y) if transpose_b else y)


KERNELS = {"matmul": _matmul, "batch_matmul": _batch_matmul}
