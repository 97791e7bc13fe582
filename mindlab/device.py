"""Where a tensor's data lives: the array module of each device, host <-> device moves and a transfer counter.

``CPU`` (and Ascend, whose simulator works on host memory) tensors hold numpy arrays. ``GPU`` tensors hold *device
arrays*: cupy arrays on an NVIDIA GPU, or — under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, what CI runs)
— ``SimDeviceArray``, a numpy subclass that marks data as "on the device" so the same code paths (dispatch,
executor, the numba-cuda kernels, run simulated) and the same transfer accounting run without a GPU.

Data crosses between host and device only here: ``to_device`` (a Tensor made from host data while
``device_target="GPU"``, a graph constant when its program is built, a host array handed to a GPU kernel) and
``to_host`` (``Tensor.asnumpy()``, printing, ``item()``, ``np.asarray(tensor)``). ``transfer_count()`` counts both
directions; a training step whose inputs and parameters are on the device performs none. 0-d host arrays (Python
numbers turned into tensors, ``x * 2``) stay on the host: GPU kernels take them as scalar arguments, by value.
``sync_count()`` counts the one-element device-to-host reads a GPU kernel makes to check its input (index ranges
of gather/scatter, labels of cross entropy) — the price of raising a clear error instead of reading out of bounds.
"""
import numpy as np

__all__ = ["SimDeviceArray", "simulated", "array_module", "xp", "is_device_array", "to_device", "to_host",
           "host", "transfer_count", "reset_transfer_count", "sync_count", "coerce", "place", "adopt"]

_COUNTS = {"h2d": 0, "d2h": 0, "h2d_bytes": 0, "d2h_bytes": 0, "sync": 0}
_ndarray = np.ndarray


class SimDeviceArray(np.ndarray):
    """A numpy array standing for device memory under the CUDA simulator (numpy ops on it stay on the 'device')."""


_STATE = {"xp": None, "cls": None}


def simulated():
    """Whether numba runs CUDA kernels in its simulator (``NUMBA_ENABLE_CUDASIM=1``)."""
    try:
        from numba import config
    except ImportError:   # pragma: no cover - numba is a dependency
        return False
    return bool(getattr(config, "ENABLE_CUDASIM", 0))


def _gpu_module():
    if _STATE["xp"] is None:
        if simulated():
            _STATE["xp"], _STATE["cls"] = np, SimDeviceArray
        else:
            try:
                import cupy
            except ImportError as exc:
                raise RuntimeError("device_target='GPU' needs cupy for its arrays and cuBLAS (install mindlab's "
                                   "'gpu' extra with the cupy wheel for your CUDA, e.g. pip install cupy-cuda12x); "
                                   f"importing cupy failed: {exc}") from None
            _STATE["xp"], _STATE["cls"] = cupy, cupy.ndarray
    return _STATE["xp"]


def array_module(device):
    """The array module holding ``device``'s tensors: numpy, or cupy (numpy under the CUDA simulator) for GPU."""
    return _gpu_module() if device == "GPU" else np


def xp():
    """The GPU array module (cupy; numpy under the simulator)."""
    return _gpu_module()


def device_class():
    _gpu_module()
    return _STATE["cls"]


def is_device_array(a):
    """Whether ``a`` is a GPU device array (a cupy array, or a SimDeviceArray under the simulator)."""
    cls = _STATE["cls"]
    return cls is not None and isinstance(a, cls)


def to_device(a, dtype=None):
    """A device copy of host array ``a`` (counted); device arrays are returned as they are (cast if ``dtype``)."""
    cls = device_class()
    if isinstance(a, cls):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    a = np.asarray(a, dtype=dtype)
    _COUNTS["h2d"] += 1
    _COUNTS["h2d_bytes"] += a.nbytes
    if cls is SimDeviceArray:
        return np.array(a, copy=True, order="C").view(SimDeviceArray)
    return _STATE["xp"].asarray(a)


def to_host(a):
    """A host (numpy) copy of ``a``; a device array's copy is counted as a transfer."""
    cls = _STATE["cls"]
    if cls is not None and isinstance(a, cls):
        _COUNTS["d2h"] += 1
        _COUNTS["d2h_bytes"] += a.nbytes
        if cls is SimDeviceArray:
            return np.array(a.view(np.ndarray), copy=True)
        return a.get()
    return np.array(a, copy=True)


def host(a):
    """``a`` as a numpy array: itself when it is on the host already (no copy), else ``to_host(a)``."""
    if a.__class__ is _ndarray:
        return a
    cls = _STATE["cls"]
    if cls is not None and isinstance(a, cls):
        return to_host(a)
    return np.asarray(a)


def place(arr):
    """Where a new Tensor's array goes while ``device_target="GPU"``: arrays with dimensions to the device,
    0-d arrays (scalars) stay on the host."""
    if arr.ndim == 0 and arr.__class__ is _ndarray:
        return arr
    return to_device(arr)


def _at_home(a, device):
    """Whether array ``a`` lives where ``device``'s kernels read: the device for GPU (0-d host scalars too),
    the host otherwise."""
    if device == "GPU":
        return isinstance(a, device_class()) or (a.__class__ is _ndarray and a.ndim == 0)
    return a.__class__ is _ndarray or not is_device_array(a)


def adopt(tensors, device):
    """The data of ``tensors`` on ``device``'s memory: a tensor made under another ``device_target`` (a notebook
    cell run before switching, a module-level constant) moves there at its first use and stays (counted by
    ``transfer_count``, as every move is). Returns the list of arrays."""
    out = []
    for t in tensors:
        a = t._data
        if not _at_home(a, device):
            a = to_device(a) if device == "GPU" else to_host(a)
            t._data = a
        out.append(a)
    return out


def coerce(value, dt):
    """A GPU kernel's result as a device array of dtype ``dt`` (host results are moved and counted)."""
    cls = _STATE["cls"]
    if value.__class__ is cls:
        return value if value.dtype == dt else value.astype(dt)
    if cls is SimDeviceArray and isinstance(value, (np.ndarray, np.generic)):
        # numpy computed it "on the device" (the simulator's arrays are numpy): no transfer, a view
        v = np.asarray(value, dtype=dt)
        return v.view(SimDeviceArray) if v.ndim else np.array(v).view(SimDeviceArray)
    if cls is not SimDeviceArray and isinstance(value, cls):   # a cupy subclass/view
        return value if value.dtype == dt else value.astype(dt)
    if isinstance(value, (np.generic, int, float, bool)):
        return _STATE["xp"].asarray(np.asarray(value, dtype=dt))   # a scalar result (rare)
    return to_device(value, dt)


def transfer_count():
    """Host <-> device transfers so far: ``{"h2d", "d2h", "h2d_bytes", "d2h_bytes", "sync"}``."""
    return dict(_COUNTS)


def reset_transfer_count():
    for k in _COUNTS:
        _COUNTS[k] = 0


def count_sync():
    _COUNTS["sync"] += 1


def sync_count():
    return _COUNTS["sync"]
