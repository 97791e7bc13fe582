"""The shape / data-movement family through the public API: ops.* functions, P.* classes, Tensor methods and
indexing against numpy; gradients of indexing, gather and friends (scatter-adds with duplicate indices); creation
ops; and error messages on bad input."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor, ops
from mindlab import dtype as mdt
from mindlab.ops import operations as P

from .samples import rand


def check(out, ref):
    assert isinstance(out, Tensor)
    assert out.shape == np.shape(ref), (out.shape, np.shape(ref))
    np.testing.assert_allclose(out.asnumpy(), ref, rtol=1e-6, atol=1e-12)


def grad_of_weighted(fn, x, seed=0):
    """Gradient of sum(fn(x) * w) for a fixed random weight w, and w itself."""
    out = fn(Tensor(x))
    w = np.random.default_rng(seed).uniform(0.5, 1.5, out.shape)
    g = ms.grad(lambda t: ops.sum(fn(t) * Tensor(w)))(Tensor(x))
    return g.asnumpy(), w


# ---------------------------------------------------------------- shape ops
def test_transpose_expand_squeeze_flatten():
    x = rand(2, 3, 4)
    t = Tensor(x)
    check(ops.transpose(t, (2, 0, 1)), x.transpose(2, 0, 1))
    check(P.Transpose()(t, (1, 0, 2)), x.transpose(1, 0, 2))
    check(t.transpose(), x.transpose())
    check(t.transpose(0, 2, 1), x.transpose(0, 2, 1))
    check(Tensor(x[0]).T, x[0].T)
    check(ops.expand_dims(t, 1), x[:, None])
    check(P.ExpandDims()(t, -1), x[..., None])
    check(t.expand_dims(0), x[None])
    y = rand(1, 3, 1, 2)
    check(ops.squeeze(Tensor(y)), y.squeeze())
    check(ops.squeeze(Tensor(y), 2), y.squeeze(2))
    check(P.Squeeze((0, -2))(Tensor(y)), y.squeeze((0, 2)))
    check(Tensor(y).squeeze(), y.squeeze())
    check(ops.flatten(t), x.reshape(2, 12))
    check(ops.flatten(t, start_dim=0), x.reshape(-1))
    check(ops.flatten(t, start_dim=1, end_dim=1), x)
    check(ops.flatten(t, "F", start_dim=1), np.stack([x[i].reshape(-1, order="F") for i in range(2)]))
    check(ops.flatten(Tensor(np.array(5.0))), [5.0])
    check(P.Flatten()(t), x.reshape(2, -1))
    check(t.flatten(), x.reshape(-1))   # Tensor.flatten merges every dim by default (MindSpore)


def test_concat_stack_split_unstack():
    a, b, c = rand(2, 3), rand(1, 3, seed=1), rand(2, 3, seed=2)
    check(ops.concat([Tensor(a), Tensor(b)]), np.concatenate([a, b]))
    check(ops.cat((Tensor(a), Tensor(c)), axis=-1), np.concatenate([a, c], -1))
    check(P.Concat(1)((Tensor(a), Tensor(c))), np.concatenate([a, c], 1))
    check(ops.stack([Tensor(a), Tensor(c)], 1), np.stack([a, c], 1))
    check(P.Stack(-1)([Tensor(a), Tensor(c)]), np.stack([a, c], -1))
    x = rand(5, 4)
    parts = ops.split(Tensor(x), 2)
    assert [p.shape for p in parts] == [(2, 4), (2, 4), (1, 4)]
    for p, r in zip(parts, np.split(x, [2, 4])):
        check(p, r)
    parts = ops.split(Tensor(x), [1, 3], axis=-1)
    check(parts[0], x[:, :1])
    check(parts[1], x[:, 1:])
    parts = P.Split(axis=1, output_num=2)(Tensor(x))
    check(parts[1], x[:, 2:])
    rows = ops.unstack(Tensor(x), 1)
    assert len(rows) == 4
    check(rows[3], x[:, 3])
    check(P.Unstack(axis=0)(Tensor(x))[4], x[4])


def test_concat_stack_split_gradients():
    a, b = rand(2, 3), rand(3, 3, seed=1)
    w = rand(5, 3, seed=2)
    ga, gb = ms.grad(lambda s, t: ops.sum(ops.concat([s, t]) * Tensor(w)), grad_position=(0, 1))(Tensor(a), Tensor(b))
    check(ga, w[:2])
    check(gb, w[2:])
    x = rand(5, 4)
    g = ms.grad(lambda t: ops.split(t, [2, 2], 1)[1].sum() * 3)(Tensor(x))
    check(g, np.concatenate([np.zeros((5, 2)), np.full((5, 2), 3.0)], 1))


def test_tile():
    x = rand(2, 3)
    check(ops.tile(Tensor(x), (2, 2)), np.tile(x, (2, 2)))
    check(P.Tile()(Tensor(x), (3, 1, 2)), np.tile(x, (3, 1, 2)))
    check(Tensor(x).tile((2,)), np.tile(x, (2,)))
    g, w = grad_of_weighted(lambda t: ops.tile(t, (2, 1, 3)), x)
    # the output (2, 2, 9) viewed as (rep 2, 1, size 2, rep 3, size 3): sum over the reps
    check(Tensor(g), w.reshape(2, 1, 2, 3, 3).sum(axis=(0, 1, 3)))


# ---------------------------------------------------------------- indexing
BASIC_INDICES = [1, -1, slice(1, None), slice(None, None, -2), (0, 2), (slice(None), 1), (Ellipsis, 0),
                 (None, 1, None), (slice(0, 3, 2), slice(None, None, -1), 1), (np.int64(1), Ellipsis, None),
                 (slice(-10, 10),)]


@pytest.mark.parametrize("index", BASIC_INDICES, ids=str)
def test_basic_getitem_and_grad(index):
    x = rand(3, 4, 2)
    check(Tensor(x)[index], x[index])
    check(ops.tensor_getitem(Tensor(x), index), x[index])
    g, w = grad_of_weighted(lambda t: t[index], x)
    expect = np.zeros_like(x)
    expect[index] = w
    check(Tensor(g), expect)


ADVANCED_INDICES = [[2, 0, 2], np.array([[1, -1], [0, 0]]), (slice(None), [3, 3, 0]), (Ellipsis, [1]),
                    ([0, 2], 1), ([0, 2], [1, 3]), (1, slice(None), [0, 1]), np.array([True, False, True]),
                    (slice(None), np.array([True, False, False, True])), (0, [1, 1], slice(None)), [[0, 1], [1, 2]]]


@pytest.mark.parametrize("index", ADVANCED_INDICES, ids=str)
def test_advanced_getitem_and_grad_accumulates(index):
    x = rand(3, 4, 2)
    check(Tensor(x)[index], x[index])
    g, w = grad_of_weighted(lambda t: t[index], x)
    expect = np.zeros_like(x)
    np.add.at(expect, index, w)   # duplicate indices accumulate
    check(Tensor(g), expect)


def test_getitem_with_tensors():
    x = rand(4, 3)
    t = Tensor(x)
    check(t[Tensor(np.array([3, 1]))], x[[3, 1]])
    check(t[Tensor(np.array(2))], x[2])
    check(t[:, Tensor(np.array([2, 0]))], x[:, [2, 0]])
    mask = x > 0
    check(t[Tensor(mask)], x[mask])
    check(t[t > 0], x[x > 0])
    check(t[Tensor(np.array([True, False, True, True]))], x[[True, False, True, True]])
    if ms.get_context("mode") == ms.PYNATIVE_MODE:
        g = ms.grad(lambda u: u[u > 0].sum())(t)
        check(g, mask.astype(np.float64))
    else:   # a boolean mask's result shape depends on values: not expressible in a static graph
        with pytest.raises((TypeError, ms.errors.MindlabError), match="test_array_ops.py:") as err:
            ms.grad(lambda u: u[u > 0].sum())(t)
        assert "unknown while compiling" in str(err.value) and str(err.value).count("\n  at ") == 1


def test_setitem():
    x = rand(3, 4)
    t = Tensor(x.copy())
    t[1] = 5.0
    t[:, -1] = Tensor(np.array([7.0, 8.0, 9.0]))
    t[0, 1:3] = Tensor(np.array([[1.0, 2.0]]))   # extra leading size-1 dims are fine, as in numpy
    ref = x.copy()
    ref[1] = 5.0
    ref[:, -1] = [7.0, 8.0, 9.0]
    ref[0, 1:3] = [1.0, 2.0]
    check(t, ref)
    t[t > 6] = 0.0
    ref[ref > 6] = 0.0
    check(t, ref)
    t[[0, 2], [1, 1]] = Tensor(np.array([-1.0, -2.0]))
    ref[[0, 2], [1, 1]] = [-1.0, -2.0]
    check(t, ref)
    out = ops.tensor_setitem(Tensor(x), (slice(None), [0, 3]), 1.0)
    ref = x.copy()
    ref[:, [0, 3]] = 1.0
    check(out, ref)


def test_setitem_gradients():
    x, v = rand(3, 4), rand(2, 1, seed=1)
    w = rand(3, 4, seed=2)
    index = (slice(0, 3, 2), slice(1, 3))
    gx, gv = ms.grad(lambda a, b: ops.sum(ops.tensor_setitem(a, index, b) * Tensor(w)),
                     grad_position=(0, 1))(Tensor(x), Tensor(v))
    ex = w.copy()
    ex[index] = 0
    check(gx, ex)
    check(gv, w[index].sum(axis=1, keepdims=True))
    adv = ([0, 2], [3, 0])
    gx, gv = ms.grad(lambda a, b: ops.sum(ops.tensor_setitem(a, adv, b) * Tensor(w)),
                     grad_position=(0, 1))(Tensor(x), Tensor(np.array(2.0)))
    ex = w.copy()
    ex[adv] = 0
    check(gx, ex)
    check(gv, w[adv].sum())


def test_in_place_writes_are_differentiated():
    """``y[i] = v`` inside a differentiated function: the overwritten entries get no gradient through ``y``'s
    old value, ``v`` gets theirs, and what used ``y`` before the write keeps the old value (PyNative records
    the write; GRAPH_MODE rebinds ``y``) — found by the generated-program fuzzer, where PyNative ignored it."""
    x, u = rand(4, 3), rand(3, seed=1)
    w = rand(4, 3, seed=2)

    def f(a, b):
        y = a * 2.0
        before = y * Tensor(w)             # uses y's old value
        y[1] = ops.tanh(b)                 # row 1 now depends on b only
        y[ms.Tensor(np.array([3], np.int32))] = ops.sigmoid(y[3])   # a tensor index, reading y itself
        return ops.sum(before) + ops.sum(y * y)

    gx, gu = ms.grad(f, grad_position=(0, 1))(Tensor(x), Tensor(u))
    y = 2 * x
    s = 1 / (1 + np.exp(-y[3]))
    ex = 2 * w + 2 * (2 * y)
    ex[1] = 2 * w[1]
    ex[3] = 2 * w[3] + 2 * s * (2 * s * (1 - s))
    check(gx, ex)
    check(gu, 2 * np.tanh(u) * (1 - np.tanh(u) ** 2))

    def g(a):                               # writing into the differentiated input itself
        a[0] = 0.0
        return ops.sum(a * Tensor(w))
    t = Tensor(x.copy())
    ex = w.copy()
    ex[0] = 0.0
    check(ms.grad(g)(t), ex)


def test_strided_slice():
    x = rand(3, 4, 5)
    t = Tensor(x)
    check(ops.strided_slice(t, (0, 1, 4), (3, 4, 0), (2, 1, -2)), x[0:3:2, 1:4, 4:0:-2])
    check(ops.strided_slice(t, (1, 0), (0, 3), (1, 1), begin_mask=2, end_mask=1, shrink_axis_mask=0),
          x[1:, :3])
    check(ops.strided_slice(t, (1, 0), (2, 3), (1, 1), shrink_axis_mask=1), x[1, 0:3])
    check(P.StridedSlice(ellipsis_mask=1, new_axis_mask=2)(t, (0, 0, 1), (0, 0, 3), (1, 1, 1)), x[..., None, 1:3])
    check(P.StridedSlice(end_mask=1)(t, (-2,), (0,), (1,)), x[-2:])
    g, w = grad_of_weighted(lambda u: ops.strided_slice(u, (2, 0), (0, 4), (-1, 2)), x)
    expect = np.zeros_like(x)
    expect[2:0:-1, 0:4:2] = w
    check(Tensor(g), expect)


# ---------------------------------------------------------------- gather family
def test_gather():
    x = rand(4, 3, 2)
    idx = np.array([[3, 0], [1, 3]])
    for axis in (0, 1, -1):
        ax = axis % 3
        i = idx % x.shape[ax]
        check(ops.gather(Tensor(x), Tensor(i), axis), np.take(x, i, axis=ax))
        check(P.Gather()(Tensor(x), Tensor(i), axis), np.take(x, i, axis=ax))
        g, w = grad_of_weighted(lambda t: ops.gather(t, Tensor(i), axis), x)
        expect = np.zeros_like(x)
        for pos in np.ndindex(*i.shape):   # scatter-add by hand
            sl_out = (slice(None),) * ax + pos
            sl_in = (slice(None),) * ax + (i[pos],)
            expect[sl_in] += w[sl_out]
        check(Tensor(g), expect)


def test_gather_batch_dims():
    x = rand(2, 5, 3)
    idx = np.array([[4, 0, 4], [1, 2, 3]])
    out = ops.gather(Tensor(x), Tensor(idx), 1, batch_dims=1)
    ref = np.stack([np.take(x[b], idx[b], axis=0) for b in range(2)])
    check(out, ref)
    y = rand(2, 3, 4)
    out = P.Gather(batch_dims=1)(Tensor(y), Tensor(np.array([[0, 3], [2, 2]])), 2)
    check(out, np.stack([np.take(y[b], [[0, 3], [2, 2]][b], axis=1) for b in range(2)]))
    g, w = grad_of_weighted(lambda t: ops.gather(t, Tensor(idx), 1, batch_dims=1), x)
    expect = np.zeros_like(x)
    for b in range(2):
        np.add.at(expect[b], idx[b], w[b])
    check(Tensor(g), expect)


def test_segment_sum_gather_nd_scatter_nd_scatter_update():
    data, ids = rand(5, 2), np.array([1, 0, 1, 3, 1])
    ref = np.zeros((4, 2))
    np.add.at(ref, ids, data)
    check(ops.unsorted_segment_sum(Tensor(data), Tensor(ids), 4), ref)
    check(P.UnsortedSegmentSum()(Tensor(data), Tensor(ids), 4), ref)
    x = rand(3, 4)
    nd = np.array([[0, 1], [2, 3], [0, 1]])
    check(ops.gather_nd(Tensor(x), Tensor(nd)), x[nd[:, 0], nd[:, 1]])
    check(P.GatherNd()(Tensor(x), Tensor(np.array([[2], [0]]))), x[[2, 0]])
    upd = np.array([1.0, 2.0, 3.0])
    ref = np.zeros((3, 4))
    np.add.at(ref, (nd[:, 0], nd[:, 1]), upd)
    check(ops.scatter_nd(Tensor(nd), Tensor(upd), (3, 4)), ref)
    check(P.ScatterNd()(Tensor(nd), Tensor(upd), (3, 4)), ref)
    out = ops.tensor_scatter_update(Tensor(x), Tensor(np.array([[1], [2]])), Tensor(np.zeros((2, 4))))
    ref = x.copy()
    ref[1:] = 0
    check(out, ref)
    check(P.TensorScatterUpdate()(Tensor(x), Tensor(np.array([[0, 0]])), Tensor(np.array([9.0]))),
          np.where(np.arange(12).reshape(3, 4) == 0, 9.0, x))
    g, w = grad_of_weighted(lambda t: ops.gather_nd(t, Tensor(nd)), x)
    expect = np.zeros_like(x)
    np.add.at(expect, (nd[:, 0], nd[:, 1]), w)
    check(Tensor(g), expect)


def test_one_hot():
    idx = np.array([0, 2, -1, 1])
    out = ops.one_hot(Tensor(idx), 3, Tensor(np.float32(1.0)), Tensor(np.float32(0.0)))
    assert out.dtype == mdt.float32
    check(out, np.array([[1, 0, 0], [0, 0, 1], [0, 0, 0], [0, 1, 0]]))
    assert ops.one_hot(Tensor(idx), 3).dtype == mdt.int64
    assert ops.one_hot(Tensor(idx), 3, 1.0, 0.0).dtype == mdt.float32
    out = P.OneHot(axis=0)(Tensor(np.array([[0, 1], [1, 1]])), 2, Tensor(5.0), Tensor(-1.0))
    check(out, np.where(np.array([[[1, 0], [0, 0]], [[0, 1], [1, 1]]]) == 1, 5.0, -1.0))
    on, off = ms.grad(lambda a, b: ops.one_hot(Tensor(idx), 3, a, b).sum(), grad_position=(0, 1))(
        Tensor(np.array(2.0)), Tensor(np.array(0.5)))
    assert on.item() == 3.0 and off.item() == 9.0


def test_fill_zeros_ones_full():
    out = ops.fill(ms.float32, (2, 3), 1.5)
    assert out.dtype == mdt.float32
    check(out, np.full((2, 3), 1.5))
    assert P.Fill()(ms.int32, (4,), 7).asnumpy().tolist() == [7] * 4
    z = ops.zeros((2, 2))
    assert z.dtype == mdt.float32 and z.asnumpy().sum() == 0
    assert ops.zeros(3, ms.int64).dtype == mdt.int64
    assert P.Zeros()((1, 2), ms.float64).dtype == mdt.float64
    o = ops.ones((2,), ms.float16)
    assert o.dtype == mdt.float16 and o.asnumpy().tolist() == [1, 1]
    assert P.Ones()(3, ms.int32).asnumpy().tolist() == [1, 1, 1]
    assert ops.full((2,), 3).dtype == mdt.int64
    assert ops.full((2,), True).dtype == mdt.bool_
    check(ops.full((1, 2), 0.5, dtype=ms.float64), [[0.5, 0.5]])


# ---------------------------------------------------------------- errors name the op, the inputs and the line
def test_shape_op_errors():
    x = Tensor(np.ones((2, 3), np.float32))
    cases = [
        (lambda: ops.transpose(x, (0, 0)), "transpose", "[2, 3]"),
        (lambda: ops.squeeze(x, 0), "squeeze", "[2, 3]"),
        (lambda: ops.expand_dims(x, 4), "expand_dims", "[2, 3]"),
        (lambda: ops.concat([x, Tensor(np.ones((3, 2), np.float32))], 0), "concat", "[3, 2]"),
        (lambda: ops.stack([x, Tensor(np.ones((3,), np.float32))]), "stack", "[3]"),
        (lambda: ops.split(x, [1, 1], 1), "split", "[2, 3]"),
        (lambda: ops.tile(x, (-1,)), "tile", "[2, 3]"),
        (lambda: ops.flatten(x, start_dim=5), "flatten", "[2, 3]"),
        (lambda: ops.strided_slice(x, (0,), (1, 2), (1,)), "strided_slice", "[2, 3]"),
    ]
    for fn, op, shape in cases:
        with pytest.raises(ValueError) as err:
            fn()
        msg = str(err.value)
        assert op in msg and shape in msg and "test_array_ops.py:" in msg, msg


def test_index_errors():
    x = Tensor(np.ones((2, 3), np.float32))
    cases = [
        (lambda: x[5], "tensor_getitem", "[2, 3]"),
        (lambda: x[0, 0, 0], "tensor_getitem", "[2, 3]"),
        (lambda: x[[0, 7]], "tensor_getitem", "[2, 3]"),
        (lambda: x[:, np.array([True, False])], "tensor_getitem", "[2, 3]"),
        (lambda: x.__setitem__(0, Tensor(np.ones(4))), "tensor_setitem", "[4]"),
        (lambda: ops.gather(x, Tensor(np.array([0, 3])), 1), "gather", "[2, 3]"),
        (lambda: ops.gather(x, Tensor(np.array([-1])), 0), "gather", "[2, 3]"),
        (lambda: ops.gather_nd(x, Tensor(np.array([[2, 0]]))), "gather_nd", "[2, 3]"),
        (lambda: ops.unsorted_segment_sum(x, Tensor(np.array([0, 3])), 2), "unsorted_segment_sum", "[0, 2)"),
        (lambda: ops.scatter_nd(Tensor(np.array([[0]])), Tensor(np.ones(2)), (2, 3)), "scatter_nd", "[2, 3]"),
    ]
    for fn, op, shape in cases:
        with pytest.raises(ValueError) as err:
            fn()
        msg = str(err.value)
        assert op in msg and shape in msg and "test_array_ops.py:" in msg, msg
    with pytest.raises(TypeError) as err:
        x[x]
    assert "tensor_getitem" in str(err.value) and "float32" in str(err.value)
    assert "test_array_ops.py:" in str(err.value)
    with pytest.raises(TypeError) as err:
        ops.gather(x, Tensor(np.array([0.0])), 0)
    assert "gather" in str(err.value) and "Float32" in str(err.value) and "test_array_ops.py:" in str(err.value)
