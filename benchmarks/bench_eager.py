"""Eager overhead and an MLP train step: mindlab side by side with numpy, PyTorch and JAX.

    .venv/bin/python benchmarks/bench_eager.py            # both parts
    .venv/bin/python benchmarks/bench_eager.py --quick    # fewer repeats (a smoke run)
    .venv/bin/python benchmarks/bench_eager.py --only tiny|mlp

(a) ``tiny``: per-op time of add / mul on two (4,) float32 tensors, a 4x4 @ 4x4 matmul and a full sum of a (4,)
    tensor, called one op at a time: mindlab (``ops.*``), numpy, PyTorch eager, JAX op-by-op (no jit; each result is
    waited for with ``block_until_ready``). This is the framework's fixed cost per eager call.
(b) ``mlp``: one training step of a 784-512-512-10 ReLU MLP on a batch of 128 (softmax cross-entropy with integer
    labels, Momentum lr=0.01 momentum=0.9): mindlab PyNative (``nn.TrainOneStepCell``), PyTorch eager,
    JAX ``jit`` of the whole step, and a hand-written numpy forward/backward.

Every timing is ``time.perf_counter`` around the work after a warm-up, repeated, and the median is reported, with
the ratio to PyTorch. Libraries that are not installed are skipped (this script installs nothing; the ``bench``
extra in pyproject.toml lists them). Results are recorded in docs/benchmarks.md.
"""
import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("JAX_PLATFORMS", "cpu")   # no accelerator probing: this compares CPU eager paths

# One batch of work for every library.
BATCH, SIZES, LR, MOMENTUM = 128, (784, 512, 512, 10), 0.01, 0.9


def _optional(name):
    try:
        return __import__(name)
    except Exception as exc:   # not installed, or broken: skip with the reason
        print(f"# {name}: skipped ({type(exc).__name__}: {exc})")
        return None


