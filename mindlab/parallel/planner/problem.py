"""The search problem built from a graph: one decision variable per op and per source tensor, a table of
choices for each, and a table of redistribution costs for each edge.

* An **op** (an ``Apply`` of a primitive) chooses an ``OpSharding`` (``strategy.shardings``); a user strategy set
  with ``P.MatMul().shard(...)`` narrows its choices to the placements of that strategy.
* A **source** — a graph input, a parameter (weights and optimizer state) or a constant — chooses its layout: a
  parameter any layout (it is stored as its slices), a constant the replicated one, and a network input the layout
  the dataset delivers: split along the batch dim over the whole mesh (MindSpore's default dataset strategy;
  ``inputs="any"`` lets the search choose, as if every device could load any slice for free).
* An **edge** (producer output -> consumer input) costs the redistribution between the producer's output layout
  and the layout the consumer's choice needs (``CostModel``); where an effect op writes an input in place the two
  layouts must be equal (infinite cost otherwise: the update would land in a copy).
* Graph outputs must not be partial sums: reducing them is part of the producer's cost.

The objective is the sum of every choice's compute and communication seconds and every edge's seconds (plus a
tiny memory term that breaks ties towards smaller slices); the memory is the sum of the chosen slices' bytes.
"""
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from ...ir.anf import Apply, Constant, Param, MAKE_TUPLE, TUPLE_GETITEM, AbstractTuple, op_name
from ...ops.abstract import AbstractTensor
from ...ops.registry import Primitive
from ..cost_model import CostModel, ChoiceCost
from ..layout import TensorLayout, LayoutError
from ..strategy import StrategyError, shardings, from_strategy, shard_spec
from ..cell_shard import parameter_layout

__all__ = ["Problem", "Var", "Choice", "Edge", "PlanError", "source_layouts", "batch_layout", "build_problem",
           "TIE_BREAK"]

TIE_BREAK = 1e-15     # seconds per byte of memory added to the objective: prefers smaller slices among equals


class PlanError(StrategyError):
    """A graph the planner cannot split (unsupported node, impossible constraint, memory limit)."""


@dataclass
class Choice:
    """One option of a variable: for an op its OpSharding, for a source its layout."""
    out_layouts: tuple
    in_layouts: tuple = ()
    sharding: object = None
    cost: ChoiceCost = ChoiceCost(0.0, 0.0, 0.0)
    output_reduction: float = 0.0     # seconds to reduce partial graph outputs (part of cost.communication)

    @property
    def strategy(self):
        if self.sharding is not None:
            return self.sharding.strategy
        return ()

    @property
    def unary(self):
        return self.cost.compute + self.cost.communication + TIE_BREAK * self.cost.memory


@dataclass
class Var:
    """A decision variable: an op or a source tensor."""
    index: int
    kind: str                 # "op", "input", "parameter", "constant"
    node: object
    name: str
    out_avals: tuple
    choices: list = field(default_factory=list)
    user_strategy: tuple = None
    inputs: list = field(default_factory=list)     # (var index, output index) per input, for ops

    @property
    def is_op(self):
        return self.kind == "op"


@dataclass
class Edge:
    src: int
    out: int
    dst: int
    inp: int
    itemsize: int
    table: np.ndarray = None       # seconds, |choices of src| x |choices of dst| (inf: forbidden)
    inplace: bool = False


def batch_layout(mesh, shape):
    """The layout a network input arrives in (MindSpore's dataset strategy, ``full_batch=False``): dim 0 split over
    the most mesh axes (in mesh order) whose sizes multiply to a divisor of it; a 0-d input is replicated."""
    if not shape:
        return TensorLayout.replicated(mesh, shape)
    best = ()
    for r in range(mesh.ndim, 0, -1):
        for axes in itertools.combinations(range(mesh.ndim), r):
            if shape[0] % math.prod(mesh.shape[a] for a in axes) == 0 and \
                    math.prod(mesh.shape[a] for a in axes) > math.prod(mesh.shape[a] for a in best):
                best = axes
    return TensorLayout._make(mesh, shape, [best] + [()] * (len(shape) - 1))


def source_layouts(mesh, shape):
    """Every layout of a tensor of ``shape`` on ``mesh`` without partial sums (each mesh axis splits one dim or
    none; a dim split by several axes takes them in mesh order), the replicated one first."""
    out = []
    nd = len(shape)
    for choice in itertools.product(range(nd + 1), repeat=mesh.ndim):
        dims = [[] for _ in range(nd)]
        for axis, c in enumerate(choice):
            if c:
                dims[c - 1].append(axis)
        try:
            out.append(TensorLayout._make(mesh, shape, dims))
        except LayoutError:
            continue
    return out


