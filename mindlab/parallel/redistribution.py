"""Redistribution: turn a tensor's layout into another layout of the same tensor on the same mesh with the
cheapest sequence of collectives.

One step changes one mesh axis ``a`` (group size ``p`` = the axis size):

============== ============================================================ =========================
step           effect on the layout                                         communication
============== ============================================================ =========================
all_gather     ``a`` stops splitting dim ``d`` (it was the minor-most axis) all_gather along ``a``
split          ``a`` (unused) starts splitting dim ``d`` (as minor-most)    none: a local slice
all_to_all     ``a`` moves from splitting ``d`` to splitting ``e``          all_to_all along ``a``
all_reduce     partial sums along ``a`` are summed                          all_reduce along ``a``
reduce_scatter partial sums along ``a`` summed, then ``a`` splits dim ``d`` reduce_scatter along ``a``
make_partial   ``a`` (unused) becomes a partial axis: coordinate 0 keeps    none: local zeroing
               the values, the others hold zeros
============== ============================================================ =========================

Only the minor-most axis of a dimension can be gathered or moved (gathering a major axis would leave the pieces
out of order), and only at the minor end can one be added. ``redistribute`` runs Dijkstra's algorithm over the
layouts reachable by these steps, weighting each step by the alpha-beta cost model of ``collectives`` for the
device profile (ties go to fewer steps), so e.g. moving a split between dimensions is one all_to_all rather than an
all_gather and a split, and partial sums that end up split are reduce-scattered rather than all-reduced.

A ``Redistribution`` is a list of ``RedistStep``s, each with its modelled time and bytes per device; it runs on the
sim backend's list API (``run_sim``) or SPMD on any communicator (``run``).
"""
import functools
import heapq
import itertools
import math
from dataclasses import dataclass

import numpy as np

from .collectives import CollectiveCost, collective_cost, get_profile
from .layout import TensorLayout

__all__ = ["RedistStep", "Redistribution", "redistribute", "STEP_KINDS"]

STEP_KINDS = ("all_gather", "split", "all_to_all", "all_reduce", "reduce_scatter", "make_partial")


@dataclass(frozen=True)
class RedistStep:
    """One step of a redistribution along mesh axis ``axis`` (index from the left; ``axis_name`` its name).

    ``dim``: the tensor dimension gathered (all_gather, all_to_all: the one ``axis`` leaves), split (split,
    reduce_scatter), or None; ``to_dim``: for all_to_all, the dimension ``axis`` then splits. ``src`` / ``dst``: the
    layouts before and after; ``cost``: the modelled CollectiveCost."""
    kind: str
    axis: int
    axis_name: str
    dim: int
    to_dim: int
    group_size: int
    src: TensorLayout
    dst: TensorLayout
    cost: CollectiveCost

    @property
    def time(self):
        return self.cost.time

    @property
    def bytes_per_device(self):
        return self.cost.bytes_per_device

    @property
    def is_communication(self):
        return self.kind not in ("split", "make_partial")

    def describe(self):
        where = {"all_gather": f"dim {self.dim}", "split": f"dim {self.dim}", "reduce_scatter": f"dim {self.dim}",
                 "all_to_all": f"dim {self.dim} -> dim {self.to_dim}"}.get(self.kind, "")
        return f"{self.kind}({self.axis_name}{', ' + where if where else ''})"

    def __repr__(self):
        return (f"<{self.describe()}: {self.src._describe()} -> {self.dst._describe()}, "
                f"{self.bytes_per_device:.0f} B/device, {self.time * 1e6:.1f} us>")

    def to_json(self):
        return {"kind": self.kind, "mesh_axes": [self.axis_name], "dim": self.dim, "to_dim": self.to_dim,
                "group_size": self.group_size, "bytes_per_device": self.bytes_per_device, "time": self.time,
                "algorithm": self.cost.algorithm, "from_layout": self.src.to_json(), "to_layout": self.dst.to_json()}

    # ------------------------------------------------------------------------------ execution
    def run(self, local, comm):
        """SPMD: this rank's piece after the step, given its piece before (``comm``'s world ranks are the mesh's
        device ids; every rank of the mesh calls it)."""
        mesh = self.src.mesh
        k = mesh.coord(comm.world_rank)[self.axis]
        p = self.group_size
        if self.kind == "split":
            return np.array(np.split(np.asarray(local), p, axis=self.dim)[k])
        if self.kind == "make_partial":
            return np.array(local) if k == 0 else np.zeros_like(local)
        sub = comm.group_along(mesh, self.axis)
        if self.kind == "all_gather":
            return sub.all_gather(local, axis=self.dim)
        if self.kind == "all_to_all":
            return sub.all_to_all(local, split_axis=self.to_dim, concat_axis=self.dim)
        if self.kind == "all_reduce":
            return sub.all_reduce(local)
        if self.kind == "reduce_scatter":
            return sub.reduce_scatter(local, axis=self.dim)
        raise AssertionError(self.kind)

    def run_sim(self, pieces, world):
        """List API: every device's piece after the step (``pieces``: dict device id -> array)."""
        mesh = self.src.mesh
        out = {}
        for group in mesh.groups(self.axis):
            xs = [pieces[d] for d in group]
            if self.kind == "split":
                ys = [np.array(np.split(np.asarray(x), self.group_size, axis=self.dim)[k]) for k, x in enumerate(xs)]
            elif self.kind == "make_partial":
                ys = [np.array(x) if k == 0 else np.zeros_like(x) for k, x in enumerate(xs)]
            elif self.kind == "all_gather":
                ys = world.all_gather(xs, axis=self.dim, group=group)
            elif self.kind == "all_to_all":
                ys = world.all_to_all(xs, split_axis=self.to_dim, concat_axis=self.dim, group=group)
            elif self.kind == "all_reduce":
                ys = world.all_reduce(xs, group=group)
            elif self.kind == "reduce_scatter":
                ys = world.reduce_scatter(xs, axis=self.dim, group=group)
            else:
                raise AssertionError(self.kind)
            out.update(zip(group, ys))
        return out


