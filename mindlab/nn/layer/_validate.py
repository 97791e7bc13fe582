"""Argument checks shared by the layers: errors name the layer, the argument and the user's line."""
import numbers

from ...errors import where


def positive_int(value, arg, cls):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"For '{cls}', '{arg}' must be an int, but got {type(value).__name__} ({value!r}).{where()}")
    if value <= 0:
        raise ValueError(f"For '{cls}', '{arg}' must be positive, but got {value}.{where()}")
    return int(value)


def int_pair(value, arg, cls, allow_zero=False):
    """An int or a pair of ints as a pair (kernel sizes, strides, dilations)."""
    vals = (value, value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
    if not isinstance(vals, (tuple, list)) or len(vals) != 2 or any(
            isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < (0 if allow_zero else 1) for v in vals):
        raise ValueError(f"For '{cls}', '{arg}' must be a positive int or a tuple of two positive ints, but got "
                         f"{value!r}.{where()}")
    return tuple(int(v) for v in vals)


def pad_mode(value, cls, allowed=("same", "valid", "pad")):
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"For '{cls}', 'pad_mode' must be one of {list(allowed)}, but got {value!r}.{where()}")
    return value.lower()


def data_format(value, cls):
    if value != "NCHW":
        raise ValueError(f"For '{cls}', only data_format='NCHW' is supported, but got {value!r}.{where()}")
    return value


def real_in(value, arg, cls, low, high, low_closed=True, high_closed=True):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"For '{cls}', '{arg}' must be a number, but got {type(value).__name__}.{where()}")
    ok_low = value >= low if low_closed else value > low
    ok_high = value <= high if high_closed else value < high
    if not (ok_low and ok_high):
        lo, hi = "[" if low_closed else "(", "]" if high_closed else ")"
        raise ValueError(f"For '{cls}', '{arg}' must be in {lo}{low}, {high}{hi}, but got {value}.{where()}")
    return float(value)
