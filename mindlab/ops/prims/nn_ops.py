"""Neural-network primitives: conv2d, max / average pooling, softmax / log_softmax, sparse softmax cross entropy,
dropout, layer norm and batch norm, with their backward primitives.

Kernels are numba (``mindlab.kernels.cpu.conv / pool / softmax / norm``) with BLAS GEMMs for convolution. Every
fused backward is a primitive of its own whose bprop is written with mindlab ops, so gradients of any order work:

* conv2d -> conv2d_backprop_input / conv2d_backprop_filter (each one's bprop uses conv2d and the other one)
* max_pool -> max_pool_grad -> max_pool_grad_grad (linear in the cotangent given the window argmaxes of x)
* avg_pool <-> avg_pool_grad (each is the other's adjoint)
* softmax -> softmax_grad, log_softmax -> log_softmax_grad, sparse_softmax_cross_entropy -> ..._grad
* layer_norm -> layer_norm_grad, batch_norm -> batch_norm_grad (second order: composite, see ``_norm_grad_bprop``)

Padding modes are resolved to explicit (top, bottom, left, right) pads in the public functions (shapes are static),
so the primitives carry only explicit geometry.
"""
import numpy as np

from ...errors import ShapeError, DTypeError, MindlabError, where
from ...common import seed as _seed
from ..abstract import AbstractTensor, norm_axis
from ..registry import defprim, not_differentiable, elementwise_cost, Cost
from ..shard import ShardSpec, same_rule, keep_rule, axis_of
from ..dispatch import bind
from .._api import Primitive, as_tensor
from .math_ops import add, sub, mul, div, neg, exp
from .reduce_ops import sum as _sum, sum_to
from .array_ops import reshape, zeros_like, ones_like
from ...kernels.cpu import conv as _kconv, pool as _kpool, softmax as _ksm, norm as _knorm, blas as _blas

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "softmax", "log_softmax", "sparse_softmax_cross_entropy",
           "dropout", "layer_norm", "batch_norm"]
__operations__ = ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "MaxPool", "AvgPool", "Softmax",
                  "LogSoftmax", "SparseSoftmaxCrossEntropyWithLogits", "Dropout", "LayerNorm", "BatchNorm"]


class LabelError(MindlabError, ValueError):
    """A class label outside [0, num_classes)."""


# ---------------------------------------------------------------- shared checks and geometry
def _float_same(*avals):
    """Floating inputs of one dtype (the kernels compute in the input dtype)."""
    for a in avals:
        if a.dtype.kind != "f":
            raise DTypeError(f"inputs must be floating point, got {', '.join(str(b.dtype) for b in avals)}")
    for a in avals[1:]:
        if a.dtype is not avals[0].dtype:
            raise DTypeError(f"inputs must have the same dtype, got {', '.join(str(b.dtype) for b in avals)}")


def _kernel(fn):
    """A CPU impl fed contiguous arrays; float16 is computed in float32 (numba has no float16 arithmetic) and the
    dispatcher casts the result back to the inferred dtype."""
    def impl(*arrays, **attrs):
        return fn(*[np.ascontiguousarray(a, np.float32) if a.dtype == np.float16 else np.ascontiguousarray(a)
                    for a in arrays], **attrs)
    impl.__name__ = impl.__qualname__ = getattr(fn, "__name__", "impl")
    return impl


def _nchw(x, what="input"):
    if x.ndim != 4:
        raise ShapeError(f"{what} must be 4-D (N, C, H, W), got shape {list(x.shape)}")


def _hw(value, what, op):
    """An int, a pair, or MindSpore's 4-tuple (1, 1, h, w) as a pair of positive ints (h, w)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    value = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(value) == 4:
        value = value[2:]
    if len(value) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1
                                  for v in value):
        raise ValueError(f"{op}: {what} must be a positive int or a tuple of 2 positive ints, got {value!r}.{where()}")
    return int(value[0]), int(value[1])


def _same_pads(size, k, s, d=1):
    """TF / MindSpore 'same' padding of one dim: output ceil(size / s), extra padding at the end."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def _pads(pad_mode, padding, hw, khw, stride, dilation, op):
    """Explicit (top, bottom, left, right) pads from a pad mode and a padding argument."""
    mode = pad_mode.lower() if isinstance(pad_mode, str) else pad_mode
    if mode == "same":
        if padding not in (0, (0, 0, 0, 0)):
            raise ValueError(f"{op}: padding must be 0 when pad_mode='same', got {padding!r}.{where()}")
        return _same_pads(hw[0], khw[0], stride[0], dilation[0]) + _same_pads(hw[1], khw[1], stride[1], dilation[1])
    if mode in ("valid", "pad"):
        if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
            pads = (int(padding),) * 4
        elif isinstance(padding, (tuple, list)) and len(padding) == 2:
            pads = (int(padding[0]),) * 2 + (int(padding[1]),) * 2
        elif isinstance(padding, (tuple, list)) and len(padding) == 4:
            pads = tuple(int(p) for p in padding)
        else:
            raise ValueError(f"{op}: padding must be an int or a tuple of 2 or 4 ints, got {padding!r}.{where()}")
        if min(pads) < 0:
            raise ValueError(f"{op}: padding must be non-negative, got {padding!r}.{where()}")
        if mode == "valid" and any(pads) and op == "conv2d":
            raise ValueError(f"{op}: padding {padding!r} needs pad_mode='pad' (pad_mode='valid' means no "
                             f"padding).{where()}")
        return pads
    raise ValueError(f"{op}: pad_mode must be 'same', 'valid' or 'pad', got {pad_mode!r}.{where()}")


def _out_size(size, k, s, p0, p1, d=1):
    return (size + p0 + p1 - d * (k - 1) - 1) // s + 1


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


def _conv_cpu(x, w, stride, pad, dilation, groups):
    n = x.shape[0]
    co, cig, kh, kw = w.shape
    oh = _out_size(x.shape[2], kh, stride[0], pad[0], pad[1], dilation[0])
    ow = _out_size(x.shape[3], kw, stride[1], pad[2], pad[3], dilation[1])
    if x.size == 0 or w.size == 0:   # an empty batch / channel set: sums over nothing are 0
        return np.zeros((n, co, oh, ow), np.result_type(x, w))
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
                   shard=lambda x, w, groups, **geo: _conv_family_shard("xwy", groups),
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


# ---------------------------------------------------------------- pooling
def _pooled_hw(shape, kernel, stride, pad):
    """Output (height, width) of pooling an (N, C, H, W) shape."""
    return (_out_size(shape[2], kernel[0], stride[0], pad[0], pad[1]),
            _out_size(shape[3], kernel[1], stride[1], pad[2], pad[3]))


