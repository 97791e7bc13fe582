"""A pytest plugin (``-p tests.kernels.record_launches``) for a run under numba's CUDA simulator: it records every
numba-cuda kernel launch of the GPU backend — the kernel's module, name and argument types — to the JSON file named
by ``MINDLAB_RECORD_LAUNCHES``, for tests/kernels/test_cuda_ptx.py to compile those exact signatures for a real GPU
target. Generated (fused) kernels are left out: that test compiles every fused template itself."""
import atexit
import importlib
import json
import os
import pkgutil
import sys

import numba

from mindlab.kernels.cuda import runtime

_SEEN = {}
_launch = runtime.launch


def _spec(value):
    t = numba.typeof(value)
    if isinstance(t, numba.types.Array):
        return ["array", str(t.dtype), t.ndim, t.layout]
    return ["scalar", str(t)]


def _recording(kernel, n, *args):
    fn = getattr(kernel, "fn", None) or getattr(kernel, "py_func", None)
    module = getattr(fn, "__module__", None)
    if module and module.startswith("mindlab.kernels.cuda."):      # (generated kernels have no module)
        _SEEN[json.dumps([module, fn.__name__, [_spec(a) for a in args]])] = True
    return _launch(kernel, n, *args)


def pytest_collection_finish(session):
    import mindlab.kernels.cuda as package
    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"mindlab.kernels.cuda.{info.name}")
    for name, module in list(sys.modules.items()):    # each kernel module imported ``launch`` by name
        if name.startswith("mindlab.kernels.cuda") and getattr(module, "launch", None) is _launch:
            module.launch = _recording


@atexit.register
def _dump():
    path = os.environ.get("MINDLAB_RECORD_LAUNCHES")
    if path:
        with open(path, "w") as f:
            json.dump([json.loads(k) for k in _SEEN], f)
