"""Abstract interpretation over the IR.

* **Shape/dtype inference** — ``infer_graph(graph)`` (``infer.py``) re-derives every node's abstract value from
  its inputs with the registry's ``infer`` rules and the builtins' rules (tuples, ``if``, ``while``, calls), and
  checks it against the value stored on the node. The frontend already infers while it builds the graph (each
  ``Apply`` is created with its inferred value); this module is the independent check that the passes keep those
  values true. ``mindlab.passes.pipeline`` runs it after every pass when ``pipeline.CHECK`` is set
  (``MINDLAB_CHECK_PASSES=1``).
* **Constant propagation** is done by ``mindlab.passes.fold``: primitives whose inputs are all constants are
  evaluated with their CPU kernel at compile time, and the constants flow on (into ``if`` conditions, which
  ``switch_simplify`` then resolves). It is not repeated here.
* **Specialization per input signature** is the compile cache of ``mindlab.frontend.jit``: a function is parsed
  and compiled once per (shapes, dtypes, static arguments) signature, so every graph is monomorphic and the
  abstract values above are concrete shapes.
* **Effects and aliasing** — ``EffectInfo`` (``effects.py``) tells the passes where side effects run and which
  values they may write in place, so that rewrites never move a read across a write.
"""
from .infer import infer_graph, IRCheckError, constant_abstract
from .effects import EffectInfo

__all__ = ["infer_graph", "IRCheckError", "constant_abstract", "EffectInfo"]
