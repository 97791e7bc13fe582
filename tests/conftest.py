import numpy as np
import pytest

import mindlab as ms


import os

_DEFAULT_MODE = ms.GRAPH_MODE if os.environ.get("MINDLAB_TEST_MODE") == "graph" else ms.PYNATIVE_MODE
# MINDLAB_TEST_DEVICE=GPU re-runs the suites with device_target="GPU" (a CUDA GPU, or numba's CUDA simulator with
# NUMBA_ENABLE_CUDASIM=1)
_DEFAULT_DEVICE = "GPU" if os.environ.get("MINDLAB_TEST_DEVICE", "CPU").upper() == "GPU" else "CPU"


@pytest.fixture(autouse=True)
def _reset_context():
    """Every test starts on CPU (GPU with MINDLAB_TEST_DEVICE=GPU) with a fixed seed, in PyNative (or GRAPH_MODE
    with MINDLAB_TEST_MODE=graph)."""
    ms.set_context(mode=_DEFAULT_MODE, device_target=_DEFAULT_DEVICE)
    ms.set_seed(0)
    np.random.seed(0)
    yield
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
