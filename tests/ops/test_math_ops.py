"""The elementwise family through the public API: ops.* functions, P.* classes and Tensor operators, against numpy
references; dtype rules; gradient conventions at special points; and error messages on bad input."""
import numpy as np
import pytest
from scipy.special import erf

import mindlab as ms
from mindlab import Tensor, ops
from mindlab import dtype as mdt
from mindlab.ops import operations as P

from .samples import rand, positive
from .samples_math import SAMPLES

FLOATS = (np.float32, np.float64)


def T(a, dt=None):
    """A Tensor: lists take mindlab's defaults (Python floats are float32), arrays keep their dtype."""
    return Tensor(a) if dt is None else Tensor(np.asarray(a, dtype=dt))


def check(out, ref, dtype=None, rtol=None):
    """``out`` is a Tensor equal to numpy ``ref`` (same shape; dtype ``dtype`` or ref's)."""
    assert isinstance(out, Tensor)
    assert out.shape == np.shape(ref), (out.shape, np.shape(ref))
    assert out.dtype == (np.asarray(ref).dtype if dtype is None else dtype), (out.dtype, dtype)
    if rtol is None:
        rtol = 1e-6 if out.dtype == mdt.float32 else 1e-12
    np.testing.assert_allclose(out.asnumpy(), ref, rtol=rtol, atol=rtol)


# ---------------------------------------------------------------- unary math and activations: forward values
def _gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


UNARY = [  # (ops function, P class, numpy reference, input maker)
    (ops.log, P.Log, np.log, positive),
    (ops.sqrt, P.Sqrt, np.sqrt, positive),
    (ops.rsqrt, P.Rsqrt, lambda x: 1 / np.sqrt(x), positive),
    (ops.reciprocal, P.Reciprocal, lambda x: 1 / x, positive),
    (ops.abs, P.Abs, np.abs, rand),
    (ops.sign, P.Sign, np.sign, rand),
    (ops.floor, P.Floor, np.floor, lambda *s: rand(*s, low=-3, high=3)),
    (ops.square, P.Square, np.square, rand),
    (ops.neg, P.Neg, np.negative, rand),
    (ops.exp, P.Exp, np.exp, rand),
    (ops.tanh, P.Tanh, np.tanh, rand),
    (ops.sigmoid, P.Sigmoid, lambda x: 1 / (1 + np.exp(-x)), lambda *s: rand(*s, low=-4, high=4)),
    (ops.relu, P.ReLU, lambda x: np.maximum(x, 0), rand),
    (ops.gelu, P.GeLU, lambda x: 0.5 * x * (1 + erf(x / np.sqrt(2))), lambda *s: rand(*s, low=-3, high=3)),
    (ops.softplus, P.Softplus, lambda x: np.log1p(np.exp(x)), lambda *s: rand(*s, low=-3, high=3)),
]


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("fn,cls,ref,make", UNARY, ids=[u[0].__name__ for u in UNARY])
def test_unary_forward(fn, cls, ref, make, dt):
    x = make(3, 4).astype(dt)
    expected = ref(x.astype(np.float64)).astype(dt)
    check(fn(T(x)), expected)
    check(cls()(T(x)), expected)


def test_tensor_methods_for_unary_ops():
    x = positive(2, 3)
    check(T(x).log(), np.log(x))
    check(T(x).sqrt(), np.sqrt(x))
    check(T(-x).abs(), x)
    check(T(x).tanh(), np.tanh(x))
    check(T(-x).relu(), np.zeros_like(x))
    check(T(-x).sign(), -np.ones_like(x))
    check(T(x).pow(3), x ** 3)


def test_gelu_tanh_form_and_extremes():
    x = np.linspace(-6, 6, 25)
    check(ops.gelu(T(x), approximate="tanh"), _gelu_tanh(x))
    check(ops.gelu(T(x), approximate="none"), 0.5 * x * (1 + erf(x / np.sqrt(2))))
    # the two forms agree closely; they are not the same function
    diff = np.abs(ops.gelu(T(x)).asnumpy() - ops.gelu(T(x), "tanh").asnumpy())
    assert 0 < diff.max() < 1e-3


