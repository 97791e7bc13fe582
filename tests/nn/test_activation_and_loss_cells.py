"""The activation and loss cells around the ops composites: each equals its ops function (in PyNative and inside a
compiled network), PReLU learns its slopes, get_activation knows the names, and bad arguments are clear errors."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, ops, Tensor

X = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)


@pytest.mark.parametrize("cell, fn", [
    (nn.LeakyReLU(), lambda x: ops.leaky_relu(x, 0.2)), (nn.ELU(0.5), lambda x: ops.elu(x, 0.5)),
    (nn.SeLU(), ops.selu), (nn.CELU(2.0), lambda x: ops.celu(x, 2.0)), (nn.SiLU(), ops.silu), (nn.Mish(), ops.mish),
    (nn.HSwish(), ops.hardswish), (nn.HSigmoid(), ops.hardsigmoid),
    (nn.Hardtanh(-0.5, 0.5), lambda x: ops.hardtanh(x, -0.5, 0.5)), (nn.ReLU6(), ops.relu6),
    (nn.Softsign(), ops.softsign), (nn.LogSigmoid(), ops.logsigmoid), (nn.GLU(), ops.glu),
    (nn.Tanhshrink(), ops.tanhshrink), (nn.SoftShrink(0.3), lambda x: ops.softshrink(x, 0.3)),
    (nn.HShrink(0.3), lambda x: ops.hardshrink(x, 0.3)), (nn.Threshold(0.1, -1.0), lambda x: ops.threshold(x, 0.1, -1.0)),
], ids=lambda v: type(v).__name__ if isinstance(v, nn.Cell) else "")
def test_activation_cells_apply_their_op(cell, fn):
    x = Tensor(X)
    ref = fn(x).asnumpy()
    np.testing.assert_allclose(cell(x).asnumpy(), ref, rtol=1e-6)
    net = nn.SequentialCell([cell])
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        np.testing.assert_allclose(net(x).asnumpy(), ref, rtol=1e-6, atol=1e-7)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)


def test_get_activation_and_dense_take_the_new_names():
    for name in ("leakyrelu", "elu", "selu", "silu", "swish", "mish", "hswish", "hsigmoid", "relu6", "softsign"):
        assert isinstance(nn.get_activation(name), nn.Cell)
    ms.set_seed(0)
    d = nn.Dense(6, 3, activation="mish")
    x = Tensor(X)
    np.testing.assert_allclose(d(x).asnumpy(), ops.mish(ops.matmul(x, d.weight.T) + d.bias).asnumpy(), rtol=1e-5)
    with pytest.raises(KeyError, match="unknown activation .*swishy"):
        nn.get_activation("swishy")


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE])
def test_prelu_learns_one_slope_per_channel(mode):
    ms.set_context(mode=mode)
    x = Tensor(np.array([[-1.0, 2.0, -3.0], [-2.0, -1.0, 4.0]], np.float32).reshape(2, 3, 1))
    act = nn.PReLU(channel=3, w=0.25)
    np.testing.assert_allclose(act(x).asnumpy(), np.where(x.asnumpy() > 0, x.asnumpy(), 0.25 * x.asnumpy()))
    (g,) = ms.grad(lambda t: ops.sum(act(t)), None, act.trainable_params())(x)
    np.testing.assert_allclose(g.asnumpy(), [-3.0, -1.0, -3.0])        # d/dw of w * x over the negative x
    step = nn.TrainOneStepCell(nn.WithLossCell(act, nn.MSELoss()), nn.SGD(act.trainable_params(), 0.1))
    step(x, Tensor(np.zeros((2, 3, 1), np.float32)))
    assert not np.allclose(act.w.asnumpy(), 0.25)
    with pytest.raises(ValueError, match="PReLU: channel must be a positive int, got 0"):
        nn.PReLU(channel=0)


def test_loss_cells_match_the_functional_losses():
    rng = np.random.default_rng(1)
    logits = Tensor(rng.normal(size=(5, 4)).astype(np.float32))
    labels = Tensor(np.array([0, 3, 1, 1, 2], np.int32))
    probs = Tensor(rng.uniform(0.05, 0.95, size=(5, 4)).astype(np.float32))
    target = Tensor(rng.uniform(0, 1, size=(5, 4)).astype(np.float32))
    w = Tensor(np.array([1.0, 2.0, 0.5, 1.0], np.float32))
    cases = [
        (nn.SmoothL1Loss(beta=0.5), ops.smooth_l1_loss(logits, target, beta=0.5, reduction="none"), (logits, target)),
        (nn.HuberLoss(delta=0.3), ops.huber_loss(logits, target, delta=0.3), (logits, target)),
        (nn.BCELoss(reduction="sum"), ops.binary_cross_entropy(probs, target, reduction="sum"), (probs, target)),
        (nn.BCEWithLogitsLoss(pos_weight=w), ops.binary_cross_entropy_with_logits(logits, target, pos_weight=w),
         (logits, target)),
        (nn.NLLLoss(weight=w, ignore_index=1), ops.nll_loss(ops.log_softmax(logits, -1), labels, weight=w,
                                                            ignore_index=1), (ops.log_softmax(logits, -1), labels)),
        (nn.CrossEntropyLoss(label_smoothing=0.1), ops.cross_entropy(logits, labels, label_smoothing=0.1),
         (logits, labels)),
        (nn.KLDivLoss("batchmean"), ops.kl_div(ops.log_softmax(logits, -1), probs, reduction="batchmean"),
         (ops.log_softmax(logits, -1), probs)),
        (nn.SoftMarginLoss(), ops.soft_margin_loss(logits, ops.sign(target - 0.5)), (logits, ops.sign(target - 0.5))),
        (nn.MarginRankingLoss(margin=0.2), ops.margin_ranking_loss(logits, target, ops.sign(target - 0.5),
                                                                   margin=0.2),
         (logits, target, ops.sign(target - 0.5))),
        (nn.PoissonNLLLoss(), ops.poisson_nll_loss(logits, target), (logits, target)),
        (nn.TripletMarginLoss(margin=0.5), ops.triplet_margin_loss(logits, probs, target, margin=0.5),
         (logits, probs, target)),
    ]
    for cell, ref, args in cases:
        np.testing.assert_allclose(cell(*args).asnumpy(), ref.asnumpy(), rtol=1e-6, err_msg=type(cell).__name__)
    # a loss cell in a compiled training step
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        ms.set_seed(0)
        net = nn.Dense(4, 4)
        step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), nn.SGD(net.trainable_params(), 0.5))
        losses = [float(step(logits, labels).asnumpy()) for _ in range(5)]
        assert losses[-1] < losses[0]
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")
