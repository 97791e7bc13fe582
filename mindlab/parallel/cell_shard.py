"""``Cell.shard``: MindSpore's layouts for a Cell's inputs, outputs and parameters, kept by the planner.

``cell.shard(in_strategy, out_strategy=None, parameter_plan=None, device="Ascend", level=0)`` (``nn.Cell.shard``
delegates here) records a ``CellShard`` on the cell:

* ``in_strategy``: one entry per input of ``construct`` — pieces per dim (``(2, 1)``), or ``None`` to leave that
  input's layout to the planner. When GRAPH_MODE compiles a call of the cell (the network itself or a sub-Cell
  called anywhere inside it), each constrained input goes through a *layout node*: a no-op whose strategy is the
  entry (a ``LayoutPrimitive``, which the frontend's ``call_cell`` inserts with ``mark_inputs``). The planner keeps
  it like a ``P.MatMul().shard(...)`` strategy — a fixed choice that propagation starts from and that DP / ILP
  respect — so the input is redistributed into that layout where the cell is entered. ``out_strategy`` does the
  same for the cell's outputs.
* ``parameter_plan``: ``{parameter name: pieces per dim}`` — names relative to the cell (``"fc.weight"``, optionally
  prefixed ``"self."``) or full names. The parameter's stored layout is fixed to it (``parameter_layout``, read by
  the planner's problem build).

Call ``shard`` before the first GRAPH_MODE call of a network that contains the cell (as in MindSpore): graphs
compiled earlier by an enclosing cell are cached without the layout nodes. Shapes are checked when the call is compiled (rank, divisibility, number of entries), the device count when the
plan is made; every error names the cell, the strategy, the shapes and the user's line. Outside a parallel
context the layout nodes run as no-ops (``device`` and ``level`` are accepted for MindSpore compatibility).
"""
import weakref

from ..errors import where
from ..ops.registry import Primitive, Cost
from ..ops.shard import StrategyPrimitive
from .strategy import StrategyError

__all__ = ["CellShard", "LayoutPrimitive", "configure", "parameter_layout", "LAYOUT"]


def _zero_cost(*avals, **attrs):
    return Cost(0, 0)


def _layout_base():
    from ..ops.prims.array_ops import identity_p
    return Primitive("layout", identity_p.infer, identity_p.impl, identity_p.bprop, _zero_cost, 1,
                     "A tensor constrained to a layout by Cell.shard (a no-op outside auto-parallel).",
                     shard=identity_p.shard)


LAYOUT = _layout_base()


class LayoutPrimitive(StrategyPrimitive):
    """The op of a layout node: ``LAYOUT`` carrying a one-input strategy and ``owner`` (which cell / entry set it,
    for the planner's error messages)."""
    __slots__ = ("owner",)

    def __init__(self, strategy, owner):
        super().__init__(LAYOUT, strategy)
        self.owner = owner

    def __repr__(self):
        return f"Primitive(layout, strategy={self.strategy}, {self.owner})"


def _norm_entries(what, entries, cell_name):
    if entries is None:
        return None
    if not isinstance(entries, (tuple, list)):
        raise StrategyError(f"{cell_name}.shard: {what} must be a tuple with one entry per tensor (a tuple of "
                            f"pieces per dim, or None), got {entries!r}.{where()}")
    out = []
    for e in entries:
        if e is None:
            out.append(None)
            continue
        try:
            t = tuple(int(v) for v in e)
        except (TypeError, ValueError):
            t = None
        if t is None or any(v < 1 for v in t) or isinstance(e, str):
            raise StrategyError(f"{cell_name}.shard: every entry of {what} must be None or a tuple of positive ints "
                                f"(pieces per dim), got {e!r} in {entries!r}.{where()}")
        out.append(t)
    return tuple(out)


