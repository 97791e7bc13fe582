"""The numba-cuda kernels (run by the CUDA simulator in CI, on the GPU on a CUDA machine) against the CPU kernels,
and graph mode's fused elementwise chains as one generated numba-cuda kernel."""
import numpy as np
import pytest

from mindlab import Tensor, ops, device
from mindlab.frontend.jit import jit
from mindlab.passes.fusion import fusion_options, fused_nodes
from mindlab.kernels.cpu import conv as cconv, pool as cpool, softmax as csm, norm as cnorm, scatter as cscatter

RNG = np.random.default_rng(5)


def dev(a):
    return device.to_device(np.ascontiguousarray(a))


def back(a):
    return device.to_host(a)


@pytest.fixture(autouse=True)
def _gpu(gpu):
    yield


def test_im2col_col2im_match_cpu_and_are_adjoint():
    from mindlab.kernels.cuda import conv
    x = RNG.normal(size=(2, 3, 6, 5)).astype(np.float32)
    geo = (3, 2, 2, 1, 1, 0, 1, 1)       # kh kw sh sw pt pl dh dw
    oh, ow = (6 + 1 + 1 - 3) // 2 + 1, (5 - 2) // 1 + 1
    got = back(conv.im2col(dev(x), *geo, oh, ow))
    np.testing.assert_array_equal(got, cconv.im2col(x, *geo, oh, ow))
    cols = RNG.normal(size=got.shape).astype(np.float32)
    img = back(conv.col2im(dev(cols), 3, 6, 5, *geo, oh, ow))
    np.testing.assert_allclose(img, cconv.col2im(cols, 3, 6, 5, *geo, oh, ow), rtol=1e-5, atol=1e-6)
    # adjoint: <im2col(x), cols> == <x, col2im(cols)>
    np.testing.assert_allclose((got * cols).sum(), (x * img).sum(), rtol=1e-4)


@pytest.mark.parametrize("include_pad", [True, False])
def test_pooling_kernels_match_cpu(include_pad):
    from mindlab.kernels.cuda import pool
    x = RNG.normal(size=(2, 2, 5, 6)).astype(np.float32)
    geo = (3, 2, 2, 2, 1, 0)            # kh kw sh sw pt pl
    oh, ow = 3, 3
    np.testing.assert_array_equal(back(pool.max_pool(dev(x), *geo, oh, ow)), cpool.max_pool(x, *geo, oh, ow))
    dout = RNG.normal(size=(2, 2, oh, ow)).astype(np.float32)
    np.testing.assert_allclose(back(pool.max_pool_grad(dev(x), dev(dout), *geo)), cpool.max_pool_grad(x, dout, *geo),
                               rtol=1e-6)
    np.testing.assert_array_equal(back(pool.max_pool_gather(dev(x), dev(x), *geo, oh, ow)),
                                  cpool.max_pool_gather(x, x, *geo, oh, ow))
    np.testing.assert_allclose(back(pool.avg_pool(dev(x), *geo, oh, ow, include_pad)),
                               cpool.avg_pool(x, *geo, oh, ow, include_pad), rtol=1e-6)
    np.testing.assert_allclose(back(pool.avg_pool_grad(dev(dout), 5, 6, *geo, include_pad)),
                               cpool.avg_pool_grad(dout, 5, 6, *geo, include_pad), rtol=1e-6)


def test_softmax_and_cross_entropy_rows_match_cpu():
    from mindlab.kernels.cuda import softmax
    x = RNG.normal(size=(7, 9)).astype(np.float32) * 4
    for log in (False, True):
        y = softmax.softmax(dev(x), -1, log)
        np.testing.assert_allclose(back(y), csm.softmax(x, -1, log), rtol=1e-5, atol=1e-7)
        dy = RNG.normal(size=x.shape).astype(np.float32)
        np.testing.assert_allclose(back(softmax.softmax_grad(y, dev(dy), -1, log)),
                                   csm.softmax_grad(csm.softmax(x, -1, log), dy, -1, log), rtol=1e-5, atol=1e-6)
    labels = np.array([0, 8, 3, 3, 1, 2, 5], np.int32)
    for grad in (False, True):
        want, _ = csm.sparse_xent(x, labels, grad)
        np.testing.assert_allclose(back(softmax.sparse_xent(dev(x), dev(labels), grad)), want, rtol=1e-5, atol=1e-6)


