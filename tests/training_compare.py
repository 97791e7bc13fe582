"""Train the same network twice — in two modes or on two devices — and compare: the networks and the training step
those comparisons share (tests/graph/test_modes_agree.py: PyNative vs GRAPH_MODE; tests/ascend/test_training.py:
the simulated Ascend core vs the CPU; tests/gpu/test_training.py takes the networks)."""
import numpy as np

import mindlab as ms
from mindlab import nn, ops, Tensor

from .parallel import nets


class MLP(nets.MLP):
    """32 -> 64 (ReLU) -> 10."""

    def __init__(self):
        super().__init__(32, 64, 10)


class BNNet(nn.Cell):
    """Convolution, batch norm, dropout and a Dense head on (N, 3, 6, 6) images, 5 classes."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, pad_mode="same", has_bias=True)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(p=0.25)
        self.fc = nn.Dense(4 * 6 * 6, 5)
        self.flatten = nn.Flatten()

    def construct(self, x):
        return self.fc(self.flatten(self.drop(self.bn(self.conv(x)))))


class Gated(nn.Cell):
    """Control flow on tensors inside construct: an ``if`` on a tensor, then a ``while`` on one."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Dense(8, 8)

    def construct(self, x):
        y = self.fc(x)
        if ops.mean(y) > 0:
            y = ops.tanh(y)
        else:
            y = ops.sigmoid(y)
        n = ops.sum(x) * 0
        while n < 2:
            y = self.fc(y) * 0.5 + y
            n = n + 1
        return y


def classification_batch(shape, classes, seed):
    """(x, y) as numpy arrays: standard-normal float32 inputs of ``shape`` and ``shape[0]`` int32 labels in
    [0, classes), drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    return x, rng.integers(0, classes, shape[0]).astype(np.int32)


def train_step(make_net, optimizer="momentum", seed=7):
    """A fresh ``make_net()`` (weights drawn from ``seed``) and its TrainOneStepCell — sparse softmax cross-entropy
    (mean), then Momentum(0.05, 0.9) or Adam(1e-2) — in training mode. Built in PyNative on the current device."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.set_seed(seed)
    net = make_net()
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    if optimizer == "momentum":
        opt = nn.Momentum(net.trainable_params(), 0.05, 0.9)
    elif optimizer == "adam":
        opt = nn.Adam(net.trainable_params(), 1e-2)
    else:
        raise ValueError(f"optimizer must be 'momentum' or 'adam', got {optimizer!r}")
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), opt)
    step.set_train()
    return net, step


def run_steps(net, step, x, y, steps):
    """Run ``steps`` training steps on (x, y); returns (the losses as floats, the parameters as numpy arrays)."""
    losses = [float(step(Tensor(x), Tensor(y)).asnumpy()) for _ in range(steps)]
    return losses, [p.asnumpy() for p in net.get_parameters()]


def assert_trained_alike(got, want, loss_tol, param_tol):
    """Two ``run_steps`` results agree: losses within ``loss_tol`` and every parameter within ``param_tol``
    (dicts of ``assert_allclose`` keywords: rtol, atol)."""
    (got_losses, got_params), (want_losses, want_params) = got, want
    np.testing.assert_allclose(got_losses, want_losses, **loss_tol)
    assert len(got_params) == len(want_params)
    for k, (a, b) in enumerate(zip(got_params, want_params)):
        np.testing.assert_allclose(a, b, err_msg=f"parameter {k}", **param_tol)
