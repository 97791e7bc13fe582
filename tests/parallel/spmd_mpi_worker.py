"""Run by tests/parallel/test_spmd_mpi.py on real MPI ranks (``python -m mindlab.run -n 4 spmd_mpi_worker.py``):
every rank plans the same networks, runs its part of the SPMD program over MPI, gathers the results and compares
them with single-device execution computed in the same process; it prints ``OK rank R <what>`` per check."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import mindlab as ms  # noqa: E402
from mindlab import Tensor, communication  # noqa: E402
from mindlab.parallel import ParallelProgram  # noqa: E402
from tests.parallel import nets  # noqa: E402
from tests.parallel.nets import MLP  # noqa: E402   (64 -> 32 -> 10)


def train_step():
    return nets.train_step(MLP, seed=3)


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
    prog = trains_like_one_device("auto_parallel", (ref_net, ref_losses), x, y, r, mesh=(2, 2),
                                  search_mode="dynamic_programming", parallel_mode="auto_parallel")
    print(f"OK rank {r} train auto_parallel {len(prog.spmd.collectives)} collectives", flush=True)

    # data parallel with gradients_mean: MindSpore's data parallelism equals single-device training
    trains_like_one_device("data_parallel", (ref_net, ref_losses), x, y, r, mesh=(4,), parallel_mode="data_parallel",
                           gradients_mean=True)
    print(f"OK rank {r} train data_parallel", flush=True)


def trains_like_one_device(name, reference, x, y, r, **plan):
    """Two steps of a fresh train_step() as a ParallelProgram (``plan``: its keywords) give the reference's losses
    and weights; returns the program."""
    ref_net, ref_losses = reference
    net, step = train_step()
    prog = ParallelProgram(step, x, y, **plan)
    losses = [float(prog.run(x, y).asnumpy()) for _ in range(len(ref_losses))]
    close(f"{name} losses", losses, ref_losses, r)
    prog.sync_parameters()
    for a, b in zip(net.get_parameters(), ref_net.get_parameters()):
        close(f"{name} {a.name}", a.asnumpy(), b.asnumpy(), r)
    return prog


if __name__ == "__main__":
    main()