class Redistribution:
    """The cheapest found sequence of steps from layout ``src`` to layout ``dst`` (see ``redistribute``)."""

    def __init__(self, src, dst, steps, itemsize, profile):
        self.src, self.dst, self.steps = src, dst, tuple(steps)
        self.itemsize, self.profile = itemsize, profile

    @property
    def time(self):
        """Modelled seconds, all steps."""
        return sum(s.time for s in self.steps)

    @property
    def communication_time(self):
        return sum(s.time for s in self.steps if s.is_communication)

    @property
    def bytes_per_device(self):
        """Bytes each device sends, all steps."""
        return sum(s.bytes_per_device for s in self.steps)

    @property
    def collectives(self):
        """The steps that communicate."""
        return tuple(s for s in self.steps if s.is_communication)

    @property
    def kinds(self):
        return tuple(s.kind for s in self.steps)

    def __len__(self):
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __repr__(self):
        steps = ", ".join(s.describe() for s in self.steps) or "nothing to do"
        return (f"Redistribution({self.src._describe()} -> {self.dst._describe()}: {steps}; "
                f"{self.bytes_per_device:.0f} B/device, {self.time * 1e6:.1f} us)")

    def to_json(self):
        return [s.to_json() for s in self.steps]

    def run_sim(self, pieces, world=None):
        """Run on the sim backend's list API: ``pieces`` in ``mesh.devices`` order (or a dict device -> array) in
        the ``src`` layout; returns the pieces in the ``dst`` layout in the same order. ``world``: a SimWorld whose
        ranks include the mesh's device ids (its ``log`` then shows the collectives); made when omitted."""
        mesh = self.src.mesh
        devs = mesh.devices
        if not isinstance(pieces, dict):
            pieces = list(pieces)
            if len(pieces) != len(devs):
                raise ValueError(f"Redistribution.run_sim: {len(pieces)} pieces for the {len(devs)} devices of "
                                 f"{mesh!r}")
            pieces = dict(zip(devs, pieces))
        for d in devs:
            if tuple(np.shape(pieces[d])) != self.src.slice_shape:
                raise ValueError(f"Redistribution.run_sim: device {d} holds shape {tuple(np.shape(pieces[d]))} but "
                                 f"the source layout {self.src!r} gives {self.src.slice_shape}")
        if world is None:
            from .comm.sim import SimWorld
            world = SimWorld(max(devs) + 1)
        elif max(devs) >= world.size:
            raise ValueError(f"Redistribution.run_sim: {world!r} has no rank {max(devs)} (a device of {mesh!r})")
        cur = {d: np.asarray(pieces[d]) for d in devs}
        for step in self.steps:
            cur = step.run_sim(cur, world)
        return [cur[d] for d in devs]

    def run(self, local, comm):
        """SPMD on any communicator: this rank's piece in the ``dst`` layout from its piece in the ``src`` one."""
        if tuple(np.shape(local)) != self.src.slice_shape:
            raise ValueError(f"Redistribution.run: rank {comm.world_rank} holds shape {tuple(np.shape(local))} but "
                             f"the source layout {self.src!r} gives {self.src.slice_shape}")
        for step in self.steps:
            local = step.run(local, comm)
        return local


# ---------------------------------------------------------------------------------------- search
def _divisible(shape, sizes, axes, d):
    return shape[d] % math.prod(sizes[a] for a in axes) == 0


