"""Generated programs (tests/fuzz/generator.py) on the GPU code paths: PyNative and GRAPH_MODE agree on the GPU, and
the GPU agrees with the CPU (values and gradients to 1e-5). Under the simulator in CI, on the GPU on a CUDA machine;
``benchmarks/fuzz_programs.py --device GPU`` runs 1,000."""
import random
import warnings

import pytest

from tests.fuzz.generator import generate
from tests.fuzz.runner import check

SEEDS = range(48)


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fuzzgpu"))


def test_generated_programs_agree_with_the_cpu(gpu, progdir):
    features = set()
    for seed in SEEDS:
        program = generate(random.Random(seed))
        features.update(program.features)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            problem = check(program, progdir, reference_device="CPU")
        assert problem is None, f"seed {seed}:\n{program.source}\n{problem}"
    assert {"elementwise", "matmul", "reduction", "while", "parameter", "softmax", "big", "conv", "pool", "gather",
            "scatter", "setitem", "layernorm", "dense", "loss", "python"} <= features, features


def test_harness_reports_a_gpu_kernel_that_differs_from_the_cpu(gpu, progdir, monkeypatch):
    from mindlab.ops.registry import REGISTRY
    tanh_p = REGISTRY["tanh"]
    from tests.fuzz.generator import GenProgram
    program = GenProgram(source="from mindlab import ops\n\ndef f(x0):\n    return ops.tanh(x0) * 2.0\n",
                         kind="function", inputs=[(3, 4)], seed=0)
    assert check(program, progdir, reference_device="CPU") is None
    real = tanh_p.impl["GPU"]
    monkeypatch.setitem(tanh_p.impl, "GPU", lambda x: real(x) * 1.001)
    problem = check(program, progdir, reference_device="CPU")
    assert problem is not None and "GPU vs CPU (PyNative)" in problem, problem
