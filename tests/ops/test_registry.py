"""Generic tests that walk the primitive registry: every primitive has all its rules, its infer agrees with its
kernel, its cost is sane, and every differentiable primitive's bprop matches central finite differences in
float64 (first order, and second order: the bprop is itself differentiable)."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor
from mindlab.ops import REGISTRY, bind
from mindlab.ops.abstract import AbstractTensor
from mindlab.ops.registry import Cost
from mindlab import dtype as mdt

from .samples import all_samples

SAMPLES = all_samples()
CASES = [(name, i, c) for name, cases in sorted(SAMPLES.items()) for i, c in enumerate(cases)]
GRAD_CASES = [(n, i, c) for n, i, c in CASES if REGISTRY[n].differentiable and c.grad] if CASES else []


def test_every_primitive_has_all_rules():
    for name, p in REGISTRY.items():
        assert callable(p.infer), name
        assert callable(p.impl.get("CPU")), name
        assert callable(p.cost), name
        assert p.differentiable or p.bprop.reason, f"{name}: a non-differentiable primitive must say why"


def test_every_primitive_has_samples():
    missing = sorted(set(REGISTRY) - set(SAMPLES))
    assert not missing, f"primitives without sample cases in tests/ops/samples_*.py: {missing}"
    nograd = sorted(n for n, p in REGISTRY.items() if p.differentiable and not any(c.grad for c in SAMPLES.get(n, [])))
    assert not nograd, f"differentiable primitives without a gradient-checked case: {nograd}"


def test_samples_name_registered_primitives():
    assert set(SAMPLES) <= set(REGISTRY), sorted(set(SAMPLES) - set(REGISTRY))


@pytest.mark.parametrize("name,i,case", CASES, ids=[f"{n}-{i}" for n, i, _ in CASES])
def test_infer_matches_kernel_and_cost(name, i, case):
    p = REGISTRY[name]
    for dt in (np.float32, np.float64):
        ins = [Tensor(a.astype(dt) if a.dtype.kind == "f" else a) for a in case.inputs]
        avals = [AbstractTensor(t.shape, t.dtype) for t in ins]
        expected = p.infer(*avals, **case.attrs)
        out = bind(p, *ins, **case.attrs)
        outs = out if isinstance(out, tuple) else (out,)
        exps = expected if isinstance(expected, tuple) else (expected,)
        assert len(outs) == len(exps) and p.outputs in (None, len(outs))
        for o, e in zip(outs, exps):
            assert o.shape == e.shape, (name, o.shape, e.shape)
            assert o.dtype == e.dtype, (name, o.dtype, e.dtype)
        c = p.cost(*avals, **case.attrs)
        assert isinstance(c, Cost) and c.flops >= 0 and c.bytes >= 0


def _weighted_sum_fn(p, case, wrt, weights):
    consts = [Tensor(a) for a in case.inputs]

    def f(*xs):
        ins = list(consts)
        for k, x in zip(wrt, xs):
            ins[k] = x
        out = bind(p, *ins, **case.attrs)
        outs = out if isinstance(out, tuple) else (out,)
        total = None
        for o, w in zip(outs, weights):
            if w is None:
                continue
            term = ms.ops.sum(o * Tensor(w))
            total = term if total is None else total + term
        return total
    return f


def _numeric_grad(f, xs, k, eps=1e-6):
    x = xs[k]
    g = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        orig = x[idx]
        x[idx] = orig + eps
        fp = float(f(*[Tensor(v) for v in xs]).asnumpy())
        x[idx] = orig - eps
        fm = float(f(*[Tensor(v) for v in xs]).asnumpy())
        x[idx] = orig
        g[idx] = (fp - fm) / (2 * eps)
    return g


def _setup_grad_case(name, case):
    p = REGISTRY[name]
    wrt = case.wrt if case.wrt is not None else tuple(k for k, a in enumerate(case.inputs) if a.dtype.kind == "f")
    out = bind(p, *[Tensor(a) for a in case.inputs], **case.attrs)
    outs = out if isinstance(out, tuple) else (out,)
    rng = np.random.default_rng(1)
    weights = [rng.uniform(0.5, 1.5, o.shape) if o.dtype.kind == "f" else None for o in outs]
    return p, wrt, _weighted_sum_fn(p, case, wrt, weights)


@pytest.mark.parametrize("name,i,case", GRAD_CASES, ids=[f"{n}-{i}" for n, i, _ in GRAD_CASES])
def test_bprop_matches_finite_differences(name, i, case):
    p, wrt, f = _setup_grad_case(name, case)
    xs = [np.array(case.inputs[k], dtype=np.float64) for k in wrt]
    analytic = ms.grad(f, grad_position=tuple(range(len(wrt))))(*[Tensor(x) for x in xs])
    for k in range(len(wrt)):
        num = _numeric_grad(f, xs, k)
        np.testing.assert_allclose(analytic[k].asnumpy(), num, rtol=case.rtol, atol=1e-6,
                                   err_msg=f"{name}: gradient w.r.t. input {wrt[k]}")


@pytest.mark.parametrize("name,i,case", GRAD_CASES, ids=[f"{n}-{i}" for n, i, _ in GRAD_CASES])
def test_bprop_is_differentiable(name, i, case):
    """Second order: the gradient of <grad f(x), v> matches finite differences of grad f (Hessian-vector)."""
    p, wrt, f = _setup_grad_case(name, case)
    xs = [np.array(case.inputs[k], dtype=np.float64) for k in wrt]
    vs = [np.random.default_rng(2 + k).uniform(-1, 1, x.shape) for k, x in enumerate(xs)]
    first = ms.grad(f, grad_position=tuple(range(len(wrt))))

    def gv(*ts):
        gs = first(*ts)
        total = None
        for g, v in zip(gs, vs):
            term = ms.ops.sum(g * Tensor(v))
            total = term if total is None else total + term
        return total
    analytic = ms.grad(gv, grad_position=tuple(range(len(wrt))))(*[Tensor(x) for x in xs])
    for k in range(len(wrt)):
        if xs[k].size > 64:
            continue
        num = _numeric_grad(gv, xs, k, eps=1e-5)
        np.testing.assert_allclose(analytic[k].asnumpy(), num, rtol=max(case.rtol, 1e-3), atol=1e-5,
                                   err_msg=f"{name}: second derivative w.r.t. input {wrt[k]}")
