"""nn_ops through the public API: values against numpy references, MindSpore-style classes, in-place running
statistics, seeded dropout, and clear errors on bad input. (Gradients of every primitive, first and second order,
are checked against finite differences by test_registry.py.)"""
import numpy as np
import pytest

import mindlab as ms
from mindlab import ops, Tensor, Parameter
from mindlab.ops import operations as P
from mindlab.ops import dispatch

RNG = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _fresh_rng():
    """Each test draws the same data whatever ran before it."""
    global RNG
    RNG = np.random.default_rng(0)


def randn(*shape, dtype=np.float64):
    return RNG.standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- numpy references
def ref_conv(x, w, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    xp = np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:]))
    n, c, h, wd = xp.shape
    co, cig, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (wd - dw * (kw - 1) - 1) // sw + 1
    cog = co // groups
    out = np.zeros((n, co, oh, ow))
    for g in range(groups):
        for i in range(kh):
            for j in range(kw):
                patch = xp[:, g * cig:(g + 1) * cig, i * dh:i * dh + sh * (oh - 1) + 1:sh,
                           j * dw:j * dw + sw * (ow - 1) + 1:sw]
                out[:, g * cog:(g + 1) * cog] += np.einsum("nchw,oc->nohw", patch, w[g * cog:(g + 1) * cog, :, i, j])
    return out


def ref_pool(x, k, s, pads, kind, include_pad=True):
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:]), constant_values=fill)
    ones = np.pad(np.ones_like(x), ((0, 0), (0, 0), pads[:2], pads[2:]))
    oh, ow = (xp.shape[2] - k[0]) // s[0] + 1, (xp.shape[3] - k[1]) // s[1] + 1
    out = np.zeros(x.shape[:2] + (oh, ow))
    for y in range(oh):
        for z in range(ow):
            win = xp[:, :, y * s[0]:y * s[0] + k[0], z * s[1]:z * s[1] + k[1]]
            if kind == "max":
                out[:, :, y, z] = win.max((2, 3))
            else:
                cnt = k[0] * k[1] if include_pad else \
                    ones[:, :, y * s[0]:y * s[0] + k[0], z * s[1]:z * s[1] + k[1]].sum((2, 3))
                out[:, :, y, z] = win.sum((2, 3)) / cnt
    return out


def ref_softmax(x, axis):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


# ---------------------------------------------------------------- conv2d
@pytest.mark.parametrize("kw,pads", [
    (dict(), (0, 0, 0, 0)),
    (dict(stride=2, pad_mode="pad", padding=1), (1, 1, 1, 1)),
    (dict(pad_mode="pad", padding=(2, 1)), (2, 2, 1, 1)),
    (dict(pad_mode="pad", padding=(0, 1, 2, 0), stride=(1, 2)), (0, 1, 2, 0)),
    (dict(dilation=2, pad_mode="pad", padding=2), (2, 2, 2, 2)),
])
def test_conv2d_matches_numpy(kw, pads):
    x, w = randn(2, 3, 9, 8), randn(4, 3, 3, 3)
    out = ops.conv2d(Tensor(x), Tensor(w), **kw)
    stride = kw.get("stride", 1)
    stride = stride if isinstance(stride, tuple) else (stride, stride)
    dil = (kw.get("dilation", 1),) * 2
    np.testing.assert_allclose(out.asnumpy(), ref_conv(x, w, stride, pads, dil), rtol=1e-10, atol=1e-10)


def test_conv2d_same_groups_bias_float32():
    x, w, b = randn(2, 4, 7, 7, dtype=np.float32), randn(6, 2, 3, 3, dtype=np.float32), randn(6, dtype=np.float32)
    out = ops.conv2d(Tensor(x), Tensor(w), Tensor(b), stride=2, pad_mode="same", groups=2)
    assert out.shape == (2, 6, 4, 4) and out.dtype == ms.float32     # same: ceil(7 / 2)
    expected = ref_conv(x.astype(np.float64), w.astype(np.float64), (2, 2), (1, 1, 1, 1), groups=2) + \
        b.reshape(1, -1, 1, 1)
    np.testing.assert_allclose(out.asnumpy(), expected, rtol=1e-4, atol=1e-5)


def test_conv2d_same_pads_extra_at_bottom_right():
    x, w = randn(1, 1, 6, 6), randn(1, 1, 2, 2)
    out = ops.conv2d(Tensor(x), Tensor(w), pad_mode="same")        # total padding 1: (0 top, 1 bottom)
    np.testing.assert_allclose(out.asnumpy(), ref_conv(x, w, pads=(0, 1, 0, 1)), rtol=1e-12)


