"""The plan explorer widget, driven through Python: changing the device count, mesh, search mode and memory limit
re-plans, and what it shows (status, plan mimebundle, cost plot bars) equals the ``mindlab.parallel`` API's results
for the same options."""
import matplotlib
import numpy as np
import pytest

import mindlab as ms
from mindlab.parallel import plan, PLAN_MIME
from mindlab.jupyter.plan_explorer import PlanExplorer, plan_explorer, mesh_shapes, MODES

from tests.parallel.nets import GOLDEN, MLP, train_step, data, parallel_graph_mode

matplotlib.use("Agg")


pytestmark = pytest.mark.usefixtures("parallel_graph_mode")   # GRAPH_MODE, fresh auto-parallel context


@pytest.fixture(scope="module")
def case():
    ms.set_context(mode=ms.GRAPH_MODE)
    _, step = train_step(lambda: MLP(64, 32, 10))
    x, y = data(64, 64, 10)
    return step, x, y


def _bars(fig):
    """(compute, communication, memory) bar heights per mode from the explorer's figure."""
    ax_t, ax_m = fig.axes[:2]
    n = len(ax_m.patches)
    comp = [p.get_height() for p in ax_t.patches[:n]]
    comm = [p.get_height() for p in ax_t.patches[n:]]
    return comp, comm, [p.get_height() for p in ax_m.patches]


def _api(step, x, y, mode, mesh, limit=None):
    if mode == "data_parallel":
        return plan(step, x, y, mesh=mesh, parallel_mode="data_parallel", profile=GOLDEN, memory_limit=limit)
    return plan(step, x, y, mesh=mesh, search_mode=mode, parallel_mode="auto_parallel", profile=GOLDEN,
                memory_limit=limit)


def _check_matches_api(ex, step, x, y):
    mesh = ex.mesh_shape.value
    limit = ex.options()["memory_limit"]
    want = _api(step, x, y, ex.search_mode.value, mesh, limit)
    assert ex.plan.mesh.shape == mesh
    assert ex.plan.strategies() == want.strategies()
    assert ex.costs[ex.search_mode.value] == pytest.approx(want.cost)
    shown, doc = ex.shown[PLAN_MIME], want.to_json()          # the plan renderer's JSON (node ids may differ)
    assert [(o["name"], o["strategy"], o["cost"]) for o in shown["ops"]] == \
        [(o["name"], o["strategy"], o["cost"]) for o in doc["ops"]]
    assert shown["cost"] == doc["cost"] and shown["mesh"] == doc["mesh"]
    assert [c["kind"] for c in shown["collectives"]] == [c["kind"] for c in doc["collectives"]]
    assert f"{want.cost['total'] * 1e6:.1f} us per step" in ex.status.value
    comp, comm, mem = _bars(ex.figure)
    for k, mode in enumerate(ex.costs):
        other = _api(step, x, y, mode, mesh, limit).cost
        assert comp[k] == pytest.approx(other["compute"] * 1e6)
        assert comm[k] == pytest.approx(other["communication"] * 1e6)
        assert mem[k] == pytest.approx(other["memory"] / 1e3)


def test_mesh_shapes():
    assert mesh_shapes(8) == [(8,), (4, 2), (2, 2, 2)]
    assert mesh_shapes(12) == [(12,), (6, 2), (4, 3), (3, 2, 2)]
    assert mesh_shapes(64)[:3] == [(64,), (32, 2), (16, 4)]


def test_changing_the_controls_replans_with_the_api_results(case):
    step, x, y = case
    ex = plan_explorer(step, x, y, device_num=4, search_mode="dynamic_programming", profile=GOLDEN)
    assert isinstance(ex, PlanExplorer) and ex.replans == 1
    assert set(ex.costs) == set(MODES)                    # the chosen mode and every alternative
    _check_matches_api(ex, step, x, y)
    # more devices: the mesh options follow, and it re-plans once
    ex.device_num.value = 8
    assert ex.replans == 2
    assert [v for _, v in ex.mesh_shape.options] == mesh_shapes(8) and ex.mesh_shape.value == (8,)
    _check_matches_api(ex, step, x, y)
    ex.mesh_shape.value = (4, 2)
    assert ex.replans == 3
    _check_matches_api(ex, step, x, y)
    ex.search_mode.value = "ilp"
    _check_matches_api(ex, step, x, y)
    ex.search_mode.value = "data_parallel"
    assert ex.plan.parallel_mode == "data_parallel"
    _check_matches_api(ex, step, x, y)
    assert ex.replans == 5


def test_a_memory_limit_changes_the_plan_or_shows_the_smallest(case):
    step, x, y = case
    ex = PlanExplorer(step, x, y, device_num=4, search_mode="ilp", profile=GOLDEN, compare=False)
    free = ex.plan.cost["memory"]
    assert list(ex.costs) == ["ilp"]
    ex.memory_limit.value = 50.0                           # KB
    assert ex.options()["memory_limit"] == 50000
    if free > 50000:
        assert ex.plan.cost["memory"] <= 50000
    _check_matches_api(ex, step, x, y)
    ax_m = ex.figure.axes[1]
    assert any(line.get_ydata()[0] == 50.0 for line in ax_m.get_lines())      # the limit is drawn
    ex.memory_limit.value = 5.0
    assert ex.plan is None and ex.error is not None
    assert ex.status.value.startswith("no plan: The smallest plan found needs")
    assert "smallest plan found" in ex.shown["text/plain"]
    ex.memory_limit.value = 0                              # no limit again
    assert ex.plan is not None and ex.plan.cost["memory"] == pytest.approx(free)


def test_it_displays_as_a_widget(case):
    step, x, y = case
    ex = PlanExplorer(step, x, y, device_num=2, profile=GOLDEN, compare=False)
    assert ex.widget.children[0].children[0] is ex.device_num
    assert "PlanExplorer" in repr(ex)


def test_the_plan_magic_shows_the_plan_of_a_distributed_call():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    sh = InteractiveShell.instance()
    try:
        assert sh.run_cell("%load_ext mindlab").success
        code = ("import mindlab as ms\n"
                "from tests.parallel.nets import MLP, train_step, data\n"
                "ms.set_context(mode=ms.GRAPH_MODE)\n"
                "ms.set_auto_parallel_context(parallel_mode='auto_parallel', device_num=4, search_mode='ilp')\n"
                "_, step = train_step(lambda: MLP(64, 32, 10))\n"
                "x, y = data(32, 64, 10)\n"
                "loss = step(x, y)\n")
        r = sh.run_cell(code)
        assert r.success, r.error_in_exec
        with capture_output() as cap:
            r = sh.run_cell("%mindlab plan step")
        assert r.success, r.error_in_exec
        (data,) = [o.data for o in cap.outputs if PLAN_MIME in o.data]
        assert data[PLAN_MIME] == sh.user_ns["step"].parallel_plan.to_json()
    finally:
        ms.reset_auto_parallel_context()
        from mindlab.jupyter.inspector import get_inspector
        get_inspector().stop()
        InteractiveShell.clear_instance()
