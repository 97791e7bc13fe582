"""Convolution on the Cube: img2col + matmul, with the input in NC1HWC0 and the weight in FRACTAL_Z order.

Forward (per channel group): the input is cast to float16 and transformed to NC1HWC0 (TransData); an img2col
gather (MTE, index map from the tiling function) builds the (N*OH*OW, C1*kh*kw*16) patch matrix whose column
order (c1, i, j, c0) matches the weight reordered to (C_out, C1, kh, kw, C0) (FRACTAL_Z's order; padded channels
are zero on both sides); the Cube kernel multiplies patches by the weight's transpose; a TransData gather puts the
(N, OH*OW, C_out) result back to NCHW. On a real core img2col is MTE1's Load3D from L1; here it is a GM-level
gather (the same bytes through MTE2/MTE3), which costs extra GM traffic — stated, and visible in the profile.

Backward: dx = col2im(dout_mat @ W): col2im is a gather of each input element's (up to kh*kw) patch entries
followed by a row ReduceSum; dW = dout_mat^T @ patches (the Cube with A transposed).
"""
import functools

import numpy as np

from .formats import nchw_to_nc1hwc0, C0
from .k_cube import matmul, cast
from .k_move import gather
from .ops_pool import inverse_map
from .k_rows import reduce_rows
from .sim import op_scope

__all__ = ["conv2d", "conv2d_backprop_input", "conv2d_backprop_filter"]


def _out(h, k, s, p0, p1, d):
    return (h + p0 + p1 - d * (k - 1) - 1) // s + 1


