"""``mindlab.set_seed``: one global seed for initializers, dropout and dataset shuffling."""
import numpy as np

_state = {"seed": None, "rng": np.random.default_rng()}


def set_seed(seed):
    """Seed every random draw mindlab makes (weight init, dropout, shuffling)."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"set_seed: seed must be a non-negative int, got {seed!r}")
    _state["seed"] = seed
    _state["rng"] = np.random.default_rng(seed)


def get_seed():
    return _state["seed"]


def rng():
    """The global numpy Generator (reseeded by ``set_seed``)."""
    return _state["rng"]
