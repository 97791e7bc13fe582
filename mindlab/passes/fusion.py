"""fuse_elementwise: each maximal group of connected elementwise nodes becomes one node running one generated kernel.

A node can join a group when its primitive has a ``fuse`` rule (the op on scalars, see ``ops.registry``), it is
neither an effect nor random, its dtypes are ones the kernels handle (not float16), and each input is either the
output's full shape (same element count), a one-element tensor (a scalar, read once) or a row repeated over the
leading axes (a bias: ``(C,)`` against ``(N, C)``). Connected nodes with the same output shape are grouped, and the
group is replaced by one ``Apply`` of a generated ``Primitive`` (not registered): its CPU kernel is the numba loop
``kernels/cpu/fused.py`` generates, one pass over memory; its infer rule returns the group's outputs; it is not
differentiable (fusion runs last, after autodiff, so no bprop ever sees it). A group member used outside the group
(or returned) is an output: a group with several returns a tuple, read with ``tuple_getitem`` nodes.

Two rules keep the rewrite correct:

* **no cycles**: a node joins a group only if none of its other inputs depends on that group, directly or through
  other groups (``softmax``: ``exp`` and the division by ``sum(exp)`` stay in separate groups) — tracked with
  per-node bitsets of the groups each value depends on, closed over the groups' own outside inputs;
* **program order around effects**: groups never span an effect (``assign``, optimizer updates, ``print``, control
  flow holding effects) or a random op, and nodes are only reordered between two such barriers, so every read of
  a parameter still happens on the same side of the update that writes it.

Groups smaller than ``OPTIONS.min_nodes`` nodes or ``OPTIONS.min_elements`` output elements stay as they are
(numpy's own ufuncs are one pass each already; tiny tensors are not worth a compiled kernel). Fusion runs on the
devices with a kernel builder in ``BUILDERS`` (CPU's is ``kernels/cpu/fused.py``); ``MINDLAB_FUSION=0`` or ``OPTIONS.enabled = False`` turns it off (``MINDLAB_FUSION_MIN_ELEMENTS=0`` fuses
every group, e.g. to run the whole test suite through fused kernels).
"""
import heapq
import os
from dataclasses import dataclass

import numpy as np

from .. import context as _context
from ..ir.anf import Apply, Constant, AbstractTuple, TUPLE_GETITEM
from ..ops.abstract import AbstractTensor
from ..ops.registry import Primitive, Cost, not_differentiable
from ..kernels.cpu import fused as _fused
from .dce import effect_roots

__all__ = ["fuse_elementwise", "FusionOptions", "OPTIONS", "fusion_options", "fused_nodes", "BUILDERS",
           "register_builder"]

# device name -> compile_expr(expr: FusedExpr, shape, row_size, work_per_element) -> kernel on that device's arrays.
# A device backend adds its code generator with register_builder; devices without one are not fused.
BUILDERS = {"CPU": _fused.compile_expr}


def register_builder(device, compile_expr):
    """Make ``fuse_elementwise`` fuse on ``device``, generating each group's kernel with ``compile_expr``."""
    BUILDERS[device] = compile_expr

_SUPPORTED = frozenset(_fused.SUPPORTED_DTYPES)
_MAX_LABEL_OPS = 8


@dataclass
class FusionOptions:
    enabled: bool = os.environ.get("MINDLAB_FUSION", "1") not in ("0", "")
    min_nodes: int = 2          # a group of one op gains nothing over numpy's ufunc
    min_elements: int = int(os.environ.get("MINDLAB_FUSION_MIN_ELEMENTS", 1024))   # smaller: not worth a kernel


OPTIONS = FusionOptions()


class fusion_options:
    """Context manager setting fusion options for a while: ``with fusion_options(min_elements=0): ...``."""

    def __init__(self, **changes):
        for k in changes:
            if not hasattr(OPTIONS, k):
                raise TypeError(f"unknown fusion option {k!r}")
        self.changes, self.saved = changes, {}

    def __enter__(self):
        self.saved = {k: getattr(OPTIONS, k) for k in self.changes}
        for k, v in self.changes.items():
            setattr(OPTIONS, k, v)
        return OPTIONS

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            setattr(OPTIONS, k, v)


def fused_nodes(graph):
    """The fused nodes of ``graph`` and its subgraphs (Apply nodes whose op came from this pass)."""
    return [n for g in graph.all_graphs() for n in g.nodes
            if isinstance(n.op, Primitive) and getattr(n.op, "fused_expr", None) is not None]


