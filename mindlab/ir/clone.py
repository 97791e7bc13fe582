"""Deep copy of a graph and every subgraph it uses (passes work on a copy, so the user's graph stays as parsed)."""
from .anf import Graph, Apply, Param, Constant


def clone(graph):
    mapping = {}      # id(old node or graph) -> new
    for g in graph.all_graphs():
        ng = Graph.__new__(Graph)
        ng.name, ng.kind, ng.source = g.name, g.kind, g.source
        ng.params, ng.nodes, ng.effects, ng.output = [], [], [], None
        ng.parent = None
        mapping[id(g)] = ng
    for g in graph.all_graphs():
        ng = mapping[id(g)]
        ng.parent = mapping.get(id(g.parent)) if g.parent is not None else None
        for p in g.params:
            np_ = Param(ng, p.name, p.abstract, p.default, p.source)
            mapping[id(p)] = np_
            ng.params.append(np_)
    for g in graph.all_graphs():   # parents first, so free variables are already mapped
        ng = mapping[id(g)]
        for n in g.nodes:
            attrs = {k: mapping.get(id(v), v) if isinstance(v, Graph) else v for k, v in n.attrs.items()}
            op = mapping.get(id(n.op), n.op) if isinstance(n.op, Graph) else n.op
            new = Apply(ng, op, [_map(i, mapping, ng) for i in n.inputs], attrs, n.abstract, n.source)
            mapping[id(n)] = new
            ng.nodes.append(new)
            if n in g.effects:
                ng.effects.append(new)
    for g in graph.all_graphs():
        ng = mapping[id(g)]
        ng.output = _map(g.output, mapping, ng) if g.output is not None else None
    return mapping[id(graph)]


def _map(node, mapping, graph):
    if isinstance(node, Constant):
        return Constant(node.value, node.abstract, graph, node.source)
    return mapping[id(node)]
