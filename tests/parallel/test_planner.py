"""The strategy search over the optimized graph of a compiled training step (MindSpore's parallel tests style:
golden op -> strategy dicts for fixed meshes and a fixed device profile), the optimality relations between the
search modes, the memory limit, user strategies, and the plan JSON a real search fills."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, ops, Tensor
from mindlab.ir.graph_json import graph_to_json
from mindlab.parallel import DeviceMesh, PlanError, plan, plan_graph, validate_plan_json, check_references
from mindlab.parallel.planner import unfused_graph

from .nets import GOLDEN, MLP, KSplitMLP, train_step, data, parallel_graph_mode


pytestmark = pytest.mark.usefixtures("parallel_graph_mode")   # GRAPH_MODE, fresh auto-parallel context


def mlp_step(a, b, c, batch=128):
    net, step = train_step(lambda: MLP(a, b, c))
    x, y = data(batch, a, c)
    return net, step, x, y


# every op of the training step: forward, loss, backward (sum / matmul / select / relu mask), optimizer
SMALL_MLP_DATA_PARALLEL = {
    "matmul-0": ((4, 1), (1, 1)), "add-0": ((4, 1), (1,)), "relu-0": ((4, 1),), "matmul-1": ((4, 1), (1, 1)),
    "add-1": ((4, 1), (1,)), "sparse_softmax_cross_entropy-0": ((4, 1), (4,)), "mean-0": ((4,),),
    "sparse_softmax_cross_entropy_grad-0": ((4, 1), (4,)), "mul-0": ((4, 1), (4, 1)), "sum-0": ((4, 1),),
    "matmul-2": ((4, 1), (1, 1)), "matmul-3": ((4, 1), (4, 1)), "greater-0": ((4, 1), ()),
    "select-0": ((4, 1), (4, 1), ()), "sum-1": ((4, 1),), "matmul-4": ((4, 1), (4, 1)), "add-2": ((1,), ()),
    "assign-0": ((1,), (1,)), "apply_momentum-0": ((1, 1), (1, 1), (), (1, 1), ()),
    "apply_momentum-1": ((1,), (1,), (), (1,), ()), "apply_momentum-2": ((1, 1), (1, 1), (), (1, 1), ()),
    "apply_momentum-3": ((1,), (1,), (), (1,), ())}

# a 2M-element hidden weight: Megatron-style model parallelism — fc1 split by output rows, fc2 by input columns,
# the batch gathered once; every weight, its gradient and its momentum stay split
HUGE_MLP_MODEL_PARALLEL = {
    "matmul-0": ((1, 1), (4, 1)), "add-0": ((1, 4), (4,)), "relu-0": ((1, 4),), "matmul-1": ((1, 4), (1, 4)),
    "matmul-3": ((1, 1), (1, 4)), "select-0": ((1, 4), (1, 4), ()), "sum-1": ((1, 4),),
    "matmul-4": ((1, 4), (1, 1)), "apply_momentum-0": ((4, 1), (4, 1), (), (4, 1), ()),
    "apply_momentum-1": ((4,), (4,), (), (4,), ()), "apply_momentum-2": ((1, 4), (1, 4), (), (1, 4), ())}


@pytest.mark.parametrize("mode", ["dynamic_programming", "ilp"])
def test_small_weights_pick_data_parallel(mode):
    _, step, x, y = mlp_step(64, 32, 10)
    p = plan(step, x, y, mesh=(4,), search_mode=mode, profile=GOLDEN)
    assert p.strategies() == SMALL_MLP_DATA_PARALLEL
    assert all(s == (1,) * len(s) for name, s in p.splits().items() if name not in ("arg0", "arg1"))
    dp = plan(step, x, y, mesh=(4,), parallel_mode="data_parallel", profile=GOLDEN)
    assert dp.strategies() == SMALL_MLP_DATA_PARALLEL
    assert p.cost["total"] == pytest.approx(dp.cost["total"], rel=1e-12)


@pytest.mark.parametrize("mesh", [(4,), (2, 2)])
def test_huge_weight_picks_model_parallel(mesh):
    _, step, x, y = mlp_step(128, 16384, 10)
    p = plan(step, x, y, mesh=mesh, search_mode="ilp", profile=GOLDEN)
    got = p.strategies()
    assert {k: got[k] for k in HUGE_MLP_MODEL_PARALLEL} == HUGE_MLP_MODEL_PARALLEL
    splits = p.splits()
    assert splits["fc1.weight"] == (4, 1) and splits["fc2.weight"] == (1, 4)
    assert splits["moments.fc1.weight"] == (4, 1)
    dp = plan(step, x, y, mesh=mesh, parallel_mode="data_parallel", profile=GOLDEN)
    # data parallel all-reduces the 8 MB gradient and keeps 3 replicas of the weight state per device
    assert p.cost["total"] < 0.6 * dp.cost["total"]
    assert p.cost["memory"] < 0.6 * dp.cost["memory"]


@pytest.mark.parametrize("shape, mesh, limit", [((64, 32, 10), (4,), None), ((64, 32, 10), (4,), 60000),
                                                 ((64, 32, 10), (2, 2), None), ((32, 64, 16), (2, 2), 70000)])
def test_ilp_is_never_worse_than_dynamic_programming_or_data_parallel(shape, mesh, limit):
    _, step, x, y = mlp_step(*shape)
    costs = {}
    for mode in ("ilp", "dynamic_programming", "sharding_propagation"):
        try:
            costs[mode] = plan(step, x, y, mesh=mesh, search_mode=mode, profile=GOLDEN, memory_limit=limit)
        except PlanError:
            assert mode == "sharding_propagation" and limit is not None    # propagation does not search memory
    ilp = costs["ilp"].cost["objective"]
    assert ilp <= costs["dynamic_programming"].cost["objective"] * (1 + 1e-9)
    if "sharding_propagation" in costs:
        assert ilp <= costs["sharding_propagation"].cost["objective"] * (1 + 1e-9)
    dp_mode = plan(step, x, y, mesh=mesh, parallel_mode="data_parallel", profile=GOLDEN)
    if limit is None or dp_mode.cost["memory"] <= limit:
        assert ilp <= dp_mode.cost["objective"] * (1 + 1e-9)
    if limit is not None:
        for p in costs.values():
            assert p.cost["memory"] <= limit


def test_dynamic_programming_is_exact_without_a_memory_limit():
    _, step, x, y = mlp_step(64, 32, 10)
    dp = plan(step, x, y, mesh=(2, 2), search_mode="dynamic_programming", profile=GOLDEN)
    ilp = plan(step, x, y, mesh=(2, 2), search_mode="ilp", profile=GOLDEN)
    assert dp.info["exact"] and dp.info["eliminations"]["approximations"] == 0
    assert dp.info["eliminations"]["merge"] > 0 and dp.info["eliminations"]["op"] > 0
    assert dp.cost["objective"] == pytest.approx(ilp.cost["objective"], rel=1e-9)
    assert ilp.info["optimal"] and ilp.info["solver"].startswith("HiGHS")


@pytest.mark.parametrize("mode", ["dynamic_programming", "ilp"])
def test_memory_limit_changes_the_choice(mode):
    _, step, x, y = mlp_step(64, 32, 10)
    free = plan(step, x, y, mesh=(4,), search_mode=mode, profile=GOLDEN)
    limit = 50000
    assert free.cost["memory"] > limit
    tight = plan(step, x, y, mesh=(4,), search_mode=mode, profile=GOLDEN, memory_limit=limit)
    assert tight.cost["memory"] <= limit < free.cost["memory"]
    assert tight.cost["total"] > free.cost["total"]
    assert tight.splits()["fc1.weight"] == (4, 1) and tight.splits()["moments.fc1.weight"] == (4, 1)
    doc = tight.to_json()
    assert doc["memory_limit"] == limit and doc["cost"]["fits_memory"]
    reasons = [a["reason"] for op in doc["ops"] for a in op["alternatives"]]
    assert any(r.startswith("over the memory limit") for r in reasons)
    with pytest.raises(PlanError, match="memory_limit=20000"):
        plan(step, x, y, mesh=(4,), search_mode=mode, profile=GOLDEN, memory_limit=20000)


def test_memory_limit_from_the_context():
    _, step, x, y = mlp_step(64, 32, 10)
    ms.set_auto_parallel_context(device_num=4, search_mode="ilp", memory_limit="50KB", mesh_shape=(4,))
    p = plan(step, x, y, profile=GOLDEN)
    assert p.memory_limit == 50000 and p.cost["memory"] <= 50000 and p.search_mode == "ilp"
    assert p.mesh == DeviceMesh((4,))


def test_sharding_propagation_spreads_a_user_strategy():
    net, step = train_step(lambda: MLP(64, 32, 10))
    net.fc1.matmul.shard(((1, 1), (4, 1)))          # fc1's weight split by output rows
    x, y = data(128, 64, 10)
    p = plan(step, x, y, mesh=(4,), search_mode="sharding_propagation", profile=GOLDEN)
    s = p.strategies()
    assert s["matmul-0"] == ((1, 1), (4, 1))
    assert s["add-0"] == ((1, 4), (4,)) and s["relu-0"] == ((1, 4),)      # the split flows on unchanged
    assert p.splits()["fc1.weight"] == (4, 1) and p.splits()["fc1.bias"] == (4,)
    doc = p.to_json()
    first = next(o for o in doc["ops"] if o["name"] == "matmul")
    assert first["reason"] == "set by the user with shard()" and len(first["alternatives"]) == 1
    assert any(o["reason"].startswith("propagated from") for o in doc["ops"])
    # the optimising modes keep the user's strategy too
    q = plan(step, x, y, mesh=(4,), search_mode="ilp", profile=GOLDEN)
    assert q.strategies()["matmul-0"] == ((1, 1), (4, 1))


def test_invalid_user_strategy_names_the_op_and_the_line():
    net, step = train_step(lambda: MLP(64, 32, 10))
    net.fc1.matmul.shard(((2, 1), (1, 2)))           # x's dim 1 and the weight's dim 1 are both k
    x, y = data(128, 64, 10)
    with pytest.raises(PlanError) as info:
        plan(step, x, y, mesh=(2, 2), search_mode="sharding_propagation", profile=GOLDEN)
    msg = str(info.value)
    assert "matmul: strategy ((2, 1), (1, 2))" in msg and "[128, 64], [32, 64]" in msg
    assert "must be split the same way, got 2 and 1" in msg and "test_planner.py" not in msg.split("\n")[0]
    assert "\n  at " in msg


def test_user_strategy_splitting_the_contracted_dim_adds_an_all_reduce():
    ms.set_seed(2)
    net = KSplitMLP(((1, 4), (1, 4)))
    x, _ = data(16, 64, 10)
    p = plan(net, x, mesh=(4,), search_mode="ilp", profile=GOLDEN)
    assert p.strategies()["matmul-0"] == ((1, 4), (1, 4))
    doc = p.to_json()
    mm = next(o for o in doc["ops"] if o["name"] == "matmul")
    assert doc["tensors"][int(mm["outputs"][0][1:])]["layout"]["partial"] == [0]
    tanh = next(o for o in doc["ops"] if o["name"] == "tanh")
    kinds = [c["kind"] for c in doc["collectives"] if c["op"] == tanh["id"]]
    assert kinds in (["all_reduce"], ["reduce_scatter"])


def test_plan_json_from_a_real_search_validates():
    _, step, x, y = mlp_step(64, 32, 10)
    p = plan(step, x, y, mesh=(2, 2), search_mode="ilp", profile=GOLDEN)
    doc = p.to_json()
    validate_plan_json(doc)
    check_references(doc)
    assert doc["search_mode"] == "ilp" and doc["parallel_mode"] == "auto_parallel"
    assert doc["mesh"]["shape"] == [2, 2] and doc["profile"]["name"] == "golden"
    assert doc["search"]["optimal"] and doc["search"]["problem"]["ops"] == len(doc["ops"]) == 22
    assert doc["cost"]["total"] == pytest.approx(p.cost["total"])
    assert doc["cost"]["compute"] + doc["cost"]["communication"] == pytest.approx(doc["cost"]["total"])
    for op in doc["ops"]:
        chosen = [a for a in op["alternatives"] if a["chosen"]]
        assert len(chosen) == 1 and chosen[0]["strategy"] == op["strategy"]
        assert op["reason"] and op["source"] is not None
    kinds = {c["kind"] for c in doc["collectives"]}
    assert "all_reduce" in kinds
    # op nodes refer to the graph JSON of the planned graph
    gdoc = graph_to_json(p.graph, "optimized")
    nodes = {n["id"]: n for n in gdoc["nodes"]}
    for op in doc["ops"]:
        assert nodes[op["node"]]["op"] == op["name"]
    # and the Plan comes back from its JSON
    from mindlab.parallel import Plan
    again = Plan.from_json(doc).to_json()
    assert again["ops"] == doc["ops"] and again["collectives"] == doc["collectives"]


def test_plan_shows_in_a_notebook():
    _, step, x, y = mlp_step(64, 32, 10)
    p = plan(step, x, y, mesh=(4,), search_mode="dynamic_programming", profile=GOLDEN)
    bundle = p._repr_mimebundle_()
    assert bundle["application/vnd.mindlab.plan+json"]["format"] == "application/vnd.mindlab.plan+json"
    assert "matmul-0" in bundle["text/plain"] and "((4, 1), (1, 1))" in bundle["text/plain"]


def test_control_flow_is_refused_clearly():
    from ..training_compare import Gated          # an `if` and a `while` on tensors
    x, _ = data(8, 8, 2)
    with pytest.raises(PlanError, match=r"control flow.*straight-line"):
        plan(Gated(), x, mesh=(2,), search_mode="ilp")


def test_fused_graphs_plan_but_lower_only_before_fusion():
    from mindlab.passes.fusion import fusion_options
    _, step, x, y = mlp_step(64, 32, 10)
    with fusion_options(min_elements=0):
        compiled = step.compiled(x, y)
    fused = [n for n in compiled.optimized.nodes if n.op.name.startswith("fused(")]
    assert fused
    p = plan_graph(compiled.optimized, mesh=(4,), search_mode="dynamic_programming", profile=GOLDEN)
    assert any(k.startswith("fused(") for k in p.strategies())
    with pytest.raises(PlanError, match="plan the graph before fusion"):
        p.lower()
    q = plan_graph(unfused_graph(compiled), mesh=(4,), search_mode="dynamic_programming", profile=GOLDEN)
    assert q.cost["total"] > 0 and not any(k.startswith("fused(") for k in q.strategies())
