"""Elementwise and reduction composites (mindlab/ops/composite/elementwise.py, reductions.py): values against numpy /
scipy, GRAPH_MODE against PyNative, gradients against finite differences; Tensor methods; errors."""
import numpy as np
import pytest
from scipy.special import logsumexp as sp_logsumexp, xlogy as sp_xlogy

import mindlab as ms
from mindlab import Tensor, ops

from .composite_check import check


def r(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed + 11 * len(shape) + sum(shape)).uniform(low, high, shape)


X = r(3, 4)
Y = r(3, 4, seed=5) + 3.0 * np.sign(r(3, 4, seed=5))      # away from 0


@pytest.mark.parametrize("name, fn, ref, args", [
    ("clamp", lambda x: ops.clamp(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), (X,)),
    ("clamp_min", lambda x: ops.clamp(x, min=0.3), lambda x: np.maximum(x, 0.3), (X,)),
    ("clamp_tensor_bounds", lambda x, lo: ops.clamp(x, lo, 1.0), lambda x, lo: np.minimum(np.maximum(x, lo), 1.0),
     (X, r(4, seed=9) * 0.3)),
    ("clip_by_value", lambda x: ops.clip_by_value(x, -1.0, 1.0), lambda x: np.clip(x, -1, 1), (X,)),
    ("remainder", lambda x, y: ops.remainder(x, y), np.remainder, (X * 3, Y)),
    ("fmod", lambda x, y: ops.fmod(x, y), np.fmod, (X * 3, Y)),
    ("trunc", lambda x: ops.trunc(x * 3), lambda x: np.trunc(x * 3), (X,)),
    ("true_divide", ops.true_divide, np.true_divide, (X, Y)),
    ("exp2", ops.exp2, np.exp2, (X,)),
    ("log2", ops.log2, np.log2, (np.abs(X) + 0.1,)),
    ("log10", ops.log10, np.log10, (np.abs(X) + 0.1,)),
    ("lerp", lambda a, b: ops.lerp(a, b, 0.3), lambda a, b: a + 0.3 * (b - a), (X, Y)),
    ("lerp_tensor_weight", ops.lerp, lambda a, b, w: a + w * (b - a), (X, Y, r(4, seed=3))),
    ("addcmul", lambda a, b, c: ops.addcmul(a, b, c, value=0.5), lambda a, b, c: a + 0.5 * b * c, (X, Y, X)),
    ("addcdiv", lambda a, b, c: ops.addcdiv(a, b, c, value=2.0), lambda a, b, c: a + 2 * b / c, (X, X, Y)),
    ("logaddexp", ops.logaddexp, np.logaddexp, (X, r(3, 4, seed=2))),
    ("xlogy", ops.xlogy, sp_xlogy, (X, np.abs(Y))),
    ("hypot", ops.hypot, np.hypot, (X, Y)),
    ("var", lambda x: ops.var(x, 1), lambda x: np.var(x, 1), (X,)),
    ("var_ddof_keepdims", lambda x: ops.var(x, (0, 1), ddof=1, keepdims=True),
     lambda x: np.var(x, ddof=1, keepdims=True), (X,)),
    ("var_torch_spelling", lambda x: ops.var(x, dim=0, correction=1, keepdim=True),
     lambda x: np.var(x, 0, ddof=1, keepdims=True), (X,)),
    ("std", lambda x: ops.std(x, -1, unbiased=True), lambda x: np.std(x, -1, ddof=1), (X,)),
    ("std_all", ops.std, np.std, (X,)),
    ("var_mean", lambda x: ops.var_mean(x, 0), lambda x: (np.var(x, 0), np.mean(x, 0)), (X,)),
    ("std_mean", lambda x: ops.std_mean(x, 1, keepdims=True),
     lambda x: (np.std(x, 1, keepdims=True), np.mean(x, 1, keepdims=True)), (X,)),
    ("logsumexp", lambda x: ops.logsumexp(x, 1), lambda x: sp_logsumexp(x, 1), (X,)),
    ("logsumexp_all_keepdims", lambda x: ops.logsumexp(x * 300, keepdims=True),
     lambda x: sp_logsumexp(x * 300, keepdims=True), (X,)),
    ("logsumexp_axes", lambda x: ops.logsumexp(x, (0, 2)), lambda x: sp_logsumexp(x, (0, 2)), (r(2, 3, 2),)),
    ("cumsum", lambda x: ops.cumsum(x, 1), lambda x: np.cumsum(x, 1), (X,)),
    ("cumsum_first_axis", lambda x: ops.cumsum(x, dim=0), lambda x: np.cumsum(x, 0), (r(3, 2, 2),)),
    ("cumsum_negative_axis", lambda x: ops.cumsum(x, -2), lambda x: np.cumsum(x, -2), (r(2, 3, 2),)),
    ("cumsum_1d", lambda x: ops.cumsum(x, 0), lambda x: np.cumsum(x), (r(5),)),
])
def test_differentiable_composites(name, fn, ref, args):
    check(fn, ref, *args)


