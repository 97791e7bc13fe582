"""fuse_gemm_update: a matmul gradient folded into its Momentum update (one GEMM with beta = momentum).

The fused step must train exactly like PyNative (same losses and parameters within 1e-6 relative over several
steps), the optimized graph must show the fused node where the rule applies and the separate nodes where it must
not (Nesterov, a gradient used twice, an effect writing an operand in between), and the kernel's fallback path
(state it cannot update in place) must give the same numbers."""
from collections import Counter

import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, ops, Tensor, Parameter
from mindlab.frontend.jit import jit
from mindlab.kernels.cpu import mkl
from mindlab.ir.graph_json import graph_to_json, validate_graph_json
from mindlab.ir.printer import dump
from mindlab.passes import pipeline
from mindlab.passes.gemm_update import matmul_apply_momentum_p

def _rewrites():
    return ms.get_context("device_target") == "GPU" or mkl.available()


needs_rewrite = pytest.mark.skipif("not _rewrites()", reason="on the CPU the rewrite needs MKL's GEMM (the mkl wheel)")
FUSED = matmul_apply_momentum_p.name


@pytest.fixture(autouse=True)
def _graph_mode(monkeypatch):
    monkeypatch.setattr(pipeline, "CHECK", True)      # the fused node is re-typed by analysis.infer_graph
    monkeypatch.setattr(mkl, "MIN_FLOPS", 0)          # these products are tiny: fuse them anyway
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=ms.PYNATIVE_MODE)


def op_counts(graph):
    return Counter(n.op_name for g in graph.all_graphs() for n in g.nodes)


class MLP(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(20, 16)
        self.fc2 = nn.Dense(16, 4)

    def construct(self, x):
        return self.fc2(ops.relu(self.fc1(x)))


def _train(mode, steps=4, nesterov=False):
    ms.set_context(mode=mode)
    ms.set_seed(3)
    net = MLP()
    rng = np.random.default_rng(0)
    for p in net.trainable_params():
        p.set_data(Tensor(rng.standard_normal(p.shape).astype(np.float32) * 0.3))
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")),
                               nn.Momentum(net.trainable_params(), 0.1, 0.9, use_nesterov=nesterov))
    step.set_train()
    x = Tensor(rng.standard_normal((8, 20)).astype(np.float32))
    y = Tensor(rng.integers(0, 4, 8).astype(np.int32))
    losses = [float(step(x, y).asnumpy()) for _ in range(steps)]
    return losses, [p.asnumpy().copy() for p in net.trainable_params()], step, (x, y)


@needs_rewrite
def test_momentum_training_step_fuses_and_equals_pynative():
    losses, params, step, args = _train(ms.GRAPH_MODE)
    counts = op_counts(step.compiled(*args).optimized)
    assert counts[FUSED] == 2 and counts["matmul"] == 3        # two weight gradients fused; forward + dx remain
    log = [r.name for r in step.compiled(*args).pass_log if r.changed]
    assert "fuse_gemm_update" in log
    validate_graph_json(graph_to_json(step.compiled(*args).optimized, "optimized", "step"))   # views still valid
    assert FUSED in dump(step.compiled(*args).optimized)
    want_losses, want_params, _, _ = _train(ms.PYNATIVE_MODE)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-6)
    for got, want in zip(params, want_params):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


@needs_rewrite
def test_nesterov_is_left_alone():
    losses, params, step, args = _train(ms.GRAPH_MODE, nesterov=True)
    assert op_counts(step.compiled(*args).optimized)[FUSED] == 0
    want_losses, want_params, _, _ = _train(ms.PYNATIVE_MODE, nesterov=True)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-6)


def _momentum_fn(use_grad_twice=False, write_between=False):
    w = Parameter(Tensor(np.ones((3, 4), np.float32)), name="w")
    acc = Parameter(Tensor(np.zeros((3, 4), np.float32)), name="acc")
    a = Parameter(Tensor(np.arange(6, dtype=np.float32).reshape(2, 3)), name="a")

    @jit
    def update(b):
        g = ops.matmul(a.T, b)
        if write_between:
            ops.assign(a, a * 2.0)            # writes an operand of the matmul before the update
        ops.apply_momentum(w, acc, 0.5, g, 0.9)
        if use_grad_twice:
            return g
        return b

    return update, (w, acc, a)


@needs_rewrite
@pytest.mark.parametrize("case, fused", [("plain", 1), ("grad-used-twice", 0), ("operand-written-between", 0)])
def test_rewrite_applies_only_when_safe(case, fused):
    update, (w, acc, a) = _momentum_fn(case == "grad-used-twice", case == "operand-written-between")
    b = Tensor(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4))
    a0 = a.asnumpy().copy()
    update(b)
    assert op_counts(update.compiled(b).optimized)[FUSED] == fused
    grad = a0.T @ b.asnumpy()
    np.testing.assert_allclose(acc.asnumpy(), grad, rtol=1e-6)                 # accumulation = 0.9 * 0 + grad
    np.testing.assert_allclose(w.asnumpy(), 1.0 - 0.5 * grad, rtol=1e-6)


def test_kernel_falls_back_for_state_it_cannot_update_in_place():
    rng = np.random.default_rng(5)
    a, b = rng.standard_normal((6, 3)).astype(np.float32), rng.standard_normal((6, 4)).astype(np.float32)
    var0, acc0 = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    kernel = matmul_apply_momentum_p.impl["CPU"]
    results = []
    for layout in ("C", "F"):
        var, acc = np.array(var0, order=layout), np.array(acc0, order=layout)
        kernel(var, acc, np.float32(0.1), a, b, np.float32(0.9), transpose_a=True, transpose_b=False)
        results.append((var, acc))
    want_acc = 0.9 * acc0 + a.T @ b
    for var, acc in results:
        np.testing.assert_allclose(acc, want_acc, rtol=1e-6)
        np.testing.assert_allclose(var, var0 - 0.1 * want_acc, rtol=1e-5)


@needs_rewrite
def test_tiny_products_are_left_alone(monkeypatch):
    monkeypatch.setattr(mkl, "MIN_FLOPS", 1 << 22)
    losses, params, step, args = _train(ms.GRAPH_MODE, steps=1)
    assert op_counts(step.compiled(*args).optimized)[FUSED] == 0


@needs_rewrite
def test_effect_analysis_knows_what_the_fused_node_writes():
    """Only the variable and its accumulation are written: the GEMM's operands and the learning rate are not."""
    from mindlab.analysis.effects import EffectInfo
    _, _, step, args = _train(ms.GRAPH_MODE, steps=1)
    g = step.compiled(*args).optimized
    info = EffectInfo(g)
    fused = [n for sub in g.all_graphs() for n in sub.nodes if n.op_name == FUSED]
    assert fused
    for n in fused:
        var, acc, lr, a, b, mom = n.inputs
        assert info.is_written(var) and info.is_written(acc)
        assert not info.is_written(a) and not info.is_written(b) and not info.is_written(lr)
