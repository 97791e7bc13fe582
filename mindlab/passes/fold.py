"""fold_constants: constant propagation by evaluation at compile time.

An Apply of a pure primitive (no ``effect``, no ``random`` flag) whose inputs are all Constants is run once with
the primitive's CPU kernel and replaced by a Constant holding the result (cast to the node's inferred dtype, as
the executor does). ``ones_like`` / ``zeros_like`` fold whatever their input, since only its shape and dtype
matter. A multi-output primitive becomes a ``make_tuple`` of Constants, whose elements ``tuple_getitem`` then
forwards; an ``if`` whose condition became a Constant is replaced by the chosen branch (switch simplification,
``passes.simplify``), whose nodes may fold in turn. The pass repeats to a fixpoint.

Not folded: results with more than ``MAX_ELEMENTS`` elements (a compile-time constant stays in memory for the
program's life), nodes whose kernel raises (the error is left to run time, where it is reported with the user's
line), values an effect may write in place, and values a graph returns (``analysis.EffectInfo``): every call must
hand the caller fresh arrays it may update in place (``Parameter(out)`` then an optimizer step), not the program's
own constant. Folded arrays are read-only besides, so nothing can change a constant between runs. Tensors the program closes over are compile-time constants (as in MindSpore's
graph mode): their values at compile time are the ones folded.
"""
import warnings

import numpy as np

from ..ir.anf import Apply, Constant, Graph, AbstractTuple, MAKE_TUPLE
from ..ops.abstract import AbstractTensor
from ..analysis.effects import is_pure
from .simplify import Rewrite, fixpoint, tuple_rule

MAX_ELEMENTS = 1 << 20

# primitives whose result depends only on their inputs' shapes and dtypes
SHAPE_ONLY = frozenset({"ones_like", "zeros_like"})


def _tensor_abstracts(abstract):
    if isinstance(abstract, AbstractTensor):
        return [abstract]
    if isinstance(abstract, AbstractTuple) and abstract.elements and \
            all(isinstance(a, AbstractTensor) for a in abstract.elements):
        return list(abstract.elements)
    return None


def _is_value_constant(node):
    return isinstance(node, Constant) and not isinstance(node.value, Graph)


def evaluate(n):
    """The node's value(s) computed now with its CPU kernel: a list of read-only arrays, one per output, or None
    when the node cannot be evaluated (the kernel raised, or gave a result of another shape)."""
    avals = _tensor_abstracts(n.abstract)
    if n.op.name in SHAPE_ONLY:
        args = [np.zeros(i.abstract.shape, i.abstract.dtype.np) for i in n.inputs]
    else:
        args = [i.value for i in n.inputs]
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = n.op.impl["CPU"](*args, **n.attrs)
    except Exception:   # noqa: BLE001 - left for the executor to report at run time
        return None
    outs = list(out) if isinstance(n.abstract, AbstractTuple) else [out]
    if len(outs) != len(avals):
        return None
    values = []
    for o, a in zip(outs, avals):
        try:
            arr = np.array(o, dtype=a.dtype.np, copy=True)
        except (TypeError, ValueError):
            return None
        if arr.shape != a.shape:
            return None
        arr.setflags(write=False)
        values.append(arr)
    return values


def fold_rule(n, g, info):
    if not isinstance(n, Apply) or not is_pure(n.op):
        return None
    avals = _tensor_abstracts(n.abstract)
    if avals is None or sum(a.size for a in avals) > MAX_ELEMENTS or info.is_written(n) or id(n) in info.exposed:
        return None
    if n.op.name not in SHAPE_ONLY:
        if not all(_is_value_constant(i) and not info.is_written(i) for i in n.inputs):
            return None
    values = evaluate(n)
    if values is None:
        return None
    consts = [Constant(v, a, g, n.source) for v, a in zip(values, avals)]
    if not isinstance(n.abstract, AbstractTuple):
        return consts[0]
    t = Apply(g, MAKE_TUPLE, consts, {}, n.abstract, n.source)
    return Rewrite(t, [t])


def _fold_or_tuple(n, g, info):
    r = tuple_rule(n, g, info)
    return r if r is not None else fold_rule(n, g, info)


def fold_constants(graph):
    """Fold constants in ``graph`` and every subgraph, resolving ``if``s on constant conditions, to a fixpoint (in
    place); returns ``graph``."""
    return fixpoint(graph, _fold_or_tuple)
