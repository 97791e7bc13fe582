"""SPMD lowering and execution on the sim backend: the per-device graph carries the collectives as IR nodes, every
rank runs it on its slices, and the results equal single-device execution to 1e-5 — an MLP forward, full
TrainOneStepCell steps (gradients all-reduced; data parallel with and without gradients_mean), a convolutional
network, and user strategies."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor
from mindlab.parallel import ParallelProgram, SimWorld, lower, plan
from mindlab.parallel.spmd import COMM_PRIMITIVES

from .nets import GOLDEN, MLP, KSplitMLP, LeNet5, train_step, data, parallel_graph_mode

TOL = dict(rtol=1e-5, atol=1e-5)


pytestmark = pytest.mark.usefixtures("parallel_graph_mode")   # GRAPH_MODE, fresh auto-parallel context


def _params(net):
    return {p.name: p.asnumpy().copy() for p in net.get_parameters()}


@pytest.mark.parametrize("mode, mesh", [("dynamic_programming", (2, 2)), ("ilp", (4,)),
                                        ("sharding_propagation", (2, 2))])
def test_mlp_forward_equals_single_device(mode, mesh):
    ms.set_seed(1)
    net = MLP(64, 32, 10)
    x, _ = data(128, 64, 10)
    want = net(x).asnumpy()
    prog = ParallelProgram(net, x, mesh=mesh, search_mode=mode, parallel_mode="auto_parallel", profile=GOLDEN)
    got = prog.run_sim(x)
    np.testing.assert_allclose(got.asnumpy(), want, **TOL)
    # every rank returned its slice of the output
    lay = prog.spmd.output_layouts[0]
    for d, outs in prog.rank_outputs.items():
        np.testing.assert_allclose(outs[0], want[lay.slices(d)], **TOL)


def test_mlp_forward_with_inputs_anywhere_uses_model_parallelism():
    ms.set_seed(1)
    net = MLP(64, 4096, 10)
    x, _ = data(8, 64, 10)
    want = net(x).asnumpy()
    prog = ParallelProgram(net, x, mesh=(4,), search_mode="ilp", parallel_mode="auto_parallel", profile=GOLDEN,
                           inputs="any")
    assert prog.plan.splits()["fc1.weight"] == (4, 1)
    np.testing.assert_allclose(prog.run_sim(x).asnumpy(), want, **TOL)
    # fc2's contracted dim is split: its partial sums are reduce-scattered over the batch (cheaper than all_reduce)
    assert [n.op.name for n in prog.spmd.collectives] == ["reduce_scatter"]


@pytest.mark.parametrize("mode, mesh", [("ilp", (2, 2)), ("dynamic_programming", (4,)),
                                        ("sharding_propagation", (2, 2))])
def test_train_step_equals_single_device(mode, mesh):
    ref_net, ref_step = train_step(lambda: MLP(64, 32, 10))
    x, y = data(128, 64, 10)
    ref_losses = [float(ref_step(x, y).asnumpy()) for _ in range(3)]
    net, step = train_step(lambda: MLP(64, 32, 10))
    prog = ParallelProgram(step, x, y, mesh=mesh, search_mode=mode, parallel_mode="auto_parallel", profile=GOLDEN)
    losses = [float(prog.run_sim(x, y).asnumpy()) for _ in range(3)]
    np.testing.assert_allclose(losses, ref_losses, **TOL)
    prog.sync_parameters()
    want = _params(ref_net)
    for name, value in _params(net).items():
        np.testing.assert_allclose(value, want[name], **TOL, err_msg=name)
    # the gradients of the parameters that the plan keeps whole were all-reduced before the update
    text = prog.spmd.text()
    assert "all_reduce(" in text
    updates = [n for n in prog.spmd.graph.nodes if n.op.name == "apply_momentum"]
    assert len(updates) == 4


def test_lowered_graph_matches_the_plan():
    _, step = train_step(lambda: MLP(64, 32, 10))
    x, y = data(128, 64, 10)
    p = plan(step, x, y, mesh=(2, 2), search_mode="ilp", profile=GOLDEN)
    spmd = lower(p)
    doc = p.to_json()
    # one IR node per planned step (redistribution steps, AllReduces after kernels, output reductions)
    assert len(spmd.collectives) == len(doc["collectives"])
    assert sorted(n.op.name for n in spmd.collectives) == sorted(c["kind"] for c in doc["collectives"])
    for n in spmd.collectives:
        assert n.attrs["mesh"] == p.mesh and all(a in p.mesh.axis_names for a in n.attrs["axes"])
    # local shapes: each parameter is its slice
    for prm, lay in zip(spmd.graph.params, spmd.param_layouts):
        assert prm.abstract.shape == lay.slice_shape
    # running it moves what the plan says: the sim world's log lists the same communicating collectives
    prog = ParallelProgram(step, x, y, mesh=(2, 2), search_mode="ilp", parallel_mode="auto_parallel",
                           profile=GOLDEN)
    world = SimWorld(4)
    prog.run_sim(x, y, world=world)
    planned = {}
    for c in doc["collectives"]:
        if c["kind"] not in ("split", "make_partial"):
            planned[c["kind"]] = planned.get(c["kind"], 0) + 4 // c["group_size"]
    ran = {}
    for entry in world.log:
        ran[entry["kind"]] = ran.get(entry["kind"], 0) + 1
    assert ran == planned


@pytest.mark.parametrize("mean", [True, False])
def test_data_parallel_all_reduces_gradients(mean):
    ref_net, ref_step = train_step(lambda: MLP(64, 32, 10))
    x, y = data(128, 64, 10)
    init = _params(ref_net)
    ref_loss = float(ref_step(x, y).asnumpy())
    net, step = train_step(lambda: MLP(64, 32, 10))
    ms.set_auto_parallel_context(parallel_mode="data_parallel", device_num=4, gradients_mean=mean)
    prog = ParallelProgram(step, x, y)
    assert prog.parallel_mode == "data_parallel" and prog.mesh.size == 4
    # each device runs the step compiled for a quarter of the batch; one AllReduce per gradient
    assert prog.spmd.graph.params[0].abstract.shape == (32, 64)
    reduces = [n for n in prog.spmd.collectives if n.op is COMM_PRIMITIVES["all_reduce"]]
    assert len(reduces) == 4 and {n.attrs["op"] for n in reduces} == {"mean" if mean else "sum"}
    loss = float(prog.run_sim(x, y).asnumpy())
    assert loss == pytest.approx(ref_loss, rel=1e-5)       # the mean of the ranks' losses
    prog.sync_parameters()
    got, want = _params(net), _params(ref_net)
    for name in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"):
        if mean:       # averaged gradients: exactly single-device training
            np.testing.assert_allclose(got[name], want[name], **TOL, err_msg=name)
        else:          # summed: the first momentum step moves each weight 4x as far
            np.testing.assert_allclose(got[name] - init[name], 4 * (want[name] - init[name]), rtol=1e-4,
                                       atol=1e-6, err_msg=name)


def test_user_strategy_with_a_split_contracted_dim_runs():
    ms.set_seed(2)
    net = KSplitMLP(((1, 4), (1, 4)))
    x, _ = data(16, 64, 10)
    want = net(x).asnumpy()
    prog = ParallelProgram(net, x, mesh=(4,), search_mode="sharding_propagation", parallel_mode="auto_parallel",
                           profile=GOLDEN)
    assert prog.plan.strategies()["matmul-0"] == ((1, 4), (1, 4))
    np.testing.assert_allclose(prog.run_sim(x).asnumpy(), want, **TOL)
    names = [n.op.name for n in prog.spmd.collectives]
    assert "all_reduce" in names or "reduce_scatter" in names


def test_convolutional_training_step_equals_single_device():
    ref_net, ref_step = train_step(LeNet5, lr=0.02)
    x, y = data(8, 0, 10, image=(1, 32, 32))
    ref_losses = [float(ref_step(x, y).asnumpy()) for _ in range(2)]
    net, step = train_step(LeNet5, lr=0.02)
    prog = ParallelProgram(step, x, y, mesh=(2, 2), search_mode="dynamic_programming",
                           parallel_mode="auto_parallel", profile=GOLDEN)
    losses = [float(prog.run_sim(x, y).asnumpy()) for _ in range(2)]
    np.testing.assert_allclose(losses, ref_losses, **TOL)
    prog.sync_parameters()
    want = _params(ref_net)
    for name, value in _params(net).items():
        np.testing.assert_allclose(value, want[name], **TOL, err_msg=name)
    conv = [v for v in prog.plan.problem.ops if v.name == "conv2d"]
    assert conv and all(prog.plan.choice(v).strategy[1][2:] == (1, 1) for v in conv)   # kernels never split


def test_fusion_after_lowering():
    ms.set_seed(1)
    net = MLP(64, 32, 10)
    x, _ = data(128, 64, 10)
    want = net(x).asnumpy()
    from mindlab.passes.fusion import fusion_options
    with fusion_options(min_elements=0):
        prog = ParallelProgram(net, x, mesh=(4,), search_mode="ilp", parallel_mode="auto_parallel",
                               profile=GOLDEN, fuse=True)
    assert any(n.op.name.startswith("fused(") for n in prog.spmd.graph.nodes)
    np.testing.assert_allclose(prog.run_sim(x).asnumpy(), want, **TOL)


def test_wrong_input_shape_is_refused():
    ms.set_seed(1)
    net = MLP(64, 32, 10)
    x, _ = data(128, 64, 10)
    prog = ParallelProgram(net, x, mesh=(4,), search_mode="ilp", parallel_mode="auto_parallel", profile=GOLDEN)
    with pytest.raises(ValueError, match=r"shape \[64, 64\] given where the plan was made for \[128, 64\]"):
        prog.run_sim(Tensor(np.zeros((64, 64), np.float32)))


def test_collectives_in_the_lowered_dump_name_the_op_and_tensor_that_caused_them():
    _, step = train_step(lambda: MLP(64, 32, 10))
    x, y = data(128, 64, 10)
    p = plan(step, x, y, mesh=(2, 2), search_mode="ilp", profile=GOLDEN)
    spmd = lower(p)
    text = spmd.text()          # the dump right after lowering, before any later pass
    lines = [line for line in text.splitlines() if "mesh=DeviceMesh" in line]
    assert len(lines) == len(spmd.collectives) > 0
    for n, line in zip(spmd.collectives, lines):
        cause, tensor = n.attrs["cause"], n.attrs["tensor"]
        assert f"cause='{cause}'" in line and f"tensor='{tensor}'" in line
        assert cause.split()[0] in {"graph"} | {v.name for v in p.problem.ops}
    # the gradients' all-reduces before the momentum updates name the update and the op that made the gradient
    grads = [n for n in spmd.collectives if n.attrs["cause"] == "apply_momentum input 3"]
    assert grads and all(n.attrs["tensor"].split()[0] in ("matmul", "sum") for n in grads)
    # data parallel: one all_reduce per parameter gradient, tagged with the parameter
    prog = ParallelProgram(step, x, y, mesh=(4,), parallel_mode="data_parallel", profile=GOLDEN)
    tags = sorted(n.attrs["tensor"] for n in prog.spmd.collectives)
    assert tags == sorted(f"gradient of {name}" for name in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"))
    assert "tensor='gradient of fc1.weight'" in prog.spmd.text()
