"""Elementwise fusion (``passes.fusion`` + ``kernels/cpu/fused.py`` + ``kernels/cpu/fastmath.py``).

Fused programs must equal PyNative: within 1e-6 relative for float32 (the transcendental approximations differ
from numpy's by a few ulp; every other operation rounds exactly as numpy does), NaN and inf where numpy has them.
The optimized graph shows one fused node per chain, the pass log shows the rewrite, gradients are unchanged, and
the vectorisable math is checked directly over dense ranges against float64 references. ``pipeline.CHECK`` is on,
so every pass's output (the fused nodes included) is re-typed by ``analysis.infer_graph``.
"""
import os
from collections import Counter

import numpy as np

from .compare import host_pairs
import pytest

import mindlab as ms
from mindlab import nn, ops, Tensor, Parameter
from mindlab.frontend.jit import jit
from mindlab.ir.anf import TUPLE_GETITEM
from mindlab.ops.dispatch import bind
from mindlab.ops.registry import REGISTRY
from mindlab.passes import pipeline
from mindlab.passes.fusion import fusion_options, fused_nodes, fuse_elementwise, OPTIONS, _input_kind
from mindlab.kernels.cpu import fastmath, fused as fused_kernels

from tests.ops.samples import all_samples

RNG = np.random.default_rng(11)
F32_TINY = np.finfo(np.float32).tiny      # below it (subnormals) results are compared absolutely


@pytest.fixture(autouse=True)
def _fuse_everything(monkeypatch):
    """Fuse groups of any size here (the default leaves tiny tensors to numpy) and re-type every pass; the same
    random inputs whichever tests run."""
    global RNG
    RNG = np.random.default_rng(11)
    monkeypatch.setattr(pipeline, "CHECK", True)
    with fusion_options(min_elements=0, min_nodes=2, enabled=True):
        yield


def op_counts(graph):
    return Counter(n.op_name for g in graph.all_graphs() for n in g.nodes)


def on_gpu():
    return ms.get_context("device_target") == "GPU"


# On a GPU the reference is cupy op by op, which flushes float32 subnormals to zero (its kernels are compiled with
# FTZ), while the fused numba-cuda kernels keep IEEE subnormals and contract a*b+c into FMAs: there the two agree to
# issue 7's 1e-5, and values below 1e-30 (subnormal intermediates flushed on one side only) count as equal.
GPU_RTOL, GPU_F32_ATOL = 1e-5, 1e-30


def assert_close(got, want, rtol=1e-6):
    for a, b in host_pairs(got, want):
        atol = F32_TINY if a.dtype == np.float32 else 0
        if on_gpu() and a.dtype == np.float32:
            rtol, atol = max(rtol, GPU_RTOL), GPU_F32_ATOL
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True)


def compile_and_compare(fn, *args, rtol=1e-6):
    """jit ``fn``; its result must equal PyNative's. Returns the Compiled specialization."""
    jf = jit(fn)
    out = jf(*args)
    assert_close(out, fn(*args), rtol)
    return jf.compiled(*args)


def magnitudes(*shape, low=-30, high=30, dtype=np.float32):
    """Random signs and magnitudes spread over 10**low .. 10**high."""
    mag = 10.0 ** RNG.uniform(low, high, size=shape)
    return (RNG.choice([-1.0, 1.0], size=shape) * mag).astype(dtype)


# ---------------------------------------------------------------- the rewrite
def _chain(x, a, b):
    return ops.tanh(x * a + b) * ops.sigmoid(x)


def test_chain_becomes_one_fused_node_and_the_log_shows_it():
    ms.set_context(device_target="CPU")    # this test reads the CPU code generator's source
    x = Tensor(RNG.normal(size=(64, 48)).astype(np.float32))
    c = compile_and_compare(_chain, x, 1.5, 0.25)
    counts = op_counts(c.optimized)
    assert counts == Counter({"fused(mul,add,tanh,sigmoid,mul)": 1, "make_tuple": 1})
    record = c.pass_log[-1]
    assert record.name == "fuse_elementwise" and pipeline.PIPELINE[-1][0] == "fuse_elementwise"
    assert "= tanh(" in record.before and "= sigmoid(" in record.before and "fused(" not in record.before
    assert "= fused(mul,add,tanh,sigmoid,mul)(" in record.after and "= tanh(" not in record.after
    assert record.nodes_after == record.nodes_before - 4
    node = fused_nodes(c.optimized)[0]
    call = node.op.impl["CPU"]
    assert "for i in range(n_rows):" in call.source and "ftanh_quotient(" in call.source
    assert "fsigmoid_quotient(" in call.source and "quotient_product(" in call.source     # one division
    assert node.op.doc == call.source and not node.op.differentiable
    assert "fused after differentiation" in node.op.bprop.reason
    # flops: the members' together; bytes: the fused kernel reads x once and writes the result once
    cost = node.op.cost(*[i.abstract for i in node.inputs])
    assert cost.flops == 64 * 48 * (1 + 1 + 10 + 10 + 1)
    assert cost.bytes == 2 * 64 * 48 * 4 + 2 * 4


