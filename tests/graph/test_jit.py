"""GRAPH_MODE compiler: parse -> IR -> passes -> program, the compile cache, control flow, errors, graph AD."""
import math

import numpy as np
import pytest

import mindlab as ms
from mindlab import ops, Tensor
from mindlab.errors import GraphModeSyntaxError
from mindlab.frontend.jit import jit
from mindlab.ir.printer import dump


def helper(a):
    return a * 2


def control(x, y, n=3):
    z = x * y
    for _ in range(n):
        z = z + helper(x)
    if ops.sum(z) > 0:
        w = z * 2
    else:
        w = z - 1
    k = 0
    while ops.sum(ops.abs(w)) < 1000:
        w = w * 1.5
        k = k + 1
    return w, k


X = np.array([1.0, 2.0, 3.0], np.float32)
Y = np.array([4.0, 5.0, 6.0], np.float32)


def test_jit_control_flow_matches_eager():
    f = jit(control)
    w, k = f(Tensor(X), Tensor(Y))
    we, ke = control(Tensor(X), Tensor(Y))
    np.testing.assert_allclose(w.asnumpy(), we.asnumpy(), rtol=1e-6)
    assert int(k) == ke == 5
    # the other branch of the tensor if
    w2, _ = f(Tensor(-X * 10), Tensor(Y))
    w2e, _ = control(Tensor(-X * 10), Tensor(Y))
    np.testing.assert_allclose(w2.asnumpy(), w2e.asnumpy(), rtol=1e-6)


def test_ir_is_a_graph_with_source_lines_and_subgraphs():
    f = jit(control)
    c = f.compiled(Tensor(X), Tensor(Y))
    text = dump(c.graph)
    assert "if(" in text and "while(" in text        # tensor control flow is not unrolled
    assert text.count("mul(%arg0, 2.0)") == 3         # the static for loop is unrolled, helper inlined
    assert "test_jit.py" in text and "w = z * 2" in text
    assert "# graph control_" in text and "_body_" in text and "_cond_" in text


def test_compile_cache_counts_hits_and_misses():
    f = jit(control)
    f(Tensor(X), Tensor(Y))
    f(Tensor(X + 1), Tensor(Y))
    assert f.cache_info() == {"hits": 1, "misses": 1, "size": 1}
    f(Tensor(np.ones(4, np.float32)), Tensor(np.ones(4, np.float32)))     # new shape: recompile
    assert f.cache_info()["misses"] == 2
    f(Tensor(X), Tensor(Y), 2)                                            # new static argument: recompile
    assert f.cache_info()["misses"] == 3


def test_dict_and_numpy_arguments_are_never_stale():
    x, y = Tensor(np.ones(3, np.float32)), Tensor(np.full(3, 2.0, np.float32))
    f = jit(lambda d: ops.sum(d["a"] * 10.0 + d["b"]))
    # a dict's tensors are inputs (they were compile-time constants, so a second call returned the first's value)
    assert f({"a": x, "b": y}).item() == 36.0 and f({"a": y, "b": y}).item() == 66.0
    assert f({"b": x, "a": y}).item() == 63.0                  # the same keys in another order
    assert f.cache_info()["misses"] == 2
    a = np.ones(3, np.float32)                                  # a numpy array is a constant keyed by its values
    g = jit(lambda c, t: ops.sum(t * c))
    assert g(a, x).item() == 3.0
    a[:] = 5.0                                                  # changed in place: a new constant
    assert g(a, x).item() == 15.0
    assert g(np.full(3, 5.0, np.float32), x).item() == 15.0 and g.cache_info()["misses"] == 2


def test_early_return_under_tensor_if():
    def f(x):
        if ops.sum(x) > 0:
            return x * 2
        y = x - 1
        return y * 3
    g = jit(f)
    for v in (X, -X):
        np.testing.assert_allclose(g(Tensor(v)).asnumpy(), f(Tensor(v)).asnumpy())


def test_break_continue_in_static_loops():
    def f(x):
        for i in range(10):
            if i == 1:
                continue
            if i == 4:
                break
            x = x + i
        return x
    np.testing.assert_allclose(jit(f)(Tensor(X)).asnumpy(), X + 0 + 2 + 3)


