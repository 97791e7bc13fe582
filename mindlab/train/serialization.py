"""Checkpoints: ``save_checkpoint``, ``load_checkpoint``, ``load_param_into_net`` (MindSpore's names), in a format of
our own that is read without unpickling anything.

File layout (format version 1; every integer little-endian)::

    0   magic        8 bytes   b"\\x89MLCKPT\\n"   (the high byte and the newline catch text-mode mangling)
    8   version      uint32    1
    12  flags        uint32    0 (reserved)
    16  index_len    uint64    bytes of the JSON index
    24  data_len     uint64    bytes of the data section
    32  index        JSON, UTF-8: {"format", "version", "tensors": [{"name", "dtype", "shape", "offset",
                     "nbytes", "requires_grad"}], "strings": {name: str}}
        zero padding to a multiple of 64
        data         each tensor's raw little-endian C-order bytes at its offset (64-byte aligned)
    end-32  SHA-256 of every byte before it

Loading checks the magic, the sizes (a truncated file or trailing bytes), the checksum (any flipped bit), then the
index, and reads each tensor with ``numpy.frombuffer``: no pickle, no code execution. Every error names the file
(and the parameter where one is at fault). Saving writes a temporary file in the target's directory, fsyncs it and
renames it over the target (``os.replace``), so a crash mid-save leaves the previous checkpoint intact.

Saving a training cell (``TrainOneStepCell``, ``Model``'s train network) saves the optimizer's state Parameters
(moments, ``global_step``, ``beta1_power``...) with the weights, so loading it back resumes training exactly.
"""
import hashlib
import json
import math
import numbers
import os
import struct

import numpy as np

from .. import device as _device
from ..common.atomic import atomic_write
from ..errors import where
from ..tensor import Tensor, Parameter

__all__ = ["save_checkpoint", "load_checkpoint", "load_param_into_net", "CheckpointError", "CheckpointDict"]