def _tanh_twice(x):
    t = ops.tanh(x)
    return t * ops.sigmoid(x), t * 2.0


def test_a_product_of_quotients_divides_once_only_when_its_factors_are_used_once():
    ms.set_context(device_target="CPU")
    x = Tensor(magnitudes(300, low=-3, high=2))
    merged = fused_nodes(compile_and_compare(_chain, x, 1.5, 0.25).optimized)[0].op.impl["CPU"].source
    assert merged.count("quotient_product(") == 1 and "ftanh(" not in merged
    kept = fused_nodes(compile_and_compare(_tanh_twice, x).optimized)[0].op.impl["CPU"].source
    assert "quotient_product(" not in kept and "ftanh(" in kept and "fsigmoid(" in kept
    kept64 = fused_nodes(compile_and_compare(_chain, Tensor(x.asnumpy().astype(np.float64)), 1.5, 0.25)
                         .optimized)[0].op.impl["CPU"].source
    assert "quotient_product(" not in kept64           # float64 uses libm tanh: nothing to merge


def test_a_saturated_or_tiny_tanh_times_a_sigmoid_stays_exact():
    """tanh(u) = +-1 (|u| >= 9) or u itself (tiny u): the merged product is then the sigmoid's own value (times
    u), bit for bit as the two-division kernel computes it. (The CPU's fastmath kernels: a GPU's use libdevice.)"""
    ms.set_context(device_target="CPU")
    x = np.concatenate([np.linspace(-80, -6.2, 500), np.linspace(5.9, 80, 500)]).astype(np.float32)
    got = jit(_chain)(Tensor(x), 1.5, 0.25).asnumpy()
    np.testing.assert_array_equal(got, np.sign(x) * fastmath.evaluate("sigmoid", x))
    tiny = np.float32(1e-5) * np.linspace(-1, 1, 101, dtype=np.float32)
    got = jit(_chain)(Tensor(tiny), 1.0, 0.0).asnumpy()
    np.testing.assert_allclose(got, tiny * fastmath.evaluate("sigmoid", tiny), rtol=1.2e-7, atol=0)


def test_compiled_kernels_are_cached_by_expression():
    x = Tensor(RNG.normal(size=(300,)).astype(np.float32))
    jit(_chain)(x, 1.5, 0.25)
    before = dict(fused_kernels.KERNELS)
    out = jit(_chain)(x, -0.5, 3.0)       # a new compile of the same chain, other constants: same kernel
    jit(_chain)(Tensor(RNG.normal(size=(7, 9)).astype(np.float32)), 2.0, 1.0)   # other shape: same kernel
    assert fused_kernels.KERNELS == before
    assert_close(out, _chain(x, -0.5, 3.0))


def test_groups_smaller_than_the_thresholds_stay_unfused():
    x = Tensor(RNG.normal(size=(10,)).astype(np.float32))
    with fusion_options(min_elements=11):
        assert not fused_nodes(jit(_chain).compiled(x, 1.5, 0.25).optimized)
    with fusion_options(enabled=False):
        assert not fused_nodes(jit(_chain).compiled(x, 1.5, 0.25).optimized)
    assert OPTIONS.enabled and OPTIONS.min_elements == 0     # restored on exit
    assert len(fused_nodes(jit(_chain).compiled(x, 1.5, 0.25).optimized)) == 1
    single = jit(lambda t: ops.exp(t)).compiled(x).optimized  # one op: numpy's ufunc is one pass already
    assert not fused_nodes(single) and op_counts(single)["exp"] == 1