def test_generator_expressions_dict_comprehensions_and_nested_fors():
    def f(x, ws):
        total = sum(ops.sum(w * x) for w in ws)                           # a generator consumed by a call
        scaled = tuple(w * k for k, w in enumerate(ws) if k != 1)
        table = {f"w{k}": ops.mean(w) for k, w in enumerate(ws)}
        pairs = [a * b for a in ws for b in (x, 2.0) if a is not ws[2]]
        rows = [r * 2 for r in x]                                          # a tensor iterates over its first axis
        return (total + sum(ops.sum(s) for s in scaled) + table["w2"] + ops.sum(pairs[3]) + ops.sum(rows[1])
                + (1.0 if all(w.shape == x.shape for w in ws) else 0.0))
    x = Tensor(X.astype(np.float32))
    ws = tuple(Tensor((X * k).astype(np.float32)) for k in (1.0, -2.0, 0.5))
    np.testing.assert_allclose(jit(f)(x, ws).asnumpy(), f(x, ws).asnumpy(), rtol=1e-6)


def test_closures_tuples_dicts_and_shape_arithmetic():
    scale = 3.0

    def f(x):
        def inner(a):
            return a * scale
        d = {"a": x, "b": inner(x)}
        n = x.shape[0] * 2
        t = (d["a"], d["b"])
        if isinstance(n, int) and len(t) == 2:
            return t[0] + t[1] * n
        return x
    np.testing.assert_allclose(jit(f)(Tensor(X)).asnumpy(), X + X * 3 * 6)


@pytest.mark.parametrize("src_kind", ["try", "yield", "global", "class", "c_function", "list_mutation"])
def test_unsupported_syntax_names_construct_and_line(src_kind):
    def f_try(x):
        try:
            y = x * 2
        except ValueError:
            y = x
        return y

    def f_yield(x):
        yield x

    def f_global(x):
        global X
        return x

    def f_class(x):
        class Local:
            pass
        return x

    def f_c_function(x):
        return math.sin(x)

    def f_list_mutation(x):
        out = []
        while ops.sum(x) < 10:
            out.append(x)
            x = x * 2
        return x
    fn = {"try": f_try, "yield": f_yield, "global": f_global, "class": f_class,
          "c_function": f_c_function, "list_mutation": f_list_mutation}[src_kind]
    with pytest.raises(GraphModeSyntaxError) as err:
        jit(fn)(Tensor(X))
    msg = str(err.value)
    assert "test_jit.py:" in msg
    expected = {"try": "try/except", "yield": "yield", "global": "global", "class": "class definitions",
                "c_function": "math.sin", "list_mutation": "list.append"}[src_kind]
    assert expected in msg


def test_shape_error_in_graph_names_the_construct_line():
    def f(x):
        y = ops.matmul(x, x)
        return y
    with pytest.raises(ValueError) as err:
        jit(f)(Tensor(np.ones((2, 3), np.float32)))
    assert "matmul" in str(err.value) and "y = ops.matmul(x, x)" in str(err.value)


def test_branch_shape_mismatch_is_an_error():
    def f(x):
        if ops.sum(x) > 0:
            y = x
        else:
            y = ops.sum(x)
        return y
    with pytest.raises(GraphModeSyntaxError, match="variable 'y'"):
        jit(f)(Tensor(X))


def _f_ctrl(x, y):
    z = x * y
    if ops.sum(z) > 0:
        z = ops.exp(z) * x
    else:
        z = z - x
    i = 0
    while i < 3:
        z = z * y
        i = i + 1
    return ops.sum(z)


def _f_tensor_while(x):
    k = ops.sum(x) * 0
    while k < 3:
        x = x * ops.tanh(x) + x
        k = k + 1
    return ops.sum(x)


@pytest.mark.parametrize("fn,args", [
    (_f_ctrl, (np.array([0.1, 0.2, 0.3]), np.array([1.0, 0.5, 2.0]))),
    (_f_ctrl, (np.array([-0.1, 0.2, -0.3]), np.array([1.0, 0.5, 2.0]))),
    (_f_tensor_while, (np.array([0.1, 0.2, 0.3]),)),
])
def test_graph_grad_matches_pynative(fn, args):
    positions = tuple(range(len(args)))
    eager = ms.grad(fn, grad_position=positions)(*[Tensor(a) for a in args])
    ms.set_context(mode=ms.GRAPH_MODE)
    graph = ms.grad(fn, grad_position=positions)(*[Tensor(a) for a in args])
    for e, g in zip(eager, graph):
        np.testing.assert_allclose(g.asnumpy(), e.asnumpy(), rtol=1e-10)


