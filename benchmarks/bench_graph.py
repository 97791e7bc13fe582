"""GRAPH_MODE: compiled train steps and compile time, side by side with PyTorch eager, JAX jit and numpy.

    .venv/bin/python benchmarks/bench_graph.py [--threads 1] [--rounds 5] [--quick]

(a) MLP train step (784-512-512-10, batch 128, Momentum; the same step and data as bench_eager.py): mindlab
    GRAPH_MODE (TrainOneStepCell compiled to one graph: forward, backward and update), mindlab PyNative, PyTorch
    eager, JAX jit, numpy by hand.
(b) LeNet-5 train step (batch 32, 1x32x32, Momentum): mindlab GRAPH_MODE and PyNative vs PyTorch eager.
(c) First call of the MLP step in GRAPH_MODE: parse + compile + run, in a fresh process.
Each implementation of (a) and (b) runs alone in a fresh process that imports only its own library, in rounds that
take the implementations in turn (``bench_eager.process_rounds``: in one shared process the libraries' thread pools
slowed each other, torch most). Reported: per implementation the median over rounds of its median step time, and
the median of the per-round ratios to PyTorch eager. Results go to docs/benchmarks.md.
"""
import argparse
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_eager as be   # noqa: E402  (shared data, reference steps, timing helpers)

LENET_BATCH = 32


def lenet_data():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((LENET_BATCH, 1, 32, 32), dtype=np.float32),
            rng.integers(0, 10, LENET_BATCH).astype(np.int32))


def lenet_mindlab(ms, mode):
    nn = ms.nn

    class LeNet5(nn.Cell):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, pad_mode="valid", has_bias=True)
            self.conv2 = nn.Conv2d(6, 16, 5, pad_mode="valid", has_bias=True)
            self.pool = nn.MaxPool2d(2, 2)
            self.relu = nn.ReLU()
            self.flatten = nn.Flatten()
            self.fc1 = nn.Dense(400, 120)
            self.fc2 = nn.Dense(120, 84)
            self.fc3 = nn.Dense(84, 10)

        def construct(self, x):
            x = self.pool(self.relu(self.conv1(x)))
            x = self.pool(self.relu(self.conv2(x)))
            x = self.flatten(x)
            return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))

    ms.set_context(mode=mode)
    net = LeNet5()
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")),
                               nn.Momentum(net.trainable_params(), 0.01, 0.9))
    step.set_train()
    x, y = lenet_data()
    tx, ty = ms.Tensor(x), ms.Tensor(y)

    def run():
        ms.set_context(mode=mode)     # steps of both modes are timed side by side
        return step(tx, ty).asnumpy()
    return run


def lenet_torch(torch):
    tnn = torch.nn
    net = tnn.Sequential(tnn.Conv2d(1, 6, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(6, 16, 5), tnn.ReLU(),
                         tnn.MaxPool2d(2), tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84),
                         tnn.ReLU(), tnn.Linear(84, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = tnn.CrossEntropyLoss()
    x, y = lenet_data()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(tx), ty)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def first_call_seconds(cache_dir=None):
    """(import seconds, first-call seconds) of the GRAPH_MODE MLP step in a fresh interpreter: the first call is
    parse + compile + run (the import, which includes numba's one-time target set-up, is reported separately).
    ``cache_dir``: the kernel cache (MINDLAB_CACHE_DIR) to use; an empty one measures a cold start."""
    code = ("import time, sys; sys.path.insert(0, %r); import bench_eager as be; t0 = time.perf_counter(); "
            "import mindlab as ms; t1 = time.perf_counter(); "
            "step = be.step_mindlab(ms, ms.GRAPH_MODE); t = time.perf_counter(); step(); "
            "print(t1 - t0, time.perf_counter() - t)") % os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ)
    if cache_dir is not None:
        env["MINDLAB_CACHE_DIR"] = cache_dir
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    imp, first = out.stdout.strip().splitlines()[-1].split()
    return float(imp), float(first)


