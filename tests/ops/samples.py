"""Sample inputs for every primitive, used by the generic registry tests (infer/impl agreement, gradient checks).

Each family file (samples_<family>.py) defines ``SAMPLES``: primitive name -> list of ``Case``. A differentiable
primitive needs at least one case, and at least one with broadcasting where the op broadcasts.
"""
from dataclasses import dataclass, field
import importlib

import numpy as np


@dataclass
class Case:
    inputs: tuple                 # numpy arrays (float64 arrays are the ones gradients are checked for)
    attrs: dict = field(default_factory=dict)
    grad: bool = True             # gradient-check this case (False for points where the op is not smooth)
    wrt: tuple = None             # input indices to check (default: every floating input)
    rtol: float = 1e-4


def rand(*shape, low=-1.0, high=1.0, seed=0):
    return np.random.default_rng(seed + sum(shape) * 7 + len(shape)).uniform(low, high, size=shape)


def positive(*shape, seed=0):
    return rand(*shape, low=0.5, high=2.0, seed=seed)


FAMILIES = ("math", "reduce", "array", "linalg", "nn", "optim", "transcendental")


def all_samples():
    samples = {}
    for fam in FAMILIES:
        try:
            mod = importlib.import_module(f"tests.ops.samples_{fam}")
        except ModuleNotFoundError:
            continue
        for k, v in mod.SAMPLES.items():
            samples.setdefault(k, []).extend(v)
    return samples
