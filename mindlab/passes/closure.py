"""lift_free_variables: closure conversion. A branch or loop-body graph that uses nodes of an enclosing graph
gets them as explicit extra parameters, and the ``if`` / ``while`` node passes them in, so that every graph the
executor and the autodiff pass see is closed."""
from ..ir.anf import Apply, Param, IF, WHILE


def _replace_uses(graphs, mapping):
    for g in graphs:
        for n in g.nodes:
            if any(id(i) in mapping for i in n.inputs):
                n.inputs = tuple(mapping.get(id(i), i) for i in n.inputs)
        if g.output is not None and id(g.output) in mapping:
            g.output = mapping[id(g.output)]


def lift_free_variables(graph):
    """Close every subgraph reachable from ``graph`` (in place); returns ``graph``."""
    for n in list(graph.nodes):
        if not isinstance(n, Apply) or n.op not in (IF, WHILE):
            continue
        subs = [n.attrs["then_graph"], n.attrs["else_graph"]] if n.op is IF else \
            [n.attrs["cond_graph"], n.attrs["body_graph"]]
        fvs = []
        for s in subs:
            for fv in s.free_variables():
                if fv not in fvs:
                    fvs.append(fv)
        for s in subs:
            mapping = {}
            for k, fv in enumerate(fvs):
                p = Param(s, f"fv{k}_{getattr(fv, 'name', fv.id)}", fv.abstract, None, fv.source)
                s.params.append(p)
                mapping[id(fv)] = p
            _replace_uses(s.all_graphs(), mapping)
        n.inputs = tuple(n.inputs) + tuple(fvs)
        n.attrs["captures"] = len(fvs)
        for s in subs:
            lift_free_variables(s)
    return graph
