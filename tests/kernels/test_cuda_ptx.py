"""The GPU backend's numba-cuda kernels compiled for a real GPU target (PTX for sm_90, an H100/H200) on a machine
without one: numba's CUDA front end and NVVM type and compile them exactly as on the GPU. The CUDA simulator runs
the same kernels as Python, which accepts code the CUDA target refuses (Adam's ``np.sqrt`` was one, found on an
H100) and says nothing about the instructions; this does both: every fused template compiles, and a float32
kernel has no float64 instruction in it.

NVVM comes from a CUDA toolkit (``CUDA_HOME``, /usr/local/cuda) or the ``nvidia-cuda-nvcc-cu12`` wheel of the dev
extras; without either these tests skip. Not under the simulator (it has no compiler)."""
import importlib.util
import os
import re

import numpy as np
import pytest

import mindlab as ms
from mindlab import device
from mindlab.ops.registry import REGISTRY
from mindlab.ir.builder import abstract_of
from tests.ops.samples import all_samples

CC = (9, 0)
F64 = re.compile(r"\b[a-z]+(?:\.[a-z0-9]+)*\.f64\b")


def _wheel_toolkit():
    """(libnvvm.so, libdevice.10.bc, the directory of libcudart.so.12) of the nvidia-cuda-nvcc-cu12 and
    nvidia-cuda-runtime-cu12 wheels (NVVM asks the runtime's version for the targets it supports), or None."""
    spec = importlib.util.find_spec("nvidia")
    for base in (spec.submodule_search_locations if spec is not None else []) or []:
        root = os.path.join(base, "cuda_nvcc", "nvvm")
        lib, bc = os.path.join(root, "lib64", "libnvvm.so"), os.path.join(root, "libdevice", "libdevice.10.bc")
        cudart = os.path.join(base, "cuda_runtime", "lib")
        if os.path.exists(lib) and os.path.exists(bc) and os.path.exists(os.path.join(cudart, "libcudart.so.12")):
            return lib, bc, cudart
    return None


def _compiles(cuda):
    """Whether numba's CUDA target compiles a kernel calling a device function to PTX for CC here."""
    from numba import types

    @cuda.jit(device=True)
    def clamp(t, h):
        return t - 1, t + h

    def kernel(a, h):
        i = cuda.grid(1)
        lo, hi = clamp(i, h)
        if i < a.size:
            a[i] = lo + hi
    try:
        return ".entry" in cuda.compile_ptx(kernel, (types.float32[::1], types.int64), cc=CC)[0]
    except Exception:   # noqa: BLE001 (no NVVM, or none this numba finds)
        return False


def _prime_legacy_numba(found):
    """numba's built-in (legacy) CUDA target finds no NVVM in the wheels by itself: point its path cache there."""
    from numba.cuda import cuda_paths
    from numba.cuda.cudadrv import nvvm
    wheel = "nvidia-cuda-*-cu12 wheels"
    paths = dict(cuda_paths.get_cuda_paths())
    paths["nvvm"] = cuda_paths._env_path_tuple(wheel, found[0])
    paths["libdevice"] = cuda_paths._env_path_tuple(wheel, found[1])
    paths["cudalib_dir"] = cuda_paths._env_path_tuple(wheel, found[2])
    cuda_paths.get_cuda_paths._cached_result = paths
    nvvm.NVVM._NVVM__INSTANCE = None         # (a singleton: made again with the paths above)


@pytest.fixture(scope="module")
def cuda_target():
    """numba.cuda, able to compile for CC: NVVM found, and a stand-in device for the compute capability of device
    functions when there is no GPU."""
    if device.simulated():
        pytest.skip("NUMBA_ENABLE_CUDASIM=1: the simulator compiles nothing")
    from numba import cuda
    from numba.cuda import dispatcher
    saved = getattr(dispatcher, "get_current_device", None)
    if saved is not None and not cuda.is_available():
        class _Target:                   # what compiling a device function asks of the current device
            compute_capability = CC
        dispatcher.get_current_device = lambda: _Target()
    try:
        if not _compiles(cuda):
            found = _wheel_toolkit()
            if found is None:
                pytest.skip("no NVVM (a CUDA toolkit, or the nvidia-cuda-nvcc-cu12 and -runtime-cu12 wheels)")
            try:
                _prime_legacy_numba(found)
            except Exception as exc:   # noqa: BLE001 (numba-cuda finds the wheels itself; this is the old one)
                pytest.skip(f"this numba.cuda does not compile here: {exc}")
            if not _compiles(cuda):
                pytest.skip("NVVM of the nvidia-cuda wheels does not compile here")
        yield cuda
    finally:
        if saved is not None:
            dispatcher.get_current_device = saved


def _fuse_cases():
    samples = all_samples()
    for name, prim in sorted(REGISTRY.items()):
        if prim.fuse is not None:
            for k, case in enumerate(samples.get(name, [])):
                yield pytest.param(name, case, id=f"{name}-{k}")


def _array_type(dt):
    from numba import typeof
    return typeof(np.zeros(1, dt))