def test_graph_grad_of_grad_tanh_is_analytic():
    ms.set_context(mode=ms.GRAPH_MODE)
    x = np.array([0.1, -0.7, 1.3])
    g2 = ms.grad(ms.grad(lambda t: ops.sum(ops.tanh(t))))(Tensor(x))
    t = np.tanh(x)
    np.testing.assert_allclose(g2.asnumpy(), -2 * t * (1 - t * t), rtol=1e-10)


def test_gradient_graph_is_printable_ir():
    ms.set_context(mode=ms.GRAPH_MODE)
    gf = ms.grad(_f_ctrl)
    gf(Tensor(np.array([0.1, 0.2])), Tensor(np.array([1.0, 2.0])))
    text = dump(next(iter(gf.graph_cache.values())).optimized)
    assert text.count("if(") == 2          # the forward if and its backward if
    gw = ms.grad(_f_tensor_while)
    gw(Tensor(np.array([0.1, 0.2])))
    text = dump(next(iter(gw.graph_cache.values())).optimized)
    assert "while(" in text and "while_grad(" in text



def _loop_with_exits(x):
    i = ops.sum(x) * 0
    total = x * 0
    while i < 10:
        i = i + 1
        if i == 3:
            continue
        total = total + x * i
        if ops.sum(total) > 20:
            break
    return total, i


def test_break_and_continue_in_tensor_while():
    x = Tensor(np.array([1.0, 2.0]))
    t, i = jit(_loop_with_exits)(x)
    te, ie = _loop_with_exits(x)
    np.testing.assert_allclose(t.asnumpy(), te.asnumpy())
    assert float(i) == float(ie) == 4.0
    c = jit(_loop_with_exits).compiled(x)
    assert "while(" in dump(c.graph)       # still one loop node, not unrolled
    g_eager = ms.grad(lambda v: ops.sum(_loop_with_exits(v)[0]))(x)
    ms.set_context(mode=ms.GRAPH_MODE)
    g_graph = ms.grad(lambda v: ops.sum(_loop_with_exits(v)[0]))(x)
    np.testing.assert_allclose(g_graph.asnumpy(), g_eager.asnumpy())


def test_return_inside_tensor_while_is_a_clear_error():
    def f(x):
        while ops.sum(x) < 10:
            if ops.sum(x) > 5:
                return x
            x = x * 2
        return x
    with pytest.raises(GraphModeSyntaxError, match="return inside a while loop"):
        jit(f)(Tensor(X))


def test_seed_mul_example_runs_in_graph_mode():
    from mindlab import nn
    from mindlab.ops import operations as P

    class Mul(nn.Cell):
        def __init__(self):
            super().__init__()
            self.mul = P.Mul()

        def construct(self, x, y):
            return self.mul(x, y)
    ms.set_context(mode=ms.GRAPH_MODE)
    net = Mul()
    out = net(Tensor(X), Tensor(Y))
    assert str(out) == "[ 4. 10. 18.]"
    c = net.compiled(Tensor(X), Tensor(Y))
    assert "mul(%arg0, %arg1)" in dump(c.graph)
    assert net._jit_construct.cache_info()["misses"] == 1


# ---------------------------------------------------------------- errors at run time name the user's line
def _gather_twice(a, i):
    h = a * 2
    return ops.gather(h, i, 0)          # the failing line


def _gather_in_loop(a, k):
    s = a
    while k < 3:
        s = s + ops.gather(a, k * 2, 0)    # fails at k = 1
        k = k + 1
    return s


def _line_of(fn, text):
    import inspect
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, l in enumerate(lines) if text in l)


