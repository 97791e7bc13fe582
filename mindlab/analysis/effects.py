"""Effect and aliasing analysis: which values side effects may write, and where the effects are.

The executor passes numpy arrays between nodes without copying, and effect primitives (``assign``, the optimizer
updates) write some of their inputs *in place*. A rewrite that makes a use read a different node than before
(``x * 1 -> x``, merging two equal nodes, folding a node into a constant) is therefore only safe when no effect can
write the storage involved while the rewritten value is still read. ``EffectInfo`` answers that conservatively:

* the *written* set is the inputs effects write (``WRITES`` names them for the known effect primitives; an unknown
  effect, a control-flow node or a call whose graphs hold effects is taken to write every input), closed over the
  ops that can return their input or a view of it (``VIEW_OPS``, control flow, calls): a view of written storage
  is written storage, and so is whatever a written view was taken from;
* a Constant is written when its array is (Constants made for different uses may share one array);
* ``epoch(node)`` counts the effects that run before ``node`` in its graph;
* *exposed* values are those a graph returns (or whose storage it returns, through views and tuples): a rewrite
  must not make one of them the caller's own input array, a constant's array or another returned value, since the
  executor hands outputs back without copying.

Within one graph the rules are positional: the executor runs ``graph.nodes`` in order.
"""
from ..ir.anf import Constant, Graph, IF
from ..ops.registry import Primitive
from ..passes.dce import effect_roots

# Inputs each effect primitive writes in place (by position). Effect primitives missing here are assumed to write
# every input. Kept beside the analysis that needs it; tests/analysis/test_effects.py checks it against the
# registry (every effect primitive listed) and the kernels (no other input is written).
WRITES = {
    "assign": (0,),                       # variable
    "apply_momentum": (0, 1),             # variable, accumulation
    "sgd": (0, 3, 5),                     # parameters, accum, stat
    "adam": (0, 1, 2),                    # var, m, v
    "adam_weight_decay": (0, 1, 2),       # var, m, v
}


def written_positions(op):
    """The input positions the effect primitive ``op`` writes: ``WRITES``, or a generated primitive's own
    ``writes`` (the fused nodes of passes, e.g. passes/gemm_update.py); None when unknown (all inputs)."""
    return WRITES.get(op.name, getattr(op, "writes", None))

# Primitives whose CPU kernel may return an input itself or a view sharing its memory (tests/analysis audits the
# registry's kernels against this list). Effect primitives also return their (updated) input.
VIEW_OPS = frozenset({"identity", "stop_gradient", "cast", "reshape", "transpose", "expand_dims", "squeeze",
                      "broadcast_to", "strided_slice", "tensor_getitem", "split"})


def aliased_inputs(node):
    """The inputs ``node``'s value may share memory with: all of a view-like primitive's, the state an update
    writes and returns (``WRITES``), the operands of an ``if`` (a branch may return one; the condition never), every input of other
    builtins, loops, calls and unknown ops; none for other primitives."""
    op = node.op
    if isinstance(op, Primitive):
        writes = written_positions(op)
        if writes is not None:
            return [node.inputs[k] for k in writes]
        return list(node.inputs) if op.effect or op.name in VIEW_OPS else []
    if op is IF:
        return list(node.inputs[1:])
    return list(node.inputs)


def is_pure(op):
    """A primitive that may be evaluated at compile time or merged: no effect, no randomness."""
    return isinstance(op, Primitive) and not op.effect and not op.random


