"""Losses against numpy, their reductions and gradients, and bad arguments."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, Tensor


def T(x, dtype=np.float64):
    return Tensor(np.asarray(x, dtype=dtype))


RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(5, 4))
SPARSE = np.array([0, 3, 1, 1, 2])
DENSE = np.eye(4)[SPARSE] * 0.8 + 0.05


def np_log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def reduce(x, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](x)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_softmax_cross_entropy(reduction):
    sparse = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction=reduction)
    ref = -np_log_softmax(LOGITS)[np.arange(5), SPARSE]
    np.testing.assert_allclose(sparse(T(LOGITS), Tensor(SPARSE.astype(np.int32))).asnumpy(), reduce(ref, reduction),
                               rtol=1e-10)
    dense = nn.SoftmaxCrossEntropyWithLogits(reduction=reduction)
    ref = -(DENSE * np_log_softmax(LOGITS)).sum(-1)
    np.testing.assert_allclose(dense(T(LOGITS), T(DENSE)).asnumpy(), reduce(ref, reduction), rtol=1e-10)


def test_softmax_cross_entropy_defaults_and_gradient():
    loss = nn.SoftmaxCrossEntropyWithLogits()
    assert not loss.sparse and loss.reduction == "none"
    fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    g = ms.grad(lambda z: fn(z, Tensor(SPARSE)))(T(LOGITS))
    p = np.exp(np_log_softmax(LOGITS))
    np.testing.assert_allclose(g.asnumpy(), (p - np.eye(4)[SPARSE]) / 5, rtol=1e-8)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_mse_and_l1(reduction):
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    np.testing.assert_allclose(nn.MSELoss(reduction)(T(a), T(b)).asnumpy(), reduce((a - b) ** 2, reduction),
                               rtol=1e-12)
    np.testing.assert_allclose(nn.L1Loss(reduction)(T(a), T(b)).asnumpy(), reduce(np.abs(a - b), reduction),
                               rtol=1e-12)


def test_mse_default_mean_broadcast_and_gradient():
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(4,))
    mse = nn.MSELoss()
    assert mse.reduction == "mean"
    np.testing.assert_allclose(mse(T(a), T(b)).asnumpy(), np.mean((a - b) ** 2), rtol=1e-12)
    g = ms.grad(lambda x: mse(x, T(b)))(T(a))
    np.testing.assert_allclose(g.asnumpy(), 2 * (a - b) / a.size, rtol=1e-12)


def test_get_loss_weights_and_custom_loss():
    class Weighted(nn.LossBase):
        def construct(self, logits, labels):
            return self.get_loss(logits - labels, T([1.0, 2.0]))

    np.testing.assert_allclose(Weighted("sum")(T([1.0, 1.0]), T([0.0, 0.5])).asnumpy(), 2.0)
    assert Weighted("none")(T([1.0, 1.0]), T([0.0, 0.5])).shape == (2,)


def test_bad_reduction_and_bad_labels():
    for cls in (nn.MSELoss, nn.L1Loss, nn.LossBase):
        with pytest.raises(ValueError, match="reduction"):
            cls(reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        nn.SoftmaxCrossEntropyWithLogits(reduction="batchmean")
    with pytest.raises(ValueError) as info:
        nn.SoftmaxCrossEntropyWithLogits()(T(LOGITS), T(np.ones((5, 3))))
    assert "[5, 4]" in str(info.value) and "[5, 3]" in str(info.value) and "test_loss.py:" in str(info.value)
    with pytest.raises((ValueError, TypeError)) as info:
        nn.SoftmaxCrossEntropyWithLogits(sparse=True)(T(LOGITS), Tensor(np.zeros(4, np.int32)))
    assert "test_loss.py:" in str(info.value)
