"""Sample inputs for the optimizer primitives. They update their inputs in place and are not differentiable, so the
cases only feed the infer/kernel/cost checks (grad=False); the registry test builds fresh Tensors from these arrays
for every run, so a run never changes the arrays shared with other cases."""
import numpy as np

from .samples import Case, rand, positive


def _s(x):
    return np.array(x, dtype=np.float64)


SAMPLES = {
    "assign": [Case((rand(3, 4), rand(3, 4, seed=1)), grad=False),
               Case((rand(2, 3, 4), rand(4, seed=2)), grad=False)],
    "apply_momentum": [
        Case((rand(3, 4), rand(3, 4, seed=1), _s(0.1), rand(3, 4, seed=2), _s(0.9)), {"use_nesterov": False},
             grad=False),
        Case((rand(2, 3, 2), rand(2, 3, 2, seed=1), _s(0.01), rand(2, 3, 2, seed=2), _s(0.5)),
             {"use_nesterov": True}, grad=False)],
    "sgd": [
        Case((rand(3, 4), rand(3, 4, seed=1), _s(0.1), rand(3, 4, seed=2), _s(0.9), np.ones((3, 4))),
             {"dampening": 0.0, "weight_decay": 0.0, "nesterov": False}, grad=False),
        Case((rand(5,), rand(5, seed=1), _s(0.1), rand(5, seed=2), _s(0.9), np.zeros(5)),
             {"dampening": 0.1, "weight_decay": 0.01, "nesterov": False}, grad=False),
        Case((rand(2, 3), rand(2, 3, seed=1), _s(0.1), rand(2, 3, seed=2), _s(0.9), np.zeros((2, 3))),
             {"dampening": 0.0, "weight_decay": 0.0, "nesterov": True}, grad=False)],
    "adam": [
        Case((rand(3, 4), rand(3, 4, seed=1), positive(3, 4, seed=2), _s(0.9), _s(0.999), _s(1e-3), _s(0.9),
              _s(0.999), _s(1e-8), rand(3, 4, seed=3)),
             {"use_locking": False, "use_nesterov": False}, grad=False),
        Case((rand(6,), rand(6, seed=1), positive(6, seed=2), _s(0.81), _s(0.998), _s(1e-2), _s(0.9),
              _s(0.999), _s(1e-8), rand(6, seed=3)),
             {"use_locking": False, "use_nesterov": True}, grad=False)],
    "adam_weight_decay": [
        Case((rand(3, 4), rand(3, 4, seed=1), positive(3, 4, seed=2), _s(1e-3), _s(0.9), _s(0.999), _s(1e-6),
              _s(0.01), rand(3, 4, seed=3)), {"use_locking": False}, grad=False)],
}
