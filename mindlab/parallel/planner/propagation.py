"""``sharding_propagation``: MindSpore's strategy propagation from the strategies the user set.

Seeds are the ops given a strategy with ``P.X().shard(...)`` and the network's inputs, which arrive split along
their first (batch) dimension over the whole mesh as MindSpore's dataset does (``full_batch=False``); constants are
replicated. From the seeds, strategies spread along the edges of the graph like a maximum spanning tree: the next
op (or parameter) to decide is the one joined to the decided part by the largest tensor, and it takes the choice
that costs least *given its decided neighbours* — its own compute and collectives plus the redistribution on the
edges to them — so a layout flows on unchanged wherever an op can take it (ties go to smaller slices). Ops that no
edge reaches take their cheapest choice.

The result depends on the seeds, not on a global optimum (that is what ``dynamic_programming`` and ``ilp`` are
for). With a memory limit the plan is checked against it: if it does not fit, the error says by how much and
suggests strategies or an optimising search mode.
"""
import heapq
import math
import time

from .problem import PlanError

__all__ = ["solve_propagation", "batch_layout_index"]


def batch_layout_index(var):
    """Index of the source choice splitting dim 0 over as many mesh devices as divide it (else replicated)."""
    best, best_key = 0, None
    for k, ch in enumerate(var.choices):
        lay = ch.out_layouts[0]
        if lay.ndim == 0 or any(lay.dim_axes[d] for d in range(1, lay.ndim)):
            continue
        key = (lay.splits[0], -k)
        if best_key is None or key > best_key:
            best, best_key = k, key
    return best


def solve_propagation(problem):
    t0 = time.perf_counter()
    n = len(problem.vars)
    assign = [None] * n
    why = {}
    seeds = []
    for v in problem.vars:
        if v.user_strategy is not None:       # shard() on an op, Cell.shard on a parameter
            assign[v.index] = min(range(len(v.choices)), key=lambda s: (v.choices[s].unary, s))
            why[v.index] = "set by the user with shard()"
            seeds.append(v.index)
        elif v.kind == "input":
            assign[v.index] = batch_layout_index(v)
            why[v.index] = "network input: split along the batch dimension (dataset strategy)"
            seeds.append(v.index)
        elif len(v.choices) == 1:
            assign[v.index] = 0
            why[v.index] = "the only choice"
    heap, counter = [], 0

    def push_neighbours(vi):
        nonlocal counter
        for e in problem.incident(vi):
            other = e.dst if e.src == vi else e.src
            if assign[other] is None:
                nbytes = problem.vars[e.src].out_avals[e.out].nbytes
                counter += 1
                heapq.heappush(heap, (-nbytes, counter, other, vi))

    for vi in range(n):
        if assign[vi] is not None:
            push_neighbours(vi)
    order = []
    while True:
        while heap:
            _, _, vi, came_from = heapq.heappop(heap)
            if assign[vi] is not None:
                continue
            v = problem.vars[vi]
            best, best_key = None, None
            for s, ch in enumerate(v.choices):
                cost = ch.unary
                for e in problem.incident(vi):
                    other = e.dst if e.src == vi else e.src
                    if assign[other] is None:
                        continue
                    cost += e.table[s, assign[other]] if e.src == vi else e.table[assign[other], s]
                key = (cost, ch.cost.memory, s)
                if best_key is None or key < best_key:
                    best, best_key = s, key
            if not math.isfinite(best_key[0]):
                raise PlanError(f"sharding_propagation: {v.name} cannot take a layout compatible with its decided "
                                f"neighbours (an in-place input in another layout)")
            assign[vi] = best
            src = problem.vars[came_from]
            label = f"{src.name} %{src.node.id}" if src.is_op else f"{src.kind} {src.name}"
            why[vi] = f"propagated from {label}"
            order.append(vi)
            push_neighbours(vi)
        rest = [vi for vi in range(n) if assign[vi] is None]
        if not rest:
            break
        vi = rest[0]        # not reached by any edge from a decided variable: its cheapest choice
        v = problem.vars[vi]
        assign[vi] = min(range(len(v.choices)), key=lambda s: (v.choices[s].unary, s))
        why[vi] = "not connected to a decided op: its cheapest choice"
        order.append(vi)
        push_neighbours(vi)
    if problem.memory_limit is not None:
        need = problem.memory(assign)
        if need > problem.memory_limit:
            raise PlanError(f"sharding_propagation: the plan propagated from the given strategies needs {need:.0f} "
                            f"bytes per device, over memory_limit={problem.memory_limit}; set strategies that "
                            f"split the largest parameters (e.g. P.MatMul().shard(...)), or use "
                            f"search_mode='dynamic_programming' or 'ilp', which respect the limit")
    info = {"mode": "sharding_propagation", "seeds": [problem.vars[i].name for i in seeds],
            "user_strategies": sum(1 for v in problem.vars if v.user_strategy is not None),
            "objective": problem.evaluate(assign)[0], "seconds": time.perf_counter() - t0}
    return assign, info, why
