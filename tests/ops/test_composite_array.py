"""Composite creation, shape and linalg ops (mindlab/ops/composite/{creation,shape,linalg}.py) through the public
API: values against numpy / scipy, GRAPH_MODE against PyNative and gradients against finite differences
(composite_check.check), dtypes, and the error messages on bad arguments."""
import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist as scipy_cdist

import mindlab as ms
from mindlab import Tensor, ops

from .composite_check import check


def rand(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, shape)


# ---------------------------------------------------------------- creation
def test_arange():
    check(lambda: ops.arange(5), lambda: np.arange(5), grad=False)
    check(lambda: ops.arange(2, 9, 3), lambda: np.arange(2, 9, 3), grad=False)
    check(lambda: ops.arange(5, -2, -2), lambda: np.arange(5, -2, -2), grad=False)
    check(lambda: ops.arange(1, 2.5, 0.5), lambda: np.arange(1, 2.5, 0.5, dtype=np.float32), grad=False)
    check(lambda: ops.arange(3, 3), lambda: np.arange(3, 3), grad=False)
    assert ops.arange(4).dtype == ms.int64
    assert ops.arange(0.0, 1.0, 0.25).dtype == ms.float32
    assert ops.arange(4, dtype=ms.float64).dtype == ms.float64
    assert ops.arange(np.int32(3)).shape == (3,)
    assert ops.arange(0, 1, 0.1).shape == (10,)


def test_linspace_eye_full_like():
    check(lambda: ops.linspace(-1, 1, 5), lambda: np.linspace(-1, 1, 5).astype(np.float32), grad=False)
    check(lambda: ops.linspace(2, 3, 1), lambda: np.array([2.0], np.float32), grad=False)
    check(lambda: ops.linspace(0, 1, 0), lambda: np.zeros(0, np.float32), grad=False)
    assert ops.linspace(0, 1, 3, dtype=ms.float64).dtype == ms.float64
    check(lambda: ops.eye(3), lambda: np.eye(3, dtype=np.float32), grad=False)
    check(lambda: ops.eye(2, 4, dtype=ms.int32), lambda: np.eye(2, 4, dtype=np.int32), grad=False)
    x = rand(2, 3)
    check(lambda t: ops.full_like(t, 1.5), lambda a: np.full_like(a, 1.5), x, grad=False)
    check(lambda t: ops.full_like(t, 7, dtype=ms.int32), lambda a: np.full(a.shape, 7, np.int32), x, grad=False)
    assert ops.full_like(Tensor(np.ones(3, np.int32)), 2).dtype == ms.int32


def test_tril_triu():
    x = rand(2, 3, 4)
    for k in (0, -1, 2):
        check(lambda t: ops.tril(t, k), lambda a: np.tril(a, k), x)
        check(lambda t: ops.triu(t, diagonal=k), lambda a: np.triu(a, k), x)
    check(lambda t: ops.tril(t), np.tril, rand(3, 3))
    b = rand(3, 3) > 0
    check(lambda t: ops.triu(t), np.triu, b, grad=False)
    i = np.arange(6, dtype=np.int32).reshape(2, 3)
    check(lambda t: ops.tril(t, -1), lambda a: np.tril(a, -1), i, grad=False)


def test_diag_diagonal_trace():
    v = rand(3)
    for k in (0, 2, -1):
        check(lambda t: ops.diag(t, k), lambda a: np.diag(a, k), v)
    m = rand(3, 4)
    for k in (0, 1, -2, 5):
        check(lambda t: ops.diag(t, k), lambda a: np.diag(a, k), m)
    x = rand(2, 3, 4)
    check(lambda t: ops.diagonal(t), lambda a: np.diagonal(a), x)
    check(lambda t: ops.diagonal(t, 1, 1, 2), lambda a: np.diagonal(a, 1, 1, 2), x)
    check(lambda t: ops.diagonal(t, -1, -1, 0), lambda a: np.diagonal(a, -1, -1, 0), x)
    check(lambda t: ops.diagonal(t, offset=-1, dim1=2, dim2=1), lambda a: np.diagonal(a, -1, 2, 1), x)
    check(ops.trace, np.trace, m)
    check(ops.trace, np.trace, rand(4, 2))
    check(ops.trace, np.trace, np.arange(9, dtype=np.int64).reshape(3, 3), grad=False)


def test_meshgrid():
    a, b, c = rand(2), rand(3, seed=1), rand(4, seed=2)
    check(lambda x, y, z: ops.meshgrid(x, y, z), lambda x, y, z: np.meshgrid(x, y, z, indexing="ij"), a, b, c)
    check(lambda x, y, z: ops.meshgrid([x, y, z], indexing="xy"), lambda x, y, z: np.meshgrid(x, y, z), a, b, c)
    check(lambda x, y: ops.meshgrid(x, y, indexing="xy"), lambda x, y: np.meshgrid(x, y), a, b)
    check(lambda x: ops.meshgrid(x), lambda x: np.meshgrid(x), a)


