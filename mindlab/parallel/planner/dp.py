"""``dynamic_programming``: MindSpore's elimination-based dynamic programming over the cost graph, exact.

MindSpore's auto-parallel DP (``dp_algo_costmodel``) shrinks the graph of operators step by step, folding the
costs of what it removes into what remains, then reads the strategies back in reverse:

* **edge elimination**: two edges between the same operators become one (their cost tables add);
* **merge elimination**: an operator with one neighbour is folded into it (for each of the neighbour's strategies,
  the best of its own);
* **op elimination**: an operator on a chain (two neighbours) becomes an edge between them (for each pair of their
  strategies, the best of its own);
* **contract elimination**: an operator with more neighbours becomes a table over all of them (MindSpore handles
  the common star and triangle shapes; here any number, as long as the table stays small).

Each step is the elimination of one variable of the cost function ``sum of choice costs + sum of edge costs``
(dynamic programming over the graph's tree decomposition), so the result is the exact optimum — the order picks
the variable whose elimination makes the smallest table, which is the chain/tree order where the graph is one. If a
table would exceed ``MAX_TABLE`` entries, the best-connected variable would have to be fixed to its locally best
choice (an approximation): ``solve_dp`` checks that first on the neighbour sets alone (``needs_approximation``,
no tables built) and then hands the problem to the exact ILP instead, recording
``solved_by="ilp"`` in the plan's search info, so a DP plan is always the optimum where no memory limit binds.

A memory limit is honoured Lagrangian-style: the memory term gets a price, raised by bisection until the optimum
fits (the plan is then the cheapest found that fits).
"""
import math
import time

import numpy as np

from .problem import PlanError, TIE_BREAK

__all__ = ["solve_dp", "MAX_TABLE"]

MAX_TABLE = 4_000_000


def _eliminate(problem, price, stop_at_approximation=False):
    """Exact minimisation of unary (+ price * memory) + pairwise costs; returns (assignment, stats) — (None, stats)
    when ``stop_at_approximation`` and the elimination would have to approximate."""
    n = len(problem.vars)
    sizes = [len(v.choices) for v in problem.vars]
    factors = []          # [scope (sorted tuple), array]
    for v in problem.vars:
        factors.append(((v.index,), np.array([c.unary + price * c.cost.memory for c in v.choices])))
    stats = {"edge": 0, "merge": 0, "op": 0, "contract": 0, "final": 0, "approximations": 0, "largest_table": 0}
    for e in problem.edges:
        if e.src < e.dst:
            factors.append(((e.src, e.dst), e.table))
        else:
            factors.append(((e.dst, e.src), e.table.T))
    # edge elimination: factors over the same scope add up
    merged = {}
    for scope, arr in factors:
        if scope in merged:
            merged[scope] = merged[scope] + arr
            stats["edge"] += len(scope) == 2
        else:
            merged[scope] = arr
    factors = merged
    by_var = {i: set() for i in range(n)}
    for scope in factors:
        for w in scope:
            by_var[w].add(scope)
    trace = []
    fixed = {}
    alive = set(range(n))

    def neighbours(v):
        out = set()
        for scope in by_var[v]:
            out.update(scope)
        out.discard(v)
        return out

    def drop(scope):
        arr = factors.pop(scope)
        for w in scope:
            by_var[w].discard(scope)
        return arr

    def add(scope, arr):
        if scope in factors:
            factors[scope] = factors[scope] + arr
            if len(scope) == 2:
                stats["edge"] += 1
        else:
            factors[scope] = arr
            for w in scope:
                by_var[w].add(scope)

    while alive:
        best = None
        for v in alive:
            nb = neighbours(v)
            size = math.prod(sizes[w] for w in nb) * sizes[v]
            key = (size, len(nb), v)
            if best is None or key < best[0]:
                best = (key, v, nb)
        (size, deg, _), v, nb = best
        if size > MAX_TABLE:
            if stop_at_approximation:
                stats["approximations"] += 1
                return None, stats
            # too large to tabulate: fix the best-connected variable to its locally best choice
            w = max(alive, key=lambda u: (len(neighbours(u)), -u))
            score = np.zeros(sizes[w])
            for scope in list(by_var[w]):
                arr = factors[scope]
                ax = scope.index(w)
                other = tuple(k for k in range(len(scope)) if k != ax)
                score += arr.min(axis=other) if other else arr
            s = int(np.argmin(score))
            fixed[w] = s
            for scope in list(by_var[w]):
                arr = drop(scope)
                ax = scope.index(w)
                add(tuple(u for u in scope if u != w), np.take(arr, s, axis=ax))
            alive.discard(w)
            stats["approximations"] += 1
            continue
        stats["largest_table"] = max(stats["largest_table"], size)
        stats[{0: "final", 1: "merge", 2: "op"}.get(deg, "contract")] += 1
        scope_all = tuple(sorted(nb | {v}))
        total = np.zeros([sizes[w] for w in scope_all])
        for scope in list(by_var[v]):
            arr = drop(scope)
            total = total + arr.reshape([sizes[w] if w in scope else 1 for w in scope_all])
        ax = scope_all.index(v)
        rest = tuple(w for w in scope_all if w != v)
        trace.append((v, rest, np.argmin(total, axis=ax)))
        add(rest, np.min(total, axis=ax))
        alive.discard(v)
    assign = [0] * n
    assign_known = dict(fixed)
    for v, rest, arg in reversed(trace):
        assign_known[v] = int(arg[tuple(assign_known[w] for w in rest)]) if rest else int(arg)
    for v, s in assign_known.items():
        assign[v] = s
    return assign, stats


