"""The graph IR, in A-normal form: a ``Graph`` is a value holding ``Param`` inputs, ``Apply`` nodes and an output.

* ``Constant(value)``: a tensor, number or Graph known at compile time.
* ``Param``: a graph input; weights (mindlab Parameters) are Params with a ``default``.
* ``Apply(op, inputs, attrs)``: ``op`` is a registry Primitive, a builtin IR op (``make_tuple``,
  ``tuple_getitem``, ``if_``, ``while_``, ``print_``, ``assign``-like effects) or a Graph (a call).

A subgraph (an ``if`` branch, a loop body) may use nodes of the graphs around it: those are its *free
variables* (closures). ``passes.lift_free_variables`` turns them into explicit parameters before execution and
differentiation. Every node carries its abstract value (shape/dtype) and the user's source line.
"""
import itertools
from dataclasses import dataclass

from ..ops.abstract import AbstractTensor

_ids = itertools.count(1)


@dataclass(frozen=True)
class SourceInfo:
    """Where a node came from in the user's program."""
    file: str
    line: int
    text: str = ""
    function: str = ""

    def __str__(self):
        return f"{self.file}:{self.line}"


class AbstractTuple:
    """Abstract value of a tuple of values (multi-output ops, tuple outputs of graphs)."""
    __slots__ = ("elements",)

    def __init__(self, elements):
        self.elements = tuple(elements)

    def __eq__(self, other):
        return isinstance(other, AbstractTuple) and self.elements == other.elements

    def __hash__(self):
        return hash(self.elements)

    def __repr__(self):
        return "(" + ", ".join(map(repr, self.elements)) + ")"


class Node:
    __slots__ = ("id", "graph", "abstract", "source")

    def __init__(self, graph, abstract=None, source=None):
        self.id = next(_ids)
        self.graph = graph
        self.abstract = abstract
        self.source = source


class Constant(Node):
    __slots__ = ("value",)

    def __init__(self, value, abstract=None, graph=None, source=None):
        super().__init__(graph, abstract, source)
        self.value = value

    def __repr__(self):
        return f"Constant({self.abstract})"


class Param(Node):
    """A graph input. ``default`` is the mindlab Parameter for weights (read when the graph runs)."""
    __slots__ = ("name", "default")

    def __init__(self, graph, name, abstract, default=None, source=None):
        super().__init__(graph, abstract, source)
        self.name, self.default = name, default

    def __repr__(self):
        return f"Param({self.name}: {self.abstract})"


class Apply(Node):
    __slots__ = ("op", "inputs", "attrs")

    def __init__(self, graph, op, inputs, attrs=None, abstract=None, source=None):
        super().__init__(graph, abstract, source)
        self.op, self.inputs, self.attrs = op, tuple(inputs), dict(attrs or {})

    @property
    def op_name(self):
        return op_name(self.op)

    def __repr__(self):
        return f"Apply({self.op_name}, #{self.id})"


class Builtin:
    """An IR operation that is not a tensor primitive: tuples, control flow, effects."""
    __slots__ = ("name", "effect")

    def __init__(self, name, effect=False):
        self.name, self.effect = name, effect

    def __repr__(self):
        return self.name


MAKE_TUPLE = Builtin("make_tuple")
TUPLE_GETITEM = Builtin("tuple_getitem")   # attrs: index
IF = Builtin("if")                          # inputs: cond, *operands; attrs: then_graph, else_graph
WHILE = Builtin("while")                    # inputs: *carry; attrs: cond_graph, body_graph
PRINT = Builtin("print", effect=True)       # attrs: template (format pieces)


def op_name(op):
    if isinstance(op, Graph):
        return f"call @{op.name}"
    return getattr(op, "name", repr(op))


class Graph:
    """A function in the IR. ``nodes`` keeps every Apply in creation order, which is a valid execution order;
    ``effects`` lists side-effecting nodes (print, assign) that run even though nothing uses their value."""
    _names = itertools.count(1)

    def __init__(self, name, parent=None, source=None):
        self.name = f"{name}_{next(Graph._names)}"
        self.parent = parent
        self.params = []
        self.nodes = []
        self.effects = []
        self.output = None
        self.source = source
        self.kind = "function"   # or "then" / "else" / "cond" / "body" / "bprop"

    # ------------------------------------------------------------------ building
    def add_param(self, name, abstract, default=None, source=None):
        p = Param(self, name, abstract, default, source)
        self.params.append(p)
        return p

    def apply(self, op, inputs, attrs=None, abstract=None, source=None):
        node = Apply(self, op, inputs, attrs, abstract, source)
        self.nodes.append(node)
        if getattr(op, "effect", False):
            self.effects.append(node)
        return node

    def constant(self, value, abstract, source=None):
        return Constant(value, abstract, self, source)

    # ------------------------------------------------------------------ queries
    def subgraphs(self):
        """Graphs referenced by this graph's nodes (branches, loop bodies, callees), direct only."""
        seen = []
        for n in self.nodes:
            for g in graphs_of(n):
                if g not in seen:
                    seen.append(g)
        return seen

    def all_graphs(self):
        """This graph and every graph reachable from it, each once, parents first."""
        out, stack = [], [self]
        while stack:
            g = stack.pop(0)
            if g in out:
                continue
            out.append(g)
            stack.extend(g.subgraphs())
        return out

    def free_variables(self):
        """Nodes used here (or in nested subgraphs) that belong to an enclosing graph."""
        inner = set(id(g) for g in self.all_graphs())
        fvs, seen = [], set()
        for g in self.all_graphs():
            used = [i for n in g.nodes for i in n.inputs]
            if g.output is not None:
                used.append(g.output)
            for i in used:
                if isinstance(i, (Apply, Param)) and id(i.graph) not in inner and id(i) not in seen:
                    seen.add(id(i))
                    fvs.append(i)
        return fvs

    def __repr__(self):
        return f"Graph({self.name})"


def graphs_of(node):
    if not isinstance(node, Apply):
        return []
    gs = [v for k, v in sorted(node.attrs.items()) if isinstance(v, Graph)]
    if isinstance(node.op, Graph):
        gs.insert(0, node.op)
    return gs


def is_tensor_abstract(a):
    return isinstance(a, AbstractTensor)