# ---------------------------------------------------------------- shape
def test_unsqueeze_permute_swapaxes_movedim():
    x = rand(2, 3, 4)
    check(lambda t: ops.unsqueeze(t, 0), lambda a: a[None], x)
    check(lambda t: ops.unsqueeze(t, -1), lambda a: a[..., None], x)
    check(lambda t: ops.unsqueeze(t, 2), lambda a: np.expand_dims(a, 2), x)
    check(lambda t: ops.permute(t, 2, 0, 1), lambda a: a.transpose(2, 0, 1), x)
    check(lambda t: ops.permute(t, (-1, 1, 0)), lambda a: a.transpose(2, 1, 0), x)
    check(lambda t: ops.permute(t, [0, 1, 2]), lambda a: a, x)
    check(lambda t: ops.swapaxes(t, 0, -1), lambda a: np.swapaxes(a, 0, 2), x)
    check(lambda t: ops.swapdims(t, 1, 2), lambda a: np.swapaxes(a, 1, 2), x)
    y = rand(2, 3, 4, 5)
    check(lambda t: ops.movedim(t, 0, -1), lambda a: np.moveaxis(a, 0, -1), y)
    check(lambda t: ops.movedim(t, (0, 3), (2, 0)), lambda a: np.moveaxis(a, (0, 3), (2, 0)), y)
    check(lambda t: ops.movedim(t, [-1, 1], [1, -1]), lambda a: np.moveaxis(a, [-1, 1], [1, -1]), y)


def test_flip_roll():
    x = rand(2, 3, 4)
    check(lambda t: ops.flip(t, 0), lambda a: np.flip(a, 0), x)
    check(lambda t: ops.flip(t, (0, -1)), lambda a: np.flip(a, (0, 2)), x)
    check(lambda t: ops.flip(t, None), np.flip, x)
    check(lambda t: ops.roll(t, 1), lambda a: np.roll(a, 1), x)
    check(lambda t: ops.roll(t, -5), lambda a: np.roll(a, -5), x)
    check(lambda t: ops.roll(t, 2, 1), lambda a: np.roll(a, 2, 1), x)
    check(lambda t: ops.roll(t, (1, -3, 7), (0, 2, -1)), lambda a: np.roll(a, (1, -3, 7), (0, 2, 2)), x)
    check(lambda t: ops.roll(t, 3, dims=1), lambda a: np.roll(a, 3, 1), x)   # a whole turn: unchanged


def test_narrow_chunk():
    x = rand(3, 5)
    check(lambda t: ops.narrow(t, 1, 1, 3), lambda a: a[:, 1:4], x)
    check(lambda t: ops.narrow(t, -2, -2, 2), lambda a: a[1:3], x)
    check(lambda t: ops.narrow(t, 0, 3, 0), lambda a: a[3:3], x)
    check(lambda t: ops.chunk(t, 2, 1), lambda a: (a[:, :3], a[:, 3:]), x)
    check(lambda t: ops.chunk(t, 3, -1), lambda a: (a[:, :2], a[:, 2:4], a[:, 4:]), x)
    check(lambda t: ops.chunk(t, 4, 1), lambda a: (a[:, :2], a[:, 2:4], a[:, 4:]), x)   # fewer than asked
    check(lambda t: ops.chunk(t, 1), lambda a: (a,), x)
    check(lambda t: ops.chunk(t, 5, 0), lambda a: (a[:1], a[1:2], a[2:]), x)
    parts = ops.chunk(Tensor(np.zeros((0, 2))), 3)
    assert len(parts) == 3 and all(p.shape == (0, 2) for p in parts)


def test_repeat_interleave():
    x = rand(2, 3)
    check(lambda t: ops.repeat_interleave(t, 2), lambda a: np.repeat(a, 2), x)
    check(lambda t: ops.repeat_interleave(t, 3, 1), lambda a: np.repeat(a, 3, 1), x)
    check(lambda t: ops.repeat_interleave(t, 2, dim=-2), lambda a: np.repeat(a, 2, 0), x)
    check(lambda t: ops.repeat_interleave(t, 0, 0), lambda a: np.repeat(a, 0, 0), x)
    check(lambda t: ops.repeat_interleave(t, (1, 0, 3), 1), lambda a: np.repeat(a, (1, 0, 3), 1), x)
    check(lambda t: ops.repeat_interleave(t, [2, 1], 0), lambda a: np.repeat(a, [2, 1], 0), x)
    check(lambda t: ops.repeat_interleave(t, 2, 0), lambda a: np.repeat(a, 2, 0), np.array(1.5))


def test_unflatten_view_as_expand_as():
    x = rand(2, 12)
    check(lambda t: ops.unflatten(t, 1, (3, 4)), lambda a: a.reshape(2, 3, 4), x)
    check(lambda t: ops.unflatten(t, -1, (2, -1, 3)), lambda a: a.reshape(2, 2, 2, 3), x)
    check(lambda t: ops.unflatten(t, 0, (1, 2)), lambda a: a.reshape(1, 2, 12), x)
    o = Tensor(np.zeros((4, 6)))
    check(lambda t: ops.view_as(t, o), lambda a: a.reshape(4, 6), x)
    check(lambda t: ops.reshape_as(t, o), lambda a: a.reshape(4, 6), x)
    y = rand(3, 1)
    check(lambda t: ops.expand_as(t, Tensor(np.zeros((2, 3, 4)))), lambda a: np.broadcast_to(a, (2, 3, 4)), y)
    check(lambda t, u: ops.expand_as(t, u), lambda a, b: np.broadcast_to(a, b.shape), y, rand(3, 5), wrt=(0,))


