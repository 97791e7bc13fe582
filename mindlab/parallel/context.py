"""The auto-parallel context (MindSpore's ``set_auto_parallel_context``): how the next compiled network is split.

>>> import mindlab as ms
>>> ms.set_auto_parallel_context(parallel_mode="auto_parallel", device_num=8, search_mode="dynamic_programming")
>>> ms.get_auto_parallel_context("device_num")
8

Options:

- ``parallel_mode``: ``"stand_alone"`` (one device), ``"data_parallel"`` (batch split, gradients all-reduced),
  ``"semi_auto_parallel"`` (user strategies on primitives, the rest propagated), ``"auto_parallel"`` (searched).
- ``device_num``: devices in the mesh (1..4096). Unset, it is the communication group size once
  ``mindlab.communication.init()`` ran, else 1.
- ``global_rank``: this process's rank (0 .. device_num-1). Unset, it is ``get_rank()`` after ``init()``, else 0.
- ``search_mode``: ``"sharding_propagation"``, ``"dynamic_programming"`` or ``"ilp"`` (optimal, scipy's MILP).
- ``gradients_mean``: divide all-reduced gradients by the device count.
- ``memory_limit``: bytes per device the plan must fit in (an int, or a string such as ``"16GB"``/``"512MiB"``),
  or None for no limit.
- ``mesh_shape``: the device mesh shape (a tuple whose product is ``device_num``), or None to let the planner
  choose; ``mesh_axis_names``: names for its axes (default ``"x0", "x1", ...``).
- ``device_target_profile``: the cost model's device profile: a name from
  ``mindlab.parallel.collectives.PROFILES`` (``"cpu"``, ``"gpu-nvlink"``, ...), a ``DeviceProfile``, or None for
  the profile of the current device target.

Bad values raise ValueError naming the option and the accepted values.
"""
import re

__all__ = ["ParallelMode", "set_auto_parallel_context", "get_auto_parallel_context", "reset_auto_parallel_context",
           "SEARCH_MODES", "MAX_DEVICES", "add_listener"]

MAX_DEVICES = 4096


class ParallelMode:
    """Names of the parallel modes (MindSpore's ``mindspore.ParallelMode``)."""
    STAND_ALONE = "stand_alone"
    DATA_PARALLEL = "data_parallel"
    SEMI_AUTO_PARALLEL = "semi_auto_parallel"
    AUTO_PARALLEL = "auto_parallel"
    MODE_LIST = [STAND_ALONE, DATA_PARALLEL, SEMI_AUTO_PARALLEL, AUTO_PARALLEL]


SEARCH_MODES = ("sharding_propagation", "dynamic_programming", "ilp")

_DEFAULTS = {
    "parallel_mode": ParallelMode.STAND_ALONE,
    "device_num": None,
    "global_rank": None,
    "search_mode": "sharding_propagation",
    "gradients_mean": False,
    "memory_limit": None,
    "mesh_shape": None,
    "mesh_axis_names": None,
    "device_target_profile": None,
}
_state = dict(_DEFAULTS)
_listeners = []

_UNITS = {"": 1, "b": 1, "kb": 10 ** 3, "mb": 10 ** 6, "gb": 10 ** 9, "tb": 10 ** 12,
          "kib": 2 ** 10, "mib": 2 ** 20, "gib": 2 ** 30, "tib": 2 ** 40}


def add_listener(fn):
    """Call ``fn(dict_of_options)`` after every change (the notebook inspector uses it)."""
    _listeners.append(fn)


