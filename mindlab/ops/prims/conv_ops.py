"""Convolution primitives: conv2d and its two backward primitives, conv2d_backprop_input and
conv2d_backprop_filter (each one's bprop uses conv2d and the other one, so gradients of any order work).

CPU kernels: im2col / col2im in numba (``mindlab.kernels.cpu.conv``) around MKL / BLAS GEMMs
(``mindlab.kernels.cpu.blas``). The shard rule of the whole family is here; pooling's rules reuse its labels.
"""
import numpy as np

from ...errors import ShapeError, where
from ..abstract import AbstractTensor
from ..registry import defprim, Cost
from ..shard import ShardSpec
from ..dispatch import bind
from .._api import Primitive, as_tensor
from .math_ops import add
from .array_ops import reshape
from ...kernels.cpu import conv as _kconv, blas as _blas, mkl as _mkl, conv_tiled as _conv_tiled
from .nn_ops import _float_same, _kernel, _nchw, _hw, _pads, _out_size
from . import native_rules as _native

__all__ = ["conv2d"]
__operations__ = ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"]


# ---------------------------------------------------------------- shard rules of the convolution family
_SPATIAL = "a spatial dim: windows overlap the pieces' borders (halo exchange is not implemented)"
_KERNEL = "a kernel window dim"


def _conv_family_shard(roles, groups, localize=None):
    """Shard spec of conv2d and its backprops from each operand's role: "x" (N, C, H, W), "w" (Co, Cig, kh, kw),
    "y" (N, Co, oh, ow). Batch "n" and channels split; with groups == 1 input channels "c" and output channels
    "o" are independent, with groups > 1 both follow the group label "g" (pieces must hold whole groups, and the
    kernel then runs groups / pieces groups). Spatial and window dims stay whole."""
    one = groups == 1
    dims = {"x": ("n", "c" if one else "g", None, None), "y": ("n", "o" if one else "g", None, None),
            "w": ("o" if one else "g", "c" if one else None, None, None)}
    ins, out = [dims[r] for r in roles[:-1]], dims[roles[-1]]
    present = set(out)
    reduce = {lab: "sum" for d in ins for lab in d if lab is not None and lab not in present}
    why = {}
    for i, r in enumerate(roles[:-1]):
        if r == "w":
            why.update({(i, 2): _KERNEL, (i, 3): _KERNEL})
            if not one:
                why[(i, 1)] = "the channels within a group"
        else:
            why.update({(i, 2): _SPATIAL, (i, 3): _SPATIAL})

    def check(splits):
        g = splits.get("g", 1)
        if groups % g:
            return f"{g} pieces of the channels do not hold whole groups (groups={groups})"
        return None

    def local(in_shapes, out_shapes, splits):
        attrs = {} if one else {"groups": groups // splits.get("g", 1)}
        if localize:
            attrs[localize] = out_shapes[0]
        return attrs
    return ShardSpec(ins, (out,), reduce=reduce, check=None if one else check,
                     localize=local if (localize or not one) else None, why=why)


# ---------------------------------------------------------------- conv2d and its two backprop primitives
def _conv_check(x, w, stride, pad, dilation, groups):
    """Shape rules shared by conv2d and its backprops; returns the output shape."""
    _nchw(x)
    if w.ndim != 4:
        raise ShapeError(f"weight must be 4-D (C_out, C_in/groups, kh, kw), got shape {list(w.shape)}")
    n, c, h, wd = x.shape
    co, cig, kh, kw = w.shape
    if c % groups or co % groups:
        raise ShapeError(f"groups={groups} must divide the input channels ({c}) and the output channels ({co})")
    if c // groups != cig:
        raise ShapeError(f"the weight expects {cig * groups} input channels ({cig} per group x {groups} groups) "
                         f"but the input has {c}")
    oh = _out_size(h, kh, stride[0], pad[0], pad[1], dilation[0])
    ow = _out_size(wd, kw, stride[1], pad[2], pad[3], dilation[1])
    if oh < 1 or ow < 1:
        raise ShapeError(f"the kernel {kh}x{kw} (dilation {dilation}) does not fit the padded input "
                         f"{h + pad[0] + pad[1]}x{wd + pad[2] + pad[3]}")
    return (n, co, oh, ow)


def _conv_infer(x, w, stride, pad, dilation, groups):
    _float_same(x, w)
    return AbstractTensor(_conv_check(x, w, stride, pad, dilation, groups), x.dtype)


def _im2col(x, khw, stride, pad, dilation, ohw):
    return _kconv.im2col(x, khw[0], khw[1], stride[0], stride[1], pad[0], pad[2],
                         dilation[0], dilation[1], ohw[0], ohw[1])


# Stride 1, one group: the row layout of kernels/cpu/conv.py (contiguous tap copies; output rows computed at the
# padded input's full width, the extra columns dropped or zeroed). Measured on LeNet-5's layers: im2col 5-7x
# faster, the conv2d / backprop steps 1.5-2.5x.
def _rows_path(stride, groups):
    return stride == (1, 1) and groups == 1


def _padded(x, pad):
    if not any(pad):
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad[0], pad[1]), (pad[2], pad[3])))