def test_conv2d_class_and_backprop_classes():
    x, w, dout = randn(2, 3, 6, 6), randn(5, 3, 3, 3), randn(2, 5, 6, 6)
    conv = P.Conv2D(out_channel=5, kernel_size=3, pad_mode="pad", pad=1)
    np.testing.assert_allclose(conv(Tensor(x), Tensor(w)).asnumpy(), ref_conv(x, w, pads=(1, 1, 1, 1)), rtol=1e-10)
    # the backprops agree with the gradients of the convolution
    gx, gw = ms.grad(lambda a, b: ops.sum(conv(a, b) * Tensor(dout)), grad_position=(0, 1))(Tensor(x), Tensor(w))
    dx = P.Conv2DBackpropInput(5, 3, pad_mode="pad", pad=1)(Tensor(dout), Tensor(w), x.shape)
    dw = P.Conv2DBackpropFilter(5, 3, pad_mode="pad", pad=1)(Tensor(dout), Tensor(x), w.shape)
    np.testing.assert_allclose(dx.asnumpy(), gx.asnumpy(), rtol=1e-12)
    np.testing.assert_allclose(dw.asnumpy(), gw.asnumpy(), rtol=1e-12)
    # <conv(x, w), dout> = <x, dx>: the input backprop is the adjoint of the convolution
    np.testing.assert_allclose(np.sum(ref_conv(x, w, pads=(1, 1, 1, 1)) * dout), np.sum(x * dx.asnumpy()), rtol=1e-10)


def test_conv2d_bad_inputs_name_op_and_line():
    x, w = Tensor(randn(1, 3, 8, 8)), Tensor(randn(4, 2, 3, 3))
    with pytest.raises(ValueError) as err:
        ops.conv2d(x, w)
    msg = str(err.value)
    assert "conv2d" in msg and "[1, 3, 8, 8]" in msg and "[4, 2, 3, 3]" in msg and "test_nn_ops.py:" in msg
    with pytest.raises(ValueError, match="bigger|fit") as err:
        ops.conv2d(Tensor(randn(1, 1, 2, 2)), Tensor(randn(1, 1, 3, 3)))
    assert "test_nn_ops.py:" in str(err.value)
    with pytest.raises(TypeError) as err:
        ops.conv2d(Tensor(randn(1, 1, 4, 4)), Tensor(randn(1, 1, 3, 3, dtype=np.float32)))
    assert "conv2d" in str(err.value) and "test_nn_ops.py:" in str(err.value)
    with pytest.raises(ValueError, match="pad_mode") as err:
        ops.conv2d(x, Tensor(randn(4, 3, 3, 3)), pad_mode="full")
    assert "test_nn_ops.py:" in str(err.value)
    with pytest.raises(ValueError, match="bias") as err:
        ops.conv2d(x, Tensor(randn(4, 3, 3, 3)), Tensor(randn(3)))
    assert "test_nn_ops.py:" in str(err.value)
    with pytest.raises(ValueError, match="out_channel") as err:
        P.Conv2D(out_channel=6, kernel_size=3)(x, Tensor(randn(4, 3, 3, 3)))
    assert "test_nn_ops.py:" in str(err.value)


# ---------------------------------------------------------------- pooling
@pytest.mark.parametrize("kernel,stride,padding,pads", [
    (2, None, 0, (0, 0, 0, 0)), (3, 2, 1, (1, 1, 1, 1)), ((3, 2), (1, 2), (1, 0), (1, 1, 0, 0))])
def test_pooling_matches_numpy(kernel, stride, padding, pads):
    x = randn(2, 3, 7, 6)
    k = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    s = k if stride is None else (stride if isinstance(stride, tuple) else (stride, stride))
    mx = ops.max_pool2d(Tensor(x), kernel, stride, padding)
    np.testing.assert_array_equal(mx.asnumpy(), ref_pool(x, k, s, pads, "max"))
    av = ops.avg_pool2d(Tensor(x), kernel, stride, padding)
    np.testing.assert_allclose(av.asnumpy(), ref_pool(x, k, s, pads, "avg"), rtol=1e-12)
    av = ops.avg_pool2d(Tensor(x), kernel, stride, padding, count_include_pad=False)
    np.testing.assert_allclose(av.asnumpy(), ref_pool(x, k, s, pads, "avg", include_pad=False), rtol=1e-12)


