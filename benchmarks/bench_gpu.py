"""The GPU backend side by side with cupy and PyTorch (eager and torch.compile), in one run on one GPU.

    python benchmarks/bench_gpu.py [--quick] [--no-compile] [--json out.json]

* **fused elementwise**: ``tanh(x * 1.5 + 0.25) * sigmoid(x)`` over 64M float32 (256 MB) — mindlab ``jit`` (the
  fusion pass emits one numba-cuda kernel), the fused kernel alone, mindlab PyNative (op by op), cupy (op by op),
  PyTorch eager and torch.compile — against a device copy of the same array (cupy ``x.copy()``, one read + one
  write: the bandwidth floor). Target: mindlab fused <= 1.1x the copy.
* **GEMM**: 8192 x 8192 float32 (no TF32 anywhere) — mindlab ``ops.matmul`` on device tensors, ``cupy.matmul``,
  ``torch.mm``. Target: mindlab >= 0.95x cupy's throughput.
* **MLP train step**: 4096 -> 4096 -> 4096 -> 10, batch 4096, ReLU, sparse softmax cross entropy, SGD momentum —
  mindlab ``TrainOneStepCell`` (PyNative and GRAPH_MODE) against PyTorch eager (``torch.optim.SGD``). Target:
  mindlab <= 1.0x PyTorch eager.

Times are GPU time per call from CUDA events around ``n`` back-to-back calls after a warm-up (the host enqueues
ahead, so a call's Python overhead only shows where it exceeds the kernel time); each is the median of a few such
runs. ``--quick`` uses small sizes (a smoke test; under ``NUMBA_ENABLE_CUDASIM=1`` with no GPU it times the
simulator and numpy, which says nothing about GPUs).
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import mindlab as ms                       # noqa: E402
from mindlab import nn, ops, Tensor, device  # noqa: E402

A, B = 1.5, 0.25
RESULTS = {}


def chain(x, a, b):
    return ops.tanh(x * a + b) * ops.sigmoid(x)


def _cupy():
    try:
        import cupy
        cupy.cuda.runtime.getDeviceCount()
        return cupy
    except Exception:
        return None


def _torch():
    try:
        import torch
        if torch.cuda.is_available():
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            return torch
    except Exception:
        pass
    return None


CP, TORCH = _cupy(), _torch()


def _sync():
    if CP is not None:
        CP.cuda.runtime.deviceSynchronize()
    if TORCH is not None:
        TORCH.cuda.synchronize()


def gpu_ms(fn, n=10, runs=3, warmup=2):
    """Milliseconds per call: CUDA events around n calls (wall clock without a GPU), median of runs."""
    for _ in range(warmup):
        fn()
    _sync()
    ts = []
    for _ in range(runs):
        if CP is not None:
            start, end = CP.cuda.Event(), CP.cuda.Event()
            start.record()
            for _ in range(n):
                fn()
            end.record()
            end.synchronize()
            _sync()
            ts.append(CP.cuda.get_elapsed_time(start, end) / n)
        else:
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            ts.append((time.perf_counter() - t0) * 1e3 / n)
    return statistics.median(ts)


def record(section, name, ms_, **extra):
    RESULTS.setdefault(section, {})[name] = dict(ms=ms_, **extra)
    more = " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in extra.items())
    print(f"  {name:38s} {ms_:10.4f} ms  {more}", flush=True)


# ---------------------------------------------------------------- fused elementwise
def bench_fused(size, compile_torch):
    print(f"fused tanh(x*{A}+{B})*sigmoid(x) over {size} float32", flush=True)
    host = np.random.default_rng(0).standard_normal(size, dtype=np.float32)
    ms.set_context(device_target="GPU", mode=ms.PYNATIVE_MODE)
    x = Tensor(host)
    xd = x._data
    copy_ms = gpu_ms(lambda: xd.copy(), n=20)
    record("fused", "device copy (x.copy())", copy_ms, ratio=1.0)
    if CP is not None:
        dst = CP.empty_like(xd)
        t = gpu_ms(lambda: CP.cuda.runtime.memcpyAsync(dst.data.ptr, xd.data.ptr, xd.nbytes, 3, 0), n=20)
        record("fused", "cudaMemcpy device to device", t, ratio=t / copy_ms)
    f = ms.jit(chain)
    t0 = time.perf_counter()
    out = f(x, A, B)
    _sync()
    first = time.perf_counter() - t0
    ref = np.tanh(host[:1 << 16].astype(np.float64) * A + B) / (1 + np.exp(-host[:1 << 16].astype(np.float64)))
    err = float(np.max(np.abs(out.asnumpy()[:1 << 16] - ref)))
    t = gpu_ms(lambda: f(x, A, B), n=20)
    record("fused", "mindlab jit (fused numba-cuda)", t, ratio=t / copy_ms, first_call_s=first, max_abs_err=err)
    from mindlab.passes.fusion import fused_nodes
    node = fused_nodes(f.compiled(x, A, B).optimized)
    if node:
        call = node[0].op.impl["GPU"]
        a_ = device.to_device(np.array([A], np.float32))
        b_ = device.to_device(np.array([B], np.float32))
        t = gpu_ms(lambda: call(xd, a_, b_), n=20)
        record("fused", f"fused kernel alone (unroll {call.unroll}, the default)", t, ratio=t / copy_ms)
        from mindlab.kernels.cuda.fused import FusedCudaCall
        for u in (1, 2, 4, 8):           # elements per thread loaded together (MINDLAB_CUDA_UNROLL picks one)
            if u != call.unroll:
                other = FusedCudaCall(call.expr, call.shape, call.n_cols, unroll=u)
                other(xd, a_, b_)
                t = gpu_ms(lambda: other(xd, a_, b_), n=20)
                record("fused", f"fused kernel alone, unroll {u}", t, ratio=t / copy_ms)
    t = gpu_ms(lambda: chain(x, A, B), n=10)
    record("fused", "mindlab PyNative (op by op)", t, ratio=t / copy_ms)
    small = Tensor(host[:1024])
    wall = []
    for _ in range(200):
        t0 = time.perf_counter()
        f(small, A, B)
        wall.append(time.perf_counter() - t0)
    record("fused", "host overhead of one jit call (1024 el.)", statistics.median(wall) * 1e3)
    if CP is not None:
        import cupyx.scipy.special as cs
        t = gpu_ms(lambda: CP.tanh(xd * A + B) * cs.expit(xd), n=10)
        record("fused", "cupy (op by op)", t, ratio=t / copy_ms)
    if TORCH is not None:
        xt = TORCH.from_dlpack(xd) if CP is not None else TORCH.tensor(host, device="cuda")

        def tchain(v):
            return TORCH.tanh(v * A + B) * TORCH.sigmoid(v)
        t = gpu_ms(lambda: xt.clone(), n=20)
        record("fused", "torch copy (clone)", t, ratio=t / copy_ms)
        t = gpu_ms(lambda: tchain(xt), n=10)
        record("fused", "torch eager", t, ratio=t / copy_ms)
        if compile_torch:
            try:
                tc = TORCH.compile(tchain)
                t0 = time.perf_counter()
                tc(xt)
                _sync()
                first = time.perf_counter() - t0
                t = gpu_ms(lambda: tc(xt), n=20)
                record("fused", "torch.compile", t, ratio=t / copy_ms, first_call_s=first)
            except Exception as exc:   # inductor needs a compiler toolchain: report, do not fail the run
                print(f"  torch.compile: skipped ({type(exc).__name__}: {str(exc)[:200]})")
    ms.set_context(device_target="CPU")


# ---------------------------------------------------------------- GEMM
def bench_gemm(n):
    print(f"GEMM {n}x{n} float32", flush=True)
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    ms.set_context(device_target="GPU", mode=ms.PYNATIVE_MODE)
    ta, tb = Tensor(a), Tensor(b)
    flops = 2.0 * n ** 3
    reps = 5 if n >= 4096 else 20
    t_ml = gpu_ms(lambda: ops.matmul(ta, tb), n=reps)
    out = {"mindlab ops.matmul": t_ml}
    if CP is not None:
        da, db = ta._data, tb._data
        out["cupy.matmul"] = gpu_ms(lambda: CP.matmul(da, db), n=reps)
    if TORCH is not None:
        xa, xb = TORCH.tensor(a, device="cuda"), TORCH.tensor(b, device="cuda")
        out["torch.mm"] = gpu_ms(lambda: TORCH.mm(xa, xb), n=reps)
    base = out.get("cupy.matmul", t_ml)
    for k, t in out.items():
        record("gemm", k, t, tflops=flops / t / 1e9, throughput_vs_cupy=base / t)
    res = ops.matmul(ta, tb).asnumpy()[:4, :4]
    np.testing.assert_allclose(res, a[:4] @ b[:, :4], rtol=1e-3, atol=1e-2)
    ms.set_context(device_target="CPU")


# ---------------------------------------------------------------- MLP train step
class MLP(nn.Cell):
    def __init__(self, d, h, c):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Dense(d, h), nn.Dense(h, h), nn.Dense(h, c)
        self.relu = nn.ReLU()

    def construct(self, x):
        return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))


class _HostEvent:
    """Under the simulator (no cupy): a host clock with cupy.cuda.Event's two calls."""
    def record(self):
        self.t = time.perf_counter()