def test_gather_elements_take_along_axis():
    rng = np.random.default_rng(3)
    x = rand(3, 4)
    idx0 = rng.integers(0, 3, (2, 4))
    idx1 = rng.integers(0, 4, (3, 5))   # repeated indices: the gradient adds up
    check(lambda t, i: ops.gather_elements(t, 0, i), lambda a, i: np.take_along_axis(a, i, 0), x, idx0)
    check(lambda t, i: ops.gather_elements(t, -1, i), lambda a, i: np.take_along_axis(a, i, 1), x, idx1)
    small = rng.integers(0, 4, (2, 2)).astype(np.int32)   # smaller than the input outside dim (torch.gather)
    check(lambda t, i: ops.gather_elements(t, 1, i), lambda a, i: np.take_along_axis(a[:2, :], i, 1), x, small)
    neg = -rng.integers(1, 5, (3, 2))   # negative indices count from the end
    check(lambda t, i: ops.gather_elements(t, 1, i), lambda a, i: np.take_along_axis(a, i, 1), x, neg)
    y = rand(2, 3, 4)
    idx = rng.integers(0, 3, (2, 5, 4))
    check(lambda t, i: ops.gather_elements(t, 1, i), lambda a, i: np.take_along_axis(a, i, 1), y, idx)
    ints = np.arange(12, dtype=np.int64).reshape(3, 4)
    check(lambda t, i: ops.gather_elements(t, 0, i), lambda a, i: np.take_along_axis(a, i, 0), ints, idx0,
          grad=False)
    check(lambda t, i: ops.take_along_axis(t, i, 1), lambda a, i: np.take_along_axis(a, i, 1), x, idx1)
    b = rng.integers(0, 4, (1, 2))   # broadcast over the rows (numpy)
    check(lambda t, i: ops.take_along_axis(t, i, -1), lambda a, i: np.take_along_axis(a, i, -1), x, b)
    flat = rng.integers(0, 12, (5,))
    check(lambda t, i: ops.take_along_axis(t, i, None), lambda a, i: np.take_along_axis(a, i, None), x, flat)
    s = np.array(2.5)
    check(lambda t, i: ops.gather_elements(t, 0, i), lambda a, i: a, s, np.array(0))


def test_masked_fill():
    x = rand(2, 3)
    m = np.array([[True, False, True], [False, False, True]])
    check(lambda t, k: ops.masked_fill(t, k, 0.5), lambda a, k: np.where(k, 0.5, a), x, m)
    check(lambda t, k: ops.masked_fill(t, k, -1), lambda a, k: np.where(k, -1.0, a), x, m[1])   # broadcast mask
    check(lambda t, k, v: ops.masked_fill(t, k, v), lambda a, k, v: np.where(k, v, a), x, m, np.array(0.25))
    i = np.arange(6, dtype=np.int32).reshape(2, 3)
    out = ops.masked_fill(Tensor(i), Tensor(m), 9.7)
    assert out.dtype == ms.int32
    np.testing.assert_array_equal(out.asnumpy(), np.where(m, 9, i))


# ---------------------------------------------------------------- linalg
def test_vector_products():
    a, b = rand(3), rand(4, seed=1)
    check(ops.outer, np.outer, a, b)
    check(ops.dot, np.dot, a, rand(3, seed=2))
    check(ops.inner, np.inner, rand(2, 3), rand(4, 3, seed=1))
    check(ops.inner, np.inner, a, rand(3, seed=2))
    check(ops.inner, np.inner, rand(2, 2, 3), rand(3, seed=1))
    check(lambda t: ops.inner(t, 2.0), lambda x: x * 2.0, a)
    check(ops.mv, lambda m, v: m @ v, rand(2, 3), a)
    check(ops.dot, np.dot, np.arange(3, dtype=np.int64), np.arange(3, dtype=np.int64) + 1, grad=False)


def test_matrix_products():
    x, y = rand(2, 3, 4), rand(2, 4, 5, seed=1)
    check(ops.bmm, np.matmul, x, y)
    c, m1, m2 = rand(2, 4, seed=2), rand(2, 3, seed=3), rand(3, 4, seed=4)
    check(ops.addmm, lambda c_, a_, b_: c_ + a_ @ b_, c, m1, m2)
    check(lambda c_, a_, b_: ops.addmm(c_, a_, b_, beta=0.5, alpha=-2.0), lambda c_, a_, b_: 0.5 * c_ - 2 * a_ @ b_,
          rand(4, seed=5), m1, m2)
    check(lambda c_, a_, b_: ops.addmm(c_, a_, b_, beta=0), lambda c_, a_, b_: a_ @ b_, c, m1, m2, wrt=(1, 2))
    check(lambda c_, a_, b_: ops.baddbmm(c_, a_, b_, beta=2, alpha=0.5),
          lambda c_, a_, b_: 2 * c_ + 0.5 * np.matmul(a_, b_), rand(2, 3, 5, seed=6), x, y)
    check(ops.baddbmm, lambda c_, a_, b_: c_ + np.matmul(a_, b_), rand(1, 5, seed=6), x, y)


