"""The GPU backend through the public API: every primitive has a GPU kernel that agrees with the CPU kernel,
tensors live on the device, and data crosses to the host only at asnumpy / printing / explicit moves."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor, ops, device
from mindlab.ops.registry import REGISTRY
from mindlab.ops.dispatch import bind
from tests.ops.samples import all_samples
from .conftest import on, host

SAMPLES = all_samples()


def test_every_primitive_has_a_gpu_kernel(gpu):
    from mindlab.kernels.cuda import missing
    assert missing() == []
    assert [n for n, p in REGISTRY.items() if "GPU" not in p.impl] == []


def _run(name, case, dev, dtype):
    def go():
        ins = [Tensor(np.asarray(a, dtype) if np.asarray(a).dtype == np.float64 else a) if isinstance(a, np.ndarray)
               else a for a in case.inputs]
        out = bind(REGISTRY[name], *ins, **case.attrs)
        return host(out), host(ins)
    return on(dev, go)


CASES = [(n, i, c) for n, cases in sorted(SAMPLES.items()) for i, c in enumerate(cases) if n in REGISTRY]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_primitive_agrees_with_cpu(dtype):
    """Each sample case of each primitive (tests/ops/samples_*.py) on CPU and on GPU: outputs (and, for in-place
    updates, the updated inputs) agree to 1e-5 in float32 / 1e-10 in float64."""
    tol = 1e-5 if dtype == np.float32 else 1e-10
    bad, checked = [], 0
    for name, i, case in CASES:
        prim = REGISTRY[name]
        if prim.random:
            continue
        ms.set_seed(0)
        cpu = _run(name, case, "CPU", dtype)
        ms.set_seed(0)
        gpu = _run(name, case, "GPU", dtype)
        for a, b in zip(_flat(cpu), _flat(gpu)):
            a, b = np.asarray(a), np.asarray(b)
            t = max(tol, 1e-5) if a.dtype == np.float32 else tol   # (an integer case computes in float32)
            if a.shape != b.shape or a.dtype != b.dtype or not np.allclose(a, b, rtol=t, atol=t, equal_nan=True):
                bad.append(f"{name}[{i}]: cpu {a.dtype}{list(a.shape)} gpu {b.dtype}{list(b.shape)}, "
                           f"max diff {np.max(np.abs(a.astype(float) - b.astype(float))) if a.shape == b.shape else '-'}")
                break
        checked += 1
    assert checked > 150 and not bad, "\n".join(bad)


def _flat(x):
    if isinstance(x, (list, tuple)):
        for v in x:
            yield from _flat(v)
    else:
        yield x


def test_random_mask_on_device(gpu):
    x = Tensor(np.ones((64, 64), np.float32))
    y = ops.dropout(x, p=0.25)
    y = y[0] if isinstance(y, tuple) else y
    assert device.is_device_array(y._data)
    kept = (y.asnumpy() != 0).mean()
    assert 0.65 < kept < 0.85
    np.testing.assert_allclose(np.unique(y.asnumpy()), [0.0, 1 / 0.75], rtol=1e-6)


def test_tensors_live_on_the_device_and_transfers_are_counted(gpu):
    x = Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    assert device.is_device_array(x._data)
    assert device.transfer_count()["h2d"] == 1
    y = ops.relu(ops.matmul(x, x.T) * 2.0 - 3.0)
    z = ops.sum(ops.softmax(y), axis=1)
    assert device.is_device_array(y._data) and device.is_device_array(z._data)
    c = device.transfer_count()
    assert c["h2d"] == 1 and c["d2h"] == 0          # a Python scalar is a kernel argument, not a transfer
    np.testing.assert_allclose(z.asnumpy(), np.ones(3), rtol=1e-6)
    assert device.transfer_count()["d2h"] == 1
    str(y)
    assert device.transfer_count()["d2h"] == 2      # printing reads the values
    ref = np.maximum((x.asnumpy() @ x.asnumpy().T) * 2 - 3, 0)
    np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-6)
    p = ms.Parameter(Tensor(np.zeros(3, np.float32)), name="p")
    assert device.is_device_array(p._data)


def test_scalar_parameters_live_on_the_device(gpu):
    p = ms.Parameter(Tensor(np.float32(1.0)), name="beta_power")
    assert device.is_device_array(p._data) and p.shape == ()
    ops.assign(p, p * 0.5)
    assert device.is_device_array(p._data) and p.item() == 0.5


def test_a_parameter_made_on_cpu_moves_to_the_gpu_at_first_use_and_updates_in_place():
    p = ms.Parameter(Tensor(np.zeros(4, np.float32)), name="w")       # made on CPU (a cell run before switching)
    ms.set_context(device_target="GPU")
    try:
        device.reset_transfer_count()
        g = Tensor(np.ones(4, np.float32))
        ops.apply_momentum(p, Tensor(np.zeros(4, np.float32)), 0.1, g, 0.9)
        assert device.is_device_array(p._data)                         # moved once, and stays
        np.testing.assert_allclose(p.asnumpy(), -0.1 * np.ones(4), rtol=1e-6)
        before = device.transfer_count()["h2d"]
        ops.apply_momentum(p, Tensor(np.zeros(4, np.float32)), 0.1, g, 0.9)
        assert device.transfer_count()["h2d"] == before + 1            # the new accumulation only, not p
        net = ms.jit(lambda x: ops.sum(x * x))
        made_on_gpu = ms.Tensor(np.zeros(4, np.float32))
    finally:
        ms.set_context(device_target="CPU")
    x = Tensor(np.arange(3, dtype=np.float32))                         # on CPU, then used on the GPU
    ms.set_context(device_target="GPU")
    try:
        assert net(x).item() == 5.0 and device.is_device_array(x._data)
    finally:
        ms.set_context(device_target="CPU")
    # device tensors used after switching back to CPU: moved to the host (the kernels are numpy / numba)
    y = ops.add(p, made_on_gpu)
    assert type(p._data) is np.ndarray and type(y._data) is np.ndarray and type(made_on_gpu._data) is np.ndarray
    np.testing.assert_allclose(y.asnumpy(), p.asnumpy())
    assert ms.jit(lambda a: a * 2.0)(made_on_gpu).asnumpy().tolist() == [0.0] * 4
    assert ops.sparse_softmax_cross_entropy(Tensor(np.zeros((2, 3), np.float32)),
                                            Tensor(np.array([0, 2], np.int32))).shape == (2,)


def test_kernel_errors_name_the_op(gpu):
    with pytest.raises(ValueError, match="gather"):
        ops.gather(Tensor(np.zeros((3, 2), np.float32)), Tensor(np.array([0, 5], np.int32)), 0)
    with pytest.raises(ValueError, match="label 7 .at index 1. is out of range"):
        ops.sparse_softmax_cross_entropy(Tensor(np.zeros((2, 3), np.float32)), Tensor(np.array([0, 7], np.int32)))


@pytest.mark.gpu
def test_device_arrays_are_cupy_and_gemm_is_cublas(gpu):
    import cupy as cp
    a = np.random.default_rng(0).standard_normal((256, 128)).astype(np.float32)
    x = Tensor(a)
    y = ops.matmul(x, x, transpose_b=True)
    assert isinstance(x._data, cp.ndarray) and isinstance(y._data, cp.ndarray)
    np.testing.assert_allclose(y.asnumpy(), a @ a.T, rtol=1e-4, atol=1e-4)
    with pytest.raises(TypeError):
        np.add(y._data, np.ones(1))      # cupy refuses implicit host conversion: no silent round trip possible
