"""The ``nccl`` communicator: collectives between GPUs through NCCL (``cupy.cuda.nccl``), on device arrays.

One rank per GPU. ``NCCLCommunicator.world()`` builds the world communicator: under an MPI launcher
(``python -m mindlab.run -n 4 script.py``) rank r drives GPU ``r % device_count`` and the NCCL unique id goes out
over MPI; without one it is a world of one rank. ``sub_group`` creates a new NCCL communicator for the members
(its id shared over an MPI sub-communicator).

Arrays: cupy arrays in, cupy arrays out (numpy arrays are accepted and come back as numpy, moving through
``mindlab.device`` so the transfers are counted). Every collective is enqueued on the current stream and then
waited for with a deadline: a peer that never arrives makes it raise ``CommunicationError`` after ``timeout``
seconds (the NCCL communicator is aborted, as NCCL requires), never a hang. ``mean`` is a sum divided by the group
size; bool arrays travel as uint8 (sum/max are "or", min/prod "and").
"""
import time

import numpy as np

from ... import device as _device
from .base import Communicator, CommunicationError, check_reduce_op, check_axis, check_divisible, mean_of_sum

__all__ = ["NCCLCommunicator", "nccl_available"]


def _cupy():
    try:
        import cupy
        from cupy.cuda import nccl
    except ImportError as exc:
        raise RuntimeError(f"the nccl communicator needs cupy with NCCL (pip install 'mindlab[gpu]'): {exc}") \
            from None
    if not nccl.available:
        raise RuntimeError("the nccl communicator needs NCCL, but this cupy build has no NCCL support")
    return cupy, nccl


def nccl_available():
    try:
        cupy, _ = _cupy()
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


_DTYPES = {"float16": "NCCL_FLOAT16", "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64", "int8": "NCCL_INT8",
           "uint8": "NCCL_UINT8", "int32": "NCCL_INT32", "int64": "NCCL_INT64", "uint32": "NCCL_UINT32",
           "uint64": "NCCL_UINT64"}
_OPS = {"sum": "NCCL_SUM", "mean": "NCCL_SUM", "max": "NCCL_MAX", "min": "NCCL_MIN", "prod": "NCCL_PROD"}
_BOOL_OPS = {"sum": "max", "max": "max", "min": "min", "prod": "min"}


