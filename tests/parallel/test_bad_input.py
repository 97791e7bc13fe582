"""Bad input to auto-parallel, through the public API (``shard()`` + ``set_auto_parallel_context`` + a GRAPH_MODE
call): an impossible strategy (a dimension not divisible, the wrong rank, more pieces than devices, inconsistent
splits of one dimension), a device_num that does not match the mesh, and a memory limit no plan fits — each a clear
error naming the op, the strategy and the user's source line, or the smallest plan found."""
import pytest

import mindlab as ms
from mindlab.parallel import PlanError

from .nets import MLP, train_step, data, parallel_graph_mode


pytestmark = pytest.mark.usefixtures("parallel_graph_mode")   # GRAPH_MODE, fresh auto-parallel context


@pytest.mark.parametrize("strategy, why", [
    (((3, 1), (1, 1)), "dim 0 of input 0 has size 128, not divisible by 3"),
    (((2, 1, 1), (1, 1)), "entry 0 (2, 1, 1) has 3 values but input 0 has 2 dims"),
    (((8, 1), (1, 1)), "splits the computation into 8 pieces, which does not divide the 4 devices"),
    (((2, 2), (1, 1)), "must be split the same way, got 1 and 2"),
])
def test_an_impossible_shard_names_the_op_the_strategy_and_the_line(strategy, why):
    net, step = train_step(lambda: MLP(64, 32, 10))
    net.fc1.matmul.shard(strategy)
    x, y = data(128, 64, 10)
    ms.set_auto_parallel_context(parallel_mode="semi_auto_parallel", device_num=4)
    with pytest.raises(PlanError) as info:
        step(x, y)
    msg = str(info.value)
    assert msg.startswith(f"matmul: strategy {strategy}") and why in msg, msg
    assert "[128, 64], [32, 64]" in msg
    line = MLP.construct.__code__.co_firstlineno + 1                         # the user's line, not the framework's
    assert f"nets.py:{line}: return self.fc2(self.relu(self.fc1(x)))" in msg
    assert step.__dict__["_jit_construct"].parallel_info()["size"] == 0       # nothing half-planned was cached


def test_device_num_that_does_not_match_the_mesh_is_refused():
    with pytest.raises(ValueError, match=r"mesh_shape \(2, 4\) holds 8 devices but device_num is 4"):
        ms.set_auto_parallel_context(parallel_mode="auto_parallel", device_num=4, mesh_shape=(2, 4))
    assert ms.get_auto_parallel_context("parallel_mode") == "stand_alone"    # nothing was applied
    with pytest.raises(ValueError, match=r"device_num must be an int in \[1, 4096\], got 0"):
        ms.set_auto_parallel_context(device_num=0)


@pytest.mark.parametrize("mode", ["dynamic_programming", "ilp", "sharding_propagation"])
def test_a_memory_limit_no_plan_fits_reports_the_smallest_plan(mode):
    net, step = train_step(lambda: MLP(64, 32, 10))
    x, y = data(128, 64, 10)
    ms.set_auto_parallel_context(parallel_mode="auto_parallel", device_num=4, mesh_shape=(4,), search_mode=mode,
                                 memory_limit=20000)
    with pytest.raises(PlanError) as info:
        step(x, y)
    err = info.value
    smallest = err.smallest_plan
    need = smallest.cost["memory"]
    assert need > 20000
    msg = str(err)
    assert f"The smallest plan found needs {need:.0f} bytes per device (memory_limit=20000)" in msg
    assert "fc1.weight [32, 64] split (4, 1)" in msg
    # it is the smallest: the unconstrained optimum and data parallelism both need more
    ms.set_auto_parallel_context(memory_limit=None)
    step(x, y)
    assert step.parallel_plan.cost["memory"] >= need
    ms.set_auto_parallel_context(parallel_mode="data_parallel")
    step(x, y)
    assert step.parallel_plan.cost["memory"] >= need
    # a limit the smallest plan fits is planned
    ms.set_auto_parallel_context(parallel_mode="auto_parallel", memory_limit=int(need) + 1)
    if mode != "sharding_propagation":
        step(x, y)
        assert step.parallel_plan.cost["memory"] <= need + 1


class _GathersOutOfRange(ms.nn.Cell):
    def __init__(self):
        super().__init__()
        import numpy as np
        self.w = ms.Parameter(ms.Tensor(np.ones((8, 4), np.float32)), name="w")

    def construct(self, x):
        return ms.ops.sum(ms.ops.gather(ms.ops.matmul(x, self.w), ms.ops.argmax(x, axis=1) + 8, 0))


def test_a_run_time_error_on_a_sim_rank_points_at_the_line_and_the_call():
    """A kernel error on the sim mesh's rank threads names the user's line and the user's call (it said "called at
    .../threading.py": the rank thread's own stack holds no user frame)."""
    import numpy as np
    ms.set_auto_parallel_context(parallel_mode="auto_parallel", device_num=4)
    with pytest.raises(ValueError) as info:
        _GathersOutOfRange()(ms.Tensor(np.ones((8, 8), np.float32)))
    msg = str(info.value)
    assert msg.startswith("gather: ") and "out of range" in msg, msg
    assert "return ms.ops.sum(ms.ops.gather(" in msg and "threading.py" not in msg, msg
    assert f"called at {__file__}:" in msg, msg
    assert any("sim rank" in n for n in getattr(info.value, "__notes__", [])), msg
