"""Neural-network primitives: conv2d, max / average pooling, softmax / log_softmax, sparse softmax cross entropy and
dropout, with their backward primitives (layer norm and batch norm are the ``norm_ops`` family).

Kernels are numba (``mindlab.kernels.cpu.conv / pool / softmax / norm``) with BLAS GEMMs for convolution. Every
fused backward is a primitive of its own whose bprop is written with mindlab ops, so gradients of any order work:

* conv2d -> conv2d_backprop_input / conv2d_backprop_filter (each one's bprop uses conv2d and the other one)
* max_pool -> max_pool_grad -> max_pool_grad_grad (linear in the cotangent given the window argmaxes of x)
* avg_pool <-> avg_pool_grad (each is the other's adjoint)
* softmax -> softmax_grad, log_softmax -> log_softmax_grad, sparse_softmax_cross_entropy -> ..._grad

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
from .math_ops import add, sub, mul, neg, exp
from .reduce_ops import sum as _sum
from .array_ops import reshape, zeros_like
from ...kernels.cpu import conv as _kconv, pool as _kpool, softmax as _ksm, blas as _blas

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "softmax", "log_softmax", "sparse_softmax_cross_entropy",
           "dropout"]
__operations__ = ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "MaxPool", "AvgPool", "Softmax",
                  "LogSoftmax", "SparseSoftmaxCrossEntropyWithLogits", "Dropout"]


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
