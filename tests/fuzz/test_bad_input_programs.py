"""Generated programs with one mistake (tests/fuzz/bad_input.py): in PyNative, GRAPH_MODE and GRAPH_MODE
``value_and_grad``, the error is a ValueError / TypeError / IndexError / MindlabError that names the op, the
offending shape and the mistaken line — wherever the line is (in an ``if`` or ``while`` on a tensor, a static loop,
a helper function, a nested Cell's program) and whichever pass moved the failing node. ``benchmarks/fuzz_programs.py
--bad-input`` runs more."""
import collections
import random
import warnings

import pytest

from .bad_input import BadProgram, check_error, generate_bad
from .generator import GenProgram

N_PROGRAMS = 300


@pytest.fixture(scope="module")
def progdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fuzzbad"))


def test_mistakes_get_clear_errors_in_every_mode(progdir):
    kinds = collections.Counter()
    for seed in range(N_PROGRAMS):
        bad = generate_bad(random.Random(seed))
        kinds[bad.kind] += 1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            problem = check_error(bad, progdir)
        assert problem is None, f"seed {seed}:\n{bad.program.source}\n{problem}"
    assert {"broadcast", "matmul", "concat", "reshape", "axis", "softmax_axis", "index", "gather", "label",
            "float_index", "perm", "layer_norm", "squeeze", "select"} <= set(kinds), kinds


_FINE = """import mindlab as ms
from mindlab import ops

def f(x0):
    y = ops.tanh(x0)  # <- the mistake
    return ops.sum(y)
"""

_VAGUE = """import mindlab as ms
from mindlab import ops

def f(x0):
    y = ops.reshape(x0, (7,))  # <- the mistake
    return ops.sum(y)
"""


def test_the_harness_reports_no_error_and_vague_errors(progdir):
    fine = BadProgram(GenProgram(_FINE, "function", [(3,)], 0), "reshape", ("tanh",), "", 5)
    assert "no error was raised" in check_error(fine, progdir)
    vague = BadProgram(GenProgram(_VAGUE, "function", [(3,)], 0), "reshape", ("reshape",), "[9, 9]", 5)
    assert "does not mention the shape [9, 9]" in check_error(vague, progdir)
    elsewhere = BadProgram(GenProgram(_VAGUE, "function", [(3,)], 0), "reshape", ("reshape",), "[3]", 4)
    assert "does not point at" in check_error(elsewhere, progdir)
