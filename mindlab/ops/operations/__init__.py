"""``mindlab.ops.operations`` (MindSpore's ``P``): ops as classes whose constructor takes the op's attributes,
e.g. ``P.Mul()(x, y)``, ``P.MatMul(transpose_b=True)(x, w)``, ``P.ReduceSum(keep_dims=True)(x, 1)``."""
from ..prims import FAMILIES as _FAMILIES
from .._api import Primitive

__all__ = ["Primitive"]
for _m in _FAMILIES:
    for _name in _m.__operations__:
        globals()[_name] = getattr(_m, _name)
        __all__.append(_name)
del _m, _name