def _makers(part):
    """implementation name -> (library it needs, maker of its step) for ``part`` ("mlp" or "lenet")."""
    if part == "mlp":
        return {"mindlab GRAPH_MODE": ("mindlab", lambda ms: be.step_mindlab(ms, ms.GRAPH_MODE)),
                "mindlab PyNative": ("mindlab", lambda ms: be.step_mindlab(ms, ms.PYNATIVE_MODE)),
                "torch eager": ("torch", be.step_torch),
                "jax jit": ("jax", be.step_jax),
                "numpy (by hand)": ("numpy", lambda np_: be.step_numpy())}
    return {"mindlab GRAPH_MODE": ("mindlab", lambda ms: lenet_mindlab(ms, ms.GRAPH_MODE)),
            "mindlab PyNative": ("mindlab", lambda ms: lenet_mindlab(ms, ms.PYNATIVE_MODE)),
            "torch eager": ("torch", lenet_torch)}


def _child(part, name, threads, repeats, warmup):
    """One implementation alone in this process: only its own library is imported."""
    lib_name, make = _makers(part)[name]
    if threads and lib_name == "jax":
        be.cap_xla_threads(threads)
    lib = np if lib_name == "numpy" else __import__(lib_name)
    if threads:
        be._cap_threads(threads, {lib_name: lib}, quiet=True)
    be.child_median(lambda: _steady(make(lib), lib_name), repeats, warmup)


def _steady(step, lib_name):
    """mindlab's step in its steady state: a GRAPH_MODE program is compiled to one native function after
    ``MINDLAB_NATIVE_AFTER`` calls, in the background (runtime/native.py); run that many and wait for it."""
    if lib_name == "mindlab":
        from mindlab.runtime import native
        for _ in range(native.after() + 1):
            step()
        native.settle(600)
    return step


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, metavar="N")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of fresh processes, one per implementation")
    ap.add_argument("--only", choices=["mlp", "lenet", "first"], help="run one part")
    ap.add_argument("--child", nargs=2, metavar=("PART", "NAME"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    repeats, warmup = (5, 2) if args.quick else (40, 10)
    if args.child:
        _child(*args.child, args.threads, repeats, warmup)
        return 0
    available = {name for name in ("mindlab", "torch", "jax") if be._optional(name) is not None} | {"numpy"}
    print(f"# {be.machine()}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rounds = 2 if args.quick else args.rounds
    extra = ("--threads", str(args.threads)) if args.threads else ()
    extra += ("--quick",) if args.quick else ()

    def measure(part, title, target):
        names = [n for n, (lib, _) in _makers(part).items() if lib in available]
        med, per = be.process_rounds(os.path.abspath(__file__), part, names, rounds, extra)
        ratios = be.round_ratios(per, "torch eager")
        print(f"\n## {title} (ms/step: median over {rounds} rounds of the median of {repeats} steps; each "
              f"implementation in a fresh process of its own, taken in turn)\n")
        print("| implementation | ms/step | per round | vs torch eager (median of per-round ratios) |")
        print("|---|---:|---|---:|")
        for name, v in med.items():
            ratio = f"{ratios[name]:.2f}x" if name in ratios else "—"
            print(f"| {name} | {v * 1e3:.2f} | {' '.join(f'{x * 1e3:.2f}' for x in per[name])} | {ratio} |")
        if "mindlab GRAPH_MODE" in ratios:
            r = ratios["mindlab GRAPH_MODE"]
            print(f"\ntarget: GRAPH_MODE {title.split(' ')[1]} step <= {target}x PyTorch eager: {r:.2f}x -> "
                  f"{'MET' if r <= target else 'NOT MET'}")

    if args.only in (None, "mlp"):
        measure("mlp", f"(a) MLP train step, batch {be.BATCH}, {'-'.join(map(str, be.SIZES))}", 0.8)
    if args.only in (None, "lenet"):
        measure("lenet", f"(b) LeNet-5 train step, batch {LENET_BATCH}, 1x32x32", 1.0)
    if args.only not in (None, "first"):
        return 0

    import tempfile
    with tempfile.TemporaryDirectory() as cold:
        imp_c, t_cold = first_call_seconds(cold)       # empty kernel cache: the fused kernels are compiled
        runs = [first_call_seconds(cold) for _ in range(3)]   # the same cache, now warm: kernels are loaded
    imp, t = sorted(runs, key=lambda r: r[1])[1]
    print("\n## (c) first call of the GRAPH_MODE MLP step (parse + compile + run), fresh process")
    print(f"import mindlab: {imp:.3f} s (incl. numba's one-time CPU target set-up)")
    print(f"first call, kernel cache cold: {t_cold:.3f} s (fused kernels compiled by numba)")
    print(f"first call, kernel cache warm: {t:.3f} s (median of 3) -> {'MET' if t <= 0.2 else 'NOT MET'} "
          f"(target <= 0.2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