@functools.lru_cache(maxsize=128)
def _img2col_index(n, c, h, w, kh, kw, stride, pad, dilation):
    """(N*OH*OW, C1*kh*kw*C0) index into the NC1HWC0 input (-1: padding or padded channel)."""
    c1 = -(-c // C0)
    oh, ow = _out(h, kh, stride[0], pad[0], pad[1], dilation[0]), _out(w, kw, stride[1], pad[2], pad[3], dilation[1])
    N, OH, OW, C1, I, J, Z = np.ix_(np.arange(n), np.arange(oh), np.arange(ow), np.arange(c1), np.arange(kh),
                                    np.arange(kw), np.arange(C0))
    ih = OH * stride[0] - pad[0] + I * dilation[0]
    iw = OW * stride[1] - pad[2] + J * dilation[1]
    ok = (ih >= 0) & (ih < h) & (iw >= 0) & (iw < w) & (C1 * C0 + Z < c)
    idx = (((N * c1 + C1) * h + ih) * w + iw) * C0 + Z
    idx = np.where(ok, idx, -1)
    return idx.reshape(n * oh * ow, c1 * kh * kw * C0), (oh, ow)


@functools.lru_cache(maxsize=128)
def _col2im_index(n, c, h, w, kh, kw, stride, pad, dilation):
    """For each NC1HWC0 element of the input, the flat positions of the patch entries that read it (-1 padded)."""
    fwd, _ = _img2col_index(n, c, h, w, kh, kw, stride, pad, dilation)
    return inverse_map(fwd, n * (-(-c // C0)) * h * w * C0)


@functools.lru_cache(maxsize=128)
def _weight_index(co, c, kh, kw):
    """(C_out, C1*kh*kw*C0) index into the (C_out, C, kh, kw) weight (-1: padded channel)."""
    c1 = -(-c // C0)
    O, C1, I, J, Z = np.ix_(np.arange(co), np.arange(c1), np.arange(kh), np.arange(kw), np.arange(C0))
    ch = C1 * C0 + Z
    idx = np.where(ch < c, ((O * c + ch) * kh + I) * kw + J, -1)
    return idx.reshape(co, c1 * kh * kw * C0)


def _nchw_to_rows(y, name):
    """(N, C, OH, OW) -> (N*OH*OW, C) as a gather."""
    n, c, oh, ow = y.shape
    idx = np.arange(y.size, dtype=np.int64).reshape(n, c, oh * ow).transpose(0, 2, 1)
    return gather(name, [y], idx, (n * oh * ow, c))


def _rows_to_nchw(m, n, oh, ow, name):
    co = m.shape[1]
    idx = np.arange(m.size, dtype=np.int64).reshape(n, oh * ow, co).transpose(0, 2, 1)
    return gather(name, [m], idx, (n, co, oh, ow))


def _patches(x16, kh, kw, stride, pad, dilation):
    n, c, h, w = x16.shape
    x5 = gather("TransData(NCHW->NC1HWC0)", [x16], nchw_to_nc1hwc0(
        np.arange(1, x16.size + 1, dtype=np.int64).reshape(x16.shape)) - 1, (n, -(-c // C0), h, w, C0))
    idx, (oh, ow) = _img2col_index(n, c, h, w, kh, kw, tuple(stride), tuple(pad), tuple(dilation))
    return gather("Img2Col", [x5], idx, idx.shape), oh, ow


def _wmat(w16):
    co, c, kh, kw = w16.shape
    idx = _weight_index(co, c, kh, kw)
    return gather("TransData(FRACTAL_Z)", [w16], idx, idx.shape)


def conv2d(x, w, stride, pad, dilation, groups):
    dtype = x.dtype
    n, c, h, wd = x.shape
    co, cg, kh, kw = w.shape
    with op_scope("Conv2D"):
        x16, w16 = cast(x, np.float16), cast(w, np.float16)
        outs = []
        for g in range(groups):
            xg = x16 if groups == 1 else np.ascontiguousarray(x16[:, g * cg:(g + 1) * cg])
            wg = w16 if groups == 1 else np.ascontiguousarray(w16[g * co // groups:(g + 1) * co // groups])
            cols, oh, ow = _patches(xg, kh, kw, stride, pad, dilation)
            outs.append(matmul(cols, _wmat(wg), transpose_b=True, out_dtype=dtype, name="Conv2D(Cube)"))
        m = outs[0] if groups == 1 else np.concatenate(outs, axis=1)
        return _rows_to_nchw(m, n, oh, ow, "TransData(->NCHW)")


def conv2d_backprop_input(dout, w, input_size, stride, pad, dilation, groups):
    dtype = dout.dtype
    n, c, h, wd = input_size
    co, cg, kh, kw = w.shape
    with op_scope("Conv2DBackpropInput"):
        d16, w16 = cast(dout, np.float16), cast(w, np.float16)
        dm = _nchw_to_rows(d16, "TransData(NCHW->rows)")
        parts = []
        cog = co // groups
        for g in range(groups):
            wg = w16 if groups == 1 else np.ascontiguousarray(w16[g * cog:(g + 1) * cog])
            dmg = dm if groups == 1 else np.ascontiguousarray(dm[:, g * cog:(g + 1) * cog])
            dcols = matmul(dmg, _wmat(wg), out_dtype=np.float32, name="Conv2DBackpropInput(Cube)")
            inv = _col2im_index(n, cg, h, wd, kh, kw, tuple(stride), tuple(pad), tuple(dilation))
            g5 = gather("Col2Img(gather)", [dcols], inv, inv.shape)
            dx5 = reduce_rows(g5, "sum").reshape(n, -1, h, wd, C0)
            idx = np.arange(dx5.size, dtype=np.int64).reshape(dx5.shape).transpose(0, 1, 4, 2, 3)
            idx = idx.reshape(n, -1, h, wd)[:, :cg]
            parts.append(gather("TransData(NC1HWC0->NCHW)", [dx5], idx, idx.shape, dtype=dtype))
        return parts[0] if groups == 1 else np.concatenate(parts, axis=1)


def conv2d_backprop_filter(dout, x, filter_size, stride, pad, dilation, groups):
    dtype = dout.dtype
    co, cg, kh, kw = filter_size
    with op_scope("Conv2DBackpropFilter"):
        d16, x16 = cast(dout, np.float16), cast(x, np.float16)
        dm = _nchw_to_rows(d16, "TransData(NCHW->rows)")
        cog = co // groups
        parts = []
        for g in range(groups):
            xg = x16 if groups == 1 else np.ascontiguousarray(x16[:, g * cg:(g + 1) * cg])
            dmg = dm if groups == 1 else np.ascontiguousarray(dm[:, g * cog:(g + 1) * cog])
            cols, _, _ = _patches(xg, kh, kw, stride, pad, dilation)
            dwm = matmul(dmg, cols, transpose_a=True, out_dtype=np.float32, name="Conv2DBackpropFilter(Cube)")
            # (C_out_g, C1*kh*kw*C0) -> (C_out_g, cg, kh, kw)
            c1 = -(-cg // C0)
            O, C, I, J = np.ix_(np.arange(cog), np.arange(cg), np.arange(kh), np.arange(kw))
            idx = (((O * c1 + C // C0) * kh + I) * kw + J) * C0 + C % C0
            parts.append(gather("TransData(FRACTAL_Z->NCHW)", [dwm], idx, idx.shape, dtype=dtype))
        return parts[0] if groups == 1 else np.concatenate(parts, axis=0)
