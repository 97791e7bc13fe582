"""Auto-parallel strategy search time: a 200-op graph planned for 64 devices, per search mode.

    .venv/bin/python benchmarks/bench_planner.py [--repeats 5]

The graph is the forward pass of a deep MLP (Dense + ReLU layers of width 256 from nn, batch 512: 3 ops per layer,
67 layers = 200 ops), compiled as GRAPH_MODE does and planned on a 64-device mesh (8 x 8 and 64). Reported per
search mode: the problem build (every op's strategies priced, every edge's redistribution table — cached across
repeats as it is in one session) and the search itself, the median of ``--repeats`` runs (the machine is shared);
the modelled cost of the plan found, and that of data parallelism. The ILP runs with its exact presolve (the
default) and on the full model; a transformer block training step (a graph with joins, which the presolve cannot
eliminate entirely) shows the ILP on what is left. The planner has no counterpart in numpy / PyTorch / JAX (they do not
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
from mindlab.parallel.planner.ilp import solve_ilp  # noqa: E402

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


def block_step_graph():
    """The training step (forward, backward, momentum) of a transformer block (d=32, 8 heads, MLP 64): a graph with
    joins (residuals, attention, each weight used by forward, backward and optimizer), unlike the deep MLP chain."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from tests.parallel.nets import TransformerBlock, train_step, data
    x, y = data(8, None, 10, image=(8, 32))
    _, step = train_step(lambda: TransformerBlock(32, 8, 64))
    return unfused_graph(step.compiled(x, y))


def _row(name, mesh, label, p, build, search, left, cost, dp_cost):
    print(f"| {name} | {' x '.join(map(str, mesh))} | {label} | {p.info['problem']['ops']} | {build:.3f} | "
          f"{search:.3f} | {left} | {cost * 1e6:.1f} | {dp_cost * 1e6:.1f} |", flush=True)


def _median(xs):
    return float(np.median(xs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    g, ops, layers = graph_with_ops()
    prof = PROFILES["cpu"]
    load0 = os.getloadavg()[0]
    print(f"# planner: {ops}-op graph ({layers} Dense+ReLU layers, width {WIDTH}, batch {BATCH}) on 64 devices, "
          f"and a transformer block training step; {platform.processor() or platform.machine()}, {os.cpu_count()} "
          f"cpus, {time.strftime('%Y-%m-%d %H:%M')}; median of {args.repeats}; load average {load0:.1f} at start")
    print("| graph | mesh | search mode | ops | problem build (s) | search (s) | ILP binaries left | plan cost (us) | "
          "data parallel (us) |")
    print("|---|---|---|---|---|---|---|---|---|")
    graphs = [("MLP chain", g, [(8, 8), (64,)]), ("block step", block_step_graph(), [(8, 8)])]
    modes = ["sharding_propagation", "dynamic_programming", "ilp"]
    for name, graph, meshes in graphs:
        for mesh in meshes:
            dp_cost = plan_graph(graph, mesh=mesh, parallel_mode="data_parallel", profile=prof).cost["total"]
            for mode in modes:
                builds, searches = [], []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    p = plan_graph(graph, mesh=mesh, search_mode=mode, parallel_mode="auto_parallel", profile=prof)
                    total = time.perf_counter() - t0
                    builds.append(p.info["build_seconds"])
                    searches.append(total - p.info["build_seconds"])
                label = mode + (" → ilp" if p.info.get("solved_by") == "ilp" else "")
                left = p.info.get("binary_variables", p.info.get("ilp", {}).get("binary_variables", ""))
                _row(name, mesh, label, p, _median(builds), _median(searches), left, p.cost["total"], dp_cost)
            searches = []          # the ILP on the full model (no presolve), same problem
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                assign, info = solve_ilp(p.problem, presolve=False)
                searches.append(time.perf_counter() - t0)
            _, compute, comm, _ = p.problem.evaluate(assign)
            _row(name, mesh, "ilp, no presolve", p, _median(builds), _median(searches), info["binary_variables"],
                 compute + comm, dp_cost)
    print(f"# load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