@pytest.mark.parametrize("fn, args, text", [
    (_gather_twice, (np.ones((2, 3), np.float32), np.array([5], np.int32)), "ops.gather(h, i, 0)"),
    (_gather_in_loop, (np.ones((2, 4), np.float32), np.int32(0)), "ops.gather(a, k * 2, 0)"),
])
def test_a_kernel_error_in_a_compiled_function_names_its_line(fn, args, text):
    f = jit(fn)
    with pytest.raises(ValueError) as e:
        f(*[Tensor(a) for a in args])                  # the call site
    call_line = _line_of(test_a_kernel_error_in_a_compiled_function_names_its_line, "# the call site")
    msg = str(e.value)
    assert "gather" in msg and "out of range" in msg
    assert f"test_jit.py:{_line_of(fn, text)}: " in msg and text in msg, msg
    assert f"called at {__file__}:{call_line}" in msg, msg
    assert "<mindlab program" not in msg
    assert e.value.source.line == _line_of(fn, text) and e.value.source.file == __file__


def test_a_kernel_error_inside_mindlabs_own_layers_names_the_users_call():
    from mindlab import nn
    ms.set_context(mode=ms.GRAPH_MODE)
    net = nn.Dense(4, 3)
    loss = nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"))
    x = Tensor(np.ones((2, 4), np.float32))
    loss(x, Tensor(np.array([0, 1], np.int32)))
    with pytest.raises(ValueError) as e:
        loss(x, Tensor(np.array([0, 7], np.int32)))     # the user's line
    line = _line_of(test_a_kernel_error_inside_mindlabs_own_layers_names_the_users_call, "# the user's line")
    assert "label 7" in str(e.value) and f"test_jit.py:{line}: loss(x, " in str(e.value), str(e.value)
    assert "mindlab/nn" not in str(e.value) and e.value.source.line == line


def _sqrt_of_shifted(x):
    return ops.sqrt(x - 1.0) * 2      # nan for x < 1: numpy warns


def test_numpy_warnings_in_a_compiled_function_quote_the_generated_line_and_the_users():
    """On the CPU the program calls numpy's ufunc itself, so numpy's warning names the generated line (a GPU kernel
    is a Python function of its own, which the warning names instead)."""
    import linecache
    import warnings
    ms.set_context(device_target="CPU")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jit(_sqrt_of_shifted)(Tensor(np.array([0.5, 2.0], np.float32)))
    (w,) = [w for w in caught if "invalid value" in str(w.message)]
    quoted = linecache.getline(w.filename, w.lineno)
    assert w.filename.startswith("<mindlab program") and f"# sqrt <- test_jit.py:{_line_of(_sqrt_of_shifted, 'ops.sqrt')}" in quoted, quoted


def test_jit_of_a_cell_and_of_a_bound_method():
    """``ms.jit(net)`` (like ``torch.compile(model)``) and ``ms.jit(net.construct)`` compile the Cell's call; they
    failed (an AttributeError, and "missing argument x") before. Weights are read at each call."""
    from mindlab import nn
    ms.set_seed(0)
    net = nn.Dense(3, 2, activation="relu")
    x = Tensor(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))
    want = net(x).asnumpy()
    for compiled in (jit(net), jit(net.construct)):
        np.testing.assert_allclose(compiled(x).asnumpy(), want, rtol=1e-6)
        assert compiled.cache_info()["misses"] == 1
    compiled = jit(net)
    compiled(x)
    net.bias.set_data(Tensor(np.array([5.0, -5.0], np.float32)))
    w = net.weight.asnumpy()
    np.testing.assert_allclose(compiled(x).asnumpy(), np.maximum(x.asnumpy() @ w.T + [5.0, -5.0], 0), rtol=1e-6)
    assert compiled.cache_info() == {"hits": 1, "misses": 1, "size": 1}
    assert jit(net).__name__ == "Dense"


class _JitConstruct(ms.nn.Cell):
    def __init__(self):
        super().__init__()
        self.fc = ms.nn.Dense(3, 2, weight_init=Tensor(np.ones((2, 3), np.float32)), bias_init="zeros")

    @ms.jit
    def construct(self, t):
        return ops.sum(self.fc(t) ** 2)


def test_a_cell_whose_construct_is_decorated_with_jit():
    """``@ms.jit`` on ``construct`` (MindSpore's way to compile a Cell in PyNative): calls, weight gradients and a
    training step agree in both modes (GRAPH_MODE crashed with "'JitFunction' object has no attribute __code__")."""
    from mindlab import nn
    x = Tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 10)
    net = _JitConstruct()
    np.testing.assert_allclose(net(x).asnumpy(), 3.06, rtol=1e-6)
    v, (gw, gb) = ms.value_and_grad(net, grad_position=None, weights=net.trainable_params())(x)
    np.testing.assert_allclose(gw.asnumpy(), [[0.72, 1.02, 1.32]] * 2, rtol=1e-5)
    np.testing.assert_allclose(gb.asnumpy(), [3.0, 3.0], rtol=1e-5)
    step = nn.TrainOneStepCell(net, nn.SGD(net.trainable_params(), 0.1))
    np.testing.assert_allclose(step(x).asnumpy(), 3.06, rtol=1e-6)
    np.testing.assert_allclose(net.fc.bias.asnumpy(), [-0.3, -0.3], rtol=1e-5)


