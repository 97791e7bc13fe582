"""Shape helpers of the program generator."""
import numpy as np


def broadcast(s1, s2):
    try:
        return tuple(np.broadcast_shapes(s1, s2))
    except ValueError:
        return None


def factorizations(size, ndim_max=3):
    """A few shapes with ``size`` elements (1 to ndim_max dims)."""
    out = [(size,)]
    for d in range(2, size + 1):
        if size % d == 0:
            out.append((d, size // d))
            rest = size // d
            for e in range(2, rest + 1):
                if rest % e == 0 and ndim_max >= 3:
                    out.append((d, e, rest // e))
    return out
