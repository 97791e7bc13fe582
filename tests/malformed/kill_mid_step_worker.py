"""Run by tests/malformed/test_faults.py on real MPI ranks: data-parallel GRAPH_MODE training of an MLP; the last
rank kills itself (SIGKILL, no goodbye) inside its third training step, at the gradient AllReduce — after its
forward and backward, while the other ranks wait for its gradients. Prints ``STEP r k`` after each step and
``DONE r`` at the end (which no rank should reach)."""
import os
import signal
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import mindlab as ms  # noqa: E402
from mindlab import communication, nn, Tensor  # noqa: E402
from mindlab.parallel.comm.mpi import MPICommunicator  # noqa: E402


def main():
    communication.init()
    rank, size = communication.get_rank(), communication.get_group_size()
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(0)
    net = nn.SequentialCell([nn.Dense(16, 32), nn.ReLU(), nn.Dense(32, 4)])
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True,
                                                                                     reduction="mean")),
                               nn.Momentum(net.trainable_params(), 0.1, 0.9))
    ms.set_auto_parallel_context(parallel_mode="data_parallel", gradients_mean=True)
    x = Tensor(np.random.default_rng(0).standard_normal((8 * size, 16)).astype(np.float32))
    y = Tensor((np.arange(8 * size) % 4).astype(np.int32))
    for k in range(6):
        if k == 2 and rank == size - 1:
            real = MPICommunicator.all_reduce

            def die(self, *args, **kwargs):       # mid-step: the first collective of step 3
                os.kill(os.getpid(), signal.SIGKILL)
                return real(self, *args, **kwargs)
            MPICommunicator.all_reduce = die
        step(x, y)
        print(f"STEP {rank} {k}", flush=True)
    print(f"DONE {rank}", flush=True)


if __name__ == "__main__":
    main()
