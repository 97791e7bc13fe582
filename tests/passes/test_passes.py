"""The optimization passes (constant folding + switch simplification, algebraic / tuple simplification, CSE) on
real programs: every compiled result equals PyNative and the unoptimized graph, the optimized graph shows each
rewrite, the pass log records it, and rewrites never cross a side effect. ``pipeline.CHECK`` is on for every test
here, so each pass's output is also re-typed by ``analysis.infer_graph``."""
from collections import Counter

import numpy as np

from .compare import host_pairs, leaves
import pytest

import mindlab as ms
from mindlab import nn, ops, Tensor, Parameter
from mindlab.frontend.jit import jit
from mindlab.ir.anf import Apply, Constant, MAKE_TUPLE, TUPLE_GETITEM
from mindlab.ir.printer import dump
from mindlab.ops.registry import Primitive
from mindlab.passes import pipeline
from mindlab.passes.closure import lift_free_variables
from mindlab.passes.dce import dce
from mindlab.passes.inline import inline
from mindlab.runtime.executor import Program

BASE = [("lift_free_variables", lift_free_variables), ("inline", inline), ("dce", dce)]
RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def _check_passes(monkeypatch):
    monkeypatch.setattr(pipeline, "CHECK", True)


def op_counts(graph):
    """op name -> number of nodes, over the graph and every graph it uses."""
    return Counter(n.op_name for g in graph.all_graphs() for n in g.nodes)


def run_unoptimized(compiled, *tensors):
    """Run the graph as parsed through the base pipeline only (closure conversion, inline, DCE)."""
    g, _ = pipeline.optimize(compiled.graph, pipeline=BASE, record=False)
    it = iter(tensors)
    arrays = [p.default._data if p.default is not None else next(it)._data for p in g.params]
    return Program(g)(*arrays)


def log_of(compiled):
    return {r.name: r for r in compiled.pass_log}


def assert_same(graph_out, eager_out, rtol=1e-6):
    for a, b in host_pairs(graph_out, eager_out):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-7, equal_nan=True)


def check_program(fn, *args):
    """Compile ``fn``; its result must equal PyNative's and the unoptimized graph's. Returns the Compiled."""
    jf = jit(fn)
    out = jf(*args)
    assert_same(out, fn(*args))
    c = jf.compiled(*args)
    assert_same(list(run_unoptimized(c, *args)), leaves(out))
    return c


def t(*shape, dtype=np.float32):
    return Tensor(RNG.normal(size=shape).astype(dtype))


# ---------------------------------------------------------------- the pipeline
def test_pipeline_order_and_log():
    def f(x):
        return ops.exp(x * 1) + ops.exp(x * 1)
    c = check_program(f, t(3))
    names = [r.name for r in c.pass_log]
    assert names[:2] == ["lift_free_variables", "inline"] and names.index("dce") > names.index("cse")
    assert names.index("fold_constants") < names.index("simplify") < names.index("cse") < names.index("dce")
    log = log_of(c)
    for name in ("simplify", "cse"):
        r = log[name]
        assert r.changed and r.nodes_after < r.nodes_before and r.before != r.after
    assert "= mul(" in log["simplify"].before and "= mul(" not in log["simplify"].after
    assert op_counts(c.optimized) == Counter({"exp": 1, "add": 1, "make_tuple": 1})


# ---------------------------------------------------------------- CSE
def test_cse_merges_equal_nodes_and_constants():
    def f(x, y):
        a = x * y
        b = x * y            # same op, same inputs
        c = ops.exp(a) + ops.exp(b)
        d = c * 2 + c * 2    # two separate Constants 2.0: merged by value
        e = ops.sum(d, axis=0) - ops.sum(d, axis=0) + ops.sum(d, axis=1).sum()
        return e, ops.transpose(d, (1, 0)) * ops.transpose(d, (1, 0))
    c = check_program(f, t(2, 3), t(2, 3))
    counts = op_counts(c.optimized)
    assert counts["mul"] == 3 and counts["exp"] == 1 and counts["transpose"] == 1
    assert counts["sum"] == 3              # axis=0 twice -> once; axis=1 and the full sum differ in attributes
    r = log_of(c)["cse"]
    assert r.nodes_after < r.nodes_before
    assert r.before.count("= exp(") == 2 and r.after.count("= exp(") == 1


