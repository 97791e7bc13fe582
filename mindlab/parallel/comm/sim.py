"""The ``sim`` backend: N virtual devices in one process.

``SimWorld(n)`` holds n ranks. Its *list API* is what a notebook uses to run and check a plan without threads:
each collective takes the list of every group member's array and returns the list of their results::

    world = SimWorld(4)
    outs = world.all_reduce([x0, x1, x2, x3])            # four arrays, each the sum
    outs = world.all_gather(pieces, axis=1, group=(0, 2))  # a sub-group, by world rank

Its *SPMD API* runs one Python function per rank in threads, each seeing its own ``SimCommunicator`` (the same
``Communicator`` interface as the ``mpi`` backend), so one SPMD program runs unchanged on both::

    def step():
        comm = mindlab.communication.get_comm()          # this thread's rank
        return comm.all_reduce(np.full(3, comm.rank))
    results = world.run(step)                            # one result per rank

A rank whose function raises makes the others fail with ``CommunicationError`` at their next (or current) call;
a rank that never arrives makes them fail after ``timeout`` seconds; ``run`` then re-raises the first failure.
Every collective is logged in ``world.log`` (kind, group, bytes in per device) so a plan's predicted traffic can be
compared with what ran.
"""
import collections
import threading
import time

import numpy as np

from ... import errors as _errors
from .base import (Communicator, CommunicationError, DEFAULT_TIMEOUT, check_axis, check_reduce_op, chunks,
                   reduce_arrays)

__all__ = ["SimWorld", "SimCommunicator", "current_comm"]

_local = threading.local()


def current_comm():
    """The SimCommunicator of the calling thread when it runs inside ``SimWorld.run``, else None."""
    return getattr(_local, "comm", None)


def _describe(kind, params):
    args = ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))
    return f"{kind}({args})"


class _Slot:
    """One collective in flight on one group: who arrived with what, and the results once all have."""
    __slots__ = ("kind", "params", "inputs", "results", "error", "first")

    def __init__(self, kind, params, first):
        self.kind, self.params, self.first = kind, params, first
        self.inputs, self.results, self.error = {}, None, None


