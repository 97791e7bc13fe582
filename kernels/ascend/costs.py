"""Per-op time on the simulated AI core, for the auto-parallel cost model and the profiler views.

``op_time(prim, avals, attrs)`` runs the primitive's Ascend implementation on inputs of those shapes and dtypes
(values: small random floats, zero integers — valid labels and indices) and returns the simulated seconds of all
the kernels it launched. Results are cached per signature. Above ``MAX_SIM_ELEMENTS`` input elements the
simulation would take too long on the host, so the time is extrapolated from a run on a proportionally smaller
leading dimension (time scales linearly in it once every core is busy); None when the op cannot be run from
shapes alone (the caller keeps its roofline estimate).
"""
import numpy as np

from .device import current_profile
from .sim import profile

__all__ = ["op_time", "MAX_SIM_ELEMENTS"]

MAX_SIM_ELEMENTS = 1 << 22
_cache = {}


def _inputs(avals, rng):
    out = []
    for a in avals:
        dt = a.dtype.np if hasattr(a.dtype, "np") else np.dtype(a.dtype)
        if dt.kind == "f":
            out.append(rng.uniform(0.5, 1.5, a.shape).astype(dt))
        elif dt.kind == "b":
            out.append(np.ones(a.shape, dt))
        else:
            out.append(np.zeros(a.shape, dt))
    return out


def _attr_key(attrs):
    try:
        return tuple(sorted(attrs.items()))
    except TypeError:
        return repr(sorted(attrs.items()))


def op_time(prim, avals, attrs, prof=None):
    """Simulated seconds of one application of ``prim`` on Ascend (None when it cannot be simulated)."""
    prof = prof or current_profile()
    impl = prim.impl.get("Ascend")
    if impl is None:
        from . import enable
        enable()
        impl = prim.impl.get("Ascend")
        if impl is None:
            return None
    key = (prim.name, tuple((tuple(a.shape), str(a.dtype)) for a in avals), _attr_key(attrs), prof.name)
    if key in _cache:
        return _cache[key]
    total = sum(int(np.prod(a.shape, dtype=np.int64)) for a in avals)
    scale = 1.0
    if total > MAX_SIM_ELEMENTS and prim.name not in ("matmul", "batch_matmul", "conv2d"):
        scale = total / MAX_SIM_ELEMENTS
    try:
        rng = np.random.default_rng(0)
        arrays = _inputs(avals, rng)
        if scale > 1.0:   # shrink the leading dim of the full-size inputs (elementwise/row ops: time is linear)
            lead = max(a.shape[0] for a in arrays if a.ndim)
            keep = max(1, int(lead / scale))
            arrays = [a[:keep].copy() if a.ndim and a.shape[0] == lead else a for a in arrays]
            scale = lead / keep
        with profile() as rec:
            impl(*arrays, **attrs)
        t = rec.seconds * scale
    except Exception:
        t = None
    _cache[key] = t
    return t
