"""The pass pipeline: the order passes run in, and a log of each pass's before/after graph so a user can see
what each one did.

Set ``CHECK = True`` (or the environment variable ``MINDLAB_CHECK_PASSES=1``) to re-infer every node's abstract
value after each pass (``mindlab.analysis.infer_graph``): a pass that breaks typing fails right there."""
import os
from dataclasses import dataclass

from ..ir.clone import clone
from ..ir.graph_json import graph_to_json
from ..ir.printer import dump
from .closure import lift_free_variables
from .cse import cse
from .dce import dce
from .fold import fold_constants
from .fusion import fuse_elementwise
from .gemm_update import fuse_gemm_update
from .inline import inline
from .simplify import simplify


@dataclass
class PassRecord:
    name: str
    before: str
    after: str
    nodes_before: int
    nodes_after: int
    before_json: dict = None   # graph JSON (mindlab.ir.graph_json) of the graph before / after the pass
    after_json: dict = None

    @property
    def changed(self):
        return self.before != self.after


def count_nodes(graph):
    return sum(len(g.nodes) for g in graph.all_graphs())


CHECK = os.environ.get("MINDLAB_CHECK_PASSES", "") not in ("", "0")

PIPELINE = [
    ("lift_free_variables", lift_free_variables),
    ("inline", inline),
    ("fold_constants", fold_constants),   # constant propagation; if on a constant condition -> the branch
    ("simplify", simplify),               # x*1, x+0, reshape to the same shape, ...; tuple and switch
    ("cse", cse),
    ("dce", dce),
    ("fuse_gemm_update", fuse_gemm_update),   # matmul gradient + Momentum update -> one GEMM (CPU with MKL)
    ("fuse_elementwise", fuse_elementwise),   # last: after autodiff and cleanup; drops the nodes it replaces
]

# Passes that turn primitives into generated kernel nodes (no shard rules): the auto-parallel planner optimizes
# without them and the SPMD lowering applies what suits the sharded graph itself.
KERNEL_PASSES = frozenset({"fuse_gemm_update", "fuse_elementwise"})


def without_kernel_passes():
    """The pipeline up to, not including, the kernel-generating passes (what the planner plans on)."""
    return [p for p in PIPELINE if p[0] not in KERNEL_PASSES]


def optimize(graph, pipeline=None, record=True):
    """Run the pipeline on a copy of ``graph``; returns (optimized graph, [PassRecord])."""
    g = clone(graph)
    log = []
    if CHECK:
        _check(g, "in the graph as built, before the passes")
    for name, fn in (pipeline or PIPELINE):
        before = dump(g) if record else ""
        # the previous pass's "after" document is this one's "before" (same graph, unchanged): reuse it
        before_json = (dict(log[-1].after_json, title=f"{g.name} before {name}") if log and log[-1].after_json
                       else graph_to_json(g, "optimized", f"{g.name} before {name}")) if record else None
        nb = count_nodes(g)
        g = fn(g)
        if CHECK:
            _check(g, f"after pass {name!r}")
        after = dump(g) if record else ""
        # a pass that left the text dump unchanged left the graph unchanged: reuse its "before" document
        after_json = (dict(before_json, title=f"{g.name} after {name}") if after == before
                      else graph_to_json(g, "optimized", f"{g.name} after {name}")) if record else None
        log.append(PassRecord(name, before, after, nb, count_nodes(g), before_json, after_json))
    return g, log


def _check(graph, context):
    from ..analysis.infer import infer_graph
    infer_graph(graph, context)
