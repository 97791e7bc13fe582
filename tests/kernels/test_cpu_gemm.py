"""The CPU GEMM route (kernels/cpu/blas.py + mkl.py): MKL's cblas GEMMs on numpy memory when the mkl wheel is
installed, numpy otherwise. Every layout the route takes in place (contiguous, transposed, sliced, broadcast batch)
is compared with numpy's matmul, and so are the cases it must hand back to numpy."""
import numpy as np
import pytest

import mindlab as ms
from mindlab.kernels.cpu import blas, mkl

needs_mkl = pytest.mark.skipif(not mkl.available(), reason="the mkl wheel is not installed")
rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def _every_size_to_mkl(monkeypatch):
    """These shapes are tiny: let MKL take them anyway (by default products under MIN_FLOPS go to numpy)."""
    monkeypatch.setattr(mkl, "MIN_FLOPS", 0)


def _arr(shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


LAYOUTS = {
    "contiguous": lambda a: a,
    "transposed": lambda a: np.swapaxes(np.ascontiguousarray(np.swapaxes(a, -1, -2)), -1, -2),
    "row-slice": lambda a: np.concatenate([a, a], axis=-1)[..., : a.shape[-1]],
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("la", list(LAYOUTS))
@pytest.mark.parametrize("lb", list(LAYOUTS))
@pytest.mark.parametrize("shapes", [((5, 7), (7, 3)), ((3, 4, 5), (5, 2)), ((4, 5), (2, 5, 6)),
                                    ((2, 3, 4, 5), (2, 3, 5, 6)), ((1, 4, 5), (3, 5, 2))])
def test_blas_matmul_equals_numpy(dtype, la, lb, shapes):
    a, b = LAYOUTS[la](_arr(shapes[0], dtype)), LAYOUTS[lb](_arr(shapes[1], dtype))
    got, want = blas.matmul(a, b), np.matmul(a, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-5)


@needs_mkl
@pytest.mark.parametrize("shapes", [((5, 7), (7, 3)), ((3, 4, 5), (5, 2)), ((4, 5), (2, 5, 6)),
                                    ((2, 3, 4, 5), (2, 3, 5, 6))])
def test_mkl_takes_the_in_place_layouts(shapes):
    a, b = _arr(shapes[0], np.float32), LAYOUTS["transposed"](_arr(shapes[1], np.float32))
    got = mkl.gemm(a, b)
    assert got is not None
    np.testing.assert_allclose(got, np.matmul(a, b), rtol=1e-5, atol=1e-5)


@needs_mkl
@pytest.mark.parametrize("a, b", [
    (np.ones((3, 4), np.int32), np.ones((4, 2), np.int32)),                      # not a float GEMM
    (np.ones((3, 4), np.float16), np.ones((4, 2), np.float16)),
    (np.ones((3, 0), np.float32), np.ones((0, 2), np.float32)),                  # empty contraction
    (np.ones((2, 1, 4, 5), np.float32), np.ones((3, 5, 6), np.float32)),         # batch strides do not collapse
    (np.ones((3, 8), np.float32)[:, ::2], np.ones((4, 2), np.float32)),          # no unit stride
])
def test_mkl_hands_other_cases_back(a, b):
    assert mkl.gemm(a, b) is None
    np.testing.assert_array_equal(blas.matmul(a, b), np.matmul(a, b))   # and the route still answers


def test_numpy_route_can_be_forced(monkeypatch):
    """MINDLAB_BLAS=numpy: the loader declines, every product goes to numpy."""
    monkeypatch.setenv("MINDLAB_BLAS", "numpy")
    assert mkl._load() is None


def test_dense_and_conv_training_use_the_route():
    """A Dense layer's forward and gradients through the public API agree with numpy (float64 reference)."""
    x = _arr((16, 12), np.float32)
    w = _arr((5, 12), np.float32)
    net = ms.nn.Dense(12, 5, has_bias=False)
    net.weight.set_data(ms.Tensor(w))
    out = net(ms.Tensor(x)).asnumpy()
    np.testing.assert_allclose(out, x.astype(np.float64) @ w.T.astype(np.float64), rtol=1e-5, atol=1e-5)
    gx, gw = ms.grad(lambda x_, w_: ms.ops.matmul(x_, w_.T).sum(), grad_position=(0, 1))(ms.Tensor(x), ms.Tensor(w))
    np.testing.assert_allclose(gx.asnumpy(), np.ones((16, 5)) @ w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gw.asnumpy(), np.ones((16, 5)).T @ x, rtol=1e-5, atol=1e-4)


@needs_mkl
def test_tiny_products_go_to_numpy(monkeypatch):
    monkeypatch.setattr(mkl, "MIN_FLOPS", 1 << 22)
    a, b = _arr((128, 512), np.float32), _arr((512, 10), np.float32)       # 1.3 MFLOP
    assert mkl.gemm(a, b) is None
    big = _arr((128, 512), np.float32), _arr((512, 512), np.float32)         # 67 MFLOP
    assert mkl.gemm(*big) is not None
    np.testing.assert_allclose(blas.matmul(a, b), a @ b, rtol=1e-5, atol=1e-5)


@needs_mkl
def test_two_d_products_take_the_compiled_caller(monkeypatch):
    """2-D float products go through kernels/cpu/mkl_jit (no ctypes call): taking the ctypes route away changes
    nothing for them, and every layout still equals numpy."""
    assert mkl._state["jit"] is not None
    monkeypatch.setattr(mkl, "_gemm2d", None)          # the ctypes route would now fail if it were taken
    for dtype in (np.float32, np.float64):
        for la in LAYOUTS:
            for lb in LAYOUTS:
                a, b = LAYOUTS[la](_arr((6, 9), dtype)), LAYOUTS[lb](_arr((9, 4), dtype))
                np.testing.assert_allclose(mkl.gemm(a, b), a @ b, rtol=1e-5 if dtype == np.float32 else 1e-12)
                c = _arr((6, 4), dtype)
                want = a @ b + 0.5 * c
                assert mkl.gemm_into(a, b, c, 0.5) is True
                np.testing.assert_allclose(c, want, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


@needs_mkl
def test_compiled_caller_refusals_fall_back_correctly():
    """Read-only operands, a non-contiguous accumulator, mixed dtypes and big-endian data: the compiled caller's
    signatures do not take them; the answer is still right or the product is refused (never wrong numbers)."""
    a, b = _arr((6, 9), np.float32), _arr((9, 4), np.float32)
    ro = a.copy()
    ro.flags.writeable = False
    np.testing.assert_allclose(mkl.gemm(ro, b), a @ b, rtol=1e-5)
    c = np.zeros((4, 6), np.float32).T                                      # not C-contiguous
    assert mkl.gemm_into(a, b, c, 0.9) is False and not c.any()
    assert mkl.gemm(a, b.astype(np.float64)) is None
    assert mkl.gemm(a.astype(">f4"), b.astype(">f4")) is None               # MKL reads native byte order only
    np.testing.assert_allclose(blas.matmul(a.astype(">f4"), b.astype(">f4")), a @ b, rtol=1e-5)


@needs_mkl
def test_small_numpy_products_leave_mkl_threads_alone():
    """blas.py runs small products on one numpy-BLAS thread; that must not cap MKL, whose big products would then
    run on one core for the rest of the process (a GRAPH_MODE MLP step lost its second core this way)."""
    import ctypes
    lib = mkl._lib()
    lib.MKL_Set_Num_Threads.argtypes = [ctypes.c_int]
    before = lib.MKL_Get_Max_Threads()
    lib.MKL_Set_Num_Threads(2)
    try:
        blas.matmul(_arr((8, 8), np.float32), _arr((8, 8), np.float32).astype(np.float32))   # numpy, one thread
        a = _arr((8, 8), np.int64)
        blas.matmul(a, a)                                                                      # numpy too
        assert lib.MKL_Get_Max_Threads() == 2
    finally:
        lib.MKL_Set_Num_Threads(before)