def test_softplus_beta_threshold_and_no_overflow():
    x = np.array([-50.0, -1.0, 0.0, 0.3, 0.6, 2.0, 100.0, 1000.0])
    beta, threshold = 2.0, 1.0
    bx = beta * x
    ref = np.where(bx > threshold, x, np.logaddexp(0, bx) / beta)
    check(ops.softplus(T(x), beta=beta, threshold=threshold), ref)
    with np.errstate(over="raise"):   # large inputs take the linear branch, never exp overflow
        out = ops.softplus(T(x, np.float32)).asnumpy()
    np.testing.assert_allclose(out[-2:], [100.0, 1000.0])
    assert out[0] > 0


def test_sigmoid_is_stable_at_extremes():
    with np.errstate(over="raise"):
        out = ops.sigmoid(T([-1000.0, 0.0, 1000.0], np.float32)).asnumpy()
    np.testing.assert_array_equal(out, [0.0, 0.5, 1.0])


# ---------------------------------------------------------------- dtype rules
@pytest.mark.parametrize("fn", [ops.log, ops.sqrt, ops.rsqrt, ops.reciprocal, ops.exp, ops.tanh, ops.sigmoid,
                                ops.gelu, ops.softplus], ids=lambda f: f.__name__)
def test_integer_inputs_to_transcendental_ops_give_float32(fn):
    x = np.array([[1, 2], [3, 4]], dtype=np.int32)
    out = fn(T(x))
    assert out.dtype == ms.float32
    np.testing.assert_allclose(out.asnumpy(), fn(T(x.astype(np.float64))).asnumpy(), rtol=1e-6)


def test_integer_and_bool_dtypes_follow_numpy():
    i = np.array([-3, 0, 4, 7], dtype=np.int32)
    b = np.array([True, False, True, False])
    check(ops.reciprocal(T(np.array([2, 4], dtype=np.int64))), np.array([0.5, 0.25], np.float32))  # true 1/x
    for fn, ref in ((ops.abs, np.abs), (ops.sign, np.sign), (ops.floor, np.floor), (ops.square, np.square),
                    (ops.relu, lambda a: np.maximum(a, 0)), (ops.neg, np.negative)):
        check(fn(T(i)), ref(i))
    check(ops.square(T(b)), np.square(b))                       # int8, as numpy
    check(ops.pow(T(b), T(b)), np.power(b, b))                  # int8
    check(ops.floor_div(T(b), T(~b | b)), np.floor_divide(b, np.ones_like(b)))
    check(ops.maximum(T(b), T(~b)), np.maximum(b, ~b))          # bool
    check(ops.abs(T(b)), b)
    check(ops.floor_div(T(i), 2), i // 2)
    check(ops.floor_mod(T(i), 3), i % 3)
    check(ops.pow(T(i), 2), i ** 2)


def test_scalars_are_weakly_typed_and_tensors_promote():
    x32 = T(positive(2, 3), np.float32)
    assert ops.pow(x32, 2).dtype == ms.float32
    assert ops.pow(x32, 0.5).dtype == ms.float32
    assert ops.maximum(x32, 0).dtype == ms.float32
    assert ops.maximum(x32, T(rand(3), np.float64)).dtype == ms.float64
    assert ops.pow(T(np.array([1, 2], np.int32)), 0.5).dtype == ms.float32
    assert ops.select(T([True, False]), T([1.0, 2.0], np.float32), 0).dtype == ms.float32


# ---------------------------------------------------------------- binary arithmetic
@pytest.mark.parametrize("dt", FLOATS)
def test_binary_arithmetic_forward_with_broadcasting(dt):
    a = rand(2, 3, 4, low=-5, high=5).astype(dt)
    b = positive(4, seed=1).astype(dt)
    p = positive(2, 3, 4).astype(dt)
    check(ops.pow(T(p), T(b)), np.power(p, b))
    check(P.Pow()(T(p), T(b)), np.power(p, b))
    check(ops.floor_div(T(a), T(b)), np.floor_divide(a, b))
    check(P.FloorDiv()(T(a), T(b)), np.floor_divide(a, b))
    check(ops.floor_mod(T(a), T(b)), np.mod(a, b))
    check(P.FloorMod()(T(a), T(-b)), np.mod(a, -b))             # the sign follows the divisor
    check(ops.maximum(T(a), T(b)), np.maximum(a, b))
    check(P.Maximum()(T(a), T(b)), np.maximum(a, b))
    check(ops.minimum(T(a), T(b)), np.minimum(a, b))
    check(P.Minimum()(T(a), T(b)), np.minimum(a, b))
    check(ops.pow(2.0, T(b)), np.power(dt(2.0), b))


def test_maximum_minimum_propagate_nan():
    x = T([1.0, np.nan, 3.0])
    y = T([2.0, 0.0, np.nan])
    assert np.isnan(ops.maximum(x, y).asnumpy()[1:]).all()
    assert np.isnan(ops.minimum(x, y).asnumpy()[1:]).all()


# ---------------------------------------------------------------- comparisons and logic
CMP = [(ops.equal, P.Equal, np.equal), (ops.not_equal, P.NotEqual, np.not_equal), (ops.less, P.Less, np.less),
       (ops.less_equal, P.LessEqual, np.less_equal), (ops.greater, P.Greater, np.greater),
       (ops.greater_equal, P.GreaterEqual, np.greater_equal)]


@pytest.mark.parametrize("fn,cls,ref", CMP, ids=[c[0].__name__ for c in CMP])
def test_comparisons(fn, cls, ref):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], dtype=np.float32)
    b = np.array([2.0, 2.0, 2.0])
    check(fn(T(a), T(b)), ref(a, b))                            # broadcast, float32 vs float64
    check(cls()(T(a), T(b)), ref(a, b))
    check(fn(T(a), 2), ref(a, 2))                               # a Python scalar
    check(fn(T(np.array([1, 2, 3], np.int32)), 2.5), ref(np.array([1, 2, 3]), 2.5))   # int vs float scalar