MAGIC = b"\x89MLCKPT\n"
VERSION = 1
_FIXED = struct.Struct("<8sIIQQ")    # magic, version, flags, index_len, data_len
_DIGEST = 32
_ALIGN = 64
_DTYPES = ("bool", "int8", "uint8", "int16", "int32", "int64", "float16", "float32", "float64")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read (not a checkpoint, truncated, corrupt) or that does not fit the
    network it is loaded into. The message names the file and, where one is at fault, the parameter."""


class CheckpointDict(dict):
    """What ``load_checkpoint`` returns: {name: Parameter} (appended strings stay str), remembering the file it
    came from (``file_name``) so that later errors can name it."""

    file_name = None


def _align(n):
    return -(-n // _ALIGN) * _ALIGN


# ---------------------------------------------------------------------------------------------------- saving
def _entries_of(save_obj, what="save_checkpoint"):
    """[(name, Tensor)] from a Cell, a dict, or a list of Parameters / {"name", "data"} dicts / Cells."""
    from ..nn.cell import Cell
    out = []
    if isinstance(save_obj, Cell):
        out = [(p.name, p) for p in save_obj.get_parameters()]
    elif isinstance(save_obj, dict):
        for name, value in save_obj.items():
            out.append((name, value))
    elif isinstance(save_obj, (list, tuple)):
        for item in save_obj:
            if isinstance(item, Cell):
                out.extend((p.name, p) for p in item.get_parameters())
            elif isinstance(item, Parameter):
                out.append((item.name, item))
            elif isinstance(item, dict) and set(item) == {"name", "data"}:
                out.append((item["name"], item["data"]))
            else:
                raise TypeError(f"{what}: a list to save must hold Cells, Parameters or {{'name': ..., 'data': ...}} "
                                f"dicts, got {type(item).__name__}.{where()}")
    else:
        raise TypeError(f"{what}: save_obj must be a Cell, a dict or a list, got {type(save_obj).__name__}."
                        f"{where()}")
    return out


def _as_array(name, value, what):
    """(numpy array, requires_grad) for one value to save; None for a str (kept in the index)."""
    if isinstance(value, Tensor):
        arr, rg = _device.host(value._data), isinstance(value, Parameter) and value.requires_grad
    elif isinstance(value, bool):
        arr, rg = np.array(value), False
    elif isinstance(value, numbers.Integral):
        arr, rg = np.array(value, dtype=np.int64), False
    elif isinstance(value, numbers.Real):
        arr, rg = np.array(value, dtype=np.float32), False
    elif isinstance(value, np.ndarray):
        arr, rg = value, False
    else:
        raise TypeError(f"{what}: {name!r} is a {type(value).__name__}; checkpoints hold Parameters, Tensors, "
                        f"numpy arrays, numbers and strings.{where()}")
    if arr.dtype.name not in _DTYPES:
        raise TypeError(f"{what}: {name!r} has dtype {arr.dtype}, which checkpoints do not hold "
                        f"({', '.join(_DTYPES)}).{where()}")
    # (np.asarray with order="C", not ascontiguousarray, which turns 0-d arrays into 1-d ones)
    return np.asarray(arr, dtype=arr.dtype.newbyteorder("<"), order="C"), rg


def _write(f, data):
    """Write ``data`` to the open temporary file (one seam, so tests can simulate a failing disk)."""
    f.write(data)


def _atomic_write(path, chunks):
    """Write ``chunks`` to ``path`` all-or-nothing (mindlab.common.atomic), through the ``_write`` seam."""
    atomic_write(path, chunks, write=lambda f, data: _write(f, data))


def save_checkpoint(save_obj, ckpt_file_name, integrated_save=True, async_save=False, append_dict=None,
                    choice_func=None):
    """Save parameters to ``ckpt_file_name`` (".ckpt" is appended when missing).

    ``save_obj``: a Cell (all its parameters, under their names: saving a training cell includes the optimizer's
    state), a dict {name: Parameter / Tensor} (e.g. what ``load_checkpoint`` returned), or a list of Parameters,
    of {"name": ..., "data": ...} dicts, or of Cells (e.g. ``[net, optimizer]``).
    ``append_dict``: extra {name: int / float / bool / str / Tensor} entries (e.g. the epoch number).
    ``choice_func``: ``f(name) -> bool`` choosing which parameters to save.
    ``integrated_save`` and ``async_save`` are accepted for compatibility: on one device the parameters are
    always whole, and the write is done before this returns.
    """
    if not isinstance(ckpt_file_name, (str, os.PathLike)):
        raise TypeError(f"save_checkpoint: ckpt_file_name must be a path, got {type(ckpt_file_name).__name__}."
                        f"{where()}")
    path = os.fspath(ckpt_file_name)
    if not path.endswith(".ckpt"):
        path += ".ckpt"
    if choice_func is not None and not callable(choice_func):
        raise TypeError(f"save_checkpoint: choice_func must be callable, got {type(choice_func).__name__}.{where()}")
    entries = _entries_of(save_obj)
    if choice_func is not None:
        entries = [(n, v) for n, v in entries if choice_func(n)]
    if append_dict is not None:
        if not isinstance(append_dict, dict):
            raise TypeError(f"save_checkpoint: append_dict must be a dict, got {type(append_dict).__name__}."
                            f"{where()}")
        entries = entries + list(append_dict.items())

    tensors, strings, arrays, seen, offset = [], {}, [], {}, 0
    for name, value in entries:
        if not isinstance(name, str) or not name:
            raise TypeError(f"save_checkpoint: names must be non-empty strings, got {name!r}.{where()}")
        if name in seen:
            if seen[name] is value:
                continue
            raise ValueError(f"save_checkpoint: two different values are named {name!r}; names must be unique."
                             f"{where()}")
        seen[name] = value
        if isinstance(value, str):
            strings[name] = value
            continue
        arr, rg = _as_array(name, value, "save_checkpoint")
        tensors.append({"name": name, "dtype": arr.dtype.name, "shape": list(arr.shape), "offset": offset,
                        "nbytes": arr.nbytes, "requires_grad": bool(rg)})
        arrays.append(arr)
        offset = _align(offset + arr.nbytes)
    data_len = offset
    index = json.dumps({"format": "mindlab.checkpoint", "version": VERSION, "tensors": tensors,
                        "strings": strings}, separators=(",", ":")).encode("utf-8")
    head = _FIXED.pack(MAGIC, VERSION, 0, len(index), data_len) + index
    head += b"\0" * (_align(len(head)) - len(head))

    def chunks():
        digest = hashlib.sha256()
        for chunk in _data_chunks(head, tensors, arrays):
            digest.update(chunk)
            yield chunk
        yield digest.digest()

    _atomic_write(path, chunks())


def _data_chunks(head, tensors, arrays):
    yield head
    pos = 0
    for t, arr in zip(tensors, arrays):
        if t["offset"] > pos:
            yield b"\0" * (t["offset"] - pos)
        yield memoryview(arr.reshape(-1)).cast("B") if arr.size else b""
        pos = t["offset"] + t["nbytes"]
    end = _align(pos)
    if end > pos:
        yield b"\0" * (end - pos)


# ---------------------------------------------------------------------------------------------------- loading
def _read_verified(path):
    """(index dict, data memoryview) of a checkpoint file after checking magic, sizes and checksum."""
    with open(path, "rb") as f:
        blob = f.read()
    n = len(blob)
    if n < 8 or blob[:8] != MAGIC:
        hint = ""
        if blob[:1] == b"\x80":
            hint = " It looks like a pickle; mindlab never unpickles checkpoints."
        elif n < 8 and MAGIC.startswith(blob):
            hint = f" It is truncated ({n} bytes)."
        raise CheckpointError(f"{path}: not a mindlab checkpoint (bad magic bytes {blob[:8]!r}, expected "
                              f"{MAGIC!r}).{hint}")
    if n < _FIXED.size + _DIGEST:
        raise CheckpointError(f"{path}: truncated checkpoint: {n} bytes, shorter than the fixed header")
    _, version, _flags, index_len, data_len = _FIXED.unpack_from(blob)
    data_start = _align(_FIXED.size + index_len)
    expected = data_start + data_len + _DIGEST
    if n < expected:
        raise CheckpointError(f"{path}: truncated checkpoint: the file has {n} bytes, its header says {expected} "
                              f"(an interrupted copy or write?)")
    if n > expected:
        raise CheckpointError(f"{path}: corrupt checkpoint: {n - expected} unexpected bytes after the end "
                              f"({expected} bytes expected)")
    body = memoryview(blob)[:n - _DIGEST]
    if hashlib.sha256(body).digest() != blob[n - _DIGEST:]:
        raise CheckpointError(f"{path}: corrupt checkpoint: the SHA-256 checksum does not match the contents "
                              f"(a flipped bit or a partial overwrite); use an older copy")
    if version != VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version}; this mindlab reads version {VERSION}")
    try:
        index = json.loads(bytes(body[_FIXED.size:_FIXED.size + index_len]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: corrupt checkpoint index: {e}") from None
    if not isinstance(index, dict) or index.get("format") != "mindlab.checkpoint":
        raise CheckpointError(f"{path}: the index is not a mindlab checkpoint index")
    return index, body[data_start:data_start + data_len]


def _tensor_of(path, t, data):
    """A numpy array (a read-only view of ``data``) for one index entry, after checking it."""
    name = t.get("name")
    try:
        dtype, shape, offset, nbytes = t["dtype"], tuple(t["shape"]), int(t["offset"]), int(t["nbytes"])
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"{path}: corrupt index entry for {name!r}: {t!r}") from None
    if dtype not in _DTYPES or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise CheckpointError(f"{path}: parameter {name!r} has an invalid dtype {dtype!r} or shape {list(shape)}")
    dt = np.dtype(dtype).newbyteorder("<")
    if nbytes != math.prod(shape) * dt.itemsize or offset < 0 or offset + nbytes > len(data):
        raise CheckpointError(f"{path}: parameter {name!r} ({dtype}{list(shape)}) does not fit the data section "
                              f"(offset {offset}, {nbytes} bytes of {len(data)})")
    return np.frombuffer(data, dtype=dt, count=math.prod(shape), offset=offset).reshape(shape)


def _matches(name, prefixes):
    return any(name.startswith(p) for p in prefixes)


def _prefixes(value, what):
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    if not items or not all(isinstance(p, str) and p for p in items):
        raise TypeError(f"load_checkpoint: {what} must be a non-empty string or list of strings, got {value!r}."
                        f"{where()}")
    return tuple(items)


def load_checkpoint(ckpt_file_name, net=None, strict_load=False, filter_prefix=None, specify_prefix=None,
                    choice_func=None):
    """Read a checkpoint: {name: Parameter} (strings saved with ``append_dict`` come back as str).

    ``net``: also load the parameters into this Cell (``load_param_into_net``, with ``strict_load``).
    ``filter_prefix``: skip names starting with it (a string or list). ``specify_prefix``: keep only names starting
    with it. ``choice_func``: ``f(name) -> bool`` keeps the names it accepts.
    Raises ``CheckpointError`` (a ValueError) naming the file when it is not a valid checkpoint, and
    FileNotFoundError when it does not exist. Nothing is unpickled.
    """
    if not isinstance(ckpt_file_name, (str, os.PathLike)):
        raise TypeError(f"load_checkpoint: ckpt_file_name must be a path, got {type(ckpt_file_name).__name__}."
                        f"{where()}")
    path = os.fspath(ckpt_file_name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_checkpoint: the checkpoint file {path!r} does not exist.{where()}")
    skip, keep = _prefixes(filter_prefix, "filter_prefix"), _prefixes(specify_prefix, "specify_prefix")
    index, data = _read_verified(path)
    out = CheckpointDict()
    out.file_name = path
    for t in index.get("tensors", ()):
        name = t.get("name") if isinstance(t, dict) else None
        if not isinstance(name, str):
            raise CheckpointError(f"{path}: corrupt index entry {t!r}")
        if (skip and _matches(name, skip)) or (keep and not _matches(name, keep)) or \
                (choice_func is not None and not choice_func(name)):
            continue
        arr = _tensor_of(path, t, data)
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        # Parameter copies the (read-only) view into an array of its own
        out[name] = Parameter(arr, name=name, requires_grad=bool(t.get("requires_grad", True)))
    for name, value in (index.get("strings") or {}).items():
        if (skip and _matches(name, skip)) or (keep and not _matches(name, keep)) or \
                (choice_func is not None and not choice_func(name)):
            continue
        out[name] = value
    if net is not None:
        load_param_into_net(net, out, strict_load=strict_load)
    return out


def _describe(value):
    return f"{value.dtype}{list(value.shape)}"


def load_param_into_net(net, parameter_dict, strict_load=False):
    """Copy the values of ``parameter_dict`` ({name: Parameter / Tensor}, e.g. from ``load_checkpoint``) into the
    parameters of ``net`` with the same names. Returns ``(param_not_load, ckpt_not_load)``: the network's
    parameters that got no value, and the dict's entries that were not used.

    Without ``strict_load``, a network parameter whose exact name is absent also matches a single dict entry that
    differs from it only by a leading prefix (``backbone.fc1.weight`` <-> ``fc1.weight``). A value whose shape or
    dtype differs from its parameter's raises CheckpointError naming the parameter (and the file); nothing is
    changed then, since every value is checked before any is copied.
    """
    from ..nn.cell import Cell
    if not isinstance(net, Cell):
        raise TypeError(f"load_param_into_net: net must be a Cell, got {type(net).__name__}.{where()}")
    if not isinstance(parameter_dict, dict):
        raise TypeError(f"load_param_into_net: parameter_dict must be a dict, got {type(parameter_dict).__name__}."
                        f"{where()}")
    source = getattr(parameter_dict, "file_name", None)
    origin = f" from {source}" if source else ""
    for k, v in parameter_dict.items():
        if not isinstance(v, Tensor):
            raise TypeError(f"load_param_into_net: parameter_dict[{k!r}] must be a Parameter or Tensor, got "
                            f"{type(v).__name__}; nothing was loaded.{where()}")
    values = dict(parameter_dict)
    used, plan, param_not_load = set(), [], []
    for p in net.get_parameters():
        key = p.name if p.name in values else None
        if key is None and not strict_load:
            cands = [k for k in values if k.endswith("." + p.name) or p.name.endswith("." + k)]
            key = cands[0] if len(cands) == 1 else None
        if key is None:
            param_not_load.append(p.name)
            continue
        v = values[key]
        if v.shape != p.shape or v.dtype != p.dtype:
            what = "shape" if v.shape != p.shape else "dtype"
            raise CheckpointError(f"load_param_into_net: parameter {p.name!r} is {_describe(p)} in the network but "
                                  f"{key!r}{origin} is {_describe(v)} ({what} mismatch); nothing was loaded."
                                  f"{where()}")
        plan.append((p, v))
        used.add(key)
    for p, v in plan:
        p.set_data(v)
    ckpt_not_load = [k for k in parameter_dict if k not in used]
    return param_not_load, ckpt_not_load
