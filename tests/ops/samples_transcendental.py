"""Sample cases of the transcendental and rounding primitives (mindlab/ops/prims/transcendental_ops.py)."""
import numpy as np

from .samples import Case, rand, positive

SAMPLES = {
    "sin": [Case((rand(3, 4, low=-4, high=4),))],
    "cos": [Case((rand(3, 4, low=-4, high=4),))],
    "tan": [Case((rand(3, 4, low=-1.2, high=1.2),))],
    "atan": [Case((rand(3, 4, low=-3, high=3),))],
    "sinh": [Case((rand(3, 4, low=-2, high=2),))],
    "cosh": [Case((rand(3, 4, low=-2, high=2),))],
    "erf": [Case((rand(3, 4, low=-2, high=2),)), Case((np.arange(6, dtype=np.int32).reshape(2, 3),), grad=False)],
    "log1p": [Case((rand(3, 4, low=-0.5, high=2),)), Case((np.array([1e-12, -1e-12, 0.0]),))],
    "expm1": [Case((rand(3, 4, low=-2, high=2),)), Case((np.array([1e-12, -1e-12, 0.0]),))],
    "atan2": [Case((rand(3, 4), positive(3, 4, seed=1))), Case((rand(2, 3, 4), rand(4, seed=2) + 2.0)),
              Case((rand(3, 1, seed=3), -positive(1, 4, seed=4)))],
    "ceil": [Case((rand(3, 4, low=-3, high=3),)), Case((np.array([1, -2, 3], np.int64),))],
    "round": [Case((np.array([0.5, 1.5, 2.5, -0.5, -1.7, 2.2]),)), Case((np.array([3, -4], np.int32),))],
}
