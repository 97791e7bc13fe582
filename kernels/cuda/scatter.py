"""Scatter-add on the GPU: a numba-cuda kernel, one thread per (row, column) of the updates, atomic adds."""
import numpy as np
from numba import cuda

from .runtime import xp, launch


@cuda.jit
def _segment_sum_kernel(data, ids, out, width, total):
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, total, stride):
        r = i // width
        c = i - r * width
        cuda.atomic.add(out, (ids[r], c), data[r, c])


def segment_sum(data, ids, num_segments):
    """out[s] = sum of data rows r with ids[r] == s; data is (rows, width), ids (rows,) in [0, num_segments)."""
    m = xp()
    dt = data.dtype
    acc = dt if dt in (np.float32, np.float64, np.int32, np.int64, np.uint32, np.uint64) else np.float32
    out = m.zeros((num_segments, data.shape[1]), acc)
    d = m.ascontiguousarray(data.astype(acc, copy=False))
    launch(_segment_sum_kernel, d.size, d, m.ascontiguousarray(ids), out, max(d.shape[1], 1), d.size)
    return out
