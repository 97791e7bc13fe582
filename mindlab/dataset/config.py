"""Pipeline-wide settings (MindSpore's ``mindspore.dataset.config``): the shuffle seed and the worker count.

The seed that shuffling uses is whichever was set last: ``dataset.config.set_seed(n)`` or ``mindlab.set_seed(n)``
(the global seed). With neither, every pipeline draws a fresh seed from the OS, so runs differ.
"""
from ..common import seed as _global_seed

__all__ = ["set_seed", "get_seed", "set_num_parallel_workers", "get_num_parallel_workers"]

# the dataset seed, and the global Generator that was current when it was set (mindlab.set_seed replaces that
# Generator, so a later global seed is detected and wins)
_state = {"seed": None, "global_rng": None, "num_parallel_workers": 1}


def set_seed(seed):
    """Seed the shuffling of pipelines built from now on (a non-negative int)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 64:
        raise ValueError(f"dataset.config.set_seed: seed must be an int in [0, 2**64), got {seed!r}")
    _state["seed"] = seed
    _state["global_rng"] = _global_seed.rng()


def get_seed():
    """The seed new shuffles use: the last one set by ``dataset.config.set_seed`` or ``mindlab.set_seed``, or
    None when neither was called (shuffles are then seeded from the OS)."""
    if _state["seed"] is not None and _global_seed.rng() is _state["global_rng"]:
        return _state["seed"]
    return _global_seed.get_seed()


def set_num_parallel_workers(num):
    """Default worker count of map/batch. Pipelines here run in the calling thread, so this only records the
    value (results are the same for any count)."""
    if isinstance(num, bool) or not isinstance(num, int) or num < 1:
        raise ValueError(f"dataset.config.set_num_parallel_workers: num must be a positive int, got {num!r}")
    _state["num_parallel_workers"] = num


def get_num_parallel_workers():
    return _state["num_parallel_workers"]
