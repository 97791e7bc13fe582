"""Native programs (mindlab/runtime/native.py): a CPU graph whose every node has a ``native`` rule runs as one
compiled function. Each test trains or runs the same network from the same start through the native program and
through the executor (``MINDLAB_NATIVE=0``) and compares values; and checks the cases that must leave the native
path (no rule, read-only parameters, non-finite weights, bad labels) still give the executor's results and errors."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import nn, Tensor
from mindlab.errors import MindlabError
from mindlab.kernels.cpu import mkl
from mindlab.runtime import native
from mindlab.runtime.native import NativeProgram

pytestmark = pytest.mark.skipif(mkl.jit_callers() is None, reason="native programs call MKL's compiled GEMM")


@pytest.fixture(autouse=True)
def _compile_at_once(monkeypatch):
    monkeypatch.setenv("MINDLAB_NATIVE_AFTER", "0")
    ms.set_context(device_target="CPU")     # native programs are CPU programs (also in MINDLAB_TEST_DEVICE=GPU runs)


class MLP(nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Dense(20, 64), nn.Dense(64, 48), nn.Dense(48, 5)
        self.relu = nn.ReLU()

    def construct(self, x):
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))


class ConvNet(nn.Cell):
    """LeNet-shaped: valid and padded convolutions with bias, ReLU, 2x2 and 3x3 max pooling, Dense head."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 4, 3, pad_mode="valid", has_bias=True)
        self.conv2 = nn.Conv2d(4, 6, 3, pad_mode="pad", padding=1, has_bias=True)
        self.pool = nn.MaxPool2d(2, 2)
        self.pool3 = nn.MaxPool2d(3, 1)
        self.relu = nn.ReLU()
        self.flatten = nn.Flatten()
        self.fc = nn.Dense(6 * 2 * 2, 3)

    def construct(self, x):
        x = self.pool(self.relu(self.conv1(x)))          # 10 -> 8 -> 4
        x = self.pool3(self.relu(self.conv2(x)))         # 4 -> 4 -> 2
        return self.fc(self.flatten(x))


def _train_step(net, lr=0.05):
    loss = nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"))
    step = nn.TrainOneStepCell(loss, nn.Momentum(net.trainable_params(), lr, 0.9))
    step.set_train()
    return step


def _twins(make, monkeypatch_env):
    """Two copies of the same network with the same weights."""
    a, b = make(), make()
    for pa, pb in zip(a.trainable_params(), b.trainable_params()):
        pb.set_data(Tensor(pa.asnumpy().copy()))
    return a, b


def _run(step, native, monkeypatch, *args):
    monkeypatch.setenv("MINDLAB_NATIVE", "1" if native else "0")
    return step(*args)


@pytest.mark.parametrize("make, shape, classes", [(MLP, (8, 20), 5), (ConvNet, (8, 2, 10, 10), 3)])
def test_training_matches_the_executor(make, shape, classes, monkeypatch):
    ms.set_context(mode=ms.GRAPH_MODE)
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal(shape).astype(np.float32))
    y = Tensor(rng.integers(0, classes, shape[0]).astype(np.int32))
    net_n, net_p = _twins(make, monkeypatch)
    step_n, step_p = _train_step(net_n), _train_step(net_p)
    for _ in range(4):
        ln = _run(step_n, True, monkeypatch, x, y).asnumpy()
        lp = _run(step_p, False, monkeypatch, x, y).asnumpy()
        np.testing.assert_allclose(ln, lp, rtol=1e-5, atol=1e-6)
    for pn, pp in zip(net_n.trainable_params(), net_p.trainable_params()):
        np.testing.assert_allclose(pn.asnumpy(), pp.asnumpy(), rtol=1e-5, atol=1e-6)
    prog = step_n.compiled(x, y).program
    assert isinstance(prog, NativeProgram) and prog.calls == {"native": 4, "python": 0}
    assert step_n.compiled(x, y).runs_as == "native program (ready; 4 calls native, 0 through the executor)"
    assert not isinstance(step_p.compiled(x, y).program, NativeProgram)
    assert step_p.compiled(x, y).runs_as == "executor (MINDLAB_NATIVE=0)"


def test_graph_with_an_op_without_rule_runs_through_the_executor():
    ms.set_context(mode=ms.GRAPH_MODE)

    @ms.jit
    def f(x):
        return ms.ops.tanh(ms.ops.concat((x, x), 0))

    x = np.arange(9, dtype=np.float32).reshape(3, 3) / 5
    np.testing.assert_allclose(f(Tensor(x)).asnumpy(), np.tanh(np.concatenate((x, x))), rtol=1e-6)
    compiled = f.compiled(Tensor(x))
    assert not isinstance(compiled.program, NativeProgram)
    assert "concat" in native.explain(compiled.optimized)
    assert compiled.runs_as.startswith("executor (concat (node %")