class CellShard:
    """What ``Cell.shard`` recorded (see the module docstring)."""

    def __init__(self, cell, in_strategy, out_strategy, parameter_plan, device, level):
        self.cell_name = type(cell).__name__
        self.in_strategy = _norm_entries("in_strategy", in_strategy, self.cell_name)
        if self.in_strategy is None:
            raise StrategyError(f"{self.cell_name}.shard: in_strategy is required (one entry per input; None "
                                f"leaves an input to the planner).{where()}")
        self.out_strategy = _norm_entries("out_strategy", out_strategy, self.cell_name)
        self.device, self.level = device, level
        self.source = where()
        self.parameter_plan = {}          # parameter name as given -> (Parameter, splits)
        if parameter_plan:
            self._set_parameter_plan(cell, parameter_plan)

    def _set_parameter_plan(self, cell, plan):
        if not isinstance(plan, dict):
            raise StrategyError(f"{self.cell_name}.shard: parameter_plan must be a dict {{parameter name: pieces "
                                f"per dim}}, got {type(plan).__name__}.{where()}")
        known = {}
        for path, p in cell.parameters_and_names():
            for key in (path, "self." + path, p.name, "self." + p.name):
                known.setdefault(key, p)
        for name, splits in plan.items():
            p = known.get(str(name))
            if p is None:
                raise StrategyError(f"{self.cell_name}.shard: parameter_plan names {name!r}, which is not a parameter "
                                    f"of this cell (its parameters: {[k for k, _ in cell.parameters_and_names()]})."
                                    f"{where()}")
            s = _norm_entries("parameter_plan", (splits,), self.cell_name)[0]
            if s is None:
                continue
            head = (f"{self.cell_name}.shard: parameter_plan {{{name!r}: {s}}} does not fit parameter {p.name!r} of "
                    f"shape {list(p.shape)}")
            if len(s) != len(p.shape):
                raise StrategyError(f"{head}: {len(s)} values for {len(p.shape)} dims.{where()}")
            for d, (n, c) in enumerate(zip(p.shape, s)):
                if n % c:
                    raise StrategyError(f"{head}: dim {d} has size {n}, not divisible by {c}.{where()}")
            self.parameter_plan[str(name)] = (p, s)

    def register(self, previous=None):
        """Make the parameter plan visible to the planner (``parameter_layout``), replacing ``previous``'s."""
        if previous is not None:
            for p, _ in previous.parameter_plan.values():
                if _PARAM_PLANS.get(id(p), (None,))[0] is not None and _PARAM_PLANS[id(p)][0]() is p:
                    del _PARAM_PLANS[id(p)]
        for name, (p, s) in self.parameter_plan.items():
            _PARAM_PLANS[id(p)] = (weakref.ref(p), s, f"{self.cell_name}.shard parameter_plan {{{name!r}: {s}}}",
                                   self.source)

    # ------------------------------------------------------------------ graph building (frontend call_cell)
    def _mark(self, what, entries, values):
        from ..ir.builder import Symbol
        from ..ops.dispatch import bind
        from ..tensor import Tensor
        tensors = [v for v in values]
        if len(entries) != len(tensors):
            raise StrategyError(f"{self.cell_name}.shard: {what} {entries} has {len(entries)} entries but the cell "
                                f"is called with {len(tensors)} {'inputs' if what == 'in_strategy' else 'outputs'} "
                                f"(shapes {_shapes_of(tensors)}).{where()}")
        out = []
        for i, (s, v) in enumerate(zip(entries, tensors)):
            if s is None:
                out.append(v)
                continue
            if not isinstance(v, Tensor):
                raise StrategyError(f"{self.cell_name}.shard: {what} entry {i} {s} is for a {type(v).__name__}, not "
                                    f"a tensor (use None for it).{where()}")
            head = (f"{self.cell_name}.shard: {what} {entries} does not fit the "
                    f"{'inputs' if what == 'in_strategy' else 'outputs'} of shapes {_shapes_of(tensors)}")
            if len(s) != len(v.shape):
                raise StrategyError(f"{head}: entry {i} {s} has {len(s)} values but "
                                    f"{'input' if what == 'in_strategy' else 'output'} {i} has {len(v.shape)} "
                                    f"dims.{where()}")
            for d, (n, c) in enumerate(zip(v.shape, s)):
                if n % c:
                    raise StrategyError(f"{head}: dim {d} of entry {i} has size {n}, not divisible by {c}.{where()}")
            if not isinstance(v, Symbol):      # a constant: nothing to lay out
                out.append(v)
                continue
            owner = f"{self.cell_name}.shard {what}[{i}] = {s} (of {entries})"
            out.append(bind(LayoutPrimitive((s,), owner), v))
        return out

    def mark_inputs(self, args):
        """``args`` of a call being compiled, each constrained one through a layout node."""
        return self._mark("in_strategy", self.in_strategy, list(args))

    def mark_outputs(self, result):
        """The call's result, through layout nodes when ``out_strategy`` is set."""
        if self.out_strategy is None:
            return result
        if isinstance(result, tuple):
            return tuple(self._mark("out_strategy", self.out_strategy, list(result)))
        return self._mark("out_strategy", self.out_strategy, [result])[0]

    def __repr__(self):
        return (f"CellShard({self.cell_name}, in_strategy={self.in_strategy}, out_strategy={self.out_strategy}, "
                f"parameter_plan={ {k: s for k, (_, s) in self.parameter_plan.items()} })")


def _shapes_of(values):
    return ", ".join(str(list(v.shape)) if hasattr(v, "shape") else type(v).__name__ for v in values) or "none"


_PARAM_PLANS = {}      # id(Parameter) -> (weakref, splits, description)


def parameter_layout(param):
    """``(splits, description, user's line)`` fixed for ``param`` by a ``Cell.shard`` parameter_plan, else None."""
    entry = _PARAM_PLANS.get(id(param))
    if entry is None:
        return None
    ref, splits, desc, source = entry
    if ref() is not param:        # a dead parameter's id reused
        del _PARAM_PLANS[id(param)]
        return None
    return splits, desc, source


def configure(cell, in_strategy, out_strategy=None, parameter_plan=None, device="Ascend", level=0):
    """``Cell.shard``: validate and record the strategies on ``cell``; returns the cell."""
    new = CellShard(cell, in_strategy, out_strategy, parameter_plan, device, level)     # validates first
    new.register(cell.__dict__.get("_shard"))
    cell.__dict__["_shard"] = new
    cell.__dict__.pop("_jit_construct", None)   # its graphs compiled before now lack the layout nodes
    return cell
