"""Composite operations: public ops written in terms of the primitives (MindSpore's ``ops.composite``; PyTorch's
``torch.*`` functions that are not kernels of their own), one module per concept. They need no registry entry: their
gradients, GRAPH_MODE graphs, device kernels and sharding come from the primitives they call. ``FAMILIES`` lists the
modules whose ``__all__`` joins ``mindlab.ops``; GradOperation is here too, as in MindSpore."""
from ...autodiff.grad import GradOperation
from . import elementwise, reductions, activations, losses, creation, shape, linalg  # noqa: F401

FAMILIES = (elementwise, reductions, activations, losses, creation, shape, linalg)

__all__ = ["GradOperation", "FAMILIES"]