# ---------------------------------------------------------------- values
def _activations(x, y):
    return ops.relu(x) * ops.sigmoid(y) + ops.square(x)


def _logs(x, y):
    return ops.log(ops.abs(x) + 1e-3) / (y * y + 1)


def _exps(x, y):
    return ops.exp(-ops.abs(x)) * y, ops.exp(ops.minimum(x, 80.0)) * 0.5


def _picks(x, y):
    return ops.select(x > y, ops.sqrt(ops.abs(x)), ops.reciprocal(y)), ops.maximum(x, y) * ops.minimum(x, 0.5)


def _powers(x, y):
    return ops.pow(x, 3) + x, ops.pow(ops.abs(x), 2.5) * ops.rsqrt(ops.abs(y) + 1), -ops.pow(x, 2) / y


@pytest.mark.parametrize("fn", [_chain, _activations, _logs, _exps, _picks, _powers])
def test_fused_equals_pynative_over_large_and_small_magnitudes(fn):
    x = magnitudes(512, 64, low=-20, high=20)
    y = magnitudes(512, 64, low=-6, high=6)
    args = (Tensor(x), 1.5, 0.25) if fn is _chain else (Tensor(x), Tensor(y))
    with np.errstate(over="ignore"):       # x**2 and x**2.5 of 1e20 overflow to inf, in both programs
        c = compile_and_compare(fn, *args)
    assert fused_nodes(c.optimized) and not any(op in op_counts(c.optimized)
                                                for op in ("mul", "tanh", "exp", "log", "select", "pow"))


@pytest.mark.parametrize("fn", [_chain, _activations, _logs, _exps, _picks, _powers])
def test_nan_inf_zero_and_subnormals_propagate_as_in_numpy(fn):
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 1e-38, 3e38, -3e38, 88.7, -88.7,
                        104.0, -104.0, 1.0, -1.0, 0.5, 20.0], np.float32)
    if on_gpu():
        # cupy flushes float32 subnormals to zero, inputs and intermediates alike: 1e-45 * inf and
        # sigmoid(-88.7) * inf (sigmoid(-88.7) = 3e-39) are nan there and inf in the fused kernels, which keep
        # IEEE subnormals (measured on an H100). Those specials probe exactly that boundary: not compared here.
        flushed = (np.abs(special) < np.finfo(np.float32).tiny) & (special != 0)
        special = special[~(flushed | (np.abs(special) == np.float32(88.7)))]
    x = np.repeat(special, special.size)
    y = np.tile(special, special.size)
    args = (Tensor(x), 1.5, 0.25) if fn is _chain else (Tensor(x), Tensor(y))
    with np.errstate(all="ignore"):
        c = compile_and_compare(fn, *args)
    assert fused_nodes(c.optimized)


def test_float64_chains_match_to_libm_accuracy():
    x = Tensor(RNG.normal(scale=3, size=(200, 10)))
    y = Tensor(RNG.normal(size=(200, 10)))
    for fn in (_activations, _logs, _exps, _picks):
        c = compile_and_compare(fn, x, y, rtol=1e-13)
        assert fused_nodes(c.optimized)
    compile_and_compare(_chain, x, 1.5, 0.25, rtol=1e-13)


def test_integer_and_bool_dtypes_follow_numpy():
    i = Tensor(RNG.integers(-100, 100, size=(40, 5)).astype(np.int32))
    b = Tensor(RNG.normal(size=(40, 5)) > 0)

    def f(i, b):
        wrapped = ops.cast(i * 3 - 7, ms.int8) * 2            # int8 wraps around, as numpy's does
        mixed = ops.exp(ops.cast(i, ms.float32) / 50) + i     # int32 with float32 -> float32
        flags = ops.logical_or(ops.logical_and(b, i > 0), ops.logical_not(b))
        return wrapped, mixed, flags, ops.select(flags, i, -i) // 1
    c = compile_and_compare(f, i, b)
    assert len(fused_nodes(c.optimized)) >= 2


