"""Bugs found by the generated-program fuzzer (tests/fuzz), each kept as the smallest program that showed it."""
import inspect
import warnings

import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor, ops

from .generator import GenProgram
from .runner import check


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fuzzregress"))


def _run(src, inputs, progdir, kind="function"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return check(GenProgram(source=src, kind=kind, inputs=inputs, seed=0), progdir)


# gelu / gelu_grad on a 0-d tensor crashed in the kernel ("return arrays must be of ArrayType": 0-d arithmetic gives a
# numpy scalar, which np.erf/np.tanh(out=...) cannot write into). Fixed in mindlab/ops/prims/math_ops.py.
GELU_SCALAR = """from mindlab import ops

def f(x0):
    return ops.gelu(x0) + ops.gelu(x0 * 2.0, approximate="tanh")
"""


def test_gelu_on_0d_tensor(progdir):
    assert _run(GELU_SCALAR, [()], progdir) is None
    x = Tensor(np.float32(0.3))
    from scipy.special import erf
    np.testing.assert_allclose(ops.gelu(x).asnumpy(), 0.5 * 0.3 * (1 + erf(0.3 / np.sqrt(2))), rtol=1e-6)
    g = ms.grad(lambda t: ops.gelu(t, approximate="tanh"))(x)
    assert g.shape == () and abs(float(g.asnumpy()) - 0.7322955) < 1e-5


# Grad of grad through a `while` loop on a tensor: GRAPH_MODE could not differentiate the loop's backward node
# (while_grad) again — first an internal message, then a clear refusal. Now while_grad has its own VJP
# (while_grad_grad: the backward loop rerun, then a forward sweep through the twice-differentiated body, its stack
# cotangent handed to the recorded loop's while_grad), so the Hessian-vector product agrees with PyNative;
# a third derivative through the loop is refused clearly.
WHILE_SECOND_ORDER = """import mindlab as ms
from mindlab import ops, Tensor

def f(x0):
    v1 = x0
    k = Tensor(0, ms.int32)
    while k < 2:
        v1 = ops.tanh(v1 * 0.75 + x0)
        k = k + 1
    return ops.sum(v1)
"""

# captures, an `if` in the body, a `break`, and a loop that may run zero times
WHILE_SECOND_ORDER_2 = """import mindlab as ms
from mindlab import ops, Tensor

def f(x0, x1):
    v = x0 * x1
    k = Tensor(0, ms.int32)
    while k < 3:
        if ops.sum(v) > 0.1:
            v = ops.tanh(v) * x1 + ops.square(x0)
        else:
            v = ops.sigmoid(v + x1)
        if ops.sum(v) > 2.5:
            break
        k = k + 1
    u = x1
    j = Tensor(0, ms.int32)
    while j < ops.cast(ops.sum(x0) > 100.0, ms.int32):
        u = u * u
        j = j + 1
    return ops.sum(v * v) + ops.sum(u)
"""


def _second_order(src, progdir, mode, n_inputs=1):
    from .runner import load, run_second_order
    prog = GenProgram(source=src, kind="function", inputs=[(3,)] * n_inputs, seed=0)
    return run_second_order(prog, load(prog, progdir), mode)


@pytest.mark.parametrize("src, n", [(WHILE_SECOND_ORDER, 1), (WHILE_SECOND_ORDER_2, 2)])
def test_second_order_through_while_agrees(progdir, src, n):
    try:
        ref = _second_order(src, progdir, ms.PYNATIVE_MODE, n)
        got = _second_order(src, progdir, ms.GRAPH_MODE, n)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    assert len(got) == len(ref) == n
    for g, r in zip(got, ref):
        assert np.isfinite(r).all() and np.abs(r).max() > 1e-3
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-5)


def test_third_order_through_while_is_refused_clearly(progdir):
    from .runner import load
    prog = GenProgram(source=WHILE_SECOND_ORDER, kind="function", inputs=[(3,)], seed=0)
    f = load(prog, progdir).f
    g3 = ms.grad(lambda x: ms.grad(lambda y: ops.sum(ms.grad(f)(y)))(x).sum())
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        with pytest.raises(ms.errors.MindlabError) as ei:
            ms.jit(g3)(Tensor(np.array([0.1, -0.2, 0.3], np.float32)))
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    msg = str(ei.value)
    assert "third derivative through a `while` loop" in msg and "while k < 2:" in msg, msg


# The fused float32 tanh (kernels/cpu/fastmath.py) returned x * (1 - 2^-23) instead of x for tiny |x|, where numpy's
# (and the correctly rounded) tanh is x itself; `tanh(x) > x` then flipped between GRAPH_MODE (fused: a tensor over
# 1,024 elements) and PyNative, and so did the gradient of the select it fed. Fixed in fastmath.tanh_f32.
TANH_TIE = """from mindlab import ops

def f(x0):
    v1 = ops.tanh(x0)
    v2 = ops.select(v1 > x0, v1, x0 * 2.0)
    return ops.sum(v1) * 0.5 + ops.sum(v2) * 0.75
"""