def test_kron():
    check(ops.kron, np.kron, rand(2, 3), rand(3, 2, seed=1))
    check(ops.kron, np.kron, rand(2, 2, 2), rand(3, 2, seed=1))
    check(ops.kron, np.kron, rand(3), rand(2, seed=1))
    check(ops.kron, np.kron, np.arange(4, dtype=np.int64).reshape(2, 2), np.eye(2, dtype=np.int64), grad=False)


def test_tensordot():
    a, b = rand(2, 3, 4), rand(3, 4, 5, seed=1)
    check(ops.tensordot, lambda x, y: np.tensordot(x, y, 2), a, b)
    check(lambda x, y: ops.tensordot(x, y, 1), lambda x, y: np.tensordot(x, y, 1), a, rand(4, 2, seed=1))
    check(lambda x, y: ops.tensordot(x, y, 0), lambda x, y: np.tensordot(x, y, 0), rand(2, 2), rand(3, seed=1))
    check(lambda x, y: ops.tensordot(x, y, ([0, -1], [2, 0])), lambda x, y: np.tensordot(x, y, ([0, 2], [2, 0])),
          a, rand(4, 3, 2, seed=1))
    check(lambda x, y: ops.tensordot(x, y, ((1,), (0,))), lambda x, y: np.tensordot(x, y, ((1,), (0,))), a, b)


