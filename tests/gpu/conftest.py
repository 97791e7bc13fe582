"""GPU backend tests. They run with device_target="GPU" wherever the GPU backend is active in this process: on a
CUDA GPU, or under numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1). In a plain CPU run, test_simulator.py re-runs
this folder in a subprocess under the simulator, so CI always exercises the GPU code paths.
Tests marked ``gpu`` need a real CUDA device (cupy arrays, cuBLAS, NCCL) and skip otherwise."""
import numpy as np
import pytest

import mindlab as ms
from mindlab import context, device


def backend_active():
    """A GPU backend usable in this process (simulated or real) — without importing numba.cuda in a CPU run."""
    if device.simulated():
        return True
    return context.device_available("GPU")


def real_gpu():
    return not device.simulated() and context.device_available("GPU")


def pytest_collection_modifyitems(config, items):
    here = __file__.rsplit("/", 1)[0]
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device (not the simulator)")
    skip_backend = pytest.mark.skip(reason="GPU backend inactive here: tests/gpu/test_simulator.py runs these "
                                           "under NUMBA_ENABLE_CUDASIM=1")
    for item in items:
        if not str(item.fspath).startswith(here) or item.fspath.basename == "test_simulator.py":
            continue
        if item.get_closest_marker("gpu") is not None and not real_gpu():
            item.add_marker(skip_gpu)
        elif not backend_active():
            item.add_marker(skip_backend)


@pytest.fixture
def gpu():
    """device_target="GPU" for the test (restored to CPU after), with a fresh transfer count."""
    ms.set_context(device_target="GPU")
    device.reset_transfer_count()
    yield
    ms.set_context(device_target="CPU")


def on(dev, fn):
    """Run ``fn()`` with device_target ``dev``."""
    old = context.get_context("device_target")
    ms.set_context(device_target=dev)
    try:
        return fn()
    finally:
        ms.set_context(device_target=old)


def host(x):
    if isinstance(x, (tuple, list)):
        return [host(v) for v in x]
    return x.asnumpy() if hasattr(x, "asnumpy") else np.asarray(x)