def test_float_classification_and_counting():
    v = np.array([0.0, -1.5, np.nan, np.inf, -np.inf, 2.0])
    check(ops.isnan, np.isnan, v, grad=False)
    check(ops.isinf, np.isinf, v, grad=False)
    check(ops.isfinite, np.isfinite, v, grad=False)
    check(ops.isposinf, np.isposinf, v, grad=False)
    check(ops.isneginf, np.isneginf, v, grad=False)
    check(ops.nan_to_num, lambda a: np.nan_to_num(a), v, grad=False)
    check(lambda a: ops.nan_to_num(a, nan=1.0, posinf=9.0, neginf=-9.0),
          lambda a: np.nan_to_num(a, nan=1.0, posinf=9.0, neginf=-9.0), v.astype(np.float32), grad=False)
    m = np.array([[0, 3, 0], [1, 0, -2]], np.int32)
    check(lambda a: ops.count_nonzero(a), np.count_nonzero, m, grad=False)
    check(lambda a: ops.count_nonzero(a, 1, keepdims=True), lambda a: np.count_nonzero(a, 1, keepdims=True), m,
          grad=False)
    out = ops.cumsum(Tensor(m), 1)                                  # integers accumulate in int64
    assert out.dtype == ms.int64 and out.asnumpy().tolist() == np.cumsum(m, 1).tolist()
    assert ops.cumsum(Tensor(m), 1, dtype=ms.float32).dtype == ms.float32
    check(lambda a: ops.logsumexp(a, 1), lambda a: sp_logsumexp(a, 1),
          np.array([[-np.inf, -np.inf], [0.0, -np.inf]]), grad=False)


def test_nan_to_num_passes_gradients_where_values_are_kept():
    g = ms.grad(lambda a: ops.sum(ops.nan_to_num(a) * 0.5))(Tensor(np.array([1.0, np.nan, np.inf])))
    np.testing.assert_allclose(g.asnumpy(), [0.5, 0.0, 0.0])


def test_tensor_methods():
    x = Tensor(X)
    np.testing.assert_allclose(x.clip(-0.5, 0.5).asnumpy(), np.clip(X, -0.5, 0.5))
    np.testing.assert_allclose(x.clamp(min=0.0).asnumpy(), np.maximum(X, 0))
    np.testing.assert_allclose(x.var(axis=1).asnumpy(), np.var(X, 1))
    np.testing.assert_allclose(x.std(ddof=1).asnumpy(), np.std(X, ddof=1))
    np.testing.assert_allclose(x.cumsum(axis=0).asnumpy(), np.cumsum(X, 0))
    np.testing.assert_allclose(x.logsumexp(1).asnumpy(), sp_logsumexp(X, 1))
    np.testing.assert_allclose(x.reshape(4, 3).asnumpy(), X.reshape(4, 3))          # sizes one by one
    np.testing.assert_allclose(x.reshape((2, -1)).asnumpy(), X.reshape(2, -1))
    assert x.isnan().asnumpy().sum() == 0 and bool(x.isfinite().all())
    np.testing.assert_allclose(ms.jit(lambda t: t.clip(-1.0, 1.0).std(axis=0))(x).asnumpy(),
                               np.std(np.clip(X, -1, 1), 0))


def test_errors_name_the_op():
    x = Tensor(X)
    with pytest.raises(ValueError, match="clamp: give at least one of min and max"):
        ops.clamp(x)
    with pytest.raises(ValueError, match=r"var: axis 2 is out of range for an input of shape \[3, 4\]"):
        ops.var(x, 2)
    with pytest.raises(TypeError, match="std: ddof must be a number"):
        ops.std(x, ddof="1")
    with pytest.raises(ValueError, match="cumsum: give the axis"):
        ops.cumsum(x)
    with pytest.raises(TypeError, match=r"logsumexp: the input must be floating point, got Int32\[2\]"):
        ops.logsumexp(Tensor(np.array([1, 2], np.int32)))


def test_transcendental_primitives_through_the_public_api():
    x = np.array([[0.3, -0.8, 1.2], [1e-10, -0.5, 0.0]])
    for fn, ref in [(ops.sin, np.sin), (ops.cos, np.cos), (ops.tan, np.tan), (ops.atan, np.arctan),
                    (ops.sinh, np.sinh), (ops.cosh, np.cosh), (ops.log1p, np.log1p), (ops.expm1, np.expm1)]:
        check(fn, ref, x)
        assert fn(Tensor(x.astype(np.float32))).dtype == ms.float32 and fn(Tensor(np.array([1, 2]))).dtype == ms.float32
    from scipy.special import erf
    check(ops.erf, erf, x)
    check(ops.atan2, np.arctan2, x, np.abs(x[::-1]) + 0.5)
    check(ops.round, np.round, np.array([0.5, 1.5, 2.5, -0.5, -2.7]), grad=False)
    check(ops.ceil, np.ceil, np.array([0.5, -1.5, 2.0]), grad=False)
    assert ops.log1p(Tensor(np.array([1e-20]))).asnumpy()[0] == 1e-20           # where log(1 + x) gives 0
    t = Tensor(x)
    np.testing.assert_allclose((t.sin() + t.cos().round() + t.atan2(2.0)).asnumpy(),
                               np.sin(x) + np.round(np.cos(x)) + np.arctan2(x, 2.0))
    assert not ms.grad(lambda a: ops.sum(ops.round(a) + ops.ceil(a)))(t).asnumpy().any()   # step functions: 0