def _moves(state, shape, sizes):
    """(kind, axis, dim, to_dim, next state) for every step possible from ``state``."""
    dims, partial = state
    nd = len(dims)
    used = {a for axes in dims for a in axes} | set(partial)
    free = [a for a in range(len(sizes)) if a not in used]

    def with_dim(dims_, d, axes):
        return dims_[:d] + (axes,) + dims_[d + 1:]

    for d, axes in enumerate(dims):
        if not axes:
            continue
        a = axes[-1]
        gathered = with_dim(dims, d, axes[:-1])
        yield "all_gather", a, d, None, (gathered, partial)
        for e in range(nd):
            if e != d and _divisible(shape, sizes, dims[e] + (a,), e):
                yield "all_to_all", a, d, e, (with_dim(gathered, e, dims[e] + (a,)), partial)
    for a in free:
        for d in range(nd):
            if _divisible(shape, sizes, dims[d] + (a,), d):
                yield "split", a, d, None, (with_dim(dims, d, dims[d] + (a,)), partial)
        yield "make_partial", a, None, None, (dims, tuple(sorted(partial + (a,))))
    for a in partial:
        rest = tuple(x for x in partial if x != a)
        yield "all_reduce", a, None, None, (dims, rest)
        for d in range(nd):
            if _divisible(shape, sizes, dims[d] + (a,), d):
                yield "reduce_scatter", a, d, None, (with_dim(dims, d, dims[d] + (a,)), rest)


def _local_bytes(shape, sizes, dims, itemsize):
    return math.prod(shape) // math.prod(sizes[a] for axes in dims for a in axes) * itemsize


_cached_cost = functools.lru_cache(maxsize=1 << 16)(collective_cost)   # the search asks the same costs often


def _step_cost(kind, a, state, nxt, shape, mesh, itemsize, profile):
    sizes = mesh.shape
    nbytes = _local_bytes(shape, sizes, (nxt if kind == "split" else state)[0], itemsize)
    return _cached_cost(kind, nbytes, sizes[a], profile, mesh.axis_names[a])


@functools.lru_cache(maxsize=4096)
def _search(src, dst, itemsize, profile):
    mesh, shape = src.mesh, src.shape
    start = (src.dim_axes, src.partial_axes)
    goal = (dst.dim_axes, dst.partial_axes)
    counter = itertools.count()
    heap = [(0.0, 0, next(counter), start)]
    best = {start: (0.0, 0)}
    back = {}
    while heap:
        t, n, _, state = heapq.heappop(heap)
        if state == goal:
            break
        if best.get(state, (math.inf, 0)) < (t, n):
            continue
        for kind, a, d, e, nxt in _moves(state, shape, mesh.shape):
            cost = _step_cost(kind, a, state, nxt, shape, mesh, itemsize, profile)
            key = (t + cost.time, n + 1)
            if key < best.get(nxt, (math.inf, 0)):
                best[nxt] = key
                back[nxt] = (state, kind, a, d, e, cost)
                heapq.heappush(heap, (key[0], key[1], next(counter), nxt))
    if goal not in best:       # cannot happen for valid layouts: gather everything, then split
        raise AssertionError(f"no redistribution from {src!r} to {dst!r}")
    chain = []
    state = goal
    while state != start:
        prev, kind, a, d, e, cost = back[state]
        chain.append((prev, kind, a, d, e, cost, state))
        state = prev
    steps = []
    for prev, kind, a, d, e, cost, nxt in reversed(chain):
        lay_src = TensorLayout._make(mesh, shape, prev[0], prev[1])
        lay_dst = TensorLayout._make(mesh, shape, nxt[0], nxt[1])
        steps.append(RedistStep(kind, a, mesh.axis_names[a], d, e, mesh.shape[a], lay_src, lay_dst, cost))
    return tuple(steps)


def redistribute(src, dst, itemsize=4, profile=None):
    """The cheapest sequence of steps turning layout ``src`` into ``dst`` (same mesh, same tensor shape), costed
    for ``itemsize``-byte elements on device ``profile`` (a name, a DeviceProfile, or None for ``"cpu"``)."""
    if not isinstance(src, TensorLayout) or not isinstance(dst, TensorLayout):
        raise TypeError(f"redistribute: src and dst must be TensorLayouts, got {type(src).__name__} and "
                        f"{type(dst).__name__}")
    if src.mesh != dst.mesh:
        raise ValueError(f"redistribute: layouts are on different meshes: {src.mesh!r} and {dst.mesh!r}")
    if src.shape != dst.shape:
        raise ValueError(f"redistribute: layouts are for different shapes: {src.shape} and {dst.shape}")
    if not isinstance(itemsize, (int, np.integer)) or itemsize < 1:
        raise ValueError(f"redistribute: itemsize must be a positive int (bytes per element), got {itemsize!r}")
    prof = get_profile(profile)
    return Redistribution(src, dst, _search(src, dst, int(itemsize), prof), int(itemsize), prof)
