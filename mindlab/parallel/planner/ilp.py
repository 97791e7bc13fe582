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
* the memory limit is one linear constraint: ``sum memory[v, s] * x[v, s] <= limit``.
"""
import math
import time

import numpy as np

from .problem import PlanError, TIE_BREAK

__all__ = ["solve_ilp", "SCALE", "TIME_LIMIT"]

SCALE = 1e6          # seconds -> microseconds
TIME_LIMIT = 120.0   # seconds HiGHS may search


def solve_ilp(problem, time_limit=TIME_LIMIT):
    from scipy.optimize import milp, LinearConstraint, Bounds
    from scipy.sparse import coo_matrix
    t0 = time.perf_counter()
    nvars = len(problem.vars)
    offset = np.zeros(nvars + 1, dtype=np.int64)
    for v in problem.vars:
        offset[v.index + 1] = offset[v.index] + len(v.choices)
    nx = int(offset[-1])
    c = np.zeros(nx)
    mem = np.zeros(nx)
    for v in problem.vars:
        for s, ch in enumerate(v.choices):
            c[offset[v.index] + s] = ch.unary
            mem[offset[v.index] + s] = ch.cost.memory
    rows, cols, vals, lb, ub = [], [], [], [], []
    row = 0
    for v in problem.vars:       # one choice per variable
        for s in range(len(v.choices)):
            rows.append(row), cols.append(offset[v.index] + s), vals.append(1.0)
        lb.append(1.0), ub.append(1.0)
        row += 1
    e_cost, e_upper, constant = [], [], 0.0
    ne = 0
    for e in problem.edges:
        t = e.table
        nu, nv = t.shape
        if nu == 1 or nv == 1:       # fold into the other end (or into a constant)
            if nu == 1 and nv == 1:
                if not math.isfinite(t[0, 0]):
                    raise PlanError(f"ilp: an in-place input cannot take its stored layout ({e})")
                constant += t[0, 0]
                continue
            if nu == 1:
                vec, base = t[0, :], offset[e.dst]
            else:
                vec, base = t[:, 0], offset[e.src]
            for k, val in enumerate(vec):
                if math.isfinite(val):
                    c[base + k] += val
                else:
                    c[base + k] += 0.0
                    # forbid: x = 0 through an upper bound row
                    rows.append(row), cols.append(base + k), vals.append(1.0)
                    lb.append(0.0), ub.append(0.0)
                    row += 1
            continue
        first = nx + ne
        for s in range(nu):          # sum_t e[s, t] - x[u, s] = 0
            for j in range(nv):
                rows.append(row), cols.append(first + s * nv + j), vals.append(1.0)
            rows.append(row), cols.append(offset[e.src] + s), vals.append(-1.0)
            lb.append(0.0), ub.append(0.0)
            row += 1
        for j in range(nv):          # sum_s e[s, t] - x[v, t] = 0
            for s in range(nu):
                rows.append(row), cols.append(first + s * nv + j), vals.append(1.0)
            rows.append(row), cols.append(offset[e.dst] + j), vals.append(-1.0)
            lb.append(0.0), ub.append(0.0)
            row += 1
        flat = t.reshape(-1)
        finite = np.isfinite(flat)
        e_cost.append(np.where(finite, flat, 0.0))
        e_upper.append(np.where(finite, 1.0, 0.0))
        ne += t.size
    ntot = nx + ne
    cost = np.concatenate([c] + e_cost) * SCALE if e_cost else c * SCALE
    upper = np.concatenate([np.ones(nx)] + e_upper) if e_upper else np.ones(nx)
    if problem.memory_limit is not None:
        for k in range(nx):
            if mem[k]:
                rows.append(row), cols.append(k), vals.append(mem[k] / problem.memory_limit)
        lb.append(-np.inf), ub.append(1.0)
        row += 1
    A = coo_matrix((vals, (rows, cols)), shape=(row, ntot)).tocsr()
    integrality = np.concatenate([np.ones(nx), np.zeros(ne)])
    res = milp(cost, constraints=LinearConstraint(A, lb, ub), integrality=integrality,
               bounds=Bounds(np.zeros(ntot), upper),
               options={"time_limit": float(time_limit), "mip_rel_gap": 1e-9, "disp": False})
    if res.x is None:
        if problem.memory_limit is not None:
            floor = sum(min(ch.cost.memory for ch in v.choices) for v in problem.vars)
            raise PlanError(f"ilp: no plan fits memory_limit={problem.memory_limit} bytes per device (HiGHS: "
                            f"{res.message}); even splitting every tensor as far as each allows needs about "
                            f"{floor:.0f} bytes")
        raise PlanError(f"ilp: HiGHS found no plan: {res.message}")
    assign = [int(np.argmax(res.x[offset[v.index]:offset[v.index + 1]])) for v in problem.vars]
    info = {"mode": "ilp", "solver": "HiGHS (scipy.optimize.milp)", "status": int(res.status),
            "message": str(res.message), "binary_variables": nx, "edge_variables": ne, "constraints": row,
            "objective": float(res.fun) / SCALE + constant, "mip_gap": float(getattr(res, "mip_gap", 0.0) or 0.0),
            "optimal": res.status == 0, "tie_break_per_byte": TIE_BREAK, "seconds": time.perf_counter() - t0}
    return assign, info
