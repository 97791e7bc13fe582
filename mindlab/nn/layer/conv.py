"""Convolution layers: Conv2d (NCHW)."""
import math
import numbers

from ... import dtype as mdt
from ... import ops
from ...common.initializer import initializer, HeUniform, Uniform
from ...errors import where
from ...tensor import Parameter
from ..cell import Cell
from ._validate import positive_int, int_pair, pad_mode as check_pad_mode, data_format as check_format

__all__ = ["Conv2d"]


def _padding(padding, mode):
    """An int or a 4-tuple (top, bottom, left, right) of non-negative ints; non-zero only with pad_mode='pad'."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        vals = (int(padding),) * 4
    elif isinstance(padding, (tuple, list)) and len(padding) == 4:
        vals = tuple(padding)
    else:
        raise ValueError(f"For 'Conv2d', 'padding' must be an int or a tuple of four ints, but got "
                         f"{padding!r}.{where()}")
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0 for v in vals):
        raise ValueError(f"For 'Conv2d', 'padding' must be non-negative ints, but got {padding!r}.{where()}")
    if mode != "pad" and any(vals):
        raise ValueError(f"For 'Conv2d', 'padding' must be 0 when pad_mode is {mode!r} (use pad_mode='pad'), but "
                         f"got {padding!r}.{where()}")
    return padding if isinstance(padding, numbers.Integral) else tuple(int(v) for v in vals)


class Conv2d(Cell):
    """2-D convolution over NCHW inputs.

    ``weight``: (out_channels, in_channels // group, kh, kw), default HeUniform(sqrt(5)); ``bias`` (only with
    ``has_bias=True``): (out_channels,), default U(±1/sqrt(fan_in)). ``pad_mode``: ``"same"`` (output size
    ceil(in/stride)), ``"valid"`` (no padding) or ``"pad"`` (explicit ``padding``: an int or (top, bottom, left,
    right)).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, pad_mode="same", padding=0, dilation=1,
                 group=1, has_bias=False, weight_init=None, bias_init=None, data_format="NCHW", dtype=mdt.float32):
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = positive_int(out_channels, "out_channels", "Conv2d")
        self.kernel_size = int_pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = int_pair(stride, "stride", "Conv2d")
        self.dilation = int_pair(dilation, "dilation", "Conv2d")
        self.pad_mode = check_pad_mode(pad_mode, "Conv2d")
        self.padding = _padding(padding, self.pad_mode)
        self.group = positive_int(group, "group", "Conv2d")
        self.data_format = check_format(data_format, "Conv2d")
        if self.in_channels % self.group or self.out_channels % self.group:
            raise ValueError(f"For 'Conv2d', in_channels={self.in_channels} and out_channels={self.out_channels} "
                             f"must both be divisible by group={self.group}.{where()}")
        self.has_bias = bool(has_bias)
        shape = (self.out_channels, self.in_channels // self.group) + self.kernel_size
        if weight_init is None:
            weight_init = HeUniform(math.sqrt(5))
        self.weight = Parameter(initializer(weight_init, shape, dtype), name="weight")
        self.bias = None
        if self.has_bias:
            if bias_init is None:
                fan_in = shape[1] * shape[2] * shape[3]
                bias_init = Uniform(1.0 / math.sqrt(fan_in))
            self.bias = Parameter(initializer(bias_init, (self.out_channels,), dtype), name="bias")

    def construct(self, x):
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"Conv2d: expected an NCHW input with C=in_channels={self.in_channels}, got "
                             f"{x.dtype}{list(x.shape)} (weight {list(self.weight.shape)}).{where()}")
        return ops.conv2d(x, self.weight, self.bias, stride=self.stride, pad_mode=self.pad_mode,
                          padding=self.padding, dilation=self.dilation, groups=self.group)

    def extend_repr(self):
        return (f"input_channels={self.in_channels}, output_channels={self.out_channels}, "
                f"kernel_size={self.kernel_size}, stride={self.stride}, pad_mode={self.pad_mode}, "
                f"padding={self.padding}, dilation={self.dilation}, group={self.group}, has_bias={self.has_bias}, "
                f"format={self.data_format}")
