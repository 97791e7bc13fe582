"""Eager dispatch: apply a registered primitive to Tensors.

``bind(prim, *tensors, **attrs)`` checks the inputs with the primitive's infer rule (cached per input signature,
so a repeated call costs one dict lookup), runs the kernel for the context's device, casts the result to the
inferred dtype when a kernel's numpy promotion differs, and records the application on the tape when a gradient
transform is watching one of the inputs. Attribute values must be hashable (tuples, not lists).
"""
import numpy as np

from .. import context as _context
from .. import dtype as mdt
from .. import device as _device
from .. import debug_nans as _debug_nans
from ..errors import MindlabError, locate, located, where
from ..tensor import Tensor, _wrap
from ..autodiff.tape import STATE as _TAPE, record as _record
from .abstract import AbstractTensor
from ..ir.builder import Symbol as _Symbol, graph_bind as _graph_bind, _stack as _building
from ..tensor import Parameter as _Parameter

_ctx = _context._state
_cache = {}
_CACHE_MAX = 65536
_ndarray = np.ndarray


def describe(args):
    return ", ".join(f"{a.dtype}{list(a.shape)}" if hasattr(a, "shape") else repr(a) for a in args)


def _fail(prim, args, attrs, exc):
    """The error for inputs ``prim``'s infer rule refused: names the op, the inputs, the attributes and the user's
    line (in the message, and as ``.source``: an ``errors.Source``)."""
    attr_txt = (" with " + ", ".join(f"{k}={v!r}" for k, v in attrs.items())) if attrs else ""
    src = locate()
    msg = f"{prim.name}: {exc}. Inputs: ({describe(args)}){attr_txt}.{src.tail if src else ''}"
    kind = TypeError if isinstance(exc, TypeError) else ValueError
    return located(kind(msg), src)


def infer(prim, args, attrs):
    """The inferred output (AbstractTensor or tuple) of ``prim`` on Tensors ``args``; clear error on bad input."""
    for a in args:
        if not isinstance(a, Tensor):
            raise located(TypeError(f"{prim.name}: every input must be a Tensor, got {type(a).__name__} ({a!r})."
                                    f"{where()}"))
    avals = [AbstractTensor(a._data.shape, mdt.from_np(a._data.dtype)) for a in args]
    try:
        return prim.infer(*avals, **attrs)
    except (MindlabError, ValueError, TypeError) as exc:
        raise _fail(prim, args, attrs, exc) from None


def _signature(prim, args, attrs):
    sig = [prim, tuple(attrs.items()) if attrs else None]
    for a in args:
        d = a._data
        sig.append(d.shape)
        sig.append(d.dtype)
    return tuple(sig)


def bind(prim, *args, **attrs):
    """Apply ``prim`` to Tensors ``args`` with static ``attrs``; returns a Tensor (or a tuple for multi-output)."""
    if _building:   # compiling a graph: ops on Parameters (weights) are graph nodes, not compile-time constants
        for a in args:
            if isinstance(a, _Parameter):
                return _graph_bind(prim, args, attrs)
    try:
        if len(args) == 2 and not attrs:   # the hot case (binary elementwise) without building a list
            d0, d1 = args[0]._data, args[1]._data
            key = (prim, d0.shape, d0.dtype, d1.shape, d1.dtype)
            datas = (d0, d1)
        else:
            key = _signature(prim, args, attrs)
            datas = [a._data for a in args]
        out_np = _cache[key]
    except KeyError:
        out_np = _infer_for_cache(prim, args, attrs, key)
    except (AttributeError, TypeError):   # a symbolic input, a non-Tensor input, or an unhashable attribute
        for a in args:
            if a.__class__ is _Symbol:        # building a graph: add a node instead of running a kernel
                return _graph_bind(prim, args, attrs)
        infer(prim, args, attrs)
        raise located(TypeError(f"{prim.name}: attribute values must be hashable, got "
                                f"{ {k: type(v).__name__ for k, v in attrs.items()} }.{where()}")) from None
    dev = _ctx["device_target"]
    impl = prim.impl.get(dev)
    if impl is None:
        raise located(NotImplementedError(f"{prim.name}: no kernel for device_target={dev!r}; "
                                          f"available: {sorted(prim.impl)}.{where()}"))
    home = _device.device_class() if dev == "GPU" else _ndarray
    for d in datas:   # a tensor made under another device_target (before a switch) moves here once
        if d.__class__ is not home and (home is _ndarray or d.__class__ is not _ndarray or d.ndim):
            datas = _device.adopt(args, dev)
            break
    try:
        out = impl(*datas, **attrs)
    except MindlabError:
        raise
    except Exception as exc:   # a kernel failing on inputs its infer rule accepted: say where, never crash deep
        raise located(RuntimeError(f"{prim.name}: kernel failed on inputs ({describe(args)}): "
                                   f"{type(exc).__name__}: {exc}.{where()}")) from exc
    if prim.outputs == 1:
        if out.__class__ is not _ndarray or out.dtype is not out_np:
            out = _coerce(out, out_np)
        res = _wrap(out)
    else:
        res = tuple(_wrap(o if (o.__class__ is _ndarray and o.dtype is d) else _coerce(o, d))
                    for o, d in zip(out, out_np))
    if _debug_nans.ENABLED:   # set_context(debug_nans=True): name the first op making a NaN / overflow
        _debug_nans.check_eager(prim, args, attrs, res)
    if _TAPE.levels:
        for a in args:
            if a._node is not None:
                _record(prim, args, attrs, res)
                break
    return res


def _coerce(out, dt):
    """A kernel's result as an array of the inferred dtype on the context's device (numpy for CPU, a device array
    for GPU: never a silent copy to the host)."""
    if _ctx["device_target"] == "GPU":
        return _device.coerce(out, dt)
    return np.asarray(out, dtype=dt)


def _infer_for_cache(prim, args, attrs, key):
    out = infer(prim, args, attrs)
    out_np = tuple(o.dtype.np for o in out) if isinstance(out, tuple) else out.dtype.np
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[key] = out_np
    return out_np
