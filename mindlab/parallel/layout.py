"""TensorLayout: how one tensor is spread over a device mesh — MindSpore's device matrix + tensor map.

The *device matrix* is the mesh shape. The *tensor map* has one entry per tensor dimension: ``-1`` when the
dimension is not split, else the mesh axis that splits it, **counted from the right** (on a ``(dp=2, mp=4)`` mesh,
``mp`` is 0 and ``dp`` is 1), or a tuple of such numbers (major first) when several mesh axes split one dimension.
So the tensor map ``(1, -1)`` of an ``(8, 6)`` tensor on that mesh gives every device a ``(4, 6)`` slice: rows split
over ``dp``, replicated over ``mp``.

A layout may also be *partial* along some mesh axes: each device along such an axis holds a partial sum, and the
tensor is the sum over the axis (what a MatMul whose contracted dimension is split produces, before its
AllReduce). Mesh axes that neither split a dimension nor hold partial sums *replicate* the slice.

Internally a layout keeps ``dim_axes``: per tensor dimension, the tuple of mesh axis indices **from the left**
(major first) that split it. Everything public that takes or gives numbers in tensor-map form says so.
"""
import math

import numpy as np

from .mesh import DeviceMesh

__all__ = ["TensorLayout", "LayoutError"]


class LayoutError(ValueError):
    """A layout that cannot exist: a dimension not divisible by its split, a mesh axis used twice, ..."""


def _fmt_shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


