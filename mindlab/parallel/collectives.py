"""Alpha-beta cost model of collectives, per topology, with device profiles.

A message of ``n`` bytes over one link costs ``alpha + n * beta`` seconds (``alpha``: latency, ``beta``: 1 /
bandwidth). Each collective has textbook algorithms (Thakur, Rabenseifner & Gropp, "Optimization of collective
communication operations in MPICH", 2005); the topology picks which ones are available:

============== ======================================= ================================================
collective     ring topology                           tree / switch topology
============== ======================================= ================================================
all_reduce     ring: 2(p-1)a + 2(p-1)/p n b            halving-doubling: 2 log p a + 2(p-1)/p n b;
                                                       recursive doubling: log p (a + n b)
all_gather     ring: (p-1)a + (p-1) n b                recursive doubling: log p a + (p-1) n b
reduce_scatter ring: (p-1)a + (p-1)/p n b              recursive halving: log p a + (p-1)/p n b
all_to_all     pairwise: (p-1)a + (p-1)/p n b          pairwise; Bruck: log p a + log p n/2 b
broadcast      scatter + ring all_gather:              binomial tree: log p (a + n b); scatter + all_gather
               (p-1+log p)a + 2(p-1)/p n b
send_recv      a + n b                                 the same
============== ======================================= ================================================

``n`` is the bytes of each device's *input* buffer (for all_gather the local piece, so the output is ``p n``),
``p`` the group size, ``log`` the base-2 logarithm rounded up. ``"switch"`` (full bisection, e.g. NVSwitch) takes
the cheapest algorithm of all. ``bytes_per_device`` is what each device sends under the chosen algorithm.

Device profiles give flops, memory bandwidth, link bandwidth/latency and memory per device; ``calibrate`` measures
them on the machine at hand over a communicator (sim or mpi).
"""
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["DeviceProfile", "CollectiveCost", "PROFILES", "get_profile", "collective_cost", "compute_time",
           "calibrate", "COLLECTIVE_KINDS", "LOCAL_KINDS"]

COLLECTIVE_KINDS = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "broadcast", "send_recv")
LOCAL_KINDS = ("split", "make_partial")          # no communication: a local slice / zeroing
TOPOLOGIES = ("ring", "tree", "switch")


