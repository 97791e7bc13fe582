"""The pass pipeline: the order passes run in, and a log of each pass's before/after graph so a user can see
what each one did."""
from dataclasses import dataclass

from ..ir.clone import clone
from ..ir.printer import dump
from .closure import lift_free_variables
from .dce import dce
from .inline import inline


@dataclass
class PassRecord:
    name: str
    before: str
    after: str
    nodes_before: int
    nodes_after: int

    @property
    def changed(self):
        return self.before != self.after


def count_nodes(graph):
    return sum(len(g.nodes) for g in graph.all_graphs())


PIPELINE = [
    ("lift_free_variables", lift_free_variables),
    ("inline", inline),
    ("dce", dce),
]


def optimize(graph, pipeline=None, record=True):
    """Run the pipeline on a copy of ``graph``; returns (optimized graph, [PassRecord])."""
    g = clone(graph)
    log = []
    for name, fn in (pipeline or PIPELINE):
        before = dump(g) if record else ""
        nb = count_nodes(g)
        g = fn(g)
        log.append(PassRecord(name, before, dump(g) if record else "", nb, count_nodes(g)))
    return g, log
