"""``infer_graph``: abstract interpretation re-derives every node's shape/dtype; it accepts what the frontend, the
autodiff pass and every optimization pass produce, and names the node, op, source line and both abstract values
when something is inconsistent — including a broken pass, caught by ``optimize`` when ``pipeline.CHECK`` is set."""
import os
import subprocess
import sys

import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, ops, Tensor
from mindlab.analysis import infer_graph, IRCheckError
from mindlab.analysis.infer import RULES
from mindlab.frontend.jit import jit
from mindlab.ir.anf import Apply, Builtin, Constant, AbstractTuple
from mindlab.ir.clone import clone
from mindlab.ops.abstract import AbstractTensor
from mindlab import dtype as mdt
from mindlab.passes import pipeline


def control(x, y):
    z = x * y
    if ops.sum(z) > 0:
        w = ops.exp(z) * x
    else:
        w = z - x
    i = ops.sum(x) * 0
    while i < 3:
        w = w * ops.tanh(w) + y
        i = i + 1
    return ops.sum(w)


X = Tensor(np.array([0.1, 0.2, 0.3]))
Y = Tensor(np.array([1.0, 0.5, 2.0]))


def all_nodes(graph):
    return [n for g in graph.all_graphs() for n in g.nodes]


def test_accepts_parsed_optimized_and_gradient_graphs(monkeypatch):
    monkeypatch.setattr(pipeline, "CHECK", True)
    c = jit(control).compiled(X, Y)
    for g in (c.graph, c.optimized):
        env = infer_graph(g)
        for n in all_nodes(g):
            assert env[id(n)] == n.abstract
    ms.set_context(mode=ms.GRAPH_MODE)
    gf = ms.grad(control, grad_position=(0, 1))
    gf(X, Y)
    entry = next(iter(gf.graph_cache.values()))
    names = {n.op_name for n in all_nodes(entry.optimized)}
    assert {"if", "while", "while_grad"} <= names
    infer_graph(entry.graph)
    infer_graph(entry.optimized)


def test_accepts_a_training_step():
    ms.set_context(mode=ms.GRAPH_MODE)
    net = nn.SequentialCell([nn.Dense(3, 4, activation="relu"), nn.Dense(4, 2)])
    train = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), nn.Adam(net.trainable_params(), 1e-3))
    c = train.compiled(Tensor(np.ones((5, 3), np.float32)), Tensor(np.zeros((5, 2), np.float32)))
    infer_graph(c.graph)
    env = infer_graph(c.optimized)
    assert len(env) >= len(all_nodes(c.optimized))


def _compiled():
    def f(x, y):
        z = x * y
        return ops.exp(z) + y
    return jit(f).compiled(X, Y)


def test_wrong_stored_abstract_names_node_op_line_and_both_values():
    g = clone(_compiled().optimized)
    mul = next(n for n in g.nodes if n.op_name == "mul")
    mul.abstract = AbstractTensor((3,), mdt.float32)
    with pytest.raises(IRCheckError) as err:
        infer_graph(g, "after pass 'demo'")
    msg = str(err.value)
    assert msg.startswith("after pass 'demo': ")
    assert f"%{mul.id} (mul)" in msg and "test_infer.py:" in msg and "z = x * y" in msg
    assert "Float32[3]" in msg and "Float64[3]" in msg


def test_a_broken_pass_is_caught_after_that_pass(monkeypatch):
    def broken(graph):       # swaps an input for a constant of another shape, keeping the stale abstract value
        mul = next(n for n in graph.nodes if n.op_name == "mul")
        mul.inputs = (mul.inputs[0], Constant(np.ones(4), AbstractTensor((4,), mdt.float64), graph))
        return graph
    c = _compiled()
    monkeypatch.setattr(pipeline, "CHECK", True)
    steps = pipeline.PIPELINE[:2] + [("broken", broken)] + pipeline.PIPELINE[2:]
    with pytest.raises(IRCheckError, match=r"after pass 'broken': node %\d+ \(mul\).*z = x \* y.*mul's infer rule"):
        pipeline.optimize(c.graph, pipeline=steps)
    monkeypatch.setattr(pipeline, "CHECK", False)
    pipeline.optimize(c.graph, pipeline=steps)        # unchecked, the pass goes through


def test_use_before_definition_and_missing_nodes():
    g = clone(_compiled().optimized)
    g.nodes = list(reversed(g.nodes))
    with pytest.raises(IRCheckError, match="before it is computed"):
        infer_graph(g)
    g = clone(_compiled().optimized)
    exp = next(n for n in g.nodes if n.op_name == "exp")
    g.nodes.remove(exp.inputs[0])
    with pytest.raises(IRCheckError, match="neither computed in graph"):
        infer_graph(g)


def test_control_flow_signatures_are_checked():
    c = jit(control).compiled(X, Y)
    g = clone(c.optimized)
    node = next(n for n in g.nodes if n.op_name == "if")
    then_g = node.attrs["then_graph"]
    then_g.params[0].abstract = AbstractTensor((4,), mdt.float64)
    with pytest.raises(IRCheckError, match=r"\(if\).*then graph .* parameter .* is Float64\[4\] but gets"):
        infer_graph(g)
    g = clone(c.optimized)
    loop = next(n for n in g.nodes if n.op_name == "while")
    body = loop.attrs["body_graph"]
    out = body.output
    body.output = Apply(body, out.op, out.inputs[:-1], {}, AbstractTuple([i.abstract for i in out.inputs[:-1]]))
    body.nodes.append(body.output)
    with pytest.raises(IRCheckError, match=r"\(while\).*the loop body returns"):
        infer_graph(g)


def test_ops_without_a_rule_and_registered_rules():
    g = clone(_compiled().optimized)
    custom = Builtin("my_op")
    exp = next(n for n in g.nodes if n.op_name == "exp")
    exp.op = custom
    with pytest.raises(IRCheckError, match="no inference rule for op my_op"):
        infer_graph(g)
    RULES[custom] = lambda checker, node, graph, ins: ins[0]
    try:
        infer_graph(g)
    finally:
        del RULES[custom]


def test_check_flag_from_the_environment():
    code = "import mindlab.passes.pipeline as p; print(p.CHECK)"
    env = dict(os.environ, MINDLAB_CHECK_PASSES="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    env["MINDLAB_CHECK_PASSES"] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
