"""Optimizer primitives through the public API (ops.xxx and P.Xxx): values against numpy, in-place updates of the
parameter and state tensors, dtypes, and clear errors on bad input."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import ops, Tensor, Parameter
from mindlab.ops import operations as P


def T(x, dtype=np.float32):
    return Tensor(np.asarray(x, dtype=dtype))


RNG = np.random.default_rng(0)


def arrays(*shape, n=3, dtype=np.float32):
    return [RNG.normal(size=shape).astype(dtype) for _ in range(n)]


# ---------------------------------------------------------------- assign
def test_assign_in_place_broadcast_and_cast():
    v = Parameter(T(np.zeros((2, 3))), name="v")
    data = v._data
    out = ops.assign(v, T(np.arange(6).reshape(2, 3), np.float64))
    assert out is v and v._data is data and v.dtype == ms.float32
    np.testing.assert_array_equal(v.asnumpy(), np.arange(6).reshape(2, 3))
    P.Assign()(v, 7.0)
    np.testing.assert_array_equal(v.asnumpy(), np.full((2, 3), 7.0))
    ops.assign(v, T([1, 2, 3]))
    np.testing.assert_array_equal(v.asnumpy(), np.tile([1, 2, 3], (2, 1)))
    i = Tensor(np.zeros(3, np.int32))
    ops.assign(i, Tensor(np.array([4, 5, 6], np.int64)))
    assert i.dtype == ms.int32 and i.tolist() == [4, 5, 6]


def test_assign_replaces_read_only_data():
    ms.set_context(device_target="CPU")   # host storage tricks: a read-only numpy view as the tensor's data
    v = Tensor(np.zeros(3, np.float32))
    v._data = np.broadcast_to(np.float32(1), (3,))      # a read-only view
    ops.assign(v, T([1, 2, 3]))
    np.testing.assert_array_equal(v.asnumpy(), [1, 2, 3])


# ---------------------------------------------------------------- apply_momentum
@pytest.mark.parametrize("nesterov", [False, True])
def test_apply_momentum(nesterov):
    var, acc, grad = arrays(3, 4)
    v, a = T(var), T(acc)
    vdata = v._data
    out = P.ApplyMomentum(use_nesterov=nesterov)(v, a, 0.1, T(grad), 0.9)
    acc_ref = 0.9 * acc + grad
    var_ref = var - 0.1 * (grad + 0.9 * acc_ref if nesterov else acc_ref)
    assert out is v and v._data is vdata                       # updated in place
    np.testing.assert_allclose(a.asnumpy(), acc_ref, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(v.asnumpy(), var_ref, rtol=1e-5, atol=1e-7)


def test_apply_momentum_float64_float16_and_non_contiguous():
    var, acc, grad = arrays(4, 5, dtype=np.float64)
    v, a = T(var, np.float64), T(acc, np.float64)
    ops.apply_momentum(v, a, T(0.5, np.float64), T(grad.T.copy(), np.float64).T, 0.9)   # non-contiguous gradient
    np.testing.assert_allclose(v.asnumpy(), var - 0.5 * (0.9 * acc + grad), rtol=1e-12)
    assert v.dtype == ms.float64
    h, ha = T(var, np.float16), T(acc, np.float16)
    ops.apply_momentum(h, ha, 0.5, T(grad, np.float16), 0.9)
    assert h.dtype == ms.float16
    np.testing.assert_allclose(h.asnumpy(), var - 0.5 * (0.9 * acc + grad), rtol=1e-2, atol=1e-2)
    if ms.get_context("device_target") == "CPU":                # host storage: a non-contiguous numpy state
        s = T(np.zeros((5, 4)))
        s._data = np.zeros((4, 5), np.float32).T                 # non-contiguous state: written back
        ops.apply_momentum(s, T(np.zeros((5, 4))), 1.0, T(np.ones((5, 4))), 0.0)
        np.testing.assert_array_equal(s.asnumpy(), -np.ones((5, 4)))


# ---------------------------------------------------------------- sgd
@pytest.mark.parametrize("kw", [dict(), dict(dampening=0.2, weight_decay=0.05), dict(nesterov=True)])
def test_sgd_two_steps(kw):
    p0, g1, g2 = arrays(6)
    p, acc, stat = T(p0), T(np.zeros(6)), T(np.ones(6))
    op = P.SGD(**kw)
    for g in (g1, g2):
        op(p, T(g), T(0.1), acc, T(0.9), stat)
    d, wd, nest = kw.get("dampening", 0.0), kw.get("weight_decay", 0.0), kw.get("nesterov", False)
    ref, a = p0.astype(np.float64), None
    for g in (g1, g2):
        g = g + wd * ref
        a = g if a is None else 0.9 * a + (1 - d) * g
        ref = ref - 0.1 * (g + 0.9 * a if nest else a)
    np.testing.assert_allclose(p.asnumpy(), ref, rtol=1e-5)
    np.testing.assert_array_equal(stat.asnumpy(), np.zeros(6))   # the first step clears stat
    with pytest.raises(ValueError):
        P.SGD(dampening=0.1, nesterov=True)


def test_sgd_without_momentum_ignores_state():
    p0, g = arrays(5, n=2)
    p, acc, stat = T(p0), T(np.zeros(5)), T(np.ones(5))
    ops.sgd(p, T(g), 0.5, acc, 0.0, stat)
    np.testing.assert_allclose(p.asnumpy(), p0 - 0.5 * g, rtol=1e-6)
    np.testing.assert_array_equal(acc.asnumpy(), np.zeros(5))


# ---------------------------------------------------------------- adam / adam_weight_decay
@pytest.mark.parametrize("nesterov", [False, True])
def test_adam(nesterov):
    var, m, g = arrays(2, 3, 4)
    v = np.abs(arrays(2, 3, 4, n=1)[0])
    tv, tm, tvv = T(var), T(m), T(v)
    out = P.Adam(use_nesterov=nesterov)(tv, tm, tvv, T(0.81), T(0.998), T(0.01), T(0.9), T(0.999), T(1e-8), T(g))
    assert out[0] is tv and out[1] is tm and out[2] is tvv
    m_ref = 0.9 * m + 0.1 * g
    v_ref = 0.999 * v + 0.001 * g * g
    lr_t = 0.01 * np.sqrt(1 - 0.998) / (1 - 0.81)
    step = (0.9 * m_ref + 0.1 * g) if nesterov else m_ref
    np.testing.assert_allclose(tm.asnumpy(), m_ref, rtol=1e-5)
    np.testing.assert_allclose(tvv.asnumpy(), v_ref, rtol=1e-5)
    np.testing.assert_allclose(tv.asnumpy(), var - lr_t * step / (np.sqrt(v_ref) + 1e-8), rtol=1e-5)


def test_adam_weight_decay():
    var, m, g = arrays(7)
    v = np.abs(arrays(7, n=1)[0])
    tv, tm, tvv = T(var), T(m), T(v)
    ops.adam_weight_decay(tv, tm, tvv, 0.01, 0.9, 0.999, 1e-6, 0.1, T(g))
    m_ref, v_ref = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
    np.testing.assert_allclose(tv.asnumpy(), var - 0.01 * (m_ref / (np.sqrt(v_ref) + 1e-6) + 0.1 * var), rtol=1e-5)
    P.AdamWeightDecay()(tv, tm, tvv, T(0.0), T(0.9), T(0.999), T(1e-6), T(0.1), T(g))   # lr 0: no change
    np.testing.assert_allclose(tv.asnumpy(), var - 0.01 * (m_ref / (np.sqrt(v_ref) + 1e-6) + 0.1 * var), rtol=1e-5)


def test_large_parameters_use_the_parallel_kernels():
    n = 300_000
    var, acc, g = arrays(n)
    v, a = T(var), T(acc)
    ops.apply_momentum(v, a, 0.1, T(g), 0.9)
    np.testing.assert_allclose(v.asnumpy(), var - 0.1 * (0.9 * acc + g), rtol=1e-5, atol=1e-7)
    m, vv = T(np.zeros(n)), T(np.zeros(n))
    ops.adam(v, m, vv, 0.9, 0.999, 0.001, 0.9, 0.999, 1e-8, T(g))
    np.testing.assert_allclose(m.asnumpy(), 0.1 * g, rtol=1e-5)


def test_updates_are_not_differentiable():
    from mindlab.ops import REGISTRY
    for name in ("assign", "apply_momentum", "sgd", "adam", "adam_weight_decay"):
        assert not REGISTRY[name].differentiable and "backward pass" in REGISTRY[name].bprop.reason


# ---------------------------------------------------------------- bad input: op name, shapes/dtypes, test line
def _raises(kind, fn, *words):
    with pytest.raises(kind) as info:
        fn()
    msg = str(info.value)
    for w in words + ("test_optim_ops.py:",):
        assert w in msg, (w, msg)


def test_bad_inputs():
    _raises(ValueError, lambda: ops.apply_momentum(T(np.ones((2, 3))), T(np.ones((3, 2))), 0.1, T(np.ones((2, 3))),
                                                   0.9), "apply_momentum", "[2, 3]", "[3, 2]", "accumulation")
    _raises(TypeError, lambda: ops.apply_momentum(T(np.ones(3)), T(np.ones(3), np.float64), 0.1, T(np.ones(3)), 0.9),
            "apply_momentum", "Float64[3]", "Float32[3]")
    _raises(ValueError, lambda: ops.sgd(T(np.ones(3)), T(np.ones(3)), T([0.1, 0.2]), T(np.ones(3)), 0.9,
                                        T(np.ones(3))), "sgd", "learning_rate", "[2]")
    _raises(ValueError, lambda: ops.adam(T(np.ones(4)), T(np.ones(4)), T(np.ones(4)), 0.9, 0.99, 0.1, 0.9, 0.999,
                                         1e-8, T(np.ones(5))), "adam", "gradient", "[5]", "[4]")
    _raises(TypeError, lambda: ops.adam_weight_decay(Tensor(np.ones(2, np.int32)), Tensor(np.ones(2, np.int32)),
                                                     Tensor(np.ones(2, np.int32)), 0.1, 0.9, 0.9, 1e-6, 0.0,
                                                     Tensor(np.ones(2, np.int32))), "adam_weight_decay", "Int32")
    _raises(ValueError, lambda: ops.assign(T(np.ones(3)), T(np.ones((2, 3)))), "assign", "[3]", "[2, 3]")
    _raises(TypeError, lambda: ops.assign(Tensor(np.ones(3, np.int32)), T([0.5, 1, 2])), "assign", "Int32",
            "Float32")
