"""Shard rules: how an op may be split over devices (the ``shard=`` rule of a registry entry), and shared helpers.

A shard rule is ``shard(*avals, **attrs) -> ShardSpec``: given the abstract inputs and the attributes, it names
each dimension of every input and output with a *label* (a string) or ``None``:

* dimensions with the **same label** are the same loop of the computation and must be split the same way (a
  MatMul ``x @ y`` labels ``x`` as ``("m", "k")``, ``y`` as ``("k", "n")`` and the output ``("m", "n")``);
* ``None`` means the dimension cannot be split by this op (a softmax axis, a convolution's spatial dims, the
  gathered axis of ``gather``); ``why[(i, d)]`` may say why, for error messages;
* a label of the inputs that is **missing from an output** is contracted: when it is split, each device holds a
  partial result of that output, combined over the devices splitting it by ``reduce[label]`` — ``"sum"`` (the
  output is a partial sum: MatMul with a split ``k``, ``sum`` over a split axis; an AllReduce or ReduceScatter
  follows where a consumer needs the whole value), or ``"mean"``, ``"max"``, ``"min"``, ``"prod"`` (an AllReduce
  with that op runs right after the kernel). A contracted label without a ``reduce`` entry is a bug in the rule;
* a label found **only in outputs** splits a dimension the op creates (``fill``, the expanded dims of
  ``broadcast_to``): each device makes its own piece.

``localize(in_shapes, out_shapes, splits) -> dict`` gives the attributes the kernel needs on one device's slices
when some attribute depends on shapes (``reshape``'s target shape, ``fill``'s shape, a convolution's ``groups``);
``splits`` maps each label to its number of pieces. ``check(splits) -> None | str`` rejects split counts the labels
cannot express (a grouped convolution split into pieces that do not divide the groups). ``inplace`` lists inputs an
effect op writes in place (they must be given in their stored layout); ``gradients`` the inputs that are gradients
(data-parallel training all-reduces them).

The mesh-aware side — turning a MindSpore strategy (``((2, 1), (1, 4))``: per input, pieces per dimension) or an
assignment of mesh axes to labels into tensor layouts, checking it, and running an op on slices — is in
``mindlab.parallel.strategy``; nothing here knows about devices.

``sharded(prim, strategy)`` and ``shard_scope`` carry a user's ``P.MatMul().shard(...)`` strategy to the graph
node the call builds (the node's op is a ``StrategyPrimitive``: the same primitive, remembering the strategy).
"""
from dataclasses import dataclass, field

from .abstract import norm_axes, norm_axis
from .registry import Primitive

__all__ = ["ShardSpec", "REDUCE_OPS", "elementwise_rule", "elementwise_spec", "same_rule", "reduction_spec",
           "reduction_rule", "keep_rule", "StrategyPrimitive", "sharded", "shard_scope", "current_strategy"]

REDUCE_OPS = ("sum", "mean", "max", "min", "prod")


@dataclass(frozen=True)
class ShardSpec:
    """The split structure of one application of an op (see the module docstring)."""
    inputs: tuple
    outputs: tuple
    reduce: dict = field(default_factory=dict)
    localize: object = None
    check: object = None
    inplace: tuple = ()
    gradients: tuple = ()
    why: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(tuple(d) for d in self.inputs))
        object.__setattr__(self, "outputs", tuple(tuple(d) for d in self.outputs))
        for label, op in self.reduce.items():
            if op not in REDUCE_OPS:
                raise ValueError(f"ShardSpec: reduce op of label {label!r} must be one of {REDUCE_OPS}, got {op!r}")

    @property
    def labels(self):
        """Every label, in order of first appearance (inputs first)."""
        out = []
        for dims in self.inputs + self.outputs:
            for lab in dims:
                if lab is not None and lab not in out:
                    out.append(lab)
        return tuple(out)

    def contracted(self, k):
        """Labels of the inputs missing from output ``k`` (its partial-result labels when split)."""
        present = set(self.outputs[k])
        return tuple(lab for lab in self.labels if lab not in present and any(lab in d for d in self.inputs))


# ---------------------------------------------------------------------------------------- helpers
def _dims(prefix, n):
    return tuple(f"{prefix}{i}" for i in range(n))


def elementwise_spec(avals, out_shapes, inplace=(), gradients=()):
    """Elementwise with numpy broadcasting: output dims are labelled ``d0, d1, ...``; an input dim (aligned from the
    right) shares the label when it has the output's size, and is ``None`` when it is broadcast (size 1)."""
    out_shape = out_shapes[0]
    labels = _dims("d", len(out_shape))
    ins = []
    for a in avals:
        off = len(out_shape) - a.ndim
        ins.append(tuple(labels[off + i] if a.shape[i] == out_shape[off + i] and off + i >= 0 else None
                         for i in range(a.ndim)))
    why = {(i, d): "a broadcast dimension (size 1) is read whole by every device"
           for i, dims in enumerate(ins) for d, lab in enumerate(dims) if lab is None}
    outs = tuple(tuple(labels[len(out_shape) - len(s):]) for s in out_shapes)
    return ShardSpec(ins, outs, inplace=inplace, gradients=gradients, why=why)


