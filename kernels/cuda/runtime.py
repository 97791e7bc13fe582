"""What every GPU kernel module shares: the array module, moving stray host inputs, launching numba-cuda kernels.

``xp()`` is cupy on a GPU and numpy under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), where the numba-cuda
kernels run simulated on the same arrays — so CI runs every GPU code path. Kernels are written once against ``xp``
and ``numba.cuda``; ``launch`` picks the grid (grid-stride loops: any grid covers any size; under the simulator a
tiny grid, since each simulated thread is a Python thread).
"""
import numpy as np

if not hasattr(np, "row_stack"):   # numba-cuda <= 0.30 registers an overload for np.row_stack, gone in NumPy 2.5
    np.row_stack = np.vstack
from numba import cuda, config as _nbconfig   # noqa: E402

from ... import device as _device
from ...errors import ShapeError, where

SIM = _device.simulated()
THREADS = 256            # threads per block on a GPU
MAX_BLOCKS = 1 << 15        # grid-stride: measured 1.6x faster than one element per thread on an H200
SIM_THREADS = 4          # the simulator runs one Python thread per CUDA thread: keep grids tiny
if not SIM:
    # cupy and numba launch on the same (legacy default) stream: no need to synchronise on every array argument
    _nbconfig.CUDA_ARRAY_INTERFACE_SYNC = False


def xp():
    return _device.xp()


def dev(a, dtype=None):
    """``a`` as a device array (host arrays and scalars are moved, and counted, by ``mindlab.device``)."""
    if _device.is_device_array(a):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    if a is None or isinstance(a, (tuple, list, str)):
        return a
    return _device.to_device(np.asarray(a), dtype)


def as_scalar_or_device(a):
    """A kernel input as the GPU backend takes it: device arrays as they are, 0-d host arrays as numpy scalars
    (passed by value, no transfer), other host arrays moved to the device (counted)."""
    if _device.is_device_array(a):
        return a
    if isinstance(a, np.ndarray) and a.ndim == 0:
        return a[()]
    if isinstance(a, (np.generic, int, float, bool)):
        return a
    return _device.to_device(a)


def gpu_kernel(fn, name=None, inplace=False, scalars=False):
    """Wrap ``fn(*device_arrays, **attrs)`` as a GPU impl: stray host inputs are moved first. An in-place update
    (``inplace``: optimizer updates, assign) refuses host arrays: the update would land in a temporary copy.
    ``scalars``: the kernel is a cupy ufunc, which takes 0-d host arrays by value (no transfer); other kernels get
    every input as a device array."""
    is_dev = _device.is_device_array
    op = (name or "").removesuffix("_gpu")

    def impl(*arrays, **attrs):
        if inplace:
            for a in arrays:
                if not is_dev(a) and isinstance(a, np.ndarray) and a.ndim:
                    raise RuntimeError(
                        f"{op}: an in-place update on device_target='GPU' got a host array of shape "
                        f"{list(a.shape)}: the Parameter was created while device_target was 'CPU'. Create the "
                        f"network after set_context(device_target='GPU') (Parameters then live on the GPU).")
        out = fn(*[a if is_dev(a) else (as_scalar_or_device(a) if scalars else dev(a)) for a in arrays], **attrs)
        return _sim_mark(out) if SIM else out
    impl.__name__ = impl.__qualname__ = name or getattr(fn, "__name__", "gpu_impl")
    impl.gpu_fn = fn
    return impl


def _sim_mark(out):
    """Under the simulator numpy computes 'on the device': mark results as device arrays (a view, no copy)."""
    if isinstance(out, tuple):
        return tuple(_sim_mark(o) for o in out)
    if isinstance(out, (np.ndarray, np.generic)) and not isinstance(out, _device.SimDeviceArray):
        return np.asarray(out).view(_device.SimDeviceArray)
    return out


def f32(a):
    """float16 is computed in float32 (as on the CPU); the dispatcher casts back to the inferred dtype."""
    return a.astype(np.float32) if a.dtype == np.float16 else a


def contiguous(a):
    return xp().ascontiguousarray(a)


def launch(kernel, n, *args):
    """Run a grid-stride ``kernel`` over ``n`` work items."""
    if n <= 0:
        return
    if SIM:
        kernel[1, SIM_THREADS](*args)
    else:
        kernel[min((n + THREADS - 1) // THREADS, MAX_BLOCKS), THREADS](*args)


def check_range(op, idx, n, what):
    """Index values of ``idx`` must lie in [0, n): one device reduction and a one-element read (a counted sync)."""
    if idx.size == 0:
        return
    m = xp()
    lo, hi = m.min(idx), m.max(idx)
    _device.count_sync()
    lo, hi = int(lo), int(hi)
    if lo < 0 or hi >= n:
        raise ShapeError(f"{op}: {what} {lo if lo < 0 else hi} is out of range [0, {n}).{where()}")


def special():
    """scipy.special's GPU twin (cupyx.scipy.special; scipy.special under the simulator)."""
    if SIM:
        import scipy.special as s
    else:
        import cupyx.scipy.special as s
    return s


def jit(fn):
    return cuda.jit(fn)
