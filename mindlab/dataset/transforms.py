"""Common per-row transforms for ``Dataset.map`` (MindSpore's ``mindspore.dataset.transforms``): each is a callable
on numpy arrays.

>>> from mindlab.dataset import transforms
>>> ds = ds.map([transforms.TypeCast(mindlab.int32), transforms.OneHot(10)], input_columns="label")
"""
import numbers

import numpy as np

from .. import dtype as mdt

__all__ = ["Compose", "TypeCast", "OneHot", "Duplicate", "PadEnd"]


class Compose:
    """Several transforms applied in order, as one (each one's outputs are the next one's arguments)."""

    def __init__(self, transforms):
        transforms = list(transforms)
        if not transforms or not all(callable(t) for t in transforms):
            raise TypeError(f"Compose: transforms must be a non-empty list of callables, got {transforms!r}")
        self.transforms = transforms

    def __call__(self, *args):
        for t in self.transforms:
            args = t(*args)
            if not isinstance(args, tuple):
                args = (args,)
        return args if len(args) != 1 else args[0]


class TypeCast:
    """Cast to ``data_type`` (a mindlab dtype, numpy dtype or name)."""

    def __init__(self, data_type):
        self.np_dtype = mdt.to_np(data_type)

    def __call__(self, x):
        return np.asarray(x).astype(self.np_dtype)


class OneHot:
    """Integer labels -> one-hot rows of length ``num_classes`` (float32 when ``smoothing_rate`` > 0, else the
    label's dtype), with label smoothing ``smoothing_rate``."""

    def __init__(self, num_classes, smoothing_rate=0.0):
        if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 1:
            raise ValueError(f"OneHot: num_classes must be a positive int, got {num_classes!r}")
        if not 0.0 <= smoothing_rate <= 1.0:
            raise ValueError(f"OneHot: smoothing_rate must be in [0, 1], got {smoothing_rate!r}")
        self.num_classes, self.smoothing_rate = int(num_classes), float(smoothing_rate)

    def __call__(self, label):
        label = np.asarray(label)
        if label.dtype.kind not in "iu":
            raise TypeError(f"OneHot: labels must be integers, got {label.dtype}")
        if label.size and (label.min() < 0 or label.max() >= self.num_classes):
            raise ValueError(f"OneHot: labels must be in [0, {self.num_classes}), got values in "
                             f"[{label.min()}, {label.max()}]")
        out = np.eye(self.num_classes, dtype=label.dtype)[label]
        if self.smoothing_rate > 0:
            out = out.astype(np.float32) * (1 - self.smoothing_rate) + self.smoothing_rate / self.num_classes
        return out


class Duplicate:
    """One column -> two identical ones (use with ``output_columns=[name, copy_name]``)."""

    def __call__(self, x):
        x = np.asarray(x)
        return x, x.copy()


class PadEnd:
    """Pad (or cut) each axis at its end to ``pad_shape`` with ``pad_value`` (default 0, or '' for strings)."""

    def __init__(self, pad_shape, pad_value=None):
        self.pad_shape = tuple(int(s) for s in pad_shape)
        self.pad_value = pad_value

    def __call__(self, x):
        x = np.asarray(x)
        if x.ndim != len(self.pad_shape):
            raise ValueError(f"PadEnd: pad_shape {list(self.pad_shape)} has {len(self.pad_shape)} dimensions, the "
                             f"input has shape {list(x.shape)}")
        x = x[tuple(slice(0, s) for s in self.pad_shape)]
        fill = ("" if x.dtype.kind == "U" else 0) if self.pad_value is None else self.pad_value
        return np.pad(x, [(0, s - n) for n, s in zip(x.shape, self.pad_shape)], constant_values=fill)
