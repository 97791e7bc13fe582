"""Model.train throughput on the MLP / digits workload, side by side with a plain PyTorch training loop.

    .venv/bin/python benchmarks/bench_train.py [--threads 1] [--epochs 10]

The workload: scikit-learn's digits (1,347 training images after mindlab.dataset.load_digits' 25 % split), a
64-256-256-10 ReLU MLP, softmax cross-entropy, Momentum (lr 0.05, 0.9), batch 64, shuffled every epoch. Timed:

* mindlab ``Model.train`` (dataset pipeline + compiled or eager train step + callbacks machinery), PyNative and
  GRAPH_MODE, no progress bar;
* mindlab's bare step loop (``TrainOneStepCell`` over pre-sliced numpy batches), to show what ``Model`` adds;
* PyTorch: the plain loop a PyTorch user writes (``torch.randperm`` shuffle, slicing, ``zero_grad`` / ``backward``
  / ``step``), same sizes and optimizer.

Each is run once for warm-up (compiles, allocator), then timed over ``--epochs`` epochs; reported as samples per
second and as the ratio of times to the PyTorch loop (lower is better). Results go to docs/benchmarks.md.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_eager as be   # noqa: E402  (machine description, optional imports, thread capping)

HIDDEN, BATCH, LR, MOMENTUM = 256, 64, 0.05, 0.9


def digits():
    from mindlab.dataset import load_digits
    (x, y), _ = load_digits(test_size=0.25, seed=0)
    return x.astype(np.float32), y.astype(np.int32)


def mindlab_model(ms, mode, x, y):
    from mindlab import nn
    from mindlab.dataset import NumpySlicesDataset
    from mindlab.train import Model
    ms.set_context(mode=mode)
    ms.set_seed(0)
    net = nn.SequentialCell([nn.Dense(64, HIDDEN), nn.ReLU(), nn.Dense(HIDDEN, HIDDEN), nn.ReLU(),
                             nn.Dense(HIDDEN, 10)])
    model = Model(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                  nn.Momentum(net.trainable_params(), LR, MOMENTUM))
    data = NumpySlicesDataset({"x": x, "y": y}, shuffle=True).batch(BATCH)
    return lambda epochs: model.train(epochs, data, progress_bar=False)


def mindlab_loop(ms, mode, x, y):
    from mindlab import nn, Tensor
    ms.set_context(mode=mode)
    ms.set_seed(0)
    net = nn.SequentialCell([nn.Dense(64, HIDDEN), nn.ReLU(), nn.Dense(HIDDEN, HIDDEN), nn.ReLU(),
                             nn.Dense(HIDDEN, 10)])
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True,
                                                                                     reduction="mean")),
                               nn.Momentum(net.trainable_params(), LR, MOMENTUM))
    step.set_train()
    rng = np.random.default_rng(0)

    def run(epochs):
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for s in range(0, len(x), BATCH):
                idx = order[s:s + BATCH]
                step(Tensor(x[idx]), Tensor(y[idx]))
    return run


def torch_loop(torch, x, y):
    torch.manual_seed(0)
    nn = torch.nn
    net = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN), nn.ReLU(),
                        nn.Linear(HIDDEN, 10))
    opt = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    loss_fn = nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y).long()

    def run(epochs):
        for _ in range(epochs):
            order = torch.randperm(len(tx))
            for s in range(0, len(tx), BATCH):
                idx = order[s:s + BATCH]
                opt.zero_grad()
                loss_fn(net(tx[idx]), ty[idx]).backward()
                opt.step()
    return run


def timed(run, epochs):
    run(1)                                 # warm-up: compile, allocate
    t0 = time.perf_counter()
    run(epochs)
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, metavar="N", help="cap every library's compute threads at N")
    args = ap.parse_args(argv)
    libs = {name: mod for name in ("mindlab", "torch") if (mod := be._optional(name)) is not None}
    ms = libs["mindlab"]
    print(f"# {be.machine()}")
    print(f"# load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.threads:
        be._cap_threads(args.threads, libs)
    x, y = digits()
    n = args.epochs * len(x)
    cases = {
        "mindlab Model.train, PyNative": mindlab_model(ms, ms.PYNATIVE_MODE, x, y),
        "mindlab Model.train, GRAPH_MODE": mindlab_model(ms, ms.GRAPH_MODE, x, y),
        "mindlab step loop, PyNative": mindlab_loop(ms, ms.PYNATIVE_MODE, x, y),
        "mindlab step loop, GRAPH_MODE": mindlab_loop(ms, ms.GRAPH_MODE, x, y),
    }
    if "torch" in libs:
        cases["PyTorch loop (eager)"] = torch_loop(libs["torch"], x, y)
    times = {name: timed(run, args.epochs) for name, run in cases.items()}
    ref = times.get("PyTorch loop (eager)")
    print(f"\n{'case':36s} {'samples/s':>10s} {'ms/epoch':>9s} {'x PyTorch':>10s}")
    for name, t in times.items():
        ratio = f"{t / ref:10.2f}" if ref else f"{'-':>10s}"
        print(f"{name:36s} {n / t:10.0f} {1e3 * t / args.epochs:9.1f} {ratio}")
    print(f"\n# load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
