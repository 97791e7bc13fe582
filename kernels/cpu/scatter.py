"""Scatter-add in numba: the gradient side of gather (``unsorted_segment_sum``) and gather_nd (``scatter_nd``).

numpy's only unbuffered scatter-add, ``np.add.at``, is many times slower than one loop over the rows; here each
input row is added once into its target row. Serial on purpose: duplicate targets would race in parallel.
"""
import numpy as np
from numba import njit


@njit(cache=True)
def _segment_sum_rows(data, ids, out):
    n, d = data.shape
    for i in range(n):
        s = ids[i]
        for j in range(d):
            out[s, j] += data[i, j]


def segment_sum(data, ids, num_segments):
    """``out[s] = sum of data[i] over i with ids[i] == s`` for 2-D ``data`` (rows, d) and 1-D ``ids`` already
    checked to lie in [0, num_segments). Returns a (num_segments, d) array of ``data``'s dtype."""
    dt = data.dtype
    work = np.float32 if dt == np.float16 else (np.int64 if dt.kind in "iub" else dt)
    data = np.ascontiguousarray(data, dtype=work)
    out = np.zeros((num_segments, data.shape[1]), dtype=work)
    if data.size:
        _segment_sum_rows(data, np.ascontiguousarray(ids, dtype=np.int64), out)
    return out.astype(dt, copy=False)
