"""Graphviz views of a graph: DOT text (``graph_to_dot``) and SVG (``graph_to_svg``, when Graphviz's ``dot`` is
installed).

The DOT is drawn from the graph JSON document (``graph_json.graph_to_json``), so the picture shows exactly what
the JSON carries and ``json_to_dot`` can draw any graph JSON document. Layout:

* the root graph at top level; every other graph (``then`` / ``else`` branch, ``cond`` / ``body`` of a loop,
  ``grad`` graphs) in a cluster of its own, nested in its parent's cluster; a dashed edge leads from an
  ``if`` / ``while`` / call node to each graph it runs;
* a node's label: the op (bold), its shape and dtype, and the user's source line (grey);
* graph inputs are blue ellipses, weights (Parameters) orange cylinders, constants small plain text, control
  flow yellow hexagons, tuple plumbing small grey boxes; each graph ends in a ``return`` node;
* edges run from each input to its user.

Every string from the program (op names, source lines, file names, constant values) is escaped for Graphviz's
HTML-like labels, so a source line such as ``<script>`` is drawn as text and appears in the SVG as
``&lt;script&gt;``.
"""
import os
import shutil

import graphviz

from .graph_json import graph_to_json

_KIND_COLORS = {"then": "#15803d", "else": "#b91c1c", "cond": "#1d4ed8", "body": "#1d4ed8",
                "grad": "#7e22ce", "bprop": "#7e22ce", "function": "#475569"}
_CONTROL = {"if", "while", "while_grad"}
_PLUMBING = {"make_tuple", "tuple_getitem"}
_MAX_TEXT = 60   # source lines longer than this are shortened in labels


def html_text(s):
    """Text made safe for a Graphviz HTML-like label: markup characters escaped, control characters dropped."""
    s = "".join(ch if ch >= " " or ch == "\t" else " " for ch in str(s))
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))


def _shorten(s, n=_MAX_TEXT):
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[:n - 1] + "…"


def _type_text(shape, dtype):
    """``Float32[2, 3]``; a tuple as ``(Float32[2], Int32[])``."""
    if isinstance(dtype, list):
        shapes = shape if isinstance(shape, list) and len(shape) == len(dtype) else [None] * len(dtype)
        return "(" + ", ".join(_type_text(s, d) for s, d in zip(shapes, dtype)) + ")"
    if dtype is None:
        return ""
    if shape is None:
        return str(dtype)
    return f"{dtype}[{', '.join(str(s) for s in shape)}]"


def _value_text(v):
    """Short text of a JSON value (constants, attributes)."""
    if isinstance(v, dict):
        if "graph" in v:
            return f"@{v['graph']}"
        if "shape" in v:
            return f"<{v.get('dtype', '')}{v['shape']}>"
        if "object" in v:
            return f"<{v['object']}>"
        if "slice" in v:
            return ":".join("" if x is None else _value_text(x) for x in v["slice"])
        if "dict" in v:
            return "{" + ", ".join(f"{k}: {_value_text(x)}" for k, x in v["dict"].items()) + "}"
    if isinstance(v, list):
        return "[" + ", ".join(_value_text(x) for x in v) + "]"
    if isinstance(v, bool):
        return "True" if v else "False"
    if v is None:
        return "None"
    return str(v)


def _label(title, lines, source=None):
    """An HTML-like label: bold title, plain lines, then the source line in small grey text."""
    rows = [f"<B>{html_text(title)}</B>"] + [html_text(line) for line in lines if line]
    if source:
        where = f"{os.path.basename(source['file'])}:{source['line']}"
        text = f"{where}  {_shorten(source['text'])}" if source.get("text") else where
        rows.append(f'<FONT POINT-SIZE="9" COLOR="#64748b">{html_text(text)}</FONT>')
    return "<" + "<BR/>".join(rows) + ">"


def _node_style(n, graph_names):
    """(label, attributes) of one node document."""
    types = _type_text(n["shape"], n["dtype"])
    kind, op = n["kind"], n["op"]
    if kind == "param":
        title = ("weight " if n["is_weight"] else "") + n["name"]
        if op == "free_variable":
            return _label(title, [types, "(free variable)"]), {"shape": "ellipse", "style": "dashed"}
        if n["is_weight"]:
            return _label(title, [types]), {"shape": "cylinder", "style": "filled", "fillcolor": "#fed7aa",
                                            "color": "#c2410c"}
        return _label(title, [types]), {"shape": "ellipse", "style": "filled", "fillcolor": "#dbeafe",
                                        "color": "#1d4ed8"}
    if kind == "constant":
        text = _shorten(_value_text(n["value"]), 40) if "value" in n else f"const {types}"
        return "<" + html_text(text) + ">", {"shape": "plaintext", "fontsize": "9", "fontcolor": "#334155"}
    attrs = {k: v for k, v in n["attrs"].items() if not (isinstance(v, dict) and set(v) == {"graph"})}
    attr_line = _shorten(", ".join(f"{k}={_value_text(v)}" for k, v in attrs.items()))
    if kind == "call":
        callee = graph_names.get(n["subgraphs"][0], "?") if n["subgraphs"] else "?"
        return _label(f"call @{callee}", [types], n["source"]), {"shape": "box", "style": "filled,bold",
                                                                 "fillcolor": "#ede9fe"}
    if op in _CONTROL:
        return _label(op, [attr_line, types], n["source"]), {"shape": "hexagon", "style": "filled",
                                                             "fillcolor": "#fef3c7"}
    if op in _PLUMBING:
        title = f"{op}[{n['attrs']['index']}]" if op == "tuple_getitem" and "index" in n["attrs"] else op
        return _label(title, [types]), {"shape": "box", "style": "filled", "fillcolor": "#f1f5f9",
                                        "color": "#94a3b8", "fontsize": "9"}
    style = {"shape": "box", "style": "rounded,filled", "fillcolor": "#ffffff"}
    if kind == "builtin":           # effects (print, ...) and other IR builtins
        style["fillcolor"] = "#fce7f3"
    return _label(op, [attr_line, types], n["source"]), style