EINSUMS = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(3,), (2,)]),
    ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->j", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->ji", [(3, 3, 2)]),
    ("ijk,ikl,lm->jm", [(2, 3, 4), (2, 4, 2), (2, 3)]),
    ("ij,ij->ij", [(2, 3), (2, 3)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("ab,cd->", [(2, 3), (2, 2)]),
    ("abc,c,a->b", [(2, 3, 4), (4,), (2,)]),
    (" Ab , bC -> CA ", [(2, 3), (3, 4)]),
    ("ij,jk,kl,lm->im", [(2, 3), (3, 2), (2, 2), (2, 3)]),
    ("ij,jk->ijk", [(2, 3), (3, 4)]),
    ("iij,jk->ik", [(3, 3, 2), (2, 4)]),
    (",i->i", [(), (3,)]),
    ("Ab,bC", [(2, 3), (3, 4)]),
    ("ij,kj->", [(0, 3), (2, 3)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUMS, ids=[e for e, _ in EINSUMS])
def test_einsum(eq, shapes):
    arrays = [rand(*s, seed=k) for k, s in enumerate(shapes)]
    check(lambda *ts: ops.einsum(eq, *ts), lambda *xs: np.einsum(eq.replace(" ", ""), *xs), *arrays,
          grad=all(a.size for a in arrays))   # (finite differences need non-empty inputs)


def test_einsum_list_and_dtypes():
    a, b = rand(2, 3), rand(3, 2, seed=1)
    check(lambda x, y: ops.einsum("ij,jk->ik", [x, y]), lambda x, y: x @ y, a, b)
    ints = np.arange(6, dtype=np.int64).reshape(2, 3)
    check(lambda x, y: ops.einsum("ij,kj->ik", x, y), lambda x, y: x @ y.T, ints, ints, grad=False)
    out = ops.einsum("ij,jk->ik", Tensor(ints), Tensor(b))   # mixed dtypes promote
    assert out.dtype == ms.float64
    np.testing.assert_allclose(out.asnumpy(), ints @ b)


def test_norms():
    x = rand(3, 4)
    check(ops.norm, np.linalg.norm, x)
    check(lambda t: ops.norm(t, keepdim=True), lambda a: np.linalg.norm(a, keepdims=True), x)
    check(ops.norm, lambda a: np.linalg.norm(a.reshape(-1)), rand(2, 3, 2))
    for ord in (1, 2, 3, 0.5, math.inf, -math.inf):
        check(lambda t: ops.norm(t, ord, 1), lambda a: np.linalg.norm(a, ord, 1), x)
        check(lambda t: ops.norm(t, ord, -2, True), lambda a: np.linalg.norm(a, ord, 0, True), x)
    check(lambda t: ops.norm(t, 0, 1), lambda a: np.linalg.norm(a, 0, 1), x, grad=False)
    for ord in ("fro", 1, -1, math.inf, -math.inf):
        check(lambda t: ops.norm(t, ord), lambda a: np.linalg.norm(a, ord), x)
        check(lambda t: ops.norm(t, ord, (2, 0)), lambda a: np.linalg.norm(a, ord, (2, 0)), rand(3, 2, 4))
        check(lambda t: ops.norm(t, ord, (0, 1), keepdim=True),
              lambda a: np.linalg.norm(a, ord, (0, 1), keepdims=True), x)
    check(lambda t: ops.norm(t, dim=(0, 1)), lambda a: np.linalg.norm(a, None, (0, 1)), x)
    check(lambda t: ops.norm(t, 3), lambda a: np.linalg.norm(a, 3), rand(4))
    check(ops.vector_norm, lambda a: np.linalg.norm(a.reshape(-1)), rand(2, 3, 2))
    check(lambda t: ops.vector_norm(t, 3, (0, 2)), lambda a: np.sum(np.abs(a) ** 3, (0, 2)) ** (1 / 3),
          rand(2, 3, 2))
    check(lambda t: ops.vector_norm(t, math.inf, -1, True), lambda a: np.abs(a).max(-1, keepdims=True), x)
    g = ms.grad(lambda t: ops.vector_norm(t))(Tensor(np.zeros(3)))   # zero vector: subgradient 0, not nan
    np.testing.assert_array_equal(g.asnumpy(), np.zeros(3))


def test_cdist():
    a, b = rand(3, 2), rand(4, 2, seed=1)
    check(ops.cdist, lambda x, y: scipy_cdist(x, y), a, b)
    check(lambda x, y: ops.cdist(x, y, 1.0), lambda x, y: scipy_cdist(x, y, "cityblock"), a, b)
    check(lambda x, y: ops.cdist(x, y, 3), lambda x, y: scipy_cdist(x, y, "minkowski", p=3), a, b)
    check(lambda x, y: ops.cdist(x, y, math.inf), lambda x, y: scipy_cdist(x, y, "chebyshev"), a, b)
    check(lambda x, y: ops.cdist(x, y, 0), lambda x, y: scipy_cdist(x, y, "hamming") * 2, a, b, grad=False)
    xb, yb = rand(2, 3, 2), rand(2, 4, 2, seed=1)
    check(ops.cdist, lambda x, y: np.stack([scipy_cdist(x[i], y[i]) for i in range(2)]), xb, yb)
    check(ops.cdist, lambda x, y: np.stack([scipy_cdist(x[i], y) for i in range(2)]), xb, b)
    g = ms.grad(lambda x, y: ops.sum(ops.cdist(x, y)), grad_position=(0, 1))(Tensor(a), Tensor(a))
    assert all(np.isfinite(t.asnumpy()).all() for t in g)   # zero distances on the diagonal: no nan


# ---------------------------------------------------------------- public surface
def _sample_calls():
    r = lambda *s: Tensor(rand(*s))   # noqa: E731
    i = lambda *s: Tensor(np.zeros(s, np.int64))   # noqa: E731
    return {
        "arange": (5,), "linspace": (0, 1, 3), "eye": (3,), "full_like": (r(2), 1.0), "tril": (r(3, 3),),
        "triu": (r(3, 3), 1), "diag": (r(3),), "diagonal": (r(3, 3),), "meshgrid": (r(2), r(3)), "trace": (r(3, 3),),
        "unsqueeze": (r(2), 0), "permute": (r(2, 3), 1, 0), "swapaxes": (r(2, 3), 0, 1), "swapdims": (r(2, 3), 0, 1),
        "movedim": (r(2, 3), 0, 1), "flip": (r(2, 3), 0), "roll": (r(2, 3), 1), "narrow": (r(3, 3), 0, 1, 1),
        "chunk": (r(4), 2), "repeat_interleave": (r(3), (1, 2, 0)), "unflatten": (r(6), 0, (2, 3)),
        "view_as": (r(6), r(2, 3)), "reshape_as": (r(6), r(2, 3)), "expand_as": (r(3), r(2, 3)),
        "gather_elements": (r(2, 3), 1, i(2, 2)), "take_along_axis": (r(2, 3), i(2, 2), 1),
        "masked_fill": (r(2, 3), Tensor(np.ones(3, bool)), 0.0), "outer": (r(2), r(3)), "dot": (r(2), r(2)),
        "inner": (r(2), r(2)), "mv": (r(2, 3), r(3)), "bmm": (r(2, 2, 3), r(2, 3, 4)),
        "addmm": (r(2, 4), r(2, 3), r(3, 4)), "baddbmm": (r(2, 2, 4), r(2, 2, 3), r(2, 3, 4)),
        "kron": (r(2, 2), r(2, 2)), "einsum": ("ii,ij->j", r(3, 3), r(3, 2)), "tensordot": (r(2, 3), r(3, 2), 1),
        "norm": (r(2, 3), 1), "vector_norm": (r(3),), "cdist": (r(2, 3), r(4, 3)),
    }


def test_public_and_compiled_directly():
    """Every op is public (ops and F) with a docstring, and ``ms.jit(op)`` compiles the op's own body."""
    from mindlab.ops import functional as F
    for name, args in _sample_calls().items():
        fn = getattr(ops, name)
        assert fn is getattr(F, name) and name in F.__all__ and fn.__doc__, name
        eager, compiled = fn(*args), ms.jit(fn)(*args)
        for e, c in zip(eager if isinstance(eager, tuple) else (eager,),
                        compiled if isinstance(compiled, tuple) else (compiled,)):
            np.testing.assert_allclose(c.asnumpy(), e.asnumpy(), err_msg=name)


# ---------------------------------------------------------------- errors
def _t(*shape, dtype=np.float64):
    return Tensor(np.zeros(shape, dtype))


ERRORS = [
    (lambda: ops.arange(0, 5, 0), ValueError, r"arange: step must be nonzero"),
    (lambda: ops.arange(5, 0, 1), ValueError, r"arange: the sign of step=1"),
    (lambda: ops.arange("3"), TypeError, r"arange: end must be a real number, got str"),
    (lambda: ops.arange(3, dtype="complex"), TypeError, r"arange: dtype must be a mindlab dtype"),
    (lambda: ops.linspace(0, 1, 2.5), TypeError, r"linspace: steps must be an int, got float"),
    (lambda: ops.linspace(0, 1, -1), ValueError, r"linspace: steps must be >= 0, got -1"),
    (lambda: ops.eye(-2), ValueError, r"eye: n must be >= 0, got -2"),
    (lambda: ops.eye(2, 3.0), TypeError, r"eye: m must be an int"),
    (lambda: ops.tril(_t(3)), ValueError, r"tril: the input must have rank >= 2.*\[3\]"),
    (lambda: ops.triu(_t(2, 2), 0.5), TypeError, r"triu: diagonal must be an int"),
    (lambda: ops.diag(_t(2, 2, 2)), ValueError, r"diag: the input must be 1-D or 2-D, got shape \[2, 2, 2\]"),
    (lambda: ops.diagonal(_t(2, 3), 0, 0, -2), ValueError, r"diagonal: dim1 and dim2 must be different"),
    (lambda: ops.diagonal(_t(2, 3), 0, 0, 2), ValueError, r"diagonal: dim2 2 is out of range \[-2, 1\]"),
    (lambda: ops.trace(_t(2, 2, 2)), ValueError, r"trace: the input must be 2-D"),
    (lambda: ops.meshgrid(_t(2), _t(2, 2)), ValueError, r"meshgrid: every tensor must be 0-D or 1-D"),
    (lambda: ops.meshgrid(_t(2), indexing="ji"), ValueError, r"meshgrid: indexing must be 'ij' or 'xy'"),
    (lambda: ops.unsqueeze(_t(2, 3), 3), ValueError, r"unsqueeze: dim 3 is out of range \[-3, 2\]"),
    (lambda: ops.unsqueeze(_t(2, 3), 1.0), TypeError, r"unsqueeze: dim must be an int"),
    (lambda: ops.permute(_t(2, 3, 4), 0, 1), ValueError, r"permute: dims \(0, 1\) must name each of the 3 dims"),
    (lambda: ops.permute(_t(2, 3), (0, 0)), ValueError, r"permute: dims \(0, 0\) repeats an axis"),
    (lambda: ops.permute(_t(2, 3), 0, 2), ValueError, r"permute: dims 2 is out of range \[-2, 1\]"),
    (lambda: ops.swapaxes(_t(2, 3), 0, -3), ValueError, r"swapaxes: axis1 -3 is out of range"),
    (lambda: ops.movedim(_t(2, 3, 4), (0, 1), 2), ValueError, r"movedim: source \(0, 1\) and destination 2 must"),
    (lambda: ops.flip(_t(2, 3), 2), ValueError, r"flip: dims 2 is out of range"),
    (lambda: ops.flip(_t(2, 3), (1, -1)), ValueError, r"flip: dims \(1, -1\) repeats an axis"),
    (lambda: ops.roll(_t(2, 3), (1, 2), (0,)), ValueError, r"roll: shifts \(1, 2\) and dims \(0,\) must have"),
    (lambda: ops.roll(_t(2, 3), (1, 2)), ValueError, r"roll: with dims=None shifts must be one int"),
    (lambda: ops.roll(_t(2, 3), 1.5, 0), TypeError, r"roll: shifts must be an int or a tuple of ints"),
    (lambda: ops.narrow(_t(3, 4), 1, 2, 3), ValueError, r"narrow: start 2 \+ length 3 exceeds the size 4 of dim 1"),
    (lambda: ops.narrow(_t(3, 4), 0, -4, 1), ValueError, r"narrow: start -4 is out of range \[-3, 3\]"),
    (lambda: ops.narrow(_t(3, 4), 2, 0, 1), ValueError, r"narrow: dim 2 is out of range"),
    (lambda: ops.chunk(_t(3, 4), 0), ValueError, r"chunk: chunks must be >= 1, got 0"),
    (lambda: ops.chunk(_t(3, 4), 2, dim=5), ValueError, r"chunk: dim 5 is out of range"),
    (lambda: ops.repeat_interleave(_t(3), -1), ValueError, r"repeat_interleave: repeats must be >= 0"),
    (lambda: ops.repeat_interleave(_t(3), (1, 2), 0), ValueError,
     r"repeat_interleave: repeats \(1, 2\) must hold 3 non-negative ints"),
    (lambda: ops.repeat_interleave(_t(3), 1.5), TypeError, r"repeat_interleave: repeats must be an int or a tuple"),
    (lambda: ops.unflatten(_t(2, 6), 1, (4, -1)), ValueError, r"unflatten: sizes \(4, -1\) do not split dim 1 of "
                                                              r"size 6"),
    (lambda: ops.unflatten(_t(2, 6), 1, (2, 2)), ValueError, r"unflatten: sizes \(2, 2\) do not split"),
    (lambda: ops.view_as(_t(2, 3), _t(4)), ValueError, r"view_as: cannot view a tensor of shape \[2, 3\] as shape "
                                                       r"\[4\]"),
    (lambda: ops.reshape_as(_t(2, 3), _t(5)), ValueError, r"reshape_as: cannot reshape"),
    (lambda: ops.expand_as(_t(2, 3), _t(3, 2)), ValueError, r"expand_as: cannot broadcast shape \[2, 3\] to "
                                                            r"\[3, 2\]"),
    (lambda: ops.expand_as(_t(2, 3), [1, 2]), TypeError, r"expand_as: other must be a Tensor"),
    (lambda: ops.gather_elements(_t(2, 3), 1, Tensor(np.array([[0, 3]]))), ValueError,
     r"gather_elements: index 3 is out of range \[-3, 3\) for dim 1 of size 3"),
    (lambda: ops.gather_elements(_t(2, 3), 1, Tensor(np.zeros((3, 1), np.int64))), ValueError,
     r"gather_elements: index of shape \[3, 1\] must have the rank of input \[2, 3\]"),
    (lambda: ops.gather_elements(_t(2, 3), 0, Tensor(np.zeros(3, np.int64))), ValueError,
     r"gather_elements: index of shape \[3\]"),
    (lambda: ops.gather_elements(_t(2, 3), 0, _t(2, 3)), TypeError, r"gather_elements: index must be an integer"),
    (lambda: ops.gather_elements(_t(2, 3), 2, Tensor(np.zeros((2, 3), np.int64))), ValueError,
     r"gather_elements: dim 2 is out of range"),
    (lambda: ops.take_along_axis(_t(2, 3), Tensor(np.zeros((3, 1), np.int64)), 1), ValueError,
     r"take_along_axis: the shapes of arr \[2, 3\] and indices \[3, 1\] do not broadcast"),
    (lambda: ops.take_along_axis(_t(2, 3), Tensor(np.zeros((2, 1), np.int64)), None), ValueError,
     r"take_along_axis: with axis=None indices must be 1-D"),
    (lambda: ops.masked_fill(_t(2, 3), _t(2, 3), 1.0), TypeError, r"masked_fill: mask must be a bool tensor"),
    (lambda: ops.masked_fill(_t(2, 3), Tensor(np.ones((2, 2, 3), bool)), 1.0), ValueError,
     r"masked_fill: mask of shape \[2, 2, 3\] does not broadcast to the input's shape \[2, 3\]"),
    (lambda: ops.masked_fill(_t(2, 3), Tensor(np.ones(3, bool)), _t(3)), ValueError,
     r"masked_fill: value must be a number or a 0-d tensor"),
    (lambda: ops.outer(_t(2, 2), _t(2)), ValueError, r"outer: both inputs must be 1-D, got shapes \[2, 2\] and \[2\]"),
    (lambda: ops.dot(_t(2), _t(3)), ValueError, r"dot: the inputs must be 1-D of the same length"),
    (lambda: ops.inner(_t(2, 3), _t(2)), ValueError, r"inner: the last dims differ"),
    (lambda: ops.mv(_t(2, 3), _t(2)), ValueError, r"mv: needs a 2-D matrix \(n, m\) and a 1-D vector \(m,\)"),
    (lambda: ops.bmm(_t(2, 3, 4), _t(3, 4, 5)), ValueError, r"bmm: needs 3-D tensors.*\[2, 3, 4\] and \[3, 4, 5\]"),
    (lambda: ops.bmm(_t(2, 3, 4, dtype=bool), _t(2, 4, 5, dtype=bool)), TypeError, r"bmm: bool tensors are not"),
    (lambda: ops.addmm(_t(3, 3), _t(2, 3), _t(3, 4)), ValueError, r"addmm: input of shape \[3, 3\] does not "
                                                                  r"broadcast to the product's shape \[2, 4\]"),
    (lambda: ops.addmm(_t(2, 4), _t(2, 3), _t(2, 4)), ValueError, r"addmm: needs 2-D matrices"),
    (lambda: ops.addmm(_t(2, 4), _t(2, 3), _t(3, 4), beta="1"), TypeError, r"addmm: beta must be a number"),
    (lambda: ops.baddbmm(_t(2, 2), _t(2, 3, 4), _t(2, 4, 5)), ValueError, r"baddbmm: input of shape \[2, 2\]"),
    (lambda: ops.tensordot(_t(2, 3), _t(2, 3), 1), ValueError, r"tensordot: dim 1 of a \(size 3\) and dim 0 of b "
                                                               r"\(size 2\) differ"),
    (lambda: ops.tensordot(_t(2, 3), _t(3), 2), ValueError, r"tensordot: dims=2 must be in \[0, 1\]"),
    (lambda: ops.tensordot(_t(2, 3), _t(3), ([1, 0], [0])), ValueError, r"tensordot: dims .* must list as many"),
    (lambda: ops.tensordot(_t(2, 3), _t(3), "x"), TypeError, r"tensordot: dims must be an int or a pair"),
    (lambda: ops.einsum("i...,i->i", _t(2, 3), _t(2)), NotImplementedError, r"einsum: ellipsis \('...'\)"),
    (lambda: ops.einsum("ij,jk->ik", _t(2, 3)), ValueError, r"einsum: the equation 'ij,jk->ik' names 2 operands, "
                                                            r"got 1"),
    (lambda: ops.einsum("ij,jk->ik", _t(2, 3), _t(4, 2)), ValueError, r"einsum: subscript 'j' has size 3 and size 4"),
    (lambda: ops.einsum("ijk->i", _t(2, 3)), ValueError, r"einsum: operand 0 has 2 dims \(shape \[2, 3\]\) but "
                                                         r"subscripts 'ijk' name 3"),
    (lambda: ops.einsum("ij->k", _t(2, 3)), ValueError, r"einsum: output subscript 'k' in 'ij->k' names no input"),
    (lambda: ops.einsum("ij->ii", _t(2, 3)), ValueError, r"einsum: output subscript 'i' .* appears more than once"),
    (lambda: ops.einsum("i1->i", _t(2, 3)), ValueError, r"einsum: invalid subscript '1'"),
    (lambda: ops.einsum("i->i->i", _t(2)), ValueError, r"einsum: the equation 'i->i->i' has more than one '->'"),
    (lambda: ops.einsum(3, _t(2)), TypeError, r"einsum: the equation must be a str"),
    (lambda: ops.norm(_t(2, 3), "nuc"), NotImplementedError, r"norm: the matrix norm ord='nuc' \(nuclear norm\)"),
    (lambda: ops.norm(_t(2, 3), 2), NotImplementedError, r"norm: the matrix norm ord=2.0 \(spectral norm\)"),
    (lambda: ops.norm(_t(2, 3), 3), ValueError, r"norm: ord=3.0 is not a matrix norm"),
    (lambda: ops.norm(_t(2, 3), "fro", 1), ValueError, r"norm: ord='fro' is a matrix norm: it needs a 2-tuple dim"),
    (lambda: ops.norm(_t(2, 3, 4), 1), ValueError, r"norm: with dim=None and ord=1 the input must be 1-D or 2-D"),
    (lambda: ops.norm(_t(2, 3, 4), None, (0, 1, 2)), ValueError, r"norm: dim must be an int or a tuple of 1 or 2"),
    (lambda: ops.norm(_t(2, 3), "max", (0, 1)), ValueError, r"norm: ord='max' is not a norm"),
    (lambda: ops.norm(_t(2, 3, dtype=np.int64)), TypeError, r"norm: needs a floating-point input, got Int64"),
    (lambda: ops.norm(_t(2, 3), None, 2), ValueError, r"norm: dim 2 is out of range \[-2, 1\]"),
    (lambda: ops.vector_norm(_t(3), "fro"), TypeError, r"vector_norm: ord must be a number"),
    (lambda: ops.vector_norm(_t(2, 3), 2, (0, 0)), ValueError, r"vector_norm: dim \(0, 0\) repeats an axis"),
    (lambda: ops.cdist(_t(3, 2), _t(4, 3)), ValueError, r"cdist: needs inputs \(\.\.\., P, M\) and \(\.\.\., R, M\) "
                                                        r"with the same M, got shapes \[3, 2\] and \[4, 3\]"),
    (lambda: ops.cdist(_t(2, 3, 2), _t(3, 4, 2)), ValueError, r"cdist: the batch dims .* do not broadcast"),
    (lambda: ops.cdist(_t(3, 2), _t(4, 2), -1), ValueError, r"cdist: p must be >= 0, got -1.0"),
]


@pytest.mark.parametrize("call,kind,match", ERRORS, ids=[m.split(":")[0] + str(k) for k, (_, _, m) in
                                                         enumerate(ERRORS)])
def test_errors(call, kind, match):
    with pytest.raises(kind, match=match) as info:
        call()
    assert "test_composite_array.py" in str(info.value)   # the message ends with the user's line


def test_errors_while_compiling():
    """Bad arguments are caught while a GRAPH_MODE function is being compiled, with the same messages."""
    with pytest.raises(ValueError, match=r"roll: shifts \(1, 2\) and dims"):
        ms.jit(lambda t: ops.roll(t, (1, 2), 0))(_t(2, 3))
    with pytest.raises(ValueError, match=r"einsum: subscript 'j' has size 3 and size 4"):
        ms.jit(lambda a, b: ops.einsum("ij,jk", a, b))(_t(2, 3), _t(4, 2))