def test_pooling_same_mode_and_classes():
    x = randn(1, 2, 5, 5, dtype=np.float32)
    out = P.MaxPool(kernel_size=2, strides=2, pad_mode="same")(Tensor(x))          # pads (0, 1, 0, 1)
    assert out.shape == (1, 2, 3, 3) and out.dtype == ms.float32
    np.testing.assert_array_equal(out.asnumpy(), ref_pool(x, (2, 2), (2, 2), (0, 1, 0, 1), "max"))
    out = P.AvgPool(kernel_size=3, strides=2, pad_mode="SAME")(Tensor(x))           # pads (1, 1, 1, 1)
    np.testing.assert_allclose(out.asnumpy(), ref_pool(x, (3, 3), (2, 2), (1, 1, 1, 1), "avg", include_pad=False),
                               rtol=1e-6, atol=1e-6)
    out = P.AvgPool(kernel_size=(1, 1, 2, 2), strides=(1, 1, 2, 2))(Tensor(x))      # MindSpore's 4-tuples
    np.testing.assert_allclose(out.asnumpy(), ref_pool(x, (2, 2), (2, 2), (0, 0, 0, 0), "avg"), rtol=1e-6, atol=1e-6)


def test_pooling_unbatched_and_gradient_routes_to_the_max():
    x = np.arange(16.0).reshape(1, 4, 4)[:, :, ::-1].copy()      # strictly ordered: a unique max per window
    assert ops.max_pool2d(Tensor(x), 2).shape == (1, 2, 2)
    g = ms.grad(lambda t: ops.sum(ops.max_pool2d(t, 2)))(Tensor(x)).asnumpy()
    expected = np.zeros_like(x)
    for y in range(2):
        for z in range(2):
            win = x[0, 2 * y:2 * y + 2, 2 * z:2 * z + 2]
            i, j = np.unravel_index(np.argmax(win), win.shape)
            expected[0, 2 * y + i, 2 * z + j] = 1
    np.testing.assert_array_equal(g, expected)
    g = ms.grad(lambda t: ops.sum(ops.avg_pool2d(t, 2)))(Tensor(x)).asnumpy()
    np.testing.assert_allclose(g, np.full_like(x, 0.25))


def test_pooling_bad_inputs():
    with pytest.raises(ValueError) as err:
        ops.max_pool2d(Tensor(randn(4, 4)), 2)
    msg = str(err.value)
    assert "max_pool" in msg and "[4, 4]" in msg and "test_nn_ops.py:" in msg
    with pytest.raises(ValueError, match="half the kernel") as err:
        ops.avg_pool2d(Tensor(randn(1, 1, 4, 4)), 2, padding=2)
    assert "avg_pool2d" in str(err.value) and "test_nn_ops.py:" in str(err.value)
    with pytest.raises(ValueError) as err:
        ops.max_pool2d(Tensor(randn(1, 1, 2, 2)), 3)
    assert "max_pool" in str(err.value) and "test_nn_ops.py:" in str(err.value)


# ---------------------------------------------------------------- softmax / log_softmax
@pytest.mark.parametrize("shape,axis", [((128, 10), -1), ((32, 1000), -1), ((4, 5, 6), 1), ((3, 4), 0)])
def test_softmax_and_log_softmax_match_numpy(shape, axis):
    for dt in (np.float32, np.float64):
        x = randn(*shape, dtype=dt) * 5
        y = ops.softmax(Tensor(x), axis)
        assert y.dtype == ms.dtype.from_np(np.dtype(dt))
        np.testing.assert_allclose(y.asnumpy(), ref_softmax(x.astype(np.float64), axis), rtol=1e-5, atol=1e-7)
        ly = ops.log_softmax(Tensor(x), axis)
        np.testing.assert_allclose(ly.asnumpy(), np.log(ref_softmax(x.astype(np.float64), axis)), rtol=1e-5,
                                   atol=1e-5)


def test_softmax_is_stable_and_has_classes_and_method():
    x = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0, -1000.0]])
    y = P.Softmax()(Tensor(x)).asnumpy()
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y, ref_softmax(x - x.max(1, keepdims=True), 1), rtol=1e-12)
    np.testing.assert_allclose(P.LogSoftmax(axis=(1,))(Tensor(x)).asnumpy()[1], np.log(np.full(3, 1 / 3)), rtol=1e-12)
    np.testing.assert_allclose(Tensor(x).softmax().asnumpy(), y)


