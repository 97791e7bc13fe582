"""Pooling layers: MaxPool2d, AvgPool2d (NCHW)."""
from ... import ops
from ...errors import where
from ..cell import Cell
from ._validate import int_pair, pad_mode as check_pad_mode, data_format as check_format

__all__ = ["MaxPool2d", "AvgPool2d"]


class _Pool2d(Cell):
    _name = "_Pool2d"

    def __init__(self, kernel_size=1, stride=1, pad_mode="valid", padding=0, data_format="NCHW"):
        super().__init__()
        self.kernel_size = int_pair(kernel_size, "kernel_size", self._name)
        self.stride = int_pair(stride, "stride", self._name)
        self.pad_mode = check_pad_mode(pad_mode, self._name)
        if isinstance(padding, (tuple, list)):
            padding = tuple(padding)
        elif isinstance(padding, bool) or not isinstance(padding, int):
            raise TypeError(f"For '{self._name}', 'padding' must be an int or a tuple of ints, but got "
                            f"{type(padding).__name__}.{where()}")
        if self.pad_mode != "pad" and any(padding if isinstance(padding, tuple) else (padding,)):
            raise ValueError(f"For '{self._name}', 'padding' must be 0 unless pad_mode='pad', but got "
                             f"{padding!r}.{where()}")
        self.padding = padding
        self.data_format = check_format(data_format, self._name)

    def _check(self, x):
        if x.ndim != 4:
            raise ValueError(f"{self._name}: expected a 4-D NCHW input, got {x.dtype}{list(x.shape)}.{where()}")

    def extend_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, pad_mode={self.pad_mode.upper()}"


class MaxPool2d(_Pool2d):
    """Maximum over ``kernel_size`` windows moved by ``stride`` (``pad_mode`` "valid", "same" or "pad")."""
    _name = "MaxPool2d"

    def construct(self, x):
        self._check(x)
        return ops.max_pool2d(x, kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                              pad_mode=self.pad_mode)


class AvgPool2d(_Pool2d):
    """Mean over ``kernel_size`` windows moved by ``stride`` (``pad_mode`` "valid", "same" or "pad")."""
    _name = "AvgPool2d"

    def construct(self, x):
        self._check(x)
        return ops.avg_pool2d(x, kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                              pad_mode=self.pad_mode)