def json_to_dot(doc):
    """DOT source for a graph JSON document (see ``graph_json``)."""
    graphs = {g["id"]: g for g in doc["graphs"]}
    names = {gid: g["name"] for gid, g in graphs.items()}
    by_graph = {gid: [] for gid in graphs}
    for n in doc["nodes"]:
        by_graph[n["graph"]].append(n)
    root = doc["root"]

    dot = graphviz.Digraph(name=f"mindlab_{doc['kind']}")
    dot.attr(compound="true", rankdir="TB", fontname="Helvetica", labelloc="t",
             label=_label(doc["title"], [f"{doc['kind']} graph"]))
    dot.attr("node", fontname="Helvetica", fontsize="10", margin="0.08,0.04")
    dot.attr("edge", color="#475569", arrowsize="0.6")

    # Clusters nest by parent; graphs whose parent is the root (or absent from the document) sit at top level.
    children = {gid: [] for gid in graphs}
    top = []
    for g in doc["graphs"]:
        if g["id"] == root:
            continue
        parent = g["parent"]
        (children[parent] if parent in graphs and parent != root else top).append(g["id"])

    def anchor(gid):
        """A node inside graph ``gid`` to which edges into its cluster point."""
        g = graphs[gid]
        if g["params"]:
            return g["params"][0]["id"]
        return by_graph[gid][0]["id"] if by_graph[gid] else f"{gid}_return"

    def fill(sub, gid):
        for n in by_graph[gid]:
            label, style = _node_style(n, names)
            if n["source"]:
                style["tooltip"] = graphviz.escape(f"{n['source']['file']}:{n['source']['line']}")
            sub.node(n["id"], label=label, **style)
        sub.node(f"{gid}_return", label="<return>", shape="house", orientation="180", style="filled",
                 fillcolor="#e2e8f0", fontsize="9", height="0.3")
        for cid in children.get(gid, []):
            cluster(sub, cid)

    def cluster(parent_dot, gid):
        g = graphs[gid]
        color = _KIND_COLORS.get(g["kind"], "#475569")
        with parent_dot.subgraph(name=f"cluster_{gid}") as sub:
            sub.attr(label=_label(f"{g['kind']}  {g['name']}", []), style="rounded,dashed", color=color,
                     fontcolor=color, fontsize="11", labeljust="l")
            fill(sub, gid)

    fill(dot, root)
    for gid in top:
        cluster(dot, gid)

    for e in doc["edges"]:
        dot.edge(e["src"], e["dst"])
    for g in doc["graphs"]:
        for out in g["outputs"]:
            dot.edge(out, f"{g['id']}_return")
    for n in doc["nodes"]:
        for gid in n["subgraphs"]:
            if gid == root or gid == n["graph"]:
                continue
            kind = graphs[gid]["kind"]
            dot.edge(n["id"], anchor(gid), lhead=f"cluster_{gid}", style="dashed", arrowhead="empty",
                     color=_KIND_COLORS.get(kind, "#475569"), label=f"<{html_text(kind)}>", fontsize="9")
    return dot.source


def graph_to_dot(graph, kind="forward", title=None):
    """DOT source of ``graph`` and every graph it uses (``kind`` / ``title`` as for ``graph_to_json``)."""
    return json_to_dot(graph_to_json(graph, kind, title))


def dot_available():
    """Whether Graphviz's ``dot`` program is on PATH."""
    return shutil.which("dot") is not None


def dot_to_svg(source):
    """SVG text rendered by Graphviz's ``dot``, or None when ``dot`` is not installed."""
    if not dot_available():
        return None
    try:
        return graphviz.Source(source).pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        return None


def graph_to_svg(graph, kind="forward", title=None):
    """SVG of ``graph`` (str), or None when Graphviz's ``dot`` is not installed — callers then show the text
    dump (``printer.dump``) instead."""
    return dot_to_svg(graph_to_dot(graph, kind, title))
