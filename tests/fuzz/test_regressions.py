"""Bugs found by the generated-program fuzzer (tests/fuzz), each kept as the smallest program that showed it."""
import warnings

import numpy as np
import pytest

import mindlab as ms
from mindlab import Tensor, ops

from .generator import GenProgram
from .runner import check


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fuzzregress"))


def _run(src, inputs, progdir, kind="function"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return check(GenProgram(source=src, kind=kind, inputs=inputs, seed=0), progdir)


# gelu / gelu_grad on a 0-d tensor crashed in the kernel ("return arrays must be of ArrayType": 0-d arithmetic gives a
# numpy scalar, which np.erf/np.tanh(out=...) cannot write into). Fixed in mindlab/ops/prims/math_ops.py.
GELU_SCALAR = """from mindlab import ops

def f(x0):
    return ops.gelu(x0) + ops.gelu(x0 * 2.0, approximate="tanh")
"""


def test_gelu_on_0d_tensor(progdir):
    assert _run(GELU_SCALAR, [()], progdir) is None
    x = Tensor(np.float32(0.3))
    from scipy.special import erf
    np.testing.assert_allclose(ops.gelu(x).asnumpy(), 0.5 * 0.3 * (1 + erf(0.3 / np.sqrt(2))), rtol=1e-6)
    g = ms.grad(lambda t: ops.gelu(t, approximate="tanh"))(x)
    assert g.shape == () and abs(float(g.asnumpy()) - 0.7322955) < 1e-5
