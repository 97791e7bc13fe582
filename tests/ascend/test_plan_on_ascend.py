"""An auto-parallel plan for an Ascend mesh is priced with the simulator's per-op times."""
import time

import mindlab as ms
from mindlab.parallel import plan
from mindlab.parallel.mesh import DeviceMesh

from mindlab.kernels.ascend import costs

from ..parallel.nets import MLP, train_step, data


def test_plan_an_mlp_step_for_an_ascend_mesh():
    ms.reset_auto_parallel_context()
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        x, y = data(64, 64, 10)
        _, step = train_step(MLP)
        costs._cache.clear()
        t = time.perf_counter()
        p = plan(step, x, y, mesh=DeviceMesh((4,)), search_mode="dynamic_programming", profile="ascend910")
        elapsed = time.perf_counter() - t
        cpu = plan(step, x, y, mesh=DeviceMesh((4,)), search_mode="dynamic_programming", profile="cpu")
    finally:
        ms.reset_auto_parallel_context()
    assert elapsed < 60
    # the Ascend plan's compute costs are the simulated ones: positive, far below the CPU profile's
    assert 0 < p.cost["compute"] < cpu.cost["compute"]
    simulated = {key[0] for key, t in costs._cache.items() if t is not None}
    assert {"matmul", "relu", "apply_momentum"} <= simulated, sorted(simulated)   # the ops were simulated
