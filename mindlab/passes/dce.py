"""Dead-code elimination: drop nodes whose values reach neither the output nor a side effect."""
from ..ir.anf import Apply


def dce(graph):
    """Remove dead nodes from ``graph`` and every subgraph (in place); returns ``graph``."""
    for g in graph.all_graphs():
        live = set()
        stack = [g.output] + list(g.effects) if g.output is not None else list(g.effects)
        while stack:
            n = stack.pop()
            if n is None or id(n) in live:
                continue
            live.add(id(n))
            if isinstance(n, Apply):
                stack.extend(n.inputs)
        g.nodes = [n for n in g.nodes if id(n) in live]
    return graph
