"""The GPU backend (``device_target="GPU"``): kernels for NVIDIA GPUs, installed as ``mindlab.kernels.cuda``.

Arrays are cupy arrays (``mindlab.device``); GEMMs go to cuBLAS through cupy; elementwise ops and reductions are
cupy's kernels; im2col/col2im, pooling, softmax / cross entropy rows, layer norm rows, scatter-add, the optimizer
updates and graph mode's fused elementwise chains are numba-cuda kernels. Under numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) the same code runs with numpy arrays and simulated kernels — how CI tests it.

``register()`` (called by ``set_context(device_target="GPU")``) puts every kernel into its primitive's
``impl["GPU"]`` and the fused-kernel generator into the fusion pass's builders.
"""
from . import elementwise, reduce, array, linalg, nn, optim
from .runtime import gpu_kernel

_FAMILIES = (elementwise, reduce, array, linalg, nn, optim)
_DONE = []


def kernels():
    """name -> GPU kernel for every primitive this backend implements."""
    out = {}
    for fam in _FAMILIES:
        out.update(fam.KERNELS)
    return out


def register():
    """Install the GPU kernels into the registry (idempotent) and the GPU fusion builder."""
    if _DONE:
        return
    from ...ops.registry import REGISTRY
    from ...passes.fusion import register_builder
    from . import fused
    for name, fn in kernels().items():
        prim = REGISTRY.get(name)
        if prim is not None:
            prim.impl["GPU"] = gpu_kernel(fn, f"{name}_gpu", inplace=prim.effect and name != "assign",  # assign replaces
                                          scalars=name in elementwise.KERNELS or name in optim.KERNELS)
    register_builder("GPU", fused.compile_expr)
    _DONE.append(True)


def missing():
    """Registered primitives without a GPU kernel (the test suite requires none)."""
    from ...ops.registry import REGISTRY
    have = kernels()
    return sorted(n for n in REGISTRY if n not in have)
