"""Three views of one program stage, for notebooks and tools: the text dump, Graphviz DOT/SVG, and graph JSON.

``GraphView(graph, kind, title)`` wraps a graph (as parsed, a gradient graph, or optimized); in Jupyter its
``_repr_mimebundle_`` offers the mindlab graph JSON (drawn by the JupyterLab extension), an SVG (for any other
front end and exported HTML; only when Graphviz's ``dot`` is installed) and the text dump. ``views_of(compiled)``
gives the views of a compiled function (``fn.compiled(*args)``, ``net.compiled(x)``, a gradient's
``graph_cache`` entry), and ``pass_views(pass_log)`` those of each pass's before/after graph.
"""
from .dot import dot_to_svg, json_to_dot
from .graph_json import MIME, graph_to_json
from .printer import dump

SVG_MIME = "image/svg+xml"
TEXT_MIME = "text/plain"


class GraphView:
    """Views of one graph. Built from a ``graph`` (views computed on first use, then kept), or from an existing
    graph JSON document ``doc`` plus its text dump ``text`` (a pass log entry)."""

    def __init__(self, graph=None, kind="forward", title=None, *, doc=None, text=None):
        if graph is None and doc is None:
            raise TypeError("GraphView needs a graph or a graph JSON document")
        self.graph, self.kind, self.title = graph, kind, title
        self._json, self._text = doc, text
        self._dot = self._svg = None
        self._svg_done = False

    def json(self):
        """The graph JSON document (a dict of plain JSON types)."""
        if self._json is None:
            self._json = graph_to_json(self.graph, self.kind, self.title)
        return self._json

    def text(self):
        """The text dump (``printer.dump``)."""
        if self._text is None:
            self._text = dump(self.graph) if self.graph is not None else _text_from_json(self.json())
        return self._text

    def dot(self):
        """Graphviz DOT source."""
        if self._dot is None:
            self._dot = json_to_dot(self.json())
        return self._dot

    def svg(self):
        """SVG text, or None when Graphviz's ``dot`` is not installed."""
        if not self._svg_done:
            self._svg = dot_to_svg(self.dot())
            self._svg_done = self._svg is not None   # retry later if dot gets installed meanwhile
        return self._svg

    def _repr_mimebundle_(self, include=None, exclude=None):
        """Jupyter's rich display: graph JSON, SVG (when ``dot`` is available) and the text dump, filtered by
        ``include`` / ``exclude`` (collections of MIME types)."""
        def wanted(mime):
            return (include is None or mime in include) and (exclude is None or mime not in exclude)
        bundle = {}
        if wanted(MIME):
            bundle[MIME] = self.json()
        if wanted(SVG_MIME):
            svg = self.svg()
            if svg is not None:
                bundle[SVG_MIME] = svg
        if wanted(TEXT_MIME):
            bundle[TEXT_MIME] = self.text()
        return bundle

    def __repr__(self):
        title = self.title or (self.graph.name if self.graph is not None else self.json()["title"])
        return f"GraphView({self.kind}: {title})"


def _text_from_json(doc):
    """A text dump of a document, for views built from JSON alone: one line per op node with its inputs,
    attributes, shape/dtype and source line."""
    from .dot import _type_text, _value_text
    consts = {n["id"]: n for n in doc["nodes"] if n["kind"] == "constant"}
    by_graph = {g["id"]: [] for g in doc["graphs"]}
    for n in doc["nodes"]:
        by_graph[n["graph"]].append(n)
    out = [f"# {doc['kind']} graph {doc['title']}"]
    for g in doc["graphs"]:
        params = ", ".join(f"%{p['id']} {p['name']}: {_type_text(p['shape'], p['dtype'])}" for p in g["params"])
        out.append(f"# {g['kind']} {g['name']}({params})")
        for n in by_graph[g["id"]]:
            if n["kind"] in ("param", "constant"):
                continue
            args = ", ".join(_value_text(consts[i]["value"]) if "value" in consts.get(i, {}) else f"%{i}"
                             for i in n["inputs"])
            attrs = ", ".join(f"{k}={_value_text(v)}" for k, v in n["attrs"].items())
            src = n["source"]
            where = f"  # {src['file'].rsplit('/', 1)[-1]}:{src['line']}  {src['text']}" if src else ""
            out.append(f"  %{n['id']} = {n['op']}({args}){' {' + attrs + '}' if attrs else ''} : "
                       f"{_type_text(n['shape'], n['dtype'])}{where}")
        out.extend(f"  return %{o}" for o in g["outputs"])
    return "\n".join(out)


def stage_kind(graph):
    """``"grad"`` for a graph made by the gradient transform (or one that calls such a graph), else
    ``"forward"``."""
    return "grad" if any(g.kind in ("grad", "bprop") for g in graph.all_graphs()) else "forward"


def views_of(compiled):
    """The views of a compiled specialization: ``{"graph": as parsed, "optimized": after the passes}``."""
    name = compiled.graph.name
    return {"graph": GraphView(compiled.graph, stage_kind(compiled.graph), name),
            "optimized": GraphView(compiled.optimized, "optimized", f"{name} (optimized)")}


def pass_views(pass_log):
    """``[(pass name, before view, after view)]`` for a pass log (``Compiled.pass_log``)."""
    out = []
    for r in pass_log:
        before = GraphView(doc=r.before_json, text=r.before, kind="optimized") if r.before_json else None
        after = GraphView(doc=r.after_json, text=r.after, kind="optimized") if r.after_json else None
        out.append((r.name, before, after))
    return out
