"""``mindlab.ops.functional`` (MindSpore's ``F``): every op as a function, e.g. ``F.tensor_add(x, y)``."""
from .prims import FAMILIES as _FAMILIES
from .composite import FAMILIES as _COMPOSITES

__all__ = []
for _m in _FAMILIES + _COMPOSITES:
    for _name in _m.__all__:
        globals()[_name] = getattr(_m, _name)
        __all__.append(_name)
del _m, _name
