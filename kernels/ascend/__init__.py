"""mindlab's Ascend backend: a simulated Da Vinci AI core and kernels written in its programming model.

``mindlab.set_context(device_target="Ascend")`` imports this package, which installs ``impl["Ascend"]`` on every
registry primitive (``table.py``: kernel or decomposition per primitive) and registers the fusion pass's Ascend
builder (``fused.py``). Tensors stay numpy arrays on the host: they are the simulated HBM.

Layers, bottom to top::

    device.py    AscendProfile (buffer sizes, unit widths, bandwidths, clock); ASCEND910, ASCEND310
    sim.py       cores, buffers, pipes + scoreboard, launch(), KernelRecord / OpRecord, profile(), last_profile()
    api.py       the Ascend C-style kernel API (TPipe, TQue, TBuf, DataCopy, vector intrinsics, Mmad, ...)
    formats.py   ND / FRACTAL_NZ / NC1HWC0 and TransData
    tiling.py    host-side tiling functions
    k_*.py       kernels: vector (elementwise), rows (reductions, softmax, layer norm), cube (matmul), conv, move
    ops_*.py     registry primitives -> kernels (basic families, pooling, scatter-like ops)
    fused.py     the fusion pass's builder: a fused elementwise chain as one Vector kernel
    table.py     ROUTES: how each primitive runs (kernel or decomposition); ROUTES.md is its rendering
    costs.py     per-op simulated time for the auto-parallel cost model
"""
from .device import AscendProfile, ASCEND910, ASCEND310, PROFILES, current_profile, set_profile, use_profile
from .sim import (AscendError, BufferOverflowError, AlignmentError, launch, profile, last_profile, op_scope,
                  KernelRecord, OpRecord, GetBlockIdx, GetBlockNum, GlobalTensor, PIPES)
from . import api
from .api import *   # noqa: F401,F403  (the kernel API: TPipe, TQue, DataCopy, Add, Mmad, ...)
from .table import ROUTES, install, route_table

__all__ = ["AscendProfile", "ASCEND910", "ASCEND310", "PROFILES", "current_profile", "set_profile", "use_profile",
           "AscendError", "BufferOverflowError", "AlignmentError", "launch", "profile", "last_profile", "op_scope",
           "KernelRecord", "OpRecord", "GetBlockIdx", "GetBlockNum", "GlobalTensor", "PIPES", "ROUTES", "install",
           "route_table", "enable"] + list(api.__all__)

_enabled = [False]


def enable():
    """Install the Ascend kernels into the registry and the fused-kernel builder into the fusion pass (once)."""
    if _enabled[0]:
        return
    install()
    from mindlab.passes.fusion import register_builder
    from .fused import compile_expr
    register_builder("Ascend", compile_expr)
    _enabled[0] = True
