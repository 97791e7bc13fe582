"""Graph JSON (``application/vnd.mindlab.graph+json``): one document format for every stage of a program — the
forward IR as parsed, gradient graphs and optimized graphs — so that one renderer (the JupyterLab extension, or
``dot.json_to_dot``) serves all of them. ``mindlab/ir/schema/graph.schema.json`` describes the format.

A document::

    {"format": "application/vnd.mindlab.graph+json", "version": 1, "kind": "forward", "title": "...",
     "root": "g0",
     "graphs": [{"id": "g0", "name": "f_1", "kind": "function", "parent": null, "source": {...} | null,
                 "params": [{"id": "n0", "name": "x", "shape": [2, 3], "dtype": "Float32", "is_weight": false}],
                 "outputs": ["n7"], "effects": []}, ...],
     "nodes": [{"id": "n3", "graph": "g0", "op": "matmul", "kind": "primitive", "inputs": ["n0", "n1"],
                "attrs": {"transpose_b": true}, "shape": [2, 4], "dtype": "Float32",
                "source": {"file": ..., "line": 9, "text": "x = self.fc(x)", "function": "construct"},
                "subgraphs": [], "cost": {"flops": 48, "bytes": 104}}, ...],
     "edges": [{"src": "n0", "dst": "n3", "index": 0}, ...]}

Everything is plain JSON data (no NaN: non-finite floats become the strings "nan", "inf", "-inf"); no value is
ever rendered with ``repr()``, so a document never carries markup a renderer could mistake for HTML — strings
from the user's program (source lines, names) come through unchanged, and renderers treat them as text.

Ids are renumbered per document (graphs ``g0, g1, ...``, nodes ``n0, n1, ...`` in a fixed walk), so dumping the
same graph twice, or a clone of it, gives the same document.
"""
import math

import numpy as np

from .. import device as _device
from .. import dtype as mdt
from ..ops.abstract import AbstractTensor
from ..ops.registry import Primitive
from ..tensor import Tensor
from .anf import Apply, Builtin, Constant, Graph, Param, AbstractTuple

MIME = "application/vnd.mindlab.graph+json"
VERSION = 1
DOC_KINDS = ("forward", "grad", "optimized")
MAX_CONST_ELEMENTS = 16   # constants up to this many elements are shown by value, larger ones by shape only


# ---------------------------------------------------------------------------------------------- values
def _number(x):
    """A JSON number for a Python/numpy scalar; non-finite floats as strings (JSON has no NaN/Infinity)."""
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _dtype_name(dt):
    """The mindlab name of a mindlab Type or a numpy dtype (``Float32``); numpy's own name for the rest."""
    if isinstance(dt, mdt.Type):
        return dt.name
    try:
        return mdt.from_np(np.dtype(dt)).name
    except Exception:   # a numpy dtype mindlab has no Type for (complex, strings): numpy's name is plain text
        return np.dtype(dt).name


def _array(arr):
    """A small numeric array as nested lists (a scalar for 0-d); a large one as {"shape", "dtype"}."""
    if arr.dtype.kind not in "biuf":
        return {"object": f"ndarray[{arr.dtype.name}]"}
    if arr.size > MAX_CONST_ELEMENTS:
        return {"shape": [int(s) for s in arr.shape], "dtype": _dtype_name(arr.dtype)}
    if arr.ndim == 0:
        return _number(arr.item())
    return _nested(arr.tolist())


def _nested(v):
    return [_nested(x) for x in v] if isinstance(v, list) else _number(v)


def json_value(v, graph_ids):
    """An attribute value as plain JSON: graphs by id ({"graph": "g3"}), dtypes by name, tuples as lists, numpy
    scalars as numbers, arrays/tensors by value (small) or shape, slices as {"slice": [start, stop, step]};
    anything else only by its type name ({"object": "Foo"}) — never its repr."""
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (complex, np.complexfloating)):
        return {"object": type(v).__name__}
    if isinstance(v, (int, float, np.number, np.bool_)):
        return _number(v)
    if isinstance(v, Graph):
        return {"graph": graph_ids[id(v)]}
    if isinstance(v, mdt.Type):
        return v.name
    if isinstance(v, np.dtype):
        return _dtype_name(v)
    if isinstance(v, (tuple, list)):
        return [json_value(x, graph_ids) for x in v]
    if isinstance(v, dict):
        return {"dict": {str(k): json_value(x, graph_ids) for k, x in v.items()}}
    if isinstance(v, np.ndarray):
        return _array(v)
    if isinstance(v, Tensor) and getattr(v, "_data", None) is not None:
        return _array(_device.host(v._data))
    if v is Ellipsis:
        return "..."
    if isinstance(v, slice):
        return {"slice": [json_value(x, graph_ids) for x in (v.start, v.stop, v.step)]}
    return {"object": type(v).__name__}


