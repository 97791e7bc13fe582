"""Layers: each forward against numpy, default initializations, train/eval behaviour, and clear errors."""
import math

import numpy as np
import pytest
from scipy.special import erf

import mindlab as ms
from mindlab import nn, ops, Tensor
from mindlab.common.initializer import Normal, One


def T(x, dtype=np.float32):
    return Tensor(np.asarray(x, dtype=dtype))


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


# ---------------------------------------------------------------- Dense
def test_dense_forward_and_default_init():
    d = nn.Dense(5, 3)
    w, b = d.weight.asnumpy(), d.bias.asnumpy()
    assert w.shape == (3, 5) and b.shape == (3,) and w.dtype == np.float32
    bound = 1 / math.sqrt(5)                       # HeUniform(sqrt(5)) and the bias both give U(±1/sqrt(in))
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound and np.abs(w).max() > bound / 2
    x = rnd(4, 5)
    np.testing.assert_allclose(d(T(x)).asnumpy(), x @ w.T + b, rtol=1e-5, atol=1e-6)


def test_dense_options():
    x = rnd(2, 3, 4)
    d = nn.Dense(4, 2, weight_init=T(np.arange(8).reshape(2, 4) / 10), has_bias=False, activation="tanh")
    assert d.bias is None and [p.name for p in d.trainable_params()] == ["weight"]
    np.testing.assert_allclose(d(T(x)).asnumpy(), np.tanh(x @ (np.arange(8).reshape(2, 4) / 10).T), rtol=1e-5)
    d2 = nn.Dense(4, 2, weight_init="ones", bias_init=0.5, activation=nn.ReLU())
    ref = np.maximum(x[0].sum(-1, keepdims=True) + 0.5, 0).repeat(2, axis=1)
    np.testing.assert_allclose(d2(T(x[0])).asnumpy(), ref, rtol=1e-5)
    with pytest.raises(ValueError):
        nn.Dense(4, 2, weight_init=T(np.ones((4, 2))))     # weight shape must be (out, in)
    with pytest.raises(ValueError):
        nn.Dense(0, 2)
    with pytest.raises(TypeError):
        nn.Dense(2.5, 2)
    with pytest.raises(KeyError):
        nn.Dense(2, 2, activation="swishy")


def test_dense_wrong_in_channels_names_layer_shapes_and_line():
    d = nn.Dense(3, 2)
    with pytest.raises(ValueError) as info:
        d(T(np.ones((4, 5))))
    msg = str(info.value)
    for word in ("Dense", "in_channels=3", "[4, 5]", "[2, 3]", "test_layers.py:"):
        assert word in msg, (word, msg)


# ---------------------------------------------------------------- activations, Flatten
@pytest.mark.parametrize("cell,ref", [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.GELU(approximate=False), lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2)))),
    (nn.GELU(), lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))),
    (nn.Softmax(), lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    (nn.Softmax(axis=0), lambda x: np.exp(x) / np.exp(x).sum(0, keepdims=True)),
    (nn.LogSoftmax(), lambda x: x - np.log(np.exp(x).sum(-1, keepdims=True))),
], ids=["relu", "sigmoid", "tanh", "gelu", "gelu_tanh", "softmax", "softmax0", "logsoftmax"])
def test_activations_match_numpy(cell, ref):
    x = rnd(3, 5, seed=4).astype(np.float64)
    np.testing.assert_allclose(cell(T(x, np.float64)).asnumpy(), ref(x), rtol=1e-6, atol=1e-7)


def test_get_activation():
    assert isinstance(nn.get_activation("relu"), nn.ReLU)
    assert isinstance(nn.get_activation("GELU"), nn.GELU)
    assert nn.get_activation(None) is None


def test_flatten():
    x = rnd(2, 3, 4, 5)
    assert nn.Flatten()(T(x)).shape == (2, 60)
    np.testing.assert_array_equal(nn.Flatten()(T(x)).asnumpy(), x.reshape(2, 60))
    assert nn.Flatten(1, 2)(T(x)).shape == (2, 12, 5)
    assert nn.Flatten(0)(T(x)).shape == (120,)
    with pytest.raises(ValueError):
        nn.Flatten(3, 1)(T(x))


