import numpy as np
import pytest

import mindlab as ms


@pytest.fixture(autouse=True)
def _reset_context():
    """Every test starts in PyNative on CPU with a fixed seed."""
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    ms.set_seed(0)
    np.random.seed(0)
    yield
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
