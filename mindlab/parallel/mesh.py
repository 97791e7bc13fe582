"""The device mesh: N devices arranged as an n-dimensional grid with named axes.

A mesh of shape ``(2, 4)`` with axis names ``("dp", "mp")`` holds 8 devices; device ids (the global ranks) fill the
grid in row-major order unless given. A *sub-group along an axis* is the set of devices that differ only in their
coordinate on that axis: on the mesh above, the ``"mp"`` groups are ``(0, 1, 2, 3)`` and ``(4, 5, 6, 7)``, the
``"dp"`` groups ``(0, 4)``, ``(1, 5)``, ``(2, 6)``, ``(3, 7)``. Collectives that a layout change needs run inside
those groups.

MindSpore calls the mesh shape the *device matrix*; its tensor maps count mesh axes from the right (the last mesh
axis is 0). ``DeviceMesh.map_index`` converts between that numbering and this module's axis index (from the left).
"""
import itertools
import math

import numpy as np

__all__ = ["DeviceMesh"]


class DeviceMesh:
    """An n-dimensional grid of devices.

    ``DeviceMesh((2, 4), ("dp", "mp"))``; ``device_ids`` (a flat sequence in row-major order, or an array of the
    mesh's shape) default to ``0 .. size-1``. Axis names default to ``"x0", "x1", ...``.
    """

    def __init__(self, shape, axis_names=None, device_ids=None):
        if isinstance(shape, (int, np.integer)):
            shape = (int(shape),)
        try:
            shape = tuple(int(s) for s in shape)
        except TypeError:
            raise ValueError(f"DeviceMesh: shape must be a tuple of positive ints, got {shape!r}") from None
        if not shape or any(s < 1 for s in shape):
            raise ValueError(f"DeviceMesh: shape must be a non-empty tuple of positive ints, got {shape!r}")
        if axis_names is None:
            axis_names = tuple(f"x{i}" for i in range(len(shape)))
        elif isinstance(axis_names, str):
            axis_names = (axis_names,)
        axis_names = tuple(axis_names)
        if len(axis_names) != len(shape):
            raise ValueError(f"DeviceMesh: {len(axis_names)} axis names {axis_names!r} for a mesh of shape {shape} "
                             f"({len(shape)} axes)")
        if any(not isinstance(n, str) or not n or n == "None" for n in axis_names):
            raise ValueError(f"DeviceMesh: axis names must be non-empty strings other than 'None', got {axis_names!r}")
        if len(set(axis_names)) != len(axis_names):
            raise ValueError(f"DeviceMesh: axis names must be distinct, got {axis_names!r}")
        size = math.prod(shape)
        if device_ids is None:
            ids = np.arange(size, dtype=np.int64)
        else:
            ids = np.asarray(device_ids, dtype=np.int64).reshape(-1)
            if ids.size != size:
                raise ValueError(f"DeviceMesh: {ids.size} device ids for a mesh of shape {shape} ({size} devices)")
            if len(set(ids.tolist())) != size or (ids < 0).any():
                raise ValueError(f"DeviceMesh: device ids must be distinct non-negative ints, got {ids.tolist()}")
        self._shape = shape
        self._names = axis_names
        self._ids = ids.reshape(shape)
        self._ids.setflags(write=False)
        self._coords = {int(d): tuple(int(c) for c in idx) for idx, d in np.ndenumerate(self._ids)}
        self._groups = {}
        self._devices = tuple(int(d) for d in ids)          # meshes key the planner's caches: hash them once
        self._hash = hash((shape, axis_names, self._devices))

    # ------------------------------------------------------------------------------------------ basics
    @property
    def shape(self):
        """The mesh shape (MindSpore's device matrix)."""
        return self._shape

    device_matrix = shape

    @property
    def axis_names(self):
        return self._names

    @property
    def ndim(self):
        return len(self._shape)

    @property
    def size(self):
        """Number of devices."""
        return self._ids.size

    @property
    def device_ids(self):
        """The device ids as a read-only array of the mesh's shape."""
        return self._ids

    @property
    def devices(self):
        """Device ids in row-major order (a tuple)."""
        return self._devices

    def axis_index(self, axis):
        """Index (from the left) of a mesh axis given by name or index (negative counts from the right)."""
        if isinstance(axis, str):
            try:
                return self._names.index(axis)
            except ValueError:
                raise ValueError(f"DeviceMesh: no axis named {axis!r}; axes are {self._names}") from None
        if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            a = int(axis)
            if -self.ndim <= a < self.ndim:
                return a % self.ndim
        raise ValueError(f"DeviceMesh: axis {axis!r} out of range for a mesh with axes {self._names} "
                         f"(shape {self._shape})")

    def axis_name(self, axis):
        return self._names[self.axis_index(axis)]

    def axis_size(self, axis):
        return self._shape[self.axis_index(axis)]

    def map_index(self, axis):
        """MindSpore's tensor-map number of a mesh axis (counted from the right: the last axis is 0)."""
        return self.ndim - 1 - self.axis_index(axis)

    def axis_from_map(self, m):
        """The mesh axis index (from the left) for MindSpore's tensor-map number ``m``."""
        if not isinstance(m, (int, np.integer)) or isinstance(m, bool) or not 0 <= m < self.ndim:
            raise ValueError(f"tensor map value {m!r} does not name an axis of a {self.ndim}-axis mesh "
                             f"(valid: -1 for unsplit, 0..{self.ndim - 1} counted from the right)")
        return self.ndim - 1 - int(m)

    # ---------------------------------------------------------------------------------- coordinates
    def __contains__(self, device):
        return int(device) in self._coords

    def coord(self, device):
        """The coordinates (a tuple, one per axis) of a device id."""
        try:
            return self._coords[int(device)]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"DeviceMesh: device {device!r} is not in the mesh (devices {self.devices})") from None

    def device(self, coord):
        """The device id at the given coordinates."""
        coord = tuple(coord)
        if len(coord) != self.ndim or any(not 0 <= c < s for c, s in zip(coord, self._shape)):
            raise ValueError(f"DeviceMesh: coordinate {coord} is outside the mesh of shape {self._shape}")
        return int(self._ids[coord])

    def position(self, device):
        """Row-major position (0 .. size-1) of a device in the mesh."""
        return int(np.ravel_multi_index(self.coord(device), self._shape))

    # ----------------------------------------------------------------------------------- sub-groups
    def _axes(self, axes):
        if isinstance(axes, (str, int, np.integer)):
            axes = (axes,)
        out = tuple(self.axis_index(a) for a in axes)
        if len(set(out)) != len(out):
            raise ValueError(f"DeviceMesh: axes {axes!r} repeat an axis")
        return out

    def groups(self, axes):
        """All sub-groups that vary along ``axes`` (a name/index or a sequence of them) with the other coordinates
        fixed. Each group is a tuple of device ids ordered by the coordinates along ``axes`` (row-major in the
        given axis order); groups are ordered by the fixed coordinates."""
        axes = self._axes(axes)
        if axes not in self._groups:
            rest = [a for a in range(self.ndim) if a not in axes]
            width = math.prod(self._shape[a] for a in axes)
            moved = np.transpose(self._ids, rest + list(axes)).reshape(-1, width)
            groups = tuple(tuple(int(d) for d in row) for row in moved)
            self._groups[axes] = (groups, {d: g for g in groups for d in g})
        return self._groups[axes][0]

    def group_of(self, device, axes):
        """The sub-group along ``axes`` that contains ``device`` (a tuple of device ids)."""
        self.groups(axes)
        self.coord(device)     # a clear error for a device outside the mesh
        return self._groups[self._axes(axes)][1][int(device)]

    def index_in_group(self, device, axes):
        """Position of ``device`` inside its sub-group along ``axes``."""
        return self.group_of(device, axes).index(int(device))

    def submesh_coords(self, axes):
        """Iterate over all coordinate tuples of the given axes (row-major)."""
        axes = self._axes(axes)
        return itertools.product(*(range(self._shape[a]) for a in axes))

    # ----------------------------------------------------------------------------- equality / json
    def __eq__(self, other):
        return self is other or (isinstance(other, DeviceMesh) and self._hash == other._hash
                                 and self._shape == other._shape and self._names == other._names
                                 and self._devices == other._devices)

    def __hash__(self):
        return self._hash

    def __repr__(self):
        dims = ", ".join(f"{n}={s}" for n, s in zip(self._names, self._shape))
        default = np.array_equal(self._ids.reshape(-1), np.arange(self.size))
        return f"DeviceMesh({dims})" if default else f"DeviceMesh({dims}, devices={self.devices})"

    def to_json(self):
        return {"shape": list(self._shape), "axis_names": list(self._names), "device_ids": list(self.devices)}

    @classmethod
    def from_json(cls, obj):
        return cls(obj["shape"], obj["axis_names"], obj.get("device_ids"))