def _elapsed_ms(s, e):
    return CP.cuda.get_elapsed_time(s, e) if CP is not None else (e.t - s.t) * 1e3


def profile(fn, steps, warmup=0):
    """Milliseconds per step spent in each kernel (CUDA events around every GPU impl call; a host clock under the
    simulator). The registry's kernels and the fusion pass's GPU builder are wrapped while this runs, so a graph
    *compiled* inside it (``warmup`` calls, not counted) is profiled too, fused kernels and rewritten nodes
    (``matmul+apply_momentum``) included."""
    from mindlab.ops.registry import REGISTRY
    from mindlab.passes import fusion
    saved, events = {}, []
    event = CP.cuda.Event if CP is not None else _HostEvent

    def timed(name, impl):
        def run(*a, **k):
            s, e = event(), event()
            s.record()
            out = impl(*a, **k)
            e.record()
            events.append((name, s, e))
            return out
        return run
    prims = [p for p in REGISTRY.values() if "GPU" in p.impl]
    from mindlab.passes import gemm_update
    prims.append(gemm_update.matmul_apply_momentum_p)
    for p in prims:
        if "GPU" in p.impl:
            saved[p] = p.impl["GPU"]
            p.impl["GPU"] = timed(p.name, saved[p])
    builder = fusion.BUILDERS.get("GPU")
    if builder is not None:
        def timed_builder(expr, *a, **k):
            return timed("fused(" + ",".join(label for _, _, label in expr.steps) + ")", builder(expr, *a, **k))
        fusion.BUILDERS["GPU"] = timed_builder
    try:
        for _ in range(warmup):
            fn()
        _sync()
        del events[:]
        for _ in range(steps):
            fn()
        _sync()
    finally:
        for p, impl in saved.items():
            p.impl["GPU"] = impl
        if builder is not None:
            fusion.BUILDERS["GPU"] = builder
    per = {}
    for name, s, e in events:
        per[name] = per.get(name, 0.0) + _elapsed_ms(s, e) / steps
    top = sorted(per.items(), key=lambda kv: -kv[1])[:16]
    print("    kernel time per step: " + ", ".join(f"{k} {v:.3f}" for k, v in top) +
          f" (sum {sum(per.values()):.2f} ms)", flush=True)
    return dict(top)


