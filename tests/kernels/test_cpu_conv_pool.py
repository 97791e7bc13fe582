"""CPU convolution and pooling kernels (kernels/cpu/conv.py, pool.py): every fast path (unclipped windows, 2x2
stride 2, stride-1 im2col rows, ...) must equal a plain numpy reference exactly — NaNs, ties, signed zeros, odd
sizes whose last row / column no window covers, padding, stride, dilation — in float32 and float64."""
import itertools

import numpy as np
import pytest

from mindlab.kernels.cpu import conv as kconv, pool as kpool

rng = np.random.default_rng(7)


def _data(shape, dtype, special):
    """Random values; with ``special``: many ties (small integers), signed zeros and a few NaNs."""
    if not special:
        return rng.standard_normal(shape).astype(dtype)
    x = rng.integers(-2, 3, shape).astype(dtype)
    flat = x.reshape(-1)
    flat[rng.random(flat.size) < 0.1] = -0.0
    flat[rng.random(flat.size) < 0.04] = np.nan
    return x


def _windows(h, w, kh, kw, sh, sw, pt, pl, oh, ow):
    """(output position, clipped window cells in row-major order) for every output cell."""
    for y, z in itertools.product(range(oh), range(ow)):
        cells = [(i, j) for i in range(y * sh - pt, y * sh - pt + kh) for j in range(z * sw - pl, z * sw - pl + kw)
                 if 0 <= i < h and 0 <= j < w]
        yield (y, z), cells


def _first_max(plane, cells):
    """The cell of a window's first maximum; the first NaN when there is one."""
    for c in cells:
        if np.isnan(plane[c]):
            return c
    vals = [plane[c] for c in cells]
    return cells[int(np.argmax(vals))]


def _ref_pool(x, dout, g, geo, oh, ow):
    n, c, h, w = x.shape
    out = np.empty((n, c, oh, ow), x.dtype)
    dx = np.zeros_like(x)
    gat = np.empty((n, c, oh, ow), x.dtype)
    for b, ch in itertools.product(range(n), range(c)):
        for (y, z), cells in _windows(h, w, *geo, oh, ow):
            i, j = _first_max(x[b, ch], cells)
            out[b, ch, y, z] = x[b, ch, i, j]
            dx[b, ch, i, j] += dout[b, ch, y, z]
            gat[b, ch, y, z] = g[b, ch, i, j]
    return out, dx, gat


POOLS = [  # (H, W, kh, kw, sh, sw, pt, pl, pb, pr)
    (8, 8, 2, 2, 2, 2, 0, 0, 0, 0),       # LeNet's: 2x2 stride 2, exact cover
    (7, 9, 2, 2, 2, 2, 0, 0, 0, 0),       # 2x2 stride 2, last row / column uncovered
    (9, 9, 3, 3, 2, 2, 0, 0, 0, 0),       # overlapping, unclipped
    (7, 8, 2, 3, 1, 2, 0, 0, 0, 0),       # unclipped, mixed
    (6, 6, 3, 3, 3, 3, 0, 0, 0, 0),       # tiling 3x3
    (7, 7, 2, 2, 2, 2, 0, 0, 1, 1),       # 2x2 stride 2 with bottom / right padding: clipped
    (5, 5, 3, 3, 2, 2, 1, 1, 1, 1),       # padded on every side
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("special", [False, True])
@pytest.mark.parametrize("case", POOLS)
def test_max_pool_kernels_equal_reference(case, special, dtype):
    h, w, kh, kw, sh, sw, pt, pl, pb, pr = case
    oh, ow = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
    x = _data((2, 3, h, w), dtype, special)
    dout = rng.standard_normal((2, 3, oh, ow)).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    geo = (kh, kw, sh, sw, pt, pl)
    out, dx, gat = _ref_pool(x, dout, g, geo, oh, ow)
    np.testing.assert_array_equal(kpool.max_pool(x, *geo, oh, ow), out)
    np.testing.assert_array_equal(np.signbit(kpool.max_pool(x, *geo, oh, ow)), np.signbit(out))  # ties: the first
    np.testing.assert_array_equal(kpool.max_pool_grad(x, dout, *geo), dx)
    np.testing.assert_array_equal(kpool.max_pool_gather(x, g, *geo, oh, ow), gat)


def _ref_im2col(x, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + pt + oh * sh + kh * dh, w + pl + ow * sw + kw * dw), x.dtype)
    xp[:, :, pt:pt + h, pl:pl + w] = x
    cols = np.empty((n, c, kh, kw, oh, ow), x.dtype)
    for i, j in itertools.product(range(kh), range(kw)):
        cols[:, :, i, j] = xp[:, :, i * dh:i * dh + oh * sh:sh, j * dw:j * dw + ow * sw:sw]
    return cols.reshape(n, c * kh * kw, oh * ow)


