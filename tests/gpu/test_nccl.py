"""The nccl communicator on one GPU (a world of one rank): every collective's result and dtype, numpy in / numpy
out, and mindlab.communication.init("nccl")."""
import numpy as np
import pytest

from mindlab import communication, device

pytestmark = pytest.mark.gpu


def test_collectives_on_one_rank():
    import cupy as cp
    from mindlab.parallel.comm.nccl import NCCLCommunicator
    comm = NCCLCommunicator.world(timeout=30)
    assert comm.size == 1 and comm.rank == 0 and comm.backend == "nccl"
    x = cp.arange(12, dtype=cp.float32).reshape(3, 4)
    for op in ("sum", "max", "min", "prod", "mean"):
        y = comm.all_reduce(x, op)
        assert isinstance(y, cp.ndarray) and y.dtype == x.dtype
        cp.testing.assert_array_equal(y, x)
    cp.testing.assert_array_equal(comm.all_gather(x, axis=1), x)
    cp.testing.assert_array_equal(comm.reduce_scatter(x, axis=0), x)
    cp.testing.assert_array_equal(comm.all_to_all(x, 1, 0), x)
    cp.testing.assert_array_equal(comm.broadcast(x, 0), x)
    b = cp.array([True, False])
    cp.testing.assert_array_equal(comm.all_reduce(b, "sum"), b)
    device.reset_transfer_count()
    h = comm.all_reduce(np.ones(5, np.float64))
    assert isinstance(h, np.ndarray) and h.dtype == np.float64 and (h == 1).all()
    assert device.transfer_count()["h2d"] == 1 and device.transfer_count()["d2h"] == 1
    comm.barrier()


def test_communication_init_nccl():
    communication.release()
    try:
        communication.init("nccl")
        assert communication.get_group_size() == 1 and communication.get_rank() == 0
    finally:
        communication.release()
