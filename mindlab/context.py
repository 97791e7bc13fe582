"""Global context: execution mode and device target, MindSpore names.

``set_context(mode=GRAPH_MODE)`` selects graph compilation for ``Cell``s and ``@jit`` functions; until the
graph compiler is in place (see docs/architecture.md) graph mode runs through the eager path.
"""
GRAPH_MODE = 0
PYNATIVE_MODE = 1

_DEVICES = ("CPU", "GPU", "Ascend")
_MODES = {GRAPH_MODE: "GRAPH_MODE", PYNATIVE_MODE: "PYNATIVE_MODE"}

_state = {"mode": PYNATIVE_MODE, "device_target": "CPU", "device_id": 0, "debug_nans": False}
_listeners = []

__all__ = ["GRAPH_MODE", "PYNATIVE_MODE", "set_context", "get_context", "device_available"]


def device_available(target):
    """Whether a device target can run here (CPU always; GPU needs a CUDA device)."""
    if target == "CPU":
        return True
    if target == "GPU":
        try:
            from numba import cuda
            return bool(cuda.is_available())
        except Exception:   # numba without CUDA support behaves like "no GPU"
            return False
    if target == "Ascend":
        from importlib.util import find_spec
        return find_spec("mindlab.kernels.ascend") is not None
    return False


def set_context(**kwargs):
    """Set global options: ``mode`` (GRAPH_MODE | PYNATIVE_MODE), ``device_target`` ("CPU" | "GPU" | "Ascend"),
    ``device_id``, ``debug_nans``. Bad keys or values raise ValueError naming the accepted ones."""
    new = dict(_state)
    for key, value in kwargs.items():
        if key == "mode":
            if value not in _MODES:
                raise ValueError(f"set_context: mode must be context.GRAPH_MODE (0) or context.PYNATIVE_MODE (1), "
                                 f"got {value!r}")
        elif key == "device_target":
            if value not in _DEVICES:
                raise ValueError(f"set_context: device_target must be one of {_DEVICES}, got {value!r}")
            if not device_available(value):
                why = ("no CUDA device is present (numba.cuda.is_available() is False)" if value == "GPU"
                       else "its backend is not installed in this build")
                raise RuntimeError(f"set_context: device_target={value!r} cannot be used here: {why}. "
                                   f"Use device_target='CPU'.")
            if value == "Ascend":   # the simulated AI core: install its kernels on first use
                from .kernels.ascend import enable as _enable_ascend
                _enable_ascend()
            if value == "GPU":
                _load_gpu()
        elif key == "device_id":
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"set_context: device_id must be a non-negative int, got {value!r}")
        elif key == "debug_nans":
            value = bool(value)
        else:
            raise ValueError(f"set_context: unknown option {key!r}; known: {sorted(_state)}")
        new[key] = value
    _state.update(new)
    for fn in _listeners:
        fn(dict(_state))


def _load_gpu():
    """Load the GPU backend (mindlab.kernels.cuda) into the registry; a clear error when cupy is missing."""
    from . import device
    try:
        device.xp()
    except RuntimeError as exc:
        raise RuntimeError(f"set_context: {exc}") from None
    from .kernels.cuda import register
    register()


def get_context(key):
    """Value of one context option (``"mode"``, ``"device_target"``, ...)."""
    if key not in _state:
        raise ValueError(f"get_context: unknown option {key!r}; known: {sorted(_state)}")
    return _state[key]


def mode_name(mode=None):
    return _MODES[_state["mode"] if mode is None else mode]