# ---------------------------------------------------------------- which nodes may join a group
def _size(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _input_kind(in_shape, out_shape):
    """How a kernel reads an input of ``in_shape`` for an output of ``out_shape``: (kind, row size) or None."""
    n_in = _size(in_shape)
    if n_in == _size(out_shape):
        return "full", None          # broadcasting with equal sizes keeps the element order
    if n_in == 1:
        return "scalar", None
    core = tuple(in_shape)
    while core and core[0] == 1:
        core = core[1:]
    if core and len(core) < len(out_shape) and tuple(out_shape[-len(core):]) == core:
        return "row", n_in
    return None


def _const_value(node):
    """The Python value of a one-element Constant (fuse rules may specialise on it), else None."""
    if isinstance(node, Constant) and isinstance(node.abstract, AbstractTensor) and node.abstract.size == 1:
        try:
            return np.asarray(node.value).reshape(-1)[0].item()
        except (TypeError, ValueError, AttributeError):
            return None
    return None


def _member_info(n):
    """For a node that may be fused: (output shape, row size or None). None when it may not."""
    op = n.op
    if not isinstance(op, Primitive) or getattr(op, "fuse", None) is None or op.effect or op.random:
        return None
    out = n.abstract
    if not isinstance(out, AbstractTensor) or out.dtype.np not in _SUPPORTED:
        return None
    row = None
    args = []
    for k, i in enumerate(n.inputs):
        a = i.abstract
        if not isinstance(a, AbstractTensor) or a.dtype.np not in _SUPPORTED:
            return None
        kind = _input_kind(a.shape, out.shape)
        if kind is None:
            return None
        if kind[0] == "row":
            if row is not None and row != kind[1]:
                return None
            row = kind[1]
        args.append(_fused.FuseArg(f"a{k}", a.dtype.np, _const_value(i)))
    try:
        expr = _fused.render(op, args, out.dtype.np, n.attrs)
    except (KeyError, IndexError, TypeError, ValueError):
        return None
    if expr is None:
        return None
    return out.shape, row


# ---------------------------------------------------------------- grouping
class _Groups:
    """Union-find over group ids, with bitsets: ``reach[node]`` = groups the node's value depends on (itself
    included), ``ext[group]`` = groups its members' outside inputs depend on."""

    def __init__(self):
        self.parent = []
        self.bits = []      # root -> bitset of the raw ids merged into it
        self.ext = []       # root -> bitset (raw ids) of groups the group depends on through outside nodes
        self.shape, self.row, self.segment = [], [], []

    def new(self, shape, row, segment):
        k = len(self.parent)
        self.parent.append(k)
        self.bits.append(1 << k)
        self.ext.append(0)
        self.shape.append(shape)
        self.row.append(row)
        self.segment.append(segment)
        return k

    def find(self, k):
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def depends(self, bits):
        """Every group (as raw-id bits) that a value depending on the groups ``bits`` depends on once groups are
        single nodes: a group depends on whatever any of its members' outside inputs depends on."""
        result, frontier = 0, bits
        while frontier:
            low = frontier & -frontier
            frontier ^= low
            if result & low:
                continue
            r = self.find(low.bit_length() - 1)
            result |= self.bits[r]
            frontier = (frontier | self.ext[r]) & ~result
        return result

    def merge(self, roots):
        root = roots[0]
        for r in roots[1:]:
            self.parent[r] = root
            self.bits[root] |= self.bits[r]
            self.ext[root] |= self.ext[r]
            if self.row[root] is None:
                self.row[root] = self.row[r]
        return root


def _groups(g):
    """Groups of ``g``'s fusible nodes: {root id: [members in node order]}."""
    barriers = {id(n) for n in effect_roots(g)}
    barriers |= {id(n) for n in g.nodes if isinstance(n.op, Primitive) and (n.op.effect or n.op.random)}
    G = _Groups()
    group_of, reach = {}, {}
    segment = 0
    for n in g.nodes:
        if id(n) in barriers:
            segment += 1
        in_reach = 0
        for i in n.inputs:
            in_reach |= reach.get(id(i), 0)
        info = None if id(n) in barriers else _member_info(n)
        if info is None:
            reach[id(n)] = in_reach
            if id(n) in barriers:
                segment += 1
            continue
        shape, row = info
        cands = []
        for i in n.inputs:
            k = group_of.get(id(i))
            if k is None:
                continue
            r = G.find(k)
            if r not in cands and G.shape[r] == shape and G.segment[r] == segment:
                cands.append(r)
        chosen = []
        for r in cands:
            if _may_merge(G, chosen + [r], n, row, group_of, reach):
                chosen.append(r)
        root = G.merge(chosen) if chosen else G.new(shape, row, segment)
        if G.row[root] is None:
            G.row[root] = row
        group_of[id(n)] = root
        for i in n.inputs:
            k = group_of.get(id(i))
            if k is None or G.find(k) != root:
                G.ext[root] |= reach.get(id(i), 0)
        reach[id(n)] = in_reach | G.bits[root]
    members = {}
    for n in g.nodes:
        k = group_of.get(id(n))
        if k is not None:
            members.setdefault(G.find(k), []).append(n)
    return members, {r: G.row[r] for r in members}


def _may_merge(G, roots, n, row, group_of, reach):
    """Whether ``n`` may join the union of the groups ``roots`` without making the graph cyclic: no outside input
    of ``n``, and no group of ``roots`` through outside nodes, may depend on (another of) the groups."""
    rows = {G.row[r] for r in roots if G.row[r] is not None}
    if row is not None:
        rows.add(row)
    if len(rows) > 1:
        return False
    mask = 0
    for r in roots:
        mask |= G.bits[r]
    for r in roots:
        if G.depends(G.ext[r]) & (mask & ~G.bits[r]):
            return False
    for i in n.inputs:
        k = group_of.get(id(i))
        if k is not None and G.find(k) in roots:
            continue
        if G.depends(reach.get(id(i), 0)) & mask:
            return False
    return True


# ---------------------------------------------------------------- the fused primitive
def _label(members):
    names = [m.op.name for m in members]
    if len(names) > _MAX_LABEL_OPS:
        names = names[:_MAX_LABEL_OPS - 1] + [f"+{len(names) - _MAX_LABEL_OPS + 1} more"]
    return "fused(" + ",".join(names) + ")"


def _build(members, uses_outside, shape, row):
    """(Primitive, outside input nodes, output members) for one group."""
    member_ids = {id(m) for m in members}
    expr = _fused.FusedExpr()
    ext_args, ext_nodes, arg_of = {}, [], {}
    for m in members:
        args = []
        for i in m.inputs:
            if id(i) in member_ids:
                args.append(arg_of[id(i)])
                continue
            if id(i) not in ext_args:
                kind, _ = _input_kind(i.abstract.shape, shape)
                ext_args[id(i)] = expr.add_input(kind, i.abstract.dtype.np, _const_value(i))
                ext_nodes.append(i)
            args.append(ext_args[id(i)])
        text = _fused.render(m.op, args, m.abstract.dtype.np, m.attrs)
        arg_of[id(m)] = expr.add_step(text, m.abstract.dtype.np, m.op.name)
    outputs = [m for m in members if uses_outside(m)]
    for m in outputs:
        expr.add_output(arg_of[id(m)])
    flops = sum(m.op.cost(*[i.abstract for i in m.inputs], **m.attrs).flops for m in members)
    device = _context.get_context("device_target")
    call = BUILDERS[device](expr, shape, row or 1, flops / max(_size(shape), 1))
    out_abs = tuple(m.abstract for m in outputs)
    in_abs = [i.abstract for i in ext_nodes]
    nbytes = sum(a.nbytes for a in in_abs) + sum(a.nbytes for a in out_abs)

    def infer(*avals):
        return out_abs if len(out_abs) > 1 else out_abs[0]

    def cost(*avals):
        # flops: the members' together; bytes: what the fused kernel moves (inputs read once, outputs written once)
        return Cost(flops, nbytes)

    prim = Primitive(_label(members), infer, {device: call},
                     not_differentiable("fused after differentiation: the fusion pass runs after autodiff"),
                     cost, outputs=len(out_abs), doc=getattr(call, "source", ""), native=getattr(call, "native", None))
    prim.fused_expr = expr
    return prim, ext_nodes, outputs


# ---------------------------------------------------------------- the pass
def fuse_elementwise(graph):
    """Fuse elementwise groups in ``graph`` and every subgraph (in place); returns ``graph``."""
    if not OPTIONS.enabled or _context.get_context("device_target") not in BUILDERS:
        return graph
    if _context.get_context("debug_nans"):   # NaN checks name one primitive per node: keep them unfused
        return graph
    graphs = graph.all_graphs()
    used_by = {}          # id(node) -> ids of the nodes using it (any graph), or "out" for a graph output
    for g in graphs:
        for n in g.nodes:
            for i in n.inputs:
                used_by.setdefault(id(i), set()).add(id(n))
        if g.output is not None:
            used_by.setdefault(id(g.output), set()).add("out")
    mapping = {}          # id(old member) -> node now holding its value
    for g in graphs:
        _fuse_graph(g, used_by, mapping)
    if mapping:
        for g in graphs:
            for n in g.nodes:
                if any(id(i) in mapping for i in n.inputs):
                    n.inputs = tuple(mapping.get(id(i), i) for i in n.inputs)
            if g.output is not None:
                g.output = mapping.get(id(g.output), g.output)
    return graph


def _fuse_graph(g, used_by, mapping):
    members_of, rows = _groups(g)
    units = {}            # id(first member) -> [fused node, tuple_getitem nodes...]
    member_unit = {}      # id(member) -> id(first member) of its group
    for root, members in members_of.items():
        shape = members[0].abstract.shape
        if len(members) < OPTIONS.min_nodes or _size(shape) < OPTIONS.min_elements:
            continue
        ids = {id(m) for m in members}
        prim, ext_nodes, outputs = _build(members, lambda m: bool(used_by.get(id(m), set()) - ids), shape,
                                          rows[root])
        source = outputs[-1].source or members[-1].source
        out_abs = prim.infer()
        node = Apply(g, prim, ext_nodes, {}, AbstractTuple(out_abs) if len(outputs) > 1 else out_abs, source)
        new = [node]
        if len(outputs) > 1:
            for k, m in enumerate(outputs):
                get = Apply(g, TUPLE_GETITEM, [node], {"index": k}, m.abstract, m.source)
                new.append(get)
                mapping[id(m)] = get
        else:
            mapping[id(outputs[0])] = node
        units[id(members[0])] = new
        for m in members:
            member_unit[id(m)] = id(members[0])
    if units:
        g.nodes = _reorder(g, units, member_unit, mapping)


def _reorder(g, units, member_unit, mapping):
    """``g``'s node list with each fused group's members replaced by its nodes, in a topological order that keeps
    the original order where it can and never moves a node across an effect or random node."""
    barriers = {id(n) for n in effect_roots(g)}
    barriers |= {id(n) for n in g.nodes if isinstance(n.op, Primitive) and (n.op.effect or n.op.random)}
    # units: a fused group (keyed by its first member) or a plain node (keyed by itself), with its position
    order, segments, seg = [], [[]], 0
    for pos, n in enumerate(g.nodes):
        u = member_unit.get(id(n))
        if u is not None:
            if u == id(n):
                segments[-1].append((pos, u, units[u]))
            continue
        if id(n) in barriers:
            segments.append([(pos, id(n), [n])])
            segments.append([])
        else:
            segments[-1].append((pos, id(n), [n]))
    producer = {}         # id(node) -> unit key
    for seg_units in segments:
        for _, key, nodes in seg_units:
            for m in nodes:
                producer[id(m)] = key
    for seg_units in segments:
        keys = {key for _, key, _ in seg_units}
        pos_of = {key: pos for pos, key, _ in seg_units}
        nodes_of = {key: nodes for _, key, nodes in seg_units}
        deps = {key: set() for key in keys}
        users = {key: [] for key in keys}
        for key in keys:
            for m in nodes_of[key]:
                for i in m.inputs:
                    src = producer.get(id(mapping.get(id(i), i)))
                    if src is not None and src != key and src in keys and src not in deps[key]:
                        deps[key].add(src)
                        users[src].append(key)
        ready = [(pos_of[k], k) for k in keys if not deps[k]]
        heapq.heapify(ready)
        done = 0
        while ready:
            _, key = heapq.heappop(ready)
            order.extend(nodes_of[key])
            done += 1
            for u in users[key]:
                deps[u].discard(key)
                if not deps[u]:
                    heapq.heappush(ready, (pos_of[u], u))
        if done != len(keys):   # the grouping rules exclude this; fail loudly rather than drop nodes
            raise RuntimeError(f"fuse_elementwise: graph {g.name} would have a cycle after fusion")
    return order
