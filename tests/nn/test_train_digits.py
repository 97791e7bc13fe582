"""End to end in PyNative: an MLP (64-128-10) trained with Adam on scikit-learn's bundled digits (offline) reaches
at least 95% test accuracy in a few seconds."""

import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, ops, Tensor

datasets = pytest.importorskip("sklearn.datasets")


def load_split(seed=0, test_fraction=0.2):
    x, y = datasets.load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    y = y.astype(np.int32)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(len(x) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    mean, std = x[train].mean(0), x[train].std(0) + 1e-3   # standardize with training statistics only
    x = (x - mean) / std
    return x[train], y[train], x[test], y[test]


class MLP(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(64, 128, activation="relu")
        self.fc2 = nn.Dense(128, 10)

    def construct(self, x):
        return self.fc2(self.fc1(x))


@pytest.mark.simulator_slow
def test_mlp_learns_digits():
    ms.set_seed(0)
    x_train, y_train, x_test, y_test = load_split()
    net = MLP()
    assert [p.name for p in net.trainable_params()] == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    train = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), nn.Adam(net.trainable_params(), learning_rate=3e-3))
    train.set_train()

    rng = np.random.default_rng(1)
    batch, epochs, losses = 64, 12, []
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        epoch_loss = []
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            epoch_loss.append(float(train(Tensor(x_train[idx]), Tensor(y_train[idx])).asnumpy()))
        losses.append(np.mean(epoch_loss))

    net.set_train(False)
    logits = net(Tensor(x_test))
    accuracy = float((ops.argmax(logits, -1).asnumpy() == y_test).mean())
    assert losses[-1] < 0.1 * losses[0], losses
    assert accuracy >= 0.95, (accuracy, losses)
