"""``set_auto_parallel_context`` applied to plain GRAPH_MODE calls (mindlab.parallel.auto): a TrainOneStepCell called
as on one device is planned, lowered and run on the in-process mesh; five steps of an MLP and of a transformer block
(multi-head attention + MLP + layer norm from nn) equal single-device training to 1e-5 for every search mode and
for data parallelism on 2, 4 and 8 devices; the plan is cached with the compiled program and published to the
Inspector."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor
from mindlab.jupyter import events
from mindlab.jupyter.inspector import Inspector

from .nets import MLP, DropoutMLP, TransformerBlock, train_step, data, parallel_graph_mode

TOL = dict(rtol=1e-5, atol=1e-5)
STEPS = 5
MODES = [("data_parallel", None), ("semi_auto_parallel", None), ("auto_parallel", "sharding_propagation"),
         ("auto_parallel", "dynamic_programming"), ("auto_parallel", "ilp")]


pytestmark = pytest.mark.usefixtures("parallel_graph_mode")   # GRAPH_MODE, fresh auto-parallel context


def _params(net):
    return {p.name: p.asnumpy().copy() for p in net.get_parameters()}


def _single_device(make, x, y):
    net, step = train_step(make)
    losses = [float(step(x, y).asnumpy()) for _ in range(STEPS)]
    return losses, _params(net)


def _context(mode, search, n, mesh_shape=None):
    opts = dict(parallel_mode=mode, device_num=n, gradients_mean=True)
    if search:
        opts["search_mode"] = search
    if mesh_shape:
        opts["mesh_shape"] = mesh_shape
    ms.set_auto_parallel_context(**opts)


def _check(make, x, y, ref, mode, search, n, mesh_shape=None):
    ref_losses, ref_params = ref
    _context(mode, search, n, mesh_shape)
    net, step = train_step(make)
    losses = [float(step(x, y).asnumpy()) for _ in range(STEPS)]
    np.testing.assert_allclose(losses, ref_losses, **TOL)
    got = _params(net)
    assert got.keys() == ref_params.keys()
    for name, want in ref_params.items():
        np.testing.assert_allclose(got[name], want, **TOL, err_msg=name)
    # planned once, then the cached program ran the other steps, on n devices
    info = step.__dict__["_jit_construct"].parallel_info()
    assert info == {"plans": 1, "hits": STEPS - 1, "size": 1}
    assert step.parallel_program.mesh.size == n
    assert step.parallel_plan.parallel_mode == mode
    return step


@pytest.fixture(scope="module")
def mlp_case():
    ms.reset_auto_parallel_context()
    ms.set_context(mode=ms.GRAPH_MODE)
    x, y = data(64, 64, 10)
    return x, y, _single_device(lambda: MLP(64, 32, 10), x, y)


@pytest.fixture(scope="module")
def block_case():
    ms.reset_auto_parallel_context()
    ms.set_context(mode=ms.GRAPH_MODE)
    x, y = data(8, None, 10, image=(8, 32))
    return x, y, _single_device(TransformerBlock, x, y)


@pytest.mark.parametrize("n", [2, 4, 8])
@pytest.mark.parametrize("mode, search", MODES)
def test_mlp_training_under_the_context_equals_single_device(mlp_case, mode, search, n):
    x, y, ref = mlp_case
    _check(lambda: MLP(64, 32, 10), x, y, ref, mode, search, n, mesh_shape=(n,) if n == 8 else None)


@pytest.mark.parametrize("n", [2, 4, 8])
@pytest.mark.parametrize("mode, search", MODES)
def test_transformer_block_training_under_the_context_equals_single_device(block_case, mode, search, n):
    x, y, ref = block_case
    step = _check(TransformerBlock, x, y, ref, mode, search, n, mesh_shape=(n,))
    if mode == "auto_parallel":
        # the lowered program is really distributed: its collectives are IR nodes
        assert step.parallel_program.spmd.collectives


def test_a_two_dimensional_mesh_from_device_num(mlp_case):
    x, y, ref = mlp_case
    step = _check(lambda: MLP(64, 32, 10), x, y, ref, "auto_parallel", "dynamic_programming", 4)
    assert step.parallel_plan.mesh.shape == (2, 2)       # 4 devices factored into mesh axes


def test_the_plan_is_cached_with_the_compiled_program_and_replanned_when_the_context_changes():
    x, y = data(32, 64, 10)
    ms.set_auto_parallel_context(parallel_mode="auto_parallel", device_num=4, search_mode="dynamic_programming")
    net, step = train_step(lambda: MLP(64, 32, 10))
    step(x, y)
    jf = step.__dict__["_jit_construct"]
    first = step.parallel_plan
    step(x, y)
    assert jf.parallel_info() == {"plans": 1, "hits": 1, "size": 1}
    assert step.parallel_plan is first
    compiled = step.compiled(x, y)                        # the full-shape specialization carries its plan
    assert compiled.plan is first and compiled.parallel is step.parallel_program
    assert first.to_json()["mesh"]["shape"] == [2, 2]
    # another search mode is another plan; a new input shape too
    ms.set_auto_parallel_context(search_mode="ilp")
    step(x, y)
    assert jf.parallel_info()["plans"] == 2 and step.parallel_plan is not first
    x2, y2 = data(16, 64, 10)
    step(x2, y2)
    assert jf.parallel_info() == {"plans": 3, "hits": 1, "size": 3}
    # stand_alone runs on one device again: nothing planned
    ms.set_auto_parallel_context(parallel_mode="stand_alone")
    misses = jf.cache_info()["misses"]
    step(x, y)
    assert jf.parallel_info()["plans"] == 3 and jf.cache_info()["misses"] == misses


def test_stand_alone_and_one_device_run_as_before():
    x, y = data(32, 64, 10)
    for opts in ({}, {"parallel_mode": "auto_parallel", "device_num": 1}):
        ms.reset_auto_parallel_context()
        ms.set_auto_parallel_context(**opts)
        net, step = train_step(lambda: MLP(64, 32, 10))
        step(x, y)
        assert step.__dict__["_jit_construct"].parallel_info()["plans"] == 0
        assert step.parallel_plan is None


def test_a_forward_cell_and_a_jit_function_run_distributed():
    ms.set_seed(2)
    net = MLP(64, 32, 10)
    x, _ = data(32, 64, 10)
    want = net(x).asnumpy()
    before = _params(net)
    ms.set_auto_parallel_context(parallel_mode="auto_parallel", device_num=4, search_mode="ilp")
    got = net(x)
    np.testing.assert_allclose(got.asnumpy(), want, **TOL)
    assert net.parallel_program.rank_outputs.keys() == {0, 1, 2, 3}
    for k, v in _params(net).items():                     # inference leaves the weights alone
        np.testing.assert_array_equal(v, before[k])

    @ms.jit
    def f(a, b):
        return ms.ops.matmul(ms.ops.tanh(a), b)
    a = Tensor(np.random.default_rng(0).standard_normal((16, 8)).astype(np.float32))
    b = Tensor(np.random.default_rng(1).standard_normal((8, 4)).astype(np.float32))
    np.testing.assert_allclose(f(a, b).asnumpy(), np.tanh(a.asnumpy()) @ b.asnumpy(), **TOL)
    assert f.parallel_info()["plans"] == 1


def test_weights_changed_between_calls_are_picked_up():
    x, y = data(32, 64, 10)
    ref_net, ref_step = train_step(lambda: MLP(64, 32, 10))
    ms.set_auto_parallel_context(parallel_mode="auto_parallel", device_num=2, search_mode="dynamic_programming")
    net, step = train_step(lambda: MLP(64, 32, 10))
    step(x, y)
    new = np.full(net.fc1.weight.shape, 0.01, np.float32)
    net.fc1.weight.set_data(Tensor(new))
    loss = float(step(x, y).asnumpy())
    ms.reset_auto_parallel_context()
    ref_step(x, y)
    ref_net.fc1.weight.set_data(Tensor(new))
    np.testing.assert_allclose(loss, float(ref_step(x, y).asnumpy()), **TOL)


def test_each_plan_is_published_to_the_inspector():
    seen = []
    fn = events.subscribe(seen.append)
    lines = []
    insp = Inspector(echo=lines.append)
    insp.start()
    try:
        x, y = data(32, 64, 10)
        ms.set_auto_parallel_context(parallel_mode="auto_parallel", device_num=4, search_mode="ilp")
        net, step = train_step(lambda: MLP(64, 32, 10))
        step(x, y)
        step(x, y)
    finally:
        insp.stop()
        events.unsubscribe(fn)
    plans = [e for e in seen if e.kind == "plan"]
    assert len(plans) == 1                                # the second call reused the plan
    assert plans[0].payload["plan"] is step.parallel_plan and plans[0].payload["target"] == "TrainOneStepCell"
    (record,) = [r for r in insp.records if r["kind"] == "plan"]
    summary = record["summary"]
    assert summary["search_mode"] == "ilp" and summary["mesh"] == [2, 2] and summary["name"] == "TrainOneStepCell"
    strategies = {c["id"]: c for c in summary["choices"]}
    doc = step.parallel_plan.to_json()
    assert {o["id"] for o in doc["ops"]} == set(strategies)
    for o in doc["ops"]:
        assert strategies[o["id"]]["strategy"] == o["strategy"] and strategies[o["id"]]["why"] == o["reason"]
    assert summary["cost"]["total"] == pytest.approx(step.parallel_plan.cost["total"])
    assert any(line.startswith(f"[mindlab] #{record['seq']} planned TrainOneStepCell on mesh (2, 2) "
                               f"(auto_parallel, ilp)") for line in lines)

    class FakeComm:
        def __init__(self):
            self.sent = []

        def send(self, msg):
            self.sent.append(msg)
    comm = FakeComm()
    insp.handle(comm, {"request": "plan", "seq": record["seq"]})
    assert comm.sent[-1]["type"] == "plan" and comm.sent[-1]["doc"] == doc
    # the planned graph, whose node ids the plan's ops name
    insp.handle(comm, {"request": "graph", "seq": record["seq"], "stage": "planned"})
    graph = comm.sent[-1]
    assert graph["type"] == "graph" and graph["stage"] == "planned"
    ids = {n["id"] for n in graph["doc"]["nodes"]}
    assert all(o["node"] in ids for o in doc["ops"])


@pytest.mark.parametrize("search, n", [("dynamic_programming", 4), ("ilp", 2), ("sharding_propagation", 8)])
def test_dropout_masks_on_the_ranks_are_slices_of_the_single_device_mask(search, n):
    x, y = data(64, 64, 10)
    ms.set_seed(5)
    ref_net, ref_step = train_step(DropoutMLP)
    ms.set_seed(11)                      # the masks: the same generator state for both runs
    ref_losses = [float(ref_step(x, y).asnumpy()) for _ in range(3)]
    after_ref = float(ms.ops.dropout(Tensor(np.ones((4, 4), np.float32)), p=0.5).asnumpy().sum())
    ms.set_seed(5)
    net, step = train_step(DropoutMLP)
    ms.set_auto_parallel_context(parallel_mode="auto_parallel", device_num=n, search_mode=search, mesh_shape=(n,))
    ms.set_seed(11)
    losses = [float(step(x, y).asnumpy()) for _ in range(3)]
    np.testing.assert_allclose(losses, ref_losses, **TOL)
    for a, b in zip(net.get_parameters(), ref_net.get_parameters()):
        np.testing.assert_allclose(a.asnumpy(), b.asnumpy(), **TOL, err_msg=a.name)
    masks = [nd for nd in step.parallel_program.spmd.graph.nodes if nd.op.name == "dropout_gen_mask_slice"]
    assert len(masks) == 1
    # the global generator advanced exactly as on one device
    ms.reset_auto_parallel_context()
    assert float(ms.ops.dropout(Tensor(np.ones((4, 4), np.float32)), p=0.5).asnumpy().sum()) == after_ref
