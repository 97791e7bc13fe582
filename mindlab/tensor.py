"""Tensor and Parameter: the data containers. Operators and methods are installed by ``mindlab.ops.tensor_methods``
(they are ops, so they live with the ops); this module only owns storage, construction and printing."""
import numbers

import numpy as np

from . import dtype as mdt
from . import context as _context
from . import device as _device

_ctx = _context._state
_host = _device.host

__all__ = ["Tensor", "Parameter", "ParameterTuple"]


def _to_array(data, dtype):
    """numpy array for Tensor(input_data, dtype) with MindSpore's default dtypes: Python floats -> float32,
    ints -> int64, bools -> bool; numpy arrays keep their dtype."""
    if isinstance(data, Tensor) and _device.is_device_array(data._data) or _device.is_device_array(data):
        arr = data._data if isinstance(data, Tensor) else data      # a device array: copied on the device
        return arr.astype(mdt.to_np(dtype)) if dtype is not None else arr.copy()
    if isinstance(data, Tensor):
        arr = data._data
    elif isinstance(data, np.ndarray):
        arr = data
    elif isinstance(data, (numbers.Number, np.generic, list, tuple)):
        try:
            arr = np.asarray(data)
        except ValueError:
            arr = np.empty(0, dtype=object)
        if arr.dtype == object:
            raise TypeError(f"Tensor: cannot make a tensor from ragged or non-numeric data {data!r}")
        if arr.dtype == np.float64 and not isinstance(data, np.generic) and not (
                isinstance(data, (list, tuple)) and _has_np_float64(data)):
            arr = arr.astype(np.float32)
    else:
        raise TypeError(f"Tensor: input_data must be a numpy array, list, tuple, number or Tensor, "
                        f"got {type(data).__name__}")
    if dtype is not None:
        arr = arr.astype(mdt.to_np(dtype), copy=False)
    else:
        mdt.from_np(arr.dtype)   # raises for unsupported dtypes (complex, strings, ...)
    return np.array(arr, copy=True, order="C")


def _has_np_float64(seq):
    for x in seq:
        if isinstance(x, (list, tuple)):
            if _has_np_float64(x):
                return True
        elif isinstance(x, np.float64):
            return True
    return False