def test_comparison_aliases():
    assert ops.ne is ops.not_equal and ops.lt is ops.less and ops.le is ops.less_equal
    assert ops.gt is ops.greater and ops.ge is ops.greater_equal
    assert ops.negative is ops.neg and ops.where is not None and ops.absolute is ops.abs
    assert ops.floor_divide is ops.floor_div


def test_logical_ops():
    a = np.array([[True, False], [True, True]])
    b = np.array([False, True])
    check(ops.logical_and(T(a), T(b)), np.logical_and(a, b))
    check(P.LogicalAnd()(T(a), T(b)), np.logical_and(a, b))
    check(ops.logical_or(T(a), T(b)), np.logical_or(a, b))
    check(P.LogicalOr()(T(a), T(b)), np.logical_or(a, b))
    check(ops.logical_not(T(a)), ~a)
    check(P.LogicalNot()(T(a)), ~a)
    check(ops.logical_and(T(a), True), a)


# ---------------------------------------------------------------- select / where / cast
def test_select_and_where():
    cond = np.array([[True], [False], [True]])
    x = rand(1, 4)
    y = rand(3, 4, seed=1)
    check(ops.select(T(cond), T(x), T(y)), np.where(cond, x, y))
    check(ops.where(T(cond), T(x), T(y)), np.where(cond, x, y))
    check(P.Select()(T(cond), T(x), T(y)), np.where(cond, x, y))
    check(ops.select(T(cond), T(y), 0.0), np.where(cond, y, 0.0))
    check(ops.select(T(cond), -1.0, T(y)), np.where(cond, -1.0, y))
    check(ops.select([True, False], T([1.0, 2.0]), T([3.0, 4.0])), np.array([1.0, 4.0], np.float32))


def test_cast():
    x = np.array([[-1.7, 0.2], [2.5, 3.9]])
    check(ops.cast(T(x), ms.float32), x.astype(np.float32))
    check(ops.cast(T(x), ms.int32), x.astype(np.int32))
    check(ops.cast(T(x), "float16"), x.astype(np.float16), rtol=1e-3)
    check(ops.cast(T(x), np.int64), x.astype(np.int64))
    check(ops.cast(T(x), ms.bool_), x.astype(bool))
    check(P.Cast()(T(x), ms.int8), x.astype(np.int8))
    check(T(x).astype(ms.float32), x.astype(np.float32))
    check(ops.cast(T(np.array([True, False])), ms.float32), np.array([1.0, 0.0], np.float32))


