"""select / where on the CPU: the numba loop (kernels/cpu/select.py) must equal np.where wherever it runs, and the
shapes it does not take must still come out right through the primitive."""
import numpy as np
import pytest

import mindlab as ms
from mindlab.kernels.cpu.select import select

rng = np.random.default_rng(1)
SHAPE = (48, 40)


def _cond(shape=SHAPE):
    return rng.random(shape) > 0.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.bool_, np.uint8])
@pytest.mark.parametrize("form", ["arrays", "x-scalar", "y-scalar", "broadcast-row", "non-contiguous"])
def test_select_equals_np_where(dtype, form):
    c = _cond()
    x = (rng.standard_normal(SHAPE) * 10).astype(dtype)
    y = (rng.standard_normal(SHAPE) * 10).astype(dtype)
    if form == "x-scalar":
        x = np.array(3, dtype)
    elif form == "y-scalar":
        y = np.zeros((), dtype)
    elif form == "broadcast-row":
        y = y[:1]
    elif form == "non-contiguous":
        x = np.asfortranarray(x)
    got, want = select(c, x, y), np.where(c, x, y)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_select_keeps_nan_and_signed_zero():
    c = _cond()
    x = np.full(SHAPE, np.nan, np.float32)
    y = np.full(SHAPE, -0.0, np.float32)
    got = select(c, x, y)
    assert np.array_equal(np.isnan(got), c) and np.all(np.signbit(got[~c]))


@pytest.mark.parametrize("mode", ["pynative", "graph"])
def test_relu_gradient_through_select(mode):
    """ReLU's backward is a select: gradient 1 where the input is positive, in both modes."""
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    try:
        x = rng.standard_normal((64, 64)).astype(np.float32)
        g = ms.grad(lambda t: (ms.ops.relu(t) * 2.0).sum())(ms.Tensor(x)).asnumpy()
        np.testing.assert_array_equal(g, np.where(x > 0, 2.0, 0.0).astype(np.float32))
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