# ---------------------------------------------------------------- broadcasting
@pytest.mark.parametrize("rows,cols", [(32, 16), (600, 256)])   # the second is cut into chunks, one per thread
def test_scalar_and_row_inputs_broadcast_inside_the_kernel(rows, cols):
    ms.set_context(device_target="CPU")    # this test reads the CPU code generator's source
    x = Tensor(RNG.normal(size=(rows, cols)).astype(np.float32))
    bias = Tensor(RNG.normal(size=(cols,)).astype(np.float32))
    row = Tensor(RNG.normal(size=(1, cols)).astype(np.float32))
    scale = Tensor(np.array([2.5], np.float32))
    one = Tensor(np.ones((1, 1), np.float32))

    def f(x, bias, row, scale, one):
        return ops.relu(x * scale + bias) * row - one

    c = compile_and_compare(f, x, bias, row, scale, one)
    assert op_counts(c.optimized) == Counter({"fused(mul,add,relu,mul,sub)": 1, "make_tuple": 1})
    call = fused_nodes(c.optimized)[0].op.impl["CPU"]
    assert "for j in range(n_cols):" in call.source and "[j]" in call.source and "[0]" in call.source
    assert call.chunks == (fused_kernels.CHUNKS_PER_THREAD * fused_kernels.THREADS if rows * cols > 100_000 else 1)


def test_other_broadcasts_stay_outside_the_group():
    x = Tensor(RNG.normal(size=(8, 6)).astype(np.float32))
    col = Tensor(RNG.normal(size=(8, 1)).astype(np.float32))

    def f(x, col):
        return ops.exp(x * 2) * col              # (8, 1) against (8, 6): not a scalar, not a row
    c = compile_and_compare(f, x, col)
    counts = op_counts(c.optimized)
    assert counts["fused(mul,exp)"] == 1 and counts["mul"] == 1
    small = Tensor(RNG.normal(size=(6,)).astype(np.float32))   # (6,) grows to (8, 6): its own group's shape

    def g(s, x):
        return ops.exp(s * 2) * x * 3
    c = compile_and_compare(g, small, x)
    counts = op_counts(c.optimized)
    assert counts["fused(mul,exp)"] == 1 and counts["fused(mul,mul)"] == 1


# ---------------------------------------------------------------- graph structure
def test_values_used_outside_the_group_become_tuple_outputs():
    x = Tensor(RNG.normal(size=(50, 4)).astype(np.float32))

    def f(x):
        y = ops.exp(x) * 2
        z = y + 1
        return y, ops.sum(z), ops.tanh(z)
    c = compile_and_compare(f, x)
    (node,) = fused_nodes(c.optimized)
    assert node.op.name == "fused(exp,mul,add,tanh)" and node.op.outputs == 3
    getters = [n for n in c.optimized.nodes if n.op is TUPLE_GETITEM and n.inputs[0] is node]
    assert sorted(n.attrs["index"] for n in getters) == [0, 1, 2]


def test_softmax_like_chains_are_split_instead_of_making_a_cycle():
    x = Tensor(RNG.normal(size=(40, 10)).astype(np.float32))

    def f(x):
        e = ops.exp(x - 1)
        return e / ops.sum(e) * 2          # the division needs sum(e), which needs e: two groups
    c = compile_and_compare(f, x)
    counts = op_counts(c.optimized)
    assert counts["fused(sub,exp)"] == 1 and counts["fused(div,mul)"] == 1


def test_dependencies_through_other_groups_never_make_a_cycle():
    a = Tensor(RNG.normal(size=(12, 12)).astype(np.float32))
    b = Tensor(RNG.normal(size=(12, 12)).astype(np.float32))
    w = Tensor(RNG.uniform(0.5, 1, size=(12, 12)).astype(np.float32))   # positive: the matmul does not cancel

    def f(a, b, w):
        x1 = ops.exp(a) * 2                # group X
        e = ops.matmul(x1, w)              # outside both groups, depends on X
        y1 = ops.tanh(b) * 2               # group Y ...
        y2 = y1 * e                        # ... which now depends on X through e
        z = x1 * y1                        # joining X would make X need Y and Y need X
        return y2, z
    c = compile_and_compare(f, a, b, w)
    assert len(fused_nodes(c.optimized)) == 2
    assert op_counts(c.optimized)["matmul"] == 1


