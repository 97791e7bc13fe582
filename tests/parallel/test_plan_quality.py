"""Plan quality and golden plans (MindSpore's parallel tests style), with the fixed GOLDEN device profile:

* the searched plans (dynamic programming, ILP) of an MLP and a transformer block training step on 8 and 64
  devices cost no more than the better of plain data parallelism and the Megatron-style hand plan (column- then
  row-split Dense layers, attention split by heads, set with ``shard()`` and propagated); DP and ILP agree in every
  case (the DP hands the problem to the ILP where its elimination would approximate), and the ILP's presolve keeps
  the optimum of the full model;
* the chosen op -> strategy mapping of a two-matmul net and of a transformer block, asserted exactly."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor
from mindlab.parallel import plan

from .nets import GOLDEN, MLP, TransformerBlock, TwoMatMul, megatron, train_step, data, parallel_graph_mode


pytestmark = pytest.mark.usefixtures("parallel_graph_mode")   # GRAPH_MODE, fresh auto-parallel context


def _costs(make, batch_data, mesh):
    """Modelled step cost of: DP search, ILP, data parallel, Megatron hand plan."""
    x, y = batch_data
    _, step = train_step(make)
    out = {m: plan(step, x, y, mesh=mesh, search_mode=m, profile=GOLDEN) for m in ("dynamic_programming", "ilp")}
    out["data_parallel"] = plan(step, x, y, mesh=mesh, parallel_mode="data_parallel", profile=GOLDEN)
    dp_axis = mesh[0] if len(mesh) > 1 else 1
    net, hand_step = train_step(make)
    megatron(net, dp_axis, mesh[-1])
    out["megatron"] = plan(hand_step, x, y, mesh=mesh, parallel_mode="semi_auto_parallel", profile=GOLDEN)
    # the hand plan really is Megatron's: the first Dense (fc1, or q) split by output features over the model axis
    assert out["megatron"].strategies()["matmul-0"] == ((dp_axis, 1), (mesh[-1], 1))
    return out


CASES = {
    "mlp small, 8": (lambda: MLP(64, 32, 10), lambda: data(128, 64, 10), (8,)),
    "mlp large, 8": (lambda: MLP(1024, 4096, 1024), lambda: data(128, 1024, 1024), (8,)),
    "mlp small, 64": (lambda: MLP(64, 32, 10), lambda: data(128, 64, 10), (8, 8)),
    "mlp large, 64": (lambda: MLP(1024, 4096, 1024), lambda: data(128, 1024, 1024), (8, 8)),
    "block small, 8": (lambda: TransformerBlock(32, 8, 64), lambda: data(8, None, 10, image=(8, 32)), (8,)),
    "block large, 8": (lambda: TransformerBlock(512, 8, 2048), lambda: data(8, None, 10, image=(8, 512)), (8,)),
    "block small, 64": (lambda: TransformerBlock(32, 8, 64), lambda: data(8, None, 10, image=(8, 32)), (8, 8)),
    "block large, 64": (lambda: TransformerBlock(512, 8, 2048), lambda: data(64, None, 10, image=(8, 512)), (8, 8)),
}


@pytest.mark.parametrize("case", list(CASES))
def test_searched_plans_beat_data_parallel_and_the_megatron_hand_plan(case):
    make, batch, mesh = CASES[case]
    ms.set_seed(0)
    p = _costs(make, batch(), mesh)
    total = {k: v.cost["total"] for k, v in p.items()}
    best_hand = min(total["data_parallel"], total["megatron"])
    for mode in ("dynamic_programming", "ilp"):
        assert total[mode] <= best_hand * (1 + 1e-9), (mode, total)
    # DP and ILP agree: the DP is exact (its elimination, or the ILP where the elimination would approximate)
    info = p["dynamic_programming"].info
    assert info["exact"] and info["solved_by"] in ("elimination", "ilp"), info
    assert total["ilp"] == pytest.approx(total["dynamic_programming"], rel=1e-9)
    if "large" in case:       # big weights: the hand plan's model parallelism beats replicating them
        assert total["megatron"] < total["data_parallel"]


def test_ilp_presolve_keeps_the_optimum_of_the_transformer_block_on_64_devices():
    from mindlab.parallel.planner.ilp import solve_ilp
    make, batch, mesh = CASES["block small, 64"]
    x, y = batch()
    _, step = train_step(make)
    p = plan(step, x, y, mesh=mesh, search_mode="ilp", profile=GOLDEN)
    pre = p.info["presolve"]
    assert pre["eliminated"] > 0 and 0 < p.info["binary_variables"] < p.info["problem"]["choices"]
    full, info = solve_ilp(p.problem, presolve=False)
    assert info["binary_variables"] == p.info["problem"]["choices"]
    assert p.problem.evaluate(full)[0] == pytest.approx(p.cost["objective"], rel=1e-9)


def test_dp_is_exact_and_equals_ilp_on_eight_devices():
    for case in ("mlp small, 8", "mlp large, 8", "block small, 8"):
        make, batch, mesh = CASES[case]
        x, y = batch()
        _, step = train_step(make)
        a = plan(step, x, y, mesh=mesh, search_mode="dynamic_programming", profile=GOLDEN)
        b = plan(step, x, y, mesh=mesh, search_mode="ilp", profile=GOLDEN)
        assert a.info["exact"] and a.info["solved_by"] == "elimination", case      # the elimination alone
        assert a.cost["total"] == pytest.approx(b.cost["total"], rel=1e-9), case


# ------------------------------------------------------------------------------------------------ golden plans
TWO_MATMUL_GOLDEN = {
    # small weights: data parallel (the batch split, weights replicated)
    ((64, 256, 32), 128, (4,)): {"matmul-0": ((4, 1), (1, 1)), "matmul-1": ((4, 1), (1, 1))},
    ((64, 256, 32), 128, (2, 2)): {"matmul-0": ((4, 1), (1, 1)), "matmul-1": ((4, 1), (1, 1))},
    ((64, 256, 32), 128, (8,)): {"matmul-0": ((8, 1), (1, 1)), "matmul-1": ((8, 1), (1, 1))},
    # big weights, small batch: w1 split by columns, w2 by rows (one all-reduce of the output)
    ((1024, 4096, 1024), 16, (4,)): {"matmul-0": ((1, 1), (1, 4)), "matmul-1": ((1, 4), (4, 1))},
    ((1024, 4096, 1024), 16, (2, 2)): {"matmul-0": ((1, 1), (1, 4)), "matmul-1": ((1, 2), (2, 2))},
    ((1024, 4096, 1024), 16, (8,)): {"matmul-0": ((1, 1), (1, 8)), "matmul-1": ((1, 8), (8, 1))},
}


@pytest.mark.parametrize("mode", ["dynamic_programming", "ilp"])
@pytest.mark.parametrize("key", list(TWO_MATMUL_GOLDEN), ids=str)
def test_two_matmul_golden_plan(key, mode):
    shape, batch, mesh = key
    net = TwoMatMul(*shape)
    x = Tensor(np.zeros((batch, shape[0]), np.float32))
    assert plan(net, x, mesh=mesh, search_mode=mode, profile=GOLDEN).strategies() == TWO_MATMUL_GOLDEN[key]


# the transformer block (d=512, 8 heads, MLP 2048) forward on a 2 x 4 mesh: exactly Megatron's layout — batch over
# the 2-axis; q/k/v and fc1 column-split, attention split by heads, o and fc2 row-split over the 4-axis; the
# residual stream, the layer norms and the classifier head batch-split over all 8 devices
BLOCK_2x4_GOLDEN = {
    "layer_norm-0": ((8, 1, 1), (1,), (1,)), "reshape-0": ((2, 1, 1),),
    "matmul-0": ((2, 1), (4, 1)), "add-0": ((2, 4), (4,)), "reshape-1": ((2, 4),), "reshape-2": ((2, 1, 4),),
    "transpose-0": ((2, 1, 4, 1),),
    "matmul-1": ((2, 1), (4, 1)), "add-1": ((2, 4), (4,)), "reshape-3": ((2, 4),), "reshape-4": ((2, 1, 4),),
    "transpose-1": ((2, 1, 4, 1),),
    "matmul-2": ((2, 1), (4, 1)), "add-2": ((2, 4), (4,)), "reshape-5": ((2, 4),), "reshape-6": ((2, 1, 4),),
    "transpose-2": ((2, 1, 4, 1),),
    "batch_matmul-0": ((2, 4, 1, 1), (2, 4, 1, 1)), "mul-0": ((2, 4, 1, 1), ()), "softmax-0": ((2, 4, 1, 1),),
    "batch_matmul-1": ((2, 4, 1, 1), (2, 4, 1, 1)), "transpose-3": ((2, 4, 1, 1),), "reshape-7": ((2, 1, 4, 1),),
    "reshape-8": ((2, 1, 4),), "matmul-3": ((2, 4), (1, 4)), "add-3": ((8, 1), (1,)), "reshape-9": ((8, 1),),
    "add-4": ((8, 1, 1), (8, 1, 1)), "layer_norm-1": ((8, 1, 1), (1,), (1,)), "reshape-10": ((8, 1, 1),),
    "matmul-4": ((2, 1), (4, 1)), "add-5": ((2, 4), (4,)), "reshape-11": ((2, 4),), "gelu-0": ((2, 1, 4),),
    "reshape-12": ((2, 1, 4),), "matmul-5": ((2, 4), (1, 4)), "add-6": ((8, 1), (1,)), "reshape-13": ((8, 1),),
    "add-7": ((8, 1, 1), (8, 1, 1)), "mean-0": ((8, 1, 1),), "matmul-6": ((8, 1), (1, 1)),
    "add-8": ((8, 1), (1,))}


@pytest.mark.parametrize("mode", ["dynamic_programming", "ilp"])
def test_transformer_block_golden_plan(mode):
    ms.set_seed(0)
    net = TransformerBlock(512, 8, 2048)
    x, _ = data(8, None, 10, image=(8, 512))
    p = plan(net, x, mesh=(2, 4), search_mode=mode, profile=GOLDEN)
    assert p.strategies() == BLOCK_2x4_GOLDEN
    assert p.splits()["attn.q.weight"] == (4, 1) and p.splits()["attn.o.weight"] == (1, 4)


def test_plan_ops_link_to_the_nodes_of_the_planned_graph():
    _, step = train_step(lambda: MLP(64, 32, 10))
    x, y = data(64, 64, 10)
    p = plan(step, x, y, mesh=(2, 2), search_mode="ilp", profile=GOLDEN)
    doc, gdoc = p.to_json(), p.graph_view().json()
    nodes = {n["id"]: n for n in gdoc["nodes"]}
    assert doc["ops"] and all(o["node"] in nodes for o in doc["ops"])
    for o in doc["ops"]:
        n = nodes[o["node"]]
        assert n["op"] == o["name"], (o, n)
        if o["source"] is not None and n.get("source"):
            assert n["source"]["line"] == o["source"]["line"]
    assert len({o["node"] for o in doc["ops"]}) == len(doc["ops"])       # one graph node per planned op