# ---------------------------------------------------------------- Dropout
def test_dropout_train_and_eval():
    x = np.ones((200, 50), np.float32)
    drop = nn.Dropout(p=0.25)
    np.testing.assert_array_equal(drop(T(x)).asnumpy(), x)          # evaluation (the default): identity
    drop.set_train()
    out = drop(T(x)).asnumpy()
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)       # kept values are rescaled
    assert nn.Dropout(keep_prob=0.8).p == pytest.approx(0.2)
    assert nn.Dropout().p == 0.5
    np.testing.assert_array_equal(nn.Dropout(p=0.0).set_train()(T(x)).asnumpy(), x)
    for bad in ({"p": 1.0}, {"p": -0.1}, {"keep_prob": 0.0}, {"p": 0.1, "keep_prob": 0.9}):
        with pytest.raises(ValueError):
            nn.Dropout(**bad)


# ---------------------------------------------------------------- Conv2d
def _same_pads(size, k, s, d):
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def np_conv2d(x, w, b, stride, pads, dilation, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (sh, sw), (dh, dw) = stride, dilation
    pt, pb, pl, pr = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    ho = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for i in range(ho):
        for j in range(wo):
            patch = xp[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            for g in range(groups):
                out[:, g * og:(g + 1) * og, i, j] = np.einsum(
                    "nchw,ochw->no", patch[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og])
    return out + (0 if b is None else b.reshape(1, -1, 1, 1))


@pytest.mark.parametrize("kw", [
    dict(pad_mode="same"),
    dict(pad_mode="valid", stride=2),
    dict(pad_mode="pad", padding=(1, 0, 2, 1), has_bias=True),
    dict(pad_mode="same", stride=2, dilation=2, group=2, has_bias=True),
], ids=["same", "valid_stride", "pad_bias", "same_dilated_grouped"])
def test_conv2d_matches_numpy(kw):
    conv = nn.Conv2d(4, 6, 3, **kw)
    x = rnd(2, 4, 7, 6, seed=5)
    w = conv.weight.asnumpy()
    assert w.shape == (6, 4 // kw.get("group", 1), 3, 3)
    s = (kw.get("stride", 1),) * 2
    d = (kw.get("dilation", 1),) * 2
    if kw["pad_mode"] == "same":
        pads = _same_pads(7, 3, s[0], d[0]) + _same_pads(6, 3, s[1], d[1])
    elif kw["pad_mode"] == "pad":
        pads = kw["padding"]
    else:
        pads = (0, 0, 0, 0)
    b = conv.bias.asnumpy() if conv.has_bias else None
    ref = np_conv2d(x.astype(np.float64), w, b, s, pads, d, kw.get("group", 1))
    np.testing.assert_allclose(conv(T(x)).asnumpy(), ref, rtol=1e-4, atol=1e-5)


def test_conv2d_init_and_errors():
    conv = nn.Conv2d(3, 8, (3, 5), has_bias=True)
    bound = 1 / math.sqrt(3 * 3 * 5)
    assert conv.weight.shape == (8, 3, 3, 5)
    assert np.abs(conv.weight.asnumpy()).max() <= bound and np.abs(conv.bias.asnumpy()).max() <= bound
    assert conv.bias is not None and nn.Conv2d(3, 8, 3).bias is None
    with pytest.raises(ValueError):
        nn.Conv2d(3, 8, 3, pad_mode="same", padding=1)
    with pytest.raises(ValueError):
        nn.Conv2d(3, 8, 3, group=2)
    with pytest.raises(ValueError):
        nn.Conv2d(3, 8, 3, pad_mode="full")
    with pytest.raises(ValueError) as info:
        conv(T(np.ones((1, 4, 5, 5))))
    assert "Conv2d" in str(info.value) and "[1, 4, 5, 5]" in str(info.value) and "test_layers.py:" in str(info.value)


# ---------------------------------------------------------------- pooling
def np_pool(x, k, s, reduce, pads=(0, 0, 0, 0), fill=0.0):
    pt, pb, pl, pr = pads
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=fill)
    ho = (xp.shape[2] - k[0]) // s[0] + 1
    wo = (xp.shape[3] - k[1]) // s[1] + 1
    out = np.zeros(x.shape[:2] + (ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = reduce(xp[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]], axis=(2, 3))
    return out


def test_max_pool2d_matches_numpy():
    x = rnd(2, 3, 6, 7, seed=6)
    np.testing.assert_allclose(nn.MaxPool2d(2, 2)(T(x)).asnumpy(), np_pool(x, (2, 2), (2, 2), np.max))
    np.testing.assert_allclose(nn.MaxPool2d((3, 2), 1)(T(x)).asnumpy(), np_pool(x, (3, 2), (1, 1), np.max))
    pads = _same_pads(6, 3, 2, 1) + _same_pads(7, 3, 2, 1)
    np.testing.assert_allclose(nn.MaxPool2d(3, 2, pad_mode="same")(T(x)).asnumpy(),
                               np_pool(x, (3, 3), (2, 2), np.max, pads, -np.inf))
    np.testing.assert_allclose(nn.MaxPool2d(3, 2, pad_mode="pad", padding=1)(T(x)).asnumpy(),
                               np_pool(x, (3, 3), (2, 2), np.max, (1, 1, 1, 1), -np.inf))
    assert nn.MaxPool2d().kernel_size == (1, 1)
    with pytest.raises(ValueError):
        nn.MaxPool2d(3, 2, padding=1)              # padding needs pad_mode="pad"
    with pytest.raises(ValueError) as info:
        nn.MaxPool2d(2)(T(np.ones((3, 4, 4))))
    assert "MaxPool2d" in str(info.value) and "[3, 4, 4]" in str(info.value)


def test_avg_pool2d_matches_numpy():
    x = rnd(2, 3, 6, 7, seed=7)
    np.testing.assert_allclose(nn.AvgPool2d(2, 2)(T(x)).asnumpy(), np_pool(x, (2, 2), (2, 2), np.mean),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(nn.AvgPool2d(3, (1, 2))(T(x)).asnumpy(), np_pool(x, (3, 3), (1, 2), np.mean),
                               rtol=1e-5, atol=1e-6)
    pads = _same_pads(6, 3, 2, 1) + _same_pads(7, 3, 2, 1)     # "same" averages the real cells only
    np.testing.assert_allclose(nn.AvgPool2d(3, 2, pad_mode="same")(T(x)).asnumpy(),
                               np_pool(x, (3, 3), (2, 2), np.nanmean, pads, np.nan), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- BatchNorm2d, LayerNorm
def test_batch_norm2d_train_updates_moving_stats_and_eval_uses_them():
    bn = nn.BatchNorm2d(3)
    assert [p.name for p in bn.get_parameters()] == ["mean", "variance", "gamma", "beta"]
    assert [p.name for p in bn.trainable_params()] == ["gamma", "beta"]
    bn.gamma = T([1.0, 2.0, 0.5])
    bn.beta = T([0.0, -1.0, 1.0])
    x = rnd(4, 3, 2, 5, seed=8) * 2 + 1
    bn.set_train()
    out = bn(T(x)).asnumpy()
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3))
    ref = (x - mean.reshape(1, 3, 1, 1)) / np.sqrt(var.reshape(1, 3, 1, 1) + 1e-5)
    ref = ref * np.array([1, 2, 0.5]).reshape(1, 3, 1, 1) + np.array([0, -1, 1]).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    # MindSpore's momentum convention: moving = 0.9 * moving + 0.1 * batch statistic
    np.testing.assert_allclose(bn.moving_mean.asnumpy(), 0.1 * mean, rtol=1e-5)
    n = x.size // 3        # the moving variance takes the unbiased batch variance
    np.testing.assert_allclose(bn.moving_variance.asnumpy(), 0.9 + 0.1 * var * n / (n - 1), rtol=1e-5)
    bn.set_train(False)
    mm, mv = bn.moving_mean.asnumpy(), bn.moving_variance.asnumpy()
    out = bn(T(x)).asnumpy()
    ref = (x - mm.reshape(1, 3, 1, 1)) / np.sqrt(mv.reshape(1, 3, 1, 1) + 1e-5)
    ref = ref * np.array([1, 2, 0.5]).reshape(1, 3, 1, 1) + np.array([0, -1, 1]).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(bn.moving_mean.asnumpy(), mm)     # evaluation leaves the statistics alone
    with pytest.raises(ValueError) as info:
        bn(T(np.ones((2, 4, 3, 3))))
    assert "BatchNorm2d" in str(info.value) and "[2, 4, 3, 3]" in str(info.value)


def test_batch_norm2d_in_a_network_is_named_by_path():
    net = nn.SequentialCell([nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)])
    assert [p.name for p in net.get_parameters()][1:] == ["1.moving_mean", "1.moving_variance", "1.gamma", "1.beta"]


def test_layer_norm_matches_numpy():
    x = rnd(2, 3, 4, seed=9)
    ln = nn.LayerNorm((4,), epsilon=1e-5)
    ln.gamma = T(np.linspace(0.5, 2, 4))
    ln.beta = T(np.linspace(-1, 1, 4))
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    ref = (x - mean) / np.sqrt(var + 1e-5) * np.linspace(0.5, 2, 4) + np.linspace(-1, 1, 4)
    np.testing.assert_allclose(ln(T(x)).asnumpy(), ref, rtol=1e-4, atol=1e-5)
    ln2 = nn.LayerNorm((3, 4), begin_norm_axis=1, begin_params_axis=1)
    mean, var = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
    np.testing.assert_allclose(ln2(T(x)).asnumpy(), (x - mean) / np.sqrt(var + 1e-7), rtol=1e-4, atol=1e-5)
    assert [p.name for p in ln2.trainable_params()] == ["gamma", "beta"] and ln2.gamma.shape == (3, 4)
    with pytest.raises(TypeError):
        nn.LayerNorm(4)


# ---------------------------------------------------------------- Embedding
def test_embedding_lookup_one_hot_and_padding():
    emb = nn.Embedding(10, 4, padding_idx=2)
    table = emb.embedding_table.asnumpy()
    assert table.shape == (10, 4) and np.all(table[2] == 0) and 0 < table.std() < 0.05   # N(0, 0.01²)
    ids = np.array([[1, 2, 9], [0, 0, 5]], np.int32)
    out = emb(Tensor(ids))
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out.asnumpy(), table[ids])
    emb1 = nn.Embedding(10, 4, use_one_hot=True, embedding_table=Normal(1.0))
    np.testing.assert_allclose(emb1(Tensor(ids)).asnumpy(), emb1.embedding_table.asnumpy()[ids], rtol=1e-6)
    # gradients reach the rows that were looked up, both ways
    for e in (emb, emb1):
        (g,) = ms.grad(lambda i: ops.sum(e(i)), grad_position=None, weights=[e.embedding_table])(Tensor(ids))
        counts = np.bincount(ids.ravel(), minlength=10).astype(np.float32)
        np.testing.assert_allclose(g.asnumpy(), np.repeat(counts[:, None], 4, 1))
    with pytest.raises(TypeError) as info:
        emb(T([1.0, 2.0]))
    assert "Embedding" in str(info.value) and "test_layers.py:" in str(info.value)
    with pytest.raises(ValueError):
        nn.Embedding(10, 4, padding_idx=10)


def test_layer_parameters_use_initializer_objects():
    d = nn.Dense(3, 2, weight_init=One(), bias_init="zeros")
    np.testing.assert_array_equal(d.weight.asnumpy(), np.ones((2, 3)))
    np.testing.assert_array_equal(d.bias.asnumpy(), np.zeros(2))
