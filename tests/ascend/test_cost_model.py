"""The auto-parallel cost model prices ops on an Ascend mesh with the simulator's cycles."""
import pytest

from mindlab.ops.abstract import AbstractTensor
from mindlab import dtype as mdt
from mindlab.ops.registry import REGISTRY
from mindlab.parallel import CostModel, check_strategy
from mindlab.parallel.mesh import DeviceMesh
from mindlab.parallel.collectives import compute_time
from mindlab.kernels.ascend.costs import op_time


def test_cost_model_uses_simulated_time_on_ascend_meshes():
    a = AbstractTensor((512, 256), mdt.float32)
    b = AbstractTensor((256, 512), mdt.float32)
    mesh = DeviceMesh((4,))
    whole = check_strategy("matmul", ((1, 1), (1, 1)), a, b, mesh=mesh, transpose_a=False, transpose_b=False)
    split = check_strategy("matmul", ((4, 1), (1, 1)), a, b, mesh=mesh, transpose_a=False, transpose_b=False)
    model = CostModel(mesh, "ascend910")
    t_whole, t_split = model.compute(whole), model.compute(split)
    assert t_whole == pytest.approx(op_time(REGISTRY["matmul"], [a, b], dict(transpose_a=False, transpose_b=False)))
    c = REGISTRY["matmul"].cost(a, b, transpose_a=False, transpose_b=False)
    assert t_whole != pytest.approx(compute_time(c.flops, c.bytes, "ascend910"))   # not the plain roofline
    assert t_whole > compute_time(c.flops, 0, "ascend910")                         # never beats peak
    assert t_split < t_whole                                                       # a quarter of the rows
    cpu = CostModel(mesh, "cpu")
    assert cpu.compute(whole) == pytest.approx(compute_time(c.flops, c.bytes, "cpu"))   # other profiles unchanged


def test_op_time_is_cached_and_extrapolates_large_elementwise_ops():
    x = AbstractTensor((4096, 2048), mdt.float32)         # 8M elements each: above the simulation limit
    t = op_time(REGISTRY["add"], [x, x], {})
    small = AbstractTensor((1024, 2048), mdt.float32)
    t_small = op_time(REGISTRY["add"], [small, small], {})
    assert t == pytest.approx(4 * t_small, rel=0.05)
    assert op_time(REGISTRY["add"], [x, x], {}) == t


def test_op_time_extrapolates_large_matmuls_quickly():
    import time
    a = AbstractTensor((16384, 1024), mdt.float16)
    b = AbstractTensor((1024, 4096), mdt.float16)
    t0 = time.perf_counter()
    t = op_time(REGISTRY["matmul"], [a, b], dict(transpose_a=False, transpose_b=False))
    assert time.perf_counter() - t0 < 60
    from mindlab.kernels.ascend import ASCEND910
    peak = 2.0 * 16384 * 1024 * 4096 / ASCEND910.peak_flops
    assert peak < t < 1.25 * peak       # a large float16 matmul runs near the Cube's peak
    # a shape attribute that ties inputs together: no extrapolation, the caller keeps its roofline
    d = AbstractTensor((256, 64, 64, 64), mdt.float32)
    w = AbstractTensor((64, 64, 3, 3), mdt.float32)
    geo = dict(input_size=(256, 64, 66, 66), stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1)
    assert op_time(REGISTRY["conv2d_backprop_input"], [d, w], geo) is None