@dataclass(frozen=True)
class DeviceProfile:
    """What the cost model knows about one device and its links.

    ``flops``: sustained FLOP/s; ``memory_bandwidth``: device memory bytes/s; ``bandwidth``: link bytes/s in one
    direction; ``latency``: seconds per message; ``memory``: bytes per device (None: unknown); ``topology``:
    ``"ring"``, ``"tree"`` or ``"switch"``; ``axis_links``: per mesh axis name, ``(bandwidth, latency)`` overriding
    the defaults (e.g. a slower axis across nodes); ``source``: where the numbers come from.
    """
    name: str
    flops: float
    memory_bandwidth: float
    bandwidth: float
    latency: float
    memory: float = None
    topology: str = "ring"
    axis_links: tuple = ()
    source: str = ""

    def __post_init__(self):
        if self.topology not in TOPOLOGIES:
            raise ValueError(f"DeviceProfile: topology must be one of {TOPOLOGIES}, got {self.topology!r}")
        for key in ("flops", "memory_bandwidth", "bandwidth"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
                raise ValueError(f"DeviceProfile: {key} must be a positive number, got {v!r}")
        if not (isinstance(self.latency, (int, float)) and self.latency >= 0):
            raise ValueError(f"DeviceProfile: latency must be a non-negative number, got {self.latency!r}")
        if isinstance(self.axis_links, dict):
            object.__setattr__(self, "axis_links", tuple(sorted((k, tuple(v)) for k, v in self.axis_links.items())))

    def link(self, axis=None):
        """``(alpha, beta)`` of the links along mesh axis ``axis`` (a name; None: the default link)."""
        for name, (bw, lat) in self.axis_links:
            if name == axis:
                return float(lat), 1.0 / float(bw)
        return float(self.latency), 1.0 / float(self.bandwidth)

    def with_(self, **changes):
        """A copy with some fields changed."""
        return replace(self, **changes)

    def to_json(self):
        return {"name": self.name, "flops": self.flops, "memory_bandwidth": self.memory_bandwidth,
                "bandwidth": self.bandwidth, "latency": self.latency, "memory": self.memory,
                "topology": self.topology,
                "axis_links": {k: {"bandwidth": bw, "latency": lat} for k, (bw, lat) in self.axis_links},
                "source": self.source}

    @classmethod
    def from_json(cls, obj):
        links = {k: (v["bandwidth"], v["latency"]) for k, v in obj.get("axis_links", {}).items()}
        return cls(obj["name"], obj["flops"], obj["memory_bandwidth"], obj["bandwidth"], obj["latency"],
                   obj.get("memory"), obj.get("topology", "ring"), links, obj.get("source", ""))


GiB = 1 << 30

# Nominal figures, rounded. The cpu entry was measured with calibrate() over 2 mpich ranks on the 2-core development
# machine (latency 8-20 us, 1.5-2.6 GB/s, 57-95 GFLOP/s float32 matmul, 5-10 GB/s copy across runs), so it describes
# that machine, not CPUs in general; calibrate() gives the numbers of the machine at hand.
PROFILES = {
    "cpu": DeviceProfile("cpu", flops=5.0e10, memory_bandwidth=5.0e9, bandwidth=2.0e9, latency=1.5e-5,
                         memory=None, topology="switch",
                         source="calibrate() over 2 mpich ranks on the 2-core development machine, rounded"),
    "gpu-nvlink": DeviceProfile("gpu-nvlink", flops=19.5e12, memory_bandwidth=1.55e12, bandwidth=300e9,
                                latency=1.0e-5, memory=40 * GiB, topology="switch",
                                source="NVIDIA A100 SXM datasheet (FP32, HBM2, NVLink 3 per direction); "
                                       "NCCL-like latency"),
    "gpu-pcie": DeviceProfile("gpu-pcie", flops=19.5e12, memory_bandwidth=1.55e12, bandwidth=25e9, latency=2.0e-5,
                              memory=40 * GiB, topology="tree",
                              source="A100 PCIe 4.0 x16 (about 25 GB/s achievable per direction)"),
    "ascend910": DeviceProfile("ascend910", flops=256e12, memory_bandwidth=1.2e12, bandwidth=30e9, latency=1.0e-5,
                               memory=32 * GiB, topology="switch",
                               source="Ascend 910 nominal: FP16 cube peak, HBM, HCCS per link"),
}


def get_profile(profile=None):
    """A DeviceProfile from a name in PROFILES, a DeviceProfile (returned as is) or None (``"cpu"``)."""
    if profile is None:
        return PROFILES["cpu"]
    if isinstance(profile, DeviceProfile):
        return profile
    if isinstance(profile, str) and profile in PROFILES:
        return PROFILES[profile]
    raise ValueError(f"unknown device profile {profile!r}; known: {sorted(PROFILES)} or a DeviceProfile")


@dataclass(frozen=True)
class CollectiveCost:
    """The modelled cost of one collective: seconds, bytes each device sends, the algorithm picked."""
    kind: str
    time: float
    bytes_per_device: float
    algorithm: str
    group_size: int
    nbytes: float
    alternatives: tuple = field(default=(), compare=False)   # ((algorithm, time), ...) that were considered

    def to_json(self):
        return {"kind": self.kind, "time": self.time, "bytes_per_device": self.bytes_per_device,
                "algorithm": self.algorithm, "group_size": self.group_size, "nbytes": self.nbytes}


def _log2(p):
    return max(0, math.ceil(math.log2(p)))


def _algorithms(kind, n, p, a, b):
    """{algorithm: (time, bytes sent per device)} for a collective of ``n`` input bytes over ``p`` devices."""
    lg = _log2(p)
    f = (p - 1) / p
    if kind == "all_reduce":
        return {"ring": (2 * (p - 1) * a + 2 * f * n * b, 2 * f * n),
                "halving_doubling": (2 * lg * a + 2 * f * n * b, 2 * f * n),
                "recursive_doubling": (lg * (a + n * b), lg * n)}
    if kind == "all_gather":
        return {"ring": ((p - 1) * a + (p - 1) * n * b, (p - 1) * n),
                "recursive_doubling": (lg * a + (p - 1) * n * b, (p - 1) * n)}
    if kind == "reduce_scatter":
        return {"ring": ((p - 1) * a + f * n * b, f * n),
                "recursive_halving": (lg * a + f * n * b, f * n)}
    if kind == "all_to_all":
        return {"pairwise": ((p - 1) * a + f * n * b, f * n),
                "bruck": (lg * a + lg * n / 2 * b, lg * n / 2)}
    if kind == "broadcast":
        return {"scatter_ring_allgather": ((p - 1 + lg) * a + 2 * f * n * b, 2 * f * n),
                "binomial_tree": (lg * (a + n * b), n),
                "scatter_doubling_allgather": (2 * lg * a + 2 * f * n * b, 2 * f * n)}
    if kind == "send_recv":
        return {"direct": (a + n * b, n)}
    raise ValueError(f"collective_cost: unknown collective {kind!r}; known: {COLLECTIVE_KINDS + LOCAL_KINDS}")


_BY_TOPOLOGY = {
    "ring": {"all_reduce": ("ring",), "all_gather": ("ring",), "reduce_scatter": ("ring",),
             "all_to_all": ("pairwise",), "broadcast": ("scatter_ring_allgather",)},
    "tree": {"all_reduce": ("halving_doubling", "recursive_doubling"), "all_gather": ("recursive_doubling",),
             "reduce_scatter": ("recursive_halving",),
             "broadcast": ("binomial_tree", "scatter_doubling_allgather")},
}


def collective_cost(kind, nbytes, group_size, profile=None, axis=None, topology=None):
    """The modelled cost of collective ``kind`` over ``group_size`` devices with ``nbytes`` of input per device,
    along mesh axis ``axis`` (picks the profile's link for it). Local kinds (``split``, ``make_partial``) cost the
    memory traffic of writing their output: ``nbytes`` / memory bandwidth, with no bytes sent."""
    prof = get_profile(profile)
    p = int(group_size)
    n = float(nbytes)
    if p < 1 or n < 0:
        raise ValueError(f"collective_cost: group_size must be >= 1 and nbytes >= 0, got {group_size}, {nbytes}")
    if kind in LOCAL_KINDS:
        return CollectiveCost(kind, n / prof.memory_bandwidth, 0.0, "local", p, n)
    if p == 1:
        _algorithms(kind, n, 2, 0.0, 0.0)     # still reject unknown kinds
        return CollectiveCost(kind, 0.0, 0.0, "none", p, n)
    topo = topology or prof.topology
    if topo not in TOPOLOGIES:
        raise ValueError(f"collective_cost: topology must be one of {TOPOLOGIES}, got {topo!r}")
    a, b = prof.link(axis)
    algs = _algorithms(kind, n, p, a, b)
    allowed = _BY_TOPOLOGY.get(topo, {}).get(kind) or tuple(algs)
    considered = tuple((name, algs[name][0]) for name in allowed)
    best = min(allowed, key=lambda name: (algs[name][0], algs[name][1]))
    t, sent = algs[best]
    return CollectiveCost(kind, t, sent, best, p, n, considered)


def compute_time(flops, nbytes=0.0, profile=None):
    """Roofline time of a computation: the larger of ``flops`` / FLOP/s and ``nbytes`` / memory bandwidth."""
    prof = get_profile(profile)
    return max(float(flops) / prof.flops, float(nbytes) / prof.memory_bandwidth)


# ------------------------------------------------------------------------------------------ calibration
def _fit(sizes, times):
    """Least-squares ``t = c0 + c1 n`` with non-negative coefficients."""
    A = np.stack([np.ones(len(sizes)), np.asarray(sizes, dtype=np.float64)], axis=1)
    (c0, c1), *_ = np.linalg.lstsq(A, np.asarray(times, dtype=np.float64), rcond=None)
    if c1 <= 0:      # noise swamped the slope: fall back to the largest size's throughput
        c1 = times[-1] / sizes[-1]
    return max(float(c0), 0.0), float(c1)


def _best_time(fn, repeats):
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def calibrate(comm=None, world=None, sizes=None, repeats=5, name=None, topology="switch"):
    """Measure a DeviceProfile on this machine.

    Over an SPMD communicator ``comm`` (every rank must call it; the result is the same on every rank) or a sim
    ``world`` (a SimWorld, list API): times ``all_reduce`` at several sizes, fits ``t = c0 + c1 n`` and inverts the
    ring all_reduce model (``c0 = 2(p-1) alpha``, ``c1 = 2(p-1)/p beta``) into latency and bandwidth; measures
    FLOP/s with a float32 matmul and memory bandwidth with a large copy. Needs a group of at least 2 ranks."""
    if (comm is None) == (world is None):
        raise ValueError("calibrate: give exactly one of comm= (an SPMD communicator) or world= (a SimWorld)")
    p = comm.size if comm is not None else world.size
    if p < 2:
        raise ValueError(f"calibrate: needs a group of at least 2 ranks to measure links, got {p}")
    sizes = sizes or [1 << k for k in range(10, 22, 2)]     # 1 KiB .. 1 MiB of float32 elements x4
    times = []
    for nbytes in sizes:
        x = np.ones(max(1, nbytes // 4), dtype=np.float32)
        if comm is not None:
            comm.barrier()
            t = _best_time(lambda: comm.all_reduce(x), repeats)
            t = float(comm.all_reduce(np.array([t]), op="max")[0])
        else:
            xs = [x] * p
            t = _best_time(lambda: world.all_reduce(xs), repeats)
        times.append(t)
    c0, c1 = _fit(sizes, times)
    alpha = c0 / (2 * (p - 1))
    beta = c1 * p / (2 * (p - 1))
    m = np.ones((256, 256), dtype=np.float32)
    t_mm = _best_time(lambda: m @ m, repeats)
    flops = 2 * 256 ** 3 / max(t_mm, 1e-9)
    big = np.ones(1 << 22, dtype=np.float32)      # 16 MiB
    out = np.empty_like(big)
    t_cp = _best_time(lambda: np.copyto(out, big), repeats)
    membw = 2 * big.nbytes / max(t_cp, 1e-9)      # read + write
    if comm is not None:      # agree on one profile: the slowest rank's numbers
        vals = comm.all_reduce(np.array([alpha, beta, -flops, -membw]), op="max")
        alpha, beta, flops, membw = float(vals[0]), float(vals[1]), -float(vals[2]), -float(vals[3])
    backend = getattr(comm, "backend", "sim") if comm is not None else "sim"
    return DeviceProfile(name or f"cpu-calibrated-{backend}", flops=flops, memory_bandwidth=membw,
                         bandwidth=1.0 / max(beta, 1e-15), latency=alpha, memory=None, topology=topology,
                         source=f"calibrate() over {p} {backend} ranks, sizes {sizes[0]}..{sizes[-1]} bytes")
