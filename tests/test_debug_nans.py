"""set_context(debug_nans=True): the first op producing a NaN (or an inf from finite inputs) raises
FloatingPointError naming the op, its inputs and the user's source line, in PyNative and in GRAPH_MODE."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor, nn, ops


@pytest.fixture
def debug_nans():
    mode = ms.get_context("mode")
    ms.set_context(debug_nans=True)
    yield
    ms.set_context(debug_nans=False, mode=mode)


def _line_of(fn, text):
    import inspect
    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, l in enumerate(lines) if text in l)


def f_log_neg(x, y):
    a = x * y
    b = ops.log(a)          # NaN for negative a
    return b + x


def f_overflow(x):
    a = x + 1.0
    b = ops.exp(a)           # inf from finite inputs
    return b * 2.0


def test_pynative_names_first_nan_op(debug_nans):
    ms.set_context(mode=ms.PYNATIVE_MODE)
    x = Tensor(np.array([1.0, -2.0, 3.0], np.float32))
    y = Tensor(np.array([1.0, 1.0, 1.0], np.float32))
    with pytest.raises(FloatingPointError) as ei:
        f_log_neg(x, y)
    msg = str(ei.value)
    assert "log produced NaN" in msg and "from finite inputs" in msg
    assert "float32[3]" in msg
    assert f"test_debug_nans.py:{_line_of(f_log_neg, 'ops.log(a)')}" in msg and "ops.log(a)" in msg


def test_pynative_overflow_from_finite_inputs(debug_nans):
    ms.set_context(mode=ms.PYNATIVE_MODE)
    with pytest.raises(FloatingPointError) as ei:
        f_overflow(Tensor(np.array([1.0, 100.0], np.float32)))
    msg = str(ei.value)
    assert "exp produced inf" in msg and "overflow" in msg
    assert f"test_debug_nans.py:{_line_of(f_overflow, 'ops.exp(a)')}" in msg


def test_pynative_inf_that_came_in_is_not_reported_but_nan_is(debug_nans):
    ms.set_context(mode=ms.PYNATIVE_MODE)
    x = Tensor(np.array([np.inf, 1.0], np.float32))
    out = x * 2.0                       # inf in, inf out: propagation, fine
    assert np.isinf(out.asnumpy()[0])
    with pytest.raises(FloatingPointError, match=r"sub produced NaN .* from inputs containing inf"):
        x - x                           # inf - inf = NaN: reported
    with pytest.raises(FloatingPointError, match="already contain NaN"):
        Tensor(np.array([np.nan], np.float32)) + 1.0


def test_off_by_default_and_no_error_when_off():
    assert ms.get_context("debug_nans") is False
    x = Tensor(np.array([-1.0], np.float32))
    with np.errstate(invalid="ignore"):
        assert np.isnan(ops.log(x).asnumpy()).all()


def test_pynative_gradient_nan_is_caught(debug_nans):
    ms.set_context(mode=ms.PYNATIVE_MODE)

    def f(x):
        return ops.sum(ops.sqrt(x))      # d sqrt at 0: inf from finite inputs in the backward pass
    g = ms.grad(f)
    with pytest.raises(FloatingPointError, match="inf"):
        g(Tensor(np.array([0.0, 1.0], np.float32)))


class Net(nn.Cell):
    def __init__(self):
        super().__init__()
        self.w = ms.Parameter(Tensor(np.array([1.0, 2.0, 3.0], np.float32)), name="w")

    def construct(self, x):
        a = x * self.w
        b = ops.sqrt(a - 2.0)            # NaN where a < 2
        c = ops.exp(b)
        return ops.sum(c)


def test_graph_mode_names_node_and_source_line(debug_nans):
    ms.set_context(mode=ms.GRAPH_MODE)
    net = Net()
    x = Tensor(np.array([1.0, 1.0, 1.0], np.float32))
    with pytest.raises(FloatingPointError) as ei:
        net(x)
    msg = str(ei.value)
    assert "sqrt produced NaN" in msg and "float32[3]" in msg
    assert f"test_debug_nans.py:{_line_of(Net.construct, 'ops.sqrt(a - 2.0)')}" in msg
    # the same program with fine inputs runs (and gives the right value)
    ok = net(Tensor(np.array([3.0, 3.0, 3.0], np.float32)))
    w = np.array([1.0, 2.0, 3.0], np.float32)
    np.testing.assert_allclose(ok.asnumpy(), np.exp(np.sqrt(3 * w - 2)).sum(), rtol=1e-5)


def test_graph_mode_toggle_recompiles():
    """The compile cache keys on the flag: a net compiled without checks gets them when the flag is turned on."""
    mode = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        net = Net()
        x = Tensor(np.array([1.0, 1.0, 1.0], np.float32))
        with np.errstate(invalid="ignore"):
            assert np.isnan(net(x).asnumpy())
        ms.set_context(debug_nans=True)
        with pytest.raises(FloatingPointError, match="sqrt produced NaN"):
            net(x)
        ms.set_context(debug_nans=False)
        with np.errstate(invalid="ignore"):
            assert np.isnan(net(x).asnumpy())
    finally:
        ms.set_context(mode=mode, debug_nans=False)


def test_graph_mode_overflow_in_jit_and_inside_while(debug_nans):
    ms.set_context(mode=ms.GRAPH_MODE)

    @ms.jit
    def grow(x):
        i = Tensor(0, ms.int32)
        while i < 5:
            x = x * x                   # overflows float32 on the 3rd-4th iteration
            i = i + 1
        return x
    with pytest.raises(FloatingPointError) as ei:
        grow(Tensor(np.array([1e10], np.float32)))
    msg = str(ei.value)
    assert "mul produced inf" in msg and "overflow" in msg and "x = x * x" in msg
    np.testing.assert_allclose(grow(Tensor(np.array([1.5], np.float32))).asnumpy(), [1.5 ** 32], rtol=1e-5)


def test_graph_mode_gradient_nan(debug_nans):
    ms.set_context(mode=ms.GRAPH_MODE)
    net = Net()
    grad_fn = ms.value_and_grad(net, None, net.trainable_params())
    with pytest.raises(FloatingPointError, match="NaN|inf"):
        grad_fn(Tensor(np.array([1.0, 1.0, 1.0], np.float32)))


def test_no_false_positives_on_generated_programs(debug_nans, tmp_path):
    """Finite programs (tests/fuzz) run with the checks on in both modes — values, gradients and Hessian-vector
    products still agree, and nothing is reported."""
    import random
    import warnings
    from tests.fuzz.generator import generate
    from tests.fuzz.runner import check
    for seed in range(30):
        prog = generate(random.Random(seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            problem = check(prog, str(tmp_path), second_order=prog.kind == "function" and "while" not in prog.features)
        assert problem is None, f"{prog.source}\n{problem}"