class Tensor:
    """A mindlab tensor.

    ``Tensor(input_data, dtype=None)``: ``input_data`` is a numpy array, a (nested) list/tuple, a Python/numpy
    scalar or another Tensor. ``shape``/``dtype``/``init`` create an uninitialised-by-data tensor filled by an
    initializer (``Tensor(shape=(2, 3), dtype=mindlab.float32, init=One())``).
    """
    __slots__ = ("_data", "_node", "__weakref__")
    __array_priority__ = 100   # numpy defers to Tensor's reflected operators

    def __init__(self, input_data=None, dtype=None, shape=None, init=None):
        if input_data is None:
            if shape is None:
                raise TypeError("Tensor: give input_data, or shape (with dtype and init)")
            from .common.initializer import initializer
            arr = initializer("zeros" if init is None else init, tuple(shape),
                              mdt.float32 if dtype is None else dtype).asnumpy()
        else:
            if shape is not None or init is not None:
                raise TypeError("Tensor: give either input_data or shape/init, not both")
            arr = _to_array(input_data, dtype)
        if _ctx["device_target"] == "GPU":
            arr = _device.place(arr)
        self._data = arr
        self._node = None

    # ------------------------------------------------------------------ properties
    @property
    def shape(self):
        return self._data.shape

    @property
    def dtype(self):
        return mdt.from_np(self._data.dtype)

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def size(self):
        return self._data.size

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.nbytes

    def asnumpy(self):
        """The tensor's values as a numpy array (a copy: changing it never changes the tensor)."""
        return _device.to_host(self._data)

    def numpy(self):
        return self.asnumpy()

    def __array__(self, dtype=None, copy=None):
        d = self._data if self._data.__class__ is np.ndarray else _host(self._data)
        return d if dtype is None else d.astype(dtype)

    def item(self):
        if self._data.size != 1:
            raise ValueError(f"Tensor.item: only a tensor of one element converts to a Python scalar, "
                             f"this one has shape {list(self.shape)}")
        return _host(self._data).item()

    def tolist(self):
        return _host(self._data).tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, this one is {self.dtype}")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise ValueError(f"The truth value of a tensor with shape {list(self.shape)} is ambiguous; "
                             f"use .any() or .all()")
        return bool(_host(self._data).item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __hash__(self):
        return id(self)

    # ------------------------------------------------------------------ printing (like MindSpore)
    def __str__(self):
        return str(_host(self._data))

    def __repr__(self):
        body = np.array2string(_host(self._data), separator=" ", prefix="Tensor(shape=[], dtype=Float32, value=")
        return f"Tensor(shape={list(self.shape)}, dtype={self.dtype}, value={body})"

    def __format__(self, spec):
        if self._data.ndim == 0:
            return format(_host(self._data).item(), spec)
        return format(str(self), spec)

    def __reduce__(self):
        return (Tensor, (self.asnumpy(),))


def _wrap(data, _new=object.__new__, _T=Tensor):
    """A Tensor around an existing array, with no copy and no checks (for the dispatcher)."""
    t = _new(_T)
    t._data = data
    t._node = None
    return t


class Parameter(Tensor):
    """A trainable tensor held by a Cell. ``Parameter(default_input, name=None, requires_grad=True)``;
    ``default_input`` is a Tensor, numpy array, number, or an initializer's result."""
    __slots__ = ("name", "requires_grad", "_auto_name", "layerwise_parallel")

    def __init__(self, default_input, name=None, requires_grad=True, layerwise_parallel=False):
        if isinstance(default_input, (numbers.Number, np.generic)):
            default_input = Tensor(default_input)
        super().__init__(default_input)
        if _ctx["device_target"] == "GPU":   # parameters live on the device, scalars too (moved once)
            self._data = _device.to_device(self._data)
        self._auto_name = name is None
        self.name = "Parameter" if name is None else str(name)
        self.requires_grad = bool(requires_grad)
        self.layerwise_parallel = layerwise_parallel

    def set_data(self, data):
        """Replace the parameter's value (shape and dtype must match)."""
        arr = data._data if isinstance(data, Tensor) else np.asarray(data)
        if arr.shape != self._data.shape:
            raise ValueError(f"Parameter {self.name!r}.set_data: shape {list(arr.shape)} does not match the "
                             f"parameter's shape {list(self._data.shape)}")
        if _device.is_device_array(self._data) or _device.is_device_array(arr):
            self._data = _device.to_device(arr).astype(self._data.dtype, copy=True)
        else:
            self._data = np.array(arr, dtype=self._data.dtype, copy=True)
        return self

    @property
    def data(self):
        return self

    def clone(self, prefix=None):
        p = Parameter(Tensor(self.asnumpy()), name=self.name if prefix is None else f"{prefix}.{self.name}",
                      requires_grad=self.requires_grad)
        return p

    def __repr__(self):
        return f"Parameter (name={self.name}, shape={list(self.shape)}, dtype={self.dtype}, " \
               f"requires_grad={self.requires_grad})"

    def __reduce__(self):
        return (Parameter, (Tensor(self.asnumpy()), self.name, self.requires_grad))


class ParameterTuple(tuple):
    """An immutable tuple of Parameters (what ``GradOperation(get_by_list=True)`` and optimizers take)."""

    def __new__(cls, iterable):
        items = tuple(iterable)
        for p in items:
            if not isinstance(p, Parameter):
                raise TypeError(f"ParameterTuple: every element must be a Parameter, got {type(p).__name__}")
        return super().__new__(cls, items)