def _bad(key, value, accepted):
    return ValueError(f"set_auto_parallel_context: {key} must be {accepted}, got {value!r}")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def parse_bytes(value, key="memory_limit"):
    """Bytes from an int/float or a string like ``"16GB"``, ``"512 MiB"`` (None stays None)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value > 0:
            return int(value)
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([a-zA-Z]*)\s*", value)
        if m and m.group(2).lower() in _UNITS and float(m.group(1)) > 0:
            return int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    raise _bad(key, value, "None, a positive number of bytes, or a string such as '16GB' or '512MiB'")


def _validate(key, value):
    if key == "parallel_mode":
        if value not in ParallelMode.MODE_LIST:
            raise _bad(key, value, f"one of {ParallelMode.MODE_LIST}")
        return value
    if key == "device_num":
        if not (_is_int(value) and 1 <= value <= MAX_DEVICES):
            raise _bad(key, value, f"an int in [1, {MAX_DEVICES}]")
        return value
    if key == "global_rank":
        if not (_is_int(value) and 0 <= value < MAX_DEVICES):
            raise _bad(key, value, f"an int in [0, {MAX_DEVICES - 1}]")
        return value
    if key == "search_mode":
        if value not in SEARCH_MODES:
            raise _bad(key, value, f"one of {list(SEARCH_MODES)}")
        return value
    if key == "gradients_mean":
        if not isinstance(value, bool):
            raise _bad(key, value, "True or False")
        return value
    if key == "memory_limit":
        return parse_bytes(value)
    if key == "mesh_shape":
        if value is None:
            return None
        if isinstance(value, (list, tuple)) and value and all(_is_int(s) and s >= 1 for s in value):
            return tuple(value)
        raise _bad(key, value, "None or a non-empty tuple of positive ints")
    if key == "mesh_axis_names":
        if value is None:
            return None
        if (isinstance(value, (list, tuple)) and value and all(isinstance(n, str) and n for n in value)
                and len(set(value)) == len(value)):
            return tuple(value)
        raise _bad(key, value, "None or a tuple of distinct non-empty strings")
    if key == "device_target_profile":
        from .collectives import DeviceProfile, PROFILES
        if value is None or isinstance(value, DeviceProfile) or (isinstance(value, str) and value in PROFILES):
            return value
        raise _bad(key, value, f"None, a DeviceProfile, or one of {sorted(PROFILES)}")
    raise ValueError(f"set_auto_parallel_context: unknown option {key!r}; known: {sorted(_DEFAULTS)}")


def _comm_default(key):
    """device_num / global_rank from the communication group when init() ran."""
    from .. import communication
    if not communication.is_initialized():
        return 1 if key == "device_num" else 0
    return communication.get_group_size() if key == "device_num" else communication.get_rank()


def _effective(state, key):
    v = state[key]
    return _comm_default(key) if v is None and key in ("device_num", "global_rank") else v


def set_auto_parallel_context(**kwargs):
    """Set auto-parallel options (see the module docstring). All options are validated before any is applied;
    the combination must hold together: ``global_rank < device_num``, ``prod(mesh_shape) == device_num``, and
    ``mesh_axis_names`` as long as ``mesh_shape``."""
    new = dict(_state)
    for key, value in kwargs.items():
        new[key] = _validate(key, value)
    n = _effective(new, "device_num")
    rank = _effective(new, "global_rank")
    if rank >= n:
        raise ValueError(f"set_auto_parallel_context: global_rank {rank} is not below device_num {n}; ranks are "
                         f"0..{n - 1}")
    shape = new["mesh_shape"]
    if shape is not None:
        prod = 1
        for s in shape:
            prod *= s
        if prod != n:
            raise ValueError(f"set_auto_parallel_context: mesh_shape {shape} holds {prod} devices but device_num is "
                             f"{n}; set device_num={prod} too, or a mesh_shape whose product is {n}")
    names = new["mesh_axis_names"]
    if names is not None and (shape is None or len(names) != len(shape)):
        raise ValueError(f"set_auto_parallel_context: mesh_axis_names {names} needs a mesh_shape of the same length, "
                         f"got mesh_shape={shape}")
    _state.update(new)
    for fn in _listeners:
        fn(get_auto_parallel_context_all())


def get_auto_parallel_context(key):
    """The value of one option (``device_num`` and ``global_rank`` resolved as the module docstring says)."""
    if key not in _DEFAULTS:
        raise ValueError(f"get_auto_parallel_context: unknown option {key!r}; known: {sorted(_DEFAULTS)}")
    return _effective(_state, key)


def get_auto_parallel_context_all():
    """Every option as a dict (resolved values)."""
    return {k: _effective(_state, k) for k in _DEFAULTS}


def reset_auto_parallel_context():
    """Every option back to its default."""
    _state.clear()
    _state.update(_DEFAULTS)
    for fn in _listeners:
        fn(get_auto_parallel_context_all())


def current_mesh():
    """The DeviceMesh the context describes (``mesh_shape``/``mesh_axis_names``; a 1-D mesh of ``device_num``
    devices when no shape is set)."""
    from .mesh import DeviceMesh
    shape = _state["mesh_shape"] or (get_auto_parallel_context("device_num"),)
    return DeviceMesh(shape, _state["mesh_axis_names"])


def current_profile():
    """The cost model's DeviceProfile: ``device_target_profile``, else the one for ``context.device_target``."""
    from .collectives import get_profile
    p = _state["device_target_profile"]
    if p is not None:
        return get_profile(p)
    from ..context import get_context
    target = get_context("device_target")
    return get_profile({"CPU": "cpu", "GPU": "gpu-nvlink", "Ascend": "ascend910"}.get(target, "cpu"))
