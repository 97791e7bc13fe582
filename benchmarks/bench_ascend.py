"""Roofline table of the simulated Ascend kernels (kernels/ascend), for docs/benchmarks.md.

For each kernel: the simulated time on the profile (default ascend910, 32 AI cores), the roofline bound (peak Cube
FLOP/s for matmul; HBM bytes / bandwidth for streaming kernels, or the Vector unit's time when larger), their ratio, the busiest units' utilisation, and
how long the simulation took on this host next to numpy doing the same math (the simulator's overhead).

    .venv/bin/python benchmarks/bench_ascend.py            # matmul up to 2048^3
    .venv/bin/python benchmarks/bench_ascend.py --full     # adds 4096^3 (minutes on a 2-core host)
"""
import argparse
import platform
import time

import numpy as np

from mindlab.kernels import ascend
from mindlab.kernels.ascend import ASCEND910
from mindlab.kernels.ascend.k_cube import matmul
from mindlab.kernels.ascend.k_vector import elementwise
from mindlab.kernels.ascend import k_rows


def _bw_bound(nbytes, prof):
    links = prof.ai_cores * min(prof.mte2_bytes, prof.l2_bytes_per_cycle / prof.ai_cores) * prof.clock_hz
    return nbytes / min(prof.hbm_bandwidth, links)


def _timed(fn, reps=1):
    t = time.perf_counter()
    for _ in range(reps):
        out = fn()
    return out, (time.perf_counter() - t) / reps


def run(full=False, prof=ASCEND910):
    rng = np.random.default_rng(0)
    rows = []
    sizes = [512, 1024, 2048] + ([4096] if full else [])
    with ascend.use_profile(prof):
        for n in sizes:
            a = rng.standard_normal((n, n)).astype(np.float16)
            b = rng.standard_normal((n, n)).astype(np.float16)
            _, wall = _timed(lambda: matmul(a, b))
            rec = ascend.last_profile().kernels[-1]
            a32, b32 = a.astype(np.float32), b.astype(np.float32)
            _, ref = _timed(lambda: a32 @ b32)
            bound = 2.0 * n ** 3 / prof.peak_flops
            rows.append(("matmul fp16", f"{n}x{n}x{n}", rec, bound, "Cube", wall, ref))
        for n in (1 << 20, 1 << 22, 1 << 24):
            x = rng.standard_normal(n).astype(np.float16)
            y = rng.standard_normal(n).astype(np.float16)
            _, wall = _timed(lambda: elementwise("Add", np.add, [x, y], ["full", "full"], [np.float16], (n,)))
            rec = ascend.last_profile().kernels[-1]
            _, ref = _timed(lambda: x + y)
            rows.append(("add fp16", f"{n}", rec, _bw_bound(3 * n * 2, prof), "MTE2", wall, ref))
        n = 1 << 22
        x = rng.standard_normal(n).astype(np.float32)
        b = rng.standard_normal(n).astype(np.float32)
        fn = lambda u, v: np.tanh(u * np.float32(1.5) + v) / (1 + np.exp(-u))      # noqa: E731
        _, wall = _timed(lambda: elementwise("fused(mul,add,tanh,sigmoid,mul)", fn, [x, b], ["full", "full"],
                                             [np.float32], (n,), passes=20))
        rec = ascend.last_profile().kernels[-1]
        _, ref = _timed(lambda: fn(x, b))
        vec = 20 * n * 4 / (prof.vector_bytes * prof.ai_cores * prof.clock_hz)     # 20 vector passes
        rows.append(("fused tanh*sigmoid fp32", f"{n}", rec, max(_bw_bound(3 * n * 4, prof), vec), "Vector", wall,
                     ref))
        x = rng.standard_normal((8192, 1024)).astype(np.float32)
        _, wall = _timed(lambda: k_rows.softmax_rows(x))
        rec = ascend.last_profile().kernels[-1]
        _, ref = _timed(lambda: np.exp(x - x.max(1, keepdims=True)))
        rows.append(("softmax fp32 (rows)", "8192x1024", rec, _bw_bound(2 * x.nbytes, prof), "Vector", wall, ref))
    return rows


def table(rows, prof=ASCEND910):
    out = [f"Profile `{prof.name}`: {prof.ai_cores} AI cores at {prof.clock_hz / 1e9:.1f} GHz, "
           f"peak {prof.peak_flops / 1e12:.0f} TFLOP/s fp16, HBM {prof.hbm_bandwidth / 1e12:.1f} TB/s. "
           f"Host: {platform.machine()}, {time.strftime('%Y-%m-%d')}.", "",
           "| kernel | shape | simulated | roofline bound | time / bound | Cube | Vector | MTE2 | MTE3 | bound by | "
           "sim wall (s) | numpy (s) |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, shape, rec, bound, _, wall, ref in rows:
        u = rec.utilisation
        out.append(f"| {name} | {shape} | {rec.seconds * 1e6:.2f} us | {bound * 1e6:.2f} us | "
                   f"{rec.seconds / bound:.3f} | {100 * u['Cube']:.1f} % | {100 * u['Vector']:.1f} % | "
                   f"{100 * u['MTE2']:.1f} % | {100 * u['MTE3']:.1f} % | {rec.bound} | {wall:.2f} | {ref:.4f} |")
    return "\n".join(out)


def lenet_step(batch=32, steps=3):
    """Simulated time of a LeNet-5 training step (GRAPH_MODE, momentum) on Ascend, per op, and the host time."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import mindlab as ms
    from mindlab import nn, Tensor
    from tests.parallel.nets import LeNet5
    ms.set_context(mode=ms.GRAPH_MODE, device_target="Ascend")
    ms.set_seed(0)
    net = LeNet5()
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")),
                               nn.Momentum(net.trainable_params(), 0.05, 0.9))
    step.set_train()
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((batch, 1, 32, 32)).astype(np.float32))
    y = Tensor(rng.integers(0, 10, batch).astype(np.int32))
    step(x, y)                                        # compile
    t = time.perf_counter()
    with ascend.profile() as prof:
        for _ in range(steps):
            step(x, y)
    wall = (time.perf_counter() - t) / steps
    ms.set_context(mode=ms.PYNATIVE_MODE, device_target="CPU")
    lines = [f"LeNet-5 training step, batch {batch}, GRAPH_MODE on `{current_name()}`: "
             f"{prof.seconds / steps * 1e6:.1f} us simulated per step ({prof.cycles / steps:.0f} cycles); "
             f"the simulation takes {wall:.2f} s of host time per step.", "",
             "| op | calls/step | simulated us/step | share |", "|---|---|---|---|"]
    for op, (n, c, sec) in list(prof.by_op().items())[:10]:
        lines.append(f"| {op} | {n // steps} | {sec / steps * 1e6:.2f} | {100 * sec / prof.seconds:.1f} % |")
    return "\n".join(lines)


def current_name():
    return ascend.current_profile().name


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="include the 4096^3 matmul")
    ap.add_argument("--lenet-only", action="store_true", help="only the LeNet-5 step breakdown")
    args = ap.parse_args()
    if not args.lenet_only:
        print(table(run(args.full)))
        print()
    print(lenet_step())