def test_groups_never_span_an_effect():
    class Twice(nn.Cell):
        def __init__(self):
            super().__init__()
            self.w = Parameter(Tensor(np.array([1.0, 2.0, 3.0], np.float32)), name="w")

        def construct(self, x):
            before = ops.exp(self.w * 0) * self.w + 1     # reads w before the update ...
            ops.assign(self.w, self.w + x)
            after = ops.exp(self.w * 0) * self.w + 1      # ... and after it: same ops, different values
            return before * 1, after
    ms.set_context(mode=ms.GRAPH_MODE)
    net = Twice()
    before, after = net(Tensor(np.array([10.0, 20.0, 30.0], np.float32)))
    np.testing.assert_allclose(before.asnumpy(), [2, 3, 4])
    np.testing.assert_allclose(after.asnumpy(), [12, 23, 34])
    c = net.compiled(Tensor(np.array([10.0, 20.0, 30.0], np.float32)))
    assert len(fused_nodes(c.optimized)) >= 2 and op_counts(c.optimized)["assign"] == 1


def test_random_ops_are_never_fused():
    class Noisy(nn.Cell):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(p=0.5)

        def construct(self, x):
            return self.drop(ops.exp(x * 0)) * 3 + 1
    ms.set_context(mode=ms.GRAPH_MODE)
    net = Noisy()
    net.set_train(True)
    x = Tensor(np.ones((64, 64), np.float32))
    out = net(x).asnumpy()
    assert set(np.unique(out)) <= {1.0, 7.0} and 0.3 < (out == 1).mean() < 0.7
    counts = op_counts(net.compiled(x).optimized)
    assert counts["dropout_gen_mask"] == 1 and any(op.startswith("fused(") for op in counts)


def test_fused_graph_under_control_flow():
    x = Tensor(RNG.normal(size=(30,)).astype(np.float32))

    def f(x):
        if ops.sum(x) > 0:
            y = ops.tanh(x * 2) + 1
        else:
            y = ops.sigmoid(x) * 3
        k = 0
        while k < 3:
            y = ops.exp(-ops.abs(y)) * y + 0.5
            k = k + 1
        return y
    compile_and_compare(f, x)
    compile_and_compare(f, -x)


# ---------------------------------------------------------------- gradients
def _loss(x, w):
    h = ops.tanh(x * w + 0.5) * ops.sigmoid(x)
    return ops.sum(ops.relu(h - 0.1) * h + ops.exp(-x * x))


@pytest.mark.parametrize("dtype,rtol,atol", [(np.float64, 1e-10, 1e-12), (np.float32, 1e-5, 1e-5)])
def test_gradients_in_graph_mode_match_pynative_after_fusion(dtype, rtol, atol):
    """Gradient entries sum terms of both signs (and ``1 - tanh^2`` cancels where tanh saturates), so a few-ulp
    difference in float32 tanh / exp shows up absolutely: atol against terms of size up to ~10 (measured over 12
    seeds: at most 1.6e-6), as it would between any two libraries' tanh. float64 (libm) agrees to 1e-13."""
    x = Tensor(RNG.normal(size=(64, 32)).astype(dtype))
    w = Tensor(RNG.normal(size=(64, 32)).astype(dtype))
    eager = ms.grad(_loss, grad_position=(0, 1))(x, w)
    ms.set_context(mode=ms.GRAPH_MODE)
    gf = ms.grad(_loss, grad_position=(0, 1))
    graph = gf(x, w)
    for g, e in zip(graph, eager):
        np.testing.assert_allclose(g.asnumpy(), e.asnumpy(), rtol=rtol, atol=atol)
    optimized = next(iter(gf.graph_cache.values())).optimized
    fused = fused_nodes(optimized)
    assert fused and "tanh" not in op_counts(optimized)
    assert any(n.op.outputs > 1 for n in fused)   # forward values kept for the backward pass leave the group


def test_training_step_matches_pynative_with_fused_bias_and_relu():
    def run(mode):
        ms.set_context(mode=mode)
        ms.set_seed(3)
        net = nn.SequentialCell([nn.Dense(20, 32, activation="relu"), nn.Dense(32, 5)])
        step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.MSELoss()), nn.Momentum(net.trainable_params(), 0.1, 0.9))
        data = np.random.default_rng(5)
        x = Tensor(data.normal(size=(16, 20)).astype(np.float32))
        y = Tensor(data.normal(size=(16, 5)).astype(np.float32))
        losses = [float(step(x, y).asnumpy()) for _ in range(3)]
        return losses, [p.asnumpy() for p in net.trainable_params()], step
    eager_losses, eager_params, _ = run(ms.PYNATIVE_MODE)
    graph_losses, graph_params, step = run(ms.GRAPH_MODE)
    np.testing.assert_allclose(graph_losses, eager_losses, rtol=1e-5)
    for g, e in zip(graph_params, eager_params):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- every fuse rule against its primitive's kernel
