"""Convolution on the Cube: img2col + matmul, with the input in NC1HWC0 and the weight in FRACTAL_Z order.

Forward (per channel group): the input is cast to float16 and transformed to NC1HWC0 (TransData), the weight
reordered to (C_out, C1, kh, kw, C0) (FRACTAL_Z's order; padded channels are zero on both sides). The Conv2D
kernel then works like the matmul kernel with A = the patch matrix (N*OH*OW, C1*kh*kw*16): each block loads one
sample's NC1HWC0 image into L1 (MTE2, double-buffered across samples) and the weight once (ND2NZ), and MTE1's
Load3D builds each (positions x K-slice) patch block straight into L0A from the image in L1 — img2col never
touches GM. A TransData gather puts the (N, OH*OW, C_out) result back to NCHW. When a sample's image or the
weight does not fit L1 (or C_out > 256), the forward falls back to an img2col gather in GM + the Cube matmul.

Backward, also on the Cube with Load3D: the input gradient is a convolution over dout (each input position's
patch is the dout elements whose windows cover it: a "transposed" Load3D map, zero where the stride skips) with
the weight seen from dout's side; the weight gradient is dout^T (from L1) times patches Load3D'd into L0B,
accumulated per sample group and summed from a GM workspace. Groups > 1 or operands too big for L1 fall back to
GM: dx = col2im(dout_mat @ W) (col2im as a gather + row ReduceSum) and dW = dout_mat^T @ img2col patches.
"""
import functools

import numpy as np

from .formats import nchw_to_nc1hwc0, C0
from .api import (TPipe, TQue, TPosition, DataCopy, DataCopyPad, DataCopyExtParams, Nd2NzParams, LoadData,
                  LoadData3D, Mmad, Fixpipe, Duplicate, align_up)
from .device import current_profile
from .k_cube import matmul, cast
from .sim import GlobalTensor, GetBlockIdx, GetBlockNum, launch
from .k_move import gather
from .ops_pool import inverse_map
from .k_rows import reduce_rows, reduce_cols
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


def _sample_index(c, h, w, kh, kw, stride, pad, dilation):
    idx, (oh, ow) = _img2col_index(1, c, h, w, kh, kw, tuple(stride), tuple(pad), tuple(dilation))
    return idx, oh * ow                      # offsets within one sample's NC1HWC0 image