def _median_per_call(fn, number, repeats, warmup):
    """Median over ``repeats`` of (seconds for ``number`` calls of fn) / number."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def interleaved_medians(steps, repeats, warmup, block=5, pause=0.2):
    """Median seconds per call of each of ``steps`` (name -> fn), timed in alternating blocks of ``block`` calls.

    Timing each implementation in its own stretch lets the machine's speed drift between them (a shared VM varies by
    tens of percent within a minute); alternating blocks puts every implementation through the same conditions, so
    the ratios hold even when the absolute numbers move. Between blocks the process sleeps ``pause`` seconds: a
    library's idle worker threads keep spinning after its last call (OpenBLAS for about 0.1 s, OpenMP for a while),
    and would otherwise take a core from whichever implementation runs next (measured: MKL's two-thread GEMMs in the
    block after numpy's ran 5x slower).
    """
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in steps}
    for _ in range(max(1, repeats // block)):
        for name, fn in steps.items():
            time.sleep(pause)
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def child_median(make, repeats, warmup):
    """In a child process (``process_rounds``): build one step with ``make``, warm it up, and print the median
    seconds per step over ``repeats`` steps as the last line of stdout."""
    print(f"median_seconds {_median_per_call(make(), 1, repeats, warmup)!r}")


def process_rounds(script, part, names, rounds, extra_args=()):
    """Median seconds per step of each implementation in ``names``, each timed in a fresh process of its own:
    ``script --child PART NAME`` (which calls ``child_median``), in ``rounds`` rounds that take the implementations in
    turn. Returns (name -> median over rounds, name -> the per-round list).

    Why processes: in one process the libraries' worker threads meet. torch (its own OpenMP and MKL), mindlab (MKL
    on the system's GNU OpenMP, numba) and JAX (Eigen) each keep two threads per core-pair alive; measured here on the
    MLP step, both torch and mindlab ran ~1.5x slower inside a shared process than alone (torch 10.0 vs 4.7-7.6 ms,
    mindlab 9.0 vs 6.0-6.1 ms), torch more so, which flattered mindlab's ratio (0.90x in one process against
    1.0-1.15x alone). A user runs one library at a time; so does this. Rounds take the implementations in turn so
    the machine's drift (tens of percent within a minute on this VM) reaches all of them alike; the ratios to report
    are medians of per-round ratios (``round_ratios``)."""
    per = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            out = subprocess.run([sys.executable, script, "--child", part, name, *extra_args], capture_output=True,
                                 text=True, timeout=600)
            lines = [l for l in out.stdout.splitlines() if l.startswith("median_seconds ")]
            if out.returncode or not lines:
                print(f"# {name}: skipped (child failed: {out.stderr.strip()[-300:]})")
                per.pop(name)
                names = [n for n in names if n != name]
                break
            per[name].append(float(lines[-1].split()[1]))
    return {name: statistics.median(v) for name, v in per.items() if v}, per


def round_ratios(per, ref_name):
    """name -> median over rounds of (its time / ``ref_name``'s time in the same round)."""
    ref = per.get(ref_name)
    if not ref:
        return {}
    return {name: statistics.median(a / b for a, b in zip(v, ref)) for name, v in per.items()}


# ----------------------------------------------------------------------------------------------- (a) tiny ops
def _tiny_mindlab(ms, a, b, m, n):
    ops = ms.ops
    a, b, m, n = (ms.Tensor(v) for v in (a, b, m, n))
    funcs = {"add": lambda: ops.add(a, b), "mul": lambda: ops.mul(a, b),
             "matmul": lambda: ops.matmul(m, n), "sum": lambda: ops.sum(a)}
    operators = {"add": lambda: a + b, "mul": lambda: a * b, "matmul": lambda: m @ n}
    return {"mindlab": funcs, "mindlab (x + y)": operators}


def _tiny_numpy(a, b, m, n):
    return {"numpy": {"add": lambda: np.add(a, b), "mul": lambda: np.multiply(a, b),
                      "matmul": lambda: np.matmul(m, n), "sum": lambda: np.sum(a)}}


def _tiny_torch(torch, a, b, m, n):
    a, b, m, n = (torch.from_numpy(v.copy()) for v in (a, b, m, n))
    return {"torch": {"add": lambda: torch.add(a, b), "mul": lambda: torch.mul(a, b),
                      "matmul": lambda: torch.matmul(m, n), "sum": lambda: torch.sum(a)}}


def _tiny_jax(jax, a, b, m, n):
    jnp = jax.numpy
    a, b, m, n = (jax.device_put(v) for v in (a, b, m, n))
    return {"jax (op-by-op)": {"add": lambda: jnp.add(a, b).block_until_ready(),
                               "mul": lambda: jnp.multiply(a, b).block_until_ready(),
                               "matmul": lambda: jnp.matmul(m, n).block_until_ready(),
                               "sum": lambda: jnp.sum(a).block_until_ready()}}


def tiny_cases(libs):
    """{library: {op: zero-argument callable}} on the same (4,) and (4, 4) float32 inputs for every library."""
    rng = np.random.default_rng(0)
    data = (rng.standard_normal(4, dtype=np.float32), rng.standard_normal(4, dtype=np.float32),
            rng.standard_normal((4, 4), dtype=np.float32), rng.standard_normal((4, 4), dtype=np.float32))
    cases = {}
    if "mindlab" in libs:
        cases.update(_tiny_mindlab(libs["mindlab"], *data))
    cases.update(_tiny_numpy(*data))
    if "torch" in libs:
        cases.update(_tiny_torch(libs["torch"], *data))
    if "jax" in libs:
        cases.update(_tiny_jax(libs["jax"], *data))
    return cases


def bench_tiny(libs, quick):
    number, repeats = (500, 5) if quick else (5000, 15)
    cases = tiny_cases(libs)
    ops_ = ["add", "mul", "matmul", "sum"]
    res = {lib: {op: _median_per_call(fn, number, repeats, warmup=number // 5) * 1e6 for op, fn in fns.items()}
           for lib, fns in cases.items()}
    print(f"\n## (a) eager per-op overhead on tiny float32 tensors (µs/op, median of {repeats} x {number} calls)\n")
    ref = res.get("torch")
    print("| library | " + " | ".join(ops_) + " |")
    print("|---|" + "---:|" * len(ops_))
    for lib, row in res.items():
        cells = []
        for op in ops_:
            if op not in row:
                cells.append("—")
                continue
            ratio = f" ({row[op] / ref[op]:.2f}x)" if ref and op in ref and lib != "torch" else ""
            cells.append(f"{row[op]:.2f}{ratio}")
        print(f"| {lib} | " + " | ".join(cells) + " |")
    if ref:
        print("\n(x) = time relative to PyTorch eager; lower is faster.")
    if "mindlab" in res:
        add = res["mindlab"]["add"]
        print(f"\ntarget: mindlab eager tiny add <= 3 µs/op: {add:.2f} µs -> {'MET' if add <= 3.0 else 'NOT MET'}")
    return res


# ----------------------------------------------------------------------------------------------- (b) MLP step
def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, SIZES[0]), dtype=np.float32)
    y = rng.integers(0, SIZES[-1], BATCH).astype(np.int32)
    ws = [(rng.standard_normal((o, i), dtype=np.float32) * np.float32(np.sqrt(2.0 / i)), np.zeros(o, np.float32))
          for i, o in zip(SIZES[:-1], SIZES[1:])]   # (out, in) weights, like nn.Dense / torch.nn.Linear
    return x, y, ws


def step_numpy():
    """Hand-written forward/backward/Momentum in numpy (float32): the floor for a single-threaded-Python step."""
    x, y, ws = _data()
    params = [p.copy() for wb in ws for p in wb]
    moms = [np.zeros_like(p) for p in params]
    onehot = np.eye(SIZES[-1], dtype=np.float32)[y]

    def step():
        acts, h = [x], x
        for k in range(0, len(params), 2):   # forward, keeping each layer's input
            h = h @ params[k].T + params[k + 1]
            if k + 2 < len(params):
                h = np.maximum(h, 0)
            acts.append(h)
        z = h - h.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(BATCH), y]).mean()
        g = (p - onehot) / BATCH
        grads = [None] * len(params)
        for k in range(len(params) - 2, -1, -2):   # backward
            grads[k] = g.T @ acts[k // 2]
            grads[k + 1] = g.sum(axis=0)
            if k:
                g = (g @ params[k]) * (acts[k // 2] > 0)
        for p_, m_, g_ in zip(params, moms, grads):   # Momentum: v = m v + g; p -= lr v
            m_ *= MOMENTUM
            m_ += g_
            p_ -= LR * m_
        return loss
    return step


def step_torch(torch):
    x, y, ws = _data()
    layers = []
    for k, (w, b) in enumerate(ws):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin] + ([torch.nn.ReLU()] if k + 1 < len(ws) else [])
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(tx), ty)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def step_jax(jax):
    jnp = jax.numpy
    x, y, ws = _data()
    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in ws]
    moms = jax.tree_util.tree_map(jnp.zeros_like, params)

    def loss_fn(params, x, y):
        h = x
        for k, (w, b) in enumerate(params):
            h = h @ w.T + b
            if k + 1 < len(params):
                h = jax.nn.relu(h)
        logp = jax.nn.log_softmax(h)
        return -jnp.take_along_axis(logp, y[:, None], axis=1).mean()

    @jax.jit
    def train(params, moms, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        moms = jax.tree_util.tree_map(lambda m, g: MOMENTUM * m + g, moms, grads)
        params = jax.tree_util.tree_map(lambda p, m: p - LR * m, params, moms)
        return params, moms, loss

    state = [params, moms]
    jx, jy = jnp.asarray(x), jnp.asarray(y)

    def step():
        state[0], state[1], loss = train(state[0], state[1], jx, jy)
        return loss.block_until_ready()
    return step


def step_mindlab(ms, mode=None):
    """nn.Dense/ReLU layers, SoftmaxCrossEntropyWithLogits(sparse), Momentum, TrainOneStepCell; PyNative unless
    ``mode`` says otherwise (bench_graph.py passes GRAPH_MODE: the step is then one compiled graph)."""
    nn = ms.nn
    x, y, ws = _data()

    class MLP(nn.Cell):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Dense(SIZES[0], SIZES[1])
            self.fc2 = nn.Dense(SIZES[1], SIZES[2])
            self.fc3 = nn.Dense(SIZES[2], SIZES[3])
            self.relu = nn.ReLU()

        def construct(self, x):
            return self.fc3(self.relu(self.fc2(self.relu(self.fc1(x)))))

    mode = ms.PYNATIVE_MODE if mode is None else mode
    ms.set_context(mode=mode, device_target="CPU")
    net = MLP()
    for (w, b), layer in zip(ws, (net.fc1, net.fc2, net.fc3)):   # the same start as the other libraries
        layer.weight.set_data(ms.Tensor(w))
        layer.bias.set_data(ms.Tensor(b))
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    opt = nn.Momentum(net.trainable_params(), learning_rate=LR, momentum=MOMENTUM)
    train = nn.TrainOneStepCell(nn.WithLossCell(net, loss_fn), opt)
    train.set_train()
    tx, ty = ms.Tensor(x), ms.Tensor(y)

    def step():
        ms.set_context(mode=mode)     # steps of both modes are timed side by side
        return train(tx, ty).asnumpy()
    return step


def bench_mlp(libs, quick):
    repeats, warmup = (5, 3) if quick else (50, 10)   # warm-up also lets malloc settle on reusing buffers
    makers = {}
    if "mindlab" in libs:
        makers["mindlab PyNative"] = lambda: step_mindlab(libs["mindlab"])
    if "torch" in libs:
        makers["torch eager"] = lambda: step_torch(libs["torch"])
    if "jax" in libs:
        makers["jax jit"] = lambda: step_jax(libs["jax"])
    makers["numpy (by hand)"] = step_numpy
    steps, losses = {}, {}
    for name, make in makers.items():
        try:
            steps[name] = make()
            losses[name] = float(steps[name]())   # also compiles / warms caches
        except Exception as exc:   # a library without the pieces this needs: skip it, say why
            steps.pop(name, None)
            print(f"# {name}: skipped ({type(exc).__name__}: {exc})")
    res = {name: t * 1e3 for name, t in interleaved_medians(steps, repeats, warmup).items()}
    print(f"\n## (b) MLP train step: batch {BATCH}, {'-'.join(map(str, SIZES))}, ReLU, softmax cross-entropy, "
          f"Momentum lr {LR}/{MOMENTUM} (ms/step, median of {repeats}, implementations in alternating blocks)\n")
    ref = res.get("torch eager")
    print("| implementation | ms/step | vs torch eager | first-step loss |")
    print("|---|---:|---:|---:|")
    for name, ms_ in res.items():
        ratio = f"{ms_ / ref:.2f}x" if ref else "—"
        print(f"| {name} | {ms_:.2f} | {ratio} | {losses[name]:.4f} |")
    if ref and "mindlab PyNative" in res:
        r = res["mindlab PyNative"] / ref
        print(f"\ntarget: mindlab PyNative step <= 2x PyTorch eager: {r:.2f}x -> {'MET' if r <= 2.0 else 'NOT MET'}")
    return res


def machine():
    model = platform.processor() or platform.machine()
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        model = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except Exception:
        pass
    return f"{model}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


def cap_xla_threads(n):
    """XLA reads its thread flags when jax starts: call before importing jax."""
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                               f"intra_op_parallelism_threads={n}").strip()


