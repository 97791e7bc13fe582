import numpy as np

from mindlab import dtype as mdt
from .samples import Case, rand, positive

# reductions: all axes, an int, a negative axis, tuples, keep_dims both ways
_AXES = [dict(axis=None, keep_dims=False), dict(axis=1, keep_dims=True), dict(axis=(0, 2), keep_dims=False),
         dict(axis=-1, keep_dims=False), dict(axis=(-1, 0), keep_dims=True)]


def _reduce_cases(make):
    return [Case((make(2, 3, 4) if a["axis"] is not None else make(3, 4),), a) for a in _AXES]


_with_zero = rand(3, 4, seed=5)
_with_zero[1, 2] = 0.0          # prod's gradient at a zero: the product of the others, no division
_x = rand(2, 3, 4, seed=3)

SAMPLES = {
    "sum": [Case((rand(3, 4),), dict(axis=None, keep_dims=False)), Case((rand(2, 3, 4),), dict(axis=1, keep_dims=True)),
            Case((rand(2, 3, 4),), dict(axis=(0, 2), keep_dims=False)),
            Case((rand(2, 3, 4),), dict(axis=(-1,), keep_dims=True))],
    "mean": _reduce_cases(rand) + [Case((rand(5),), dict(axis=(), keep_dims=True))],
    "max": _reduce_cases(rand),
    "min": _reduce_cases(rand),
    "prod": _reduce_cases(positive) + [Case((rand(2, 3, 4),), dict(axis=-2, keep_dims=False)),
                                       Case((_with_zero,), dict(axis=1, keep_dims=False), grad=False)],
    "prod_except_self": [Case((positive(2, 3, 4),), dict(axis=(0, 2))), Case((rand(3, 4),), dict(axis=None)),
                         Case((_with_zero,), dict(axis=-1), grad=False)],
    "extremum_mask": [Case((_x, _x.max(axis=(0, 2))), dict(axis=(0, 2), keep_dims=False)),
                      Case((_x, _x.min(axis=-1, keepdims=True)), dict(axis=-1, keep_dims=True))],
    "argmax": [Case((rand(3, 4),), dict(axis=None, keep_dims=False, output_type=mdt.int64)),
               Case((rand(2, 3, 4),), dict(axis=-1, keep_dims=True, output_type=mdt.int32)),
               Case((rand(2, 3, 4),), dict(axis=1, keep_dims=False, output_type=mdt.int64))],
    "argmin": [Case((rand(3, 4),), dict(axis=None, keep_dims=False, output_type=mdt.int32)),
               Case((rand(2, 3, 4),), dict(axis=0, keep_dims=True, output_type=mdt.int64))],
    "all": [Case((np.array([[1.0, 0.0], [2.0, 3.0]]),), dict(axis=None, keep_dims=False)),
            Case((rand(2, 3, 4) > 0,), dict(axis=(0, -1), keep_dims=True))],
    "any": [Case((np.array([[1.0, 0.0], [0.0, 0.0]]),), dict(axis=1, keep_dims=False)),
            Case((rand(2, 3, 4) > 0,), dict(axis=None, keep_dims=True))],
}