def elementwise_rule(infer, inplace=(), gradients=()):
    """The shard rule of an elementwise op whose output shape(s) its ``infer`` gives."""
    def shard(*avals, **attrs):
        out = infer(*avals, **attrs)
        outs = out if isinstance(out, tuple) else (out,)
        return elementwise_spec(avals, [o.shape for o in outs], inplace, gradients)
    return shard


def same_rule(*avals, **attrs):
    """Every input and the output have one shape, split alike (identity, cast, dropout...)."""
    return elementwise_spec(avals, [avals[0].shape])


def reduction_spec(x, axis, keep_dims, op, why=None):
    """A reduction of ``x`` over ``axis``: kept dims are labelled ``d<i>`` in input and output; reduced dims are
    labelled ``r<i>`` and combined by ``op`` when split (``op=None``: reduced dims cannot be split; ``why`` says
    why)."""
    axes = norm_axes(axis, x.ndim)
    ins, outs, reduce, reasons = [], [], {}, {}
    for i in range(x.ndim):
        if i in axes:
            if op is None:
                ins.append(None)
                reasons[(0, i)] = why or "the reduced axis"
            else:
                ins.append(f"r{i}")
                reduce[f"r{i}"] = op
            if keep_dims:
                outs.append(None)
        else:
            ins.append(f"d{i}")
            outs.append(f"d{i}")
    return ShardSpec((tuple(ins),), (tuple(outs),), reduce, why=reasons)


def reduction_rule(op, why=None):
    def shard(x, axis, keep_dims, **attrs):
        return reduction_spec(x, axis, keep_dims, op, why)
    return shard


def keep_rule(axes_of, why):
    """Shape-preserving ops over some axes that must stay whole (softmax, prod_except_self): those axes are
    ``None`` in every input and the output, the rest split alike. ``axes_of(*avals, **attrs)`` gives the axes."""
    def shard(*avals, **attrs):
        axes = axes_of(*avals, **attrs)
        x = avals[0]
        dims = tuple(None if i in axes else f"d{i}" for i in range(x.ndim))
        reasons = {(k, i): why for k in range(len(avals)) for i in axes}
        return ShardSpec((dims,) * len(avals), (dims,), why=reasons)
    return shard


def axis_of(x, *rest, axis, **_):
    """The single ``axis`` attribute of an op on ``x``, normalised (for ``keep_rule``)."""
    return (norm_axis(axis, x.ndim),)


# ------------------------------------------------------------------------ user strategies on graph nodes
class StrategyPrimitive(Primitive):
    """A primitive carrying a user's shard strategy (``P.MatMul().shard(((2, 1), (1, 4)))``) on the graph node it
    is applied by: every rule is the base primitive's; ``strategy`` is the MindSpore strategy (per input, pieces
    per dimension). The auto-parallel planner reads it; everything else treats the node like the base op."""
    __slots__ = ("base", "strategy")

    def __init__(self, base, strategy):
        super().__init__(base.name, base.infer, base.impl, base.bprop, base.cost, base.outputs, base.doc,
                         base.effect, base.random, base.fuse, getattr(base, "shard", None))
        self.base, self.strategy = base, strategy

    def __repr__(self):
        return f"Primitive({self.name}, strategy={self.strategy})"


_SHARDED = {}
_scope = []       # strategies of the P-class instances being called, innermost last


def sharded(prim, strategy):
    """``prim`` carrying ``strategy`` (one cached StrategyPrimitive per pair)."""
    base = getattr(prim, "base", prim)
    key = (id(base), strategy)
    sp = _SHARDED.get(key)
    if sp is None:
        sp = _SHARDED[key] = StrategyPrimitive(base, strategy)
    return sp


class shard_scope:
    """While inside, graph nodes built with as many inputs as ``strategy`` has entries carry it (see
    ``ops._api.Primitive.shard``)."""

    def __init__(self, strategy):
        self.strategy = strategy

    def __enter__(self):
        _scope.append(self.strategy)

    def __exit__(self, *exc):
        _scope.pop()


def current_strategy(n_inputs):
    """The strategy of the innermost ``shard_scope`` when it fits an op with ``n_inputs`` inputs, else None."""
    if _scope and len(_scope[-1]) == n_inputs:
        return _scope[-1]
    return None


def elementwise(*avals, **attrs):
    """The shard rule of an elementwise op with numpy broadcasting (the output shape is the inputs' broadcast)."""
    from .abstract import broadcast_shapes
    return elementwise_spec(avals, [broadcast_shapes(*(a.shape for a in avals))])