def abstract_json(a):
    """(shape, dtype) of an abstract value: a tensor's shape list and dtype name; for a tuple, the lists of its
    elements' shapes and dtypes (recursively); for anything else (a while loop's recorded Stack) no shape and
    the abstract type's name."""
    if type(a) is AbstractTensor or isinstance(a, AbstractTensor):
        return list(a.shape), a.dtype.name if isinstance(a.dtype, mdt.Type) else _dtype_name(a.dtype)
    if isinstance(a, AbstractTuple):
        parts = [abstract_json(e) for e in a.elements]
        return [s for s, _ in parts], [d for _, d in parts]
    if a is None:
        return None, None
    name = type(a).__name__
    return None, name[len("Abstract"):] if name.startswith("Abstract") and len(name) > 8 else name


def source_json(src):
    if src is None:
        return None
    return {"file": str(getattr(src, "file", "")), "line": int(getattr(src, "line", 0) or 0),
            "text": str(getattr(src, "text", "") or ""), "function": str(getattr(src, "function", "") or "")}


def _cost_json(node):
    """{flops, bytes} from the primitive's registry cost rule (primitives with tensor inputs only)."""
    avals = [i.abstract for i in node.inputs]
    if not all(isinstance(a, AbstractTensor) for a in avals):
        return None
    c = node.op.cost(*avals, **node.attrs)
    return {"flops": _number(c.flops), "bytes": _number(c.bytes)}


# ---------------------------------------------------------------------------------------------- walk
def _graphs_in(v):
    """Graphs referenced by an attribute or constant value (directly or inside tuples/lists/dicts)."""
    if isinstance(v, Graph):
        return [v]
    if isinstance(v, (tuple, list)):
        return [g for x in v for g in _graphs_in(x)]
    if isinstance(v, dict):
        return [g for x in v.values() for g in _graphs_in(x)]
    return []


def _node_graphs(n):
    """Graphs a node refers to: a call's callee, then branch/body graphs in attribute-name order."""
    if isinstance(n, Constant):
        return _graphs_in(n.value)
    if not isinstance(n, Apply):
        return []
    out = [n.op] if isinstance(n.op, Graph) else []
    if n.attrs:
        for _, v in sorted(n.attrs.items()):
            out.extend(g for g in _graphs_in(v) if g not in out)
    return out


def _walk(root):
    """(graphs, {id(apply): graphs it refers to}): ``root`` and every graph reachable from it (calls,
    branches, loop bodies, graph constants), each once, breadth first — a deterministic order."""
    order, seen, queue, refs = [], set(), [root], {}
    while queue:
        g = queue.pop(0)
        if id(g) in seen:
            continue
        seen.add(id(g))
        order.append(g)
        for n in g.nodes:
            subs = refs[id(n)] = _node_graphs(n)
            queue.extend(subs)
            for i in n.inputs:
                if isinstance(i, Constant) and not isinstance(i.value, np.ndarray):
                    queue.extend(_graphs_in(i.value))
        if isinstance(g.output, Constant):
            queue.extend(_graphs_in(g.output.value))
    return order, refs


def collect_graphs(root):
    """``root`` and every graph reachable from it, each once, breadth first (parents before children)."""
    return _walk(root)[0]


def _op_json(n):
    """(op name, op kind) of a node."""
    if isinstance(n, Param):
        return "param", "param"
    if isinstance(n, Constant):
        return "constant", "constant"
    if isinstance(n, Apply):
        if isinstance(n.op, Primitive):
            return n.op.name, "primitive"
        if isinstance(n.op, Graph):
            return "call", "call"
        if isinstance(n.op, Builtin):
            return n.op.name, "builtin"
        return str(getattr(n.op, "name", type(n.op).__name__)), "builtin"
    return type(n).__name__, "builtin"