def _pool_out(x, kernel, stride, pad):
    """The pooled output shape of a float NCHW input; ShapeError when the window does not fit."""
    _nchw(x)
    _float_same(x)
    oh, ow = _pooled_hw(x.shape, kernel, stride, pad)
    if oh < 1 or ow < 1:
        raise ShapeError(f"the window {kernel[0]}x{kernel[1]} does not fit the padded input "
                         f"{x.shape[2] + pad[0] + pad[1]}x{x.shape[3] + pad[2] + pad[3]}")
    return x.shape[:2] + (oh, ow)


def _pool_infer(x, kernel, stride, pad, **_):
    return AbstractTensor(_pool_out(x, kernel, stride, pad), x.dtype)


def _pool_cost(x, kernel, stride, pad, **_):
    out = _pool_out(x, kernel, stride, pad)
    size = int(np.prod(out))
    return Cost(size * kernel[0] * kernel[1], x.nbytes + size * x.dtype.np.itemsize)


def _pool_grad_infer(x, dout, kernel, stride, pad):
    """max_pool_grad(x, dout) -> like x; max_pool_grad_grad(x, g) -> like the pooled output."""
    out = _pool_out(x, kernel, stride, pad)
    if dout.dtype is not x.dtype:
        raise DTypeError(f"inputs must have the same dtype, got {x.dtype} and {dout.dtype}")
    return out


def _pool_shard(*avals, **attrs):
    """Pooling and its gradients: batch and channels split alike, the spatial dims stay whole."""
    nc = ("n", "c", None, None)
    local = (lambda i_, o_, s_: {"input_size": o_[0]}) if "input_size" in attrs else None
    return ShardSpec((nc,) * len(avals), (nc,), localize=local,
                     why={(i, d): _SPATIAL for i in range(len(avals)) for d in (2, 3)})


def _geo(kernel, stride, pad):
    return kernel[0], kernel[1], stride[0], stride[1], pad[0], pad[2]


def _max_pool_cpu(x, kernel, stride, pad):
    oh, ow = _pooled_hw(x.shape, kernel, stride, pad)
    return _kpool.max_pool(x, *_geo(kernel, stride, pad), oh, ow)


max_pool_p = defprim(
    "max_pool", shard=_pool_shard, infer=_pool_infer, cpu=_kernel(_max_pool_cpu), cost=_pool_cost,
    bprop=lambda inputs, out, dout, kernel, stride, pad: (
        bind(max_pool_grad_p, inputs[0], dout, kernel=kernel, stride=stride, pad=pad),),
    doc="2-D max pooling over NCHW windows (padding never wins).")


def _max_pool_grad_infer(x, dout, kernel, stride, pad):
    out = _pool_grad_infer(x, dout, kernel, stride, pad)
    if tuple(dout.shape) != out:
        raise ShapeError(f"dout has shape {list(dout.shape)} but the pooled output has shape {list(out)}")
    return AbstractTensor(x.shape, x.dtype)


max_pool_grad_p = defprim(
    "max_pool_grad", shard=_pool_shard, infer=_max_pool_grad_infer,
    cost=lambda x, dout, kernel, **a: Cost(dout.size * kernel[0] * kernel[1], 2 * x.nbytes + dout.nbytes),
    cpu=_kernel(lambda x, dout, kernel, stride, pad: _kpool.max_pool_grad(x, dout, *_geo(kernel, stride, pad))),
    # linear in dout given the argmax positions of x's windows; piecewise constant in x (zero gradient)
    bprop=lambda inputs, out, g, kernel, stride, pad: (
        None, bind(max_pool_grad_grad_p, inputs[0], g, kernel=kernel, stride=stride, pad=pad)),
    doc="Gradient of max_pool: each window's dout goes to the input cell that was its maximum.")


def _max_pool_grad_grad_infer(x, g, kernel, stride, pad):
    out = _pool_grad_infer(x, g, kernel, stride, pad)
    if g.shape != x.shape:
        raise ShapeError(f"g has shape {list(g.shape)} but x has shape {list(x.shape)}")
    return AbstractTensor(out, x.dtype)


def _max_pool_grad_grad_cpu(x, g, kernel, stride, pad):
    oh, ow = _pooled_hw(x.shape, kernel, stride, pad)
    return _kpool.max_pool_gather(x, g, *_geo(kernel, stride, pad), oh, ow)


max_pool_grad_grad_p = defprim(
    "max_pool_grad_grad", shard=_pool_shard, infer=_max_pool_grad_grad_infer, cpu=_kernel(_max_pool_grad_grad_cpu),
    cost=lambda x, g, **a: _pool_cost(x, **a),
    bprop=lambda inputs, out, dout, kernel, stride, pad: (
        None, bind(max_pool_grad_p, inputs[0], dout, kernel=kernel, stride=stride, pad=pad)),
    doc="Adjoint of max_pool_grad in dout: each window reads g at the input cell that was its maximum.")


def _avg_pool_cpu(x, kernel, stride, pad, count_include_pad):
    oh, ow = _pooled_hw(x.shape, kernel, stride, pad)
    return _kpool.avg_pool(x, *_geo(kernel, stride, pad), oh, ow, count_include_pad)


avg_pool_p = defprim(
    "avg_pool", shard=_pool_shard, infer=_pool_infer, cpu=_kernel(_avg_pool_cpu), cost=_pool_cost,
    bprop=lambda inputs, out, dout, **a: (bind(avg_pool_grad_p, dout, input_size=tuple(inputs[0].shape), **a),),
    doc="2-D average pooling over NCHW windows; padded cells count in the divisor only if count_include_pad.")


def _avg_pool_grad_infer(dout, input_size, kernel, stride, pad, count_include_pad):
    out = _pool_out(AbstractTensor(input_size, dout.dtype), kernel, stride, pad)
    if tuple(dout.shape) != out:
        raise ShapeError(f"dout has shape {list(dout.shape)} but pooling an input of shape {list(input_size)} gives "
                         f"{list(out)}")
    return AbstractTensor(input_size, dout.dtype)


avg_pool_grad_p = defprim(
    "avg_pool_grad", shard=_pool_shard, infer=_avg_pool_grad_infer,
    cpu=_kernel(lambda dout, input_size, kernel, stride, pad, count_include_pad: _kpool.avg_pool_grad(
        dout, input_size[2], input_size[3], *_geo(kernel, stride, pad), count_include_pad)),
    cost=lambda dout, input_size, kernel, **a: Cost(dout.size * kernel[0] * kernel[1],
                                                    dout.nbytes + int(np.prod(input_size)) * dout.dtype.np.itemsize),
    bprop=lambda inputs, out, g, input_size, **a: (bind(avg_pool_p, g, **a),),
    doc="Gradient of avg_pool (its adjoint); input_size is the pooled input's shape.")


