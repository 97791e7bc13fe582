"""The communicator interface every backend implements (``sim``, ``mpi``; ``nccl`` joins with the GPU work).

A ``Communicator`` is one rank's handle on a group of ranks, SPMD style: every member calls the same collective
with its own array and gets its own result back. Arrays are numpy arrays (a GPU backend uses its own array type
through the same methods). Ranks are numbered twice: ``rank`` is the position in this group (0 .. size-1),
``ranks`` the members' *world* ranks in group order (the device ids a ``DeviceMesh`` holds).

Collectives (every member must call them, in the same order, with matching shapes and dtypes):

- ``all_reduce(x, op)``: elementwise reduction over the group; ``op`` in sum, max, min, prod, mean.
- ``all_gather(x, axis)``: the members' arrays concatenated along ``axis`` in rank order.
- ``reduce_scatter(x, axis, op)``: reduce, then rank ``r`` keeps the ``r``-th of ``size`` equal chunks along
  ``axis``.
- ``all_to_all(x, split_axis, concat_axis)``: ``x`` is cut into ``size`` chunks along ``split_axis``; chunk ``j``
  goes to rank ``j``; each rank concatenates what it receives along ``concat_axis`` in sender order.
- ``broadcast(x, root)``: everyone gets root's array (non-roots may pass None).
- ``barrier()``.

Point to point: ``send(x, dest, tag)`` / ``recv(source, tag)`` (group ranks).

Sub-groups: ``sub_group(world_ranks)`` (every listed member calls it; the caller must be listed) and
``group_along(mesh, axes)`` (this rank's group along mesh axes). A collective that cannot complete — a member died,
never arrived, or called a different collective — raises ``CommunicationError`` naming the collective, the group
and the ranks involved, within the communicator's ``timeout`` (seconds); it never hangs.
"""
import abc

import numpy as np

from ...errors import MindlabError

__all__ = ["Communicator", "CommunicationError", "REDUCE_OPS", "DEFAULT_TIMEOUT", "reduce_arrays", "chunks",
           "check_reduce_op", "check_axis"]

REDUCE_OPS = ("sum", "max", "min", "prod", "mean")
DEFAULT_TIMEOUT = 20.0     # seconds a rank waits in one collective before declaring the group broken


class CommunicationError(MindlabError, RuntimeError):
    """A collective or point-to-point call that cannot complete: a rank died, never arrived, or diverged."""


def check_reduce_op(op, where):
    if op not in REDUCE_OPS:
        raise ValueError(f"{where}: op must be one of {REDUCE_OPS}, got {op!r}")
    return op


def check_axis(x, axis, where):
    nd = np.ndim(x)
    if not isinstance(axis, (int, np.integer)) or not -max(nd, 1) <= axis < max(nd, 1):
        raise ValueError(f"{where}: axis {axis!r} is out of range for an array of shape {np.shape(x)}")
    return int(axis) % max(nd, 1)


def reduce_arrays(arrays, op):
    """Elementwise reduction of a list of equally shaped arrays, in list order (so sums are deterministic). On
    bool arrays sum and max are "or", min and prod "and", mean the fraction of True."""
    if op == "mean" and np.asarray(arrays[0]).dtype == np.bool_:
        arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    if op == "sum" or op == "mean":
        out = np.array(arrays[0], copy=True)
        for a in arrays[1:]:
            out = out + a
        if op == "mean":
            out = out / len(arrays) if np.issubdtype(out.dtype, np.floating) else out // len(arrays)
        return out
    fn = {"max": np.maximum, "min": np.minimum, "prod": np.multiply}[op]
    out = np.array(arrays[0], copy=True)
    for a in arrays[1:]:
        out = fn(out, a)
    return out


def chunks(x, axis, p, where):
    """``x`` cut into ``p`` equal chunks along ``axis``; a clear error when the length is not divisible."""
    axis = check_axis(x, axis, where)
    n = np.shape(x)[axis]
    if n % p:
        raise ValueError(f"{where}: dim {axis} of shape {tuple(np.shape(x))} has length {n}, which is not divisible "
                         f"by the group size {p}")
    return np.split(np.asarray(x), p, axis=axis)


class Communicator(abc.ABC):
    """One rank's handle on a group of ranks (see the module docstring for the semantics)."""

    backend = "abstract"

    # ----------------------------------------------------------------------------------- identity
    @property
    @abc.abstractmethod
    def rank(self):
        """This rank's position in the group (0 .. size-1)."""

    @property
    @abc.abstractmethod
    def ranks(self):
        """The members' world ranks, in group order."""

    @property
    def size(self):
        return len(self.ranks)

    @property
    def world_rank(self):
        return self.ranks[self.rank]

    @property
    def timeout(self):
        """Seconds a call waits before raising CommunicationError."""
        return DEFAULT_TIMEOUT

    # -------------------------------------------------------------------------------- collectives
    @abc.abstractmethod
    def all_reduce(self, x, op="sum"):
        ...

    @abc.abstractmethod
    def all_gather(self, x, axis=0):
        ...

    @abc.abstractmethod
    def reduce_scatter(self, x, axis=0, op="sum"):
        ...

    @abc.abstractmethod
    def all_to_all(self, x, split_axis=0, concat_axis=0):
        ...

    @abc.abstractmethod
    def broadcast(self, x, root=0):
        ...

    @abc.abstractmethod
    def barrier(self):
        ...

    @abc.abstractmethod
    def send(self, x, dest, tag=0):
        ...

    @abc.abstractmethod
    def recv(self, source, tag=0):
        ...

    # --------------------------------------------------------------------------------- sub-groups
    @abc.abstractmethod
    def sub_group(self, world_ranks):
        """A communicator over ``world_ranks`` (in that order); every listed member must call it."""

    def group_along(self, mesh, axes):
        """This rank's sub-group along mesh ``axes`` (names or indices); the mesh's device ids are world ranks."""
        group = mesh.group_of(self.world_rank, axes)
        if tuple(group) == tuple(self.ranks):
            return self
        return self.sub_group(group)

    def __repr__(self):
        return f"<{type(self).__name__} rank {self.rank} of {self.size} (world ranks {list(self.ranks)})>"
