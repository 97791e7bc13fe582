"""CPU convolution and pooling kernels on LeNet-5's layers (batch 32), side by side with PyTorch's CPU ops.

    .venv/bin/python benchmarks/bench_conv.py [--threads 1] [--quick]

Each row times one primitive's CPU implementation (the function the dispatcher and the GRAPH_MODE executor call)
and, where PyTorch is installed, the same computation in torch (F.conv2d, torch.nn.grad.conv2d_input /
conv2d_weight, F.max_pool2d with and without its backward). Convolutions are also timed through mindlab's general
im2col path (the one strided and grouped convolutions take) to show what the stride-1 row layout gains.
Medians of alternating blocks (bench_eager.interleaved_medians), so the ratios hold on a noisy machine.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_eager as be   # noqa: E402

GEO = dict(stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1)
POOL = dict(kernel=(2, 2), stride=(2, 2), pad=(0, 0, 0, 0))
LAYERS = [("conv1", (32, 1, 32, 32), (6, 1, 5, 5)), ("conv2", (32, 6, 14, 14), (16, 6, 5, 5))]
POOLS = [("pool1", (32, 6, 28, 28)), ("pool2", (32, 16, 10, 10))]


def _general(fn):
    """``fn`` run with the stride-1 row path switched off (the general im2col path)."""
    from mindlab.ops.prims import conv_ops

    def run(*args, **kw):
        saved = conv_ops._rows_path
        conv_ops._rows_path = lambda stride, groups: False
        try:
            return fn(*args, **kw)
        finally:
            conv_ops._rows_path = saved
    return run


def _conv_steps(cpu, torch, xs, ws, rng):
    x, w = rng.standard_normal(xs, dtype=np.float32), rng.standard_normal(ws, dtype=np.float32)
    d = rng.standard_normal(cpu["conv2d"](x, w, **GEO).shape, dtype=np.float32)
    ours = {"conv2d": lambda: cpu["conv2d"](x, w, **GEO),
            "conv2d_backprop_input": lambda: cpu["conv2d_backprop_input"](d, w, input_size=xs, **GEO),
            "conv2d_backprop_filter": lambda: cpu["conv2d_backprop_filter"](d, x, filter_size=ws, **GEO)}
    steps = {prim: {"mindlab": fn, "mindlab general im2col": _general(fn)} for prim, fn in ours.items()}
    if torch:
        tx, tw, td = (torch.from_numpy(a) for a in (x, w, d))
        steps["conv2d"]["torch"] = lambda: torch.nn.functional.conv2d(tx, tw)
        steps["conv2d_backprop_input"]["torch"] = lambda: torch.nn.grad.conv2d_input(xs, tw, td)
        steps["conv2d_backprop_filter"]["torch"] = lambda: torch.nn.grad.conv2d_weight(tx, ws, td)
    return steps


def _pool_steps(cpu, torch, xs, rng):
    x = rng.standard_normal(xs, dtype=np.float32)
    d = rng.standard_normal(cpu["max_pool"](x, **POOL).shape, dtype=np.float32)
    steps = {"max_pool": {"mindlab": lambda: cpu["max_pool"](x, **POOL)},
             "max_pool + max_pool_grad": {"mindlab": lambda: (cpu["max_pool"](x, **POOL),
                                                              cpu["max_pool_grad"](x, d, **POOL))}}
    if torch:
        tx, td = torch.from_numpy(x), torch.from_numpy(d)
        txg = tx.clone().requires_grad_(True)

        def fwd_bwd():
            txg.grad = None
            torch.nn.functional.max_pool2d(txg, 2).backward(td)
        steps["max_pool"]["torch"] = lambda: torch.nn.functional.max_pool2d(tx, 2)
        steps["max_pool + max_pool_grad"]["torch"] = fwd_bwd
    return steps


def cases(torch):
    """(title, {implementation: fn}) for every kernel timed."""
    from mindlab.ops.registry import REGISTRY
    cpu = {name: REGISTRY[name].impl["CPU"] for name in
           ("conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "max_pool", "max_pool_grad")}
    rng = np.random.default_rng(0)
    out = []
    for name, xs, ws in LAYERS:
        out += [(f"{name} {prim}", steps) for prim, steps in _conv_steps(cpu, torch, xs, ws, rng).items()]
    for name, xs in POOLS:
        out += [(f"{name} {what}", steps) for what, steps in _pool_steps(cpu, torch, xs, rng).items()]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, metavar="N")
    args = ap.parse_args(argv)
    libs = {name: mod for name in ("mindlab", "torch") if (mod := be._optional(name)) is not None}
    print(f"# {be.machine()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.threads:
        be._cap_threads(args.threads, libs)
    repeats, warmup = (10, 2) if args.quick else (100, 10)
    print("\n| kernel (LeNet-5, batch 32) | mindlab ms | general im2col ms | torch ms | mindlab / torch |")
    print("|---|---:|---:|---:|---:|")
    for title, steps in cases(libs.get("torch")):
        t = {k: v * 1e3 for k, v in be.interleaved_medians(steps, repeats, warmup, pause=0.05).items()}
        gen = f"{t['mindlab general im2col']:.3f}" if "mindlab general im2col" in t else "—"
        tt, ours = t.get("torch"), t["mindlab"]
        ref, ratio = (f"{tt:.3f}", f"{ours / tt:.2f}x") if tt else ("—", "—")
        print(f"| {title} | {ours:.3f} | {gen} | {ref} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