def _fuse_cases():
    samples = all_samples()
    for name, prim in sorted(REGISTRY.items()):
        if prim.fuse is None:
            continue
        for k, case in enumerate(samples.get(name, [])):
            yield pytest.param(name, case, id=f"{name}-{k}")


@pytest.mark.parametrize("name,case", list(_fuse_cases()))
def test_every_fuse_rule_matches_the_primitives_kernel(name, case):
    """One node per kernel (min_nodes=1): float32 versions of the registry's sample inputs (the fast path)."""
    prim = REGISTRY[name]
    inputs = [Tensor(a.astype(np.float32) if a.dtype == np.float64 else a) for a in map(np.asarray, case.inputs)]

    def one(*ts):
        return bind(prim, *ts, **case.attrs)
    with fusion_options(min_nodes=1):
        jf = jit(one)
        out = jf(*inputs)
        c = jf.compiled(*inputs)
    want = prim.impl["CPU"](*[t.asnumpy() for t in inputs], **case.attrs)
    node = next(n for n in c.optimized.nodes if n.op_name not in ("make_tuple",))
    if fused_nodes(c.optimized):
        assert node.op.name == f"fused({name})"
    elif all(_input_kind(t.shape, node.abstract.shape) for t in inputs):
        # a rule may decline some operands (pow of integers, the erf form of gelu...)
        assert callable(prim.fuse) and prim.fuse(*[fused_kernels.FuseArg("a", t.dtype.np) for t in inputs],
                                                 out=fused_kernels.scalar_type_name(node.abstract.dtype.np),
                                                 **case.attrs) is None
    # else: a broadcast other than scalar / row (e.g. (3, 1) with (1, 4)) stays unfused
    got = out.asnumpy()
    want = np.asarray(want, dtype=got.dtype)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=F32_TINY, equal_nan=True)


def test_fuse_rules_are_only_on_pure_single_output_primitives():
    with_rule = [p for p in REGISTRY.values() if p.fuse is not None]
    assert len(with_rule) >= 30
    for p in with_rule:
        assert not p.effect and not p.random and p.outputs == 1, p.name
    with pytest.raises(ValueError, match="only pure single-output"):
        ms.ops.registry.defprim("bad_fused_effect", infer=lambda x: x, cpu=lambda x: x, bprop=lambda *a: None,
                                cost=lambda *a: None, effect=True, fuse="{0}")


def test_pass_is_a_no_op_on_a_device_without_a_kernel_builder(monkeypatch):
    from mindlab import context
    from mindlab.passes.fusion import BUILDERS
    x = Tensor(RNG.normal(size=(20,)).astype(np.float32))
    g = jit(_chain).compiled(x, 1.5, 0.25).graph
    opt, _ = pipeline.optimize(g, pipeline=pipeline.PIPELINE[:-1], record=False)
    real = context.get_context
    monkeypatch.setattr(context, "get_context", lambda key: "NoSuchDevice" if key == "device_target" else real(key))
    assert "NoSuchDevice" not in BUILDERS and not fused_nodes(fuse_elementwise(opt))


# ---------------------------------------------------------------- the vectorisable math itself
def _ulps(got, ref):
    """Error of float32 results against float64 references, in float32 ulps of the reference and relative."""
    ref32 = ref.astype(np.float32)
    ok = np.isfinite(ref) & (np.abs(ref) >= F32_TINY) & np.isfinite(ref32)
    spacing = np.spacing(np.abs(ref32[ok])).astype(np.float64)
    err = np.abs(got[ok].astype(np.float64) - ref[ok])
    return (err / spacing).max(), (err / np.abs(ref[ok])).max()


def _dense(lo, hi, n=2_000_001):
    return np.linspace(lo, hi, n, dtype=np.float64).astype(np.float32)


