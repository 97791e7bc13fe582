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

__all__ = ["op_time", "MAX_SIM_ELEMENTS", "MAX_SIM_FLOPS"]

MAX_SIM_ELEMENTS = 1 << 22
MAX_SIM_FLOPS = 2e9          # a 512 x 2048 x 2048 matmul: about a second of host time
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


class _Shape:
    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype


def _attr_key(attrs):
    try:
        return tuple(sorted(attrs.items()))
    except TypeError:
        return repr(sorted(attrs.items()))


def _shrink(prim, shapes, keep):
    """``shapes`` with the first input's leading dim (and that of the inputs shaped like it) cut to ``keep``."""
    first = shapes[0]
    cube = prim.name in ("matmul", "batch_matmul", "conv2d")
    return [(keep,) + sh[1:] if (k == 0 or (not cube and sh == first)) else sh for k, sh in enumerate(shapes)]


def _fills_cores(prim, shapes, attrs, prof):
    """The smallest leading dim at which the op's kernels keep every core busy (below it the time is not affine
    in the leading dim: fewer cores work)."""
    if prim.name == "matmul":
        n = shapes[1][0] if attrs.get("transpose_b") else shapes[1][1]
        return 256 * -(-prof.ai_cores // -(-n // 256))          # 256-row tiles x the column tiles >= cores
    if prim.name in ("batch_matmul", "conv2d"):
        return prof.ai_cores
    return 256


def _simulate(impl, shapes, avals, attrs):
    arrays = _inputs([_Shape(sh, a.dtype) for sh, a in zip(shapes, avals)], np.random.default_rng(0))
    with profile() as rec:
        impl(*arrays, **attrs)
    return rec.seconds


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
    try:
        flops = float(prim.cost(*avals, **attrs).flops)
    except Exception:
        flops = 0.0
    scale = max(1.0, total / MAX_SIM_ELEMENTS, flops / MAX_SIM_FLOPS)
    try:
        shapes = [tuple(a.shape) for a in avals]
        if scale <= 1.0:
            t = _simulate(impl, shapes, avals, attrs)
        else:
            if any(k in attrs for k in ("input_size", "filter_size", "shape")) or not shapes or not shapes[0]:
                _cache[key] = None       # a shape attribute ties the inputs together: keep the roofline estimate
                return None
            # time is affine in the leading dim of the first input (elementwise and row ops, matmul rows, conv
            # batches) once every core is busy: simulate two smaller sizes and extrapolate the line through them
            lead = shapes[0][0]
            k1 = min(lead, max(int(lead / scale), _fills_cores(prim, shapes, attrs, prof)))
            k2 = min(lead, 2 * k1)
            t1 = _simulate(impl, _shrink(prim, shapes, k1), avals, attrs)
            if k2 == k1:
                t = t1
            else:
                t2 = _simulate(impl, _shrink(prim, shapes, k2), avals, attrs)
                t = t1 + (t2 - t1) * (lead - k1) / (k2 - k1)
    except Exception:
        t = None
    _cache[key] = t
    return t