class EffectInfo:
    """Effect positions and written storage of ``graph`` and every graph it uses (``graphs``, when the caller has
    them already). A snapshot: recompute after changing the graph."""

    def __init__(self, graph, graphs=None):
        self.pos = {}             # id(node) -> index in its graph's node list
        self.epoch = {}           # id(node) -> number of effect roots before it in its graph
        self.last_effect = {}     # id(node) -> index of the last effect root of the node's graph (-1: none)
        self.written = set()      # ids of nodes whose storage an effect may write
        self.written_values = set()   # ids of constant arrays an effect may write
        graphs = graph.all_graphs() if graphs is None else graphs
        roots_of = {}
        for g in graphs:
            roots = effect_roots(g)
            roots_of[id(g)] = roots
            root_ids = {id(r) for r in roots}
            last, k = -1, 0
            for i, n in enumerate(g.nodes):
                if id(n) in root_ids:
                    last = i
            for i, n in enumerate(g.nodes):
                self.pos[id(n)] = i
                self.epoch[id(n)] = k
                self.last_effect[id(n)] = last
                if id(n) in root_ids:
                    k += 1
            for p in g.params:
                self.last_effect[id(p)] = last
        self._close_written(graphs, roots_of)
        self._find_exposed(graphs)

    # ------------------------------------------------------------------ written storage
    def _mark(self, node):
        if self.is_written(node):
            return False
        self.written.add(id(node))
        if isinstance(node, Constant) and not isinstance(node.value, Graph):
            self.written_values.add(id(node.value))
        return True

    def _close_written(self, graphs, roots_of):
        for g in graphs:
            for r in roots_of[id(g)]:
                writes = written_positions(r.op) if isinstance(r.op, Primitive) else None
                for k, i in enumerate(r.inputs):
                    if writes is None or k in writes:
                        self._mark(i)
        changed = True
        while changed:   # aliasing runs both ways through view-like ops
            changed = False
            for g in graphs:
                for n in g.nodes:
                    ins = aliased_inputs(n)
                    if self.is_written(n):
                        for i in ins:
                            changed |= self._mark(i)
                    elif any(self.is_written(i) for i in ins):
                        changed |= self._mark(n)

    def _find_exposed(self, graphs):
        """Values a graph returns, and values that may share storage with a graph's inputs (the caller's tensors,
        weights) — Constants always may (their arrays outlive a run)."""
        self.exposed = set()
        self.external = set()
        for g in graphs:
            out = g.output
            if out is not None:
                self.exposed.add(id(out))
            for n in reversed(g.nodes):   # what a returned view was taken from is returned too
                if id(n) in self.exposed:
                    self.exposed.update(id(i) for i in aliased_inputs(n))
            self.external.update(id(p) for p in g.params)
            for n in g.nodes:
                if any(self.is_external(i) for i in aliased_inputs(n)):
                    self.external.add(id(n))

    def is_external(self, node):
        """Whether ``node`` may share storage with a graph input or a constant."""
        return isinstance(node, Constant) or id(node) in self.external

    def may_expose(self, old, new):
        """Whether replacing ``old`` by ``new`` could make a returned value alias a graph input, a constant or
        another returned value (``return x * 1`` must not hand the caller its own array back)."""
        return id(old) in self.exposed and (self.is_external(new) or id(new) in self.exposed)

    def is_written(self, node):
        """Whether an effect may write ``node``'s storage."""
        if id(node) in self.written:
            return True
        return isinstance(node, Constant) and id(node.value) in self.written_values

    # ------------------------------------------------------------------ positions
    def effects_after(self, node):
        """Whether an effect root may run after ``node`` is defined, in ``node``'s graph (Params are defined
        before every node; for a Constant, shared across uses, the answer is yes)."""
        if id(node) not in self.last_effect:
            return True
        return self.last_effect[id(node)] > self.pos.get(id(node), -1)

    def may_replace(self, old, new):
        """Whether every use of ``old`` may read ``new`` instead, given ``old``'s value equals ``new``'s where
        ``old`` is defined: true unless an effect after ``old`` may write either's storage."""
        if not (self.is_written(old) or self.is_written(new)):
            return True
        return not self.effects_after(old)

    def may_merge(self, first, second):
        """Whether ``second`` (computed later, same op and inputs) may be replaced by ``first``: no effect runs
        between them, and no later effect writes either."""
        return self.epoch.get(id(first), 0) == self.epoch.get(id(second), 0) and self.may_replace(second, first)
