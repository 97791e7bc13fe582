"""The auto-parallel cost model: seconds of compute and communication, bytes of memory per device.

* **compute** of an op under an OpSharding: the primitive's registry ``cost`` rule (flops, bytes moved) applied to
  the slices one device holds (with the sharding's local attributes), turned into seconds by the roofline of the
  device profile (``collectives.compute_time``). Replicated work is not cheaper: a device computes its whole slice.
* **communication**: the collectives the split implies right after the kernel (``OpSharding.post``: an AllReduce
  with ``mean``/``max``/... over the split reduced axes), and the *redistribution* of every tensor from the layout
  its producer leaves it in to the layout its consumer needs (``redistribution.redistribute``: all_gather,
  all_to_all, all_reduce / reduce_scatter of partial sums, local splits), each priced by the alpha-beta model of
  ``collectives`` for the profile's links and topology.
* **memory**: the bytes of every tensor's per-device slice (parameters, optimizer state, inputs and every
  intermediate value, partial sums included) — an upper bound of the peak, linear in the choices, so the ILP can
  bound it exactly. An effect op's outputs alias the state it updates and add nothing.

Everything is per device and in seconds / bytes; ``CostModel`` caches redistributions per (source layout,
destination layout, itemsize).
"""
from dataclasses import dataclass

from .collectives import collective_cost, compute_time, get_profile
from .redistribution import redistribute

__all__ = ["CostModel", "ChoiceCost"]


@dataclass(frozen=True)
class ChoiceCost:
    """Cost of one choice of one op (or source): compute seconds, communication seconds right after it, memory."""
    compute: float
    communication: float
    memory: float

    @property
    def total(self):
        return self.compute + self.communication


class CostModel:
    """Costs on ``mesh`` for device ``profile`` (a name, a DeviceProfile, or None for the CPU profile)."""

    def __init__(self, mesh, profile=None):
        self.mesh = mesh
        self.profile = get_profile(profile)
        self._redist = {}

    # ------------------------------------------------------------------------------------------ ops
    def compute(self, sh):
        """Seconds one device spends in the kernel of OpSharding ``sh`` (roofline of its local flops and bytes)."""
        if self.profile.name.startswith("ascend"):   # simulated Da Vinci cycles (kernels/ascend/costs.py)
            from ..kernels.ascend.costs import op_time
            t = op_time(sh.prim, sh.local_in_avals, sh.local_attrs)
            if t is not None:
                return t
        c = sh.prim.cost(*sh.local_in_avals, **sh.local_attrs)
        return compute_time(c.flops, c.bytes, self.profile)

    def post_collectives(self, sh):
        """``[(output index, reduce op, mesh axes, CollectiveCost)]`` for the AllReduces right after the kernel."""
        out = []
        for k, op, axes in sh.post:
            nbytes = sh.local_out_avals[k].nbytes
            group = 1
            for a in axes:
                group *= self.mesh.shape[a]
            axis = self.mesh.axis_names[axes[0]] if len(axes) == 1 else None
            out.append((k, op, axes, collective_cost("all_reduce", nbytes, group, self.profile, axis=axis)))
        return out

    def op_cost(self, sh):
        """ChoiceCost of an op under OpSharding ``sh``."""
        comm = sum(c.time for *_, c in self.post_collectives(sh))
        memory = 0.0 if sh.prim.effect else float(sum(a.nbytes for a in sh.local_out_avals))
        return ChoiceCost(self.compute(sh), comm, memory)

    # -------------------------------------------------------------------------------- redistribution
    def redistribution(self, src, dst, itemsize):
        """The cheapest Redistribution from layout ``src`` to ``dst`` (cached)."""
        key = (src, dst, itemsize)
        r = self._redist.get(key)
        if r is None:
            r = self._redist[key] = redistribute(src, dst, itemsize, self.profile)
        return r

    def redistribution_time(self, src, dst, itemsize):
        if src == dst:
            return 0.0
        return self.redistribution(src, dst, itemsize).time

    @staticmethod
    def memory(layout, itemsize):
        return float(layout.bytes_per_device(itemsize))
