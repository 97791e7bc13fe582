"""Generated programs (tests/fuzz/generator.py) on the GPU code paths: PyNative and GRAPH_MODE agree on the GPU, and
the GPU agrees with the CPU (values and gradients to 1e-5). Under the simulator in CI, on the GPU on a CUDA machine;
``benchmarks/fuzz_programs.py --device GPU`` runs 1,000."""
import random
import warnings

import pytest

from tests.fuzz.generator import generate
from tests.fuzz.runner import check

MIN_PROGRAMS, MAX_PROGRAMS = 48, 160
WANTED = {"elementwise", "matmul", "reduction", "while", "parameter", "softmax", "big", "conv", "pool", "gather",
          "scatter", "setitem", "layernorm", "batchnorm", "dense", "loss", "python"}


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fuzzgpu"))


def test_generated_programs_agree_with_the_cpu(gpu, progdir):
    """Seeds 0, 1, ... until at least MIN_PROGRAMS ran and every construct in WANTED was among them."""
    features, seed = set(), 0
    while seed < MIN_PROGRAMS or not WANTED <= features:
        assert seed < MAX_PROGRAMS, f"seeds 0..{seed - 1} never used {WANTED - features}"
        program = generate(random.Random(seed))
        features.update(program.features)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            problem = check(program, progdir, reference_device="CPU")
        assert problem is None, f"seed {seed}:\n{program.source}\n{problem}"
        seed += 1
