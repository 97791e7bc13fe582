"""Elementwise fusion: one generated kernel for ``tanh(x * a + b) * sigmoid(x)`` against numpy, a plain copy,
PyTorch and JAX.

    .venv/bin/python benchmarks/bench_fusion.py [--size 4194304] [--quick] [--torch-compile]

In one run, on the same float32 array (default 4M elements = 16 MB):

* ``numpy copy``: ``x.copy()`` — one read and one write of the array, the memory-bandwidth floor of any one-pass
  elementwise kernel (its output is freshly allocated, as every other result here is);
* ``numpy (unfused)``: the ufunc chain mindlab's unfused program runs (``np.tanh``, ``scipy.special.expit``,
  ``np.multiply``, ``np.add``): five passes over memory with temporaries;
* ``mindlab jit (fused)``: ``mindlab.jit`` of the function — the fusion pass turns the chain into one numba kernel
  (vectorised tanh / sigmoid approximations, all cores); ``mindlab jit (unfused)`` is the same with the pass off;
  ``mindlab PyNative`` runs op by op;
* ``kernel only``: the fused kernel called directly on the array (no executor); ``kernel on 1 thread``: its loop
  run by the calling thread alone into a preallocated output (what one free core does);
* PyTorch eager (and ``torch.compile`` with ``--torch-compile``), JAX ``jit`` — when installed.

Reported: median and best milliseconds over repeated calls after a warm-up, and the ratio to the numpy copy. The
first-call time of the mindlab function (parse + passes + numba compile + run) is measured in a fresh process,
and the numba compile of the kernel alone as well. Machine load matters a lot on a 2-core box: compare ratios
from one run only.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("JAX_PLATFORMS", "cpu")
from mindlab import ops   # noqa: E402  (chain() is compiled from source: its names resolve at module level)

A, B = 1.5, 0.25


def _timeit(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e3, min(ts) * 1e3


def _optional(name):
    try:
        return __import__(name)
    except Exception as exc:
        print(f"# {name}: skipped ({type(exc).__name__}: {exc})")
        return None


def chain(x, a, b):
    return ops.tanh(x * a + b) * ops.sigmoid(x)


def first_call_in_fresh_process(size):
    """Seconds for the first call of the jit'd chain (parse + passes + numba compile + run) in a new process, and
    for the numba compile of its kernel alone (numba already warmed up on another kernel)."""
    code = f"""
import time, numpy as np
t0 = time.perf_counter()
import mindlab as ms
from mindlab import ops, Tensor
t_import = time.perf_counter() - t0
def chain(x, a, b):
    return ops.tanh(x * a + b) * ops.sigmoid(x)
x = Tensor(np.random.default_rng(0).standard_normal({size}, dtype=np.float32))
t0 = time.perf_counter(); ms.jit(chain)(x, {A}, {B}); first = time.perf_counter() - t0
t0 = time.perf_counter(); ms.jit(chain)(x, {A}, {B}); second = time.perf_counter() - t0
def other(x):
    return ops.exp(x * 2.0) * x + 1.0       # a new expression: its kernel compiles now
