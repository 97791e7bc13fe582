"""The per-sample stride-1 convolution (kernels/cpu/conv_tiled.py: row-layout patches in a small buffer, an MKL
GEMM per sample from compiled code) against a float64 direct reference, through the public ops and through the
three primitives' CPU kernels; and the cases it must leave to the batch-wide path."""
import numpy as np
import pytest

import mindlab as ms
from mindlab.kernels.cpu import mkl
from mindlab.ops.prims import conv_ops

needs_mkl = pytest.mark.skipif(mkl.jit_callers() is None, reason="MKL's compiled callers are not available")
rng = np.random.default_rng(3)


def _reference(x, w, pad, dil):
    """Direct float64 convolution (stride 1): out[n, o, y, z] = sum x_padded[n, c, y + i*dh, z + j*dw] w[o, c, i, j]."""
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad[0], pad[1]), (pad[2], pad[3])))
    co, c, kh, kw = w.shape
    oh = xp.shape[2] - dil[0] * (kh - 1)
    ow = xp.shape[3] - dil[1] * (kw - 1)
    out = np.zeros((x.shape[0], co, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i * dil[0]:i * dil[0] + oh, j * dil[1]:j * dil[1] + ow]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, i, j].astype(np.float64))
    return out


CASES = [((32, 1, 32, 32), (6, 1, 5, 5), (0, 0, 0, 0), (1, 1)),       # LeNet-5's layers
         ((32, 6, 14, 14), (16, 6, 5, 5), (0, 0, 0, 0), (1, 1)),
         ((3, 4, 9, 7), (5, 4, 3, 2), (1, 2, 0, 1), (1, 2)),            # asymmetric padding, dilation
         ((2, 3, 5, 6), (4, 3, 3, 3), (2, 2, 2, 2), (2, 1)),            # padding wider than the last tap's reach
         ((1, 2, 4, 4), (3, 2, 4, 4), (0, 0, 0, 0), (1, 1))]            # one output pixel


@needs_mkl
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs, ws, pad, dil", CASES)
def test_forward_and_both_gradients_match_a_direct_reference(xs, ws, pad, dil, dtype):
    x, w = rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype)
    geo = dict(stride=(1, 1), pad=pad, dilation=dil, groups=1)
    assert conv_ops._tiled(x, w) is not None
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)
    out = conv_ops._conv_cpu(x, w, **geo)
    want = _reference(x, w, pad, dil)
    np.testing.assert_allclose(out, want, **tol)
    # gradients by linearity: <conv(x, w), d> is bilinear, so the reference of each gradient is exact
    d = rng.standard_normal(out.shape).astype(dtype)
    dx = conv_ops._bpi_cpu(d, w, x.shape, **geo)
    dw = conv_ops._bpf_cpu(d, x, w.shape, **geo)
    eye_x = np.eye(x.size).reshape((x.size,) + x.shape)[: min(x.size, 12)]
    for k, basis in enumerate(eye_x):          # dx[k] = <conv(e_k, w), d>
        np.testing.assert_allclose(dx.reshape(-1)[k], (_reference(basis, w, pad, dil) * d).sum(), **tol)
    for k in range(min(w.size, 12)):           # dw[k] = <conv(x, e_k), d>
        e = np.zeros(w.size)
        e[k] = 1
        np.testing.assert_allclose(dw.reshape(-1)[k], (_reference(x, e.reshape(w.shape), pad, dil) * d).sum(),
                                   **tol)


@needs_mkl
def test_lenet_layer_trains_the_same_through_the_public_api():
    """nn.Conv2d forward and value_and_grad in both modes agree with the reference (float32)."""
    x = rng.standard_normal((8, 6, 14, 14)).astype(np.float32)
    for mode in (ms.PYNATIVE_MODE, ms.GRAPH_MODE):
        ms.set_context(mode=mode)
        try:
            net = ms.nn.Conv2d(6, 16, 5, pad_mode="valid", has_bias=False)
            w = net.weight.asnumpy()
            out = net(ms.Tensor(x)).asnumpy()
            np.testing.assert_allclose(out, _reference(x, w, (0, 0, 0, 0), (1, 1)), rtol=2e-5, atol=2e-5)
            grad = ms.value_and_grad(lambda t: (net(t) ** 2).sum(), grad_position=None, weights=net.trainable_params())
            _, (gw,) = grad(ms.Tensor(x))
            # d/dw of sum(out^2) = <2 out, conv(x, e_k)>
            e = np.zeros(w.size)
            e[17] = 1
            want = (2 * out.astype(np.float64) * _reference(x, e.reshape(w.shape), (0, 0, 0, 0), (1, 1))).sum()
            np.testing.assert_allclose(gw.asnumpy().reshape(-1)[17], want, rtol=1e-4)
        finally:
            ms.set_context(mode=ms.PYNATIVE_MODE)


@needs_mkl
def test_other_layers_take_the_batch_wide_path(monkeypatch):
    """Mixed dtypes and integer data are not the per-sample path's; non-finite weights or inputs (whose garbage
    columns would spread NaN) keep the guard of the batch-wide path; results stay right."""
    x32 = rng.standard_normal((2, 2, 6, 6)).astype(np.float32)
    assert conv_ops._tiled(x32, x32.astype(np.float64)) is None
    assert conv_ops._tiled(x32.astype(np.int32)) is None
    calls = []
    from mindlab.kernels.cpu import conv_tiled
    monkeypatch.setattr(conv_tiled, "conv2d_backprop_input", lambda *a: calls.append(a))
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    w[0, 0, 0, 0] = np.inf
    d = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    dx = conv_ops._bpi_cpu(d, w, x32.shape, stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1)
    assert not calls
    assert np.isinf(dx[:, 0, :4, :4]).any() and np.isfinite(dx[:, 1]).all()
