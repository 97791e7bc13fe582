"""What the GRAPH_MODE interpreter passes around besides graph nodes: the control signals of ``return`` /
``break`` / ``continue``, and trees (tuples, lists, dicts) of values with their leaves."""
import numpy as np

from ..tensor import Tensor, ParameterTuple


class _Return:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class _Break:
    pass


class _Continue:
    pass


BREAK, CONTINUE = _Break(), _Continue()


def flatten(value):
    """(leaves, rebuild) for nested tuples/lists/dicts of values."""
    if isinstance(value, (tuple, list)):
        parts = [flatten(v) for v in value]
        leaves = [l for p in parts for l in p[0]]
        sizes = [len(p[0]) for p in parts]
        kind = type(value) if not isinstance(value, ParameterTuple) else tuple   # graph results are not Parameters

        def rebuild(ls):
            out, i = [], 0
            for (_, rb), n in zip(parts, sizes):
                out.append(rb(ls[i:i + n]))
                i += n
            return kind(*out) if hasattr(kind, "_fields") else kind(out)
        return leaves, rebuild
    if isinstance(value, dict):
        keys = list(value)
        leaves, rb = flatten([value[k] for k in keys])
        return leaves, lambda ls: dict(zip(keys, rb(ls)))
    return [value], lambda ls: ls[0]


def is_tensor(v):
    return isinstance(v, Tensor)


def _is_number(v):
    return isinstance(v, (bool, int, float, np.number)) and not isinstance(v, Tensor)


def _static_equal(a, b):
    try:
        return bool(a == b) if not isinstance(a, np.ndarray) else np.array_equal(a, b)
    except Exception:
        return a is b