def _pool_attrs(x, kernel_size, stride, padding, pad_mode, op):
    kernel = _hw(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else _hw(stride, "stride", op)
    mode = pad_mode.lower() if isinstance(pad_mode, str) else pad_mode
    if mode == "pad":
        mode = "valid"
    pad = _pads(mode, padding, x.shape[-2:], kernel, stride, (1, 1), op)
    if mode != "same" and (max(pad[:2]) > kernel[0] // 2 or max(pad[2:]) > kernel[1] // 2):
        raise ValueError(f"{op}: padding {padding!r} must be at most half the kernel size {kernel}.{where()}")
    return dict(kernel=kernel, stride=stride, pad=pad), mode


def _pool(prim, x, attrs):
    if x.ndim == 3:   # (C, H, W): pool it as a batch of one
        out = bind(prim, reshape(x, (1,) + tuple(x.shape)), **attrs)
        return reshape(out, tuple(out.shape[1:]))
    return bind(prim, x, **attrs)


def max_pool2d(input, kernel_size, stride=None, padding=0, pad_mode="valid"):
    """2-D max pooling of an NCHW (or CHW) ``input`` over ``kernel_size`` windows moved by ``stride`` (default:
    the kernel size). ``pad_mode`` "valid" uses ``padding`` (int or (pad_h, pad_w), at most half the kernel; padded
    cells never win); "same" pads so the output is ceil(H / stride)."""
    x = as_tensor(input)
    attrs, _ = _pool_attrs(x, kernel_size, stride, padding, pad_mode, "max_pool2d")
    return _pool(max_pool_p, x, attrs)


def avg_pool2d(input, kernel_size, stride=None, padding=0, pad_mode="valid", count_include_pad=True):
    """2-D average pooling of an NCHW (or CHW) ``input`` over ``kernel_size`` windows moved by ``stride``
    (default: the kernel size). ``pad_mode`` "valid" uses ``padding`` (int or (pad_h, pad_w)); padded zeros count
    in the mean when ``count_include_pad``. "same" pads so the output is ceil(H / stride) and averages only real
    cells (MindSpore's AvgPool)."""
    x = as_tensor(input)
    attrs, mode = _pool_attrs(x, kernel_size, stride, padding, pad_mode, "avg_pool2d")
    attrs["count_include_pad"] = bool(count_include_pad) and mode != "same"
    return _pool(avg_pool_p, x, attrs)


class MaxPool(Primitive):
    """``P.MaxPool(kernel_size=1, strides=1, pad_mode="valid", data_format="NCHW")(x)``."""

    def __init__(self, kernel_size=1, strides=1, pad_mode="valid", data_format="NCHW"):
        super().__init__()
        if data_format != "NCHW":
            raise ValueError(f"{self.name}: only data_format='NCHW' is supported, got {data_format!r}.{where()}")
        if str(pad_mode).lower() not in ("same", "valid"):
            raise ValueError(f"{self.name}: pad_mode must be 'same' or 'valid', got {pad_mode!r}.{where()}")
        self.kernel_size, self.strides = _hw(kernel_size, "kernel_size", self.name), _hw(strides, "strides", self.name)
        self.pad_mode = pad_mode

    def __call__(self, x):
        return max_pool2d(x, self.kernel_size, self.strides, 0, self.pad_mode)


class AvgPool(MaxPool):
    """``P.AvgPool(kernel_size=1, strides=1, pad_mode="valid", data_format="NCHW")(x)``; with "same" padding the
    mean is over the real cells of each window."""

    def __call__(self, x):
        return avg_pool2d(x, self.kernel_size, self.strides, 0, self.pad_mode)


# ---------------------------------------------------------------- softmax / log_softmax
def _softmax_infer(x, axis):
    _float_same(x)
    norm_axis(axis, x.ndim)
    if x.ndim == 0:
        raise ShapeError("input must have at least one dimension")
    return AbstractTensor(x.shape, x.dtype)


def _softmax_grad_infer(y, dy, axis):
    _float_same(y, dy)
    if y.shape != dy.shape:
        raise ShapeError(f"y and dy must have the same shape, got {list(y.shape)} and {list(dy.shape)}")
    return _softmax_infer(y, axis)


def _softmax_grad_bprop(inputs, out, g, axis):
    # dx = y * (dy - sum(dy * y)); d/d dy = y * (g - sum(g * y)) = softmax_grad(y, g);
    # d/dy = dy * (g - sum(g * y)) - g * sum(dy * y)
    y, dy = inputs
    gy = _sum(mul(g, y), axis, keep_dims=True)
    return (sub(mul(dy, sub(g, gy)), mul(g, _sum(mul(dy, y), axis, keep_dims=True))),
            bind(softmax_grad_p, y, g, axis=axis))


def _log_softmax_grad_bprop(inputs, out, g, axis):
    # dx = dy - exp(y) * sum(dy); d/d dy = g - sum(g * exp(y)); d/dy = -g * exp(y) * sum(dy)
    y, dy = inputs
    ey = exp(y)
    return (neg(mul(mul(g, ey), _sum(dy, axis, keep_dims=True))),
            sub(g, _sum(mul(g, ey), axis, keep_dims=True)))


_SOFTMAX_SHARD = keep_rule(axis_of, "the softmax axis: each element needs the whole axis (gather it first)")
softmax_p = defprim(
    "softmax", infer=_softmax_infer, cost=elementwise_cost(12), shard=_SOFTMAX_SHARD,
    cpu=_kernel(lambda x, axis: _ksm.softmax(x, axis, False)),
    bprop=lambda inputs, out, dout, axis: (bind(softmax_grad_p, out, dout, axis=axis),))
softmax_grad_p = defprim(
    "softmax_grad", infer=_softmax_grad_infer, cost=elementwise_cost(4), shard=_SOFTMAX_SHARD,
    cpu=_kernel(lambda y, dy, axis: _ksm.softmax_grad(y, dy, axis, False)), bprop=_softmax_grad_bprop,
    doc="softmax's input gradient from its output y: y * (dy - sum(dy * y, axis)).")
log_softmax_p = defprim(
    "log_softmax", infer=_softmax_infer, cost=elementwise_cost(12), shard=_SOFTMAX_SHARD,
    cpu=_kernel(lambda x, axis: _ksm.softmax(x, axis, True)),
    bprop=lambda inputs, out, dout, axis: (bind(log_softmax_grad_p, out, dout, axis=axis),))
log_softmax_grad_p = defprim(
    "log_softmax_grad", infer=_softmax_grad_infer, cost=elementwise_cost(12), shard=_SOFTMAX_SHARD,
    cpu=_kernel(lambda y, dy, axis: _ksm.softmax_grad(y, dy, axis, True)), bprop=_log_softmax_grad_bprop,
    doc="log_softmax's input gradient from its output y: dy - exp(y) * sum(dy, axis).")


def _axis_attr(axis, op):
    if isinstance(axis, (tuple, list)) and len(axis) == 1:   # MindSpore's Softmax takes a 1-tuple too
        axis = axis[0]
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}.{where()}")
    return int(axis)


def softmax(input, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, computed max-shifted so large inputs do not overflow."""
    return bind(softmax_p, as_tensor(input), axis=_axis_attr(axis, "softmax"))


def log_softmax(logits, axis=-1):
    """``x - logsumexp(x)`` along ``axis``, numerically stable."""
    return bind(log_softmax_p, as_tensor(logits), axis=_axis_attr(axis, "log_softmax"))


class Softmax(Primitive):
    """``P.Softmax(axis=-1)(x)``."""

    def __init__(self, axis=-1):
        super().__init__()
        self.axis = _axis_attr(axis, self.name)

    def __call__(self, x):
        return bind(softmax_p, as_tensor(x), axis=self.axis)


class LogSoftmax(Softmax):
    """``P.LogSoftmax(axis=-1)(logits)``."""

    def __call__(self, x):
        return bind(log_softmax_p, as_tensor(x), axis=self.axis)


# ---------------------------------------------------------------- sparse softmax cross entropy
def _xent_infer(logits, labels):
    if logits.dtype.kind != "f":
        raise DTypeError(f"logits must be floating point, got {logits.dtype}")
    if labels.dtype.kind not in "iu":
        raise DTypeError(f"labels must be integers (int32 / int64), got {labels.dtype}")
    if logits.ndim != 2 or labels.ndim != 1 or labels.shape[0] != logits.shape[0]:
        raise ShapeError(f"logits must be (N, C) and labels (N,), got {list(logits.shape)} and {list(labels.shape)}")
    return logits.shape[0]


def _xent_run(logits, labels, grad):
    out, bad = _ksm.sparse_xent(logits, labels, grad)
    if bad >= 0:
        raise LabelError(f"sparse_softmax_cross_entropy: label {labels[bad]} (at index {bad}) is out of range "
                         f"[0, {logits.shape[1]}) for logits of shape {list(logits.shape)}.{where()}")
    return out


_XENT_WHY = {(0, 1): "the class axis: each sample's loss needs all its logits (logsumexp)"}
sparse_softmax_cross_entropy_p = defprim(
    "sparse_softmax_cross_entropy",
    shard=lambda logits, labels: ShardSpec((("n", None), ("n",)), (("n",),), why=_XENT_WHY),
    infer=lambda logits, labels: AbstractTensor((_xent_infer(logits, labels),), logits.dtype),
    cpu=_kernel(lambda logits, labels: _xent_run(logits, labels, False)),
    cost=lambda logits, labels: Cost(12 * logits.size, logits.nbytes + labels.nbytes),
    # d loss_n / d logits_n = softmax(logits_n) - onehot(label_n), scaled by each sample's cotangent
    bprop=lambda inputs, out, dout: (
        mul(bind(sparse_softmax_cross_entropy_grad_p, *inputs), reshape(dout, (-1, 1))), None),
    doc="Per-sample cross entropy of (N, C) logits against integer labels: logsumexp(z) - z[label].")


def _xent_grad_infer(logits, labels):
    _xent_infer(logits, labels)
    return AbstractTensor(logits.shape, logits.dtype)


sparse_softmax_cross_entropy_grad_p = defprim(
    "sparse_softmax_cross_entropy_grad", infer=_xent_grad_infer,
    shard=lambda logits, labels: ShardSpec((("n", None), ("n",)), (("n", None),), why=_XENT_WHY),
    cpu=_kernel(lambda logits, labels: _xent_run(logits, labels, True)),
    cost=lambda logits, labels: Cost(12 * logits.size, 2 * logits.nbytes + labels.nbytes),
    bprop=lambda inputs, out, g: (bind(softmax_grad_p, bind(softmax_p, inputs[0], axis=-1), g, axis=-1), None),
    doc="softmax(logits) - onehot(labels), fused: the gradient of sparse_softmax_cross_entropy.")


def sparse_softmax_cross_entropy(logits, labels):
    """Per-sample softmax cross entropy (N,) of ``logits`` (N, C) against integer class ``labels`` (N,), fused
    and numerically stable. A label outside [0, C) raises a ValueError naming it."""
    return bind(sparse_softmax_cross_entropy_p, as_tensor(logits), as_tensor(labels))


class SparseSoftmaxCrossEntropyWithLogits(Primitive):
    """``P.SparseSoftmaxCrossEntropyWithLogits(is_grad=False)(logits, labels)``: the mean loss over the batch (a
    scalar) as in MindSpore; with ``is_grad=True`` its gradient w.r.t. the logits, (softmax - onehot) / N."""

    def __init__(self, is_grad=False):
        super().__init__()
        self.is_grad = bool(is_grad)

    def __call__(self, logits, labels):
        logits, labels = as_tensor(logits), as_tensor(labels)
        if self.is_grad:
            g = bind(sparse_softmax_cross_entropy_grad_p, logits, labels)
            return mul(g, 1.0 / max(logits.shape[0], 1))
        loss = bind(sparse_softmax_cross_entropy_p, logits, labels)
        return mul(_sum(loss), 1.0 / max(logits.shape[0], 1))


# ---------------------------------------------------------------- dropout
# Two primitives, as MindSpore's DropoutGenMask / DropoutDoMask: the mask is drawn by a kernel (so a compiled graph
# draws a fresh mask every run) from mindlab's seeded generator, and applying it is a deterministic, differentiable op.
_op_generators = {}   # op-level seed -> (the global generator it was derived under, its own generator)


def _generator(seed):
    """The global generator (``mindlab.set_seed``), or for an op-level ``seed`` a generator of its own that
    advances call by call and restarts when ``set_seed`` is called."""
    glob = _seed.rng()
    if seed is None:
        return glob
    entry = _op_generators.get(seed)
    if entry is None or entry[0] is not glob:
        entry = (glob, np.random.default_rng([_seed.get_seed() or 0, seed]))
        _op_generators[seed] = entry
    return entry[1]


def _gen_mask_infer(x, keep_prob, seed):
    _float_same(x)
    return AbstractTensor(x.shape, x.dtype)


def _gen_mask_cpu(x, keep_prob, seed):
    return (_generator(seed).random(x.shape, dtype=np.float32) < keep_prob).astype(x.dtype)


dropout_gen_mask_p = defprim(
    "dropout_gen_mask", infer=_gen_mask_infer, shard=same_rule,   # each device draws the mask of its own piece
    cpu=_gen_mask_cpu, cost=elementwise_cost(2), random=True,
    bprop=not_differentiable("a random 0/1 mask does not depend on the input's values"),
    doc="A random 0/1 mask shaped like x, each element 1 with probability keep_prob (seeded by mindlab.set_seed).")


def _dropout_infer(x, mask, keep_prob):
    _float_same(x, mask)
    if x.shape != mask.shape:
        raise ShapeError(f"the mask has shape {list(mask.shape)} but the input has shape {list(x.shape)}")
    return AbstractTensor(x.shape, x.dtype)


def _dropout_cpu(x, mask, keep_prob):
    out = x * mask
    out *= 1.0 / keep_prob
    return out


dropout_p = defprim(
    "dropout", infer=_dropout_infer, shard=same_rule, cpu=_dropout_cpu, cost=elementwise_cost(2),
    # linear in x with a fixed mask; the mask is random, not a function of anything to differentiate
    bprop=lambda inputs, out, dout, keep_prob: (bind(dropout_p, dout, inputs[1], keep_prob=keep_prob), None),
    doc="x * mask / keep_prob: inverted dropout with a given 0/1 mask.")


def _dropout(x, keep_prob, seed):
    mask = bind(dropout_gen_mask_p, x, keep_prob=keep_prob, seed=seed)
    return bind(dropout_p, x, mask, keep_prob=keep_prob), mask


def dropout(input, p=0.5, training=True, seed=None):
    """Zeroes each element of ``input`` with probability ``p`` and scales the rest by 1 / (1 - p), so the expected
    value is unchanged. Masks come from the generator seeded by ``mindlab.set_seed`` (or an op-level ``seed``).
    ``training=False`` or ``p=0`` returns ``input`` unchanged."""
    x = as_tensor(input)
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p!r}.{where()}")
    if not training or p == 0:
        return x
    if p == 1:
        return zeros_like(x)
    return _dropout(x, 1.0 - float(p), None if seed is None else int(seed))[0]


class Dropout(Primitive):
    """``P.Dropout(keep_prob=0.5, Seed0=0, Seed1=0)(x)`` -> (output, mask); the mask has x's shape and dtype (0/1
    values, as on MindSpore's CPU / GPU). Non-zero seeds give the op its own reproducible random stream."""

    def __init__(self, keep_prob=0.5, Seed0=0, Seed1=0):
        super().__init__()
        if not 0 < keep_prob <= 1:
            raise ValueError(f"Dropout: keep_prob must be in (0, 1], got {keep_prob!r}.{where()}")
        self.keep_prob = float(keep_prob)
        self.seed = (int(Seed0) << 32) + int(Seed1) if (Seed0 or Seed1) else None

    def __call__(self, x):
        return _dropout(as_tensor(x), self.keep_prob, self.seed)


# ---------------------------------------------------------------- normalisation: second-order rule shared by LN / BN
def _norm_grad_bprop(fwd, grad, x, dy, dvar, gamma, cot, mean_of, param_b, param_sum, stat_b, stat_sum, n):
    """bprop of a fused normalisation backward ``(dx, dgamma, dbeta) = grad(x, dy, dmean, dvar, gamma)`` where

        dx = r * (h - mean(h) - xhat * mean(h * xhat)) + dmean / n + 2 / n * dvar * (x - mu),  h = dy * gamma
        dgamma = sum(dy * xhat), dbeta = sum(dy)          (r = 1 / sqrt(var + eps), xhat = (x - mu) * r)

    with cotangents ``cot = (a, b, c)``. With J v = r * (v - mean(v) - xhat * mean(v * xhat)) (symmetric in v):
    d/d dy = gamma * J a + b * xhat + c, d/d gamma = sum(dy * J a), d/d dmean = sum(a) / n,
    d/d dvar = 2 / n * sum(a * (x - mu)), and d/dx = J (b * dy) + 2 / n * dvar * (a - mean(a))
    + r^2 * (3 mean(a xhat) mean(h xhat) xhat - (mean(a h) - mean(a) mean(h)) xhat - (a - mean(a)) mean(h xhat)
    - (h - mean(h)) mean(a xhat)). ``fwd`` / ``grad`` apply the forward / backward primitive with the op's attrs;
    the helpers say how parameters and statistics broadcast against x and reduce back."""
    a, b, c = cot
    ones, zeros = ones_like(gamma), zeros_like(gamma)
    xhat, mu, var = fwd(x, ones, zeros)                            # the normalised input and its statistics
    zs = zeros_like(var)

    def J(v):
        return grad(x, v, zs, zs, ones)[0]

    g = param_b(gamma)
    h = mul(dy, g)
    ja = J(a)
    bdy = mul(param_b(b), dy)
    d_dy = add(add(mul(g, ja), mul(param_b(b), xhat)), param_b(c))
    d_gamma = param_sum(mul(dy, ja))
    d_dmean = mul(stat_sum(a), 1.0 / n)
    xc = sub(x, stat_b(mu))
    d_dvar = mul(stat_sum(mul(a, xc)), 2.0 / n)
    ma, mh, ma_x, mh_x = mean_of(a), mean_of(h), mean_of(mul(a, xhat)), mean_of(mul(h, xhat))
    a0, h0 = sub(a, ma), sub(h, mh)
    inner = sub(mul(mul(ma_x, mh_x), 3.0), sub(mean_of(mul(a, h)), mul(ma, mh)))
    t = sub(sub(mul(inner, xhat), mul(a0, mh_x)), mul(h0, ma_x))
    r2 = div(1.0, add(stat_b(var), fwd.eps))
    d_x = add(add(mul(r2, t), J(bdy)), mul(mul(stat_b(dvar), a0), 2.0 / n))
    return d_x, d_dy, d_dmean, d_dvar, d_gamma


class _Fwd:
    """A forward normalisation primitive with its attrs bound (callable), carrying its epsilon."""

    def __init__(self, prim, attrs, eps):
        self.prim, self.attrs, self.eps = prim, attrs, eps

    def __call__(self, *args):
        return bind(self.prim, *args, **self.attrs)


# ---------------------------------------------------------------- layer_norm
def _ln_shapes(x, gamma, beta, begin_norm_axis, begin_params_axis):
    if x.ndim == 0:
        raise ShapeError("input must have at least one dimension")
    for name, p in (("gamma", gamma), ("beta", beta)):
        if p.shape != x.shape[begin_params_axis:]:
            raise ShapeError(f"{name} must have shape {list(x.shape[begin_params_axis:])} (the input's dims from "
                             f"begin_params_axis={begin_params_axis}), got {list(p.shape)}")
    return x.shape[:begin_norm_axis] + (1,) * (x.ndim - begin_norm_axis)


def _ln_infer(x, gamma, beta, begin_norm_axis, begin_params_axis, epsilon):
    _float_same(x, gamma, beta)
    stat = AbstractTensor(_ln_shapes(x, gamma, beta, begin_norm_axis, begin_params_axis), x.dtype)
    return AbstractTensor(x.shape, x.dtype), stat, stat


def _ln_2d(x, begin_norm_axis):
    m = int(np.prod(x.shape[:begin_norm_axis]))
    return x.reshape(m, -1)


def _ln_cpu(x, gamma, beta, begin_norm_axis, begin_params_axis, epsilon):
    stat = x.shape[:begin_norm_axis] + (1,) * (x.ndim - begin_norm_axis)
    if x.size == 0:
        return np.empty_like(x), np.full(stat, np.nan, x.dtype), np.full(stat, np.nan, x.dtype)
    y, mean, var = _knorm.layer_norm(_ln_2d(x, begin_norm_axis), gamma.reshape(-1), beta.reshape(-1),
                                     epsilon)
    return y.reshape(x.shape), mean.reshape(stat), var.reshape(stat)


def _ln_bprop(inputs, out, dout, begin_norm_axis, begin_params_axis, epsilon):
    x, gamma, beta = inputs
    dy, dmean, dvar = dout
    return bind(layer_norm_grad_p, x, dy, dmean, dvar, gamma, begin_norm_axis=begin_norm_axis,
                begin_params_axis=begin_params_axis, epsilon=epsilon)


def _ln_shard(x, *params, begin_norm_axis, begin_params_axis, epsilon, grad=False):
    """Dims before begin_norm_axis split alike in x, y and the statistics; normalised dims stay whole. gamma/beta
    cover x's dims from begin_params_axis and split with them. In the backward, dgamma/dbeta sum over the dims
    before begin_params_axis: split, they are partial sums (the data-parallel AllReduce of their gradients)."""
    xs = tuple(f"d{i}" if i < begin_norm_axis else None for i in range(x.ndim))
    gs = xs[begin_params_axis:]
    why = {(0, i): "a normalised dim: the mean and variance need all of it" for i in range(begin_norm_axis, x.ndim)}
    if not grad:
        return ShardSpec((xs, gs, gs), (xs, xs, xs), why=why)
    reduce = {lab: "sum" for lab in xs[:begin_params_axis] if lab is not None and lab not in gs}
    why.update({(1, i): why[(0, i)] for i in range(begin_norm_axis, x.ndim)})
    return ShardSpec((xs, xs, xs, xs, gs), (xs, gs, gs), reduce=reduce, why=why)


layer_norm_p = defprim(
    "layer_norm", shard=_ln_shard, infer=_ln_infer, cpu=_kernel(_ln_cpu), bprop=_ln_bprop, outputs=3,
    cost=lambda x, gamma, beta, **a: Cost(8 * x.size, 2 * x.nbytes + gamma.nbytes + beta.nbytes),
    doc="Layer normalisation over the dims from begin_norm_axis, affine over the dims from begin_params_axis; "
        "returns (y, mean, variance) with the statistics' reduced dims kept as 1.")


def _ln_grad_infer(x, dy, dmean, dvar, gamma, begin_norm_axis, begin_params_axis, epsilon):
    _float_same(x, dy, dmean, dvar, gamma)
    stat = _ln_shapes(x, gamma, gamma, begin_norm_axis, begin_params_axis)
    if dy.shape != x.shape or dmean.shape != stat or dvar.shape != stat:
        raise ShapeError(f"dy must have the input's shape {list(x.shape)} and dmean / dvar the statistics' shape "
                         f"{list(stat)}, got {list(dy.shape)}, {list(dmean.shape)}, {list(dvar.shape)}")
    return AbstractTensor(x.shape, x.dtype), AbstractTensor(gamma.shape, x.dtype), AbstractTensor(gamma.shape, x.dtype)


def _ln_grad_cpu(x, dy, dmean, dvar, gamma, begin_norm_axis, begin_params_axis, epsilon):
    if x.size == 0:
        return np.zeros_like(x), np.zeros_like(gamma), np.zeros_like(gamma)
    dx, dg, db = _knorm.layer_norm_grad(_ln_2d(x, begin_norm_axis), _ln_2d(dy, begin_norm_axis),
                                        dmean.reshape(-1), dvar.reshape(-1), gamma.reshape(-1),
                                        epsilon)
    return dx.reshape(x.shape), dg.reshape(gamma.shape), db.reshape(gamma.shape)


def _ln_grad_bprop(inputs, out, cot, begin_norm_axis, begin_params_axis, epsilon):
    x, dy, dmean, dvar, gamma = inputs
    attrs = dict(begin_norm_axis=begin_norm_axis, begin_params_axis=begin_params_axis, epsilon=epsilon)
    axes = tuple(range(begin_norm_axis, x.ndim))
    n = int(np.prod(x.shape[begin_norm_axis:]))
    d_x, d_dy, d_dmean, d_dvar, d_gamma = _norm_grad_bprop(
        _Fwd(layer_norm_p, attrs, epsilon), lambda *args: bind(layer_norm_grad_p, *args, **attrs),
        x, dy, dvar, gamma, cot,
        mean_of=lambda v: mul(_sum(v, axes, keep_dims=True), 1.0 / n),
        param_b=lambda p: p, param_sum=lambda v: sum_to(v, gamma.shape),
        stat_b=lambda s: s, stat_sum=lambda v: _sum(v, axes, keep_dims=True), n=n)
    return d_x, d_dy, d_dmean, d_dvar, d_gamma


layer_norm_grad_p = defprim(
    "layer_norm_grad", infer=_ln_grad_infer, shard=lambda *avals, **attrs: _ln_shard(*avals, **attrs, grad=True),
    cpu=_kernel(_ln_grad_cpu), bprop=_ln_grad_bprop, outputs=3,
    cost=lambda x, dy, dmean, dvar, gamma, **a: Cost(14 * x.size, 3 * x.nbytes + 3 * gamma.nbytes),
    doc="Fused backward of layer_norm: (dx, dgamma, dbeta) from the cotangents (dy, dmean, dvar) of its outputs.")


def _ln_attrs(ndim, begin_norm_axis, begin_params_axis, epsilon, op):
    try:
        return dict(begin_norm_axis=norm_axis(begin_norm_axis, ndim, "begin_norm_axis"),
                    begin_params_axis=norm_axis(begin_params_axis, ndim, "begin_params_axis"),
                    epsilon=float(epsilon))
    except (ShapeError, DTypeError) as exc:
        raise type(exc)(f"{op}: {exc} (input rank {ndim}).{where()}") from None


def layer_norm(input, gamma, beta, begin_norm_axis=-1, begin_params_axis=-1, epsilon=1e-7):
    """Layer normalisation: ``(x - mean) / sqrt(var + epsilon) * gamma + beta`` with mean and (biased) variance
    over the dims from ``begin_norm_axis`` on; ``gamma`` / ``beta`` have the input's shape from
    ``begin_params_axis`` on. Returns the normalised tensor only (``P.LayerNorm`` also returns the statistics)."""
    x = as_tensor(input)
    return bind(layer_norm_p, x, as_tensor(gamma), as_tensor(beta),
                **_ln_attrs(x.ndim, begin_norm_axis, begin_params_axis, epsilon, "layer_norm"))[0]


class LayerNorm(Primitive):
    """``P.LayerNorm(begin_norm_axis=1, begin_params_axis=1, epsilon=1e-7)(x, gamma, beta)`` -> (y, mean,
    variance); mean and variance keep the normalised dims as size 1."""

    def __init__(self, begin_norm_axis=1, begin_params_axis=1, epsilon=1e-7):
        super().__init__()
        self.begin_norm_axis, self.begin_params_axis, self.epsilon = begin_norm_axis, begin_params_axis, epsilon

    def __call__(self, x, gamma, beta):
        x = as_tensor(x)
        return bind(layer_norm_p, x, as_tensor(gamma), as_tensor(beta),
                    **_ln_attrs(x.ndim, self.begin_norm_axis, self.begin_params_axis, self.epsilon, self.name))


# ---------------------------------------------------------------- batch_norm
# Channels are axis 1 of an (N, C, ...) input; statistics are over every other axis. Training mode ("batch_norm")
# normalises with the batch statistics and returns them; inference ("batch_norm_infer") takes the statistics.
def _bn_check(x, *params):
    if x.ndim < 2:
        raise ShapeError(f"input must be (N, C) or (N, C, ...), got shape {list(x.shape)}")
    for name, p in params:
        if p.shape != (x.shape[1],):
            raise ShapeError(f"{name} must have shape [{x.shape[1]}] (one value per channel), got {list(p.shape)}")


def _bn_batch_check(x):
    if x.shape[1] and x.size == 0:
        raise ShapeError(f"batch statistics need at least one value per channel; input shape {list(x.shape)} has "
                         f"none (zero-size batch or spatial dims)")


def _bn_infer(x, weight, bias, epsilon):
    _float_same(x, weight, bias)
    _bn_check(x, ("weight", weight), ("bias", bias))
    _bn_batch_check(x)
    stat = AbstractTensor((x.shape[1],), x.dtype)
    return AbstractTensor(x.shape, x.dtype), stat, stat


def _ncl(x):
    return x.reshape(x.shape[0], x.shape[1], -1)


def _bn_cpu(x, weight, bias, epsilon):
    if x.size == 0:
        return np.empty_like(x), np.full(x.shape[1], np.nan, x.dtype), np.full(x.shape[1], np.nan, x.dtype)
    y, mean, var = _knorm.batch_norm(_ncl(x), weight, bias, epsilon)
    return y.reshape(x.shape), mean, var


def _bn_bprop(inputs, out, dout, epsilon):
    x, weight, bias = inputs
    dy, dmean, dvar = dout
    return bind(batch_norm_grad_p, x, dy, dmean, dvar, weight, epsilon=epsilon)


_BN_WHY = "batch statistics are taken over it (a synchronized batch norm would all-reduce them)"


def _bn_shard(x, *rest, epsilon, grad=False):
    """Training batch norm: only channels split (statistics are over every other dim)."""
    xs = (None, "c") + (None,) * (x.ndim - 2)
    why = {(i, d): _BN_WHY for i in ((0, 1) if grad else (0,)) for d in range(x.ndim) if d != 1}
    if grad:     # (x, dy, dmean, dvar, weight) -> (dx, dweight, dbias)
        return ShardSpec((xs, xs, ("c",), ("c",), ("c",)), (xs, ("c",), ("c",)), why=why)
    return ShardSpec((xs, ("c",), ("c",)), (xs, ("c",), ("c",)), why=why)


def _bn_infer_shard(x, weight, bias, mean, var, epsilon):
    """Inference batch norm is elementwise per channel: every dim splits."""
    xs = ("n", "c") + tuple(f"s{i}" for i in range(x.ndim - 2))
    return ShardSpec((xs,) + (("c",),) * 4, (xs,))


batch_norm_p = defprim(
    "batch_norm", shard=_bn_shard, infer=_bn_infer, cpu=_kernel(_bn_cpu), bprop=_bn_bprop, outputs=3,
    cost=lambda x, weight, bias, epsilon: Cost(8 * x.size, 2 * x.nbytes + 4 * weight.nbytes),
    doc="Training-mode batch normalisation with batch statistics over all axes but 1; returns (y, mean, biased "
        "variance). The running-statistics update is not part of it (ops.batch_norm does it, outside the tape).")


def _bn_grad_infer(x, dy, dmean, dvar, weight, epsilon):
    _float_same(x, dy, dmean, dvar, weight)
    _bn_check(x, ("dmean", dmean), ("dvar", dvar), ("weight", weight))
    _bn_batch_check(x)
    if dy.shape != x.shape:
        raise ShapeError(f"dy must have the input's shape {list(x.shape)}, got {list(dy.shape)}")
    p = AbstractTensor(weight.shape, x.dtype)
    return AbstractTensor(x.shape, x.dtype), p, p


def _bn_grad_cpu(x, dy, dmean, dvar, weight, epsilon):
    if x.size == 0:
        return np.zeros_like(x), np.zeros_like(weight), np.zeros_like(weight)
    dx, dw, db = _knorm.batch_norm_grad(_ncl(x), _ncl(dy), dmean, dvar, weight, epsilon)
    return dx.reshape(x.shape), dw, db


def _bn_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _bn_grad_bprop(inputs, out, cot, epsilon):
    x, dy, dmean, dvar, weight = inputs
    axes, c = _bn_axes(x), x.shape[1]
    n = max(x.size // max(c, 1), 1)   # c == 0: every tensor is empty (c > 0 with no values is refused by infer)
    bshape = (1, c) + (1,) * (x.ndim - 2)
    return _norm_grad_bprop(
        _Fwd(batch_norm_p, dict(epsilon=epsilon), epsilon),
        lambda *args: bind(batch_norm_grad_p, *args, epsilon=epsilon),
        x, dy, dvar, weight, cot,
        mean_of=lambda v: mul(_sum(v, axes, keep_dims=True), 1.0 / n),
        param_b=lambda p: reshape(p, bshape), param_sum=lambda v: _sum(v, axes),
        stat_b=lambda s: reshape(s, bshape), stat_sum=lambda v: _sum(v, axes), n=n)


batch_norm_grad_p = defprim(
    "batch_norm_grad", infer=_bn_grad_infer, shard=lambda *a, epsilon: _bn_shard(*a, epsilon=epsilon, grad=True),
    cpu=_kernel(_bn_grad_cpu), bprop=_bn_grad_bprop, outputs=3,
    cost=lambda x, dy, dmean, dvar, weight, epsilon: Cost(14 * x.size, 3 * x.nbytes + 5 * weight.nbytes),
    doc="Fused backward of batch_norm: (dx, dweight, dbias) from the cotangents (dy, dmean, dvar) of its outputs.")


def _bn_infer_infer(x, weight, bias, mean, var, epsilon):
    _float_same(x, weight, bias, mean, var)
    _bn_check(x, ("weight", weight), ("bias", bias), ("mean", mean), ("variance", var))
    return AbstractTensor(x.shape, x.dtype)


def _bn_infer_cpu(x, weight, bias, mean, var, epsilon):
    if x.size == 0:
        return np.empty_like(x)
    return _knorm.batch_norm_infer(_ncl(x), weight, bias, mean, var, epsilon).reshape(x.shape)


def _bn_infer_bprop(inputs, out, dout, epsilon):
    # y = (x - mean) * weight * r + bias, r = 1 / sqrt(var + eps). dx = dout * weight * r is the same op applied to
    # dout with zero mean and bias; xhat = (x - mean) * r is the op with unit weight.
    x, weight, bias, mean, var = inputs
    axes, c = _bn_axes(x), x.shape[1]
    bshape = (1, c) + (1,) * (x.ndim - 2)
    zeros, ones = zeros_like(mean), ones_like(weight)
    dx = bind(batch_norm_infer_p, dout, weight, zeros, zeros, var, epsilon=epsilon)
    xhat = bind(batch_norm_infer_p, x, ones, zeros, mean, var, epsilon=epsilon)
    dweight = _sum(mul(dout, xhat), axes)
    dbias = _sum(dout, axes)
    dmean = neg(_sum(dx, axes))
    # d/dvar of (x - mean) * weight * r is -(x - mean) * weight * r^3 / 2 = -weight * xhat / (2 (var + eps))
    dvar = div(mul(_sum(mul(dout, xhat), axes), mul(weight, -0.5)), add(var, epsilon))
    return dx, dweight, dbias, dmean, dvar


batch_norm_infer_p = defprim(
    "batch_norm_infer", infer=_bn_infer_infer, shard=_bn_infer_shard, cpu=_kernel(_bn_infer_cpu), bprop=_bn_infer_bprop,
    cost=lambda x, *params, epsilon: Cost(2 * x.size, 2 * x.nbytes + sum(p.nbytes for p in params)),
    doc="Inference-mode batch normalisation with given per-channel mean and variance.")


def _update_running(running, batch_stat, momentum, scale=1.0):
    """running = (1 - momentum) * running + momentum * batch_stat, replacing the tensor's data (not recorded)."""
    if running is None:
        return
    if batch_stat._data is None:   # compiling a graph: the update becomes an assign node
        from .optim_ops import assign
        assign(running, add(mul(running, 1.0 - momentum), mul(batch_stat, momentum * scale)))
        return
    new = (1.0 - momentum) * running._data + (momentum * scale) * batch_stat._data
    running._data = new.astype(running._data.dtype, copy=False)


def _batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps):
    x = as_tensor(x)
    if weight is None:
        weight = ones_like(running_mean if running_mean is not None else _channel_like(x))
    if bias is None:
        bias = zeros_like(weight)
    weight, bias = as_tensor(weight), as_tensor(bias)
    if training:
        y, bmean, bvar = bind(batch_norm_p, x, weight, bias, epsilon=float(eps))
        n = x.size // max(x.shape[1], 1) if x.ndim >= 2 else 1
        _update_running(running_mean, bmean, momentum)
        _update_running(running_var, bvar, momentum, n / max(n - 1, 1))   # unbiased variance for the running stat
        return y, bmean, bvar
    if running_mean is None or running_var is None:
        raise ValueError(f"batch_norm: inference (training=False) needs running_mean and running_var.{where()}")
    y = bind(batch_norm_infer_p, x, weight, bias, as_tensor(running_mean), as_tensor(running_var), epsilon=float(eps))
    return y, running_mean, running_var


def _channel_like(x):
    """A (C,) tensor of x's dtype, to shape default weights."""
    from ...tensor import _wrap
    return _wrap(np.zeros((x.shape[1] if x.ndim >= 2 else 0,), x.dtype.np))


def batch_norm(input_x, running_mean, running_var, weight, bias, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation of an (N, C, ...) input per channel (axis 1). ``training=True`` normalises with the batch
    mean and biased variance and updates ``running_mean`` / ``running_var`` in place (``running = (1 - momentum) *
    running + momentum * batch_stat``, unbiased variance; the update is not differentiated); ``training=False`` uses
    the running statistics. ``weight`` / ``bias`` (C,) scale and shift (None: ones / zeros)."""
    return _batch_norm(input_x, running_mean, running_var, weight, bias, training, momentum, eps)[0]


class BatchNorm(Primitive):
    """``P.BatchNorm(is_training=False, epsilon=1e-5, momentum=0.1, data_format="NCHW")(x, scale, bias, mean,
    variance)`` -> (y, batch_mean, batch_variance, reserve_space_1, reserve_space_2). In training ``mean`` /
    ``variance`` are updated in place (momentum as in ops.batch_norm) and the outputs are (y, batch mean, biased
    batch variance, batch mean, biased batch variance); in inference they are (y, mean, variance, mean, variance).
    (MindSpore's reserve spaces are backend scratch; here they repeat the statistics.)"""

    def __init__(self, is_training=False, epsilon=1e-5, momentum=0.1, data_format="NCHW"):
        super().__init__()
        if data_format != "NCHW":
            raise ValueError(f"{self.name}: only data_format='NCHW' is supported, got {data_format!r}.{where()}")
        self.is_training, self.epsilon, self.momentum = bool(is_training), float(epsilon), float(momentum)

    def __call__(self, x, scale, bias, mean, variance):
        y, m, v = _batch_norm(x, mean, variance, scale, bias, self.is_training, self.momentum, self.epsilon)
        return y, m, v, m, v
