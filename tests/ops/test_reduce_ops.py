"""The reduction family through the public API: ops.* functions, P.* classes and Tensor methods against numpy;
gradient conventions (ties split evenly, prod at zeros); dtypes; and error messages on bad input."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor, ops
from mindlab import dtype as mdt
from mindlab.ops import operations as P

from .samples import rand

AXES = [None, (), 0, 1, -1, (0, 2), [2, -3], (-2,)]


def check(out, ref, rtol=1e-6):
    assert isinstance(out, Tensor)
    assert out.shape == np.shape(ref), (out.shape, np.shape(ref))
    np.testing.assert_allclose(out.asnumpy(), ref, rtol=rtol, atol=1e-7)


def np_axis(axis):
    return None if axis is None or axis == () else (tuple(axis) if isinstance(axis, list) else axis)


# ---------------------------------------------------------------- forward values
REDUCTIONS = [  # (ops function, P class, numpy reference)
    (ops.sum, P.ReduceSum, np.sum),
    (ops.mean, P.ReduceMean, np.mean),
    (ops.amax, P.ReduceMax, np.amax),
    (ops.amin, P.ReduceMin, np.amin),
    (ops.prod, P.ReduceProd, np.prod),
]


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("fn,cls,ref", REDUCTIONS, ids=[r[0].__name__ for r in REDUCTIONS])
def test_reductions_match_numpy(fn, cls, ref, axis, keep):
    x = rand(2, 3, 4).astype(np.float32)
    expect = ref(x, axis=np_axis(axis), keepdims=keep)
    out = fn(Tensor(x), axis, keep)
    check(out, expect)
    assert out.dtype == mdt.float32
    check(cls(keep_dims=keep)(Tensor(x), () if axis is None else axis), expect)


@pytest.mark.parametrize("axis", [None, 1, (0, -1)], ids=str)
def test_tensor_methods(axis):
    x = rand(2, 3, 4)
    t = Tensor(x)
    a = np_axis(axis)
    check(t.sum(axis), x.sum(a))
    check(t.sum(axis=axis, keepdims=True), x.sum(a, keepdims=True))
    check(t.mean(axis, True), x.mean(a, keepdims=True))
    check(t.max(axis), x.max(a))
    check(t.max(axis=axis, keepdims=True), x.max(a, keepdims=True))
    check(t.min(axis), x.min(a))
    check(t.prod(axis), x.prod(a))
    check(t.prod(axis, keep_dims=True), x.prod(a, keepdims=True))
    assert t.all(axis).asnumpy().tolist() == np.all(x, a).tolist()
    assert (Tensor(x > 0.9)).any(axis).asnumpy().tolist() == np.any(x > 0.9, a).tolist()



def test_max_min_with_indices_and_argmax_with_value():
    x = rand(3, 5)
    values, idx = ops.max(Tensor(x), 1, return_indices=True)
    check(values, x.max(1))
    assert idx.dtype == mdt.int64 and idx.asnumpy().tolist() == x.argmax(1).tolist()
    values, idx = ops.min(Tensor(x), 0, keepdims=True, return_indices=True)
    check(values, x.min(0, keepdims=True))
    assert idx.asnumpy().tolist() == x.argmin(0)[None].tolist()
    idx, values = P.ArgMaxWithValue(axis=1)(Tensor(x))
    assert idx.dtype == mdt.int32 and idx.asnumpy().tolist() == x.argmax(1).tolist()
    check(values, x.max(1))
    idx, values = P.ArgMinWithValue(axis=0, keep_dims=True)(Tensor(x))
    assert idx.shape == (1, 5) and idx.asnumpy().ravel().tolist() == x.argmin(0).tolist()
    check(values, x.min(0, keepdims=True))


def test_argmax_argmin():
    x = rand(2, 3, 4)
    t = Tensor(x)
    out = ops.argmax(t)
    assert out.shape == () and out.dtype == mdt.int64 and int(out) == x.argmax()
    assert ops.argmax(t, -1).asnumpy().tolist() == x.argmax(-1).tolist()
    assert ops.argmax(t, 1, keepdim=True).shape == (2, 1, 4)
    assert ops.argmin(t, dim=0).asnumpy().tolist() == x.argmin(0).tolist()
    assert t.argmax(axis=2).asnumpy().tolist() == x.argmax(2).tolist()
    assert t.argmin(1, keepdims=True).asnumpy().tolist() == x.argmin(1)[:, None].tolist()
    out = P.Argmax()(t)   # MindSpore's class defaults: axis=-1, int32
    assert out.dtype == mdt.int32 and out.asnumpy().tolist() == x.argmax(-1).tolist()
    out = P.Argmin(axis=0, output_type=ms.int64)(t)
    assert out.dtype == mdt.int64 and out.asnumpy().tolist() == x.argmin(0).tolist()
    assert ops.argmax(Tensor(np.array([3, 7, 7, 1]))).item() == 1   # ties: the first one


def test_all_any():
    x = np.array([[1.0, 0.0, 2.0], [3.0, 4.0, 5.0]])
    assert ops.all(Tensor(x)).item() is False
    assert ops.all(Tensor(x), 1).asnumpy().tolist() == [False, True]
    assert ops.any(Tensor(x == 0), (0, 1), keep_dims=True).shape == (1, 1)
    b = Tensor(np.array([[True, False], [False, False]]))
    assert P.ReduceAny()(b, 1).asnumpy().tolist() == [True, False]
    assert P.ReduceAll(keep_dims=True)(b, ()).asnumpy().tolist() == [[False]]
    assert ops.all(b).dtype == ms.bool_


def test_dtypes():
    i = Tensor(np.array([[1, 2], [3, 5]], np.int32))
    assert ops.sum(i).dtype == mdt.int32 and ops.sum(i).item() == 11
    assert ops.mean(i).dtype == mdt.float32 and ops.mean(i, 1).asnumpy().tolist() == [1.5, 4.0]
    assert ops.amax(i).dtype == mdt.int32 and ops.amax(i).item() == 5
    assert ops.prod(i, 0).asnumpy().tolist() == [3, 10]
    assert ops.sum(Tensor(np.array([True, True, False]))).item() == 2
    assert ops.sum(Tensor(np.ones(3, np.float32)), dtype=ms.float64).dtype == mdt.float64
    assert ops.mean(Tensor(np.ones(4, np.float16))).dtype == mdt.float16


# ---------------------------------------------------------------- gradients at special points
def test_max_min_gradient_splits_ties_evenly():
    x = Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]))
    np.testing.assert_allclose(ms.grad(lambda t: ops.amax(t))(x).asnumpy(), [[0, 0.5, 0.5], [0, 0, 0]])
    np.testing.assert_allclose(ms.grad(lambda t: ops.amax(t, 1).sum())(x).asnumpy(),
                               [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(ms.grad(lambda t: t.min(axis=-1, keepdims=True).sum())(x).asnumpy(),
                               [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]])


def test_prod_gradient_with_zeros_is_exact():
    x = Tensor(np.array([[2.0, 0.0, 3.0], [0.0, 5.0, 0.0], [1.0, 2.0, 4.0]]))
    g = ms.grad(lambda t: ops.prod(t, 1).sum())(x).asnumpy()
    np.testing.assert_allclose(g, [[0, 6, 0], [0, 0, 0], [8, 4, 2]])
    g = ms.grad(lambda t: ops.prod(t))(Tensor(np.array([2.0, 0.0, 3.0]))).asnumpy()
    np.testing.assert_allclose(g, [0, 6, 0])


def test_mean_gradient_and_second_order():
    x = Tensor(rand(3, 4))
    np.testing.assert_allclose(ms.grad(lambda t: ops.mean(t, -1).sum())(x).asnumpy(), np.full((3, 4), 0.25))
    # second order of prod: its Hessian is prod / (x_i x_j) off the diagonal, 0 on it
    v = np.array([1.0, 2.0, 3.0])
    xs = Tensor(v)
    h = ms.grad(lambda t: ms.grad(lambda u: ops.prod(u))(t).sum())(xs).asnumpy()
    expect = [v.prod() / v[i] * sum(1 / v[j] for j in range(3) if j != i) for i in range(3)]
    np.testing.assert_allclose(h, expect)


def test_argmax_all_are_not_differentiable():
    from mindlab.ops import REGISTRY
    for name in ("argmax", "argmin", "all", "any"):
        assert not REGISTRY[name].differentiable


# ---------------------------------------------------------------- errors name the op, the inputs and the line
def test_bad_axis_error():
    x = Tensor(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError) as err:
        ops.mean(x, 2)
    msg = str(err.value)
    assert "mean" in msg and "[2, 3]" in msg and "out of range" in msg and "test_reduce_ops.py:" in msg
    with pytest.raises(ValueError) as err:
        x.max(axis=(0, 0))
    assert "max" in str(err.value) and "repeats" in str(err.value) and "test_reduce_ops.py:" in str(err.value)
    with pytest.raises(ValueError) as err:
        ops.argmax(x, -3)
    assert "argmax" in str(err.value) and "test_reduce_ops.py:" in str(err.value)


def test_bad_dtype_error():
    with pytest.raises(TypeError) as err:
        ops.argmax(Tensor(np.array([True, False])))
    msg = str(err.value)
    assert "argmax" in msg and "Bool" in msg and "test_reduce_ops.py:" in msg
    with pytest.raises(TypeError) as err:
        ops.sum(Tensor(np.ones(3)), axis=1.5)
    assert "sum" in str(err.value) and "test_reduce_ops.py:" in str(err.value)


def test_empty_max_error():
    with pytest.raises(ValueError) as err:
        ops.amax(Tensor(np.ones((0, 3))), 0)
    assert "max" in str(err.value) and "size 0" in str(err.value) and "test_reduce_ops.py:" in str(err.value)
