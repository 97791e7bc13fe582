"""Abstract values: what infer rules see (shape + dtype, no data), and shape helpers they share."""
import numpy as np

from .. import dtype as mdt
from ..errors import ShapeError, DTypeError


class AbstractTensor:
    """Shape and dtype of a tensor, no data. ``dtype`` is a mindlab ``Type``."""
    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape = tuple(int(s) for s in shape)
        self.dtype = dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def nbytes(self):
        return self.size * self.dtype.np.itemsize

    def __eq__(self, other):
        return isinstance(other, AbstractTensor) and self.shape == other.shape and self.dtype is other.dtype

    def __hash__(self):
        return hash((self.shape, self.dtype))

    def __repr__(self):
        return f"{self.dtype}{list(self.shape)}"


def broadcast_shapes(*shapes):
    """numpy broadcasting of shapes; ShapeError naming the shapes when they do not broadcast."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ShapeError(f"shapes {', '.join(str(list(s)) for s in shapes)} cannot be broadcast together") from None


def norm_axis(axis, ndim, what="axis"):
    """Normalise one axis into [0, ndim); ShapeError when out of range."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise DTypeError(f"{what} must be an int, got {axis!r}")
    if not -ndim <= axis < max(ndim, 1):
        raise ShapeError(f"{what} {axis} is out of range for a tensor of rank {ndim}")
    return int(axis) % max(ndim, 1)


def norm_axes(axis, ndim):
    """Normalise an axis spec (None / () = all axes, int, tuple/list) into a sorted tuple of axes."""
    if axis is None or axis == ():
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    if not isinstance(axis, (tuple, list)):
        raise DTypeError(f"axis must be an int or a tuple of ints, got {axis!r}")
    axes = tuple(sorted({norm_axis(a, ndim) for a in axis}))
    if len(axes) != len(tuple(axis)):
        raise ShapeError(f"axis {tuple(axis)} repeats an axis")
    return axes


def require_float(name, *avals):
    for a in avals:
        if a.dtype.kind != "f":
            raise DTypeError(f"{name} needs floating-point inputs, got {a.dtype}")


def same_dtype(*avals):
    """The common dtype of avals, promoted MindSpore's way."""
    d = avals[0].dtype
    for a in avals[1:]:
        d = mdt.promote(d, a.dtype)
    return d