def _rows_cols(x, khw, pad, dilation, oh):
    """(C*kh*kw, N, oh*Wp) row-layout patches of the padded x, and the padded width Wp."""
    xp = _padded(x, pad)
    return _kconv.im2col_rows(xp, khw[0], khw[1], dilation[0], dilation[1], oh), xp.shape[3]


def _rows_dout(dout, wp, channels_first=False):
    """dout (N, Co, oh, ow) widened to (N, Co, oh*Wp) -- or (Co, N*oh*Wp) -- with zeros in the garbage columns."""
    n, co, oh, ow = dout.shape
    if channels_first:
        de = np.zeros((co, n, oh, wp), dout.dtype)
        de[:, :, :, :ow] = dout.transpose(1, 0, 2, 3)
        return de.reshape(co, n * oh * wp)
    de = np.zeros((n, co, oh, wp), dout.dtype)
    de[:, :, :, :ow] = dout
    return de.reshape(n, co, oh * wp)


def _tiled(*arrays):
    """kernels/cpu/conv_tiled when it takes these operands (MKL's compiled callers are loaded, one float dtype),
    else None. It runs a stride-1, one-group layer per sample with the patches in cache: 1.5-2.3x the batch-wide
    row path on LeNet-5's layers (docs/benchmarks.md)."""
    dt = arrays[0].dtype
    if _mkl.jit_callers() is None or dt.char not in "fd" or any(a.dtype != dt for a in arrays):
        return None
    return _conv_tiled


def _conv_rows(x, w, pad, dilation, oh, ow):
    tiled = _tiled(x, w)
    if tiled is not None:
        return tiled.conv2d(np.ascontiguousarray(_padded(x, pad)), w, oh, ow, dilation)
    n, co = x.shape[0], w.shape[0]
    cols, wp = _rows_cols(x, w.shape[2:], pad, dilation, oh)
    out = _blas.matmul(w.reshape(co, -1), cols.reshape(cols.shape[0], -1))           # (Co, N*oh*Wp): one GEMM
    return np.ascontiguousarray(out.reshape(co, n, oh, wp)[:, :, :, :ow].transpose(1, 0, 2, 3))


