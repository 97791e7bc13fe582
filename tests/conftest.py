import numpy as np
import pytest

import mindlab as ms


import os

_DEFAULT_MODE = ms.GRAPH_MODE if os.environ.get("MINDLAB_TEST_MODE") == "graph" else ms.PYNATIVE_MODE


@pytest.fixture(autouse=True)
def _reset_context():
    """Every test starts on CPU with a fixed seed, in PyNative (or GRAPH_MODE with MINDLAB_TEST_MODE=graph)."""
    ms.set_context(mode=_DEFAULT_MODE, device_target="CPU")
    ms.set_seed(0)
    np.random.seed(0)
    yield
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
