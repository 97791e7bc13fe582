"""Every registry primitive runs on Ascend — a kernel or a stated decomposition (kernels/ascend/table.py) — and
agrees with its CPU kernel on every sample input of the registry tests (float32; fp16 tolerance for the Cube)."""
import numpy as np
import pytest

from mindlab.ops.registry import REGISTRY
from mindlab.kernels import ascend
from mindlab.kernels.ascend.table import ROUTES

from ..ops.samples import all_samples

SAMPLES = all_samples()
CASES = [(n, i, c) for n, cs in sorted(SAMPLES.items()) for i, c in enumerate(cs)]
CUBE = {n for n, (r, _) in ROUTES.items() if r == "cube"}
RANDOM = {"dropout_gen_mask"}     # same generator, but compared by its statistics, not bit for bit


def test_every_primitive_has_an_ascend_route_and_kernel():
    ascend.enable()
    assert sorted(set(REGISTRY) - set(ROUTES)) == []
    for name, p in REGISTRY.items():
        impl = p.impl.get("Ascend")
        assert callable(impl), name
        assert impl.route == ROUTES[name] and impl.route[0] in ("vector", "inplace", "rows", "cube", "mte", "view",
                                                                "aicpu"), name
    table = ascend.route_table()
    assert all(f"`{n}`" in table for n in REGISTRY)


def test_install_names_missing_primitives():
    from mindlab.kernels.ascend.table import install
    fake = dict(REGISTRY)
    fake["brand_new_op"] = REGISTRY["add"]
    with pytest.raises(RuntimeError, match=r"brand_new_op"):
        install(fake)


@pytest.mark.parametrize("name,i,case", CASES, ids=[f"{n}-{i}" for n, i, _ in CASES])
def test_ascend_kernel_matches_cpu(name, i, case):
    ascend.enable()
    p = REGISTRY[name]
    ins = [a.astype(np.float32) if a.dtype.kind == "f" else a for a in case.inputs]
    ref = p.impl["CPU"](*[np.array(a, copy=True) for a in ins], **case.attrs)
    with ascend.profile() as prof:
        out = p.impl["Ascend"](*[np.array(a, copy=True) for a in ins], **case.attrs)
    refs = ref if isinstance(ref, tuple) else (ref,)
    outs = out if isinstance(out, tuple) else (out,)
    assert len(refs) == len(outs)
    tol = 2e-2 if name in CUBE else 1e-5
    for r, o in zip(refs, outs):
        r, o = np.asarray(r), np.asarray(o)
        assert r.shape == o.shape, (r.shape, o.shape)
        if name in RANDOM:
            assert set(np.unique(o)) <= {0, 1}
            continue
        np.testing.assert_allclose(o.astype(np.float64), r.astype(np.float64), rtol=tol, atol=tol, equal_nan=True)
    # it ran on the simulated chip (a view moves nothing; a gather whose index map is the identity neither)
    if ROUTES[name][0] not in ("view", "mte") and max((np.asarray(a).size for a in ins), default=0) > 0:
        assert prof and prof[-1].op == name and prof.cycles > 0


def test_routes_document_is_current():
    from pathlib import Path
    doc = Path(ascend.__file__).with_name("ROUTES.md").read_text()
    assert ascend.route_table() in doc, "regenerate kernels/ascend/ROUTES.md from route_table()"
