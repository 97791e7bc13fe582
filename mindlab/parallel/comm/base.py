"""The communicator interface every backend implements (``sim``, ``mpi``, ``nccl``), and what they share.

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
           "check_reduce_op", "check_axis", "check_divisible", "mean_of_sum"]

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


def check_divisible(x, axis, p, where):
    """The axis (normalized) along which ``x`` is cut into ``p`` equal chunks; a clear error when its length is
    not divisible by ``p``. Works on any array with ``shape`` / ``ndim`` (numpy, cupy)."""
    axis = check_axis(x, axis, where)
    n = np.shape(x)[axis] if np.ndim(x) else 1
    if n % p:
        raise ValueError(f"{where}: dim {axis} of shape {tuple(np.shape(x))} has length {n}, which is not divisible "
                         f"by the group size {p}")
    return axis


def mean_of_sum(total, n):
    """A sum over ``n`` ranks turned into their mean: true division for floats, floor division for integers."""
    return total / n if total.dtype.kind in "fc" else total // n


def reduce_arrays(arrays, op):
    """Elementwise reduction of a list of equally shaped arrays, in list order (so sums are deterministic). On
    bool arrays sum and max are "or", min and prod "and", mean the fraction of True."""
    if op == "mean" and np.asarray(arrays[0]).dtype == np.bool_:
        arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    if op == "sum" or op == "mean":
        out = np.array(arrays[0], copy=True)
        for a in arrays[1:]:
            out = out + a
        return mean_of_sum(out, len(arrays)) if op == "mean" else out
    fn = {"max": np.maximum, "min": np.minimum, "prod": np.multiply}[op]
    out = np.array(arrays[0], copy=True)
    for a in arrays[1:]:
        out = fn(out, a)
    return out


def chunks(x, axis, p, where):
    """``x`` cut into ``p`` equal chunks along ``axis``; a clear error when the length is not divisible."""
    return np.split(np.asarray(x), p, axis=check_divisible(x, axis, p, where))


class Communicator(abc.ABC):
    """One rank's handle on a group of ranks (see the module docstring for the semantics). A backend calls
    ``_init_group(ranks, rank, timeout)`` (or sets ``_ranks`` / ``_rank`` / ``_timeout``) and implements the
    collectives, point to point and ``sub_group``; identity, the argument checks and ``group_along`` are here."""

    backend = "abstract"
    _ranks = ()
    _rank = 0
    _timeout = DEFAULT_TIMEOUT

    def _init_group(self, ranks, rank, timeout=None):
        """Record the group: members' world ranks in group order, this rank's position, the deadline in seconds
        (None: ``DEFAULT_TIMEOUT``)."""
        self._ranks = tuple(int(r) for r in ranks)
        self._rank = int(rank)
        self._timeout = float(timeout) if timeout is not None else DEFAULT_TIMEOUT

    # ----------------------------------------------------------------------------------- identity
    @property
    def rank(self):
        """This rank's position in the group (0 .. size-1)."""
        return self._rank

    @property
    def ranks(self):
        """The members' world ranks, in group order."""
        return self._ranks

    @property
    def size(self):
        return len(self.ranks)

    @property
    def world_rank(self):
        return self.ranks[self.rank]

    @property
    def timeout(self):
        """Seconds a call waits before raising CommunicationError."""
        return self._timeout

    # ------------------------------------------------------------------------------ argument checks
    def _check_peer(self, what, role, r):
        """``r`` as a group rank for ``what``'s ``role`` (root, dest, source); a clear error when out of range."""
        if not 0 <= r < self.size:
            raise ValueError(f"{what}: {role} {r} is not a rank of a group of {self.size}")
        return r

    def _sub_group_ranks(self, world_ranks, allowed, allowed_text):
        """``world_ranks`` as a tuple of distinct members of ``allowed`` that includes this rank, or a clear
        error (``allowed_text`` names the allowed set in the message)."""
        g = tuple(int(r) for r in world_ranks)
        if len(set(g)) != len(g) or any(r not in allowed for r in g):
            raise ValueError(f"sub_group: {list(world_ranks)} must list distinct {allowed_text}")
        if self.world_rank not in g:
            raise ValueError(f"sub_group: rank {self.world_rank} calls sub_group({list(g)}) but is not a member")
        return g

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
