"""simplify: algebraic, tuple and switch simplification, and the small rewriting driver the other passes share.

* **algebraic**: ``x*1``, ``1*x``, ``x+0``, ``0+x``, ``x-0``, ``x/1``, ``-(-x)``, ``reshape`` to the same shape,
  ``transpose`` by the identity permutation, ``cast`` to the same dtype, ``broadcast_to`` the same shape and
  ``identity(x)`` all become ``x``. A rewrite fires only when ``x``'s abstract value equals the node's, so one
  that would change the result's shape or dtype (``x + 0`` where the constant broadcasts ``x`` up, a dtype
  promotion) never does. ``x*0`` is left alone (``nan*0`` is ``nan``). ``x+0`` may turn a ``-0.0`` result into
  ``+0.0``'s sign twin; the values compare equal.
* **tuple**: ``tuple_getitem(make_tuple(a, b, ...), i)`` is the ``i``-th element.
* **switch**: an ``if`` whose condition is a Constant is replaced by the chosen branch, inlined at its place (its
  effects run where the ``if`` did).

Rewrites that make a use read another node are checked with ``analysis.EffectInfo``: none may move a read of a
value across an effect that writes it in place (an optimizer update, ``assign``), nor make a returned value alias
an input, a constant or another returned value.
"""
import numpy as np

from ..analysis.effects import EffectInfo
from ..ir.anf import Apply, Constant, Graph, MAKE_TUPLE, TUPLE_GETITEM, IF
from ..ir.clone import clone
from ..ops.registry import Primitive

MAX_ROUNDS = 20   # rounds of a pass: a sweep over every graph, then inlining the ifs it decided


# ---------------------------------------------------------------------------------------------- driver
class Rewrite:
    """A rule's answer: use ``new`` wherever the node was used; ``inserted`` nodes go in its place (in order),
    ``effects`` are those of them that are side effects."""
    __slots__ = ("new", "inserted", "effects")

    def __init__(self, new, inserted=(), effects=()):
        self.new, self.inserted, self.effects = new, list(inserted), list(effects)


def _resolve(node, repl):
    while id(node) in repl:
        node = repl[id(node)]
    return node


def _remap_inputs(n, repl):
    if any(id(i) in repl for i in n.inputs):
        n.inputs = tuple(_resolve(i, repl) for i in n.inputs)


def sweep(graph, rule):
    """Visit every node of ``graph`` and of every graph it uses once, in order, after rewriting its inputs by the
    replacements made so far; ``rule(node, graph, info)`` returns None (keep it), a replacement node, or a
    ``Rewrite``. A replaced node leaves its graph. Returns whether anything changed."""
    graphs = graph.all_graphs()
    info = EffectInfo(graph, graphs)
    repl = {}
    for g in graphs:
        effect_ids = {id(e) for e in g.effects}
        kept, effects = [], []
        for n in g.nodes:
            _remap_inputs(n, repl)
            res = rule(n, g, info)
            if res is None or res is n:
                kept.append(n)
                if id(n) in effect_ids:
                    effects.append(n)
                continue
            if not isinstance(res, Rewrite):
                res = Rewrite(res)
            kept.extend(res.inserted)
            effects.extend(res.effects)
            repl[id(n)] = res.new
        g.nodes, g.effects = kept, effects
        if g.output is not None:
            g.output = _resolve(g.output, repl)
    if repl and len(graphs) > 1:   # uses from other graphs (free variables, if any are left)
        for g in graphs:
            for n in g.nodes:
                _remap_inputs(n, repl)
            if g.output is not None:
                g.output = _resolve(g.output, repl)
    return bool(repl)


def fixpoint(graph, rule):
    """Sweep with ``rule``, then resolve ``if``s on constant conditions; repeat while that inlined a branch (its
    nodes may simplify further), at most ``MAX_ROUNDS`` times. One sweep is enough otherwise: a rule sees each
    node after its inputs were rewritten, so rewrites that feed each other are found in one pass."""
    for _ in range(MAX_ROUNDS):
        sweep(graph, rule)
        if not _switch_candidates(graph) or not sweep(graph, switch_rule):
            break
    return graph


# ---------------------------------------------------------------------------------------------- rules
def _prim(n, name):
    return isinstance(n, Apply) and isinstance(n.op, Primitive) and n.op.name == name