class Problem:
    """Variables, choices and edges for ``graph`` on ``mesh`` (see the module docstring)."""

    def __init__(self, graph, mesh, profile=None, memory_limit=None, use_user_strategies=True, inputs="batch"):
        if inputs not in ("batch", "any"):
            raise ValueError(f"Problem: inputs must be 'batch' or 'any', got {inputs!r}")
        self.inputs = inputs
        self.graph, self.mesh = graph, mesh
        self.model = CostModel(mesh, profile)
        self.profile = self.model.profile
        self.memory_limit = memory_limit
        self.vars, self.edges, self.outputs = [], [], []
        self._value = {}
        self._build(use_user_strategies)

    # ------------------------------------------------------------------------------------------ build
    def _add_var(self, kind, node, name, out_avals):
        v = Var(len(self.vars), kind, node, name, tuple(out_avals))
        self.vars.append(v)
        return v

    def _source(self, node, use_user=True):
        if id(node) in self._value:
            return self._value[id(node)]
        if isinstance(node, Constant):
            if not isinstance(node.abstract, AbstractTensor):
                raise PlanError(f"auto-parallel: constant {node.value!r} is not a tensor")
            v = self._add_var("constant", node, "constant", [node.abstract])
            v.choices = [Choice((TensorLayout.replicated(self.mesh, node.abstract.shape),))]
        else:
            kind = "parameter" if node.default is not None else "input"
            v = self._add_var(kind, node, str(node.name), [node.abstract])
            item = node.abstract.dtype.np.itemsize
            lays = source_layouts(self.mesh, node.abstract.shape)
            if kind == "input" and self.inputs == "batch":
                lays = [batch_layout(self.mesh, node.abstract.shape)]
            fixed = parameter_layout(node.default) if kind == "parameter" and use_user else None
            if fixed is not None:       # Cell.shard(parameter_plan=...): only the placements of those splits
                splits, desc, source = fixed
                lays = [lay for lay in lays if tuple(lay.splits) == tuple(splits)]
                if not lays:
                    raise PlanError(f"{desc}: parameter {node.name!r} of shape {list(node.abstract.shape)} cannot "
                                    f"be split {tuple(splits)} on {self.mesh!r} (each split must be a product of "
                                    f"mesh axes, {self.mesh.size} devices in all){source}")
            v.choices = [Choice((lay,), cost=ChoiceCost(0.0, 0.0, self.model.memory(lay, item))) for lay in lays]
            if fixed is not None:
                v.user_strategy = (tuple(fixed[0]),)
        self._value[id(node)] = (v.index, 0)
        return self._value[id(node)]

    def _input(self, node):
        if isinstance(node, (Constant, Param)):
            return self._source(node)
        ref = self._value.get(id(node))
        if ref is None or ref[1] is None:
            raise PlanError(f"auto-parallel: {_where(node)} a tuple value is used as a tensor")
        return ref

    def _build(self, use_user):
        g = self.graph
        for p in g.params:
            self._source(p, use_user)
        for n in g.nodes:
            if n.op is TUPLE_GETITEM:
                src = self._value.get(id(n.inputs[0]))
                if src is None or src[1] is not None:
                    raise PlanError(f"auto-parallel: {_where(n)} tuple_getitem of a value that is not an op's tuple")
                self._value[id(n)] = (src[0], n.attrs["index"])
                continue
            if n.op is MAKE_TUPLE:
                if n is not g.output:
                    raise PlanError(f"auto-parallel: {_where(n)} tuples are only supported as the graph's output")
                continue
            if not isinstance(n.op, Primitive):
                raise PlanError(f"auto-parallel: {_where(n)} {op_name(n.op)} nodes (control flow, calls, print) are "
                                f"not supported; the planner splits straight-line graphs of primitives")
            ins = [self._input(i) for i in n.inputs]
            outs = n.abstract.elements if isinstance(n.abstract, AbstractTuple) else (n.abstract,)
            v = self._add_var("op", n, n.op.name, outs)
            v.inputs = ins
            self._value[id(n)] = (v.index, None if isinstance(n.abstract, AbstractTuple) else 0)
            self._op_choices(v, use_user)
            for k, (src, out) in enumerate(ins):
                self.edges.append(Edge(src, out, v.index, k, v.node.inputs[k].abstract.dtype.np.itemsize,
                                       inplace=k in self._spec_of(v).inplace))
        out = g.output
        outs = out.inputs if isinstance(out, Apply) and out.op is MAKE_TUPLE else (out,)
        for o in outs:
            self.outputs.append(self._input(o))
        for e in self.edges:
            e.table = self._edge_table(e)
        self._output_reductions()

    def _spec_of(self, v):
        return v.choices[0].sharding.spec

    def _op_choices(self, v, use_user):
        n = v.node
        avals = [i.abstract for i in n.inputs]
        try:
            spec = shard_spec(n.op, avals, n.attrs)
            strategy = getattr(n.op, "strategy", None) if use_user else None
            if strategy is not None:
                shs = from_strategy(n.op, strategy, avals, n.attrs, self.mesh, spec)
                v.user_strategy = tuple(strategy)
            else:
                shs = shardings(n.op, avals, n.attrs, self.mesh, spec)
        except StrategyError as e:
            owner = getattr(n.op, "owner", None)      # a layout node of Cell.shard: name the cell and its entry
            if owner is not None:
                raise PlanError(f"{owner} cannot be used for a tensor of shape {list(avals[0].shape)} on "
                                f"{self.mesh!r}: {str(e).split(': ', 1)[-1]}{_at(n)}") from None
            raise PlanError(f"{e}{_at(n)}") from None
        if not shs:
            raise PlanError(f"auto-parallel: {n.op.name} has no valid way to run on {self.mesh!r}{_at(n)}")
        v.choices = [Choice(sh.out_layouts, sh.in_layouts, sh, self.model.op_cost(sh)) for sh in shs]

    def _edge_table(self, e):
        src, dst = self.vars[e.src], self.vars[e.dst]
        t = np.empty((len(src.choices), len(dst.choices)))
        for i, a in enumerate(src.choices):
            lay = a.out_layouts[e.out]
            for j, b in enumerate(dst.choices):
                need = b.in_layouts[e.inp]
                if e.inplace:
                    t[i, j] = 0.0 if lay == need else math.inf
                else:
                    t[i, j] = self.model.redistribution_time(lay, need, e.itemsize)
        return t

    def _output_reductions(self):
        for vi, k in self.outputs:
            v = self.vars[vi]
            item = v.out_avals[k].dtype.np.itemsize
            for c in v.choices:
                lay = c.out_layouts[k]
                if lay.is_partial:
                    t = self.model.redistribution_time(lay, _unpartial(lay), item)
                    c.output_reduction += t
                    c.cost = ChoiceCost(c.cost.compute, c.cost.communication + t, c.cost.memory)

    # ---------------------------------------------------------------------------------------- queries
    @property
    def ops(self):
        return [v for v in self.vars if v.is_op]

    def incident(self, vi):
        """Edges touching variable ``vi``."""
        if not hasattr(self, "_incident"):
            self._incident = {v.index: [] for v in self.vars}
            for e in self.edges:
                self._incident[e.src].append(e)
                self._incident[e.dst].append(e)
        return self._incident[vi]

    def evaluate(self, assign):
        """(objective, compute, communication, memory) of a full assignment (choice index per variable)."""
        compute = comm = memory = 0.0
        for v, s in zip(self.vars, assign):
            c = v.choices[s].cost
            compute, comm, memory = compute + c.compute, comm + c.communication, memory + c.memory
        for e in self.edges:
            comm += e.table[assign[e.src], assign[e.dst]]
        return compute + comm + TIE_BREAK * memory, compute, comm, memory

    def memory(self, assign):
        return sum(v.choices[s].cost.memory for v, s in zip(self.vars, assign))

    def local_cost(self, vi, s, assign):
        """(compute, communication) of variable ``vi`` taking choice ``s`` with every other variable as in
        ``assign``: its own cost plus every edge touching it (redistribution of its inputs and of its outputs)."""
        c = self.vars[vi].choices[s].cost
        comm = c.communication
        for e in self.incident(vi):
            i = s if e.src == vi else assign[e.src]
            j = s if e.dst == vi else assign[e.dst]
            comm += e.table[i, j]
        return c.compute, comm

    def size(self):
        return {"variables": len(self.vars), "ops": len(self.ops), "edges": len(self.edges),
                "choices": sum(len(v.choices) for v in self.vars),
                "edge_entries": int(sum(e.table.size for e in self.edges))}


def _unpartial(lay):
    return TensorLayout._make(lay.mesh, lay.shape, lay.dim_axes)


def _where(node):
    s = node.source
    return f"{s.file}:{s.line}:" if s is not None else ""


def _at(node):
    s = node.source
    if s is None:
        return ""
    return f"\n  at {s.file}:{s.line}: {s.text}" if s.text else f"\n  at {s.file}:{s.line}"


def build_problem(graph, mesh, profile=None, memory_limit=None, use_user_strategies=True, inputs="batch"):
    return Problem(graph, mesh, profile, memory_limit, use_user_strategies, inputs)
