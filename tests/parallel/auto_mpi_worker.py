"""Run by tests/parallel/test_auto_mpi.py on real MPI ranks (``python -m mindlab.run -n N auto_mpi_worker.py``):
with ``set_auto_parallel_context`` and a plain GRAPH_MODE ``step(x, y)`` every rank trains an MLP and a transformer
block for 5 steps in each parallel mode / search mode, and compares the losses and the updated weights with
single-device training computed in the same process (also a network with a ``Cell.shard`` sub-Cell); prints
``OK rank R <net> <mode>`` per check."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import mindlab as ms  # noqa: E402
from mindlab import communication  # noqa: E402
from tests.parallel.nets import (MLP, DropoutMLP, TransformerBlock, ShardNet, shard_b2, train_step,  # noqa: E402
                                 data)

MODES = [("data_parallel", None), ("semi_auto_parallel", None), ("auto_parallel", "sharding_propagation"),
         ("auto_parallel", "dynamic_programming"), ("auto_parallel", "ilp")]
STEPS = 5


def close(name, got, want, rank, tol=1e-5):
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or not np.allclose(got, want, rtol=tol, atol=tol):
        raise AssertionError(f"rank {rank}: {name}: max difference {np.max(np.abs(got - want))}")


def train(make, x, y):
    net, step = train_step(make)
    losses = [float(step(x, y).asnumpy()) for _ in range(STEPS)]
    return losses, [p.asnumpy().copy() for p in net.get_parameters()], step


def main():
    communication.init()
    r, size = communication.get_rank(), communication.get_group_size()
    ms.set_context(mode=ms.GRAPH_MODE)
    cases = {"mlp": (lambda: MLP(64, 32, 10), data(32, 64, 10)),
             "block": (TransformerBlock, data(8, None, 10, image=(8, 32)))}
    for name, (make, (x, y)) in cases.items():
        ms.reset_auto_parallel_context()
        ref_losses, ref_params, _ = train(make, x, y)
        for mode, search in MODES:
            ms.reset_auto_parallel_context()
            opts = dict(parallel_mode=mode, gradients_mean=True, mesh_shape=(size,))   # device_num: the job's
            if search:
                opts["search_mode"] = search
            ms.set_auto_parallel_context(**opts)
            losses, params, step = train(make, x, y)
            close(f"{name} {mode} {search} losses", losses, ref_losses, r)
            for k, (a, b) in enumerate(zip(params, ref_params)):
                close(f"{name} {mode} {search} parameter {k}", a, b, r)
            info = step.__dict__["_jit_construct"].parallel_info()
            assert info["plans"] == 1 and info["hits"] == STEPS - 1, info
            assert step.parallel_program.mesh.size == size
            print(f"OK rank {r} {name} {mode} {search or ''}".rstrip(), flush=True)
    # dropout: every rank keeps its slice of the mask one device would draw (the generators are seeded alike)
    x, y = cases["mlp"][1]
    ms.reset_auto_parallel_context()
    ref_losses, ref_params, _ = train(DropoutMLP, x, y)
    ms.set_auto_parallel_context(parallel_mode="auto_parallel", search_mode="ilp", mesh_shape=(size,))
    losses, params, _ = train(DropoutMLP, x, y)
    close("dropout losses", losses, ref_losses, r)
    for k, (a, b) in enumerate(zip(params, ref_params)):
        close(f"dropout parameter {k}", a, b, r)
    print(f"OK rank {r} dropout", flush=True)
    # Cell.shard on a sub-Cell: its input and weight layouts are kept, training still equals one device
    x, y = data(32, 64, 10)
    ms.reset_auto_parallel_context()
    ref_losses, ref_params, _ = train(ShardNet, x, y)
    for search in ("sharding_propagation", "ilp"):
        ms.reset_auto_parallel_context()
        ms.set_auto_parallel_context(parallel_mode="semi_auto_parallel" if search == "sharding_propagation" else
                                     "auto_parallel", search_mode=search, gradients_mean=True, mesh_shape=(size,))
        losses, params, step = train(lambda: shard_b2(ShardNet(), size), x, y)
        close(f"cell shard {search} losses", losses, ref_losses, r)
        for k, (a, b) in enumerate(zip(params, ref_params)):
            close(f"cell shard {search} parameter {k}", a, b, r)
        p = step.parallel_plan
        assert p.splits()["b2.fc.weight"] == (size, 1) and p.strategies()["layout-0"] == ((1, size),)
        print(f"OK rank {r} cell shard {search}", flush=True)
    # device_num that is not the job's size is refused before anything runs
    ms.reset_auto_parallel_context()
    ms.set_auto_parallel_context(parallel_mode="auto_parallel", device_num=size * 2)
    _, step = train_step(lambda: MLP(64, 32, 10))
    x, y = cases["mlp"][1]
    try:
        step(x, y)
    except ValueError as err:
        assert f"device_num={size * 2} but this job has {size} ranks" in str(err), err
        print(f"OK rank {r} device_num mismatch", flush=True)


if __name__ == "__main__":
    main()
