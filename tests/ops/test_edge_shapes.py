"""Gradients on edge shapes, in float64, for every differentiable primitive (samples in tests/ops/samples_edge.py):

* zero-size inputs: value and gradients come back with the right shapes (and finite), no crash — or the primitive
  refuses zero-size input with a clear error naming the op and the shapes (``REJECTS_ZERO_SIZE``);
* size-1 axes (and the broadcasting they make against full-size inputs): the bprop matches central finite
  differences;
* one large case per family (>= 64k elements): the gradient's projection on a random direction matches the
  directional finite difference (the full Jacobian would be too slow).
"""
import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor
from mindlab import dtype as mdt
from mindlab.ops import REGISTRY, bind
from mindlab.ops.abstract import AbstractTensor

from .samples import all_samples
from .samples_edge import derived, ZERO, ONE, LARGE, REJECTS_ZERO_SIZE, _accepts
from .test_registry import _setup_grad_case, _numeric_grad

SAMPLES = all_samples()
DIFF = sorted(n for n, p in REGISTRY.items() if p.differentiable)

_zero = derived(SAMPLES, 0)
for _n, _cases in ZERO.items():
    _zero.setdefault(_n, []).extend(c for c in _cases if _accepts(_n, c.inputs, c.attrs))
ZERO_CASES = [(n, i, c) for n, cs in sorted(_zero.items()) for i, c in enumerate(cs)]
_one = derived(SAMPLES, 1)
for _n, _cases in ONE.items():
    _one.setdefault(_n, []).extend(_cases)
ONE_CASES = [(n, i, c) for n, cs in sorted(_one.items()) for i, c in enumerate(cs)]
LARGE_CASES = [(fam, n, c) for fam, cases in sorted(LARGE.items()) for n, c in cases]


def _ids(cases):
    return [f"{n}-{i}" for n, i, _ in cases]


def test_every_differentiable_primitive_has_zero_and_one_size_cases():
    no_zero = sorted(set(DIFF) - set(_zero) - set(REJECTS_ZERO_SIZE))
    assert not no_zero, f"differentiable primitives without a zero-size case (add one to samples_edge.ZERO): {no_zero}"
    no_one = sorted(set(DIFF) - {n for n, _, _ in ONE_CASES})
    assert not no_one, f"differentiable primitives without a size-1 case: {no_one}"
    assert {fam for fam, _, _ in LARGE_CASES} >= {"math", "reduce", "array", "linalg", "nn"}


def _wrt(case):
    return case.wrt if case.wrt is not None else tuple(k for k, a in enumerate(case.inputs) if a.dtype.kind == "f")


@pytest.mark.parametrize("name,i,case", ZERO_CASES, ids=_ids(ZERO_CASES))
def test_zero_size_value_and_gradient_shapes(name, i, case):
    p, wrt, f = _setup_grad_case(name, case)
    xs = [Tensor(np.array(case.inputs[k], dtype=np.float64)) for k in wrt]
    out = bind(p, *[Tensor(a) for a in case.inputs], **case.attrs)
    expected = p.infer(*[AbstractTensor(a.shape, mdt.from_np(a.dtype)) for a in case.inputs], **case.attrs)
    outs = out if isinstance(out, tuple) else (out,)
    exps = expected if isinstance(expected, tuple) else (expected,)
    assert [o.shape for o in outs] == [e.shape for e in exps]
    c = p.cost(*[AbstractTensor(a.shape, mdt.from_np(a.dtype)) for a in case.inputs], **case.attrs)
    assert c.flops >= 0 and c.bytes >= 0       # the cost rule (planner, profiler) copes with empty inputs too
    grads = ms.grad(f, grad_position=tuple(range(len(wrt))))(*xs)
    grads = grads if isinstance(grads, tuple) else (grads,)
    for k, g in zip(wrt, grads):
        assert g.shape == case.inputs[k].shape, (name, k, g.shape, case.inputs[k].shape)
        assert np.isfinite(g.asnumpy()).all(), (name, k)


@pytest.mark.parametrize("name", sorted(REJECTS_ZERO_SIZE))
def test_zero_size_refused_with_clear_error(name):
    case = REJECTS_ZERO_SIZE[name]
    with pytest.raises((ValueError, TypeError)) as ei:
        bind(REGISTRY[name], *[Tensor(a) for a in case.inputs], **case.attrs)
    msg = str(ei.value)
    assert name in msg and str(list(case.inputs[0].shape)) in msg, msg


@pytest.mark.parametrize("name,i,case", ONE_CASES, ids=_ids(ONE_CASES))
def test_size_one_bprop_matches_finite_differences(name, i, case):
    p, wrt, f = _setup_grad_case(name, case)
    xs = [np.array(case.inputs[k], dtype=np.float64) for k in wrt]
    analytic = ms.grad(f, grad_position=tuple(range(len(wrt))))(*[Tensor(x) for x in xs])
    for k in range(len(wrt)):
        num = _numeric_grad(f, xs, k)
        np.testing.assert_allclose(analytic[k].asnumpy(), num, rtol=case.rtol, atol=1e-6,
                                   err_msg=f"{name}: gradient w.r.t. input {wrt[k]} (shapes "
                                           f"{[a.shape for a in case.inputs]})")


@pytest.mark.parametrize("fam,name,case", LARGE_CASES, ids=[f"{f}-{n}" for f, n, _ in LARGE_CASES])
def test_large_gradient_along_a_random_direction(fam, name, case):
    p, wrt, f = _setup_grad_case(name, case)
    assert max(case.inputs[k].size for k in wrt) >= 64 * 1024 or sum(case.inputs[k].size for k in wrt) >= 64 * 1024
    xs = [np.array(case.inputs[k], dtype=np.float64) for k in wrt]
    grads = ms.grad(f, grad_position=tuple(range(len(wrt))))(*[Tensor(x) for x in xs])
    rng = np.random.default_rng(7)
    vs = [rng.standard_normal(x.shape) for x in xs]
    eps = 1e-5
    fp = float(f(*[Tensor(x + eps * v) for x, v in zip(xs, vs)]).asnumpy())
    fm = float(f(*[Tensor(x - eps * v) for x, v in zip(xs, vs)]).asnumpy())
    numeric = (fp - fm) / (2 * eps)
    analytic = sum(float(np.vdot(g.asnumpy(), v)) for g, v in zip(grads, vs))
    assert abs(analytic - numeric) <= 1e-6 * max(1.0, abs(numeric)), (name, analytic, numeric)
