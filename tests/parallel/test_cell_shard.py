"""``Cell.shard`` (MindSpore's layouts for a Cell's inputs and parameters, mindlab.parallel.cell_shard): the planner
keeps them wherever the cell is called (a sub-Cell inside the planned network), the chosen op strategies follow
them (golden), training with them equals single-device training on the sim mesh to 1e-5, and bad strategies give
clear errors naming the cell, the strategy, the shapes and the user's line."""
import numpy as np
import pytest

import mindlab as ms
from mindlab.parallel import plan, PlanError, StrategyError

from .nets import GOLDEN, ShardNet as Net, shard_b2, train_step, data, parallel_graph_mode

TOL = dict(rtol=1e-5, atol=1e-5)
STEPS = 5


pytestmark = pytest.mark.usefixtures("parallel_graph_mode")   # GRAPH_MODE, fresh auto-parallel context


# ------------------------------------------------------------------------------------------------ golden plans
FREE = {"matmul-0": ((4, 1), (1, 1)), "add-0": ((4, 1), (1,)), "relu-0": ((4, 1),),
        "matmul-1": ((4, 1), (1, 1)), "add-1": ((4, 1), (1,)), "relu-1": ((4, 1),),
        "matmul-2": ((4, 1), (1, 1)), "add-2": ((4, 1), (1,))}
# with b2's input split by features (4) and its weight by output features (4): b1's output is produced in the
# feature-split layout (no redistribution into the layout node), b2's matmul gathers its input (the weight's
# row split is the n of x @ w.T) and the output stays feature-split until the head's k-split matmul sums it
SHARDED = {"matmul-0": ((4, 1), (1, 1)), "add-0": ((1, 4), (4,)), "relu-0": ((1, 4),), "layout-0": ((1, 4),),
           "matmul-1": ((1, 1), (4, 1)), "add-1": ((1, 4), (4,)), "relu-1": ((1, 4),),
           "matmul-2": ((1, 4), (1, 4)), "add-2": ((4, 1), (1,))}


@pytest.mark.parametrize("mode", ["dynamic_programming", "ilp"])
def test_cell_strategy_changes_the_chosen_op_strategies(mode):
    x, _ = data(32, 64, 10)
    free = plan(Net(), x, mesh=(4,), search_mode=mode, profile=GOLDEN)
    assert free.strategies() == FREE
    p = plan(shard_b2(Net(), 4), x, mesh=(4,), search_mode=mode, profile=GOLDEN)
    assert p.strategies() == SHARDED
    assert p.splits()["b2.fc.weight"] == (4, 1) and free.splits()["b2.fc.weight"] == (1, 1)
    assert p.cost["total"] > free.cost["total"]          # a constraint, not the optimum
    doc = p.to_json()
    layout = next(o for o in doc["ops"] if o["name"] == "layout")
    assert layout["reason"] == "set by the user with Block.shard in_strategy[0] = (1, 4) (of ((1, 4),))"


def test_propagation_starts_from_the_cell_strategy():
    x, _ = data(32, 64, 10)
    p = plan(shard_b2(Net(), 4), x, mesh=(4,), search_mode="sharding_propagation", profile=GOLDEN)
    s = p.strategies()
    assert s["layout-0"] == ((1, 4),) and p.splits()["b2.fc.weight"] == (4, 1)
    assert s["relu-1"] == ((1, 4),)                 # propagated on from b2's weight split


def test_the_network_itself_on_a_two_dimensional_mesh():
    # the top-level cell's input (it arrives batch-split over all 4 devices) is redistributed to (2, 2): the first
    # matmul then takes it as it is — rows over one mesh axis, its contracted features over the other
    x, _ = data(32, 64, 10)
    p = plan(Net().shard(in_strategy=((2, 2),)), x, mesh=(2, 2), search_mode="ilp", profile=GOLDEN)
    s = p.strategies()
    assert s["layout-0"] == ((2, 2),) and s["matmul-0"] == ((2, 2), (1, 2))
    assert plan(Net(), x, mesh=(2, 2), search_mode="ilp", profile=GOLDEN).strategies()["matmul-0"] == \
        ((4, 1), (1, 1))


def test_none_leaves_an_input_to_the_planner_and_out_strategy_fixes_outputs():
    x, _ = data(32, 64, 10)
    net = Net()
    net.b2.shard(in_strategy=(None,), out_strategy=((1, 4),))
    p = plan(net, x, mesh=(4,), search_mode="ilp", profile=GOLDEN)
    s = p.strategies()
    assert [k for k in s if k.startswith("layout")] == ["layout-0"]       # only the output is constrained
    assert s["layout-0"] == ((1, 4),) and s["relu-1"] == ((1, 4),)


# ------------------------------------------------------------------------------------------------ training
def _params(net):
    return {p.name: p.asnumpy().copy() for p in net.get_parameters()}


@pytest.fixture(scope="module")
def reference():
    ms.reset_auto_parallel_context()
    ms.set_context(mode=ms.GRAPH_MODE)
    x, y = data(32, 64, 10)
    net, step = train_step(Net)
    losses = [float(step(x, y).asnumpy()) for _ in range(STEPS)]
    return x, y, losses, _params(net)


@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("mode, search", [("semi_auto_parallel", None), ("auto_parallel", "sharding_propagation"),
                                          ("auto_parallel", "dynamic_programming"), ("auto_parallel", "ilp")])
