"""fuse_gemm_update: a Momentum update whose gradient is a matmul becomes one node doing both in one BLAS call.

A Dense layer's weight gradient is a matmul (``dout^T @ x``) whose only user is the optimizer's
``apply_momentum(variable, accumulation, lr, gradient, momentum)``, which computes ``accumulation = momentum *
accumulation + gradient`` and then ``variable -= lr * accumulation``. GEMM routines compute ``C = A @ B + beta * C``,
so the first half is the GEMM itself with ``C = accumulation`` and ``beta = momentum``: the gradient is never
written to memory and read back, and the update's remaining pass only reads the accumulation and writes the
variable. On the MLP step of issue 4 this saves two of the update's five passes over each weight (about 0.4 ms of
a 6-7 ms step on the 2-core machine; docs/benchmarks.md).

The rewrite happens in place: the ``apply_momentum`` node keeps its identity and position (it stays an effect, so
program order and the graph's effect list are unchanged) and takes the matmul's operands; the matmul node goes.
It is done only when it cannot change what is computed:

* the matmul has no other user (its value is not needed elsewhere);
* no effect runs between the matmul and the update when an effect may write the matmul's operands' storage
  (``analysis.effects.EffectInfo``: written inputs closed over views): the GEMM now runs at the update's position,
  so it must read the same values;
* the product is not tiny (``mkl.MIN_FLOPS``): below it one more library call costs more than the pass saves;
* plain Momentum (not Nesterov, which needs the gradient itself), 2-D float operands of the parameter's dtype;
* CPU with MKL's GEMM loaded (kernels/cpu/mkl.py), or the GPU (cuBLAS's GEMM through cupy, with ``beta`` read
  from device memory: kernels/cuda/optim.py).

At run time the kernel still checks its operands (contiguous, writeable state) and otherwise computes the matmul
and the update separately with the registered kernels, so the fused node is never less general than the two it
replaces. Runs after autodiff (the fused node is not differentiable) and before elementwise fusion.
"""
import numpy as np

from .. import context as _context
from ..ir.anf import Apply
from ..ops.registry import Primitive, Cost, not_differentiable
from ..ops.shard import ShardSpec
from ..ops.prims.linalg_ops import matmul_p
from ..ops.prims.optim_ops import apply_momentum_p
from ..ops.prims import native_rules as _native_rules
from ..kernels.cpu import mkl as _mkl
from ..kernels.cpu import native as _native_kernels
from ..kernels.cpu import optim as _optim
from .dce import effect_roots
from ..analysis.effects import EffectInfo

__all__ = ["fuse_gemm_update", "matmul_apply_momentum_p"]


def _kernel(variable, accumulation, learning_rate, a, b, momentum, transpose_a, transpose_b):
    x = a.T if transpose_a else a
    y = b.T if transpose_b else b
    # (gemm_into checks the accumulation itself; the descent needs the variable in place too)
    var_ok = variable.flags.c_contiguous and variable.flags.writeable and variable.dtype == x.dtype
    if var_ok and _mkl.gemm_into(x, y, accumulation, momentum.item()):
        _optim.descend(variable.reshape(-1), accumulation.reshape(-1), learning_rate.item())
        return variable
    gradient = matmul_p.impl["CPU"](a, b, transpose_a=transpose_a, transpose_b=transpose_b)
    return apply_momentum_p.impl["CPU"](variable, accumulation, learning_rate, gradient, momentum,
                                        use_nesterov=False)


def _infer(variable, accumulation, learning_rate, a, b, momentum, transpose_a, transpose_b):
    gradient = matmul_p.infer(a, b, transpose_a=transpose_a, transpose_b=transpose_b)
    return apply_momentum_p.infer(variable, accumulation, learning_rate, gradient, momentum, use_nesterov=False)


def _cost(variable, accumulation, learning_rate, a, b, momentum, transpose_a, transpose_b):
    gemm = matmul_p.cost(a, b, transpose_a=transpose_a, transpose_b=transpose_b)
    # the GEMM reads and writes the accumulation; the descent reads it and reads/writes the variable
    return Cost(gemm.flops + 2 * variable.size, a.nbytes + b.nbytes + 5 * variable.nbytes)


def _shard(variable, accumulation, learning_rate, a, b, momentum, transpose_a, transpose_b):
    """The update is elementwise over the parameter (m, n); the GEMM's contraction k is summed inside the update, so
    it cannot be split (a split k would need an AllReduce between the GEMM and the update)."""
    why = "the matmul's contraction is summed inside the fused Momentum update"
    ins = (("m", "n"), ("m", "n"), (), (None, "m") if transpose_a else ("m", None),
           ("n", None) if transpose_b else (None, "n"), ())
    k_dims = {(3, 0 if transpose_a else 1): why, (4, 1 if transpose_b else 0): why}
    return ShardSpec(ins, (("m", "n"),), inplace=(0, 1), why=k_dims)