def test_softmax_gradient_large_and_small_paths_agree():
    # the fused row kernels (small inputs) and the numpy path (large inputs) give the same gradients
    x = randn(64, 100)
    w = randn(64, 100)
    for fn in (ops.softmax, ops.log_softmax):
        g_big = ms.grad(lambda t: ops.sum(fn(t) * Tensor(w)))(Tensor(x)).asnumpy()
        g_rows = np.concatenate([ms.grad(lambda t: ops.sum(fn(t) * Tensor(w[i:i + 8])))(Tensor(x[i:i + 8])).asnumpy()
                                 for i in range(0, 64, 8)])
        np.testing.assert_allclose(g_big, g_rows, rtol=1e-10, atol=1e-12)


def test_softmax_bad_axis():
    with pytest.raises(ValueError) as err:
        ops.softmax(Tensor(randn(3, 4)), axis=2)
    msg = str(err.value)
    assert "softmax" in msg and "[3, 4]" in msg and "test_nn_ops.py:" in msg


# ---------------------------------------------------------------- sparse softmax cross entropy
@pytest.mark.parametrize("n,c", [(6, 5), (8, 600)])      # fused kernel / numpy path (large inputs)
def test_sparse_softmax_cross_entropy_values_and_class(n, c):
    logits, labels = randn(n, c) * 3, RNG.integers(0, c, n).astype(np.int32)
    expected = -np.log(ref_softmax(logits, 1))[np.arange(n), labels]
    loss = ops.sparse_softmax_cross_entropy(Tensor(logits), Tensor(labels))
    np.testing.assert_allclose(loss.asnumpy(), expected, rtol=1e-10)
    mean = P.SparseSoftmaxCrossEntropyWithLogits()(Tensor(logits), Tensor(labels.astype(np.int64)))
    assert mean.shape == () and np.isclose(mean.asnumpy(), expected.mean())
    grad = P.SparseSoftmaxCrossEntropyWithLogits(is_grad=True)(Tensor(logits), Tensor(labels))
    onehot = np.eye(c)[labels]
    np.testing.assert_allclose(grad.asnumpy(), (ref_softmax(logits, 1) - onehot) / n, rtol=1e-8, atol=1e-14)
    g = ms.grad(lambda z: P.SparseSoftmaxCrossEntropyWithLogits()(z, Tensor(labels)))(Tensor(logits))
    np.testing.assert_allclose(g.asnumpy(), grad.asnumpy(), rtol=1e-12)


def test_sparse_softmax_cross_entropy_bad_label():
    with pytest.raises(ValueError) as err:
        ops.sparse_softmax_cross_entropy(Tensor(randn(3, 4)), Tensor(np.array([0, 4, 1], dtype=np.int32)))
    msg = str(err.value)
    assert "sparse_softmax_cross_entropy" in msg and "label 4" in msg and "[0, 4)" in msg
    assert "test_nn_ops.py:" in msg
    with pytest.raises(ValueError, match=r"label 700 \(at index 2\) is out of range \[0, 600\)"):
        ops.sparse_softmax_cross_entropy(Tensor(randn(8, 600)), Tensor(np.array([0, 1, 700, 3, 4, 5, 6, -7])))
    with pytest.raises(ValueError, match="label -1"):
        ms.grad(lambda z: ops.sum(ops.sparse_softmax_cross_entropy(z, Tensor(np.array([-1, 0, 0])))))(
            Tensor(randn(3, 4)))
    with pytest.raises(TypeError) as err:
        ops.sparse_softmax_cross_entropy(Tensor(randn(3, 4)), Tensor(np.zeros(3)))
    assert "labels must be integers" in str(err.value) and "test_nn_ops.py:" in str(err.value)


# ---------------------------------------------------------------- dropout
def test_dropout_seeded_scaled_and_cache_friendly():
    x = np.ones((200, 50), dtype=np.float32)
    ms.set_seed(7)
    a = ops.dropout(Tensor(x), p=0.3).asnumpy()
    b = ops.dropout(Tensor(x), p=0.3).asnumpy()
    ms.set_seed(7)
    assert np.array_equal(ops.dropout(Tensor(x), p=0.3).asnumpy(), a)          # same seed, same masks
    assert not np.array_equal(a, b)                                             # fresh mask per call
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((a == 0).mean() - 0.3) < 0.02
    n = len(dispatch._cache)
    for _ in range(5):
        ops.dropout(Tensor(x), p=0.3)
    assert len(dispatch._cache) == n                                            # no per-call attributes


