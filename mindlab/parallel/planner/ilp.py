"""``ilp``: the optimal intra-operator plan as an integer linear program (Alpa's formulation), solved by HiGHS
through ``scipy.optimize.milp``.

* one binary ``x[v, s]`` per variable ``v`` (an op or a source tensor) and choice ``s``, with ``sum_s x[v, s] = 1``;
* the redistribution cost of an edge ``u -> v`` is quadratic in the choices (``x[u, s] * x[v, t]``); it is
  linearised with continuous ``e[s, t] >= 0`` tied to both sides: ``sum_t e[s, t] = x[u, s]`` and
  ``sum_s e[s, t] = x[v, t]`` — with binary ``x`` these force ``e`` to the product. Forbidden pairs (an in-place
  input in another layout) get ``e[s, t] = 0``. An edge whose one end has a single choice folds into the other
  end's costs;
* the objective is every chosen cost (compute + communication) plus every edge cost, in microseconds (HiGHS
  tolerances are absolute), with the tie-breaking memory term;
* the memory limit is one linear constraint: ``sum memory[v, s] * x[v, s] <= limit``;
* before the model is built, ``reduce.py`` applies exact reductions (dominated choices dropped, chains and leaves
  eliminated, separable tables folded), so HiGHS sees only the part of the graph with joins; the optimum is the
  same (``presolve=False`` builds the full model, which the tests compare against).
"""
import math
import time

import numpy as np

from .problem import PlanError, TIE_BREAK
from .reduce import Reduced, reduce

__all__ = ["solve_ilp", "SCALE", "TIME_LIMIT"]

SCALE = 1e6          # seconds -> microseconds
TIME_LIMIT = 120.0   # seconds HiGHS may search


def solve_ilp(problem, time_limit=TIME_LIMIT, presolve=True):
    """(assignment, search info): the optimum of the problem, within its memory limit. ``presolve`` first applies
    the exact reductions of ``reduce.py`` (without it, the ILP has a variable per choice of every variable)."""
    from scipy.optimize import milp, LinearConstraint, Bounds
    from scipy.sparse import coo_matrix
    t0 = time.perf_counter()
    limit = problem.memory_limit
    red = reduce(problem, eliminate=limit is None) if presolve else Reduced(problem)
    t_reduce = time.perf_counter() - t0
    order = red.vars
    offset = {}
    nx = 0
    for v in order:
        offset[v] = nx
        nx += len(red.keep[v])
    c = np.zeros(nx)
    mem = np.zeros(nx)
    for v in order:
        c[offset[v]:offset[v] + len(red.keep[v])] = red.unary[v]
        mem[offset[v]:offset[v] + len(red.keep[v])] = red.memory[v]
    rows, cols, vals, lb, ub = [], [], [], [], []
    row = 0
    for v in order:       # one choice per variable
        for s in range(len(red.keep[v])):
            rows.append(row), cols.append(offset[v] + s), vals.append(1.0)
        lb.append(1.0), ub.append(1.0)
        row += 1
    e_cost, e_upper, constant = [], [], red.constant
    ne = 0
    for (u, w), t in sorted(red.pairs.items()):
        nu, nv = t.shape
        if nu == 1 or nv == 1:       # fold into the other end (or into a constant)
            if nu == 1 and nv == 1:
                if not math.isfinite(t[0, 0]):
                    raise PlanError(f"ilp: an in-place input cannot take its stored layout ({problem.vars[w].name})")
                constant += t[0, 0]
                continue
            vec, base = (t[0, :], offset[w]) if nu == 1 else (t[:, 0], offset[u])
            for k, val in enumerate(vec):
                if math.isfinite(val):
                    c[base + k] += val
                else:        # forbid: x = 0 through an upper bound row
                    rows.append(row), cols.append(base + k), vals.append(1.0)
                    lb.append(0.0), ub.append(0.0)
                    row += 1
            continue
        first = nx + ne
        for s in range(nu):          # sum_t e[s, t] - x[u, s] = 0
            for j in range(nv):
                rows.append(row), cols.append(first + s * nv + j), vals.append(1.0)
            rows.append(row), cols.append(offset[u] + s), vals.append(-1.0)
            lb.append(0.0), ub.append(0.0)
            row += 1
        for j in range(nv):          # sum_s e[s, t] - x[v, t] = 0
            for s in range(nu):
                rows.append(row), cols.append(first + s * nv + j), vals.append(1.0)
            rows.append(row), cols.append(offset[w] + j), vals.append(-1.0)
            lb.append(0.0), ub.append(0.0)
            row += 1
        flat = t.reshape(-1)
        finite = np.isfinite(flat)
        e_cost.append(np.where(finite, flat, 0.0))
        e_upper.append(np.where(finite, 1.0, 0.0))
        ne += t.size
    ntot = nx + ne
    if limit is not None:
        for k in range(nx):
            if mem[k]:
                rows.append(row), cols.append(k), vals.append(mem[k] / limit)
        lb.append(-np.inf), ub.append(1.0)
        row += 1
    if nx == 0:                  # the reductions solved it
        local, status, message, fun, gap = {}, 0, "solved by the exact reductions (no variables left)", 0.0, 0.0
    else:
        cost = np.concatenate([c] + e_cost) * SCALE if e_cost else c * SCALE
        upper = np.concatenate([np.ones(nx)] + e_upper) if e_upper else np.ones(nx)
        A = coo_matrix((vals, (rows, cols)), shape=(row, ntot)).tocsr()
        integrality = np.concatenate([np.ones(nx), np.zeros(ne)])
        res = milp(cost, constraints=LinearConstraint(A, lb, ub), integrality=integrality,
                   bounds=Bounds(np.zeros(ntot), upper),
                   options={"time_limit": float(time_limit), "mip_rel_gap": 1e-9, "disp": False})
        if res.x is None:
            if limit is not None:
                floor = sum(min(ch.cost.memory for ch in v.choices) for v in problem.vars)
                raise PlanError(f"ilp: no plan fits memory_limit={limit} bytes per device (HiGHS: "
                                f"{res.message}); even splitting every tensor as far as each allows needs about "
                                f"{floor:.0f} bytes")
            raise PlanError(f"ilp: HiGHS found no plan: {res.message}")
        local = {v: int(np.argmax(res.x[offset[v]:offset[v] + len(red.keep[v])])) for v in order}
        status, message, fun = int(res.status), str(res.message), float(res.fun)
        gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    assign = red.expand(local)
    info = {"mode": "ilp", "solver": "HiGHS (scipy.optimize.milp)", "status": status, "message": message,
            "presolve": dict(red.size(), seconds=t_reduce) if presolve else None,
            "binary_variables": nx, "edge_variables": ne, "constraints": row,
            "objective": fun / SCALE + constant, "mip_gap": gap,
            "optimal": status == 0, "tie_break_per_byte": TIE_BREAK, "seconds": time.perf_counter() - t0}
    return assign, info
