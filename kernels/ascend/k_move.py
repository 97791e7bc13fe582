"""Data-movement kernels (MTE only) and the Scalar-unit kernel for irregular ops.

* ``gather(name, sources, index, ...)``: every output element is a copy of one source element (or a fill value).
  The Scalar unit turns the index map into DMA descriptors — one burst per run of consecutive source addresses —
  MTE2 gathers a tile into UB and MTE3 writes it out. Reshape-like ops cost nothing (no launch); transpose,
  broadcast, slicing, concat, gather and img2col are gathers. The index map of a registry op is found by running
  its CPU kernel on index arrays instead of data (``index_map``), so the Ascend op moves exactly what the CPU op
  computes.
* ``scalar_kernel(name, fn, arrays, ...)``: ops with data-dependent control (scatter with duplicates, random
  masks, sorting-like selections) run on the Scalar unit, which reads and writes GM through its cache; each element
  touched costs ``profile.scalar_op`` cycles. Slow on purpose: it is what such ops cost on an AI core.
"""
import numpy as np

from .api import TPipe, TQue, TPosition, ScalarWork, align_up, _mte
from .sim import GlobalTensor, GetBlockIdx, launch, current_core
from .k_vector import copy_out
from .tiling import elementwise_tiling
from .device import current_profile

__all__ = ["gather", "index_map", "scalar_kernel", "broadcast", "DataCopyGather"]


def DataCopyGather(dst, src, index, fill=0):
    """MTE2: dst[i] = src[index[i]] (index < 0: ``fill``), one burst per run of consecutive valid source addresses
    (the Scalar unit writes one descriptor per burst; fill entries cost no fetch)."""
    core = current_core()
    n = index.size
    valid = index >= 0
    d = dst.data
    d[:n] = fill
    d[:n][valid] = src.array[src.offset + index[valid]]
    # one burst per run of consecutive source addresses; padding entries are filled, not fetched
    starts = valid.copy()
    if n > 1:
        starts[1:] &= ~(valid[:-1] & (index[1:] == index[:-1] + 1))
    bursts = max(int(np.count_nonzero(starts)), 1)
    ScalarWork(bursts, "DMA descriptors")
    nbytes = int(np.count_nonzero(valid)) * dst.dtype.itemsize
    _mte(core, "MTE2", nbytes, bursts, src, int(index[valid][0]) if valid.any() else 0, False,
         writes=(dst.slot,), op="DataCopyGather")


def _gather_kernel(src, index, out, fill, tiling):
    b = GetBlockIdx()
    n = out.size
    start, stop = b * tiling.per_block, min(n, (b + 1) * tiling.per_block)
    pipe = TPipe()
    q = TQue(TPosition.VECIN, tiling.buffers, name="gatherQueue")
    pipe.InitBuffer(q, tiling.buffers, align_up(tiling.tile * out.dtype.itemsize))
    for off in range(start, stop, tiling.tile):
        cnt = min(tiling.tile, stop - off)
        t = q.AllocTensor(out.dtype)
        DataCopyGather(t, src, index[off:off + cnt], fill)
        q.EnQue(t)
        t = q.DeQue()
        copy_out(out[off:], t, cnt)
        q.FreeTensor(t)


def gather(name, sources, index, out_shape, dtype=None, fill=0, profile=None):
    """out.flat[i] = concat(sources).flat[index.flat[i]] (index -1: ``fill``), as an MTE gather kernel."""
    prof = profile or current_profile()
    srcs = [np.ascontiguousarray(s).reshape(-1) for s in sources]
    src = srcs[0] if len(srcs) == 1 else np.concatenate(srcs)
    dtype = np.dtype(dtype or src.dtype)
    if src.dtype != dtype:
        src = src.astype(dtype)
    out = np.empty(out_shape, dtype)
    index = np.ascontiguousarray(index, dtype=np.int64).reshape(-1)
    if out.size == 0:
        return out
    if src.size == index.size and index.size and np.array_equal(index, np.arange(index.size)):
        return src.reshape(out_shape)       # the identity map moves nothing: a view, as numpy's own would be
    tiling = elementwise_tiling(out.size, [dtype.itemsize], prof, 2)
    launch(_gather_kernel, tiling.block_dim, GlobalTensor(src), index, GlobalTensor(out), fill, tiling, name=name,
           profile=prof)
    return out


def index_map(cpu, arrays, data_positions, attrs):
    """Run a data-movement op's CPU kernel on index arrays: for each output, the flat source index (into the
    concatenation of the data inputs) of each element (-1 where the op fills a constant)."""
    args, base = list(arrays), 0
    for k in data_positions:
        a = np.asarray(arrays[k])
        args[k] = (np.arange(a.size, dtype=np.int64) + base + 1).reshape(a.shape)
        base += a.size
    res = cpu(*args, **attrs)
    res = res if isinstance(res, (tuple, list)) else (res,)
    return [np.asarray(r, dtype=np.int64) - 1 for r in res]


def broadcast(a, shape, name="BroadcastTo"):
    """``a`` broadcast to ``shape`` in GM (an MTE gather)."""
    a = np.asarray(a)
    idx = np.broadcast_to(np.arange(a.size, dtype=np.int64).reshape(a.shape), shape)
    return gather(name, [a], idx, shape)


def _scalar_kernel(fn, arrays, box):
    core = current_core()
    out = fn()
    outs = out if isinstance(out, tuple) else (out,)
    n_in = sum(np.asarray(a).size for a in arrays)
    n_out = sum(np.asarray(o).size for o in outs)
    b_in = sum(np.asarray(a).nbytes for a in arrays)
    b_out = sum(np.asarray(o).nbytes for o in outs)
    core.bytes_in += b_in
    core.bytes_out += b_out
    core.gm_cycles += (b_in + b_out) / min(core.prof.mte2_bytes, core.prof.hbm_bytes_per_cycle)
    ScalarWork((n_in + n_out) * core.prof.scalar_op, "scalar loop")
    box.append(out)


def scalar_kernel(name, fn, arrays, profile=None):
    """Run ``fn()`` (the op on the host arrays ``arrays``) as a Scalar-unit loop: one block, ``scalar_op`` cycles
    per element read or written; returns fn's result."""
    box = []
    launch(_scalar_kernel, 1, fn, arrays, box, name=name, profile=profile or current_profile())
    return box[0]