class _WritesItsParameter(ms.nn.Cell):
    def __init__(self):
        super().__init__()
        self.w = ms.Parameter(Tensor(np.zeros(3, np.float32)), name="w")

    def construct(self, x):
        before = ops.sum(self.w * x)
        self.w[0] = x[1]                     # an in-place write into a Parameter
        return before + ops.sum(self.w * x)


def test_item_assignment_into_a_parameter_inside_construct():
    """``self.w[i] = v`` in ``construct`` writes the Parameter in place in both modes (GRAPH_MODE refused it, saying
    to keep state in Parameters — which it was); reads before the write see the old value."""
    net = _WritesItsParameter()
    x = Tensor(np.array([1.0, 2.0, 3.0], np.float32))
    np.testing.assert_allclose(net(x).asnumpy(), 0.0 + 2.0)
    np.testing.assert_allclose(net.w.asnumpy(), [2.0, 0.0, 0.0])
    np.testing.assert_allclose(net(x).asnumpy(), 2.0 + 2.0)


class _Replaceable(ms.nn.Cell):
    def __init__(self):
        super().__init__()
        self.w = ms.Parameter(Tensor(np.ones(3, np.float32)), name="w")
        self.fc = ms.nn.Dense(3, 2, weight_init=Tensor(np.ones((2, 3), np.float32)), bias_init="zeros")
        self.extra = ms.nn.CellList([])

    def construct(self, x):
        y = self.fc(x * self.w)
        for c in self.extra:
            y = c(y)
        return ops.sum(y)


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE])
def test_replacing_parameters_and_sub_cells_after_a_call_is_seen(mode):
    """A compiled program holds the Parameters and Cells it was built with: replacing one (``net.w = Parameter``,
    ``net.fc = nn.Dense``, appending to a CellList, ``del``) after a GRAPH_MODE call recompiles instead of silently
    running the old ones; training steps, which replace nothing, compile once."""
    from mindlab import nn
    ms.set_context(mode=mode)
    x = Tensor(np.ones((1, 3), np.float32))
    net = _Replaceable()
    assert net(x).item() == 6.0
    net.w = ms.Parameter(Tensor(np.full(3, 2.0, np.float32)), name="w")
    assert net(x).item() == 12.0
    net.fc = nn.Dense(3, 2, weight_init=Tensor(np.full((2, 3), 0.5, np.float32)), bias_init="zeros")
    assert net(x).item() == 6.0
    net.extra.append(nn.Dense(2, 1, weight_init=Tensor(np.ones((1, 2), np.float32)), bias_init="ones"))
    assert net(x).item() == 7.0
    net.w = Tensor(np.full(3, 4.0, np.float32))          # new data for the same Parameter: no recompile needed
    assert net(x).item() == 13.0
    loss_net = nn.WithLossCell(nn.Dense(3, 1), nn.MSELoss())
    step = nn.TrainOneStepCell(loss_net, nn.Momentum(loss_net.trainable_params(), 0.01, 0.9))
    step.set_train()
    y = Tensor(np.zeros((1, 1), np.float32))
    for _ in range(3):
        step(x, y)
    if mode == ms.GRAPH_MODE:
        assert step._construct_jit().cache_info()["misses"] == 1


