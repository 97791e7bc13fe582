"""The primitives, one module per op family. Each op is one ``defprim`` registry entry with its rules, followed by
its public function(s) and its ``P.*`` class; ``__all__`` lists the public functions and ``__operations__`` the
classes."""
from . import (array_ops, index_ops, logic_ops, math_ops, reduce_ops, linalg_ops, nn_ops, conv_ops, pool_ops,  # noqa: F401
               norm_ops, optim_ops, transcendental_ops)   # importing registers the primitives

FAMILIES = (array_ops, index_ops, logic_ops, math_ops, reduce_ops, linalg_ops, nn_ops, conv_ops, pool_ops, norm_ops,
            optim_ops, transcendental_ops)