def test_bad_label_raises_the_ops_error_and_updates_nothing(monkeypatch):
    ms.set_context(mode=ms.GRAPH_MODE)
    net = MLP()
    step = _train_step(net)
    x = Tensor(np.ones((8, 20), np.float32))      # the shapes of the training test: the same compiled program
    step(x, Tensor(np.arange(8, dtype=np.int32) % 5))
    before = [p.asnumpy().copy() for p in net.trainable_params()]
    with pytest.raises(MindlabError, match="label 7 .*out of range"):
        step(x, Tensor(np.array([0, 7, 2, 3, 0, 1, 2, 3], np.int32)))
    for p, b in zip(net.trainable_params(), before):
        np.testing.assert_array_equal(p.asnumpy(), b)
    prog = step.compiled(x, Tensor(np.zeros(8, np.int32))).program
    assert isinstance(prog, NativeProgram) and prog.calls["python"] == 1


def test_read_only_or_strided_parameters_take_the_executor(monkeypatch):
    ms.set_context(mode=ms.GRAPH_MODE)
    rng = np.random.default_rng(1)
    x = Tensor(rng.standard_normal((8, 20)).astype(np.float32))
    y = Tensor(rng.integers(0, 5, 8).astype(np.int32))
    net_n, net_p = _twins(MLP, monkeypatch)
    step_n, step_p = _train_step(net_n), _train_step(net_p)
    _run(step_n, True, monkeypatch, x, y)
    _run(step_p, False, monkeypatch, x, y)
    w = net_n.fc1.weight
    w._data = np.asfortranarray(w._data)          # the same values, not C-contiguous: cannot be updated in place
    ln = _run(step_n, True, monkeypatch, x, y).asnumpy()
    lp = _run(step_p, False, monkeypatch, x, y).asnumpy()
    np.testing.assert_allclose(ln, lp, rtol=1e-6)
    np.testing.assert_allclose(net_n.fc1.weight.asnumpy(), net_p.fc1.weight.asnumpy(), rtol=1e-6)
    assert step_n.compiled(x, y).program.calls["python"] == 1


def test_non_finite_conv_weight_gives_the_executors_result(monkeypatch):
    """The native input gradient stops on a non-finite weight; the step re-runs through the executor, whose
    general path propagates the inf / NaN exactly as PyNative does."""
    ms.set_context(mode=ms.GRAPH_MODE)
    rng = np.random.default_rng(2)
    x = Tensor(rng.standard_normal((8, 2, 10, 10)).astype(np.float32))   # the training test's program
    y = Tensor(rng.integers(0, 3, 8).astype(np.int32))
    net_n, net_p = _twins(ConvNet, monkeypatch)
    for net in (net_n, net_p):
        w = net.conv2.weight.asnumpy().copy()
        w[0, 0, 0, 0] = np.inf
        net.conv2.weight.set_data(Tensor(w))
    step_n, step_p = _train_step(net_n), _train_step(net_p)
    ln = _run(step_n, True, monkeypatch, x, y).asnumpy()
    lp = _run(step_p, False, monkeypatch, x, y).asnumpy()
    np.testing.assert_array_equal(np.isnan(ln), np.isnan(lp))
    for pn, pp in zip(net_n.trainable_params(), net_p.trainable_params()):
        np.testing.assert_array_equal(np.isnan(pn.asnumpy()), np.isnan(pp.asnumpy()))
        np.testing.assert_allclose(np.nan_to_num(pn.asnumpy()), np.nan_to_num(pp.asnumpy()), rtol=1e-6)
    assert step_n.compiled(x, y).program.calls == {"native": 0, "python": 1}


def test_elementwise_broadcasts_transpose_and_softmax_match_the_executor(monkeypatch):
    """sub / div with a broadcast row, int division to float (the elementwise loop), transpose, softmax and
    log_softmax and their gradients, natively and through the executor."""
    ms.set_context(mode=ms.GRAPH_MODE)
    ops = ms.ops

    def loss(x, b, k):
        y = (x - b) / (b + 2.0)
        z = ops.transpose(y, (1, 0))
        s = ops.softmax(z, -1) + ops.log_softmax(z, -1) * 0.5
        return (s * s).sum() + (k / (k + 1)).sum()

    rng = np.random.default_rng(5)
    x = Tensor(rng.standard_normal((6, 4)).astype(np.float32))
    b = Tensor(rng.standard_normal(4).astype(np.float32))
    k = Tensor(np.arange(3, dtype=np.int32))
    results = {}
    for flag in ("1", "0"):
        monkeypatch.setenv("MINDLAB_NATIVE", flag)
        f = ms.value_and_grad(loss, grad_position=(0, 1))     # in GRAPH_MODE: one compiled graph
        value, (gx, gb) = f(x, b, k)
        entry = next(iter(f.graph_cache.values()))
        results[flag] = (value.asnumpy(), gx.asnumpy(), gb.asnumpy(), entry.runs_as)
    assert results["1"][3].startswith("native program (ready"), results["1"][3]
    for a, e in zip(results["1"][:3], results["0"][:3]):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-7)