def _cap_threads(n, libs, quiet=False):
    """Cap the thread pools of the libraries loaded now (OpenBLAS, OpenMP, torch's intra-op pool) at n."""
    if "torch" in libs:
        libs["torch"].set_num_threads(n)
    if "mindlab" in libs:   # load MKL now (mindlab loads it at its first GEMM) so that the limit below reaches it
        from mindlab.kernels.cpu import mkl
        mkl.available()
    if "numba" in sys.modules:   # mindlab's parallel numba kernels
        sys.modules["numba"].set_num_threads(min(n, sys.modules["numba"].config.NUMBA_NUM_THREADS))
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        print("# threadpoolctl not installed: BLAS threads are not capped")
        return
    threadpool_limits(limits=n)
    if quiet:
        return
    pools = sorted({f"{p['internal_api']}={p['num_threads']}" for p in threadpool_info()})
    numba = sys.modules.get("numba")
    print(f"# thread pools: {', '.join(pools)}" + (f", numba={numba.get_num_threads()}" if numba else "") +
          f"; XLA: {os.environ.get('XLA_FLAGS', 'default')}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="few repeats: a smoke run, not numbers to record")
    ap.add_argument("--only", choices=["tiny", "mlp"], help="run one part")
    ap.add_argument("--threads", type=int, metavar="N",
                    help="cap every library's compute threads at N (BLAS, OpenMP, torch, XLA); default: their own "
                         "defaults. On a shared machine --threads 1 avoids oversubscribed BLAS threads.")
    args = ap.parse_args(argv)
    if args.threads:
        cap_xla_threads(args.threads)
    libs = {}
    for name in ("mindlab", "torch", "jax"):
        mod = _optional(name)
        if mod is not None:
            libs[name] = mod
    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}"] + \
        [f"{k} {getattr(v, '__version__', '?')}" for k, v in libs.items()]
    print(f"# {datetime.date.today().isoformat()} | {machine()}")
    print(f"# {', '.join(versions)}")
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (others busy on the same cores "
          f"distort every number: BLAS threads in particular)")
    if args.threads:
        _cap_threads(args.threads, libs)
    if "torch" in libs:
        print(f"# torch threads: {libs['torch'].get_num_threads()}")
    if args.only in (None, "tiny"):
        bench_tiny(libs, args.quick)
    if args.only in (None, "mlp"):
        bench_mlp(libs, args.quick)
    print(f"\n# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
