"""Networks, a fixed device profile and the GRAPH_MODE fixture shared by the planner and SPMD tests."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, Tensor
from mindlab.ops import operations as P
from mindlab.parallel import DeviceProfile

# The cost model's numbers for the golden tests, fixed here so that re-calibrating mindlab's own "cpu" profile does
# not move them (they are the "cpu" profile's values when the tests were written).
GOLDEN = DeviceProfile("golden", flops=5.0e10, memory_bandwidth=5.0e9, bandwidth=2.0e9, latency=1.5e-5,
                       topology="switch", source="tests/parallel/nets.py")


@pytest.fixture
def parallel_graph_mode():
    """GRAPH_MODE with a fresh auto-parallel context, reset again after the test. A test module uses it with
    ``from .nets import parallel_graph_mode`` and ``pytestmark = pytest.mark.usefixtures("parallel_graph_mode")``."""
    ms.reset_auto_parallel_context()
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.reset_auto_parallel_context()


class MLP(nn.Cell):
    def __init__(self, a=64, b=32, c=10):
        super().__init__()
        self.fc1 = nn.Dense(a, b)
        self.fc2 = nn.Dense(b, c)
        self.relu = nn.ReLU()

    def construct(self, x):
        return self.fc2(self.relu(self.fc1(x)))


class DropoutMLP(MLP):
    """The MLP with dropout (p=0.3) on its hidden layer."""

    def __init__(self):
        super().__init__(64, 32, 10)
        self.drop = nn.Dropout(p=0.3)

    def construct(self, x):
        return self.fc2(self.drop(self.relu(self.fc1(x))))


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


class Attention(nn.Cell):
    """Multi-head self-attention from nn.Dense and ops: (B, S, D) -> (B, S, D), ``heads`` heads."""

    def __init__(self, d=32, heads=8):
        super().__init__()
        self.q, self.k, self.v, self.o = nn.Dense(d, d), nn.Dense(d, d), nn.Dense(d, d), nn.Dense(d, d)
        self.heads, self.hd = heads, d // heads
        self.scale = 1.0 / float(np.sqrt(d // heads))
        self.softmax = nn.Softmax(-1)
        self.scores = P.BatchMatMul(transpose_b=True)     # instances, so a hand plan can shard() them
        self.mix = P.BatchMatMul()

    def split_heads(self, t, b, s):
        return ms.ops.transpose(ms.ops.reshape(t, (b, s, self.heads, self.hd)), (0, 2, 1, 3))

    def construct(self, x):
        b, s, d = x.shape
        q = self.split_heads(self.q(x), b, s)
        k = self.split_heads(self.k(x), b, s)
        v = self.split_heads(self.v(x), b, s)
        a = self.softmax(self.scores(q, k) * self.scale)
        o = ms.ops.transpose(self.mix(a, v), (0, 2, 1, 3))
        return self.o(ms.ops.reshape(o, (b, s, d)))


class TransformerBlock(nn.Cell):
    """Pre-norm transformer block: x + attn(ln1(x)), then + mlp(ln2(x)); then a classifier head on the mean over
    the sequence (so a sparse cross-entropy loss trains it)."""

    def __init__(self, d=32, heads=8, hidden=64, classes=10):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm((d,)), nn.LayerNorm((d,))
        self.attn = Attention(d, heads)
        self.fc1, self.fc2 = nn.Dense(d, hidden), nn.Dense(hidden, d)
        self.gelu = nn.GELU()
        self.head = nn.Dense(d, classes)

    def construct(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.fc2(self.gelu(self.fc1(self.ln2(x))))
        return self.head(ms.ops.mean(x, 1))


def megatron(net, dp, mp):
    """Megatron-style hand strategies on an MLP or a TransformerBlock for a (dp, mp) mesh: Dense layers column- then
    row-split (q/k/v and fc1 by output features, o and fc2 by input features), attention split by heads, the batch
    over dp."""
    def column(dense):
        dense.matmul.shard(((dp, 1), (mp, 1)))

    def row(dense):
        dense.matmul.shard(((dp, mp), (1, mp)))
    if isinstance(net, MLP):
        column(net.fc1)
        row(net.fc2)
        return net
    a = net.attn
    for d in (a.q, a.k, a.v, net.fc1):
        column(d)
    for d in (a.o, net.fc2):
        row(d)
    a.scores.shard(((dp, mp, 1, 1), (dp, mp, 1, 1)))
    a.mix.shard(((dp, mp, 1, 1), (dp, mp, 1, 1)))
    return net


class TwoMatMul(nn.Cell):
    """MindSpore's classic parallel test net: ``(x @ w1) @ w2`` with MatMul primitives."""

    def __init__(self, k=64, m=256, n=32):
        super().__init__()
        rng = np.random.default_rng(7)
        self.w1 = ms.Parameter(Tensor(rng.standard_normal((k, m)).astype(np.float32) * 0.1), name="w1")
        self.w2 = ms.Parameter(Tensor(rng.standard_normal((m, n)).astype(np.float32) * 0.1), name="w2")
        self.mm1, self.mm2 = P.MatMul(), P.MatMul()

    def construct(self, x):
        return self.mm2(self.mm1(x, self.w1), self.w2)


class Block(nn.Cell):
    """Dense + ReLU (a sub-Cell for the Cell.shard tests)."""

    def __init__(self, d=64):
        super().__init__()
        self.fc = nn.Dense(d, d)
        self.relu = nn.ReLU()

    def construct(self, x):
        return self.relu(self.fc(x))


class ShardNet(nn.Cell):
    """Two Blocks and a classifier head; ``shard_b2(n)`` fixes the second block's input to be split by features
    and its weight by output features (a layout data parallelism would never pick)."""

    def __init__(self, d=64, classes=10):
        super().__init__()
        self.b1, self.b2 = Block(d), Block(d)
        self.head = nn.Dense(d, classes)

    def construct(self, x):
        return self.head(self.b2(self.b1(x)))


def shard_b2(net, n):
    net.b2.shard(in_strategy=((1, n),), parameter_plan={"fc.weight": (n, 1)})
    return net