# ---------------------------------------------------------------- Tensor operators
def test_tensor_operators():
    x = rand(3, 4, low=-5, high=5)
    y = positive(3, 4, seed=1)
    p = positive(3, 4)
    tx, ty, tp = T(x), T(y), T(p)
    check(tp ** 2, p ** 2)
    check(tp ** ty, p ** y)
    check(2 ** ty, 2.0 ** y)
    check(tx < ty, x < y)
    check(tx <= ty, x <= y)
    check(tx > ty, x > y)
    check(tx >= ty, x >= y)
    check(tx == ty, x == y)
    check(tx != ty, x != y)
    check(tx == T(x), np.ones_like(x, dtype=bool))
    check(-tx, -x)
    check(abs(tx), np.abs(x))
    check(tx // ty, x // y)
    check(tx % ty, x % y)
    check(7.5 // ty, 7.5 // y)
    check(7.5 % ty, 7.5 % y)
    check(1 / tp, 1 / p)
    b, c = T(x > 0), T(y > 1)
    check(~b, ~(x > 0))
    check(b & c, (x > 0) & (y > 1))
    check(b | c, (x > 0) | (y > 1))


# ---------------------------------------------------------------- gradient conventions at special points
def _grad(fn, *xs, pos=0):
    return ms.grad(fn, grad_position=pos)(*[T(x) for x in xs])


def test_maximum_minimum_ties_send_the_gradient_to_the_first_input():
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([2.0, 2.0, 1.0])
    gx, gy = _grad(lambda a, b: ops.sum(ops.maximum(a, b)), x, y, pos=(0, 1))
    np.testing.assert_array_equal(gx.asnumpy(), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(gy.asnumpy(), [1.0, 0.0, 0.0])
    gx, gy = _grad(lambda a, b: ops.sum(ops.minimum(a, b)), x, y, pos=(0, 1))
    np.testing.assert_array_equal(gx.asnumpy(), [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(gy.asnumpy(), [0.0, 0.0, 1.0])
    # broadcast: the scalar collects the gradient of every element where it wins
    g = _grad(lambda a, b: ops.sum(ops.maximum(a, b)), x, np.array(1.5), pos=1)
    assert g.shape == () and g.asnumpy() == 1.0


def test_relu_abs_gradients_at_zero_are_zero():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(_grad(lambda a: ops.sum(ops.relu(a)), x).asnumpy(), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(_grad(lambda a: ops.sum(ops.abs(a)), x).asnumpy(), [-1.0, 0.0, 1.0])


def test_non_differentiable_ops_give_zero_gradients():
    x = np.array([-1.5, 0.5, 2.5])
    for fn in (ops.sign, ops.floor, lambda a: ops.floor_div(a, 2.0),
               lambda a: ops.cast(ops.greater(a, 0), ms.float64)):
        np.testing.assert_array_equal(_grad(lambda a: ops.sum(fn(a)), x).asnumpy(), np.zeros(3))


def test_pow_gradients():
    x = np.array([-2.0, 0.0, 0.5, 3.0])
    y = np.array([2.0, 2.0, 1.5, -1.0])
    gx, gy = _grad(lambda a, b: ops.sum(ops.pow(a, b)), x, y, pos=(0, 1))
    np.testing.assert_allclose(gx.asnumpy(), y * x ** (y - 1))           # includes 0 ** 1 at x == 0
    # the exponent's gradient uses log(x) only where x > 0; elsewhere it is 0, never NaN
    np.testing.assert_allclose(gy.asnumpy(), [0.0, 0.0, 0.5 ** 1.5 * np.log(0.5), np.log(3.0) / 3.0])
    # a scalar exponent: gradient of sum(x ** 3) is 3 x^2, second derivative 6 x
    np.testing.assert_allclose(_grad(lambda a: ops.sum(a ** 3), x).asnumpy(), 3 * x ** 2)
    d2 = ms.grad(lambda a: ops.sum(ms.grad(lambda b: ops.sum(b ** 3))(a)))(T(x))
    np.testing.assert_allclose(d2.asnumpy(), 6 * x)


def test_floor_mod_gradients():
    x = np.array([5.3, -2.2, 7.9])
    y = np.array([2.0, 1.5, -3.0])
    gx, gy = _grad(lambda a, b: ops.sum(ops.floor_mod(a, b)), x, y, pos=(0, 1))
    np.testing.assert_allclose(gx.asnumpy(), np.ones(3))
    np.testing.assert_allclose(gy.asnumpy(), -np.floor(x / y))


def test_select_gradients_are_masked_and_cast_gradient_casts_back():
    cond = np.array([True, False, True])
    x, y = rand(3), rand(1, seed=1)
    gx, gy = ms.grad(lambda a, b: ops.sum(ops.select(T(cond), a, b)), grad_position=(0, 1))(T(x), T(y))
    np.testing.assert_array_equal(gx.asnumpy(), [1.0, 0.0, 1.0])
    np.testing.assert_array_equal(gy.asnumpy(), [1.0])              # broadcast y collects one element
    g = ms.grad(lambda a: ops.sum(ops.cast(a, ms.float64) * 3.0))(T(x, np.float32))
    assert g.dtype == ms.float32
    np.testing.assert_allclose(g.asnumpy(), 3.0)


def test_activation_gradients_against_closed_forms():
    x = rand(2, 5, low=-3, high=3)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(_grad(lambda a: ops.sum(ops.sigmoid(a)), x).asnumpy(), s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(_grad(lambda a: ops.sum(ops.tanh(a)), x).asnumpy(), 1 - np.tanh(x) ** 2,
                               rtol=1e-12)
    pdf = np.exp(-x ** 2 / 2) / np.sqrt(2 * np.pi)
    np.testing.assert_allclose(_grad(lambda a: ops.sum(ops.gelu(a)), x).asnumpy(),
                               0.5 * (1 + erf(x / np.sqrt(2))) + x * pdf, rtol=1e-12)
    np.testing.assert_allclose(_grad(lambda a: ops.sum(ops.softplus(a)), x).asnumpy(), s, rtol=1e-12)


# ---------------------------------------------------------------- the gradient-check samples avoid kinks
def test_samples_stay_away_from_non_smooth_points():
    for case in SAMPLES["floor_mod"]:
        q = case.inputs[0] / case.inputs[1]
        assert np.min(np.abs(q - np.round(q))) > 1e-3
    for name in ("maximum", "minimum"):
        for case in SAMPLES[name]:
            assert np.min(np.abs(case.inputs[0] - case.inputs[1])) > 1e-3
    for name in ("abs", "relu"):
        assert all(np.min(np.abs(c.inputs[0])) > 1e-3 for c in SAMPLES[name] if c.grad)
    for case in SAMPLES["softplus"]:
        if case.grad:
            bx = case.inputs[0] * case.attrs["beta"]
            assert np.min(np.abs(bx - case.attrs["threshold"])) > 1e-3


# ---------------------------------------------------------------- bad input: clear errors naming op, inputs, line
def _raises(kind, fn, *words):
    with pytest.raises(kind) as info:
        fn()
    msg = str(info.value)
    for w in words + ("test_math_ops.py:",):
        assert w in msg, (w, msg)


def test_bad_arithmetic_inputs():
    _raises(ValueError, lambda: ops.maximum(T(np.ones((3, 4))), T(np.ones(5))), "maximum", "[3, 4]", "[5]")
    _raises(ValueError, lambda: ops.pow(T(np.ones((2, 3))), T(np.ones((3, 2)))), "pow", "[2, 3]", "[3, 2]")
    _raises(ValueError, lambda: T(np.ones(3)) % T(np.ones(2)), "floor_mod", "Float64[3]", "Float64[2]")
    _raises(TypeError, lambda: ops.neg(T([True, False])), "neg", "Bool[2]")


def test_bad_unary_and_activation_inputs():
    _raises(TypeError, lambda: ops.sign(T([True])), "sign", "Bool[1]")
    _raises(TypeError, lambda: ops.relu(T([True])), "relu", "Bool[1]")
    _raises(ValueError, lambda: ops.gelu(T([1.0]), approximate="fast"), "gelu", "approximate", "Float32[1]")
    _raises(ValueError, lambda: ops.softplus(T([1.0]), beta=0), "softplus", "beta", "Float32[1]")


def test_bad_comparison_and_logic_inputs():
    _raises(ValueError, lambda: T(np.ones((2, 3))) < T(np.ones(4)), "less", "[2, 3]", "[4]")
    _raises(TypeError, lambda: ops.logical_and(T([1.0, 0.0]), T([True, False])), "logical_and", "Float32")
    _raises(TypeError, lambda: ops.logical_not(T(np.array([1, 0], np.int32))), "logical_not", "Int32")


def test_bad_select_and_cast_inputs():
    _raises(TypeError, lambda: ops.select(T([1.0, 0.0]), T([1.0, 2.0]), T([3.0, 4.0])), "select", "bool",
            "Float32[2]")
    _raises(ValueError, lambda: ops.where(T([True, False]), T(np.ones(3)), 0.0), "select", "[2]", "[3]")
    _raises(TypeError, lambda: ops.cast(T([1.0]), "complex64"), "cast", "complex64", "Float32[1]")
