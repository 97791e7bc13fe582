"""Auto-parallel strategy search time: a 200-op graph planned for 64 devices, per search mode.

    .venv/bin/python benchmarks/bench_planner.py [--repeats 3]

The graph is the forward pass of a deep MLP (Dense + ReLU layers of width 256 from nn, batch 512: 3 ops per layer,
67 layers = 200 ops), compiled as GRAPH_MODE does and planned on a 64-device mesh (8 x 8 and 64). Reported per
search mode: the problem build (every op's strategies priced, every edge's redistribution table — cached across
repeats as it is in one session) and the search itself, the best of ``--repeats`` runs; the modelled cost of the
plan found, and that of data parallelism. The planner has no counterpart in numpy / PyTorch / JAX (they do not
search shardings), so the target is absolute: the search < 1 s (issue 5). Results go to docs/benchmarks.md.
"""
import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import mindlab as ms  # noqa: E402
from mindlab import nn, Tensor  # noqa: E402
from mindlab.parallel import plan_graph, PROFILES  # noqa: E402
from mindlab.parallel.planner import unfused_graph  # noqa: E402

WIDTH, BATCH = 256, 512


class Deep(nn.Cell):
    def __init__(self, layers):
        super().__init__()
        self.layers = nn.CellList([nn.Dense(WIDTH, WIDTH) for _ in range(layers)])
        self.relu = nn.ReLU()

    def construct(self, x):
        for layer in self.layers:
            x = self.relu(layer(x))
        return x


def graph_with_ops(target_ops=200):
    ms.set_context(mode=ms.GRAPH_MODE)
    layers = 1
    while True:
        net = Deep(layers)
        x = Tensor(np.zeros((BATCH, WIDTH), np.float32))
        g = unfused_graph(net.compiled(x))
        ops = sum(1 for n in g.nodes if getattr(n.op, "shard", None) is not None)
        if ops >= target_ops:
            return g, ops, layers
        layers = max(layers + 1, int(layers * target_ops / max(ops, 1)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    g, ops, layers = graph_with_ops()
    prof = PROFILES["cpu"]
    print(f"# planner: {ops}-op graph ({layers} Dense+ReLU layers, width {WIDTH}, batch {BATCH}) on 64 devices; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, {time.strftime('%Y-%m-%d')}")
    print("| mesh | search mode | ops | problem build (s) | search (s) | plan cost (us) | data parallel (us) |")
    print("|---|---|---|---|---|---|---|")
    for mesh in [(8, 8), (64,)]:
        dp_cost = plan_graph(g, mesh=mesh, parallel_mode="data_parallel", profile=prof).cost["total"]
        for mode in ("sharding_propagation", "dynamic_programming", "ilp"):
            build = search = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                p = plan_graph(g, mesh=mesh, search_mode=mode, parallel_mode="auto_parallel", profile=prof)
                total = time.perf_counter() - t0
                b = p.info["build_seconds"]
                build, search = min(build, b), min(search, total - b)
            print(f"| {' x '.join(map(str, mesh))} | {mode} | {p.info['problem']['ops']} | {build:.3f} | "
                  f"{search:.3f} | {p.cost['total'] * 1e6:.1f} | {dp_cost * 1e6:.1f} |", flush=True)


if __name__ == "__main__":
    main()