# ---------------------------------------------------------------------------------------------- dump
def _constant_fields(doc, n, gids):
    """A constant's value (when it has at most MAX_CONST_ELEMENTS elements) and graphs it holds."""
    value = n.value
    doc["subgraphs"] = [gids[id(sg)] for sg in _graphs_in(value)]
    if isinstance(value, Graph):
        doc["value"] = {"graph": gids[id(value)]}
        return
    arr = _device.host(value._data if hasattr(value, "_data") else value)
    if arr.dtype == object:
        return
    if arr.size <= MAX_CONST_ELEMENTS:
        doc["value"] = json_value(arr, gids)
    if doc["shape"] is None:
        doc["shape"], doc["dtype"] = [int(s) for s in arr.shape], _dtype_name(arr.dtype)


def graph_to_json(graph, kind="forward", title=None):
    """The graph JSON document (a dict of plain JSON types) of ``graph`` and every graph it uses.

    ``kind`` says which stage this is: ``"forward"`` (as parsed), ``"grad"`` (a gradient graph) or
    ``"optimized"`` (after the pass pipeline). ``title`` defaults to the root graph's name."""
    if kind not in DOC_KINDS:
        raise ValueError(f"graph_to_json: kind must be one of {', '.join(DOC_KINDS)}, got {kind!r}")
    if not isinstance(graph, Graph):
        raise TypeError(f"graph_to_json: expected an IR Graph, got {type(graph).__name__}")
    graphs, refs = _walk(graph)
    gids = {id(g): f"g{k}" for k, g in enumerate(graphs)}
    member = {}          # id(param or apply) -> the dumped graph that holds it
    for g in graphs:
        for n in list(g.params) + list(g.nodes):
            member.setdefault(id(n), g)
    docs = {}            # id(node) -> its node document
    nodes, edges, gdocs = [], [], []

    def emit(n, user_graph):
        """The id of node ``n``, adding its document on first sight (a constant belongs to the graph of its
        first user; a node of a graph outside this dump becomes a ``free_variable`` param)."""
        doc = docs.get(id(n))
        if doc is not None:
            return doc["id"]
        op, op_kind = _op_json(n)
        shape, dtype = abstract_json(n.abstract)
        owner = member.get(id(n), user_graph)
        doc = {"id": f"n{len(nodes)}", "graph": gids[id(owner)], "op": op, "kind": op_kind, "inputs": [],
               "attrs": {}, "shape": shape, "dtype": dtype, "source": source_json(n.source), "subgraphs": [],
               "cost": None}
        if isinstance(n, Constant):
            _constant_fields(doc, n, gids)
        elif id(n) not in member:     # a free variable of a graph dumped without the graph that defines it
            doc.update(op="free_variable", kind="param", name=str(getattr(n, "name", f"%{n.id}")),
                       is_weight=getattr(n, "default", None) is not None)
        elif isinstance(n, Param):
            doc.update(name=str(n.name), is_weight=n.default is not None)
        docs[id(n)] = doc
        nodes.append(doc)
        return doc["id"]

    for g in graphs:
        params = []
        for p in g.params:
            shape, dtype = abstract_json(p.abstract)
            params.append({"id": emit(p, g), "name": str(p.name), "shape": shape, "dtype": dtype,
                           "is_weight": p.default is not None})
        for n in g.nodes:
            ins = [emit(i, g) for i in n.inputs]    # constants get their ids just before their user
            nid = emit(n, g)
            doc = docs[id(n)]
            doc["inputs"] = ins
            if n.attrs:
                doc["attrs"] = {str(k): json_value(v, gids) for k, v in sorted(n.attrs.items())}
            subs = refs[id(n)]
            if subs:
                doc["subgraphs"] = [gids[id(sg)] for sg in subs]
            if isinstance(n.op, Primitive):
                doc["cost"] = _cost_json(n)
            edges.extend({"src": s, "dst": nid, "index": k} for k, s in enumerate(ins))
        outputs = [emit(g.output, g)] if g.output is not None else []
        parent = gids.get(id(g.parent)) if g.parent is not None else None
        gdocs.append({"id": gids[id(g)], "name": str(g.name), "kind": str(g.kind), "parent": parent,
                      "source": source_json(g.source), "params": params, "outputs": outputs,
                      "effects": [docs[id(e)]["id"] for e in g.effects if id(e) in docs]})
    return {"format": MIME, "version": VERSION, "kind": kind,
            "title": str(title) if title is not None else str(graph.name), "root": gids[id(graph)],
            "graphs": gdocs, "nodes": nodes, "edges": edges}


