"""The two seed examples from MindSpore's README, with ``mindlab`` in place of ``mindspore``, run as fresh Python
processes and their stdout compared exactly (README.md shows the same code under "MindSpore's examples")."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mindlab as ms

MUL_EXAMPLE = """\
import numpy as np
import mindlab.context as context
import mindlab.nn as nn
from mindlab import Tensor
from mindlab.ops import operations as P

context.set_context(mode=context.GRAPH_MODE, device_target="CPU")

class Mul(nn.Cell):
    def __init__(self):
        super(Mul, self).__init__()
        self.mul = P.Mul()

    def construct(self, x, y):
        return self.mul(x, y)

x = Tensor(np.array([1.0, 2.0, 3.0]).astype(np.float32))
y = Tensor(np.array([4.0, 5.0, 6.0]).astype(np.float32))

mul = Mul()
print(mul(x, y))
"""

TENSOR_ADD_EXAMPLE = """\
import numpy as np
from mindlab import Tensor
from mindlab.ops import functional as F
import mindlab.context as context

context.set_context(device_target="CPU")
x = Tensor(np.ones([1,3,3,4]).astype(np.float32))
y = Tensor(np.ones([1,3,3,4]).astype(np.float32))
print(F.tensor_add(x, y))
"""

# What numpy prints for a (1, 3, 3, 4) float32 array of 2s, exactly as MindSpore's Tensor prints it.
TENSOR_ADD_OUTPUT = textwrap.dedent("""\
    [[[[2. 2. 2. 2.]
       [2. 2. 2. 2.]
       [2. 2. 2. 2.]]

      [[2. 2. 2. 2.]
       [2. 2. 2. 2.]
       [2. 2. 2. 2.]]

      [[2. 2. 2. 2.]
       [2. 2. 2. 2.]
       [2. 2. 2. 2.]]]]
    """)


def _run(source, tmp_path):
    """Run ``source`` as a script file (GRAPH_MODE compiles ``construct`` from its source, so, as with MindSpore,
    the code has to live in a file rather than ``python -c``) and return its stdout."""
    script = tmp_path / "example.py"
    script.write_text(source, encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, f"example failed (exit {proc.returncode}):\n{proc.stderr}"
    return proc.stdout


def test_mul_cell_in_graph_mode(tmp_path):
    assert _run(MUL_EXAMPLE, tmp_path) == "[ 4. 10. 18.]\n"


def test_functional_tensor_add(tmp_path):
    assert _run(TENSOR_ADD_EXAMPLE, tmp_path) == TENSOR_ADD_OUTPUT


def test_readme_shows_the_examples():
    """README.md carries both examples verbatim, so what users copy is what runs here."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert MUL_EXAMPLE in readme
    assert TENSOR_ADD_EXAMPLE in readme


@pytest.mark.skipif(ms.context.device_available("GPU"), reason="a CUDA device is present")
def test_gpu_target_without_cuda_is_a_clear_error():
    with pytest.raises(RuntimeError) as err:
        ms.set_context(device_target="GPU")
    msg = str(err.value)
    assert "GPU" in msg and "CUDA" in msg and "CPU" in msg, msg
    assert ms.get_context("device_target") == "CPU"   # the failed call changed nothing
