"""The exact searches agree with brute force: the ILP with its presolve (``planner/reduce.py``: dominated choices,
chain / leaf elimination, separable tables), the ILP on the full model, and the dynamic programming (which hands
the problem to the ILP where its elimination would need approximations) all find the optimum of random cost
graphs (trees, cycles, multi-edges, forbidden pairs, memory limits) that brute force enumerates."""
import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest

from mindlab.parallel.planner import dp as dp_mod
from mindlab.parallel.planner.dp import solve_dp
from mindlab.parallel.planner.ilp import solve_ilp
from mindlab.parallel.planner.problem import Problem, Edge, PlanError, ChoiceCost, Choice
from mindlab.parallel.planner.reduce import reduce


class FakeVar(SimpleNamespace):
    pass


def random_problem(seed, n=7, k=3, extra_edges=4, memory_limit=None, forbid=0.0, separable=0.2, duplicate=0.2):
    """A Problem-shaped cost graph: n variables of up to k choices on a random tree plus extra edges (cycles and
    repeated pairs), tables with some forbidden (inf) pairs, some separable tables and duplicated choices."""
    rng = np.random.default_rng(seed)
    vars_ = []
    for i in range(n):
        m = int(rng.integers(1, k + 1))
        choices = [Choice((), cost=ChoiceCost(float(rng.uniform(0, 1e-3)), float(rng.uniform(0, 1e-3)),
                                              float(rng.integers(1, 100)))) for _ in range(m)]
        if m > 1 and rng.random() < duplicate:
            choices[-1] = Choice((), cost=choices[0].cost)           # a symmetric twin
        vars_.append(FakeVar(index=i, choices=choices, name=f"v{i}", kind="op", is_op=True))
    pairs = [(int(rng.integers(0, i)), i) for i in range(1, n)]
    pairs += [tuple(sorted(rng.choice(n, 2, replace=False).tolist())) for _ in range(extra_edges)]
    edges = []
    for a, b in pairs:
        if rng.random() < 0.5:
            a, b = b, a
        na, nb = len(vars_[a].choices), len(vars_[b].choices)
        if rng.random() < separable:
            t = rng.uniform(0, 1e-3, (na, 1)) + rng.uniform(0, 1e-3, (1, nb))
        else:
            t = rng.uniform(0, 1e-3, (na, nb))
        t[rng.random((na, nb)) < forbid] = math.inf
        edges.append(Edge(a, 0, b, 0, 4, table=t))
    p = Problem.__new__(Problem)
    p.vars, p.edges, p.memory_limit = vars_, edges, memory_limit
    return p


def brute_force(p):
    best, best_assign = math.inf, None
    for assign in itertools.product(*[range(len(v.choices)) for v in p.vars]):
        if p.memory_limit is not None and p.memory(assign) > p.memory_limit:
            continue
        obj = p.evaluate(assign)[0]
        if obj < best:
            best, best_assign = obj, assign
    return best, best_assign


@pytest.mark.parametrize("seed", range(40))
def test_ilp_with_and_without_presolve_and_dp_equal_brute_force(seed):
    # odd seeds: sparse (the reductions eliminate most of it); even seeds: dense (an ILP core is left)
    extra = 4 + seed % 9 if seed % 2 else 16 + seed % 8
    p = random_problem(seed, n=8, extra_edges=extra, forbid=0.1 if seed % 3 == 0 else 0.0)
    best, _ = brute_force(p)
    if not math.isfinite(best):
        pytest.skip("every assignment forbidden")
    for solve in (lambda: solve_ilp(p), lambda: solve_ilp(p, presolve=False), lambda: solve_dp(p)):
        assign, info = solve()
        assert p.evaluate(assign)[0] == pytest.approx(best, rel=1e-9, abs=1e-15), info


def test_dense_graphs_leave_an_ilp_core_after_the_reductions():
    left = [solve_ilp(random_problem(s, n=8, extra_edges=16 + s % 8))[1]["binary_variables"] for s in range(0, 40, 2)]
    assert sum(1 for b in left if b > 0) >= 5, left


@pytest.mark.parametrize("seed", range(15))
def test_presolve_keeps_the_optimum_under_a_memory_limit(seed):
    p = random_problem(seed, n=6)
    free = brute_force(p)[1]
    p.memory_limit = 0.8 * p.memory(free)             # binding: the unconstrained optimum does not fit
    best, _ = brute_force(p)
    if not math.isfinite(best):
        with pytest.raises(PlanError):
            solve_ilp(p)
        return
    assign, _ = solve_ilp(p)
    assert p.memory(assign) <= p.memory_limit
    assert p.evaluate(assign)[0] == pytest.approx(best, rel=1e-9, abs=1e-15)


def test_reductions_drop_twins_eliminate_chains_and_fold_separable_tables():
    # a chain 0 - 1 - 2 with a separable table and a twin choice: everything folds away exactly
    def var(i, costs):
        return FakeVar(index=i, choices=[Choice((), cost=ChoiceCost(c, 0.0, 1.0)) for c in costs], name=f"v{i}",
                       kind="op", is_op=True)
    p = Problem.__new__(Problem)
    p.vars = [var(0, [1.0, 2.0]), var(1, [0.5, 0.5, 0.7]), var(2, [0.0, 0.1])]
    p.edges = [Edge(0, 0, 1, 0, 4, table=np.array([[0.0, 0.0, 3.0], [1.0, 1.0, 0.0]])),
               Edge(1, 0, 2, 0, 4, table=np.array([[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]) + 0.25)]
    p.memory_limit = None
    r = reduce(p)
    assert r.stats["dominated"] >= 1                   # v1's choice 1 is choice 0's twin
    assert r.size()["variables"] == 0 and r.stats["eliminated"] == 3
    assign, info = solve_ilp(p)
    assert info["binary_variables"] == 0 and info["message"].startswith("solved by the exact reductions")
    assert p.evaluate(assign)[0] == pytest.approx(brute_force(p)[0])


def test_dp_hands_an_approximate_elimination_to_the_ilp(monkeypatch):
    p = random_problem(3, n=8, k=3, extra_edges=10)
    best, _ = brute_force(p)
    monkeypatch.setattr(dp_mod, "MAX_TABLE", 4)       # force the elimination to need approximations
    assign, info = solve_dp(p)
    assert info["solved_by"] == "ilp" and info["exact"] and info["eliminations"]["approximations"] > 0
    assert "approximation" in info["why"]
    assert p.evaluate(assign)[0] == pytest.approx(best, rel=1e-9)
    assign, info = solve_dp(p, fallback=False)          # the elimination alone: flagged, never better
    assert not info["exact"] and info["solved_by"] == "elimination"
    assert p.evaluate(assign)[0] >= best * (1 - 1e-12)