def _conv_cpu(x, w, stride, pad, dilation, groups):
    n = x.shape[0]
    co, cig, kh, kw = w.shape
    oh = _out_size(x.shape[2], kh, stride[0], pad[0], pad[1], dilation[0])
    ow = _out_size(x.shape[3], kw, stride[1], pad[2], pad[3], dilation[1])
    if x.size == 0 or w.size == 0:   # an empty batch / channel set: sums over nothing are 0
        return np.zeros((n, co, oh, ow), np.result_type(x, w))
    if _rows_path(stride, groups):
        return _conv_rows(x, w, pad, dilation, oh, ow)
    cols = _im2col(x, (kh, kw), stride, pad, dilation, (oh, ow))                  # (N, C*kh*kw, L)
    if groups == 1:
        out = _blas.matmul(w.reshape(co, -1), cols)                                 # (N, C_out, L)
    else:
        out = _blas.matmul(w.reshape(groups, co // groups, -1), cols.reshape(n, groups, cig * kh * kw, -1))
    return out.reshape(n, co, oh, ow)


def _conv_cost(x, w, stride, pad, dilation, groups):
    n, co, oh, ow = _conv_check(x, w, stride, pad, dilation, groups)
    return Cost(2.0 * n * co * oh * ow * w.size // max(co, 1), x.nbytes + w.nbytes + n * co * oh * ow * x.dtype.np.itemsize)


def _conv_bprop(inputs, out, dout, stride, pad, dilation, groups, needs=None):
    x, w = inputs
    geo = dict(stride=stride, pad=pad, dilation=dilation, groups=groups)
    return (bind(conv2d_backprop_input_p, dout, w, input_size=tuple(x.shape), **geo)
            if needs is None or needs[0] else None,
            bind(conv2d_backprop_filter_p, dout, x, filter_size=tuple(w.shape), **geo)
            if needs is None or needs[1] else None)


conv2d_p = defprim("conv2d", infer=_conv_infer, cpu=_kernel(_conv_cpu), cost=_conv_cost, bprop=_conv_bprop,
                   shard=lambda x, w, groups, **geo: _conv_family_shard("xwy", groups), native=_native.conv2d,
                   doc="2-D convolution of NCHW input with (C_out, C_in/groups, kh, kw) weight: im2col + GEMM.")


def _check_dout(dout, expected):
    if tuple(dout.shape) != expected:
        raise ShapeError(f"dout has shape {list(dout.shape)} but the convolution's output has shape {list(expected)}")


def _bpi_infer(dout, w, input_size, stride, pad, dilation, groups):
    _float_same(dout, w)
    _check_dout(dout, _conv_check(AbstractTensor(input_size, w.dtype), w, stride, pad, dilation, groups))
    return AbstractTensor(input_size, dout.dtype)


def _bpi_cpu(dout, w, input_size, stride, pad, dilation, groups):
    """dx = col2im(w^T @ dout): the adjoint of im2col + GEMM."""
    n, c, h, wd = input_size
    co, cig, kh, kw = w.shape
    oh, ow = dout.shape[2:]
    if dout.size == 0 or w.size == 0:
        return np.zeros(input_size, np.result_type(dout, w))
    if _rows_path(stride, groups) and np.isfinite(w).all():   # a non-finite weight would spread into garbage columns
        hp, wp = h + pad[0] + pad[1], wd + pad[2] + pad[3]
        tiled = _tiled(dout, w)
        if tiled is not None:
            dx = tiled.conv2d_backprop_input(dout, w, (n, c, hp, wp), dilation)
            return dx if hp == h and wp == wd else np.ascontiguousarray(dx[:, :, pad[0]:pad[0] + h, pad[2]:pad[2] + wd])
        dcols = _blas.matmul(w.reshape(co, -1).T, _rows_dout(dout, wp, True))         # (C*kh*kw, N*oh*Wp)
        dx = _kconv.col2im_rows(dcols.reshape(-1, n, oh * wp), n, c, hp, wp, kh, kw, dilation[0], dilation[1], oh)
        return dx if hp == h and wp == wd else np.ascontiguousarray(dx[:, :, pad[0]:pad[0] + h, pad[2]:pad[2] + wd])
    if groups == 1:
        dcols = _blas.matmul(w.reshape(co, -1).T, dout.reshape(n, co, -1))             # (N, C*kh*kw, L)
    else:
        wg = w.reshape(groups, co // groups, -1).transpose(0, 2, 1)                  # (G, Cg*kh*kw, Co_g)
        dcols = _blas.matmul(wg, dout.reshape(n, groups, co // groups, -1)).reshape(n, c * kh * kw, -1)
    return _kconv.col2im(np.ascontiguousarray(dcols), c, h, wd, kh, kw, stride[0], stride[1], pad[0], pad[2],
                         dilation[0], dilation[1], oh, ow)


def _bpi_bprop(inputs, out, g, input_size, stride, pad, dilation, groups):
    # dx = B_in(dout, w) with <B_in(dout, w), v> = <dout, conv2d(v, w)>: linear in dout and in w
    dout, w = inputs
    geo = dict(stride=stride, pad=pad, dilation=dilation, groups=groups)
    return (bind(conv2d_p, g, w, **geo),
            bind(conv2d_backprop_filter_p, dout, g, filter_size=tuple(w.shape), **geo))


conv2d_backprop_input_p = defprim(
    "conv2d_backprop_input", infer=_bpi_infer, cpu=_kernel(_bpi_cpu), bprop=_bpi_bprop,
    native=_native.conv2d_backprop_input,
    shard=lambda dout, w, input_size, groups, **geo: _conv_family_shard("ywx", groups, "input_size"),
    cost=lambda dout, w, input_size, **geo: Cost(
        2.0 * dout.size * w.size // max(w.shape[0], 1), dout.nbytes + w.nbytes + int(np.prod(input_size)) * w.dtype.np.itemsize),
    doc="Gradient of conv2d w.r.t. its input (MindSpore's Conv2DBackpropInput); input_size is the input's shape.")


def _bpf_infer(dout, x, filter_size, stride, pad, dilation, groups):
    _float_same(dout, x)
    _check_dout(dout, _conv_check(x, AbstractTensor(filter_size, x.dtype), stride, pad, dilation, groups))
    return AbstractTensor(filter_size, x.dtype)


def _bpf_cpu(dout, x, filter_size, stride, pad, dilation, groups):
    """dw = sum over the batch of dout @ im2col(x)^T."""
    n = x.shape[0]
    co, cig, kh, kw = filter_size
    if dout.size == 0 or x.size == 0:
        return np.zeros(filter_size, np.result_type(dout, x))
    if _rows_path(stride, groups) and np.isfinite(x).all():   # garbage columns hold x's values, times a zero dout
        tiled = _tiled(dout, x)
        if tiled is not None:
            return tiled.conv2d_backprop_filter(dout, np.ascontiguousarray(_padded(x, pad)), filter_size, dilation)
        if co * cig * kh * kw <= 512:   # a small filter: dot products straight from x, no patches
            xp = _padded(x, pad)
            return _kconv.filter_grad_rows(_rows_dout(dout, xp.shape[3]), xp, kh, kw, dilation[0], dilation[1],
                                           dout.shape[2])
        cols, wp = _rows_cols(x, (kh, kw), pad, dilation, dout.shape[2])
        if co >= 12:
            # dw^T = cols (K, N*oh*Wp) @ dout^T as one GEMM: in MKL 1.5-2.3x faster than per-sample GEMMs from 16
            # output channels on, 3.5x slower at 6
            dwt = _blas.matmul(cols.reshape(cols.shape[0], -1), _rows_dout(dout, wp, True).T)
            return np.ascontiguousarray(dwt.T).reshape(filter_size)
        dw = _blas.matmul(_rows_dout(dout, wp), cols.transpose(1, 2, 0)).sum(0)   # per sample (Co, K), summed
        return dw.reshape(filter_size)
    cols = _im2col(x, (kh, kw), stride, pad, dilation, dout.shape[2:])               # (N, C*kh*kw, L)
    if groups == 1:
        dw = _blas.matmul(dout.reshape(n, co, -1), cols.transpose(0, 2, 1)).sum(0)
    else:
        cols = cols.reshape(n, groups, cig * kh * kw, -1).transpose(0, 1, 3, 2)
        dw = _blas.matmul(dout.reshape(n, groups, co // groups, -1), cols).sum(0)
    return dw.reshape(filter_size)


def _bpf_bprop(inputs, out, g, filter_size, stride, pad, dilation, groups):
    # dw = B_f(dout, x) with <B_f(dout, x), v> = <dout, conv2d(x, v)>: linear in dout and in x
    dout, x = inputs
    geo = dict(stride=stride, pad=pad, dilation=dilation, groups=groups)
    return (bind(conv2d_p, x, g, **geo),
            bind(conv2d_backprop_input_p, dout, g, input_size=tuple(x.shape), **geo))


conv2d_backprop_filter_p = defprim(
    "conv2d_backprop_filter", infer=_bpf_infer, cpu=_kernel(_bpf_cpu), bprop=_bpf_bprop,
    native=_native.conv2d_backprop_filter,
    shard=lambda dout, x, filter_size, groups, **geo: _conv_family_shard("yxw", groups, "filter_size"),
    cost=lambda dout, x, filter_size, **geo: Cost(2.0 * dout.size * int(np.prod(filter_size)) // max(filter_size[0], 1),
                                                  dout.nbytes + x.nbytes),
    doc="Gradient of conv2d w.r.t. its weight (MindSpore's Conv2DBackpropFilter); filter_size is the weight's shape.")


def _conv_geometry(x_hw, k_hw, stride, pad_mode, padding, dilation, groups, op="conv2d"):
    """Static attributes of a convolution from MindSpore-style arguments."""
    stride, dilation = _hw(stride, "stride", op), _hw(dilation, "dilation", op)
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}.{where()}")
    pad = _pads(pad_mode, padding, x_hw, k_hw, stride, dilation, op)
    return dict(stride=stride, pad=pad, dilation=dilation, groups=int(groups))


def conv2d(input, weight, bias=None, stride=1, pad_mode="valid", padding=0, dilation=1, groups=1):
    """2-D convolution of an NCHW ``input`` with ``weight`` (C_out, C_in/groups, kh, kw), plus ``bias`` (C_out,)
    if given. ``pad_mode``: "valid" (no padding), "same" (output ceil(H / stride), extra padding at the bottom /
    right) or "pad" (``padding``: int, (pad_h, pad_w) or (top, bottom, left, right)). ``stride``, ``dilation``:
    int or pair. ``groups`` splits the channels into independent convolutions."""
    x, w = as_tensor(input), as_tensor(weight)
    geo = _conv_geometry(x.shape[2:] if x.ndim == 4 else (0, 0), w.shape[2:] if w.ndim == 4 else (1, 1),
                         stride, pad_mode, padding, dilation, groups)
    out = bind(conv2d_p, x, w, **geo)
    if bias is not None:
        b = as_tensor(bias)
        if b.shape != (out.shape[1],):
            raise ValueError(f"conv2d: bias must have shape [{out.shape[1]}] (one value per output channel), got "
                             f"{list(b.shape)}.{where()}")
        out = add(out, reshape(b, (1, -1, 1, 1)))
    return out


class Conv2D(Primitive):
    """``P.Conv2D(out_channel, kernel_size, mode=1, pad_mode="valid", pad=0, stride=1, dilation=1, group=1,
    data_format="NCHW")(x, weight)``; the weight's shape must agree with ``out_channel`` and ``kernel_size``."""

    def __init__(self, out_channel, kernel_size, mode=1, pad_mode="valid", pad=0, stride=1, dilation=1, group=1,
                 data_format="NCHW"):
        super().__init__()
        if data_format != "NCHW":
            raise ValueError(f"Conv2D: only data_format='NCHW' is supported, got {data_format!r}.{where()}")
        self.out_channel, self.kernel_size = int(out_channel), _hw(kernel_size, "kernel_size", "Conv2D")
        self.mode, self.pad_mode, self.pad, self.stride, self.dilation, self.group = \
            mode, pad_mode, pad, stride, dilation, group

    def _check_weight(self, w_shape):
        if len(w_shape) != 4 or w_shape[0] != self.out_channel or tuple(w_shape[2:]) != self.kernel_size:
            raise ValueError(f"{self.name}: weight shape {list(w_shape)} does not match out_channel="
                             f"{self.out_channel}, kernel_size={self.kernel_size}.{where()}")

    def __call__(self, x, weight):
        self._check_weight(weight.shape)
        return conv2d(x, weight, None, self.stride, self.pad_mode, self.pad, self.dilation, self.group)


class Conv2DBackpropInput(Conv2D):
    """``P.Conv2DBackpropInput(out_channel, kernel_size, pad_mode="valid", pad=0, mode=1, stride=1, dilation=1,
    group=1)(dout, weight, input_size)``: the gradient of Conv2D w.r.t. its input (the transposed convolution)."""

    def __init__(self, out_channel, kernel_size, pad_mode="valid", pad=0, pad_list=None, mode=1, stride=1,
                 dilation=1, group=1, data_format="NCHW"):
        super().__init__(out_channel, kernel_size, mode, pad_mode, pad if pad_list is None else pad_list,
                         stride, dilation, group, data_format)

    def __call__(self, dout, weight, input_size):
        self._check_weight(weight.shape)
        input_size = tuple(int(s) for s in input_size)
        geo = _conv_geometry(input_size[2:], self.kernel_size, self.stride, self.pad_mode, self.pad,
                             self.dilation, self.group, self.name)
        return bind(conv2d_backprop_input_p, as_tensor(dout), as_tensor(weight), input_size=input_size, **geo)


class Conv2DBackpropFilter(Conv2D):
    """``P.Conv2DBackpropFilter(out_channel, kernel_size, pad_mode="valid", pad=0, mode=1, stride=1, dilation=1,
    group=1)(dout, x, filter_size)``: the gradient of Conv2D w.r.t. its weight."""

    def __init__(self, out_channel, kernel_size, pad_mode="valid", pad=0, pad_list=None, mode=1, stride=1,
                 dilation=1, group=1, data_format="NCHW"):
        super().__init__(out_channel, kernel_size, mode, pad_mode, pad if pad_list is None else pad_list,
                         stride, dilation, group, data_format)

    def __call__(self, dout, x, filter_size):
        filter_size = tuple(int(s) for s in filter_size)
        self._check_weight(filter_size)
        x = as_tensor(x)
        geo = _conv_geometry(x.shape[2:], self.kernel_size, self.stride, self.pad_mode, self.pad,
                             self.dilation, self.group, self.name)
        return bind(conv2d_backprop_filter_p, as_tensor(dout), x, filter_size=filter_size, **geo)
