"""Fused elementwise kernels for the GPU: a ``FusedExpr`` (``kernels/cpu/fused.py`` describes it) becomes one
numba-cuda kernel — one pass over device memory for a whole chain of elementwise ops.

The steps are the same scalar expressions the CPU generator uses (each primitive's ``fuse`` template); their
vocabulary maps to CUDA device functions here: ``fexp``/``flog``/``ftanh``/``fsqrt`` -> CUDA's libdevice math
(``math.exp``..., float32 in float32), ``fsigmoid`` -> ``1 / (1 + exp(-x))`` computed without overflow,
``fmaximum``/``fminimum`` -> numpy's NaN-propagating max/min, ``np.sign``/``np.floor`` -> ``fsign``/``ffloor``.
The generated kernel is a grid-stride loop over the flattened output; full inputs are read at the element, row
inputs (a bias) at the column, scalar inputs once from a one-element device array. Each thread takes ``UNROLL``
elements at a time (``MINDLAB_CUDA_UNROLL``, default 2: fastest on an H200, 2026-11-27), all loaded before any is
computed, then the rest one by one:

    def fused_kernel(n, n_cols, in0, in1, in2, out0):
        s1 = in1[0]
        s2 = in2[0]
        stride = cuda.gridsize(1)
        i = cuda.grid(1)
        while i + 3 * stride < n:
            i_0 = i
            i_1 = i_0 + stride
            ...
            v0_0 = in0[i_0]
            v0_1 = in0[i_1]
            ...
            t0_0 = float32(v0_0 * s1)   # mul
            ...
            out0[i_0] = t2_0
            ...
            i = i_3 + stride
        while i < n:
            v0 = in0[i]
            ...
            i += stride

Kernels are cached by source; numba compiles each on its first launch.
"""
import math
import os
import re
import threading

import numpy as np
from numba import cuda

from ..cpu.fused import scalar_type_name, _TYPE_NAMES
from .runtime import xp, dev, launch

__all__ = ["compile_expr", "FusedCudaCall", "KERNELS", "cuda_source"]


@cuda.jit(device=True, inline=True)
def fexp(x):
    return math.exp(x)


@cuda.jit(device=True, inline=True)
def flog(x):
    return math.log(x)


@cuda.jit(device=True, inline=True)
def ftanh(x):
    return math.tanh(x)


@cuda.jit(device=True, inline=True)
def fsqrt(x):
    return math.sqrt(x)


@cuda.jit(device=True, inline=True)
def fsigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@cuda.jit(device=True, inline=True)
def fsigmoid_f32(x):
    """fsigmoid in float32 throughout: a Python ``1.0`` is a float64, and with it the division ran in double
    precision (``rcp.rn.f64`` in the PTX for sm_90)."""
    one = np.float32(1.0)
    if x >= 0:
        return one / (one + math.exp(-x))
    e = math.exp(x)
    return e / (one + e)


@cuda.jit(device=True, inline=True)
def fmaximum(a, b):
    return a if (a > b) | (a != a) else b


@cuda.jit(device=True, inline=True)
def fminimum(a, b):
    return a if (a < b) | (a != a) else b


@cuda.jit(device=True, inline=True)
def fsign(x):
    """numpy's sign: +-1, 0 for either zero, NaN for NaN (``1 + x * 0``, used before, gave NaN for +-inf)."""
    if x > 0:
        return 1
    if x < 0:
        return -1
    if x == 0:
        return 0
    return x


@cuda.jit(device=True, inline=True)
def fsign_f32(x):
    if x > 0:
        return np.float32(1.0)
    if x < 0:
        return np.float32(-1.0)
    if x == 0:
        return np.float32(0.0)
    return x


@cuda.jit(device=True, inline=True)
def ffloor(x):
    if x != x or x - x != 0:       # NaN or +-inf
        return x
    return x - (x % 1)


@cuda.jit(device=True, inline=True)
def ffloor_f32(x):
    if x != x or x - x != 0:
        return x
    return x - (x % np.float32(1.0))


NAMESPACE = {"math": math, "np": np, "cuda": cuda, "fexp": fexp, "flog": flog, "ftanh": ftanh, "fsqrt": fsqrt,
             "fsigmoid": fsigmoid, "fsigmoid_f32": fsigmoid_f32, "fmaximum": fmaximum, "fminimum": fminimum,
             "fsign": fsign, "fsign_f32": fsign_f32, "ffloor": ffloor, "ffloor_f32": ffloor_f32}
NAMESPACE.update({name: np.dtype(dt).type for dt, name in _TYPE_NAMES.items()})
_RENAMES = (("np.sign(", "fsign("), ("np.floor(", "ffloor("))
# float32 steps: variants whose constants are float32 (a Python constant is a float64 or int64, and numba promotes
# float32 arithmetic with either to float64; PTX for sm_90 showed f64 instructions in these three)
_F32_RENAMES = (("fsigmoid(", "fsigmoid_f32("), ("fsign(", "fsign_f32("), ("ffloor(", "ffloor_f32("))


UNROLL = max(1, int(os.environ.get("MINDLAB_CUDA_UNROLL", "2")))   # elements a thread loads before computing
_NAME = re.compile(r"\b([vt])(\d+)\b")


def _lane(text, u):
    """``text`` with the per-element names (v<k>, t<k>) of unrolled lane ``u``."""
    return _NAME.sub(lambda m: f"{m[1]}{m[2]}_{u}", text)