def test_layer_norm_rows_and_segment_sum_match_cpu():
    from mindlab.kernels.cuda import norm, scatter
    x = RNG.normal(size=(5, 8)).astype(np.float32)
    g, b = RNG.normal(size=8).astype(np.float32), RNG.normal(size=8).astype(np.float32)
    y, m, v = norm.layer_norm(dev(x), dev(g), dev(b), 1, 1, 1e-5)
    wy, wm, wv = cnorm.layer_norm(x, g, b, 1e-5)
    np.testing.assert_allclose(back(y), wy, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(back(m).ravel(), wm, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(back(v).ravel(), wv, rtol=1e-5)
    data = RNG.normal(size=(6, 3)).astype(np.float32)
    ids = np.array([2, 0, 2, 1, 0, 2], np.int64)
    np.testing.assert_allclose(back(scatter.segment_sum(dev(data), dev(ids), 4)), cscatter.segment_sum(data, ids, 4),
                               rtol=1e-6)


def test_norm_backward_passes_match_cpu_on_nearly_constant_rows():
    """Rows and channels of nearly equal values (ill-conditioned: x - mean is all rounding) get the CPU kernels'
    gradients: the GPU backward passes sum in float64 as they do (found by the generated-program fuzzer)."""
    from mindlab.kernels.cuda import norm
    base = RNG.normal(size=(6, 1)).astype(np.float32)
    x = (base + RNG.normal(size=(6, 2)) * 1e-3).astype(np.float32)
    x[0] = 0.3                                                   # an exactly constant row
    g, dy = RNG.normal(size=2).astype(np.float32), RNG.normal(size=(6, 2)).astype(np.float32)
    zero = np.zeros(6, np.float32)
    got = norm.layer_norm_grad(dev(x), dev(dy), dev(zero.reshape(6, 1)), dev(zero.reshape(6, 1)), dev(g), 1, 1, 1e-5)
    want = cnorm.layer_norm_grad(x, dy, zero, zero, g, 1e-5)
    for a, w in zip(got, want):
        np.testing.assert_allclose(back(a), w, rtol=1e-6, atol=1e-6)
    xb = (0.7 + RNG.normal(size=(2, 3, 2, 2)) * 1e-3).astype(np.float32)
    dyb = RNG.normal(size=xb.shape).astype(np.float32)
    wb, z3 = RNG.normal(size=3).astype(np.float32), np.zeros(3, np.float32)
    got = norm.batch_norm_grad(dev(xb), dev(dyb), dev(z3), dev(z3), dev(wb), 1e-5)
    want = cnorm.batch_norm_grad(xb.reshape(2, 3, 4), dyb.reshape(2, 3, 4), z3, z3, wb, 1e-5)
    for a, w in zip(got, want):
        np.testing.assert_allclose(back(a).reshape(w.shape), w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape, axis, keep", [((256, 96), 0, False), ((8, 40, 64), (0, 1), True),
                                              ((512, 33), (0,), True), ((64, 300), (-2,), False)])
def test_leading_axis_sums_are_a_cublas_matrix_vector_product(shape, axis, keep, monkeypatch):
    """A bias gradient's column sum goes through ``ones @ x`` (cuBLAS), the sum and the mean, and agrees with the
    CPU; a sum over other axes stays cupy's reduction."""
    from mindlab.kernels.cuda import reduce as gred
    calls = []
    real = gred.column_sum
    monkeypatch.setattr(gred, "column_sum", lambda *a: calls.append(real(*a)) or calls[-1])
    x = RNG.normal(size=shape).astype(np.float32)
    for fn in (ops.sum, ops.mean):
        got = fn(Tensor(x), axis, keep)
        want = (np.sum if fn is ops.sum else np.mean)(x.astype(np.float64), axis=axis, keepdims=keep)
        assert got.shape == want.shape
        np.testing.assert_allclose(got.asnumpy(), want, rtol=1e-5, atol=1e-5)
    assert len(calls) == 2 and all(c is not None for c in calls)
    calls.clear()
    np.testing.assert_allclose(ops.sum(Tensor(x), -1).asnumpy(), x.sum(-1), rtol=1e-5, atol=1e-5)
    assert calls == [None]


def test_fused_sign_and_floor_of_special_values_are_numpys():
    """fsign(+-inf) was NaN (``1 + x * 0``); -0.0's sign is +0.0 as in numpy."""
    x = np.array([np.inf, -np.inf, 2.5, -3.5, 0.0, -0.0, np.nan, 1.5e30, -1e-40], np.float32)
    with fusion_options(min_elements=0, min_nodes=1):
        sign = jit(lambda a: ops.sign(a * 1.0))(Tensor(x)).asnumpy()
        floor = jit(lambda a: ops.floor(a * 1.0))(Tensor(x)).asnumpy()
    np.testing.assert_array_equal(sign, np.sign(x))
    assert not np.signbit(sign[5])
    np.testing.assert_array_equal(floor, np.floor(x))


def _chain(x, a, b):
    return ops.tanh(x * a + b) * ops.sigmoid(x)


def test_graph_mode_fuses_a_chain_into_one_cuda_kernel():
    from mindlab.kernels.cuda.fused import FusedCudaCall
    x = Tensor(RNG.normal(size=(16, 12)).astype(np.float32) * 3)
    with fusion_options(min_elements=0, enabled=True):
        f = jit(_chain)
        c = f.compiled(x, 1.5, 0.25)
        nodes = fused_nodes(c.optimized)
        assert len(nodes) == 1
        call = nodes[0].op.impl["GPU"]
        assert isinstance(call, FusedCudaCall) and "cuda.grid(1)" in call.source and "ftanh" in call.source
        device.reset_transfer_count()
        out = f(x, 1.5, 0.25)
        assert device.is_device_array(out._data)
        assert device.transfer_count()["h2d"] == 0 and device.transfer_count()["d2h"] == 0
    xs = x.asnumpy().astype(np.float64)
    want = np.tanh(xs * 1.5 + 0.25) / (1 + np.exp(-xs))
    np.testing.assert_allclose(out.asnumpy(), want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("unroll", [1, 2, 4])
@pytest.mark.parametrize("shape", [(4, 5), (7, 13), (64, 9), (10, 3), (6, 1)])
def test_fused_kernel_with_row_input_and_two_outputs(unroll, shape):
    """Every element once, whether a thread takes it in the unrolled loop or in the remainder loop (sizes that
    are and are not multiples of the threads times ``unroll``)."""
    from mindlab.kernels.cpu.fused import FusedExpr, render
    from mindlab.kernels.cuda.fused import FusedCudaCall
    from mindlab.ops.registry import REGISTRY
    e = FusedExpr()
    v0 = e.add_input("full", np.float32)
    v1 = e.add_input("row", np.float32)
    s2 = e.add_input("scalar", np.float32)
    t0 = e.add_step(render(REGISTRY["add"], [v0, v1], np.float32, {}), np.float32, "add")
    t1 = e.add_step(render(REGISTRY["relu"], [t0], np.float32, {}), np.float32, "relu")
    t2 = e.add_step(render(REGISTRY["maximum"], [t1, s2], np.float32, {}), np.float32, "maximum")
    t3 = e.add_step(render(REGISTRY["sign"], [t0], np.float32, {}), np.float32, "sign")
    e.add_output(t2)
    e.add_output(t3)
    call = FusedCudaCall(e, shape, shape[1], unroll=unroll)
    assert ("while i + " in call.source) == (unroll > 1)
    a = RNG.normal(size=shape).astype(np.float32)
    r = RNG.normal(size=shape[1]).astype(np.float32)
    o2, o3 = call(dev(a), dev(r), dev(np.array([0.3], np.float32)))
    np.testing.assert_allclose(back(o2), np.maximum(np.maximum(a + r, 0), 0.3), rtol=1e-7)
    np.testing.assert_array_equal(back(o3), np.sign(a + r))