def test_cse_keeps_differing_attributes_and_constants():
    def f(x):
        return ops.sum(x, axis=0, keepdims=True) + ops.sum(x, axis=0), x * 2 + x * 3, x * 2.0 + x * 2
    c = check_program(f, t(2, 2))
    counts = op_counts(c.optimized)
    assert counts["sum"] == 2
    assert counts["mul"] == 2               # *2 and *3; the 2 and 2.0 literals are the same Float32 constant


def test_cse_never_merges_random_ops():
    def f(x):
        a = ops.dropout(x, p=0.5, training=True)
        b = ops.dropout(x, p=0.5, training=True)
        return a - b
    x = Tensor(np.ones((200,), np.float32))
    out = jit(f)(x)
    assert np.any(out.asnumpy() != 0)         # two different masks
    c = jit(f).compiled(x)
    assert op_counts(c.optimized)["dropout_gen_mask"] == 2


def test_cse_and_fold_never_touch_print(capsys):
    def f(x):
        y = ops.ones_like(x)
        print("value", y)
        print("value", y)
        return x + y
    x = t(2)
    out = jit(f)(x)
    printed = capsys.readouterr().out
    assert printed.count("value") == 2
    np.testing.assert_allclose(out.asnumpy(), x.asnumpy() + 1)
    assert op_counts(jit(f).compiled(x).optimized)["print"] == 2


class _Twice(nn.Cell):
    """Reads the same weight expression before and after an assign to the weight."""

    def __init__(self):
        super().__init__()
        self.w = Parameter(Tensor(np.array([1.0, 2.0], np.float32)), name="w")

    def construct(self, x):
        before = self.w * 2
        kept = self.w * 1               # x*1 may not become w: w is written below while kept is alive
        ops.assign(self.w, self.w + x)
        after = self.w * 2              # same op and inputs as `before`, but an effect lies between
        return before, after, kept * 3


@pytest.mark.parametrize("mode", ["pynative", "graph"])
def test_rewrites_never_cross_an_effect(mode):
    if mode == "graph":
        ms.set_context(mode=ms.GRAPH_MODE)
    else:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    net = _Twice()
    x = Tensor(np.array([10.0, 20.0], np.float32))
    before, after, kept = net(x)
    np.testing.assert_allclose(before.asnumpy(), [2, 4])
    np.testing.assert_allclose(after.asnumpy(), [22, 44])
    np.testing.assert_allclose(kept.asnumpy(), [3, 6])
    np.testing.assert_allclose(net.w.asnumpy(), [11, 22])
    if mode == "graph":
        counts = op_counts(net.compiled(x).optimized)
        assert counts["mul"] == 4 and counts["assign"] == 1


# ---------------------------------------------------------------- constant folding and switch simplification
def test_fold_evaluates_constant_subgraphs():
    def f(x):
        n = ops.sum(ops.ones_like(x))          # only x's shape matters: 3.0
        k = ops.exp(ops.zeros_like(x) + n)     # all constant after that
        return x * k + ops.split(ops.ones_like(x) * 2, 1)[0]   # a multi-output op folds too
    x = t(3)
    c = check_program(f, x)
    counts = op_counts(c.optimized)
    assert counts == Counter({"mul": 1, "add": 1, "make_tuple": 1})
    r = log_of(c)["fold_constants"]
    assert r.nodes_after < r.nodes_before and "= ones_like(" in r.before and "= ones_like(" not in r.after
    mul = next(n for n in c.optimized.nodes if n.op_name == "mul")
    k = next(i for i in mul.inputs if isinstance(i, Constant))
    np.testing.assert_allclose(k.value, np.exp(np.full(3, 3.0)), rtol=1e-6)
    assert k.value.dtype == np.float32 and not k.value.flags.writeable   # folded constants are read-only
    # no pure primitive with only constant inputs is left
    assert not [n for n in c.optimized.nodes if isinstance(n.op, Primitive) and n.inputs
                and all(isinstance(i, Constant) for i in n.inputs)]


def _branchy(x):
    n = ops.sum(ops.ones_like(x))              # a constant after folding: the if is decided at compile time
    if n > 2:
        y = ops.exp(x) * 1 + 0
    else:
        y = ops.tanh(x) - 1
    return y * n


@pytest.mark.parametrize("size,kept", [(3, "exp"), (2, "tanh")])
def test_switch_simplification_inlines_the_chosen_branch(size, kept):
    x = t(size)
    c = check_program(_branchy, x)
    counts = op_counts(c.optimized)
    assert "if" not in counts and len(c.optimized.all_graphs()) == 1
    assert kept in counts and ({"exp", "tanh"} - {kept}).isdisjoint(counts)
    assert "= if(" in log_of(c)["fold_constants"].before and "= if(" not in log_of(c)["fold_constants"].after
    assert "= if(" in dump(c.graph)                          # the graph as parsed keeps its if