C_T = Tensor(np.arange(15, dtype=np.float64).reshape(5, 3))


def _with_a_transposed_constant(x):
    return x * ms.ops.transpose(C_T, (1, 0)) + 1.0       # folded: a strided (F-order) constant


def _select_of_scalars(a, b):
    return ms.ops.select(a > b, a, b * 2.0)


def _sum_of_a_scalar(a):
    return ms.ops.sum(a * 2.0) + a


@pytest.mark.parametrize("fn, shapes", [(_with_a_transposed_constant, [(3, 5)]), (_select_of_scalars, [(), ()]),
                                        (_sum_of_a_scalar, [()])])
def test_found_by_generated_programs_run_natively(fn, shapes):
    """Programs the generated-program fuzzer (``fuzz_programs.py --native``) found: a constant folded from a
    transpose reached the program strided and its reshape raised NotImplementedError ("incompatible shape for
    array") out of numba at the first native call; a select and a sum of 0-d values called array kernels with
    scalars, so those programs never compiled (a NativeProgramWarning)."""
    import warnings
    rng = np.random.default_rng(3)
    args = [Tensor(rng.standard_normal(s)) for s in shapes]
    want = fn(*args).asnumpy()                           # PyNative
    f = ms.jit(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error", native.NativeProgramWarning)
        got = f(*args).asnumpy()
    c = f.compiled(*args)
    assert isinstance(c.program, NativeProgram) and c.program.calls == {"native": 1, "python": 0}, c.runs_as
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_a_native_program_that_fails_unexpectedly_hands_over_to_the_executor():
    """A fault of the generated program (not of the input) is not the user's crash: a program that updates nothing
    in place runs that call and later ones through the executor, and says so once."""
    f = ms.jit(_with_a_transposed_constant)
    x = Tensor(np.ones((3, 5)))
    want = f(x).asnumpy()
    prog = f.compiled(x).program

    def broken(*a):
        raise NotImplementedError("incompatible shape for array")
    prog.fn = broken
    with pytest.warns(native.NativeProgramWarning, match="failed at run time .*NotImplementedError"):
        np.testing.assert_array_equal(f(x).asnumpy(), want)
    np.testing.assert_array_equal(f(x).asnumpy(), want)
    assert prog.state == "failed" and prog.calls["python"] == 2


SCALE = 1.0 + float(np.random.default_rng().uniform())   # a new constant per run: a program not yet cached


def _fresh_chain(x, w):
    return ms.ops.tanh(ms.ops.matmul(x, w) * SCALE + 0.5) * 2.0


def test_a_background_compile_runs_in_a_child_process_and_is_loaded_here(monkeypatch):
    """After MINDLAB_NATIVE_AFTER executor calls the program compiles aside — in a child process, whose machine
    code this process then loads from the disk cache — while the executor keeps serving calls."""
    monkeypatch.setenv("MINDLAB_NATIVE_AFTER", "2")
    rng = np.random.default_rng(3)
    x = Tensor(rng.standard_normal((64, 48)).astype(np.float32))
    w = Tensor(rng.standard_normal((48, 32)).astype(np.float32) * 0.1)
    f = ms.jit(_fresh_chain)
    want = np.tanh(x.asnumpy() @ w.asnumpy() * np.float32(SCALE) + np.float32(0.5)) * 2
    for _ in range(3):          # the third call starts the compile, and still runs through the executor
        np.testing.assert_allclose(f(x, w).asnumpy(), want, rtol=1e-5, atol=1e-6)
    program = f.compiled(x, w).program
    assert isinstance(program, NativeProgram) and program.calls == {"native": 0, "python": 3}
    assert native.settle(timeout=900)
    assert program.state == "ready" and program.compiled_in == "child", program.child_said
    assert "mindlab_kernel_cache." in program.source        # it calls a fused kernel the child imported by file
    np.testing.assert_allclose(f(x, w).asnumpy(), want, rtol=1e-5, atol=1e-6)
    assert program.calls == {"native": 1, "python": 3}