t0 = time.perf_counter(); ms.jit(other)(x); other_first = time.perf_counter() - t0
print(t_import, first, second, other_first)
"""
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "first_call.py")   # a file: GRAPH_MODE compiles functions from their source
        with open(script, "w") as f:
            f.write(code)
        out = subprocess.run([sys.executable, script], capture_output=True, text=True, check=True)
    return [float(v) for v in out.stdout.split()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=4 * 1024 * 1024)
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--torch-compile", action="store_true", help="also time torch.compile (slow first compile)")
    args = ap.parse_args()
    repeats = 10 if args.quick else 40
    n = args.size

    import mindlab as ms
    from mindlab import Tensor
    from mindlab.passes.fusion import fusion_options, fused_nodes
    from scipy.special import expit

    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32) * 3
    tx = Tensor(x)
    rows = {}

    rows["numpy copy"] = _timeit(lambda: x.copy(), repeats)
    a32, b32 = np.float32(A), np.float32(B)
    rows["numpy (unfused)"] = _timeit(lambda: np.tanh(x * a32 + b32) * expit(x), repeats)

    fused = ms.jit(chain)
    t0 = time.perf_counter()
    out = fused(tx, A, B)
    warm_first = time.perf_counter() - t0
    rows["mindlab jit (fused)"] = _timeit(lambda: fused(tx, A, B), repeats)
    compiled = fused.compiled(tx, A, B)
    node = fused_nodes(compiled.optimized)[0]
    kernel = node.op.impl["CPU"]
    consts = [np.asarray(i.value).reshape(-1) for i in node.inputs[1:]]
    rows["  kernel only (no executor)"] = _timeit(lambda: kernel(x, *consts), repeats)
    one = np.empty_like(x)
    rows["  kernel on 1 thread"] = _timeit(lambda: kernel.kernel(n, 1, x, *consts, one), repeats)
    with fusion_options(enabled=False):
        unfused = ms.jit(chain)
        unfused(tx, A, B)
        rows["mindlab jit (unfused)"] = _timeit(lambda: unfused(tx, A, B), repeats)
    ref = unfused(tx, A, B).asnumpy()
    rows["mindlab PyNative"] = _timeit(lambda: chain(tx, A, B), repeats)
    err = float(np.max(np.abs(out.asnumpy() - ref) / np.maximum(np.abs(ref), np.finfo(np.float32).tiny)))

    torch = _optional("torch")
    if torch is not None:
        t = torch.from_numpy(x.copy())
        rows[f"torch eager ({torch.get_num_threads()} threads)"] = _timeit(
            lambda: torch.tanh(t * A + B) * torch.sigmoid(t), repeats)
        if args.torch_compile:
            try:
                tc = torch.compile(lambda v: torch.tanh(v * A + B) * torch.sigmoid(v))
                t0 = time.perf_counter()
                tc(t)
                print(f"# torch.compile first call: {time.perf_counter() - t0:.1f} s")
                rows["torch.compile"] = _timeit(lambda: tc(t), repeats)
            except Exception as exc:
                print(f"# torch.compile: skipped ({type(exc).__name__}: {exc})")
    jax = _optional("jax")
    if jax is not None:
        jx = jax.device_put(x)
        jf = jax.jit(lambda v: jax.numpy.tanh(v * A + B) * jax.nn.sigmoid(v))
        jf(jx).block_until_ready()
        rows["jax jit"] = _timeit(lambda: jf(jx).block_until_ready(), repeats)

    copy_med, copy_best = rows["numpy copy"]
    print(f"\n## fused tanh(x*{A}+{B})*sigmoid(x), {n} float32 ({n * 4 / 2**20:.0f} MB), {os.cpu_count()} cores\n")
    print("| implementation | median ms | best ms | median / copy | best / copy |")
    print("|---|---:|---:|---:|---:|")
    for name, (med, best) in rows.items():
        print(f"| {name} | {med:.2f} | {best:.2f} | {med / copy_med:.2f}x | {best / copy_best:.2f}x |")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bench_eager as be
    pair = be.interleaved_medians({"copy": lambda: x.copy(), "fused": lambda: fused(tx, A, B)}, max(repeats, 20), 3,
                                  block=5, pause=0.05)
    ratio = pair["fused"] / pair["copy"]
    print(f"\ntarget: mindlab jit (fused) <= 1.2x the numpy copy, the two timed in alternating blocks: "
          f"{pair['fused'] * 1e3:.2f} / {pair['copy'] * 1e3:.2f} ms = {ratio:.2f}x -> "
          f"{'MET' if ratio <= 1.2 else 'NOT MET'}")
    print(f"\nmax relative difference fused vs unfused: {err:.2e}")
    print(f"first call in this process (kernel possibly compiled already): {warm_first:.2f} s")
    t_import, first, second, other_first = first_call_in_fresh_process(n)
    print(f"fresh process: import mindlab {t_import:.2f} s; first call {first:.2f} s (parse, passes, numba "
          f"compile of the kernel and its tanh/sigmoid, run); same function again, new jit: {second * 1e3:.1f} ms "
          f"(kernel cached); a second fused expression's first call: {other_first:.2f} s")


if __name__ == "__main__":
    main()