class NCCLCommunicator(Communicator):
    """One rank's NCCL communicator over a group of world ranks."""

    backend = "nccl"

    def __init__(self, ranks, rank, uid, timeout=None, mpi_comm=None):
        self._cp, self._nccl = _cupy()
        self._init_group(ranks, rank, timeout)
        self._mpi = mpi_comm
        self._comm = self._nccl.NcclCommunicator(len(self._ranks), uid, self._rank)
        self._broken = None

    @classmethod
    def world(cls, timeout=None):
        """All ranks of the job (MPI launcher) or a world of one; picks this rank's GPU."""
        cupy, nccl = _cupy()
        from .mpi import launched_by_mpi, mpi_available
        if launched_by_mpi() and mpi_available():
            from mpi4py import MPI
            comm = MPI.COMM_WORLD
            rank, size = comm.Get_rank(), comm.Get_size()
            cupy.cuda.Device(rank % cupy.cuda.runtime.getDeviceCount()).use()
            uid = comm.bcast(nccl.get_unique_id() if rank == 0 else None, root=0)
            return cls(range(size), rank, uid, timeout, comm)
        return cls((0,), 0, nccl.get_unique_id(), timeout)

    # ---------------------------------------------------------------------------------- plumbing
    def _in(self, x):
        """(device array, came from the host)"""
        if isinstance(x, self._cp.ndarray):
            return x, False
        if _device.is_device_array(x):
            return x, False
        return self._cp.asarray(_device.to_device(np.asarray(x))), True

    def _out(self, y, host):
        return _device.to_host(y) if host else y

    def _kind(self, a):
        name = _DTYPES.get(a.dtype.name)
        if name is None:
            raise TypeError(f"nccl: arrays of dtype {a.dtype} cannot be communicated")
        return getattr(self._nccl, name)

    def _wait(self, what):
        """Wait for the enqueued NCCL work with a deadline; abort the communicator on timeout."""
        stream = self._cp.cuda.get_current_stream()
        deadline = time.monotonic() + self._timeout
        while not stream.done:
            if time.monotonic() > deadline:
                self._broken = f"{what} timed out after {self._timeout:g} s"
                try:
                    self._comm.abort()
                finally:
                    raise CommunicationError(f"rank {self.world_rank}: {what} on group {list(self._ranks)} did not "
                                             f"complete within {self._timeout:g} s (a peer died or called a "
                                             f"different collective); the NCCL communicator was aborted")
            time.sleep(0)

    def _check(self, what):
        if self._broken is not None:
            raise CommunicationError(f"rank {self.world_rank}: cannot start {what}: the communicator is broken "
                                     f"({self._broken})")

    def _stream(self):
        return self._cp.cuda.get_current_stream().ptr

    # ------------------------------------------------------------------------------- collectives
    def all_reduce(self, x, op="sum"):
        check_reduce_op(op, "all_reduce")
        self._check("all_reduce")
        x, host = self._in(x)
        dt, is_bool = x.dtype, x.dtype == np.bool_
        src = self._cp.ascontiguousarray(x.astype(np.uint8) if is_bool else x)
        out = self._cp.empty_like(src)
        nop = _BOOL_OPS[op] if is_bool and op != "mean" else op
        if is_bool and op == "mean":
            src = src.astype(np.float64)
            out = self._cp.empty_like(src)
        self._comm.allReduce(src.data.ptr, out.data.ptr, src.size, self._kind(src), getattr(self._nccl, _OPS[nop]),
                             self._stream())
        self._wait("all_reduce")
        if op == "mean":
            out = mean_of_sum(out, self.size)
        elif is_bool:
            out = out.astype(dt)
        return self._out(out, host)

    def all_gather(self, x, axis=0):
        self._check("all_gather")
        axis = check_axis(x, axis, "all_gather")
        x, host = self._in(x)
        src = self._cp.ascontiguousarray(x)
        out = self._cp.empty((self.size,) + src.shape, src.dtype)
        self._comm.allGather(src.data.ptr, out.data.ptr, src.size, self._kind(src), self._stream())
        self._wait("all_gather")
        return self._out(self._cp.concatenate(list(out), axis=axis), host)

    def reduce_scatter(self, x, axis=0, op="sum"):
        check_reduce_op(op, "reduce_scatter")
        self._check("reduce_scatter")
        axis = check_divisible(x, axis, self.size, "reduce_scatter")
        x, host = self._in(x)
        parts = self._cp.split(x, self.size, axis=axis)
        src = self._cp.ascontiguousarray(self._cp.stack(parts))
        out = self._cp.empty(parts[0].shape, src.dtype)
        self._comm.reduceScatter(src.data.ptr, out.data.ptr, out.size, self._kind(src),
                                 getattr(self._nccl, _OPS[op]), self._stream())
        self._wait("reduce_scatter")
        if op == "mean":
            out = mean_of_sum(out, self.size)
        return self._out(out, host)

    def all_to_all(self, x, split_axis=0, concat_axis=0):
        self._check("all_to_all")
        split_axis = check_divisible(x, split_axis, self.size, "all_to_all")
        check_axis(x, concat_axis, "all_to_all")
        x, host = self._in(x)
        sends = [self._cp.ascontiguousarray(c) for c in self._cp.split(x, self.size, axis=split_axis)]
        recvs = [self._cp.empty_like(c) for c in sends]
        self._nccl.groupStart()
        for j, (s, r) in enumerate(zip(sends, recvs)):
            self._comm.send(s.data.ptr, s.size, self._kind(s), j, self._stream())
            self._comm.recv(r.data.ptr, r.size, self._kind(r), j, self._stream())
        self._nccl.groupEnd()
        self._wait("all_to_all")
        return self._out(self._cp.concatenate(recvs, axis=concat_axis), host)

    def broadcast(self, x, root=0):
        self._check("broadcast")
        self._check_peer("broadcast", "root", root)
        x, host = self._in(x) if x is not None else (None, False)
        meta = (tuple(x.shape), x.dtype.str) if self._rank == root else None
        if self._mpi is not None:
            meta = self._mpi.bcast(meta, root=self._ranks[root])
        shape, dt = meta if meta is not None else (tuple(x.shape), x.dtype.str)
        buf = self._cp.ascontiguousarray(x) if self._rank == root else self._cp.empty(shape, np.dtype(dt))
        self._comm.broadcast(buf.data.ptr, buf.data.ptr, buf.size, self._kind(buf), root, self._stream())
        self._wait("broadcast")
        return self._out(buf, host)

    def barrier(self):
        self.all_reduce(self._cp.zeros(1, np.float32))

    def send(self, x, dest, tag=0):
        self._check("send")
        self._check_peer("send", "dest", dest)
        x, _ = self._in(x)
        x = self._cp.ascontiguousarray(x)
        if self._mpi is not None:
            self._mpi.send((tuple(x.shape), x.dtype.str), dest=self._ranks[dest], tag=tag)
        self._comm.send(x.data.ptr, x.size, self._kind(x), dest, self._stream())
        self._wait("send")

    def recv(self, source, tag=0):
        self._check("recv")
        self._check_peer("recv", "source", source)
        if self._mpi is None:
            raise CommunicationError("nccl recv: a world of one rank has nobody to receive from")
        shape, dt = self._mpi.recv(source=self._ranks[source], tag=tag)
        buf = self._cp.empty(shape, np.dtype(dt))
        self._comm.recv(buf.data.ptr, buf.size, self._kind(buf), source, self._stream())
        self._wait("recv")
        return buf

    def sub_group(self, world_ranks):
        world_ranks = self._sub_group_ranks(world_ranks, self._ranks, f"members of {list(self._ranks)}")
        if world_ranks == self._ranks:
            return self
        if self._mpi is None:
            raise CommunicationError("nccl sub_group: needs the MPI launcher to share the new NCCL id")
        color = hash(world_ranks) & 0x7FFFFFFF
        sub = self._mpi.Split(color, world_ranks.index(self.world_rank))
        uid = sub.bcast(self._nccl.get_unique_id() if sub.Get_rank() == 0 else None, root=0)
        return NCCLCommunicator(world_ranks, world_ranks.index(self.world_rank), uid, self._timeout, sub)