@pytest.mark.parametrize("name, case", list(_fuse_cases()))
def test_every_fused_template_compiles_for_the_gpu_in_its_dtype(cuda_target, name, case):
    from numba import types
    from mindlab.kernels.cpu import fused as cpu_fused
    from mindlab.kernels.cuda import fused
    prim = REGISTRY[name]
    arrays = [np.asarray(a) for a in case.inputs]
    arrays = [a.astype(np.float32) if a.dtype == np.float64 else a for a in arrays]
    out = prim.infer(*[abstract_of(ms.Tensor(a)) for a in arrays], **case.attrs)
    expr = cpu_fused.FusedExpr()
    args = [expr.add_input("full" if a.ndim else "scalar", a.dtype) for a in arrays]
    text = cpu_fused.render(prim, args, out.dtype.np, case.attrs)
    if text is None:
        pytest.skip(f"{name}'s fuse rule declines these operands")
    expr.add_output(expr.add_step(text, out.dtype.np, name))
    ns = dict(fused.NAMESPACE)
    exec(compile(fused.cuda_source(expr), f"<fused {name}>", "exec"), ns)
    sig = (types.int64, types.int64) + tuple(_array_type(a.dtype) for a in arrays) + (_array_type(out.dtype.np),)
    ptx, _ = cuda_target.compile_ptx(ns["fused_kernel"], sig, cc=CC)
    assert ".entry" in ptx and "ld.global" in ptx
    if out.dtype.np == np.float32 and all(a.dtype == np.float32 for a in arrays):
        assert not F64.search(ptx), f"{name}: float64 in a float32 kernel: {sorted(set(F64.findall(ptx)))[:8]}"


def test_the_unrolled_fused_kernel_loads_its_elements_before_computing(cuda_target):
    """The benchmark chain tanh(x*a+b)*sigmoid(x) with UNROLL = 4: four loads lead the loop body."""
    from numba import types
    from mindlab.kernels.cpu import fused as cpu_fused
    from mindlab.kernels.cuda import fused
    expr = cpu_fused.FusedExpr()
    x, a, b = (expr.add_input(k, np.float32) for k in ("full", "scalar", "scalar"))
    r = lambda op, *ins: expr.add_step(cpu_fused.render(REGISTRY[op], list(ins), np.float32, {}), np.float32, op)
    expr.add_output(r("mul", r("tanh", r("add", r("mul", x, a), b)), r("sigmoid", x)))
    ns = dict(fused.NAMESPACE)
    exec(compile(fused.cuda_source(expr, 4), "<chain>", "exec"), ns)
    f32 = _array_type(np.float32)
    ptx, _ = cuda_target.compile_ptx(ns["fused_kernel"], (types.int64, types.int64, f32, f32, f32, f32), cc=CC)
    assert not F64.search(ptx)
    body = ptx[ptx.index("$L__BB0_1:"):]                 # the unrolled loop's first block
    first = re.findall(r"(ld\.global\.f32|ex2\.approx|st\.global\.f32)", body)[:5]
    assert first[:4] == ["ld.global.f32"] * 4, first


@pytest.mark.parametrize("kernel, arrays, hyper, flags, float32_only", [
    ("_momentum_kernel", 3, 2, (True,), True),
    ("_descend_kernel", 2, 1, (), True),
    # these share their per-element code with the CPU kernels, whose float constants (1.0 - beta1, the float
    # dampening / weight decay) make numba compute the update in float64 before storing float32, on both devices
    ("_sgd_kernel", 4, 2, (0.0, 0.0, False), False),
    ("_adam_kernel", 4, 6, (False,), False),
    ("_adamw_kernel", 4, 5, (), False),
])
def test_optimizer_kernels_compile_for_the_gpu(cuda_target, kernel, arrays, hyper, flags, float32_only):
    """The optimizer updates (kernels/cuda/optim.py) as ``_update`` launches them: float32 state arrays,
    one-element hyper-parameter arrays, flags, n."""
    from numba import types, typeof
    from mindlab.kernels.cuda import optim
    f32 = _array_type(np.float32)
    sig = (f32,) * (arrays + hyper) + tuple(typeof(f) for f in flags) + (types.int64,)
    ptx, _ = cuda_target.compile_ptx(getattr(optim, kernel).py_func, sig, cc=CC)
    assert ".entry" in ptx and "st.global.f32" in ptx
    if float32_only:
        assert not F64.search(ptx), f"{kernel}: {sorted(set(F64.findall(ptx)))[:8]}"


def _numba_type(spec):
    from numba import types
    scalar = lambda name: types.boolean if name == "bool" else getattr(types, name)
    return types.Array(scalar(spec[1]), spec[2], spec[3]) if spec[0] == "array" else scalar(spec[1])


@pytest.fixture(scope="module")
def launches(tmp_path_factory):
    """Every hand-written kernel launch of the GPU tests (tests/gpu) under the simulator, with its argument types
    (``tests/kernels/record_launches.py``)."""
    import json
    import subprocess
    import sys
    out = tmp_path_factory.mktemp("launches") / "launches.json"
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", MINDLAB_TEST_DEVICE="CPU", MINDLAB_RECORD_LAUNCHES=str(out))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                        "tests.kernels.record_launches", "tests/gpu"], cwd=root, env=env, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0 and out.exists(), r.stdout[-3000:] + r.stderr[-2000:]
    return json.loads(out.read_text())


def test_every_kernel_the_gpu_tests_launch_compiles_for_the_gpu(cuda_target, launches):
    """im2col / col2im, pooling and its gradients, softmax and cross-entropy rows, layer-norm rows, segment sums and
    the optimizer updates, each with the argument types the backend passes them (recorded under the simulator),
    compiled for sm_90."""
    import importlib
    names = sorted({(m, n) for m, n, _ in launches})
    assert len(names) >= 16, names
    failed = []
    for module, name, specs in launches:
        kernel = getattr(importlib.import_module(module), name)
        sig = tuple(_numba_type(s) for s in specs)
        try:
            assert ".entry" in cuda_target.compile_ptx(kernel.py_func, sig, cc=CC)[0]
        except Exception as exc:   # noqa: BLE001 (report them all)
            failed.append(f"{module}.{name}{sig}: {type(exc).__name__}: {str(exc)[:300]}")
    assert not failed, "\n".join(failed)