def test_fused_tanh_of_tiny_values_is_exact(progdir):
    prog = GenProgram(source=TANH_TIE, kind="function", inputs=[(64, 64)], seed=0)
    from . import runner
    tiny = np.random.default_rng(3).uniform(-2.5e-4, 2.5e-4, (64, 64)).astype(np.float32)
    orig = runner.inputs
    runner.inputs = lambda program: [Tensor(tiny)]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert check(prog, progdir) is None
    finally:
        runner.inputs = orig
    from mindlab.kernels.cpu import fastmath
    from numba import njit

    @njit
    def tanh_all(a):
        out = np.empty_like(a)
        for i in range(a.size):
            out[i] = fastmath.tanh_f32(a[i])
        return out
    x = np.linspace(-2.5e-4, 2.5e-4, 10001).astype(np.float32)
    np.testing.assert_array_equal(tanh_all(x), np.tanh(x))


# `break` (without `continue`) under a tensor `if` in a tensor `while`: GRAPH_MODE refused the loop ("variable
# '__mindlab_continue' is Bool[] before a while loop and bool after one iteration"): the lowered body resets the
# continue flag to Python's False. Fixed in mindlab/frontend/control_flow.py (a number assigned to a carried scalar
# becomes a tensor of its dtype).
def _break_only(x0):
    v = x0
    k = Tensor(0, ms.int32)
    n = 0
    while k < 4:
        v = ops.tanh(v) + 0.5
        n = 1
        if ops.sum(v) > 1.1:
            break
        k = k + 1
    return ops.sum(v) + n


BREAK_ONLY = ("import mindlab as ms\nfrom mindlab import ops, Tensor\n\n" +
              inspect.getsource(_break_only).replace("def _break_only(", "def f("))


def test_break_without_continue_in_a_tensor_while(progdir):
    assert _run(BREAK_ONLY, [(3,)], progdir) is None      # values and gradients agree between the modes
    x = np.array([0.2, -0.4, 0.1], np.float32)
    v = x
    for _ in range(4):
        v = np.tanh(v) + 0.5
        if v.sum() > 1.1:
            break
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        np.testing.assert_allclose(ms.jit(_break_only)(Tensor(x)).asnumpy(), v.sum() + 1, rtol=1e-6)
    finally:
        ms.set_context(mode=mode)


# The same helper function text in two files (two notebook cells, two generated programs): Python's code objects
# compare equal across files, so the parser's per-function cache handed the second file's function the first
# file's source, and its errors pointed into the other file. Found by tests/fuzz/bad_input.py; fixed in
# mindlab/frontend/parser.py (ParsedFunction.of keys on the file too).
def test_errors_in_identical_functions_point_at_their_own_file(tmp_path):
    import importlib.util
    src = "from mindlab import ops\n\ndef f(x):\n    return ops.reshape(x, (7,))\n"
    mods = []
    for name in ("first_copy", "second_copy"):
        path = tmp_path / f"{name}.py"
        path.write_text(src)
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        mods.append(mod)
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        for mod in mods:
            with pytest.raises(ValueError, match="reshape") as err:
                ms.jit(mod.f)(Tensor(np.ones(3, np.float32)))
            assert f"{mod.__file__}:4" in str(err.value), str(err.value)
    finally:
        ms.set_context(mode=mode)


# A kernel error in a gradient's node (gather's bprop, unsorted_segment_sum, ran first after fusion reordered the
# step) was reported at the grad call with the name of an op the user never wrote. Backward nodes now carry their
# forward op's line, marked "(gradient of <op>)". Found by tests/fuzz/bad_input.py; mindlab/autodiff/graph_grad.py.
def _gather_user(x):
    v = ops.sigmoid(x) * 2.0
    picked = ops.gather(v, Tensor(np.array([0, 2], np.int32)), 0)
    return ops.sum(picked * picked) + ops.sum(v)


def test_gradient_nodes_carry_their_forward_line():
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        gf = ms.value_and_grad(_gather_user)
        gf(Tensor(np.ones((4, 3), np.float32)))
        graph = next(iter(gf.graph_cache.values())).graph
        seg = [n for g in graph.all_graphs() for n in g.nodes if n.op_name == "unsorted_segment_sum"]
        assert seg, "gather's gradient has no unsorted_segment_sum"
        src = seg[0].source
        assert src is not None and src.text.startswith("picked = ops.gather") and src.file == __file__
        assert "gradient of gather" in src.function
    finally:
        ms.set_context(mode=mode)