def test_a_sub_cells_training_flag_and_dtype_changed_after_a_call_are_seen():
    """``net[1].set_train(False)`` (e.g. freezing BatchNorm or Dropout while fine-tuning) and ``to_float`` after a
    GRAPH_MODE call change the program (the compiled one kept the flags it was built with)."""
    from mindlab import nn
    ms.set_context(mode=ms.GRAPH_MODE)
    net = nn.SequentialCell([nn.Dense(4, 64), nn.Dropout(p=0.5)])
    x = Tensor(np.ones((2, 4), np.float32))
    net.set_train(True)
    assert (net(x).asnumpy() == 0).sum() > 0                  # dropping
    net[1].set_train(False)                                   # only the dropout layer
    np.testing.assert_array_equal(net(x).asnumpy(), net[0](x).asnumpy())
    net.set_train(True)
    assert (net(x).asnumpy() == 0).sum() > 0
    net.set_train(False)
    assert net(x).dtype == ms.float32
    net.to_float(ms.float16)
    assert net(x).dtype == ms.float16
    assert net._construct_jit().cache_info() == {"hits": 1, "misses": 4, "size": 4}   # the second train call hit
    # gradient programs too, also of a function that reaches the network through a closure
    net = nn.SequentialCell([nn.Dense(4, 64), nn.Dropout(p=0.5)])
    for g in (ms.value_and_grad(lambda t: ops.sum(net(t)), None, net.trainable_params()),
              ms.value_and_grad(net, None, net.trainable_params())):
        net.set_train(True)
        g(x)
        net.set_train(False)
        value = g(x)[0]
        np.testing.assert_allclose(value.asnumpy(), net[0](x).asnumpy().sum() if value.ndim == 0 else
                                   net[0](x).asnumpy(), rtol=1e-5)


_SCALE = Tensor(np.ones(3, np.float32))


class _WithMask(ms.nn.Cell):
    def __init__(self):
        super().__init__()
        self.mask = Tensor(np.ones(3, np.float32))           # a plain tensor attribute (a buffer), not a Parameter

    def construct(self, x):
        return ops.sum(x * self.mask * _SCALE)


def test_tensors_read_from_globals_and_attributes_are_never_stale():
    """A compiled program takes the tensors it reads from globals and Cell attributes as constants; writing into
    one (``mask[i] = v``) or replacing an attribute's tensor rebuilds it (it kept the values of its first call)."""
    ms.set_context(mode=ms.GRAPH_MODE)
    x = Tensor(np.ones(3, np.float32))
    net = _WithMask()
    assert net(x).item() == 3.0
    net.mask[1] = 5.0
    assert net(x).item() == 7.0
    _SCALE[0] = 2.0
    try:
        assert net(x).item() == 8.0
        net.mask = Tensor(np.zeros(3, np.float32))
        assert net(x).item() == 0.0
        assert net(x).item() == 0.0 and net._construct_jit().cache_info()["size"] == 1   # stale programs dropped
        f = jit(lambda t: ops.sum(t * _SCALE))
        assert f(x).item() == 4.0
        _SCALE[2] = 3.0
        assert f(x).item() == 6.0
    finally:
        _SCALE[:] = 1.0


def _activation(x):
    return ops.relu(x)


_FACTOR = 2.0


def test_redefined_helpers_and_rebound_globals_are_seen():
    """A notebook cell that redefines a helper a compiled function calls, or rebinds a constant it reads, takes
    effect at the next call (the program is rebuilt; it kept running the old helper)."""
    global _activation, _FACTOR
    f = jit(lambda t: ops.sum(_activation(t)) * _FACTOR)
    x = Tensor(np.array([-1.0, 0.5], np.float32))
    old_activation = _activation
    try:
        assert f(x).item() == 1.0
        def _activation(t):                                   # noqa: F811  (the redefinition is the test)
            return t * 3.0
        assert f(x).item() == -3.0
        _FACTOR = 1.0
        assert f(x).item() == -1.5
        assert f(x).item() == -1.5 and f.cache_info() == {"hits": 1, "misses": 3, "size": 1}
        _FACTOR = 1.0                                         # the same value again: no rebuild
        assert f(x).item() == -1.5 and f.cache_info()["misses"] == 3
    finally:
        _activation, _FACTOR = old_activation, 2.0
    ms.set_context(mode=ms.GRAPH_MODE)
    net = _Scaled()
    assert net(x).item() == -1.0
    net.scale = 0.5                                           # a plain attribute of the user's Cell
    assert net(x).item() == -0.25
    for _ in range(3):
        net.scale = 0.5
        net(x)
    assert net._construct_jit().cache_info()["misses"] == 2


class _Scaled(ms.nn.Cell):
    def __init__(self):
        super().__init__()
        self.scale = 2.0

    def construct(self, t):
        return ops.sum(t) * self.scale
