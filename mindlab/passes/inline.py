"""inline: replace each call of a graph by a copy of the callee's nodes (params bound to the call's inputs), so
that later passes and the autodiff pass see one flat graph. Runs after lift_free_variables (callees are closed)."""
from ..ir.anf import Apply, Graph, Constant
from ..ir.clone import clone


def _remap(node, mapping):
    return mapping.get(id(node), node)


def inline(graph):
    """Inline every graph call in ``graph`` and its subgraphs (in place); returns ``graph``."""
    for g in graph.all_graphs():
        if not any(isinstance(n.op, Graph) for n in g.nodes):
            continue
        mapping, nodes, effects = {}, [], []
        for n in g.nodes:
            if any(id(i) in mapping for i in n.inputs):
                n.inputs = tuple(_remap(i, mapping) for i in n.inputs)
            if not isinstance(n.op, Graph):
                nodes.append(n)
                if n in g.effects:
                    effects.append(n)
                continue
            callee = inline(clone(n.op))
            inner = {id(p): a for p, a in zip(callee.params, n.inputs)}
            for c in callee.nodes:
                c.graph = g
                c.inputs = tuple(_remap(i, inner) for i in c.inputs)
                for i in c.inputs:
                    if isinstance(i, Constant):
                        i.graph = g
                if c.source is None:
                    c.source = n.source
                nodes.append(c)
                if c in callee.effects:
                    effects.append(c)
            mapping[id(n)] = _remap(callee.output, inner)
        g.nodes, g.effects = nodes, effects
        if g.output is not None:
            g.output = _remap(g.output, mapping)
    return graph