# ---------------------------------------------------------------------------------------------- checks
class GraphJSONError(ValueError):
    """A graph JSON document that does not follow the schema or refers to ids it does not define."""


_VALIDATOR = []


def _validator():
    if not _VALIDATOR:
        import jsonschema
        from .schema import load
        schema = load("graph")
        _VALIDATOR.append(jsonschema.validators.validator_for(schema)(schema))
    return _VALIDATOR[0]


def _doc_order(error):
    """Sort key putting schema errors in document order (list indices compared as numbers)."""
    return [(0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in error.absolute_path]


def validate_graph_json(obj):
    """Check ``obj`` against the graph JSON schema, then its references (``check_references``); returns ``obj``.

    Raises ``GraphJSONError`` naming the path of the first violation in document order, e.g.
    ``nodes/3/inputs/0: 42 is not of type 'string'``."""
    import jsonschema
    errors = list(_validator().iter_errors(obj))
    if errors:
        first_path = min(_doc_order(e) for e in errors)
        at_first = [e for e in errors if _doc_order(e) == first_path]
        best = jsonschema.exceptions.best_match(at_first)    # descends into anyOf for the specific reason
        path = "/".join(str(p) for p in best.absolute_path) or "(document)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise GraphJSONError(f"graph JSON does not match the schema at {path}: {best.message}{more}")
    check_references(obj)
    return obj


def check_references(obj):
    """Check what JSON Schema cannot: ids are unique, and every id a document refers to is defined (root, graph
    parents/params/outputs/effects, node graph/inputs/subgraphs, attrs' graph refs, edge ends), and edges agree
    with node inputs. Raises ``GraphJSONError`` naming the path of the first bad reference."""
    graph_ids, node_ids = {}, {}
    for k, g in enumerate(obj["graphs"]):
        if g["id"] in graph_ids:
            raise GraphJSONError(f"graphs/{k}/id: graph id {g['id']!r} is defined twice")
        graph_ids[g["id"]] = g
    for k, n in enumerate(obj["nodes"]):
        if n["id"] in node_ids:
            raise GraphJSONError(f"nodes/{k}/id: node id {n['id']!r} is defined twice")
        node_ids[n["id"]] = n

    def need(table, ref, path, what):
        if ref not in table:
            raise GraphJSONError(f"{path}: refers to unknown {what} {ref!r}")

    need(graph_ids, obj["root"], "root", "graph")
    for k, g in enumerate(obj["graphs"]):
        if g["parent"] is not None:
            need(graph_ids, g["parent"], f"graphs/{k}/parent", "graph")
        for j, p in enumerate(g["params"]):
            need(node_ids, p["id"], f"graphs/{k}/params/{j}/id", "node")
        for field in ("outputs", "effects"):
            for j, ref in enumerate(g[field]):
                need(node_ids, ref, f"graphs/{k}/{field}/{j}", "node")

    def graph_refs(v, path):
        if isinstance(v, list):
            for j, x in enumerate(v):
                graph_refs(x, f"{path}/{j}")
        elif isinstance(v, dict):
            if set(v) == {"graph"}:
                need(graph_ids, v["graph"], f"{path}/graph", "graph")
            for key, x in v.items():
                if key != "graph":
                    graph_refs(x, f"{path}/{key}")

    for k, n in enumerate(obj["nodes"]):
        need(graph_ids, n["graph"], f"nodes/{k}/graph", "graph")
        for j, ref in enumerate(n["inputs"]):
            need(node_ids, ref, f"nodes/{k}/inputs/{j}", "node")
        for j, ref in enumerate(n["subgraphs"]):
            need(graph_ids, ref, f"nodes/{k}/subgraphs/{j}", "graph")
        graph_refs(n["attrs"], f"nodes/{k}/attrs")
        if "value" in n:
            graph_refs(n["value"], f"nodes/{k}/value")
    for k, e in enumerate(obj["edges"]):
        need(node_ids, e["src"], f"edges/{k}/src", "node")
        need(node_ids, e["dst"], f"edges/{k}/dst", "node")
        ins = node_ids[e["dst"]]["inputs"]
        if e["index"] >= len(ins) or ins[e["index"]] != e["src"]:
            raise GraphJSONError(f"edges/{k}: edge {e['src']} -> {e['dst']} [{e['index']}] does not match input "
                                 f"{e['index']} of node {e['dst']}")
    return obj
