"""Run by tests/parallel/test_spmd_mpi.py on real MPI ranks (``python -m mindlab.run -n 4 spmd_mpi_worker.py``):
every rank plans the same networks, runs its part of the SPMD program over MPI, gathers the results and compares
them with single-device execution computed in the same process; it prints ``OK rank R <what>`` per check."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import mindlab as ms  # noqa: E402
from mindlab import nn, Tensor, communication  # noqa: E402
from mindlab.parallel import ParallelProgram  # noqa: E402


class MLP(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(64, 32)
        self.fc2 = nn.Dense(32, 10)
        self.relu = nn.ReLU()

    def construct(self, x):
        return self.fc2(self.relu(self.fc1(x)))


def train_step():
    ms.set_seed(3)
    net = MLP()
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    step = nn.TrainOneStepCell(nn.WithLossCell(net, loss), nn.Momentum(net.trainable_params(), 0.05, 0.9))
    step.set_train()
    return net, step


def close(name, got, want, rank, tol=1e-5):
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or not np.allclose(got, want, rtol=tol, atol=tol):
        raise AssertionError(f"rank {rank}: {name}: max difference {np.max(np.abs(got - want))}")


def main():
    communication.init()
    comm = communication.get_comm()
    r = comm.rank
    ms.set_context(mode=ms.GRAPH_MODE)
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((128, 64)).astype(np.float32))
    y = Tensor(rng.integers(0, 10, 128).astype(np.int32))

    # forward on a 2x2 mesh (exact dynamic programming: the same plan on every rank)
    ms.set_seed(1)
    net = MLP()
    want = net(x).asnumpy()
    prog = ParallelProgram(net, x, mesh=(2, 2), search_mode="dynamic_programming", parallel_mode="auto_parallel")
    close("forward", prog.run(x).asnumpy(), want, r)
    print(f"OK rank {r} forward", flush=True)

    # two training steps, auto-parallel: the loss and the updated weights equal single-device training
    ref_net, ref_step = train_step()
    ref_losses = [float(ref_step(x, y).asnumpy()) for _ in range(2)]
    net, step = train_step()
    prog = ParallelProgram(step, x, y, mesh=(2, 2), search_mode="dynamic_programming", parallel_mode="auto_parallel")
    losses = [float(prog.run(x, y).asnumpy()) for _ in range(2)]
    close("auto_parallel losses", losses, ref_losses, r)
    prog.sync_parameters()
    for a, b in zip(net.get_parameters(), ref_net.get_parameters()):
        close(f"auto_parallel {a.name}", a.asnumpy(), b.asnumpy(), r)
    print(f"OK rank {r} train auto_parallel {len(prog.spmd.collectives)} collectives", flush=True)

    # data parallel with gradients_mean: MindSpore's data parallelism equals single-device training
    net, step = train_step()
    prog = ParallelProgram(step, x, y, mesh=(4,), parallel_mode="data_parallel", gradients_mean=True)
    losses = [float(prog.run(x, y).asnumpy()) for _ in range(2)]
    close("data_parallel losses", losses, ref_losses, r)
    prog.sync_parameters()
    for a, b in zip(net.get_parameters(), ref_net.get_parameters()):
        close(f"data_parallel {a.name}", a.asnumpy(), b.asnumpy(), r)
    print(f"OK rank {r} train data_parallel", flush=True)


if __name__ == "__main__":
    main()
