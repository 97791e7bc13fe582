"""Networks and a fixed device profile shared by the planner and SPMD tests."""
import numpy as np

import mindlab as ms
from mindlab import nn, Tensor
from mindlab.ops import operations as P
from mindlab.parallel import DeviceProfile

# The cost model's numbers for the golden tests, fixed here so that re-calibrating mindlab's own "cpu" profile does
# not move them (they are the "cpu" profile's values when the tests were written).
GOLDEN = DeviceProfile("golden", flops=5.0e10, memory_bandwidth=5.0e9, bandwidth=2.0e9, latency=1.5e-5,
                       topology="switch", source="tests/parallel/nets.py")


class MLP(nn.Cell):
    def __init__(self, a=64, b=32, c=10):
        super().__init__()
        self.fc1 = nn.Dense(a, b)
        self.fc2 = nn.Dense(b, c)
        self.relu = nn.ReLU()

    def construct(self, x):
        return self.fc2(self.relu(self.fc1(x)))


class KSplitMLP(nn.Cell):
    """fc1 as a user-sharded MatMul whose contracted dim is split (partial sums -> AllReduce)."""

    def __init__(self, strategy=((1, 2), (1, 2))):
        super().__init__()
        self.w = ms.Parameter(Tensor(np.random.default_rng(5).standard_normal((32, 64)).astype(np.float32) * 0.1),
                              name="w")
        self.mm = P.MatMul(transpose_b=True).shard(strategy)
        self.fc = nn.Dense(32, 10)

    def construct(self, x):
        return self.fc(ms.ops.tanh(self.mm(x, self.w)))


class LeNet5(nn.Cell):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, pad_mode="valid")
        self.conv2 = nn.Conv2d(6, 16, 5, pad_mode="valid")
        self.pool = nn.MaxPool2d(2, 2)
        self.relu = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Dense(16 * 5 * 5, 120)
        self.fc2 = nn.Dense(120, 84)
        self.fc3 = nn.Dense(84, 10)

    def construct(self, x):
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = self.flatten(x)
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))


def train_step(make, seed=1, lr=0.05):
    """(net, TrainOneStepCell) with momentum, weights from ``seed``."""
    ms.set_seed(seed)
    net = make()
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), lr, 0.9))
    step.set_train()
    return net, step


def data(batch, features, classes, seed=0, image=None):
    rng = np.random.default_rng(seed)
    shape = (batch,) + (tuple(image) if image else (features,))
    return (Tensor(rng.standard_normal(shape).astype(np.float32)),
            Tensor(rng.integers(0, classes, batch).astype(np.int32)))