def test_dropout_off_class_mask_and_gradient():
    x = Tensor(randn(4, 6))
    assert ops.dropout(x, p=0.5, training=False) is x
    assert ops.dropout(x, p=0.0) is x
    assert np.array_equal(ops.dropout(x, p=1.0).asnumpy(), np.zeros((4, 6)))
    out, mask = P.Dropout(keep_prob=0.8)(x)
    assert mask.shape == x.shape and mask.dtype == x.dtype
    np.testing.assert_allclose(out.asnumpy(), x.asnumpy() * mask.asnumpy() / 0.8)
    ms.set_seed(3)
    g = ms.grad(lambda t: ops.sum(ops.dropout(t, p=0.25)))(x).asnumpy()
    ms.set_seed(3)
    m = ops.dropout(Tensor(np.ones((4, 6))), p=0.25).asnumpy()
    np.testing.assert_allclose(g, m)                                             # dout * mask / keep_prob
    # op-level seeds: reproducible streams, restarted by set_seed
    d = P.Dropout(keep_prob=0.5, Seed0=1, Seed1=2)
    ms.set_seed(0)
    first = d(x)[1].asnumpy()
    ms.set_seed(0)
    assert np.array_equal(P.Dropout(keep_prob=0.5, Seed0=1, Seed1=2)(x)[1].asnumpy(), first)


def test_dropout_bad_p():
    with pytest.raises(ValueError) as err:
        ops.dropout(Tensor(randn(2, 2)), p=1.5)
    assert "dropout" in str(err.value) and "test_nn_ops.py:" in str(err.value)
    with pytest.raises(TypeError) as err:
        ops.dropout(Tensor(np.ones((2, 2), dtype=np.int32)))
    assert "dropout" in str(err.value) and "test_nn_ops.py:" in str(err.value)


