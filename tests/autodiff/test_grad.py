"""The gradient transforms' API: positions, weights, has_aux, GradOperation variants, sens, nesting, errors."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor, Parameter, ParameterTuple, nn, ops


def f2(x, y):
    return ops.sum(x * x * y)


X = np.array([1.0, 2.0, 3.0])
Y = np.array([0.5, -1.0, 2.0])


def test_grad_positions():
    x, y = Tensor(X), Tensor(Y)
    np.testing.assert_allclose(ms.grad(f2)(x, y).asnumpy(), 2 * X * Y)
    gx, gy = ms.grad(f2, grad_position=(0, 1))(x, y)
    np.testing.assert_allclose(gx.asnumpy(), 2 * X * Y)
    np.testing.assert_allclose(gy.asnumpy(), X * X)
    np.testing.assert_allclose(ms.grad(f2, grad_position=1)(x, y).asnumpy(), X * X)


def test_value_and_grad_with_weights():
    w = Parameter(Tensor(np.array([1.0, -2.0, 0.5])), name="w")

    def loss(x):
        return ops.sum(x * w * w)
    x = Tensor(X)
    value, (gx, (gw,)) = ms.value_and_grad(loss, grad_position=0, weights=[w])(x)
    np.testing.assert_allclose(value.asnumpy(), np.sum(X * w.asnumpy() ** 2))
    np.testing.assert_allclose(gx.asnumpy(), w.asnumpy() ** 2)
    np.testing.assert_allclose(gw.asnumpy(), 2 * X * w.asnumpy())
    value, (gw,) = ms.value_and_grad(loss, grad_position=None, weights=ParameterTuple([w]))(x)
    np.testing.assert_allclose(gw.asnumpy(), 2 * X * w.asnumpy())
    assert w._node is None and value._node is None and gw._node is None


def test_has_aux():
    def f(x):
        return ops.sum(x * x), x * 3
    (g, aux) = ms.grad(f, has_aux=True)(Tensor(X))
    np.testing.assert_allclose(g.asnumpy(), 2 * X)
    np.testing.assert_allclose(aux[0].asnumpy(), 3 * X)
    (loss, aux_v), g = ms.value_and_grad(f, has_aux=True)(Tensor(X))
    np.testing.assert_allclose(loss.asnumpy(), np.sum(X * X))


def test_non_scalar_output_uses_ones_sensitivity():
    g = ms.grad(lambda x: x * x)(Tensor(X))
    np.testing.assert_allclose(g.asnumpy(), 2 * X)


def test_unused_input_gets_zeros():
    g = ms.grad(lambda x, y: ops.sum(x), grad_position=1)(Tensor(X), Tensor(Y))
    np.testing.assert_allclose(g.asnumpy(), np.zeros(3))


def test_grad_operation_variants():
    w = Parameter(Tensor(np.array([2.0, 3.0, 4.0])), name="w")

    def net(x, y):
        return x * y * w
    x, y = Tensor(X), Tensor(Y)
    g = ops.GradOperation()(net)(x, y)
    np.testing.assert_allclose(g.asnumpy(), Y * w.asnumpy())
    gx, gy = ops.GradOperation(get_all=True)(net)(x, y)
    np.testing.assert_allclose(gy.asnumpy(), X * w.asnumpy())
    (gw,) = ops.GradOperation(get_by_list=True)(net, ParameterTuple([w]))(x, y)
    np.testing.assert_allclose(gw.asnumpy(), X * Y)
    (gx, gy), (gw,) = ops.GradOperation(get_all=True, get_by_list=True)(net, [w])(x, y)
    np.testing.assert_allclose(gx.asnumpy(), Y * w.asnumpy())
    sens = Tensor(np.array([1.0, 10.0, 100.0]))
    g = ops.GradOperation(sens_param=True)(net)(x, y, sens)
    np.testing.assert_allclose(g.asnumpy(), Y * w.asnumpy() * sens.asnumpy())


def test_grad_of_grad():
    # d²/dx² sum(x³) = 6x ; third order: 6
    f = lambda x: ops.sum(x * x * x)
    g2 = ms.grad(lambda x: ops.sum(ms.grad(f)(x)))(Tensor(X))
    np.testing.assert_allclose(g2.asnumpy(), 6 * X)
    g3 = ms.grad(lambda x: ops.sum(ms.grad(lambda z: ops.sum(ms.grad(f)(z)))(x)))(Tensor(X))
    np.testing.assert_allclose(g3.asnumpy(), 6 * np.ones(3))


def test_nested_grad_over_the_same_weight():
    w = Parameter(Tensor(np.array([1.5, -0.5])), name="w")
    inner = ms.grad(lambda: ops.sum(w * w * w), grad_position=None, weights=[w])

    def outer():
        (gw,) = inner()
        return ops.sum(gw)
    (ggw,) = ms.grad(outer, grad_position=None, weights=[w])()
    np.testing.assert_allclose(ggw.asnumpy(), 6 * w.asnumpy())
    assert w._node is None


def test_gradients_of_tuple_and_list_arguments_have_their_structure():
    # JAX-style parameter trees: the gradient of a (nested) tuple / list argument is a tuple / list like it
    x, y = Tensor(X), Tensor(Y)

    def loss(params, z):
        w, (b, c) = params
        return ops.sum(w * w * z) + ops.sum(b * z) + ops.sum(c[0] * 3.0), c

    for run in (lambda g: g, ms.jit):
        (gw, (gb, gc)), aux = run(ms.grad(loss, has_aux=True))((x, [y, (x,)]), y)
        assert isinstance(gc, tuple) and len(gc) == 1 and isinstance(aux, tuple)
        np.testing.assert_allclose(gw.asnumpy(), 2 * X * Y)
        np.testing.assert_allclose(gb.asnumpy(), Y)
        np.testing.assert_allclose(gc[0].asnumpy(), np.full(3, 3.0))
        value, ((gw, _), gz) = run(ms.value_and_grad(lambda p, z: loss(p, z)[0], (0, 1)))((x, [y, (x,)]), y)
        np.testing.assert_allclose(value.asnumpy(), np.sum(X * X * Y) + np.sum(Y * Y) + 3 * np.sum(X))
        np.testing.assert_allclose(gz.asnumpy(), X * X + Y)
        gs = run(ms.grad(lambda ps: ops.sum(ps[0] * ps[1])))([x, y])
        assert isinstance(gs, list)
        np.testing.assert_allclose(gs[0].asnumpy(), Y)
        np.testing.assert_allclose(gs[1].asnumpy(), X)
    # grad of grad through a tuple argument: d/dx of sum(d/dx sum(x^3)) = 6x
    gg = ms.grad(lambda t: ops.sum(ms.grad(lambda u: ops.sum(u[0] ** 3))(t)[0]))((x,))
    np.testing.assert_allclose(gg[0].asnumpy(), 6 * X)
    gd = ms.grad(lambda d: ops.sum(d["w"] * d["b"]))({"w": x, "b": y})   # a dict: a dict of gradients
    assert list(gd) == ["w", "b"]
    np.testing.assert_allclose(gd["w"].asnumpy(), Y)
    np.testing.assert_allclose(gd["b"].asnumpy(), X)
    with pytest.raises(TypeError, match="argument 0 is a tuple, not a Tensor .or a tuple / list / dict of Tensors."):
        ms.grad(lambda t: ops.sum(t[0]) * t[1])((x, 2.0))


def test_errors_are_clear():
    with pytest.raises(ValueError, match="grad_position"):
        ms.grad(f2, grad_position=3)(Tensor(X), Tensor(Y))
    with pytest.raises(TypeError, match="not a Tensor"):
        ms.grad(lambda x: x * 2)(3.0)
    with pytest.raises(TypeError, match="Parameters"):
        ms.grad(f2, weights=[Tensor(X)])
    with pytest.raises(ValueError, match="both be None"):
        ms.value_and_grad(f2, grad_position=None)
    with pytest.raises(ValueError) as err:
        ms.grad(lambda x: ops.sum(x + Tensor(np.ones(4))))(Tensor(X))
    assert "add" in str(err.value) and "test_grad.py:" in str(err.value)


def test_jit_of_a_gradient_compiles_the_gradient():
    """``ms.jit(ms.grad(f))`` (JAX's ``jit(grad(f))``) runs the gradient program. It used to run ``f`` itself:
    ``functools.update_wrapper`` copied the GradFunction's attributes, its ``fn`` among them, over the jit's."""
    x = np.array([0.1, -0.2, 0.3], np.float32)

    def f(t):
        return ops.sum(t * t * t)
    g = ms.jit(ms.grad(f))
    np.testing.assert_allclose(g(Tensor(x)).asnumpy(), 3 * x * x, rtol=1e-6)
    h = ms.jit(ms.grad(lambda t: ops.sum(ms.grad(f)(t))))       # grad of grad, compiled
    np.testing.assert_allclose(h(Tensor(x)).asnumpy(), 6 * x, rtol=1e-6)
    vg = ms.jit(ms.value_and_grad(f))
    v, d = vg(Tensor(x))
    np.testing.assert_allclose(v.asnumpy(), (x ** 3).sum(), rtol=1e-6)
    np.testing.assert_allclose(d.asnumpy(), 3 * x * x, rtol=1e-6)
    assert g.__name__ == "f_grad"


@ms.jit
def _jitted_tanh_sum(a):
    return ops.sum(ops.tanh(a))


def _calls_a_jit_function(a):
    return _jitted_tanh_sum(a * 2.0) * 3.0


def test_gradients_of_jit_functions_and_jit_inside_jit():
    """``grad(jit(f))`` (JAX's usual order) gave zeros in PyNative (the compiled call was invisible to the tape) and
    crashed in GRAPH_MODE; a jit function called from compiled code was refused as a foreign function. Now the tape
    sees the ops (the jit function runs eagerly while a transform watches its inputs), GRAPH_MODE differentiates
    what the jit compiles, and nested jit functions are inlined."""
    x = np.array([0.1, -0.2, 0.3], np.float32)

    def f(t):
        return ops.sum(t * t * t)
    np.testing.assert_allclose(ms.grad(ms.jit(f))(Tensor(x)).asnumpy(), 3 * x * x, rtol=1e-6)
    v, d = ms.value_and_grad(ms.jit(f))(Tensor(x))
    np.testing.assert_allclose(v.asnumpy(), (x ** 3).sum(), rtol=1e-6)
    np.testing.assert_allclose(d.asnumpy(), 3 * x * x, rtol=1e-6)
    np.testing.assert_allclose(ms.jit(_calls_a_jit_function)(Tensor(x)).asnumpy(), 3 * np.tanh(2 * x).sum(),
                               rtol=1e-6)
    np.testing.assert_allclose(ms.grad(_calls_a_jit_function)(Tensor(x)).asnumpy(),
                               6 * (1 - np.tanh(2 * x) ** 2), rtol=1e-5)
    np.testing.assert_allclose(ms.jit(ms.grad(ms.jit(_calls_a_jit_function)))(Tensor(x)).asnumpy(),
                               6 * (1 - np.tanh(2 * x) ** 2), rtol=1e-5)
    # and a bound method, differentiated and compiled
    net = nn.Dense(3, 1, weight_init=Tensor(np.array([[1.0, 2.0, 3.0]], np.float32)), bias_init="zeros")
    xs = Tensor(x.reshape(1, 3))
    np.testing.assert_allclose(ms.grad(net.construct)(xs).asnumpy(), [[1.0, 2.0, 3.0]], rtol=1e-6)
    np.testing.assert_allclose(ms.grad(ms.jit(net))(xs).asnumpy(), [[1.0, 2.0, 3.0]], rtol=1e-6)


def test_weight_gradients_through_a_jit_cell_in_pynative():
    """A compiled Cell called inside a PyNative gradient transform over its weights (the inputs are not watched)."""
    net = nn.Dense(3, 1, weight_init=Tensor(np.array([[1.0, 2.0, 3.0]], np.float32)), bias_init="zeros")
    x = Tensor(np.array([[0.5, -1.0, 2.0]], np.float32))
    fast = ms.jit(net)
    grads = ms.grad(lambda t: ops.sum(fast(t)), grad_position=None, weights=net.trainable_params())(x)
    np.testing.assert_allclose(grads[0].asnumpy(), [[0.5, -1.0, 2.0]], rtol=1e-6)
    np.testing.assert_allclose(grads[1].asnumpy(), [1.0], rtol=1e-6)
