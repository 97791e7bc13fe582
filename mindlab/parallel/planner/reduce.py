"""Exact reductions of a planning problem before the ILP (a presolve that keeps the optimum).

The problem's cost is ``sum of unary[v][s] + sum of pair[u, v][s, t]`` (choice costs and redistribution tables).
``reduce(problem, eliminate=...)`` shrinks it in three exact steps and returns a ``Reduced`` whose ``expand`` maps
a solution of the remaining model back to every variable:

* **dominated choices**: choice ``s`` of a variable is dropped when another choice ``t`` costs no more in its own
  cost, in every table row it meets (whatever its neighbours choose) and in memory (so a memory limit still holds)
  — ``t`` can replace ``s`` in any plan. Exact duplicates (symmetric placements with equal rows) keep the first.
  Repeated until nothing changes, since fewer neighbour choices expose more dominance;
* **chain and leaf elimination** (only without a memory limit, which couples all variables): a variable with one
  neighbour folds into it (for each of the neighbour's choices, its own best), one with two neighbours becomes a
  table between them when that table is no larger than the two it replaces — Alpa's operator clustering of
  elementwise chains and MindSpore's merge / op elimination, each the exact minimisation over that variable;
* **separable tables**: a table that is a row term plus a column term (``T[s, t] = a[s] + b[t]``: the cost does
  not depend on the pair) folds into the two variables' own costs, so it needs no edge variables.

What is left (usually the part of the graph with branches and joins: attention, residuals, the optimizer's uses of
each weight) goes to the ILP.
"""
import numpy as np

__all__ = ["Reduced", "reduce"]

PAIR_CAP = 4096        # an elimination may create a table up to this many entries (or the size it replaces)