def test_training_with_a_sharded_sub_cell_equals_single_device(reference, mode, search, n):
    x, y, ref_losses, ref_params = reference
    opts = dict(parallel_mode=mode, device_num=n, gradients_mean=True, mesh_shape=(n,))
    if search:
        opts["search_mode"] = search
    ms.set_auto_parallel_context(**opts)
    net, step = train_step(lambda: shard_b2(Net(), n))
    losses = [float(step(x, y).asnumpy()) for _ in range(STEPS)]
    np.testing.assert_allclose(losses, ref_losses, **TOL)
    got = _params(net)
    for name, want in ref_params.items():
        np.testing.assert_allclose(got[name], want, **TOL, err_msg=name)
    p = step.parallel_plan
    assert p.splits()["b2.fc.weight"] == (n, 1)
    assert p.strategies()["layout-0"] == ((1, n),)       # the forward input of b2, inside the training step
    assert step.parallel_program.mesh.size == n


def test_data_parallel_ignores_cell_strategies_as_mindspore_does(reference):
    x, y, ref_losses, ref_params = reference
    ms.set_auto_parallel_context(parallel_mode="data_parallel", device_num=4, gradients_mean=True)
    net, step = train_step(lambda: shard_b2(Net(), 4))
    losses = [float(step(x, y).asnumpy()) for _ in range(STEPS)]
    np.testing.assert_allclose(losses, ref_losses, **TOL)
    assert step.parallel_plan.splits()["b2.fc.weight"] == (1, 1)          # replicated


def test_a_new_shard_call_replaces_the_parameter_plan():
    x, _ = data(32, 64, 10)
    net = shard_b2(Net(), 4)
    net.b2.shard(in_strategy=(None,))                  # no parameter_plan any more
    p = plan(net, x, mesh=(4,), search_mode="ilp", profile=GOLDEN)
    assert p.strategies() == FREE and p.splits()["b2.fc.weight"] == (1, 1)


def test_stand_alone_runs_the_layout_nodes_as_no_ops(reference):
    x, y, ref_losses, _ = reference
    net, step = train_step(lambda: shard_b2(Net(), 4))
    losses = [float(step(x, y).asnumpy()) for _ in range(STEPS)]
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-6, atol=1e-6)


# ------------------------------------------------------------------------------------------------ bad input
def _compile(net, x):
    ms.set_auto_parallel_context(parallel_mode="semi_auto_parallel", device_num=4)
    return plan(net, x, mesh=(4,), profile=GOLDEN)


def test_wrong_rank_names_the_cell_the_strategy_and_the_shapes():
    x, _ = data(32, 64, 10)
    net = Net()
    net.b2.shard(in_strategy=((1, 2, 2),))
    with pytest.raises(StrategyError) as e:
        _compile(net, x)
    msg = str(e.value)
    assert "Block.shard: in_strategy ((1, 2, 2),)" in msg and "[32, 64]" in msg and "2 dims" in msg
    assert "nets.py" in msg and "self.b2(self.b1(x))" in msg       # the user's line (ShardNet.construct)


def test_not_divisible_names_the_dim():
    x, _ = data(32, 64, 10)
    net = Net()
    net.b2.shard(in_strategy=((3, 1),))
    with pytest.raises(StrategyError, match=r"Block.shard: in_strategy \(\(3, 1\),\).*\[32, 64\].*dim 0 of entry 0 "
                                            r"has size 32, not divisible by 3"):
        _compile(net, x)


def test_wrong_count_of_entries():
    x, _ = data(32, 64, 10)
    net = Net()
    net.b2.shard(in_strategy=((4, 1), (4, 1)))
    with pytest.raises(StrategyError, match=r"Block.shard: in_strategy .* has 2 entries but the cell is called "
                                            r"with 1 inputs \(shapes \[32, 64\]\)"):
        _compile(net, x)


def test_more_pieces_than_devices_is_refused_at_planning_with_the_cell_and_line():
    x, _ = data(32, 64, 10)
    net = Net()
    net.b2.shard(in_strategy=((8, 1),))
    with pytest.raises(PlanError) as e:
        _compile(net, x)
    msg = str(e.value)
    assert "Block.shard in_strategy[0] = (8, 1)" in msg and "[32, 64]" in msg and "4 devices" in msg
    assert "self.b2(self.b1(x))" in msg


def test_bad_parameter_plans():
    net = Net()
    with pytest.raises(StrategyError, match=r"Block.shard: parameter_plan names 'fc.w', which is not a parameter "
                                            r"of this cell .*'fc.weight'"):
        net.b2.shard(in_strategy=(None,), parameter_plan={"fc.w": (2, 1)})
    with pytest.raises(StrategyError, match=r"parameter_plan \{'fc.weight': \(3, 1\)\} does not fit parameter "
                                            r"'b2.fc.weight' of shape \[64, 64\]: dim 0 has size 64, not divisible"):
        net.b2.shard(in_strategy=(None,), parameter_plan={"fc.weight": (3, 1)})
    with pytest.raises(StrategyError, match=r"2 values for 1 dims"):
        net.b2.shard(in_strategy=(None,), parameter_plan={"self.fc.bias": (2, 1)})
    with pytest.raises(StrategyError, match=r"in_strategy must be a tuple"):
        net.b2.shard(in_strategy=4)
    with pytest.raises(StrategyError, match=r"positive ints"):
        net.b2.shard(in_strategy=((0, 1),))
    # a plan the mesh cannot hold: 16 pieces on 4 devices
    x, _ = data(32, 64, 10)
    net.b2.shard(in_strategy=(None,), parameter_plan={"b2.fc.weight": (16, 1)})
    with pytest.raises(PlanError, match=r"Block.shard parameter_plan \{'b2.fc.weight': \(16, 1\)\}.*cannot be split "
                                        r"\(16, 1\)"):
        _compile(net, x)