def _const_all(node, value):
    """Whether ``node`` is a tensor Constant whose every element equals ``value``."""
    if not isinstance(node, Constant) or isinstance(node.value, Graph):
        return False
    arr = np.asarray(node.value)
    return arr.size > 0 and arr.dtype != object and bool(np.all(arr == value))


def tuple_rule(n, g, info):
    """``tuple_getitem(make_tuple(...), i)`` -> the i-th element (the very same value, so always safe)."""
    if n.op is TUPLE_GETITEM:
        t = n.inputs[0]
        if isinstance(t, Apply) and t.op is MAKE_TUPLE:
            k = n.attrs["index"]
            if -len(t.inputs) <= k < len(t.inputs) and t.inputs[k].abstract == n.abstract:
                return t.inputs[k]
    return None


def _algebraic_operand(n):
    """The operand ``n`` simplifies to, or None."""
    if not isinstance(n.op, Primitive):
        return None
    name, ins = n.op.name, n.inputs
    if name == "mul" and len(ins) == 2:
        return ins[0] if _const_all(ins[1], 1) else ins[1] if _const_all(ins[0], 1) else None
    if name == "add" and len(ins) == 2:
        return ins[0] if _const_all(ins[1], 0) else ins[1] if _const_all(ins[0], 0) else None
    if name == "sub" and len(ins) == 2:
        return ins[0] if _const_all(ins[1], 0) else None
    if name == "div" and len(ins) == 2:
        return ins[0] if _const_all(ins[1], 1) else None
    if name == "neg" and len(ins) == 1 and _prim(ins[0], "neg"):
        return ins[0].inputs[0]
    if name == "transpose" and len(ins) == 1:
        perm = n.attrs.get("perm")
        ndim = len(getattr(ins[0].abstract, "shape", ()))
        return ins[0] if perm is not None and tuple(int(p) % max(ndim, 1) for p in perm) == tuple(range(ndim)) \
            else None
    if name in ("reshape", "cast", "broadcast_to", "identity") and len(ins) == 1:
        return ins[0]   # the abstract-value check below keeps only the no-op cases
    return None


def algebraic_rule(n, g, info):
    x = _algebraic_operand(n)
    if x is None or x.abstract != n.abstract or not info.may_replace(n, x) or info.may_expose(n, x):
        return None
    return x


def _switch_candidates(graph):
    return any(n.op is IF and isinstance(n.inputs[0], Constant) for g in graph.all_graphs() for n in g.nodes)


def switch_rule(n, g, info):
    """``if`` on a Constant condition -> the chosen branch's nodes, inlined in place of the ``if``."""
    if n.op is not IF or not isinstance(n.inputs[0], Constant):
        return None
    cond = np.asarray(n.inputs[0].value)
    if cond.size != 1:
        return None
    chosen = n.attrs["then_graph"] if bool(cond.reshape(())) else n.attrs["else_graph"]
    if len(chosen.params) != len(n.inputs) - 1 or chosen.free_variables():
        return None
    body = clone(chosen)
    bind = {id(p): a for p, a in zip(body.params, n.inputs[1:])}
    for c in body.nodes:
        c.graph = g
        c.inputs = tuple(bind.get(id(i), i) for i in c.inputs)
        for i in c.inputs:
            if isinstance(i, Constant):
                i.graph = g
        if c.source is None:
            c.source = n.source
    out = bind.get(id(body.output), body.output)
    if isinstance(out, Constant):
        out.graph = g
    return Rewrite(out, body.nodes, body.effects)


# ---------------------------------------------------------------------------------------------- passes
def tuple_simplify(graph):
    """Forward every ``tuple_getitem`` of a ``make_tuple`` (in place); returns ``graph``."""
    sweep(graph, tuple_rule)
    return graph


def switch_simplify(graph):
    """Inline every ``if`` whose condition is a Constant (in place); returns ``graph``."""
    for _ in range(MAX_ROUNDS):
        if not _switch_candidates(graph) or not sweep(graph, switch_rule):
            break
    return graph


def _algebraic_or_tuple(n, g, info):
    r = tuple_rule(n, g, info)
    return r if r is not None else algebraic_rule(n, g, info)


def simplify(graph):
    """Algebraic, tuple and switch simplification of ``graph`` and every subgraph, to a fixpoint (in place);
    returns ``graph``."""
    return fixpoint(graph, _algebraic_or_tuple)