class TensorLayout:
    """The layout of a tensor of ``shape`` on ``mesh`` given by a MindSpore ``tensor_map``.

    ``partial`` lists the mesh axes (by name, or by tensor-map number) along which devices hold partial sums.
    Raises ``LayoutError`` (a ValueError) naming the dimension when a dimension is not divisible by its split.
    """

    __slots__ = ("_mesh", "_shape", "_dim_axes", "_partial")

    def __init__(self, mesh, tensor_map, shape, partial=()):
        if not isinstance(mesh, DeviceMesh):
            raise TypeError(f"TensorLayout: mesh must be a DeviceMesh, got {type(mesh).__name__}")
        shape = tuple(int(s) for s in shape)
        if isinstance(tensor_map, (int, np.integer)):
            tensor_map = (tensor_map,)
        tensor_map = tuple(tensor_map)
        if len(tensor_map) != len(shape):
            raise LayoutError(f"TensorLayout: tensor map {tensor_map} has {len(tensor_map)} entries but the tensor "
                              f"has shape {_fmt_shape(shape)} ({len(shape)} dims)")
        dim_axes = []
        for d, m in enumerate(tensor_map):
            ms = m if isinstance(m, (tuple, list)) else (m,)
            if any(x == -1 for x in ms) and len(ms) > 1 or len(ms) == 0:
                raise LayoutError(f"TensorLayout: tensor map entry {m!r} of dim {d} is not -1, an axis number or a "
                                  f"tuple of axis numbers")
            if ms == (-1,):
                dim_axes.append(())
                continue
            try:
                dim_axes.append(tuple(mesh.axis_from_map(x) for x in ms))
            except ValueError as e:
                raise LayoutError(f"TensorLayout: dim {d}: {e}") from None
        partial_axes = []
        for p in (partial if isinstance(partial, (tuple, list, set, frozenset)) else (partial,)):
            try:
                partial_axes.append(mesh.axis_index(p) if isinstance(p, str) else mesh.axis_from_map(p))
            except ValueError as e:
                raise LayoutError(f"TensorLayout: partial axis: {e}") from None
        self._init(mesh, shape, tuple(dim_axes), tuple(sorted(partial_axes)))

    def _init(self, mesh, shape, dim_axes, partial):
        self._mesh, self._shape, self._dim_axes, self._partial = mesh, shape, dim_axes, partial
        used = [a for axes in dim_axes for a in axes] + list(partial)
        seen = set()
        for a in used:
            if a in seen:
                raise LayoutError(f"TensorLayout: mesh axis {mesh.axis_names[a]!r} is used more than once in "
                                  f"{self._describe()}")
            seen.add(a)
        for d, (n, axes) in enumerate(zip(shape, dim_axes)):
            split = math.prod(mesh.shape[a] for a in axes)
            if n % split:
                names = " x ".join(f"{mesh.axis_names[a]!r} ({mesh.shape[a]})" for a in axes)
                raise LayoutError(f"TensorLayout: dim {d} of shape {_fmt_shape(shape)} is split {split} ways "
                                  f"(mesh axis {names}) but {n} is not divisible by {split}")

    @classmethod
    def _make(cls, mesh, shape, dim_axes, partial=()):
        self = object.__new__(cls)
        self._init(mesh, tuple(int(s) for s in shape), tuple(tuple(a) for a in dim_axes), tuple(sorted(partial)))
        return self

    # ----------------------------------------------------------------------------- constructors
    @classmethod
    def replicated(cls, mesh, shape):
        """Every device holds the whole tensor."""
        return cls._make(mesh, shape, [()] * len(tuple(shape)))

    @classmethod
    def from_axes(cls, mesh, shape, dims, partial=()):
        """From mesh axis names per dimension (MindSpore's ``Layout(...)("dp", "None")`` form): each entry is
        ``None``/``"None"`` (unsplit), an axis name, or a tuple of names (major first)."""
        shape = tuple(shape)
        dims = tuple(dims)
        if len(dims) != len(shape):
            raise LayoutError(f"TensorLayout.from_axes: {len(dims)} entries {dims!r} for a tensor of shape "
                              f"{_fmt_shape(shape)}")
        dim_axes = []
        for d in dims:
            names = () if d is None or d == "None" else (d,) if isinstance(d, (str, int)) else tuple(d)
            try:
                dim_axes.append(tuple(mesh.axis_index(n) for n in names if n is not None and n != "None"))
            except ValueError as e:
                raise LayoutError(f"TensorLayout.from_axes: {e}") from None
        try:
            part = [mesh.axis_index(p) for p in ((partial,) if isinstance(partial, str) else partial)]
        except ValueError as e:
            raise LayoutError(f"TensorLayout.from_axes: partial: {e}") from None
        return cls._make(mesh, shape, dim_axes, part)

    @classmethod
    def from_strategy(cls, strategy, mesh, shape):
        """From a MindSpore shard strategy for one tensor (``(2, 1)``: split dim 0 in two). Each split > 1 is placed
        on a free mesh axis of that size, or on consecutive free axes whose sizes multiply to it, preferring the
        leftmost; mesh axes left over replicate the tensor. Raises ``LayoutError`` when the strategy does not fit
        the mesh or a dimension is not divisible by its split."""
        strategy = tuple(strategy)
        shape = tuple(int(s) for s in shape)
        if len(strategy) != len(shape):
            raise LayoutError(f"TensorLayout.from_strategy: strategy {strategy} has {len(strategy)} entries but the "
                              f"tensor has shape {_fmt_shape(shape)} ({len(shape)} dims)")
        if any(not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 1 for s in strategy):
            raise LayoutError(f"TensorLayout.from_strategy: strategy entries must be positive ints, got {strategy}")
        total = math.prod(strategy)
        if mesh.size % total:
            raise LayoutError(f"TensorLayout.from_strategy: strategy {strategy} splits the tensor into {total} "
                              f"pieces, which does not divide the {mesh.size} devices of {mesh!r}")
        for d, (n, s) in enumerate(zip(shape, strategy)):
            if n % s:
                raise LayoutError(f"TensorLayout.from_strategy: dim {d} of shape {_fmt_shape(shape)} is split {s} "
                                  f"ways by strategy {strategy} but {n} is not divisible by {s}")

        def candidates(s, free):
            single = [(a,) for a in range(mesh.ndim) if a in free and mesh.shape[a] == s]
            runs = []
            for i in range(mesh.ndim):
                for j in range(i + 2, mesh.ndim + 1):
                    run = tuple(range(i, j))
                    if all(a in free for a in run) and math.prod(mesh.shape[a] for a in run) == s:
                        runs.append(run)
            return single + runs

        def place(d, free):
            if d == len(strategy):
                return []
            if strategy[d] == 1:
                rest = place(d + 1, free)
                return None if rest is None else [()] + rest
            for axes in candidates(strategy[d], free):
                rest = place(d + 1, free - set(axes))
                if rest is not None:
                    return [axes] + rest
            return None

        dim_axes = place(0, set(range(mesh.ndim)))
        if dim_axes is None:
            raise LayoutError(f"TensorLayout.from_strategy: strategy {strategy} cannot be placed on {mesh!r}: each "
                              f"split must equal the size of a free mesh axis or of consecutive free mesh axes")
        return cls._make(mesh, shape, dim_axes)

    # ----------------------------------------------------------------------------------- properties
    @property
    def mesh(self):
        return self._mesh

    @property
    def shape(self):
        """The global (full) tensor shape."""
        return self._shape

    @property
    def ndim(self):
        return len(self._shape)

    @property
    def device_matrix(self):
        return self._mesh.shape

    @property
    def dim_axes(self):
        """Per tensor dimension, the mesh axis indices (from the left, major first) that split it."""
        return self._dim_axes

    @property
    def dim_axis_names(self):
        """Per tensor dimension, the names of the mesh axes that split it (``()`` when unsplit)."""
        return tuple(tuple(self._mesh.axis_names[a] for a in axes) for axes in self._dim_axes)

    @property
    def tensor_map(self):
        """MindSpore's tensor map: per dimension -1, a mesh axis number counted from the right, or a tuple."""
        def one(axes):
            if not axes:
                return -1
            nums = tuple(self._mesh.ndim - 1 - a for a in axes)
            return nums[0] if len(nums) == 1 else nums
        return tuple(one(axes) for axes in self._dim_axes)

    @property
    def partial_axes(self):
        """Mesh axis indices (from the left) along which devices hold partial sums."""
        return self._partial

    @property
    def partial_map(self):
        """The partial axes as tensor-map numbers (counted from the right)."""
        return tuple(sorted(self._mesh.ndim - 1 - a for a in self._partial))

    @property
    def is_partial(self):
        return bool(self._partial)

    @property
    def splits(self):
        """Number of pieces per dimension (MindSpore's strategy tuple for this tensor)."""
        return tuple(math.prod(self._mesh.shape[a] for a in axes) for axes in self._dim_axes)

    strategy = splits

    @property
    def slice_shape(self):
        """The shape of the slice each device holds."""
        return tuple(n // s for n, s in zip(self._shape, self.splits))

    @property
    def used_axes(self):
        """Mesh axes that split a dimension."""
        return tuple(sorted(a for axes in self._dim_axes for a in axes))

    @property
    def replicated_axes(self):
        """Mesh axes along which every device holds the same slice (neither splitting nor partial)."""
        busy = set(self.used_axes) | set(self._partial)
        return tuple(a for a in range(self._mesh.ndim) if a not in busy)

    def is_replicated(self, axes=None):
        """Whether the slice is the same on every device along ``axes`` (names or indices; all mesh axes when
        None): no dimension is split along them and no partial sums are held along them."""
        axes = range(self._mesh.ndim) if axes is None else self._mesh._axes(axes)
        rep = set(self.replicated_axes)
        return all(a in rep for a in axes)

    def bytes_per_device(self, itemsize=4):
        return math.prod(self.slice_shape) * int(itemsize)

    # --------------------------------------------------------------------------------- slices
    def block_index(self, device):
        """Per dimension, which of the ``splits[d]`` pieces ``device`` holds."""
        c = self._mesh.coord(device)
        out = []
        for axes in self._dim_axes:
            idx = 0
            for a in axes:
                idx = idx * self._mesh.shape[a] + c[a]
            out.append(idx)
        return tuple(out)

    def slice_ranges(self, device):
        """Per dimension, the ``(start, stop)`` index range of the global tensor that ``device`` holds."""
        return tuple((i * n, (i + 1) * n) for i, n in zip(self.block_index(device), self.slice_shape))

    def slices(self, device):
        """The tuple of ``slice`` objects selecting ``device``'s piece from the full tensor."""
        return tuple(slice(a, b) for a, b in self.slice_ranges(device))

    def local(self, full, device):
        """``device``'s piece of the full array (a copy). A partial layout puts the full values on the device at
        coordinate 0 of every partial axis and zeros elsewhere, so the pieces sum to the tensor."""
        full = np.asarray(full)
        self._check_full(full)
        piece = np.array(full[self.slices(device)])
        if self._partial:
            c = self._mesh.coord(device)
            if any(c[a] != 0 for a in self._partial):
                piece[...] = 0
        return piece

    def shard(self, full):
        """Every device's piece, in the mesh's device order (``mesh.devices``)."""
        return [self.local(full, d) for d in self._mesh.devices]

    def assemble(self, pieces, check=True):
        """The full tensor from every device's piece (a list in ``mesh.devices`` order, or a dict device -> piece):
        sums partial pieces, takes one replica of replicated ones. With ``check``, replicas that disagree raise
        ValueError naming the devices."""
        devs = self._mesh.devices
        if not isinstance(pieces, dict):
            pieces = list(pieces)
            if len(pieces) != len(devs):
                raise ValueError(f"TensorLayout.assemble: {len(pieces)} pieces for {len(devs)} devices")
            pieces = dict(zip(devs, pieces))
        first = np.asarray(pieces[devs[0]])
        for d in devs:
            p = np.asarray(pieces[d])
            if p.shape != self.slice_shape:
                raise ValueError(f"TensorLayout.assemble: device {d} holds shape {_fmt_shape(p.shape)}, the layout "
                                 f"{self!r} gives {_fmt_shape(self.slice_shape)}")
        rep = self.replicated_axes
        out = np.zeros(self._shape, dtype=first.dtype)
        for d in devs:
            c = self._mesh.coord(d)
            if all(c[a] == 0 for a in rep):
                out[self.slices(d)] += np.asarray(pieces[d])
            elif check:
                base = list(c)
                for a in rep:
                    base[a] = 0
                ref = self._mesh.device(base)
                if not np.array_equal(np.asarray(pieces[d]), np.asarray(pieces[ref])):
                    raise ValueError(f"TensorLayout.assemble: device {d} and device {ref} should hold the same "
                                     f"replica of {self!r} but differ")
        return out

    def _check_full(self, full):
        if tuple(full.shape) != self._shape:
            raise ValueError(f"TensorLayout: array of shape {_fmt_shape(full.shape)} given for a layout of shape "
                             f"{_fmt_shape(self._shape)}")

    # ---------------------------------------------------------------------------- comparisons
    def _key(self):
        return (self._mesh, self._shape, self._dim_axes, self._partial)

    def __eq__(self, other):
        return isinstance(other, TensorLayout) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def _describe(self):
        dims = ", ".join("None" if not axes else "/".join(self._mesh.axis_names[a] for a in axes)
                         for axes in self._dim_axes)
        part = f", partial={[self._mesh.axis_names[a] for a in self._partial]}" if self._partial else ""
        return f"[{dims}]{part}"

    def __repr__(self):
        return f"TensorLayout(shape={_fmt_shape(self._shape)}, {self._describe()}, tensor_map={self.tensor_map}, " \
               f"mesh={self._mesh!r})"

    def to_json(self):
        """The layout as plan JSON: device matrix, tensor map (MindSpore numbering), partial axes (same numbering),
        axis names per dimension, slice shape."""
        return {"device_matrix": list(self._mesh.shape),
                "tensor_map": [list(m) if isinstance(m, tuple) else m for m in self.tensor_map],
                "partial": list(self.partial_map),
                "dim_axes": [list(n) for n in self.dim_axis_names],
                "slice_shape": list(self.slice_shape)}

    @classmethod
    def from_json(cls, obj, mesh, shape):
        return cls(mesh, [tuple(m) if isinstance(m, list) else m for m in obj["tensor_map"]], shape,
                   partial=tuple(obj.get("partial", ())))
