"""Building graphs by running mindlab's own op functions on symbolic tensors.

The frontend parses the *user's* code from its source; mindlab's op functions (``ops.mul``, Tensor operators,
bprop rules) are simply run with ``Symbol`` arguments: ``bind`` sees a Symbol and calls ``graph_bind``, which adds
an ``Apply`` node to the graph being built instead of running a kernel. The same route turns bprop rules into
IR when the autodiff pass differentiates a graph.
"""
import weakref as _weakref

from ..device import host as _host
from ..errors import MindlabError, current_source, user_source, where
from ..ops.abstract import AbstractTensor
from ..tensor import Tensor, Parameter
from ..ops.shard import _scope as _shard_scope, current_strategy, sharded
from .anf import AbstractTuple, TUPLE_GETITEM, MAKE_TUPLE

_stack = []   # graphs being built, innermost last
_weight_hooks = []   # the compilers' functions mapping a Parameter to the Symbol of its graph weight
_captured = []       # while a program is compiled: (weakref to a Tensor, its array) for each tensor made a constant


class weights_from:
    """Context manager: while inside, Parameters met by ``to_node`` become ``hook(parameter)`` (graph weights)."""

    def __init__(self, hook):
        self.hook = hook

    def __enter__(self):
        _weight_hooks.append(self.hook)

    def __exit__(self, *exc):
        _weight_hooks.pop()


class building:
    """Context manager: new nodes go to ``graph`` while inside."""

    def __init__(self, graph):
        self.graph = graph

    def __enter__(self):
        _stack.append(self.graph)
        return self.graph

    def __exit__(self, *exc):
        _stack.pop()


def current_graph():
    if not _stack:
        raise RuntimeError("no graph is being built")
    return _stack[-1]


class Symbol(Tensor):
    """A tensor whose value is a node of a graph being built (no data: shape and dtype only)."""
    __slots__ = ("node",)

    def __init__(self, node):
        self.node = node
        self._data = None
        self._node = None

    @property
    def shape(self):
        return self.node.abstract.shape

    @property
    def dtype(self):
        return self.node.abstract.dtype

    @property
    def ndim(self):
        return len(self.node.abstract.shape)

    @property
    def size(self):
        return self.node.abstract.size

    @property
    def nbytes(self):
        return self.node.abstract.nbytes

    def _no_value(self, what):
        raise MindlabError(f"{what}: a tensor's value is not known while a graph is being compiled "
                           f"({self.node.abstract}); keep the computation in mindlab ops, or use PYNATIVE_MODE."
                           f"{where()}")

    def asnumpy(self):
        self._no_value("asnumpy()")

    def __array__(self, dtype=None, copy=None):
        self._no_value("conversion to numpy")

    def item(self):
        self._no_value("item()")

    def __bool__(self):
        self._no_value("the truth value of a tensor")

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        return f"Symbol(%{self.node.id}: {self.node.abstract})"

    __str__ = __repr__


def is_symbolic(x):
    return isinstance(x, Symbol)


def to_node(value, graph=None):
    """The node for a value used in a graph: a Symbol's node, or a Constant for a concrete tensor."""
    if isinstance(value, Symbol):
        return value.node
    g = graph or current_graph()
    if _weight_hooks and isinstance(value, Parameter):
        return _weight_hooks[-1](value).node
    if isinstance(value, Tensor):
        if _captured:   # a global's or attribute's tensor changed later (in place or replaced) invalidates the program
            _captured[-1].append((_weakref.ref(value), value._data))
        # constants are host arrays in the IR (passes fold them with CPU kernels); the executor moves them back
        return g.constant(_host(value._data), AbstractTensor(value.shape, value.dtype), current_source())
    raise TypeError(f"expected a tensor in the graph, got {type(value).__name__}.{where()}")


def wrap_node(node):
    """The Python value for a node's result: a Symbol, or a tuple of Symbols for tuple-valued nodes."""
    if isinstance(node.abstract, AbstractTuple):
        g = current_graph()
        return tuple(wrap_node(g.apply(TUPLE_GETITEM, [node], {"index": i}, a, node.source))
                     for i, a in enumerate(node.abstract.elements))
    return Symbol(node)


def graph_bind(prim, args, attrs):
    """``bind`` for symbolic inputs: infer the output (clear error with the user's line) and add an Apply node."""
    from ..ops.dispatch import _fail
    for a in args:
        if not isinstance(a, Tensor):
            raise TypeError(f"{prim.name}: every input must be a Tensor, got {type(a).__name__}.{where()}")
    g = current_graph()
    inputs = [to_node(a, g) for a in args]
    try:
        out = prim.infer(*[n.abstract for n in inputs], **attrs)
    except (MindlabError, ValueError, TypeError) as exc:
        raise _fail(prim, args, attrs, exc) from None
    if isinstance(out, tuple):
        out = AbstractTuple(out)
    if _shard_scope:   # a P-class instance given a strategy with .shard(...) is being called: the node keeps it
        strategy = current_strategy(len(inputs))
        if strategy is not None:
            prim = sharded(prim, strategy)
    return wrap_node(g.apply(prim, inputs, attrs, out, node_source()))


def node_source():
    """The source line a new node is attributed to: the user's innermost line being compiled (a layer's internals
    are attributed to the user's line that called the layer), else mindlab's own line."""
    return user_source() or current_source()


def make_tuple(values):
    g = current_graph()
    nodes = [to_node(v, g) for v in values]
    return g.apply(MAKE_TUPLE, nodes, {}, AbstractTuple([n.abstract for n in nodes]), current_source())


def abstract_of(value):
    """Abstract value of a concrete Tensor or a Symbol."""
    if isinstance(value, Symbol):
        return value.node.abstract
    if isinstance(value, Tensor):
        return AbstractTensor(value.shape, value.dtype)
    raise TypeError(f"no abstract value for {type(value).__name__}")


def is_weight(value):
    """Whether a value being compiled is one of the graph's Parameters (a weight input)."""
    return isinstance(value, Symbol) and isinstance(getattr(value.node, "default", None), Parameter)