def _native(emit, args, avals, out, transpose_a, transpose_b):
    """In a native program (runtime/native.py): kernels/cpu/native.gemm_momentum on 2-D float operands."""
    var, acc, lr, a, b, mom = avals
    if (a.ndim != 2 or b.ndim != 2 or var.dtype.np.char not in "fd" or not (var.dtype is acc.dtype is a.dtype is b.dtype)
            or acc.shape != var.shape or lr.shape != () or mom.shape != ()):
        return None
    x, y = _native_rules.product(args[3:5], transpose_a, transpose_b)
    return (f"{emit.use(_native_kernels.gemm_momentum)}({args[0]}, {args[1]}, {args[2]}, {x}, {y}, {args[5]}, "
            f"{_mkl.SMALL_FLOPS})")


class _FusedUpdate(Primitive):
    """A generated effect primitive that names the inputs it writes (``analysis.effects.written_positions``)."""
    __slots__ = ("writes",)


matmul_apply_momentum_p = _FusedUpdate(
    "matmul+apply_momentum", _infer, {"CPU": _kernel},
    not_differentiable("fused after differentiation: the gemm-update pass runs after autodiff"), _cost,
    effect=True, shard=_shard, native=_native,
    doc="apply_momentum whose gradient is matmul(a, b): accumulation = a @ b + momentum * accumulation in one GEMM, "
        "then variable -= lr * accumulation.")
matmul_apply_momentum_p.writes = (0, 1)         # variable, accumulation


def _gpu_kernel():
    """The GPU kernel (kernels/cuda/optim.py), installed on first use: the GPU backend loads only on a GPU."""
    if "GPU" not in matmul_apply_momentum_p.impl:
        from ..kernels.cuda import optim as _cuda_optim
        from ..kernels.cuda.runtime import gpu_kernel
        matmul_apply_momentum_p.impl["GPU"] = gpu_kernel(_cuda_optim.matmul_apply_momentum,
                                                         "matmul+apply_momentum_gpu", inplace=True)


def fuse_gemm_update(graph):
    """Fold matmul gradients into their Momentum updates in ``graph`` and its subgraphs (in place)."""
    device = _context.get_context("device_target")
    if device == "GPU":
        _gpu_kernel()
    elif device != "CPU" or not _mkl.available():
        return graph
    info = []                                  # EffectInfo, made at the first candidate (most graphs have none)
    graphs = graph.all_graphs()
    users = {}                                 # uses of each value, from any graph, outputs included
    for g in graphs:
        for n in g.nodes:
            for i in n.inputs:
                users[id(i)] = users.get(id(i), 0) + 1
        if g.output is not None:
            users[id(g.output)] = users.get(id(g.output), 0) + 1
    for g in graphs:
        position = {id(n): k for k, n in enumerate(g.nodes)}
        roots = {id(m) for m in effect_roots(g)}
        dropped = set()
        for k, n in enumerate(g.nodes):
            if n.op is not apply_momentum_p or n.attrs.get("use_nesterov"):
                continue
            var, acc, lr, grad, mom = n.inputs
            if (not isinstance(grad, Apply) or grad.op is not matmul_p or users.get(id(grad)) != 1
                    or id(grad) not in position or grad.abstract.dtype is not var.abstract.dtype
                    or var.abstract.dtype.np not in (np.float32, np.float64)):
                continue
            a, b = grad.inputs
            if matmul_p.cost(a.abstract, b.abstract, **grad.attrs).flops < _mkl.MIN_FLOPS:
                continue   # a tiny product: the separate kernels cost less than one more ctypes call
            if not info:
                info.append(EffectInfo(graph))
            if ((info[0].is_written(a) or info[0].is_written(b))
                    and any(id(m) in roots for m in g.nodes[position[id(grad)] + 1:k])):
                continue   # an effect between the two may write what the GEMM reads: it must not move
            n.op = matmul_apply_momentum_p
            n.inputs = (var, acc, lr, a, b, mom)
            n.attrs = {"transpose_a": grad.attrs["transpose_a"], "transpose_b": grad.attrs["transpose_b"]}
            dropped.add(id(grad))
        if dropped:
            g.nodes = [m for m in g.nodes if id(m) not in dropped]
    return graph
