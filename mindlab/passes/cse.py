"""cse: common-subexpression elimination by value numbering, in each graph.

Walking a graph's nodes in order, an Apply whose op, inputs (by identity, after the merges made so far) and
attributes equal an earlier node's is replaced by that node. Only pure primitives (no ``effect``, no ``random``
flag: two dropout masks differ) and the tuple builtins merge; ``print``, ``if``, ``while``, calls and unknown ops
never do. Constant inputs compare by dtype, shape and value (each use of a literal is its own Constant node, and
stays one: a graph never shares a Constant object between uses), so ``x * 2`` twice is one node. Two nodes
separated by an effect never merge, nor do values an effect may write in place, nor two values a graph returns
(the caller would get one array twice; ``analysis.EffectInfo``).

Graphs are closed when this runs (after ``lift_free_variables``), so a node's uses are within its graph: the
nodes after it, the graph's output and the operands of its ``if`` / ``while`` nodes.
"""
import numpy as np

from ..ir.anf import Apply, Constant, Graph, MAKE_TUPLE, TUPLE_GETITEM
from ..analysis.effects import is_pure
from .simplify import sweep


class _Unhashable(Exception):
    pass


def _freeze(v):
    """A hashable key for an attribute value that tells apart values Python would call equal across types
    (``1`` / ``1.0`` / ``True``)."""
    if isinstance(v, Graph):
        raise _Unhashable
    if isinstance(v, (list, tuple)):
        return (type(v).__name__,) + tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return ("dict",) + tuple(sorted(((k, _freeze(x)) for k, x in v.items()), key=repr))
    if isinstance(v, np.ndarray):
        return ("ndarray", v.dtype.str, v.shape, v.tobytes())
    try:
        hash(v)
    except TypeError:
        raise _Unhashable from None
    return (type(v).__name__, v)


def constant_key(c):
    """Key of a tensor Constant: abstract value, dtype, shape and bytes (None for a Graph-valued one)."""
    if isinstance(c.value, Graph):
        return None
    arr = np.asarray(c.value)
    if arr.dtype == object:
        return None
    return (c.abstract, arr.dtype.str, arr.shape, arr.tobytes())


def _input_key(i, info):
    """Inputs compare by identity; tensor Constants by value (each use of a literal is its own Constant node, so
    ``x * 2`` twice has two ``2`` nodes), except those an effect may write."""
    if isinstance(i, Constant) and not info.is_written(i):
        k = constant_key(i)
        if k is not None:
            return ("const",) + k
    return ("node", id(i))


def mergeable(n):
    return isinstance(n, Apply) and (is_pure(n.op) or n.op in (MAKE_TUPLE, TUPLE_GETITEM))


def cse(graph):
    """Merge equal nodes and equal constants in ``graph`` and every subgraph (in place); returns ``graph``."""
    tables = {}     # id(graph) -> {key: first node with that key}

    def rule(n, g, info):
        nodes = tables.setdefault(id(g), {})
        if not mergeable(n):
            return None
        try:
            key = (n.op, tuple(_input_key(i, info) for i in n.inputs), _freeze(n.attrs), info.epoch.get(id(n), 0))
        except _Unhashable:
            return None
        first = nodes.get(key)
        if first is None:
            nodes[key] = n
            return None
        if first.abstract != n.abstract or not info.may_merge(first, n) or info.may_expose(n, first):
            return None
        return first

    sweep(graph, rule)
    return graph
