"""Comparing a compiled program's results with PyNative's: the leaves of nested results as host numpy arrays
(raw kernel results may be device arrays), pairwise, with equal shapes and dtypes checked."""
from mindlab import Tensor
from mindlab.device import host


def leaves(value):
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in leaves(v)]
    return [value]


def _array(x):
    return x.asnumpy() if isinstance(x, Tensor) else host(x)


def host_pairs(got, want):
    """[(a, b)]: the leaves of ``got`` and ``want`` as numpy arrays, checked to match in count, shape and dtype."""
    got, want = leaves(got), leaves(want)
    assert len(got) == len(want)
    pairs = [(_array(a), _array(b)) for a, b in zip(got, want)]
    for a, b in pairs:
        assert a.shape == b.shape and a.dtype == b.dtype, (a.shape, a.dtype, b.shape, b.dtype)
    return pairs
