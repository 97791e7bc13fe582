"""One helper for composite ops (mindlab/ops/composite/): forward values against a numpy reference, GRAPH_MODE
against PyNative, and gradients against central finite differences — all through the public API."""
import numpy as np

import mindlab as ms
from mindlab import Tensor


def _leaves(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def check(fn, ref, *arrays, grad=True, wrt=None, rtol=1e-7, atol=1e-9, grad_rtol=1e-5):
    """``fn(*tensors)`` equals ``ref(*arrays)`` (numpy), in PyNative and compiled with ``ms.jit``; with ``grad``,
    the gradient of a random weighting of its float outputs w.r.t. the float64 inputs ``wrt`` (default: all float64
    inputs) equals central finite differences. Give float64 arrays for the inputs to differentiate."""
    tensors = [Tensor(a) for a in arrays]
    out = _leaves(fn(*tensors))
    expected = _leaves(ref(*arrays))
    assert len(out) == len(expected), (len(out), len(expected))
    for o, e in zip(out, expected):
        e = np.asarray(e)
        assert tuple(o.shape) == e.shape, (o.shape, e.shape)
        np.testing.assert_allclose(o.asnumpy(), e, rtol=rtol, atol=atol)
    compiled = _leaves(ms.jit(fn)(*tensors))
    for o, c in zip(out, compiled):
        assert o.dtype == c.dtype, (o.dtype, c.dtype)
        np.testing.assert_allclose(c.asnumpy(), o.asnumpy(), rtol=1e-9 if o.dtype == ms.float64 else 1e-6, atol=atol)
    if not grad:
        return
    wrt = tuple(k for k, a in enumerate(arrays) if np.asarray(a).dtype == np.float64) if wrt is None else wrt
    rng = np.random.default_rng(7)
    weights = [rng.uniform(0.5, 1.5, o.shape) if o.dtype in (ms.float32, ms.float64) else None for o in out]

    def scalar(*xs):
        ins = list(tensors)
        for k, x in zip(wrt, xs):
            ins[k] = x
        total = None
        for o, w in zip(_leaves(fn(*ins)), weights):
            if w is not None:
                term = ms.ops.sum(o * Tensor(w.astype(o.dtype.np)))
                total = term if total is None else total + term
        return total
    grads = ms.grad(scalar, grad_position=tuple(range(len(wrt))))(*[tensors[k] for k in wrt])
    xs = [np.array(arrays[k], dtype=np.float64) for k in wrt]
    for i, g in enumerate(grads):
        num = np.zeros_like(xs[i])
        it = np.nditer(xs[i], flags=["multi_index"])
        for _ in it:
            idx = it.multi_index
            orig = xs[i][idx]
            xs[i][idx] = orig + 1e-6
            fp = float(scalar(*[Tensor(v) for v in xs]).asnumpy())
            xs[i][idx] = orig - 1e-6
            fm = float(scalar(*[Tensor(v) for v in xs]).asnumpy())
            xs[i][idx] = orig
            num[idx] = (fp - fm) / 2e-6
        np.testing.assert_allclose(g.asnumpy(), num, rtol=grad_rtol, atol=1e-6)
