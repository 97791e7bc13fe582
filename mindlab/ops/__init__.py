"""mindlab.ops: the primitive registry and the public op surfaces.

* functions: ``ops.add``, ``ops.matmul``, ... (also as ``mindlab.ops.functional``)
* classes: ``ops.Add()``, ``ops.MatMul(transpose_b=True)`` (also as ``mindlab.ops.operations``)
* the registry: ``ops.REGISTRY`` (name -> Primitive with infer / impl / bprop / cost rules)
"""
from .registry import REGISTRY, Primitive as RegistryPrimitive, Cost
from .dispatch import bind
from . import functional, operations
from .functional import *  # noqa: F401,F403
from .operations import *  # noqa: F401,F403
from .operations import Primitive
from . import tensor_methods as _tensor_methods  # noqa: F401  (installs Tensor operators)
from .composite import GradOperation

__all__ = ["REGISTRY", "bind", "functional", "operations", "Primitive", "GradOperation"] + \
    functional.__all__ + operations.__all__