# ---------------------------------------------------------------- layer_norm
def ref_layer_norm(x, gamma, beta, bna, bpa, eps):
    axes = tuple(range(bna, x.ndim))
    mean = x.mean(axes, keepdims=True)
    var = x.var(axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta, mean, var


@pytest.mark.parametrize("bna,bpa", [(-1, -1), (1, 1), (1, 2), (2, 1)])
def test_layer_norm_matches_numpy(bna, bpa):
    x = randn(3, 4, 5)
    pshape = x.shape[bpa % 3:]
    gamma, beta = randn(*pshape), randn(*pshape)
    y = ops.layer_norm(Tensor(x), Tensor(gamma), Tensor(beta), bna, bpa, 1e-5)
    ry, rm, rv = ref_layer_norm(x, gamma, beta, bna % 3, bpa % 3, 1e-5)
    np.testing.assert_allclose(y.asnumpy(), ry, rtol=1e-10, atol=1e-12)
    y, mean, var = P.LayerNorm(bna, bpa, 1e-5)(Tensor(x), Tensor(gamma), Tensor(beta))
    np.testing.assert_allclose(mean.asnumpy(), rm, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(var.asnumpy(), rv, rtol=1e-12)
    assert mean.shape == rm.shape and y.shape == x.shape


def test_layer_norm_float32_and_bad_gamma():
    x = randn(8, 16, dtype=np.float32) * 100 + 50
    g, b = np.ones(16, np.float32), np.zeros(16, np.float32)
    y = ops.layer_norm(Tensor(x), Tensor(g), Tensor(b))
    assert y.dtype == ms.float32
    np.testing.assert_allclose(y.asnumpy(), ref_layer_norm(x.astype(np.float64), g, b, 1, 1, 1e-7)[0], atol=1e-4)
    with pytest.raises(ValueError) as err:
        ops.layer_norm(Tensor(x), Tensor(np.ones(8, np.float32)), Tensor(b))
    msg = str(err.value)
    assert "layer_norm" in msg and "gamma" in msg and "[8, 16]" in msg and "test_nn_ops.py:" in msg


# ---------------------------------------------------------------- batch_norm
def test_batch_norm_training_updates_running_stats_in_place():
    x = randn(8, 3, 4, 4)
    rm, rv = Parameter(Tensor(np.zeros(3)), name="mean"), Parameter(Tensor(np.ones(3)), name="var")
    w, b = Tensor(randn(3)), Tensor(randn(3))
    y = ops.batch_norm(Tensor(x), rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
    expected = (x - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-5) * \
        w.asnumpy().reshape(1, 3, 1, 1) + b.asnumpy().reshape(1, 3, 1, 1)
    np.testing.assert_allclose(y.asnumpy(), expected, rtol=1e-10, atol=1e-12)
    n = 8 * 4 * 4
    np.testing.assert_allclose(rm.asnumpy(), 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(rv.asnumpy(), 0.9 + 0.1 * var * n / (n - 1), rtol=1e-12)
    # under a gradient transform the update still happens once per call and is not differentiated
    gw = ms.grad(lambda t: ops.sum(ops.batch_norm(Tensor(x), rm, rv, t, b, training=True) ** 2))(w)
    assert gw.shape == (3,) and np.all(np.isfinite(gw.asnumpy()))
    np.testing.assert_allclose(rm.asnumpy(), 0.9 * 0.1 * mean + 0.1 * mean, rtol=1e-12)


def test_batch_norm_inference_nc_and_class():
    x = randn(5, 4)
    rm, rv, w, b = randn(4), np.abs(randn(4)) + 0.5, randn(4), randn(4)
    y = ops.batch_norm(Tensor(x), Tensor(rm), Tensor(rv), Tensor(w), Tensor(b))
    np.testing.assert_allclose(y.asnumpy(), (x - rm) / np.sqrt(rv + 1e-5) * w + b, rtol=1e-12)
    mean, var = Parameter(Tensor(rm.copy())), Parameter(Tensor(rv.copy()))
    out = P.BatchNorm(is_training=True, momentum=0.5)(Tensor(x), Tensor(w), Tensor(b), mean, var)
    assert len(out) == 5
    np.testing.assert_allclose(out[1].asnumpy(), x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(out[2].asnumpy(), x.var(0), rtol=1e-12)
    np.testing.assert_allclose(mean.asnumpy(), 0.5 * rm + 0.5 * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(var.asnumpy(), 0.5 * rv + 0.5 * x.var(0) * 5 / 4, rtol=1e-12)
    y = P.BatchNorm()(Tensor(x), Tensor(w), Tensor(b), Tensor(rm), Tensor(rv))[0]
    np.testing.assert_allclose(y.asnumpy(), (x - rm) / np.sqrt(rv + 1e-5) * w + b, rtol=1e-12)


def test_batch_norm_bad_weight():
    with pytest.raises(ValueError) as err:
        ops.batch_norm(Tensor(randn(2, 3, 2, 2)), Tensor(np.zeros(3)), Tensor(np.ones(3)), Tensor(np.ones(4)),
                       Tensor(np.zeros(3)))
    msg = str(err.value)
    assert "batch_norm" in msg and "weight" in msg and "[2, 3, 2, 2]" in msg and "test_nn_ops.py:" in msg


# ---------------------------------------------------------------- a LeNet-style step end to end
@pytest.mark.simulator_slow
def test_lenet_style_forward_backward():
    labels = Tensor(np.array([1, 3, 0, 9], dtype=np.int32))
    data = [randn(4, 1, 32, 32), randn(6, 1, 5, 5) * 0.2, randn(16, 6, 5, 5) * 0.1, randn(400, 10) * 0.05]

    def loss_fn(x, w1, w2, fc):
        h = ops.max_pool2d(ops.conv2d(x, w1), 2, 2)
        h = ops.avg_pool2d(ops.conv2d(h, w2), 2, 2)
        logits = ops.matmul(ops.reshape(h, (4, -1)), fc)
        return ops.sum(ops.sparse_softmax_cross_entropy(logits, labels))

    grad_fn = ms.value_and_grad(loss_fn, grad_position=(1, 2, 3))
    loss, grads = grad_fn(*[Tensor(a.astype(np.float32)) for a in data])
    assert loss.shape == () and loss.dtype == ms.float32 and np.isfinite(loss.asnumpy())
    assert [g.shape for g in grads] == [(6, 1, 5, 5), (16, 6, 5, 5), (400, 10)]
    assert all(g.dtype == ms.float32 for g in grads)
    # float64: directional finite differences agree with every weight gradient
    _, grads64 = grad_fn(*[Tensor(a) for a in data])
    for k, g in zip((1, 2, 3), grads64):
        v, eps = randn(*data[k].shape), 1e-5
        shifted = [list(data), list(data)]
        shifted[0][k], shifted[1][k] = data[k] + eps * v, data[k] - eps * v
        up, down = (loss_fn(*[Tensor(a) for a in s]).asnumpy() for s in shifted)
        np.testing.assert_allclose((up - down) / (2 * eps), np.sum(g.asnumpy() * v), rtol=1e-5)
        np.testing.assert_allclose(grads[k - 1].asnumpy(), g.asnumpy(), rtol=1e-3, atol=1e-4)