def needs_approximation(problem):
    """Whether ``_eliminate``'s order would meet a table over ``MAX_TABLE`` entries (the same greedy order, on the
    variables' neighbour sets only: no tables are built)."""
    sizes = [len(v.choices) for v in problem.vars]
    nb = {v.index: set() for v in problem.vars}
    for e in problem.edges:
        if e.src != e.dst:
            nb[e.src].add(e.dst)
            nb[e.dst].add(e.src)
    alive = set(nb)
    while alive:
        size, v = min((math.prod(sizes[w] for w in nb[u]) * sizes[u], len(nb[u]), u) for u in alive)[0::2]
        if size > MAX_TABLE:
            return True
        for w in nb[v]:
            nb[w].discard(v)
            nb[w].update(nb[v] - {w})
        alive.discard(v)
        del nb[v]
    return False


def solve_dp(problem, fallback=True):
    """(assignment, search info) minimising the problem's cost, within its memory limit. Where the elimination
    would need approximations the exact ILP solves the problem instead (``fallback``; ``info["solved_by"]`` says
    which ran, ``info["exact"]`` whether the result is the proven optimum)."""
    t0 = time.perf_counter()
    if fallback and needs_approximation(problem):
        assign, stats = None, {"approximations": 1}
    else:
        assign, stats = _eliminate(problem, 0.0, stop_at_approximation=fallback)
    if assign is None:
        # the elimination cannot stay exact (a table over MAX_TABLE entries): solve the same problem exactly with
        # the ILP instead, and say so
        from .ilp import solve_ilp
        assign, ilp_info = solve_ilp(problem)
        info = {"mode": "dynamic_programming", "eliminations": stats, "solved_by": "ilp",
                "exact": bool(ilp_info["optimal"]), "objective": ilp_info["objective"], "ilp": ilp_info,
                "tie_break_per_byte": TIE_BREAK, "seconds": time.perf_counter() - t0,
                "why": f"the elimination would need an approximation (a table over {MAX_TABLE} entries); the exact "
                       f"ILP solved the problem instead"}
        return assign, info
    limit = problem.memory_limit
    runs, price = 1, 0.0
    if limit is not None and problem.memory(assign) > limit:
        # price memory until the optimum fits: seconds per byte, doubled then bisected
        lo, hi = 0.0, 1e-12
        while True:
            cand, _ = _eliminate(problem, hi)
            runs += 1
            if problem.memory(cand) <= limit:
                break
            if hi > 1.0:
                floor = problem.memory(cand)
                raise PlanError(f"dynamic_programming: no plan fits memory_limit={limit} bytes per device; the "
                                f"smallest found needs {floor:.0f} bytes (split the large tensors further: a "
                                f"larger mesh, or strategies with more pieces)")
            lo, hi = hi, hi * 4
        best = cand
        for _ in range(30):
            mid = (lo + hi) / 2
            cand, _ = _eliminate(problem, mid)
            runs += 1
            if problem.memory(cand) <= limit:
                best, hi = cand, mid
            else:
                lo = mid
            if hi - lo <= 1e-3 * hi:
                break
        assign, price = best, hi
    objective = problem.evaluate(assign)[0]
    info = {"mode": "dynamic_programming", "eliminations": stats, "memory_price": price, "runs": runs,
            "exact": stats["approximations"] == 0 and price == 0.0, "objective": objective,
            "tie_break_per_byte": TIE_BREAK, "solved_by": "elimination", "seconds": time.perf_counter() - t0}
    if price:
        info["why_inexact"] = ("the memory limit is met by pricing memory (Lagrangian bisection): the plan fits, "
                               "but is not guaranteed the cheapest that fits (search_mode='ilp' is)")
    return assign, info