def _element_body(expr, index, col="j"):
    """The lines computing one element at ``index`` (column ``col`` for row inputs): loads, steps, stores."""
    loads = expr.loads(f"[{index}]", f"[{col}]")
    steps = []
    for k, (text, dtype, label) in enumerate(expr.steps):
        for old, new in _RENAMES + (_F32_RENAMES if dtype == np.float32 else ()):
            text = text.replace(old, new)
        steps.append(f"t{k} = {scalar_type_name(dtype)}({text})" + (f"   # {label}" if label else ""))
    stores = [f"out{k}[{index}] = t{step}" for k, step in enumerate(expr.outputs)]
    return loads, steps, stores


def _next_col(new, old):
    """Column ``new`` of the element ``stride`` after the one in column ``old``: no division (a 64-bit ``%`` per
    element costs a GPU about as much as the memory traffic of a small chain)."""
    return [f"{new} = {old} + col_step", f"{new} = {new} - n_cols if {new} >= n_cols else {new}"]


def cuda_source(expr, unroll=None):
    """Python source of the numba-cuda kernel for FusedExpr ``expr``: a grid-stride loop that takes ``unroll``
    elements a thread at a time (``i``, ``i + stride``, ...: a warp's loads stay coalesced), loading all of them
    before computing, so that each thread has ``unroll`` loads in flight — an elementwise kernel with one 4-byte
    load per thread reaches about half the memory bandwidth (cupy's own copy kernel: 1.6 of ~4 TB/s on an H200) —
    then the remaining elements one at a time. Row inputs are read at column ``j``, which advances by
    ``stride % n_cols`` without a division."""
    unroll = UNROLL if unroll is None else unroll
    rows = expr.has_rows
    ins = [f"in{k}" for k in range(len(expr.inputs))]
    outs = [f"out{k}" for k in range(len(expr.outputs))]
    lines = [f"def fused_kernel(n, n_cols, {', '.join(ins + outs)}):"]
    for k, (kind, _) in enumerate(expr.inputs):
        if kind == "scalar":
            lines.append(f"    s{k} = in{k}[0]")
    lines += ["    stride = cuda.gridsize(1)", "    i = cuda.grid(1)"]
    if rows:
        lines += ["    col_step = stride % n_cols", "    j = i % n_cols"]
    if unroll > 1:
        lines.append(f"    while i + {unroll - 1} * stride < n:")
        block = ["i_0 = i"] + [f"i_{u} = i_{u - 1} + stride" for u in range(1, unroll)]
        if rows:
            block.append("j_0 = j")
            for u in range(1, unroll):
                block += _next_col(f"j_{u}", f"j_{u - 1}")
        parts = [_element_body(expr, f"i_{u}", f"j_{u}") for u in range(unroll)]
        for which in range(3):          # every lane's loads, then every lane's steps, then the stores
            block += [_lane(x, u) for u, part in enumerate(parts) for x in part[which]]
        block.append(f"i = i_{unroll - 1} + stride")
        if rows:
            block += _next_col("j", f"j_{unroll - 1}")
        lines += ["        " + x for x in block]
    loads, steps, stores = _element_body(expr, "i")
    tail = loads + steps + stores + ["i += stride"] + (_next_col("j", "j") if rows else [])
    lines.append("    while i < n:")
    lines += ["        " + x for x in tail]
    return "\n".join(lines) + "\n"


KERNELS = {}
_lock = threading.Lock()


def _kernel(source):
    k = KERNELS.get(source)
    if k is None:
        with _lock:
            k = KERNELS.get(source)
            if k is None:
                ns = dict(NAMESPACE)
                exec(compile(source, "<mindlab fused cuda kernel>", "exec"), ns)   # our generated loop
                k = KERNELS[source] = cuda.jit(ns["fused_kernel"])
    return k


class FusedCudaCall:
    """The GPU kernel of a fused node: ``call(*device_arrays)`` -> device array (one output) or a tuple."""

    def __init__(self, expr, shape, row_size=1, unroll=None):
        self.expr = expr
        self.unroll = UNROLL if unroll is None else max(1, int(unroll))
        self.shape = tuple(shape)
        self.size = int(np.prod(self.shape, dtype=np.int64))
        self.n_cols = row_size if expr.has_rows else 1
        self.source = cuda_source(expr, self.unroll)
        self.kernel = _kernel(self.source)
        self.in_dtypes = [dt for _, dt in expr.inputs]
        self.kinds = [kind for kind, _ in expr.inputs]
        self.out_dtypes = [expr.steps[k][1] for k in expr.outputs]
        self._expect = [{"full": self.size, "scalar": 1, "row": self.n_cols}[kind] for kind in self.kinds]

    def __call__(self, *arrays):
        if len(arrays) != len(self.in_dtypes):
            raise ValueError(f"fused kernel takes {len(self.in_dtypes)} inputs, got {len(arrays)}")
        m = xp()
        args = []
        for k, (a, dt, n) in enumerate(zip(arrays, self.in_dtypes, self._expect)):
            a = dev(a, dt)
            if a.size != n:
                raise ValueError(f"fused kernel input {k}: expected {n} elements, got shape {list(a.shape)}")
            args.append(m.ascontiguousarray(a).reshape(-1))
        outs = [m.empty(self.size, dt) for dt in self.out_dtypes]
        # a grid of size / unroll threads (capped: grid-stride), so that each thread has unroll elements to load at once
        launch(self.kernel, -(-self.size // self.unroll), self.size, self.n_cols, *args, *outs)
        outs = [o.reshape(self.shape) for o in outs]
        return outs[0] if len(outs) == 1 else tuple(outs)


def compile_expr(expr, shape, row_size=1, work_per_element=1.0):
    """A FusedCudaCall for ``expr`` producing device arrays of ``shape`` (the fusion pass's builder for GPU)."""
    if not expr.outputs:
        raise ValueError("a fused expression needs at least one output")
    return FusedCudaCall(expr, shape, row_size)
