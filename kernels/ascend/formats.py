"""Data formats and the layout transforms between them (TransData).

* ND: row-major, as the host holds arrays.
* FRACTAL_NZ: a (M, N) matrix as 16 x 16 fractals, padded with zeros to multiples of 16; fractals in column-block
  major order, each fractal row-major: shape (N1, M1, 16, 16) with element [n1, m1, m0, n0] = A[m1*16+m0,
  n1*16+n0]. The Cube's operands live in L1 in this format (``api.DataCopy`` with ``Nd2NzParams`` converts on
  the way in).
* NC1HWC0: an NCHW image with channels split into C1 groups of C0 = 16 (zero-padded): shape (N, C1, H, W, 16).
  Convolutions read their input in this format (``k_conv.py``).

``to_format`` / ``from_format`` are the numpy definitions (host side). ``trans_data(x, src, dst)`` runs the
transform on the simulated chip as an MTE gather kernel whose index map is the numpy transform applied to element
indices (padding reads as 0).
"""
import functools

import numpy as np

from .k_move import gather

__all__ = ["FORMATS", "to_format", "from_format", "trans_data", "nd_to_nz", "nz_to_nd", "nchw_to_nc1hwc0",
           "nc1hwc0_to_nchw", "C0"]

C0 = 16
FORMATS = ("ND", "FRACTAL_NZ", "NC1HWC0", "NCHW")


def nd_to_nz(a, f=16):
    """(..., M, N) -> (..., N1, M1, 16, 16), zero-padded."""
    a = np.asarray(a)
    *batch, m, n = a.shape
    m1, n1 = -(-m // f), -(-n // f)
    pad = np.zeros((*batch, m1 * f, n1 * f), a.dtype)
    pad[..., :m, :n] = a
    nb = len(batch)
    t = pad.reshape(*batch, m1, f, n1, f)
    return np.ascontiguousarray(t.transpose(*range(nb), nb + 2, nb, nb + 1, nb + 3))


def nz_to_nd(z, m, n):
    """(..., N1, M1, 16, 16) -> (..., m, n) (padding dropped)."""
    z = np.asarray(z)
    nb = z.ndim - 4
    *batch, n1, m1, f, _ = z.shape
    t = z.transpose(*range(nb), nb + 1, nb + 2, nb, nb + 3).reshape(*batch, m1 * f, n1 * f)
    return np.ascontiguousarray(t[..., :m, :n])


def nchw_to_nc1hwc0(x, c0=C0):
    x = np.asarray(x)
    n, c, h, w = x.shape
    c1 = -(-c // c0)
    pad = np.zeros((n, c1 * c0, h, w), x.dtype)
    pad[:, :c] = x
    return np.ascontiguousarray(pad.reshape(n, c1, c0, h, w).transpose(0, 1, 3, 4, 2))


def nc1hwc0_to_nchw(y, c):
    y = np.asarray(y)
    n, c1, h, w, c0 = y.shape
    return np.ascontiguousarray(y.transpose(0, 1, 4, 2, 3).reshape(n, c1 * c0, h, w)[:, :c])


def to_format(x, fmt):
    """ND/NCHW array -> ``fmt`` (numpy, host side)."""
    if fmt in ("ND", "NCHW"):
        return np.asarray(x)
    if fmt == "FRACTAL_NZ":
        return nd_to_nz(x)
    if fmt == "NC1HWC0":
        return nchw_to_nc1hwc0(x)
    raise ValueError(f"unknown format {fmt!r}; known: {FORMATS}")


def from_format(y, fmt, shape):
    """``fmt`` array -> the ND/NCHW array of ``shape``."""
    if fmt in ("ND", "NCHW"):
        return np.asarray(y).reshape(shape)
    if fmt == "FRACTAL_NZ":
        return nz_to_nd(y, shape[-2], shape[-1]).reshape(shape)
    if fmt == "NC1HWC0":
        return nc1hwc0_to_nchw(y, shape[1])
    raise ValueError(f"unknown format {fmt!r}; known: {FORMATS}")


@functools.lru_cache(maxsize=256)
def _index(shape, src, dst):
    idx = np.arange(1, int(np.prod(shape, dtype=np.int64)) + 1, dtype=np.int64).reshape(shape)
    if src in ("ND", "NCHW"):
        out = to_format(idx, dst)
    else:
        raise ValueError("index maps start from ND/NCHW")
    return out - 1


@functools.lru_cache(maxsize=256)
def _inverse_index(shape, fmt):
    """Index map from a ``fmt`` array back to the ND array of ``shape``."""
    fwd = _index(shape, "ND", fmt)
    flat = np.full(int(np.prod(shape, dtype=np.int64)), -1, np.int64)
    valid = fwd.reshape(-1) >= 0
    flat[fwd.reshape(-1)[valid]] = np.nonzero(valid)[0]
    return flat.reshape(shape), fwd.shape


def trans_data(x, src, dst, shape=None):
    """TransData on the chip: ``x`` in format ``src`` -> format ``dst`` (one of them ND/NCHW). ``shape``: the
    ND shape when converting back from a fractal format."""
    x = np.asarray(x)
    if src == dst:
        return x
    if src in ("ND", "NCHW"):
        idx = _index(x.shape, src, dst)
        return gather(f"TransData({src}->{dst})", [x], idx, idx.shape)
    if dst in ("ND", "NCHW"):
        if shape is None:
            raise ValueError("trans_data: converting back to ND needs the ND shape")
        inv, fshape = _inverse_index(tuple(shape), src)
        if tuple(fshape) != x.shape:
            raise ValueError(f"trans_data: a {src} array for ND shape {list(shape)} has shape {list(fshape)}, "
                             f"got {list(x.shape)}")
        return gather(f"TransData({src}->{dst})", [x], inv, tuple(shape))
    raise ValueError(f"trans_data: one side must be ND/NCHW, got {src} -> {dst}")