class Reduced:
    """The model left after ``reduce``: ``vars`` (original indices), ``keep[v]`` (original choice indices kept),
    ``unary[v]`` / ``memory[v]`` (arrays over the kept choices), ``pairs[(u, v)]`` (u < v, tables over kept
    choices) and ``constant`` (seconds of what was folded away entirely)."""

    def __init__(self, problem):
        self.problem = problem
        self._nb, self._dropped = {}, {}
        self.keep = {v.index: list(range(len(v.choices))) for v in problem.vars}
        self.unary = {v.index: np.array([c.unary for c in v.choices]) for v in problem.vars}
        self.memory = {v.index: np.array([c.cost.memory for c in v.choices]) for v in problem.vars}
        self.pairs = {}
        self.constant = 0.0
        self.trace = []          # (v, neighbours, v's original choice per the neighbours' original choices)
        self.stats = {"dominated": 0, "eliminated": 0, "separable": 0}
        for e in problem.edges:
            u, w, t = (e.src, e.dst, e.table) if e.src < e.dst else (e.dst, e.src, e.table.T)
            if u == w:
                self.unary[u] = self.unary[u] + np.diag(t)
                continue
            self._add_pair(u, w, np.asarray(t, dtype=float))

    # ------------------------------------------------------------------------------------------ helpers
    def _add_pair(self, u, w, t):
        if u > w:
            u, w, t = w, u, t.T
        key = (u, w)
        self.pairs[key] = self.pairs[key] + t if key in self.pairs else t
        self._nb.setdefault(u, set()).add(w)
        self._nb.setdefault(w, set()).add(u)

    def neighbours(self, v):
        return self._nb.get(v, set())

    def table(self, v, w):
        """The table between ``v`` and ``w`` oriented ``[v's choice, w's choice]``."""
        return self.pairs[(v, w)] if v < w else self.pairs[(w, v)].T

    @property
    def vars(self):
        return sorted(self.keep)

    def size(self):
        return {"variables": len(self.keep), "choices": int(sum(len(k) for k in self.keep.values())),
                "tables": len(self.pairs), "table_entries": int(sum(t.size for t in self.pairs.values())),
                **self.stats}

    # ------------------------------------------------------------------------------------------ steps
    def prune_dominated(self, with_memory):
        changed = True
        while changed:
            changed = False
            for v in list(self.keep):
                k = len(self.keep[v])
                if k < 2:
                    continue
                cols = [self.unary[v][:, None]] + [self.table(v, w) for w in sorted(self.neighbours(v))]
                if with_memory:
                    cols.append(self.memory[v][:, None])
                m = np.concatenate(cols, axis=1)                  # k x columns, inf allowed
                le = np.all(m[:, None, :] <= m[None, :, :], axis=2)      # le[t, s]: t <= s everywhere
                # t beats s: no worse anywhere, and better somewhere or the earlier of equals (a strict order, so
                # every beaten choice is beaten by one that stays)
                beats = le & (~(le & le.T) | np.tri(k, k, -1, dtype=bool).T)
                np.fill_diagonal(beats, False)
                dominated = beats.any(axis=0)
                if dominated.any():
                    keep = ~dominated
                    self.stats["dominated"] += int(dominated.sum())
                    self.keep[v] = [c for c, kk in zip(self.keep[v], keep) if kk]
                    self.unary[v], self.memory[v] = self.unary[v][keep], self.memory[v][keep]
                    for w in self.neighbours(v):
                        key = (min(v, w), max(v, w))
                        self.pairs[key] = self.pairs[key][keep] if v < w else self.pairs[key][:, keep]
                    changed = True

    def _remove_pairs_of(self, v):
        for w in list(self.neighbours(v)):
            self.pairs.pop((min(v, w), max(v, w)))
            self._nb[w].discard(v)
        self._nb.pop(v, None)

    def eliminate(self):
        """Leaf and chain elimination (exact; only without a memory limit)."""
        progress = True
        while progress:
            progress = False
            for v in sorted(self.keep, key=lambda u: len(self.neighbours(u))):
                nb = sorted(self.neighbours(v))
                if len(nb) > 2:
                    continue
                if len(nb) == 2:
                    a, b = nb
                    na, nbb, nv = len(self.keep[a]), len(self.keep[b]), len(self.keep[v])
                    if na * nbb > max(PAIR_CAP, na * nv + nv * nbb):
                        continue
                    total = (self.unary[v][None, None, :] + self.table(a, v)[:, None, :]
                             + self.table(b, v)[None, :, :])              # [a, b, v]
                    self._record(v, (a, b), np.argmin(total, axis=2))
                    self._remove_pairs_of(v)
                    self._add_pair(a, b, np.min(total, axis=2))
                elif len(nb) == 1:
                    (a,) = nb
                    total = self.unary[v][None, :] + self.table(a, v)           # [a, v]
                    self._record(v, (a,), np.argmin(total, axis=1))
                    self._remove_pairs_of(v)
                    self.unary[a] = self.unary[a] + np.min(total, axis=1)
                else:
                    s = int(np.argmin(self.unary[v]))
                    self.trace.append((v, (), self.keep[v][s]))
                    self.constant += float(self.unary[v][s])
                self._drop_var(v)
                self.stats["eliminated"] += 1
                progress = True

    def _record(self, v, nb, arg):
        """Keep ``arg`` (v's best kept position per the neighbours' kept positions) in original choice indices."""
        full = np.full([len(self.problem.vars[w].choices) for w in nb], -1, dtype=np.int64)
        full[np.ix_(*[self.keep[w] for w in nb])] = np.asarray(self.keep[v])[arg]
        self.trace.append((v, nb, full))

    def _drop_var(self, v):
        self._dropped[v] = (self.keep.pop(v), self.unary.pop(v), self.memory.pop(v))

    def fold_separable(self):
        for key in list(self.pairs):
            t = self.pairs[key]
            if not np.all(np.isfinite(t)):
                continue
            a, b = t[:, 0] - t[0, 0], t[0, :]
            if np.allclose(t, a[:, None] + b[None, :], rtol=0.0, atol=1e-15):
                u, w = key
                self.unary[u] = self.unary[u] + a
                self.unary[w] = self.unary[w] + b
                self.pairs.pop(key)
                self._nb[u].discard(w)
                self._nb[w].discard(u)
                self.stats["separable"] += 1

    # ------------------------------------------------------------------------------------------ back
    def expand(self, local):
        """Every variable's original choice index from ``local`` (position among the kept choices of each
        remaining variable)."""
        out = [0] * len(self.problem.vars)
        for v, p in local.items():
            out[v] = self.keep[v][p]
        for v, nb, arg in reversed(self.trace):
            out[v] = int(arg[tuple(out[w] for w in nb)]) if nb else int(arg)
        return out


def reduce(problem, eliminate=True):
    """The exact reductions of the module docstring; ``eliminate=False`` (a memory limit) keeps every variable."""
    r = Reduced(problem)
    r.prune_dominated(with_memory=not eliminate)
    if eliminate:
        r.eliminate()
        r.fold_separable()
        r.prune_dominated(with_memory=False)
        r.eliminate()
    else:
        r.fold_separable()
    return r