CONVS = [  # (H, W, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw)
    (32, 32, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1),     # LeNet conv1
    (14, 14, 5, 5, 1, 1, 0, 0, 0, 0, 1, 1),     # LeNet conv2
    (7, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1),       # 'same' 3x3
    (9, 8, 3, 2, 2, 3, 1, 0, 2, 1, 1, 1),       # strides, asymmetric pads
    (9, 9, 3, 3, 1, 2, 2, 2, 1, 2, 2, 2),       # dilation
    (5, 5, 2, 2, 2, 2, 0, 0, 0, 0, 1, 1),       # last row / column uncovered
    (3, 3, 3, 3, 1, 1, 4, 4, 4, 4, 1, 1),       # padding wider than the input: whole rows of zeros
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONVS)
def test_im2col_col2im_equal_reference(case, dtype):
    h, w, kh, kw, sh, sw, pt, pb, pl, pr, dh, dw = case
    oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    ow = (w + pl + pr - dw * (kw - 1) - 1) // sw + 1
    x = rng.standard_normal((2, 3, h, w)).astype(dtype)
    geo = (kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)
    cols = kconv.im2col(x, *geo)
    np.testing.assert_array_equal(cols, _ref_im2col(x, *geo))
    # col2im is im2col's adjoint: <im2col(x), c> == <x, col2im(c)>, checked against the reference's transpose
    c = rng.standard_normal(cols.shape).astype(dtype)
    got = kconv.col2im(c, 3, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)
    want = np.zeros_like(x)
    idx = _ref_im2col(np.arange(x.size, dtype=np.float64).reshape(x.shape) + 1, *geo).astype(np.int64) - 1
    valid = _ref_im2col(np.ones(x.shape), *geo) > 0
    np.add.at(want.reshape(-1), idx[valid], c[valid])
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-6)


# the primitives' stride-1 row path (garbage columns) against their general im2col path
GEOS = [dict(stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1),
        dict(stride=(1, 1), pad=(2, 1, 0, 3), dilation=(1, 2), groups=1),
        dict(stride=(1, 1), pad=(1, 1, 1, 1), dilation=(2, 2), groups=1)]


def _both_paths(monkeypatch, fn, *args, **geo):
    from mindlab.ops.prims import conv_ops
    rows = getattr(conv_ops, fn)(*args, **geo)
    with monkeypatch.context() as m:
        m.setattr(conv_ops, "_rows_path", lambda stride, groups: False)
        general = getattr(conv_ops, fn)(*args, **geo)
    return rows, general


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geo", GEOS)
@pytest.mark.parametrize("poison", [None, "nan-x", "inf-w", "inf-dout"])
@pytest.mark.parametrize("co, ci", [(4, 2), (48, 2), (8, 12)])   # the filter gradient's three ways: direct dot
def test_conv_row_path_equals_general_path(monkeypatch, geo, dtype, poison, co, ci):   # products, one GEMM, per sample
    from mindlab.ops.prims.conv_ops import conv2d_p
    from mindlab.ops.abstract import AbstractTensor
    from mindlab import dtype as mdt
    x = rng.standard_normal((3, ci, 7, 6)).astype(dtype)
    w = rng.standard_normal((co, ci, 3, 2)).astype(dtype)
    shape = conv2d_p.infer(AbstractTensor(x.shape, mdt.float32), AbstractTensor(w.shape, mdt.float32), **geo).shape
    dout = rng.standard_normal(shape).astype(dtype)
    if poison == "nan-x":
        x[1, ci - 1, 3, 5] = np.nan          # the last column: only garbage columns of the other taps see it there
    elif poison == "inf-w":
        w[2, ci - 1, 0, 1] = np.inf
    elif poison == "inf-dout":
        dout[0, 1, 0, -1] = np.inf
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    with np.errstate(invalid="ignore"):
        rows, general = _both_paths(monkeypatch, "_conv_cpu", x, w, **geo)
        np.testing.assert_allclose(rows, general, **tol)
        rows, general = _both_paths(monkeypatch, "_bpi_cpu", dout, w, input_size=x.shape, **geo)
        np.testing.assert_allclose(rows, general, **tol)
        rows, general = _both_paths(monkeypatch, "_bpf_cpu", dout, x, filter_size=w.shape, **geo)
        np.testing.assert_allclose(rows, general, **tol)