def test_switch_simplification_under_grad():
    x = t(3).astype(ms.float64)
    eager = ms.grad(_branchy)(x)
    ms.set_context(mode=ms.GRAPH_MODE)
    gf = ms.grad(_branchy)
    np.testing.assert_allclose(gf(x).asnumpy(), eager.asnumpy(), rtol=1e-12)
    optimized = next(iter(gf.graph_cache.values())).optimized
    assert "if" not in op_counts(optimized)                  # the forward if and the backward if both resolved


def test_tensor_if_on_inputs_is_kept_and_branches_are_optimized():
    def f(x):
        if ops.sum(x) > 0:
            y = ops.exp(x * 1) + ops.exp(x * 1)
        else:
            y = ops.reshape(x, (3,)) - ops.sum(ops.ones_like(x))
        return y
    for v in (np.array([1.0, 2.0, 3.0], np.float32), np.array([-1.0, -2.0, -3.0], np.float32)):
        c = check_program(f, Tensor(v))
    graphs = c.optimized.all_graphs()
    assert len(graphs) == 3
    then_g = next(g for g in graphs if g.kind == "then")
    else_g = next(g for g in graphs if g.kind == "else")
    assert Counter(n.op_name for n in then_g.nodes) == Counter({"exp": 1, "add": 1, "make_tuple": 1})
    assert Counter(n.op_name for n in else_g.nodes) == Counter({"sub": 1, "make_tuple": 1})


def test_loops_are_optimized_inside():
    def f(x):
        i = ops.sum(x) * 0
        while i < 3:
            x = x * 1 + ops.sum(ops.ones_like(x)) * x
            i = i + 1
        return x
    c = check_program(f, t(4))
    body = next(g for g in c.optimized.all_graphs() if g.kind == "body")
    names = Counter(n.op_name for n in body.nodes)
    assert "ones_like" not in names and "sum" not in names
    assert names["mul"] == 1                       # x*1 gone; 4.0*x stays


# ---------------------------------------------------------------- algebraic simplification
def test_algebraic_identities_vanish():
    def f(x, i):
        y = (x * 1 + 0 - 0) / 1
        y = 1 * y
        y = 0 + y
        y = -(-y)
        y = ops.transpose(y, (0, 1))
        y = ops.cast(y, ms.float32)
        y = ops.broadcast_to(y, (2, 3))
        y = ops.identity(y)
        y = ops.reshape(y, (2, 3))
        j = ops.cast(i, ms.int32) * 1
        return ops.exp(y), j + 1
    c = check_program(f, t(2, 3), Tensor(np.array([1, 2], np.int32)))
    assert op_counts(c.optimized) == Counter({"exp": 1, "add": 1, "make_tuple": 1})
    r = log_of(c)["simplify"]
    assert r.nodes_before - r.nodes_after >= 12


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_algebraic_rewrites_keep_shapes_and_dtypes():
    def f(x, i, sq):
        a = x + ops.zeros((2, 3), ms.float32)       # 0 broadcasts x up: not an identity
        b = i * 1.0                                  # Int32 * 1.0 promotes to Float32: not an identity
        c = x * 0                                    # nan * 0 is nan: never replaced by zeros
        d = ops.transpose(sq, (1, 0))                # square, but not the identity permutation
        e = ops.reshape(x, (3, 1))                   # another shape
        f64 = ops.exp(ops.cast(x, ms.float64) * 1)   # another dtype, then an identity
        return a, b, c, d, e, f64
    x = Tensor(np.array([1.0, np.nan, np.inf], np.float32))
    c = check_program(f, x, Tensor(np.array([1, 2], np.int32)), t(2, 2))
    counts = op_counts(c.optimized)
    assert counts["add"] == 1 and counts["transpose"] == 1 and counts["reshape"] == 1 and counts["cast"] == 1
    assert counts["mul"] == 2                        # i * 1.0 and x * 0 stay; the Float64 * 1 goes