def _r16(v):
    return -(-int(v) // 16) * 16


def _conv_kernel(x5_gm, w_gm, out_gm, n, L, co, K, img, idx, baseM, baseK):
    """Blocks take contiguous runs of (sample, position tile) work items, so each loads a sample's image once."""
    tm = -(-L // baseM)
    items = n * tm
    per = -(-items // GetBlockNum())
    lo, hi = GetBlockIdx() * per, min(items, (GetBlockIdx() + 1) * per)
    pipe = TPipe()
    qimg, qw = TQue(TPosition.A1, 2, "inQueueImage"), TQue(TPosition.B1, 1, "inQueueWeight")
    qa2, qb2 = TQue(TPosition.A2, 2, "inQueueA2"), TQue(TPosition.B2, 2, "inQueueB2")
    qc1, qc2 = TQue(TPosition.CO1, 2, "outQueueCO1"), TQue(TPosition.CO2, 2, "outQueueCO2")
    cop = _r16(co)
    pipe.InitBuffer(qimg, 2, align_up(img * 2))
    pipe.InitBuffer(qw, 1, cop * K * 2)
    pipe.InitBuffer(qa2, 2, baseM * baseK * 2)
    pipe.InitBuffer(qb2, 2, baseK * cop * 2)
    pipe.InitBuffer(qc1, 2, baseM * cop * 4)
    it = out_gm.dtype.itemsize
    pipe.InitBuffer(qc2, 2, align_up(baseM * cop * it))
    wt = qw.AllocTensor(np.float16)
    DataCopy(wt, w_gm, Nd2NzParams(co, K, K))               # (C_out x K) -> NZ, used as B transposed
    qw.EnQue(wt)
    wt = qw.DeQue()
    cur, image = -1, None
    for item in range(lo, hi):
        s_, j = divmod(item, tm)
        if s_ != cur:
            if image is not None:
                qimg.FreeTensor(image)
            image = qimg.AllocTensor(np.float16)
            DataCopy(image, x5_gm[s_ * img:], img)
            qimg.EnQue(image)
            image = qimg.DeQue()
            cur = s_
        m0 = j * baseM
        mm = min(baseM, L - m0)
        rows = np.full((_r16(mm), K), -1, np.int64)
        rows[:mm] = idx[m0:m0 + mm]
        c = qc1.AllocTensor(np.float32)
        for k0 in range(0, K, baseK):
            kb = min(baseK, K - k0)
            a2 = qa2.AllocTensor(np.float16)
            LoadData3D(a2, image, rows[:, k0:k0 + kb])
            qa2.EnQue(a2)
            b2 = qb2.AllocTensor(np.float16)
            LoadData(b2, wt, (cop, K), (0, cop), (k0, kb), transpose=True)
            qb2.EnQue(b2)
            a2, b2 = qa2.DeQue(), qb2.DeQue()
            Mmad(c, a2, b2, mm, kb, co, init=(k0 == 0))
            qa2.FreeTensor(a2)
            qb2.FreeTensor(b2)
        qc1.EnQue(c)
        c = qc1.DeQue()
        y = qc2.AllocTensor(out_gm.dtype)
        Fixpipe(y, c, mm, co)
        qc2.EnQue(y)
        y = qc2.DeQue()
        gap = (cop * it - align_up(co * it)) // 32
        DataCopyPad(out_gm[(s_ * L + m0) * co:], y, DataCopyExtParams(mm, co * it, gap, 0))
        qc2.FreeTensor(y)
        qc1.FreeTensor(c)
    if image is not None:
        qimg.FreeTensor(image)
    qw.FreeTensor(wt)


def _conv_tiles(cop, prof):
    baseM = 256 if cop <= 128 else 128
    baseK = 64
    while baseK > 16 and (2 * baseM * baseK * 2 > prof.l0a or 2 * baseK * cop * 2 > prof.l0b):
        baseK //= 2
    return baseM, baseK


def _launch_conv(src16, wm, idx, L, cout, out_dtype, name):
    """Run the Conv2D kernel: ``src16`` (N, C, H, W) float16 goes to NC1HWC0 and one image per sample into L1,
    ``wm`` (cout x K) is the weight in the patch order, ``idx`` (L x K) the Load3D map. None when it does not fit."""
    prof = current_profile()
    n, c, h, wd = src16.shape
    c1 = -(-c // C0)
    img, K, cop = c1 * h * wd * C0, wm.shape[1], _r16(cout)
    baseM, baseK = _conv_tiles(cop, prof)
    out_it = np.dtype(out_dtype).itemsize
    fits = (cop <= 256 and 2 * align_up(img * 2) + cop * K * 2 <= prof.l1 and 2 * baseM * cop * 4 <= prof.l0c
            and 2 * align_up(baseM * cop * out_it) <= prof.ub // 2)
    if not fits:
        return None
    x5 = gather("TransData(NCHW->NC1HWC0)", [src16], nchw_to_nc1hwc0(
        np.arange(1, src16.size + 1, dtype=np.int64).reshape(src16.shape)) - 1, (n, c1, h, wd, C0))
    out = np.empty((n * L, cout), out_dtype)
    items = n * (-(-L // baseM))
    launch(_conv_kernel, min(prof.ai_cores, items), GlobalTensor(x5), GlobalTensor(np.ascontiguousarray(wm)),
           GlobalTensor(out), n, L, cout, K, img, idx, baseM, baseK, name=name, profile=prof)
    return out


def _conv_in_core(x16, w16, stride, pad, dilation, out_dtype):
    """The Conv2D kernel (Load3D) for one channel group, or None when its operands do not fit the buffers."""
    n, c, h, wd = x16.shape
    co, _, kh, kw = w16.shape
    if _r16(co) > 256:
        return None
    idx, L = _sample_index(c, h, wd, kh, kw, stride, pad, dilation)
    return _launch_conv(x16, _wmat(w16), idx, L, co, out_dtype, "Conv2D")


@functools.lru_cache(maxsize=128)
def _transposed_index(co, oh, ow, h, w, kh, kw, stride, pad, dilation):
    """Load3D map of the input gradient as a convolution over dout: for input position (ih, iw) and entry
    (co1, i, j, co0), the dout element (co, oh, ow) with oh * stride = ih + pad - i * dilation (-1 when none)."""
    co1 = -(-co // C0)
    IH, IW, C1, I, J, Z = np.ix_(np.arange(h), np.arange(w), np.arange(co1), np.arange(kh), np.arange(kw),
                                 np.arange(C0))
    th, tw = IH + pad[0] - I * dilation[0], IW + pad[2] - J * dilation[1]
    oh_i, ow_i = th // stride[0], tw // stride[1]
    ok = (th % stride[0] == 0) & (tw % stride[1] == 0) & (oh_i >= 0) & (oh_i < oh) & (ow_i >= 0) & (ow_i < ow) \
        & (C1 * C0 + Z < co)
    idx = np.where(ok, ((C1 * oh + oh_i) * ow + ow_i) * C0 + Z, -1)
    return idx.reshape(h * w, co1 * kh * kw * C0)


@functools.lru_cache(maxsize=128)
def _transposed_weight_index(co, c, kh, kw):
    """(C_in, C_out1*kh*kw*C0) index into the (C_out, C_in, kh, kw) weight: the weight seen from dout's side."""
    co1 = -(-co // C0)
    Ci, C1, I, J, Z = np.ix_(np.arange(c), np.arange(co1), np.arange(kh), np.arange(kw), np.arange(C0))
    ch = C1 * C0 + Z
    idx = np.where(ch < co, ((ch * c + Ci) * kh + I) * kw + J, -1)
    return idx.reshape(c, co1 * kh * kw * C0)


def _bpi_in_core(d16, w16, input_size, stride, pad, dilation, out_dtype):
    """The input gradient as a convolution over dout (the Conv2D kernel with the transposed Load3D map), or None."""
    n, c, h, wd = input_size
    co, _, kh, kw = w16.shape
    if _r16(c) > 256:
        return None
    oh, ow = d16.shape[2:]
    idx = _transposed_index(co, oh, ow, h, wd, kh, kw, tuple(stride), tuple(pad), tuple(dilation))
    widx = _transposed_weight_index(co, c, kh, kw)
    wm = gather("TransData(FRACTAL_Z, transposed)", [w16], widx, widx.shape)
    m = _launch_conv(d16, wm, idx, h * wd, c, out_dtype, "Conv2DBackpropInput")
    return None if m is None else _rows_to_nchw(m, n, h, wd, "TransData(->NCHW)")


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
            m = _conv_in_core(xg, wg, stride, pad, dilation, dtype)
            if m is None:
                cols, _, _ = _patches(xg, kh, kw, stride, pad, dilation)
                m = matmul(cols, _wmat(wg), transpose_b=True, out_dtype=dtype, name="Conv2D(img2col in GM + Cube)")
            outs.append(m)
        oh = _out(h, kh, stride[0], pad[0], pad[1], dilation[0])
        ow = _out(wd, kw, stride[1], pad[2], pad[3], dilation[1])
        m = outs[0] if groups == 1 else np.concatenate(outs, axis=1)
        return _rows_to_nchw(m, n, oh, ow, "TransData(->NCHW)")


def conv2d_backprop_input(dout, w, input_size, stride, pad, dilation, groups):
    dtype = dout.dtype
    n, c, h, wd = input_size
    co, cg, kh, kw = w.shape
    with op_scope("Conv2DBackpropInput"):
        d16, w16 = cast(dout, np.float16), cast(w, np.float16)
        if groups == 1:
            dx = _bpi_in_core(d16, w16, input_size, stride, pad, dilation, dtype)
            if dx is not None:
                return dx
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


def _filter_kernel(x5_gm, d_gm, ws_gm, n, L, co, K, img, idx, baseP, baseN, groups_):
    """Block (tile of K entries, group of samples): sum over the group's samples and positions of
    dout^T (C_out x positions, from L1) x patches (positions x K entries, Load3D into L0B); the partial sum goes
    to the GM workspace row of the group."""
    n_tiles = -(-K // baseN)
    b = GetBlockIdx()
    g, t = divmod(b, n_tiles)
    per = -(-n // groups_)
    s0, s1 = g * per, min(n, (g + 1) * per)
    n0 = t * baseN
    nb = min(baseN, K - n0)
    cop, lp = _r16(co), _r16(L)
    pipe = TPipe()
    qimg, qd = TQue(TPosition.B1, 2, "inQueueImage"), TQue(TPosition.A1, 2, "inQueueDout")
    qa2, qb2 = TQue(TPosition.A2, 2, "inQueueA2"), TQue(TPosition.B2, 2, "inQueueB2")
    qc1, qc2 = TQue(TPosition.CO1, 1, "outQueueCO1"), TQue(TPosition.CO2, 1, "outQueueCO2")
    pipe.InitBuffer(qimg, 2, align_up(img * 2))
    pipe.InitBuffer(qd, 2, lp * cop * 2)
    pipe.InitBuffer(qa2, 2, cop * baseP * 2)
    pipe.InitBuffer(qb2, 2, baseP * baseN * 2)
    pipe.InitBuffer(qc1, 1, cop * baseN * 4)
    pipe.InitBuffer(qc2, 1, cop * baseN * 4)
    c = qc1.AllocTensor(np.float32)
    first = True
    for s_ in range(s0, s1):
        image = qimg.AllocTensor(np.float16)
        DataCopy(image, x5_gm[s_ * img:], img)
        qimg.EnQue(image)
        dl = qd.AllocTensor(np.float16)
        DataCopy(dl, d_gm[s_ * L * co:], Nd2NzParams(L, co, co))       # (positions x C_out) -> NZ
        qd.EnQue(dl)
        image, dl = qimg.DeQue(), qd.DeQue()
        for p0 in range(0, L, baseP):
            pc = min(baseP, L - p0)
            rows = np.full((_r16(pc), nb + (-nb) % 16), -1, np.int64)
            rows[:pc, :nb] = idx[p0:p0 + pc, n0:n0 + nb]
            a2 = qa2.AllocTensor(np.float16)
            LoadData(a2, dl, (lp, cop), (p0, _r16(pc)), (0, cop), transpose=True)     # A = dout^T
            qa2.EnQue(a2)
            b2 = qb2.AllocTensor(np.float16)
            LoadData3D(b2, image, rows)                                            # B = patches
            qb2.EnQue(b2)
            a2, b2 = qa2.DeQue(), qb2.DeQue()
            Mmad(c, a2, b2, co, pc, nb, init=first)
            first = False
            qa2.FreeTensor(a2)
            qb2.FreeTensor(b2)
        qimg.FreeTensor(image)
        qd.FreeTensor(dl)
    y = qc2.AllocTensor(np.float32)
    if first:                                  # no samples in this group: a zero partial sum
        Duplicate(y, 0.0, cop * _r16(nb))
    else:
        qc1.EnQue(c)
        c = qc1.DeQue()
        Fixpipe(y, c, co, nb)
    qc2.EnQue(y)
    y = qc2.DeQue()
    gap = (_r16(nb) * 4 - align_up(nb * 4)) // 32
    DataCopyPad(ws_gm[g * co * K + n0:], y, DataCopyExtParams(co, nb * 4, gap, (K - nb) * 4))
    qc2.FreeTensor(y)
    qc1.FreeTensor(c)


def _filter_in_core(d16, x16, filter_size, stride, pad, dilation):
    """(C_out, C1*kh*kw*C0) float32 weight gradient from the Conv2DBackpropFilter kernel, or None when its operands
    do not fit the buffers."""
    prof = current_profile()
    n, c, h, wd = x16.shape
    co, _, kh, kw = filter_size
    c1 = -(-c // C0)
    img, K, cop = c1 * h * wd * C0, c1 * kh * kw * C0, _r16(co)
    idx, L = _sample_index(c, h, wd, kh, kw, stride, pad, dilation)
    baseP, baseN = 128, 128
    fits = (cop <= 128 and 2 * align_up(img * 2) + 2 * _r16(L) * cop * 2 <= prof.l1
            and 2 * cop * baseP * 2 <= prof.l0a and 2 * baseP * baseN * 2 <= prof.l0b and cop * baseN * 4 <= prof.l0c)
    if not fits:
        return None
    x5 = gather("TransData(NCHW->NC1HWC0)", [x16], nchw_to_nc1hwc0(
        np.arange(1, x16.size + 1, dtype=np.int64).reshape(x16.shape)) - 1, (n, c1, h, wd, C0))
    dm = _nchw_to_rows(d16, "TransData(NCHW->rows)")
    n_tiles = -(-K // baseN)
    groups_ = max(1, min(n, prof.ai_cores // n_tiles))
    ws = np.empty((groups_, co * K), np.float32)                      # partial sums per sample group
    launch(_filter_kernel, n_tiles * groups_, GlobalTensor(x5), GlobalTensor(dm), GlobalTensor(ws), n, L, co, K,
           img, idx, baseP, baseN, groups_, name="Conv2DBackpropFilter", profile=prof)
    return reduce_cols(ws, "sum").reshape(co, K) if groups_ > 1 else ws.reshape(co, K)


def conv2d_backprop_filter(dout, x, filter_size, stride, pad, dilation, groups):
    dtype = dout.dtype
    co, cg, kh, kw = filter_size
    with op_scope("Conv2DBackpropFilter"):
        d16, x16 = cast(dout, np.float16), cast(x, np.float16)
        dwm = _filter_in_core(d16, x16, filter_size, stride, pad, dilation) if groups == 1 else None
        parts = []
        if dwm is not None:
            parts.append(dwm)
        else:
            dm = _nchw_to_rows(d16, "TransData(NCHW->rows)")
            cog = co // groups
            for g in range(groups):
                xg = x16 if groups == 1 else np.ascontiguousarray(x16[:, g * cg:(g + 1) * cg])
                dmg = dm if groups == 1 else np.ascontiguousarray(dm[:, g * cog:(g + 1) * cog])
                cols, _, _ = _patches(xg, kh, kw, stride, pad, dilation)
                parts.append(matmul(dmg, cols, transpose_a=True, out_dtype=np.float32,
                                    name="Conv2DBackpropFilter(img2col in GM + Cube)"))
        # (C_out_g, C1*kh*kw*C0) -> (C_out_g, cg, kh, kw)
        cog = co // groups
        c1 = -(-cg // C0)
        O, C, I, J = np.ix_(np.arange(cog), np.arange(cg), np.arange(kh), np.arange(kw))
        idx = (((O * c1 + C // C0) * kh + I) * kw + J) * C0 + C % C0
        parts = [gather("TransData(FRACTAL_Z->NCHW)", [p_], idx, idx.shape, dtype=dtype) for p_ in parts]
        return parts[0] if groups == 1 else np.concatenate(parts, axis=0)
