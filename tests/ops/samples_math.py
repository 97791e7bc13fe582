import numpy as np

from mindlab import dtype as mdt

from .samples import Case, rand, positive


def _away(a, low=0.1):
    """``a`` with every value pushed at least ``low`` away from 0 (for ops with a kink at 0)."""
    return np.where(a >= 0, a + low, a - low)


def _bools(*shape, seed=0):
    return rand(*shape, seed=seed) > 0


SAMPLES = {
    "add": [Case((rand(3, 4), rand(3, 4))), Case((rand(2, 3, 4), rand(4))), Case((rand(3, 1), rand(1, 4)))],
    "sub": [Case((rand(3, 4), rand(3, 4))), Case((rand(3, 1), rand(2, 1, 4)))],
    "mul": [Case((rand(3, 4), rand(3, 4))), Case((rand(2, 3, 4), rand(3, 1)))],
    "div": [Case((rand(3, 4), rand(3, 4, low=0.5, high=2.0))), Case((rand(3, 4), rand(4, low=0.5, high=2.0)))],
    "neg": [Case((rand(3, 4),))],
    "exp": [Case((rand(3, 4),))],
    # ---- arithmetic
    "pow": [Case((positive(3, 4), rand(3, 4, seed=1))),                  # base > 0: both gradients exist
            Case((positive(2, 3, 4), rand(4, seed=1))),                  # broadcast exponent
            Case((positive(3, 1), rand(1, 4, low=-2.0, high=2.0))),      # broadcast both
            Case((rand(3, 4), np.array(3.0)), wrt=(0,)),                 # negative bases, integral exponent
            Case((rand(3, 4), np.array(2, dtype=np.int64)))],            # integer exponent: no gradient for it
    "floor_div": [Case((rand(3, 4, low=-5, high=5), positive(3, 4, seed=1))),
                  Case((rand(2, 3, 4, low=-5, high=5), positive(4, seed=1)))],
    # x / y stays away from integers (the jumps of floor): checked in test_math_ops.py
    "floor_mod": [Case((rand(3, 4, low=-5, high=5), positive(3, 4, seed=1))),
                  Case((rand(2, 3, 4, low=-5, high=5), positive(4, seed=1)))],
    "square": [Case((rand(3, 4),))],
    "maximum": [Case((rand(3, 4), rand(3, 4, seed=1))), Case((rand(2, 3, 4), rand(3, 1, seed=1)))],
    "minimum": [Case((rand(3, 4), rand(3, 4, seed=1))), Case((rand(2, 3, 4), rand(4, seed=1)))],
    # ---- unary math
    "log": [Case((positive(3, 4),))],
    "sqrt": [Case((positive(3, 4),))],
    "rsqrt": [Case((positive(3, 4),)), Case((positive(),))],   # 0-d: numpy gives a scalar, not an array
    "reciprocal": [Case((positive(3, 4),)), Case((-positive(2, 5),))],
    "abs": [Case((_away(rand(3, 4)),)), Case((np.array([-1.0, 0.0, 2.0]),), grad=False)],
    "sign": [Case((np.array([[-1.5, 0.0, 2.0], [0.25, -0.0, -3.0]]),)), Case((rand(3, 4),))],
    "floor": [Case((rand(3, 4, low=-3, high=3),))],
    # ---- activations
    "tanh": [Case((rand(3, 4, low=-2, high=2),))],
    "sigmoid": [Case((rand(3, 4, low=-3, high=3),)), Case((np.array([-800.0, 0.0, 800.0]),), grad=False)],
    "relu": [Case((_away(rand(3, 4)),)), Case((np.array([-1.0, 0.0, 2.0]),), grad=False)],
    "gelu": [Case((rand(3, 4, low=-3, high=3),), attrs={"approximate": "none"}),
             Case((rand(3, 4, low=-3, high=3),), attrs={"approximate": "tanh"})],
    "gelu_grad": [Case((rand(3, 4, seed=1), rand(3, 4, low=-3, high=3)), attrs={"approximate": "none"}),
                  Case((rand(3, 4, seed=1), rand(3, 4, low=-3, high=3)), attrs={"approximate": "tanh"})],
    "softplus": [Case((rand(3, 4, low=-3, high=3),), attrs={"beta": 1.0, "threshold": 20.0}),
                 Case((rand(3, 4, low=-3, high=3),), attrs={"beta": 2.0, "threshold": 1.0}),   # both regimes
                 Case((np.array([-100.0, 0.0, 100.0]),), attrs={"beta": 1.0, "threshold": 20.0}, grad=False)],
    # ---- comparisons
    "equal": [Case((np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0]))), Case((rand(2, 3), rand(3)))],
    "not_equal": [Case((np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0]))), Case((rand(2, 3), rand(3)))],
    "less": [Case((rand(3, 4), rand(3, 4, seed=1))), Case((rand(2, 3, 4), rand(3, 1, seed=1)))],
    "less_equal": [Case((rand(3, 4), rand(3, 4, seed=1))), Case((rand(2, 3), rand(3)))],
    "greater": [Case((rand(3, 4), rand(3, 4, seed=1))), Case((rand(2, 3, 4), rand(4, seed=1)))],
    "greater_equal": [Case((rand(3, 4), rand(3, 4, seed=1))), Case((rand(2, 3), rand(3)))],
    # ---- logic
    "logical_and": [Case((_bools(3, 4), _bools(3, 4, seed=1))), Case((_bools(2, 3), _bools(3, seed=1)))],
    "logical_or": [Case((_bools(3, 4), _bools(3, 4, seed=1))), Case((_bools(3, 1), _bools(1, 4, seed=1)))],
    "logical_not": [Case((_bools(3, 4),))],
    # ---- select / cast
    "select": [Case((_bools(3, 4), rand(3, 4), rand(3, 4, seed=1))),
               Case((_bools(3, 1), rand(1, 4), rand(3, 4, seed=1))),
               Case((_bools(2, 3, 4), rand(4), np.array(0.5)))],
    "cast": [Case((rand(3, 4),), attrs={"dtype": mdt.float64}),
             Case((rand(3, 4),), attrs={"dtype": mdt.float32}, grad=False),
             Case((rand(3, 4, low=-5, high=5),), attrs={"dtype": mdt.int32}, grad=False),
             Case((_bools(3, 4),), attrs={"dtype": mdt.float32}, grad=False)],
}