def _sigmoid64(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@pytest.mark.parametrize("name,ref,points,max_ulp", [
    ("exp", np.exp, [_dense(-104, 89), _dense(-1, 1)], 1.5),
    ("log", np.log, [_dense(1e-6, 10), _dense(0.5, 2), np.abs(magnitudes(2_000_000, low=-44, high=38))], 1.0),
    ("tanh", np.tanh, [_dense(-12, 12), _dense(-0.01, 0.01), magnitudes(1_000_000, low=-40, high=1)], 5.0),
    ("sigmoid", _sigmoid64, [_dense(-110, 30), _dense(-1, 1)], 3.0),
])
def test_float32_approximations_over_dense_ranges(name, ref, points, max_ulp):
    for x in points:
        x = x[np.abs(x) > 0] if name == "log" else x
        with np.errstate(over="ignore", under="ignore"):
            ulp, rel = _ulps(fastmath.evaluate(name, x), ref(x.astype(np.float64)))
        assert ulp <= max_ulp and rel <= 1e-6, (name, ulp, rel)


def test_float32_approximations_at_special_values():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 3.4e38, -3.4e38, 88.72, 88.73, -87.4,
                  -103.9, -104.5, 7.9, 9.5, -9.5], np.float32)
    with np.errstate(all="ignore"):
        exp = fastmath.evaluate("exp", x)
        np.testing.assert_array_equal(np.isnan(exp), np.isnan(x))
        np.testing.assert_allclose(exp, np.exp(x.astype(np.float64)).astype(np.float32), rtol=2e-7, atol=F32_TINY)
        log = fastmath.evaluate("log", x)
        np.testing.assert_allclose(log, np.log(x), rtol=2e-7, equal_nan=True)
        assert log[3] == -np.inf and log[4] == -np.inf and np.isnan(log[5 + 1]) and log[1] == np.inf
        tanh = fastmath.evaluate("tanh", x)
        np.testing.assert_allclose(tanh, np.tanh(x), rtol=5e-7, equal_nan=True)
        assert tanh[1] == 1 and tanh[2] == -1 and tanh[15] == 1 and tanh[16] == -1
        sig = fastmath.evaluate("sigmoid", x)
        np.testing.assert_allclose(sig, _sigmoid64(x.astype(np.float64)), rtol=5e-7, atol=F32_TINY,
                                   equal_nan=True)
        assert sig[1] == 1 and sig[2] == 0 and sig[3] == 0.5
    assert np.signbit(fastmath.evaluate("tanh", x)[4])          # tanh(-0) = -0


@pytest.mark.parametrize("name,ref", [("exp", np.exp), ("log", np.log), ("tanh", np.tanh),
                                      ("sigmoid", _sigmoid64)])
def test_float64_functions_are_libm_accurate(name, ref):
    x = np.linspace(-700 if name != "log" else 1e-300, 700, 1_000_001)
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(fastmath.evaluate(name, x), ref(x), rtol=1e-15, atol=1e-300)
    special = np.array([np.nan, np.inf, -np.inf, 0.0])
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(fastmath.evaluate(name, special), ref(special), equal_nan=True)


def test_generic_math_dispatches_on_dtype_and_has_a_numpy_fallback():
    x = np.linspace(-3, 3, 101)
    assert fastmath.evaluate("tanh", x).dtype == np.float64
    assert fastmath.evaluate("tanh", x.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(fastmath.fsigmoid(x), _sigmoid64(x), rtol=1e-15)   # outside numba: numpy
    with pytest.raises(TypeError, match="float32 or float64"):
        fastmath.evaluate("exp", np.arange(3))


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2
                    or fused_kernels.THREADS < 2, reason="needs two CPUs and the fused kernels' thread pool")
def test_large_kernels_keep_their_pool_threads_off_the_calling_threads_cpu():
    ms.set_context(device_target="CPU")
    before = os.sched_getaffinity(0)
    x = Tensor(RNG.normal(size=1 << 20).astype(np.float32))
    c = compile_and_compare(_chain, x, 1.5, 0.25)
    call = fused_nodes(c.optimized)[0].op.impl["CPU"]
    assert call.chunks > 1                                   # big enough to run on the pool
    assert os.sched_getaffinity(0) == before                 # the caller's own affinity is restored
    for _ in range(5):   # the OS may move the calling thread between the reads: a few tries, one must agree
        placement = fused_kernels._caller_placement()
        call(x.asnumpy(), np.float32(1.5), np.float32(0.25))
        pool_cpus = fused_kernels._threads().submit(os.sched_getaffinity, 0).result()
        if pool_cpus == before - {placement[0]} and fused_kernels._getcpu() == placement[0]:
            break
    assert pool_cpus == before - {placement[0]} or fused_kernels._getcpu() != placement[0]
