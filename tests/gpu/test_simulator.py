"""In a CPU-only run: the GPU backend's tests under numba's CUDA simulator (a subprocess: the simulator must be
chosen before numba.cuda is first imported), and the clear error of device_target="GPU" without CUDA."""
import os
import subprocess
import sys

import pytest

import mindlab as ms
from .conftest import backend_active

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


@pytest.mark.skipif(backend_active(), reason="the GPU backend is active in this process: the tests ran directly")
def test_gpu_backend_under_cuda_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", MINDLAB_TEST_DEVICE="CPU")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", HERE],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"GPU tests under the CUDA simulator failed:\n{r.stdout[-6000:]}\n{r.stderr[-3000:]}"
    assert " passed" in r.stdout, r.stdout[-2000:]


@pytest.mark.skipif(backend_active(), reason="a GPU backend is available here")
def test_gpu_without_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError) as e:
        ms.set_context(device_target="GPU")
    msg = str(e.value)
    assert "device_target='GPU'" in msg and "CUDA" in msg and "CPU" in msg
    assert ms.get_context("device_target") == "CPU"
