"""mindlab dtypes: small named objects over numpy dtypes, printed the way MindSpore prints them.

Type promotion follows MindSpore: bool < integers < floats; within a kind the wider wins; an integer
meeting a float takes the float. Python scalars are *weak*: they adopt the tensor's dtype.
"""
import numpy as np

__all__ = ["Type", "bool_", "int8", "int16", "int32", "int64", "uint8", "float16", "float32", "float64",
           "number_type", "float_type", "int_type", "to_np", "from_np", "promote", "is_float", "dtype_of_scalar"]


class Type:
    """A mindlab dtype. Compare with ``==`` against other Types (or numpy dtypes)."""
    __slots__ = ("name", "np", "kind", "rank")

    def __init__(self, name, np_dtype, kind, rank):
        self.name, self.np, self.kind, self.rank = name, np.dtype(np_dtype), kind, rank

    def __repr__(self):
        return self.name

    __str__ = __repr__

    def __eq__(self, other):
        if isinstance(other, Type):
            return self is other
        try:
            return self.np == np.dtype(other)
        except TypeError:
            return False

    def __hash__(self):
        return hash(self.name)

    def __reduce__(self):   # dtypes pickle by name (multiprocessing), never by state
        return (from_name, (self.name,))


bool_ = Type("Bool", np.bool_, "b", 0)
int8 = Type("Int8", np.int8, "i", 1)
uint8 = Type("UInt8", np.uint8, "i", 1)
int16 = Type("Int16", np.int16, "i", 2)
int32 = Type("Int32", np.int32, "i", 3)
int64 = Type("Int64", np.int64, "i", 4)
float16 = Type("Float16", np.float16, "f", 5)
float32 = Type("Float32", np.float32, "f", 6)
float64 = Type("Float64", np.float64, "f", 7)

_ALL = (bool_, int8, uint8, int16, int32, int64, float16, float32, float64)
_BY_NP = {t.np: t for t in _ALL}
_BY_NAME = {t.name: t for t in _ALL}
_BY_NAME.update({t.name.lower(): t for t in _ALL})
_BY_NAME.update({"bool": bool_, "bool_": bool_, "half": float16, "float": float32, "double": float64})

number_type = _ALL[1:]
float_type = (float16, float32, float64)
int_type = (int8, uint8, int16, int32, int64)


def from_name(name):
    return _BY_NAME[name]


def from_np(np_dtype):
    """The mindlab Type of a numpy dtype; TypeError for dtypes mindlab does not support."""
    try:
        return _BY_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"mindlab does not support dtype {np_dtype!r}; supported: "
                        f"{', '.join(t.name for t in _ALL)}") from None


def to_np(dtype):
    """numpy dtype for a mindlab Type, a numpy dtype, a Python type or a dtype name."""
    if isinstance(dtype, Type):
        return dtype.np
    if isinstance(dtype, str) and dtype in _BY_NAME:
        return _BY_NAME[dtype].np
    if dtype is float:
        return float32.np
    if dtype is int:
        return int64.np
    if dtype is bool:
        return bool_.np
    return from_np(dtype).np


def to_type(dtype):
    """Normalise anything dtype-like to a mindlab Type."""
    return dtype if isinstance(dtype, Type) else _BY_NP[to_np(dtype)]


def is_float(dtype):
    return to_type(dtype).kind == "f"


def promote(a, b):
    """Result Type of a binary op between Types a and b (MindSpore's rule)."""
    if a is b:
        return a
    if a.kind == "f" and b.kind != "f":
        return a
    if b.kind == "f" and a.kind != "f":
        return b
    return a if a.rank >= b.rank else b


def dtype_of_scalar(value):
    """Default Type of a Python scalar standing alone (not beside a tensor)."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    return float32
