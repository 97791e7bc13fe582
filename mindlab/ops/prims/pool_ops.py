"""Pooling primitives: max_pool -> max_pool_grad -> max_pool_grad_grad (linear in the cotangent given the
window argmaxes of x) and avg_pool <-> avg_pool_grad (each is the other's adjoint). CPU kernels in numba
(``mindlab.kernels.cpu.pool``)."""
import numpy as np

from ...errors import ShapeError, DTypeError, where
from ..abstract import AbstractTensor
from ..registry import defprim, Cost
from ..shard import ShardSpec
from ..dispatch import bind
from .._api import Primitive, as_tensor
from .array_ops import reshape
from .conv_ops import _SPATIAL
from ...kernels.cpu import pool as _kpool
from .nn_ops import _float_same, _kernel, _nchw, _hw, _pads, _pooled_hw, _geo
from . import native_rules as _native

__all__ = ["max_pool2d", "avg_pool2d"]
__operations__ = ["MaxPool", "AvgPool"]


# ---------------------------------------------------------------- pooling
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


def _max_pool_cpu(x, kernel, stride, pad):
    oh, ow = _pooled_hw(x.shape, kernel, stride, pad)
    return _kpool.max_pool(x, *_geo(kernel, stride, pad), oh, ow)


max_pool_p = defprim(
    "max_pool", shard=_pool_shard, infer=_pool_infer, cpu=_kernel(_max_pool_cpu), cost=_pool_cost,
    native=_native.max_pool,
    bprop=lambda inputs, out, dout, kernel, stride, pad: (
        bind(max_pool_grad_p, inputs[0], dout, kernel=kernel, stride=stride, pad=pad),),
    doc="2-D max pooling over NCHW windows (padding never wins).")


def _max_pool_grad_infer(x, dout, kernel, stride, pad):
    out = _pool_grad_infer(x, dout, kernel, stride, pad)
    if tuple(dout.shape) != out:
        raise ShapeError(f"dout has shape {list(dout.shape)} but the pooled output has shape {list(out)}")
    return AbstractTensor(x.shape, x.dtype)


max_pool_grad_p = defprim(
    "max_pool_grad", shard=_pool_shard, infer=_max_pool_grad_infer, native=_native.max_pool_grad,
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
