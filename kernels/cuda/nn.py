"""GPU kernels of the neural-network primitives: convolution as im2col (numba-cuda) + batched GEMM (cuBLAS through
cupy), pooling / softmax / cross entropy / layer norm as numba-cuda kernels, batch norm and the norm backward
passes as cupy reductions, dropout masks from cupy's device generator (seeded from mindlab's generator, so
``set_seed`` makes runs repeatable; the masks differ from the CPU's draws)."""
import numpy as np

from ...ops.prims import nn_ops as _nn
from ...ops.prims.nn_ops import _out_size, _pooled_hw, _geo, LabelError
from ...errors import where
from ... import device as _device
from .runtime import xp, f32
from . import conv as _conv, pool as _pool, softmax as _sm, norm as _norm


def _floats(fn):
    def k(*arrays, **attrs):
        return fn(*[f32(a) for a in arrays], **attrs)
    k.__name__ = fn.__name__
    return k


def _im2col(x, khw, stride, pad, dilation, ohw):
    return _conv.im2col(x, khw[0], khw[1], stride[0], stride[1], pad[0], pad[2], dilation[0], dilation[1],
                        ohw[0], ohw[1])


def _conv2d(x, w, stride, pad, dilation, groups):
    m = xp()
    n = x.shape[0]
    co, cig, kh, kw = w.shape
    oh = _out_size(x.shape[2], kh, stride[0], pad[0], pad[1], dilation[0])
    ow = _out_size(x.shape[3], kw, stride[1], pad[2], pad[3], dilation[1])
    if x.size == 0 or w.size == 0:   # an empty batch / channel set: sums over nothing are 0 (as on the CPU)
        return m.zeros((n, co, oh, ow), x.dtype)
    cols = _im2col(x, (kh, kw), stride, pad, dilation, (oh, ow))
    if groups == 1:
        out = m.matmul(w.reshape(co, -1), cols)
    else:
        out = m.matmul(w.reshape(groups, co // groups, -1), cols.reshape(n, groups, cig * kh * kw, -1))
    return out.reshape(n, co, oh, ow)


def _conv2d_backprop_input(dout, w, input_size, stride, pad, dilation, groups):
    m = xp()
    n, c, h, wd = input_size
    co, cig, kh, kw = w.shape
    oh, ow = dout.shape[2:]
    if dout.size == 0 or w.size == 0:
        return m.zeros(input_size, dout.dtype)
    if groups == 1:
        dcols = m.matmul(w.reshape(co, -1).T, dout.reshape(n, co, -1))
    else:
        wg = w.reshape(groups, co // groups, -1).transpose(0, 2, 1)
        dcols = m.matmul(wg, dout.reshape(n, groups, co // groups, -1)).reshape(n, c * kh * kw, -1)
    return _conv.col2im(dcols, c, h, wd, kh, kw, stride[0], stride[1], pad[0], pad[2], dilation[0], dilation[1],
                        oh, ow)


def _conv2d_backprop_filter(dout, x, filter_size, stride, pad, dilation, groups):
    m = xp()
    n = x.shape[0]
    co, cig, kh, kw = filter_size
    if dout.size == 0 or x.size == 0:
        return m.zeros(filter_size, x.dtype)
    cols = _im2col(x, (kh, kw), stride, pad, dilation, dout.shape[2:])
    if groups == 1:
        dw = m.matmul(dout.reshape(n, co, -1), cols.transpose(0, 2, 1)).sum(0)
    else:
        cols = cols.reshape(n, groups, cig * kh * kw, -1).transpose(0, 1, 3, 2)
        dw = m.matmul(dout.reshape(n, groups, co // groups, -1), cols).sum(0)
    return dw.reshape(filter_size)


def _max_pool(x, kernel, stride, pad):
    oh, ow = _pooled_hw(x.shape, kernel, stride, pad)
    return _pool.max_pool(xp().ascontiguousarray(x), *_geo(kernel, stride, pad), oh, ow)


def _max_pool_grad(x, dout, kernel, stride, pad):
    m = xp()
    return _pool.max_pool_grad(m.ascontiguousarray(x), m.ascontiguousarray(dout), *_geo(kernel, stride, pad))


def _max_pool_grad_grad(x, g, kernel, stride, pad):
    m = xp()
    oh, ow = _pooled_hw(x.shape, kernel, stride, pad)
    return _pool.max_pool_gather(m.ascontiguousarray(x), m.ascontiguousarray(g), *_geo(kernel, stride, pad), oh, ow)


def _avg_pool(x, kernel, stride, pad, count_include_pad):
    oh, ow = _pooled_hw(x.shape, kernel, stride, pad)
    return _pool.avg_pool(xp().ascontiguousarray(x), *_geo(kernel, stride, pad), oh, ow, count_include_pad)


def _avg_pool_grad(dout, input_size, kernel, stride, pad, count_include_pad):
    return _pool.avg_pool_grad(xp().ascontiguousarray(dout), input_size[2], input_size[3],
                               *_geo(kernel, stride, pad), count_include_pad)


# The labels array checked last, held (so its memory cannot be reused by another array): the backward pass gets
# the forward's labels and skips a second check (each check is a device-to-host sync that drains the GPU queue).
_CHECKED = {"last": (None, None)}


def _xent(grad):
    def k(logits, labels):
        m = xp()
        n, c = logits.shape
        last, last_c = _CHECKED["last"]
        if labels.size and not (last is labels and last_c == c):
            bad = (labels < 0) | (labels >= c)
            _device.count_sync()
            if bool(m.any(bad)):
                i = int(m.argmax(bad))
                raise LabelError(f"sparse_softmax_cross_entropy: label {int(labels[i])} (at index {i}) is out of "
                                 f"range [0, {c}) for logits of shape {list(logits.shape)}.{where()}")
            _CHECKED["last"] = (labels, c)
        return _sm.sparse_xent(logits, labels, grad)
    return k


def _gen_mask(x, keep_prob, seed):
    draw = int(_nn._generator(seed).integers(0, 2 ** 63 - 1))   # host generator: no device read
    rng = xp().random.default_rng(draw)
    return (rng.random(x.shape, dtype=np.float32) < keep_prob).astype(x.dtype)


def _dropout(x, mask, keep_prob):
    return x * mask * x.dtype.type(1.0 / keep_prob)


KERNELS = {
    "conv2d": _floats(_conv2d), "conv2d_backprop_input": _floats(_conv2d_backprop_input),
    "conv2d_backprop_filter": _floats(_conv2d_backprop_filter),
    "max_pool": _floats(_max_pool), "max_pool_grad": _floats(_max_pool_grad),
    "max_pool_grad_grad": _floats(_max_pool_grad_grad), "avg_pool": _floats(_avg_pool),
    "avg_pool_grad": _floats(_avg_pool_grad),
    "softmax": _floats(lambda x, axis: _sm.softmax(x, axis, False)),
    "log_softmax": _floats(lambda x, axis: _sm.softmax(x, axis, True)),
    "softmax_grad": _floats(lambda y, dy, axis: _sm.softmax_grad(y, dy, axis, False)),
    "log_softmax_grad": _floats(lambda y, dy, axis: _sm.softmax_grad(y, dy, axis, True)),
    "sparse_softmax_cross_entropy": _floats(_xent(False)),
    "sparse_softmax_cross_entropy_grad": _floats(_xent(True)),
    "dropout_gen_mask": _gen_mask, "dropout": _dropout,
    "layer_norm": _floats(_norm.layer_norm), "layer_norm_grad": _floats(_norm.layer_norm_grad),
    "batch_norm": _floats(_norm.batch_norm), "batch_norm_grad": _floats(_norm.batch_norm_grad),
    "batch_norm_infer": _floats(_norm.batch_norm_infer),
}
