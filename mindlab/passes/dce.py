"""Dead-code elimination: drop nodes whose values reach neither the output nor a side effect."""
from ..ir.anf import Apply, graphs_of


def has_effects(graph):
    """Whether running ``graph`` writes state (an effect node in it or in any graph it uses)."""
    return any(g.effects for g in graph.all_graphs())


def effect_roots(g):
    """Nodes of ``g`` that must run although nothing may use their value: effects, and control-flow nodes or
    calls whose graphs contain effects."""
    roots = list(g.effects)
    for n in g.nodes:
        if n not in g.effects and any(has_effects(s) for s in graphs_of(n)):
            roots.append(n)
    return roots


def dce(graph):
    """Remove dead nodes from ``graph`` and every subgraph (in place); returns ``graph``."""
    for g in graph.all_graphs():
        live = set()
        stack = effect_roots(g) + ([g.output] if g.output is not None else [])
        while stack:
            n = stack.pop()
            if n is None or id(n) in live:
                continue
            live.add(id(n))
            if isinstance(n, Apply):
                stack.extend(n.inputs)
        g.nodes = [n for n in g.nodes if id(n) in live]
    return graph
