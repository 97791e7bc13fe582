"""Generated programs (tests/fuzz/generator.py) agree between PyNative and GRAPH_MODE — values and gradients to
1e-5 — and, for parallel-shaped Cells, between one device and an auto-parallel plan on the sim mesh.

CI runs a seeded slice (hypothesis, derandomized: the same 200 programs every run; a failure is shrunk to a small
program and printed with its source). ``benchmarks/fuzz_programs.py`` runs 1,000. Every bug these found is kept as
a regression test in tests/fuzz/test_regressions.py.
"""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import mindlab as ms

from .generator import GenProgram, programs
from .runner import check, _compare

N_PROGRAMS = 200          # distinct programs checked (hypothesis repeats some draws: it is asked for more)
N_DRAWS = 280
N_PARALLEL = 12
N_SECOND_ORDER = 40
_SETTINGS = dict(derandomize=True, deadline=None, database=None, print_blob=False,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fuzzprogs"))


def _explain(program, problem):
    return f"modes disagree on this generated program:\n{program.source}\n{problem}"


def test_generated_programs_agree_across_modes(progdir):
    seen, sources = set(), set()

    @settings(max_examples=N_DRAWS, **_SETTINGS)
    @given(programs())
    def one(program):
        if program.source in sources:
            return
        seen.update(program.features)
        sources.add(program.source)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            problem = check(program, progdir)
        assert problem is None, _explain(program, problem)

    one()
    assert len(sources) >= N_PROGRAMS, len(sources)
    # the slice exercises every construct the generator knows
    assert {"elementwise", "broadcast", "matmul", "reduction", "reshape", "if", "while", "nested_cell", "parameter",
            "slice", "concat", "softmax", "select", "for", "early_return", "big", "gather", "scatter", "setitem",
            "math", "conv", "pool", "layernorm", "batchnorm", "dense", "loss", "python"} <= seen, seen


def test_generated_second_derivatives_agree_across_modes(progdir):
    """Hessian-vector products of function programs (grad of grad: GRAPH_MODE differentiates its gradient graph)."""
    seen = set()

    @settings(max_examples=N_SECOND_ORDER, **_SETTINGS)
    @given(programs(second_order=True))
    def one(program):
        assert program.kind == "function"
        seen.update(program.features)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            problem = check(program, progdir, second_order=True)
        assert problem is None, _explain(program, problem)

    one()
    assert {"if", "matmul", "reduction", "reshape", "broadcast"} <= seen, seen


def test_generated_parallel_programs_agree_with_one_device(progdir):
    @settings(max_examples=N_PARALLEL, **_SETTINGS)
    @given(programs(parallel=True))
    def one(program):
        k = len(program.source)
        par = ((2, 4)[k % 2], ("sharding_propagation", "dynamic_programming", "ilp")[k % 3])
        problem = check(program, progdir, parallel=par)
        assert problem is None, _explain(program, problem)

    one()


N_TRAIN = 40


def test_generated_cells_train_alike_in_both_modes(progdir):
    """Three TrainOneStepCell steps of generated Cells with Parameters (Momentum, SGD, Adam, AdamWeightDecay in
    turn): the losses and final weights agree between PyNative and GRAPH_MODE."""
    import random
    from .generator import generate
    from .runner import OPTIMIZERS
    trained, seed = 0, 0
    while trained < N_TRAIN:
        program = generate(random.Random(seed))
        seed += 1
        if program.kind != "cell" or "parameter" not in program.features:
            continue
        opt = OPTIMIZERS[trained % len(OPTIMIZERS)]
        trained += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            problem = check(program, progdir, train=opt)
        assert problem is None, f"seed {seed - 1} ({opt}): " + _explain(program, problem)


N_NATIVE = 160


def test_generated_programs_run_natively_from_the_first_call(progdir, monkeypatch):
    """With ``MINDLAB_NATIVE_AFTER=0`` every graph that can be a native program compiles as one at its first call
    (elsewhere the executor serves a graph's first 100 calls, so the slices above never reach native code): seeds
    0..N_NATIVE-1 agree between the modes and none of their native programs fails to compile
    (``fuzz_programs.py --native`` runs 1,000)."""
    import random
    from mindlab.runtime import native
    from .generator import generate
    monkeypatch.setenv("MINDLAB_NATIVE_AFTER", "0")
    ran = []
    real = native.NativeProgram._compile

    def counted(self, sig):
        real(self, sig)
        ran.append(self.state)
    monkeypatch.setattr(native.NativeProgram, "_compile", counted)
    for seed in range(N_NATIVE):
        program = generate(random.Random(seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("error", native.NativeProgramWarning)
            problem = check(program, progdir)
        assert problem is None, f"seed {seed}: " + _explain(program, problem)
    if ms.get_context("device_target") == "CPU" and native.enabled() and native._mkl.jit_callers() is not None:
        assert len(ran) >= 4 and set(ran) == {"ready"}, ran


# ---------------------------------------------------------------- the harness itself can fail
_BAD_GRAPH = GenProgram(source="""import mindlab as ms
from mindlab import ops

def f(x0):
    try:
        y = ops.tanh(x0)
    except ValueError:
        y = x0
    return ops.sum(y)
""", kind="function", inputs=[(3,)], seed=0)


def test_harness_reports_a_mode_that_crashes(progdir):
    problem = check(_BAD_GRAPH, progdir)
    assert problem is not None and problem.startswith("GRAPH_MODE raised") and "try" in problem


def test_harness_reports_differing_values():
    ref = [np.array([1.0, 2.0], np.float32)]
    assert _compare(ref, [np.array([1.0, 2.0 + 3e-5], np.float32)], "x") is not None
    assert _compare(ref, [np.array([1.0, 2.0 + 1e-5], np.float32)], "x") is None
    assert "shape" in _compare(ref, [np.array([1.0], np.float32)], "x")
    assert _compare(ref, [], "x") is not None