class SimWorld:
    """``size`` virtual ranks in this process (world ranks 0 .. size-1)."""

    def __init__(self, size, timeout=DEFAULT_TIMEOUT):
        if not isinstance(size, (int, np.integer)) or size < 1:
            raise ValueError(f"SimWorld: size must be a positive int, got {size!r}")
        self.size = int(size)
        self.timeout = float(timeout)
        self.log = []
        self._cond = threading.Condition()
        self._reset()

    def _reset(self):
        self._seq = {}
        self._slots = {}
        self._mail = collections.defaultdict(collections.deque)
        self._failed = None       # (rank, exception) of the first rank whose function raised
        self._where = {}          # rank -> (what it is doing, since when) for error messages

    @property
    def ranks(self):
        return tuple(range(self.size))

    def __repr__(self):
        return f"SimWorld({self.size})"

    # ------------------------------------------------------------------------------- list API
    def _group(self, group, where):
        if group is None:
            return self.ranks
        g = tuple(int(r) for r in group)
        if not g or len(set(g)) != len(g) or any(not 0 <= r < self.size for r in g):
            raise ValueError(f"SimWorld.{where}: group {group!r} must list distinct ranks of 0..{self.size - 1}")
        return g

    def _arrays(self, xs, group, where, same_shape=True):
        xs = list(xs)
        if len(xs) != len(group):
            raise ValueError(f"SimWorld.{where}: {len(xs)} arrays given for a group of {len(group)} ranks {group}")
        arrs = [np.asarray(x) for x in xs]
        if same_shape:
            for r, a in zip(group, arrs):
                if a.shape != arrs[0].shape or a.dtype != arrs[0].dtype:
                    raise ValueError(f"SimWorld.{where}: rank {r} gives {a.dtype}{list(a.shape)} but rank {group[0]} "
                                     f"gives {arrs[0].dtype}{list(arrs[0].shape)}; every rank must pass the same "
                                     f"shape and dtype")
        return arrs

    def _record(self, kind, group, nbytes):
        self.log.append({"kind": kind, "group": tuple(group), "bytes_in_per_device": int(nbytes)})

    def all_reduce(self, xs, op="sum", group=None):
        """Every member gets the elementwise reduction of all members' arrays."""
        g = self._group(group, "all_reduce")
        check_reduce_op(op, "SimWorld.all_reduce")
        arrs = self._arrays(xs, g, "all_reduce")
        self._record("all_reduce", g, arrs[0].nbytes)
        out = reduce_arrays(arrs, op)
        return [out.copy() for _ in g]

    def all_gather(self, xs, axis=0, group=None):
        """Every member gets all members' arrays concatenated along ``axis`` in group order."""
        g = self._group(group, "all_gather")
        arrs = self._arrays(xs, g, "all_gather")
        axis = check_axis(arrs[0], axis, "SimWorld.all_gather")
        self._record("all_gather", g, arrs[0].nbytes)
        out = np.concatenate(arrs, axis=axis) if arrs[0].ndim else np.stack(arrs)
        return [out.copy() for _ in g]

    def reduce_scatter(self, xs, axis=0, op="sum", group=None):
        """Reduce all members' arrays, then member ``i`` keeps chunk ``i`` along ``axis``."""
        g = self._group(group, "reduce_scatter")
        check_reduce_op(op, "SimWorld.reduce_scatter")
        arrs = self._arrays(xs, g, "reduce_scatter")
        parts = chunks(reduce_arrays(arrs, op), axis, len(g), "SimWorld.reduce_scatter")
        self._record("reduce_scatter", g, arrs[0].nbytes)
        return [np.array(p) for p in parts]

    def all_to_all(self, xs, split_axis=0, concat_axis=0, group=None):
        """Member ``i`` sends chunk ``j`` (along ``split_axis``) to member ``j``; each concatenates what it
        receives along ``concat_axis`` in sender order."""
        g = self._group(group, "all_to_all")
        arrs = self._arrays(xs, g, "all_to_all")
        check_axis(arrs[0], concat_axis, "SimWorld.all_to_all")
        cut = [chunks(a, split_axis, len(g), "SimWorld.all_to_all") for a in arrs]
        self._record("all_to_all", g, arrs[0].nbytes)
        return [np.concatenate([cut[i][j] for i in range(len(g))], axis=concat_axis) for j in range(len(g))]

    def broadcast(self, xs, root=0, group=None):
        """Every member gets the array of member ``root`` (a position in the group); others may be None."""
        g = self._group(group, "broadcast")
        xs = list(xs)
        if len(xs) != len(g):
            raise ValueError(f"SimWorld.broadcast: {len(xs)} arrays given for a group of {len(g)} ranks {g}")
        if not 0 <= root < len(g):
            raise ValueError(f"SimWorld.broadcast: root {root} is not a position in the group {g}")
        src = np.asarray(xs[root])
        self._record("broadcast", g, src.nbytes)
        return [src.copy() for _ in g]

    def barrier(self, group=None):
        self._group(group, "barrier")

    def send(self, x, source, dest, tag=0):
        """Queue ``x`` from world rank ``source`` to ``dest`` (list API; pair with ``recv``)."""
        for r in (source, dest):
            self._group((r,), "send")
        arr = np.array(x, copy=True)
        self._record("send_recv", (source, dest), arr.nbytes)
        with self._cond:
            self._mail[(None, source, dest, tag)].append(arr)
            self._cond.notify_all()

    def recv(self, source, dest, tag=0):
        """The oldest message queued from ``source`` to ``dest`` with ``tag`` (list API)."""
        with self._cond:
            box = self._mail.get((None, source, dest, tag))
            if not box:
                raise CommunicationError(f"SimWorld.recv: no message from rank {source} to rank {dest} with tag "
                                         f"{tag}")
            return box.popleft()

    # --------------------------------------------------------------------------------- SPMD API
    def comm(self, rank):
        """The SPMD communicator of world rank ``rank`` over all ranks (use it from ``run``'s threads)."""
        self._group((rank,), "comm")
        return SimCommunicator(self, self.ranks, int(rank))

    def run(self, fn, *args, **kwargs):
        """Run ``fn(*args, **kwargs)`` once per rank, each in its own thread with its own communicator (reachable
        as ``mindlab.communication.get_comm()`` and ``get_rank()``); returns the results in rank order. If a
        rank raises, the others fail fast and the first failure is re-raised (with a note saying which rank)."""
        with self._cond:
            self._reset()
        results = [None] * self.size
        errors = [None] * self.size

        caller = _errors.user_frame(2)

        def body(r):
            _local.comm = self.comm(r)
            _errors.set_thread_caller(caller)
            try:
                results[r] = fn(*args, **kwargs)
                self._set_where(r, "finished")
            except BaseException as e:        # noqa: BLE001 — any failure must release the other ranks
                errors[r] = e
                with self._cond:
                    if self._failed is None:
                        self._failed = (r, e)
                    self._where[r] = (f"failed with {type(e).__name__}", time.monotonic())
                    self._cond.notify_all()
            finally:
                _local.comm = None

        threads = [threading.Thread(target=body, args=(r,), name=f"sim-rank-{r}", daemon=True)
                   for r in range(self.size)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self._failed is not None:
            r, e = self._failed
            others = [k for k in range(self.size) if k != r and errors[k] is not None]
            note = f"raised on sim rank {r} of {self.size}"
            if others:
                note += f"; ranks {others} then stopped with CommunicationError"
            e.add_note(note)
            raise e
        return results

    # ----------------------------------------------------------------- rendezvous (SPMD internals)
    def _set_where(self, rank, what):
        with self._cond:
            self._where[rank] = (what, time.monotonic())

    def _missing(self, group, slot):
        now = time.monotonic()
        parts = []
        for r in group:
            if r in slot.inputs:
                continue
            what, since = self._where.get(r, ("has not called any collective yet", now))
            parts.append(f"rank {r} ({what}, for {now - since:.1f} s)")
        return "; ".join(parts)

    def _rendezvous(self, group, me, kind, params, x):
        """Contribute ``x`` to collective ``kind`` on ``group``; wait for all members; return ``me``'s result."""
        desc = _describe(kind, params)
        with self._cond:
            seq = self._seq.get((group, me), 0)
            self._seq[(group, me)] = seq + 1
            key = (group, seq)
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = _Slot(kind, params, me)
            elif (slot.kind, slot.params) != (kind, params) and slot.error is None:
                slot.error = CommunicationError(
                    f"SPMD programs diverged on group {list(group)}: collective #{seq} is {desc} on rank {me} but "
                    f"{_describe(slot.kind, slot.params)} on rank {slot.first}")
                self._cond.notify_all()
            self._where[me] = (f"in {desc} #{seq} on group {list(group)}", time.monotonic())
            slot.inputs[me] = x
            if len(slot.inputs) == len(group) and slot.error is None:
                xs = [slot.inputs[r] for r in group]
                try:
                    outs = self._compute(kind, params, xs, group)
                    slot.results = dict(zip(group, outs))
                except Exception as e:        # a bad argument (shape, axis): every member gets the error
                    slot.error = e
                self._cond.notify_all()
            self._wait_for(lambda: slot.results is not None or slot.error is not None, me,
                           f"{desc} on group {list(group)}",
                           lambda: f"rank {me}: {desc} #{seq} on group {list(group)} did not complete within "
                                   f"{self.timeout:g} s; never arrived: {self._missing(group, slot)}")
            if slot.error is not None:
                err = slot.error
                slot.inputs.pop(me, None)
                if not slot.inputs:
                    self._slots.pop(key, None)
                raise type(err)(str(err)) if not isinstance(err, CommunicationError) else CommunicationError(str(err))
            res = slot.results.pop(me)
            if not slot.results:
                del self._slots[key]
            self._where[me] = (f"last finished {desc} #{seq} on group {list(group)}", time.monotonic())
            return res

    def _compute(self, kind, params, xs, group):
        if kind == "all_reduce":
            return self.all_reduce(xs, params["op"], group)
        if kind == "all_gather":
            return self.all_gather(xs, params["axis"], group)
        if kind == "reduce_scatter":
            return self.reduce_scatter(xs, params["axis"], params["op"], group)
        if kind == "all_to_all":
            return self.all_to_all(xs, params["split_axis"], params["concat_axis"], group)
        if kind == "broadcast":
            return self.broadcast(xs, params["root"], group)
        if kind == "barrier":
            return [None] * len(group)
        raise AssertionError(kind)

    def _post(self, group, src, dst, tag, x):
        with self._cond:
            self._mail[(group, src, dst, tag)].append(np.array(x, copy=True))
            self._record("send_recv", (src, dst), np.asarray(x).nbytes)
            self._cond.notify_all()

    def _take(self, group, src, dst, tag):
        desc = f"recv(source={src}, tag={tag})"
        with self._cond:
            self._where[dst] = (f"in {desc}", time.monotonic())

            def timed_out():
                what, since = self._where.get(src, ("has not called any collective yet", time.monotonic()))
                return (f"rank {dst}: {desc} got no message within {self.timeout:g} s; rank {src} is {what} (for "
                        f"{time.monotonic() - since:.1f} s)")
            self._wait_for(lambda: bool(self._mail.get((group, src, dst, tag))), dst, desc, timed_out)
            self._where[dst] = (f"last finished {desc}", time.monotonic())
            return self._mail[(group, src, dst, tag)].popleft()

    def _wait_for(self, done, me, desc, timed_out):
        """Wait on the world's condition (held) until ``done()``; a failed rank, or ``timeout`` seconds passing
        (the message is ``timed_out()``), raises CommunicationError instead — never a hang."""
        deadline = time.monotonic() + self.timeout
        while not done():
            if self._failed is not None:
                r, e = self._failed
                raise CommunicationError(f"rank {me}: {desc} cannot complete: rank {r} failed with "
                                         f"{type(e).__name__}: {e}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise CommunicationError(timed_out())
            self._cond.wait(min(left, 0.25))


class SimCommunicator(Communicator):
    """One virtual rank's SPMD communicator over a group of a SimWorld (made by ``SimWorld.comm``)."""

    backend = "sim"

    def __init__(self, world, group, world_rank):
        if world_rank not in group:
            raise ValueError(f"SimCommunicator: rank {world_rank} is not a member of group {list(group)}")
        self.world = world
        self._me = int(world_rank)
        self._init_group(group, tuple(group).index(self._me))

    @property
    def timeout(self):   # the world's (a SimWorld's timeout may be changed while its communicators exist)
        return self.world.timeout

    def _go(self, kind, x, **params):
        return self.world._rendezvous(self._ranks, self._me, kind, params, x)

    def all_reduce(self, x, op="sum"):
        check_reduce_op(op, "all_reduce")
        return self._go("all_reduce", np.asarray(x), op=op)

    def all_gather(self, x, axis=0):
        return self._go("all_gather", np.asarray(x), axis=int(axis))

    def reduce_scatter(self, x, axis=0, op="sum"):
        check_reduce_op(op, "reduce_scatter")
        return self._go("reduce_scatter", np.asarray(x), axis=int(axis), op=op)

    def all_to_all(self, x, split_axis=0, concat_axis=0):
        return self._go("all_to_all", np.asarray(x), split_axis=int(split_axis), concat_axis=int(concat_axis))

    def broadcast(self, x, root=0):
        self._check_peer("broadcast", "root", root)
        return self._go("broadcast", None if x is None else np.asarray(x), root=int(root))

    def barrier(self):
        self._go("barrier", None)

    def send(self, x, dest, tag=0):
        self._check_peer("send", "dest", dest)
        self.world._post(self._ranks, self._me, self._ranks[dest], tag, x)

    def recv(self, source, tag=0):
        self._check_peer("recv", "source", source)
        return self.world._take(self._ranks, self._ranks[source], self._me, tag)

    def sub_group(self, world_ranks):
        g = self._sub_group_ranks(world_ranks, range(self.world.size), f"ranks of 0..{self.world.size - 1}")
        return SimCommunicator(self.world, g, self._me)