def _mlp_step(net):
    opt = nn.Momentum(net.trainable_params(), 0.01, 0.9)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True,
                                                                                       reduction="mean")), opt)
    step.set_train()
    return step


def bench_mlp(batch, hidden, steps):
    print(f"MLP train step {hidden}-{hidden}-{hidden}-10, batch {batch}", flush=True)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((batch, hidden), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int32)
    res = {}
    for mode, label in ((ms.PYNATIVE_MODE, "mindlab PyNative"), (ms.GRAPH_MODE, "mindlab GRAPH_MODE")):
        ms.set_context(device_target="GPU", mode=ms.PYNATIVE_MODE)
        ms.set_seed(0)
        net = MLP(hidden, hidden, 10)
        step = _mlp_step(net)
        ms.set_context(mode=mode)
        xt, yt = Tensor(x), Tensor(y)
        step(xt, yt)
        device.reset_transfer_count()
        res[label] = gpu_ms(lambda: step(xt, yt), n=steps, runs=3, warmup=1)
        moved = device.transfer_count()
        loss = float(step(xt, yt).asnumpy())
        record("mlp", label, res[label], transfers_in_steps=moved["h2d"] + moved["d2h"], loss=loss)
        if mode == ms.GRAPH_MODE:    # the optimized graph's ops: did matmul+apply_momentum fire?
            graph = step.compiled(xt, yt).optimized
            ops_ = {}
            for g in graph.all_graphs():
                for n in g.nodes:
                    ops_[n.op_name] = ops_.get(n.op_name, 0) + 1
            RESULTS["mlp"][label]["graph_ops"] = ops_
            print("    compiled step's ops: " + ", ".join(f"{k} x{v}" for k, v in sorted(ops_.items())), flush=True)
            fresh = _mlp_step(net)      # compiled inside profile(), so its kernels are the wrapped ones
            RESULTS["mlp"][label]["profile"] = profile(lambda: fresh(xt, yt), 3, warmup=1)
        else:
            RESULTS["mlp"][label]["profile"] = profile(lambda: step(xt, yt), 3)
    ms.set_context(device_target="CPU", mode=ms.PYNATIVE_MODE)
    if TORCH is not None:
        tn = TORCH.nn
        model = tn.Sequential(tn.Linear(hidden, hidden), tn.ReLU(), tn.Linear(hidden, hidden), tn.ReLU(),
                              tn.Linear(hidden, 10)).cuda()
        topt = TORCH.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        lossf = tn.CrossEntropyLoss()
        xt, yt = TORCH.tensor(x, device="cuda"), TORCH.tensor(y.astype(np.int64), device="cuda")

        def tstep():
            topt.zero_grad(set_to_none=True)
            loss = lossf(model(xt), yt)
            loss.backward()
            topt.step()
            return loss
        res["torch eager"] = gpu_ms(tstep, n=steps, runs=3, warmup=2)
        record("mlp", "torch eager", res["torch eager"])
        base = res["torch eager"]
        for k in list(res):
            RESULTS["mlp"][k]["ratio_to_torch_eager"] = res[k] / base
            print(f"  {k:38s} ratio to torch eager {res[k] / base:.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    info = {"python": platform.python_version(), "numpy": np.__version__,
            "simulated": device.simulated(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    import numba
    info["numba"] = numba.__version__
    if CP is not None:
        info["cupy"] = CP.__version__
        props = CP.cuda.runtime.getDeviceProperties(0)
        info["gpu"] = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        info["cuda_runtime"] = CP.cuda.runtime.runtimeGetVersion()
    if TORCH is not None:
        info["torch"] = TORCH.__version__
    print(json.dumps(info), flush=True)
    RESULTS["info"] = info
    if args.quick and device.simulated():      # every simulated CUDA thread is a Python thread: tiny sizes
        bench_fused(256, False)
        bench_gemm(64)
        bench_mlp(16, 32, 2)
    elif args.quick:
        bench_fused(1 << 20, not args.no_compile)
        bench_gemm(1024)
        bench_mlp(256, 512, 5)
    else:
        bench_fused(64 << 20, not args.no_compile)
        bench_gemm(8192)
        bench_mlp(4096, 4096, 10)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(RESULTS, f, indent=1)


if __name__ == "__main__":
    main()