def test_results_never_alias_inputs_or_each_other():
    def f(x):
        e = ops.exp(x)
        return x * 1, ops.reshape(x, (3,)) + 0, e, e * 1, ops.exp(x)
    x = Tensor(np.array([1.0, 2.0, 3.0], np.float32))
    outs = jit(f)(x)
    c = jit(f).compiled(x)
    assert_same(outs, f(x))
    assert op_counts(c.optimized)["exp"] == 2 and op_counts(c.optimized)["mul"] == 2
    ops.assign(x, Tensor(np.zeros(3, np.float32)))           # writes the caller's tensor in place
    np.testing.assert_allclose(outs[0].asnumpy(), [1, 2, 3])  # the results are not views of it
    np.testing.assert_allclose(outs[1].asnumpy(), [1, 2, 3])


def test_constant_results_are_fresh_arrays_the_caller_may_train():
    def f(x):
        return ops.ones_like(x) * 2, ops.reshape(ops.zeros_like(x), (3,))
    jf = jit(f)
    x = t(3)
    a, b = jf(x)
    assert_same((a, b), f(x))
    p, q = Parameter(a, name="p"), Parameter(b, name="q")
    nn.SGD([p, q], 0.5)((Tensor(np.ones(3, np.float32)), Tensor(np.ones(3, np.float32))))   # in place
    np.testing.assert_allclose(p.asnumpy(), [1.5] * 3)
    np.testing.assert_allclose(q.asnumpy(), [-0.5] * 3)
    a2, b2 = jf(x)                                            # the program's own values are untouched
    np.testing.assert_allclose(a2.asnumpy(), [2] * 3)
    np.testing.assert_allclose(b2.asnumpy(), [0] * 3)
    counts = op_counts(jf.compiled(x).optimized)
    assert "ones_like" not in counts and counts["mul"] == 1    # the inner constant folds, the result does not


# ---------------------------------------------------------------- a training step in GRAPH_MODE
def _mlp():
    ms.set_seed(11)
    return nn.SequentialCell([nn.Dense(4, 8, activation="relu"), nn.Dense(8, 3)])


def _train(mode, steps=4):
    ms.set_context(mode=mode)
    net = _mlp()
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    train = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), nn.Momentum(net.trainable_params(), 0.1, 0.9))
    x = Tensor(np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32))
    y = Tensor(np.array([0, 1, 2, 1, 0, 2], np.int32))
    losses = [float(train(x, y).asnumpy()) for _ in range(steps)]
    return train, losses, {p.name: p.asnumpy() for p in net.get_parameters()}, (x, y)


def test_train_one_step_cell_optimized_equals_pynative():
    _, losses_py, params_py, _ = _train(ms.PYNATIVE_MODE)
    train, losses_g, params_g, (x, y) = _train(ms.GRAPH_MODE)
    np.testing.assert_allclose(losses_g, losses_py, rtol=1e-5)
    assert losses_g[-1] < losses_g[0]
    for k in params_py:
        np.testing.assert_allclose(params_g[k], params_py[k], rtol=1e-5, atol=1e-6)
    c = train.compiled(x, y)
    opt = c.optimized
    counts = op_counts(opt)
    # every update survives (effects); with MKL the weights' updates take their matmul gradient in (gemm_update)
    assert counts["apply_momentum"] + counts["matmul+apply_momentum"] == 4
    log = log_of(c)
    assert log["fold_constants"].nodes_after < log["fold_constants"].nodes_before
    assert log["simplify"].nodes_after <= log["simplify"].nodes_before
    # what the passes promise, checked on the result
    for g in opt.all_graphs():
        for n in g.nodes:
            if isinstance(n.op, Primitive) and not n.op.effect and not n.op.random and n.inputs:
                assert not all(isinstance(i, Constant) for i in n.inputs), n      # folded
            if n.op is TUPLE_GETITEM:
                assert not (isinstance(n.inputs[0], Apply) and n.inputs[0].op is MAKE_TUPLE), n
            if n.op_name in ("reshape", "broadcast_to", "cast", "identity"):
                assert n.inputs[0].abstract != n.abstract, n
        keys = [(n.op, tuple(id(i) for i in n.inputs), repr(sorted(n.attrs.items()))) for n in g.nodes
                if isinstance(n.op, Primitive) and not n.op.effect and not n.op.random
                and not any(isinstance(i, Constant) for i in n.inputs)]
        assert len(keys) == len(set(keys))                     # no common subexpression left


def test_passes_keep_the_users_graph_unchanged():
    def f(x):
        return x * 1 + ops.sum(ops.ones_like(x))
    c = check_program(f, t(3))
    assert "= ones_like(" in dump(c.graph) and "= mul(" in dump(c.graph)
    assert "= ones_like(" not in dump(c.optimized) and "= mul(" not in dump(c.optimized)
